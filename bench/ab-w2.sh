#!/bin/bash
# ab-w2.sh - W2 (TCP echo, 64 B) with the systems interleaved.
#
# On this shared VM the speed of the whole machine can change by half
# for tens of seconds, so run.sh's cells (all runs of one system, then the
# next) can land in different states.  This script instead runs one short
# round of each system in turn, PAIRS times, and prints every round trip
# rate plus the median of each system's ratio to c-epoll within a round.
#
# usage: bench/ab-w2.sh [N [ROUNDS [SECONDS]]]     (defaults 100 6 3)
# needs: bench/tools built (echosrv, echoload); LEM and optionally LEM_JIT,
# with LEM_LUA_CPATH / LEM_JIT_LUA_CPATH as for run.sh.
set -u
BENCH=$(cd "$(dirname "$0")" && pwd)
TOOLS=${BENCH_TOOLS:-$BENCH/tools}
N=${1:-100} ROUNDS=${2:-6} SECS=${3:-3}
PORT=${BENCH_PORT:-18321}
CPU0=${SERVER_CPU:-0} CPU1=${LOAD_CPU:-1}

for t in echosrv echoload; do
	[ -x "$TOOLS/$t" ] || { echo "no $TOOLS/$t: make -C $TOOLS" >&2; exit 2; }
done
[ -n "${LEM:-}" ] || { echo "set LEM to the lem binary" >&2; exit 2; }
SYSTEMS="c-epoll lem"
[ -n "${LEM_JIT:-}" ] && SYSTEMS="$SYSTEMS lem-jit"

listening() {
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}

# start system $1 on $PORT; PID is the server process itself
start() {
	case $1 in
	c-epoll) taskset -c "$CPU0" "$TOOLS/echosrv" "$PORT" >/dev/null 2>&1 & ;;
	lem)     LUA_CPATH="${LEM_LUA_CPATH:-};;" taskset -c "$CPU0" \
	             "$LEM" "$BENCH/w2_echo/lem.lua" "$PORT" >/dev/null 2>&1 & ;;
	lem-jit) LUA_CPATH="${LEM_JIT_LUA_CPATH:-};;" taskset -c "$CPU0" \
	             "$LEM_JIT" "$BENCH/w2_echo/lem.lua" "$PORT" >/dev/null 2>&1 & ;;
	esac
	PID=$!
	for _ in $(seq 50); do      # wait until it listens (at most 5 s)
		kill -0 "$PID" 2>/dev/null || break
		listening && return 0
		sleep 0.1
	done
	echo "$1 did not listen on 127.0.0.1:$PORT" >&2
	kill "$PID" 2>/dev/null
	exit 1
}

if listening; then
	echo "127.0.0.1:$PORT is already taken (set BENCH_PORT)" >&2
	exit 2
fi

declare -A ratios
echo "W2 interleaved: N=$N, $ROUNDS rounds of ${SECS}s, round trips/s"
for r in $(seq "$ROUNDS"); do
	line="round $r:"
	declare -A rate=()
	for s in $SYSTEMS; do
		start "$s"
		rate[$s]=$(taskset -c "$CPU1" "$TOOLS/echoload" -p "$PORT" -c "$N" \
			-m 1000000000 -s 64 -d "$SECS" | sed -n 's/.*rps=\([0-9]*\).*/\1/p')
		kill "$PID"
		wait "$PID" 2>/dev/null
		for _ in $(seq 50); do listening || break; sleep 0.1; done
		line="$line $s=${rate[$s]:-?}"
	done
	echo "$line"
	for s in $SYSTEMS; do
		[ "$s" = c-epoll ] && continue
		ratios[$s]="${ratios[$s]:-} $(awk -v a="${rate[$s]:-0}" -v b="${rate[c-epoll]:-0}" \
			'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }')"
	done
done
for s in $SYSTEMS; do
	[ "$s" = c-epoll ] && continue
	echo "$s ÷ c-epoll, median of rounds: $(echo ${ratios[$s]} | tr ' ' '\n' | sort -n |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
			else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }') (rounds:${ratios[$s]})"
done
