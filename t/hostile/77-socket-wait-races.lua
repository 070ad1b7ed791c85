-- needs: lem.streams
-- 77. Deadlines, cancel, interrupt, close and garbage collection racing
-- over the waits of the socket functions: a unix_connect waiting for
-- room in a full backlog, name lookups of tcp_listen, udp_connect and
-- send, a receive, a send and a receive on one Datagram at once.
-- Exactly one result each, of an expected kind; no coroutine resumed
-- twice; nothing left behind (a late lookup answer is dropped).
local h = require 'h'
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local spawn, timeout, yield = utils.spawn, utils.timeout, utils.yield

-- a Unix server whose backlog (0) is kept full
local full = h.tmpname('.sock')
local fsrv = assert(streams.unix_listen(full, nil, { backlog = 0 }))
local holders = {}
while true do
	local o = streams.open(full, 'r+')
	if not o then break end
	holders[#holders + 1] = o
end
h.ok(#holders > 0, 'a full backlog (' .. #holders .. ' held)')

local rx = assert(streams.udp_bind('127.0.0.1', h.port))

local made = {}
local kinds = {
	unix_connect = function() return streams.unix_connect(full) end,
	tcp_listen = function() return streams.tcp_listen('localhost', 0) end,
	udp_connect = function() return streams.udp_connect('localhost', h.port) end,
	send_name = function()
		local d = streams.udp_bind('127.0.0.1', 0)
		made[#made + 1] = d
		return d:send('x', 'localhost', h.port)
	end,
	receive = function()
		local d = streams.udp_bind('127.0.0.1', 0)
		made[#made + 1] = d
		return d:receive()
	end,
}
local expected = { timeout = true, cancelled = true }

local N = h.n(200)
local results, resumed, bad = 0, 0, 0
for name, wait in pairs(kinds) do
	for i = 1, N do
		local deadline = (i % 4) * 0.0005          -- 0 .. 1.5 ms
		local n = 0
		local co = spawn(function()
			local r = { timeout(deadline, wait) }
			n = n + 1
			return r
		end)
		if i % 2 == 0 then spawn(function() co:cancel() end) end
		if i % 5 == 0 then collectgarbage('step', 100) end
		local ok, r = co:join()
		resumed = resumed + n
		results = results + 1
		if not ok or n ~= 1 then bad = bad + 1 end
		local v, e = r[1], r[2]
		if v == nil and not expected[e] then
			bad = bad + 1
			h.ok(false, name .. ': a result nobody expects', tostring(e))
		elseif v ~= nil and type(v) == 'userdata' then
			v:close()
		end
	end
	for _, d in ipairs(made) do d:close() end
	made = {}
end
h.is(bad, 0, 'every wait ended with one result of the expected kind')
h.is(resumed, results, 'no coroutine went on twice')

-- a send and a receive waiting on one Datagram, ended every way
local tx = assert(streams.udp_bind('127.0.0.1', 0))
local _, txport = tx:address()
local counts = { interrupted = 0, timeout = 0, cancelled = 0, data = 0, sent = 0 }
for i = 1, N do
	local d = assert(streams.udp_bind('127.0.0.1', 0))
	local rr, sr
	local rco = spawn(function() rr = { timeout(0.001 * (i % 3), d.receive, d) } end)
	local sco = spawn(function() sr = { d:send('to a name', 'localhost', txport) } end)
	yield()
	local how = i % 4
	if how == 0 then d:interrupt()
	elseif how == 1 then d:close()
	elseif how == 2 then rco:cancel() sco:cancel()
	else tx:send('to d', '127.0.0.1', select(2, d:address())) end
	if i % 7 == 0 then collectgarbage('step', 100) end
	rco:join()
	sco:join()
	for _, r in ipairs({ rr, sr }) do
		if r[1] == true then counts.sent = counts.sent + 1
		elseif type(r[1]) == 'string' then counts.data = counts.data + 1
		elseif counts[r[2]] then counts[r[2]] = counts[r[2]] + 1
		else bad = bad + 1 h.ok(false, 'send/receive race: ' .. tostring(r[2])) end
	end
	if not d:closed() then d:close() end
	-- whatever the sends delivered meanwhile
	while timeout(0, tx.receive, tx) do end
end
h.is(bad, 0, 'a send and a receive on one Datagram, ended every way: expected results only')
h.figure('datagram races', string.format('%d interrupted, %d timeout, %d cancelled, %d received, %d sent',
	counts.interrupted, counts.timeout, counts.cancelled, counts.data, counts.sent))

-- let lookups still running come back (their answers are dropped)
utils.sleep(0.2)
for _, o in ipairs(holders) do o:close() end
fsrv:close()
tx:close()
rx:close()
collectgarbage() collectgarbage()
h.done()
