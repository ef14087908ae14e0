#!/usr/bin/env bash
# Tracker load benchmark: hold N WebSocket peers in one swarm on shoal's tracker (native
# /tracker, and WebTorrent announces on /announce) and on node bittorrent-tracker 11.2.3,
# in the same run on this machine, and print joins/s and
# server memory per held connection side by side. Loopback only; every step is bounded.
#
#   bench/tracker/run.sh            # N=5000
#   N=15000 bench/tracker/run.sh    # one loadgen process holds N sockets: keep N < ~19000
#   SHOAL_BIN=./shoal bench/tracker/run.sh   # use a prebuilt shoal binary
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)
root=$(cd ../.. && pwd)
N="${N:-5000}"
C="${C:-32}"
if [ "$N" -gt 19000 ]; then
  echo "run.sh: N=$N needs more than one process's 20000 open files; use N ≤ 19000" >&2
  exit 2
fi
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

export PATH="$PATH:/usr/local/go/bin"
shoal_bin=${SHOAL_BIN:-$tmp/shoal}
[ -n "${SHOAL_BIN:-}" ] || (cd "$root" && go build -o "$shoal_bin" ./cmd/shoal)
(cd "$root" && go build -o "$tmp/loadgen" ./bench/tracker/loadgen)
if [ ! -d node_modules/bittorrent-tracker ]; then
  # --ignore-scripts: its WebRTC client dependency would try to build native code.
  timeout 300 npm install --ignore-scripts --no-audit --no-fund --silent >/dev/null
fi

free_port() {
  local p
  for _ in $(seq 50); do
    p=$((10000 + RANDOM % 20000)) # below the ephemeral range (32768+)
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "run.sh: no free port" >&2; exit 1
}

wait_port() {
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "run.sh: server on port $1 did not start" >&2; cat "$tmp"/*.log >&2; exit 1
}

# bench NAME PROTO URL-PATH CMD...: start the server, load it, stop it.
bench() {
  local name=$1 proto=$2 path=$3; shift 3
  local port; port=$(free_port)
  "$@" "$port" >"$tmp/$name.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  wait_port "$port"
  sleep 0.5 # let the runtime settle before the baseline RSS
  timeout 300 "$tmp/loadgen" -name "$name" -proto "$proto" -url "ws://127.0.0.1:$port$path" \
    -n "$N" -c "$C" -pid "$pid" >"$tmp/$name.json" || { cat "$tmp/$name.log" >&2; exit 1; }
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

shoal_cmd() {
  # exec: the background job's pid must be the server's, for its RSS
  exec "$shoal_bin" tracker --listen "127.0.0.1:$1" --log-level error
}
bt_cmd() { exec node "$here/bt-server.mjs" "$1"; }

bench shoal shoal /tracker shoal_cmd
# The same WebTorrent announces (5 offers each) as bittorrent-tracker gets, on shoal's
# GET /announce (docs/webtorrent.md).
bench shoal-announce bt /announce shoal_cmd
bench bittorrent-tracker bt "" bt_cmd

echo "tracker load: $N WebSocket peers in one swarm, $C joins in flight, loopback, $(nproc) cores"
printf '%-20s %10s %10s %14s %14s\n' server peers joins/s KiB/conn conns/GiB
for name in shoal shoal-announce bittorrent-tracker; do
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const f = (x, d) => x.toLocaleString("en-US", {maximumFractionDigits: d, minimumFractionDigits: d});
    console.log(r.name.padEnd(20), String(r.peers).padStart(10), f(r.joins_per_s, 0).padStart(10),
      f(r.bytes_per_conn / 1024, 1).padStart(14), f(r.conns_per_gib, 0).padStart(14));
  ' "$tmp/$name.json"
done
