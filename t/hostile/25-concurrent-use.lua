-- needs: lem.streams
-- 25. Concurrent use: two readers, a reader plus a writer, two accept()
-- calls on one server: the second call gets 'busy', the first is
-- unaffected.
local h = require 'h'
local streams = require 'lem.streams'
local utils = require 'lem.utils'

local srv = assert(streams.tcp_listen('127.0.0.1', h.port))
local acc
utils.spawn(function() acc = { srv:accept() } end)
utils.yield()
local a, b = srv:accept()
h.same({ a, b }, { nil, 'busy' }, "a second accept(): 'busy'")
local file = h.tmpname('.in')
local f = io.open(file, 'wb') f:write('hello') f:close()
local p = h.peer('trickle', h.port, file, 0.1)
h.ok(h.waitfor(function() return acc end, 5) and acc[1], 'the first accept() got the connection')
local c = acc[1]
local r1
utils.spawn(function() r1 = { c:read(5) } end)
utils.yield()
a, b = c:read()
h.same({ a, b }, { nil, 'busy' }, "a second reader: 'busy'")
a, b = c:write('x')
h.same({ a, b }, { nil, 'busy' }, "a writer while a reader waits: 'busy'")
h.ok(h.waitfor(function() return r1 end, 5) and r1[1] == 'hello', 'the first reader got its data')
c:close()
p:read('*a')
os.remove(file)
srv:close()
h.done()
