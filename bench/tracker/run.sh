#!/usr/bin/env bash
# Tracker load benchmark: hold N WebSocket peers in one swarm on shoal's tracker (native
# /tracker, and WebTorrent announces on /announce) and on node bittorrent-tracker 11.2.3,
# in the same run on this machine, and print joins/s and
# server memory per held connection side by side. Loopback only; every step is bounded.
#
#   bench/tracker/run.sh            # N=5000
#   N=15000 bench/tracker/run.sh    # one loadgen process holds N sockets: keep N < ~19000
#   SHOAL_BIN=./shoal bench/tracker/run.sh   # use a prebuilt shoal binary
#   CLUSTER=5 bench/tracker/run.sh  # also: CN=100000 peers over a 5-node tracker cluster (embedded
#                                   # NATS), one loadgen process per node; N defaults to 15000 then
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)
root=$(cd ../.. && pwd)
CLUSTER="${CLUSTER:-0}"
if [ "$CLUSTER" -gt 0 ]; then N="${N:-15000}"; else N="${N:-5000}"; fi
CN="${CN:-100000}"
SWARMS="${SWARMS:-100}"
LPN="${LPN:-2}" # loadgen processes per node in cluster mode
DEAD_AFTER="${DEAD_AFTER:-1s}" # the trackers' --cluster-dead-after
C="${C:-32}"
if [ "$N" -gt 19000 ] || { [ "$CLUSTER" -gt 0 ] && [ $((CN / CLUSTER / LPN)) -gt 19000 ]; }; then
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
  # Every loadgen peer comes from 127.0.0.1: lift the per-address limit (docs/abuse.md).
  exec "$shoal_bin" tracker --listen "127.0.0.1:$1" --log-level error --addr-limit -1
}
bt_cmd() { exec node "$here/bt-server.mjs" "$1"; }

bench shoal shoal /tracker shoal_cmd
# The same WebTorrent announces (5 offers each) as bittorrent-tracker gets, on shoal's
# GET /announce (docs/webtorrent.md).
bench shoal-announce bt /announce shoal_cmd
bench bittorrent-tracker bt "" bt_cmd

if [ "$CLUSTER" -gt 0 ]; then
  # CLUSTER tracker processes, each with an embedded nats-server, the servers forming one
  # NATS cluster; one loadgen per node holds CN/CLUSTER peers spread over SWARMS swarms.
  # After the hold, 2000 peers per loadgen send one signal each to a neighbour (relay
  # latency, same node or across nodes); then the last node is SIGKILLed and every
  # loadgen records the stripe messages that follow (seeding reassignment time).
  per=$((CN / CLUSTER / LPN))
  nl=$((CLUSTER * LPN))
  declare -a tports nports rports tpids
  for k in $(seq 0 $((CLUSTER - 1))); do
    tports[k]=$(free_port); nports[k]=$(free_port); rports[k]=$(free_port)
  done
  for k in $(seq 0 $((CLUSTER - 1))); do
    routes=""
    for j in $(seq 0 $((CLUSTER - 1))); do
      [ "$j" = "$k" ] || routes="$routes${routes:+,}nats://127.0.0.1:${rports[j]}"
    done
    "$shoal_bin" tracker --listen "127.0.0.1:${tports[k]}" --node "node$k" --log-level warn --cluster-dead-after "$DEAD_AFTER" --addr-limit -1 \
      --nats-embed "127.0.0.1:${nports[k]}" --nats-embed-cluster "127.0.0.1:${rports[k]}" \
      --nats-embed-routes "$routes" >"$tmp/node$k.log" 2>&1 &
    tpids[k]=$!
    pids+=("${tpids[k]}")
  done
  for k in $(seq 0 $((CLUSTER - 1))); do wait_port "${tports[k]}"; done
  for _ in $(seq 100); do # every node sees the whole cluster
    ok=1
    for k in $(seq 0 $((CLUSTER - 1))); do
      curl -s "http://127.0.0.1:${tports[k]}/metrics" | grep -q "^shoal_tracker_cluster_nodes $CLUSTER\$" || ok=0
    done
    [ "$ok" = 1 ] && break
    sleep 0.2
  done
  [ "$ok" = 1 ] || { echo "run.sh: the cluster did not form" >&2; cat "$tmp"/node*.log >&2; exit 1; }
  sleep 0.5
  lpids=()
  cstart=$(date +%s.%N)
  for l in $(seq 0 $((nl - 1))); do
    k=$((l / LPN))
    timeout 900 "$tmp/loadgen" -name "node$k" -proto shoal -url "ws://127.0.0.1:${tports[k]}/tracker" \
      -n "$per" -c "$C" -pid "${tpids[k]}" -node "node$k" -offset $((l * per)) -swarms "$SWARMS" \
      -hold 5s -signals 1000 -watch 12s -ready "$tmp/ready$l" -until "$tmp/killed" -timeout 12m >"$tmp/cluster$l.json" 2>"$tmp/loadgen$l.log" &
    lpids+=($!)
  done
  for _ in $(seq 6000); do # all loadgens watching (at most 10 min)
    n=0; for l in $(seq 0 $((nl - 1))); do [ -e "$tmp/ready$l" ] && n=$((n + 1)); done
    [ "$n" = "$nl" ] && break
    sleep 0.1
  done
  [ "$n" = "$nl" ] || { echo "run.sh: loadgens not ready" >&2; cat "$tmp"/loadgen*.log >&2; exit 1; }
  sleep 1
  victim=$((CLUSTER - 1))
  killed_ns=$(date +%s%N)
  kill -9 "${tpids[victim]}"
  touch "$tmp/killed"
  for p in "${lpids[@]}"; do wait "$p" || true; done
fi

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
if [ "$CLUSTER" -gt 0 ]; then
  echo
  echo "tracker cluster: $CN WebSocket peers in $SWARMS swarms over $CLUSTER tracker processes (embedded NATS cluster, --cluster-dead-after $DEAD_AFTER), $LPN loadgen processes per node"
  node -e '
    const fs = require("fs");
    const [tmp, n, killed, lpn] = [process.argv[1], +process.argv[2], BigInt(process.argv[3]), +process.argv[4]];
    const f = (x, d) => x.toLocaleString("en-US", {maximumFractionDigits: d, minimumFractionDigits: d});
    const pct = (a, q) => { if (!a.length) return NaN; a = [...a].sort((x, y) => x - y); return a[Math.min(a.length - 1, Math.floor(q * a.length))]; };
    let peers = 0, same = [], cross = [], firstStripe = new Map(), slowest = 0, nodes = [];
    for (let l = 0; l < n * lpn; l++) {
      const k = Math.floor(l / lpn);
      const r = JSON.parse(fs.readFileSync(`${tmp}/cluster${l}.json`, "utf8"));
      peers += r.peers; slowest = Math.max(slowest, r.join_seconds);
      same.push(...(r.lat_same_ms || [])); cross.push(...(r.lat_cross_ms || []));
      const nd = (nodes[k] ??= { peers: 0, before: Infinity, after: 0, joins: 0, failed: 0 });
      nd.peers += r.peers; nd.failed += r.failed; nd.before = Math.min(nd.before, r.rss_before); nd.after = Math.max(nd.after, r.rss_after); nd.joins += r.joins_per_s;
      if (k === n - 1) continue; // the killed node: its peers are gone
      for (const [swarm, ts] of Object.entries(r.stripes || {})) {
        const after = ts.map(BigInt).filter((t) => t > killed);
        if (!after.length) continue;
        const t = after.reduce((a, b) => (a < b ? a : b));
        if (!firstStripe.has(swarm) || t < firstStripe.get(swarm)) firstStripe.set(swarm, t);
      }
    }
    console.log("node".padEnd(20), "peers".padStart(10), "joins/s".padStart(10), "KiB/viewer".padStart(14), "failed".padStart(8), " (KiB: RSS delta of the node / its viewers)");
    nodes.forEach((nd, k) => console.log(`node${k}`.padEnd(20), String(nd.peers).padStart(10), f(nd.joins, 0).padStart(10), f((nd.after - nd.before) / nd.peers / 1024, 1).padStart(14), String(nd.failed).padStart(8)));
    console.log("cluster".padEnd(20), String(peers).padStart(10), f(peers / slowest, 0).padStart(10), "  (joins/s: all peers / slowest loadgen)");
    console.log(`signal relay latency, ms: same node p50 ${f(pct(same, 0.5), 2)} p99 ${f(pct(same, 0.99), 2)} (${same.length}); across nodes p50 ${f(pct(cross, 0.5), 2)} p99 ${f(pct(cross, 0.99), 2)} (${cross.length})`);
    const re = [...firstStripe.values()].map((t) => Number(t - killed) / 1e6);
    console.log(`seeding reassignment after SIGKILL of node${n - 1}, ms (first stripe message per swarm that changed, ${re.length} swarms): p50 ${f(pct(re, 0.5), 0)} p99 ${f(pct(re, 0.99), 0)}`);
  ' "$tmp" "$CLUSTER" "$killed_ns" "$LPN"
fi
