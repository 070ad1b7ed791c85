-- t/26-tls-http.t - lem.http and lem.websocket over lem.tls: the tls
-- option of http.listen and http.server, https:// in http.request,
-- wss:// in websocket.connect, curl against lem's HTTPS server
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local tlsh = dofile(tap.dir .. '/tlsh.lua')(tap)
local PLAN = 26
tlsh.skip_all(PLAN, 90)

local utils = require 'lem.utils'
local streams = require 'lem.streams'
local tls = require 'lem.tls'
local http = require 'lem.http'
local websocket = require 'lem.websocket'

tap.plan(PLAN, 90)
local c = tlsh.certs()
local sctx = assert(tls.server { cert = c.cert, key = c.key })
local cctx = assert(tls.client { ca = c.ca })

-- a file for res:sendfile
local fname = tap.tmpname('.bin')
local parts = {}
for i = 1, 40000 do parts[i] = ('%07d\n'):format(i) end
local fdata = table.concat(parts)
tap.writefile(fname, fdata)

local conns, nconns = {}, 0
local function handler(req, res)
	if not conns[res] then conns[res] = true; nconns = nconns + 1 end
	local p = req.path
	if p == '/echo' then
		return res:send(200, nil, req:body())
	elseif p == '/big' then
		return res:send(200, nil, ('b'):rep(300000))
	elseif p == '/chunked' then
		res:start(200, { ['Content-Type'] = 'text/plain' })
		for i = 1, 50 do res:write(('chunk %d;'):format(i):rep(100)) end
		return res:finish()
	elseif p == '/file' then
		local f = assert(streams.sendfile(fname))
		local ok, err = res:sendfile(f)
		f:close()
		return ok, err
	elseif p == '/ws' then
		local ws = websocket.accept(req, res)
		if not ws then return end
		while true do
			local d, kind = ws:receive()
			if not d then break end
			ws:send(d, kind)
		end
		return
	end
	res:send(200, { ['Content-Type'] = 'text/plain' }, 'hello ' .. p)
end

-- ------------------------------------------------------------ options
tap.fails("invalid value of option 'tls'", 'tls = {}: raises', http.listen,
	'127.0.0.1', 0, { tls = {} })
tap.fails("invalid value of option 'tls'", 'tls = a client context: raises',
	http.listen, '127.0.0.1', 0, { tls = cctx })
tap.is(sctx:kind(), 'server', 'ctx:kind()')

local srv = assert(http.listen('127.0.0.1', 0, { tls = sctx }))
local _, port = srv:address()
utils.spawn(function() srv:serve(handler) end)
local base = 'https://localhost:' .. port

-- ------------------------------------------------------------- client
-- the default connector checks against the system's store
tap.same(tap.pack(http.request('GET', base .. '/x')),
	{ nil, 'certificate verify failed: unable to get local issuer certificate' },
	"https:// is verified: a CA the system does not know is refused")
http.connectors.https = function(host, p) return tls.connect(host, p, cctx) end

local res, err = http.request('GET', base .. '/hello')
tap.ok(res and res.status == 200, 'https:// GET with a context that knows the CA', err)
tap.is(res and res:body(), 'hello /hello', '... the body')
res = assert(http.request('GET', base .. '/again'))
tap.is(res:body(), 'hello /again', 'a second request')
tap.is(nconns, 1, '... over the same pooled TLS connection')
local post = ('p'):rep(200000)
res = assert(http.request('POST', base .. '/echo', nil, post))
tap.ok(res:body() == post, 'POST of 200 kB, echoed')
res = assert(http.request('GET', base .. '/big'))
tap.is(#res:body(), 300000, 'a 300 kB answer')
res = assert(http.request('GET', base .. '/chunked'))
local body = res:body()
tap.ok(#body > 40000 and body:sub(1, 8) == 'chunk 1;', 'a chunked answer')
res = assert(http.request('GET', base .. '/file'))
tap.ok(res:body() == fdata, "res:sendfile over TLS (the file is read and encrypted)")
tap.is(nconns, 1, 'all of them on one connection')
-- the server closes the pooled connection: the next request reconnects
http.close_idle()
res = assert(http.request('GET', base .. '/after'))
tap.is(res:body(), 'hello /after', 'after the pool is emptied: a new connection')
tap.is(nconns, 2, '... a second one')

-- a plain HTTP client to the HTTPS server: no answer, the server goes on
do
	local s = assert(streams.tcp_connect('127.0.0.1', port))
	s:write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
	local got = utils.timeout(10, function()
		local all = {}
		while true do
			local d = s:read()
			if not d then return table.concat(all) end
			all[#all + 1] = d
		end
	end)
	s:close()
	tap.ok(got and not got:find('HTTP/1', 1, true), 'plain HTTP to the HTTPS server: no HTTP answer')
	res = assert(http.request('GET', base .. '/still'))
	tap.is(res:body(), 'hello /still', '... and the server serves on')
end

-- http.server on a plain lem.Server, with the tls option
do
	local ls = assert(streams.tcp_listen('127.0.0.1', 0))
	local hs = assert(http.server(ls, { tls = sctx }))
	local _, hport = hs:address()
	utils.spawn(function() hs:serve(handler) end)
	res, err = http.request('GET', 'https://localhost:' .. hport .. '/wrapped')
	tap.is(res and res:body(), 'hello /wrapped', 'http.server(server, { tls = ctx }): its streams are TLS', err)
	tap.same(tap.pack(http.request('GET', 'http://127.0.0.1:' .. hport .. '/')),
		{ nil, 'closed' }, '... and never plain HTTP')
	http.close_idle()
	hs:close()
end

-- ---------------------------------------------------------- websocket
do
	local ws, werr = websocket.connect('wss://localhost:' .. port .. '/ws')
	tap.ok(ws, 'wss:// connects', werr)
	if ws then
		tap.is(ws:send('hello ws'), true, '... sends')
		tap.same(tap.pack(ws:receive()), { 'hello ws', 'text' }, '... and receives')
		local blob = ('0123456789abcdef'):rep(25000)     -- 400 kB
		tap.is(ws:send(blob, 'binary'), true, 'a 400 kB binary message')
		local d, kind = ws:receive()
		tap.ok(d == blob and kind == 'binary', '... comes back whole')
		ws:close()
	else
		tap.skip(4, 'no WebSocket')
	end
end

-- --------------------------------------------------------------- curl
if tlsh.have('curl') then
	local p = tlsh.spawn('curl -sS --cacert ' .. tap.quote(c.ca) .. ' --resolve localhost:' ..
		port .. ':127.0.0.1 ' .. base .. '/curl ' .. base .. '/curl2')
	tap.is(p:rest(), 'hello /curlhello /curl2', 'curl --cacert: two requests to lem.http over TLS')
	p = tlsh.spawn('curl -sS --cacert ' .. tap.quote(c.ca) .. ' --resolve localhost:' ..
		port .. ':127.0.0.1 --data-binary @' .. tap.quote(fname) .. ' ' .. base .. '/echo')
	tap.ok(p:rest() == fdata, 'curl POSTs a 320 kB file, lem echoes it')
else
	tap.skip(2, 'curl is not installed')
end

http.connectors.https = nil
http.close_idle()
srv:close()
tap.done()
