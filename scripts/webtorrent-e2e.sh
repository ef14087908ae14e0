#!/usr/bin/env bash
# Browser test of GET /announce (issue 17): stock hls.js 1.7.4 + p2p-media-loader-hlsjs
# 2.3.1 pages announcing to bittorrent-tracker 11.2.3, then the same pages announcing to
# shoal's /announce, in one run of bench/browser (network namespace, as root), at one
# stated live configuration (hls.js liveSyncDurationCount 7, highDemandTimeWindow 4 s).
# Fails unless shoal's pages connected to each other, got ≥ 90% of bittorrent-tracker's
# P2P bytes (summed over a second pair of runs when the first falls short), with 0
# stalls and no console errors. Env: PAGES (4), DURATION (60).
set -euo pipefail
cd "$(dirname "$0")/.."
export SYSTEMS=p2pml-bt,p2pml-shoal CHECK=webtorrent WARMUP="${WARMUP:-30}"
exec bench/browser/run.sh "${PAGES:-4}" "${DURATION:-60}"
