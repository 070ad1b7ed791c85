-- t/15-streams-examples.t - the programs in examples/ do what they say
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'

tap.plan(10, 60)

local nfds = tap.nfds
streams.popen('true'):close()
local fds0 = nfds()

local examples = tap.dir .. '/../examples'

-- start an example on port 0 (the system picks a free one, which the
-- banner reports); returns the port, its output, pid and banner.  The
-- shell prints its pid before it becomes the example (exec), so the pid
-- is always the first line and the banner the second; the example is
-- killed at the end of the test even if the test dies.
local function start(name, extra)
	local p = assert(streams.popen('exec 2>&1; echo $$; exec ' ..
		tap.quote(tap.lem) .. ' ' .. examples .. '/' .. name .. ' 0 ' ..
		(extra or '')))
	local pid = tap.kill_at_end(tonumber(p:read('*l')))
	local banner = p:read('*l')
	local port = tonumber(banner and banner:match('port (%d+)'))
	return port, p, pid, banner
end

local function stop(p, pid)
	tap.kill(pid)
	p:read('*a')
	p:close()
end

-- echo
local port, p, pid, banner = start('echo.lua')
tap.like(banner, 'echo server', 'echo.lua starts')
local c = assert(streams.tcp_connect('127.0.0.1', port))
c:write('hello echo\n')
tap.is(c:read('*l'), 'hello echo\n', 'echo.lua echoes')
c:close()
stop(p, pid)

-- chat
port, p, pid, banner = start('chat.lua')
tap.like(banner, 'chat server', 'chat.lua starts')
local a = assert(streams.tcp_connect('127.0.0.1', port))
tap.like(a:read('*l'), '^Welcome, user1', 'the first user is welcomed')
local b = assert(streams.tcp_connect('127.0.0.1', port))
b:read('*l')
tap.like(a:read('*l'), 'user2 joined', 'the first user hears of the second')
b:write('hi there\n')
tap.is(a:read('*l'), 'user2: hi there\n', 'a line from one user reaches the other')
a:close() b:close()
stop(p, pid)

-- file server
local dir = tap.tmpname()
os.execute('mkdir -p ' .. dir)
local content = string.rep('0123456789', 100000)
tap.writefile(dir .. '/f.bin', content)
port, p, pid, banner = start('fileserver.lua', dir)
tap.like(banner, 'serving', 'fileserver.lua starts')
c = assert(streams.tcp_connect('127.0.0.1', port))
c:write('GET /f.bin HTTP/1.1\r\nHost: x\r\n\r\n')
local resp = c:read('*a')
tap.ok(resp and resp:find('^HTTP/1.1 200') and resp:sub(-#content) == content and
	resp:find('Content%-Length: 1000000'), 'fileserver.lua serves a file',
	resp and resp:sub(1, 100))
c = assert(streams.tcp_connect('127.0.0.1', port))
c:write('GET /missing HTTP/1.1\r\n\r\n')
tap.like(c:read('*a'), '^HTTP/1.1 404', '... and says 404 for a missing one')
stop(p, pid)
collectgarbage() collectgarbage()
local n = nfds()
if n ~= fds0 then tap.diag(tap.fdlist()) end
tap.is(n, fds0, 'no descriptor leaked')
tap.cleanup()
tap.done()
