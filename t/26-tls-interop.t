-- t/26-tls-interop.t - lem.tls with other TLS implementations: openssl
-- s_server and s_client, curl, Python's ssl module
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local tlsh = dofile(tap.dir .. '/tlsh.lua')(tap)
local PLAN = 26
tlsh.skip_all(PLAN, 120)

local utils = require 'lem.utils'
local streams = require 'lem.streams'
local tls = require 'lem.tls'
local spawn = utils.spawn

tap.plan(PLAN, 120)
local c = tlsh.certs()
local q = tap.quote
local sctx = assert(tls.server { cert = c.cert, key = c.key, alpn = { 'http/1.1' } })
local cctx = assert(tls.client { ca = c.ca })

local python
for _, p in ipairs { '/usr/bin/python3', 'python3' } do
	if tlsh.have(p) then python = p break end
end
local have_curl = tlsh.have('curl')

-- ------------------------------------------------- openssl s_server
local function s_server(args)
	local p = tlsh.spawn('openssl s_server -accept 127.0.0.1:0 -naccept 1 ' ..
		'-cert ' .. q(c.cert) .. ' -key ' .. q(c.key) .. ' ' .. args)
	local port = p:line('^ACCEPT 127%.0%.0%.1:(%d+)')
	return p, tonumber(port)
end

do
	local p, port = s_server('-rev')
	local s, err = tls.connect('localhost', port, cctx)
	tap.ok(s, 'lem connects to openssl s_server', err or p:output())
	if s then
		tap.is(s:protocol(), 'TLSv1.3', '... TLS 1.3')
		tap.is(s:write('hello\n'), true, '... writes')
		tap.is(s:read('*l'), 'olleh\n', '... and reads what s_server -rev sends back')
		s:close()
	else
		tap.skip(3, 'no connection')
	end
	p:rest(10)
end

do
	local p, port = s_server('-rev -tls1_2')
	local s, err = tls.connect('localhost', port, cctx)
	tap.is(s and s:protocol(), 'TLSv1.2', 'an s_server that speaks TLS 1.2 only', err)
	tap.ok(s and s:write('abc\n') and s:read('*l') == 'cba\n', '... works over it')
	-- s_server killed: the end of TCP without close_notify
	p:kill()
	tap.same(s and tap.pack(s:read()) or {}, { nil, 'truncated' },
		'an s_server killed under the connection: truncated')
	if s then s:close() end
end

-- ------------------------------------------------- openssl s_client
local function s_client(port, args, input)
	return tlsh.spawn('openssl s_client -connect 127.0.0.1:' .. port ..
		' -CAfile ' .. q(c.ca) .. ' -verify_return_error -ign_eof ' .. args, input)
end

do
	local srv = assert(tls.listen('127.0.0.1', 0, sctx))
	local _, port = srv:address()
	local p = s_client(port, '-servername localhost -brief -alpn http/1.1', 'hi lem\n')
	local s = srv:accept()
	local line = s:read('*l')
	tap.is(line, 'hi lem\n', 'openssl s_client -> a lem server: the line arrives', p:output())
	tap.same({ s:protocol(), s:alpn() }, { 'TLSv1.3', 'http/1.1' },
		'... TLS 1.3 and ALPN on the server side')
	tap.is(s:write('hello s_client\n'), true, '... the answer is written')
	s:close()
	local out = p:rest()
	tap.like(out, 'Verification: OK', "... s_client verified lem's certificate", out)
	tap.like(out, 'hello s_client', '... and got the answer', out)

	p = s_client(port, '-servername localhost -tls1_2 -quiet', 'twelve\n')
	s = srv:accept()
	tap.is(s:read('*l'), 'twelve\n', 's_client -tls1_2: works')
	tap.is(s:protocol(), 'TLSv1.2', '... over TLS 1.2')
	s:close()
	p:rest()
	srv:close()
end

-- ------------------------------------------------------------- curl
if have_curl then
	local srv = assert(tls.listen('127.0.0.1', 0, sctx))
	local _, port = srv:address()
	local served = 0
	spawn(function()
		srv:autospawn(function(s)
			-- a tiny HTTP/1.1 server: headers, then one answer
			local req = s:read('*l')
			while true do
				local l = s:read('*l')
				if not l or l == '\r\n' then break end
			end
			if req then
				served = served + 1
				s:write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n' ..
					'Content-Length: 12\r\nConnection: close\r\n\r\nhello, curl\n')
			end
			s:close()
		end)
	end)
	local base = '--resolve localhost:' .. port .. ':127.0.0.1 https://localhost:' .. port .. '/'
	local p = tlsh.spawn('curl -sS --cacert ' .. q(c.ca) .. ' -w "%{http_code} %{http_version}" ' .. base)
	local out = p:rest()
	tap.is(out, 'hello, curl\n200 1.1', 'curl --cacert against a lem HTTPS server', out)
	p = tlsh.spawn('curl -sS -o /dev/null ' .. base)
	out = p:rest()
	tap.like(out, 'curl: %(60%)', 'curl without the CA: the certificate is refused', out)
	p = tlsh.spawn('curl -sS --tlsv1.2 --tls-max 1.2 --cacert ' .. q(c.ca) .. ' ' .. base)
	tap.is(p:rest(), 'hello, curl\n', 'curl over TLS 1.2')
	tap.is(served, 2, 'the server answered the two that got through')
	srv:close()
else
	tap.skip(4, 'curl is not installed')
end

-- ----------------------------------------------------- Python's ssl
if python then
	local client = tap.writefile(tap.tmpname('.py'), [[
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
with socket.create_connection(('127.0.0.1', int(sys.argv[1]))) as raw:
    with ctx.wrap_socket(raw, server_hostname='localhost') as s:
        print(s.version())
        s.sendall(b'from python\n')
        data = b''
        while not data.endswith(b'\n'):
            chunk = s.recv(100)
            if not chunk:
                break
            data += chunk
        print(data.decode().strip())
        s.unwrap()
        print('unwrapped')
]])
	local srv = assert(tls.listen('127.0.0.1', 0, sctx))
	local _, port = srv:address()
	local p = tlsh.spawn(python .. ' ' .. q(client) .. ' ' .. port .. ' ' .. q(c.ca))
	local s = srv:accept()
	tap.is(s:read('*l'), 'from python\n', "Python's ssl client -> lem", p:output())
	s:write('from lem\n')
	tap.same(tap.pack(s:read()), { nil, 'closed' }, "... the client's close_notify (unwrap)")
	local out = p:rest()
	tap.is(out, 'TLSv1.3\nfrom lem\nunwrapped\n', "... Python got lem's answer and close_notify", out)
	srv:close()

	local server = tap.writefile(tap.tmpname('.py'), [[
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
with socket.socket() as ls:
    ls.bind(('127.0.0.1', 0))
    ls.listen(1)
    print('port', ls.getsockname()[1], flush=True)
    conn, _ = ls.accept()
    with ctx.wrap_socket(conn, server_side=True) as s:
        data = b''
        while len(data) < 100000:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.sendall(data[::-1])
        s.unwrap()
    print('done', len(data), flush=True)
]])
	p = tlsh.spawn(python .. ' ' .. q(server) .. ' ' .. q(c.rsa_cert) .. ' ' .. q(c.rsa_key))
	local pport = tonumber(p:line('^port (%d+)'))
	local cs, err = tls.connect('localhost', pport, cctx)
	tap.ok(cs, "lem -> Python's ssl server (an RSA certificate)", err or p:output())
	local data = ('0123456789'):rep(10000)
	tap.ok(cs and cs:write(data), '... 100 kB written')
	tap.ok(cs and cs:read(#data) == data:reverse(), '... and 100 kB read back')
	tap.same(cs and tap.pack(cs:read()) or {}, { nil, 'closed' }, "... then Python's close_notify")
	tap.like(p:rest(), 'done 100000', '... Python saw all of it')
else
	tap.skip(8, 'python3 is not installed')
end

tap.done()
