#!/usr/bin/env bash
# Validation of the virtual-time bench against the real-time emulated bench, side by
# side: every scenario × audience × seed once with `--clock virtual` and once in real
# time with the clock slowed (SPEED, default 0.25) so that CPU is not the limit, hybrid
# runs only; then one table of both (compare/main.go). Results in OUT (default
# ./validation). Real-time runs take 60 s / SPEED each: the default set is ~80 minutes.
#
#   bench/virtual/run.sh                                  # 100 and 300 viewers, 3 seeds
#   PEERS="100" SEEDS="1" SCENARIOS=steady bench/virtual/run.sh
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
export PATH="$PATH:/usr/local/go/bin"
out=${OUT:-$PWD/validation}
speed=${SPEED:-0.25}
mkdir -p "$out"
bin=${SHOAL_BIN:-$out/shoal}
[ -n "${SHOAL_BIN:-}" ] || (cd "$root" && go build -o "$bin" ./cmd/shoal)
for n in ${PEERS:-100 300}; do
  for s in ${SCENARIOS:-steady flash-crowd heterogeneous}; do
    for seed in ${SEEDS:-1 2 3}; do
      v="$out/virtual-$s-$n-$seed.json" r="$out/real-$s-$n-$seed.json"
      [ -f "$v" ] || "$bin" bench --clock virtual --peers "$n" --duration 60s --scenario "$s" --seed "$seed" --only hybrid --json "$v" >/dev/null 2>&1
      [ -f "$r" ] || "$bin" bench --speed "$speed" --peers "$n" --duration 60s --scenario "$s" --seed "$seed" --only hybrid --json "$r" >/dev/null 2>&1
    done
  done
done
(cd "$root" && go run ./bench/virtual/compare "$out")
