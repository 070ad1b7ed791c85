-- needs: lem.http
-- 67. The client against hostile servers: a head that never ends, a
-- body that never ends, a server that stops in the middle, one that
-- answers garbage, one that trickles a byte at a time.  Each request
-- ends with nil and the right word (or a deadline of the caller's), the
-- client's memory stays bounded, and no connection is pooled dirty.
local h = require 'h'
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local http = require 'lem.http'

local srv = assert(streams.tcp_listen('127.0.0.1', 0))
local _, port = srv:address()
local base = 'http://127.0.0.1:' .. port
local mode
local active = 0
utils.spawn(function()
	srv:autospawn(function(s)
		active = active + 1
		s:read('*l')
		if mode == 'endless-head' then
			s:write('HTTP/1.1 200 OK\r\n')
			while s:write(('X-Junk: ' .. ('j'):rep(1000) .. '\r\n'):rep(64)) do end
		elseif mode == 'endless-body' then
			s:write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')
			while s:write(('1000\r\n' .. ('b'):rep(4096) .. '\r\n'):rep(16)) do end
		elseif mode == 'cut' then
			s:write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part')
		elseif mode == 'garbage' then
			s:write('\0\1\2 not http at all\r\n\r\n')
		elseif mode == 'trickle' then
			local msg = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'
			for i = 1, #msg do
				if not s:write(msg:sub(i, i)) then break end
				utils.sleep(0.01)
			end
		end
		s:close()
		active = active - 1
	end)
end)

h.reset_hwm()
local rss0 = h.rss()
mode = 'endless-head'
h.same({ http.request('GET', base .. '/') }, { nil, 'protocol error' }, 'a head that never ends: nil, "protocol error"')
mode = 'endless-body'
local res = assert(http.request('GET', base .. '/'))
h.same({ res:body(1024 * 1024) }, { nil, 'too large' }, 'a body that never ends: res:body(max) gives nil, "too large"')
res = assert(http.request('GET', base .. '/'))
local n = 0
while n < 2 * 1024 * 1024 do
	local d = res:read(65536)
	if not d then break end
	n = n + #d
end
h.ok(n >= 2 * 1024 * 1024, 'res:read(n) streams it piece by piece')
res:close()
h.ok(h.hwm() - rss0 < 32 * 1024, 'memory stays bounded', h.hwm() - rss0)
mode = 'cut'
res = assert(http.request('GET', base .. '/'))
h.same({ res:body() }, { nil, 'closed' }, 'a body cut short: nil, "closed"')
mode = 'garbage'
h.same({ http.request('GET', base .. '/') }, { nil, 'protocol error' }, 'garbage: nil, "protocol error"')
mode = 'trickle'
res = assert(http.request('GET', base .. '/'))
h.is(res:body(), 'hello', 'a trickled answer is read whole')
h.same({ utils.timeout(0.1, http.request, 'GET', base .. '/') }, { nil, 'timeout' }, 'the caller\'s deadline ends a trickle')
http.close_idle()
h.ok(h.waitfor(function() return active == 0 end), 'the server\'s side of each is over')
srv:close()
h.done()
