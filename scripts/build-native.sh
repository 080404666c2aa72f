#!/usr/bin/env bash
# Builds the native encoder (native/, Rust) into native/reddit-stream-native.node
# (npm install runs it; the first build takes 1-3 minutes). Crates come from
# crates.io; the build directory is kept outside the checkout
# (REDDIT_STREAM_CACHE, default ~/.cache/reddit-stream) so later builds are
# incremental.
#
# --if-cargo (used by `npm install`): without cargo, or when the build fails,
# say so and succeed: the service then uses the JavaScript encoder. Without
# the flag (npm test, CI) any failure is an error.
set -uo pipefail
cd "$(dirname "$0")/.."
lenient=0
[ "${1:-}" = "--if-cargo" ] && lenient=1
fail() {
  echo "build-native: $1" >&2
  # An addon left from an older source could disagree with this checkout.
  rm -f native/reddit-stream-native.node
  if [ "$lenient" = 1 ]; then
    echo "build-native: the JavaScript encoder will be used (same files, slower); run 'npm run build:native' to retry" >&2
    exit 0
  fi
  exit 1
}
command -v cargo >/dev/null 2>&1 || fail "cargo not found; install Rust (https://rustup.rs) to build the native encoder"
case "$(uname -s)" in
  Linux) lib=libreddit_stream_native.so ;;
  Darwin) lib=libreddit_stream_native.dylib ;;
  *) fail "no native build for $(uname -s)" ;;
esac
target="${REDDIT_STREAM_CACHE:-$HOME/.cache/reddit-stream}/native-target"
cargo build --release --locked --manifest-path native/Cargo.toml --target-dir "$target" >&2 || fail "cargo build failed (see above)"
cp "$target/release/$lib" native/reddit-stream-native.node.tmp && mv native/reddit-stream-native.node.tmp native/reddit-stream-native.node || fail "could not install the built library"
echo "build-native: native/reddit-stream-native.node" >&2
