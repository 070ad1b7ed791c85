-- t/10-streams-tcp-keeps-input.t - when a write finds the peer gone,
-- what the peer sent before it left is still readable (found by
-- t/hostile/15-sigpipe.lua; README: "bytes that arrived before are not
-- lost").
--
-- The stream closed its descriptor on EPIPE/ECONNRESET from write(),
-- dropping the bytes still queued in the kernel: read() gave
-- nil, 'closed' instead of the peer's last words.
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local streams = require 'lem.streams'
local utils = require 'lem.utils'

tap.plan(5)

local srv = assert(streams.tcp_listen('127.0.0.1', 0))
local _, port = srv:address()
local gone = false
utils.spawn(function()
	local c = assert(streams.tcp_connect('127.0.0.1', port))
	assert(c:write('last words'))
	c:close()
	gone = true
end)
local s = assert(srv:accept())
tap.waitfor(function() return gone end)
local ok, err
for _ = 1, 100 do
	ok, err = s:write(('z'):rep(65536))
	if not ok then break end
end
tap.is(err, 'closed', "the write finds the peer gone: nil, 'closed'")
tap.ok(s:closed(), 'the stream closed itself')
tap.is(s:read(), 'last words', 'read() still hands out what the peer sent')
tap.is(select(2, s:read()), 'closed', "then nil, 'closed'")
tap.is(select(2, s:write('x')), 'closed', "writes stay 'closed'")
srv:close()
tap.done()
