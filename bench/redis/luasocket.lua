-- bench/redis/luasocket.lua - redis-lua on blocking LuaSocket: one
-- connection, the best a blocking client can do, OPS round trips.
-- usage: lua5.1 luasocket.lua PORT [OPS]
local socket = require 'socket'
local here = arg[0]:match('^(.*)/') or '.'
local work = dofile(here .. '/client.lua')
local port = assert(tonumber(arg[1]), 'usage: lua5.1 luasocket.lua PORT [OPS]')
local ops = tonumber(arg[2]) or 200000

local s = assert(socket.connect('127.0.0.1', port))
s:setoption('tcp-nodelay', true)
local t0 = socket.gettime()
work(s, 0, ops)
local dt = socket.gettime() - t0
s:close()
print(string.format('LuaSocket 1 conn: %d ops in %.3f s = %.0f ops/s', ops, dt, ops / dt))
