#!/usr/bin/env bash
# The whole test suite: installs what it needs, then vet, race tests, short fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
export PATH="$PATH:/usr/local/go/bin"
go vet ./...
go test -race -count=1 -timeout 20m ./...
./scripts/fuzz.sh "${FUZZTIME:-5s}"
