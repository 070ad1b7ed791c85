-- t/12-streams-popen-reload.t - popen children are reaped also after
-- lem.streams is loaded a second time.
--
-- package.loaded['lem.streams'] = nil; require 'lem.streams' ran the
-- module's luaopen again, which replaced its unload sentinel; the old one
-- was collected and, thinking lem was exiting, freed the records of the
-- running children and stopped the SIGCHLD watcher: they became zombies.
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'

tap.plan(7, 60)

local function sleep(t) utils.sleeper():sleep(t) end

-- our children named `name`: how many run, how many are zombies
local function children(name)
	local o = tap.sh('cat /proc/[0-9]*/stat 2>/dev/null | awk \'$4 == ' ..
		tap.pid() .. ' && $2 == "(' .. name .. ')" { print $3 }\'')
	local run, zombie = 0, 0
	for st in o:gmatch('%S+') do
		if st == 'Z' then zombie = zombie + 1 else run = run + 1 end
	end
	return run, zombie
end

-- wait until no child named `name` is left; false if one stays
local function reaped(name)
	for _ = 1, 200 do
		local run, zombie = children(name)
		if run + zombie == 0 then return true end
		sleep(0.025)
	end
	return false
end

-- a child that runs until its input ends, started before the reload
local p = assert(streams.popen('exec cat > /dev/null', 'w'))
tap.is(select(1, children('cat')), 1, 'a popen child runs')
package.loaded['lem.streams'] = nil
local again = require 'lem.streams'
tap.ok(again ~= streams, 'lem.streams is loaded a second time')
-- whatever the first load left for the collector goes now
collectgarbage() collectgarbage()
tap.is(p:write('still a stream\n'), true, 'the stream made before the reload works')
p:close()               -- cat sees the end of its input and exits
tap.ok(reaped('cat'), 'the child started before the reload is reaped: no zombie',
	'still there (Z = zombie): ' .. select(2, children('cat')))

-- and one started after it, through the new module table
p = assert(again.popen('echo $$; exec sleep 1000 < /dev/null'))
local pid = tonumber(p:read('*l'))
-- the shell prints its pid before it execs sleep: wait for the exec
local run = 0
for _ = 1, 200 do
	run = children('sleep')
	if run > 0 then break end
	sleep(0.025)
end
tap.is(run, 1, 'a child started after the reload runs')
os.execute('kill ' .. pid)
tap.is(p:read('*a'), '', '... it is killed')
tap.ok(reaped('sleep'), '... and reaped: no zombie')
p:close()
tap.cleanup()
tap.done()
