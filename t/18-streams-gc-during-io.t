-- t/18-streams-gc-during-io.t - __gc metamethods that run inside lem's
-- own work (a read being completed, the program ending) cannot corrupt
-- data, resume a coroutine twice, or end lem without a report
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'

tap.plan(9, 120)

local file = tap.writefile(tap.tmpname('.txt'), string.rep('B', 100000))

-- a collection as often as possible, finalizers included
local function eager_gc()
	collectgarbage('setpause', 1)
	collectgarbage('setstepmul', 1000)
end
local function normal_gc()
	collectgarbage('setpause', 200)
	collectgarbage('setstepmul', 200)
end

-- finalizers that read other streams (nested: reading in a __gc makes
-- garbage whose __gc reads too) while reads complete
do
	local a, b = tap.tcp_pair()
	local bad, reads = 0, 0
	local function garbage(depth)
		local p = newproxy(true)
		getmetatable(p).__gc = function()
			local f = streams.open(file)
			local d = f:read(100)
			f:close()
			reads = reads + 1
			if d ~= string.rep('B', 100) then bad = bad + 1 end
			if depth < 2 then garbage(depth + 1) end
		end
	end
	local msg = string.rep('A', 100)
	eager_gc()
	for _ = 1, 1500 do
		for _ = 1, 10 do garbage(0) end
		utils.spawn(function() b:write(msg) end)
		local d = a:read()
		if d ~= msg then bad = bad + 1 end
	end
	normal_gc()
	tap.is(bad, 0, 'reads in __gc metamethods do not mix their bytes with a read being completed')
	tap.ok(reads > 1000, '... and they did run (' .. reads .. ')')
	a:close()
	b:close()
end

-- finalizers that close the stream whose read is being completed
do
	local results, extra = 0, 0
	eager_gc()
	for _ = 1, 300 do
		local a, b = tap.tcp_pair()
		for _ = 1, 10 do
			local p = newproxy(true)
			getmetatable(p).__gc = function() if not a:closed() then a:close() end end
		end
		local n = 0
		local co = utils.spawn(function()
			local r = { a:read() }
			n = n + 1
			return r
		end)
		utils.yield()
		b:write('x')
		local _, r = co:join()
		utils.yield()
		results = results + n
		if not (r[1] == 'x' or r[2] == 'interrupted' or r[2] == 'closed') then
			extra = extra + 1
		end
		if not a:closed() then a:close() end
		b:close()
	end
	normal_gc()
	tap.is(results, 300, 'every reader got one result, none twice')
	tap.is(extra, 0, '... data, or interrupted')
end

-- a finalizer that raises while lem completes a read: reported as an
-- uncaught error, and the program ends properly
do
	local out, err, st = tap.lemrun([[
		local utils = require 'lem.utils'
		local streams = require 'lem.streams'
		final = newproxy(true)
		getmetatable(final).__gc = function() io.write('exit gc ran\n') end
		local srv = streams.tcp_listen('127.0.0.1', 0)
		local _, port = srv:address()
		local a
		utils.spawn(function() a = streams.tcp_connect('127.0.0.1', port) end)
		local b = srv:accept()
		while not a do utils.yield() end
		collectgarbage('setpause', 1)
		collectgarbage('setstepmul', 1000)
		for i = 1, 100000 do
			local p = newproxy(true)
			getmetatable(p).__gc = function() error('raised in __gc') end
			utils.spawn(function() b:write('y') end)
			a:read()
		end
	]])
	tap.is(st, 1, 'status 1')
	if jit and not err:find('raised in __gc', 1, true) then
		-- LuaJIT rethrows a finalizer's error from the allocation that
		-- ran it without calling the error handler, and with whatever
		-- value lay on top of the stack as its error object (here the
		-- coroutine spawn had just made): the report can only say that
		tap.like(err, '^lem: %(error object is a %a+ value%)\nstack traceback:\n',
			'a report with a traceback (LuaJIT: its own error object)', err)
	else
		tap.like(err, '^lem: .*raised in __gc\nstack traceback:\n', 'a report with a traceback')
	end
	tap.like(out, 'exit gc ran\n$', 'and the finalizers of the exit ran')
end

-- objects made by a __gc metamethod at exit
do
	local out, err, st = tap.lemrun([[
		local utils = require 'lem.utils'
		local streams = require 'lem.streams'
		keep = newproxy(true)
		getmetatable(keep).__gc = function()
			local s = streams.open(]] .. string.format('%q', file) .. [[)
			local d = s:read(3)
			s2 = streams.open(]] .. string.format('%q', file) .. [[)
			s2:read(2)
			local sl = utils.sleeper()
			utils.spawn(function() end)
			local q = utils.queue()
			q:put(1)
			io.write('exit gc ran ', d, '\n')
		end
	]])
	tap.same({ out, st }, { 'exit gc ran BBB\n', 0 },
		'streams, sleepers, queues made in a __gc at exit: no crash')
	tap.is(err, '', '... and nothing on stderr')
end

tap.done()
