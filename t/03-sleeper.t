-- t/03-sleeper.t - utils.sleeper, sleep and wakeup (README "The utility
-- library")
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local spawn, sleeper = utils.spawn, utils.sleeper

tap.plan(34, 60)

local s = sleeper()
tap.is(type(s), 'userdata', 'sleeper() returns an object')
tap.like(tostring(s), '^lem.Sleeper', 'it prints as a lem.Sleeper')

-- timeouts
local t0 = tap.clock()
local a, b = s:sleep(0.1)
local dt = tap.clock() - t0
tap.same({ a, b }, { nil, 'timeout' }, 'sleep(0.1) returns nil, "timeout"')
tap.ok(dt >= 0.08 and dt < 3, 'and lasts about 0.1 s (' .. dt .. ')')

-- the loop clock is refreshed before the timer starts: CPU-bound work
-- first, then a sleep that must still last its whole duration
local c0 = os.clock()
while os.clock() - c0 < 0.3 do end
t0 = tap.clock()
s:sleep(0.2)
dt = tap.clock() - t0
tap.ok(dt >= 0.18, 'a sleep after 0.3 s of CPU work still lasts 0.2 s (' .. dt .. ')')

-- zero and negative timeouts behave as yield, but time out
local log = {}
spawn(function() log[#log + 1] = 'other' end)
a, b = s:sleep(0)
tap.same({ a, b }, { nil, 'timeout' }, 'sleep(0) returns nil, "timeout"')
tap.is(log[1], 'other', 'sleep(0) lets queued coroutines run, like yield')
spawn(function() log[#log + 1] = 'other2' end)
a, b = s:sleep(-1)
tap.same({ a, b }, { nil, 'timeout' }, 'sleep(-1) returns nil, "timeout"')
tap.is(log[2], 'other2', 'sleep(-1) lets queued coroutines run')
a, b = s:sleep(-math.huge)
tap.is(b, 'timeout', 'sleep(-math.huge) times out at once')

-- wakeup
spawn(function() tap.is(s:wakeup('a', nil, 3), true, 'wakeup returns true') end)
tap.is(s:sleep(), 'a', 'sleep() without timeout returns after a wakeup')
spawn(function() s:wakeup('a', nil, 3) end)
tap.same(tap.pack(s:sleep(5)), { 'a', nil, 3, n = 3 },
	'sleep returns the values given to wakeup, nil included')
spawn(function() s:wakeup() end)
tap.is(select('#', s:sleep(5)), 0, 'wakeup() without values: sleep returns nothing')
spawn(function() s:wakeup(false) end)
tap.is(s:sleep(nil), false, 'sleep(nil) waits without a timeout')
spawn(function() s:wakeup('inf') end)
tap.is(s:sleep(math.huge), 'inf', 'sleep(math.huge) waits without a timeout')

local many = {}
for i = 1, 250 do many[i] = i end
spawn(function() s:wakeup(unpack(many)) end)
local got = { s:sleep() }
tap.same(got, many, 'wakeup with 250 values')

a, b = s:wakeup('x')
tap.same({ a, b }, { nil, 'not sleeping' }, 'wakeup with nobody sleeping: nil, "not sleeping"')

-- busy
local s2 = sleeper()
spawn(function() s2:sleep() end)
utils.yield()
a, b = s2:sleep(1)
tap.same({ a, b }, { nil, 'busy' }, 'a second sleeper on the same object: nil, "busy"')
tap.is(s2:wakeup(), true, 'the first sleeper is still there and can be woken')

-- a sleeper that timed out is idle again
local s3 = sleeper()
s3:sleep(0.01)
a, b = s3:wakeup()
tap.is(b, 'not sleeping', 'after a timeout, wakeup says not sleeping')
spawn(function() s3:wakeup('again') end)
tap.is(s3:sleep(5), 'again', 'and the sleeper can sleep again')

-- timeout vs wakeup in the same loop iteration: exactly one result
local rounds, both, consistent = 200, 0, 0
for i = 1, rounds do
	local z = sleeper()
	local woke, result
	local t = sleeper()
	spawn(function()
		t:sleep(0.001)               -- a timer expiring with z's timer
		woke = z:wakeup('w')
	end)
	local x, y = z:sleep(0.001)
	utils.sleeper():sleep(0.003)     -- let the waker finish
	if x == 'w' then result = 'woken' elseif y == 'timeout' then result = 'timeout' end
	if (woke == true and result == 'woken') or (woke == nil and result == 'timeout') then
		consistent = consistent + 1
	end
end
tap.is(consistent, rounds, 'timeout/wakeup races always give one consistent result')

-- concurrent sleepers with different timeouts finish in the order of
-- their deadlines.  Each deadline is when its timer was armed plus the
-- timeout: on a loaded machine the three may be armed tens of
-- milliseconds apart, so the order is checked against the deadlines,
-- with /proc/uptime's resolution (10 ms) as the tolerance.
local order = {}
local fin = sleeper()
local count = 0
for _, d in ipairs { 0.09, 0.03, 0.06 } do
	spawn(function()
		local deadline = tap.clock() + d
		sleeper():sleep(d)
		order[#order + 1] = { d = d, deadline = deadline }
		count = count + 1
		if count == 3 then fin:wakeup() end
	end)
end
fin:sleep(5)
local inorder, seen = count == 3, {}
for i, o in ipairs(order) do
	seen[i] = o.d .. ' (deadline ' .. o.deadline .. ')'
	if i > 1 and order[i - 1].deadline > o.deadline + 0.025 then inorder = false end
end
tap.ok(inorder, 'timers expire in order of their deadlines', table.concat(seen, ', '))

-- many sleepers
local N, woken = 5000, 0
local all = sleeper()
for i = 1, N do
	spawn(function()
		sleeper():sleep((i % 10) / 1000)
		woken = woken + 1
		if woken == N then all:wakeup() end
	end)
end
all:sleep(20)
tap.is(woken, N, N .. ' sleepers with timeouts all wake')

-- bad arguments
tap.fails("bad argument #1 to 'sleep' %(number expected", 's:sleep("x") raises', function() s:sleep('x') end)
tap.fails("bad argument #1 to 'sleep'.*NaN", 's:sleep(0/0) raises', function() s:sleep(0 / 0) end)
tap.fails("bad argument #1 to 'sleep'", 'sleep on a non-sleeper raises', function() s.sleep({}) end)
tap.fails("bad argument #1 to 'wakeup'", 'wakeup on a non-sleeper raises', function() s.wakeup(io.stdout) end)
tap.fails("bad argument #1 to 'sleep'", 'sleep with no self raises', function() s.sleep() end)
tap.is(select(2, s:sleep(0)), 'timeout', 'the sleeper still works after the errors')

-- a huge timeout does not fire
local s4 = sleeper()
spawn(function() utils.yield() s4:wakeup('early') end)
tap.is(s4:sleep(1e300), 'early', 'sleep(1e300) waits for the wakeup')

-- garbage: sleepers that nobody references are collected (twice: LuaJIT
-- frees an object with a __gc one cycle after running it)
collectgarbage() collectgarbage()
local before = collectgarbage('count')
for _ = 1, 20000 do sleeper():sleep(0) end
collectgarbage() collectgarbage()
tap.ok(collectgarbage('count') < before + 200, 'sleepers are collected (memory stays flat)')

-- the process ends with a timer-less sleeper pending elsewhere (see 01)
tap.ok(getmetatable(s).__gc ~= nil, 'sleepers have a __gc')

tap.done()
