-- t/24-streams-options.t - the options tables of tcp_listen (backlog,
-- reuseport, nodelay) and tcp_connect (nodelay), stream:address() and
-- stream:peer(), a name given to tcp_listen looked up without blocking,
-- and the checks of ports and options.
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'

tap.plan(61, 60)

local nfds = tap.nfds
streams.popen('true'):close()
local fds0 = nfds()

local function have(cmd)
	return os.execute('command -v ' .. cmd .. ' >/dev/null 2>&1') == 0
end

-- was this lem built with SO_REUSEPORT (./configure --disable-reuseport)?
local reuseport = true
do
	local cfg = tap.readfile((os.getenv('LEM_TEST_BUILDDIR') or (tap.dir .. '/..')) .. '/config.h')
	if cfg and cfg:find('#define HAVE_DECL_SO_REUSEPORT 0', 1, true) then
		reuseport = false
	end
end

-- ------------------------------------------------------------ backlog
-- the backlog of a listening socket is what ss shows as its Send-Q
local function ss_backlog(port)
	local out = tap.sh('ss -Hltn sport = :' .. port)
	return tonumber(out:match('^%S+%s+%d+%s+(%d+)'))
end
local srv = assert(streams.tcp_listen('127.0.0.1', 0))
local _, port = srv:address()
local srv7 = assert(streams.tcp_listen('127.0.0.1', 0, { backlog = 7 }))
local _, port7 = srv7:address()
if have('ss') then
	tap.is(ss_backlog(port), 511, 'tcp_listen: backlog 511 by default')
	tap.is(ss_backlog(port7), 7, '{ backlog = 7 } is given to listen()')
else
	tap.skip(2, 'no ss(8)')
end
srv7:close()

-- a backlog of 1 takes two connections nobody accepts; the third waits
local one = assert(streams.tcp_listen('127.0.0.1', 0, { backlog = 1 }))
local _, port1 = one:address()
local c1 = streams.tcp_connect('127.0.0.1', port1)
local c2 = streams.tcp_connect('127.0.0.1', port1)
tap.ok(c1 and c2, '{ backlog = 1 }: two connections wait to be accepted')
tap.same(tap.pack(utils.timeout(0.3, streams.tcp_connect, '127.0.0.1', port1)), { nil, 'timeout' },
	'... a third one finds the queue full (a deadline ends its wait)')
c1:close() c2:close() one:close()
local c3 = utils.timeout(5, streams.tcp_connect, '127.0.0.1', port)
local c4 = utils.timeout(5, streams.tcp_connect, '127.0.0.1', port)
local c5 = utils.timeout(5, streams.tcp_connect, '127.0.0.1', port)
tap.ok(c3 and c4 and c5, 'the default backlog takes three at once')
c3:close() c4:close() c5:close()
srv:close()

-- ---------------------------------------------------------- reuseport
srv = assert(streams.tcp_listen('127.0.0.1', 0))
_, port = srv:address()
tap.same(tap.pack(streams.tcp_listen('127.0.0.1', port)), { nil, 'Address already in use' },
	'without reuseport a port is taken once')
srv:close()
if reuseport then
	local a = assert(streams.tcp_listen('127.0.0.1', 0, { reuseport = true }))
	_, port = a:address()
	local b, err = streams.tcp_listen('127.0.0.1', port, { reuseport = true })
	tap.is(getmetatable(b), streams.Server, '{ reuseport = true }: two servers on one port', err)
	local got = 0
	for _ = 1, 2 do
		local c = assert(streams.tcp_connect('127.0.0.1', port))
		c:close()
	end
	for _, s in ipairs({ a, b }) do
		utils.spawn(function()
			while true do
				local st = s:accept()
				if not st then break end
				got = got + 1
				st:close()
			end
		end)
	end
	tap.ok(tap.waitfor(function() return got == 2 end), '... connections reach them')
	tap.same(tap.pack(streams.tcp_listen('127.0.0.1', port)), { nil, 'Address already in use' },
		'... a third server without reuseport cannot join them')
	a:close()
	if b then b:close() end
else
	tap.skip(2, 'built without SO_REUSEPORT')
	tap.same(tap.pack(streams.tcp_listen('127.0.0.1', 0, { reuseport = true })), { nil, 'not supported' },
		"{ reuseport = true } without SO_REUSEPORT: nil, 'not supported'")
end

-- in a worker of lem --workers, reuseport is on by default (a worker is
-- a lem started with LEM_WORKER and LEM_WORKERS in its environment)
local script = tap.writefile(tap.tmpname('.lua'), [[
	local streams = require 'lem.streams'
	local a = assert(streams.tcp_listen('127.0.0.1', 0, { reuseport = arg[1] == 'on' or nil }))
	local _, port = a:address()
	local b, err = streams.tcp_listen('127.0.0.1', port, arg[1] == 'off' and { reuseport = false } or nil)
	print(b and 'second' or err)
]])
local worker = 'LEM_WORKER=1 LEM_WORKERS=2 '
local out = tap.sh(worker .. tap.quote(tap.lem) .. ' ' .. script .. ' default')
tap.is(out, reuseport and 'second\n' or 'Address already in use\n',
	'in a worker, reuseport is on by default (where there is SO_REUSEPORT)')
out = tap.sh(worker .. tap.quote(tap.lem) .. ' ' .. script .. ' off')
tap.is(out, 'Address already in use\n', '... { reuseport = false } still turns it off')
out = tap.sh('unset LEM_WORKER LEM_WORKERS; ' .. tap.quote(tap.lem) .. ' ' .. script .. ' default')
tap.is(out, 'Address already in use\n', 'outside workers it is off by default')

-- ------------------------------------------------------------ nodelay
-- which TCP_NODELAY setsockopt calls a program makes, seen by strace
local nd = tap.writefile(tap.tmpname('.lua'), [[
	local streams = require 'lem.streams'
	local function opt(v) if v == 'def' then return nil end return { nodelay = v == 'on' } end
	local srv = assert(streams.tcp_listen('127.0.0.1', 0, opt(arg[1])))
	local _, port = srv:address()
	local c = assert(streams.tcp_connect('127.0.0.1', port, opt(arg[2])))
	local s = assert(srv:accept())
	c:write('x') print(s:read())
]])
local function nodelays(l, c)
	local trace = tap.tmpname('.strace')
	local o = tap.sh('strace -f -qq -o ' .. trace .. ' -e trace=setsockopt ' ..
		tap.quote(tap.lem) .. ' ' .. nd .. ' ' .. l .. ' ' .. c)
	local t = tap.readfile(trace) or ''
	local n = 0
	for _ in t:gmatch('TCP_NODELAY, %[1%]') do n = n + 1 end
	return o == 'x\n' and n or -1
end
if have('strace') and nodelays('def', 'def') >= 0 then
	tap.is(nodelays('def', 'def'), 2, 'TCP_NODELAY by default on connected and on accepted streams')
	tap.is(nodelays('off', 'def'), 1, 'tcp_connect: nodelay on by default')
	tap.is(nodelays('def', 'off'), 1, 'tcp_listen: nodelay on by default for accepted streams')
	tap.is(nodelays('off', 'off'), 0, '{ nodelay = false } on both: none')
	tap.is(nodelays('on', 'on'), 2, '{ nodelay = true } on both: both')
else
	tap.skip(5, 'strace is not available here')
end

-- ---------------------------------------------- address() and peer()
local a, b, p = tap.tcp_pair()
local ah, ap = a:address()
tap.same(tap.pack(a:peer()), { '127.0.0.1', p }, "peer() of the client: the server's address and port")
tap.same(tap.pack(b:address()), { '127.0.0.1', p }, "address() of the accepted stream: the same")
tap.same(tap.pack(b:peer()), { ah, ap }, "peer() of the accepted stream is the client's address()")
tap.ok(ah == '127.0.0.1' and ap > 0 and ap ~= p, "... 127.0.0.1 and the client's own port", ap)
local r1
utils.spawn(function() r1 = b:read() end)
utils.yield()
tap.same(tap.pack(b:address()), { '127.0.0.1', p }, 'address() while a read waits (no I/O: not busy)')
a:write('x')
tap.ok(tap.waitfor(function() return r1 == 'x' end), '... the read goes on')
a:close()
tap.same(tap.pack(a:address()), { nil, 'closed' }, "address() of a closed stream: nil, 'closed'")
tap.same(tap.pack(a:peer()), { nil, 'closed' }, "peer() of a closed stream: nil, 'closed'")
b:close()
local pipe = assert(streams.popen('true'))
tap.same(tap.pack(pipe:address()), { nil, 'Socket operation on non-socket' }, 'address() of a pipe: nil, message')
tap.same(tap.pack(pipe:peer()), { nil, 'Socket operation on non-socket' }, 'peer() of a pipe: nil, message')
pipe:close()
local null = assert(streams.open('/dev/null'))
tap.same(tap.pack(null:peer()), { nil, 'Socket operation on non-socket' }, 'peer() of a device: nil, message')
null:close()

local s6 = streams.tcp_listen('::1', 0)
if s6 then
	local _, p6 = s6:address()
	local c6 = assert(streams.tcp_connect('::1', p6))
	local a6 = assert(s6:accept())
	tap.same(tap.pack(c6:peer()), { '::1', p6 }, 'IPv6: peer() is ::1 and the port')
	tap.same(tap.pack(a6:peer()), tap.pack(c6:address()), "... the accepted stream's peer() is the client's address()")
	c6:close() a6:close() s6:close()
else
	tap.skip(2, 'no IPv6 on loopback')
end

local dual = assert(streams.tcp_listen('*', 0))
local dhost, dport = dual:address()
local dc = assert(streams.tcp_connect('127.0.0.1', dport))
local da = assert(dual:accept())
local ph = da:peer()
tap.ok(ph == '127.0.0.1' or ph == '::ffff:127.0.0.1', "a '*' server's stream from IPv4: peer() " .. tostring(ph))
tap.ok(dhost == '::' or dhost == '0.0.0.0', "'*' binds every address", dhost)
dc:close() da:close() dual:close()

-- ---------------------------------------- tcp_listen looks names up
local ran = false
utils.spawn(function() ran = true end)
local named, nerr = streams.tcp_listen('localhost', 0, { backlog = 16 })
tap.is(getmetatable(named), streams.Server, "tcp_listen('localhost', 0) gives a server", nerr)
tap.ok(ran, '... and other coroutines ran meanwhile: the lookup did not block the loop')
local nh = named and named:address()
tap.ok(nh == '127.0.0.1' or nh == '::1', '... bound to a loopback address', nh)
if named then
	local nc = streams.tcp_connect(nh, select(2, named:address()))
	tap.ok(nc and named:accept(), '... and it accepts')
	if nc then nc:close() end
	named:close()
else
	tap.skip(1, 'no server')
end
tap.same(tap.pack(utils.timeout(0, streams.tcp_listen, 'localhost', 0)), { nil, 'timeout' },
	"tcp_listen on a name under an expired deadline: nil, 'timeout'")
local cancelled = utils.spawn(streams.tcp_listen, 'localhost', 0)
cancelled:cancel()
tap.same(tap.pack(cancelled:join()), { true, nil, 'cancelled' }, "... a cancelled one: nil, 'cancelled'")
local lit = utils.timeout(0, streams.tcp_listen, '127.0.0.1', 0)
tap.is(getmetatable(lit), streams.Server, '... an address literal needs no waiting')
lit:close()
local r, e = streams.tcp_listen('no-such-host.invalid', 0)
tap.ok(r == nil and type(e) == 'string', 'a name that does not resolve: nil, message', e)

-- ------------------------------------------------------------ bad input
for _, f in ipairs({ { 'tcp_listen', streams.tcp_listen }, { 'tcp_connect', streams.tcp_connect } }) do
	for _, bad in ipairs({ 65536, -1, 1.5, '65536', '1.5' }) do
		tap.fails('port out of range', f[1] .. ' port ' .. bad .. ' raises', f[2], '127.0.0.1', bad)
	end
end
tap.fails("unknown option 'nodelya'", 'tcp_listen: an unknown option raises', streams.tcp_listen, '127.0.0.1', 0, { nodelya = true })
tap.fails("unknown option 'backlog'", 'tcp_connect: backlog is no option of it', streams.tcp_connect, '127.0.0.1', 1, { backlog = 5 })
tap.fails('unknown option %(a number key%)', 'a list as options raises', streams.tcp_listen, '127.0.0.1', 0, { 5 })
tap.fails('table expected', 'options that are not a table raise', streams.tcp_listen, '127.0.0.1', 0, 5)
tap.fails("option 'backlog' out of range", 'backlog -1 raises', streams.tcp_listen, '127.0.0.1', 0, { backlog = -1 })
tap.fails("option 'backlog' out of range", 'backlog 1.5 raises', streams.tcp_listen, '127.0.0.1', 0, { backlog = 1.5 })
tap.fails("option 'backlog': number expected", "backlog '5' raises", streams.tcp_listen, '127.0.0.1', 0, { backlog = '5' })
tap.fails("option 'reuseport': boolean expected", "reuseport 'yes' raises", streams.tcp_listen, '127.0.0.1', 0, { reuseport = 'yes' })
tap.fails("option 'nodelay': boolean expected", 'nodelay 1 raises', streams.tcp_connect, '127.0.0.1', 1, { nodelay = 1 })
local e0 = assert(streams.tcp_listen('127.0.0.1', 0, {}))
tap.ok(e0, 'an empty options table is fine')
e0:close()

collectgarbage() collectgarbage()
tap.is(nfds(), fds0, 'no descriptor leaked', tap.fdlist())
tap.done()
