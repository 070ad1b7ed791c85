# 9. utils.exit(3) with 1000 coroutines blocked (in sleep; the stream
# variant is in the streams cases); exit twice; a __gc that raises.
# rc 3, every descriptor closed; no leak (valgrind build: definitely lost 0).
. "$HOSTILE_DIR/h.sh"

lemrun '
local utils = require "lem.utils"
local files = {}
for i = 1, 20 do files[i] = assert(io.open("/dev/null")) end
for i = 1, 1000 do
	utils.spawn(function() utils.sleeper():sleep() end)
	utils.spawn(function() utils.sleeper():sleep(30) end)
end
local p = newproxy(true)
getmetatable(p).__gc = function() error("gc raises") end
KEEP = p
local q = newproxy(true)
getmetatable(q).__gc = function() utils.exit(7) end
KEEP2 = q
utils.yield()
utils.spawn(function() utils.exit(4) end)
utils.exit(3)
print("NOT REACHED")
'
is "$rc" 3 'exit(3) with 2000 sleepers, a raising __gc and exit in __gc: status 3'
unlike "$out" 'NOT REACHED' 'exit does not return'
nosan 'exit(3)'

lemrun '
local utils = require "lem.utils"
utils.spawn(function() utils.exit(5) end)
utils.spawn(function() utils.exit(6) end)
'
is "$rc" 5 'two coroutines call exit: the first wins'

lemrun '
local utils = require "lem.utils"
print(pcall(utils.exit, 8))
print("NOT REACHED")
'
is "$rc" 8 'exit inside pcall: status 8'
unlike "$out" 'NOT REACHED' '... nothing after it'

lemrun '
local utils = require "lem.utils"
table.sort({2, 1}, function(a, b) utils.exit(9) return a < b end)
print("AFTER SORT")
'
# exit works where the coroutine cannot suspend too: the caller gets the
# "yield across" error (an uncaught error), the status stays 9
is "$rc" 9 'exit inside a sort comparator: status 9'

# the streams variant: 1000 coroutines blocked in read on TCP streams
if "$LEM" -e "require 'lem.streams'" 2>/dev/null; then
	printf '%s\n' 'local utils = require "lem.utils"
local streams = require "lem.streams"
local srv = assert(streams.tcp_listen("127.0.0.1", 0))
local _, port = srv:address()
local conns, blocked = {}, 0
utils.spawn(function() srv:autospawn(function(c) conns[#conns + 1] = c c:read() end) end)
for i = 1, 1000 do
	utils.spawn(function()
		local c = assert(streams.tcp_connect("127.0.0.1", port))
		blocked = blocked + 1
		c:read()
	end)
end
local s = utils.sleeper()
while blocked < 1000 or #conns < 1000 do s:sleep(0.01) end
utils.exit(3)' > "$tmp/ex.lua"
	if command -v strace >/dev/null && [ "${HOSTILE_VALGRIND:-0}" != 1 ]; then
		ulimit -n 4096 2>/dev/null
		ASAN_OPTIONS=detect_leaks=0 strace -qq -f -e trace=close,exit_group -o "$tmp/st" "$LEM" "$tmp/ex.lua" 2>"$tmp/err"
		is "$?" 3 'exit(3) with 2000 streams, 1000 coroutines blocked in read: status 3'
		closes=$(grep -c 'close(' "$tmp/st")
		ok $([ "$closes" -ge 2000 ] && echo 0 || echo 1) "lem closes every stream before exit_group ($closes close calls)"
		like "$(tail -n 1 "$tmp/st")" 'exit_group\(3\)' '... then exit_group(3)'
	else
		(ulimit -n 4096 2>/dev/null; exec "$LEM" "$tmp/ex.lua") 2>"$tmp/err"
		is "$?" 3 'exit(3) with 1000 coroutines blocked in read: status 3'
	fi
	err=$(cat "$tmp/err")
	nosan 'exit with streams'
fi
finish
