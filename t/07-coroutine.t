-- t/07-coroutine.t - coroutine handles: spawn, join, cancel, status,
-- current; every spawn is a new coroutine
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local spawn, sleep, yield = utils.spawn, utils.sleep, utils.yield

tap.plan(36, 30)

-- the handle
local inner
local co = spawn(function(a, b)
	inner = coroutine.running()
	return a, nil, b
end, 'x', 'y')
tap.is(type(co), 'thread', 'spawn returns the coroutine')
tap.is(getmetatable(co), utils.Coroutine, 'its metatable is utils.Coroutine')
tap.is(co:status(), 'queued', 'a new coroutine is queued')
tap.same(tap.pack(co:join()), { true, 'x', nil, 'y', n = 4 },
	'join returns true and every result, nils included')
tap.is(inner, co, 'coroutine.running() inside is the handle')
tap.is(co:status(), 'done', 'then it is done')
tap.same(tap.pack(co:join()), { true, 'x', nil, 'y', n = 4 },
	'join after the end returns at once, again')
tap.is(coroutine.status(co), 'dead', 'coroutine.status says dead')
tap.same(tap.pack(coroutine.resume(co)), { false, 'cannot resume dead coroutine' },
	'and it cannot be resumed')
tap.same(tap.pack(co:cancel()), { nil, 'done' }, 'cancel of a finished one: nil, done')

-- status while it waits and runs
do
	local s = utils.sleeper()
	local c
	c = spawn(function()
		tap.is(c:status(), 'running', 'status inside is running')
		s:sleep()
	end)
	yield()
	tap.is(c:status(), 'waiting', 'status while it sleeps is waiting')
	s:wakeup()
	tap.is(c:status(), 'queued', 'woken: queued')
	c:join()
end

-- current()
tap.is(type(utils.current()), 'thread', 'the main chunk has a handle')
tap.is(utils.current(), coroutine.running(), '... and it is coroutine.running()')
do
	local ok, cur = pcall(utils.current)
	tap.same({ ok, cur, (pcall(coroutine.running)) }, { true, utils.current(), true },
		'current() inside pcall is the calling coroutine')
	local r = { pcall(function() return coroutine.running() end) }
	tap.is(r[2], coroutine.running(), 'so is coroutine.running()')
end

-- several joiners, a joiner with a deadline
do
	local s = utils.sleeper()
	local c = spawn(function() s:sleep() return 42 end)
	local got = {}
	for i = 1, 3 do spawn(function() got[i] = select(2, c:join()) end) end
	tap.same(tap.pack(utils.timeout(0.02, c.join, c)), { nil, 'timeout' },
		'join obeys a deadline')
	s:wakeup()
	c:join()
	yield()
	tap.same(got, { 42, 42, 42 }, 'every joiner gets the results')
end
tap.fails('cannot join itself', 'joining yourself raises', function()
	return utils.current():join()
end)

-- cancel
do
	local c = spawn(function()
		local a, b = sleep(10)
		local d, e = sleep(10)
		return a, b, d, e, 'went on'
	end)
	yield()
	tap.is(c:cancel(), true, 'cancel returns true')
	tap.same(tap.pack(c:join()), { true, nil, 'cancelled', nil, 'cancelled', 'went on', n = 6 },
		'the wait in progress and every later one return nil, cancelled')
end
do
	local ran = false
	local c = spawn(function() ran = true return sleep(1) end)
	c:cancel()
	tap.same(tap.pack(c:join()), { true, nil, 'cancelled', n = 3 },
		'cancelled before it ran: its first wait is cancelled')
	tap.ok(ran, '... and it ran')
end
do
	local c = spawn(function() return pcall(sleep, 10) end)
	yield()
	c:cancel()
	tap.same(tap.pack(c:join()), { true, true, nil, 'cancelled', n = 4 },
		'cancel reaches a wait inside pcall')
end
do
	local c = spawn(function() return utils.yield(), 'yielded' end)
	c:cancel()
	tap.same(tap.pack(c:join()), { true, nil, 'yielded', n = 3 },
		'yield is not a wait: not cancelled')
end

-- bad input
tap.fails('utils.Coroutine expected', 'join on a non-coroutine raises',
	function() return utils.Coroutine.join({}) end)
tap.fails('not a coroutine spawned by lem', 'join on a coroutine.create one raises',
	function() return coroutine.create(function() end):join() end)
tap.fails('not a coroutine spawned by lem', 'status of a finished coroutine.create one raises',
	function()
		local c = coroutine.create(function() end)
		coroutine.resume(c)
		return c:status()
	end)
tap.fails('function expected', 'spawn(42) raises', spawn, 42)

-- every spawn is a new coroutine: nothing of one reaches the next
do
	local a, b
	spawn(function() a = coroutine.running() end):join()
	spawn(function() b = coroutine.running() end):join()
	tap.ok(a ~= b, 'two spawns run in two coroutines')
	local weak = setmetatable({}, { __mode = 'k' })
	spawn(function() weak[coroutine.running()] = 'mine' end):join()
	local seen
	spawn(function() seen = weak[coroutine.running()] end):join()
	tap.is(seen, nil, 'per-coroutine data does not leak into the next one')
	spawn(function() setfenv(0, { leaked = true }) end):join()
	local leaked
	spawn(function() leaked = getfenv(0).leaked end):join()
	tap.is(leaked, nil, 'setfenv(0) of one does not reach the next')
	if jit then
		-- LuaJIT has one hook for all coroutines, as in plain LuaJIT
		tap.skip(1, 'LuaJIT: debug hooks are global')
	else
		local hooked = 0
		spawn(function() debug.sethook(function() hooked = hooked + 1 end, 'l') end):join()
		spawn(function()
			local x = 1
			x = x + 1
		end):join()
		tap.is(hooked, 0, 'a hook set in one does not run in the next')
	end
end
do
	local server = require('lem.streams').tcp_listen('127.0.0.1', 0)
	local _, port = server:address()
	local seen = {}
	spawn(function()
		server:autospawn(function(s)
			seen[#seen + 1] = coroutine.running()
			s:close()
		end)
	end)
	for _ = 1, 2 do
		local c = require('lem.streams').tcp_connect('127.0.0.1', port)
		c:read()
	end
	server:close()
	tap.ok(#seen == 2 and seen[1] ~= seen[2], 'autospawn runs each handler in a new coroutine')
end

-- a thousand handles
do
	local cs = {}
	for i = 1, 1000 do cs[i] = spawn(function() sleep(0.001) return i end) end
	local sum = 0
	for i = 1, 1000 do sum = sum + select(2, cs[i]:join()) end
	tap.is(sum, 500500, '1000 joins')
end

tap.done()
