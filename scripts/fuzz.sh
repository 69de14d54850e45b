#!/usr/bin/env bash
# Builds the fuzz targets in fuzz/ with libFuzzer's coverage instrumentation (stable
# Rust, no cargo-fuzz needed) and runs them.
#   scripts/fuzz.sh smoke            every target for a few seconds (what CI does)
#   scripts/fuzz.sh TARGET [SECONDS] one target, default 60 seconds
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"

triple=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
  -Cllvm-args=-sanitizer-coverage-level=4 \
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
  -Cllvm-args=-sanitizer-coverage-pc-table \
  -Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
# --target keeps the instrumentation off build scripts and proc macros.
cargo build --release --target "$triple" --bins
bin="$root/fuzz/target/$triple/release"

run() { # TARGET SECONDS
  mkdir -p "corpus/$1" "artifacts/$1"
  local seeds=()
  [ -d "seeds/$1" ] && seeds=("seeds/$1")
  "$bin/$1" -max_total_time="$2" -artifact_prefix="artifacts/$1/" "corpus/$1" "${seeds[@]}"
}

if [ "${1:-smoke}" = smoke ]; then
  for target in $(cargo metadata --no-deps --format-version 1 \
      | python3 -c 'import json,sys; print(*[t["name"] for p in json.load(sys.stdin)["packages"] for t in p["targets"] if "bin" in t["kind"]])'); do
    echo "fuzzing $target for 10 s" >&2
    run "$target" 10
  done
else
  run "$1" "${2:-60}"
fi
