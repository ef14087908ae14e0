#!/usr/bin/env bash
# Peer resources: a separate `shoal peer` process receiving and relaying a 4 Mbit/s live
# stream, beside a plain HTTP client fetching the same stream in the same run; prints
# each one's CPU (% of one core, from rusage) and memory (peak RSS from rusage, RSS at
# the end).
#
#   bench/peer/run.sh                           # ~2 min: encode, warm up, 60 s measured
#   DURATION=30s HELPERS=3 BITRATE=4M bench/peer/run.sh
#   SHOAL_BIN=/path/to/shoal bench/peer/run.sh  # skip the build
#
# What runs (loopback only): `shoal up` (origin + edge + tracker); a publisher pushing
# 2 s segments of a pre-encoded BITRATE stream (ffmpeg testsrc2 720p25, x264 CBR) to
# /ingest/bench/ in real time, looping; HELPERS other `shoal peer` processes, so the
# measured peer both receives from and uploads to the swarm; then the measured peer
# and the plain client (bench/peer/measure) for DURATION.
set -euo pipefail

ADDR=${ADDR:-127.0.0.1:18580}
DURATION=${DURATION:-60s}
BITRATE=${BITRATE:-4M}
HELPERS=${HELPERS:-2}
case $ADDR in 127.*) ;; *) echo "only loopback addresses: $ADDR" >&2; exit 2 ;; esac

here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

shoal=${SHOAL_BIN:-}
if [ -z "$shoal" ]; then
	go build -o "$tmp/shoal" ./cmd/shoal
	shoal=$tmp/shoal
fi
go build -o "$tmp/measure" ./bench/peer/measure

echo "encoding 40 s at $BITRATE ..." >&2
mkdir -p "$tmp/src"
ffmpeg -v error -nostdin -f lavfi -i testsrc2=size=1280x720:rate=25 -f lavfi -i sine=frequency=440 -t 40 \
	-c:v libx264 -preset ultrafast -b:v "$BITRATE" -minrate "$BITRATE" -maxrate "$BITRATE" -bufsize "$BITRATE" \
	-x264-params nal-hrd=cbr -g 50 -keyint_min 50 -sc_threshold 0 -c:a aac -b:a 64k \
	-f hls -hls_time 2 -hls_list_size 0 -hls_segment_filename "$tmp/src/s%d.ts" "$tmp/src/index.m3u8"
n=$(ls "$tmp"/src/s*.ts | wc -l)
bytes=$(cat "$tmp"/src/s*.ts | wc -c)
echo "$n segments, $((bytes * 8 / n / 2000)) kbit/s" >&2

"$shoal" up --listen "$ADDR" --log-level warn >"$tmp/up.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -sf "http://$ADDR/healthz" >/dev/null && break; sleep 0.1; done

publish() {
	local i=0 first j
	while true; do
		curl -sf -X PUT --data-binary @"$tmp/src/s$((i % n)).ts" "http://$ADDR/ingest/bench/seg$i.ts"
		first=$((i > 5 ? i - 5 : 0))
		{
			printf '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:%d\n' "$first"
			printf '#EXT-X-DISCONTINUITY-SEQUENCE:%d\n' $(((first + n - 1) / n))
			for ((j = first; j <= i; j++)); do
				if ((j > 0 && j % n == 0)); then printf '#EXT-X-DISCONTINUITY\n'; fi
				printf '#EXTINF:2.000000,\nseg%d.ts\n' "$j"
			done
		} | curl -sf -X PUT --data-binary @- "http://$ADDR/ingest/bench/index.m3u8"
		i=$((i + 1))
		sleep 2
	done
}
publish &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://$ADDR/live/bench/index.m3u8" >/dev/null && break; sleep 0.1; done
sleep 6 # a few segments in the window

for ((h = 0; h < HELPERS; h++)); do
	"$shoal" peer --edge "http://$ADDR" --stream bench --listen 127.0.0.1:0 --ice-interface lo --log-level warn >/dev/null 2>&1 &
	pids+=($!)
done
sleep 2
echo "measuring for $DURATION ..." >&2
"$tmp/measure" -shoal "$shoal" -edge "http://$ADDR" -stream bench -duration "$DURATION"
curl -s "http://$ADDR/api/streams?stream=bench"
echo
