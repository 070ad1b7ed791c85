-- needs: lem.streams
-- 27. Connect failures: a closed port gives 'Connection refused' from
-- tcp_connect itself; 1000 parallel connects all complete.  (The
-- 'Network is unreachable' case needs `unshare -n`; see 27-unreachable.sh.)
local h = require 'h'
local streams = require 'lem.streams'
local utils = require 'lem.utils'

local a, b = streams.tcp_connect('127.0.0.1', h.port + 9)
h.same({ a, b }, { nil, 'Connection refused' }, "a closed port: nil, 'Connection refused'")
a, b = streams.tcp_connect('no-such-host.invalid', 80)
h.ok(a == nil and type(b) == 'string', 'an unknown name: nil, message', tostring(b))

local srv = assert(streams.tcp_listen('127.0.0.1', h.port))
local N = h.n(1000)
local accepted = 0
utils.spawn(function()
	srv:autospawn(function(c)
		accepted = accepted + 1
		c:read()
		c:close()
	end)
end)
local done, failed, streams_ = 0, 0, {}
for i = 1, N do
	utils.spawn(function()
		local c, err = streams.tcp_connect('127.0.0.1', h.port)
		if c then streams_[#streams_ + 1] = c else failed = failed + 1 end
		done = done + 1
	end)
end
h.ok(h.waitfor(function() return done == N end, 30), N .. ' parallel connects complete', done)
h.is(failed, 0, 'none failed')
h.ok(h.waitfor(function() return accepted == N end, 10), 'the server accepted them all', accepted)
for _, c in ipairs(streams_) do c:close() end
streams_ = nil
srv:close()
for _ = 1, 5 do utils.yield() end
collectgarbage()
h.done()
