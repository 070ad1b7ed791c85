-- needs: lem.streams
-- 35. sendfile of a file truncated mid-transfer: 100 MB to a slow
-- reader, then `truncate -s 1M`: sendfile returns promptly, no spin.
-- Also: file:close() twice; use after close: 'file closed'; on a popen
-- stream: nil,msg or done; peer reset: 'closed'; offsets -1, 2^63, past
-- the end.
local h = require 'h'
local streams = require 'lem.streams'
local utils = require 'lem.utils'

local size = h.n(100) * 1024 * 1024
local file = h.tmpname('.big')
os.execute('truncate -s ' .. size .. ' ' .. file)
local srv = assert(streams.tcp_listen('127.0.0.1', h.port))
local p = h.peer('slowsink', h.port)
local c = assert(srv:accept())
local f = assert(streams.sendfile(file))
h.is(f:size(), size, 'size()')
local res
local function cpu()
	local st = h.readfile('/proc/self/stat')
	local ut, stt = st:match('^%d+ %b() %S+' .. (' %S+'):rep(10) .. ' (%d+) (%d+)')
	return (ut + stt) / 100
end
local c0, t0 = cpu(), h.clock()
utils.spawn(function() res = { c:sendfile(f) } end)
utils.sleeper():sleep(0.5)
os.execute('truncate -s 1M ' .. file)
h.ok(h.waitfor(function() return res end, 20), 'sendfile returns after the truncation')
local used, took = cpu() - c0, h.clock() - t0
h.figure('sendfile truncated mid-transfer', string.format('returned after %.2f s, CPU %.2f s, result %s %s',
	took, used, tostring(res and res[1]), tostring(res and res[2])))
h.ok(used < took * 0.5 + 0.2, 'no spin (CPU well below wall time)', used)
h.is(select(2, f:close()), nil, 'file:close()')
h.is(select(2, f:close()), 'file closed', "close twice: 'file closed'")
h.is(select(2, f:size()), 'file closed', "size after close: 'file closed'")
h.is(select(2, c:sendfile(f)), 'file closed', "sendfile of a closed file: 'file closed'")
c:close()
h.like(p:read('*a'), '^received %d+', 'the slow reader got the rest and the end')

-- offsets
f = assert(streams.sendfile(file))
local pp = assert(streams.popen('cat > /dev/null', 'w'))
for _, off in ipairs({ -1, 2 ^ 63, 1e300, 0 / 0, 2 ^ 20 + 5 }) do
	local ok, a, b = pcall(pp.sendfile, pp, f, off)
	h.ok((not ok) or a == true or a == nil, 'sendfile offset ' .. off .. ': error, done or nil,msg',
		tostring(a) .. ' ' .. tostring(b))
end
local ok, a = pcall(pp.sendfile, pp, f, 0)
h.ok(ok and a == true, 'sendfile to a popen stream works', tostring(a))
pp:close()
f:close()
os.remove(file)
srv:close()
h.done()
