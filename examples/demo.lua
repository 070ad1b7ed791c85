-- examples/demo.lua - a first look at lem: coroutines, sleepers and how
-- their output interleaves.  Run it with:  ./lem examples/demo.lua
local utils = require 'lem.utils'

local start = os.time()

-- Three workers share one thread.  Each sleeps a different amount of time
-- between its steps; while one sleeps, the others run.
local function worker(name, pause, steps)
	for i = 1, steps do
		print(string.format('%-7s step %d of %d', name, i, steps))
		utils.sleeper():sleep(pause)
	end
	return name
end

-- A sleeper is also a rendezvous: one coroutine sleeps on it, another
-- wakes it up and hands it values.
local done = utils.sleeper()
local finished = 0
for _, w in ipairs { { 'tortoise', 0.30, 3 }, { 'hare', 0.10, 5 }, { 'cat', 0.25, 2 } } do
	utils.spawn(function(name, pause, steps)
		worker(name, pause, steps)
		finished = finished + 1
		if finished == 3 then done:wakeup('all', finished, 'workers done') end
	end, w[1], w[2], w[3])
end

print('main: spawned three workers; spawn only schedules them,')
print('main: so these lines come first.  Now main sleeps until woken.')
print('main: woken with:', done:sleep())

-- utils.yield() lets every other queued coroutine have a turn.
utils.spawn(function() print('spawned: ran during the yield') end)
print('main: yielding')
utils.yield()
print('main: back; a sleep with a timeout returns', utils.sleeper():sleep(0.05))
print(string.format('main: done after about %d s', os.time() - start))
