#!/usr/bin/env bash
# Join storm (docs/abuse.md): N WebSocket viewers (default 5,000) join one swarm of a
# real `shoal tracker` within seconds, C joins in flight at once (default 500), all
# from 127.0.0.1. Two runs:
#   1. --addr-limit -1 (the limit lifted, as a load test must): every join lands;
#      joins/s and the tracker's RSS per held viewer (bench/tracker/loadgen).
#   2. the default limit (1,000 per address): the first 1,000 are held, the rest are
#      refused with 429 before the upgrade, and the tracker still answers /healthz.
# Not in CI (scripts/test.sh runs TestJoinStorm at 400 instead). Usage:
#   scripts/join-storm.sh            N=5000 C=500 scripts/join-storm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-5000}
C=${C:-500}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
go build -o "$tmp/shoal" ./cmd/shoal
go build -o "$tmp/loadgen" ./bench/tracker/loadgen

port=$((20000 + RANDOM % 20000))
run() { # run NAME TRACKER-FLAGS...
  local name=$1; shift
  "$tmp/shoal" tracker --listen "127.0.0.1:$port" --log-level error "$@" >"$tmp/$name.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  "$tmp/loadgen" -name "$name" -proto shoal -url "ws://127.0.0.1:$port/tracker" -n "$N" -c "$C" -pid "$pid" \
    -hold 2s >"$tmp/$name.json" 2>"$tmp/$name.err" || true
  health=$(curl -fs "http://127.0.0.1:$port/healthz" || echo down)
  refused=$(curl -fs "http://127.0.0.1:$port/metrics" | awk '/^shoal_tracker_errors_total\{code="addr_limit"\}/ {print $2}')
  echo "$name: $(cat "$tmp/$name.json") healthz=$health refused_addr_limit=${refused:-0}"
  head -3 "$tmp/$name.err" | sed 's/^/  /'
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  port=$((port + 1))
}
echo "join storm: $N viewers, $C joins in flight, one address (127.0.0.1)"
run lifted --addr-limit -1
run default
