#!/usr/bin/env bash
# bench/redis/run.sh - Redis SET/GET round trips with redis-lua: on
# lem.socket (CONNS coroutines, a connection each), on blocking LuaSocket
# (one connection), on copas (CONNS threads), and redis-benchmark with as
# many connections as the floor.  Starts its own redis-server on a free
# loopback port and stops it.
#
#   LEM=/path/to/lem bench/redis/run.sh [OPS [CONNS]]
#
# LEM_LUA_CPATH / LEM_LUA_PATH: where that lem finds lem.socket (for a
# build tree, LEM_LUA_CPATH='BUILD/lib/?.so').  LUA51 (lua5.1) runs the
# LuaSocket and copas clients.  Systems whose parts are missing print n/a.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OPS=${1:-200000}
CONNS=${2:-50}
LEM=${LEM:-lem}
LUA51=${LUA51:-lua5.1}

if ! command -v redis-server >/dev/null; then
	echo "n/a: redis-server is not installed (apt-get install redis-server)"
	exit 0
fi
# a free port: ask the kernel for one, then let redis take it
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null)
port=${port:-18399}
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
	--daemonize no >/dev/null 2>&1 &
rpid=$!
trap 'kill $rpid 2>/dev/null; wait $rpid 2>/dev/null' EXIT
for _ in $(seq 50); do
	redis-cli -p "$port" ping >/dev/null 2>&1 && break
	sleep 0.1
done

echo "# Redis SET/GET round trips, $OPS operations, redis-lua $(dpkg-query -W -f='${Version}' lua-redis 2>/dev/null)"
echo
echo "| client | connections | ops/s | ratio to redis-benchmark |"
echo "|---|---|---|---|"

# redis-benchmark: the SET and the GET test one after the other; their
# combined rate for the same number of each is the floor
floor=$(redis-benchmark -p "$port" -c "$CONNS" -n $((OPS / 2)) -t set,get -q 2>/dev/null |
	tr '\r' '\n' | grep -o '\(SET\|GET\): [0-9.]* requests per second' |
	awk '{ n++; t += 1 / $2 } END { if (n == 2) printf "%.0f", 2 / t }')
row() {         # row NAME CONNS RATE
	local ratio=n/a
	if [ -n "$floor" ] && [ -n "$3" ] && [ "$3" != n/a ]; then
		ratio=$(awk -v a="$3" -v b="$floor" 'BEGIN { printf "%.2f", a / b }')
	fi
	echo "| $1 | $2 | ${3:-n/a} | $ratio |"
}
rate() { sed -n 's/.* = \([0-9]*\) ops\/s$/\1/p' | tail -n1; }

row "redis-benchmark -t set,get" "$CONNS" "${floor:-n/a}"

out=$(LUA_CPATH="${LEM_LUA_CPATH:+$LEM_LUA_CPATH;}${LUA_CPATH:-;;}" \
	LUA_PATH="${LEM_LUA_PATH:+$LEM_LUA_PATH;}${LUA_PATH:-;;}" \
	"$LEM" "$here/lem.lua" "$port" "$OPS" "$CONNS" 2>&1)
r=$(echo "$out" | rate); [ -n "$r" ] || echo "lem: $out" >&2
row "lem + lem.socket" "$CONNS" "${r:-n/a}"

if "$LUA51" -e "require 'socket' require 'redis'" 2>/dev/null; then
	out=$("$LUA51" "$here/luasocket.lua" "$port" "$OPS" 2>&1)
	r=$(echo "$out" | rate); [ -n "$r" ] || echo "luasocket: $out" >&2
	row "lua5.1 + LuaSocket (blocking)" 1 "${r:-n/a}"
else
	row "lua5.1 + LuaSocket (blocking)" 1 n/a
fi
if "$LUA51" -e "require 'copas' require 'redis'" 2>/dev/null; then
	out=$("$LUA51" "$here/copas-client.lua" "$port" "$OPS" "$CONNS" 2>&1)
	r=$(echo "$out" | rate); [ -n "$r" ] || echo "copas: $out" >&2
	row "lua5.1 + copas $("$LUA51" -e "io.write(require('copas')._VERSION:match('[%d.]+'))")" "$CONNS" "${r:-n/a}"
else
	row "lua5.1 + copas" "$CONNS" n/a
fi
