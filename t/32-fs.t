-- t/32-fs.t - lem.fs: open and the File methods, the path functions,
-- atomic writefile, deadlines on queued and running jobs, the file pool
-- apart from the name lookups' (API.md section 3)
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local fs = require 'lem.fs'

tap.plan(128, 120)

local function pack(...) return tap.pack(...) end
local dir = tap.tmpname('.d')
os.execute('mkdir ' .. dir)
local function p(name) return dir .. '/' .. name end
fs.stat('/')             -- the pool's wakeup descriptor, made on first use
local n0 = tap.nfds()

-- ------------------------------------------------------------- misuse
tap.fails("bad argument #1 to '[^']+' %(string expected, got no value%)", 'open(nil) raises', fs.open)
tap.fails('string contains a zero byte', 'a zero byte in a path raises', fs.open, 'a\0b')
tap.fails('string contains a zero byte', '... also for stat', fs.stat, 'a\0b')
for _, m in ipairs({ 'rw', 'z', '', 'r+x', 'rb+', 'x++', 'r\0' }) do
	tap.fails("bad argument #2 to '[^']+' %(invalid mode%)", ('mode %q raises'):format(m), fs.open, p('m'), m)
end
tap.fails('invalid permissions', "perm '0999' raises", fs.open, p('m'), 'w', '0999')
tap.fails('invalid permissions', "perm 'rw' raises", fs.open, p('m'), 'w', 'rw')
tap.fails('invalid permissions', 'perm 8192 raises', fs.open, p('m'), 'w', 8192)
tap.fails('invalid permissions', 'perm -1 raises', fs.mkdir, p('m'), -1)
tap.fails("bad argument #2 to '[^']+' %(value expected%)", 'chmod without perm raises', fs.chmod, p('m'))
tap.fails("bad argument #2 to '[^']+' %(string expected, got no value%)", 'writefile without data raises', fs.writefile, p('m'))
tap.fails("bad argument #2 to '[^']+' %(string expected", 'rename without a new name raises', fs.rename, p('m'))
tap.fails('File expected', 'a File method on a sleeper raises', fs.File.read, utils.sleeper())
tap.same(pack(fs.stat(p('m'))), { nil, 'No such file or directory' }, 'no file was made by any of them')

-- ------------------------------------------------------- open, modes
tap.same(pack(fs.open(p('none'))), { nil, 'No such file or directory' }, "open a missing file: nil, message")
local f = assert(fs.open(p('a'), 'w'))
tap.is(getmetatable(f), fs.File, 'open returns a File (fs.File)')
tap.like(tostring(f), '^lem.File %(open%)', 'tostring')
tap.is(f:write('hello\n'), true, "write: true")
tap.is(f:write('world\nlast'), true, '... again')
tap.is(f:close(), true, 'close: true')
tap.is(f:closed(), true, 'closed() after close')
tap.same(pack(f:close()), { nil, 'already closed' }, "close again: nil, 'already closed'")
tap.same(pack(f:read()), { nil, 'closed' }, "read on a closed File: nil, 'closed'")
tap.same(pack(f:write('x')), { nil, 'closed' }, "write on a closed File: nil, 'closed'")
tap.is(tap.readfile(p('a')), 'hello\nworld\nlast', 'the bytes are in the file')

f = assert(fs.open(p('a')))
tap.is(f:read('*l'), 'hello\n', "read('*l'): the line with its newline")
tap.is(f:read(3), 'wor', 'read(n)')
tap.is(f:read('l'), 'ld\n', "read('l') too")
tap.is(f:read('*l'), 'last', 'the last line without a newline')
tap.same(pack(f:read('*l')), { nil, n = 1 }, "read('*l') at the end: nil")
tap.same(pack(f:read()), { nil, n = 1 }, 'read() at the end: nil')
tap.same(pack(f:read(5)), { nil, n = 1 }, 'read(n) at the end: nil')
tap.same(pack(f:read(0)), { nil, n = 1 }, 'read(0) at the end: nil')
tap.is(f:read('*a'), '', "read('*a') at the end: ''")
tap.is(f:seek('set'), 0, "seek('set'): 0")
tap.is(f:read(0), '', "read(0) before the end: ''")
tap.is(f:read(), 'hello\nworld\nlast', 'read(): what there is')
tap.is(f:seek('set', 6), 6, "seek('set', 6)")
tap.is(f:read('*a'), 'world\nlast', "read('*a') from there")
tap.is(f:seek('end', -4), 12, "seek('end', -4)")
tap.is(f:read(100), 'last', 'read(n) near the end: what is left')
tap.is(f:seek('set'), 0, 'back to the start')
f:read('*l')                    -- reads ahead into a buffer ...
tap.is(f:seek(), 6, "seek() says where the reader is, not how far lem read ahead")
tap.is(f:seek('cur', 2), 8, "seek('cur', 2) from there")
tap.is(f:read(2), 'rl', '... and reads from there')
tap.is(f:size(), 16, 'size()')
tap.same(pack(f:write('x')), { nil, 'Bad file descriptor' }, 'write on a read-only File: nil, message')
f:close()
tap.fails("bad argument #2 to '[^']+' %(invalid option 'foo'%)", 'seek with a bad whence raises', f.seek, f, 'foo')
tap.fails("invalid offset", 'seek with NaN raises', f.seek, f, 'set', 0/0)
tap.fails("invalid byte count", 'read(-1) raises', f.read, f, -1)
tap.fails("invalid mode", "read('*x') raises", f.read, f, '*x')

f = assert(fs.open(p('a'), 'r+'))
f:read('*l')
f:write('WORLD')                -- goes where the reader is
f:seek('set')
tap.is(f:read('*a'), 'hello\nWORLD\nlast', "r+: a write after a read goes where the reader is")
f:close()
f = assert(fs.open(p('a'), 'a'))
f:write('\nmore')
f:close()
tap.is(tap.readfile(p('a')), 'hello\nWORLD\nlast\nmore', "'a' appends")
f = assert(fs.open(p('a'), 'a+'))
f:write('!')
f:seek('set')
tap.is(f:read('*a'), 'hello\nWORLD\nlast\nmore!', "'a+' appends and reads")
f:close()
f = assert(fs.open(p('a'), 'w+'))
tap.is(f:read('*a'), '', "'w+' truncates")
f:write('abc')
f:seek('set')
tap.is(f:read('*a'), 'abc', "... and reads")
tap.is(f:sync(), true, 'sync()')
f:close()
tap.same(pack(fs.open(p('a'), 'x')), { nil, 'File exists' }, "'x' on an existing file: nil, 'File exists'")
f = assert(fs.open(p('x'), 'x+', '0600'))
f:write('new')
f:seek('set')
tap.is(f:read('*a'), 'new', "'x+' creates and reads")
f:close()
tap.is(fs.stat(p('x')).mode, tonumber('600', 8), 'perm given as an octal string')
f = assert(fs.open(p('y'), 'wb', 420))
f:close()
tap.is(fs.stat(p('y')).mode, 420, 'perm given as a number, mode with b')

-- a big file, lines at the limit
local big = ('0123456789abcdef'):rep(65536 * 4)   -- 4 MiB
tap.is(fs.writefile(p('big'), big), true, 'writefile 4 MiB')
f = assert(fs.open(p('big')))
tap.ok(f:read('*a') == big, "read('*a') of 4 MiB")
f:seek('set')
tap.same(pack(f:read('*l')), { nil, 'line too long' }, "a line over 1 MiB: nil, 'line too long'")
tap.is(f:read(16), '0123456789abcdef', '... its bytes stay for read(n)')
f:close()

-- busy, interrupted, removed while open
f = assert(fs.open(p('big')))
local r1
utils.spawn(function() r1 = pack(f:read('*a')) end)
utils.yield()
tap.is(f:busy(), true, 'busy() while a read is in the pool')
tap.same(pack(f:read()), { nil, 'busy' }, "a second read: nil, 'busy'")
tap.same(pack(f:seek()), { nil, 'busy' }, "seek meanwhile: nil, 'busy'")
tap.ok(tap.waitfor(function() return r1 end), '... the first read ends')
tap.ok(r1[1] == big, '... with the whole file')
tap.is(f:busy(), false, 'not busy afterwards')
f:close()
-- a FIFO with a writer that says nothing holds a read in the pool
os.execute('mkfifo ' .. p('hold'))
f = assert(fs.open(p('hold')))
local holder = assert(streams.open(p('hold'), 'w'))
r1 = nil
utils.spawn(function() r1 = pack(f:read()) end)
utils.yield()
tap.is(f:close(), true, 'close while a read waits in the pool: true')
utils.yield()
tap.same(r1, { nil, 'interrupted' }, "... the reader gets nil, 'interrupted'")
holder:write('x')       -- the thread's read returns; the File's job closes it
holder:close()
f = assert(fs.open(p('big')))
tap.is(fs.remove(p('big')), true, 'remove a file that is open')
tap.is(f:read(4), '0123', '... it can still be read')
f:close()

-- ------------------------------------------------------ stat, lstat
local st = fs.stat(p('a'))
tap.ok(st.type == 'file' and st.size == 3 and st.nlink == 1 and type(st.ino) == 'number'
	and type(st.dev) == 'number' and type(st.uid) == 'number' and type(st.gid) == 'number',
	'stat of a file: type, size, nlink, ino, dev, uid, gid')
os.execute('touch -d "2020-01-02 03:04:05.25" ' .. p('a'))
st = fs.stat(p('a'))
tap.ok(st.mtime % 1 == 0.25 and st.atime % 1 == 0.25 and st.ctime > st.mtime,
	'times are seconds with fractions', st.mtime)
tap.is(fs.stat(dir).type, 'directory', "type 'directory'")
tap.is(fs.stat('/dev/null').type, 'char', "type 'char'")
os.execute('mkfifo ' .. p('fifo'))
tap.is(fs.stat(p('fifo')).type, 'fifo', "type 'fifo'")
tap.is(fs.symlink('a', p('link')), true, 'symlink')
tap.is(fs.lstat(p('link')).type, 'link', "lstat of a link: type 'link'")
tap.is(fs.stat(p('link')).type, 'file', '... stat follows it')
tap.is(fs.readlink(p('link')), 'a', 'readlink')
tap.same(pack(fs.readlink(p('a'))), { nil, 'Invalid argument' }, 'readlink of a file: nil, message')
tap.is(fs.realpath(p('link')), fs.realpath(dir) .. '/a', 'realpath')
tap.same(pack(fs.realpath(p('none'))), { nil, 'No such file or directory' }, 'realpath of nothing')

-- ------------------------------------------- directories, names
tap.is(fs.mkdir(p('sub'), '0700'), true, 'mkdir')
tap.is(fs.stat(p('sub')).mode, tonumber('700', 8), '... with perm')
tap.same(pack(fs.mkdir(p('sub'))), { nil, 'File exists' }, "mkdir again: nil, 'File exists'")
fs.writefile(p('sub/z'), '')
fs.writefile(p('sub/b'), '')
fs.mkdir(p('sub/a'))
tap.same(fs.readdir(p('sub')), { 'a', 'b', 'z' }, 'readdir: the names, sorted, without . and ..')
tap.same(pack(fs.readdir(p('a'))), { nil, 'Not a directory' }, 'readdir of a file: nil, message')
tap.same(pack(fs.rmdir(p('sub'))), { nil, 'Directory not empty' }, 'rmdir of a full directory: nil, message')
tap.is(fs.remove(p('sub/a')), true, 'remove an empty directory')
tap.is(fs.rename(p('sub/b'), p('sub/c')), true, 'rename')
tap.same(fs.readdir(p('sub')), { 'c', 'z' }, '... done')
tap.is(fs.link(p('sub/c'), p('sub/d')), true, 'link')
tap.is(fs.stat(p('sub/c')).nlink, 2, '... two names')
tap.is(fs.chmod(p('sub/c'), '0640'), true, 'chmod')
tap.is(fs.stat(p('sub/d')).mode, tonumber('640', 8), '... done')
for _, n in ipairs({ 'c', 'd', 'z' }) do fs.remove(p('sub/' .. n)) end
tap.is(fs.rmdir(p('sub')), true, 'rmdir')
tap.same(pack(fs.stat(p('sub'))), { nil, 'No such file or directory' }, '... it is gone')

-- ---------------------------------------------- readfile, writefile
tap.same(pack(fs.readfile(p('none'))), { nil, 'No such file or directory' }, 'readfile of nothing')
tap.is(fs.readfile(p('y')), '', 'readfile of an empty file')
tap.like(fs.readfile('/proc/self/status'), '^Name:', 'readfile of a /proc file (size 0 in stat)')
tap.same(pack(fs.readfile(dir)), { nil, 'Is a directory' }, 'readfile of a directory')
fs.chmod(p('a'), '0604')
fs.writefile(p('a'), 'replaced')
tap.ok(fs.readfile(p('a')) == 'replaced' and fs.stat(p('a')).mode == tonumber('604', 8),
	'writefile replaces a file and keeps its permissions')
tap.same(pack(fs.writefile(p('no/such'), 'x')), { nil, 'No such file or directory' },
	'writefile into a missing directory: nil, message')
local names = fs.readdir(dir)
tap.ok(not table.concat(names, ' '):find('lem%-'), 'no temporary file is left', table.concat(names, ' '))
-- a reader never sees half a file
local A, B = ('A'):rep(2^20), ('B'):rep(2^20 + 7)
fs.writefile(p('atomic'), A)
local writing, bad, reads = true, 0, 0
utils.spawn(function()
	for i = 1, 20 do fs.writefile(p('atomic'), i % 2 == 0 and A or B) end
	writing = false
end)
for _ = 1, 4 do
	utils.spawn(function()
		while writing do
			local d = fs.readfile(p('atomic'))
			reads = reads + 1
			if d ~= A and d ~= B then bad = bad + 1 end
		end
	end)
end
tap.ok(tap.waitfor(function() return not writing end, 60), '20 writefiles of 1 MiB ...')
utils.yield()
tap.ok(bad == 0 and reads > 0, '... readers meanwhile saw the old or the new file, never a mix', bad .. ' bad of ' .. reads)

-- 64 coroutines, 300 files
local files, okc = {}, 0
for i = 1, 300 do
	files[i] = p('many' .. i)
	fs.writefile(files[i], ('%d\n'):format(i):rep(100))
end
local left = 64
for c = 1, 64 do
	utils.spawn(function()
		for i = c, 300, 64 do
			if fs.readfile(files[i]) == ('%d\n'):format(i):rep(100) then okc = okc + 1 end
		end
		left = left - 1
	end)
end
tap.ok(tap.waitfor(function() return left == 0 end, 60), '64 coroutines read 300 files at once ...')
tap.is(okc, 300, '... each got its own file')

-- ------------------------------------------------------- deadlines
tap.same(pack(utils.timeout(0, fs.stat, dir)), { nil, 'timeout' }, "a passed deadline: nil, 'timeout' at once")
f = assert(fs.open(p('a')))
tap.same(pack(utils.timeout(0, f.read, f)), { nil, 'timeout' }, "... also for a File")
tap.is(f:read('*a'), 'replaced', '... which is still usable')
f:close()
local co = utils.spawn(function() r1 = pack(fs.readfile(p('a'))) end)
co:cancel()
co:join()
tap.same(r1, { nil, 'cancelled' }, "a cancelled coroutine: nil, 'cancelled'")
-- many opens at once cut short at various points (queued, running, or
-- not started): none leaks its descriptor
local cut, pending = 0, 300
for i = 1, 300 do
	utils.spawn(function()
		local file = utils.timeout((i % 7) * 0.0003, fs.open, p('a'))
		if file then file:close() else cut = cut + 1 end
		pending = pending - 1
	end)
end
tap.ok(tap.waitfor(function() return pending == 0 end), '300 opens at once with deadlines of 0 to 1.8 ms ...')
collectgarbage() collectgarbage()
tap.ok(tap.waitfor(function() collectgarbage() return tap.nfds() == n0 end),
	'... ' .. cut .. ' cut short: no descriptor left', tap.nfds() .. ' vs ' .. n0)

-- queued and running jobs, with one file thread and a FIFO to hold it
local script = [[
local fs = require 'lem.fs'
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local dir = ...
local fifo = dir .. '/fifo'
local r = assert(fs.open(fifo))
local w = assert(streams.open(fifo, 'w'))
local got
utils.spawn(function() got = { r:read() } end)    -- holds the only thread
utils.yield()
print('queued', utils.timeout(0.05, fs.mkdir, dir .. '/dropped'))
-- the other pool answers name lookups meanwhile
local srv = assert(streams.tcp_listen('127.0.0.1', 0))
local _, port = srv:address()
utils.spawn(function() srv:accept() end)
print('lookup', (streams.tcp_connect('localhost', port)) ~= nil)
w:write('1')
while not got do utils.sleep(0.01) end
print('fifo', got[1])
print('dropped', fs.stat(dir .. '/dropped'))
-- a read running when its deadline passes: the bytes are kept
print('running', utils.timeout(0.05, r.read, r))
print('busy', r:busy())
w:write('2')
while r:busy() do utils.sleep(0.01) end
print('kept', r:read())
r:close() w:close()
]]
local out, err = tap.sh('LEM_FS_THREADS=1 ' .. tap.quote(tap.lem) .. ' ' ..
	tap.writefile(tap.tmpname('.lua'), script) .. ' ' .. dir)
tap.is(out, 'queued\tnil\ttimeout\nlookup\ttrue\nfifo\t1\ndropped\tnil\tNo such file or directory\n' ..
	'running\tnil\ttimeout\nbusy\ttrue\nkept\t2\n',
	'LEM_FS_THREADS=1: a queued job is dropped at its deadline, a running one finishes and keeps its bytes, lookups go on',
	err)
out, err = tap.sh('LEM_FS_THREADS=many ' .. tap.quote(tap.lem) .. [[ -e "print(require('lem.fs').stat('/').type)"]])
tap.ok(out == 'directory\n' and err:find('LEM_FS_THREADS=many is not a number from 1 to 1024; using 4', 1, true),
	'a bad LEM_FS_THREADS: a warning, the default', err)

-- ------------------------------------------------ permissions, ENOSPC
local nobody = 'setpriv --reuid=65534 --regid=65534 --clear-groups '
local uid = tonumber((tap.sh('id -u')))
local asuser = uid ~= 0 and '' or (os.execute('setpriv --version >/dev/null 2>&1') == 0 and nobody)
-- a directory an unprivileged user can reach (the test's own is private)
local pdir = (os.getenv('TMPDIR') or '/tmp') .. '/lem-fs-perm-' .. tap.pid()
local function q(name) return pdir .. '/' .. name end
if asuser and asuser ~= '' then
	-- the user must also be able to run this lem (a build tree in a
	-- private directory of root's is out of its reach)
	local _, _, st = tap.sh(asuser .. tap.quote(tap.lem) .. [[ -e "require('lem.fs')"]])
	if st ~= 0 then asuser = nil end
end
if asuser then
	os.execute('rm -rf ' .. pdir .. '; mkdir -m 755 ' .. pdir .. '; mkdir ' .. q('ro') ..
		'; chmod 555 ' .. q('ro') .. '; echo secret > ' .. q('secret') ..
		'; chmod 000 ' .. q('secret'))
	out, err = tap.sh(asuser .. tap.quote(tap.lem) .. ' -e "' ..
		"local fs = require 'lem.fs' " ..
		"print(fs.open('" .. q('secret') .. "')) " ..
		"print(fs.readfile('" .. q('secret') .. "')) " ..
		"print(fs.writefile('" .. q('ro/x') .. "', 'x')) " ..
		"print(fs.mkdir('" .. q('ro/d') .. "'))" .. '"')
	os.execute('rm -rf ' .. pdir)
	tap.is(out, ('nil\tPermission denied\n'):rep(4), 'EACCES: nil, \'Permission denied\' (open, readfile, writefile, mkdir)', err)
else
	tap.skip(1, 'running as root without setpriv, or this lem is out of reach of an unprivileged user')
end

tap.is(fs.remove(p('link')), true, 'remove a symlink')
tap.done()
