-- t/01-interpreter-oom.t - out of memory in a coroutine is reported as
-- "lem: not enough memory", status 1 (found by the hostile case
-- t/hostile/37-oom-ladder.sh).
--
-- When the traceback of an uncaught error could not be built for lack
-- of memory, lem printed "(error object cannot be printed)" although the
-- error object was the plain string "not enough memory".
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')

tap.plan(2, 120)

local bin = tap.readfile(tap.lem) or ''
if bin:find('valgrind', 1, true) or bin:find('__asan_init', 1, true) then
	tap.skip(2, 'ulimit -v does not work with ASan or valgrind')
	tap.done()
	return
end
local script = tap.writefile(tap.tmpname('.lua'), [[
local t = {}
for i = 1, 2e5 do t[i] = ('x'):rep(20) .. i end
]])
local bad, signals = {}, 0
for lim = 4000, 12000, 400 do
	local o, e, st = tap.sh('ulimit -v ' .. lim .. '; exec ' ..
		tap.quote(tap.lem) .. ' ' .. script)
	if st > 128 then signals = signals + 1 end
	-- below the dynamic loader's own minimum (status 127) lem never ran
	local loader = st == 127 and e:find('error while loading shared libraries', 1, true)
	if st ~= 0 and not loader and
			not (st == 1 and e:find('^lem: not enough memory\n')) then
		bad[#bad + 1] = lim .. ' kB: ' .. st .. ' ' .. e:sub(1, 60)
	end
end
tap.is(signals, 0, 'no run dies by a signal')
tap.ok(#bad == 0, 'every failing run says "lem: not enough memory"',
	table.concat(bad, '\n'))
tap.cleanup()
tap.done()
