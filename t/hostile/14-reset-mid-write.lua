-- needs: lem.streams
-- 14. Reset mid-write: lem writes 50 MB; the peer reads nothing and
-- resets after 0.3 s.  write returns nil,'closed' within 1 s and lem is
-- not killed by SIGPIPE.
local h = require 'h'
local streams = require 'lem.streams'

local data = ('x'):rep(1024 * 1024):rep(50)
local srv = assert(streams.tcp_listen('127.0.0.1', h.port))
local p = h.peer('sink-rst', h.port, 0.3)
local c = assert(srv:accept())
local t0 = h.clock()
local ok, err = c:write(data)
local dt = h.clock() - t0
h.same({ ok, err }, { nil, 'closed' }, "write: nil, 'closed'")
h.ok(dt < 1.5, 'within about 1 s of the reset', string.format('%.2f s', dt))
h.is(p:read('*a'), 'reset\n', 'the peer ran')
h.is(select(2, c:write('more')), 'closed', 'a later write: closed')
c:close()
srv:close()
h.done()
