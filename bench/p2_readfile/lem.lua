-- P2 lem: fs.readfile of the N files DIR/f0 .. DIR/f<N-1>, CONC
-- coroutines at once (the file thread pool does the reading).
-- usage: $LEM lem.lua DIR N CONC      prints "done N BYTES"
local fs, utils = require 'lem.fs', require 'lem.utils'
local dir, n, conc = arg[1], tonumber(arg[2]) or 2000, tonumber(arg[3]) or 64
local next_i, running, bytes = 0, 0, 0
if n == 0 then print('done 0 0') return end
local all = utils.condition()
local function worker()
	while next_i < n do
		local i = next_i
		next_i = next_i + 1
		local data = assert(fs.readfile(dir .. '/f' .. i))
		bytes = bytes + #data   -- not bytes + #fs.readfile(): that reads bytes before the wait
	end
	running = running - 1
	if running == 0 then all:broadcast(true) end
end
for _ = 1, conc do
	running = running + 1
	utils.spawn(worker)
end
all:wait()
print('done ' .. n .. ' ' .. bytes)
