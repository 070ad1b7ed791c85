-- t/17-streams-deadlines.t - deadlines and cancellation on stream and
-- server waits, and what a cut-short operation leaves behind
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local timeout, spawn, yield = utils.timeout, utils.spawn, utils.yield

tap.plan(31, 60)

-- the worker threads of name lookups have a descriptor of their own
streams.tcp_connect('localhost', 1)
local fds0 = tap.nfds()

-- reads: nothing is consumed, the stream stays usable
do
	local a, b = tap.tcp_pair()
	tap.same(tap.pack(timeout(0.01, a.read, a)), { nil, 'timeout' }, 'read() times out')
	tap.same({ a:closed(), a:busy() }, { false, false }, '... the stream is open and idle')
	b:write('abc')
	tap.same(tap.pack(timeout(0.05, a.read, a, 10)), { nil, 'timeout' },
		'read(n) with fewer bytes times out')
	tap.same(tap.pack(timeout(0.05, a.read, a, '*l')), { nil, 'timeout' },
		'read(*l) without a line end times out')
	b:write('def\n')
	tap.is(a:read('*l'), 'abcdef\n', 'the bytes that came before the deadline are still there')
	tap.same(tap.pack(timeout(0, a.read, a)), { nil, 'timeout' },
		'an expired deadline: a read that would wait returns at once')
	b:write('x')
	utils.sleep(0.01)
	tap.is(timeout(0, a.read, a), 'x', '... one that finds data does not wait, and is not cut')
	local co = spawn(function() return a:read() end)
	yield()
	co:cancel()
	tap.same(tap.pack(co:join()), { true, nil, 'cancelled' }, 'cancel ends a read')
	b:write('after')
	tap.is(a:read(), 'after', '... and the stream goes on')
	local r
	spawn(function() r = tap.pack(timeout(5, a.read, a)) end)
	yield()
	a:interrupt()
	yield()
	tap.same(r, { nil, 'interrupted' }, 'interrupt() still gives interrupted')
	a:close()
	b:close()
end

-- writes: nil, 'timeout', the bytes written; the stream stays open
do
	local a, b = tap.tcp_pair()
	local big = string.rep('w', 16 * 1024 * 1024)
	-- the kernel may buffer tens of MiB (tcp_rmem's maximum is 32 MiB on
	-- some machines): write until one write is cut short
	local whole = 0
	local ok, err, n = timeout(0.05, a.write, a, big)
	while ok == true and whole < 16 do
		whole = whole + 1
		ok, err, n = timeout(0.05, a.write, a, big)
	end
	tap.same({ ok, err }, { nil, 'timeout' }, 'a write to a peer that does not read times out')
	tap.ok(type(n) == 'number' and (n > 0 or whole > 0) and n < #big,
		'... and says how much went', tostring(n))
	n = (n or 0) + whole * #big
	tap.same({ a:closed(), a:busy() }, { false, false }, '... the stream is open and idle')
	local got = 0
	spawn(function()
		while got < n + 5 do
			local d = b:read()
			if not d then break end
			got = got + #d
		end
	end)
	tap.is(a:write('hello'), true, 'a later write goes through')
	while got < n + 5 do utils.sleep(0.001) end
	tap.is(got, n + 5, 'the peer got exactly the bytes reported, then the new ones')
	a:close()
	b:close()
end
-- a deadline that passes before the write has to wait (here: at once)
-- still says how much the write did
do
	local a, b = tap.tcp_pair()
	local big = string.rep('v', 16 * 1024 * 1024)
	local ok, err, n = timeout(0, a.write, a, big)
	tap.same({ ok, err, type(n) }, { nil, 'timeout', 'number' },
		'a write whose deadline passed before it waited: nil, timeout, a count')
	tap.ok(n > 0 and n < #big, '... of the bytes the kernel took', tostring(n))
	a:close()
	b:close()
end

-- sendfile: the same
do
	local a, b = tap.tcp_pair()
	local name = tap.tmpname('.bin')
	tap.writefile(name, string.rep('s', 16 * 1024 * 1024))
	local f = assert(streams.sendfile(name))
	-- as above: until the kernel's buffers are full
	local ok, err, n = timeout(0.05, a.sendfile, a, f)
	local whole = 0
	while ok == true and whole < 16 do
		whole = whole + 1
		ok, err, n = timeout(0.05, a.sendfile, a, f)
	end
	tap.same({ ok, err }, { nil, 'timeout' }, 'a sendfile to a peer that does not read times out')
	tap.ok(type(n) == 'number' and (n > 0 or whole > 0), '... with the bytes sent', tostring(n))
	tap.is(f:close(), true, 'the file is no longer in use')
	a:close()
	b:close()
end

-- servers: accept and autospawn, the server stays open
do
	local srv = assert(streams.tcp_listen('127.0.0.1', 0))
	local _, port = srv:address()
	tap.same(tap.pack(timeout(0.01, srv.accept, srv)), { nil, 'timeout' }, 'accept times out')
	tap.same({ srv:closed(), srv:busy() }, { false, false }, '... the server is open and idle')
	local c
	spawn(function() c = streams.tcp_connect('127.0.0.1', port) end)
	local s = srv:accept()
	tap.ok(s and c, 'a later accept works')
	tap.same(tap.pack(timeout(0.01, srv.autospawn, srv, function() end)), { nil, 'timeout' },
		'autospawn times out')
	local co = spawn(function() return srv:accept() end)
	yield()
	co:cancel()
	tap.same(tap.pack(co:join()), { true, nil, 'cancelled' }, 'cancel ends an accept')
	s:close()
	c:close()
	srv:close()
end

-- connect: with the lookup in progress, or the handshake
do
	local srv = assert(streams.tcp_listen('127.0.0.1', 0))
	local _, port = srv:address()
	tap.same(tap.pack(timeout(-1, streams.tcp_connect, 'localhost', port)), { nil, 'timeout' },
		'a connect by name under an expired deadline: nil, timeout')
	local co = spawn(function() return streams.tcp_connect('localhost', port) end)
	co:cancel()
	tap.same(tap.pack(co:join()), { true, nil, 'cancelled' }, 'a cancelled connect: nil, cancelled')
	utils.sleep(0.05)       -- the lookups come back and are dropped
	local c = streams.tcp_connect('localhost', port)
	tap.ok(c, 'later connects work', c)
	c:close()
	srv:close()
	-- a listener whose queue is full does not answer the handshake
	local out = tap.tmpname('.port')
	local py = io.popen('command -v python3')
	local python = py:read('*l')
	py:close()
	if not python then
		tap.skip(2, 'python3 is needed for a listener that does not answer')
	else
		local p = streams.popen(python .. [[ -c "
import socket, sys, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)
port = s.getsockname()[1]
cs = []
for i in range(8):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(('127.0.0.1', port))
    except BlockingIOError: pass
    cs.append(c)
print(port); sys.stdout.flush(); time.sleep(30)
"]], 'r')
		local pport = tonumber(p:read('*l'))
		local n0 = tap.nfds()
		local r = tap.pack(timeout(0.2, streams.tcp_connect, '127.0.0.1', pport))
		tap.same(r, { nil, 'timeout' }, 'a connect that is not answered times out')
		tap.is(tap.nfds(), n0, '... and leaves no socket behind')
		p:close()
	end
end

collectgarbage()
collectgarbage()
tap.is(tap.nfds(), fds0, "no descriptor leaked")
if tap.nfds() ~= fds0 then tap.diag(tap.fdlist()) end
tap.done()
