-- t/10-streams-tcp-port-strings.t - a port given as a string behaves as the
-- same port given as a number.
--
-- tcp_listen('127.0.0.1', '70000') used to listen on 4464 (70000 mod
-- 65536) and tcp_listen('*', '0') got an IPv4-only socket where
-- tcp_listen('*', 0) gets a dual-stack one.  A string Lua reads as a
-- number is that number, checked the same way; any other string is a
-- service name.
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'

tap.plan(16, 60)

-- the message a call raises, or nil
local function raised(f, ...)
	local ok, err = pcall(f, ...)
	if ok then
		local obj = err
		if obj then obj:close() end
		return nil
	end
	return tostring(err)
end

-- out of range or fractional: the argument error a number gives
for _, p in ipairs({ '70000', '65536', '-1', '80.5' }) do
	local e = raised(streams.tcp_listen, '127.0.0.1', p)
	tap.ok(e and e:find('bad argument #2 to .* %(port out of range%)'),
		"tcp_listen('127.0.0.1', '" .. p .. "') raises 'port out of range'", e)
end
tap.is(raised(streams.tcp_listen, '127.0.0.1', '70000'),
	raised(streams.tcp_listen, '127.0.0.1', 70000),
	'... the same error as the number 70000')
for _, p in ipairs({ '70000', '1.5' }) do
	local e = raised(streams.tcp_connect, '127.0.0.1', p)
	tap.ok(e and e:find('bad argument #2 to .* %(port out of range%)'),
		"tcp_connect('127.0.0.1', '" .. p .. "') raises 'port out of range'", e)
end
tap.is(raised(streams.tcp_connect, '127.0.0.1', '70000'),
	raised(streams.tcp_connect, '127.0.0.1', 70000),
	'... the same error as the number 70000')

-- a numeric string is a port number
local srv = assert(streams.tcp_listen('127.0.0.1', '0'))
local _, port = srv:address()
tap.ok(port > 0, "tcp_listen('127.0.0.1', '0') picks a free port", port)
utils.spawn(function() local s = srv:accept() s:write('hi') s:close() end)
local c = assert(streams.tcp_connect('127.0.0.1', ' ' .. port .. ' '))
tap.is(c:read('*a'), 'hi', "tcp_connect to it with ' PORT ' (Lua's reading of numbers)")
srv:close()

-- '*' with a string port: the same socket as with a number
local n = assert(streams.tcp_listen('*', 0))
local s = assert(streams.tcp_listen('*', '0'))
local nh = n:address()
local sh, sp = s:address()
tap.is(sh, nh, "tcp_listen('*', '0') is bound as tcp_listen('*', 0) is")
n:close()
local function connects(host)
	local got
	utils.spawn(function() local x = s:accept() if x then got = true x:close() end end)
	local x = streams.tcp_connect(host, sp)
	if x then x:close() end
	while x and not got do utils.yield() end
	if not x then s:interrupt() utils.yield() end
	return x ~= nil
end
tap.ok(connects('127.0.0.1'), "... it takes IPv4 connections")
if sh == '::' then
	tap.ok(connects('::1'), '... and IPv6 ones (dual-stack)')
else
	tap.skip(1, 'no IPv6 here')
end
s:close()

-- a service name
local r, e = streams.tcp_listen('*', 'no-such-service-lem')
tap.ok(r == nil and type(e) == 'string', "'*' with an unknown service name: nil, message", e)
r, e = streams.tcp_listen('127.0.0.1', 'no-such-service-lem')
tap.ok(r == nil and type(e) == 'string', 'an address with an unknown service name: nil, message', e)
-- tcpmux is port 1: free on any test machine, but needs root to bind
s = streams.tcp_listen('*', 'tcpmux')
if s then
	local h, p = s:address()
	tap.ok(p == 1 and h == nh, "'*' with a service name: that port, dual-stack as with a number",
		tostring(h) .. ' ' .. tostring(p))
	s:close()
else
	tap.skip(1, 'cannot bind the tcpmux port here')
end
tap.cleanup()
tap.done()
