-- needs: lem.streams
-- 76. Bad input to the socket functions: paths at and past what a
-- socket address holds, zero bytes in paths, hosts, ports and option
-- names, modes, ports at and past the edges, options of every wrong
-- type, datagrams at and past the biggest, unreachable and unsendable
-- addresses.  Each call raises an argument error or returns nil and a
-- message, as the docs say; nothing else; nothing leaks.
local h = require 'h'
local utils = require 'lem.utils'
local streams = require 'lem.streams'

local function raises(pattern, desc, f, ...)
	local ok, err = pcall(f, ...)
	h.ok(not ok and tostring(err):find('bad argument', 1, true) and
		tostring(err):find(pattern) ~= nil, desc .. ' raises', tostring(err))
end
local function fails(word, desc, f, ...)
	local r = { pcall(f, ...) }
	h.ok(r[1] and r[2] == nil and (word == nil and type(r[3]) == 'string' or r[3] == word),
		desc .. ': nil, ' .. tostring(word or 'a message'), h.values(unpack(r, 2, 3)))
end

-- paths
local dir = h.tmpname('')
local room = 107 - #dir
h.ok(room > 0, 'the temporary directory leaves room for names')
local fits = dir .. ('p'):rep(room)
local srv = streams.unix_listen(fits)
h.ok(srv ~= nil, 'a path of exactly 107 bytes listens')
local c = srv and streams.unix_connect(fits)
h.ok(c ~= nil, '... and takes connections')
if c then c:close() end
if srv then srv:close() end
for _, n in ipairs({ 108, 200, 4096, 100000 }) do
	local long = dir .. ('p'):rep(n - #dir)
	fails('File name too long', 'unix_listen of ' .. n .. ' bytes', streams.unix_listen, long)
	fails('File name too long', 'unix_connect of ' .. n .. ' bytes', streams.unix_connect, long)
	fails('File name too long', 'streams.open of a socket path of ' .. n .. ' bytes', function()
		return streams.unix_connect(long)
	end)
end
local abs = '@' .. ('a'):rep(107)
srv = streams.unix_listen(abs)
h.ok(srv ~= nil, 'an abstract name of 107 bytes after the @ listens')
if srv then srv:close() end
fails('File name too long', 'an abstract name of 108 bytes', streams.unix_listen, '@' .. ('a'):rep(108))
fails('No such file or directory', "unix_connect('')", streams.unix_connect, '')
fails(nil, "unix_listen('')", streams.unix_listen, '')
for _, f in ipairs({ { 'unix_connect', streams.unix_connect }, { 'unix_listen', streams.unix_listen } }) do
	raises('zero byte', f[1] .. ' with a zero byte in the path', f[2], dir .. 'a\0b')
	raises('zero byte', f[1] .. " with '@\\0'", f[2], '@\0abstract')
	raises('string expected', f[1] .. ' with a table', f[2], {})
	raises('string expected', f[1] .. ' with nothing', f[2])
end

-- modes
for _, m in ipairs({ '8', '0o660', '-1', ' 660', '660 ', '0x1ff', '100000', '1e3' }) do
	raises('invalid mode', 'mode ' .. string.format('%q', m), streams.unix_listen, dir .. 'mode.sock', m)
end
raises('invalid mode', 'mode true', streams.unix_listen, dir .. 'mode.sock', true)
raises('invalid mode', 'mode 432 (a number)', streams.unix_listen, dir .. 'mode.sock', 432)
raises('no mode', 'a mode for an abstract name', streams.unix_listen, '@x', '0600')
srv = streams.unix_listen(dir .. 'mode.sock', '7777')
h.ok(srv ~= nil, "mode '7777' (every bit a socket may have)")
if srv then srv:close() end

-- ports and hosts
local ports = { 65536, -1, 1.5, 1e308, -0.5, 0 / 0, math.huge, '65536', '-1', '1.5', '0x10000' }
for _, f in ipairs({
	{ 'tcp_listen', streams.tcp_listen, '127.0.0.1' },
	{ 'tcp_connect', streams.tcp_connect, '127.0.0.1' },
	{ 'udp_bind', streams.udp_bind, '127.0.0.1' },
	{ 'udp_connect', streams.udp_connect, '127.0.0.1' },
}) do
	for _, p in ipairs(ports) do
		raises('port out of range', f[1] .. ' port ' .. tostring(p), f[2], f[3], p)
	end
	raises('zero byte', f[1] .. ' with a zero byte in the host', f[2], '127.0.0.1\0', 1)
	raises('zero byte', f[1] .. ' with a zero byte in a service name', f[2], '127.0.0.1', 'http\0')
	fails(nil, f[1] .. ' to a bogus service name', f[2], '127.0.0.1', 'no-such-service-lem')
end
local d = assert(streams.udp_bind('127.0.0.1', 0))
for _, p in ipairs(ports) do
	raises('port out of range', 'send to port ' .. tostring(p), d.send, d, 'x', '127.0.0.1', p)
end
raises('zero byte', 'send to a host with a zero byte', d.send, d, 'x', '127.0.0.1\0', 9)
fails('Invalid argument', 'send to port 0', d.send, d, 'x', '127.0.0.1', 0)
fails(nil, 'send to a host that is no address and no name', d.send, d, 'x', '1.2.3.4.5', 9)
fails(nil, 'send to the broadcast address (no SO_BROADCAST)', d.send, d, 'x', '255.255.255.255', 9)
fails('Address family not supported by protocol', 'an IPv4 socket sending to IPv6', d.send, d, 'x', '::1', 9)

-- options
for _, f in ipairs({ { 'tcp_listen', streams.tcp_listen }, { 'tcp_connect', streams.tcp_connect } }) do
	raises('unknown option', f[1] .. ' with an unknown option', f[2], '127.0.0.1', 9, { nope = true })
	raises('unknown option', f[1] .. " with a key 'nodelay\\0'", f[2], '127.0.0.1', 9, { ['nodelay\0'] = true })
	raises('unknown option', f[1] .. ' with a list', f[2], '127.0.0.1', 9, { true })
	raises('table expected', f[1] .. ' with options true', f[2], '127.0.0.1', 9, true)
	raises('table expected', f[1] .. " with options 'nodelay'", f[2], '127.0.0.1', 9, 'nodelay')
	raises('boolean expected', f[1] .. ' with nodelay = 0', f[2], '127.0.0.1', 9, { nodelay = 0 })
end
for _, b in ipairs({ -1, 1.5, 2 ^ 31, 0 / 0, math.huge }) do
	raises("option 'backlog' out of range", 'backlog ' .. tostring(b), streams.tcp_listen, '127.0.0.1', 0, { backlog = b })
end
raises('number expected', "backlog '10'", streams.tcp_listen, '127.0.0.1', 0, { backlog = '10' })
raises('boolean expected', 'reuseport = 1', streams.tcp_listen, '127.0.0.1', 0, { reuseport = 1 })
raises('unknown option', "unix_listen option 'mode'", streams.unix_listen, dir .. 'o.sock', nil, { mode = '0600' })
srv = streams.tcp_listen('127.0.0.1', 0, { backlog = 0 })
h.ok(srv ~= nil, 'backlog 0 is allowed')
if srv then srv:close() end

-- datagram sizes
local rx = assert(streams.udp_bind('127.0.0.1', 0))
local _, rport = rx:address()
for _, n in ipairs({ 0, 1, 65507 }) do
	h.ok(d:send(('q'):rep(n), '127.0.0.1', rport) and #utils.timeout(5, rx.receive, rx) == n,
		'a datagram of ' .. n .. ' bytes, whole')
end
for _, n in ipairs({ 65508, 65536, 1000000 }) do
	fails('too large', 'a datagram of ' .. n .. ' bytes', d.send, d, ('q'):rep(n), '127.0.0.1', rport)
end
raises('string expected', 'send(nil)', d.send, d, nil, '127.0.0.1', rport)
h.ok(d:send(12345, '127.0.0.1', rport) and utils.timeout(5, rx.receive, rx) == '12345',
	'send(a number) sends its text, as write() does')
d:close() rx:close()

collectgarbage() collectgarbage()
h.done()
