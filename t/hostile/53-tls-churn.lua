-- needs: lem.tls
-- 53. Churn: connections made and dropped by the hundred (full
-- handshakes, resumed ones, failed ones, garbage), session stores for
-- more hosts than they keep.  Expect memory and descriptors flat.
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
local srv = assert(tls.listen('127.0.0.1', 0, sctx))
local _, port = srv:address()
local open = 0          -- handlers running
utils.spawn(function()
	srv:autospawn(function(s)
		open = open + 1
		while true do
			local l = s:read('*l')
			if not l or not s:write(l) then break end
		end
		if not s:closed() then s:close() end
		open = open - 1
	end)
end)
-- the last client has closed; its handler may not have noticed yet
local function settled()
	return h.waitfor(function() return open == 0 end, 10)
end
local n = h.n(300)

local function round(ctx, host)
	local s, err = tls.connect(host or 'localhost', port, ctx)
	if not s then return err end
	local ok = s:write('x\n') and s:read('*l') == 'x\n'
	s:close()
	return ok
end

local function churn()
	local fresh, resumed, failed, garbage = 0, 0, 0, 0
	for _ = 1, n do
		if round(tls.client { ca = c.ca }) == true then fresh = fresh + 1 end
	end
	local keep = tls.client { ca = c.ca }
	for _ = 1, n do
		if round(keep) == true then resumed = resumed + 1 end
	end
	local wrong = tls.client { ca = c.ca2 }
	for _ = 1, n do
		if round(wrong) ~= true then failed = failed + 1 end
	end
	for _ = 1, n do
		local s = assert(streams.tcp_connect('127.0.0.1', port))
		s:write('\22\3\1\0\5hello')
		s:read()
		s:close()
		garbage = garbage + 1
	end
	-- sessions for more hosts than a context keeps (SNI, no checks)
	local loose = tls.client { verify = false }
	for i = 1, 2 * n do
		local s = assert(streams.tcp_connect('127.0.0.1', port))
		tls.wrap(s, loose, 'host' .. i .. '.example.test')
		s:write('x\n')
		s:read('*l')
		s:close()
	end
	return fresh, resumed, failed, garbage
end

churn()                 -- warm up: OpenSSL's tables, lem's free lists,
settled()               -- the worker pool of name lookups
collectgarbage()
collectgarbage()
local fds0 = h.count(h.fds())
local rss0 = h.rss()
local fresh, resumed, failed, garbage = churn()
h.ok(settled(), 'every handler has ended')
collectgarbage()
collectgarbage()
local rss1 = h.rss()
h.same({ fresh, resumed, failed, garbage }, { n, n, n, n },
	'every round did what it should: ' .. n .. ' each')
h.figure('RSS growth over a second churn (kB)', rss1 - rss0)
h.ok(rss1 - rss0 < 4096 or h.valgrind or h.asan, 'memory is flat (' .. (rss1 - rss0) .. ' kB)')
h.is(h.count(h.fds()), fds0, 'descriptors are back', tap.fdlist())
srv:close()
h.done()
