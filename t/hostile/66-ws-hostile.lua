-- needs: lem.websocket
-- 66. Hostile WebSocket peers: a frame that claims 2^62 bytes, endless
-- fragments, a ping flood from a peer that never reads the pongs, a
-- peer that never reads what it is sent, garbage after the handshake.
-- The server ends each with the right close code or a deadline, keeps
-- its memory bounded, and goes on.
local h = require 'h'
local hh = require 'hh'
local utils = require 'lem.utils'
local websocket = require 'lem.websocket'

local ends = {}
local srv, port = hh.server(function(req, res)
	local ws = websocket.accept(req, res, { max_message = 65536 })
	if not ws then return end
	if req.path == '/sender' then
		local payload = ('s'):rep(65536)
		local why
		for _ = 1, 10000 do
			local ok, err = utils.timeout(1, ws.send, ws, payload, 'binary')
			if not ok then why = err break end
		end
		ends[#ends + 1] = 'sender ' .. tostring(why)
		return
	end
	while true do
		local data, kind = utils.timeout(5, ws.receive, ws)
		if not data then ends[#ends + 1] = tostring(kind) break end
	end
end)

local function shake(path)
	local s = hh.connect(port)
	s:write('GET ' .. path .. ' HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n' ..
		'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' ..
		'Sec-WebSocket-Version: 13\r\n\r\n')
	repeat local l = utils.timeout(5, s.read, s, '*l') until not l or l == '\r\n'
	return s
end

local function close_code(s)
	local hd = utils.timeout(5, s.read, s, 2)
	if not hd then return nil end
	local len = hd:byte(2) % 128
	local p = len > 0 and s:read(len) or ''
	if hd:byte(1) % 16 ~= 8 then return 'not a close: ' .. hd:byte(1) % 16 end
	return p:byte(1) * 256 + p:byte(2)
end

h.reset_hwm()
local rss0 = h.rss()
-- a 2^62-byte frame header
local s = shake('/')
s:write('\130\255' .. '\64\0\0\0\0\0\0\0' .. '\0\0\0\0' .. 'xxxx')
h.is(close_code(s), 1009, 'a frame of 2^62 bytes: 1009 at once')
s:close()
-- endless fragments
s = shake('/')
local frag = '\2\254\16\0\0\0\0\0' .. ('f'):rep(4096)          -- binary, 4096, not final
local cont = '\0\254\16\0\0\0\0\0' .. ('f'):rep(4096)          -- continuation
s:write(frag)
for _ = 1, 100 do if not s:write(cont) then break end end
h.is(close_code(s), 1009, 'fragments past max_message: 1009')
s:close()
-- a ping flood from a peer that does not read
s = shake('/')
local ping = '\137\132\0\0\0\0ping'
local burst = ping:rep(10000)
for _ = 1, h.n(20) do
	if not utils.timeout(5, s.write, s, burst) then break end
end
s:write('\136\130\0\0\0\0\3\232')                              -- close 1000
local out = utils.timeout(20, s.read, s, '*a') or ''
s:close()
h.ok(#out > 0, 'the ping flood is answered, up to a bound, then the close')
h.ok(h.hwm() - rss0 < 48 * 1024, 'memory stays bounded', h.hwm() - rss0)
-- a peer that never reads what it is sent
s = shake('/sender')
h.ok(h.waitfor(function()
	for _, e in ipairs(ends) do if e == 'sender timeout' then return true end end
end, 30), 'a send to a peer that never reads ends with "timeout"')
s:close()
-- garbage after the handshake
s = shake('/')
s:write(('\255'):rep(64))
h.is(close_code(s), 1002, 'garbage: 1002')
s:close()
h.ok(h.waitfor(function() return #ends >= 5 end, 30), 'every connection ended on the server', table.concat(ends, ','))
-- and the server still works
local ws = assert(websocket.connect('ws://127.0.0.1:' .. port .. '/'))
h.same({ ws:ping() }, { true }, 'the server still takes connections')
ws:close()
srv:close()
h.done()
