-- t/23-streams-udp.t - UDP datagrams: streams.udp_bind, streams.udp_connect
-- and the Datagram object (send, receive, address, close, closed, busy,
-- interrupt); IPv4 and IPv6; ICMP errors; deadlines; bad input.
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'

tap.plan(84, 60)

local nfds = tap.nfds
streams.popen('true'):close()
local fds0 = nfds()

-- a receive that cannot hang the test: nil, 'timeout' after 10 s
local function recv(d) return utils.timeout(10 * tap.slow, d.receive, d) end

-- ---------------------------------------------------------- udp_bind
local d, err = streams.udp_bind('127.0.0.1', 0)
tap.is(getmetatable(d), streams.Datagram, 'udp_bind returns a Datagram', err)
local host, port = d:address()
tap.is(host, '127.0.0.1', 'address(): the bound address')
tap.ok(type(port) == 'number' and port > 0, '... and the port the system picked', port)
tap.is(tostring(d):match('^lem.Datagram %((%a+)%)'), 'open', '__tostring says open')

local any = assert(streams.udp_bind('*', 0))
local ahost, aport = any:address()
tap.ok(ahost == '::' or ahost == '0.0.0.0', "udp_bind('*', 0) binds every address", ahost)
tap.ok(aport > 0, '... on a port of its own')

-- ------------------------------------------------------- udp_connect
local c = assert(streams.udp_connect('127.0.0.1', port))
local chost, cport = c:address()
tap.is(chost, '127.0.0.1', 'udp_connect: address() is the local end')
tap.same(tap.pack(c:send('ping')), { true }, 'send() on a connected datagram: true')
tap.same(tap.pack(recv(d)), { 'ping', '127.0.0.1', cport }, 'receive(): data, host, port of the sender')
tap.same(tap.pack(d:send('pong', chost, cport)), { true }, 'send(data, host, port) on an unconnected one')
tap.same(tap.pack(recv(c)), { 'pong', '127.0.0.1', port }, '... the connected one receives it')
tap.same(tap.pack(d:send('by string', chost, tostring(cport))), { true }, 'the port as a numeric string')
tap.is((recv(c)), 'by string', '... arrives')

-- datagram boundaries are kept, whole and in order
c:send('a')
c:send('bb')
c:send('')
c:send('ccc')
tap.same({ (recv(d)), (recv(d)), (recv(d)), (recv(d)) }, { 'a', 'bb', '', 'ccc' },
	'one whole datagram per receive(), the empty one too')

-- the biggest datagrams arrive whole
local biggest = ('x'):rep(65506) .. 'y'
tap.same(tap.pack(c:send(biggest)), { true }, 'a 65507-byte datagram (the most IPv4 carries) is sent')
local data = recv(d)
tap.ok(data == biggest, '... and received whole', data and #data)
tap.same(tap.pack(c:send(biggest .. 'z')), { nil, 'too large' }, "65508 bytes over IPv4: nil, 'too large'")
tap.same(tap.pack(c:send(('x'):rep(100000))), { nil, 'too large' }, "100000 bytes: nil, 'too large'")
tap.ok(not c:closed(), '... the datagram stays open')
c:send('after')
tap.is((recv(d)), 'after', '... and usable')

-- ------------------------------------------- receiver and sender at once
local r1
local rco = utils.spawn(function() r1 = tap.pack(d:receive()) end)
utils.yield()
tap.ok(d:busy(), 'a waiting receive() makes the datagram busy')
tap.same(tap.pack(d:receive()), { nil, 'busy' }, "a second receiver: nil, 'busy'")
tap.same(tap.pack(d:send('while receiving', chost, cport)), { true }, 'send() while another coroutine waits in receive()')
tap.is((recv(c)), 'while receiving', '... arrives')
c:send('for the waiter')
rco:join()
tap.same(r1, { 'for the waiter', '127.0.0.1', cport }, 'the waiting receiver gets the next datagram')
tap.ok(not d:busy(), '... and the datagram is no longer busy')

-- interrupt, deadline, cancel
r1 = nil
rco = utils.spawn(function() r1 = tap.pack(d:receive()) end)
utils.yield()
tap.ok(d:interrupt(), 'interrupt() a waiting receive')
rco:join()
tap.same(r1, { nil, 'interrupted' }, "... it returns nil, 'interrupted'")
tap.same(tap.pack(d:interrupt()), { nil, 'not busy' }, "interrupt() when idle: nil, 'not busy'")
tap.same(tap.pack(utils.timeout(0.05, d.receive, d)), { nil, 'timeout' }, "receive() under a deadline: nil, 'timeout'")
c:send('kept')
tap.is((recv(d)), 'kept', '... nothing is lost: the next datagram comes')
rco = utils.spawn(function() return d:receive() end)
utils.yield()
rco:cancel()
tap.same(tap.pack(rco:join()), { true, nil, 'cancelled' }, "co:cancel(): nil, 'cancelled'")
c:send('one')
c:send('two')
utils.sleep(0.01)
tap.same(tap.pack(utils.timeout(0, d.receive, d)), { 'one', '127.0.0.1', cport },
	'under an expired deadline a datagram already there is still received')

-- a datagram that arrives while nobody receives is kept for the next one
tap.is((recv(d)), 'two', 'a datagram that came while nobody received')

-- -------------------------------------------------------- ICMP errors
local gone = assert(streams.udp_bind('127.0.0.1', 0))
local _, gport = gone:address()
gone:close()
local dead = assert(streams.udp_connect('127.0.0.1', gport))
tap.same(tap.pack(dead:send('anyone?')), { true }, 'send to a port nobody listens on: true (UDP does not know yet)')
tap.same(tap.pack(recv(dead)), { nil, 'Connection refused' },
	"... the ICMP error comes back to receive(): nil, 'Connection refused', not a hang")
tap.ok(not dead:closed(), '... and the datagram stays open')
local dres
local dco = utils.spawn(function() dres = tap.pack(recv(dead)) end)
utils.yield()
tap.same(tap.pack(dead:send('again?')), { true }, 'a send while a receive waits')
dco:join()
tap.same(dres, { nil, 'Connection refused' }, '... the waiting receive gets the ICMP error')
dead:close()

-- ------------------------------------------------------------ closing
r1 = nil
rco = utils.spawn(function() r1 = tap.pack(d:receive()) end)
utils.yield()
tap.ok(d:close(), 'close() while a receive waits')
rco:join()
tap.same(r1, { nil, 'interrupted' }, "... the receive returns nil, 'interrupted'")
tap.ok(d:closed(), 'closed() is true')
tap.same(tap.pack(d:close()), { nil, 'already closed' }, "close() again: nil, 'already closed'")
tap.same(tap.pack(d:send('x', chost, cport)), { nil, 'closed' }, "send() on a closed datagram: nil, 'closed'")
tap.same(tap.pack(d:receive()), { nil, 'closed' }, "receive(): nil, 'closed'")
tap.same(tap.pack(d:address()), { nil, 'closed' }, "address(): nil, 'closed'")
tap.same(tap.pack(d:interrupt()), { nil, 'not busy' }, "interrupt(): nil, 'not busy'")
c:close()

-- ---------------------------------------------------- IPv4 on '*', names
local v4 = assert(streams.udp_bind('127.0.0.1', 0))
local _, v4port = v4:address()
any:send('to ipv4', '127.0.0.1', v4port)
local _, fhost, fport = recv(v4)
tap.is(fport, aport, "a '*' datagram sends to an IPv4 address")
tap.ok(fhost == '127.0.0.1', '... from 127.0.0.1', fhost)
v4:send('reply', '127.0.0.1', aport)
local rdata, rhost = recv(any)
tap.is(rdata, 'reply', "the '*' datagram receives from IPv4")
tap.ok(rhost == '::ffff:127.0.0.1' or rhost == '127.0.0.1', '... from an IPv4(-mapped) address', rhost)
any:send('reply to the mapped address', rhost, v4port)
tap.is((recv(v4)), 'reply to the mapped address', '... which send() takes back')
tap.same(tap.pack(v4:send('x', '::1', aport)), { nil, 'Address family not supported by protocol' },
	'an IPv4 datagram sending to an IPv6 address: the system message')
tap.same(tap.pack(v4:send('x', '::ffff:127.0.0.1', aport)), { true },
	'... but an IPv4-mapped one goes as IPv4')
recv(any)

local named = streams.udp_connect('localhost', v4port)
if named and named:address() == '127.0.0.1' then
	tap.ok(named:send('by name'), 'udp_connect to a name (looked up in a thread)')
	tap.is((recv(v4)), 'by name', '... arrives')
	local _, nport = named:address()
	tap.same(tap.pack(v4:send('back by name', 'localhost', nport)), { true }, 'send() to a name')
	tap.is((recv(named)), 'back by name', '... arrives')
	named:close()
else
	tap.skip(4, 'localhost is not 127.0.0.1 here')
end
tap.same(tap.pack(utils.timeout(0, streams.udp_connect, 'localhost', v4port)), { nil, 'timeout' },
	"udp_connect to a name under an expired deadline: nil, 'timeout'")
tap.same(tap.pack(utils.timeout(0, v4.send, v4, 'x', 'localhost', 9)), { nil, 'timeout' },
	"send() to a name under an expired deadline: nil, 'timeout'")
tap.is(getmetatable((utils.timeout(0, streams.udp_connect, '127.0.0.1', v4port))), streams.Datagram,
	'... an address literal needs no waiting')
local r, e = streams.udp_bind('127.0.0.1', v4port)
tap.same({ r, e }, { nil, 'Address already in use' }, "udp_bind on a port in use: nil, 'Address already in use'")
v4:close()
any:close()

-- ---------------------------------------------------------------- IPv6
local six = streams.udp_bind('::1', 0)
if six then
	local _, sport = six:address()
	local sc = assert(streams.udp_connect('::1', sport))
	local _, scport = sc:address()
	tap.same(tap.pack(sc:address()), { '::1', scport }, 'IPv6: udp_connect to ::1')
	local big6 = ('6'):rep(65527)
	tap.same(tap.pack(sc:send(big6)), { true }, 'a 65527-byte datagram over IPv6 (its most)')
	local got6, h6, p6 = recv(six)
	tap.ok(got6 == big6 and h6 == '::1' and p6 == scport, '... arrives whole, from ::1', got6 and #got6)
	tap.same(tap.pack(sc:send(big6 .. '7')), { nil, 'too large' }, "65528 bytes: nil, 'too large'")
	sc:close()
	six:close()
else
	tap.skip(4, 'no IPv6 on loopback')
end

-- ------------------------------------------------------------ bad input
local u = assert(streams.udp_bind('127.0.0.1', 0))
local uc = assert(streams.udp_connect('127.0.0.1', 9))
for _, bad in ipairs({ 65536, -1, 1.5, '65536', '1.5', 0 / 0 }) do
	tap.fails('port out of range', 'udp_bind port ' .. tostring(bad) .. ' raises',
		streams.udp_bind, '127.0.0.1', bad)
end
tap.fails('port out of range', 'udp_connect port 70000 raises', streams.udp_connect, '127.0.0.1', 70000)
tap.fails('port out of range', 'send to port 70000 raises', u.send, u, 'x', '127.0.0.1', 70000)
tap.fails('zero byte', 'a zero byte in a host raises', streams.udp_connect, '127.0.0.1\0evil', 9)
tap.fails('zero byte', '... and in send()', u.send, u, 'x', '127.0.0.1\0x', 9)
tap.fails('takes no address', 'send() with an address on a connected datagram raises', uc.send, uc, 'x', '127.0.0.1', 9)
tap.fails('address expected', 'send() without an address on an unconnected one raises', u.send, u, 'x')
tap.fails('string expected', 'send() of a table raises', u.send, u, {}, '127.0.0.1', 9)
tap.fails('Datagram expected', 'receive() on a stream raises', streams.Datagram.receive, (streams.popen('true')))
r, e = streams.udp_connect('no-such-host.invalid', 9)
tap.ok(r == nil and type(e) == 'string', 'udp_connect to a name that does not resolve: nil, message', e)
r, e = u:send('x', '255.255.255.255', 9)
tap.ok(r == nil and type(e) == 'string', 'send to the broadcast address without SO_BROADCAST: nil, message', e)
tap.ok(not u:closed(), '... the datagram stays open')
u:close()
uc:close()

-- __gc closes
do local lost = streams.udp_bind('127.0.0.1', 0) end
rco, r1 = nil, nil
collectgarbage() collectgarbage()
tap.is(nfds(), fds0, 'no descriptor leaked (collected datagrams closed theirs)', tap.fdlist())
tap.done()
