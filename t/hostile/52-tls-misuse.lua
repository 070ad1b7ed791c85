-- needs: lem.tls
-- 52. lem.tls misused: every function and TLS method with every kind of
-- value in every slot; every stream method on a TLS stream whose
-- handshake failed, and after close(); streams, contexts and servers
-- collected in the middle of things; lem exiting with handshakes
-- pending.  Expect bad-argument errors or nil, message, the same words
-- again and again after a failure, no crash, no leak, the fd set back.
local h = require 'h'
local tap = require 'tap'
local tlsh = require('tlsh')(tap)
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local tls = require 'lem.tls'

if not tlsh.have('openssl') then
	io.write('ok 1 # SKIP openssl(1) is not installed\n')
	h.done()
	return
end
local c = tlsh.certs()
local sctx = assert(tls.server { cert = c.cert, key = c.key })
local cctx = assert(tls.client { ca = c.ca })
local srv, port = tlsh.echo_server(sctx)

-- ------------------------------------------------------ type matrix
local made = {}
local function pair()
	local a, b = tap.tcp_pair()
	made[#made + 1] = a
	made[#made + 1] = b
	return a, b
end
local function tlsstream()
	local a = pair()
	return tls.wrap(a, cctx, 'localhost')
end
local plain = pair()
local values = {
	{ 'nil', nil }, { 'true', true }, { '0', 0 }, { '-1', -1 },
	{ '1e308', 1e308 }, { 'nan', 0 / 0 }, { '""', '' }, { '"\\0"', '\0' },
	{ '{}', {} }, { 'print', print }, { 'thread', coroutine.create(function() end) },
	{ 'io.stdout', io.stdout }, { 'stream', plain }, { 'server', srv },
	{ 'client context', cctx }, { 'server context', sctx },
	{ 'tls stream', tlsstream() }, { '{bogus=1}', { bogus = 1 } },
	{ '{alpn=1}', { alpn = 1 } }, { '{cert=0}', { cert = 0 } },
}
local targets = {
	{ 'tls.client', tls.client, function() return {} end },
	{ 'tls.server', tls.server, function() return { cert = c.cert, key = c.key } end },
	{ 'tls.wrap', tls.wrap, function() return (pair()), cctx, 'localhost' end },
	{ 'tls.connect', tls.connect, function() return '127.0.0.1', port, cctx end },
	{ 'tls.listen', tls.listen, function() return '127.0.0.1', 0, sctx end },
}
for _, m in ipairs { 'handshake', 'certificate', 'alpn', 'protocol', 'resumed' } do
	targets[#targets + 1] = { 'Stream.' .. m, streams.Stream[m],
		function() return tlsstream() end }
end
targets[#targets + 1] = { 'Context.__tostring', tls.Context.__tostring,
	function() return cctx end }

local calls, badarg, nilmsg, returned, pending = 0, 0, 0, 0, 0
local others = {}
for _, t in ipairs(targets) do
	local name, f, valid = t[1], t[2], t[3]
	for slot = 1, 4 do
		for _, v in ipairs(values) do
			local args = { valid() }
			args[slot] = v[2]
			local n = math.max(slot, #args)
			calls = calls + 1
			pending = pending + 1
			utils.spawn(function()
				local r = { utils.timeout(1, pcall, f, unpack(args, 1, n)) }
				pending = pending - 1
				if not r[1] then
					if tostring(r[2]):find('bad argument', 1, true) then
						badarg = badarg + 1
					else
						others[#others + 1] = name .. ' slot ' .. slot ..
							' = ' .. v[1] .. ': ' .. tostring(r[2])
					end
				elseif r[2] == nil and type(r[3]) == 'string' then
					nilmsg = nilmsg + 1
				else
					returned = returned + 1
				end
				for i = 2, #r do
					local o = r[i]
					if type(o) == 'userdata' and o.close and not (o == srv) then
						pcall(o.close, o)
					end
				end
			end)
		end
	end
end
h.ok(h.waitfor(function() return pending == 0 end, 30),
	'every call returned or raised', pending .. ' still pending')
h.figure('type matrix calls', calls)
h.figure('Lua errors (bad argument)', badarg)
h.figure('nil,msg', nilmsg)
h.figure('returned', returned)
h.is(#others, 0, 'every error is a bad argument error', table.concat(others, '\n'))

-- ------------------------------------------ after a failed handshake
do
	local other = assert(tls.client { ca = c.ca2 })
	local a = assert(streams.tcp_connect('127.0.0.1', port))
	tls.wrap(a, other, 'localhost')
	local want = 'certificate verify failed: unable to get local issuer certificate'
	local file = h.tmpname('.txt')
	local fh = io.open(file, 'w') fh:write('x') fh:close()
	local sf = assert(streams.sendfile(file))
	local res = {}
	for _, call in ipairs {
		{ 'handshake' }, { 'read' }, { 'read', 5 }, { 'read', '*l' },
		{ 'read', '*a' }, { 'write', 'x' }, { 'sendfile', sf }, { 'handshake' },
	} do
		local r = tap.pack(a[call[1]](a, call[2]))
		res[#res + 1] = (r[1] == nil and r[2] == want) and 'same' or
			(call[1] .. ': ' .. tap.values(unpack(r, 1, r.n)))
	end
	h.same(res, { 'same', 'same', 'same', 'same', 'same', 'same', 'same', 'same' },
		'every operation after a failed handshake fails with the same words')
	h.same({ a:protocol(), a:alpn(), a:certificate(), a:resumed() }, {},
		'... protocol, alpn, certificate, resumed: nil (no handshake)')
	h.same({ a:busy(), a:closed() }, { false, false }, '... not busy, not closed')
	h.same(tap.pack(a:interrupt()), { nil, 'not busy' }, '... interrupt(): not busy')
	h.same(tap.pack(a:close()), { true }, '... close() is true')
	local rc = {}
	for _, m in ipairs { 'read', 'write', 'handshake', 'protocol', 'certificate',
			'alpn', 'resumed', 'sendfile', 'cork' } do
		local r = tap.pack(a[m](a, m == 'write' and 'x' or m == 'sendfile' and sf or nil))
		rc[#rc + 1] = (r[1] == nil and r[2] == 'closed') and 'closed' or m
	end
	h.same(rc, { 'closed', 'closed', 'closed', 'closed', 'closed', 'closed',
		'closed', 'closed', 'closed' }, 'after close(): closed, for every method')
	h.same(tap.pack(a:close()), { nil, 'already closed' }, '... and close again')
	sf:close()
	os.remove(file)
end

-- ------------------------------------------------------- collecting
do
	-- streams dropped before, during and after their handshakes
	for _ = 1, 20 do
		local a, b = tap.tcp_pair()
		tls.wrap(a, cctx, 'localhost')
		tls.wrap(b, sctx)
		utils.timeout(0.01, a.handshake, a)     -- half way
	end
	for _ = 1, 3 do collectgarbage() end
	-- a context collected while its streams go on
	local a, b = tap.tcp_pair()
	do
		local cc = tls.client { ca = c.ca }
		local sc = tls.server { cert = c.cert, key = c.key }
		tls.wrap(a, cc, 'localhost')
		tls.wrap(b, sc)
	end
	for _ = 1, 3 do collectgarbage() end
	local ok
	utils.spawn(function() ok = b:handshake() end)
	h.is(a:handshake(), true, 'the contexts were collected, their streams shake hands')
	h.ok(h.waitfor(function() return ok end), '... both of them')
	a:write('still here\n')
	h.is(b:read('*l'), 'still here\n', '... and talk')
	a:close()
	b:close()
	-- a server collected with its hook
	do
		local s2 = assert(tls.listen('127.0.0.1', 0, sctx))
		local _, p2 = s2:address()
		local cl = assert(streams.tcp_connect('127.0.0.1', p2))
		cl:close()
		s2:close()
	end
	for _ = 1, 3 do collectgarbage() end
	h.ok(true, 'servers and streams collected in the middle of things')
end

-- ------------------------------------------- exit with handshakes pending
do
	local script = h.tmpname('.lua')
	local f = io.open(script, 'w')
	f:write(([[
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local tls = require 'lem.tls'
local ctx = assert(tls.client { ca = %q })
local mute = assert(streams.tcp_listen('127.0.0.1', 0))
local _, port = mute:address()
local held = {}
utils.spawn(function()
	while true do
		local s = mute:accept()
		if not s then break end
		held[#held + 1] = s
	end
end)
for i = 1, 50 do
	utils.spawn(function() tls.connect('127.0.0.1', port, ctx) end)
end
local s = utils.sleeper()
while #held < 50 do s:sleep(0.01) end
print('pending', #held)
utils.exit(3)
]]):format(c.ca))
	f:close()
	local out, rc = h.run(h.lem .. ' ' .. script)
	h.like(out, '^pending\t50\n', 'a lem with 50 handshakes pending exits', out)
	h.ok(rc == 3 * 256 or rc == 3 or rc == true, '... with its status', tostring(rc))
	h.ok(not out:find('Sanitizer') and not out:find('==%d+=='), '... and no report', out)
	os.remove(script)
end

for _, s in ipairs(made) do if not s:closed() then s:close() end end
srv:close()
h.done()
