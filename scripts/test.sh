#!/usr/bin/env bash
# The whole test suite: installs what it needs, then vet, race tests, short fuzzing, the
# web SDK's tests, the operator console's browser test and the browser end-to-end tests
# (in a network namespace: needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
export PATH="$PATH:/usr/local/go/bin:${SHOAL_PROM_DIR:-/usr/local/lib/shoal-prometheus}/usr/bin"
# promtool and prometheus are installed above: their tests (deploy/prometheus, test/e2e)
# fail rather than skip without them.
export SHOAL_REQUIRE_PROMTOOL=1
# mpv too (internal/peer TestVODProxyFFmpeg seeks through the proxy with it).
export SHOAL_REQUIRE_MPV=1
go vet ./...
go test -race -count=1 -timeout 20m ./...
# Tests too heavy for the race detector (//go:build !race): the 10-peer WebRTC swarm,
# the malicious peer, tracker outage, upload cap, the replay of a real run into the core,
# the large scheduler simulations, and the virtual bench at 1,000 viewers (bytes = identities).
# The scheduler's simulations grow without the race detector (raceEnabled), so that
# package runs whole; in peer and bench only the !race tests run again (the rest ran above).
go test -p 1 -count=1 -timeout 15m ./internal/scheduler
norace=$(grep -l '^//go:build !race' internal/peer/*_test.go internal/bench/*_test.go |
  xargs grep -ho '^func Test[A-Za-z0-9_]*' | sed 's/^func //' | paste -sd'|')
go test -p 1 -count=1 -timeout 15m -run "^(${norace})\$" ./internal/peer ./internal/bench
./scripts/fuzz.sh "${FUZZTIME:-5s}"
./scripts/sdk-test.sh
./scripts/console-e2e.sh
sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo -E"
$sudo ./scripts/sdk-e2e.sh
# p2p-media-loader pages on bittorrent-tracker, then on shoal's /announce (~3 min).
$sudo ./scripts/webtorrent-e2e.sh
