-- t/15-streams-examples.t - the programs in examples/ do what they say
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'

tap.plan(57, 90)

local nfds = tap.nfds
streams.popen('true'):close()
local fds0 = nfds()

local examples = tap.dir .. '/../examples'

-- start an example on port 0 (the system picks a free one, which the
-- banner reports); returns the port, its output, pid and banner.  The
-- shell prints its pid before it becomes the example (exec), so the pid
-- is always the first line and the banner the second; the example is
-- killed at the end of the test even if the test dies.
local function start(name, extra)
	local p = assert(streams.popen('exec 2>&1; echo $$; exec ' ..
		tap.quote(tap.lem) .. ' ' .. (name:find('/') and name or
		examples .. '/' .. name) .. ' 0 ' .. (extra or '')))
	local pid = tap.kill_at_end(tonumber(p:read('*l')))
	local banner = p:read('*l')
	local port = tonumber(banner and banner:match('port (%d+)'))
	return port, p, pid, banner
end

local function stop(p, pid)
	tap.kill(pid)
	p:read('*a')
	p:close()
end

-- echo
local port, p, pid, banner = start('echo.lua')
tap.like(banner, 'echo server', 'echo.lua starts')
local c = assert(streams.tcp_connect('127.0.0.1', port))
c:write('hello echo\n')
tap.is(c:read('*l'), 'hello echo\n', 'echo.lua echoes')
c:close()
stop(p, pid)

-- chat
port, p, pid, banner = start('chat.lua')
tap.like(banner, 'chat server', 'chat.lua starts')
local a = assert(streams.tcp_connect('127.0.0.1', port))
tap.like(a:read('*l'), '^Welcome, user1', 'the first user is welcomed')
local b = assert(streams.tcp_connect('127.0.0.1', port))
b:read('*l')
tap.like(a:read('*l'), 'user2 joined', 'the first user hears of the second')
b:write('hi there\n')
tap.is(a:read('*l'), 'user2: hi there\n', 'a line from one user reaches the other')
-- a third user stops reading; user2 talks, user1 reads each line before
-- the next is sent (so user1 is never behind), until user3 is dropped
local slow = assert(streams.tcp_connect('127.0.0.1', port))
slow:read('*l')
tap.like(a:read('*l'), 'user3 joined', 'a third user joins')
local line = string.rep('x', 4000) .. '\n'
local dropped, lines = false, 0
for _ = 1, 20000 do
	b:write(line)
	lines = lines + 1
	local got
	repeat
		got = a:read('*l')
		if got and got:find('^%* user3 was disconnected') then dropped = true end
	until not got or got:find('^user2: ')
	if dropped or not got then break end
end
tap.ok(dropped, 'a user who stops reading is disconnected (after ' ..
	lines .. ' lines of 4 kB)')
if dropped then
	-- what the kernel had buffered for it, then the end
	local rest = slow:read('*a')
	tap.ok(rest and slow:closed(), '... its connection is closed by the server')
else
	tap.skip(1, 'not disconnected')
end
slow:close()
b:write('after that\n')
tap.is(a:read('*l'), 'user2: after that\n', '... and the others go on talking')
a:close() b:close()
stop(p, pid)

-- file server (lem.http)
local dir = tap.tmpname()
os.execute('mkdir -p ' .. dir)
local content = string.rep('0123456789', 100000)
tap.writefile(dir .. '/f.bin', content)
tap.writefile(dir .. '/index.html', '<p>index</p>')
port, p, pid, banner = start('fileserver.lua', dir)
tap.like(banner, 'serving', 'fileserver.lua starts')
-- one request on a new connection: the whole answer, and what follows
-- the header
local function ask(req)
	local x = assert(streams.tcp_connect('127.0.0.1', port))
	x:write(req)
	local r = utils.timeout(20, x.read, x, '*a') or ''
	x:close()
	return r, r:match('\r\n\r\n(.*)$')
end
local function GET(path, extra)
	return 'GET ' .. path .. ' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' ..
		(extra or '') .. '\r\n'
end
local resp, body = ask(GET('/f.bin'))
tap.ok(resp:find('^HTTP/1.1 200') and body == content and
	resp:find('Content%-Length: 1000000'), 'fileserver.lua serves a file',
	resp:sub(1, 100))
tap.like(ask(GET('/missing')), '^HTTP/1.1 404', '... and says 404 for a missing one')
resp, body = ask('HEAD /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
tap.ok(resp:find('^HTTP/1.1 404') and resp:find('Content%-Length: %d+\r\n') and
	body == '', 'HEAD of a missing file: 404 without a body', resp)
resp, body = ask('HEAD /../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
tap.ok(resp:find('^HTTP/1.1 403') and body == '', 'HEAD with ..: 403 without a body', resp)
tap.like(ask(GET('/%2e%2e/etc/passwd')), '^HTTP/1.1 403', 'an encoded ..: 403')
resp, body = ask('HEAD /f.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
tap.ok(resp:find('^HTTP/1.1 200') and resp:find('Content%-Length: 1000000\r\n') and
	body == '', 'HEAD of a file: 200, its length, no body', resp)
resp, body = ask('POST /f.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
tap.ok(resp:find('^HTTP/1.1 405') and resp:find('\r\nAllow: GET, HEAD\r\n') and
	body ~= '', '405 says Allow: GET, HEAD', resp)
os.execute('mkfifo ' .. dir .. '/fifo')
tap.like(ask(GET('/fifo')), '^HTTP/1.1 403', 'GET of a FIFO: 403 at once, the server does not freeze')
tap.like(ask(GET('/f\0.bin')), '^HTTP/1.1 400', 'a zero byte in the path: 400')
tap.like(ask(GET('/f%00.bin')), '^HTTP/1.1 400', 'an encoded zero byte: 400')
resp, body = ask(GET('/f.bin', 'Range: bytes=10-19\r\n'))
tap.ok(resp:find('^HTTP/1.1 206') and resp:find('Content%-Range: bytes 10%-19/1000000\r\n') and
	body == '0123456789', 'a range: 206 with its bytes', resp:sub(1, 200))
resp, body = ask(GET('/f.bin', 'Range: bytes=-5\r\n'))
tap.is(body, '56789', 'a suffix range')
tap.like(ask(GET('/f.bin', 'Range: bytes=2000000-\r\n')), '^HTTP/1.1 416', 'a range past the end: 416')
resp, body = ask(GET('/'))
tap.is(body, '<p>index</p>', '/ serves index.html')
if pcall(require, 'lem.fs') then
	resp = ask(GET('/f.bin'))
	local lm = resp:match('Last%-Modified: ([^\r]+)')
	tap.ok(lm ~= nil, 'Last-Modified is sent')
	tap.like(ask(GET('/f.bin', 'If-Modified-Since: ' .. tostring(lm) .. '\r\n')), '^HTTP/1.1 304', 'If-Modified-Since the same time: 304')
else
	tap.skip(2, 'lem.fs not there: no modification times')
end
-- keep-alive with sendfile: two files on one connection
c = assert(streams.tcp_connect('127.0.0.1', port))
c:write('GET /index.html HTTP/1.1\r\nHost: x\r\n\r\nGET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
resp = utils.timeout(20, c.read, c, '*a') or ''
c:close()
local _, nanswers = resp:gsub('<p>index</p>', '')
tap.is(nanswers, 2, 'two files on one kept-alive connection')
stop(p, pid)
os.execute('rm -rf ' .. dir)

-- the JSON API
port, p, pid, banner = start('json-api.lua')
tap.like(banner, 'json api on port', 'json-api.lua starts')
local http = require 'lem.http'
local api = 'http://127.0.0.1:' .. port
local r = assert(http.request('POST', api .. '/notes', { ['Content-Type'] = 'application/json' },
	'{"text": "buy milk \\u00e9"}'))
tap.same({ r.status, r.headers.location, r:body() }, { 201, '/notes/1', '{"id":1,"text":"buy milk \195\169"}\n' },
	'POST /notes creates a note')
r = assert(http.request('GET', api .. '/notes'))
tap.is(r:body(), '[{"id":1,"text":"buy milk \195\169"}]\n', 'GET /notes lists it')
r = assert(http.request('POST', api .. '/notes', nil, '{"text": '))
tap.same({ r.status, (r:body():match('invalid JSON')) }, { 400, 'invalid JSON' }, 'invalid JSON: 400')
r = assert(http.request('DELETE', api .. '/notes/1'))
tap.same({ r.status, r:body() }, { 204, '' }, 'DELETE: 204')
r = assert(http.request('GET', api .. '/notes/1'))
tap.is(r.status, 404, 'then it is gone')
r:body()
stop(p, pid)

-- the WebSocket chat
port, p, pid, banner = start('wschat.lua')
tap.like(banner, 'websocket chat on port', 'wschat.lua starts')
local websocket = require 'lem.websocket'
r = assert(http.request('GET', 'http://127.0.0.1:' .. port .. '/'))
tap.like(r:body(), 'new WebSocket', 'GET / gives the page')
local w1 = assert(websocket.connect('ws://127.0.0.1:' .. port .. '/ws'))
tap.is(w1:receive(), '* welcome, user1', 'a member is welcomed')
local w2 = assert(websocket.connect('ws://127.0.0.1:' .. port .. '/ws'))
w2:receive()
tap.is(w1:receive(), '* user2 joined', 'the first member hears of the second')
w2:send('hi there')
tap.is(w1:receive(), 'user2: hi there', 'a message reaches the others')
w2:close()
tap.is(w1:receive(), '* user2 left', 'and a member leaving is told')
w1:close()
stop(p, pid)

-- unix-echo: a path, the mode, credentials in the log; an abstract name
local sock = tap.tmpname('.sock')
local function ustart(...)
	local args = {}
	for i, a in ipairs({ ... }) do args[i] = tap.quote(a) end
	local up = assert(streams.popen('exec 2>&1; echo $$; exec ' .. tap.quote(tap.lem) ..
		' ' .. examples .. '/unix-echo.lua ' .. table.concat(args, ' ')))
	local upid = tap.kill_at_end(tonumber(up:read('*l')))
	return up, upid, up:read('*l')
end
p, pid, banner = ustart(sock, '0600')
tap.is(banner, 'unix echo server on ' .. sock .. '\n', 'unix-echo.lua starts on its path')
tap.is(tap.sh('stat -c %a ' .. tap.quote(sock)), '600\n', '... with the mode asked for')
c = assert(streams.unix_connect(sock))
c:write('hello unix\n')
tap.is(c:read('*l'), 'hello unix\n', 'unix-echo.lua echoes')
tap.is(p:read('*l'), 'connection from pid ' .. tap.pid() .. ' uid ' ..
	tap.sh('id -u'):gsub('\n', '') .. '\n', '... and logs the peer from its credentials')
c:close()
local p2, pid2, banner2 = ustart(sock)
tap.like(banner2, 'Address already in use', 'a second one on the same path: Address already in use')
stop(p2, pid2)
os.execute('kill -9 ' .. pid)   -- leaves the socket file behind
p:read('*a') p:close()
p, pid, banner = ustart(sock)
tap.is(banner, 'unix echo server on ' .. sock .. '\n', '... after a kill -9 the stale file is replaced')
stop(p, pid)
local abstract = '@lem-example-' .. tap.pid()
p, pid, banner = ustart(abstract)
tap.is(banner, 'unix echo server on ' .. abstract .. '\n', 'unix-echo.lua on an abstract name')
c = assert(streams.unix_connect(abstract))
c:write('abstract\n')
tap.is(c:read('*l'), 'abstract\n', '... echoes')
c:close()
stop(p, pid)

-- udp-echo: the server, and its client mode
port, p, pid, banner = start('udp-echo.lua')
tap.like(banner, 'udp echo server on', 'udp-echo.lua starts')
local u = assert(streams.udp_connect('127.0.0.1', port))
u:send('hello udp')
tap.is((utils.timeout(10, u.receive, u)), 'hello udp', 'udp-echo.lua echoes a datagram')
u:close()
local out, _, status = tap.sh(tap.quote(tap.lem) .. ' ' .. examples .. '/udp-echo.lua ' ..
	port .. ' 127.0.0.1 "from the client"')
tap.same({ out, status }, { 'from the client\n', 0 }, '... its client mode prints the answer')
stop(p, pid)
local err
out, err, status = tap.sh(tap.quote(tap.lem) .. ' ' .. examples .. '/udp-echo.lua ' ..
	port .. ' 127.0.0.1 anyone')
tap.ok(status == 1 and err:find('Connection refused'), 'the client, nobody listening: Connection refused', err)

-- bench/w1_http/lem.lua and HTTP/1.0
port, p, pid, banner = start(tap.dir .. '/../bench/w1_http/lem.lua')
tap.like(banner, 'w1 lem on port', 'the W1 server starts')
-- read('*a') on c, but interrupted if the server never closes (so that
-- the test fails instead of hanging)
local function read_to_end(x)
	local guard = utils.sleeper()
	utils.spawn(function()
		if guard:sleep(20 * tap.slow) == nil and x:busy() then x:interrupt() end
	end)
	local r, err = x:read('*a')
	guard:wakeup()
	return r, err
end
-- one answer: the header, then Content-Length bytes
local function answer(x)
	local head, len = {}, nil
	repeat
		local l = x:read('*l')
		if not l then return nil end
		head[#head + 1] = l
		len = tonumber(l:match('^Content%-Length: (%d+)')) or len
	until l == '\r\n'
	return table.concat(head), len and x:read(len)
end
c = assert(streams.tcp_connect('127.0.0.1', port))
c:write('GET / HTTP/1.0\r\nHost: x\r\n\r\n')
resp = read_to_end(c)
tap.ok(resp and resp:find('^HTTP/1.1 200') and resp:find('Hello, World!\n$') and
	not resp:find('[Kk]eep%-[Aa]live'), 'HTTP/1.0 without keep-alive: one answer, then the connection closes', resp)
c:close()
c = assert(streams.tcp_connect('127.0.0.1', port))
c:write('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n')
local head, b1 = answer(c)
c:write('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
local _, b2 = answer(c)
tap.ok(head and head:find('\r\nConnection: keep%-alive\r\n') and
	b1 == 'Hello, World!\n' and b2 == b1,
	'HTTP/1.0 asking for keep-alive: the answer says so, the connection stays', head)
c:close()
c = assert(streams.tcp_connect('127.0.0.1', port))
c:write('GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
head, b1 = answer(c)
resp = read_to_end(c)
tap.ok(head and not head:find('Connection') and b1 == 'Hello, World!\n' and
	resp and resp:find('\r\nConnection: close\r\n') and resp:find('Hello, World!\n$'),
	'HTTP/1.1: kept alive, closed after a request with Connection: close', resp)
c:close()
stop(p, pid)
http.close_idle()
collectgarbage() collectgarbage()
local n = nfds()
if n ~= fds0 then tap.diag(tap.fdlist()) end
tap.is(n, fds0, 'no descriptor leaked')
tap.cleanup()
tap.done()
