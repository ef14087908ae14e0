#!/usr/bin/env bash
# Runs every Fuzz target in the module for a while each (default 5s; e.g. ./scripts/fuzz.sh 2m).
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-5s}"
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
    echo "fuzz $pkg $f ($t)"
    go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg" >/tmp/fuzz.$$.log 2>&1 || { cat /tmp/fuzz.$$.log; exit 1; }
  done
done
echo "fuzz: all targets ran clean"
