-- 6. lem I/O inside coroutine.wrap / coroutine.create: a coroutine lem
-- does not run cannot suspend.  A clean error, nothing armed, never a
-- double resume, whatever the user does with the coroutine afterwards.
local h = require 'h'
local utils = require 'lem.utils'
-- loaded, not required: it waits (streams.sendfile), and require cannot
-- be waited across
local extra = assert(loadfile(h.dir .. '/matrix_extra.lua'))()

local s = utils.sleeper()
local function notours(err)
	return type(err) == 'string' and err:find('does not run', 1, true) ~= nil
end

local co = coroutine.create(function() return s:sleep(0.05) end)
local ok, err = coroutine.resume(co)
h.ok(not ok and notours(err), 'sleep in coroutine.create: clean error', err)
h.is(coroutine.status(co), 'dead', '... the coroutine is dead')
h.is(select(2, coroutine.resume(co)), 'cannot resume dead coroutine',
	'... resuming it again is the plain Lua error')
h.is(select(2, s:wakeup()), 'not sleeping', '... and the sleeper is idle')

local f = coroutine.wrap(function() utils.yield() end)
ok, err = pcall(f)
h.ok(not ok and notours(err), 'utils.yield in coroutine.wrap: clean error', err)

-- a coroutine that yields normally first, then tries lem I/O when the
-- user resumes it "before data arrives"
local resumed = 0
co = coroutine.create(function()
	coroutine.yield('first')
	resumed = resumed + 1
	return s:sleep(0.05)
end)
h.is(select(2, coroutine.resume(co)), 'first', 'plain coroutine.yield works')
ok, err = coroutine.resume(co)
h.ok(not ok and notours(err), '... the sleep after it: clean error', err)
h.is(resumed, 1, '... resumed exactly once')

-- a wrapped coroutine that spawns lem work: spawn only schedules
local ran = 0
coroutine.wrap(function()
	utils.spawn(function() s:sleep(0.01) ran = ran + 1 end)
end)()
h.ok(h.waitfor(function() return ran == 1 end, 2), 'spawn from a wrapped coroutine runs')

-- coroutine.yield inside lem's own coroutine acts as utils.yield
local order = {}
utils.spawn(function() order[#order + 1] = 'b' end)
coroutine.yield()
order[#order + 1] = 'a'
h.is(table.concat(order), 'ba', 'bare coroutine.yield() lets others run')
for _, g in ipairs(extra.wrap) do g(h, notours) end
extra.release()
h.done()
