-- needs: lem.streams
-- 24. GC while busy: only a coroutine blocked in read references the
-- stream; collectgarbage() x10, then data comes: it resumes with the
-- data.  Unreferenced idle streams are closed by __gc.
local h = require 'h'
local streams = require 'lem.streams'
local utils = require 'lem.utils'

local srv = assert(streams.tcp_listen('127.0.0.1', h.port))
local file = h.tmpname('.in')
local f = io.open(file, 'wb') f:write('late data\n') f:close()
local got
do
	local p = h.peer('trickle', h.port, file, 0.05)
	local c = assert(srv:accept())
	utils.spawn(function() got = c:read('*l') c:close() end)
	utils.spawn(function() p:read('*a') end)
end
for _ = 1, 10 do collectgarbage() end
h.ok(h.waitfor(function() return got end, 5), 'the reader resumed')
h.is(got, 'late data\n', '... with the data')

local nfd = h.count(h.fds())
for _ = 1, 5 do
	local q = h.peer('hold', h.port, 1, 0.3)
	assert(srv:accept())
	q:read('*a')
end
for _ = 1, 3 do collectgarbage() end
h.ok(h.count(h.fds()) <= nfd, 'unreferenced idle streams are closed by __gc')
os.remove(file)
srv:close()
h.done()
