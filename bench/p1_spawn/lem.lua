-- P1 lem: spawn and wait for PROGRAM N times, CONC at a time
-- (lem.process: posix_spawn, reaped through a pidfd).
-- usage: $LEM lem.lua N CONC [PROGRAM]      prints "done N"
local process, utils = require 'lem.process', require 'lem.utils'
local n, conc = tonumber(arg[1]) or 5000, tonumber(arg[2]) or 50
local prog = arg[3] or '/bin/true'
local started, running = 0, 0
if n == 0 then print('done 0') return end
local all = utils.condition()
local function worker()
	while started < n do
		started = started + 1
		local p = assert(process.spawn({ prog }))
		local how, code = p:wait()
		assert(how == 'exit' and code == 0, 'child failed')
	end
	running = running - 1
	if running == 0 then all:broadcast(true) end
end
for _ = 1, conc do
	running = running + 1
	utils.spawn(worker)
end
all:wait()
print('done ' .. n)
