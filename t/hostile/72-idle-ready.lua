-- needs: lem.streams
-- 72. Readiness while nobody waits.  After a read, a stream keeps its
-- watcher armed (and a datagram after a receive) so that the next read
-- costs no epoll_ctl; bytes, a datagram, an end of stream or a reset
-- that arrive while nobody reads must not make the loop spin, must not
-- be lost, and must not keep lem running once nothing else does.
local h = require 'h'
local utils = require 'lem.utils'
local streams = require 'lem.streams'

-- CPU seconds this process used
local function cpu()
	local st = h.readfile('/proc/self/stat') or ''
	local f = {}
	for x in st:gsub('^.*%) ', ''):gmatch('%S+') do f[#f + 1] = x end
	return (tonumber(f[12]) + tonumber(f[13])) / 100
end
-- the share of one CPU used while sleeping `secs` (others idle)
local function busy_while_idle(secs)
	local c0, t0 = cpu(), h.clock()
	utils.sleep(secs)
	local c1, t1 = cpu(), h.clock()
	return (c1 - c0) / math.max(t1 - t0, 0.01)
end

local function unix_pair()
	local p = h.tmpname('.sock')
	local srv = assert(streams.unix_listen(p))
	local c = assert(streams.unix_connect(p))
	local s = assert(srv:accept())
	srv:close()
	return c, s
end
local function tcp_pair()
	local srv = assert(streams.tcp_listen('127.0.0.1', h.port))
	local c = assert(streams.tcp_connect('127.0.0.1', h.port))
	local s = assert(srv:accept())
	srv:close()
	return c, s
end

for _, kind in ipairs({ 'TCP', 'Unix' }) do
	local c, s = (kind == 'TCP' and tcp_pair or unix_pair)()
	-- a read that waits leaves the watcher armed; then bytes come, and
	-- nobody reads
	utils.spawn(function() utils.sleep(0.01) c:write('first') end)
	h.is(s:read(), 'first', kind .. ': a read that waited')
	c:write('second')
	local share = busy_while_idle(0.3)
	h.ok(share < 0.2, kind .. ': bytes that come while nobody reads: no spinning (' ..
		math.floor(share * 100) .. '% CPU)')
	h.is(s:read(), 'second', kind .. ': ... and the next read gets them')
	-- a deadline ended the last read: the same
	h.same({ utils.timeout(0.01, s.read, s) }, { nil, 'timeout' }, kind .. ': a read cut by a deadline')
	c:write('third')
	share = busy_while_idle(0.3)
	h.ok(share < 0.2, kind .. ': ... then bytes come: no spinning (' .. math.floor(share * 100) .. '%)')
	h.is(s:read(), 'third', kind .. ': ... and the next read gets them')
	-- the peer goes while nobody reads (end of stream: ready for ever)
	c:write('last')
	h.is(s:read(4), 'last', kind .. ': a read(n)')
	c:close()
	share = busy_while_idle(0.3)
	h.ok(share < 0.2, kind .. ': the peer closes while nobody reads: no spinning (' ..
		math.floor(share * 100) .. '%)')
	h.same({ s:read() }, { nil, 'closed' }, kind .. ": ... the next read says 'closed'")
	-- a write after a read, and a read after the write, on the same stream
	c, s = (kind == 'TCP' and tcp_pair or unix_pair)()
	for i = 1, 200 do
		c:write('ping ' .. i .. '\n')
		local l = s:read('*l')
		if l ~= 'ping ' .. i .. '\n' or not s:write(l) or c:read('*l') ~= l then
			h.ok(false, kind .. ': ping-pong ' .. i) break
		end
	end
	h.ok(true, kind .. ': 200 ping-pongs with reads and writes alternating')
	c:close() s:close()
end

-- datagrams
local d = assert(streams.udp_bind('127.0.0.1', h.port + 1))
local u = assert(streams.udp_connect('127.0.0.1', h.port + 1))
utils.spawn(function() utils.sleep(0.01) u:send('one') end)
h.is((d:receive()), 'one', 'UDP: a receive that waited')
u:send('two')
local share = busy_while_idle(0.3)
h.ok(share < 0.2, 'UDP: a datagram that comes while nobody receives: no spinning (' ..
	math.floor(share * 100) .. '%)')
h.is((d:receive()), 'two', 'UDP: ... the next receive gets it')
h.same({ utils.timeout(0.01, d.receive, d) }, { nil, 'timeout' }, 'UDP: a receive cut by a deadline')
u:send('three')
share = busy_while_idle(0.3)
h.ok(share < 0.2, 'UDP: ... then a datagram comes: no spinning (' .. math.floor(share * 100) .. '%)')
h.is((d:receive()), 'three', 'UDP: ... and is received')
-- an ICMP error that arrives while nobody receives (a connected socket)
local gone = assert(streams.udp_bind('127.0.0.1', h.port + 2))
gone:close()
local dead = assert(streams.udp_connect('127.0.0.1', h.port + 2))
dead:send('x')
h.same({ utils.timeout(5, dead.receive, dead) }, { nil, 'Connection refused' }, 'UDP: an ICMP error')
dead:send('y')
share = busy_while_idle(0.3)
h.ok(share < 0.2, 'UDP: another error while nobody receives: no spinning (' ..
	math.floor(share * 100) .. '%)')
h.same({ utils.timeout(5, dead.receive, dead) }, { nil, 'Connection refused' }, 'UDP: ... reported to the next receive')
dead:close() d:close() u:close()

-- lem ends when only such watchers are left: a child that reads once
-- and keeps its stream (and a datagram) without waiting on them
local t0 = h.clock()
local out = h.run(h.lem .. ' -e ' .. "'" .. [[
	local streams = require "lem.streams"
	local p = os.tmpname() os.remove(p)
	local srv = assert(streams.unix_listen(p))
	local c = assert(streams.unix_connect(p))
	local s = assert(srv:accept())
	c:write("x") assert(s:read() == "x")
	c:write("more")
	local d = assert(streams.udp_bind("127.0.0.1", 0))
	local u = assert(streams.udp_connect("127.0.0.1", select(2, d:address())))
	u:send("a") assert(d:receive() == "a")
	u:send("b")
	keep = { srv, c, s, d, u }
	print("done")
]] .. "'")
h.is(out, 'done\n', 'a program whose streams are idle but armed still ends')
h.ok(h.clock() - t0 < 20, '... (it did not wait for anything)')

collectgarbage() collectgarbage()
h.done()
