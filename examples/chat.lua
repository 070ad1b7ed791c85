-- examples/chat.lua - a line based chat server.
--
--   ./lem examples/chat.lua PORT          then: nc localhost PORT (twice)
--
-- A stream does one thing at a time: the coroutine of a client spends
-- most of its life in read('*l').  To deliver a message to it, another
-- coroutine puts the message in the client's outbox and interrupts that
-- read; the client's coroutine sees nil, 'interrupted', writes out its
-- outbox and goes back to reading.  Bytes of a half-received line are
-- not lost by the interruption: the next read('*l') still returns them.
--
-- A client that stops reading would let its outbox grow without end, so
-- it is bounded: once more than MAX_QUEUED bytes wait for one client
-- (what the kernel buffers does not count), that client is disconnected.
-- Dropping messages instead would leave it in a conversation with holes
-- it cannot see; being cut off, it knows.
local streams = require 'lem.streams'

local MAX_QUEUED = 64 * 1024

local port = tonumber(arg[1]) or 8080
local server = assert(streams.tcp_listen('*', port))
print(('chat server on port %d'):format(select(2, server:address())))
io.stdout:flush()        -- the banner shows even through a pipe

local clients = {}
local nextid = 1

local function broadcast(from, msg)
	for c in pairs(clients) do
		if c ~= from and not c.dropped then
			c.queued = c.queued + #msg
			if c.queued > MAX_QUEUED then
				-- too slow: close() ends its read or write, which
				-- returns nil, 'interrupted' to its coroutine
				c.dropped = true
				c.outbox = {}
				c.stream:close()
			else
				c.outbox[#c.outbox + 1] = msg
				-- interrupt reads only: a write in progress finishes first
				if c.reading then c.stream:interrupt() end
			end
		end
	end
end

assert(server:autospawn(function(s)
	local c = { stream = s, outbox = {}, queued = 0, name = 'user' .. nextid }
	nextid = nextid + 1
	clients[c] = true
	broadcast(c, '* ' .. c.name .. ' joined\n')
	local ok = s:write('Welcome, ' .. c.name .. '! Type /quit to leave.\n')
	while ok and not c.dropped do
		while ok and #c.outbox > 0 do
			local msg = table.remove(c.outbox, 1)
			ok = s:write(msg)
			c.queued = c.queued - #msg
		end
		if not ok or c.dropped then break end
		c.reading = true
		local line, err = s:read('*l')
		c.reading = false
		if line then
			if line:match('^/quit') then break end
			broadcast(c, c.name .. ': ' .. line)
		elseif err ~= 'interrupted' then
			break           -- closed, or an error
		end
	end
	clients[c] = nil
	if not c.dropped then s:close() end
	broadcast(c, '* ' .. c.name ..
		(c.dropped and ' was disconnected: too slow\n' or ' left\n'))
end))
