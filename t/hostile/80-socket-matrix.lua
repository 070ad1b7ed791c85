-- needs: lem.socket
-- 80. Type matrix of lem.socket: every function and every method of the
-- three classes, every slot including self, every kind of value (lem
-- objects of all kinds among them).  Expect "bad argument" errors or
-- nil, msg (LuaSocket's results); no crash; every wait ends (a deadline
-- bounds each call); the descriptor set back to baseline.
local h = require 'h'
local utils = require 'lem.utils'
local socket = require 'lem.socket'

local made = {}
local function keep(o)
	made[#made + 1] = o
	return o
end
local srv = keep(assert(socket.bind('127.0.0.1', 0)))
local _, port = srv:getsockname()
port = tonumber(port)
local function client()
	local c = keep(assert(socket.connect('127.0.0.1', port)))
	keep(assert(srv:accept()))
	return c
end
local function server() return keep(assert(socket.bind('127.0.0.1', 0))) end
local function master() return keep(socket.tcp()) end
local closed = client()
closed:close()

local values = {
	{ 'nil', nil }, { 'true', true }, { '0', 0 }, { '-1', -1 },
	{ '1e308', 1e308 }, { '-inf', -math.huge }, { 'nan', 0 / 0 }, { '""', '' },
	{ '"a\\0b"', 'a\0b' }, { '{}', {} }, { 'print', print },
	{ 'thread', coroutine.create(function() end) }, { 'io.stdout', io.stdout },
	{ 'sleeper', utils.sleeper() }, { 'master', master() }, { 'client', client() },
	{ 'server', server() }, { 'closed', closed },
}

-- name, function, maker of valid arguments (self first)
local targets = {
	{ 'tcp', socket.tcp, function() end },
	{ 'tcp4', socket.tcp4, function() end },
	{ 'tcp6', socket.tcp6, function() end },
	{ 'connect', socket.connect, function() return '127.0.0.1', port end },
	{ 'connect4', socket.connect4, function() return '127.0.0.1', port end },
	{ 'bind', socket.bind, function() return '127.0.0.1', 0, 5 end },
	{ 'gettime', socket.gettime, function() end },
	{ 'sleep', socket.sleep, function() return 0.001 end },
	{ 'dns.toip', socket.dns.toip, function() return 'localhost' end },
	{ 'dns.gethostname', socket.dns.gethostname, function() end },
	{ 'skip', socket.skip, function() return 1, 'a', 'b' end },
	{ 'newtry', socket.newtry, function() return print end },
	{ 'protect', socket.protect, function() return print end },
}
local methods = {}
for name in pairs(getmetatable(socket.tcp()).__index) do
	if name ~= 'class' then methods[#methods + 1] = name end
end
table.sort(methods)
local makers = {
	master = function() return master(), '127.0.0.1', 0 end,
	client = function() return client(), 'x', 1, 2 end,
	server = function() return server() end,
}
for _, name in ipairs(methods) do
	for kind, make in pairs(makers) do
		targets[#targets + 1] = { kind .. ':' .. name, socket[kind].__index[name], make }
	end
end
for _, mm in ipairs({ '__tostring', '__gc' }) do
	targets[#targets + 1] = { 'client.' .. mm, socket.client[mm], makers.client }
end

local calls, badarg, nilmsg, returned, pending = 0, 0, 0, 0, 0
local others = {}
for _, t in ipairs(targets) do
	local name, f, valid = t[1], t[2], t[3]
	for slot = 1, 3 do
		for _, v in ipairs(values) do
			local args = { valid() }
			args[slot] = v[2]
			local n = math.max(slot, #args)
			calls = calls + 1
			pending = pending + 1
			utils.spawn(function()
				local r = { pcall(utils.timeout, 0.2, f, unpack(args, 1, n)) }
				pending = pending - 1
				if not r[1] then
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
				for i = 2, #r do
					if type(r[i]) == 'userdata' and getmetatable(r[i]) and
							getmetatable(r[i]).__index and
							getmetatable(r[i]).__index.class then
						keep(r[i])
					end
				end
			end)
		end
	end
end
h.ok(h.waitfor(function() return pending == 0 end, 30),
	'every call returned or raised', pending .. ' still pending')
h.figure('type matrix calls', calls)
h.figure('Lua errors (bad argument)', badarg)
h.figure('nil,msg', nilmsg)
h.figure('other returns', returned)
for _, o in ipairs(others) do io.write('# other error: ', o, '\n') end
h.is(#others, 0, 'no error other than bad argument')
h.is(calls, badarg + #others + nilmsg + returned, 'calls = errors + nil,msg + returns')
h.ok(badarg > 0 and nilmsg > 0, 'both kinds of failure were seen')

-- new objects still work
local s2 = keep(assert(socket.bind('127.0.0.1', 0)))
local c = keep(assert(socket.connect('127.0.0.1', (select(2, s2:getsockname())))))
local a = keep(assert(s2:accept()))
h.is(c:send('still\n'), 6, 'a new client sends')
h.is(a:receive(), 'still', '... and its peer receives')
for _, o in ipairs(made) do o:close() end
made = nil
collectgarbage()
collectgarbage()
h.done()
