#!/usr/bin/env bash
# bench-input.sh DIR [SECONDS]: encode, once, a real input for `shoal bench --input DIR`:
# SECONDS (default 130: a 60 s run plus its back-fill, with room) of 1280x720 30 fps
# H.264 and AAC in MPEG-TS, 2 s segments that each start with a keyframe. Rate
# controlled by quality with a cap (CRF 23, at most 3 Mbit/s), so, as in a real
# stream, segments differ in size: a zooming fractal whose detail grows, over
# testsrc2's moving pattern. Encoding 130 s took 5 CPU-minutes here.
set -euo pipefail
dir=${1:?usage: bench-input.sh DIR [SECONDS]}
secs=${2:-130}
mkdir -p "$dir"
rm -f "$dir"/seg*.ts "$dir"/index.m3u8
ffmpeg -hide_banner -loglevel error -nostdin -y \
  -f lavfi -i "mandelbrot=size=1280x720:rate=30[m];testsrc2=size=1280x720:rate=30[t];[m][t]blend=all_mode=average" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000" \
  -t "$secs" \
  -c:v libx264 -preset veryfast -crf 23 -maxrate 3M -bufsize 6M -pix_fmt yuv420p \
  -g 60 -keyint_min 60 -sc_threshold 0 -flags +cgop \
  -c:a aac -b:a 96k -ac 2 \
  -f hls -hls_time 2 -hls_list_size 0 -hls_playlist_type vod \
  -hls_segment_filename "$dir/seg%d.ts" "$dir/index.m3u8"
du -cb "$dir"/seg*.ts | tail -1
