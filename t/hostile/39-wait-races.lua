-- 39. Deadlines, cancel, interrupt, close and garbage collection racing
-- over every kind of wait: exactly one result each, no crash, nothing
-- left armed, no coroutine resumed twice.
local h = require 'h'
local utils = require 'lem.utils'
local spawn, timeout, yield = utils.spawn, utils.timeout, utils.yield

-- every kind of wait, made from a fresh object
local kinds = {
	sleep = function() return utils.sleep(0.001) end,
	sleeper = function() local s = utils.sleeper() spawn(function() s:wakeup('w') end) return s:sleep(0.001) end,
	queue = function() local q = utils.queue() spawn(function() q:put('v') end) return q:get() end,
	full_queue = function() local q = utils.queue(0) spawn(function() q:get() end) return q:put('v') end,
	mutex = function()
		local m = utils.mutex()
		spawn(function() m:lock() yield() m:unlock() end)
		yield()
		return m:lock()
	end,
	semaphore = function() local s = utils.semaphore(0) spawn(function() s:release() end) return s:acquire() end,
	condition = function() local c = utils.condition() spawn(function() c:signal('s') end) return c:wait() end,
	join = function() local co = spawn(function() return utils.sleep(0.001) end) return co:join() end,
}

local N = h.n(300)
local results, resumed, bad = 0, 0, 0
for name, wait in pairs(kinds) do
	for i = 1, N do
		local deadline = (i % 3) * 0.0005          -- 0, 0.5 ms, 1 ms
		local n = 0
		local co = spawn(function()
			local r = { timeout(deadline, wait) }
			n = n + 1
			return r
		end)
		if i % 2 == 0 then spawn(function() co:cancel() end) end
		if i % 5 == 0 then collectgarbage('step', 100) end
		local ok, r = co:join()
		resumed = resumed + n
		results = results + 1
		if not ok or n ~= 1 then bad = bad + 1 end
		local v, e = r[1], r[2]
		if v == nil and e ~= 'timeout' and e ~= 'cancelled' then
			bad = bad + 1
			h.ok(false, name .. ': a result nobody expects', tostring(e))
		end
	end
end
h.is(bad, 0, 'every wait ended with one result of the expected kind')
h.is(resumed, results, 'no coroutine went on twice')

-- interrupt and close against a deadline, on a sleeper and a bell-like queue
for i = 1, N do
	local s = utils.sleeper()
	local co = spawn(function() return timeout(0.0005 * (i % 3), s.sleep, s) end)
	yield()
	if i % 2 == 0 then s:wakeup('first') end
	local ok, a, b = co:join()
	if not (ok and (a == 'first' or b == 'timeout')) then bad = bad + 1 end
end
h.is(bad, 0, 'wakeup against a deadline: one winner')

-- bad input raises before anything is armed
local cases = {
	{ 'timeout(NaN)', timeout, 0 / 0, yield },
	{ 'timeout(table)', timeout, {}, yield },
	{ 'timeout(1, nil)', timeout, 1, nil },
	{ 'sleep(NaN)', utils.sleep, 0 / 0 },
	{ 'sleep(-1)', utils.sleep, -1 },
	{ 'sleep("x")', utils.sleep, 'x' },
	{ 'queue(NaN)', utils.queue, 0 / 0 },
	{ 'queue(-3)', utils.queue, -3 },
	{ 'semaphore(0.5)', utils.semaphore, 0.5 },
	{ 'semaphore(NaN)', utils.semaphore, 0 / 0 },
	{ 'join(42)', utils.Coroutine.join, 42 },
	{ 'cancel("x")', utils.Coroutine.cancel, 'x' },
	{ 'status(nil)', utils.Coroutine.status, nil },
	{ 'put(nil)', utils.Queue.put, utils.queue(), nil },
	{ 'lock(sleeper)', utils.Mutex.lock, utils.sleeper() },
	{ 'wait(queue)', utils.Condition.wait, utils.queue() },
}
for _, c in ipairs(cases) do
	local ok, err = pcall(c[2], select(3, unpack(c)))
	h.ok(not ok, c[1] .. ' raises', err)
end

-- waits where no coroutine can wait: a clear error, nothing armed
local q = utils.queue()
local ok, err = pcall(table.sort, { 1, 2 }, function() return q:get() end)
h.ok(not ok and err:find('yield across'), 'a wait in a sort comparator raises', err)
ok, err = coroutine.wrap(function() return pcall(utils.sleep, 0.01) end)()
h.ok(ok == false and err:find('does not run'), 'a wait in coroutine.wrap raises', err)
q:put('still fine')
h.is(q:get(), 'still fine', 'the queue is untouched by the failed waits')

-- garbage: objects waited on by coroutines that are then forgotten
for _ = 1, N do
	spawn(function() utils.queue():get() end)
	spawn(function() utils.condition():wait() end)
end
yield()
collectgarbage()
collectgarbage()
h.ok(true, 'forgotten waiters and their objects: no crash')
h.done()
