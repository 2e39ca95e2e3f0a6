#!/usr/bin/env bash
# The benchmark: builds the release binary (this machine's architecture: cold start, latency, RSS) and the arm64
# Lambda zip (its size), then runs benches/guard.rs against moto and prints medians.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh main
cargo build --release --quiet --bin eks-node-role-guard
if rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu >/dev/null; then
  PATH="$PWD/.venv/bin:$PATH" .venv/bin/cargo-lambda lambda build --release --arm64 --output-format zip --bin eks-node-role-guard >/dev/null 2>&1 \
    || echo "(arm64 build failed: zip size not reported)"
fi
# The driver itself needs no optimisation: it mostly waits. The dev profile keeps it quick to build.
# The round-trip timelines of a Create and of a repair are printed unless BENCH_TIMELINE is set empty.
export BENCH_TIMELINE="${BENCH_TIMELINE-1}"
exec cargo bench --profile dev --bench guard
