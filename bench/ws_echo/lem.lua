-- WS lem: a WebSocket echo server on lem.http and lem.websocket.
-- usage: $LEM lem.lua PORT     (port 0: a free one, which the banner says)
local http = require 'lem.http'
local websocket = require 'lem.websocket'
local port = assert(tonumber(arg[1]), 'usage: lem.lua PORT')

local srv = assert(http.listen('127.0.0.1', port, { idle_timeout = 300 }))
print(('ws lem on port %d'):format(select(2, srv:address())))
io.stdout:flush()
srv:serve(function(req, res)
	local ws = websocket.accept(req, res)
	if not ws then return end
	while true do
		local data, kind = ws:receive()
		if not data then break end
		ws:send(data, kind)
	end
end)
