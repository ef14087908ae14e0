#!/usr/bin/env bash
# The full chaos run (docs/reliability.md; not in CI, whose short form is TestChaos):
#  1. TestChaos with more Go viewers and longer observation: real `shoal origin`, two
#     `shoal edge`, `shoal tracker` processes; origin, edge and tracker SIGKILLed for 3 s
#     in turn; hybrid against CDN-only viewers under the same fault.
#  2. Stock hls.js 1.7.4 pages in Chromium (no P2P) under one `shoal edge`, the origin
#     SIGKILLed for 3 s mid-stream and restarted: with the edge's default stale-if-error,
#     with it off (--stale-if-error -1s: the edge as it was), and with no fault.
# Prints both tables. Needs Go, chromium and npm (bench/browser's node_modules).
#
#   scripts/chaos.sh                     # HYBRID=10 CDN=10 OBSERVE=12 PAGES=2 DURATION=40
#   HYBRID=6 CDN=4 PAGES=1 scripts/chaos.sh
#   SKIP_GO=1 scripts/chaos.sh          # the browser part only
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export PATH="$PATH:/usr/local/go/bin"
HYBRID="${HYBRID:-10}" CDN="${CDN:-10}" OBSERVE="${OBSERVE:-12}" PAGES="${PAGES:-2}" DURATION="${DURATION:-40}"
KILL_AT="${KILL_AT:-15}" DOWN="${DOWN:-3}"
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/shoal" ./cmd/shoal

if [ -z "${SKIP_GO:-}" ]; then
echo "== 1. Go viewers: $HYBRID hybrid, $CDN CDN-only (TestChaos)"
# Its assertions are the CI form's; at this size a failure is reported with the table.
status=0
CHAOS_HYBRID="$HYBRID" CHAOS_CDN="$CDN" CHAOS_OBSERVE="$OBSERVE" CHAOS_TABLE="$tmp/go.md" \
  timeout 600 go test -count=1 -timeout 9m -run '^TestChaos$' ./internal/peer -v >"$tmp/go.log" 2>&1 || status=$?
grep -E 'killed:|chaos_test.go:[0-9]+: [a-z]+ down' "$tmp/go.log" | sed 's/^ *//' || true
[ -f "$tmp/go.md" ] && cat "$tmp/go.md" || { tail -60 "$tmp/go.log"; exit 1; }
[ "$status" = 0 ] || echo "chaos.sh: TestChaos's assertions failed at this size (above)"
fi

echo "== 2. stock hls.js pages ($PAGES) under one edge, the origin SIGKILLed at ${KILL_AT} s for ${DOWN} s"
(cd bench/browser && { [ -d node_modules/hls.js ] && [ -d node_modules/playwright-core ] || timeout 300 npm ci --ignore-scripts --no-audit --no-fund --silent; } &&
  node_modules/.bin/esbuild hlsjs-page.js --bundle --format=iife --minify --log-level=warning --outfile="$tmp/hlsjs.js")
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
waitok() { for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "chaos.sh: $1 never answered" >&2; return 1; }
startOrigin() {
  "$tmp/shoal" origin --demo --clock-sequence --listen "127.0.0.1:$op" --key-file "$tmp/origin.key" --log-level warn >>"$tmp/origin.log" 2>&1 &
  opid=$!; pids+=("$opid")
}
row() { # name fault edge-args...
  local name=$1 fault=$2; shift 2
  op=$(port); ep=$(port)
  startOrigin
  "$tmp/shoal" edge --origin "http://127.0.0.1:$op" --listen "127.0.0.1:$ep" --log-level warn "$@" >>"$tmp/edge.log" 2>&1 &
  local epid=$!; pids+=("$epid")
  waitok "http://127.0.0.1:$op/live/demo/index.m3u8"; waitok "http://127.0.0.1:$ep/live/demo/index.m3u8"
  SRC="http://127.0.0.1:$ep/live/demo/index.m3u8" HLSJS_JS="$tmp/hlsjs.js" PAGES="$PAGES" DURATION="$DURATION" \
    timeout $((DURATION + 60)) node bench/browser/chaos.mjs >"$tmp/pages.out" 2>&1 &
  local npid=$!; pids+=("$npid")
  for _ in $(seq 300); do grep -q 'chaos-hlsjs ready' "$tmp/pages.out" && break; sleep 0.1; done
  if [ "$fault" = origin ]; then
    sleep "$KILL_AT"; kill -9 "$opid"; wait "$opid" 2>/dev/null || true
    sleep "$DOWN"; startOrigin
  fi
  wait "$npid" || { cat "$tmp/pages.out"; echo "chaos.sh: pages failed" >&2; exit 1; }
  kill "$epid" "$opid" 2>/dev/null || true; wait "$epid" "$opid" 2>/dev/null || true
  local json; json=$(sed -n 's/^chaos-hlsjs \[/[/p' "$tmp/pages.out")
  node -e '
    const per = JSON.parse(process.argv[1]); const name = process.argv[2];
    const stalls = per.reduce((n, p) => n + p.waiting, 0);
    const frozen = per.reduce((n, p) => n + p.frozen, 0);
    const frozenS = per.reduce((n, p) => n + p.frozenMs, 0) / 1000;
    const errs = {}; for (const p of per) for (const [k, v] of Object.entries(p.errors)) errs[k] = (errs[k] ?? 0) + v;
    const e = Object.entries(errs).map(([k, v]) => `${v} ${k}`).join(", ") || "none";
    const started = per.filter((p) => p.started).length;
    console.log(`| ${name} | ${started}/${per.length} | ${frozen} (${frozenS.toFixed(1)} s) | ${stalls} | ${e} | ${per.map((p) => p.t.toFixed(1)).join(" / ")} |`);
  ' "$json" "$name" >>"$tmp/pages.md"
}
printf '| run | pages started | frozen playhead ≥ 0.5 s (total) | waiting events | hls.js errors | currentTime s |\n|---|---:|---:|---:|---|---|\n' >"$tmp/pages.md"
row "no fault" none
row "origin killed ${DOWN} s, edge stale-if-error (default)" origin
row "origin killed ${DOWN} s, --stale-if-error -1s (the edge before)" origin --stale-if-error -1s
cat "$tmp/pages.md"
