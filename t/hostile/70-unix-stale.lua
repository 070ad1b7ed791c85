-- needs: lem.streams
-- 70. The stale-file rule of unix_listen under attack: whatever sits at
-- the path (a symbolic link to a live socket or to a file, a FIFO, a
-- directory, a file an attacker swaps in) is never removed; a stale
-- socket is replaced; servers racing for one stale path in several
-- processes end with one of them serving it; close() never unlinks a
-- file it did not make; odd path names work.
local h = require 'h'
local utils = require 'lem.utils'
local streams = require 'lem.streams'

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local function issock(p) return os.execute('test -S ' .. quote(p)) == 0 end
local function islink(p) return os.execute('test -L ' .. quote(p)) == 0 end

-- a symbolic link to a live socket: neither goes, the server lives on
local live = h.tmpname('.sock')
local srv = assert(streams.unix_listen(live))
local link = h.tmpname('.lnk')
os.execute('ln -s ' .. quote(live) .. ' ' .. quote(link))
h.same({ streams.unix_listen(link) }, { nil, 'Address already in use' },
	'a link to a live socket: Address already in use')
h.ok(islink(link) and issock(live), '... the link and the socket stay')
-- (a link is no socket: it is not even tried, so the server saw nothing)
local c = assert(streams.unix_connect(link))
local s = assert(srv:accept())
h.ok(c:write('x') and s:read(1) == 'x', '... the server still serves, also through the link')
c:close() s:close()

-- a link to a regular file, and to a stale socket elsewhere
local file = h.tmpname('.txt')
local f = assert(io.open(file, 'w')) f:write('keep me') f:close()
local flink = h.tmpname('.lnk')
os.execute('ln -s ' .. quote(file) .. ' ' .. quote(flink))
h.same({ streams.unix_listen(flink) }, { nil, 'Address already in use' }, 'a link to a file: Address already in use')
h.is(h.readfile(file), 'keep me', '... the file is untouched')
h.ok(islink(flink), '... and so is the link')

-- a link to a socket that refuses: the link is no socket, so it stays
local dead = h.tmpname('.sock')
local function make_stale(path)
	local child = assert(streams.popen('P=' .. quote(path) .. '; export P; exec ' ..
		quote(h.lem) .. ' -e ' ..
		quote("local s = require('lem.streams').unix_listen(os.getenv('P')) " ..
		"print(s and io.open('/proc/self/stat'):read('*n') or 0) io.stdout:flush() " ..
		"require('lem.utils').sleep(60)")))
	local pid = tonumber(child:read('*l'))
	if pid and pid > 0 then os.execute('kill -9 ' .. pid) end
	child:read('*a')
	child:close()
end
-- (the child reads its path from the environment: -e runs before arg)
make_stale(dead)
h.ok(issock(dead), 'a server killed with SIGKILL leaves its socket')
local dlink = h.tmpname('.lnk')
os.execute('ln -s ' .. quote(dead) .. ' ' .. quote(dlink))
h.same({ streams.unix_listen(dlink) }, { nil, 'Address already in use' },
	'a link to a stale socket is not a stale socket: Address already in use')
h.ok(islink(dlink) and issock(dead), '... the link and its target stay')
local again = streams.unix_listen(dead)
h.ok(again ~= nil, 'the stale socket itself is replaced')
if again then again:close() end
h.ok(not issock(dead), '... and its replacement unlinked on close()')

-- a file swapped in while a server runs is not the server's to unlink
local swap = h.tmpname('.sock')
srv:close()
srv = assert(streams.unix_listen(swap))
os.remove(swap)
f = assert(io.open(swap, 'w')) f:write('not yours') f:close()
srv:close()
h.is(h.readfile(swap), 'not yours', 'close() leaves a file put where its socket was')
os.remove(swap)

-- racing servers: several processes start on one stale path at once
local race = h.tmpname('.sock')
make_stale(race)
h.ok(issock(race), 'a stale socket to race for')
local racer = h.tmpname('.lua')
f = assert(io.open(racer, 'w'))
f:write([[
	local utils = require 'lem.utils'
	local streams = require 'lem.streams'
	local srv, err = streams.unix_listen(arg[1])
	if not srv then print('lost ' .. err) io.stdout:flush() return end
	print('won') io.stdout:flush()
	-- serve one client (the check below), or give up after 5 s
	local s = utils.timeout(5, srv.accept, srv)
	while s do
		local line = s:read('*l')
		if line then s:write('served\n') s:close() break end
		s:close()
		s = utils.timeout(5, srv.accept, srv)
	end
]])
f:close()
local K = 6
local outs = {}
for i = 1, K do
	outs[i] = assert(streams.popen('exec ' .. quote(h.lem) .. ' ' .. racer .. ' ' .. quote(race)))
end
local won, lost, other = 0, 0, {}
local lines = {}
for i = 1, K do
	lines[i] = outs[i]:read('*l')
	if lines[i] == 'won\n' then won = won + 1
	elseif lines[i] == 'lost Address already in use\n' then lost = lost + 1
	else other[#other + 1] = tostring(lines[i]) end
end
h.ok(won >= 1 and #other == 0, K .. ' racing servers: ' .. won .. ' won, ' .. lost ..
	' lost with Address already in use', table.concat(other, ' '))
local cl = utils.timeout(5, streams.unix_connect, race)
h.ok(cl and cl:write('hello\n') and cl:read('*l') == 'served\n', '... and the path is served by one of them')
if cl then cl:close() end
for i = 1, K do outs[i]:read('*a') outs[i]:close() end
h.figure('racing for a stale path', won .. ' of ' .. K .. ' servers won')
os.remove(race)

-- odd names
for _, name in ipairs({ 'with space', 'new\nline', 'ünï', "quote'", '-dash', '@at' }) do
	local p = h.tmpname('') .. name
	local o = streams.unix_listen(p)
	local oc = o and streams.unix_connect(p)
	local os_ = oc and o:accept()
	h.ok(o and oc and os_ and o:address() == p and oc:peer() == p,
		'a path with "' .. (name:gsub('\n', '\\n')) .. '" works (a file, not the abstract namespace)')
	if oc then oc:close() end
	if os_ then os_:close() end
	if o then o:close() end
	h.ok(os.execute('test -e ' .. quote(p)) ~= 0, '... and is unlinked')
end
-- an abstract name with any bytes but zero
local aname = '@lem-\1\2\255-' .. h.pid()
local a = streams.unix_listen(aname)
local ac = a and streams.unix_connect(aname)
local as = ac and a:accept()
h.ok(a and ac and as and a:address() == aname and ac:peer() == aname,
	'an abstract name with binary bytes round-trips')
if ac then ac:close() end
if as then as:close() end
if a then a:close() end

-- a path in a directory that is not there, or not writable
h.same({ streams.unix_listen(h.tmpname('.nodir') .. '/x.sock') }, { nil, 'No such file or directory' },
	'a directory that is not there: nil, message')
local ro = h.tmpname('.ro')
os.execute('mkdir ' .. quote(ro) .. ' && chmod 500 ' .. quote(ro))
local rs, re = streams.unix_listen(ro .. '/x.sock')
if os.execute('test -w ' .. quote(ro)) == 0 then
	h.ok(true, '(running as root: a read-only directory is writable)')
	if rs then rs:close() end
else
	h.same({ rs, re }, { nil, 'Permission denied' }, 'a directory without write permission: Permission denied')
end
os.execute('chmod 700 ' .. quote(ro))

collectgarbage() collectgarbage()
h.done()
