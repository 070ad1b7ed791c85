-- needs: lem.http
-- 63. A pipelining flood: thousands of requests written at once by a
-- client that does not read for a while; every one is answered, in
-- order, once it reads; a client that never reads is cut off by
-- body_timeout (the server's writes wait under it).
local h = require 'h'
local hh = require 'hh'
local utils = require 'lem.utils'

local srv, port = hh.server(function(req, res)
	res:send(200, nil, req.path .. '\n')
end, { body_timeout = 1 })
local N = h.n(5000)
local parts = {}
for i = 1, N do parts[i] = 'GET /' .. i .. ' HTTP/1.1\r\nHost: x\r\n\r\n' end
parts[#parts + 1] = 'GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
local s = hh.connect(port)
local writer = utils.spawn(function() return s:write(table.concat(parts)) end)
utils.sleep(0.3)
local out = utils.timeout(30, s.read, s, '*a') or ''
writer:join()
s:close()
local n, inorder = 0, true
for path in out:gmatch('\r\n\r\n/(%w+)\n') do
	n = n + 1
	if path ~= tostring(n) and not (path == 'last' and n == N + 1) then
		if inorder then h.figure('first out of order', n .. ' ' .. path) end
		inorder = false
	end
end
h.is(n, N + 1, 'every pipelined request is answered')
h.ok(inorder, 'in order')
-- one that never reads: the server gives up after body_timeout
s = hh.connect(port)
local big = {}
for i = 1, h.n(200000) do big[i] = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' end
local w = utils.spawn(function() return utils.timeout(20, s.write, s, table.concat(big)) end)
local ok, wres, werr = w:join()
h.ok(werr == 'closed' or werr == 'timeout' or wres == true, 'the flooding writer ends', tostring(werr))
s:close()
h.like(hh.exchange(port, 'GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), '/x\n$', 'the server still serves')
srv:close()
h.done()
