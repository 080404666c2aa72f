#!/usr/bin/env bash
# Builds the native encoder (native/, Rust) into native/reddit-stream-native.node
# (npm install runs it; the first build takes 1-3 minutes).
# Crates come from crates.io; the build directory is kept outside the checkout
# (REDDIT_STREAM_CACHE, default ~/.cache/reddit-stream) so later builds are
# incremental. Without cargo the service runs on the JavaScript encoder.
set -euo pipefail
cd "$(dirname "$0")/.."
# --if-cargo (used by `npm install`): without cargo, say so and succeed.
if ! command -v cargo >/dev/null 2>&1; then
  echo "build-native: cargo not found; install Rust (https://rustup.rs) to build the native encoder; until then the JavaScript encoder is used" >&2
  [ "${1:-}" = "--if-cargo" ] && exit 0
  exit 1
fi
target="${REDDIT_STREAM_CACHE:-$HOME/.cache/reddit-stream}/native-target"
cargo build --release --locked --manifest-path native/Cargo.toml --target-dir "$target" >&2
cp "$target/release/libreddit_stream_native.so" native/reddit-stream-native.node.tmp
mv native/reddit-stream-native.node.tmp native/reddit-stream-native.node
echo "build-native: native/reddit-stream-native.node" >&2
