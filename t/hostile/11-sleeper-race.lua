-- 11. Wakeup/timeout race: 10k rounds of sleep(0.001) against a
-- jittered waker.  wakeup() true <=> the sleeper got the values;
-- nil,'not sleeping' <=> the sleeper timed out; each sleep returns once.
local h = require 'h'
local utils = require 'lem.utils'

local N = h.n(10000)
local s, waker = utils.sleeper(), utils.sleeper()
local woken, timedout, bad, returns = 0, 0, 0, 0
math.randomseed(5)
for i = 1, N do
	local got
	utils.spawn(function()
		got = { s:sleep(0.001) }
		returns = returns + 1
	end)
	local jitter = math.random() * 0.002
	if jitter < 0.0003 then
		utils.yield()
	else
		waker:sleep(jitter)
	end
	local ok, err = s:wakeup(i, 'x')
	while not got do utils.yield() end
	if ok == true then
		woken = woken + 1
		if got[1] ~= i or got[2] ~= 'x' then bad = bad + 1 end
	elseif ok == nil and err == 'not sleeping' then
		timedout = timedout + 1
		if got[1] ~= nil or got[2] ~= 'timeout' then bad = bad + 1 end
	else
		bad = bad + 1
	end
end
for _ = 1, 3 do utils.yield() end
h.is(bad, 0, 'the invariant holds in every round')
h.is(returns, N, 'each sleep returned exactly once')
h.is(woken + timedout, N, 'every round is either woken or timed out')
h.figure('rounds woken / timed out', woken .. ' / ' .. timedout)
h.ok(woken > 0 and timedout > 0, 'both outcomes occurred')
h.done()
