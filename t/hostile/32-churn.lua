-- needs: lem.streams
-- 32. Churn: 20k connect/close cycles against an echo server.  The fd
-- set is unchanged and RSS grows less than 1 MB after warm-up.
local h = require 'h'

local N = h.n(20000)
local srv = h.echo_server()
local p = h.peer('churn', h.port, math.max(1, math.floor(N / 10)))
p:read('*a')
local function churn()
	local q = h.peer('churn', h.port, N)
	local out = q:read('*a')
	h.is(out, 'churned ' .. N .. '\n', N .. ' connect/close cycles')
	collectgarbage()
	collectgarbage()
	return h.rss(), collectgarbage('count')
end
collectgarbage()
local rss0, heap0 = h.rss(), collectgarbage('count')
local rss1, heap1 = churn()
local rss2, heap2 = churn()
local rss3, heap3 = churn()
h.figure('churn (case 32)', string.format('3 x %d cycles, RSS %d -> %d -> %d -> %d kB, '
	.. 'Lua heap %d -> %d -> %d -> %d kB', N, rss0, rss1, rss2, rss3, heap0, heap1,
	heap2, heap3))
-- bursts of accepted connections raise the peak (malloc keeps it):
-- after two rounds of warm-up, a third must not grow
if not h.asan and not h.valgrind then  -- ASan's quarantine keeps freed memory
	h.ok(rss3 - rss2 < 1024, 'RSS grows less than 1 MB over a third round',
		rss2 .. ' -> ' .. rss3)
end
h.ok(heap3 - heap0 < 1024, 'the Lua heap is back within 1 MB', heap0 .. ' -> ' .. heap3)
srv:close()
h.done()
