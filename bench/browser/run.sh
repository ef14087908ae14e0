#!/usr/bin/env bash
# Browser benchmark (issues 7, 11): PAGES Chromium pages with stock hls.js 1.7.4 alone (the
# baseline, no P2P), then as many with hls.js + the shoal web SDK, then with hls.js +
# p2p-media-loader 2.3.1 (bittorrent-tracker 11.2.3), on the same live demo stream of one
# `shoal up`, inside a network namespace this script creates (WebRTC over a veth pair;
# nothing leaves it). Prints offload, stalls, hls.latency, startup and the edge's CDN
# bytes side by side. Needs root, Debian's chromium, Go, npm.
#
#   bench/browser/run.sh            # PAGES=4 DURATION=60
#   bench/browser/run.sh 8 60       # or PAGES=8 DURATION=60 bench/browser/run.sh
#   SYSTEMS=shoal,hlsjs bench/browser/run.sh   # which systems, in this order (default
#                                              # hlsjs,shoal,p2pml); SHOAL_BIN skips the build
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
export PAGES="${1:-${PAGES:-4}}" DURATION="${2:-${DURATION:-60}}"
export PATH="$PATH:/usr/local/go/bin"
command -v chromium >/dev/null || { echo "run.sh: needs chromium (apt-get install -y chromium)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "${SHOAL_BIN:-}" ]; then
  (cd "$root" && go build -o "$tmp/shoal" ./cmd/shoal)
  export SHOAL_BIN="$tmp/shoal"
fi
if [ ! -d node_modules/p2p-media-loader-core ] || [ ! -d node_modules/bittorrent-tracker ]; then
  # --ignore-scripts: bittorrent-tracker's WebRTC client dependency would build native code.
  timeout 300 npm ci --ignore-scripts --no-audit --no-fund --silent
fi
# p2p-media-loader for the browser: its prebundled core (no node built-ins).
node_modules/.bin/esbuild p2pml-page.js --bundle --format=iife --minify --log-level=warning \
  --conditions=p2pml:core-as-bundle --outfile="$tmp/p2pml.js"
export P2PML_JS="$tmp/p2pml.js"
node_modules/.bin/esbuild hlsjs-page.js --bundle --format=iife --minify --log-level=warning --outfile="$tmp/hlsjs.js"
export HLSJS_JS="$tmp/hlsjs.js"
# The whole run is bounded: joins + DURATION per system, plus startup.
export SYSTEMS="${SYSTEMS:-hlsjs,shoal,p2pml}"
n=$(tr ',' '\n' <<<"$SYSTEMS" | grep -c .)
limit=$((n * (DURATION + 2 * PAGES + 30) + ${WARMUP:-30} + 60))
timeout --signal=TERM --kill-after=10 "$limit" unshare -n "$root/scripts/in-netns.sh" node bench.mjs
