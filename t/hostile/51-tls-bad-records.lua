-- needs: lem.tls
-- 51. Bad records after a good handshake, from a peer that writes under
-- TLS (t/hostile/tlspeer.py): a header that claims 65535 bytes, a record
-- over the size limit, a record with random bytes, 4 MiB without a
-- newline to read('*l'), 16 MiB in full records.  Both ends: a lem
-- server and a lem client.  Expect nil, 'protocol error: ...' (and an
-- alert to the peer), 'line too long', every byte of the flood, bounded
-- memory, and the fd set unchanged.
local h = require 'h'
local tap = require 'tap'
local tlsh = require('tlsh')(tap)
local utils = require 'lem.utils'
local tls = require 'lem.tls'

if not tlsh.have('openssl') then
	io.write('ok 1 # SKIP openssl(1) is not installed\n')
	h.done()
	return
end
local c = tlsh.certs()
local sctx = assert(tls.server { cert = c.cert, key = c.key })
local cctx = assert(tls.client { ca = c.ca })
local python = os.getenv('PYTHON') or 'python3'
local peerpy = h.dir .. '/tlspeer.py'

local srv = assert(tls.listen('127.0.0.1', h.port, sctx))
local results = {}
local mode = 'echo'
utils.spawn(function()
	srv:autospawn(function(s)
		local r = { bytes = 0 }
		local l, err = s:read('*l')
		if l then s:write(l) end
		while l do
			if mode == 'count' then
				local d
				d, err = s:read()
				if not d then break end
				r.bytes = r.bytes + #d
			else
				l, err = s:read('*l')
				if l then s:write(l) end
			end
		end
		r.err = err
		results[#results + 1] = r
		s:close()
	end)
end)

local function run(what)
	local p = tlsh.spawn(python .. ' ' .. peerpy .. ' client ' .. h.port .. ' ' ..
		c.ca .. ' ' .. what)
	local out = p:rest(40)
	h.ok(h.waitfor(function() return #results > 0 end, 20), what .. ': the handler ended')
	local r = table.remove(results, 1) or {}
	return r, out or ''
end

for _, what in ipairs { 'huge-header', 'long-record', 'bad-mac' } do
	local r, out = run(what)
	h.like(r.err, '^protocol error: ', what .. ': the server reads nil, protocol error', out)
	h.like(out, 'echo ok\nalert\nclosed', what .. ': the peer was told, and the end came', out)
end
do
	local r, out = run('noline')
	h.is(r.err, 'line too long', "noline: read('*l') says line too long", out)
	h.like(out, 'closed', 'noline: the connection ended')
end
do
	mode = 'count'
	h.reset_hwm()
	local rss0 = h.rss()
	local r, out = run('flood')
	h.is(r.bytes, 16 * 1024 * 1024, 'flood: all 16 MiB read', out)
	h.is(r.err, 'truncated', '... then truncated (it sends no close_notify)')
	h.figure('RSS growth over a 16 MiB flood (kB)', h.hwm() - rss0)
	h.ok(h.hwm() - rss0 < 32 * 1024 or h.asan or h.valgrind,
		'... with bounded memory')
end
srv:close()

-- the same on the client side
for _, what in ipairs { 'huge-header', 'long-record', 'bad-mac' } do
	local p = tlsh.spawn(python .. ' ' .. peerpy .. ' server ' .. c.cert .. ' ' ..
		c.key .. ' ' .. what)
	local port = tonumber(p:line('^port (%d+)'))
	local s, err = tls.connect('localhost', port, cctx)
	h.ok(s, what .. ': lem client connects', err)
	if s then
		s:write('hello\n')
		local l = s:read('*l')
		local d, e = s:read()
		h.same({ l, d, (e or ''):match('^protocol error: ') }, { 'hello\n', nil, 'protocol error: ' },
			what .. ': the client reads nil, protocol error', e)
		h.same(tap.pack(s:write('x')), { nil, e }, '... and a write after it the same')
		s:close()
	end
	h.like(p:rest(20) or '', 'alert\nclosed', what .. ': the peer was told')
end
h.done()
