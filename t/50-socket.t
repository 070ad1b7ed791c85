-- t/50-socket.t - lem.socket: LuaSocket's TCP object over lem waits
-- (API.md section 6): classes, receive patterns and partial results,
-- send(data, i, j), settimeout in both modes, deadlines, cancel, close,
-- options, stats, dns, sleep, the helpers, and no descriptor left over.
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local socket = require 'lem.socket'

tap.plan(170, 60)

local pack = tap.pack
-- the first name lookup starts lem's worker pool (an eventfd stays)
socket.dns.toip('localhost')
local fds0 = tap.nfds()

-- a connected pair: client, server side, and the server's port
local function pair()
	local srv = assert(socket.bind('127.0.0.1', 0))
	local _, port = srv:getsockname()
	local c
	utils.spawn(function() c = assert(socket.connect('127.0.0.1', port)) end)
	local a = assert(srv:accept())
	while not c do utils.yield() end
	srv:close()
	return c, a, port
end

-- a coroutine that counts while others wait
local ticks = 0
local ticking = true
utils.spawn(function()
	while ticking do
		ticks = ticks + 1
		utils.sleep(0.005)
	end
end)

-- ------------------------------------------------------------ shape
tap.like(socket._VERSION, '^lem%.socket %d', '_VERSION')
local m = socket.tcp()
tap.like(tostring(m), '^tcp{master}: 0x%x+$', 'tcp() is a tcp{master}, tostring as LuaSocket')
tap.is(m.class, 'tcp{master}', '... with its class field')
tap.is(m:getfd(), -1, '... whose descriptor comes with connect or bind')
tap.is(m:getfamily(), 'inet4', '... getfamily')
tap.is(socket.tcp6():getfamily(), 'inet6', 'tcp6() is inet6')
tap.ok(socket.tcp4():getfd() >= 0, 'tcp4() has a descriptor at once')
m:close()

local srv = assert(socket.bind('127.0.0.1', 0))
tap.like(tostring(srv), '^tcp{server}: 0x%x+$', 'socket.bind returns a tcp{server}')
local ip, port, fam = srv:getsockname()
tap.same({ ip, type(port), fam }, { '127.0.0.1', 'string', 'inet' },
	"getsockname: address, port as a string (as LuaSocket), family")
local c = assert(socket.connect('127.0.0.1', port))
tap.like(tostring(c), '^tcp{client}: 0x%x+$', 'socket.connect returns a tcp{client}')
local a = assert(srv:accept())
tap.is(a.class, 'tcp{client}', 'accept returns a tcp{client}')
local pip, pport, pfam = c:getpeername()
tap.same({ pip, pport, pfam }, { '127.0.0.1', tonumber(port), 'inet' },
	'getpeername: address, port as a number, family')
local _, cport = c:getsockname()
tap.same({ select(2, a:getpeername()) }, { tonumber(cport), 'inet' },
	"the accepted side's peer is the client's own address")
tap.is(c:getoption('tcp-nodelay'), true, 'TCP_NODELAY is on by default')

-- ---------------------------------------------------------- receive
tap.same(pack(c:send('one\r\ntwo\nth\rr\ree\r\n')), { 18, nil, nil, n = 3 },
	'send: the index of the last byte sent, nil, nil')
tap.same(pack(a:receive('*l')), { 'one', nil, nil, n = 3 },
	"receive('*l'): the line without CR LF, nil, nil")
tap.is(a:receive(), 'two', 'receive() reads a line')
tap.is(a:receive('*line'), 'three', "'*l' drops every CR; '*line' is '*l'")
c:send('abcdefgh')
tap.is(a:receive(3), 'abc', 'receive(n)')
tap.is(a:receive(4, 'PRE'), 'PREd', 'receive(n, prefix) counts the prefix in n')
tap.is(a:receive(2, 'long'), 'long', '... a prefix as long as n is returned as is')
tap.is(a:receive(0), '', 'receive(0) with bytes buffered')
tap.is(a:dirty(), true, 'dirty() while bytes are buffered')
tap.is(a:receive('2'), 'ef', 'a numeric string pattern is a count')
tap.is(a:receive(2.9), 'gh', 'a fractional count is truncated')
tap.is(a:dirty(), false, '... and not dirty afterwards')
tap.fails('invalid receive pattern', "receive('x') raises", a.receive, a, 'x')
tap.fails('invalid receive pattern', "receive('l') raises (as LuaSocket 3.0)", a.receive, a, 'l')
tap.fails('invalid receive pattern', 'receive(-1) raises', a.receive, a, -1)
tap.fails('string expected, got table', 'receive({}) raises', a.receive, a, {})
tap.fails('string expected, got table', 'a table prefix raises', a.receive, a, 1, {})

-- a line that arrives in pieces, and a receive that waits
utils.spawn(function()
	c:send('par')
	utils.sleep(0.02)
	c:send('ts\r')
	utils.sleep(0.02)
	c:send('\n')
end)
tap.is(a:receive(), 'parts', 'a line collected over several waits')
utils.spawn(function() utils.sleep(0.02) c:send('12345') end)
tap.is(a:receive(5), '12345', 'receive(n) waits for n bytes')

-- the peer closes mid-line
do
	local x, y = pair()
	x:send('complete\r\nhalf a\rline')
	x:close()
	tap.is(y:receive(), 'complete', 'the line before the close')
	tap.same(pack(y:receive('*l', 'P:')), { nil, 'closed', 'P:half aline', n = 3 },
		"peer closes mid-line: nil, 'closed', prefix .. partial (CRs dropped)")
	tap.same(pack(y:receive()), { nil, 'closed', '', n = 3 },
		"... handed out once: then nil, 'closed', ''")
	tap.same(pack(y:receive(0, 'pp')), { 'pp', nil, nil, n = 3 },
		'receive(0, prefix) needs no bytes, even at the end')
	tap.same(pack(y:receive('*a', 'pp')), { nil, 'closed', 'pp', n = 3 },
		"'*a' with nothing left: nil, 'closed', prefix")
	y:close()
	x, y = pair()
	x:send('abcd')
	x:close()
	tap.same(pack(y:receive(10, 'P')), { nil, 'closed', 'Pabcd', n = 3 },
		"receive(n) cut short by the close: nil, 'closed', partial")
	y:close()
	x, y = pair()
	utils.spawn(function()
		x:send(('x'):rep(100000))
		utils.sleep(0.01)
		x:send('tail')
		x:close()
	end)
	local all = y:receive('*a')
	tap.is(all and #all, 100004, "'*a' reads until the peer closes")
	y:close()
end

-- ------------------------------------------------------------- send
tap.same(pack(c:send('abcdef', 2, 4)), { 4, nil, nil, n = 3 },
	'send(data, i, j) returns j')
tap.is(a:receive(3), 'bcd', '... and sends data:sub(i, j)')
tap.is(c:send('abcdef', -2), 6, 'negative i counts from the end')
tap.is(a:receive(2), 'ef', '... ef')
tap.is(c:send(''), 0, "send('') is 0")
tap.is(c:send('abc', 3, 2), 2, 'send with i > j sends nothing, returns i - 1')
tap.is(c:send(123), 3, 'a number is sent as its string')
tap.is(a:receive(3), '123', '... 123')
tap.fails('string expected, got no value', 'send() raises', c.send, c)
tap.fails('number expected, got string', "send(s, 'x') raises", c.send, c, 'a', 'x')
tap.is(c:send('abc', 0/0), 3, 'a NaN index is the default')

-- a big send waits while the peer is slow
do
	local x, y = pair()
	local big = ('0123456789'):rep(300000)
	local got
	utils.spawn(function() got = y:receive(#big) end)
	tap.same(pack(x:send(big)), { #big, nil, nil, n = 3 },
		'a 3 MB send completes while the peer reads')
	tap.ok(tap.waitfor(function() return got end) and got == big, '... every byte arrived in order')
	x:close()
	y:close()
end

-- sending to a peer that has gone
do
	local x, y = pair()
	y:close()
	local r
	for _ = 1, 200 do
		r = pack(x:send(('z'):rep(65536)))
		if r[1] == nil then break end
		utils.sleep(0.001)
	end
	tap.same({ r[1], r[2], type(r[3]) }, { nil, 'closed', 'number' },
		"send to a peer that closed: nil, 'closed', last index")
	x:close()
end

-- ------------------------------------------------------- settimeout
tap.same(pack(c:settimeout(0.05)), { 1, n = 1 }, 'settimeout returns 1')
tap.same(pack(c:gettimeout()), { 0.05, -1, n = 2 }, 'gettimeout: block, total')
ticks = 0
tap.same(pack(c:receive()), { nil, 'timeout', '', n = 3 },
	"'b' against a peer that never answers: nil, 'timeout', ''")
tap.ok(ticks > 0, '... other coroutines ran meanwhile')
c:settimeout(nil)
c:settimeout(0.05, 't')
tap.same(pack(c:gettimeout()), { -1, 0.05, n = 2 }, "settimeout(nil) clears 'b'; 't' set")
a:send('par')
tap.same(pack(c:receive(10)), { nil, 'timeout', 'par', n = 3 },
	"'t': nil, 'timeout', the partial result")
a:send('xyz')
tap.is(c:receive(3), 'xyz', '... handed out once, not kept buffered')
c:settimeout(-1, 't')
tap.same(pack(c:gettimeout()), { -1, -1, n = 2 }, 'negative values mean no timeout')
tap.fails('invalid timeout mode', "settimeout(1, 'x') raises", c.settimeout, c, 1, 'x')
tap.fails('NaN', 'settimeout(NaN) raises', c.settimeout, c, 0/0)
tap.fails('number expected, got string', "settimeout('a') raises", c.settimeout, c, 'a')

-- LuaSocket's reading: 'b' alone bounds the whole call, with 't' each wait
do
	local x, y = pair()
	local trickling = true
	utils.spawn(function()
		while trickling do
			x:send('.')
			utils.sleep(0.005)
		end
	end)
	y:settimeout(0.2)
	local r = pack(y:receive(100000))
	tap.same({ r[1], r[2] }, { nil, 'timeout' },
		"'b' alone bounds the whole call, though each wait is short")
	tap.ok(type(r[3]) == 'string' and not r[3]:find('[^.]'), '... with the partial result')
	y:settimeout(0.5, 'b')
	y:settimeout(30, 't')
	trickling = false
	utils.sleep(0.05)
	y:receive(0)            -- one byte at least is buffered now
	y:settimeout(0)
	y:receive('*a')         -- drop the dots
	trickling = true
	utils.spawn(function()
		for _ = 1, 60 do
			x:send('-')
			utils.sleep(0.01)
		end
	end)
	y:settimeout(0.5, 'b')
	tap.is(y:receive(60), ('-'):rep(60),
		"with 'b' and 't' set, 'b' bounds each wait (60 waits of 0.01 s)")
	trickling = false
	y:settimeout(0.1, 't')
	local t = pack(y:receive(1))
	tap.same({ t[1], t[2] }, { nil, 'timeout' }, "... and 't' the call")
	x:close()
	y:close()
end

-- a timeout of 0 polls: the bytes there, or 'timeout' at once
c:settimeout(0)
tap.same(pack(c:receive()), { nil, 'timeout', '', n = 3 }, "settimeout(0): nil, 'timeout' at once")
a:send('ready\n')
tap.ok(tap.waitfor(function()
	local l = c:receive()
	return l == 'ready'
end), 'settimeout(0): the line once it is there')
c:settimeout(nil)

-- -------------------------------------------- deadlines, cancel, close
do
	a:send('ab')
	local r = pack(utils.timeout(0.05, function() return c:receive('*l', 'p:') end))
	tap.same(r, { nil, 'timeout', 'p:', n = 3 },
		"an enclosing utils.timeout: nil, 'timeout', the prefix")
	a:send('c\n')
	tap.is(c:receive(), 'abc', '... the bytes received stay buffered')
	local res
	local co = utils.spawn(function() res = pack(c:receive()) end)
	utils.yield()
	tap.is(co:status(), 'waiting', 'a coroutine waits in receive')
	co:cancel()
	co:join()
	tap.same(res, { nil, 'cancelled', '', n = 3 }, "co:cancel(): nil, 'cancelled'")
	c:settimeout(5)
	co = utils.spawn(function() res = pack(utils.timeout(0.05, c.receive, c)) end)
	co:join()
	tap.same(res, { nil, 'timeout', '', n = 3 }, 'the earlier of settimeout and utils.timeout wins')
	c:settimeout(nil)
	local x, y = pair()
	co = utils.spawn(function() res = pack(y:receive(5)) end)
	utils.yield()
	tap.same(pack(y:receive()), { nil, 'busy', '', n = 3 }, "a second reader: nil, 'busy'")
	tap.same(pack(y:send('w')), { 1, nil, nil, n = 3 }, '... while a writer may go on')
	y:close()
	co:join()
	tap.same(res, { nil, 'closed', '', n = 3 }, "close() from another coroutine: nil, 'closed'")
	x:close()
end

-- ----------------------------------------------------------- accept
srv:settimeout(0.05)
tap.same(pack(srv:accept()), { nil, 'timeout', n = 2 }, "accept with settimeout: nil, 'timeout'")
srv:settimeout(nil)
do
	local k
	utils.spawn(function() k = socket.connect('127.0.0.1', port) end)
	local b = srv:accept()
	tap.is(b and b.class, 'tcp{client}', '... and the server accepts afterwards')
	b:close()
	while not k do utils.yield() end
	k:close()
	local res
	local co = utils.spawn(function() res = pack(srv:accept()) end)
	utils.yield()
	tap.same(pack(srv:accept()), { nil, 'busy', n = 2 }, "a second accept: nil, 'busy'")
	srv:close()
	co:join()
	tap.same(res, { nil, 'closed', n = 2 }, "closing the server ends a pending accept: 'closed'")
end

-- ---------------------------------------------------- connect, bind
do
	local s2 = assert(socket.bind('127.0.0.1', 0))
	local _, p2 = s2:getsockname()
	tap.same(pack(socket.bind('127.0.0.1', p2)), { nil, 'address already in use', n = 2 },
		"bind to a port in use: nil, 'address already in use'")
	s2:close()
	tap.same(pack(socket.connect('127.0.0.1', p2)), { nil, 'connection refused', n = 2 },
		"connect to a closed port: nil, 'connection refused'")
	local t = socket.tcp()
	tap.same(pack(t:connect('127.0.0.1', p2)), { nil, 'connection refused', n = 2 },
		"tcp():connect likewise")
	tap.is(t.class, 'tcp{master}', '... and stays a master')
	t:close()
	tap.same(pack(socket.connect('127.0.0.1', 70000)),
		{ nil, 'service not supported for socket type', n = 2 },
		'a port number out of range is no service')
	tap.same(pack(socket.connect('127.0.0.1', 'no-such-service')),
		{ nil, 'service not supported for socket type', n = 2 }, 'an unknown service name')
	local r = pack(socket.connect('nonexistent.invalid', 80))
	tap.ok(r[1] == nil and (r[2] == 'host or service not provided, or not known' or
		r[2] == 'temporary failure in name resolution'), 'an unknown host: LuaSocket\'s words',
		tostring(r[2]))
	tap.same(pack(c:connect('127.0.0.1', port)), { nil, 'already connected', n = 2 },
		"connect on a client: nil, 'already connected'")
	tap.fails("bad argument #1 to '%?' %(string expected, got nil%)",
		'socket.connect(nil) raises', socket.connect, nil, 80)
	tap.fails("bad argument #2 to '%?' %(string expected, got no value%)",
		'socket.connect(host) raises', socket.connect, '127.0.0.1')
	tap.fails("invalid option 'x'", 'a bad family raises', socket.connect, '127.0.0.1', 1, nil, nil, 'x')

	-- a name lookup, in a worker, with others running
	local s3 = assert(socket.bind('127.0.0.1', 0))
	local _, p3 = s3:getsockname()
	ticks = 0
	local k = socket.connect('localhost', p3)
	tap.is(k and k.class, 'tcp{client}', "connect('localhost') looks the name up")
	local kk = s3:accept()
	if k then k:close() end
	if kk then kk:close() end
	-- bind, listen by hand; socket.connect with a local address
	local b = socket.tcp()
	tap.same(pack(b:bind('127.0.0.1', 0)), { 1, n = 1 }, 'tcp():bind returns 1')
	tap.is(b.class, 'tcp{master}', '... still a master')
	tap.same(pack(b:listen(5)), { 1, n = 1 }, 'listen returns 1')
	tap.is(b.class, 'tcp{server}', '... now a server')
	tap.fails('tcp{master} expected', 'listen on a server raises', b.listen, b)
	local _, bp = b:getsockname()
	local l = socket.connect('127.0.0.1', bp, '127.0.0.1', 0)
	tap.same({ l and (l:getsockname()) }, { '127.0.0.1' }, 'socket.connect with a local address binds it')
	local lb = b:accept()
	l:close()
	lb:close()
	b:close()
	s3:close()
end

-- IPv6, where the loopback has it
do
	local s6 = socket.bind('::1', 0)
	if not s6 then
		tap.skip(2, 'no IPv6 loopback here')
	else
		local _, p6 = s6:getsockname()
		local c6 = socket.connect('::1', p6)
		tap.same({ c6 and c6:getfamily(), c6 and select(3, c6:getpeername()) },
			{ 'inet6', 'inet6' }, 'IPv6: getfamily and getpeername say inet6')
		local a6 = s6:accept()
		tap.is(a6 and (a6:getpeername()), '::1', '... the peer is ::1')
		if c6 then c6:close() end
		if a6 then a6:close() end
		s6:close()
	end
end

-- ---------------------------------------------------- a closed object
do
	local x, y = pair()
	y:close()
	tap.same(pack(y:close()), { 1, n = 1 }, 'close() again returns 1, as LuaSocket')
	tap.like(tostring(y), '^tcp{client}: 0x', 'a closed object keeps its class')
	tap.same(pack(y:send('abcdef', 3)), { nil, 'closed', 2, n = 3 }, "send: nil, 'closed', i - 1")
	tap.same(pack(y:receive(5, 'pre')), { nil, 'closed', 'pre', n = 3 }, "receive: nil, 'closed', prefix")
	tap.same(pack(y:getpeername()), { nil, 'closed', n = 2 }, "getpeername: nil, 'closed'")
	tap.same(pack(y:getsockname()), { nil, 'closed', n = 2 }, "getsockname: nil, 'closed'")
	tap.same(pack(y:setoption('keepalive', true)), { nil, 'closed', n = 2 }, "setoption: nil, 'closed'")
	tap.same(pack(y:getoption('keepalive')), { nil, 'closed', n = 2 }, "getoption: nil, 'closed'")
	tap.same(pack(y:shutdown()), { nil, 'closed', n = 2 }, "shutdown: nil, 'closed'")
	tap.same(pack(y:connect('127.0.0.1', 1)), { nil, 'closed', n = 2 }, "connect: nil, 'closed'")
	tap.same(pack(y:settimeout(1)), { 1, n = 1 }, 'settimeout still works')
	tap.is(y:getfd(), -1, 'getfd() is -1')
	tap.is(y:dirty(), false, 'dirty() is false')
	local server = assert(socket.bind('127.0.0.1', 0))
	server:close()
	tap.same(pack(server:accept()), { nil, 'closed', n = 2 }, "accept: nil, 'closed'")
	local mm = socket.tcp()
	mm:close()
	tap.same(pack(mm:bind('127.0.0.1', 0)), { nil, 'closed', n = 2 }, "bind: nil, 'closed'")
	tap.same(pack(mm:listen()), { nil, 'closed', n = 2 }, "listen: nil, 'closed'")
	x:close()
end

-- --------------------------------------------------- classes, self
do
	local mm = socket.tcp()
	tap.fails("tcp{client} expected", 'send on a master raises', mm.send, mm, 'x')
	tap.fails("tcp{client} expected", 'receive on a master raises', mm.receive, mm)
	tap.fails("tcp{server} expected", 'accept on a client raises', c.accept, c)
	tap.fails("tcp{master} expected", 'bind on a client raises', c.bind, c, '*', 0)
	tap.fails("tcp{any} expected", 'close(io.stdout) raises', c.close, io.stdout)
	tap.fails("tcp{any} expected", 'close() raises', c.close)
	tap.fails("tcp{client} expected", 'getstats on a master raises', mm.getstats, mm)
	mm:close()
end

-- ------------------------------------------------------------ options
tap.same(pack(c:setoption('keepalive', true)), { 1, n = 1 }, "setoption('keepalive', true)")
tap.is(c:getoption('keepalive'), true, '... getoption')
tap.is(c:setoption('tcp-nodelay', false), 1, "setoption('tcp-nodelay', false)")
tap.is(c:getoption('tcp-nodelay'), false, '... getoption')
tap.is(c:setoption('linger', { on = true, timeout = 2 }), 1, 'setoption linger')
tap.same({ c:getoption('linger').on, c:getoption('linger').timeout }, { true, 2 }, '... getoption linger')
tap.is(c:setoption('reuseaddr', true), 1, 'reuseaddr')
tap.fails("unsupported option `foo'", 'an unknown option raises', c.setoption, c, 'foo', true)
tap.fails('boolean expected, got number', 'a number for a boolean option raises', c.setoption, c, 'keepalive', 1)
tap.fails('table expected, got boolean', 'linger needs a table', c.setoption, c, 'linger', true)
tap.fails("boolean 'on' field expected", "linger needs 'on'", c.setoption, c, 'linger', { timeout = 1 })
do
	local mm = socket.tcp()
	tap.is(mm:setoption('reuseaddr', true), 1, 'an option set before the descriptor exists...')
	tap.is(mm:getoption('reuseaddr'), true, '... is kept')
	mm:bind('127.0.0.1', 0)
	tap.is(mm:getoption('reuseaddr'), true, '... and applied to it')
	mm:close()
end
c:setoption('linger', { on = false, timeout = 0 })

-- ------------------------------------------------- stats, shutdown
do
	local x, y = pair()
	x:send('12345678')
	y:receive(3)
	local r, s, age = y:getstats()
	tap.same({ r, s, type(age) }, { 3, 0, 'number' }, 'getstats: bytes handed out, sent, age')
	tap.is(select(2, x:getstats()), 8, '... sent')
	tap.is(y:setstats(100, 200, 10), 1, 'setstats returns 1')
	local r2, s2, age2 = y:getstats()
	tap.same({ r2, s2, age2 >= 10 }, { 100, 200, true }, '... and sets them')
	tap.fails("invalid option 'x'", 'shutdown(x) raises', x.shutdown, x, 'x')
	tap.is(x:shutdown('send'), 1, "shutdown('send') returns 1")
	tap.is(y:receive('*a'), '45678', "... the peer's '*a' ends")
	tap.same(pack(y:send('back')), { 4, nil, nil, n = 3 }, '... and the other way still works')
	tap.is(x:receive(4), 'back', '... back')
	x:close()
	y:close()
end

-- ---------------------------------------- C boundaries and the helpers
do
	local x, y = pair()
	local inner
	local ok = pcall(table.sort, { 3, 2, 1 }, function(p, q)
		inner = pack(y:receive('*l', 'pp'))
		return p < q
	end)
	tap.ok(ok and inner[1] == nil and tostring(inner[2]):find('attempt to yield across', 1, true)
		and inner[3] == 'pp',
		'a receive that would wait inside a C call: nil, "attempt to yield across...", prefix',
		tostring(inner and inner[2]))
	utils.spawn(function() utils.sleep(0.01) x:send('late\n') end)
	tap.is(y:receive(), 'late', '... nothing was left armed: a later receive works')
	tap.is(pcall(function() return y:settimeout(1) end), true, 'pcall around a method')
	utils.spawn(function() utils.sleep(0.01) x:send('in pcall\n') end)
	tap.same({ pcall(y.receive, y) }, { true, 'in pcall' }, "receive waits inside lem's pcall")
	tap.same(pack(socket.skip(1, 'a', 'b', 'c')), { 'b', 'c', n = 2 }, 'skip')
	local finalized
	local try = socket.newtry(function() finalized = true end)
	tap.same(pack(socket.protect(function() try(nil, 'boom') end)()), { nil, 'boom', n = 2 },
		'protect turns a try() error into nil, message')
	tap.ok(finalized, '... after running the finalizer')
	tap.fails('plain error', 'protect raises other errors again',
		socket.protect(function() error('plain error') end))
	utils.spawn(function() utils.sleep(0.01) x:send('protected\n') end)
	tap.same(pack(socket.protect(function() return socket.try(y:receive()) end)()),
		{ 'protected', nil, nil, n = 3 }, 'a protected function can wait')
	x:close()
	y:close()
end

-- -------------------------------------------------- dns, time, sleep
do
	local ip4, info = socket.dns.toip('localhost')
	tap.same({ ip4, type(info), type(info.alias), info.ip[1] },
		{ '127.0.0.1', 'table', 'table', '127.0.0.1' }, 'dns.toip: address, { name, alias, ip }')
	tap.is(socket.dns.toip('127.0.0.1'), '127.0.0.1', 'dns.toip of an address')
	local r = pack(socket.dns.toip('nonexistent.invalid'))
	tap.ok(r[1] == nil and (r[2] == 'host not found' or
		r[2] == 'temporary failure in name resolution'), "dns.toip of no host: 'host not found'",
		tostring(r[2]))
	tap.fails('string expected, got no value', 'dns.toip() raises', socket.dns.toip)
	tap.is(type(socket.dns.gethostname()), 'string', 'dns.gethostname')
	local now = socket.gettime()
	tap.ok(type(now) == 'number' and math.abs(now - os.time()) < 5, 'gettime is the wall clock')
	ticks = 0
	tap.same(pack(socket.sleep(0.02)), { n = 0 }, 'sleep returns nothing')
	tap.ok(ticks > 0, '... and suspends only the caller')
	tap.same(pack(socket.sleep(-1)), { n = 0 }, 'sleep(-1) returns at once')
	tap.same(pack(utils.timeout(0.01, socket.sleep, 10)), { nil, 'timeout', n = 2 },
		'sleep under a deadline: nil, timeout')
	tap.fails('number expected, got string', "sleep('x') raises", socket.sleep, 'x')
end

c:close()
a:close()
ticking = false
utils.sleep(0.02)
collectgarbage()
collectgarbage()
tap.is(tap.nfds(), fds0, 'no descriptor left open', tap.fdlist())
tap.done()
