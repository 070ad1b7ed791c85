-- needs: lem.streams
-- 34. open edge cases: a FIFO opened for writing with no reader gives
-- nil,msg (ENXIO) without blocking; a FIFO whose writer leaves gives
-- 'closed'; a directory; a missing path; /dev/zero read(1e6).
local h = require 'h'
local streams = require 'lem.streams'

local fifo = h.tmpname('.fifo')
os.execute('mkfifo ' .. fifo)
local t0 = h.clock()
local a, b = streams.open(fifo, 'w')
h.same({ a, b }, { nil, 'No such device or address' }, "FIFO for writing, no reader: nil, ENXIO")
h.ok(h.clock() - t0 < 0.5, '... without blocking')
local r = assert(streams.open(fifo, 'r'))
local w = assert(streams.open(fifo, 'w'))
assert(w:write('through the fifo'))
w:close()
h.is(r:read('*a'), 'through the fifo', 'data through a FIFO')
h.is(select(2, r:read()), 'closed', "the writer left: 'closed'")
os.remove(fifo)

a, b = streams.open('/')
h.ok(a ~= nil or type(b) == 'string', 'a directory: a stream or nil, msg', tostring(b))
if a then
	local x, y = a:read()
	h.ok(x == nil and type(y) == 'string', "reading a directory: nil, msg", tostring(y))
	a:close()
end
a, b = streams.open('/no/such/path')
h.same({ a, b }, { nil, 'No such file or directory' }, 'a missing path: nil, ENOENT')
local z = assert(streams.open('/dev/zero'))
local d = z:read(1e6)
h.ok(d == ('\0'):rep(1e6), '/dev/zero read(1e6): a million zero bytes')
z:close()
local ok, err = pcall(streams.open, '/dev/null', 'rw+x')
h.ok(not ok and err:find('invalid mode', 1, true), "open mode 'rw+x' raises", err)
ok, err = pcall(streams.open, '/dev/null', '')
h.ok(not ok, "open mode '' raises", err)
h.done()
