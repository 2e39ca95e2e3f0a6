#!/usr/bin/env bash
# The whole test suite: unit tests, integration tests against moto and a real ResponseURL listener, and the
# end-to-end test through the cargo-lambda Runtime API emulator. Installs the pinned stand-ins first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh main
exec cargo nextest run --lib --bins --tests --no-fail-fast "$@"
