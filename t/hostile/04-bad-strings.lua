-- needs: lem.streams
-- 4. Bad strings: open modes "rw+x" and ""; read modes "*x", "l", "";
-- tcp_listen("999.1.1.1", 70000); port "http" and a bogus service.
local h = require 'h'
local streams = require 'lem.streams'

for _, m in ipairs({ 'rw+x', '', 'x', 'rr', 'r+b+' }) do
	local ok, err = pcall(streams.open, '/dev/null', m)
	h.ok(not ok and tostring(err):find('invalid mode', 1, true), "open mode '" .. m .. "' raises", err)
end
local s = assert(streams.open('/dev/null'))
for _, m in ipairs({ '*x', '', '*', '**l', 'L', '*all', 'n' }) do
	local ok, err = pcall(s.read, s, m)
	h.ok(not ok and tostring(err):find('invalid mode', 1, true), "read mode '" .. m .. "' raises", err)
end
local a, b = s:read('l')
h.same({ a, b }, { nil, 'closed' }, "read mode 'l' (without '*') is accepted")
s:close()
for _, m in ipairs({ 'x', 'rw', '' }) do
	local ok, err = pcall(streams.popen, 'true', m)
	h.ok(not ok and tostring(err):find('invalid mode', 1, true), "popen mode '" .. m .. "' raises", err)
end
local ok, err = pcall(streams.tcp_listen, '999.1.1.1', 70000)
h.ok(not ok and tostring(err):find('port out of range', 1, true),
	'tcp_listen("999.1.1.1", 70000): the port is an argument error', err)
a, b = streams.tcp_listen('999.1.1.1', h.port)
h.ok(a == nil and type(b) == 'string', 'tcp_listen("999.1.1.1"): nil, msg', tostring(b))
ok, a, b = pcall(streams.tcp_connect, '127.0.0.1', 'http')
h.ok(ok and (a ~= nil or type(b) == 'string'), 'tcp_connect port "http": a service name', tostring(b))
if a then a:close() end
ok, a, b = pcall(streams.tcp_connect, '127.0.0.1', 'no-such-service-lem')
h.ok((ok and a == nil and type(b) == 'string') or not ok, 'a bogus service: nil, msg or an error', tostring(b or a))
ok, err = pcall(streams.tcp_connect, '127.0.0.1', -1)
h.ok(not ok, 'port -1 raises', err)
ok, err = pcall(streams.tcp_connect, '127.0.0.1', 0 / 0)
h.ok(not ok, 'port NaN raises', err)
ok, err = pcall(streams.tcp_connect, '127.0.0.1', 80.5)
h.ok(not ok, 'port 80.5 raises', err)
h.done()
