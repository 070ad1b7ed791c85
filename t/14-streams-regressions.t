-- t/14-streams-regressions.t - the failures of the original lem.streams
-- (the lem this one replaces), one test each, plus what they exercise
-- elsewhere
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'

tap.plan(17, 60)

local nfds = tap.nfds
streams.popen('true'):close()
local fds0 = nfds()
local function sleep(t) utils.sleeper():sleep(t) end

local pair = tap.tcp_pair

-- 1. a large read('*a') neither crashes nor overflows the Lua stack
local p = assert(streams.popen('head -c 50000000 /dev/zero'))
local all = p:read('*a')
tap.is(all and #all, 50000000, "read('*a') of 50 MB from a pipe")
all = nil

-- 2. a pending write keeps its string alive through garbage collection
local a, b = pair()
local wres
utils.spawn(function()
	-- the only reference to this string is the write's own argument
	wres = a:write(string.rep('abcdefgh', 1024 * 1024) .. 'end')
end)
utils.yield()
tap.is(a:busy(), true, 'an 8 MB write is pending')
for _ = 1, 5 do collectgarbage() sleep(0.01) end
local got = b:read(8 * 1024 * 1024 + 3)
tap.ok(got == string.rep('abcdefgh', 1024 * 1024) .. 'end', '... and arrives intact after collections')
utils.yield()
tap.is(wres, true, '... the write returns true')
a:close() b:close()

-- 3. print output is not lost when stdout is a pipe and streams are used
local o = tap.lemrun([[
local streams = require 'lem.streams'
local s = assert(streams.open('/dev/stdout', 'w'))
for i = 1, 20000 do print(('line %05d'):format(i)) end
s:write('via stream\n')
for i = 1, 20000 do io.write(('more %05d\n'):format(i)) end
]] , '| (sleep 0.2; wc -l)')
tap.like(o, '^%s*40001%s*$', 'print output through a pipe: no line lost', o)

-- 4. popen children: reaped, and SIGPIPE at its default
p = assert(streams.popen('yes'))
p:read(10)
p:close()
local gone = tap.waitfor(function()
	local st = tap.sh('cat /proc/[0-9]*/stat 2>/dev/null | awk \'$4 == ' ..
		tap.pid() .. ' && ($2 == "(yes)" || $3 == "Z")\' | wc -l')
	return tonumber(st) == 0
end, 20)
tap.ok(gone, "a popen child killed by SIGPIPE (default disposition) is reaped, no zombie")

-- 5. a refused connect is an error from tcp_connect itself
local x1, x2, port = pair()
x1:close() x2:close()
local r, e = streams.tcp_connect('127.0.0.1', port)
tap.same({ r, e }, { nil, 'Connection refused' }, "refused: nil, 'Connection refused'")

-- 6. accept that has to wait
local srv = assert(streams.tcp_listen('127.0.0.1', 0))
local _, sport = srv:address()
utils.spawn(function() sleep(0.05) streams.tcp_connect('127.0.0.1', sport) end)
local s = srv:accept()
tap.is(getmetatable(s), streams.Stream, 'accept() that waits returns a stream')
s:close() srv:close()

-- 7. EMFILE: see t/11-streams-server.t (subprocess with ulimit -n);
-- here: accept() reports it and the server stays open
local o2 = tap.sh('ulimit -n 30; exec ' .. tap.quote(tap.lem) .. ' ' ..
	tap.writefile(tap.tmpname('.lua'), [[
local streams = require 'lem.streams'
local srv = assert(streams.tcp_listen('127.0.0.1', 0))
local _, port = srv:address()
local c = assert(streams.tcp_connect('127.0.0.1', port))
local hog = {}
while true do
	local f = streams.open('/dev/null')
	if not f then break end
	hog[#hog + 1] = f
end
local r, e = srv:accept()
print(r, e, srv:closed())
hog[1]:close()
print(srv:accept() ~= nil)
]]))
tap.is(o2, 'nil\tToo many open files\tfalse\ntrue\n', 'EMFILE: accept() says so, the server stays, accepts later')

-- 8. no callback touches a descriptor closed meanwhile
a, b = pair()
local resumed = 0
utils.spawn(function() b:read() resumed = resumed + 1 end)
utils.yield()
b:close()
-- new descriptors reuse the number b had
local c1, c2 = pair()
c1:write('for the new stream')
sleep(0.05)
tap.is(c2:read(), 'for the new stream', 'a reused descriptor: the new stream gets its data')
tap.is(resumed, 1, '... the old waiter was resumed once, by close()')

-- 9. close() during a pending operation resumes the waiter exactly once
local count, last = 0
utils.spawn(function() last = { c2:read('*l') } count = count + 1 end)
utils.yield()
c2:close()
c1:write('data that would wake it\n')
sleep(0.05)
tap.is(count, 1, 'close() of a waiting stream resumes it exactly once')
tap.same(last, { nil, 'interrupted' }, "... with nil, 'interrupted'")
c1:close() a:close()

-- 10. O_NONBLOCK is added to the flags, not written over them
local file = tap.writefile(tap.tmpname(), 'start')
local f = assert(streams.open(file, 'a'))
f:write('+end')
f:close()
tap.is(tap.readfile(file), 'start+end', 'O_APPEND survives: appended')
-- every descriptor is close-on-exec: a child sees none of them
do
	local x, y = pair()
	local sv = assert(streams.tcp_listen('127.0.0.1', 0))
	local sf = assert(streams.sendfile(arg[0]))
	local ls = assert(streams.popen('ls -l /proc/self/fd/')):read('*a')
	tap.ok(not ls:find('socket:') and not ls:find(arg[0]:match('[^/]*$'), 1, true),
		'sockets, servers and files are close-on-exec', ls)
	x:close() y:close() sv:close() sf:close()
end

-- fds 0-2 are never closed by garbage collection
local _, err = tap.lemrun([[
local streams = require 'lem.streams'
io.stdout:close()
local s = assert(streams.open('/dev/null'))
s = nil
collectgarbage() collectgarbage()
local f = io.open('/proc/self/fd/1')
io.stderr:write(f and 'open' or 'closed', '\n')
]])
tap.is(err, 'open\n', 'garbage collection never closes descriptors 0-2')

collectgarbage() collectgarbage()
if tap.slow > 1 then
	-- under valgrind (make check-valgrind) one of valgrind's own
	-- descriptors comes and goes: only check that none leaked
	tap.ok(nfds() <= fds0, 'no descriptor leaked', nfds() .. ' > ' .. fds0)
else
	tap.is(nfds(), fds0, 'no descriptor leaked')
end
tap.cleanup()
tap.done()
