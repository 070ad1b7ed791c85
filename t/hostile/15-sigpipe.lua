-- needs: lem.streams
-- 15. SIGPIPE: writing to popen("true", "w") and to a socket whose peer
-- closed gives 'closed', never death by signal 13.
local h = require 'h'
local streams = require 'lem.streams'
local utils = require 'lem.utils'

local p = assert(streams.popen('true', 'w'))
utils.sleeper():sleep(0.2)
local ok, err
for _ = 1, 20 do
	ok, err = p:write(('y'):rep(100000))
	if not ok then break end
end
h.same({ ok, err }, { nil, 'closed' }, "write to popen('true', 'w'): closed")
p:close()

local srv = assert(streams.tcp_listen('127.0.0.1', h.port))
local peer = h.peer('send-close', h.port, 'bye')
local c = assert(srv:accept())
h.is(peer:read('*a'), 'sent\n', 'the peer sent and closed')
for _ = 1, 50 do
	ok, err = c:write(('z'):rep(65536))
	if not ok then break end
end
h.same({ ok, err }, { nil, 'closed' }, 'write to a socket closed by the peer: closed')
h.is(c:read(), 'bye', 'what the peer sent before closing is still readable')
c:close()
srv:close()
h.done()
