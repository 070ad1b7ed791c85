-- 38. Fairness under a spawn storm: a million coroutines are queued at
-- once while a client makes an echo round trip.  The round trip must be
-- served while the storm is still running (the scheduler bounds the work
-- of one loop turn), not after all of them.
local h = require 'h'
local utils = require 'lem.utils'
local streams = require 'lem.streams'

local N = h.n(1000000)
local server = assert(streams.tcp_listen('127.0.0.1', 0))
local _, port = server:address()
utils.spawn(function()
	server:autospawn(function(s)
		local line = s:read('*l')
		if line then s:write(line) end
		s:close()
	end)
end)
local c = assert(streams.tcp_connect('127.0.0.1', port))
local done = 0
local function task() done = done + 1 end
for _ = 1, N do utils.spawn(task) end
local t0 = h.clock()
assert(c:write('ping\n'))
local got = c:read('*l')
local at = done
h.is(got, 'ping\n', 'the echo came back')
h.ok(at < N, 'it was served before the storm ended', at .. ' of ' .. N .. ' done')
h.figure('echo round trip during the storm', string.format('%.1f ms, %d of %d coroutines done',
	(h.clock() - t0) * 1000, at, N))
h.ok(h.waitfor(function() return done == N end, 50), 'the storm finishes', done)
c:close()
server:close()
h.done()
