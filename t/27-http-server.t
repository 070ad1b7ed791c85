-- t/27-http-server.t - lem.http's server: requests, responses, framing,
-- keep-alive and pipelining, the automatic answers, timeouts, close with
-- grace, curl and Python's http.client as clients (lem-http(3))
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local http = require 'lem.http'

tap.plan(125, 90)

local timeout = utils.timeout

-- a server running handler on a free port; returns srv, port
local function server(handler, options)
	local srv = assert(http.listen('127.0.0.1', 0, options))
	local _, port = srv:address()
	utils.spawn(function() srv:serve(handler) end)
	return srv, port
end

-- send raw bytes, read until the server closes (at most 5 s)
local function raw(port, bytes)
	local s = assert(streams.tcp_connect('127.0.0.1', port))
	if bytes then s:write(bytes) end
	local out = timeout(5, s.read, s, '*a') or ''
	if not s:closed() then s:close() end
	return out
end

-- read one response from s: status, headers (lower case), body
local function response(s, head)
	local line = timeout(5, s.read, s, '*l')
	if not line then return nil end
	local status = tonumber(line:match('^HTTP/1%.%d (%d%d%d)'))
	local h = {}
	while true do
		local l = timeout(5, s.read, s, '*l')
		if not l or l == '\r\n' then break end
		local k, v = l:match('^([^:]+):%s*(.-)%s*\r?\n$')
		if k then h[k:lower()] = v end
	end
	local body = ''
	if head then return status, h, body end
	if h['content-length'] then
		local n = tonumber(h['content-length'])
		body = n > 0 and timeout(5, s.read, s, n) or ''
	elseif h['transfer-encoding'] == 'chunked' then
		local parts = {}
		while true do
			local sz = tonumber(timeout(5, s.read, s, '*l'), 16)
			if not sz or sz == 0 then timeout(5, s.read, s, '*l') break end
			parts[#parts + 1] = timeout(5, s.read, s, sz)
			timeout(5, s.read, s, '*l')
		end
		body = table.concat(parts)
	end
	return status, h, body
end

local function connect(port)
	return assert(streams.tcp_connect('127.0.0.1', port))
end

local GET = 'GET %s HTTP/1.1\r\nHost: x\r\n\r\n'
-- for raw(): the server closes after the answer
local GETC = 'GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'

-- ------------------------------------------------------------ requests
local seen
local srv, port = server(function(req, res)
	seen = req
	seen.copy = {
		method = req.method, target = req.target, path = req.path,
		query = req.query, version = req.version, peer = req.peer,
		headers = req.headers,
	}
	if req.path == '/body' then
		local b, err = req:body()
		return res:send(200, { ['Content-Type'] = 'text/plain' }, b or err)
	elseif req.path == '/read' then
		local parts = {}
		while true do
			local d, err = req:read(3)
			if not d then parts[#parts + 1] = '|' .. tostring(err) break end
			parts[#parts + 1] = d
		end
		return res:send(200, nil, table.concat(parts, ','))
	elseif req.path == '/stream' then
		res:start(200, { ['Content-Type'] = 'text/plain' })
		res:write('hello, ')
		res:write('')
		res:write('world')
		return res:finish()
	elseif req.path == '/length' then
		res:start(200, { ['Content-Length'] = 10 })
		res:write('01234')
		res:write('56789')
		return res:finish()
	elseif req.path == '/nothing' then
		return
	elseif req.path == '/cookies' then
		return res:send(200, { ['Set-Cookie'] = { 'a=1', 'b=2' } }, 'c')
	elseif req.path == '/204' then
		return res:send(204)
	elseif req.path == '/close' then
		return res:send(200, { Connection = 'close' }, 'bye')
	end
	res:send(200, { ['Content-Type'] = 'text/plain', ['X-Path'] = req.path },
		'Hello, World!\n')
end)

local c = connect(port)
c:write('GET /a%20b/c?x=1&y=%20 HTTP/1.1\r\nHost: example\r\nUser-Agent: t27\r\n' ..
	'Accept: a\r\naccept: b\r\nCookie: k=v\r\n\r\n')
local st, h, body = response(c)
tap.is(st, 200, 'a GET is answered 200')
tap.is(body, 'Hello, World!\n', 'with the body given to res:send')
tap.is(h['content-length'], '14', 'Content-Length is added')
tap.like(h['date'] or '', '^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d GMT$', 'Date is added, an IMF-fixdate')
tap.is(h['content-type'], 'text/plain', 'the handler\'s fields are sent')
tap.is(h['connection'], nil, 'an HTTP/1.1 keep-alive answer says nothing of Connection')
local r = seen.copy
tap.is(r.method, 'GET', 'req.method')
tap.is(r.target, '/a%20b/c?x=1&y=%20', 'req.target is raw')
tap.is(r.path, '/a b/c', 'req.path is percent-decoded')
tap.is(r.query, 'x=1&y=%20', 'req.query is raw')
tap.is(r.version, '1.1', 'req.version')
tap.is(r.peer, '127.0.0.1', 'req.peer is the client\'s address')
tap.is(r.headers['user-agent'], 't27', 'req.headers has lower-case names')
tap.is(r.headers['accept'], 'a, b', 'repeated fields are joined with ", "')
tap.is(r.headers.host, 'example', 'Host is a field like the others')
-- keep-alive: the same connection goes on
c:write(GET:format('/second'))
st, h, body = response(c)
tap.is(h['x-path'], '/second', 'a second request on the same connection is answered')
tap.is(seen.copy.query, nil, 'req.query is nil without a "?"')
c:write('GET /x HTTP/1.1\r\nHost: x\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n\r\n')
response(c)
tap.same(seen.copy.headers['set-cookie'], { 'a=1', 'b=2' }, 'set-cookie is a list')
c:write(GET:format('/cookies'))
st, h = response(c)
tap.is(h['set-cookie'], 'b=2', 'a list value is sent as one field line each')

-- pipelining: three at once, answered in order
c:write(GET:format('/p1') .. GET:format('/p2') .. GET:format('/p3'))
local order = {}
for i = 1, 3 do
	local _, hh = response(c)
	order[i] = hh['x-path']
end
tap.same(order, { '/p1', '/p2', '/p3' }, 'pipelined requests are answered in order')

-- HEAD
c:write('HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n')
st, h = response(c, true)
tap.is(h['content-length'], '14', 'HEAD gets the Content-Length of GET')
c:write(GET:format('/after-head'))
st, h, body = response(c)
tap.is(body, 'Hello, World!\n', 'and no body: the next answer follows at once')

-- streaming
c:write(GET:format('/stream'))
st, h, body = response(c)
tap.is(h['transfer-encoding'], 'chunked', 'a streamed answer without a length is chunked')
tap.is(body, 'hello, world', 'its chunks make the body')
c:write(GET:format('/length'))
st, h, body = response(c)
tap.is(h['content-length'], '10', 'a streamed answer keeps the Content-Length it was given')
tap.is(h['transfer-encoding'], nil, 'and is not chunked')
tap.is(body, '0123456789', 'and its writes make the body')
c:write(GET:format('/nothing'))
st, h, body = response(c)
tap.same({ st, h['content-length'], body }, { 200, '0', '' }, 'a handler that sends nothing gives 200 with no body')
c:write(GET:format('/204'))
st, h, body = response(c, true)
tap.same({ st, h['content-length'] }, { 204, nil }, '204 has no Content-Length')

-- bodies
c:write('POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world')
st, h, body = response(c)
tap.is(body, 'hello world', 'req:body() gives a Content-Length body')
c:write('POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' ..
	'5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n')
st, h, body = response(c)
tap.is(body, 'hello world', 'req:body() decodes a chunked body (extensions, trailers)')
c:write('POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\nabcdefg')
st, h, body = response(c)
tap.is(body, 'abc,def,g,|nil', 'req:read(n) streams the body, nil at its end')
c:write('POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nXXXXX' .. GET:format('/unread'))
response(c)
st, h = response(c)
tap.is(h['x-path'], '/unread', 'an unread body is skipped before the next request')
-- 100-continue
c:write('POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n')
local cont = timeout(5, c.read, c, '*l')
tap.is(cont, 'HTTP/1.1 100 Continue\r\n', 'Expect: 100-continue is answered when the body is read')
timeout(5, c.read, c, '*l')
c:write('data')
st, h, body = response(c)
tap.is(body, 'data', 'and the body comes after it')
c:write('POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n')
st, h = response(c)
tap.is(st, 200, 'a handler that does not read the body answers without 100 Continue')
tap.is(h['connection'], nil, 'and the connection stays (the body is short)')
c:write('data' .. GET:format('/after-expect'))
st, h = response(c)
tap.is(h['x-path'], '/after-expect', 'the body that came anyway is skipped')
-- Connection: close from the handler
c:write(GET:format('/close'))
st, h, body = response(c)
tap.is(h['connection'], 'close', 'Connection: close from the handler is sent')
tap.is(timeout(5, c.read, c), nil, 'and the connection is closed after the answer')
c:close()

-- HTTP/1.0
local out = raw(port, 'GET /old HTTP/1.0\r\n\r\n')
tap.like(out, '^HTTP/1%.1 200 OK\r\n', 'HTTP/1.0 is answered')
tap.like(out, 'Connection: close\r\n', 'HTTP/1.0 without keep-alive: Connection: close and closed')
c = connect(port)
c:write('GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
st, h = response(c)
tap.is(h['connection'], 'keep-alive', 'an HTTP/1.0 keep-alive answer carries Connection: keep-alive')
c:write('GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
st, h = response(c, true)
tap.same({ h['transfer-encoding'], h['connection'] }, { nil, 'close' }, 'a 1.0 streamed answer is not chunked and closes')
tap.is(timeout(5, c.read, c, '*a'), 'hello, world', 'it is close-delimited')
c:close()

-- ------------------------------------------------------ automatic answers
local function status_of(bytes)
	local o = raw(port, bytes)
	return tonumber(o:match('^HTTP/1%.1 (%d%d%d)')), o
end
tap.is(status_of('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n'), 400, 'Content-Length with Transfer-Encoding: 400')
tap.is(status_of('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'), 400, 'differing Content-Lengths: 400')
tap.is(status_of('GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n'), 400, 'obsolete line folding: 400')
tap.is(status_of('GET / HTTP/1.1\r\nHost: x\rX: a\r\n\r\n'), 400, 'a bare CR: 400')
tap.is(status_of('GET / HTTP/1.1\r\n\r\n'), 400, 'no Host in HTTP/1.1: 400')
tap.is(status_of('GET / HTTP/1.1\r\nHost : x\r\n\r\n'), 400, 'white space before the colon: 400')
tap.is(status_of('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n'), 400, 'an invalid Content-Length: 400')
tap.is(status_of('GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n'), 400, 'a last coding that is not chunked: 400')
tap.is(status_of('GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo, chunked\r\n\r\n'), 501, 'an unknown coding before chunked: 501')
tap.is(status_of('GET / HTTP/2.0\r\nHost: x\r\n\r\n'), 505, 'HTTP/2.0: 505')
tap.is(status_of('GET /' .. ('a'):rep(20000) .. ' HTTP/1.1\r\nHost: x\r\n\r\n'), 414, 'a request line over the limit: 414')
tap.is(status_of('GET / HTTP/1.1\r\nHost: x\r\nX: ' .. ('a'):rep(20000) .. '\r\n\r\n'), 431, 'a head over the limit: 431')
local many = { 'GET / HTTP/1.1\r\nHost: x\r\n' }
for i = 1, 120 do many[#many + 1] = 'X-' .. i .. ': y\r\n' end
many[#many + 1] = '\r\n'
tap.is(status_of(table.concat(many)), 431, 'more than max_headers fields: 431')
local st2, o2 = status_of('POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n')
tap.is(st2, 200, 'an invalid chunk size fails req:body() ...')
tap.like(o2, 'protocol error', '... with nil, "protocol error"')
st2, o2 = status_of('POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n' .. GET:format('/next'))
tap.is(st2, 200, 'an unread bad chunked body: the answer goes ...')
tap.ok(not o2:find('/next', 1, true), '... and the connection closes: what follows is not served')
tap.like(raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n'), 'Connection: close', 'an automatic answer closes the connection')
tap.is(raw(port, 'GET / HTTP/1.1\r\nHost: x'), '', 'a head cut by the end of the connection gets no answer')
srv:close()

-- body limits, 413, the body-fails answers
srv, port = server(function(req, res)
	if req.path == '/quiet' then
		req:body()
		return
	end
	local b, err = req:body()
	res:send(200, nil, b and ('got ' .. #b) or err)
end, { max_body_size = 10 })
tap.like(raw(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n' .. ('x'):rep(11)), 'too large$', 'a body over max_body_size: nil, "too large"')
tap.like(raw(port, 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nxxxxxx\r\n6\r\nxxxxxx\r\n0\r\n\r\n'), 'too large$', 'a chunked body over max_body_size too')
tap.like(raw(port, 'POST /quiet HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n' .. ('x'):rep(11)), '^HTTP/1%.1 413 ', 'a body too large and nothing sent: 413')
tap.like(raw(port, 'POST /quiet HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nq\r\n'), '^HTTP/1%.1 400 ', 'bad framing and nothing sent: 400')
tap.like(raw(port, 'POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 10\r\n\r\n' .. ('x'):rep(10)), 'got 10', 'a body of max_body_size is read')
srv:close()

-- ---------------------------------------------------------- handler errors
local calls = 0
srv, port = server(function(req, res)
	calls = calls + 1
	if req.path == '/boom' then error('handler failed on purpose') end
	if req.path == '/late' then
		res:start(200)
		res:write('partial')
		error('late failure')
	end
	if req.path == '/badheader' then
		return res:send(200, { ['X-Bad'] = 'a\r\nInjected: yes' }, 'x')
	end
	res:send(200, nil, 'fine')
end)
-- the errors' reports go to this test's stderr: keep them out of sight
c = connect(port)
c:write(GET:format('/boom'))
st, h, body = response(c)
tap.is(st, 500, 'a handler error is answered with 500')
tap.is(h['connection'], 'close', 'and the connection is closed')
tap.is(timeout(5, c.read, c), nil, 'the client sees the end')
c:close()
local o3 = raw(port, GET:format('/badheader'))
tap.like(o3, '^HTTP/1%.1 500 ', 'a field value with CR LF raises: 500')
tap.unlike = tap.unlike or function(s, p, d) return tap.ok(not tostring(s):find(p), d) end
tap.ok(not o3:find('Injected'), 'nothing is injected')
o3 = raw(port, GET:format('/late'))
tap.like(o3, '^HTTP/1%.1 200 ', 'an error after the head was sent ...')
tap.ok(not o3:find('0\r\n\r\n', 1, true), '... is not finished as a complete answer')
tap.like(raw(port, GETC:format('/fine')), 'fine$', 'the server goes on serving')
srv:close()

-- the report of a handler error, from a server in a lem of its own
local script = tap.tmpname('.lua')
tap.writefile(script, [[
local http = require 'lem.http'
local streams = require 'lem.streams'
local utils = require 'lem.utils'
local srv = assert(http.listen('127.0.0.1', 0))
local _, port = srv:address()
utils.spawn(function()
	local s = assert(streams.tcp_connect('127.0.0.1', port))
	s:write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
	io.stdout:write(s:read('*l'))
	io.stdout:flush()
	s:close()
	srv:close()
end)
srv:serve(function() error('the message') end)
]])
local p = assert(streams.popen(tap.quote(tap.lem) .. ' ' .. tap.quote(script) .. ' 2>&1'))
out = timeout(20, p.read, p, '*a') or ''
p:close()
tap.like(out, 'lem: [^\n]*: the message\nstack traceback:\n', 'the error is printed as "lem: ", the message and a traceback')
tap.like(out, 'HTTP/1%.1 500 Internal Server Error', 'while the client gets 500')

-- --------------------------------------------------------------- timeouts
srv, port = server(function(req, res) res:send(200, nil, 'ok') end,
	{ header_timeout = 0.3, idle_timeout = 0.3 })
c = connect(port)
c:write('GET / HTTP/1.1\r\nHost: x\r\n')      -- and never the end
out = timeout(10, c.read, c, '*a')
tap.like(out or '', '^HTTP/1%.1 408 ', 'a head that does not come within header_timeout: 408')
tap.is(c:read(), nil, 'and the connection is closed')
c:close()
c = connect(port)
-- a slowloris: one byte at a time, never a whole head (the stream does
-- one thing at a time: write, then look whether an answer came)
do
	local bytes = 'GET / HTTP/1.1\r\nHost: x\r\nX-A: ' .. ('a'):rep(200)
	for i = 1, #bytes do
		if not c:write(bytes:sub(i, i)) then break end
		local got = timeout(0.05, c.read, c)
		if got then out = got break end
	end
	out = (out or '') .. (timeout(5, c.read, c, '*a') or '')
end
tap.like(out or '', '^HTTP/1%.1 408 ', 'a slowloris client is answered 408 at header_timeout')
c:close()
c = connect(port)
c:write(GET:format('/'))
st = response(c)
tap.is(st, 200, 'a request is answered')
tap.is(timeout(10, c.read, c, '*a'), '', 'and an idle connection is closed after idle_timeout, with no answer')
c:close()
c = connect(port)
tap.is(timeout(10, c.read, c, '*a'), '', 'a connection that sends nothing is closed without an answer')
c:close()
srv:close()

-- max_requests
srv, port = server(function(req, res) res:send(200, nil, 'ok') end, { max_requests = 2 })
c = connect(port)
c:write(GET:format('/1'))
st, h = response(c)
tap.is(h['connection'], nil, 'max_requests 2: the first answer keeps the connection')
c:write(GET:format('/2'))
st, h = response(c)
tap.is(h['connection'], 'close', 'the second says Connection: close')
tap.is(timeout(5, c.read, c), nil, 'and the connection ends')
c:close()
srv:close()

-- options
tap.fails('unknown option', 'an unknown option raises', http.listen, '127.0.0.1', 0, { nope = 1 })
tap.fails('max_body_size', 'a negative limit raises', http.listen, '127.0.0.1', 0, { max_body_size = -1 })
tap.fails('header_timeout', 'a non-number timeout raises', http.listen, '127.0.0.1', 0, { header_timeout = 'x' })
tap.fails('function expected', 'serve without a handler raises', function()
	local s = assert(http.listen('127.0.0.1', 0))
	local ok, err = pcall(s.serve, s, 42)
	s:close()
	error(err)
end)
if pcall(require, 'lem.tls') then
	-- https itself: t/26-tls-http.t
	tap.fails("invalid value of option 'tls'", 'tls: a lem.tls server context, nothing else',
		http.listen, '127.0.0.1', 0, { tls = {} })
else
	tap.same(tap.pack(http.listen('127.0.0.1', 0, { tls = {} })), { nil, 'not supported' }, 'tls: nil, "not supported" without lem.tls')
end
local ls = assert(streams.tcp_listen('127.0.0.1', 0))
local hs = assert(http.server(ls))
tap.same(tap.pack(hs:address()), tap.pack(ls:address()), 'http.server wraps a lem.Server; srv:address()')
tap.fails('lem.Server expected', 'http.server on something else raises', http.server, {})
hs:close()
tap.ok(ls:closed(), 'srv:close() closes the lem.Server')

-- ------------------------------------------------------- close with grace
local started, release = 0, utils.condition()
srv, port = server(function(req, res)
	started = started + 1
	if req.path == '/slow' then release:wait() end
	res:send(200, nil, 'done ' .. req.path)
end)
local serve_result
do
	-- the server of this block is served by a coroutine whose result we want
	srv:close()
	srv = assert(http.listen('127.0.0.1', 0))
	_, port = srv:address()
	utils.spawn(function()
		serve_result = tap.pack(srv:serve(function(req, res)
			started = started + 1
			if req.path == '/slow' then release:wait() end
			res:send(200, nil, 'done ' .. req.path)
		end))
	end)
end
local busy = connect(port)
busy:write(GET:format('/slow'))
local idle = connect(port)
idle:write(GET:format('/quick'))
st, h, body = response(idle)
tap.is(body, 'done /quick', 'before close: an idle keep-alive connection')
tap.ok(tap.waitfor(function() return started >= 2 end), 'a slow request is in flight')
local closed_at
utils.spawn(function()
	local ok = srv:close(5)
	closed_at = ok
end)
tap.is(timeout(5, idle.read, idle), nil, 'srv:close() closes idle connections at once')
idle:close()
tap.ok(tap.waitfor(function() return serve_result ~= nil end), 'serve returns once the server closes')
tap.same(serve_result, { nil, 'interrupted' }, 'with nil, "interrupted"')
local refused = streams.tcp_connect('127.0.0.1', port)
tap.ok(refused == nil, 'no new connection is accepted')
tap.is(closed_at, nil, 'close waits while a request is in flight')
release:broadcast()
st, h, body = response(busy)
tap.is(body, 'done /slow', 'the request in flight is answered')
tap.is(h['connection'], 'close', 'with Connection: close')
tap.ok(tap.waitfor(function() return closed_at ~= nil end), 'close returns when every connection is gone')
tap.is(closed_at, true, 'with true')
busy:close()
tap.same(tap.pack(srv:close()), { nil, 'already closed' }, 'a second close: nil, "already closed"')

-- grace runs out
srv = assert(http.listen('127.0.0.1', 0))
_, port = srv:address()
local never = utils.condition()
utils.spawn(function()
	srv:serve(function(req, res)
		local ok, err = req:body()
		res:send(200, nil, 'x')
	end)
end)
busy = connect(port)
busy:write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc')
utils.sleep(0.1)
tap.same(tap.pack(timeout(10, srv.close, srv, 0.2)), { true }, 'close(grace) interrupts what is left after grace seconds')
tap.is(timeout(5, busy.read, busy, '*a'), '', 'the interrupted connection is closed')
busy:close()

-- res:sendfile: whole, a part, inside a chunked answer, for HEAD
local sfpath = tap.tmpname('.bin')
tap.writefile(sfpath, ('abcdefghij'):rep(10000))
srv, port = server(function(req, res)
	local f = assert(streams.sendfile(sfpath))
	if req.path == '/whole' then
		res:sendfile(f)
	elseif req.path == '/part' then
		res:sendfile(f, 5, 10)
	elseif req.path == '/chunked' then
		res:start(200)
		res:write('<')
		res:sendfile(f, 0, 3)
		res:write('>')
		res:finish()
	end
	f:close()
end)
c = connect(port)
c:write(GET:format('/whole'))
st, h, body = response(c)
tap.same({ st, h['content-length'], #body, body:sub(1, 12) }, { 200, '100000', 100000, 'abcdefghijab' },
	'res:sendfile(file): 200 with the file\'s length and bytes')
c:write(GET:format('/part'))
st, h, body = response(c)
tap.same({ h['content-length'], body }, { '10', 'fghijabcde' }, 'res:sendfile(file, offset, length)')
c:write(GET:format('/chunked'))
st, h, body = response(c)
tap.same({ h['transfer-encoding'], body }, { 'chunked', '<abc>' }, 'res:sendfile inside a chunked answer')
c:write('HEAD /whole HTTP/1.1\r\nHost: x\r\n\r\n')
st, h, body = response(c, true)
c:write(GET:format('/part'))
local st3, h3, body3 = response(c)
tap.same({ h['content-length'], body3 }, { '100000', 'fghijabcde' }, 'res:sendfile for HEAD: the length, no body')
c:close()
srv:close()

-- srv:close(grace) on SIGTERM (lem.signal) loses no answer in flight
local has_signal = pcall(require, 'lem.signal')
if has_signal then
	local gscript = tap.tmpname('.lua')
	tap.writefile(gscript, [[
local http = require 'lem.http'
local signal = require 'lem.signal'
local utils = require 'lem.utils'
io.stdout:setvbuf('line')
local srv = assert(http.listen('127.0.0.1', 0))
local gate = utils.condition()
utils.spawn(function()
	local l = signal.listen('SIGTERM')
	l:wait()
	l:close()
	gate:broadcast()
	print('closing', srv:close(10))
end)
print('port', select(2, srv:address()))
print('serve', srv:serve(function(req, res)
	print('started')
	gate:wait()
	utils.sleep(0.05)
	res:send(200, nil, 'finished ' .. req.path)
end))
]])
	local gp = assert(streams.popen('exec 2>&1; echo $$; exec ' .. tap.quote(tap.lem) .. ' ' .. tap.quote(gscript)))
	local gpid = tap.kill_at_end(tonumber(gp:read('*l')))
	local gport = tonumber((timeout(10, gp.read, gp, '*l') or ''):match('port%s+(%d+)'))
	local gc = connect(gport)
	gc:write(GET:format('/inflight'))
	local line = timeout(10, gp.read, gp, '*l')
	os.execute('kill -TERM ' .. gpid)
	st, h, body = response(gc)
	tap.same({ st, body, h['connection'] }, { 200, 'finished /inflight', 'close' }, 'SIGTERM, srv:close(grace): the answer in flight is sent whole, with Connection: close')
	gc:close()
	local rest = timeout(10, gp.read, gp, '*a') or ''
	gp:close()
	tap.is(line, 'started\n', 'the handler was running when the signal came')
	tap.like(rest, 'serve\tnil\tinterrupted\n', 'serve returns nil, "interrupted"')
	tap.like(rest, 'closing\ttrue\n', 'close returns true once the connection is gone')
else
	tap.skip(4, 'lem.signal not there')
end

-- ------------------------------------------------------------ interop
local function have(cmd)
	local o = io.popen('command -v ' .. cmd .. ' 2>/dev/null')
	local r = o:read('*a')
	o:close()
	return r ~= ''
end

local function run(cmd)
	local pp = assert(streams.popen(cmd .. ' 2>&1'))
	local o = timeout(30, pp.read, pp, '*a') or ''
	pp:close()
	return o
end

srv, port = server(function(req, res)
	if req.path == '/echo' then
		local b = req:body() or ''
		return res:send(200, { ['Content-Type'] = 'text/plain' }, req.method .. ' ' .. b)
	end
	res:start(200, { ['Content-Type'] = 'text/plain' })
	for i = 1, 3 do res:write('line ' .. i .. '\n') end
	res:finish()
end)
local base = 'http://127.0.0.1:' .. port
if have('curl') then
	tap.is(run('curl -s ' .. base .. '/'), 'line 1\nline 2\nline 3\n', 'curl reads a chunked answer')
	tap.is(run('curl -s -d hello ' .. base .. '/echo'), 'POST hello', 'curl posts a body')
	tap.is(run("head -c 2000 /dev/zero | tr '\\0' z | curl -s -H 'Expect: 100-continue' --data-binary @- " .. base .. "/echo"),
		'POST ' .. ('z'):rep(2000), 'curl with Expect: 100-continue')
	tap.like(run('curl -s -I ' .. base .. '/echo'), '^HTTP/1%.1 200 OK', 'curl -I (HEAD)')
	tap.is(run('curl -s ' .. base .. '/echo ' .. base .. '/echo'), 'GET GET ', 'curl reuses the connection for two URLs')
	tap.is(run('curl -s -0 ' .. base .. '/'), 'line 1\nline 2\nline 3\n', 'curl with HTTP/1.0 reads a close-delimited answer')
else
	tap.skip(6, 'curl not installed')
end
if have('python3') then
	local py = tap.tmpname('.py')
	tap.writefile(py, [[
import http.client, sys
c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]))
out = []
for i in range(3):
    c.request('POST', '/echo', body=b'x' * (i + 1) * 1000)
    r = c.getresponse()
    out.append('%d %d' % (r.status, len(r.read())))
c.request('GET', '/')
r = c.getresponse()
out.append(r.getheader('Transfer-Encoding') + ' ' + r.read().decode().replace('\n', '|'))
c.request('POST', '/echo', body=iter([b'ab', b'cd']), encode_chunked=True)
r = c.getresponse()
out.append(r.read().decode())
print(';'.join(out))
]])
	tap.is(run('python3 ' .. tap.quote(py) .. ' ' .. port),
		'200 1005;200 2005;200 3005;chunked line 1|line 2|line 3|;POST abcd\n',
		'Python\'s http.client: keep-alive, lengths, chunked both ways')
else
	tap.skip(1, 'python3 not installed')
end
srv:close()

tap.done()
