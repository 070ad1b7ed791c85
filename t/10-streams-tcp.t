-- t/10-streams-tcp.t - lem.streams over TCP: read modes, write, close,
-- interrupt, busy, errors (README "The stream library")
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'

tap.plan(87, 60)

local nfds = tap.nfds
-- the first name lookup starts lem's worker pool (an eventfd stays)
streams.tcp_connect("localhost", 1)
local fds0 = nfds()

local function sleep(t) utils.sleeper():sleep(t) end

-- a connected pair: client stream, server-side stream
local function pair(host)
	host = host or '127.0.0.1'
	local srv = assert(streams.tcp_listen(host, 0))
	local _, port = srv:address()
	local a, b
	utils.spawn(function() a = assert(streams.tcp_connect(host, port)) end)
	b = assert(srv:accept())
	while not a do utils.yield() end
	srv:close()
	return a, b
end

-- module shape
tap.is(type(streams.Stream), 'table', 'streams.Stream is the metatable')
tap.is(streams.Stream.__index, streams.Stream, '... with __index = itself')
tap.is(type(streams.Server), 'table', 'streams.Server')
tap.is(type(streams.SendFile), 'table', 'streams.SendFile')

local a, b = pair()
tap.is(getmetatable(a), streams.Stream, 'tcp_connect returns a lem.Stream')
tap.is(a:closed(), false, 'closed() is false on an open stream')
tap.is(a:busy(), false, 'busy() is false on an idle stream')
tap.like(tostring(a), '^lem.Stream %(open%)', '__tostring')

-- read modes
assert(a:write('line one\r\nline two\nrest'))
tap.is(b:read('*l'), 'line one\r\n', "read('*l') keeps '\\r' and '\\n'")
tap.is(b:read('l'), 'line two\n', "read('l') works too")
tap.is(b:read(2), 're', 'read(n) takes n bytes')
tap.is(b:read(0), '', 'read(0) is the empty string')
tap.is(b:read(), 'st', 'read() returns what is buffered')
utils.spawn(function() sleep(0.05) a:write('x') sleep(0.05) a:write('yz') end)
tap.is(b:read(3), 'xyz', 'read(n) waits for all n bytes')
utils.spawn(function() a:write('no newline yet') sleep(0.05) a:write(' ... now\n') end)
tap.is(b:read('*l'), 'no newline yet ... now\n', "read('*l') collects a line over several reads")
utils.spawn(function() sleep(0.02) a:write('later') end)
tap.is(b:read(), 'later', 'read() waits when nothing is there')

-- busy covers the whole stream
local got
utils.spawn(function() got = { b:read('*l') } end)
utils.yield()
tap.is(b:busy(), true, 'busy() while a coroutine waits')
tap.like(tostring(b), 'busy', '__tostring says busy')
local r, e = b:read()
tap.same({ r, e }, { nil, 'busy' }, 'a second read is busy')
r, e = b:write('x')
tap.same({ r, e }, { nil, 'busy' }, 'a write while reading is busy')
r, e = b:cork()
tap.same({ r, e }, { nil, 'busy' }, 'cork while reading is busy')
r, e = b:uncork()
tap.same({ r, e }, { nil, 'busy' }, 'uncork while reading is busy')
local f = assert(streams.sendfile(arg[0]))
r, e = b:sendfile(f)
tap.same({ r, e }, { nil, 'busy' }, 'sendfile while reading is busy')
tap.is(b:interrupt(), true, 'interrupt() a busy stream returns true')
tap.is(got, nil, '... the waiter is resumed from the loop, not inside interrupt()')
utils.yield()
tap.same(got, { nil, 'interrupted' }, "... with nil, 'interrupted'")
r, e = b:interrupt()
tap.same({ r, e }, { nil, 'not busy' }, "interrupt() when idle: nil, 'not busy'")
f:close()

-- close of a busy stream from another coroutine resumes the waiter once
local c1, c2 = pair()
local resumed = 0
local res
utils.spawn(function()
	res = { c2:read('*a') }
	resumed = resumed + 1
end)
utils.yield()
tap.is(c2:close(), true, 'close() of a busy stream returns true')
tap.is(c2:busy(), false, '... and it is no longer busy')
sleep(0.05)
tap.is(resumed, 1, '... the waiter is resumed exactly once')
tap.same(res, { nil, 'interrupted' }, "... with nil, 'interrupted'")
r, e = c2:close()
tap.same({ r, e }, { nil, 'already closed' }, "close() twice: nil, 'already closed'")
tap.is(c2:closed(), true, 'closed() is true after close()')
for _, m in ipairs { 'read', 'write', 'cork', 'uncork' } do
	r, e = c2[m](c2, m == 'write' and 'x' or nil)
	tap.same({ r, e }, { nil, 'closed' }, m .. "() on a closed stream: nil, 'closed'")
end
r, e = c2:read('*a')
tap.same({ r, e }, { nil, 'closed' }, "read('*a') on a closed stream: nil, 'closed'")
-- the peer sees end of stream: read('*a') returns everything, then closed
assert(c1:write('abc'))
c1:close()
-- a writer that finished: the other side sees the data, then 'closed'
local d1, d2 = pair()
d1:write('partial line') d1:close()
r, e = d2:read('*l')
tap.same({ r, e }, { nil, 'closed' }, "read('*l') at end of stream: nil, 'closed'")
tap.is(d2:read(), 'partial line', '... but the bytes are still there for read()')
r, e = d2:read()
tap.same({ r, e }, { nil, 'closed' }, "... and then nil, 'closed'")
d1, d2 = pair()
d1:write('0123456789') d1:close()
r, e = d2:read(20)
tap.same({ r, e }, { nil, 'closed' }, "read(n) short at end of stream: nil, 'closed'")
tap.is(d2:read('*a'), '0123456789', "... read('*a') still returns the bytes")
tap.is(d2:closed(), true, "read('*a') leaves the stream closed")
d1, d2 = pair()
d1:close()
tap.is(d2:read('*a'), '', "read('*a') of an empty stream is ''")
r, e = d2:close()
tap.same({ r, e }, { nil, 'already closed' }, 'end of stream closed the stream')

-- write to a peer that is gone
d1, d2 = pair()
d2:close()
sleep(0.02)
local big = string.rep('x', 1024 * 1024)
r, e = d1:write(big)
if r then r, e = d1:write(big) end
tap.same({ r, e }, { nil, 'closed' }, "write to a vanished peer: nil, 'closed'")

-- peer reset mid-read: a peer closing with unread data sends RST
d1, d2 = pair()
d1:write('half a li')
tap.is(d2:read(2), 'ha', 'got the first bytes')
utils.spawn(function() d2:write('to d1') end)
local lres
utils.spawn(function() lres = { d2:read('*l') } end)
utils.yield()                -- d2 has written, and waits for a line
assert(d1:write('unread by d1'))
sleep(0.01)                  -- (d2 may take these bytes in before the reset)
-- d2 wrote to d1, which never read it: closing d1 resets
d1:close()
tap.waitfor(function() return lres end)
tap.same(lres, { nil, 'closed' }, "reset during read('*l'): nil, 'closed'")
tap.is(d2:read(), 'lf a liunread by d1', 'bytes that came before the reset are not lost')

-- peer reset mid-write
d1, d2 = pair()
d1:write('unread')
local wres
utils.spawn(function() wres = { d2:write(string.rep('y', 16 * 1024 * 1024)) } end)
utils.yield()               -- the write fills the socket buffers and waits
tap.is(d2:busy(), true, 'a big write waits for the peer')
d1:close()                  -- 'unread' still queued: RST
tap.waitfor(function() return wres end)
tap.same(wres, { nil, 'closed' }, "reset during write: nil, 'closed'")

-- 8 MiB round trip, byte for byte
d1, d2 = pair()
local t = {}
for i = 0, 255 do t[#t + 1] = string.char(i) end
local pat = table.concat(t)
local payload = string.rep(pat, 8 * 4096)
local echoed
utils.spawn(function()
	-- streams are half duplex: take it all in, then send it back
	local got = assert(d2:read(#payload))
	assert(d2:write(got))
end)
assert(d1:write(payload))
echoed = d1:read(#payload)
tap.is(#echoed, 8 * 1024 * 1024, '8 MiB came back')
tap.ok(echoed == payload, '... byte for byte')
d1:close() d2:close()

-- line cap: 1 MiB
d1, d2 = pair()
utils.spawn(function() d1:write(string.rep('z', 1024 * 1024 + 10)) d1:write('\nok\n') end)
r, e = d2:read('*l')
tap.same({ r, e }, { nil, 'line too long' }, "a line over 1 MiB: nil, 'line too long'")
tap.is(#d2:read(1024 * 1024), 1024 * 1024, '... the bytes stay buffered')
tap.is(d2:read('*l'), 'zzzzzzzzzz\n', '... and reading goes on')
tap.is(d2:read('*l'), 'ok\n', '... normally')
d1:close() d2:close()

-- cork and uncork
d1, d2 = pair()
local ck, cerr = d1:cork()
if ck == nil then
	-- built without TCP_CORK (--disable-tcp-cork): the fallback's words
	tap.is(cerr, 'not supported', "cork() without TCP_CORK: nil, 'not supported'")
	tap.is(select(2, d1:uncork()), 'not supported', "uncork() likewise")
else
	tap.is(ck, true, 'cork() on TCP returns true')
	tap.is(d1:uncork(), true, 'uncork() on TCP returns true')
end
d1:close() d2:close()

-- connecting
local srv = assert(streams.tcp_listen('127.0.0.1', 0))
local _, port = srv:address()
srv:close()
r, e = streams.tcp_connect('127.0.0.1', port)
tap.ok(r == nil and type(e) == 'string' and e:find('refused'),
	'a refused connect: nil, message from tcp_connect', tap.values(r, e))
srv = assert(streams.tcp_listen('127.0.0.1', 0))
_, port = srv:address()
local ticks = 0
utils.spawn(function() for _ = 1, 3 do ticks = ticks + 1 utils.yield() end end)
utils.spawn(function() srv:accept():close() end)
local c = streams.tcp_connect('localhost', port)
tap.ok(c ~= nil, 'tcp_connect resolves a name')
tap.ok(ticks > 0, '... while other coroutines run')
if c then c:close() end
utils.spawn(function() srv:accept():close() end)
c, e = streams.tcp_connect('127.0.0.1', tostring(port))
tap.ok(c ~= nil, 'a port given as a string', tostring(e))
if c then c:close() end
r, e = streams.tcp_connect('no-such-host.invalid', port)
tap.ok(r == nil and type(e) == 'string', 'an unknown name: nil, message', tap.values(r, e))
tap.like(select(2, streams.tcp_connect('127.0.0.1', 'no-such-service')), '.',
	'an unknown service name: nil, message')
srv:close()

-- IPv6
local s6 = streams.tcp_listen('::1', 0)
if not s6 then
	tap.skip(3, '::1 not available')
else
	local h6, p6 = s6:address()
	tap.is(h6, '::1', 'listen on ::1, address() says so')
	utils.spawn(function() local s = s6:accept() s:write('six') s:close() end)
	local c6 = streams.tcp_connect('::1', p6)
	tap.ok(c6 ~= nil, 'connect to ::1')
	tap.is(c6 and c6:read('*a'), 'six', 'data over IPv6')
	s6:close()
end
local sany = assert(streams.tcp_listen('*', 0))
local hany, pany = sany:address()
tap.ok(hany == '::' or hany == '0.0.0.0', "'*' listens on every address", hany)
utils.spawn(function() local s = sany:accept() if s then s:write('any') s:close() end end)
c = streams.tcp_connect('127.0.0.1', pany)
tap.is(c and c:read('*a'), 'any', "'*' takes IPv4 connections")
sany:close()

-- argument checking
tap.fails('bad argument', 'read with a table raises', a.read, a, {})
tap.fails('invalid mode', "read('*x') raises", a.read, a, '*x')
tap.fails('bad argument', 'read(-1) raises', a.read, a, -1)
tap.fails('bad argument', 'read(1.5) raises', a.read, a, 1.5)
tap.fails('bad argument', 'write(nil) raises', a.write, a, nil)
tap.fails('bad argument', 'write({}) raises', a.write, a, {})
tap.fails('lem.Stream', 'a sleeper as self raises', a.read, utils.sleeper())
tap.fails('lem.Stream', 'a server as self raises', a.close, sany)
tap.fails('lem.SendFile', 'sendfile(non-file) raises', a.sendfile, a, 'x')
tap.fails('bad argument', 'tcp_connect without host raises', streams.tcp_connect)
tap.fails('bad argument', 'tcp_connect port out of range raises', streams.tcp_connect, '127.0.0.1', 70000)
tap.fails('bad argument', 'tcp_listen with a table port raises', streams.tcp_listen, '*', {})

-- a read that would wait where lem cannot suspend: a clear error, and
-- nothing stays armed
tap.fails('suspend', 'read() inside coroutine.wrap raises', coroutine.wrap(function() return a:read() end))
tap.is(a:busy(), false, '... and leaves the stream idle')
b:write('still works')
tap.is(a:read(), 'still works', '... and usable')

a:close() b:close()
d1:close() d2:close()
if c then c:close() end
a, b, c, c1, c2, d1, d2, srv, sany, s6, c6 = nil
collectgarbage() collectgarbage()
tap.is(nfds(), fds0, 'no descriptor leaked')
tap.cleanup()
tap.done()
