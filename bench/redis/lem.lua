-- bench/redis/lem.lua - redis-lua on lem.socket: CONNS coroutines, each
-- on its own connection, OPS SET/GET round trips in all.
-- usage: lem lem.lua PORT [OPS [CONNS]]
local utils = require 'lem.utils'
local socket = require 'lem.socket'
local here = arg[0]:match('^(.*)/') or '.'
local work = dofile(here .. '/client.lua')
local port = assert(tonumber(arg[1]), 'usage: lem lem.lua PORT [OPS [CONNS]]')
local ops, conns = tonumber(arg[2]) or 200000, tonumber(arg[3]) or 50

local each = math.floor(ops / conns)
local socks = {}
for i = 1, conns do
	socks[i] = assert(socket.connect('127.0.0.1', port))
end
local t0 = socket.gettime()
local cos = {}
for i = 1, conns do
	cos[i] = utils.spawn(work, socks[i], i, each)
end
for i = 1, conns do cos[i]:join() end
local dt = socket.gettime() - t0
for i = 1, conns do socks[i]:close() end
print(string.format('lem.socket %d conns: %d ops in %.3f s = %.0f ops/s',
	conns, each * conns, dt, each * conns / dt))
