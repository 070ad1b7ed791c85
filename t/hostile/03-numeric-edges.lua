-- 3. Numeric edges of sleep() and exit(): a defined result or a Lua
-- error, no UBSan report, no libev NaN-timer assert, no hang.
local h = require 'h'
local utils = require 'lem.utils'

local s = utils.sleeper()
local ok, err = pcall(s.sleep, s, 0 / 0)
h.ok(not ok and err:find('NaN', 1, true), 'sleep(0/0) raises', err)
h.is(select(2, s:sleep(-math.huge)), 'timeout', 'sleep(-math.huge) times out at once')
h.is(select(2, s:sleep(-0)), 'timeout', 'sleep(-0) times out at once')
h.is(select(2, s:sleep(-1)), 'timeout', 'sleep(-1) times out at once')
h.is(select(2, s:sleep(4.9e-324)), 'timeout', 'sleep(denormal) times out')
ok, err = pcall(s.sleep, s, '1e1x')
h.ok(not ok, 'sleep("1e1x") raises', err)
h.is(select(2, s:sleep('0.001')), 'timeout', 'sleep("0.001") converts')

-- long and infinite sleeps, ended by a wakeup
for _, t in ipairs({ 1e300, math.huge, 2 ^ 31, 2 ^ 63, 1e18 }) do
	local got
	utils.spawn(function() got = { s:sleep(t) } end)
	utils.yield()
	h.is(s:wakeup('w', t), true, 'wakeup during sleep(' .. t .. ')')
	h.ok(h.waitfor(function() return got end, 2) and got[1] == 'w'
		and got[2] == t, 'sleep(' .. t .. ') returns the wakeup values')
end

-- exit statuses, each in its own lem
local q = function(x) return "'" .. x .. "'" end
local function status(arg)
	local out, rc = h.run(q(h.lem) .. ' -e ' ..
		q('require("lem.utils").exit(' .. arg .. ')') .. '; echo "rc=$?"')
	return tonumber(out:match('rc=(%d+)')), out
end
local want = {
	{ '', 0 }, { 'nil', 0 }, { 'true', 0 }, { 'false', 1 }, { '0', 0 },
	{ '3', 3 }, { '3.7', 3 }, { '-1', 255 }, { '255', 255 },
	{ '"x"', 1 }, { '{}', 1 }, { '0/0', 1 }, { '1e300', 1 }, { '2^31', 1 },
	{ '-2^31 - 1', 1 }, { '-math.huge', 1 }, { 'print', 1 },
}
for _, w in ipairs(want) do
	local st, out = status(w[1])
	h.ok(st == w[2], 'exit(' .. w[1] .. ') -> status ' .. w[2], out)
	h.ok(not out:find('runtime error', 1, true) and not out:find('Sanitizer', 1, true),
		'exit(' .. w[1] .. ') without sanitizer report', out)
	if w[2] == 1 and w[1] ~= 'false' then
		h.ok(out:find('bad argument #1 to \'exit\'', 1, true),
			'exit(' .. w[1] .. ') is an argument error', out)
	end
end
h.done()
