-- t/12-streams-open-unix-socket.t - streams.open() on a named Unix-domain
-- socket connects to it.
--
-- README lists named sockets among what open() takes, but open(2) on a
-- socket fails with ENXIO.  The listening side is a small python3 server
-- (lem has no Unix listener yet): it answers one line per connection.
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'

tap.plan(12, 60)

-- the system's python3 where there is one (a pyenv shim is slow to start)
local PY = os.execute('test -x /usr/bin/python3') == 0 and '/usr/bin/python3' or 'python3'
if os.execute('command -v ' .. PY .. ' >/dev/null 2>&1') ~= 0 then
	tap.skip(12, 'python3 not available')
	tap.done()
	return
end

local nfds = tap.nfds
streams.popen('true'):close()
local fds0 = nfds()

local path = tap.tmpname('.sock')
-- serve argv[2] connections (one line in, 'echo ' .. line out), then
-- close the listener, leaving the file; with argv[2] = 0, never accept
local server = tap.writefile(tap.tmpname('.py'), [[
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
n = int(sys.argv[2])
s.listen(1 if n == 0 else 8)
print('ready', os.getpid(), flush=True)
while n == 0:
    time.sleep(3600)
for i in range(n):
    c, _ = s.accept()
    line = c.makefile('rb').readline()
    c.sendall(b'echo ' + line)
    c.close()
s.close()
print('done', flush=True)
]])

local py = assert(streams.popen('exec ' .. PY .. ' ' .. server .. ' ' .. path .. ' 3'))
local banner = py:read('*l')
tap.like(banner, '^ready %d+\n$', 'a Unix socket server listens')
local pid = tonumber(banner:match('%d+'))
local served = 0
for _, mode in ipairs({ 'r', 'w', 'r+' }) do
	local s, err = streams.open(path, mode)
	tap.is(getmetatable(s), streams.Stream, "open(socket, '" .. mode .. "') returns a stream", err)
	if s then
		served = served + 1
		local line = 'mode ' .. mode .. '\n'
		tap.ok(s:write(line) and s:read('*a') == 'echo ' .. line,
			'... that writes and reads')
	else
		tap.skip(1, 'no stream')
	end
end
if served < 3 then os.execute('kill ' .. pid) end  -- it would wait forever
tap.is(py:read('*l'), 'done\n', 'the server has closed its listener')
py:read('*a')
py:close()
local r, e = streams.open(path)
tap.ok(r == nil and e == 'Connection refused', "a socket nobody listens on: nil, 'Connection refused'", e)
os.remove(path)

-- a listener whose backlog is full: the connect cannot be done at once,
-- which is an error returned at once, not a wait
py = assert(streams.popen('exec ' .. PY .. ' ' .. server .. ' ' .. path .. ' 0'))
pid = tonumber(py:read('*l'):match('^ready (%d+)'))
local held, last = {}
for _ = 1, 64 do
	local s, err = streams.open(path, 'r+')
	if not s then last = err break end
	held[#held + 1] = s
end
tap.ok(#held > 0 and last ~= nil, 'a full backlog: open() fails at once, after ' ..
	#held .. ' connections', last)
tap.is(last, 'Resource temporarily unavailable', '... with the system message for EAGAIN')
for _, s in ipairs(held) do s:close() end
os.execute('kill ' .. pid)
py:read('*a')
py:close()
os.remove(path)

collectgarbage() collectgarbage()
tap.is(nfds(), fds0, 'no descriptor leaked')
tap.cleanup()
tap.done()
