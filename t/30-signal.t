-- t/30-signal.t - lem.signal: listeners, counts, every listener sees every
-- delivery, the default action suppressed while listening and restored
-- after, deadlines and cancellation (API.md section 3)
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local signal = require 'lem.signal'
local streams = require 'lem.streams'

tap.plan(57, 60)

local pid = tap.pid()
local function kill(sig, times)
	os.execute(string.format('i=0; while [ $i -lt %d ]; do kill -%s %d; i=$((i+1)); done',
		times or 1, sig, pid))
end
local function sleep(t) utils.sleep(t) end
-- let lem's loop run until the signals sent so far are handled.  Their
-- handlers ran while os.execute waited for the shell that sent them; one
-- loop turn hands all of them to the listeners, so a SIGWINCH sent after
-- them and seen by a listener of its own is a barrier.
local function settle()
	local probe = signal.listen('SIGWINCH')
	kill('WINCH')
	local name = probe:wait()
	probe:close()
	return name
end

-- ------------------------------------------------------------- misuse
tap.is(type(signal.Listener), 'table', 'signal.Listener is the metatable')
tap.fails('signal name expected', 'listen() without a signal raises', signal.listen)
tap.fails("unknown signal 'SIGFOO'", "an unknown name raises", signal.listen, 'SIGFOO')
tap.fails("unknown signal 'sigterm'", 'names are upper case', signal.listen, 'sigterm')
tap.fails('SIGKILL cannot be listened to', 'SIGKILL raises', signal.listen, 'SIGKILL')
tap.fails('SIGSTOP cannot be listened to', 'SIGSTOP raises', signal.listen, 'SIGTERM', 'SIGSTOP')
tap.fails('SIGSEGV cannot be listened to', 'a fault signal raises', signal.listen, 'SIGSEGV')
tap.fails('invalid signal number', 'signal 0 raises', signal.listen, 0)
tap.fails('invalid signal number', 'signal 65 raises', signal.listen, 65)
tap.fails('invalid signal number', 'signal 1.5 raises', signal.listen, 1.5)
tap.fails('signal name or number expected', 'a table raises', signal.listen, {})
tap.fails('SignalListener expected', 'wait on a non-listener raises',
	signal.Listener.wait, utils.sleeper())

-- --------------------------------------------------------- deliveries
local l = signal.listen('SIGUSR1')
tap.is(getmetatable(l), signal.Listener, 'listen returns a Listener')
tap.like(tostring(l), '^lem.SignalListener %(open%)', 'tostring')
local got
utils.spawn(function() got = tap.pack(l:wait()) end)
utils.yield()
tap.like(tostring(l), 'waiting', 'a waiting listener says so')
kill('USR1')
tap.ok(tap.waitfor(function() return got end), 'a waiting listener wakes on the signal')
tap.same(got, { 'SIGUSR1', 1, n = 2 }, "... with 'SIGUSR1', 1")

-- pending: the next wait returns at once (even with a deadline passed)
kill('USR1')
settle()
tap.same(tap.pack(utils.timeout(0, l.wait, l)), { 'SIGUSR1', 1 },
	'a delivery before wait is returned at once')
-- counts: two deliveries that lem saw one by one are counted as two
kill('USR1')
settle()
kill('USR1')
settle()
tap.same(tap.pack(utils.timeout(0, l.wait, l)), { 'SIGUSR1', 2 },
	'the count is the deliveries since the last wait')
tap.same(tap.pack(utils.timeout(0, l.wait, l)), { nil, 'timeout' },
	'nothing pending: the deadline applies')

-- every listener sees every delivery
local l2 = signal.listen('SIGUSR1', 'SIGUSR2')
local a, b
utils.spawn(function() a = tap.pack(l:wait()) end)
utils.spawn(function() b = tap.pack(l2:wait()) end)
utils.yield()
kill('USR1')
tap.ok(tap.waitfor(function() return a and b end), 'two listeners of one signal both wake')
tap.same(a, { 'SIGUSR1', 1 }, '... the first')
tap.same(b, { 'SIGUSR1', 1 }, '... and the second')
-- several signals pending: the first delivered comes first
kill('USR2')
settle()
kill('USR1')
settle()
kill('USR2')
settle()
tap.same(tap.pack(l2:wait()), { 'SIGUSR2', 2 }, 'several pending: the one delivered first')
tap.same(tap.pack(l2:wait()), { 'SIGUSR1', 1 }, '... then the next')
l:wait()        -- the USR1 above

-- a listener by number; an unnamed signal has a SIGnn name
local l34 = signal.listen(34)
kill('34')
tap.same(tap.pack(l34:wait()), { 'SIG34', 1 }, 'a real-time signal by number is named SIG34')
tap.is(l34:close(), true, 'close it')
tap.same(tap.pack(signal.listen('SIG34'):close()), { true }, "'SIG34' is a name too")

-- bursts: lem survives and counts at least one and at most what was sent
local sum = 0
kill('USR2', 200)
settle()
while true do
	local name, n = utils.timeout(0, l2.wait, l2)
	if not name then break end
	sum = sum + n
end
tap.ok(sum >= 1 and sum <= 201, '200 signals in a burst: counted between 1 and 200', sum)

-- ---------------------------------------------- busy, close, deadlines
local r1
utils.spawn(function() r1 = tap.pack(l:wait()) end)
utils.yield()
tap.same(tap.pack(l:wait()), { nil, 'busy' }, "a second waiter gets nil, 'busy'")
tap.is(l:close(), true, 'close a listener with a waiter')
utils.yield()
tap.same(r1, { nil, 'interrupted' }, "... the waiter gets nil, 'interrupted'")
tap.same(tap.pack(l:wait()), { nil, 'closed' }, "wait on a closed listener: nil, 'closed'")
tap.same(tap.pack(l:close()), { nil, 'already closed' }, "close again: nil, 'already closed'")
tap.like(tostring(l), 'closed', 'tostring says closed')

tap.same(tap.pack(utils.timeout(0.05, l2.wait, l2)), { nil, 'timeout' },
	"a deadline ends a wait: nil, 'timeout'")
local co = utils.spawn(function() r1 = tap.pack(l2:wait()) end)
utils.yield()
co:cancel()
utils.yield()
tap.same(r1, { nil, 'cancelled' }, "co:cancel() ends a wait: nil, 'cancelled'")
kill('USR2')
tap.same(tap.pack(l2:wait()), { 'SIGUSR2', 1 }, 'the listener works after both')
l2:close()

-- -------------------------------------------- default actions, lifetime
local out, err, status = tap.lemrun([[
local signal = require 'lem.signal'
local f = io.open('/proc/self/stat') local pid = f:read('*n') f:close()
local l = signal.listen('SIGTERM', 'SIGINT', 'SIGHUP')
-- not with os.execute: system() ignores SIGINT while its command runs
require('lem.streams').popen('kill -TERM ' .. pid .. '; kill -INT ' .. pid ..
	'; kill -HUP ' .. pid):read('*a')
local n = 0
while n < 3 do local _, c = l:wait() n = n + c end
print('survived', n)
io.stdout:flush()
l:close()
os.execute('kill -TERM ' .. pid)
require('lem.utils').sleep(5)
print('not reached')
]])
tap.is(out, 'survived\t3\n', 'while listened to, SIGTERM, SIGINT and SIGHUP do not kill', err)
tap.is(status, 143, '... closing the last listener restores the default action (killed by SIGTERM)')

out, err, status = tap.lemrun([[
local signal = require 'lem.signal'
local streams = require 'lem.streams'
local a, b = signal.listen('SIGPIPE'), signal.listen('SIGPIPE')
a:close() b:close()
local p = assert(streams.popen('exec true', 'w'))
require('lem.utils').sleep(0.2)
print(p:write(('x'):rep(1e6)))
]])
tap.is(out, 'nil\tclosed\n', "after listening to SIGPIPE, lem's own handler is back", err)

out, err, status = tap.lemrun([[
local signal = require 'lem.signal'
local f = io.open('/proc/self/stat') local pid = f:read('*n') f:close()
local l = signal.listen('SIGUSR1')
os.execute('(sleep 0.3; kill -USR1 ' .. pid .. ') &')
print(l:wait())
]])
tap.is(out, 'SIGUSR1\t1\n', 'a coroutine waiting in wait() keeps lem running', err)
out, err, status = tap.lemrun([[
local l = require('lem.signal').listen('SIGUSR1')
print('done')
]])
tap.ok(out == 'done\n' and status == 0, 'a listener nobody waits on does not', err)

-- nohup: an ignored signal stays ignored after the listener closes
out, err, status = tap.sh('trap "" HUP; ' .. tap.quote(tap.lem) .. [[ -e "
local f = io.open('/proc/self/stat') local pid = f:read('*n') f:close()
local l = require('lem.signal').listen('SIGHUP')
os.execute('kill -HUP ' .. pid)
print(l:wait())
l:close()
os.execute('kill -HUP ' .. pid)
require('lem.utils').sleep(0.1)
print('still here')"]])
tap.is(out, 'SIGHUP\t1\nstill here\n', 'an ignored signal (nohup) is caught while listened to, ignored again after', err)

-- SIGCHLD next to lem.streams' own watcher: popen children are still reaped
local lc = signal.listen('SIGCHLD')
local p = assert(streams.popen('exit 0'))
p:read('*a')
tap.same(tap.pack(lc:wait()), { 'SIGCHLD', 1 }, 'SIGCHLD can be listened to next to popen')
lc:close()
p = assert(streams.popen('echo $$'))
local cpid = tonumber(p:read('*l'))
p:close()
tap.ok(tap.waitfor(function()
	local st = tap.readfile('/proc/' .. cpid .. '/stat')
	return st == nil
end), '... and popen children are still reaped after it closed')
local f = io.popen('exit 7')
f:read('*a')
local _, _, code = f:close()
local st = os.execute('exit 3')
tap.ok(st == 3 * 256 or st == 3 or code == 7, 'io.popen and os.execute keep their statuses', tostring(st))

-- examples/graceful.lua: SIGTERM stops accepting, open connections finish
do
	local process = require 'lem.process'
	local ex = tap.dir .. '/../examples/graceful.lua'
	local function start(grace)
		local p = assert(process.spawn({ tap.lem, ex, 0, grace },
			{ stdout = 'pipe', stderr = 'stdout' }))
		tap.kill_at_end(p.pid)
		local banner = p.stdout:read('*l')
		return p, tonumber(banner and banner:match('port (%d+)')), banner
	end
	local p, port, banner = start(30)
	tap.ok(port, 'graceful.lua starts', banner)
	local c = assert(streams.tcp_connect('127.0.0.1', port))
	c:write('one\n')
	tap.is(c:read('*l'), 'one\n', '... and echoes')
	p:kill('SIGTERM')
	tap.like(p.stdout:read('*l'), '^SIGTERM: server closed, 1 connection', 'SIGTERM: it closes the server')
	local r, e = streams.tcp_connect('127.0.0.1', port)
	tap.same({ r, e }, { nil, 'Connection refused' }, '... new clients are refused')
	c:write('two\n')
	tap.is(c:read('*l'), 'two\n', '... the open connection is still served')
	c:close()
	tap.is(p.stdout:read('*l'), 'all connections finished\n', '... it ends when that one has')
	tap.same(tap.pack(p:wait()), { 'exit', 0 }, '... with status 0')
	-- a client that stays past the grace period is closed
	p, port = start(0.2)
	c = assert(streams.tcp_connect('127.0.0.1', port))
	c:write('x\n')
	c:read('*l')
	p:kill('SIGINT')
	p.stdout:read('*l')
	tap.is(p.stdout:read('*l'), 'grace period over\n', 'a connection open past the grace period is closed')
	tap.same({ c:read('*l') }, { nil, 'closed' }, '... the client sees the end')
	tap.same(tap.pack(p:wait()), { 'exit', 0 }, '... and the server ends')
	c:close()
end

tap.done()
