-- t/29-websocket.t - lem.websocket: handshakes, messages, fragments,
-- ping/pong, the close handshake and its codes, the size cap, protocol
-- errors, one receiver and one sender at once, and a client written in
-- Python's standard library (lem-websocket(3))
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local http = require 'lem.http'
local websocket = require 'lem.websocket'

tap.plan(51, 90)

local timeout = utils.timeout

-- ---------------------------------------------------------- raw frames
-- a frame as a client sends it: masked, with the key 0 0 0 0 (plain
-- Lua 5.1 has no xor; a zero key leaves the payload as it is)
local function frame(fin, opcode, payload, unmasked)
	local len = #payload
	local b1 = string.char((fin and 0x80 or 0) + opcode)
	local m = unmasked and 0 or 0x80
	local hdr
	if len < 126 then
		hdr = string.char(m + len)
	elseif len < 65536 then
		hdr = string.char(m + 126, math.floor(len / 256), len % 256)
	else
		local t = {}
		local n = len
		for i = 8, 1, -1 do t[i] = string.char(n % 256); n = math.floor(n / 256) end
		hdr = string.char(m + 127) .. table.concat(t)
	end
	return b1 .. hdr .. (unmasked and '' or '\0\0\0\0') .. payload
end

-- read one frame the server sent: fin, opcode, payload
local function read_frame(s)
	local h = timeout(5, s.read, s, 2)
	if not h then return nil end
	local b1, b2 = h:byte(1, 2)
	local len = b2 % 128
	if len == 126 then
		local e = s:read(2)
		len = e:byte(1) * 256 + e:byte(2)
	elseif len == 127 then
		local e = s:read(8)
		len = 0
		for i = 1, 8 do len = len * 256 + e:byte(i) end
	end
	local payload = len > 0 and timeout(5, s.read, s, len) or ''
	return b1 >= 128, b1 % 16, payload
end

local function close_code(payload)
	if #payload < 2 then return nil end
	return payload:byte(1) * 256 + payload:byte(2), payload:sub(3)
end

-- a raw client: the handshake by hand; returns the stream and the head
local function raw_client(port, path, extra)
	local s = assert(streams.tcp_connect('127.0.0.1', port))
	s:write('GET ' .. (path or '/') .. ' HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n' ..
		'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' ..
		'Sec-WebSocket-Version: 13\r\n' .. (extra or '') .. '\r\n')
	local head = {}
	while true do
		local l = timeout(5, s.read, s, '*l')
		if not l or l == '\r\n' then break end
		head[#head + 1] = l
	end
	return s, table.concat(head)
end

-- ------------------------------------------------------------- server
local events = {}
local function log(...) events[#events + 1] = table.concat({ ... }, ' ') end
local last_ws
local srv = assert(http.listen('127.0.0.1', 0))
local _, port = srv:address()
utils.spawn(function()
	srv:serve(function(req, res)
		local opts = { protocols = { 'chat', 'superchat' } }
		if req.path == '/small' then opts.max_message = 10 end
		local ws, err = websocket.accept(req, res, opts)
		if not ws then log('refused', err) return end
		last_ws = ws
		if req.path == '/closer' then
			ws:close(4000, 'server says bye')
			log('closed by server', tostring(ws:send('late')))
			return
		end
		if req.path == '/duplex' then
			-- one coroutine receives while another sends
			local sender = utils.spawn(function()
				for i = 1, 200 do
					assert(ws:send(('m%03d'):format(i) .. ('x'):rep(5000)))
				end
				log('sender done')
			end)
			local d = ws:receive()
			log('duplex got', d)
			sender:join()
			ws:send('bye')
			local _, kind = ws:receive()
			log('duplex end', kind)
			return
		end
		while true do
			local data, kind, code, reason = ws:receive()
			if not data then
				log('end', kind, tostring(code), tostring(reason))
				break
			end
			ws:send(data, kind)
		end
	end)
end)
local base = 'ws://127.0.0.1:' .. port

-- the lem client
local ws = assert(websocket.connect(base .. '/echo', { protocols = { 'superchat', 'chat' } }))
tap.is(ws.protocol, 'chat', 'the server\'s first choice among the offered protocols')
tap.same(tap.pack(ws:send('hello')), { true }, 'ws:send(text): true')
tap.same(tap.pack(ws:receive()), { 'hello', 'text' }, 'ws:receive(): data, "text"')
ws:send('\0\1\2binary', 'binary')
tap.same(tap.pack(ws:receive()), { '\0\1\2binary', 'binary' }, 'a binary message')
local big = ('0123456789abcdef'):rep(40000)
ws:send(big, 'binary')
local got = ws:receive()
tap.ok(got == big, 'a 640 KB message, both ways')
ws:send('')
tap.same(tap.pack(ws:receive()), { '', 'text' }, 'an empty message')
tap.same(tap.pack(ws:ping('p')), { true }, 'ws:ping(): true')
ws:send('after ping')
tap.same(tap.pack(ws:receive()), { 'after ping', 'text' }, 'the pong is not a message')
tap.fails('not UTF%-8', 'a text that is not UTF-8 raises', ws.send, ws, '\255\254')
tap.fails('invalid kind', 'an unknown kind raises', ws.send, ws, 'x', 'pdf')
tap.fails("unknown option 'max_msg'", 'connect with an unknown option raises',
	websocket.connect, base .. '/echo', { max_msg = 10 })
tap.same(tap.pack(ws:close(1000, 'done')), { true }, 'ws:close(code, reason): true')
tap.ok(tap.waitfor(function() return events[#events] == 'end closed 1000 done' end),
	'the server\'s receive: nil, "closed", code, reason', events[#events])
tap.same(tap.pack(ws:send('x')), { nil, 'closed' }, 'send after close: nil, "closed"')
tap.same(tap.pack(ws:close()), { nil, 'closed' }, 'close after close: nil, "closed"')
tap.same({ ws:receive() }, { nil, 'closed', 1000, '' }, 'receive after close: nil, "closed"')

-- raw: fragments, pings inside a message, control frames
local s, head = raw_client(port, '/echo', 'Sec-WebSocket-Protocol: chat\r\n')
tap.like(head, '^HTTP/1%.1 101 Switching Protocols', 'the handshake answer is 101')
tap.like(head, 'Sec%-WebSocket%-Accept: s3pPLMBiTxaQ9kYGzzhZRbK%+xOo=', 'with the accept key of RFC 6455')
tap.like(head, 'Upgrade: websocket', 'Upgrade: websocket')
tap.like(head, 'Connection: Upgrade', 'Connection: Upgrade')
tap.like(head, 'Sec%-WebSocket%-Protocol: chat', 'the chosen protocol')
s:write(frame(false, 1, 'Hel') .. frame(true, 9, 'ping!') .. frame(false, 0, 'lo, ') ..
	frame(true, 0, 'frames'))
local fin, op, payload = read_frame(s)
tap.same({ fin, op, payload }, { true, 10, 'ping!' }, 'a ping inside a message is answered with its payload')
fin, op, payload = read_frame(s)
tap.same({ fin, op, payload }, { true, 1, 'Hello, frames' }, 'fragments are reassembled into one message')
s:write(frame(true, 1, ('é'):rep(40000)))
fin, op, payload = read_frame(s)
tap.is(payload, ('é'):rep(40000), 'a 64-bit length frame of valid UTF-8')
s:write(frame(true, 8, '\3\232bye'))        -- 1000 "bye"
fin, op, payload = read_frame(s)
tap.same({ op, (close_code(payload)) }, { 8, 1000 }, 'a close is answered with its code')
tap.is(timeout(5, s.read, s), nil, 'and the server closes the connection')
s:close()

-- the size cap
s = raw_client(port, '/small')
s:write(frame(true, 2, ('x'):rep(11)))
fin, op, payload = read_frame(s)
tap.same({ op, (close_code(payload)) }, { 8, 1009 }, 'a message over max_message: close 1009')
tap.ok(tap.waitfor(function() return events[#events] == 'end too large nil nil' end),
	'and receive gives nil, "too large"', events[#events])
s:close()
s = raw_client(port, '/small')
s:write(frame(false, 2, ('x'):rep(6)) .. frame(true, 0, ('x'):rep(6)))
fin, op, payload = read_frame(s)
tap.same({ op, (close_code(payload)) }, { 8, 1009 }, 'fragments over max_message together: 1009')
s:close()

-- protocol errors
local function refused(bytes, want, desc)
	local c = raw_client(port, '/echo')
	c:write(bytes)
	local _, o, p = read_frame(c)
	tap.same({ o, (close_code(p or '')) }, { 8, want }, desc)
	c:close()
end
refused(frame(true, 1, 'x', true), 1002, 'an unmasked client frame: close 1002')
refused(frame(true, 1, '\192\128'), 1007, 'a text message that is not UTF-8: close 1007')
refused(frame(true, 0, 'x'), 1002, 'a continuation outside a message: 1002')
refused(frame(false, 1, 'a') .. frame(true, 1, 'b'), 1002, 'a new message inside a fragmented one: 1002')
refused(frame(false, 9, 'x'), 1002, 'a fragmented ping: 1002')
refused(frame(true, 3, 'x'), 1002, 'a reserved opcode: 1002')
refused(frame(true, 8, '\3\237'), 1002, 'a close code one may not send (1005): 1002')
tap.ok(tap.waitfor(function() return events[#events] == 'end protocol error nil nil' end),
	'receive gives nil, "protocol error"', events[#events])

-- the server closes
s = raw_client(port, '/closer')
fin, op, payload = read_frame(s)
tap.same({ op, close_code(payload) }, { 8, 4000, 'server says bye' }, 'ws:close(4000, reason) sends its code and reason')
s:write(frame(true, 8, payload))
tap.is(timeout(5, s.read, s, '*a'), '', 'after the answer the connection ends')
tap.ok(tap.waitfor(function() return events[#events] == 'closed by server nil' end),
	'send after close: nil, "closed"', events[#events])
s:close()

-- one receiver and one sender at once
ws = assert(websocket.connect(base .. '/duplex'))
local n, ok = 0, true
for i = 1, 200 do
	local d = ws:receive()
	if not d or d:sub(1, 4) ~= ('m%03d'):format(i) then ok = false break end
	n = n + 1
end
tap.ok(ok and n == 200, 'a sender\'s 200 messages arrive in order while the receiver waits')
ws:send('from client')
tap.is(ws:receive(), 'bye', 'then the receiver gets what the client sent')
tap.ok(tap.waitfor(function()
	for _, e in ipairs(events) do if e == 'duplex got from client' then return true end end
end), 'the server\'s receiver got the client\'s message')
ws:close()

-- handshakes that are not
local st = assert(http.request('GET', 'http://127.0.0.1:' .. port .. '/plain'))
tap.is(st.status, 400, 'accept on a request that is no upgrade answers 400')
st:body()
tap.ok(tap.waitfor(function() return events[#events]:find('^refused') ~= nil end),
	'and returns nil, message', events[#events])
s, head = raw_client(port, '/', 'X: y\r\n')
s:close()
s = assert(streams.tcp_connect('127.0.0.1', port))
s:write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' ..
	'Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n')
tap.like(timeout(5, s.read, s, '*l') or '', '^HTTP/1%.1 400', 'an invalid Sec-WebSocket-Key: 400')
s:close()
local hs = assert(http.listen('127.0.0.1', 0))
local _, hport = hs:address()
utils.spawn(function() hs:serve(function(_, res) res:send(200, nil, 'no') end) end)
tap.same(tap.pack(websocket.connect('ws://127.0.0.1:' .. hport .. '/')), { nil, 'handshake refused: 200' }, 'connect to a server that does not upgrade')
hs:close()
if pcall(require, 'lem.tls') then
	-- wss:// itself: t/26-tls-http.t
	tap.same(tap.pack(websocket.connect('wss://127.0.0.1:1/')), { nil, 'Connection refused' },
		'wss:// with lem.tls: a TLS connection (refused here)')
else
	tap.same(tap.pack(websocket.connect('wss://127.0.0.1:1/')), { nil, 'not supported' }, 'wss:// without lem.tls: nil, "not supported"')
end

-- a client in Python's standard library
local function have(cmd)
	local o = io.popen('command -v ' .. cmd .. ' 2>/dev/null')
	local r = o:read('*a')
	o:close()
	return r ~= ''
end
if have('python3') then
	local py = tap.tmpname('.py')
	tap.writefile(py, [[
import base64, hashlib, os, socket, struct, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(('GET /py HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
           'Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n' % key).encode())
buf = b''
while b'\r\n\r\n' not in buf:
    buf += s.recv(4096)
head, buf = buf.split(b'\r\n\r\n', 1)
want = base64.b64encode(hashlib.sha1((key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').encode()).digest()).decode()
ok = ('Sec-WebSocket-Accept: ' + want) in head.decode()
def send(op, data):
    mask = os.urandom(4)
    n = len(data)
    h = bytes([0x80 | op])
    if n < 126: h += bytes([0x80 | n])
    elif n < 65536: h += bytes([0x80 | 126]) + struct.pack('>H', n)
    else: h += bytes([0x80 | 127]) + struct.pack('>Q', n)
    s.sendall(h + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
def recv():
    global buf
    def need(k):
        global buf
        while len(buf) < k:
            buf += s.recv(65536)
    need(2)
    op, n = buf[0] & 15, buf[1] & 127
    p = 2
    if n == 126: need(4); n = struct.unpack('>H', buf[2:4])[0]; p = 4
    elif n == 127: need(10); n = struct.unpack('>Q', buf[2:10])[0]; p = 10
    need(p + n)
    data, buf = buf[p:p + n], buf[p + n:]
    return op, data
out = ['accept ' + str(ok)]
send(1, 'héllo python'.encode())
out.append('%d %s' % recv())
send(9, b'pp')
out.append('%d %s' % recv())
send(2, b'z' * 70000)
op, d = recv()
out.append('%d %d' % (op, len(d)))
send(8, struct.pack('>H', 1000))
op, d = recv()
out.append('%d %d' % (op, struct.unpack('>H', d[:2])[0]))
print(';'.join(out).replace("b'", '').replace("'", ''))
]])
	local p = assert(streams.popen('python3 ' .. tap.quote(py) .. ' ' .. port .. ' 2>&1'))
	local o = timeout(30, p.read, p, '*a') or ''
	p:close()
	tap.is(o, 'accept True;1 h\\xc3\\xa9llo python;10 pp;2 70000;8 1000\n',
		'a client in Python: handshake, masked text and binary, ping, close')
else
	tap.skip(1, 'python3 not installed')
end

-- Node's ws package (npm), where node finds it (NODE_PATH): its client
-- against lem's server, and lem's client against its server
local node_ws = have('node') and os.execute('node -e "require(\'ws\')" >/dev/null 2>&1')
if node_ws == 0 or node_ws == true then
	local js = tap.tmpname('.js')
	tap.writefile(js, [[
const WebSocket = require('ws');
const out = [];
const ws = new WebSocket('ws://127.0.0.1:' + process.argv[2] + '/node', ['chat']);
ws.on('open', () => { out.push('open ' + ws.protocol); ws.send('héllo node'); });
let n = 0;
ws.on('message', (data, binary) => {
	n++;
	if (n === 1) { out.push('text ' + data.toString()); ws.send(Buffer.alloc(200000, 7)); }
	else if (n === 2) { out.push('binary ' + binary + ' ' + data.length); ws.ping('pp'); }
});
ws.on('pong', (d) => { out.push('pong ' + d.toString()); ws.close(1000, 'node done'); });
ws.on('close', (code) => { out.push('close ' + code); console.log(out.join(';')); });
ws.on('error', (e) => { console.log('error ' + e.message); });
]])
	local p = assert(streams.popen('exec node ' .. tap.quote(js) .. ' ' .. port .. ' 2>&1'))
	local o = timeout(30, p.read, p, '*a') or ''
	p:close()
	tap.is(o, 'open chat;text h\195\169llo node;binary true 200000;pong pp;close 1000\n',
		"Node's ws client: subprotocol, text, a 200 kB binary message, ping, close")

	local sjs = tap.tmpname('.js')
	tap.writefile(sjs, [[
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 1 << 20 });
wss.on('listening', () => console.log(wss.address().port));
wss.on('connection', (ws) => {
	ws.on('message', (data, binary) => ws.send(data, { binary: binary, fragment: false }));
	ws.on('close', (code, reason) => { console.log('closed ' + code + ' ' + reason); process.exit(0); });
});
setTimeout(() => process.exit(1), 20000);
]])
	local sp = assert(streams.popen('exec node ' .. tap.quote(sjs) .. ' 2>&1'))
	local nport = tonumber(timeout(10, sp.read, sp, '*l') or '')
	local got = {}
	local c = nport and websocket.connect('ws://127.0.0.1:' .. nport .. '/')
	if c then
		c:send('über')
		got[#got + 1] = table.concat({ c:receive() }, ' ')
		c:send(('b'):rep(300000), 'binary')
		local d, kind = c:receive()
		got[#got + 1] = kind .. ' ' .. #d
		c:close(1000, 'lem done')
		got[#got + 1] = (timeout(10, sp.read, sp, '*l') or ''):gsub('\n$', '')
	end
	sp:close()
	tap.same(got, { 'über text', 'binary 300000', 'closed 1000 lem done' },
		"lem's client against Node's ws server: text, 300 kB binary, close code and reason")
else
	tap.skip(2, "node or its ws package not installed (npm install ws; NODE_PATH)")
end

srv:close()
tap.done()
