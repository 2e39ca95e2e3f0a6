#!/usr/bin/env bash
# The whole test suite: unit tests, integration tests against moto and a real ResponseURL listener, and the
# end-to-end test through the cargo-lambda Runtime API emulator. Installs the pinned stand-ins first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh main

# moto's fork server: each test's moto server is forked from one warmed process (~20 ms instead of ~1.5 s of
# CPU). Stopped by pid when the suite ends; its servers also stop when their test process is gone.
dir=$(mktemp -d)
socket="$dir/moto.sock"
.venv/bin/python test-support/moto_forkserver.py "$socket" $$ >"$dir/forkserver.log" 2>&1 &
forkserver=$!
trap 'kill "$forkserver" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 600); do
  [[ -S "$socket" ]] && break
  kill -0 "$forkserver" 2>/dev/null || { cat "$dir/forkserver.log" >&2; echo "the moto fork server did not start" >&2; exit 1; }
  sleep 0.05
done
[[ -S "$socket" ]] || { echo "the moto fork server did not start within 30 s" >&2; exit 1; }
export MOTO_FORKSERVER="$socket"

cargo nextest run --lib --bins --tests --no-fail-fast "$@"
