-- t/22-streams-unix.t - Unix-domain stream sockets: streams.unix_connect,
-- streams.unix_listen (mode, abstract namespace, the stale-file rule,
-- unlinking on close), stream:credentials(), and Unix streams being
-- ordinary streams.
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'

tap.plan(92, 60)

local nfds = tap.nfds
streams.popen('true'):close()
local fds0 = nfds()

local function exists(p)
	return os.execute('test -e ' .. tap.quote(p) .. ' -o -L ' .. tap.quote(p)) == 0
end
local function issock(p) return os.execute('test -S ' .. tap.quote(p)) == 0 end
local function sh1(cmd)      -- the first line a shell command prints
	local out = tap.sh(cmd)
	return (out:gsub('\n.*', ''))
end
local function mode_of(p) return sh1('stat -c %a ' .. tap.quote(p)) end

-- a connected pair over a fresh path: client, server side, server, path
local function pair(path)
	path = path or tap.tmpname('.sock')
	local srv = assert(streams.unix_listen(path))
	local c
	utils.spawn(function() c = assert(streams.unix_connect(path)) end)
	local s = assert(srv:accept())
	while not c do utils.yield() end
	return c, s, srv, path
end

-- ------------------------------------------------------ listen, connect
local path = tap.tmpname('.sock')
local srv, err = streams.unix_listen(path)
tap.is(getmetatable(srv), streams.Server, 'unix_listen returns a Server', err)
tap.ok(issock(path), '... and the path is a socket file')
tap.same(tap.pack(srv:address()), { path }, 'server:address() is the path (one value)')
tap.is(tostring(srv):match('^lem.Server %((%a+)%)'), 'open', '__tostring says open')

local got = {}
utils.spawn(function()
	local c = assert(streams.unix_connect(path))
	got.meta = getmetatable(c)
	got.addr = tap.pack(c:address())
	got.peer = tap.pack(c:peer())
	got.cred = tap.pack(c:credentials())
	c:write('hello\n')
	got.line = c:read('*l')
	got.cork = tap.pack(c:cork())
	c:close()
end)
local s = assert(srv:accept())
tap.is(getmetatable(s), streams.Stream, 'accept gives a Stream')
tap.is(s:read('*l'), 'hello\n', 'a line from the client')
tap.ok(s:write('echo hello\n'), 'write to the client')
tap.same(tap.pack(s:read('*a')), { '' }, 'the client closes: read("*a") gives ""')
tap.ok(s:closed(), '... and the stream is closed')
tap.is(got.meta, streams.Stream, 'unix_connect returns a Stream')
tap.is(got.line, 'echo hello\n', 'the client reads the answer')
tap.same(got.addr, { '' }, "the client's address(): '' (unnamed)")
tap.same(got.peer, { path }, "the client's peer(): the path")
-- built without TCP_CORK (--disable-tcp-cork), cork is 'not supported'
local cfg = tap.readfile((os.getenv('LEM_TEST_BUILDDIR') or (tap.dir .. '/..')) .. '/config.h') or ''
if cfg:find('#define HAVE_DECL_TCP_CORK 0', 1, true) then
	tap.same(got.cork, { nil, 'not supported' }, "cork on a Unix stream (built without TCP_CORK): nil, 'not supported'")
else
	tap.same(got.cork, { nil, 'Operation not supported' }, 'cork on a Unix stream: nil and the system message')
end

local uid, gid = tonumber(sh1('id -u')), tonumber(sh1('id -g'))
tap.same(got.cred, { tap.pid(), uid, gid }, 'credentials(): pid, uid, gid of the server process')

-- the server's side of a stream, credentials of a client in another process
-- a lem script in a file, started with arguments
local function lemscript(code, args)
	local f = tap.writefile(tap.tmpname('.lua'), code)
	return assert(streams.popen('exec ' .. tap.quote(tap.lem) .. ' ' .. f .. ' ' .. args))
end
local child = lemscript([[
	local streams = require 'lem.streams'
	local c = assert(streams.unix_connect(arg[1]))
	local f = io.open('/proc/self/stat')
	c:write(f:read('*n') .. '\n')
	c:read('*a')
]], tap.quote(path))
s = assert(utils.timeout(20, srv.accept, srv))
local cpid = tonumber(s:read('*l'))
tap.same(tap.pack(s:credentials()), { cpid, uid, gid }, 'credentials() of a client in another process')
tap.same(tap.pack(s:address()), { path }, "the server side's address(): the path")
tap.same(tap.pack(s:peer()), { '' }, "the server side's peer(): ''")
s:close()
child:read('*a')
child:close()

-- credentials where there are none
local a, b = tap.tcp_pair()
tap.same(tap.pack(a:credentials()), { nil, 'not supported' }, "credentials() of a TCP stream: nil, 'not supported'")
a:close() b:close()
local p = assert(streams.popen('true'))
tap.same(tap.pack(p:credentials()), { nil, 'Socket operation on non-socket' }, 'credentials() of a pipe: the system message')
p:close()
tap.same(tap.pack(p:credentials()), { nil, 'closed' }, "credentials() of a closed stream: nil, 'closed'")

-- -------------------------------------------- ordinary stream behaviour
local c
c, s = pair()
-- busy, interrupt, close while waiting
local r1
utils.spawn(function() r1 = tap.pack(s:read()) end)
utils.yield()
tap.ok(s:busy(), 'a waiting read makes the stream busy')
tap.same(tap.pack(s:read()), { nil, 'busy' }, "a second read: nil, 'busy'")
tap.ok(s:interrupt(), 'interrupt() a waiting read')
tap.ok(tap.waitfor(function() return r1 ~= nil end), '... it returns')
tap.same(r1, { nil, 'interrupted' }, "... with nil, 'interrupted'")
r1 = nil
utils.spawn(function() r1 = tap.pack(s:read('*l')) end)
utils.yield()
tap.ok(s:close(), 'close() while a read waits')
tap.ok(tap.waitfor(function() return r1 ~= nil end), '... the read returns')
tap.same(r1, { nil, 'interrupted' }, "... nil, 'interrupted'")
-- the peer vanishes
tap.same(tap.pack(c:read()), { nil, 'closed' }, "the peer closed: read gives nil, 'closed'")
tap.same(tap.pack(c:write('x')), { nil, 'closed' }, "... and write nil, 'closed'")

-- bytes the peer sent before it went are not lost
c, s = pair()
c:write(('z'):rep(100000))
c:close()
local all = s:read('*a')
tap.is(all and #all, 100000, 'everything sent before close arrives')

-- sendfile over a Unix stream
local big = tap.tmpname('.bin')
do
	local t = {}
	for i = 1, 4096 do t[i] = string.format('%07d\n', i) end
	tap.writefile(big, table.concat(t) .. table.concat(t))
end
c, s = pair()
local file = assert(streams.sendfile(big))
local sent
utils.spawn(function() sent = tap.pack(s:sendfile(file, 10)) s:close() end)
local body = c:read('*a')
tap.same(sent, { true }, 'sendfile over a Unix stream')
tap.is(body, tap.readfile(big):sub(11), '... sends the file from the offset')
file:close()

-- deadlines apply
c, s = pair()
tap.same(tap.pack(utils.timeout(0.05, s.read, s)), { nil, 'timeout' }, "a read under a deadline: nil, 'timeout'")
c:write('after\n')
tap.is(s:read('*l'), 'after\n', '... the stream is usable afterwards')
c:close() s:close()

-- streams.open() connects to a socket of unix_listen too
local o = assert(streams.open(path, 'r+'))
s = assert(srv:accept())
o:write('via open\n')
tap.is(s:read('*l'), 'via open\n', 'streams.open() on the socket of a lem server')
o:close() s:close()

-- autospawn serves Unix connections
local served = 0
local spawner = utils.spawn(function()
	srv:autospawn(function(st)
		local l = st:read('*l')
		st:write('auto ' .. l)
		st:close()
		served = served + 1
	end)
end)
local answers = {}
for i = 1, 5 do
	utils.spawn(function()
		local cc = assert(streams.unix_connect(path))
		cc:write(i .. '\n')
		local line = cc:read('*l')   -- before the index is taken
		answers[#answers + 1] = line
		cc:close()
	end)
end
tap.ok(tap.waitfor(function() return served == 5 and #answers == 5 end), 'autospawn serves 5 Unix clients')
srv:interrupt()
spawner:join()

-- ------------------------------------------------------- close, unlink
tap.ok(srv:close(), 'server:close()')
tap.ok(not exists(path), '... unlinks the socket file it made')
tap.same(tap.pack(srv:address()), { nil, 'closed' }, "address() of a closed server: nil, 'closed'")
tap.same(tap.pack(streams.unix_connect(path)), { nil, 'No such file or directory' }, 'unix_connect to a path that is gone')

-- a path replaced meanwhile is not someone else's to unlink
path = tap.tmpname('.sock')
local moved = tap.tmpname('.sock')
local first = assert(streams.unix_listen(path))
os.rename(path, moved)
local second = assert(streams.unix_listen(path))
first:close()
tap.ok(issock(path), 'close() leaves a socket another server put at the path')
tap.ok(issock(moved), '... and the moved file, which is no longer at its path')
c = streams.unix_connect(path)
s = second:accept()
tap.ok(c and s, '... the other server still accepts')
c:close() s:close()
second:close()
tap.ok(not exists(path), "the other server's close() unlinks its own file")
os.remove(moved)

-- __gc unlinks too
path = tap.tmpname('.sock')
do local gone = assert(streams.unix_listen(path)) end
collectgarbage() collectgarbage()
tap.ok(not exists(path), 'a server that is collected unlinks its file')

-- ------------------------------------------------------ the stale rule
path = tap.tmpname('.sock')
srv = assert(streams.unix_listen(path))
tap.same(tap.pack(streams.unix_listen(path)), { nil, 'Address already in use' }, 'a live socket is never replaced')
-- the check was a connection, closed at once: the live server sees it
s = assert(srv:accept())
tap.same(tap.pack(s:read()), { nil, 'closed' }, '... the live server saw the probe connection, closed at once')
c = assert(streams.unix_connect(path))
s = assert(srv:accept())
tap.ok(c:write('still\n') and s:read('*l') == 'still\n', '... and the first server still works')
c:close() s:close() srv:close()

-- a server killed without cleaning up leaves a socket that refuses
path = tap.tmpname('.sock')
local pl = lemscript([[
	local streams = require 'lem.streams'
	local srv = assert(streams.unix_listen(arg[1]))
	local f = io.open('/proc/self/stat')
	print(f:read('*n'))
	io.stdout:flush()
	require('lem.utils').sleep(60)
]], tap.quote(path))
local kpid = tonumber(pl:read('*l'))
tap.kill_at_end(kpid)
tap.same(tap.pack(streams.unix_listen(path)), { nil, 'Address already in use' }, "another process's live server is not replaced")
os.execute('kill -9 ' .. kpid)
pl:read('*a')
pl:close()
tap.ok(issock(path), 'the killed server left its socket file')
tap.same(tap.pack(streams.unix_connect(path)), { nil, 'Connection refused' }, '... which refuses connections')
srv, err = streams.unix_listen(path)
tap.is(getmetatable(srv), streams.Server, 'a stale socket is replaced', err)
c = streams.unix_connect(path)
s = srv:accept()
tap.ok(c and s, '... and the new server accepts')
c:close() s:close() srv:close()

-- other files are never removed
local reg = tap.writefile(tap.tmpname('.sock'), 'precious')
tap.same(tap.pack(streams.unix_listen(reg)), { nil, 'Address already in use' }, 'a regular file: nil, Address already in use')
tap.is(tap.readfile(reg), 'precious', '... and it is untouched')
local dir = tap.tmpname('.d')
os.execute('mkdir ' .. tap.quote(dir))
tap.same(tap.pack(streams.unix_listen(dir)), { nil, 'Address already in use' }, 'a directory: the same')
local link = tap.tmpname('.lnk')
os.execute('ln -s ' .. tap.quote(tap.tmpname('.nowhere')) .. ' ' .. tap.quote(link))
tap.same(tap.pack(streams.unix_listen(link)), { nil, 'Address already in use' }, 'a dangling symbolic link: the same')
tap.ok(os.execute('test -L ' .. tap.quote(link)) == 0, '... and the link stays')
local fifo = tap.tmpname('.fifo')
os.execute('mkfifo ' .. tap.quote(fifo))
tap.same(tap.pack(streams.unix_listen(fifo)), { nil, 'Address already in use' }, 'a FIFO: the same')

-- ----------------------------------------------------------------- mode
path = tap.tmpname('.sock')
srv = assert(streams.unix_listen(path, '0600'))
tap.is(mode_of(path), '600', "mode '0600' is the socket file's mode")
srv:close()
srv = assert(streams.unix_listen(path, '666'))
tap.is(mode_of(path), '666', "mode '666' (no leading zero)")
srv:close()
for _, bad in ipairs({ '0689', 'rw', '', '77777', '0660 ', '0660\0' }) do
	tap.fails('invalid mode', 'mode ' .. string.format('%q', bad) .. ' raises',
		streams.unix_listen, tap.tmpname('.sock'), bad)
end
tap.fails('invalid mode', 'a number as mode raises (0660 in Lua is decimal)',
	streams.unix_listen, tap.tmpname('.sock'), 0660)
tap.fails('abstract socket has no mode', 'a mode for an abstract socket raises',
	streams.unix_listen, '@lem-test-mode', '0600')

-- ------------------------------------------------- abstract namespace
local name = '@lem-test-' .. tap.pid() .. '-' .. math.random(1, 1e9)
srv, err = streams.unix_listen(name)
tap.is(getmetatable(srv), streams.Server, 'unix_listen in the abstract namespace', err)
tap.same(tap.pack(srv and srv:address()), { name }, "... address() is '@name'")
tap.same(tap.pack(streams.unix_listen(name)), { nil, 'Address already in use' }, '... a second listen on the name fails')
c = streams.unix_connect(name)
s = srv:accept()
tap.ok(c and s and c:write('abstract\n') and s:read('*l') == 'abstract\n', '... unix_connect reaches it')
tap.same(tap.pack(c:peer()), { name }, "... the client's peer() is '@name'")
c:close() s:close() srv:close()
tap.same(tap.pack(streams.unix_connect(name)), { nil, 'Connection refused' }, 'after close() the name is free: Connection refused')

-- ------------------------------------------------------- bad input
local dirlen = #tap.tmpname('')
local p107 = tap.tmpname('') .. ('y'):rep(107 - dirlen)
local p108 = p107 .. 'y'
srv, err = streams.unix_listen(p107)
tap.ok(srv ~= nil, 'a path of 107 bytes fits', err)
if srv then srv:close() end
tap.same(tap.pack(streams.unix_listen(p108)), { nil, 'File name too long' }, "108 bytes: nil, 'File name too long'")
tap.same(tap.pack(streams.unix_connect(p108)), { nil, 'File name too long' }, '... unix_connect too')
tap.same(tap.pack(streams.unix_connect('@' .. ('n'):rep(108))), { nil, 'File name too long' }, '... and an abstract name of 108 bytes')
tap.fails('zero byte', 'a zero byte in the path raises (unix_connect)', streams.unix_connect, path .. '\0x')
tap.fails('zero byte', '... (unix_listen)', streams.unix_listen, path .. '\0x')
tap.same(tap.pack(streams.unix_connect('')), { nil, 'No such file or directory' }, "'' is no socket")
tap.same(tap.pack(streams.unix_connect(reg)), { nil, 'Connection refused' }, 'unix_connect to a regular file: Connection refused')
tap.fails("unknown option 'bogus'", 'an unknown option raises', streams.unix_listen, path, nil, { bogus = 1 })
tap.fails("option 'backlog' out of range", 'a negative backlog raises', streams.unix_listen, path, nil, { backlog = -1 })

-- ----------------------------------------------- a full backlog waits
path = tap.tmpname('.sock')
srv = assert(streams.unix_listen(path, nil, { backlog = 0 }))
local held = {}
for _ = 1, 8 do
	local h = streams.open(path, 'r+')   -- never waits: fails once full
	if not h then break end
	held[#held + 1] = h
end
tap.same(tap.pack(utils.timeout(0.05, streams.unix_connect, path)), { nil, 'timeout' },
	"unix_connect while the backlog is full waits; under a deadline: nil, 'timeout'")
local waiter = utils.spawn(function() return streams.unix_connect(path) end)
local canceller = utils.spawn(function() return streams.unix_connect(path) end)
utils.yield()
tap.is(waiter:status(), 'waiting', '... it waits')
canceller:cancel()
tap.same(tap.pack(canceller:join()), { true, nil, 'cancelled' }, "... co:cancel() ends it with nil, 'cancelled'")
local accepted = assert(srv:accept())
local ok, st = waiter:join()
tap.ok(ok and getmetatable(st) == streams.Stream, '... and it connects once there is room')
accepted:close()
if st then st:close() end
for _, h in ipairs(held) do h:close() end
srv:close()

file = nil
collectgarbage() collectgarbage()
tap.is(nfds(), fds0, 'no descriptor leaked', tap.fdlist())
tap.done()
