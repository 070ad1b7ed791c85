-- P1 luv: uv.spawn of PROGRAM N times, CONC at a time, stdio inherited.
-- usage: lua5.1 luv.lua N CONC [PROGRAM]      prints "done N"
local uv = require 'luv'
local n, conc = tonumber(arg[1]) or 5000, tonumber(arg[2]) or 50
local prog = arg[3] or '/bin/true'
local started, finished = 0, 0
if n == 0 then print('done 0') return end
local function one()
	if started >= n then return end
	started = started + 1
	local handle
	handle = uv.spawn(prog, { args = {}, stdio = { 0, 1, 2 } }, function(code)
		assert(code == 0, 'child failed')
		handle:close()
		finished = finished + 1
		if finished == n then print('done ' .. n) else one() end
	end)
end
for _ = 1, conc do one() end
uv.run()
