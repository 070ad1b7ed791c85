-- t/02-utils.t - utils.spawn, utils.yield and the run queue (README
-- "Running scripts" and "The utility library")
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'

tap.plan(28, 60)

tap.is(type(utils.spawn), 'function', 'utils.spawn exists')
tap.is(type(utils.Sleeper), 'table', 'utils.Sleeper is the sleeper metatable')
tap.is(getmetatable(utils.sleeper()), utils.Sleeper, '... of every sleeper')

-- spawn only schedules; FIFO order; yield goes to the back
local log = {}
local function note(s) log[#log + 1] = s end
tap.is(type(utils.spawn(function(a, b) note('A' .. a .. b) end, 1, 2)),
	'thread', 'spawn returns the coroutine, its handle')
utils.spawn(function() note('B1') utils.yield() note('B2') end)
utils.spawn(function() note('C') end)
note('main')
tap.is(table.concat(log, ' '), 'main', 'spawn does not run the new coroutine at once')
utils.yield()
tap.is(table.concat(log, ' '), 'main A12 B1 C', 'queued coroutines ran in FIFO order during yield')
utils.yield()
tap.is(table.concat(log, ' '), 'main A12 B1 C B2', 'a yielding coroutine goes to the back of the queue')

-- arguments, nils included
local got
utils.spawn(function(...) got = { n = select('#', ...), ... } end, nil, 'x', nil)
utils.yield()
tap.same(got, { nil, 'x', nil, n = 3 }, 'spawn passes every argument, nils included')

-- C functions can be spawned
utils.spawn(rawset, _G, 'spawned_rawset', 42)
utils.yield()
tap.is(_G.spawned_rawset, 42, 'a C function can be spawned')

-- bad arguments
tap.fails("bad argument #1 to '[%w?]+' %(function expected, got nil%)",
	'spawn(nil) raises', utils.spawn, nil)
tap.fails("bad argument #1 to 'spawn' %(function expected, got table%)",
	'spawn({}) raises', function() utils.spawn({}) end)
tap.fails("bad argument #1 to 'spawn'", 'spawn() raises', function() utils.spawn() end)

-- yield returns nothing and ignores arguments
tap.is(select('#', utils.yield(1, 2, 3)), 0, 'yield returns no values')

-- fairness: a coroutine looping on yield cannot starve a timer
local stop, spins = false, 0
utils.spawn(function() while not stop do spins = spins + 1 utils.yield() end end)
local t0 = tap.clock()
local a, b = utils.sleeper():sleep(0.05)
stop = true
tap.is(b, 'timeout', 'a timer fires while another coroutine loops on yield')
tap.ok(spins > 0, 'the looping coroutine ran meanwhile (' .. spins .. ' turns)')
tap.ok(tap.clock() - t0 < 5, 'and the timer was not starved')

-- fairness the other way: the looper gets turns while others sleep-loop
local turns = 0
local s = utils.sleeper()
utils.spawn(function()
	for _ = 1, 5 do utils.yield() turns = turns + 1 end
	s:wakeup('looper done')
end)
tap.is(s:sleep(5), 'looper done', 'main sleeps while another coroutine yields 5 times')
tap.is(turns, 5, '... and it had all its turns')

-- many coroutines
local n, done = 20000, 0
local all = utils.sleeper()
for i = 1, n do
	utils.spawn(function(i)
		utils.yield()
		done = done + 1
		if done == n then all:wakeup(i) end
	end, i)
end
tap.is(all:sleep(30), n, n .. ' spawned coroutines each yield once, in order')
tap.is(done, n, '... and all of them finished')

-- a bare coroutine.yield acts like utils.yield
log = {}
utils.spawn(function() note('X') end)
coroutine.yield()
tap.is(table.concat(log, ' '), 'X', 'coroutine.yield() in a lem coroutine lets others run')

-- user coroutines still work as in plain Lua
local co = coroutine.wrap(function(a) local b = coroutine.yield(a + 1) return b * 2 end)
tap.is(co(1), 2, 'coroutine.wrap yields to its resumer')
tap.is(co(5), 10, '... and resumes')

-- suspending a coroutine lem does not run is an error, and arms nothing
local sl = utils.sleeper()
local ok, err = coroutine.resume(coroutine.create(function() return sl:sleep(0.01) end))
tap.ok(not ok and err:find('does not run'), 'sleep inside coroutine.create raises', err)
tap.is(sl:wakeup(), nil, '... and leaves the sleeper idle')
tap.is(select(2, sl:sleep(0.001)), 'timeout', '... which still works afterwards')

-- suspending across a C boundary is an error, and arms nothing
ok, err = pcall(table.sort, { 3, 2, 1 }, function(x, y) sl:sleep(0.01) return x < y end)
tap.ok(not ok and err:find('yield across'), 'sleep inside a table.sort comparator raises', err)
ok, err = pcall(string.gsub, 'abc', '%w', function() utils.yield() end)
tap.ok(not ok and err:find('yield across'), 'yield inside a gsub callback raises', err)

tap.done()
