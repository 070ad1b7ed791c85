-- t/04-pcall.t - pcall and xpcall across suspensions (README "Coroutines,
-- pcall and coroutine.yield")
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local sleeper, spawn = utils.sleeper, utils.spawn

tap.plan(33, 60)

local s = sleeper()

-- a suspending C function called directly through pcall
local ok, a, b = pcall(s.sleep, s, 0.01)
tap.same({ ok, a, b }, { true, nil, 'timeout' }, 'pcall(sleeper.sleep, s, 0.01) works')

-- a Lua function that suspends
ok, a = pcall(function() s:sleep(0.01) return 'after sleep' end)
tap.ok(ok and a == 'after sleep', 'a pcall-wrapped function can sleep')

-- errors after a suspension are caught
ok, a = pcall(function() s:sleep(0.01) error('late error') end)
tap.ok(not ok and a:find('late error'), 'an error after a sleep is caught', a)
ok, a = pcall(function() utils.yield() error({ code = 7 }) end)
tap.ok(not ok and type(a) == 'table' and a.code == 7, 'a table error object survives the suspension',
	tap.values(ok, a))

-- values pass through, nils included
ok, a, b = pcall(function(x, y) utils.yield() return x, y, nil end, 1, nil)
tap.same({ ok, a, b }, { true, 1, nil }, 'arguments and results pass through pcall')
tap.is(select('#', pcall(function() utils.yield() return 1, nil, nil end)), 4,
	'trailing nil results are kept')

-- wakeup delivered into a pcall
spawn(function() s:wakeup('hello', 'there') end)
ok, a, b = pcall(s.sleep, s)
tap.same({ ok, a, b }, { true, 'hello', 'there' }, 'a wakeup reaches a sleep inside pcall')

-- nested pcalls, with suspensions at every level
local function level(n)
	utils.yield()
	if n == 0 then error('bottom', 0) end
	local ok2, err = pcall(level, n - 1)
	s:sleep(0)
	return 'level ' .. n .. ': ' .. tostring(ok2) .. ' ' .. tostring(err)
end
ok, a = pcall(level, 3)
tap.is(a, 'level 3: true level 2: true level 1: false bottom', 'nested pcalls with sleeps')

-- other coroutines keep running while a pcall'd function sleeps
local ran = false
spawn(function() ran = true end)
pcall(s.sleep, s, 0.01)
tap.ok(ran, 'other coroutines run while a protected call sleeps')

-- xpcall
ok, a = xpcall(function() s:sleep(0.01) error('x marks') end, function(m) return 'handled: ' .. m end)
tap.ok(not ok and a:find('^handled: .*x marks'), 'xpcall calls its handler after a sleep', a)
ok, a = xpcall(function() s:sleep(0.01) local t = nil; return t.field end, debug.traceback)
tap.ok(not ok and a:find('stack traceback'), 'xpcall(f, debug.traceback) gives a traceback', a)
ok, a = xpcall(function() return 'fine' end, print)
tap.ok(ok and a == 'fine', 'xpcall returns results when nothing fails')
ok, a = xpcall(error, function(m) return 'h:' .. tostring(m) end)
tap.ok(not ok and a == 'h:nil', 'xpcall of a C function that raises')

-- coroutines spawned inside a pcall
local inner = sleeper()
ok, a = pcall(function()
	spawn(function() inner:wakeup('from spawn') end)
	return inner:sleep(1)
end)
tap.is(a, 'from spawn', 'a coroutine spawned inside pcall can wake it')

-- bad arguments
tap.ok(not pcall(pcall), 'pcall() with no function raises')
ok, a = pcall(nil)
tap.ok(not ok and a:find('attempt to call'), 'pcall(nil) returns false and the error', a)
ok, a = pcall(pcall, 42)
tap.ok(ok and a == false, 'pcall(42) inside pcall returns false')

-- deep recursion of pcalls does not crash
local function deep(n)
	if n == 0 then return 'bottom' end
	local ok2, r = pcall(deep, n - 1)
	if not ok2 then return 'stopped: ' .. tostring(r) end
	return r
end
tap.is(deep(150), 'bottom', '150 nested pcalls work')
local r = deep(100000)
tap.ok(type(r) == 'string', '100000 nested pcalls end cleanly: ' .. r:sub(1, 40))

-- suspending where Lua cannot yield raises, arms nothing
ok, a = pcall(table.sort, { 3, 2, 1 }, function(x, y) s:sleep(0.01) return x < y end)
tap.ok(not ok and a:find('yield across'), 'a sleep in a sort comparator raises', a)
tap.is(select(2, s:wakeup()), 'not sleeping', 'and the sleeper is not left sleeping')
ok, a = pcall(function()
	return setmetatable({}, { __index = function() return utils.yield() end }).x
end)
tap.ok(ok or a:find('yield across'), 'a yield inside __index works (LuaJIT) or raises cleanly (Lua 5.1)', a)

-- lem I/O inside a coroutine lem does not run
local co = coroutine.create(function() return s:sleep(0.01) end)
ok, a = coroutine.resume(co)
tap.ok(not ok and a:find('does not run'), 'sleep inside coroutine.create is a clean error', a)
tap.is(select(2, s:wakeup()), 'not sleeping', 'and arms nothing')
co = coroutine.wrap(function() return pcall(s.sleep, s, 0.01) end)
ok, a = co()
tap.ok(ok == false and type(a) == 'string' and a:find('does not run'),
	'pcall(sleep) inside coroutine.wrap: a clean error', tap.values(ok, a))

-- a coroutine lem runs cannot be resumed by hand (no double resume)
local waiter = sleeper()
local me, woke
spawn(function() me = coroutine.running() woke = { waiter:sleep(5) } end)
utils.yield()
ok, a = coroutine.resume(me, 'forged')
tap.ok(not ok and a:find('run by lem'), 'coroutine.resume of a waiting lem coroutine is refused', a)
ok, a = coroutine.resume(coroutine.running())
tap.ok(not ok, 'resuming the running lem coroutine is refused')
waiter:wakeup('real')
utils.yield()
tap.is(woke and woke[1], 'real', 'the waiting coroutine got the real wakeup, once')
tap.is(coroutine.status(me), 'dead', '... and finished')

-- plain coroutines inside pcall behave as in Lua
ok, a = pcall(function()
	local c = coroutine.wrap(function() coroutine.yield(1) return 2 end)
	return c() + c()
end)
tap.ok(ok and a == 3, 'user coroutines work inside pcall')

-- the error of a coroutine.yield across a pcall inside a user coroutine
co = coroutine.create(function() return pcall(coroutine.yield, 'y') end)
ok, a = coroutine.resume(co)
tap.ok(ok, 'coroutine.yield through pcall inside a user coroutine: no crash (' .. tostring(a) .. ')')

-- an error inside a spawned coroutine's pcall is local to it
local caught
spawn(function()
	local ok2, e = pcall(function() s:sleep(0.01) error('spawned err', 0) end)
	caught = e
end)
s:sleep(0.05)
tap.is(caught, 'spawned err', 'pcall in a spawned coroutine catches after a sleep')

-- many concurrent pcalls that all suspend
local N, done = 2000, 0
local all = sleeper()
for i = 1, N do
	spawn(function()
		local ok2, v = pcall(function() utils.yield() return i end)
		if ok2 and v == i then done = done + 1 end
		if done == N then all:wakeup() end
	end)
end
all:sleep(10)
tap.is(done, N, N .. ' concurrent suspended pcalls all return the right value')

tap.done()
