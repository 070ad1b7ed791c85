-- 2. Wrong self: methods called on the wrong object or without self
-- raise a checkudata error ("bad argument #1 ... expected").
local h = require 'h'
local utils = require 'lem.utils'
-- loaded, not required: it waits (streams.sendfile), and require cannot
-- be waited across
local extra = assert(loadfile(h.dir .. '/matrix_extra.lua'))()

local s = utils.sleeper()
local cases = {
	{ 'Sleeper.sleep(io.stdout)', utils.Sleeper.sleep, io.stdout },
	{ 's.sleep()', s.sleep },
	{ 's.wakeup()', s.wakeup },
	{ 'Sleeper.wakeup(coroutine)', s.wakeup, coroutine.create(function() end) },
	{ 'Sleeper.__tostring({})', utils.Sleeper.__tostring, {} },
	{ 'Sleeper.__gc(nil)', utils.Sleeper.__gc, nil },
	{ 'Sleeper.__gc(io.stdout)', utils.Sleeper.__gc, io.stdout },
	{ 'Sleeper.sleep(newproxy())', utils.Sleeper.sleep, newproxy() },
}
for _, c in ipairs(extra.wrongself) do cases[#cases + 1] = c end
for _, c in ipairs(cases) do
	local ok, err = pcall(c[2], c[3])
	h.ok(not ok and tostring(err):find('bad argument #1', 1, true)
		and tostring(err):find('expected', 1, true), c[1] .. ' raises',
		tostring(err))
end
h.is(select(2, s:sleep(0)), 'timeout', 'the sleeper still works')
h.ok(io.stdout:write(''), 'io.stdout still works')
extra.release()
h.done()
