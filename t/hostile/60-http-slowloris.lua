-- needs: lem.http
-- 60. Slowloris: many connections that send a head one byte at a time,
-- or open and send nothing, or stop in the middle.  header_timeout holds
-- for each: the partial ones get 408 and are closed, the silent ones are
-- closed, and a normal client is served meanwhile.  Nothing leaks.
local h = require 'h'
local hh = require 'hh'
local utils = require 'lem.utils'

local srv, port = hh.server(function(req, res) res:send(200, nil, 'ok') end,
	{ header_timeout = 0.5, idle_timeout = 0.5 })
local N = h.n(100)
local results = { answered = 0, silent = 0, other = 0 }
local done = 0
for i = 1, N do
	utils.spawn(function()
		local s = hh.connect(port)
		local out = ''
		if i % 3 ~= 0 then
			local bytes = 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ' .. ('s'):rep(100)
			for k = 1, #bytes do
				if not s:write(bytes:sub(k, k)) then break end
				local got = utils.timeout(0.02, s.read, s)
				if got then out = got break end
			end
		end
		out = out .. (utils.timeout(10, s.read, s, '*a') or 'NOT CLOSED')
		s:close()
		if out:find('^HTTP/1%.1 408 ') then results.answered = results.answered + 1
		elseif out == '' then results.silent = results.silent + 1
		else results.other = results.other + 1 end
		done = done + 1
	end)
end
utils.sleep(0.1)
local out = hh.exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
h.like(out, 'ok$', 'a normal client is served among the slow ones')
h.ok(h.waitfor(function() return done == N end, 60), 'every slow client is dealt with')
h.is(results.other, 0, 'no slow client got anything but 408 or the end')
h.is(results.answered, N - math.floor(N / 3), 'the partial heads got 408')
h.is(results.silent, math.floor(N / 3), 'the silent ones were closed without an answer')
srv:close()
h.done()
