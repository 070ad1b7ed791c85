-- W6 lem with deadlines: the idle-connection server of lem.lua, every read and
-- write under utils.timeout(30, ...).
-- usage: $LEM lem-timeout.lua PORT
local utils   = require 'lem.utils'
local streams = require 'lem.streams'
local port = assert(tonumber(arg[1]), 'usage: lem-timeout.lua PORT')
local timeout = utils.timeout

local server = assert(streams.tcp_listen('127.0.0.1', port, { backlog = 4096 }))
assert(server:autospawn(function(s)
	local read, write = s.read, s.write
	while true do
		local data = timeout(30, read, s)
		if not data then break end
		if not timeout(30, write, s, data) then break end
	end
	s:close()
end))
