-- W1 our lem (spec API: lem.utils, lem.streams): minimal HTTP/1.1 keep-alive
-- server, the parser of the other hand-written variants plus the
-- Connection header (below).
-- usage: $LEM lem.lua PORT     (port 0: a free one, which the banner says)
--
-- HTTP/1.1 connections stay open unless the request says Connection:
-- close.  HTTP/1.0 ones are closed after the answer unless the request
-- asked for keep-alive, which the answer then confirms (ab without -k
-- waits for the close; ab -k sends Connection: Keep-Alive).
local utils   = require 'lem.utils'
local streams = require 'lem.streams'
local port = assert(tonumber(arg[1]), 'usage: lem.lua PORT')
local HEAD = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n'
local BODY = '\r\nHello, World!\n'
local RESP = HEAD .. BODY
local RESP_KEEP = HEAD .. 'Connection: keep-alive\r\n' .. BODY
local RESP_CLOSE = HEAD .. 'Connection: close\r\n' .. BODY

local function blank(line)
	-- spec: '*l' reads up to and including the next '\n'
	return line == '\r\n' or line == '\n' or line == '\r' or line == ''
end

-- the value of a Connection header line, lower case, or nil
local function connection(line)
	local b = line:byte(1)
	if b ~= 67 and b ~= 99 then return nil end      -- 'C', 'c'
	local v = line:match('^[Cc][Oo][Nn][Nn][Ee][Cc][Tt][Ii][Oo][Nn]:(.*)$')
	return v and v:lower()
end

local server = assert(streams.tcp_listen('127.0.0.1', port, { backlog = 4096 }))
print(('w1 lem on port %d'):format(select(2, server:address())))
io.stdout:flush()
assert(server:autospawn(function(s)
	while true do
		local line = s:read('*l')
		if not line then break end
		local http10 = line:find('HTTP/1.0', 1, true) ~= nil
		local conn
		repeat
			line = s:read('*l')
			if not line then s:close() return end
			conn = connection(line) or conn
		until blank(line)
		if http10 then
			if not (conn and conn:find('keep-alive', 1, true)) then
				s:write(RESP)
				break
			end
			if not s:write(RESP_KEEP) then break end
		elseif conn and conn:find('close', 1, true) then
			s:write(RESP_CLOSE)
			break
		elseif not s:write(RESP) then
			break
		end
	end
	s:close()
end))
