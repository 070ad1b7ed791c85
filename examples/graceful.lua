-- examples/graceful.lua - a line echo server that shuts down cleanly on
-- SIGTERM or SIGINT: it stops accepting at once, lets the connections it
-- has finish for up to GRACE seconds, then closes what is left and ends.
--
--   ./lem examples/graceful.lua PORT [GRACE]     then: nc localhost PORT
--   kill -TERM <pid>  (or Ctrl-C)
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local signal = require 'lem.signal'

local port = tonumber(arg[1]) or 8080
local grace = tonumber(arg[2]) or 10

-- listen before anything else: from here on SIGTERM no longer kills
local stop = signal.listen('SIGTERM', 'SIGINT')
local server = assert(streams.tcp_listen('127.0.0.1', port))
local open, count = {}, 0        -- the connections being served
local idle = utils.condition()   -- broadcast when count drops to 0

utils.spawn(function()
	local name = stop:wait()
	server:close()           -- autospawn returns; new clients are refused
	print(('%s: server closed, %d connection(s) open'):format(name, count))
	io.stdout:flush()
	-- wait for the open connections, at most `grace` seconds
	local done = utils.timeout(grace, function()
		while count > 0 do
			if not idle:wait() then return false end  -- nil, 'timeout'
		end
		return true
	end)
	if not done then
		-- their readers get nil, 'interrupted' and end
		for s in pairs(open) do s:close() end
	end
	stop:close()             -- a second SIGTERM would now kill
	print(done and 'all connections finished' or 'grace period over')
end)

local addr, bound = server:address()
print(('graceful echo server on %s port %d'):format(addr, bound))
io.stdout:flush()

server:autospawn(function(s)
	open[s], count = true, count + 1
	while true do
		local line = s:read('*l')
		if not line or not s:write(line) then break end
	end
	s:close()
	open[s], count = nil, count - 1
	if count == 0 then idle:broadcast(true) end
end)
