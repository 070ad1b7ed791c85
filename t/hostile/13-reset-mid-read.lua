-- needs: lem.streams
-- 13. Reset mid-read: the peer sends half a line, then RST.
-- read('*l') returns nil,'closed'; no CLOSE_WAIT remains; the half line
-- is not lost (read() hands it out).
local h = require 'h'
local streams = require 'lem.streams'

local srv = assert(streams.tcp_listen('127.0.0.1', h.port))
local p = h.peer('halfline-rst', h.port)
local c = assert(srv:accept())
local a, b = c:read('*l')
h.same({ a, b }, { nil, 'closed' }, "read('*l') after RST: nil, 'closed'")
h.is(c:read(), 'half a li', 'the half line is still there for read()')
h.is(select(2, c:read()), 'closed', 'then closed')
h.is(p:read('*a'), 'sent\n', 'the peer ran')
h.ok(c:closed(), 'the stream closed itself')
c:close()
srv:close()
h.done()
