-- t/12-streams-pipes.t - lem.streams on FIFOs, popen pipes, regular files
-- and terminals (README "The stream library")
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'

tap.plan(53, 60)

local nfds = tap.nfds
-- libev opens one eventfd for the loop when signals are first watched
streams.popen('true'):close()
local fds0 = nfds()
local function sleep(t) utils.sleeper():sleep(t) end

-- ------------------------------------------------------------ FIFOs
local fifo = tap.tmpname('.fifo')
os.execute('mkfifo ' .. fifo)
local r, e = streams.open(fifo, 'w')
tap.ok(r == nil and type(e) == 'string', 'a FIFO opened for writing without a reader: nil, message', tap.values(r, e))
tap.like(e, 'No such device', '... ENXIO, without blocking')
local rd = assert(streams.open(fifo))
tap.is(getmetatable(rd), streams.Stream, 'open a FIFO for reading')
local ticks = 0
utils.spawn(function()
	for _ = 1, 5 do ticks = ticks + 1 sleep(0.01) end
	local wr = assert(streams.open(fifo, 'w'))
	wr:write('hello\nworld')
	sleep(0.02)
	wr:close()
end)
tap.is(rd:read('*l'), 'hello\n', 'the first read waits for a writer to come')
tap.is(ticks, 5, '... while other coroutines run')
tap.is(rd:read(), 'world', 'read() gets the rest')
r, e = rd:read()
tap.same({ r, e }, { nil, 'closed' }, "the writer closed: nil, 'closed'")
tap.is(rd:closed(), true, '... and the stream is closed')
r, e = rd:close()
tap.same({ r, e }, { nil, 'already closed' }, "close(): nil, 'already closed'")

rd = assert(streams.open(fifo, 'r'))
local wr = assert(streams.open(fifo, 'w'))
local res
utils.spawn(function() res = { rd:read(10) } end)
utils.yield()
tap.is(rd:busy(), true, 'a FIFO reader waiting is busy')
r, e = rd:read()
tap.same({ r, e }, { nil, 'busy' }, "read on it: nil, 'busy'")
tap.is(rd:interrupt(), true, 'interrupt()')
utils.yield()
tap.same(res, { nil, 'interrupted' }, "... nil, 'interrupted'")
r, e = rd:cork()
tap.ok(r == nil and type(e) == 'string' and e ~= 'busy' and e ~= 'closed',
	'cork() on a FIFO: nil, message', tap.values(r, e))
r, e = rd:uncork()
tap.ok(r == nil and type(e) == 'string', 'uncork() on a FIFO: nil, message', tap.values(r, e))
-- a writer filling the FIFO waits without blocking the loop
local big = string.rep('f', 1024 * 1024)
local wres
ticks = 0
utils.spawn(function() wres = wr:write(big) end)
utils.spawn(function() for _ = 1, 3 do ticks = ticks + 1 utils.yield() end end)
utils.yield()
tap.is(wr:busy(), true, 'a big write to a FIFO waits')
local got = rd:read(#big)
tap.ok(got == big, 'the reader gets all of it')
utils.yield()
tap.is(wres, true, '... and the write returns true')
tap.ok(ticks > 0, '... other coroutines ran meanwhile')
rd:close()
r, e = wr:write('more')
tap.same({ r, e }, { nil, 'closed' }, "write when the reader is gone: nil, 'closed'")
tap.is(wr:closed(), true, '... the stream is closed')

-- ------------------------------------------------------------ popen
local p = assert(streams.popen('echo hello; echo world'))
tap.is(getmetatable(p), streams.Stream, 'popen returns a stream')
tap.is(p:read('*l'), 'hello\n', 'read a line from a command')
tap.is(p:read('*a'), 'world\n', "read('*a') the rest")
tap.is(p:closed(), true, '... which closes it')
local out = tap.tmpname()
p = assert(streams.popen('cat > ' .. out, 'w'))
tap.is(p:write('to the child\n'), true, "write to a command ('w')")
tap.is(p:close(), true, 'close() it')
tap.waitfor(function() return tap.readfile(out) == 'to the child\n' end)
tap.is(tap.readfile(out), 'to the child\n', 'the command got the data and end of file')
p = assert(streams.popen("grep -E '^Sig(Ign|Blk)' /proc/self/status"))
local st = p:read('*a')
-- signals 32 and 33 belong to the C library, which keeps them as it finds them
local ign = tonumber((st:match('SigIgn:%s*%x*(%x%x%x%x%x%x%x%x)\n')), 16)
tap.ok(ign and ign % 2^31 == 0, 'the child ignores no signal 1-31 (SIGPIPE is default)', st)
tap.like(st, 'SigBlk:%s*0+\n', 'the child blocks no signal')
p = assert(streams.popen('exit 3'))
tap.is(p:read('*a'), '', 'a silent command')
-- no zombies
local ps = {}
for i = 1, 5 do ps[i] = assert(streams.popen('true')) end
for i = 1, 5 do ps[i]:read('*a') end
ps = nil
-- the child says who it is, then sleeps: close() must return while it
-- still runs (not a measured time: the machine may be slow)
p = assert(streams.popen('echo $$; exec sleep 30'))
local cpid = tap.kill_at_end(tonumber(p:read('*l')))
tap.is(p:close(), true, 'close() of a running command')
local cstat = tap.readfile('/proc/' .. cpid .. '/stat') or ''
tap.ok(cstat:match('^%d+ %b() [^Z]'), '... does not wait for it', cstat)
tap.kill(cpid)
local function zombies()
	local o = tap.sh('cat /proc/[0-9]*/stat 2>/dev/null | awk \'$4 == ' .. tap.pid() .. ' && $3 == "Z"\' | wc -l')
	return tonumber(o)
end
local z
tap.waitfor(function() z = zombies() return z == 0 end, 20)
tap.is(z, 0, 'finished children are reaped: no zombies')
tap.fails('invalid mode', "popen mode 'rw' raises", streams.popen, 'true', 'rw')
tap.fails('bad argument', 'popen without a command raises', streams.popen)

-- ------------------------------------------------------ regular files
local file = tap.writefile(tap.tmpname(), 'first\nsecond\nthird')
local f = assert(streams.open(file))
tap.is(f:read('*l'), 'first\n', 'a regular file: read a line')
tap.is(f:read(3), 'sec', 'read(n)')
tap.is(f:read('*a'), 'ond\nthird', "read('*a')")
r, e = f:read()
tap.same({ r, e }, { nil, 'closed' }, "then nil, 'closed'")
f = assert(streams.open(file, 'a'))
tap.is(f:write('\nfourth'), true, "write in mode 'a'")
r, e = f:cork()
tap.ok(r == nil and type(e) == 'string', 'cork() on a file: nil, message', tap.values(r, e))
f:close()
tap.is(tap.readfile(file), 'first\nsecond\nthird\nfourth', 'O_APPEND was kept: the line went to the end')
f = assert(streams.open(file, 'w'))
f:write(string.rep('w', 100000))
f:close()
tap.is(#tap.readfile(file), 100000, "mode 'w' truncates and writes")
f = assert(streams.open(file, 'r+'))
tap.is(#f:read('*a'), 100000, "mode 'r+' reads")
r, e = streams.open(file .. '.missing')
tap.ok(r == nil and type(e) == 'string' and e:find('No such file'), 'a missing file: nil, message', tap.values(r, e))
tap.fails('invalid mode', "mode 'x' raises", streams.open, file, 'x')
tap.fails('invalid mode', "mode 'rw' raises", streams.open, file, 'rw')

-- ------------------------------------------------------------ tty
if os.execute('command -v script >/dev/null 2>&1') == 0 then
	local o = tap.sh('script -qec ' .. tap.quote(tap.quote(tap.lem) .. " -e " .. tap.quote([[
local streams = require 'lem.streams'
local t = assert(streams.open('/dev/tty', 'w'))
print('busy', t:busy(), 'closed', t:closed())
print('write', t:write('on the tty\n'))
print('cork', t:cork())
print('close', t:close(), t:close())
]])) .. ' /dev/null')
	tap.like(o, 'on the tty', 'a terminal: write')
	tap.like(o, 'busy\tfalse\tclosed\tfalse', '... busy() and closed()')
	tap.like(o, 'cork\tnil\t%a', '... cork(): nil, message')
	tap.like(o, 'close\ttrue\tnil\talready closed', '... close()')
else
	tap.skip(4, 'script(1) not available for a terminal')
end

collectgarbage() collectgarbage()
tap.is(nfds(), fds0, 'no descriptor leaked')
tap.cleanup()
tap.done()
