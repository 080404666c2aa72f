#!/usr/bin/env bash
# Runs the test files with a private TMPDIR that is removed afterwards: tests
# create temporary tables, spools and broker storage freely, and a run must not
# leave gigabytes behind on the machine. Extra arguments replace the default
# file glob (e.g. bash scripts/test.sh "test/ingest/*.test.ts").
set -u
dir=$(mktemp -d "${TMPDIR:-/tmp}/rs-test-XXXXXX")
trap 'rm -rf "$dir"' EXIT
# The native encoder is part of what is tested (incremental: seconds when unchanged).
bash "$(dirname "$0")/build-native.sh" || exit 1
if [ $# -eq 0 ]; then set -- "test/**/*.test.ts"; fi
# Services the tests start serve metrics on a free port each (they log where), not all on 9464.
export REDDIT_STREAM_METRICS_ADDRESS="${REDDIT_STREAM_METRICS_ADDRESS:-127.0.0.1:0}"
TMPDIR="$dir" node --test --test-concurrency=2 "$@"
