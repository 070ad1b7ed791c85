-- T1/T2 our lem: W1's HTTP/1.1 server (bench/w1_http/lem.lua) over
-- lem.tls, TLS 1.3 only.
-- usage: $LEM lem.lua PORT CERT KEY     (port 0: a free one, see the banner)
local tls = require 'lem.tls'
local port = assert(tonumber(arg[1]), 'usage: lem.lua PORT CERT KEY')
local ctx = assert(tls.server { cert = assert(arg[2]), key = assert(arg[3]),
	min_version = 'TLSv1.3' })
local HEAD = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n'
local BODY = '\r\nHello, World!\n'
local RESP = HEAD .. BODY
local RESP_KEEP = HEAD .. 'Connection: keep-alive\r\n' .. BODY
local RESP_CLOSE = HEAD .. 'Connection: close\r\n' .. BODY

local function blank(line)
	return line == '\r\n' or line == '\n' or line == '\r' or line == ''
end

local function connection(line)
	local b = line:byte(1)
	if b ~= 67 and b ~= 99 then return nil end      -- 'C', 'c'
	local v = line:match('^[Cc][Oo][Nn][Nn][Ee][Cc][Tt][Ii][Oo][Nn]:(.*)$')
	return v and v:lower()
end

local server = assert(tls.listen('127.0.0.1', port, ctx, { backlog = 4096 }))
print(('t1 lem on port %d'):format(select(2, server:address())))
io.stdout:flush()
assert(server:autospawn(function(s)
	while true do
		local line = s:read('*l')      -- the handshake happens here
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
	if not s:closed() then s:close() end
end))
