-- needs: lem.streams
-- 23. fd reuse: close A while it has a read pending, open B on the same
-- descriptor number, send data to B.  A's coroutine must not wake (again).
local h = require 'h'
local streams = require 'lem.streams'
local utils = require 'lem.utils'

local srv = assert(streams.tcp_listen('127.0.0.1', h.port))
local pa = h.peer('hold', h.port, 1, 1)
local a = assert(srv:accept())
local before = h.fds()
local wakes = {}
utils.spawn(function()
	wakes[#wakes + 1] = { a:read() }
	-- after the interrupt, do nothing with A again
end)
utils.yield()
local pb = h.peer('send-close', h.port, 'for B only')
a:close()
local b = assert(srv:accept())
local after = h.fds()
-- B reuses A's number if the only new descriptor is pb's pipe
local new = 0
for fd in pairs(after) do if before[fd] == nil then new = new + 1 end end
local reused = new == 1 and h.count(after) == h.count(before) + 1
h.is(b:read('*a'), 'for B only', 'B gets its data')
for _ = 1, 5 do utils.yield() end
h.is(#wakes, 1, "A's reader woke exactly once")
h.is(wakes[1] and wakes[1][2], 'interrupted', "... with 'interrupted', never with B's data")
h.ok(reused, "B got A's descriptor number (the case is meaningful)")
pa:read('*a')
pb:read('*a')
srv:close()
h.done()
