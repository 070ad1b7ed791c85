-- test.lua - run with lem: the sample module suspends only its caller
local utils = require 'lem.utils'
local delay = require 'delay'

-- a coroutine that counts its turns; it is queued, so it runs at least
-- once while delay.value waits (how often depends on the machine's speed)
local ticks, stop = 0, false
utils.spawn(function()
	while not stop do ticks = ticks + 1 utils.yield() end
end)
local v = delay.value(0.05, 'later')
stop = true
assert(v == 'later', 'delay.value returned ' .. tostring(v))
assert(ticks > 0, 'no other coroutine ran meanwhile')
print('ok: delay.value returned "' .. v .. '"; another coroutine ran meanwhile')
