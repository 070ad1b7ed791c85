-- needs: lem.streams
-- 75. Unix-domain peers that vanish: a client killed with SIGKILL in the
-- middle of sending (what it sent before is read, then 'closed'), in the
-- middle of receiving a big write or a sendfile (nil, 'closed', no
-- SIGPIPE), a server that dies under its clients; credentials of a peer
-- that is gone; a thousand short connections: nothing leaks.
local h = require 'h'
local utils = require 'lem.utils'
local streams = require 'lem.streams'

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- a lem child running code with P in its environment; it prints its pid
-- first (returned), then whatever it prints
local function child(path, code)
	local p = assert(streams.popen('P=' .. quote(path) .. '; export P; exec ' ..
		quote(h.lem) .. ' -e ' .. quote(
		"io.write(io.open('/proc/self/stat'):read('*n'), '\\n') io.stdout:flush() " .. code)))
	return p, tonumber(p:read('*l'))
end
local function kill9(pid) os.execute('kill -9 ' .. pid) end

local path = h.tmpname('.sock')
local srv = assert(streams.unix_listen(path))

-- a client killed while it sends: what came first is read
local p, pid = child(path, [[
	local streams = require 'lem.streams'
	local c = assert(streams.unix_connect(os.getenv('P')))
	c:write(('x'):rep(100000))
	print('sent') io.stdout:flush()
	require('lem.utils').sleep(60)
]])
local s = assert(utils.timeout(10, srv.accept, srv))
h.is(p:read('*l'), 'sent\n', 'the client sent 100000 bytes')
local cred = { s:credentials() }
kill9(pid)
local all = utils.timeout(10, s.read, s, '*a')
h.is(all and #all, 100000, 'killed after sending: everything it sent is read, then the end')
h.ok(s:closed(), '... the stream is closed')
h.is(cred[1], pid, 'credentials() named the client while it lived')
p:read('*a') p:close()

-- a client killed while a big write goes to it
p, pid = child(path, [[
	local streams = require 'lem.streams'
	local c = assert(streams.unix_connect(os.getenv('P')))
	c:read(10)
	print('reading') io.stdout:flush()
	require('lem.utils').sleep(60)
]])
s = assert(utils.timeout(10, srv.accept, srv))
local res
local writer = utils.spawn(function() res = { s:write(('y'):rep(20 * 1024 * 1024)) } end)
h.is(p:read('*l'), 'reading\n', 'the client reads a little of a 20 MB write')
h.ok(s:busy(), '... the write waits for it')
kill9(pid)
writer:join()
h.same(res, { nil, 'closed' }, "killed during a big write: nil, 'closed' (no SIGPIPE)")
h.same({ s:credentials() }, { nil, 'closed' }, "credentials() of the closed stream: nil, 'closed'")
p:read('*a') p:close()

-- a client killed during a sendfile
local big = h.tmpname('.bin')
do
	local f = assert(io.open(big, 'wb'))
	local chunk = ('z'):rep(65536)
	for _ = 1, 160 do f:write(chunk) end
	f:close()
end
p, pid = child(path, [[
	local streams = require 'lem.streams'
	local c = assert(streams.unix_connect(os.getenv('P')))
	c:read(10)
	print('reading') io.stdout:flush()
	require('lem.utils').sleep(60)
]])
s = assert(utils.timeout(10, srv.accept, srv))
local file = assert(streams.sendfile(big))
res = nil
writer = utils.spawn(function() res = { s:sendfile(file) } end)
h.is(p:read('*l'), 'reading\n', 'a sendfile of 10 MB to a client that reads a little')
kill9(pid)
writer:join()
h.same(res, { nil, 'closed' }, "killed during sendfile: nil, 'closed'")
file:close()
p:read('*a') p:close()

-- the server dies under its clients
local path2 = h.tmpname('.sock')
p, pid = child(path2, [[
	local streams = require 'lem.streams'
	local srv = assert(streams.unix_listen(os.getenv('P')))
	print('up') io.stdout:flush()
	srv:autospawn(function(c) c:read('*a') end)
]])
h.is(p:read('*l'), 'up\n', 'a server in another process')
local clients, ends = {}, 0
for i = 1, 20 do clients[i] = assert(streams.unix_connect(path2)) end
for i = 1, 20 do
	utils.spawn(function()
		local r = { clients[i]:read() }
		if r[1] == nil and r[2] == 'closed' then ends = ends + 1 end
	end)
end
utils.yield()
kill9(pid)
h.ok(h.waitfor(function() return ends == 20 end), "the server is killed: each of 20 clients reads nil, 'closed'")
local wr = { clients[1]:write('anyone?') }
h.same(wr, { nil, 'closed' }, "... and a write: nil, 'closed'")
for i = 1, 20 do clients[i]:close() end
p:read('*a') p:close()
h.same({ streams.unix_connect(path2) }, { nil, 'Connection refused' }, 'its stale socket refuses')
os.remove(path2)

-- a thousand short connections, some cut at once, some half-used
local served = 0
local spawner = utils.spawn(function()
	srv:autospawn(function(c)
		local d = c:read()
		if d then c:write(d) end
		c:close()
		served = served + 1
	end)
end)
local K = h.n(1000)
local done = 0
for i = 1, K do
	local c = streams.unix_connect(path)
	if c then
		if i % 3 == 0 then
			c:close()
		elseif i % 3 == 1 then
			c:write('hi')
			c:read()
			c:close()
		else
			c:write('and go')
			c:close()
		end
		done = done + 1
	end
	if i % 50 == 0 then utils.yield() end
end
h.is(done, K, K .. ' short connections made')
h.ok(h.waitfor(function() return served == K end), '... and every one served to its end (' .. served .. ')')
srv:interrupt()
spawner:join()
srv:close()

collectgarbage() collectgarbage()
h.done()
