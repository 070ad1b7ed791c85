-- t/04-pcall-like-lua.t - inside lem's pcall, code sees what it sees in
-- lua(1): the same coroutine, globals and hooks, the frames above, and
-- Lua's errors for overflows (on Lua 5.1 lem's pcall is its own)
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'

tap.plan(16, 60)

-- the same coroutine, before and after a wait inside
do
	local me = coroutine.running()
	local a, b
	pcall(function()
		a = coroutine.running()
		utils.sleep(0.001)
		b = coroutine.running()
	end)
	tap.same({ a == me, b == me }, { true, true },
		'coroutine.running() inside pcall is the caller, also after a wait')
end

-- the same globals
do
	local mine = setmetatable({}, { __index = _G })
	local seen
	pcall(function() setfenv(0, mine) end)
	tap.is(getfenv(0), mine, 'setfenv(0) inside pcall stays after it')
	setfenv(0, _G)
	local g = setmetatable({ marker = 'outer' }, { __index = _G })
	setfenv(0, g)
	pcall(function() utils.sleep(0.001) seen = getfenv(0).marker end)
	setfenv(0, _G)
	tap.is(seen, 'outer', 'getfenv(0) inside pcall sees the caller\'s globals')
end

-- the same debug hook
do
	local function body()
		local x = 1
		x = x + 1
		return x
	end
	local function count(f)
		local n = 0
		debug.sethook(function() n = n + 1 end, 'l')
		f()
		debug.sethook()
		return n
	end
	local direct = count(body)
	local inside = count(function() pcall(body) end)
	tap.ok(inside >= direct and direct > 0,
		'a line hook set outside fires inside pcall (' .. inside .. ' >= ' .. direct .. ')')
	local n = 0
	pcall(function() debug.sethook(function() n = n + 1 end, 'l') end)
	local _ = 1
	debug.sethook()
	tap.ok(n > 0, 'a hook set inside pcall stays after it')
end

-- the frames above
do
	local function where()
		local i = debug.getinfo(2, 'nS')  -- not a tail call (LuaJIT)
		return i
	end
	local ok, info = pcall(where)
	tap.same({ ok, info.what, info.name }, { true, 'C', 'pcall' },
		'debug.getinfo(2) inside pcall is the pcall frame')
	local function caller_of_pcall()
		return select(2, pcall(function() return debug.getinfo(3, 'n').name end))
	end
	tap.is(caller_of_pcall(), 'caller_of_pcall', '... and level 3 is the one that called pcall')
	local function named_caller()
		return select(2, xpcall(function() error('deep') end, debug.traceback))
	end
	local tb = named_caller()
	tap.like(tb, "in function 'xpcall'.*in function 'named_caller'",
		'xpcall(f, debug.traceback) shows the callers above xpcall')
	tap.like(tb, '^[^\n]*deep\nstack traceback:\n\t%[C%]: in function \'error\'',
		'... from the place of the error')
	local function after_wait()
		return select(2, xpcall(function() utils.sleep(0.001) error('late') end,
			debug.traceback))
	end
	tap.like(after_wait(), "in function 'after_wait'", '... also after a wait inside')
	tap.like(debug.traceback(), '^stack traceback:\n', 'debug.traceback() keeps Lua\'s form')
end

-- errors of the handler and of the stacks
tap.same(tap.pack(xpcall(error, function() error('again') end)),
	{ false, 'error in error handling' }, 'a raising handler gives error in error handling')
do
	local out, err, st = tap.lemrun([[
		local function v(...) v(1, ...) end
		print(xpcall(v, function(m) return m end, 1))
	]])
	tap.same({ st, err }, { 0, '' }, 'a stack overflow under xpcall is an error, not the end')
	tap.like(out, '^false\t.*stack overflow', '... reported as stack overflow')
	if jit then
		-- LuaJIT's own pcall: plain LuaJIT 2.1 crashes here too
		tap.skip(2, 'LuaJIT: its own pcall and C stack')
		tap.done()
		return
	end
	out, err, st = tap.lemrun([[
		local function f(d)
			local function g(k)
				if k == 0 then return pcall(f, d + 1) end
				("x"):gsub("x", function() g(k - 1) end)
			end
			g(10)
		end
		print(pcall(f, 0))
		print(pcall(string.rep, 'x', -1))
	]])
	tap.same({ st, err }, { 0, '' }, 'C calls nested in nested pcalls: no crash')
	tap.like(out, '^true\n', '... they end with an error caught inside, as in lua5.1')
end

tap.done()
