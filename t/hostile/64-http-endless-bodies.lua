-- needs: lem.http
-- 64. Bodies that never end: a chunked body that goes on past
-- max_body_size (refused as too large, 413, closed), a Content-Length
-- body that stops coming (body_timeout, closed), a body dripped slower
-- than body_timeout.  Nothing is buffered past the limit.
local h = require 'h'
local hh = require 'hh'
local utils = require 'lem.utils'

local results = {}
local srv, port = hh.server(function(req, res)
	local b, err = req:body()
	results[#results + 1] = tostring(err)
	if b then res:send(200, nil, 'got ' .. #b) end
end, { max_body_size = 65536, body_timeout = 0.5 })
h.reset_hwm()
local rss0 = h.rss()
local s = hh.connect(port)
s:write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n')
local chunk = ('1000\r\n' .. ('c'):rep(4096) .. '\r\n'):rep(16)
local sent = 0
while sent < h.n(64) * 1024 * 1024 do
	if not utils.timeout(5, s.write, s, chunk) then break end
	sent = sent + #chunk
end
local out = utils.timeout(10, s.read, s, '*a') or ''
s:close()
h.is(hh.statuses(out)[1], 413, 'an endless chunked body: 413')
h.is(results[#results], 'too large', 'req:body(): nil, "too large"')
h.ok(h.hwm() - rss0 < 32 * 1024, 'nothing much is buffered', h.hwm() - rss0)
out = hh.exchange(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly this')
h.is(hh.statuses(out)[1], 408, 'a body that stops coming: 408 after body_timeout, closed')
h.is(results[#results], 'timeout', 'req:body(): nil, "timeout"')
s = hh.connect(port)
s:write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n')
for i = 1, 10 do
	if not s:write('d') then break end
	utils.sleep(0.2)
end
out = utils.timeout(10, s.read, s, '*a')
s:close()
h.ok(out ~= nil, 'a dripped body ends within the limits')
h.like(hh.exchange(port, 'POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok'), 'got 2$', 'the server still serves')
srv:close()
h.done()
