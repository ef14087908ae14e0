#!/usr/bin/env bash
# vod-long.sh: issue 14's long-title check, not in CI. A DUR-second (default 2 hours)
# title at ~4 Mbit/s, made with `ffmpeg -stream_loop -1 -c copy` from 60 s encoded once,
# is served by `shoal origin --vod-dir` behind a `shoal edge`; every segment and its
# record are read through the edge once, in order, while the origin's and the edge's
# RSS are sampled every half second. Prints the title's size, the read time and both
# processes' RSS at the start, at their highest and at the end.
#
#   scripts/vod-long.sh                 # DUR=7200 (needs ~4 GB free in WORK)
#   DUR=600 WORK=/tmp/vl scripts/vod-long.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-7200}
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
export PATH="$PATH:/usr/local/go/bin"
need_mb=$((DUR * 4 / 8 * 12 / 10 + 100))
free_mb=$(df -Pm "$WORK" | awk 'NR==2 {print $4}')
if [ "$free_mb" -lt "$need_mb" ]; then
  echo "vod-long: $WORK has $free_mb MB free, the title needs ~$need_mb MB" >&2
  exit 1
fi
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
go build -o "$WORK/shoal" ./cmd/shoal
mkdir -p "$WORK/vod/long" "$WORK/store"
if [ ! -s "$WORK/vod/long/index.m3u8" ]; then
  ffmpeg -hide_banner -loglevel error -nostdin -y \
    -f lavfi -i "testsrc2=size=1280x720:rate=25,noise=alls=8:allf=t" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000" -t 60 \
    -c:v libx264 -preset veryfast -b:v 3900k -maxrate 3900k -bufsize 3900k -pix_fmt yuv420p \
    -g 50 -keyint_min 50 -sc_threshold 0 -c:a aac -b:a 96k -f mpegts "$WORK/src.ts"
  ffmpeg -hide_banner -loglevel error -nostdin -y -stream_loop -1 -i "$WORK/src.ts" -t "$DUR" -c copy \
    -f hls -hls_time 2 -hls_list_size 0 -hls_playlist_type vod \
    -hls_segment_filename "$WORK/vod/long/seg%d.ts" "$WORK/vod/long/index.m3u8"
fi
bytes=$(du -cb "$WORK"/vod/long/*.ts | tail -1 | cut -f1)
segs=$(grep -c '^seg' "$WORK/vod/long/index.m3u8")
echo "title: $segs segments, $((bytes / 1000000)) MB, $((bytes * 8 / DUR / 1000)) kbit/s"

"$WORK/shoal" origin --listen 127.0.0.1:18481 --vod-dir "$WORK/vod" --store-dir "$WORK/store" --log-level warn &
opid=$!
pids+=("$opid")
"$WORK/shoal" edge --listen 127.0.0.1:18482 --origin http://127.0.0.1:18481 --log-level warn &
epid=$!
pids+=("$epid")
for _ in $(seq 100); do
  curl -sf http://127.0.0.1:18482/live/long/index.m3u8 -o "$WORK/pl.m3u8" && break
  sleep 0.2
done
rss() { awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$1/status"; }
(while kill -0 "$opid" 2>/dev/null; do echo "$(rss "$opid") $(rss "$epid")"; sleep 0.5; done) >"$WORK/rss.log" &
pids+=("$!")
o0=$(rss "$opid")
e0=$(rss "$epid")
# One curl for every URL, in order: each segment, then its record.
base=http://127.0.0.1:18482/live/long/
grep -v '^#' "$WORK/pl.m3u8" | while read -r u; do
  printf 'url = "%s%s"\noutput = "/dev/null"\nurl = "%s%s"\noutput = "/dev/null"\n' "$base" "$u" "$base" "${u%.*}.rec"
done >"$WORK/urls"
start=$(date +%s.%N)
curl -sf --config "$WORK/urls" -w '%{http_code} %{size_download}\n' >"$WORK/got"
end=$(date +%s.%N)
sleep 1
read -r omax emax < <(awk '$1 > o {o = $1} $2 > e {e = $2} END {print o, e}' "$WORK/rss.log")
bad=$(awk '$1 != 200' "$WORK/got" | wc -l)
got=$(awk '{s += $2} END {printf "%.0f", s}' "$WORK/got")
echo "read: $(wc -l <"$WORK/got") responses ($bad not 200), $((got / 1000000)) MB in $(echo "$end - $start" | bc) s"
echo "origin RSS: $o0 MiB at the start, $omax MiB at most, $(rss "$opid") MiB at the end"
echo "edge RSS:   $e0 MiB at the start, $emax MiB at most, $(rss "$epid") MiB at the end (cache bound 512 MiB)"
