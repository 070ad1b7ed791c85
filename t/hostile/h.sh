# t/hostile/h.sh - helpers for the shell cases of the hostile suite.
#
# Copyright (C) 2026 the lem authors.  Part of lem, free software under
# the GNU General Public License version 3 or later; see COPYING.
#
# . "$HOSTILE_DIR/h.sh"; lemrun 'lua code' [args]  -> $out $err $rc
# ok COND-STATUS DESC; like TEXT ERE DESC; unlike TEXT ERE DESC; finish
n=0 # check counter
nfail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lem-hcase.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
scale=${HOSTILE_SCALE:-1}

ok() {         # ok STATUS DESC: STATUS 0 is a pass
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		nfail=$((nfail + 1))
		echo "not ok $n - $2"
		[ -z "${3:-}" ] || printf '%s\n' "$3" | cut -c1-200 | sed 's/^/# /' | head -n 20
	fi
}
is() {         # is GOT WANT DESC
	[ "$1" = "$2" ]; ok $? "$3" "got: $1, want: $2"
}
like() {       # like TEXT ERE DESC
	printf '%s' "$1" | grep -Eq -- "$2"; ok $? "$3" "got: $1
want match: $2"
}
unlike() {     # unlike TEXT ERE DESC
	! printf '%s' "$1" | grep -Eq -- "$2"; ok $? "$3" "got: $1
want no match: $2"
}
# lemrun SCRIPT [ARGS...]: run a Lua script in a new lem; sets out, err, rc
lemrun() {
	local f=$tmp/s$n.lua
	printf '%s\n' "$1" > "$f"
	shift
	"$LEM" "$f" "$@" > "$tmp/out" 2> "$tmp/err" < /dev/null
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}
nosan() {      # nosan DESC: the last stderr has no sanitizer report
	unlike "$err" 'Sanitizer|runtime error|Segmentation|==[0-9]+== ' "$1: no sanitizer report"
}
peer() {       # peer MODE ARGS...: a python peer (t/hostile/peer.py)
	"${PYTHON:-python3}" "$HOSTILE_DIR/peer.py" "$@"
}
# echo_server [NOFILE]: start an autospawn echo server on 127.0.0.1:$port
# in the background (under `ulimit -n NOFILE` if given) and wait until it
# says ready; sets srv to its pid.  Its output goes to $tmp/srv.out (the
# banner, and what autospawn returns if it ever does), errors to
# $tmp/srv.err.
echo_server() {
	cat > "$tmp/srv.lua" <<LUA
local streams = require 'lem.streams'
local srv = assert(streams.tcp_listen('127.0.0.1', $port))
print('ready') io.stdout:flush()
print(srv:autospawn(function(c)
	while true do
		local d = c:read()
		if not d or not c:write(d) then break end
	end
	c:close()
end))
LUA
	(if [ -n "${1:-}" ]; then ulimit -n "$1"; fi
	 exec "$LEM" "$tmp/srv.lua") > "$tmp/srv.out" 2> "$tmp/srv.err" &
	srv=$!
	for _ in $(seq 50); do
		grep -q ready "$tmp/srv.out" 2>/dev/null && break
		sleep 0.1
	done
}
finish() {
	if [ "$nfail" -gt 0 ]; then
		echo "# $nfail of $n checks failed"
		exit 1
	fi
	echo "HOSTILE CLEAN $n checks"
	exit 0
}
