#!/usr/bin/env bash
# Browser test of the operator's console (issue 15): `shoal up --peers 4` on loopback
# and Chromium on /console (sdk/web/test/e2e/console.mjs). No network namespace is
# needed: only the Go peers use WebRTC, over lo. Env: SCREENSHOT=docs/console.png
# refreshes the screenshot in the docs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
command -v chromium >/dev/null || { echo "console-e2e: needs chromium (apt-get install -y chromium)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/shoal" ./cmd/shoal
(cd sdk/web && { [ -d node_modules ] || npm ci --no-audit --no-fund; })
[ -n "${SCREENSHOT:-}" ] && SCREENSHOT=$(realpath -m "$SCREENSHOT") && export SCREENSHOT
SHOAL_BIN="$tmp/shoal" exec node sdk/web/test/e2e/console.mjs
