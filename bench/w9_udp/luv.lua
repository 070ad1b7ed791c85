-- W9 luv (libuv bindings): callback-style UDP echo server.
-- usage: lua5.1 luv.lua PORT   (or luajit luv.lua PORT)
local uv = require 'luv'
local port = assert(tonumber(arg[1]), 'usage: luv.lua PORT')

local udp = uv.new_udp()
assert(udp:bind('127.0.0.1', port))
assert(udp:recv_start(function(err, data, addr)
	if err or not data or not addr then return end
	udp:send(data, addr.ip, addr.port)
end))
uv.run()
