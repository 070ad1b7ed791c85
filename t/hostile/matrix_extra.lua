-- t/hostile/matrix_extra.lua - the lem.streams part of the type matrix
-- (case 1), of the wrong-self case (2) and of the C-boundary and
-- coroutine.wrap cases (5, 6); empty while lem.streams is not built.
local M = { values = {}, targets = {}, wrongself = {}, across = {}, wrap = {},
	release = function() end }
local ok, streams = pcall(require, 'lem.streams')
if not ok then return M end
local utils = require 'lem.utils'

local file = os.tmpname()
do
	local f = assert(io.open(file, 'wb'))
	f:write(('x'):rep(1000))
	f:close()
end
local made = {}
local function keep(o)
	if o then made[#made + 1] = o end
	return o
end
local function stream() return keep(assert(streams.open('/dev/null', 'r+'))) end
local function server() return keep(assert(streams.tcp_listen('127.0.0.1', 0))) end
local function sfile() return keep(assert(streams.sendfile(file))) end
local function dgram() return keep(assert(streams.udp_bind('127.0.0.1', 0))) end
-- a Unix server for unix_connect to reach, and a fresh path for each
-- unix_listen (its files are unlinked when the servers go)
local upath = os.tmpname()
os.remove(upath)
local userver = keep(assert(streams.unix_listen(upath)))
local function freshpath()
	local p = os.tmpname()
	os.remove(p)
	return p
end

M.values = {
	{ 'stream', stream() }, { 'server', server() }, { 'sendfile', sfile() },
	{ 'datagram', dgram() }, { 'unix server', userver },
}
local function t(name, f, valid) M.targets[#M.targets + 1] = { name, f, valid } end
t('streams.open', streams.open, function() return '/dev/null', 'r' end)
t('streams.popen', streams.popen, function() return 'true', 'r' end)
t('streams.tcp_connect', streams.tcp_connect, function() return '127.0.0.1', 1 end)
t('streams.tcp_listen', streams.tcp_listen, function() return '127.0.0.1', 0 end)
t('streams.sendfile', streams.sendfile, function() return file end)
t('streams.unix_connect', streams.unix_connect, function() return upath end)
t('streams.unix_listen', streams.unix_listen, function() return freshpath(), '0600', { backlog = 4 } end)
t('streams.udp_bind', streams.udp_bind, function() return '127.0.0.1', 0 end)
t('streams.udp_connect', streams.udp_connect, function() return '127.0.0.1', 9 end)
for _, m in ipairs({ 'closed', 'busy', 'close', 'interrupt', 'read', 'write',
		'sendfile', 'cork', 'uncork', 'address', 'peer', 'credentials',
		'__gc', '__tostring' }) do
	t('Stream.' .. m, streams.Stream[m], function() return stream(), 'x', 0 end)
end
for _, m in ipairs({ 'closed', 'busy', 'close', 'interrupt', 'accept',
		'autospawn', 'address', '__gc', '__tostring' }) do
	if streams.Server[m] then
		t('Server.' .. m, streams.Server[m], function() return server(), print end)
	end
end
for _, m in ipairs({ 'close', 'size', '__gc', '__tostring' }) do
	t('SendFile.' .. m, streams.SendFile[m], function() return sfile() end)
end
for _, m in ipairs({ 'send', 'receive', 'address', 'closed', 'busy',
		'interrupt', 'close', '__gc', '__tostring' }) do
	t('Datagram.' .. m, streams.Datagram[m], function() return dgram(), 'x', '127.0.0.1' end)
end

-- objects made by the calls themselves (popen, tcp_listen, open ...)
-- are closed by __gc; the waiting ones (accept, autospawn) by release
function M.release()
	for _, o in ipairs(made) do pcall(o.close, o) end
	made = {}
	collectgarbage()
	collectgarbage()
	os.remove(file)
	os.remove(upath)
end

local s, srv, f, d = M.values[1][2], M.values[2][2], M.values[3][2], M.values[4][2]
M.wrongself = {
	{ 'Datagram.receive(stream)', streams.Datagram.receive, s },
	{ 'Datagram.send(server)', streams.Datagram.send, srv, 'x', '127.0.0.1', 9 },
	{ 'Stream.read(datagram)', streams.Stream.read, d },
	{ 'Stream.credentials(datagram)', streams.Stream.credentials, d },
	{ 'Server.accept(datagram)', streams.Server.accept, d },
	{ 'Datagram.__gc(stream)', streams.Datagram.__gc, s },
	{ 'd.receive()', d.receive },
	{ 'Stream.read(server)', streams.Stream.read, srv },
	{ 'Server.accept(stream)', streams.Server.accept, s },
	{ 'SendFile.size(sleeper)', streams.SendFile.size, utils.sleeper() },
	{ 's.read()', s.read },
	{ 'Stream.write(sendfile)', streams.Stream.write, f },
	{ 'Stream.__gc(io.stdout)', streams.Stream.__gc, io.stdout },
	{ 'Server.__gc(nil)', streams.Server.__gc, nil },
	{ 'SendFile.__gc(stream)', streams.SendFile.__gc, s },
	{ 'Server.autospawn(stream)', streams.Server.autospawn, s },
}

-- case 5 with a stream: read inside a sort comparator, a gsub callback
-- and __gc raises; afterwards the stream is idle and a read works.
-- pcall(s.read, s) works: lem's pcall is yield-safe (README, "Coroutines,
-- pcall and coroutine.yield").
M.across[1] = function(h, across)
	local p = assert(streams.popen('sleep 0.3; echo late'))
	local ok, err = pcall(table.sort, { 3, 2, 1 }, function(a, b) p:read() return a < b end)
	h.ok(not ok and across(err), 'stream read in a sort comparator', err)
	ok, err = pcall(string.gsub, 'ab', '.', function() return p:read() end)
	h.ok(not ok and across(err), 'stream read in a gsub callback', err)
	h.ok(not p:busy(), '... the stream is not busy afterwards')
	h.is(select(2, p:interrupt()), 'not busy', '... nothing is armed')
	local a, b = pcall(p.read, p)
	h.same({ a, b }, { true, 'late\n' }, 'pcall(s.read, s) waits and returns the data')
	p:close()
end

-- case 6 with a stream: read inside coroutine.wrap
M.wrap[1] = function(h, notours)
	local p = assert(streams.popen('sleep 0.2; echo later'))
	local co = coroutine.wrap(function() return p:read() end)
	local ok, err = pcall(co)
	h.ok(not ok and notours(err), 'stream read in coroutine.wrap: clean error', err)
	h.ok(not p:busy(), '... the stream is not busy')
	h.is(p:read(), 'later\n', '... and a later read works')
	p:close()
end
return M
