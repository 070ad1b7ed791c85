-- needs: lem.process
-- 44. What a child gets, while lem has sockets, a listener, pidfds,
-- pipes, signal listeners and files open: only 0, 1 and 2 (ls lists
-- its own 3), blocking, default signal actions, an empty mask; also for
-- a child started with stdin from a non-blocking lem stream.
local h = require 'h'
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local process = require 'lem.process'
local signal = require 'lem.signal'
local fs = require 'lem.fs'

local srv = assert(streams.tcp_listen('127.0.0.1', h.port))
local a = assert(streams.tcp_connect('127.0.0.1', h.port))
local b = assert(srv:accept())
local l = signal.listen('SIGUSR1', 'SIGHUP', 'SIGTERM')
local file = assert(fs.open('/dev/null'))
local sleepers = {}
for i = 1, 5 do sleepers[i] = assert(process.spawn({ 'sleep', '30' }, { stdin = 'pipe', stdout = 'pipe' })) end
local pipe = assert(streams.popen('exec cat > /dev/null', 'w'))

local _, _, out = process.run({ 'ls', '/proc/self/fd' })
h.is(out, '0\n1\n2\n3\n', 'the child has 0, 1, 2 only (and ls its 3)')
_, _, out = process.run({ 'sh', '-c', 'for f in 0 1 2; do grep flags /proc/self/fdinfo/$f; done' },
	{ stdin = sleepers[1].stdout })
local nonblock = 0
for fl in out:gmatch('flags:%s*(%d+)') do
	if math.floor(tonumber(fl, 8) / 2048) % 2 == 1 then nonblock = nonblock + 1 end
end
h.is(nonblock, 0, "0, 1 and 2 are blocking, also stdin from lem's non-blocking stream")
_, _, out = process.run({ 'grep', '-E', '^Sig(Blk|Ign)', '/proc/self/status' })
h.is(out, 'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n', 'no signal blocked or ignored')

for _, p in ipairs(sleepers) do p:kill('SIGKILL') p:wait() p.stdin:close() p.stdout:close() end
pipe:close()
os.execute('sleep 0.1')
l:close() file:close() a:close() b:close() srv:close()
h.done()
