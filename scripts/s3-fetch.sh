#!/usr/bin/env bash
# Build the versitygw S3 gateway (POSIX-backed, enforces If-None-Match on
# PutObject) from the Go module proxy into a cache outside the repo, and print
# the binary's path.
set -euo pipefail
VGW_VERSION="${REDDIT_STREAM_VERSITYGW_VERSION:-v1.8.0}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/reddit-stream/versitygw-$VGW_VERSION"
if [ ! -x "$CACHE/versitygw" ]; then
  mkdir -p "$CACHE"
  GOBIN="$CACHE" GOFLAGS=-mod=mod go install "github.com/versity/versitygw/cmd/versitygw@$VGW_VERSION" >&2
fi
echo "$CACHE/versitygw"
