# 7. error("boom") in a spawned coroutine: traceback on stderr, exit 1,
# nothing runs afterwards, __gc metamethods run, stdout flushed.
# (The autospawn-handler variant is in the streams cases.)
. "$HOSTILE_DIR/h.sh"

lemrun '
local utils = require "lem.utils"
local p = newproxy(true)
getmetatable(p).__gc = function() io.stdout:write("GC ran\n") end
KEEP = p
io.write("buffered ")
utils.spawn(function() error("boom") end)
utils.spawn(function() print("AFTER") end)
local s = utils.sleeper()
s:sleep(0.2)
print("MAIN AFTER")
'
is "$rc" 1 'error in a spawned coroutine: status 1'
like "$err" '^lem: .*boom' '... "lem: " and the message on stderr'
like "$err" 'stack traceback' '... with a traceback'
unlike "$out" 'AFTER' '... nothing runs afterwards'
like "$out" '^buffered GC ran' '... buffered output flushed, __gc ran'
nosan 'spawned error'

lemrun 'local x = nil; x.y = 1'
is "$rc" 1 'error in the main chunk: status 1'
like "$err" "attempt to index local 'x'" '... message'

# an error in an autospawn handler is an uncaught error: status 1
if "$LEM" -e "require 'lem.streams'" 2>/dev/null; then
	lemrun '
local utils = require "lem.utils"
local streams = require "lem.streams"
local srv = assert(streams.tcp_listen("127.0.0.1", 0))
local _, port = srv:address()
utils.spawn(function() srv:autospawn(function(c) error("handler boom") end) end)
local c = assert(streams.tcp_connect("127.0.0.1", port))
c:read()
print("AFTER")
'
	is "$rc" 1 'error in an autospawn handler: status 1'
	like "$err" '^lem: .*handler boom' '... reported with its message'
	unlike "$out" 'AFTER' '... nothing runs afterwards'
	nosan 'autospawn handler error'
fi

# the sockets a coroutine held are closed by __gc: strace sees close()
if command -v strace >/dev/null; then
	printf '%s\n' 'local utils = require "lem.utils"
local f = assert(io.open("/dev/null"))
KEEP = f
utils.spawn(function() error("boom") end)' > "$tmp/gc.lua"
	ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=close,exit_group -o "$tmp/st" "$LEM" "$tmp/gc.lua" 2>/dev/null
	is "$?" 1 'under strace: status 1'
	# the last close() calls before exit_group include the file of KEEP
	like "$(tail -n 8 "$tmp/st")" 'close\([3-9]' '... a close() of the held descriptor before exit'
	like "$(tail -n 1 "$tmp/st")" 'exit_group\(1\)' '... then exit_group(1)'
fi
finish
