-- examples/wschat.lua - a chat in the browser over WebSocket
-- (lem.websocket): GET / gives the page, /ws is the chat.  Every message
-- goes to every member; each member has a queue and a sender coroutine,
-- so a slow member never holds the others up (it is dropped once 256
-- messages wait for it).
--
--   ./lem examples/wschat.lua PORT     then open http://localhost:PORT/
local utils = require 'lem.utils'
local http = require 'lem.http'
local websocket = require 'lem.websocket'

local PAGE = [[<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>lem chat</title></head>
<body><pre id="log"></pre><input id="msg" autofocus size="60">
<script>
const log = document.getElementById('log'), msg = document.getElementById('msg');
const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
ws.onmessage = e => { log.textContent += e.data + '\n'; };
ws.onclose = () => { log.textContent += '* disconnected\n'; };
msg.onkeydown = e => { if (e.key === 'Enter' && msg.value) { ws.send(msg.value); msg.value = ''; } };
</script></body></html>
]]

local members, count = {}, 0
local QUEUE_MAX = 256

local function broadcast(text)
	for m in pairs(members) do
		if m.queue:count() >= QUEUE_MAX then
			members[m] = nil
			m.queue:close()
			utils.spawn(function() m.ws:close(1008, "too slow") end)
		else
			m.queue:put(text)
		end
	end
end

local port = tonumber(arg[1]) or 8080
local srv = assert(http.listen('*', port))
print(('websocket chat on port %d'):format(select(2, srv:address())))
io.stdout:flush()

srv:serve(function(req, res)
	if req.path == '/' then
		return res:send(200, { ['Content-Type'] = 'text/html; charset=utf-8' }, PAGE)
	elseif req.path ~= '/ws' then
		return res:send(404, { ['Content-Type'] = 'text/plain' }, 'Not Found\n')
	end
	local ws = websocket.accept(req, res, { max_message = 4096 })
	if not ws then return end
	count = count + 1
	local m = { ws = ws, queue = utils.queue(), name = 'user' .. count }
	-- the sender: one coroutine sends while this one receives
	local sender = utils.spawn(function()
		while true do
			local text = m.queue:get()
			if not text or not ws:send(text) then break end
		end
	end)
	ws:send('* welcome, ' .. m.name)
	broadcast('* ' .. m.name .. ' joined')
	members[m] = true
	while true do
		local data = ws:receive()
		if not data then break end
		broadcast(m.name .. ': ' .. data)
	end
	if members[m] then
		members[m] = nil
		m.queue:close()
	end
	sender:join()
	ws:close()
	broadcast('* ' .. m.name .. ' left')
end)
