-- needs: lem.streams
-- 18. A 100 MB line with no newline to read('*l'); lines at the cap
-- +-1, '\r\n' endings and '\0' bytes.  The documented cap: 1 MiB
-- including the '\n', else nil,'line too long' with the bytes kept;
-- bytes after a newline stay buffered for the next read.
local h = require 'h'
local streams = require 'lem.streams'
local utils = require 'lem.utils'

local CAP = 1024 * 1024
local file = h.tmpname('.in')
local f = assert(io.open(file, 'wb'))
f:write(('a'):rep(CAP - 2), '\r\n')             -- exactly CAP with '\n'
f:write(('b'):rep(CAP), '\n')                    -- CAP + 1: too long
f:write('x\0y\r\n', 'z\n', 'tail')
f:close()
local p = h.peer('trickle', h.port, file, 0)
local srv = assert(streams.tcp_listen('127.0.0.1', h.port))
local c = assert(srv:accept())
local l = c:read('*l')
h.ok(l and #l == CAP and l:sub(-2) == '\r\n', 'a line of exactly 1 MiB with \\r\\n', l and #l)
local a, b = c:read('*l')
h.same({ a, b }, { nil, 'line too long' }, "1 MiB + 1: nil, 'line too long'")
local rest = c:read(CAP)
h.ok(rest == ('b'):rep(CAP), '... its bytes are kept for read(n)')
h.is(c:read('*l'), '\n', '... up to its newline')
h.is(c:read('*l'), 'x\0y\r\n', 'NUL bytes and \\r\\n inside a line')
h.is(c:read('*l'), 'z\n', 'the next line')
a, b = c:read('*l')
h.same({ a, b }, { nil, 'closed' }, "an unterminated tail at the end: nil, 'closed'")
h.is(c:read(), 'tail', '... and read() still returns it')
c:close()
p:read('*a')

-- 100 MB without a newline: 'line too long' once 1 MiB is buffered,
-- without buffering the rest
local n = h.n(100) * 1024 * 1024
local big = h.tmpname('.big')
f = assert(io.open(big, 'wb'))
local chunk = ('q'):rep(1024 * 1024)
for _ = 1, n / #chunk do f:write(chunk) end
f:close()
p = h.peer('trickle', h.port, big, 0)
c = assert(srv:accept())
collectgarbage()
local rss0 = h.rss()
a, b = c:read('*l')
h.same({ a, b }, { nil, 'line too long' }, "100 MB without newline: 'line too long'")
local total = 0
while true do
	local d = c:read()
	if not d then break end
	total = total + #d
end
h.is(total, n, 'every byte is still delivered by read()')
h.figure('100 MB line: RSS growth kB', h.hwm() - rss0)
c:close()
p:read('*a')
srv:close()
os.remove(file)
os.remove(big)
h.done()
