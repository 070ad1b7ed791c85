-- lem.websocket - RFC 6455 WebSocket server and client for lem.
--
-- Copyright (C) 2026 the lem authors.  This file is part of lem, free
-- software under the GNU General Public License version 3 or later; see
-- COPYING.
--
-- The frames are read, unmasked, reassembled and answered in C
-- (lib/lem/websocket/conn.c, built into lem.streams): receive() is an
-- operation on the stream's own wait, and sending goes through a writer
-- of its own (a second watcher and a queue of whole frames), so one
-- coroutine may wait in receive() while another sends.  See
-- lem-websocket(3).

local utils   = require 'lem.utils'
local streams = require 'lem.streams'
local http    = require 'lem.http'

local internal = debug.getregistry()['lem.streams.internal']
local core = assert(internal and internal.websocket,
	'lem.websocket: lem.streams has no WebSocket operations')
local m = core.methods
local w_send, w_flush, w_close_frame, w_receive, w_state, w_receiving,
	w_shutdown = m.send, m.flush, m.close_frame, m.receive, m.state,
	m.receiving, m.shutdown

local timeout = utils.timeout
local type, tostring, error, setmetatable, ipairs =
	type, tostring, error, setmetatable, ipairs

local websocket = {}

local MAX_MESSAGE = 1048576
-- how long close() waits for the peer's close frame, and a failing side
-- for its close frame to go out
local CLOSE_WAIT = 5

local WebSocket = {}
WebSocket.__index = WebSocket

local function new(stream, server, max, protocol)
	return setmetatable({
		u = core.new(stream, server, max),
		stream = stream,
		protocol = protocol,
		ended = utils.condition(),
		done = false,
	}, WebSocket)
end

-- the connection is over: send what is queued (a while), then close
local function finish(self)
	if self.done then return end
	self.done = true
	timeout(CLOSE_WAIT, w_flush, self.u)
	w_shutdown(self.u)
	if not self.stream:closed() then self.stream:close() end
	self.ended:broadcast()
end

-- ws:receive(): data, 'text'|'binary', or nil, 'closed', code, reason,
-- nil, 'too large', nil, 'protocol error', or a wait's word
function WebSocket:receive()
	if self.done then return nil, 'closed', self.code or 1006, self.reason or '' end
	local data, kind, code, reason = w_receive(self.u)
	if data ~= nil then return data, kind end
	if kind == 'closed' then
		self.code, self.reason = code, reason
		finish(self)
		return nil, 'closed', code, reason
	elseif kind == 'too large' or kind == 'protocol error' then
		finish(self)
		return nil, kind
	elseif kind == 'interrupted' and self.done then
		return nil, 'closed', self.code or 1006, self.reason or ''
	end
	return nil, kind
end

local OPCODE = { text = 1, binary = 2 }

-- ws:send(data[, 'text'|'binary'])
function WebSocket:send(data, kind)
	if type(data) ~= 'string' then
		error("bad argument #1 to 'send' (string expected, got " .. type(data) .. ')', 2)
	end
	local op = OPCODE[kind or 'text']
	if not op then
		error("bad argument #2 to 'send' (invalid kind)", 2)
	end
	if self.done then return nil, 'closed' end
	return w_send(self.u, data, op)
end

-- ws:ping([data])
function WebSocket:ping(data)
	data = data or ''
	if type(data) ~= 'string' or #data > 125 then
		error("bad argument #1 to 'ping' (a string of at most 125 bytes expected)", 2)
	end
	if self.done then return nil, 'closed' end
	return w_send(self.u, data, 9)
end

-- read until the peer's close frame (or the end)
local function drain(self)
	while true do
		local data, kind, code, reason = w_receive(self.u)
		if data == nil and kind ~= nil then
			if kind == 'closed' then self.code, self.reason = code, reason end
			return kind
		end
	end
end

-- ws:close([code[, reason]]): the closing handshake
function WebSocket:close(code, reason)
	if code ~= nil and (type(code) ~= 'number' or code % 1 ~= 0) then
		error("bad argument #1 to 'close' (integer expected)", 2)
	end
	if reason ~= nil and type(reason) ~= 'string' then
		error("bad argument #2 to 'close' (string expected)", 2)
	end
	if self.done then return nil, 'closed' end
	local sent, got = w_state(self.u)
	if sent then return nil, 'closed' end
	local ok = w_close_frame(self.u, code or 1000, reason or '')
	if ok == false then timeout(CLOSE_WAIT, w_flush, self.u) end
	if not got then
		if w_receiving(self.u) then
			-- the receiver gets the answer and ends the connection
			timeout(CLOSE_WAIT, self.ended.wait, self.ended)
		else
			timeout(CLOSE_WAIT, drain, self)
		end
	end
	finish(self)
	return true
end

function WebSocket:closed()
	return self.done
end

-- the token list of a header value, lower case
local function tokens(v)
	local t = {}
	if type(v) ~= 'string' then return t end
	for tok in v:gmatch('[^,%s]+') do t[#t + 1] = tok:lower() end
	return t
end

local function has(v, tok)
	for _, x in ipairs(tokens(v)) do
		if x == tok then return true end
	end
	return false
end

local function check_options(options, name)
	if options == nil then return MAX_MESSAGE, nil end
	if type(options) ~= 'table' then
		error("bad argument to '" .. name .. "' (options table expected)", 3)
	end
	for k in pairs(options) do
		if k ~= 'max_message' and k ~= 'protocols' then
			error("unknown option '" .. tostring(k) .. "'", 3)
		end
	end
	local max = options.max_message or MAX_MESSAGE
	if type(max) ~= 'number' or max ~= max or max < 0 then
		error("invalid value of option 'max_message'", 3)
	end
	local protocols = options.protocols
	if type(protocols) == 'string' then protocols = { protocols } end
	if protocols ~= nil and type(protocols) ~= 'table' then
		error("invalid value of option 'protocols'", 3)
	end
	return max, protocols
end

local function refuse(res, msg)
	res:send(400, { ['Content-Type'] = 'text/plain' }, msg .. '\n')
	return nil, msg
end

-- websocket.accept(req, res[, options]): the server's handshake
function websocket.accept(req, res, options)
	local max, protocols = check_options(options, 'accept')
	local stream = http._stream(res)
	if not stream then
		error("bad argument #2 to 'accept' (a response of lem.http expected)", 2)
	end
	local h = req.headers
	if req.method ~= 'GET' or req.version ~= '1.1' then
		return refuse(res, 'not a WebSocket handshake: GET with HTTP/1.1 expected')
	end
	if not has(h.upgrade, 'websocket') or not has(h.connection, 'upgrade') then
		return refuse(res, 'not a WebSocket handshake: no Upgrade: websocket')
	end
	if h['sec-websocket-version'] ~= '13' then
		res:send(426, { ['Sec-WebSocket-Version'] = '13',
			['Content-Type'] = 'text/plain' }, 'WebSocket version 13 expected\n')
		return nil, 'unsupported WebSocket version'
	end
	local accept = core.accept_key(h['sec-websocket-key'] or '')
	if not accept then
		return refuse(res, 'invalid Sec-WebSocket-Key')
	end
	local chosen
	if protocols then
		local offered = {}
		for _, p in ipairs(tokens(h['sec-websocket-protocol'])) do
			offered[p] = true
		end
		for _, p in ipairs(protocols) do
			if offered[tostring(p):lower()] then chosen = p break end
		end
	end
	local ok, err = res:send(101, {
		Upgrade = 'websocket',
		['Sec-WebSocket-Accept'] = accept,
		['Sec-WebSocket-Protocol'] = chosen,
	})
	if not ok then return nil, err end
	return new(stream, true, max, chosen)
end

-- websocket.connect(url[, options]): the client's handshake
function websocket.connect(url, options)
	local max, protocols = check_options(options, 'connect')
	local scheme, host, port, target, hostfield = http.parse_url(url)
	if not scheme then
		error("bad argument #1 to 'connect' (invalid URL)", 2)
	end
	local connect
	if scheme == 'ws' then connect = http.connector('http')
	elseif scheme == 'wss' then connect = http.connector('https') end
	if not connect then return nil, 'not supported' end
	local stream, err = connect(host, port)
	if not stream then return nil, err end
	local c = http._core.new(stream, 'client', 65536, 256)
	local key = core.new_key()
	local headers = {
		Upgrade = 'websocket',
		Connection = 'Upgrade',
		['Sec-WebSocket-Key'] = key,
		['Sec-WebSocket-Version'] = '13',
	}
	if protocols and #protocols > 0 then
		headers['Sec-WebSocket-Protocol'] = table.concat(protocols, ', ')
	end
	local core_http = http._core
	local ok
	ok, err = core_http.request(c, 'GET', target, hostfield, headers)
	if ok == false then ok, err = core_http.flush(c) end
	local res
	if ok then res, err = core_http.head(c) end
	if not res then
		stream:close()
		if err == 'bad request' then err = 'protocol error' end
		return nil, err
	end
	local h = res.headers
	if res.status ~= 101 or not has(h.upgrade, 'websocket') or
			not has(h.connection, 'upgrade') or
			h['sec-websocket-accept'] ~= core.accept_key(key) then
		stream:close()
		if res.status ~= 101 then
			return nil, 'handshake refused: ' .. res.status
		end
		return nil, 'protocol error'
	end
	local chosen = h['sec-websocket-protocol']
	if chosen ~= nil then
		local found = false
		for _, p in ipairs(protocols or {}) do
			if p == chosen then found = true end
		end
		if not found then
			stream:close()
			return nil, 'protocol error'
		end
	end
	return new(stream, false, max, chosen)
end

websocket.WebSocket = WebSocket

return websocket
