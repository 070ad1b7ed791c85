# needs: lem.streams
# 27. Connect failures inside `unshare -n` (no route): 10.255.255.1
# gives 'Network is unreachable' from tcp_connect.
. "$HOSTILE_DIR/h.sh"
if ! unshare -n true 2>/dev/null; then
	echo "# skipped: unshare -n not permitted here"
	finish
fi
printf '%s\n' 'local streams = require "lem.streams"
print(streams.tcp_connect("10.255.255.1", 80))' > "$tmp/u.lua"
out=$(unshare -n "$LEM" "$tmp/u.lua" 2>&1)
like "$out" '^nil	Network is unreachable' "no route: nil, 'Network is unreachable'"
finish
