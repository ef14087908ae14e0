#!/usr/bin/env bash
# make-demo.sh: regenerate the built-in demo stream's sample segments
# (internal/origin/demo/). Run once; the bytes are committed and embedded, so the demo
# needs neither ffmpeg nor network at run time. Output is byte-stable for a given
# ffmpeg build (bitexact flags, one thread); another ffmpeg version may produce other
# bytes, so only rerun this when the samples must change.
#
# 8 segments × 2 s of testsrc2 (with light temporal noise so that the encoder actually
# spends ~1.5 Mbit/s, like a real stream) and a 440 Hz sine; H.264 (baseline-ish,
# 640x360, 25 fps, closed GOP of exactly one segment so every segment starts with a
# keyframe) and AAC-LC 48 kHz stereo in MPEG-TS. Total ≈ 3 MiB (limit: 4 MiB).
set -euo pipefail
cd "$(dirname "$0")/.."
out=internal/origin/demo
rm -f "$out"/seg*.ts "$out"/index.m3u8
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=size=640x360:rate=25,noise=alls=12:allf=t" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000" \
  -t 16 -threads 1 \
  -c:v libx264 -preset veryfast -profile:v main -pix_fmt yuv420p \
  -b:v 1400k -maxrate 1500k -bufsize 1500k \
  -g 50 -keyint_min 50 -sc_threshold 0 -flags +cgop \
  -c:a aac -b:a 96k -ac 2 \
  -fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
  -f hls -hls_time 2 -hls_list_size 0 -hls_playlist_type vod \
  -hls_segment_filename "$out/seg%d.ts" "$out/index.m3u8"
ls -l "$out"
du -cb "$out"/seg*.ts | tail -1
