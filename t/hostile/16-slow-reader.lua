-- needs: lem.streams
-- 16. Slow reader: 12 MB through a lem echo server to a peer with
-- SO_RCVBUF 4096 reading slowly.  sha256 matches; RSS stays at most
-- the payload plus slack.
local h = require 'h'

local size = h.n(12 * 1024 * 1024)
local srv = h.echo_server()
collectgarbage()
local rss0 = h.rss()
local p = h.peer('slowpeer', h.port, size)
local out = p:read('*a')
h.like(out, '^sent ' .. size .. ' got ' .. size .. ' sha256 match', 'every byte came back, in order')
h.figure('slow reader (case 16)', (out:gsub('\n', '')) .. string.format(
	', RSS %d -> %d kB (peak %d)', rss0, h.rss(), h.hwm()))
h.ok(h.hwm() - rss0 < size / 1024 + 16 * 1024, 'RSS stays under payload + 16 MB')
srv:close()
collectgarbage()
h.done()
