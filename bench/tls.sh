#!/usr/bin/env bash
# bench/tls.sh - the TLS benchmarks of lem.tls, against nginx and Node:
#
#   T1  W1 over TLS 1.3: HTTP/1.1 hello world, keep-alive, wrk over
#       https (one handshake per connection, then requests); requests/s,
#       server CPU % and requests per server CPU-second.
#   T2  handshakes: a new connection and a full handshake for every
#       request, no session resumption (openssl s_time -new, HTTP/1.0
#       GET, the server closes); handshakes/s and per server CPU-second.
#
#   bench/tls.sh [t1|t2|all] [system...]    systems: nginx lem lem-jit node
#
# Every server gets the same certificate (ECDSA P-256, made here with
# openssl req) and TLS 1.3 only, with OpenSSL's default suites: the
# table says which protocol and suite each one negotiated.  LEM (and
# LEM_JIT) as for run.sh; LEM_LUA_CPATH defaults to LEM's build tree.
# Knobs: BENCH_PORT, DUR (5), REPS (3), WARMUP (1), SERVER_CPU (0),
# LOAD_CPU (1), T1_CONNS (100), T2_CLIENTS (2 parallel s_time).
# Tables go to stdout, progress to stderr, raw outputs to $RUNDIR.
set -u
set -o pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PORT=${BENCH_PORT:-18443}
DUR=${DUR:-5}
REPS=${REPS:-3}
WARMUP=${WARMUP:-1}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
T1_CONNS=${T1_CONNS:-100}
T2_CLIENTS=${T2_CLIENTS:-2}
LEM=${LEM:-}
LEM_JIT=${LEM_JIT:-}
RUNDIR=${RUNDIR:-$(mktemp -d /tmp/lembench-tls.XXXXXX)}
mkdir -p "$RUNDIR"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

log() { printf '%s\n' "$*" >&2; }
median() { sort -g | awk '{a[NR]=$1} END { if (NR==0) exit; if (NR%2) print a[(NR+1)/2]; else printf "%.6g\n", (a[NR/2]+a[NR/2+1])/2 }'; }

what=${1:-all}
shift || true
systems=${*:-nginx lem lem-jit node}

# the certificate all servers use
CERT=$RUNDIR/cert.pem
KEY=$RUNDIR/key.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$KEY" -out "$CERT" -days 2 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1 ||
	{ log "openssl req failed"; exit 1; }

listening() { ss -Hltn "( sport = :$PORT )" 2>/dev/null | grep -q .; }

SPID=
start_server() { # sys -> SPID
	local sys=$1 cmd=() cpath
	case $sys in
	nginx)
		command -v nginx >/dev/null || { log "  nginx: not installed"; return 1; }
		mkdir -p "$RUNDIR/nginx"
		sed -e "s#@PORT@#$PORT#g" -e "s#@RUN@#$RUNDIR/nginx#g" \
			-e "s#@CERT@#$CERT#g" -e "s#@KEY@#$KEY#g" \
			"$BENCH/t1_tls/nginx.conf" > "$RUNDIR/nginx/nginx.conf"
		cmd=(nginx -c "$RUNDIR/nginx/nginx.conf" -p "$RUNDIR/nginx") ;;
	lem|lem-jit)
		local l=$LEM
		[ "$sys" = lem-jit ] && l=$LEM_JIT
		[ -n "$l" ] || { log "  $sys: set ${sys/lem-jit/LEM_JIT}"; [ "$sys" = lem ] && log "  (LEM)"; return 1; }
		cpath=${LEM_LUA_CPATH:-$(dirname "$l")/lib/?.so}
		[ "$sys" = lem-jit ] && cpath=${LEM_JIT_LUA_CPATH:-$(dirname "$l")/lib/?.so}
		cmd=(env "LUA_CPATH=$cpath;;" "$l" "$BENCH/t1_tls/lem.lua" "$PORT" "$CERT" "$KEY") ;;
	node)
		command -v node >/dev/null || { log "  node: not installed"; return 1; }
		cmd=(node "$BENCH/t1_tls/node.js" "$PORT" "$CERT" "$KEY") ;;
	*) log "  unknown system $sys"; return 1 ;;
	esac
	if listening; then log "  port $PORT is in use: set BENCH_PORT"; return 1; fi
	taskset -c "$SERVER_CPU" "${cmd[@]}" >>"$RUNDIR/$sys.server.log" 2>&1 &
	SPID=$!
	for _ in $(seq 100); do
		listening && { sleep 0.2; return 0; }
		kill -0 "$SPID" 2>/dev/null || { log "  $sys exited (see $RUNDIR/$sys.server.log)"; return 1; }
		sleep 0.1
	done
	log "  $sys did not listen within 10 s"
	return 1
}
stop_server() {
	[ -n "$SPID" ] || return 0
	kill "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=
}
tree_ticks() { # pid -> utime+stime of it and its children, in clock ticks
	local p sum=0 v
	for p in $1 $(pgrep -P "$1" 2>/dev/null); do
		v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null)
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}
HZ=$(getconf CLK_TCK)
now() { date +%s.%N; }

negotiated() { # -> "TLSv1.3 TLS_AES_256_GCM_SHA384" as a client sees it
	echo | timeout 5 openssl s_client -connect "127.0.0.1:$PORT" -brief 2>&1 |
		awk '/^Protocol version:/ {p=$3} /^Ciphersuite:/ {c=$2} END {print p, c}'
}

# T1 --------------------------------------------------------------------
t1_one() {
	local sys=$1 rps=() cpus=() effs=() i o r c0 c1 t0 t1 cpu tls
	start_server "$sys" || { echo "| $sys | – | – | – | – | not run |"; stop_server; return; }
	tls=$(negotiated)
	[ "$WARMUP" = 0 ] || taskset -c "$LOAD_CPU" wrk -t1 -c"$T1_CONNS" -d"${WARMUP}s" \
		"https://127.0.0.1:$PORT/" >/dev/null 2>&1
	for i in $(seq "$REPS"); do
		o=$RUNDIR/t1.$sys.$i.txt
		c0=$(tree_ticks "$SPID"); t0=$(now)
		taskset -c "$LOAD_CPU" timeout $((DUR + 30)) wrk --latency -t1 -c"$T1_CONNS" \
			-d"${DUR}s" "https://127.0.0.1:$PORT/" >"$o" 2>&1
		c1=$(tree_ticks "$SPID"); t1=$(now)
		r=$(awk '/^Requests\/sec:/ {print $2}' "$o")
		cpu=$(awk -v a="$c0" -v b="$c1" -v s="$t0" -v e="$t1" -v hz="$HZ" 'BEGIN { printf "%.1f", 100 * (b - a) / hz / (e - s) }')
		log "  t1 $sys run $i: ${r:-?} req/s, server CPU $cpu%"
		[ -n "$r" ] || continue
		rps+=("$r"); cpus+=("$cpu")
		effs+=("$(awk -v r="$r" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", r * 100 / c }')")
	done
	stop_server
	T1_EFF[$sys]=$(printf '%s\n' "${effs[@]}" | median)
	printf '| %s | %s | %s | %s | %s | %s |\n' "$sys" \
		"$(printf '%s\n' "${rps[@]}" | median)" "$(printf '%s\n' "${cpus[@]}" | median)" \
		"${T1_EFF[$sys]}" "${tls:-?}" "$(grep -h 'Socket errors\|Non-2xx' "$RUNDIR"/t1."$sys".*.txt 2>/dev/null | head -1 | tr -s ' ')"
}

# T2 --------------------------------------------------------------------
t2_one() {
	local sys=$1 hs=() cpus=() effs=() i j o n c0 c1 t0 t1 cpu pids
	start_server "$sys" || { echo "| $sys | – | – | – | not run |"; stop_server; return; }
	for i in $(seq "$REPS"); do
		c0=$(tree_ticks "$SPID"); t0=$(now)
		pids=()
		for j in $(seq "$T2_CLIENTS"); do
			o=$RUNDIR/t2.$sys.$i.$j.txt
			taskset -c "$LOAD_CPU" timeout $((DUR + 30)) openssl s_time \
				-connect "127.0.0.1:$PORT" -new -www / -time "$DUR" >"$o" 2>&1 &
			pids+=($!)
		done
		wait "${pids[@]}"
		c1=$(tree_ticks "$SPID"); t1=$(now)
		n=$(cat "$RUNDIR"/t2."$sys"."$i".*.txt |
			awk '/connections in [0-9.]+ real seconds/ {s += $1} END {print s + 0}')
		local rate
		rate=$(awk -v n="$n" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", n / (e - s) }')
		cpu=$(awk -v a="$c0" -v b="$c1" -v s="$t0" -v e="$t1" -v hz="$HZ" 'BEGIN { printf "%.1f", 100 * (b - a) / hz / (e - s) }')
		log "  t2 $sys run $i: $n handshakes, $rate/s, server CPU $cpu%"
		[ "$n" -gt 0 ] || continue
		hs+=("$rate"); cpus+=("$cpu")
		effs+=("$(awk -v n="$n" -v a="$c0" -v b="$c1" -v hz="$HZ" 'BEGIN { if (b > a) printf "%.0f", n * hz / (b - a) }')")
	done
	stop_server
	T2_EFF[$sys]=$(printf '%s\n' "${effs[@]}" | median)
	printf '| %s | %s | %s | %s | |\n' "$sys" "$(printf '%s\n' "${hs[@]}" | median)" \
		"$(printf '%s\n' "${cpus[@]}" | median)" "${T2_EFF[$sys]}"
}

ratios() { # name array-name
	local -n eff=$2
	local ref s
	for ref in nginx node; do
		[ -n "${eff[$ref]:-}" ] || continue
		for s in "${!eff[@]}"; do
			[ "$s" = "$ref" ] || [ -z "${eff[$s]}" ] && continue
			printf -- '- %s per server CPU-second, %s / %s: %s\n' "$1" "$s" "$ref" \
				"$(awk -v a="${eff[$s]}" -v b="${eff[$ref]}" 'BEGIN { if (b > 0) printf "%.2f", a / b }')"
		done
	done
}

declare -A T1_EFF T2_EFF
trap stop_server EXIT
case $what in t1|all)
	echo "### T1 W1 over TLS 1.3 (wrk -t1 -c$T1_CONNS -d${DUR}s https://, keep-alive; median of $REPS)"
	echo
	echo "| system | requests/s | server CPU % | req per server CPU-s | negotiated | notes |"
	echo "|---|---:|---:|---:|---|---|"
	for s in $systems; do t1_one "$s"; done
	echo
	ratios "requests" T1_EFF
	echo ;;
esac
case $what in t2|all)
	echo "### T2 full handshakes (openssl s_time -new -www /, $T2_CLIENTS clients, ${DUR}s; no resumption; median of $REPS)"
	echo
	echo "| system | handshakes/s | server CPU % | per server CPU-s | notes |"
	echo "|---|---:|---:|---:|---|"
	for s in $systems; do t2_one "$s"; done
	echo
	ratios "handshakes" T2_EFF
	echo ;;
esac
log "raw outputs in $RUNDIR"
