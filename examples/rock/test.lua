-- test.lua - run with lem: the sample module suspends only its caller
local utils = require 'lem.utils'
local delay = require 'delay'

local ticks = 0
utils.spawn(function()
	for _ = 1, 5 do ticks = ticks + 1 utils.yield() end
end)
local v = delay.value(0.05, 'later')
assert(v == 'later', 'delay.value returned ' .. tostring(v))
assert(ticks == 5, 'other coroutines did not run meanwhile')
print('ok: delay.value returned "' .. v .. '" and ' .. ticks .. ' other turns ran')
