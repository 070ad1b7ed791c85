-- t/28-http-client.t - lem.http's client: responses, bodies, the pool of
-- keep-alive connections, deadlines, errors, and Python's http.server
-- and nginx as servers (lem-http(3))
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local http = require 'lem.http'

tap.plan(52, 90)

local timeout = utils.timeout

local function server(handler, options)
	local srv = assert(http.listen('127.0.0.1', 0, options))
	local _, port = srv:address()
	utils.spawn(function() srv:serve(handler) end)
	return srv, port
end

-- which connection served a request: res is the server's Conn
local conns, nconns = {}, 0
local release = utils.condition()
local srv, port = server(function(req, res)
	if not conns[res] then conns[res] = true; nconns = nconns + 1 end
	local p = req.path
	if p == '/chunked' then
		res:start(200, { ['Content-Type'] = 'text/plain' })
		for i = 1, 5 do res:write(('chunk %d;'):format(i)) end
		return res:finish()
	elseif p == '/echo' then
		local b = req:body()
		return res:send(200, { ['X-Method'] = req.method,
			['X-Length'] = req.headers['content-length'] or '-',
			['X-Custom'] = req.headers['x-custom'] or '-' }, b)
	elseif p == '/big' then
		return res:send(200, nil, ('b'):rep(300000))
	elseif p == '/slow' then
		release:wait()
		return res:send(200, nil, 'late')
	elseif p == '/slowbody' then
		res:start(200, { ['Content-Length'] = 10 })
		res:write('12345')
		release:wait()
		res:write('67890')
		return res:finish()
	elseif p == '/close' then
		return res:send(200, { Connection = 'close', ['X-Conn'] = tostring(res) },
			'closing')
	elseif p == '/multi' then
		return res:send(201, { ['Set-Cookie'] = { 'a=1', 'b=2' },
			['X-A'] = { 'x', 'y' } }, '')
	elseif p == '/status' then
		return res:send(tonumber(req.query), nil,
			req.query ~= '304' and 'status ' .. req.query or nil)
	end
	res:send(200, { ['Content-Type'] = 'text/plain', ['X-Conn'] = tostring(res) },
		'hello ' .. p)
end)
local base = 'http://127.0.0.1:' .. port

local res = assert(http.request('GET', base .. '/a'))
tap.is(res.status, 200, 'res.status')
tap.is(res.version, '1.1', 'res.version')
tap.is(res.headers['content-type'], 'text/plain', 'res.headers, lower-case names')
tap.is(res:body(), 'hello /a', 'res:body()')
res = assert(http.request('GET', base .. '/chunked'))
tap.is(res.headers['transfer-encoding'], 'chunked', 'a chunked answer ...')
tap.is(res:body(), 'chunk 1;chunk 2;chunk 3;chunk 4;chunk 5;', '... is decoded')
res = assert(http.request('GET', base .. '/chunked'))
local parts = {}
while true do
	local d = res:read(4)
	if not d then break end
	parts[#parts + 1] = d
end
tap.ok(#parts >= 10, 'res:read(n) streams the body in pieces of at most n')
tap.is(table.concat(parts), 'chunk 1;chunk 2;chunk 3;chunk 4;chunk 5;', 'and they make the body')
res = assert(http.request('POST', base .. '/echo', { ['X-Custom'] = 'yes' }, 'payload'))
tap.is(res.headers['x-method'], 'POST', 'the method is sent')
tap.is(res.headers['x-length'], '7', 'Content-Length of the body is added')
tap.is(res.headers['x-custom'], 'yes', 'the caller\'s fields are sent')
tap.is(res:body(), 'payload', 'and the body')
res = assert(http.request('PUT', base .. '/echo'))
tap.is(res.headers['x-length'], '0', 'PUT without a body says Content-Length: 0')
res:body()
res = assert(http.request('GET', base .. '/multi'))
tap.is(res.status, 201, 'another status')
tap.same(res.headers['set-cookie'], { 'a=1', 'b=2' }, 'set-cookie is a list')
tap.is(res.headers['x-a'], 'x, y', 'other repeated fields are joined')
tap.is(res:body(), '', 'an empty body')
res = assert(http.request('HEAD', base .. '/big'))
tap.is(res.headers['content-length'], '300000', 'HEAD: the length of the GET')
tap.is(res:body(), '', 'and no body')
res = assert(http.request('GET', base .. '/big'))
tap.is(#res:body(), 300000, 'a big body')
res = assert(http.request('GET', base .. '/status?404'))
tap.same({ res.status, res:body() }, { 404, 'status 404' }, 'a 404 is a response, not an error')
res = assert(http.request('GET', base .. '/status?304'))
tap.same({ res.status, res:body() }, { 304, '' }, 'a 304 has no body')

-- the pool
local before = nconns
for i = 1, 5 do
	res = assert(http.request('GET', base .. '/p' .. i))
	res:body()
end
tap.is(nconns - before, 0, 'requests in sequence reuse the pooled connection')
local r1 = assert(http.request('GET', base .. '/unread'))
local r2 = assert(http.request('GET', base .. '/second'))
tap.is(r2:body(), 'hello /second', 'a connection whose body is unread is not handed out')
tap.is(r1:body(), 'hello /unread', 'and the first body is still there')
res = assert(http.request('GET', base .. '/close'))
local closed_conn = res.headers['x-conn']
tap.is(res:body(), 'closing', 'Connection: close from the server')
res = assert(http.request('GET', base .. '/after-close'))
tap.is(res:body(), 'hello /after-close', 'the next request is answered')
tap.ok(res.headers['x-conn'] ~= closed_conn, 'on another connection')

-- a pooled connection that turned dirty: the server sent more than the
-- answer (a raw server, two answers to one request)
local rs = assert(streams.tcp_listen('127.0.0.1', 0))
local _, rport = rs:address()
local accepted = 0
utils.spawn(function()
	rs:autospawn(function(s)
		accepted = accepted + 1
		while true do
			local line = s:read('*l')
			if not line then break end
			repeat line = s:read('*l') until not line or line == '\r\n'
			s:write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
			s:write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra')
		end
		s:close()
	end)
end)
res = assert(http.request('GET', 'http://127.0.0.1:' .. rport .. '/'))
tap.is(res:body(), 'ok', 'a server that says more than its answer ...')
utils.sleep(0.05)
res = assert(http.request('GET', 'http://127.0.0.1:' .. rport .. '/'))
tap.is(res:body(), 'ok', '... is not asked again on the dirty connection')
tap.is(accepted, 2, 'a new connection was made')
rs:close()

-- a server that closes idle connections: the request is tried once more
srv:close()
srv, port = server(function(req, res) res:send(200, nil, 'fresh') end, { idle_timeout = 0.05 })
base = 'http://127.0.0.1:' .. port
res = assert(http.request('GET', base .. '/'))
res:body()
utils.sleep(0.3)
res = http.request('GET', base .. '/')
tap.is(res and res:body(), 'fresh', 'a pooled connection the server closed is not used')
srv:close()

-- deadlines
srv, port = server(function(req, res)
	if req.path == '/slow' then release:wait() end
	if req.path == '/slowbody' then
		res:start(200, { ['Content-Length'] = 10 })
		res:write('12345')
		release:wait()
		res:write('67890')
		return res:finish()
	end
	res:send(200, nil, 'x')
end)
base = 'http://127.0.0.1:' .. port
tap.same(tap.pack(timeout(0.2, http.request, 'GET', base .. '/slow')), { nil, 'timeout' }, 'a deadline ends a wait for the head: nil, "timeout"')
res = assert(http.request('GET', base .. '/slowbody'))
tap.same(tap.pack(timeout(0.2, res.body, res)), { nil, 'timeout' }, 'and a wait for the body')
release:broadcast()
local co = utils.spawn(function() return http.request('GET', base .. '/slow') end)
utils.sleep(0.05)
co:cancel()
tap.same(tap.pack(co:join()), { true, nil, 'cancelled' }, 'co:cancel() ends a request')
release:broadcast()
-- a connect that cannot succeed
local dead = assert(streams.tcp_listen('127.0.0.1', 0))
local _, dport = dead:address()
dead:close()
local ok, err = http.request('GET', 'http://127.0.0.1:' .. dport .. '/')
tap.ok(ok == nil and type(err) == 'string', 'a refused connection: nil, message')
srv:close()

-- a body over max
srv, port = server(function(req, res) res:send(200, nil, ('z'):rep(1000)) end)
res = assert(http.request('GET', 'http://127.0.0.1:' .. port .. '/'))
tap.same(tap.pack(res:body(100)), { nil, 'too large' }, 'res:body(max) beyond max: nil, "too large"')
res = assert(http.request('GET', 'http://127.0.0.1:' .. port .. '/'))
tap.is(#res:body(1000), 1000, 'res:body(max) up to max')
srv:close()

-- a server that breaks the protocol
rs = assert(streams.tcp_listen('127.0.0.1', 0))
_, rport = rs:address()
utils.spawn(function()
	rs:autospawn(function(s)
		s:read('*l')
		s:write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc')
		s:close()
	end)
end)
tap.same(tap.pack(http.request('GET', 'http://127.0.0.1:' .. rport .. '/')), { nil, 'protocol error' }, 'a malformed answer: nil, "protocol error"')
rs:close()

-- misuse and what is not supported
tap.fails('invalid URL', 'a URL that is not one raises', http.request, 'GET', 'nonsense')
tap.fails('string expected', 'a method that is not a string raises', http.request, 1, 'http://x/')
tap.fails('invalid method', 'a method that is not a token raises', http.request, 'G T', 'http://127.0.0.1:1/')
tap.fails('invalid value', 'a field value with CR LF raises', function()
	local s2, p2 = server(function(_, r) r:send(200) end)
	local ok2, e2 = pcall(http.request, 'GET', 'http://127.0.0.1:' .. p2 .. '/', { X = 'a\r\nB: c' })
	s2:close()
	error(e2)
end)
tap.same(tap.pack(http.request('GET', 'ftp://example/')), { nil, 'not supported' }, 'another scheme: nil, "not supported"')
local has_tls = pcall(require, 'lem.tls')
if has_tls then
	tap.skip(1, 'lem.tls is there: https is tested with it')
else
	tap.same(tap.pack(http.request('GET', 'https://127.0.0.1:1/')), { nil, 'not supported' }, 'https without lem.tls: nil, "not supported"')
end

-- ------------------------------------------------------------- interop
local function have(cmd)
	local o = io.popen('command -v ' .. cmd .. ' 2>/dev/null')
	local r = o:read('*a')
	o:close()
	return r ~= ''
end

-- start cmd, which must listen on port; the process is killed at the end
local function daemon(cmd, port_)
	local p = assert(streams.popen('exec 2>&1; echo $$; exec ' .. cmd))
	local pid = tap.kill_at_end(tonumber(p:read('*l')))
	local up = tap.waitfor(function()
		local s = streams.tcp_connect('127.0.0.1', port_)
		if s then s:close() return true end
		return false
	end)
	return up, p, pid
end

local function free_port()
	local l = assert(streams.tcp_listen('127.0.0.1', 0))
	local _, fp = l:address()
	l:close()
	return fp
end

local dir = tap.tmpname('.www')
os.execute('mkdir -p ' .. tap.quote(dir))
tap.writefile(dir .. '/index.txt', 'from a file\n')
tap.writefile(dir .. '/big.bin', ('0123456789'):rep(50000))
if have('python3') then
	local pport = free_port()
	local up, p, pid = daemon('python3 -m http.server --bind 127.0.0.1 --directory ' ..
		tap.quote(dir) .. ' ' .. pport, pport)
	if up then
		local b = 'http://127.0.0.1:' .. pport
		res = assert(http.request('GET', b .. '/index.txt'))
		tap.same({ res.status, res:body() }, { 200, 'from a file\n' }, 'Python\'s http.server: a file')
		res = assert(http.request('GET', b .. '/big.bin'))
		tap.is(#res:body(), 500000, 'Python\'s http.server: a big file')
		res = assert(http.request('GET', b .. '/missing'))
		tap.is(res.status, 404, 'Python\'s http.server: 404')
		res:body()
	else
		tap.skip(3, 'python3 -m http.server did not start')
	end
	tap.kill(pid)
	p:read('*a')
	p:close()
else
	tap.skip(3, 'python3 not installed')
end
local nginx = have('nginx') and 'nginx' or (io.open('/usr/sbin/nginx') and '/usr/sbin/nginx')
if nginx then
	local nport = free_port()
	local nd = tap.tmpname('.nginx')
	os.execute('mkdir -p ' .. tap.quote(nd))
	tap.writefile(nd .. '/nginx.conf', ([[
daemon off;
master_process off;
pid @D@/nginx.pid;
error_log @D@/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path @D@/body;
	proxy_temp_path @D@/proxy;
	fastcgi_temp_path @D@/fastcgi;
	uwsgi_temp_path @D@/uwsgi;
	scgi_temp_path @D@/scgi;
	server {
		listen 127.0.0.1:@P@;
		root @R@;
		location /chunked { chunked_transfer_encoding on; return 200 "chunks"; }
	}
}
]]):gsub('@D@', nd):gsub('@P@', tostring(nport)):gsub('@R@', dir))
	local up, p, pid = daemon(nginx .. ' -p ' .. tap.quote(nd .. '/') .. ' -c ' ..
		tap.quote(nd .. '/nginx.conf') .. ' -e ' .. tap.quote(nd .. '/error.log'), nport)
	if up then
		local b = 'http://127.0.0.1:' .. nport
		res = assert(http.request('GET', b .. '/index.txt'))
		tap.same({ res.status, res:body() }, { 200, 'from a file\n' }, 'nginx: a file')
		res = assert(http.request('GET', b .. '/big.bin'))
		tap.is(#res:body(), 500000, 'nginx: a big file, kept alive')
		res = assert(http.request('HEAD', b .. '/big.bin'))
		tap.same({ res.headers['content-length'], res:body() }, { '500000', '' }, 'nginx: HEAD')
		res = assert(http.request('GET', b .. '/nothing-here'))
		tap.is(res.status, 404, 'nginx: 404')
		res:body()
	else
		tap.skip(4, 'nginx did not start')
	end
	tap.kill(pid)
	p:read('*a')
	p:close()
else
	tap.skip(4, 'nginx not installed')
end

tap.done()
