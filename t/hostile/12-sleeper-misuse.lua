-- 12. Sleeper misuse: a second sleeper gets 'busy'; wakeup with nobody
-- gets 'not sleeping'; wakeup with 250 values; a sleeper only referenced
-- by its sleeping coroutine; 1e6 sleep(0) with flat memory.
local h = require 'h'
local utils = require 'lem.utils'

local s = utils.sleeper()
h.is(select(2, s:wakeup()), 'not sleeping', 'wakeup with nobody sleeping')
local got
utils.spawn(function() got = { s:sleep() } end)
utils.yield()
local a, b = s:sleep(1)
h.same({ a, b }, { nil, 'busy' }, 'a second sleeper gets busy')
local vals = {}
for i = 1, 250 do vals[i] = i end
h.is(s:wakeup(unpack(vals)), true, 'wakeup with 250 values')
utils.yield()
h.ok(got and #got == 250 and got[250] == 250, 'the sleeper got all 250 values',
	got and #got)
h.is(select(2, s:wakeup()), 'not sleeping', 'then nobody sleeps')
ok, err = pcall(function()
	local t = {}
	for i = 1, 10000 do t[i] = i end
	return s:wakeup(unpack(t))
end)
h.ok(ok or err:find('too many', 1, true) or err:find('stack', 1, true),
	'wakeup with 10000 values: defined result', tostring(err))

-- a sleeper referenced only by its (timed) sleeper coroutine survives
local timedout
utils.spawn(function()
	timedout = select(2, utils.sleeper():sleep(0.05))
end)
utils.yield()
collectgarbage()
collectgarbage()
h.ok(h.waitfor(function() return timedout end, 2) and timedout == 'timeout',
	'a sleeper kept only by its coroutine still times out')

-- a sleeper collected while a coroutine sleeps on it forever: the
-- coroutine is parked for good and does not keep lem alive (checked by
-- this process ending)
local forever = 0
for _ = 1, 100 do
	utils.spawn(function() utils.sleeper():sleep() forever = forever + 1 end)
end
utils.yield()
collectgarbage()
collectgarbage()
h.is(forever, 0, 'forever-sleepers never wake up')

-- 1e6 sleep(0): flat memory
local N = h.n(1000000)
local z = utils.sleeper()
for _ = 1, N / 10 do z:sleep(0) end
collectgarbage()
local rss0 = h.rss()
local t0 = h.clock()
for _ = 1, N do z:sleep(0) end
collectgarbage()
local rss1 = h.rss()
h.figure(N .. ' sleep(0)', string.format('%.2f s, RSS %d -> %d kB',
	h.clock() - t0, rss0, rss1))
h.ok(rss1 - rss0 < 1024, 'RSS grows less than 1 MB', rss0 .. ' -> ' .. rss1)
h.done()
