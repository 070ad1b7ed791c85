-- examples/udp-echo.lua - a UDP echo server, and a client for it.
--
--   ./lem examples/udp-echo.lua PORT                 the server
--   ./lem examples/udp-echo.lua PORT HOST MESSAGE    a client: sends
--       MESSAGE to HOST:PORT and prints what comes back (at most 2 s)
--
-- The server answers every datagram with the same bytes, to where it
-- came from, from a single coroutine.  The client is connected
-- (udp_connect), so if nobody listens at HOST:PORT the kernel's ICMP
-- error comes back as 'Connection refused' instead of a wait.
local utils = require 'lem.utils'
local streams = require 'lem.streams'

local port = tonumber(arg[1]) or 8080

if arg[2] then
	local d, err = streams.udp_connect(arg[2], port)
	if d then
		local ok
		ok, err = d:send(arg[3] or 'ping')
		if ok then
			local reply
			reply, err = utils.timeout(2, d.receive, d)
			if reply then
				print(reply)
				os.exit(0)
			end
		end
	end
	io.stderr:write('udp-echo: ', arg[2], ' port ', port, ': ', err, '\n')
	os.exit(1)
end

local d = assert(streams.udp_bind('*', port))
local addr, bound = d:address()
print(('udp echo server on %s port %d'):format(addr, bound))
io.stdout:flush()        -- the banner shows even through a pipe
while true do
	local data, host, from = d:receive()
	if not data then
		io.stderr:write('udp-echo: ', host, '\n')
		os.exit(1)
	end
	d:send(data, host, from)
end
