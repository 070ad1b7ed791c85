-- examples/echo.lua - a TCP echo server: every connection gets its own
-- coroutine, which sends back whatever arrives.
--
--   ./lem examples/echo.lua PORT          then: nc localhost PORT
local streams = require 'lem.streams'

local port = tonumber(arg[1]) or 8080
local server = assert(streams.tcp_listen('*', port))
local addr, bound = server:address()
print(('echo server on %s port %d'):format(addr, bound))
io.stdout:flush()        -- the banner shows even through a pipe

assert(server:autospawn(function(s)
	while true do
		local data = s:read()   -- whatever has arrived, at most 64 KiB
		if not data or not s:write(data) then break end
	end
	s:close()
end))
