-- needs: lem.streams
-- 73. UDP under a flood: a receiver that does not read while thousands
-- of datagrams of every size come (the kernel drops what does not fit:
-- memory stays bounded, every datagram received is whole and intact); a
-- receiver and a sender busy on one Datagram at the same time; the
-- biggest datagrams; interrupt and close in the middle of it.
local h = require 'h'
local utils = require 'lem.utils'
local streams = require 'lem.streams'

-- a datagram that says what it is: '<seq>:<len>:' then a pattern
local function make(seq, len)
	local head = seq .. ':' .. len .. ':'
	local body = ('abcdefghij'):rep(math.ceil(len / 10) + 1)
	return head .. body:sub(1, math.max(0, len - #head))
end
local function intact(data)
	local seq, len = data:match('^(%d+):(%d+):')
	if not seq then return #data < 12 end     -- too short for the head
	return #data == math.max(tonumber(len), #(seq .. ':' .. len .. ':')) and
		data == make(tonumber(seq), tonumber(len))
end

local rx = assert(streams.udp_bind('127.0.0.1', h.port))
local senders = {}
for i = 1, 4 do senders[i] = assert(streams.udp_connect('127.0.0.1', h.port)) end

-- the flood, while nobody receives
local N = h.n(20000)
local rss0 = h.rss()
local sent, refused = 0, 0
for i = 1, N do
	local len = (i * 7919) % 2000
	if i % 97 == 0 then len = 0 end
	local ok = senders[i % 4 + 1]:send(make(i, len))
	if ok then sent = sent + 1 else refused = refused + 1 end
	if i % 1000 == 0 then utils.yield() end
end
h.is(refused, 0, 'every send of the flood returned true (' .. N .. ' datagrams)')
local got, bad = 0, 0
while true do
	local data = utils.timeout(0.2, rx.receive, rx)
	if not data then break end
	got = got + 1
	if not intact(data) then bad = bad + 1 end
end
h.ok(got > 0 and got <= sent, 'the queued ones are received: ' .. got .. ' of ' .. sent)
h.is(bad, 0, '... each one whole and intact')
h.ok(h.rss() - rss0 < 50 * 1024, 'memory stays bounded (' .. (h.rss() - rss0) .. ' kB more)')
h.figure('UDP flood', got .. ' of ' .. sent .. ' datagrams kept by the kernel while nobody received')

-- one Datagram sending to itself from one coroutine while another
-- receives from it, a window of 64 in flight
local self = assert(streams.udp_bind('127.0.0.1', h.port + 1))
local M = h.n(5000)
local window = utils.semaphore(64)
local received, broken = 0, 0
local receiver = utils.spawn(function()
	while received < M do
		local data, host, port = utils.timeout(5, self.receive, self)
		if not data then break end
		if not intact(data) or host ~= '127.0.0.1' or port ~= h.port + 1 then
			broken = broken + 1
		end
		received = received + 1
		window:release()
	end
end)
local failed = 0
for i = 1, M do
	window:acquire()
	if not self:send(make(i, i % 1400), '127.0.0.1', h.port + 1) then failed = failed + 1 end
end
receiver:join()
h.is(failed, 0, 'a sender and a receiver at once on one Datagram: every send true')
h.is(received, M, '... every datagram received (' .. M .. ')')
h.is(broken, 0, '... intact, from its own address')

-- the biggest datagrams
local big = h.n(200)
local whole = 0
for i = 1, big do
	senders[1]:send(make(i, 65507))
	local data = utils.timeout(5, rx.receive, rx)
	if data and #data == 65507 and intact(data) then whole = whole + 1 end
end
h.is(whole, big, big .. ' datagrams of 65507 bytes, each whole')

-- interrupt and close while a receive and a send wait, during a flood
local results = {}
local r = utils.spawn(function() results.r = { rx:receive() } end)
local r2 = utils.spawn(function() results.r2 = { rx:receive() } end)
utils.yield()
h.same(results.r2, { nil, 'busy' }, 'a second receiver: busy')
rx:interrupt()
r:join()
h.same(results.r, { nil, 'interrupted' }, 'interrupt() in the middle: the receiver gets interrupted')
local flooding = true
utils.spawn(function()
	local i = 0
	while flooding do
		i = i + 1
		senders[2]:send(make(i, 100))
		if i % 50 == 0 then utils.yield() end
	end
end)
local n = 0
local closer = utils.spawn(function()
	while true do
		local data, err = rx:receive()
		if not data then results.closed = err break end
		n = n + 1
		if n == 100 then utils.spawn(function() rx:close() end) end
	end
end)
closer:join()
flooding = false
h.is(results.closed, 'interrupted', 'close() from another coroutine while receiving a flood')
h.ok(rx:closed(), '... the datagram is closed')
h.same({ rx:receive() }, { nil, 'closed' }, "... receive(): nil, 'closed'")

for _, s in ipairs(senders) do s:close() end
self:close()
utils.yield()
collectgarbage() collectgarbage()
h.done()
