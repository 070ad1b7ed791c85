-- t/26-tls-refused.t - what lem.tls refuses, and how it says so: expired,
-- self-signed and misnamed certificates, TLS 1.0 and 1.1 peers, garbage
-- instead of a handshake, peers that leave in the middle of one,
-- renegotiation; and what it takes: TLS 1.3 key updates
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local tlsh = dofile(tap.dir .. '/tlsh.lua')(tap)
local PLAN = 23
tlsh.skip_all(PLAN, 90)

local utils = require 'lem.utils'
local streams = require 'lem.streams'
local tls = require 'lem.tls'
local spawn, timeout = utils.spawn, utils.timeout

tap.plan(PLAN, 90)
local c = tlsh.certs()
local q = tap.quote
local sctx = assert(tls.server { cert = c.cert, key = c.key })
local cctx = assert(tls.client { ca = c.ca })

-- a lem server whose handlers report how their first read ended
local function server(ctx)
	local srv = assert(tls.listen('127.0.0.1', 0, ctx or sctx))
	local _, port = srv:address()
	local results = {}
	spawn(function()
		srv:autospawn(function(s)
			local r = {}
			while true do
				local d, err = s:read('*l')
				if not d then r.err = err break end
				r[#r + 1] = d
				if not s:write(d) then break end
			end
			results[#results + 1] = r
			if not s:closed() then s:close() end
		end)
	end)
	return srv, port, results
end

local function wait_result(results, n)
	tap.waitfor(function() return #results >= n end)
	return results[n] or {}
end

-- --------------------------------------------------- certificates
do
	local function try(cert, key, host)
		local srv, port = server(assert(tls.server { cert = cert, key = key }))
		local r = tap.pack(tls.connect(host or 'localhost', port, cctx))
		if r[1] then r[1]:close() end
		srv:close()
		return r
	end
	tap.same(try(c.expired, c.key), { nil, 'certificate verify failed: certificate has expired' },
		'an expired certificate')
	tap.same(try(c.self, c.self_key), { nil, 'certificate verify failed: self-signed certificate' },
		'a self-signed certificate')
	tap.same(try(c.other, c.key), { nil, 'certificate verify failed: hostname mismatch' },
		'a certificate for another host name')
	tap.ok(try(c.cert, c.key)[1], '... and the right one is taken')
end

-- ------------------------------------------------- TLS 1.0 and 1.1
do
	local srv, port, results = server()
	local old = '-cipher DEFAULT@SECLEVEL=0'
	local p = tlsh.spawn('openssl s_client -connect 127.0.0.1:' .. port ..
		' -tls1 ' .. old .. ' -servername localhost', 'x\n')
	local out = p:rest()
	local r = wait_result(results, 1)
	tap.like(r.err, '^protocol error: unsupported protocol', 'a TLS 1.0 client is refused', out)
	tap.like(out, 'alert protocol version', '... it hears why', out)
	p = tlsh.spawn('openssl s_client -connect 127.0.0.1:' .. port ..
		' -tls1_1 ' .. old .. ' -servername localhost', 'x\n')
	out = p:rest()
	r = wait_result(results, 2)
	tap.like(r.err, '^protocol error: unsupported protocol', 'a TLS 1.1 client too', out)
	srv:close()

	local sp = tlsh.spawn('openssl s_server -accept 127.0.0.1:0 -naccept 1 -tls1 ' .. old ..
		' -cert ' .. q(c.cert) .. ' -key ' .. q(c.key))
	local sport = tonumber(sp:line('^ACCEPT 127%.0%.0%.1:(%d+)'))
	local s, err = tls.connect('localhost', sport, cctx)
	-- (s_server -tls1 hangs up without an alert on a ClientHello of
	-- TLS 1.2 and later)
	tap.ok(s == nil and (err == 'closed' or err:match('^protocol error: ')),
		'a TLS 1.0 server is refused', err)
	sp:kill()
end

-- ---------------------------------------------- garbage, hang-ups
do
	local srv, port, results = server()
	local function raw(data, close)
		local s = assert(streams.tcp_connect('127.0.0.1', port))
		assert(s:write(data))
		if close then s:close() return end
		-- what the server says (an alert, perhaps), up to its end
		local r = timeout(5, function()
			while true do
				local d, err = s:read()
				if not d then return { nil, err } end
			end
		end)
		s:close()
		return r
	end
	local n = 0
	local function next_result()
		n = n + 1
		return wait_result(results, n)
	end
	raw('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
	tap.is(next_result().err, 'protocol error: http request', 'plain HTTP to a TLS server')
	raw(('\0\1\2\3garbage'):rep(20))
	tap.like(next_result().err, '^protocol error: ', 'garbage instead of a ClientHello')
	local r = raw('\22\3\1\255\255' .. ('x'):rep(100))
	tap.like(next_result().err, '^protocol error: ', 'a record header of 65535 bytes')
	tap.same({ r[1], r[2] }, { nil, 'closed' }, '... the client sees the end')
	-- a real ClientHello, cut short
	local hello
	do
		local cap = assert(streams.tcp_listen('127.0.0.1', 0))
		local _, cport = cap:address()
		local got
		spawn(function()
			local s = cap:accept()
			got = s:read()
			s:close()
		end)
		local cr = tap.pack(tls.connect('localhost', cport, cctx))
		tap.same(cr, { nil, 'closed' }, 'a server that hangs up after the ClientHello: closed')
		cap:close()
		hello = got
	end
	tap.ok(hello and #hello > 100 and hello:byte(1) == 22, '... it was sent a ClientHello')
	raw(hello:sub(1, 50), true)
	tap.same({ next_result().err }, { 'closed' }, 'a client that hangs up mid-ClientHello: closed')
	raw('', true)
	tap.same({ next_result().err }, { 'closed' }, 'a client that connects and hangs up: closed')
	-- a server that answers with garbage
	do
		local bad = assert(streams.tcp_listen('127.0.0.1', 0))
		local _, bport = bad:address()
		spawn(function()
			local s = bad:accept()
			s:read()
			s:write('HTTP/1.1 400 Bad Request\r\n\r\n')
			s:read()
			s:close()
		end)
		local br = tap.pack(tls.connect('localhost', bport, cctx))
		tap.same({ br[1], (br[2] or ''):match('^protocol error: ') },
			{ nil, 'protocol error: ' }, 'a server that answers in plain text', br[2])
		bad:close()
	end
	local s = tls.connect('localhost', port, cctx)
	tap.ok(s and s:write('still\n') and s:read('*l') == 'still\n',
		'the server serves on after all of them')
	if s then s:close() end
	srv:close()
end

-- ------------------------------------- renegotiation and key updates
do
	local srv, port, results = server()
	-- s_client takes a line 'R' as "renegotiate", 'K' as "update the
	-- keys and ask the peer to"; the sleeps only keep the lines apart
	local feed = "(printf 'a\\n'; sleep 0.3; printf '%s\\n'; sleep 0.3; printf 'b\\n'; sleep 0.5)"
	local function s_client(cmd, args)
		return tlsh.spawn('sh -c ' .. q(feed:format(cmd) .. ' | openssl s_client ' ..
			'-connect 127.0.0.1:' .. port .. ' -CAfile ' .. q(c.ca) ..
			' -servername localhost ' .. args))
	end
	local p = s_client('K', '')
	local out = p:rest()
	local r = wait_result(results, 1)
	tap.same({ r[1], r[2] }, { 'a\n', 'b\n' }, 'a TLS 1.3 key update (K) in the middle', out)
	p = s_client('k', '')
	p:rest()
	r = wait_result(results, 2)
	tap.same({ r[1], r[2] }, { 'a\n', 'b\n' }, '... and one that asks nothing (k)')
	p = s_client('R', '-tls1_2')
	out = p:rest()
	r = wait_result(results, 3)
	tap.same({ r[1], r[2] }, { 'a\n', nil }, 'a TLS 1.2 renegotiation is refused', out)
	tap.like(r.err, '^protocol error: ', '... the connection ends with the words', r.err)
	tap.like(out, 'no renegotiation', '... and the client is told', out)
	srv:close()
end

tap.done()
