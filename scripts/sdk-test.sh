#!/usr/bin/env bash
# Tests of the web SDK (sdk/web): type-check, unit tests against the golden vectors
# (testdata/wire, testdata/tracker, testdata/integrity), integration tests against a real
# `shoal up` built from this tree, and a check that the committed bundle in sdk/web/dist
# is what the sources build to. The browser end-to-end test is scripts/sdk-e2e.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
command -v node >/dev/null || { echo "sdk-test: needs node >= 20 and npm"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/shoal" ./cmd/shoal
cd sdk/web
[ -d node_modules ] || npm ci --no-audit --no-fund
SHOAL_BIN="$tmp/shoal" npm test --silent -- --test-reporter=dot
cp -r dist "$tmp/dist.committed"
npm run --silent build
if ! diff -r "$tmp/dist.committed" dist >/dev/null; then
  echo "sdk-test: sdk/web/dist differs from a fresh build of sdk/web/src: run 'npm run build' in sdk/web and commit dist/"
  exit 1
fi
echo "sdk-test: ok"
