-- needs: lem.streams
-- 31. Server lifecycle: close() during autospawn with many live
-- handlers; idle interrupt() gives 'not busy'; accept after close gives
-- 'closed'; a busy port gives 'Address already in use'.
local h = require 'h'
local streams = require 'lem.streams'
local utils = require 'lem.utils'

local srv = assert(streams.tcp_listen('127.0.0.1', h.port))
h.is(select(2, srv:interrupt()), 'not busy', "idle interrupt(): 'not busy'")
local a, b = streams.tcp_listen('127.0.0.1', h.port)
h.same({ a, b }, { nil, 'Address already in use' }, "a busy port: 'Address already in use'")

local N = h.n(1000)
local live, ended, ret = 0, 0
utils.spawn(function()
	ret = { srv:autospawn(function(c)
		live = live + 1
		c:read()
		live = live - 1
		ended = ended + 1
		c:close()
	end) }
end)
local clients = {}
for i = 1, N do
	utils.spawn(function()
		local c = streams.tcp_connect('127.0.0.1', h.port)
		clients[#clients + 1] = c
	end)
end
h.ok(h.waitfor(function() return live == N and #clients == N end, 30),
	N .. ' live handlers', live .. ' handlers, ' .. #clients .. ' clients')
h.is(srv:close(), true, 'close() during autospawn')
utils.yield()
h.same(ret, { nil, 'interrupted' }, "autospawn returns nil, 'interrupted'")
h.is(select(2, srv:accept()), 'closed', "accept after close: 'closed'")
h.is(select(2, srv:close()), 'already closed', "close again: 'already closed'")
h.is(live, N, 'the live handlers are unaffected')
for _, c in ipairs(clients) do c:close() end
h.ok(h.waitfor(function() return ended == N end, 10), 'every handler ends when its client goes', ended)
clients = nil
collectgarbage()
h.done()
