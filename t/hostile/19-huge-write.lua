-- needs: lem.streams
-- 19. Huge write: write(("x"):rep(2^28)) while a second writer gets
-- 'busy'.  Every byte arrives (sha256 via the peer) and RSS stays under
-- twice the payload.
local h = require 'h'
local streams = require 'lem.streams'
local utils = require 'lem.utils'

local n = h.n(2 ^ 28)
local data = ('x'):rep(1024 * 1024):rep(math.max(1, math.floor(n / 2 ^ 20)))
n = #data
collectgarbage()
local rss0 = h.rss()
h.reset_hwm()
local srv = assert(streams.tcp_listen('127.0.0.1', h.port))
local p = assert(streams.popen('exec ' .. (os.getenv('PYTHON') or 'python3') .. ' -c ' .. [["
import socket, hashlib
s = socket.create_connection(('127.0.0.1', ]] .. h.port .. [[))
h, n = hashlib.sha256(), 0
while True:
    d = s.recv(1 << 20)
    if not d: break
    h.update(d); n += len(d)
print(n, h.hexdigest())
"]]))
local c = assert(srv:accept())
local second
utils.spawn(function() second = { c:write('second') } end)
local ok, err = c:write(data)
h.is(ok, true, 'the huge write completes', err)
h.same(second, { nil, 'busy' }, "the second writer got 'busy'")
c:close()
local out = p:read('*a')
local want = n .. ' ' .. (h.run("head -c " .. n .. " /dev/zero | tr '\\0' x | sha256sum"):match('^(%x+)'))
h.is(out, want .. '\n', 'every byte arrived: count and sha256 match')
h.figure('huge write (case 19)', n .. ' bytes, peer: ' .. out:gsub('\n', '') ..
	string.format(', peak RSS growth %d kB', h.hwm() - rss0))
h.ok((h.hwm() - rss0) * 1024 < 2 * n + 32 * 2 ^ 20, 'RSS stays under twice the payload')
srv:close()
h.done()
