-- needs: lem.socket
-- 82. lem.socket misused: wrong self, numeric edges, bad strings, waits
-- across C boundaries and inside coroutine.wrap, close while another
-- coroutine waits, descriptor reuse, collection while busy, concurrent
-- use, deadlines that have already passed.
local h = require 'h'
local utils = require 'lem.utils'
local socket = require 'lem.socket'

local srv = assert(socket.bind('127.0.0.1', h.port))
local function pair()
	local c
	utils.spawn(function() c = assert(socket.connect('127.0.0.1', h.port)) end)
	local a = assert(srv:accept())
	while not c do utils.yield() end
	return c, a
end
local function raises(pattern, desc, f, ...)
	local ok, err = pcall(f, ...)
	h.ok(not ok and tostring(err):find(pattern) ~= nil, desc, tostring(err))
end

-- 2: wrong self
local c, a = pair()
local M = socket.client.__index
raises('tcp{client} expected', 'receive(server)', M.receive, srv)
raises('tcp{server} expected', 'accept(client)', M.accept, c)
raises('tcp{any} expected', 'close(sleeper)', M.close, utils.sleeper())
raises('tcp{any} expected', 'settimeout(io.stdout)', M.settimeout, io.stdout, 1)
raises('tcp{any} expected', '__gc(newproxy())', socket.client.__gc, newproxy())
raises('tcp{any} expected', '__tostring({})', socket.client.__tostring, {})
raises('tcp{client} expected', 'c.send() without self', c.send)

-- 3: numeric edges
raises('invalid receive pattern', 'receive(NaN)', c.receive, c, 0 / 0)
raises('invalid receive pattern', 'receive(-inf)', c.receive, c, -math.huge)
c:settimeout(0.01)
h.same({ c:receive(1e300) }, { nil, 'timeout', '' }, 'receive(1e300) waits, and times out')
h.same({ c:receive(2 ^ 31) }, { nil, 'timeout', '' }, 'receive(2^31) likewise')
c:settimeout(nil)
h.is(c:send('abc', 1e308, -1e308), 3, 'send(s, 1e308, -1e308) sends nothing: the length')
h.is(c:send('abc', -1e308, 1e308), 3, 'send(s, -1e308, 1e308) sends everything')
h.is(c:send('abc', 0 / 0, 0 / 0), 3, 'NaN indices are the defaults')
h.is(a:receive(3), 'abc', '... and the peer got abc once')
h.is(c:settimeout(1e308), 1, 'settimeout(1e308)')
h.is(c:settimeout(-math.huge), 1, 'settimeout(-inf)')
h.is(c:settimeout(math.huge, 't'), 1, "settimeout(inf, 't') means no limit")
c:settimeout(nil, 't')
raises('NaN', 'sleep(NaN) raises', socket.sleep, 0 / 0)
h.same({ utils.timeout(0.01, socket.sleep, 1e300) }, { nil, 'timeout' }, 'sleep(1e300) under a deadline')
h.same({ socket.connect('127.0.0.1', 65536) }, { nil, 'service not supported for socket type' },
	'port 65536')
h.same({ socket.connect('127.0.0.1', 0 / 0) }, { nil, 'service not supported for socket type' },
	'port NaN')
h.same({ socket.connect('127.0.0.1', 1e308) }, { nil, 'service not supported for socket type' },
	'port 1e308')
h.is(c:setoption('linger', { on = true, timeout = 1e300 }), 1, 'linger timeout 1e300 is clamped')
c:setoption('linger', { on = false, timeout = 0 })
local s2 = assert(socket.bind('127.0.0.1', 0, 1e300))
h.is(s2.class, 'tcp{server}', 'backlog 1e300 is clamped')
s2:close()
s2 = assert(socket.bind('127.0.0.1', 0, -1))
h.is(s2.class, 'tcp{server}', 'backlog -1 is 0')
s2:close()
h.is(c:setstats(0 / 0, 1e308, -1e308), 1, 'setstats with odd numbers')
h.is(socket.skip(1e308, 'a'), nil, 'skip(1e308)')
h.is(select('#', socket.skip(0 / 0, 'a')), 0, 'skip(NaN)')

-- 4: bad strings
raises('zero byte', 'a host with a zero byte', socket.connect, '127.0.0.1\0evil', 80)
raises('zero byte', 'a port with a zero byte', socket.connect, '127.0.0.1', '80\0')
raises('zero byte', 'dns.toip with a zero byte', socket.dns.toip, 'localhost\0x')
h.same({ socket.connect('999.1.1.1', 80) }, { nil, 'host or service not provided, or not known' },
	'an address that is no address (no lookup of 999.1.1.1 either)')
h.same({ socket.connect('127.0.0.1', 'http') }, { nil, 'connection refused' },
	"the port 'http' is looked up as a service")
h.same({ socket.bind('127.0.0.1', 'no-such-service') }, { nil, 'service not supported for socket type' },
	'bind to an unknown service')
raises("invalid option 'sideways'", 'shutdown sideways', c.shutdown, c, 'sideways')

-- 5: waits across C boundaries return nil, message; nothing is left armed
local function across(v) return type(v) == 'string' and v:find('yield across', 1, true) end
local res = {}
table.sort({ 3, 2, 1 }, function(x, y)
	res[#res + 1] = select(2, c:receive())
	return x < y
end)
h.ok(across(res[1]), 'receive in a sort comparator: nil, "attempt to yield across..."', res[1])
local gs = {}
do
	-- a pair of its own, its send buffers full
	local x, y = pair()
	x:settimeout(0)
	local chunk = ('q'):rep(65536)
	for _ = 1, 10000 do
		if not x:send(chunk) then break end
	end
	x:settimeout(nil)
	string.gsub('a', '.', function() gs[1] = select(2, x:send('more')) end)
	h.ok(across(gs[1]), 'a send that would wait in a gsub callback fails', tostring(gs[1]))
	x:close()
	y:close()
end
gs = {}
string.gsub('a', '.', function() gs[1] = select(2, socket.connect('localhost', h.port)) end)
h.ok(across(gs[1]), 'a connect with a lookup in a gsub callback fails', tostring(gs[1]))
string.gsub('a', '.', function() gs[2] = select(2, srv:accept()) end)
h.ok(across(gs[2]), 'an accept in a gsub callback fails', tostring(gs[2]))
string.gsub('a', '.', function() gs[3] = select(2, socket.dns.toip('localhost')) end)
h.ok(across(gs[3]), 'dns.toip in a gsub callback fails', tostring(gs[3]))
utils.spawn(function() utils.sleep(0.01) a:send('later\n') end)
h.is(c:receive(), 'later', 'a later receive works')
local k = assert(socket.connect('127.0.0.1', h.port))
local ka = assert(srv:accept())
h.ok(k and ka, 'a later connect and accept work')
k:close()
ka:close()

-- 6: lem waits inside coroutine.wrap raise, or return nil, message; the
-- object stays usable
local function refused(ok, r1, r2)
	if not ok then return tostring(r1):find('does not run', 1, true) ~= nil end
	return r1 == nil and across(r2)
end
local co = coroutine.wrap(function() return pcall(c.receive, c) end)
h.ok(refused(co()), 'receive inside coroutine.wrap fails')
co = coroutine.wrap(function() return pcall(socket.connect, 'localhost', h.port) end)
h.ok(refused(co()), 'a connect inside coroutine.wrap fails')
co = coroutine.wrap(function() return pcall(function() return c:receive() end) end)
h.ok(refused(co()), '... also through a Lua function')
utils.spawn(function() utils.sleep(0.01) a:send('again\n') end)
h.is(c:receive(), 'again', '... a receive afterwards works')
k = assert(socket.connect('127.0.0.1', h.port))
ka = assert(srv:accept())
h.ok(k and ka, '... and a connect')
k:close()
ka:close()

-- 22: close while another coroutine waits; double close; use after close
do
	local x, y = pair()
	local r
	local w = utils.spawn(function() r = { y:receive() } end)
	utils.yield()
	h.is(y:close(), 1, 'close with a receive pending')
	w:join()
	h.same(r, { nil, 'closed', '' }, "... the reader gets nil, 'closed' once")
	h.is(y:close(), 1, 'close again: 1')
	h.same({ y:receive() }, { nil, 'closed', '' }, 'receive after close')
	-- a connect in progress, closed by another coroutine
	local m = socket.tcp()
	local cr
	w = utils.spawn(function() cr = { m:connect('localhost', h.port) } end)
	utils.yield()
	m:close()
	w:join()
	h.same(cr, { nil, 'closed' }, "close during a connect: nil, 'closed'")
	x:close()
	srv:settimeout(0)
	while srv:accept() do end
	srv:settimeout(nil)
end

-- 23: descriptor reuse: A's pending receive ended by close; B gets A's
-- descriptor number; data for B does not wake A's coroutine
do
	local x, y = pair()
	local fd = y:getfd()
	local wakes = 0
	local w = utils.spawn(function()
		y:receive()
		wakes = wakes + 1
	end)
	utils.yield()
	y:close()
	w:join()
	local x2, y2 = pair()
	h.is(y2:getfd() == fd or x2:getfd() == fd, true, 'the descriptor number is reused')
	x2:send('for B\n')
	h.is(y2:receive(), 'for B', 'B gets its data')
	h.is(wakes, 1, "A's coroutine woke once only")
	x:close()
	x2:close()
	y2:close()
end

-- 24: collected while busy: only the waiting coroutine holds the object
do
	local x
	local got
	utils.spawn(function()
		local c2
		c2, x = pair()
		got = c2:receive()
		c2:close()
	end)
	h.waitfor(function() return x end)
	for _ = 1, 10 do collectgarbage() end
	x:send('survived\n')
	h.ok(h.waitfor(function() return got end), 'the waiting receive resumes after collections')
	h.is(got, 'survived', '... with the data')
	x:close()
end

-- 25: concurrent use: two readers, two writers, two accepts
do
	local x, y = pair()
	local big = ('b'):rep(16 * 1024 * 1024)
	local r1, s1
	utils.spawn(function() r1 = y:receive(#big) end)
	utils.yield()
	h.same({ y:receive() }, { nil, 'busy', '' }, "a second reader: nil, 'busy'")
	utils.spawn(function() s1 = { x:send(big) } end)
	utils.yield()
	h.same({ x:send('w', 1) }, { nil, 'busy', 0 }, "a second writer: nil, 'busy', 0")
	h.ok(h.waitfor(function() return r1 end), 'the first reader gets its 16 MB')
	h.ok(r1 == big, '... all of it')
	h.same(s1, { #big }, '... from the first writer')
	x:close()
	y:close()
	local a1
	utils.spawn(function() a1 = { srv:accept() } end)
	utils.yield()
	h.same({ srv:accept() }, { nil, 'busy' }, "a second accept: nil, 'busy'")
	local k2 = socket.connect('127.0.0.1', h.port)
	h.ok(h.waitfor(function() return a1 end) and a1[1] and a1[1].class == 'tcp{client}',
		'the first accept gets the connection')
	k2:close()
	a1[1]:close()
end

-- deadlines that have passed: every wait ends at once, nothing leaks
do
	local x, y = pair()
	h.same({ utils.timeout(0, y.receive, y) }, { nil, 'timeout' }, 'receive under an expired deadline')
	x:send('there\n')
	utils.sleep(0.01)
	h.is(utils.timeout(0, y.receive, y), 'there', '... but bytes already there are read')
	h.same({ utils.timeout(0, srv.accept, srv) }, { nil, 'timeout' }, 'accept under an expired deadline')
	h.same({ utils.timeout(0, socket.connect, 'localhost', h.port) }, { nil, 'timeout' },
		'connect under an expired deadline')
	h.same({ utils.timeout(0, socket.dns.toip, 'localhost') }, { nil, 'timeout' },
		'dns.toip under an expired deadline')
	x:close()
	y:close()
	srv:settimeout(0)
	while srv:accept() do end
end

c:close()
a:close()
srv:close()
collectgarbage()
h.done()
