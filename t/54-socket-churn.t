-- t/54-socket-churn.t - lem.socket leaves no descriptor behind: 10,000
-- connect/accept/close cycles, refused connects, connects and lookups
-- cut short by cancel and deadlines, timeouts, objects left to the
-- garbage collector.
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local socket = require 'lem.socket'

tap.plan(9, 300)

-- fewer rounds where every lem runs under valgrind
local N = tap.slow > 1 and 1000 or 10000
local M = tap.slow > 1 and 100 or 1000

socket.dns.toip('localhost')            -- lem's worker pool
local fds0 = tap.nfds()

local srv = assert(socket.bind('127.0.0.1', 0))
local _, port = srv:getsockname()

local bad = 0
for _ = 1, N do
	local c = socket.connect('127.0.0.1', port)
	local a = c and srv:accept()
	if not (c and a) then bad = bad + 1 end
	if a then
		a:send('x')
		a:close()
	end
	if c then
		c:receive(1)
		c:close()
	end
end
tap.is(bad, 0, N .. ' connect/accept/close cycles')
tap.is(tap.nfds(), fds0 + 1, '... leave only the server open', tap.fdlist())

local closed = assert(socket.bind('127.0.0.1', 0))
local _, cport = closed:getsockname()
closed:close()
local refused = 0
for _ = 1, M do
	local c, err = socket.connect('127.0.0.1', cport)
	if c == nil and err == 'connection refused' then refused = refused + 1 end
end
tap.is(refused, M, M .. ' refused connects')

-- connects cut short by co:cancel() while their name lookups run in
-- lem's workers
local cancelled = 0
for _ = 1, M / 10 do
	local cos = {}
	for i = 1, 10 do
		cos[i] = utils.spawn(function()
			local c, err = socket.connect('localhost', port)
			if c then c:close() end
			if err == 'cancelled' then cancelled = cancelled + 1 end
		end)
	end
	utils.yield()           -- each is in its lookup now
	for i = 1, 10 do cos[i]:cancel() end
	for i = 1, 10 do cos[i]:join() end
end
tap.is(cancelled, M, M .. " connects cancelled during the lookup: nil, 'cancelled'")
-- the accepted ones of those that got through are waiting: drain them
srv:settimeout(0)
while srv:accept() do end
srv:settimeout(nil)

local timeouts = 0
local c = assert(socket.connect('127.0.0.1', port))
local a = assert(srv:accept())
c:settimeout(0.001)
for _ = 1, M do
	local r, err = c:receive()
	if r == nil and err == 'timeout' then timeouts = timeouts + 1 end
end
tap.is(timeouts, M, M .. ' receive timeouts')
local dl = 0
for _ = 1, M do
	local r, err = utils.timeout(0, function() return socket.dns.toip('localhost') end)
	if r == nil and err == 'timeout' then dl = dl + 1 end
end
tap.is(dl, M, M .. ' lookups under an expired deadline')
c:close()
a:close()

-- objects dropped without close(): __gc closes them
for _ = 1, M do
	local k = socket.connect('127.0.0.1', port)
	local _ = srv:accept()
	k = nil
end
for _ = 1, M do socket.tcp4() end
collectgarbage()
collectgarbage()
tap.is(tap.nfds(), fds0 + 1, 'objects dropped without close() are closed by the collector',
	tap.fdlist())
srv:close()
-- the lookups abandoned above may still be in the workers
tap.ok(tap.waitfor(function() return tap.nfds() == fds0 end), 'no descriptor left open',
	tap.fdlist())
local fds = tap.nfds()
collectgarbage()
tap.is(fds, fds0, '... exactly as many as before')
tap.done()
