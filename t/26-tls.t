-- t/26-tls.t - lem.tls between lem and lem: contexts, TLS streams with
-- every stream method, handshakes under deadlines, failures that stay,
-- truncation, session resumption, ALPN, client certificates
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local tlsh = dofile(tap.dir .. '/tlsh.lua')(tap)
local PLAN = 123
tlsh.skip_all(PLAN, 60)

local utils = require 'lem.utils'
local streams = require 'lem.streams'
local tls = require 'lem.tls'
local spawn, yield, timeout = utils.spawn, utils.yield, utils.timeout

tap.plan(PLAN, 60)
local c = tlsh.certs()

-- ----------------------------------------------------------- module
tap.same({ type(tls.client), type(tls.server), type(tls.wrap),
	type(tls.connect), type(tls.listen), type(tls.Context) },
	{ 'function', 'function', 'function', 'function', 'function', 'table' },
	'lem.tls: client, server, wrap, connect, listen, Context')
tap.is(package.loaded['lem.streams'], streams, 'it loads lem.streams')

-- --------------------------------------------------------- contexts
local sctx = assert(tls.server { cert = c.cert, key = c.key })
local cctx = assert(tls.client { ca = c.ca })
tap.like(tostring(sctx), '^lem%.TLSContext %(server%): ', 'a server context')
tap.like(tostring(cctx), '^lem%.TLSContext %(client%): ', 'a client context')
tap.is(getmetatable(cctx), tls.Context, 'its metatable is tls.Context')

tap.fails("cert and key expected", 'tls.server{} raises', tls.server, {})
tap.fails("cert and key expected", 'tls.server without a key raises',
	tls.server, { cert = c.cert })
tap.fails("cert and key go together", 'tls.client with a cert alone raises',
	tls.client, { cert = c.client })
tap.fails("unknown option 'bogus'", 'an unknown option raises',
	tls.client, { bogus = 1 })
tap.fails("unknown option 'verify'", 'verify is no server option',
	tls.server, { cert = c.cert, key = c.key, verify = false })
tap.fails("verify: a boolean expected", 'verify must be a boolean',
	tls.client, { verify = 'no' })
tap.fails("alpn: the list is empty", 'an empty ALPN list raises',
	tls.client, { alpn = {} })
tap.fails("alpn: a name of 1 to 255 bytes", 'a 256-byte ALPN name raises',
	tls.client, { alpn = { ('x'):rep(256) } })
tap.fails("alpn: a list of strings", 'ALPN names are strings',
	tls.client, { alpn = { 1 } })
tap.fails("min_version: 'TLSv1.2' or 'TLSv1.3'", 'TLS 1.1 cannot be asked for',
	tls.client, { min_version = 'TLSv1.1' })
tap.fails("ca: invalid path", 'a path with a zero byte raises',
	tls.client, { ca = c.ca .. '\0x' })
tap.fails("table expected", 'options must be a table', tls.client, 'x')

tap.same(tap.pack(tls.server { cert = c.cert, key = c.other_key }),
	{ nil, 'key does not match the certificate' },
	'a key of another certificate: an error when the context is made')
tap.same(tap.pack(tls.server { cert = c.cert, key = c.rsa_key }),
	{ nil, 'key does not match the certificate' },
	'... also a key of another type')
tap.same(tap.pack(tls.server { cert = c.dir .. '/none.pem', key = c.key }),
	{ nil, c.dir .. '/none.pem: No such file or directory' },
	'a missing certificate file: path: strerror')
tap.like(select(2, tls.server { cert = c.key, key = c.key }),
	'^' .. c.key:gsub('%p', '%%%0') .. ': ', 'a file that holds no certificate')
tap.like(select(2, tls.server { cert = c.cert, key = c.cert }),
	'^' .. c.cert:gsub('%p', '%%%0') .. ': ', 'a file that holds no key')
tap.same(tap.pack(tls.client { ca = c.dir .. '/none.pem' }),
	{ nil, c.dir .. '/none.pem: No such file or directory' }, 'a missing CA file')
tap.ok(tls.client { ca = c.dir }, 'ca may be a directory')
tap.ok(tls.client(), 'tls.client() uses the system store')
tap.ok(tls.server { cert = c.rsa_cert, key = c.rsa_key }, 'an RSA certificate')
tap.ok(tls.server { cert = c.chain, key = c.key }, 'a chain file')

-- ------------------------------------------------------------ basics
local srv, port = tlsh.echo_server(sctx)

do
	local s, err = tls.connect('localhost', port, cctx)
	tap.like(tostring(s), '^lem%.Stream %(open%)', 'tls.connect: a lem.Stream', err)
	tap.is(getmetatable(s), streams.Stream, '... with the metatable of streams')
	local proto, cipher = s:protocol()
	tap.is(proto, 'TLSv1.3', 'TLS 1.3')
	tap.like(cipher, '^TLS_', '... and its cipher suite')
	tap.is(s:alpn(), nil, 'no ALPN asked for: none')
	tap.is(s:resumed(), false, 'a first connection is not resumed')
	tap.is(s:write('hello\n'), true, 'write')
	tap.is(s:read('*l'), 'hello\n', 'read(*l)')
	tap.is(s:write('abc\ndef\n'), true, 'write two lines')
	tap.is(s:read(3), 'abc', 'read(n)')
	tap.is(s:read('*l'), '\n', '... the rest of the line')
	tap.is(s:read(), 'def\n', 'read()')
	local cert = s:certificate()
	tap.same({ cert.subject, cert.issuer, cert.dns[1], cert.ip[1], cert.ip[2] },
		{ 'CN=localhost', 'CN=lem test CA', 'localhost', '127.0.0.1', '::1' },
		'certificate(): subject, issuer, DNS and IP names')
	local fp = tap.sh('openssl x509 -in ' .. c.cert .. ' -noout -fingerprint -sha256')
	tap.is('sha256 Fingerprint=' .. cert.fingerprint .. '\n', fp:gsub('SHA256', 'sha256'),
		'... its SHA-256 fingerprint, as openssl x509 prints it')
	tap.is(cert.pem, tap.readfile(c.cert), '... its PEM')
	tap.ok(cert.not_before <= os.time() and cert.not_after > os.time() + 86400,
		'... its validity in seconds since the epoch')
	tap.is(cert.serial, '02', '... its serial number in hex')
	tap.same(tap.pack(s:close()), { true }, 'close')
	tap.same(tap.pack(s:read()), { nil, 'closed' }, 'read after close')
	tap.same(tap.pack(s:protocol()), { nil, 'closed' }, 'protocol() after close')
	tap.same(tap.pack(s:close()), { nil, 'already closed' }, 'close twice')
end

tap.fails('TLS stream expected', 'certificate() on a plain stream raises',
	function()
		local a, b = tap.tcp_pair()
		local ok, err = pcall(a.certificate, a)
		a:close()
		b:close()
		error(err)
	end)

-- the server's view, and accept(): a TLS stream before its handshake
do
	local lsrv = assert(tls.listen('127.0.0.1', 0, sctx))
	local _, lport = lsrv:address()
	local plain = assert(streams.tcp_connect('127.0.0.1', lport))
	local s = lsrv:accept()
	tap.is(s:protocol(), nil, 'accept() hands out the stream before any handshake')
	local cl
	spawn(function() cl = tls.wrap(plain, cctx, 'localhost') cl:handshake() end)
	tap.is(s:handshake(), true, 'handshake() on the server side')
	tap.is(s:protocol(), 'TLSv1.3', '... then protocol()')
	tap.is(s:certificate(), nil, 'no client certificate: nil')
	tap.is(s:handshake(), true, 'handshake() again: true')
	assert(cl:write('ping'))
	tap.is(s:read(4), 'ping', 'data through an accepted stream')
	assert(cl:close())
	tap.same(tap.pack(s:read()), { nil, 'closed' }, "the peer's close_notify: closed")
	tap.is(s:closed(), true, '... and the stream is closed')
	lsrv:close()
end

-- big transfers: writes that fill the socket, a slow reader
do
	local a, b = tap.tcp_pair()
	tls.wrap(a, cctx, 'localhost')
	tls.wrap(b, sctx)
	local parts = {}
	for i = 1, 1024 * 1024 / 8 do parts[i] = ('%07d\n'):format(i) end
	local data = table.concat(parts) -- 8 MiB
	local r
	spawn(function() r = tap.pack(a:write(data)) end)
	local got, sleeper = {}, utils.sleeper()
	local n = 0
	while n < #data do
		local d = assert(b:read())
		got[#got + 1] = d
		n = n + #d
		if #got % 50 == 0 then sleeper:sleep(0.001) end
	end
	tap.ok(table.concat(got) == data, 'an 8 MiB write to a slow reader: all of it, in order')
	tap.ok(tap.waitfor(function() return r end) and r[1] == true, '... write returns true')
	-- and back, read with read(n)
	r = nil
	spawn(function() r = tap.pack(b:write(data)) end)
	local back = a:read(#data)
	tap.ok(back == data, '... and back, read(n) of 8 MiB')
	tap.ok(tap.waitfor(function() return r end) and r[1] == true, '... write returns true')
	-- a write cut short by a deadline: the count is honest.  The kernel
	-- buffers of both ends may take tens of MiB (tcp_rmem's maximum is
	-- 32 MiB on some machines): write until one write is cut short
	data = data:rep(4)
	local whole = 0
	local res = tap.pack(timeout(0.05, a.write, a, data))
	while res[1] == true and whole < 16 do
		whole = whole + 1
		res = tap.pack(timeout(0.05, a.write, a, data))
	end
	tap.same({ res[1], res[2], type(res[3]) }, { nil, 'timeout', 'number' },
		'a write to a reader that waits: nil, timeout, bytes sent')
	local sent = res[3] or 0
	r = nil
	spawn(function() r = tap.pack(a:write(data:sub(sent + 1))) end)
	back = b:read(#data * (whole + 1))
	tap.ok(back == data:rep(whole + 1), '... writing the rest gives the whole, nothing twice',
		('sent %d after %d whole writes'):format(sent, whole))
	tap.ok(tap.waitfor(function() return r end) and r[1] == true, '... write returns true')
	a:close()
	b:close()
end

-- read('*a') up to the close_notify
do
	local a, b = tap.tcp_pair()
	tls.wrap(a, cctx, 'localhost')
	tls.wrap(b, sctx)
	spawn(function()
		b:write('one\n')
		b:write('two\n')
		b:close()
	end)
	tap.is(a:read('*a'), 'one\ntwo\n', "read('*a'): everything up to close_notify")
	tap.is(a:closed(), true, '... and the stream is closed')
end

-- sendfile through TLS
do
	local name = tap.tmpname('.bin')
	local parts = {}
	for i = 1, 30000 do parts[i] = ('%06d\n'):format(i) end
	local content = table.concat(parts)
	tap.writefile(name, content)
	local f = assert(streams.sendfile(name))
	local a, b = tap.tcp_pair()
	tls.wrap(a, cctx, 'localhost')
	tls.wrap(b, sctx)
	local r
	spawn(function() r = tap.pack(b:sendfile(f, 7)) end)
	tap.is(a:read(#content - 7), content:sub(8), 'sendfile(file, offset) through TLS')
	while not r do yield() end
	tap.same(r, { true }, '... returns true')
	a:close()
	b:close()
	f:close()
end

-- truncation: the peer ends TCP without close_notify
do
	local a, b = tap.tcp_pair()
	tls.wrap(a, cctx, 'localhost')
	tls.wrap(b, sctx)
	local hs
	spawn(function() hs = b:handshake() end)
	assert(a:handshake())
	assert(tap.waitfor(function() return hs end))
	assert(b:write('abc'))
	assert(b:write('def'))
	b = nil
	collectgarbage()
	collectgarbage()        -- __gc closes without close_notify
	tap.same(tap.pack(a:read(10)), { nil, 'truncated' },
		'read(n): nil, truncated when the rest never comes')
	tap.is(a:read(), 'abcdef', '... the bytes that came are handed out first')
	tap.same(tap.pack(a:read()), { nil, 'truncated' }, '... then truncated again')
	tap.same(tap.pack(a:write('x')), { nil, 'truncated' }, '... also for a write')
	tap.same(tap.pack(a:close()), { true }, '... until the stream is closed')
end

-- handshakes are stream waits: deadlines, cancel, interrupt, busy
do
	local fds0 = tap.nfds()
	local mute = assert(streams.tcp_listen('127.0.0.1', 0))
	local _, mport = mute:address()
	local held = {}
	spawn(function()
		while true do
			local s = mute:accept()
			if not s then break end
			held[#held + 1] = s
		end
	end)
	tap.same(tap.pack(timeout(0.1, tls.connect, '127.0.0.1', mport, cctx)),
		{ nil, 'timeout' }, 'tls.connect to a server that never answers: timeout')
	local co = spawn(function() return tls.connect('127.0.0.1', mport, cctx) end)
	tap.ok(tap.waitfor(function() return #held == 2 end), '... a second one waits')
	co:cancel()
	tap.same(tap.pack(co:join()), { true, nil, 'cancelled' }, '... cancel ends it')

	local s = assert(streams.tcp_connect('127.0.0.1', mport))
	tls.wrap(s, cctx, 'localhost')
	local r
	spawn(function() r = tap.pack(s:handshake()) end)
	yield()
	tap.is(s:busy(), true, 'a handshake in progress: busy')
	tap.same(tap.pack(s:read()), { nil, 'busy' }, '... a read meanwhile: busy')
	tap.same(tap.pack(s:write('x')), { nil, 'busy' }, '... a write meanwhile: busy')
	tap.is(s:interrupt(), true, 'interrupt()')
	yield()
	tap.same(r, { nil, 'interrupted' }, '... ends the handshake: interrupted')
	tap.same(tap.pack(timeout(0.05, s.read, s)), { nil, 'timeout' },
		'the handshake of a read goes on, under its deadline')
	s:close()
	for _, h in ipairs(held) do h:close() end
	mute:close()
	tap.ok(tap.waitfor(function() return tap.nfds() == fds0 end),
		'no descriptor left behind', tap.fdlist())
end

-- a client that stalls in its handshake delays no one
do
	local stall = assert(streams.tcp_connect('127.0.0.1', port))
	assert(stall:write('\22\3\1\0\200'))    -- a record header, then nothing
	local s = timeout(5, tls.connect, 'localhost', port, cctx)
	tap.ok(s and s:write('x\n') and s:read('*l') == 'x\n',
		'a normal client is served while another stalls mid-handshake')
	if s then s:close() end
	stall:close()
end

-- failures stay
do
	local other = assert(tls.client { ca = c.ca2 })
	local s, err = tls.connect('localhost', port, other)
	tap.same({ s, err }, { nil, 'certificate verify failed: unable to get local issuer certificate' },
		'a certificate of an unknown CA: certificate verify failed')
	local a, b = tap.tcp_pair()
	tls.wrap(a, other, 'localhost')
	tls.wrap(b, sctx)
	local sr
	spawn(function() sr = tap.pack(b:read()) end)
	local want = { nil, 'certificate verify failed: unable to get local issuer certificate' }
	tap.same(tap.pack(a:handshake()), want, 'handshake(): the same words')
	tap.same(tap.pack(a:read()), want, '... a read after it')
	tap.same(tap.pack(a:write('x')), want, '... a write after it')
	tap.same(tap.pack(a:handshake()), want, '... and handshake() again')
	tap.ok(tap.waitfor(function() return sr end), 'the server side fails too')
	tap.like(sr[2], '^protocol error: .*unknown ca', "... with the client's alert", sr[2])
	tap.same(tap.pack(a:close()), { true }, 'close() after a failure')
	b:close()
end

-- wrap: misuse, and bytes already read (STARTTLS)
do
	local a, b = tap.tcp_pair()
	tap.fails('server name expected', 'a verifying client needs a server name',
		tls.wrap, a, cctx)
	tap.fails('no server name for a server context', 'a server has none',
		tls.wrap, b, sctx, 'localhost')
	tap.fails('invalid server name', 'a name with a zero byte raises',
		tls.wrap, a, cctx, 'local\0host')
	tap.fails('lem.TLSContext expected', 'wrap checks its context',
		tls.wrap, a, {})
	tap.fails('lem.Stream expected', 'wrap checks its stream', tls.wrap, sctx, sctx)
	assert(a:write('STARTTLS\n'))
	tls.wrap(a, cctx, 'localhost')
	tap.fails('already a TLS stream', 'wrap twice raises', tls.wrap, a, cctx, 'x')
	local r
	spawn(function() r = tap.pack(a:handshake()) end)
	yield()                 -- the ClientHello follows STARTTLS at once
	tap.is(b:read('*l'), 'STARTTLS\n', 'the plain text before TLS')
	tap.is(tls.wrap(b, sctx), b, 'wrap returns the stream')
	tap.is(b:handshake(), true, 'the ClientHello read with it is not lost')
	tap.ok(tap.waitfor(function() return r end), '... the client is through too')
	assert(a:write('secret'))
	tap.is(b:read(6), 'secret', 'data after STARTTLS')
	a:close()
	b:close()
	local x, y = tap.tcp_pair()
	x:close()
	y:close()
	tap.same(tap.pack(tls.wrap(x, sctx)), { nil, 'closed' }, 'wrap of a closed stream')
end

-- session resumption, per context and host
do
	local ctx = assert(tls.client { ca = c.ca })
	local function once(host)
		local s = assert(tls.connect(host, port, ctx))
		assert(s:write('x\n'))
		assert(s:read('*l'))    -- TLS 1.3 tickets come after the handshake
		local r = s:resumed()
		s:close()
		return r
	end
	tap.same({ once('localhost'), once('localhost'), once('localhost') },
		{ false, true, true }, 'the second connection to a host resumes its session')
	tap.is(once('127.0.0.1'), false, '... another host name has a session of its own')
	tap.is(once('127.0.0.1'), true, '... which it resumes then')
	local fresh = assert(tls.connect('localhost', port, cctx))
	assert(fresh:write('x\n') and fresh:read('*l'))
	fresh:close()
	local other = assert(tls.client { ca = c.ca })
	local s = assert(tls.connect('localhost', port, other))
	tap.is(s:resumed(), false, 'another context keeps its own sessions')
	s:close()
end

-- names: addresses, wildcards, verify = false
do
	local osrv, oport = tlsh.echo_server(tls.server { cert = c.other, key = c.key })
	tap.same(tap.pack(tls.connect('localhost', oport, cctx)),
		{ nil, 'certificate verify failed: hostname mismatch' },
		'a certificate for another name: hostname mismatch')
	tap.same(tap.pack(tls.connect('127.0.0.1', oport, cctx)),
		{ nil, 'certificate verify failed: IP address mismatch' },
		'an address not in the certificate: IP address mismatch')
	local ip = tls.connect('127.0.0.1', port, cctx)
	tap.ok(ip, 'an address that is in it')
	if ip then ip:close() end
	local insecure = assert(tls.client { verify = false })
	local s = tls.connect('localhost', oport, insecure)
	tap.ok(s and s:certificate().dns[1] == 'other.example',
		'verify = false: no checks, the certificate is still there')
	if s then s:close() end
	osrv:close()
	local wsrv, wport = tlsh.echo_server(tls.server { cert = c.wild, key = c.key })
	local function try(name)
		local a = assert(streams.tcp_connect('127.0.0.1', wport))
		tls.wrap(a, cctx, name)
		local ok, err = a:handshake()
		a:close()
		return ok or err
	end
	tap.is(try('a.example.test'), true, 'a wildcard certificate: one label matches')
	tap.is(try('a.b.example.test'), 'certificate verify failed: hostname mismatch',
		'... two labels do not')
	wsrv:close()
end

-- ALPN
do
	local asrv, aport = tlsh.echo_server(tls.server {
		cert = c.cert, key = c.key, alpn = { 'h2', 'http/1.1' } })
	local function alpn(list)
		local s, err = tls.connect('localhost', aport, tls.client { ca = c.ca, alpn = list })
		if not s then return err end
		local p = s:alpn()
		s:close()
		return p
	end
	tap.is(alpn { 'http/1.1', 'h2' }, 'h2', "ALPN: the server's preference wins")
	tap.is(alpn { 'http/1.1' }, 'http/1.1', '... among what the client offers')
	tap.is(alpn(nil), nil, '... a client that offers none gets none')
	tap.like(alpn { 'spdy/1' }, '^protocol error: .*no application protocol',
		'... nothing in common ends the handshake')
	asrv:close()
end

-- client certificates
do
	local msrv, mport = tlsh.echo_server(tls.server { cert = c.cert, key = c.key, ca = c.ca })
	local with = assert(tls.client { ca = c.ca, cert = c.client, key = c.client_key })
	local s = assert(tls.connect('localhost', mport, with))
	tap.ok(s:write('hi\n') and s:read('*l') == 'hi\n', 'a client certificate the server accepts')
	s:close()
	local without = assert(tls.connect('localhost', mport, cctx))
	without:write('hi\n')
	local d, err = without:read()
	tap.same({ d, (err or ''):match('^protocol error') }, { nil, 'protocol error' },
		'without one the server ends the connection', err)
	without:close()
	local lsrv = assert(tls.listen('127.0.0.1', 0, tls.server { cert = c.cert, key = c.key, ca = c.ca }))
	local _, lport = lsrv:address()
	spawn(function()
		local cl = assert(tls.connect('localhost', lport, with))
		cl:write('x')
		cl:read()
	end)
	local ss = lsrv:accept()
	assert(ss:read(1))
	tap.is(ss:certificate().subject, 'CN=lem client', "the server sees the client's certificate")
	ss:close()
	lsrv:close()
	msrv:close()
end

-- min_version and RSA
do
	local rsrv, rport = tlsh.echo_server(tls.server { cert = c.rsa_cert, key = c.rsa_key })
	local s = assert(tls.connect('localhost', rport, tls.client { ca = c.ca, min_version = 'TLSv1.3' }))
	tap.is(s:protocol(), 'TLSv1.3', 'an RSA server, a client that wants TLS 1.3')
	s:close()
	rsrv:close()
	local s12 = tls.server { cert = c.cert, key = c.key }
	local a, b = tap.tcp_pair()
	tls.wrap(a, tls.client { ca = c.ca, min_version = 'TLSv1.3' }, 'localhost')
	tls.wrap(b, s12)
	spawn(function() b:handshake() end)
	tap.is(a:handshake(), true, 'min_version TLSv1.3 against a default server')
	a:close()
	b:close()
end

srv:close()
tap.done()
