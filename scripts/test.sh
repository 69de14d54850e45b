#!/usr/bin/env bash
# Runs the whole test suite: installs what it needs, starts one Kubernetes API server
# for the run, runs every test (unit, integration, doc tests, benchmarks in test mode)
# and stops the server, whatever happens.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/install-test-deps.sh

kts=${KUBE_TESTSERVER:-$root/../shared/kube-testserver}
KUBECONFIG=$("$kts/start.sh")
export KUBECONFIG
trap '"$kts/stop.sh" "$KUBECONFIG" >&2' EXIT

# Benchmarks in criterion's test mode: each runs once, against the same reference tools.
cargo test -p driftless-benches --benches
cargo test --workspace --all-features --doc
cargo nextest run --workspace --all-features --no-fail-fast
