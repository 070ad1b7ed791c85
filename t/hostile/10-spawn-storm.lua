-- 10. Spawn storm: 100k coroutines each yielding 10 times, plus
-- spawn(nil).  All finish; RSS returns near the baseline after
-- collectgarbage().
local h = require 'h'
local utils = require 'lem.utils'

local N = h.n(100000)
local ok, err = pcall(utils.spawn, nil)
h.ok(not ok and err:find('bad argument #1', 1, true), 'spawn(nil) raises', err)
ok, err = pcall(utils.spawn)
h.ok(not ok, 'spawn() raises', err)

collectgarbage()
local rss0 = h.rss()
local function storm()
	local done, steps = 0, 0
	local t0 = h.clock()
	for _ = 1, N do
		utils.spawn(function()
			for _ = 1, 10 do
				steps = steps + 1
				utils.yield()
			end
			done = done + 1
		end)
	end
	h.ok(h.waitfor(function() return done == N end, 25),
		'all ' .. N .. ' coroutines finish', done .. ' finished')
	h.is(steps, 10 * N, 'every coroutine yielded 10 times')
	local peak = h.rss()
	collectgarbage()
	collectgarbage()
	h.figure('spawn storm', string.format('%d coroutines x 10 yields in %.2f s',
		N, h.clock() - t0))
	return peak, h.rss()
end
local peak1, rss1 = storm()
local peak2, rss2 = storm()
h.figure('RSS kB: baseline / peak / after GC, twice', string.format(
	'%d / %d / %d, %d / %d', rss0, peak1, rss1, peak2, rss2))
h.figure('Lua heap kB after collectgarbage', collectgarbage('count'))
-- The Lua heap comes back to the size of lem's thread table (Lua 5.1
-- tables do not shrink when emptied: 2^17 nodes here).  glibc keeps the
-- freed pages mapped, so RSS stays at the peak: the second storm must
-- reuse them instead of growing.
h.ok(collectgarbage('count') < 8192, 'the Lua heap is back under 8 MB')
if not h.asan and not h.valgrind then
	h.ok(peak2 - peak1 < 16 * 1024 and rss2 <= peak1 + 16 * 1024,
		'a second storm reuses the memory (no growth of the peak)',
		peak1 .. ' -> ' .. peak2)
end
h.done()
