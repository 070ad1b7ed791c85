-- needs: lem.signal
-- 42. Signals in bursts while lem serves: 20,000 SIGUSR1 from another
-- process, as fast as it can send them, to a lem echoing over TCP.  lem
-- survives, every echo is answered, the listener counts between 1 and
-- the number sent, and a signal sent after the burst is still seen.
local h = require 'h'
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local signal = require 'lem.signal'

local N = h.n(20000)
local l = signal.listen('SIGUSR1')
local l2 = signal.listen('SIGUSR1', 'SIGUSR2')
local srv = h.echo_server()
local counted, seen2 = 0, false
utils.spawn(function()
	while true do
		local name, n = l:wait()
		if not name then break end
		counted = counted + n
	end
end)
utils.spawn(function()
	while true do
		local name = l2:wait()
		if not name then break end
		if name == 'SIGUSR2' then seen2 = true end
	end
end)
local sender = assert(streams.popen((os.getenv('PYTHON') or 'python3') ..
	' -c "import os, signal\nfor i in range(' .. N .. '): os.kill(' .. h.pid() ..
	', signal.SIGUSR1)\nprint(\'sent\')"'))
local c = assert(streams.tcp_connect('127.0.0.1', h.port))
local answered = 0
for i = 1, 200 do
	c:write('ping ' .. i .. '\n')
	local r = c:read('*l')
	if r == 'ping ' .. i .. '\n' then answered = answered + 1 end
end
h.is(sender:read('*l'), 'sent\n', N .. ' signals sent')
sender:close()
h.is(answered, 200, 'every echo answered during the burst')
os.execute('kill -USR2 ' .. h.pid())
h.ok(h.waitfor(function() return seen2 end), 'a signal after the burst is seen')
h.ok(counted >= 1 and counted <= N, ('counted %d of %d (merged, never more)'):format(counted, N))
h.figure('signal burst', ('%d sent, %d counted by lem'):format(N, counted))
l:close() l2:close()
c:close()
srv:close()
utils.sleep(0.05)
h.done()
