#!/usr/bin/env bash
# bench/cg-echo.sh - instructions per echo round trip of a lem server,
# counted by callgrind: repeatable even on a busy machine, unlike
# wall-clock figures.  The server runs under valgrind twice, for a short
# and a long load; the difference of the two totals divided by the
# difference in round trips leaves out start-up and shutdown.  Only user
# space is counted (the kernel's share of each read and write is not).
#
#   bench/cg-echo.sh [tcp|unix|udp] [CONNS [ROUNDS]]
#
# LEM (the lem binary; its build tree's lib/ is put on LUA_CPATH unless
# LEM_LUA_CPATH is set) and BENCH_TOOLS (echoload, udpload) as for
# run.sh.  CONNS connections (or UDP senders), 100 by default; the long
# run does ROUNDS (500) more round trips per connection than the short.
# Prints: kind conns short_total long_total instructions_per_round_trip
set -u
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOLS=${BENCH_TOOLS:-$BENCH/tools}
: "${LEM:?set LEM to the lem binary}"
kind=${1:-tcp}
conns=${2:-100}
rounds=${3:-500}
port=${BENCH_PORT:-18431}
cpath=${LEM_LUA_CPATH:-$(dirname "$LEM")/lib/?.so}
work=$(mktemp -d /tmp/lem-cg.XXXXXX)
trap 'rm -rf "$work"' EXIT

# the echo servers of W2, W8 and W9, ending after N connections (TCP,
# Unix) or N datagrams (UDP) so that callgrind writes its counts
cat > "$work/stream.lua" <<'LUA'
local streams = require 'lem.streams'
local addr, n = arg[1], tonumber(arg[2])
local server = tonumber(addr) and
	assert(streams.tcp_listen('127.0.0.1', tonumber(addr), { backlog = 4096 })) or
	assert(streams.unix_listen(addr, nil, { backlog = 4096 }))
local done = 0
server:autospawn(function(s)
	while true do
		local data = s:read()
		if not data then break end
		if not s:write(data) then break end
	end
	s:close()
	done = done + 1
	if done == n then server:close() end
end)
LUA
cat > "$work/udp.lua" <<'LUA'
local streams = require 'lem.streams'
local port, n = tonumber(arg[1]), tonumber(arg[2])
local d = assert(streams.udp_bind('127.0.0.1', port))
local receive, send = d.receive, d.send
for _ = 1, n do
	local data, host, from = receive(d)
	if not data then error(host) end
	send(d, data, host, from)
end
LUA

one() { # rounds-per-connection -> total Ir
	local m=$1 out=$work/cg.$1 script=stream.lua addr=$port count=$conns
	case $kind in
	unix) addr=$work/echo.sock ;;
	udp) script=udp.lua; count=$((conns * m)) ;;
	esac
	LUA_CPATH="$cpath;;" valgrind --tool=callgrind --callgrind-out-file="$out" \
		"$LEM" "$work/$script" "$addr" "$count" >/dev/null 2>&1 &
	local vp=$! i
	for i in $(seq 200); do
		case $kind in
		tcp) ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break ;;
		unix) [ -S "$addr" ] && break ;;
		udp) ss -Hlun "sport = :$port" 2>/dev/null | grep -q . && break ;;
		esac
		sleep 0.1
	done
	case $kind in
	tcp) "$TOOLS/echoload" -p "$port" -c "$conns" -m "$m" -s 64 -d 300 >&2 ;;
	unix) "$TOOLS/echoload" -u "$addr" -c "$conns" -m "$m" -s 64 -d 300 >&2 ;;
	udp) "$TOOLS/udpload" -p "$port" -c "$conns" -m "$m" -s 64 -d 300 >&2 ;;
	esac
	wait "$vp"
	awk '/^(summary|totals):/ { print $2; exit }' "$out"
}
short=$(one 50)
long=$(one $((50 + rounds)))
echo "$kind $conns $short $long $(( (long - short) / (conns * rounds) ))"
