-- t/52-socket-redis.t - redis-lua (Debian's lua-redis), unchanged, on
-- lem.socket against a real redis-server that the test starts on a free
-- loopback port: 100 coroutines x 100 INCR on their own connections while
-- a ticker runs, a BLPOP with a timeout that blocks nobody else, a
-- pipeline, settimeout against a stopped server.
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local socket = require 'lem.socket'

tap.plan(13, 120)

local ok, redis = pcall(require, 'redis')
local _, _, nosrv = tap.sh('command -v redis-server')
if not ok or nosrv ~= 0 then
	tap.skip(13, (not ok and 'redis-lua (lua-redis)' or 'redis-server') .. ' is not installed')
	tap.done()
	return
end

-- a free port: bind port 0, read it, close
local function free_port()
	local s = assert(socket.bind('127.0.0.1', 0))
	local _, p = s:getsockname()
	s:close()
	return tonumber(p)
end

local function client(port)
	local s, err = socket.connect('127.0.0.1', port)
	if not s then return nil, err end
	return redis.connect({ socket = s }), s
end

-- start redis-server in the foreground of a background shell; a port
-- taken meanwhile by someone else makes it exit: try another
local port, pid
for _ = 1, 5 do
	port = free_port()
	local p = io.popen('exec redis-server --port ' .. port ..
		" --bind 127.0.0.1 --save '' --appendonly no --daemonize no" ..
		' >/dev/null 2>&1 & echo $!')
	pid = tonumber(p:read('*l'))
	p:close()
	tap.kill_at_end(pid)
	if tap.waitfor(function()
		local r = client(port)
		if r then r.network.socket:close() end
		return r ~= nil or os.execute('kill -0 ' .. pid .. ' 2>/dev/null') ~= 0
	end, 10) and os.execute('kill -0 ' .. pid .. ' 2>/dev/null') == 0 then
		break
	end
	tap.kill(pid)
	pid = nil
end
if not pid then
	tap.skip(13, 'redis-server did not start')
	tap.done()
	return
end
local fds0 = tap.nfds()

local r = assert(client(port))
tap.is(r:ping(), true, 'PING through redis-lua on lem.socket')
tap.same({ r:set('lem', 'socket'), r:get('lem') }, { true, 'socket' }, 'SET, GET')
r:del('counter', 'list', 'wake')

-- 100 coroutines, each on its own connection, 100 INCR each
local ticks, ticking = 0, true
utils.spawn(function()
	while ticking do
		ticks = ticks + 1
		utils.sleep(0.001)
	end
end)
local t0 = ticks
local failed, cos = {}, {}
for i = 1, 100 do
	cos[i] = utils.spawn(function()
		local c, err = client(port)
		if not c then failed[#failed + 1] = err return end
		for _ = 1, 100 do
			local okc, e = pcall(c.incr, c, 'counter')
			if not okc then failed[#failed + 1] = e break end
		end
		c:quit()
		c.network.socket:close()
	end)
end
for i = 1, 100 do cos[i]:join() end
tap.is(#failed, 0, 'every connection and INCR worked', table.concat(failed, '\n'))
tap.is(r:get('counter'), '10000', 'the counter is exactly 10,000')
tap.ok(ticks > t0, 'the ticker kept running meanwhile (' .. (ticks - t0) .. ' ticks)')

-- BLPOP with a timeout in one coroutine; the others are not blocked
local order = {}
local blpop = utils.spawn(function()
	local c = assert(client(port))
	local res = c:blpop('list', 1)
	order[#order + 1] = 'blpop'
	c.network.socket:close()
	return res
end)
local worker = utils.spawn(function()
	local c = assert(client(port))
	for i = 1, 50 do
		c:set('k' .. i, i)
		assert(c:get('k' .. i) == tostring(i))
	end
	order[#order + 1] = 'worker'
	c.network.socket:close()
end)
worker:join()
local _, res = blpop:join()
tap.same(order, { 'worker', 'blpop' }, '100 round trips of another coroutine end while BLPOP waits')
tap.is(res, nil, 'BLPOP times out with nil')

-- a BLPOP that another coroutine's RPUSH wakes
local got
local waiter = utils.spawn(function()
	local c = assert(client(port))
	got = c:blpop('wake', 10)
	c.network.socket:close()
end)
utils.spawn(function()
	local c = assert(client(port))
	-- until the waiter is blocked in BLPOP (CLIENT LIST shows it)
	tap.waitfor(function() return (c:raw_cmd('CLIENT LIST') or ''):find('cmd=blpop') end)
	c:rpush('wake', 'up')
	c.network.socket:close()
end)
waiter:join()
tap.same(got, { 'wake', 'up' }, 'BLPOP returns what an RPUSH of another coroutine sent')

-- pipelining: many commands, one write, replies read in turn
local replies = r:pipeline(function(p)
	for i = 1, 100 do p:incr('piped') end
end)
tap.same({ #replies, replies[100] }, { 100, 100 }, 'a pipeline of 100 INCR')

-- settimeout: a server that stops answering (SIGSTOP)
local slow = assert(client(port))
slow.network.socket:settimeout(0.2)
os.execute('kill -STOP ' .. pid)
ticks = 0
local okp, perr = pcall(slow.ping, slow)
os.execute('kill -CONT ' .. pid)
tap.ok(not okp and tostring(perr):find('timeout', 1, true),
	"settimeout against a server that does not answer: redis-lua reports 'timeout'", tostring(perr))
tap.ok(ticks > 0, '... while the ticker went on')
slow.network.socket:close()

-- examples/redis.lua against the same server
local out, err, st = tap.sh(tap.quote(tap.lem) .. ' ' ..
	tap.quote(tap.dir .. '/../examples/redis.lua') .. ' 127.0.0.1 ' .. port)
tap.ok(st == 0 and out:find('9 jobs done by 3 workers; Redis counted 9', 1, true),
	'examples/redis.lua runs its job queue', out .. err)

r:quit()
r.network.socket:close()
ticking = false
utils.sleep(0.01)
collectgarbage()
collectgarbage()
tap.is(tap.nfds(), fds0, 'every connection is closed', tap.fdlist())
tap.kill(pid)
tap.done()
