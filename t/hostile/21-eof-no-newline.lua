-- needs: lem.streams
-- 21. EOF without newline: the peer sends "abc" and closes.  '*l' gives
-- nil,'closed' and read() then returns "abc"; the next read 'closed'.
local h = require 'h'
local streams = require 'lem.streams'

local srv = assert(streams.tcp_listen('127.0.0.1', h.port))
local p = h.peer('send-close', h.port, 'abc')
local c = assert(srv:accept())
local a, b = c:read('*l')
h.same({ a, b }, { nil, 'closed' }, "read('*l'): nil, 'closed'")
h.is(c:read(), 'abc', 'read() returns "abc"')
h.is(select(2, c:read()), 'closed', 'the next read: closed')
p:read('*a')
p = h.peer('send-close', h.port, 'abc')
c = assert(srv:accept())
a, b = c:read(10)
h.same({ a, b }, { nil, 'closed' }, "read(10) of 3 bytes: nil, 'closed'")
h.is(c:read('*a'), 'abc', "read('*a') returns them")
p:read('*a')
p = h.peer('send-close', h.port, 'abc')
c = assert(srv:accept())
h.is(c:read('*a'), 'abc', "read('*a') at once")
p:read('*a')
srv:close()
h.done()
