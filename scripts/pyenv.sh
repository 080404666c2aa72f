#!/usr/bin/env bash
# Create the project-managed Python virtualenv used by interop tests
# (delta-rs via `deltalake`, and Polars) and print its python path.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${REDDIT_STREAM_VENV:-$ROOT/.venv}"
REQ="$ROOT/scripts/requirements-interop.txt"
STAMP="$VENV/.installed-$(sha256sum "$REQ" | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ" >&2
  touch "$STAMP"
fi
echo "$VENV/bin/python"
