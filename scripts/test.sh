#!/usr/bin/env bash
# Runs the whole test suite: installs what it needs, starts one Kubernetes API server
# for the run, builds once, runs every test (unit, integration, doc tests, benchmarks in
# test mode), stops the server, and fails if any test left a process behind.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/install-test-deps.sh

# Processes a test may start; any of them still running at the end was left behind.
# (pgrep matches the first 15 characters of a process name.)
watched='^(git|git-daemon|git-http-backen|sshd|docker-registry|registry|etcd|kube-apiserver|kube-controller|kubectl|driftless|driftless-agent|sops|age)$'
before=$(pgrep -d' ' "$watched" 2>/dev/null || true)

kts="$root/scripts/kube-testserver"
KUBECONFIG=$("$kts/start.sh")
export KUBECONFIG
stop_server() {
  if [ -n "${KUBECONFIG:-}" ]; then "$kts/stop.sh" "$KUBECONFIG" >&2; KUBECONFIG=; fi
}
trap stop_server EXIT

status=0
# One build: every step selects the whole workspace with all features, so each crate is
# compiled once. Benchmarks run in criterion's test mode (each once, against the same
# reference tools); nextest's summary of the whole suite comes last.
cargo build --workspace --all-features --bins || status=$?  # benchmarks run the binaries
cargo test --workspace --all-features --bench '*' || status=$?
cargo test --workspace --all-features --doc || status=$?
cargo nextest run --workspace --all-features --no-fail-fast || status=$?
stop_server

leftovers=()
for pid in $(pgrep "$watched" 2>/dev/null || true); do
  case " $before " in *" $pid "*) continue;; esac
  # A stopped process whose parent has not reaped it yet (a zombie) is not running.
  case $(ps -o stat= -p "$pid" 2>/dev/null) in Z*|"") continue;; esac
  leftovers+=("$pid $(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)")
done
if ((${#leftovers[@]})); then
  echo "processes left behind by the tests:" >&2
  printf '  %s\n' "${leftovers[@]}" >&2
  status=1
fi
exit "$status"
