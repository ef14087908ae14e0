#!/usr/bin/env bash
# Soak (docs/reliability.md; not in CI, whose form is TestSoakBaseline): `shoal up
# --peers 20` plus churning `shoal peer` processes (one joins every CHURN_EVERY s, the
# oldest leaves when more than CHURNERS run) and PAGES stock hls.js pages in Chromium,
# for DURATION. Every 10 s it samples the `shoal up` process's RSS, goroutines and
# open fds (its /metrics), the edge cache's bytes, and the demo swarm's peers and
# offload (/api/streams) into OUT/samples.csv, then plots them (OUT/soak.png) and prints
# first, last and peak of each. The Go heap in use, the GC's heap goal (live heap ×
# (1 + GOGC/100) after the last GC, or less under GOMEMLIMIT, which `shoal up` inherits)
# and the stacks in use are sampled beside RSS,
# and every PROFILE_EVERY s (60) and at the end a heap profile is saved as
# OUT/heap-SECONDS.pb.gz (`shoal up --pprof` on loopback):
# `go tool pprof -top -inuse_space -base OUT/heap-60.pb.gz OUT/heap-300.pb.gz`.
#
# The edge cache is bounded to CACHE (64MiB: reached within minutes, so that a run shows
# memory level off once it is full; the default 512MiB takes ~45 min at the demo's rate).
#
#   scripts/soak.sh                       # DURATION=1h PEERS=20 CHURNERS=4 CHURN_EVERY=20 PAGES=2 CACHE=64MiB
#   DURATION=10m OUT=/tmp/soak scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
DURATION="${DURATION:-1h}" PEERS="${PEERS:-20}" CHURNERS="${CHURNERS:-4}" CHURN_EVERY="${CHURN_EVERY:-20}"
PAGES="${PAGES:-2}" EVERY="${EVERY:-10}" CACHE="${CACHE:-64MiB}" PROFILE_EVERY="${PROFILE_EVERY:-60}"
OUT="${OUT:-$(mktemp -d /tmp/shoal-soak.XXXXXX)}"
mkdir -p "$OUT"
secs=$(python3 -c "import re,sys; m=re.fullmatch(r'(\d+)([smh]?)', sys.argv[1]); print(int(m[1])*{'':1,'s':1,'m':60,'h':3600}[m[2]])" "$DURATION")
tmp=$(mktemp -d)
pids=() churn=()
cleanup() {
  for p in "${churn[@]}" "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/shoal" ./cmd/shoal
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(freeport) pport=$(freeport)
url="http://127.0.0.1:$port"
"$tmp/shoal" up --peers "$PEERS" --cache-bytes "$CACHE" --listen "127.0.0.1:$port" --key-file "$tmp/origin.key" --log-level warn --pprof "127.0.0.1:$pport" >"$OUT/up.out" 2>"$OUT/up.log" &
pids+=($!)
for _ in $(seq 100); do curl -sf -o /dev/null "$url/live/demo/index.m3u8" && break; sleep 0.1; done

if [ "$PAGES" -gt 0 ] && command -v chromium >/dev/null; then
  (cd bench/browser && { [ -d node_modules/hls.js ] && [ -d node_modules/playwright-core ] || timeout 300 npm ci --ignore-scripts --no-audit --no-fund --silent; } &&
    node_modules/.bin/esbuild hlsjs-page.js --bundle --format=iife --minify --log-level=warning --outfile="$tmp/hlsjs.js")
  SRC="$url/live/demo/index.m3u8" HLSJS_JS="$tmp/hlsjs.js" PAGES="$PAGES" DURATION=$((secs - 5)) \
    node bench/browser/chaos.mjs >"$OUT/pages.out" 2>&1 &
  pids+=($!)
fi

metric() { awk -v n="$1" '$1 == n { print $2; exit }' "$tmp/metrics"; }
echo "elapsed_s,rss_bytes,heap_inuse_bytes,heap_goal_bytes,stack_inuse_bytes,goroutines,open_fds,cache_bytes,peers,offload,churn_procs" >"$OUT/samples.csv"
start=$(date +%s) next_churn=$CHURN_EVERY next_profile=$PROFILE_EVERY
while :; do
  now=$(( $(date +%s) - start ))
  [ "$now" -ge "$secs" ] && break
  if [ "$now" -ge "$next_churn" ]; then
    "$tmp/shoal" peer --edge "$url" --listen 127.0.0.1:0 --ice-interface lo --log-level warn >/dev/null 2>>"$OUT/churn.log" &
    churn+=($!)
    if [ "${#churn[@]}" -gt "$CHURNERS" ]; then kill "${churn[0]}" 2>/dev/null || true; wait "${churn[0]}" 2>/dev/null || true; churn=("${churn[@]:1}"); fi
    next_churn=$((next_churn + CHURN_EVERY))
  fi
  if curl -sf -m 5 "$url/metrics" >"$tmp/metrics" && curl -sf -m 5 "$url/api/streams?stream=demo" >"$tmp/streams"; then
    read -r peers offload < <(python3 -c 'import json,sys; s=[x for x in json.load(open(sys.argv[1])) if x.get("rendition")=="index"]; print(s[0]["peers"] if s else 0, s[0]["offload"] if s else 0)' "$tmp/streams")
    echo "$now,$(metric process_resident_memory_bytes),$(metric go_memstats_heap_inuse_bytes),$(metric go_memstats_next_gc_bytes),$(metric go_memstats_stack_inuse_bytes),$(metric go_goroutines),$(metric process_open_fds),$(metric shoal_edge_cache_bytes),$peers,$offload,${#churn[@]}" >>"$OUT/samples.csv"
  else
    echo "$now,,,,,,,,,,${#churn[@]}" >>"$OUT/samples.csv"
  fi
  if [ "$now" -ge "$next_profile" ]; then
    curl -sf -m 30 -o "$OUT/heap-$now.pb.gz" "http://127.0.0.1:$pport/debug/pprof/heap" || true
    next_profile=$((next_profile + PROFILE_EVERY))
  fi
  sleep "$EVERY"
done
curl -sf -m 30 -o "$OUT/heap-$now.pb.gz" "http://127.0.0.1:$pport/debug/pprof/heap" || true
go run ./bench/soak/plot "$OUT/samples.csv" "$OUT/soak.png"
python3 - "$OUT/samples.csv" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["goroutines"]]
print(f"{len(rows)} samples over {rows[-1]['elapsed_s']} s")
print("| metric | first | last | peak |\n|---|---:|---:|---:|")
for k, scale, unit in [("rss_bytes", 1 / 2**20, " MiB"), ("heap_inuse_bytes", 1 / 2**20, " MiB"), ("heap_goal_bytes", 1 / 2**20, " MiB"), ("stack_inuse_bytes", 1 / 2**20, " MiB"), ("goroutines", 1, ""), ("open_fds", 1, ""), ("cache_bytes", 1 / 2**20, " MiB"), ("peers", 1, ""), ("offload", 100, "%")]:
    v = [float(r[k]) * scale for r in rows]
    print(f"| {k} | {v[0]:.1f}{unit} | {v[-1]:.1f}{unit} | {max(v):.1f}{unit} |")
PY
if [ -f "$OUT/pages.out" ]; then wait "${pids[1]}" 2>/dev/null || true; grep '^chaos-hlsjs \[' "$OUT/pages.out" || true; fi
echo "soak: samples in $OUT/samples.csv, plot $OUT/soak.png"
