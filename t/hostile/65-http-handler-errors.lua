-- needs: lem.http
-- 65. Handlers that fail in every way: error objects of every type
-- (nil, tables, a __tostring that raises), errors after the head went
-- out, misuse of res (two answers, bad fields, writes past the length),
-- hundreds of them at once.  Each gets 500 (or the end, once something
-- was sent), its connection is closed, and the server goes on.
local h = require 'h'
local hh = require 'hh'
local utils = require 'lem.utils'

-- the reports go to stderr: keep them out of the runner's way
io.stderr:setvbuf('full')
local bad = setmetatable({}, { __tostring = function() error('tostring fails') end })
local failures = {
	function() error('a string') end,
	function() error() end,
	function() error({ code = 1 }) end,
	function() error(bad) end,
	function() error(42) end,
	function(req, res) res:send(200, nil, 'x'); res:send(200, nil, 'y') end,
	function(req, res) res:send(200, { ['Bad Name'] = 'x' }) end,
	function(req, res) res:send(200, { X = 'a\nb' }) end,
	function(req, res) res:send(99) end,
	function(req, res) res:start(200, { ['Content-Length'] = 2 }); res:write('abc') end,
	function(req, res) res:start(200); res:write('part'); error('midway') end,
	function(req, res) res:write('x') end,
	function(req, res) local t = nil; return t.field end,
	function(req, res) res:send(200, { ['Transfer-Encoding'] = 'chunked' }) end,
}
local srv, port = hh.server(function(req, res)
	local i = tonumber(req.path:match('%d+'))
	if i then return failures[i](req, res) end
	res:send(200, nil, 'fine')
end)
local N = h.n(20)
local done, wrong = 0, {}
for round = 1, N do
	for i = 1, #failures do
		utils.spawn(function()
			local out = hh.exchange(port, 'GET /' .. i .. ' HTTP/1.1\r\nHost: x\r\n\r\n')
			local st = hh.statuses(out)[1]
			if not (st == 500 or st == 200) then wrong[#wrong + 1] = i .. ':' .. tostring(st) end
			done = done + 1
		end)
	end
end
h.ok(h.waitfor(function() return done == N * #failures end, 60), 'every failing request ends')
h.is(#wrong, 0, 'each got 500, or the part sent before the error', table.concat(wrong, ' '))
h.like(hh.exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), 'fine$', 'the server still serves')
srv:close()
h.done()
