-- needs: lem.streams
-- 22. Close while a read is pending (from another coroutine), also
-- interrupt(), double close, read after close.  The reader gets
-- nil,'interrupted' exactly once, resumed from the loop (not inside
-- close()); closed() is true; a second close gives 'already closed'; the
-- fd count drops by one.
local h = require 'h'
local streams = require 'lem.streams'
local utils = require 'lem.utils'

local srv = assert(streams.tcp_listen('127.0.0.1', h.port))
local p = h.peer('hold', h.port, 1, 1.5)
local c = assert(srv:accept())
local nfd = h.count(h.fds())
local results, inside = {}, false
utils.spawn(function()
	results[#results + 1] = { c:read('*l') }
	results.during_close = inside
end)
utils.yield()
h.ok(c:busy(), 'the reader waits')
inside = true
h.is(c:close(), true, 'close() while a read is pending')
inside = false
h.is(#results, 0, 'the reader is not resumed inside close()')
utils.yield()
utils.yield()
h.is(#results, 1, 'the reader is resumed once, from the loop')
h.same(results[1], { nil, 'interrupted' }, "... with nil, 'interrupted'")
h.ok(c:closed(), 'closed() is true')
h.is(select(2, c:close()), 'already closed', "a second close: 'already closed'")
h.is(select(2, c:read()), 'closed', "read after close: 'closed'")
h.is(h.count(h.fds()), nfd - 1, 'one descriptor less')
for _ = 1, 5 do utils.yield() end
h.is(#results, 1, 'still exactly one resume')

-- interrupt() on a pending read, then the stream is still usable
p:read('*a')
p = h.peer('trickle', h.port, h.dir .. '/h.sh', 0.002)
c = assert(srv:accept())
local r2
utils.spawn(function() r2 = { c:read(100000) } end)
utils.yield()
h.is(c:interrupt(), true, 'interrupt() a pending read')
h.is(select(2, c:interrupt()), 'not busy', "interrupt again: 'not busy'")
utils.yield()
h.same(r2, { nil, 'interrupted' }, "the reader: nil, 'interrupted'")
h.ok(not c:closed(), 'the stream stays open')
local all = c:read('*a')
h.is(all, h.readfile(h.dir .. '/h.sh'), 'no byte lost across the interrupt')
c:close()
p:read('*a')
srv:close()
h.done()
