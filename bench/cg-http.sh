#!/usr/bin/env bash
# bench/cg-http.sh - instructions per HTTP request of W1 and W1b servers,
# counted by callgrind: repeatable even on a busy machine, unlike
# wall-clock figures.  Each server runs under valgrind; wrk loads it for
# a warm-up, the counters are zeroed (callgrind_control -z), wrk loads it
# again for DUR seconds, the counters are dumped, and their total is
# divided by the requests wrk counted.  Only user space is counted.
#
#   bench/cg-http.sh [w1|w1b] [system...]     (systems: lem lem-raw nginx)
#
# LEM (the lem binary; its build tree's lib/ is put on LUA_CPATH and the
# source tree's on LUA_PATH unless LEM_LUA_CPATH / LEM_LUA_PATH are set).
# CONNS (50) connections, DUR (5) seconds.
# Prints: workload system requests instructions instructions_per_request
set -u
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${LEM:?set LEM to the lem binary}"
w=${1:-w1}
shift || true
systems=("$@")
[ ${#systems[@]} -gt 0 ] || systems=(lem lem-raw nginx)
conns=${CONNS:-50}
dur=${DUR:-5}
port=${BENCH_PORT:-18441}
cpath=${LEM_LUA_CPATH:-$(dirname "$LEM")/lib/?.so}
lpath=${LEM_LUA_PATH:-$BENCH/../lib/?.lua}
work=$(mktemp -d /tmp/lem-cgh.XXXXXX)
trap 'rm -rf "$work"' EXIT
wrkargs=()
[ "$w" = w1b ] && wrkargs=(-s "$BENCH/w1_http/browser.lua")

listening() { ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; }

for sys in "${systems[@]}"; do
	pre=(env "LUA_PATH=$lpath;;" "LUA_CPATH=$cpath;;")
	case $sys in
	lem) cmd=("$LEM" "$BENCH/w1_http/lem.lua" "$port") ;;
	lem-raw) cmd=("$LEM" "$BENCH/w1_http/lem-raw.lua" "$port") ;;
	nginx)
		command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "$w nginx n/a"; continue; }
		mkdir -p "$work/nginx"
		sed -e "s|@PORT@|$port|g" -e "s|@RUN@|$work/nginx|g" "$BENCH/w1_http/nginx.conf" |
			sed 's/^daemon off;/daemon off;\nmaster_process off;/' >"$work/nginx/nginx.conf"
		cmd=("$(command -v nginx || echo /usr/sbin/nginx)" -p "$work/nginx/" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log") ;;
	*) echo "$w $sys unknown"; continue ;;
	esac
	"${pre[@]}" valgrind --tool=callgrind --callgrind-out-file="$work/cg.$sys.%p" \
		"${cmd[@]}" >"$work/$sys.log" 2>&1 &
	vp=$!
	for _ in $(seq 150); do listening && break; sleep 0.2; done
	wrk -t1 -c"$conns" -d2s "${wrkargs[@]}" "http://127.0.0.1:$port/" >/dev/null 2>&1
	callgrind_control -z "$vp" >/dev/null 2>&1
	wrk -t1 -c"$conns" -d"${dur}s" "${wrkargs[@]}" "http://127.0.0.1:$port/" >"$work/$sys.wrk" 2>&1
	callgrind_control -d "$vp" >/dev/null 2>&1
	sleep 0.5
	reqs=$(awk '/requests in/ {print $1}' "$work/$sys.wrk")
	f=$(ls -t "$work"/cg."$sys".*.1 2>/dev/null | head -1)
	ir=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
	kill "$vp" 2>/dev/null
	wait "$vp" 2>/dev/null
	for _ in $(seq 50); do listening || break; sleep 0.1; done
	if [ -n "$reqs" ] && [ -n "$ir" ] && [ "$reqs" -gt 0 ]; then
		echo "$w $sys $reqs $ir $((ir / reqs))"
	else
		echo "$w $sys failed (see $work)"
	fi
done
