-- t/14-streams-zero-bytes.t - a zero byte inside a path, command, host or
-- port raises an argument error.
--
-- The system takes these as C strings: a zero byte cut them there without
-- a word, so open('/etc/passwd\0.txt') opened /etc/passwd.  Mode strings
-- with a zero byte are invalid modes.
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'

tap.plan(16, 60)

local ZERO = ' %(string contains a zero byte%)$'
-- what f raises, or nil (an object it returns is closed)
local function raised(f)
	local ok, r = pcall(f)
	if ok then
		if type(r) == 'userdata' then r:close() end
		return nil
	end
	return tostring(r)
end

local srv = assert(streams.tcp_listen('127.0.0.1', 0))
local _, port = srv:address()
utils.spawn(function()
	while true do
		local s = srv:accept()
		if not s then return end
		s:close()
	end
end)
local file = tap.writefile(tap.tmpname(), 'data')

tap.like(raised(function() return streams.open('/etc/passwd\0.txt') end),
	"bad argument #1 to '[%w_?]+'" .. ZERO, "open('/etc/passwd\\0.txt') raises")
tap.like(raised(function() return streams.open(file .. '\0', 'r') end),
	"bad argument #1 to '[%w_?]+'" .. ZERO, '... also with the zero byte last')
tap.like(raised(function() return streams.popen('true\0 never run') end),
	"bad argument #1 to '[%w_?]+'" .. ZERO, "popen('true\\0...') raises")
tap.like(raised(function() return streams.sendfile(file .. '\0.txt') end),
	"bad argument #1 to '[%w_?]+'" .. ZERO, 'sendfile(path) with a zero byte raises')
tap.like(raised(function() return streams.tcp_connect('127.0.0.1\0x', port) end),
	"bad argument #1 to '[%w_?]+'" .. ZERO, 'tcp_connect host with a zero byte raises')
tap.like(raised(function() return streams.tcp_connect('127.0.0.1', port .. '\0x') end),
	"bad argument #2 to '[%w_?]+'" .. ZERO, 'tcp_connect port with a zero byte raises')
tap.like(raised(function() return streams.tcp_connect('127.0.0.1', 'http\0') end),
	"bad argument #2 to '[%w_?]+'" .. ZERO, '... also a service name')
tap.like(raised(function() return streams.tcp_listen('127.0.0.1\0x', 0) end),
	"bad argument #1 to '[%w_?]+'" .. ZERO, 'tcp_listen address with a zero byte raises')
tap.like(raised(function() return streams.tcp_listen('*\0', 0) end),
	"bad argument #1 to '[%w_?]+'" .. ZERO, "... also '*\\0'")
tap.like(raised(function() return streams.tcp_listen('127.0.0.1', '0\0x') end),
	"bad argument #2 to '[%w_?]+'" .. ZERO, 'tcp_listen port with a zero byte raises')

-- modes
tap.like(raised(function() return streams.open(file, 'r\0w') end),
	'%(invalid mode%)$', "open mode 'r\\0w' is an invalid mode")
tap.like(raised(function() return streams.popen('true', 'r\0') end),
	'%(invalid mode%)$', "popen mode 'r\\0' is an invalid mode")
local f = assert(streams.open(file))
tap.like(raised(function() return f:read('*l\0x') end),
	'%(invalid mode%)$', "read('*l\\0x') is an invalid mode")
tap.like(raised(function() return f:read('a\0') end),
	'%(invalid mode%)$', "read('a\\0') is an invalid mode")
tap.is(f:read('*a'), 'data', '... and the stream is untouched')

-- without zero bytes all is as before
local c = streams.tcp_connect('127.0.0.1', tostring(port))
tap.ok(c ~= nil, 'tcp_connect with a plain string port still works')
if c then c:close() end
srv:close()
tap.cleanup()
tap.done()
