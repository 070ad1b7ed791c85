-- t/13-streams-sendfile.t - streams.sendfile objects and stream:sendfile
-- (README "The stream library")
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'

tap.plan(36, 60)

local nfds = tap.nfds
streams.popen('true'):close()
local fds0 = nfds()

local pair = tap.tcp_pair

-- 3 MiB and a bit of varied bytes
local t = {}
for i = 0, 255 do t[#t + 1] = string.char(i) end
local data = string.rep(table.concat(t), 3 * 4096) .. 'tail'
local path = tap.writefile(tap.tmpname(), data)

local f = streams.sendfile(path)
tap.is(getmetatable(f), streams.SendFile, 'streams.sendfile returns a lem.SendFile')
tap.is(streams.SendFile.__index, streams.SendFile, '... whose __index is itself')
tap.is(f:size(), #data, 'size() is the file size')
tap.like(tostring(f), '^lem.SendFile %(open%)', '__tostring')
local r, e = streams.sendfile(path .. '.missing')
tap.ok(r == nil and type(e) == 'string' and e:find('No such file'), 'a missing file: nil, message', tap.values(r, e))
r, e = streams.sendfile('/')
tap.same({ r, e }, { nil, 'not a regular file' }, "a directory: nil, 'not a regular file'")
r, e = streams.sendfile('/dev/null')
tap.same({ r, e }, { nil, 'not a regular file' }, "a device: nil, 'not a regular file'")

-- over TCP
local a, b = pair()
local got
utils.spawn(function() got = b:read('*a') end)
tap.is(a:sendfile(f), true, 'sendfile over TCP returns true')
a:close()
while got == nil do utils.yield() end
tap.ok(got == data, '... the peer got the file byte for byte', #got)
a, b = pair()
got = nil
utils.spawn(function() got = b:read('*a') end)
tap.is(a:sendfile(f, 1000), true, 'sendfile with an offset')
a:close()
while got == nil do utils.yield() end
tap.ok(got == data:sub(1001), '... sends from the offset to the end', #got)
a, b = pair()
tap.is(a:sendfile(f, #data + 10), true, 'an offset past the end sends nothing')
a:close()
tap.is(b:read('*a'), '', '... nothing indeed')

-- busy file, file closed
a, b = pair()
local sres
local big = tap.tmpname()
os.execute('dd if=/dev/zero of=' .. big .. ' bs=1048576 count=32 2>/dev/null')
local bf = assert(streams.sendfile(big))
utils.spawn(function() sres = { a:sendfile(bf) } a:close() end)
utils.yield()
tap.is(a:busy(), true, 'a big sendfile waits for the peer')
r, e = bf:close()
tap.same({ r, e }, { nil, 'busy' }, "closing a file being sent: nil, 'busy'")
-- the file shrinks meanwhile: the transfer ends, no hang, no spin
os.execute('truncate -s 100000 ' .. big)
local n = #b:read('*a')
tap.ok(sres and sres[1] == true or (sres and sres[2] == 'closed'), 'a truncated file ends the transfer',
	sres and tap.values(unpack(sres)))
tap.ok(n < 32 * 1048576, '... short of the old size')
tap.is(bf:close(), true, 'file:close() returns true')
r, e = bf:close()
tap.same({ r, e }, { nil, 'file closed' }, "close() twice: nil, 'file closed'")
r, e = bf:size()
tap.same({ r, e }, { nil, 'file closed' }, "size() after close: nil, 'file closed'")
b:close()
a, b = pair()
r, e = a:sendfile(bf)
tap.same({ r, e }, { nil, 'file closed' }, "sendfile of a closed file: nil, 'file closed'")
a:close()
r, e = a:sendfile(f)
tap.same({ r, e }, { nil, 'closed' }, "sendfile on a closed stream: nil, 'closed'")
b:close()

-- to a pipe and to a regular file
local out = tap.tmpname()
local p = assert(streams.popen('cat > ' .. out, 'w'))
tap.is(p:sendfile(f), true, 'sendfile to a pipe')
p:close()
tap.waitfor(function() return #(tap.readfile(out) or '') == #data end)
tap.ok(tap.readfile(out) == data, '... arrives whole')
local out2 = tap.tmpname()
local w = assert(streams.open(out2, 'w'))
tap.is(w:sendfile(f, 4), true, 'sendfile to a regular file')
w:close()
tap.ok(tap.readfile(out2) == data:sub(5), '... arrives whole')

-- a sendfile that would wait where lem cannot suspend raises and leaves
-- neither the stream nor the file busy
a, b = pair()
local bf2 = assert(streams.sendfile(big))
os.execute('truncate -s 33554432 ' .. big)
tap.fails('suspend', 'sendfile inside coroutine.wrap raises',
	coroutine.wrap(function() return a:sendfile(bf2) end))
tap.is(a:busy(), false, '... the stream is not busy')
tap.is(bf2:close(), true, '... and the file can be closed')
a:close() b:close()

-- arguments
tap.fails('bad argument', 'a negative offset raises', a.sendfile, a, f, -1)
tap.fails('bad argument', 'a string offset raises', a.sendfile, a, f, 'x')
tap.fails('lem.SendFile', 'size() with a stream as self raises', f.size, a)
tap.fails('lem.SendFile', 'close() with a number as self raises', f.close, 1)
tap.fails('bad argument', 'streams.sendfile() without a path raises', streams.sendfile)

-- garbage collection
local fs = {}
for i = 1, 10 do fs[i] = assert(streams.sendfile(path)) end
tap.ok(nfds() >= fds0 + 10, '10 files open')
fs, f = nil, nil
collectgarbage() collectgarbage()
tap.is(nfds(), fds0, 'garbage collection closes sendfile objects; nothing leaked')
tap.cleanup()
tap.done()
