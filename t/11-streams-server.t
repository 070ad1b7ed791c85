-- t/11-streams-server.t - lem.Server: accept, autospawn, interrupt, close,
-- address, many clients, running out of descriptors, garbage collection
-- (README "The stream library": Servers)
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'

tap.plan(44, 90)

local nfds = tap.nfds
-- libev opens one eventfd for the loop when signals are first watched
streams.popen('true'):close()
local fds0 = nfds()
local function sleep(t) utils.sleeper():sleep(t) end

local srv = assert(streams.tcp_listen('127.0.0.1', 0))
tap.is(getmetatable(srv), streams.Server, 'tcp_listen returns a lem.Server')
tap.is(streams.Server.__index, streams.Server, 'streams.Server.__index is itself')
local host, port = srv:address()
tap.is(host, '127.0.0.1', 'address() returns the bound address')
tap.ok(type(port) == 'number' and port > 0, 'address() returns the port picked for port 0', tap.values(host, port))
tap.is(srv:closed(), false, 'closed() is false')
tap.is(srv:busy(), false, 'busy() is false')
tap.like(tostring(srv), '^lem.Server %(open%)', '__tostring')

-- accept that has to wait
local c
utils.spawn(function() sleep(0.05) c = streams.tcp_connect('127.0.0.1', port) end)
local s = srv:accept()
tap.is(getmetatable(s), streams.Stream, 'accept() waits and returns a stream')
while not c do utils.yield() end
c:write('hi') 
tap.is(s:read(2), 'hi', '... which is connected to the client')
s:close() c:close()

-- busy, interrupt
local res
utils.spawn(function() res = { srv:accept() } end)
utils.yield()
tap.is(srv:busy(), true, 'busy() while a coroutine accepts')
local r, e = srv:accept()
tap.same({ r, e }, { nil, 'busy' }, "a second accept(): nil, 'busy'")
r, e = srv:autospawn(function() end)
tap.same({ r, e }, { nil, 'busy' }, "autospawn() while accepting: nil, 'busy'")
tap.is(srv:interrupt(), true, 'interrupt() returns true')
utils.yield()
tap.same(res, { nil, 'interrupted' }, "the accept() returns nil, 'interrupted'")
r, e = srv:interrupt()
tap.same({ r, e }, { nil, 'not busy' }, "interrupt() when idle: nil, 'not busy'")

-- autospawn: an echo server
local handled = 0
local aret
utils.spawn(function()
	aret = { srv:autospawn(function(st)
		handled = handled + 1
		local line = st:read('*l')
		if line then st:write(line) end
		st:close()
	end) }
end)
local replies = 0
local done = utils.sleeper()
for i = 1, 20 do
	utils.spawn(function()
		local cl = assert(streams.tcp_connect('127.0.0.1', port))
		cl:write('ping ' .. i .. '\n')
		if cl:read('*a') == 'ping ' .. i .. '\n' then replies = replies + 1 end
		if replies == 20 then done:wakeup() end
	end)
end
done:sleep(10)
tap.is(replies, 20, 'autospawn: 20 clients served')
tap.is(handled, 20, '... one handler coroutine each')
tap.is(srv:busy(), true, 'busy() during autospawn')
-- close while busy
tap.is(srv:close(), true, 'close() of a busy server returns true')
utils.yield()
tap.same(aret, { nil, 'interrupted' }, "autospawn returns nil, 'interrupted'")
r, e = srv:close()
tap.same({ r, e }, { nil, 'already closed' }, "close() twice: nil, 'already closed'")
tap.is(srv:closed(), true, 'closed() after close()')
r, e = srv:accept()
tap.same({ r, e }, { nil, 'closed' }, "accept() on a closed server: nil, 'closed'")
r, e = srv:autospawn(print)
tap.same({ r, e }, { nil, 'closed' }, "autospawn() on a closed server: nil, 'closed'")
r, e = srv:address()
tap.same({ r, e }, { nil, 'closed' }, "address() on a closed server: nil, 'closed'")
r, e = streams.tcp_connect('127.0.0.1', port)
tap.ok(r == nil, 'nobody listens after close()')

-- autospawn with a C function handler
srv = assert(streams.tcp_listen('127.0.0.1', 0))
_, port = srv:address()
local got
utils.spawn(function() srv:autospawn(function(x) got = x end) end)
utils.yield()
srv:interrupt()
utils.spawn(function() srv:autospawn(streams.Stream.close) end)
c = assert(streams.tcp_connect('127.0.0.1', port))
tap.is(c:read('*a'), '', 'a C function works as a handler')
srv:close()

-- listening where something listens already
srv = assert(streams.tcp_listen('127.0.0.1', 0))
_, port = srv:address()
r, e = streams.tcp_listen('127.0.0.1', port)
tap.ok(r == nil and type(e) == 'string', 'listen on a busy port: nil, message', tap.values(r, e))
srv:close()

-- an error in a handler is an uncaught error
local o, err, st = tap.lemrun([[
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local srv = assert(streams.tcp_listen('127.0.0.1', 0))
local _, port = srv:address()
utils.spawn(function() streams.tcp_connect('127.0.0.1', port) end)
srv:autospawn(function(s) error('handler failed') end)
]])
tap.is(st, 1, 'an error in a handler exits 1')
tap.like(err, 'handler failed', '... with its message')

-- 1000 concurrent clients against an autospawn echo server
local many = [[
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local N = 1000
local srv = assert(streams.tcp_listen('127.0.0.1', 0))
local _, port = srv:address()
utils.spawn(function()
	srv:autospawn(function(s)
		while true do
			local d = s:read()
			if not d then break end
			s:write(d)
		end
		s:close()
	end)
end)
local ok, started, left = 0, 0, N
local all = utils.sleeper()
for i = 1, N do
	utils.spawn(function()
		local c, err = streams.tcp_connect('127.0.0.1', port)
		if c then
			started = started + 1
			-- wait until every client is connected: truly concurrent
			while started < N and left == N do utils.yield() end
			local msg = ('%063d\n'):format(i)
			c:write(msg)
			if c:read('*l') == msg then ok = ok + 1 end
			c:close()
		else
			io.stderr:write(err, '\n')
		end
		left = left - 1
		if left == 0 then all:wakeup() end
	end)
end
all:sleep(60)
print(ok)
srv:close()
]]
o, err, st = tap.sh('ulimit -n 4096 2>/dev/null || exit 77; exec ' ..
	tap.quote(tap.lem) .. ' ' .. tap.writefile(tap.tmpname('.lua'), many))
if st == 77 then
	tap.skip(1, 'cannot raise ulimit -n to 4096')
else
	tap.is(o, '1000\n', '1000 concurrent clients served by autospawn', err)
end

-- out of descriptors: a subprocess with a small ulimit -n
local emfile = [[
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local function sleep(t) utils.sleeper():sleep(t) end
local function cpu()
	local f = io.open('/proc/self/stat')
	local st = f:read('*a') f:close()
	local ut, stt = st:match('^%d+ %b() %S+' .. (' %S+'):rep(10) .. ' (%d+) (%d+)')
	return (ut + stt) / 100
end
local srv = assert(streams.tcp_listen('127.0.0.1', 0))
local _, port = srv:address()
print('port', port) io.stdout:flush()
local hog = {}
while true do
	local f = streams.open('/dev/null')
	if not f then break end
	hog[#hog + 1] = f
end
-- cpu() needs a descriptor for a moment
hog[#hog]:close() hog[#hog] = nil
local c0 = cpu()
local f2 = assert(streams.open('/dev/null'))
print('full') io.stdout:flush()
sleep(0.3)               -- the client connects meanwhile
local r, e = srv:accept()
print('accept', r, e) io.stdout:flush()
print('closed', srv:closed())
utils.spawn(function()
	srv:autospawn(function(s)
		local l = s:read('*l')
		s:write('served ' .. l)
		s:close()
		srv:close()
	end)
end)
sleep(1)
f2:close()
print('cpu', cpu() - c0) io.stdout:flush()
for _, f in ipairs(hog) do f:close() end
]]
local p = assert(streams.popen('ulimit -n 40; exec ' .. tap.quote(tap.lem) .. ' ' ..
	tap.writefile(tap.tmpname('.lua'), emfile) .. ' 2>&1'))
local pline = p:read('*l')
local eport = tonumber(pline and pline:match('port%s+(%d+)'))
tap.ok(eport, 'the subprocess listens', pline)
tap.is(p:read('*l'), 'full\n', 'the subprocess ran out of descriptors')
local ec = assert(streams.tcp_connect('127.0.0.1', eport))
ec:write('me\n')
tap.is(p:read('*l'), 'accept\tnil\tToo many open files\n',
	"accept() when out of descriptors: nil, 'Too many open files'")
tap.is(p:read('*l'), 'closed\tfalse\n', '... and the server stays open')
local cpuline = p:read('*l')
local used = tonumber(cpuline and cpuline:match('cpu%s+(%S+)'))
tap.ok(used and used < 0.5, 'autospawn does not spin while out of descriptors', cpuline)
tap.is(ec:read('*a'), 'served me\n', '... and serves again once descriptors are free')
tap.is(p:read('*a'), '', 'the subprocess ends cleanly')
p:close()

-- garbage collection of idle servers and streams
local objs = {}
for i = 1, 10 do
	local sv = assert(streams.tcp_listen('127.0.0.1', 0))
	local _, pt = sv:address()
	local cl
	utils.spawn(function() cl = streams.tcp_connect('127.0.0.1', pt) end)
	objs[#objs + 1] = sv:accept()
	while not cl do utils.yield() end
	objs[#objs + 1] = sv
	objs[#objs + 1] = cl
end
tap.ok(nfds() >= fds0 + 30, '30 descriptors open')
objs = nil
collectgarbage() collectgarbage()
tap.is(nfds(), fds0, 'garbage collection closes idle servers and streams')

tap.fails('lem.Server', 'accept with a stream as self raises', srv.accept, ec)
tap.fails('bad argument', 'autospawn without a function raises', srv.autospawn, srv, 'x')
tap.fails('lem.Server', 'address with a bad self raises', srv.address, 1)

ec:close()
c:close()
tap.is(nfds(), fds0, 'no descriptor leaked')
tap.cleanup()
tap.done()
