-- t/05-capi.t - a module compiled against include/lem.h suspends and
-- resumes coroutines through the public C API
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'

tap.plan(21, 60)

local cc = os.getenv('CC') or 'cc'
local cppflags = os.getenv('LEM_CPPFLAGS')
if not cppflags then
	-- run by prove from the source tree: guess the flags
	local p = io.popen('pkg-config --cflags lua5.1 2>/dev/null')
	cppflags = '-I' .. tap.dir .. '/../include ' .. (p:read('*l') or '')
	p:close()
end
-- make check built t/capi_module.so with the flags of the build (the
-- sanitizers' too); run by prove or by installcheck (against the
-- installed lem.h, LEM_CPPFLAGS from pkg-config --cflags lem), the
-- module is compiled here
local built = os.getenv('LEM_TEST_BUILT')
local so = built and built .. '/.libs/capi_module.so'
local out, err, st = '', '', 0
if not so then
	so = tap.tmpname('.so')
	out, err, st = tap.sh(cc .. ' -shared -fPIC -Wall -Wextra -o ' .. so .. ' '
		.. cppflags .. ' ' .. tap.quote(tap.dir .. '/capi_module.c'))
end
if st ~= 0 then
	tap.diag(err)
	tap.skip(21, 'cannot compile a module against lem.h here')
	tap.cleanup()
	return tap.done()
end
tap.ok(true, 'a module compiles against lem.h alone')

local open = package.loadlib(so, 'luaopen_capi_module')
tap.ok(open, 'and loads into lem (lem exports its symbols)')
local capi = open()

-- lem_suspend + a timer + lem_queue
local ran = false
utils.spawn(function() ran = true end)
tap.is(capi.double_later(21, 0.01), 42, 'lem_suspend/lem_queue: the call returns what the callback pushed')
tap.ok(ran, 'other coroutines ran while it was suspended')

-- through pcall
local ok, v = pcall(capi.double_later, 5, 0)
tap.same({ ok, v }, { true, 10 }, 'a module call can suspend inside pcall')

-- lem_newthread
local s = utils.sleeper()
capi.run(function(a, b) s:wakeup(a + b) end, 1, 2)
tap.is(s:sleep(5), 3, 'lem_newthread + lem_queue start a coroutine')

-- lem_async_run: worker threads, the loop keeps running
local n, t = 0, {}
for i = 1, 8 do
	utils.spawn(function() t[i] = capi.sum(1000 * i) n = n + 1 if n == 8 then s:wakeup() end end)
end
s:sleep(10)
tap.same({ t[1], t[8] }, { 500500, 8000 * 8001 / 2 }, 'lem_async_run computes in worker threads')

-- suspending where it cannot: error, nothing armed
ok, v = pcall(table.sort, { 2, 1 }, function(a, b) capi.double_later(1, 0.01) return a < b end)
tap.ok(not ok and v:find('yield across'), 'lem_suspend raises where a yield is impossible', v)

-- lem_checkudata: the metatable carried as upvalue decides
local box = capi.box(7)
tap.is(box:get(), 7, 'lem_checkudata hands back the userdata')
ok, v = pcall(box.get, s)
tap.ok(not ok and v:find('capi.Box expected', 1, true), 'another userdata: the argument error', v)
ok, v = pcall(box.get, 'x')
tap.ok(not ok and v:find('capi.Box expected, got string', 1, true), 'a non-userdata: the argument error', v)

-- lem_wait: a wait that deadlines, cancel and the module itself can end
local bell = capi.bell()
utils.spawn(function() bell:ring('rung') end)
tap.is(bell:wait(), 'rung', 'lem_wait + lem_wait_end: the module ends the wait')
tap.same(tap.pack(utils.timeout(0.01, bell.wait, bell)), { nil, 'timeout' },
	'a deadline ends a lem_wait wait (nil, timeout)')
tap.is(bell:ring('late'), false, '... and leaves nothing waiting (ring finds nobody)')
local co = utils.spawn(function() return bell:wait() end)
utils.yield()
co:cancel()
tap.same(tap.pack(co:join()), { true, nil, 'cancelled' }, 'co:cancel() ends it (nil, cancelled)')
utils.spawn(function() bell:fail() end)
tap.same(tap.pack(bell:wait()), { nil, 'interrupted' }, 'lem_wait_fail ends it with the word')
bell:later(0.005, 'done')
tap.is(bell:wait(), 'done!', 'lem_wait_run: a result made in a protected step')
co = utils.spawn(function() return bell:wait() end)
utils.yield()
bell:later(0, 'one')
local rang
utils.spawn(function() rang = bell:ring('two') end)
local r = tap.pack(co:join())
tap.ok(r.n == 2 and (r[2] == 'two') == rang and (r[2] == 'two' or r[2] == 'one!'),
	'exactly one result when two enders race', tostring(r[2]))
utils.sleep(0.01)
tap.is(bell:ring('x'), false, '... and the other finds the wait ended')
tap.same(tap.pack(utils.timeout(-1, bell.wait, bell)), { nil, 'timeout' },
	'an expired deadline: lem_wait ends at once')
-- a plain lem_suspend wait does not see deadlines (what it gives up)
tap.is(utils.timeout(0.001, capi.double_later, 4, 0.02), 8,
	'a lem_suspend wait runs to its end under a deadline')

tap.cleanup()
tap.done()
