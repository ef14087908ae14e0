#!/usr/bin/env bash
# Edge vs nginx: shoal's edge and nginx (proxy_cache + proxy_cache_lock) in front of the
# same live shoal origin (demo stream), loaded by wrk with the same URL mix (the live
# playlist and the newest segments, alternating), both warmed, ROUNDS alternating rounds
# of ROUND_SECS each; prints the medians of requests/s and p99 latency and their ratio.
#
#   bench/edge-nginx/run.sh                 # as root (nginx runs with `user root;`)
#   ROUNDS=3 ROUND_SECS=10 CONNS=64 bench/edge-nginx/run.sh
#   SHOAL_BIN=/path/to/shoal bench/edge-nginx/run.sh   # skip the build
#
# Installs nginx-light and wrk with apt-get when missing. Loopback addresses only.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
ROUND_SECS=${ROUND_SECS:-10}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
SEGMENTS=${SEGMENTS:-3}
ORIGIN_ADDR=${ORIGIN_ADDR:-127.0.0.1:18081}
EDGE_ADDR=${EDGE_ADDR:-127.0.0.1:18082}
NGINX_ADDR=${NGINX_ADDR:-127.0.0.1:18083}

here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."

for a in "$ORIGIN_ADDR" "$EDGE_ADDR" "$NGINX_ADDR"; do
	case $a in 127.*) ;; *) echo "only loopback addresses: $a" >&2; exit 2 ;; esac
done

need=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
	echo "installing ${need[*]}" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

base=/tmp
[ -w /dev/shm ] && base=/dev/shm # nginx's cache on tmpfs: memory, like shoal's
dir=$(mktemp -d "$base/shoal-edge-nginx.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT

if [ -n "${SHOAL_BIN:-}" ]; then # a prebuilt binary
	cp "$SHOAL_BIN" "$dir/shoal"
else
	echo "building shoal" >&2
	go build -o "$dir/shoal" ./cmd/shoal
fi

"$dir/shoal" origin --demo --listen "$ORIGIN_ADDR" --key-file "$dir/origin.key" --log-level warn >"$dir/origin.log" 2>&1 &
pids+=($!)
"$dir/shoal" edge --origin "http://$ORIGIN_ADDR" --listen "$EDGE_ADDR" --log-level warn >"$dir/edge.log" 2>&1 &
pids+=($!)
sed -e "s|@DIR@|$dir|g" -e "s|@ORIGIN@|$ORIGIN_ADDR|g" -e "s|@LISTEN@|$NGINX_ADDR|g" \
	"$here/nginx.conf.tmpl" >"$dir/nginx.conf"
mkdir -p "$dir/cache"
"$NGINX" -p "$dir" -c "$dir/nginx.conf" &
pids+=($!)

playlist=/live/demo/index.m3u8
wait_ok() { # url
	for _ in $(seq 100); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "no answer from $1" >&2
	exit 1
}
wait_ok "http://$ORIGIN_ADDR$playlist"
wait_ok "http://$EDGE_ADDR$playlist"
wait_ok "http://$NGINX_ADDR$playlist"

# URL mix: the playlist between each of the newest segments, as viewers at the live
# edge request them (one playlist reload per segment).
for _ in $(seq 60); do # a fresh origin may not have SEGMENTS segments yet
	[ "$(curl -fsS "http://$ORIGIN_ADDR$playlist" | grep -vc -e '^#' -e '^$')" -ge "$SEGMENTS" ] && break
	sleep 0.5
done
curl -fsS "http://$ORIGIN_ADDR$playlist" | grep -v '^#' | grep -v '^$' | tail -n "$SEGMENTS" |
	while read -r s; do
		case $s in /*) echo "$s" ;; *) echo "$(dirname "$playlist")/$s" ;; esac
	done >"$dir/segs"
: >"$dir/paths"
while read -r p; do printf '%s\n%s\n' "$playlist" "$p" >>"$dir/paths"; done <"$dir/segs"
echo "URL mix ($(wc -l <"$dir/paths") paths):" >&2
sed 's/^/  /' "$dir/paths" >&2

for addr in "$EDGE_ADDR" "$NGINX_ADDR"; do # warm both caches
	for _ in 1 2; do
		while read -r p; do curl -fsS -o /dev/null "http://$addr$p"; done <"$dir/paths"
	done
done

# Both must answer the same bytes as the origin for every segment of the mix.
while read -r p; do
	want=$(curl -fsS "http://$ORIGIN_ADDR$p" | sha256sum)
	for addr in "$EDGE_ADDR" "$NGINX_ADDR"; do
		if [ "$(curl -fsS "http://$addr$p" | sha256sum)" != "$want" ]; then
			echo "$addr answered other bytes than the origin for $p" >&2
			exit 1
		fi
	done
done <"$dir/segs"

to_ms() { # wrk latency like 812.00us, 1.52ms, 1.01s → ms
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		printf "%.3f", n }'
}
run_wrk() { # name addr round
	local out="$dir/wrk-$1-$3.txt"
	wrk -t "$THREADS" -c "$CONNS" -d "${ROUND_SECS}s" --latency -s "$here/rotate.lua" \
		"http://$2" -- "$dir/paths" >"$out"
	if grep -q 'Non-2xx' "$out"; then
		echo "$1: $(grep 'Non-2xx' "$out")" >&2
	fi
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
	p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
	echo "$rps $p99" >>"$dir/results-$1"
	printf '  round %d %-6s %10.0f req/s  p99 %8.3f ms\n' "$3" "$1" "$rps" "$p99" >&2
}
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

echo "wrk -t $THREADS -c $CONNS -d ${ROUND_SECS}s --latency, $ROUNDS alternating rounds" >&2
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) -eq 1 ]; then
		run_wrk shoal "$EDGE_ADDR" "$r"
		run_wrk nginx "$NGINX_ADDR" "$r"
	else
		run_wrk nginx "$NGINX_ADDR" "$r"
		run_wrk shoal "$EDGE_ADDR" "$r"
	fi
done

s_rps=$(awk '{print $1}' "$dir/results-shoal" | median)
n_rps=$(awk '{print $1}' "$dir/results-nginx" | median)
s_p99=$(awk '{print $2}' "$dir/results-shoal" | median)
n_p99=$(awk '{print $2}' "$dir/results-nginx" | median)
awk -v sr="$s_rps" -v nr="$n_rps" -v sp="$s_p99" -v np="$n_p99" 'BEGIN {
	printf "\n%-22s %14s %14s %10s\n", "median of rounds", "shoal edge", "nginx", "ratio"
	printf "%-22s %14.0f %14.0f %9.2fx\n", "requests/s", sr, nr, sr / nr
	printf "%-22s %14.3f %14.3f %9.2fx\n", "p99 latency (ms)", sp, np, sp / np
}'
