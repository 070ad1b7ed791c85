-- bench/redis/copas-client.lua - redis-lua on copas (Debian's lua-copas, Copas
-- 1.1.7 on LuaSocket): CONNS copas threads, each on its own wrapped
-- connection, OPS round trips in all.
-- usage: lua5.1 copas-client.lua PORT [OPS [CONNS]]
local socket = require 'socket'
local copas = require 'copas'
local copcall = require('coxpcall').pcall     -- a pcall copas threads can yield across
local here = arg[0]:match('^(.*)/') or '.'
local work = dofile(here .. '/client.lua')
local port = assert(tonumber(arg[1]), 'usage: lua5.1 copas-client.lua PORT [OPS [CONNS]]')
local ops, conns = tonumber(arg[2]) or 200000, tonumber(arg[3]) or 50

local each = math.floor(ops / conns)
local t0
local running = conns
-- connected before the measurement (copas.connect of Copas 1.1.7 trips
-- over LuaSocket 3's 'Operation already in progress')
local socks = {}
for i = 1, conns do
	socks[i] = assert(socket.connect('127.0.0.1', port))
	socks[i]:setoption('tcp-nodelay', true)
end
t0 = socket.gettime()
for i = 1, conns do
	copas.addthread(function()
		local s = socks[i]
		local ok, err = copcall(work, copas.wrap(s), i, each)
		if not ok then
			io.stderr:write('copas client: ', tostring(err), '\n')
			os.exit(1)
		end
		s:close()
		running = running - 1
	end)
end
-- copas.loop() never returns: step until every thread is done
while running > 0 do copas.step(1) end
local dt = socket.gettime() - t0
print(string.format('copas %d conns: %d ops in %.3f s = %.0f ops/s',
	conns, each * conns, dt, each * conns / dt))
