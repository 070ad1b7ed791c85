-- needs: lem.streams
-- 17. Half-close: the client sends, then shutdown(SHUT_WR).
-- read('*a') returns the whole request and the reply still gets through.
local h = require 'h'
local streams = require 'lem.streams'

local srv = assert(streams.tcp_listen('127.0.0.1', h.port))
local p = h.peer('halfclose', h.port, 'request body\nline two')
local c = assert(srv:accept())
local req = c:read('*a')
h.is(req, 'request body\nline two', "read('*a') returns the whole request")
-- As README says (no half-close): '*a' and
-- every read that meets the end of the stream close the stream, so the
-- reply cannot go out on a half-closed connection: write gives 'closed'
-- and the client sees the end of the stream, nothing lost silently.
local ok, err = c:write('reply')
h.same({ ok, err }, { nil, 'closed' }, "documented: write after '*a' gives nil, 'closed'")
h.is(p:read('*a'), '\n', 'the client sees the end of the stream')
c:close()
srv:close()
h.done()
