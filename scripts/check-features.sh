#!/usr/bin/env bash
# Checks that the facade builds with each feature alone, with none and with all.
# Tests are included because only they (like binaries) pick a Kubernetes API version.
set -euo pipefail
cd "$(dirname "$0")/.."
for features in "" git oci kube "git,oci,kube"; do
  echo "checking driftless with features [${features}]" >&2
  cargo check --quiet -p driftless --no-default-features --features "$features" --tests
done
