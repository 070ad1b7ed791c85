-- W7 lem: 100,000 coroutines pass 1,000,000 values through one
-- utils.queue (50,000 producers, 50,000 consumers, 20 values each, a
-- capacity of 1,000).
-- usage: $LEM lem.lua [PRODUCERS [VALUES_EACH]]    prints "done N"
local utils = require 'lem.utils'
local P = tonumber(arg[1]) or 50000
local K = tonumber(arg[2]) or 20
local q = utils.queue(1000)
local got, all = 0, utils.condition()
local spawn = utils.spawn
for _ = 1, P do
	spawn(function() for i = 1, K do q:put(i) end end)
	spawn(function()
		for _ = 1, K do q:get() end
		got = got + K
		if got == P * K then all:signal() end
	end)
end
all:wait()
print('done ' .. got)
