-- needs: lem.http
-- 62. Huge heads: a 16 MiB field, 100,000 fields, a 1 MiB target, a head
-- that never ends.  Refused with 431 or 414 once the limit is reached,
-- without buffering the rest; memory stays flat.
local h = require 'h'
local hh = require 'hh'
local utils = require 'lem.utils'

local srv, port = hh.server(function(req, res) res:send(200, nil, 'ok') end)
local function attack(prefix, filler, total)
	local s = hh.connect(port)
	s:write(prefix)
	local sent = #prefix
	local chunk = filler:rep(math.ceil(65536 / #filler))
	while sent < total do
		if not s:write(chunk) then break end
		sent = sent + #chunk
	end
	local out = utils.timeout(10, s.read, s, '*a') or ''
	s:close()
	return hh.statuses(out)[1]
end
h.reset_hwm()
local rss0 = h.rss()
local MB = 1024 * 1024
h.is(attack('GET / HTTP/1.1\r\nHost: x\r\nX-Big: ', 'a', h.n(16) * MB), 431, 'a 16 MiB field: 431')
h.is(attack('GET / HTTP/1.1\r\nHost: x\r\n', 'X: y\r\n', h.n(1) * MB), 431, '100,000+ fields: 431')
h.is(attack('GET /', 'a', MB), 414, 'a 1 MiB target: 414')
h.is(attack('GET / HTTP/1.1\r\nHost: x\r\n', 'Xxxxxxxxxxxxxxxxxx: yyyyyyyyyyyyyyyyyyyyyyy\r\n', h.n(4) * MB), 431, 'an endless head: 431')
local grown = h.hwm() - rss0
h.figure('peak RSS growth (kB)', grown)
h.ok(grown < 64 * 1024, 'memory stays bounded (< 64 MiB over the start)', grown)
h.like(hh.exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), 'ok$', 'the server still serves')
srv:close()
h.done()
