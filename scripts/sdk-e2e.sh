#!/usr/bin/env bash
# Browser end-to-end test of the web SDK (issue 7): Chromium pages with hls.js + SDK and a
# real `shoal up`, inside a network namespace this script creates, so that WebRTC runs
# over a veth pair and nothing leaves the machine. Needs root (unshare -n), Debian's
# chromium, Go and npm. Env: PAGES (3), DURATION (40 s), PEERS (Go peers, 2).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
command -v chromium >/dev/null || { echo "sdk-e2e: needs chromium (apt-get install -y chromium)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/shoal" ./cmd/shoal
(cd sdk/web && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run --silent build)
export SHOAL_BIN="$tmp/shoal"
# 2 Go peers join the browsers when `shoal up` has --peers (the Go peer engine).
if "$tmp/shoal" up --help 2>&1 | grep -q -- '--peers'; then export PEERS="${PEERS:-2}"; else export PEERS=0; fi
exec unshare -n ./scripts/in-netns.sh node sdk/web/test/e2e/run.mjs
