-- 1. Type matrix: every function and method of lem.utils and Sleeper
-- (and lem.streams when it is built), every slot including self, every
-- kind of value.  Expect "bad argument" errors or nil,msg; no crash; the
-- fd set unchanged.
local h = require 'h'
local utils = require 'lem.utils'

local values = {
	{ 'nil', nil }, { 'true', true }, { '0', 0 }, { '-1', -1 },
	{ '1e308', 1e308 }, { 'nan', 0 / 0 }, { '""', '' }, { '{}', {} },
	{ 'print', print }, { 'thread', coroutine.create(function() end) },
	{ 'io.stdout', io.stdout }, { 'sleeper', utils.sleeper() },
}
-- loaded, not required: it waits (streams.sendfile), and require cannot
-- be waited across
local extra = assert(loadfile(h.dir .. '/matrix_extra.lua'))()        -- lem.streams objects, if any
for _, v in ipairs(extra.values) do values[#values + 1] = v end

-- targets: name, function, a maker of valid arguments (self first)
local targets = {
	{ 'utils.spawn', utils.spawn, function() return function() end end },
	{ 'utils.yield', utils.yield, function() end },
	{ 'utils.sleeper', utils.sleeper, function() end },
}
for _, m in ipairs({ 'sleep', 'wakeup', '__tostring', '__gc' }) do
	targets[#targets + 1] = { 'Sleeper.' .. m, utils.Sleeper[m],
		function() return utils.sleeper(), 0 end }
end
for _, t in ipairs(extra.targets) do targets[#targets + 1] = t end

local calls, raised, badarg, nilmsg, returned, pending = 0, 0, 0, 0, 0, 0
local others = {}
local sleepers = {}
for _, t in ipairs(targets) do
	local name, f, valid = t[1], t[2], t[3]
	for slot = 1, 3 do
		for _, v in ipairs(values) do
			local args = { valid() }
			for i, a in ipairs(args) do
				if type(a) == 'userdata' and getmetatable(a) == utils.Sleeper then
					sleepers[#sleepers + 1] = a
				end
			end
			args[slot] = v[2]
			local n = math.max(slot, #args)
			calls = calls + 1
			pending = pending + 1
			utils.spawn(function()
				local r = { pcall(f, unpack(args, 1, n)) }
				pending = pending - 1
				if not r[1] then
					raised = raised + 1
					if tostring(r[2]):find('bad argument', 1, true) then
						badarg = badarg + 1
					else
						others[#others + 1] = name .. ' slot ' .. slot ..
							' = ' .. v[1] .. ': ' .. tostring(r[2])
					end
				elseif r[2] == nil and type(r[3]) == 'string' then
					nilmsg = nilmsg + 1
				else
					returned = returned + 1
				end
			end)
		end
	end
end
-- let every call run, then wake whatever sleeps without a timeout
for _ = 1, 5 do utils.yield() end
extra.release()
for _, s in ipairs(sleepers) do s:wakeup() end
for _, v in ipairs(values) do
	if v[1] == 'sleeper' then v[2]:wakeup() end
end
h.ok(h.waitfor(function() return pending == 0 end, 10),
	'every call returned or raised', pending .. ' still pending')
h.figure('type matrix calls', calls)
h.figure('Lua errors (bad argument)', badarg)
h.figure('Lua errors (other)', #others)
h.figure('nil,msg', nilmsg)
h.figure('other returns', returned)
for _, o in ipairs(others) do io.write('# other error: ', o, '\n') end
h.is(calls, raised + nilmsg + returned, 'calls = errors + nil,msg + returns')
h.ok(badarg > 0, 'wrong types raise bad argument errors')
collectgarbage()
collectgarbage()
h.done()
