-- needs: lem.streams
-- 33. popen edge cases: an early-exiting child (write 10 MB to
-- popen("true","w"); read popen("exit 3")): both 'closed'; a missing
-- command; no zombies after close; the child sees none of lem's
-- descriptors (CLOEXEC); closing popen("sleep 5") does not stall the loop.
local h = require 'h'
local streams = require 'lem.streams'
local utils = require 'lem.utils'

local p = assert(streams.popen('true', 'w'))
local ok, err = p:write(('x'):rep(1024 * 1024):rep(10))
h.same({ ok, err }, { nil, 'closed' }, "10 MB to popen('true', 'w'): 'closed'")
p:close()
p = assert(streams.popen('exit 3'))
local a, b = p:read()
h.same({ a, b }, { nil, 'closed' }, "reading popen('exit 3'): 'closed'")
p:close()
p = assert(streams.popen('no-such-command-lem 2>/dev/null'))
a, b = p:read('*a')
h.is(a, '', "a missing command: read('*a') gives ''")

local srv = assert(streams.tcp_listen('127.0.0.1', h.port))
p = assert(streams.popen('ls -l /proc/self/fd'))
local listing = p:read('*a')
h.ok(not listing:find('socket:', 1, true) and not listing:find('eventpoll', 1, true),
	"the child sees no socket, listener or epoll descriptor of lem's", listing)
srv:close()

-- closing a running child does not stall the loop
local worst, last, ticking = 0, h.clock(), true
utils.spawn(function()
	local s = utils.sleeper()
	while ticking do
		s:sleep(0.02)
		local now = h.clock()
		if now - last > worst then worst = now - last end
		last = now
	end
end)
p = assert(streams.popen('sleep 1'))
utils.sleeper():sleep(0.1)
local t0 = h.clock()
h.is(p:close(), true, "close() on popen('sleep 1')")
h.ok(h.clock() - t0 < 0.2, 'close() returns at once')
utils.sleeper():sleep(0.3)
ticking = false
h.ok(worst < 0.5, 'the ticker never stalled more than 0.5 s', worst)
h.figure('popen close: longest ticker gap s', worst)
-- close() never waits: the child ends by itself and lem reaps it then
utils.sleeper():sleep(1)
h.done()
