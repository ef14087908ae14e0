#!/usr/bin/env bash
# Installs what shoal's tests need (Debian packages), skipping what is already there:
# ffmpeg (end-to-end tests), Node.js + npm (web SDK), Chromium + iproute2 (browser tests),
# mpv (a player seeking on demand through the proxy).
set -euo pipefail
need=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v mpv >/dev/null 2>&1 || need+=(mpv)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  echo "deps: installing ${need[*]}"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Prometheus 2.42 (promtool checks of deploy/prometheus, a real scrape in
# prometheus-e2e.sh): only its binaries, unpacked from Debian's package into
# $SHOAL_PROM_DIR, because installing the package would start a Prometheus service.
prom_dir="${SHOAL_PROM_DIR:-/usr/local/lib/shoal-prometheus}"
if ! { command -v promtool && command -v prometheus; } >/dev/null 2>&1 && [ ! -x "$prom_dir/usr/bin/prometheus" ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  tmp=$(mktemp -d)
  echo "deps: unpacking Debian's prometheus into $prom_dir"
  (cd "$tmp" && { apt-get download prometheus >/dev/null 2>&1 || { $sudo apt-get update -qq && apt-get download prometheus >/dev/null; }; })
  $sudo mkdir -p "$prom_dir"
  $sudo dpkg-deb -x "$tmp"/prometheus_*.deb "$prom_dir"
  rm -rf "$tmp"
fi
