#!/usr/bin/env bash
# bench/procs.sh - the benchmarks of processes, files and workers:
#   p1  spawn and wait for /bin/true P1_N times, P1_CONC at a time:
#       lem.process vs Node's child_process.spawn vs luv's uv.spawn vs a
#       C loop of posix_spawn + waitpid (bench/tools/spawnloop)
#   p2  fs.readfile of P2_N files of 4 KiB with P2_CONC coroutines vs
#       Node's fs.promises.readFile with the same concurrency
#   p3  W1 (bench/w1_http/lem.lua) under `lem --workers 2` vs nginx with
#       2 workers, wrk with 2 threads (which shares the machine's cores)
#
# usage: LEM=./lem bench/procs.sh [p1|p2|p3|all]
# knobs: REPS (3, the median is shown), P1_N (5000), P1_CONC (50),
#        P2_N (2000), P2_CONC (64), P2_DIR, DUR (5 s of wrk), W1_CONNS
#        (100), PORT (18331), LUA51 (lua5.1), NODE (node), NGINX (nginx),
#        BENCH_TOOLS (where spawnloop is built; `make bench/tools/spawnloop`),
#        LEM_LUA_CPATH and LEM_LUA_PATH (where LEM finds its modules)
# A system that is not installed shows n/a.  Ratios are lem's speed over
# the other's (above 1: lem is faster), from the medians of one run.  P1
# and P2 times are wall times less each program's start-up (the median
# of REPS runs with N = 0), so that Node's longer start does not count.
set -u
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOLS=${BENCH_TOOLS:-$BENCH/tools}
: "${LEM:?set LEM to the lem binary}"
REPS=${REPS:-3}
P1_N=${P1_N:-5000}; P1_CONC=${P1_CONC:-50}
P2_N=${P2_N:-2000}; P2_CONC=${P2_CONC:-64}
P2_DIR=${P2_DIR:-/tmp/lembench-4k-files}
DUR=${DUR:-5}; W1_CONNS=${W1_CONNS:-100}; PORT=${PORT:-18331}
LUA51=${LUA51:-lua5.1}; NODE=${NODE:-node}; NGINX=${NGINX:-nginx}
RUN=$(mktemp -d /tmp/lembench-procs.XXXXXX)
trap 'rm -rf "$RUN"' EXIT

export LUA_CPATH="${LEM_LUA_CPATH:+$LEM_LUA_CPATH;}${LUA_CPATH:-;;}"
# lem.http is Lua (lib/lem/http.lua): P3's server needs it too
export LUA_PATH="${LEM_LUA_PATH:+$LEM_LUA_PATH;}${LUA_PATH:-;;}"

log() { printf '%s\n' "$*" >&2; }
median() { sort -g | awk '{a[NR]=$1} END { if (NR) print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2 }'; }
now() { date +%s.%N; }

# time_it NAME EXPECT CMD...: the median wall time of REPS runs, or n/a
time_it() {
	local name=$1 want=$2 t0 t1 out times=()
	shift 2
	for _ in $(seq "$REPS"); do
		t0=$(now)
		out=$("$@" 2>"$RUN/err") || { log "$name failed: $(head -c 300 "$RUN/err")"; echo n/a; return; }
		t1=$(now)
		case $out in "$want"*) ;; *) log "$name: unexpected output '$out'"; echo n/a; return ;; esac
		times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')")
		log "  $name: ${times[-1]} s"
	done
	printf '%s\n' "${times[@]}" | median
}
# less_start TIME START: TIME without the start-up time (a run with N=0)
less_start() {
	[ "$1" = n/a ] || [ "$2" = n/a ] && { echo "$1"; return; }
	awk -v t="$1" -v s="$2" 'BEGIN { d = t - s; if (d < 0.0001) d = 0.0001; printf "%.4f", d }'
}
ratio() { # lem_time other_time -> other/lem
	[ "$1" = n/a ] || [ "$2" = n/a ] && { echo n/a; return; }
	awk -v l="$1" -v o="$2" 'BEGIN { printf "%.2f", o / l }'
}
have_lua_module() { "$LUA51" -e "require '$1'" >/dev/null 2>&1; }

p1() {
	local lem node luv c
	log "P1: spawn+wait /bin/true $P1_N times, $P1_CONC at a time"
	lem=$(less_start "$(time_it lem "done $P1_N" "$LEM" "$BENCH/p1_spawn/lem.lua" "$P1_N" "$P1_CONC")" \
		"$(time_it lem-start "done 0" "$LEM" "$BENCH/p1_spawn/lem.lua" 0 "$P1_CONC")")
	if command -v "$NODE" >/dev/null; then
		node=$(less_start "$(time_it node "done $P1_N" "$NODE" "$BENCH/p1_spawn/node.js" "$P1_N" "$P1_CONC")" \
			"$(time_it node-start "done 0" "$NODE" "$BENCH/p1_spawn/node.js" 0 "$P1_CONC")")
	else node=n/a; fi
	if have_lua_module luv; then
		luv=$(less_start "$(time_it luv "done $P1_N" "$LUA51" "$BENCH/p1_spawn/luv.lua" "$P1_N" "$P1_CONC")" \
			"$(time_it luv-start "done 0" "$LUA51" "$BENCH/p1_spawn/luv.lua" 0 "$P1_CONC")")
	else luv=n/a; fi
	if [ ! -x "$TOOLS/spawnloop" ] && command -v cc >/dev/null; then
		cc -O2 -o "$RUN/spawnloop" "$BENCH/tools/spawnloop.c" && TOOLS=$RUN
	fi
	if [ -x "$TOOLS/spawnloop" ]; then
		c=$(time_it c "done $P1_N" "$TOOLS/spawnloop" "$P1_N" "$P1_CONC")
	else c=n/a; fi
	echo "### P1 spawn and wait for /bin/true, $P1_N times, $P1_CONC at a time (seconds less start-up, median of $REPS)"
	echo "| system | seconds | spawns/s | lem's speed / this one's |"
	echo "|---|---:|---:|---:|"
	for s in lem:$lem node:$node luv:$luv c-posix_spawn:$c; do
		local n=${s%%:*} t=${s#*:}
		local rate=n/a
		[ "$t" != n/a ] && rate=$(awk -v t="$t" -v n="$P1_N" 'BEGIN { printf "%.0f", n / t }')
		echo "| $n | $t | $rate | $(ratio "$lem" "$t") |"
	done
	echo
}

p2() {
	local lem node
	log "P2: readfile of $P2_N files of 4 KiB, $P2_CONC at once ($P2_DIR)"
	if [ "$(cat "$P2_DIR"/f* 2>/dev/null | wc -c)" != $((P2_N * 4096)) ]; then
		rm -f "$P2_DIR"/f*
		mkdir -p "$P2_DIR"
		for i in $(seq 0 $((P2_N - 1))); do head -c 4096 /dev/urandom > "$P2_DIR/f$i"; done
	fi
	cat "$P2_DIR"/f* > /dev/null     # all in the page cache
	lem=$(less_start "$(time_it lem "done $P2_N $((P2_N * 4096))" "$LEM" "$BENCH/p2_readfile/lem.lua" "$P2_DIR" "$P2_N" "$P2_CONC")" \
		"$(time_it lem-start "done 0 0" "$LEM" "$BENCH/p2_readfile/lem.lua" "$P2_DIR" 0 "$P2_CONC")")
	if command -v "$NODE" >/dev/null; then
		node=$(less_start "$(time_it node "done $P2_N $((P2_N * 4096))" "$NODE" "$BENCH/p2_readfile/node.js" "$P2_DIR" "$P2_N" "$P2_CONC")" \
			"$(time_it node-start "done 0 0" "$NODE" "$BENCH/p2_readfile/node.js" "$P2_DIR" 0 "$P2_CONC")")
	else node=n/a; fi
	echo "### P2 readfile of $P2_N files of 4 KiB, $P2_CONC at once (seconds less start-up, median of $REPS)"
	echo "| system | seconds | files/s | lem's speed / this one's |"
	echo "|---|---:|---:|---:|"
	for s in lem:$lem node:$node; do
		local n=${s%%:*} t=${s#*:}
		local rate=n/a
		[ "$t" != n/a ] && rate=$(awk -v t="$t" -v n="$P2_N" 'BEGIN { printf "%.0f", n / t }')
		echo "| $n | $t | $rate | $(ratio "$lem" "$t") |"
	done
	echo
}

up() { # wait until PORT answers
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
wrk_rps() {
	local o=$RUN/wrk.out rps=()
	for _ in $(seq "$REPS"); do
		wrk -t2 -c"$W1_CONNS" -d"${DUR}s" "http://127.0.0.1:$PORT/" > "$o" 2>&1
		rps+=("$(awk '/^Requests\/sec:/ {print $2}' "$o")")
		log "  ${rps[-1]} req/s"
	done
	printf '%s\n' "${rps[@]}" | median
}

p3() {
	local lem=n/a ngx=n/a pid
	command -v wrk >/dev/null || { log "P3 needs wrk"; return; }
	log "P3: W1 with 2 workers, wrk -t2 -c$W1_CONNS -d${DUR}s"
	"$LEM" --workers 2 --grace 2 "$BENCH/w1_http/lem.lua" "$PORT" > "$RUN/lem.out" 2>&1 &
	pid=$!
	if up; then lem=$(wrk_rps); else log "lem --workers did not start: $(cat "$RUN/lem.out")"; fi
	kill -TERM "$pid"; wait "$pid" 2>/dev/null
	if command -v "$NGINX" >/dev/null; then
		mkdir -p "$RUN/ngx"
		sed -e "s|@PORT@|$PORT|g" -e "s|@RUN@|$RUN/ngx|g" "$BENCH/p3_workers/nginx.conf" > "$RUN/ngx/nginx.conf"
		"$NGINX" -c "$RUN/ngx/nginx.conf" -p "$RUN/ngx" > "$RUN/ngx.out" 2>&1 &
		pid=$!
		if up; then ngx=$(wrk_rps); fi
		kill -QUIT "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	fi
	echo "### P3 W1 with 2 workers (requests/s, median of $REPS; wrk -t2 shares the cores)"
	echo "| system | requests/s | lem / this one |"
	echo "|---|---:|---:|"
	echo "| lem --workers 2 | $lem | 1.00 |"
	local r=n/a
	[ "$lem" != n/a ] && [ "$ngx" != n/a ] && r=$(awk -v l="$lem" -v o="$ngx" 'BEGIN { printf "%.2f", l / o }')
	echo "| nginx, 2 workers | $ngx | $r |"
	echo
}

case ${1:-all} in
p1) p1 ;; p2) p2 ;; p3) p3 ;;
all) p1; p2; p3 ;;
*) echo "usage: $0 [p1|p2|p3|all]" >&2; exit 1 ;;
esac
