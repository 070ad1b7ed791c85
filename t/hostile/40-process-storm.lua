-- needs: lem.process
-- 40. 10,000 spawns, 50 at a time (process.spawn + p:wait, and
-- process.run): no zombie, no descriptor left, RSS flat after warm-up;
-- then the same under LEM_NO_PIDFD (SIGCHLD reaping) in a child lem.
local h = require 'h'
local utils = require 'lem.utils'
local process = require 'lem.process'

local N, AT_ONCE = h.n(10000), 50
local function storm(n, use_run)
	local left, bad = n, 0
	local sem = utils.semaphore(AT_ONCE)
	local done = utils.condition()
	for i = 1, n do
		sem:acquire()
		utils.spawn(function()
			local how, code
			if use_run and i % 4 == 0 then
				how, code = process.run({ '/bin/true' })
			else
				local p = process.spawn({ '/bin/true' })
				if p then how, code = p:wait() end
			end
			if how ~= 'exit' or code ~= 0 then bad = bad + 1 end
			sem:release()
			left = left - 1
			if left == 0 then done:broadcast() end
		end)
	end
	if left > 0 then done:wait() end
	return bad
end

local t0 = h.clock()
h.is(storm(h.n(500), true), 0, 'warm-up: 500 spawns')
collectgarbage() collectgarbage()
local rss0 = h.rss()
h.is(storm(N, true), 0, N .. ' spawns, ' .. AT_ONCE .. ' at a time, every one exit 0')
local secs = h.clock() - t0
collectgarbage() collectgarbage()
local rss1 = h.rss()
h.figure('spawn storm', ('%d spawns+waits in %.1f s (%.0f/s), RSS %d -> %d kB'):format(
	N + h.n(500), secs, (N + h.n(500)) / secs, rss0, rss1))
if h.asan or h.valgrind then
	io.write('# RSS not checked: the sanitizer keeps freed memory\n')
else
	h.ok(rss1 - rss0 < 4096, 'RSS grew less than 4 MB', rss0 .. ' -> ' .. rss1)
end

-- spawned and dropped, never waited for: reaped all the same
for _ = 1, h.n(1000) do process.spawn({ '/bin/true' }, { stdout = 'pipe' }) end
collectgarbage() collectgarbage()
h.ok(h.waitfor(function() collectgarbage() return #h.zombies() == 0 end, 30),
	'1000 children never waited for: no zombie')

-- the same through SIGCHLD, in a lem of its own
local script = h.tmpname('.lua')
local f = assert(io.open(script, 'w'))
f:write([[
local utils, process = require 'lem.utils', require 'lem.process'
local bad, left = 0, 0
for i = 1, ]] .. h.n(2000) .. [[ do
	left = left + 1
	utils.spawn(function()
		local p = process.spawn({ '/bin/true' })
		local how, code = p:wait()
		if how ~= 'exit' or code ~= 0 then bad = bad + 1 end
		left = left - 1
	end)
	if i % 50 == 0 then while left > 0 do utils.sleep(0.001) end end
end
while left > 0 do utils.sleep(0.01) end
local z = io.popen('ps --ppid ' .. io.open('/proc/self/stat'):read('*n') .. ' -o stat= | grep -c ^Z')
print(bad, tonumber(z:read('*a')))
z:close()
]])
f:close()
local out = h.run('LEM_NO_PIDFD=1 ' .. h.lem .. ' ' .. script)
os.remove(script)
h.is(out, '0\t0\n', 'LEM_NO_PIDFD=1: 2000 spawns, every one exit 0, no zombie')
h.done()
