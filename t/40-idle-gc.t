-- t/40-idle-gc.t - coroutines that lem lets go are collected while the
-- loop is idle, not only by later allocations or at exit
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local spawn, sleeper = utils.spawn, utils.sleeper

tap.plan(4, 60)

-- each coroutine holds an object whose __gc counts; once they have all
-- finished, only a collection can run those __gc
local finalized = 0
local function counted()
	local p = newproxy(true)
	getmetatable(p).__gc = function() finalized = finalized + 1 end
	return p
end

local N = 6000
local s, finished = sleeper(), 0
for i = 1, N do
	spawn(function()
		local p = counted()
		utils.yield()
		finished = finished + 1
		return p ~= nil
	end)
end
utils.yield()
utils.yield()
tap.is(finished, N, 'all coroutines have finished')

-- sleeping allocates nothing here: without idle collection at most a
-- step or two could run between these two readings.  The collector gets
-- up to 10 s (in 50 ms sleeps) to get there: on a loaded machine the
-- idle loop may get little CPU, and without idle collection no amount
-- of sleeping would get there.
local before = finalized
for _ = 1, 200 * tap.slow do
	s:sleep(0.05)
	if finalized - before > N / 2 then break end
end
local during = finalized - before
tap.ok(during > N / 2, 'most of their objects were collected during an idle sleep (' .. during .. ')')
tap.ok(finalized <= N, 'nothing is finalized twice (' .. finalized .. ')')

-- an idle loop with nothing left to collect still ends the program
local out, err, st = tap.lemrun([[
local u = require 'lem.utils'
for i = 1, 3000 do u.spawn(function() u.yield() end) end
u.yield() u.yield()
print('ok')
]])
tap.same({ out, st }, { 'ok\n', 0 }, 'the idle collector does not keep the program running')
tap.done()
