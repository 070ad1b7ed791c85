-- t/06-timeout.t - deadlines: utils.timeout and utils.sleep
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local timeout, sleep, spawn = utils.timeout, utils.sleep, utils.spawn

tap.plan(37, 30)

-- utils.sleep
tap.same(tap.pack(sleep(0.01)), { true }, 'sleep(s) returns true')
tap.same(tap.pack(sleep(0)), { true }, 'sleep(0) returns true')
tap.same(tap.pack(sleep('0.001')), { true }, 'a numeric string converts')
tap.fails('negative', 'sleep(-1) raises', sleep, -1)
tap.fails('NaN', 'sleep(NaN) raises', sleep, 0 / 0)
tap.fails('number expected', 'sleep({}) raises', sleep, {})
tap.fails('number expected', 'sleep() raises', sleep)
do
	local ran = false
	spawn(function() ran = true end)
	sleep(0)
	tap.ok(ran, 'sleep(0) lets the queued coroutines run')
end

-- results and errors pass through
tap.same(tap.pack(timeout(1, function(a, b) return a, nil, b end, 1, 2)),
	{ 1, nil, 2, n = 3 }, 'timeout returns what f returns, nils included')
tap.same(tap.pack(timeout(nil, function() return 'x' end)), { 'x' },
	'nil: no deadline')
tap.same(tap.pack(timeout(math.huge, sleep, 0.01)), { true },
	'math.huge: no deadline')
tap.same(tap.pack(timeout('1', sleep, 0.001)), { true }, 'a numeric string converts')
do
	local ok, err = pcall(timeout, 1, function() error('inner problem') end)
	tap.ok(not ok and err:find('06%-timeout.t:%d+: inner problem'),
		'an error raised by f passes through with its position', err)
	local t = {}
	ok, err = pcall(timeout, 1, error, t)
	tap.ok(not ok and err == t, 'an error object passes through unchanged')
	-- the scope of a failed call is gone: no stale deadline
	ok, err = pcall(timeout, 0.01, function() error('x') end)
	tap.same(tap.pack(sleep(0.05)), { true },
		'after an error in a scope, no deadline is left behind')
end

-- bad arguments raise before anything runs
tap.fails('NaN', 'timeout(NaN) raises', timeout, 0 / 0, function() end)
tap.fails('number expected', 'timeout({}) raises', timeout, {}, function() end)
tap.fails('function expected', 'timeout(1, 42) raises', timeout, 1, 42)
-- named as the caller knows it, at the caller's line
local ok, err = pcall(function() local r = timeout(0 / 0, print) return r end)
tap.like(err, "^[^\n]*06%-timeout%.t:%d+: bad argument #1 to 'timeout' %(number expected, got NaN%)$",
	'a bad argument names timeout and the line that called it', err)
tap.same(tap.pack(timeout(1, setmetatable({}, { __call = function(_, x) return x end }), 7)),
	{ 7 }, 'a callable table is accepted')

-- a wait in progress when the deadline passes
tap.same(tap.pack(timeout(0.02, sleep, 5)), { nil, 'timeout' },
	'a sleep cut short returns nil, timeout')
do
	local s = utils.sleeper()
	tap.same(tap.pack(timeout(0.02, s.sleep, s)), { nil, 'timeout' },
		'a sleeper:sleep obeys the deadline')
	tap.same(tap.pack(s:wakeup()), { nil, 'not sleeping' },
		'... and is left idle')
end

-- every later wait in the scope returns at once
tap.same(tap.pack(timeout(0.01, function()
	local a, b = sleep(5)
	local c, d = sleep(5)
	return a, b, c, d
end)), { nil, 'timeout', nil, 'timeout', n = 4 }, 'later waits time out at once')
tap.same(tap.pack(timeout(0, function() return 'ran' end)), { 'ran' },
	'seconds <= 0: f still runs')
tap.same(tap.pack(timeout(-1, sleep, 1)), { nil, 'timeout' },
	'seconds <= 0: its first wait times out')

-- ... but lets the others run each time
do
	local turns = 0
	local stop = false
	spawn(function() while not stop do turns = turns + 1 utils.yield() end end)
	timeout(0, function() for _ = 1, 10 do sleep(1) end end)
	stop = true
	tap.ok(turns >= 10, 'a loop of expired waits lets queued coroutines run (' .. turns .. ')')
end

-- nesting: the earliest deadline wins
tap.same(tap.pack(timeout(5, timeout, 0.02, sleep, 5)), { nil, 'timeout' },
	'an inner, earlier deadline applies')
tap.same(tap.pack(timeout(0.02, timeout, 5, sleep, 5)), { nil, 'timeout' },
	'an outer, earlier deadline applies inside a later one')
tap.same(tap.pack(timeout(0.05, function()
	local r = { timeout(0.01, sleep, 5) }
	return r[2], sleep(0.001)
end)), { 'timeout', true }, 'after an inner scope ends, the outer one is not expired')

-- utils.yield is not a wait
tap.same(tap.pack(timeout(0, function() return utils.yield() end)), { n = 0 },
	'yield() in an expired scope returns nothing, no timeout')

-- spawned coroutines do not inherit the deadline
do
	local q = utils.queue()
	timeout(0.01, function()
		spawn(function() q:put(tap.pack(sleep(0.05))) end)
	end)
	local r = q:get()
	tap.same(r, { true }, 'a coroutine spawned in a scope has no deadline')
end

-- a deadline applies inside pcall too (and pcall sees the timeout result)
tap.same(tap.pack(timeout(0.02, pcall, sleep, 5)), { true, nil, 'timeout' },
	'pcall inside a scope: the wait times out')
tap.same(tap.pack(pcall(timeout, 0.02, sleep, 5)), { true, nil, 'timeout' },
	'a scope inside pcall')

-- the clock is read afresh when the scope starts
do
	local t0 = os.clock()
	while os.clock() - t0 < 0.05 do end    -- the loop clock is now stale
	tap.same(tap.pack(timeout(0.2, sleep, 0.05)), { true },
		'a scope after CPU-bound work gets its full time')
end

-- many scopes, no timers left behind: the program ends at once
do
	for _ = 1, 1000 do timeout(30, sleep, 0) end
	local out, err, st = tap.lemrun([[
		local utils = require 'lem.utils'
		for i = 1, 100 do utils.timeout(3600, utils.sleep, 0.0001) end
		print('done')
	]])
	tap.same({ out, st }, { 'done\n', 0 }, 'ended scopes leave no timer behind (a lem exits)')
end

-- timeout outside a lem coroutine
tap.same({ tap.lemrun([[
	local utils = require 'lem.utils'
	keep = newproxy(true)
	getmetatable(keep).__gc = function()
		local ok, e = pcall(utils.timeout, 1, utils.sleep, 1)
		io.write(tostring(ok), ' ', tostring(e):match('[^:]*$'), '\n')
	end
]]) }, { 'false  utils.timeout outside a lem coroutine\n', '', 0 },
	'in a __gc at exit: a clear error')

tap.done()
