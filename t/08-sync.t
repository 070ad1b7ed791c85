-- t/08-sync.t - utils.queue, utils.mutex, utils.semaphore, utils.condition
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local spawn, yield, timeout = utils.spawn, utils.yield, utils.timeout

tap.plan(55, 30)

-- ------------------------------------------------------------- queue
do
	local q = utils.queue()
	tap.is(getmetatable(q), utils.Queue, 'utils.Queue is the metatable')
	for i = 1, 5 do q:put(i) end
	tap.is(q:count(), 5, 'an unbounded queue holds what is put')
	local got = {}
	for i = 1, 5 do got[i] = q:get() end
	tap.same(got, { 1, 2, 3, 4, 5 }, 'first in, first out')
	tap.fails('cannot put nil', 'put(nil) raises', q.put, q, nil)
	tap.fails('value expected', 'put() raises', q.put, q)
	tap.fails('lem.Queue expected', 'a method on another object raises',
		q.put, utils.mutex(), 1)
end
do
	local q = utils.queue(2)
	local log = {}
	spawn(function()
		for i = 1, 4 do q:put(i) log[#log + 1] = 'put' .. i end
	end)
	yield()
	tap.same(log, { 'put1', 'put2' }, 'put waits while the queue is full')
	tap.is(q:get(), 1, 'get takes the oldest')
	yield()
	tap.same(log, { 'put1', 'put2', 'put3' }, 'a waiting put goes on once there is room')
	tap.same({ q:get(), q:get(), q:get() }, { 2, 3, 4 }, 'and order is kept')
end
do
	local q = utils.queue(0)
	local log = {}
	spawn(function() log[1] = q:put('a') log[2] = 'after' end)
	yield()
	tap.is(#log, 0, 'capacity 0: put waits for a get')
	tap.is(q:get(), 'a', 'get takes from the waiting put')
	yield()
	tap.same(log, { true, 'after' }, 'the put returned true')
	spawn(function() q:put('b') end)
	tap.is(q:get(), 'b', 'a get waits for a put')
end
do
	local q = utils.queue()
	local r = {}
	for i = 1, 2 do spawn(function() r[i] = tap.pack(q:get()) end) end
	yield()
	tap.is(q:close(), true, 'close returns true')
	yield()
	tap.same(r[1], { nil, 'closed' }, 'close wakes a waiting get with nil, closed')
	tap.same(r[2], { nil, 'closed' }, '... every one')
	tap.same(tap.pack(q:put(1)), { nil, 'closed' }, 'put after close: nil, closed')
	tap.same(tap.pack(q:close()), { nil, 'already closed' }, 'close twice')
	local q2 = utils.queue()
	q2:put('left')
	q2:close()
	tap.is(q2:get(), 'left', 'values put before close are still got')
	tap.same(tap.pack(q2:get()), { nil, 'closed' }, '... then nil, closed')
end
do
	-- a getter removed by a deadline leaves the queue as if it never came
	local q = utils.queue()
	tap.same(tap.pack(timeout(0.01, q.get, q)), { nil, 'timeout' }, 'get obeys a deadline')
	local later
	spawn(function() later = q:get() end)
	yield()
	q:put('v')
	yield()
	tap.same({ later, q:count() }, { 'v', 0 }, 'the value goes to the next getter, not the gone one')
	-- a put removed by a deadline adds nothing
	local full = utils.queue(1)
	full:put('kept')
	tap.same(tap.pack(timeout(0.01, full.put, full, 'dropped')), { nil, 'timeout' },
		'put on a full queue obeys a deadline')
	tap.same({ full:get(), full:count() }, { 'kept', 0 }, 'and its value was never added')
end
tap.fails('capacity', 'queue(-1) raises', utils.queue, -1)
tap.fails('capacity', 'queue(1.5) raises', utils.queue, 1.5)

-- ------------------------------------------------------------- mutex
do
	local m = utils.mutex()
	local log = {}
	tap.is(m:lock(), true, 'lock a free mutex')
	for i = 1, 3 do
		spawn(function() m:lock() log[#log + 1] = i m:unlock() end)
	end
	yield()
	tap.same(log, {}, 'others wait while it is held')
	tap.same(tap.pack(spawn(function() end) and m:unlock()), { true }, 'unlock returns true')
	utils.sleep(0.01)
	tap.same(log, { 1, 2, 3 }, 'waiters get it in FIFO order')
	tap.same(tap.pack(m:unlock()), { nil, 'not locked' }, 'unlock of a free mutex: nil, not locked')
	m:lock()
	local r
	spawn(function() r = tap.pack(m:unlock()) end)
	yield()
	tap.same(r, { nil, 'not locked' }, 'unlock by a coroutine that does not hold it')
	tap.fails('already locked by this coroutine', 'locking it again raises', m.lock, m)
	tap.is((pcall(m.lock, m)), false, 'also through pcall (same coroutine)')
	m:unlock()
end
do
	local m = utils.mutex()
	local holder = spawn(function() m:lock() utils.sleep(0.02) end)
	yield()
	local r1
	spawn(function() r1 = tap.pack(m:lock()) end)
	holder:join()
	yield()
	tap.same(r1, { nil, 'abandoned' }, 'a holder that ends without unlocking: waiters get abandoned')
	tap.same(tap.pack(m:lock()), { nil, 'abandoned' }, '... and so does every later lock')
end
do
	local m = utils.mutex()
	m:lock()
	tap.same(tap.pack(spawn(function() return timeout(0.01, m.lock, m) end):join()),
		{ true, nil, 'timeout' }, 'lock obeys a deadline')
	local got
	spawn(function() got = m:lock() m:unlock() end)
	yield()
	m:unlock()
	yield()
	tap.same({ got, m:lock() }, { true, true },
		'a waiter gone by deadline is skipped; the mutex is not stuck')
	m:unlock()
end

-- --------------------------------------------------------- semaphore
do
	local s = utils.semaphore(2)
	tap.same({ s:acquire(), s:acquire(), s:count() }, { true, true, 0 }, 'acquire takes units')
	local got
	spawn(function() got = s:acquire() end)
	yield()
	tap.is(got, nil, 'acquire waits while the count is 0')
	tap.is(s:release(), true, 'release returns true')
	yield()
	tap.same({ got, s:count() }, { true, 0 }, 'the unit went straight to the waiter')
	tap.same(tap.pack(timeout(0.01, s.acquire, s)), { nil, 'timeout' }, 'acquire obeys a deadline')
	s:release()
	tap.is(s:count(), 1, 'a waiter gone by deadline took no unit')
	tap.fails('count', 'semaphore(-1) raises', utils.semaphore, -1)
	tap.fails('number expected', 'semaphore() raises', utils.semaphore)
end

-- --------------------------------------------------------- condition
do
	local c = utils.condition()
	tap.is(c:signal('nobody'), 0, 'signal with no waiter returns 0')
	local r = {}
	for i = 1, 3 do spawn(function() r[i] = tap.pack(c:wait()) end) end
	yield()
	tap.is(c:signal('a', nil, 'b'), 1, 'signal wakes one: returns 1')
	yield()
	tap.same(r[1], { 'a', nil, 'b', n = 3 }, 'the oldest waiter gets the values')
	tap.is(c:broadcast('all'), 2, 'broadcast returns how many it woke')
	yield()
	tap.same({ r[2][1], r[3][1] }, { 'all', 'all' }, 'every waiter got them')
	tap.same(tap.pack(timeout(0.01, c.wait, c)), { nil, 'timeout' }, 'wait obeys a deadline')
	tap.is(c:signal(), 0, 'and the gone waiter is not counted')
end

-- primitives from where no coroutine can wait
tap.fails('does not run', 'get inside coroutine.create raises',
	function()
		local co = coroutine.create(function() return utils.queue():get() end)
		local ok, e = coroutine.resume(co)
		error(e)
	end)

tap.done()
