-- W9 our lem (spec API: lem.streams): UDP echo server, one coroutine.
-- usage: $LEM lem.lua PORT
local streams = require 'lem.streams'
local port = assert(tonumber(arg[1]), 'usage: lem.lua PORT')

local d = assert(streams.udp_bind('127.0.0.1', port))
local receive, send = d.receive, d.send
while true do
	local data, host, from = receive(d)
	if not data then error(host) end
	send(d, data, host, from)
end
