-- t/tap.lua - a small TAP producer for lem's tests, with a watchdog.
--
-- Copyright (C) 2026 the lem authors.  Part of lem, free software under
-- the GNU General Public License version 3 or later; see COPYING.
--
-- A test file starts with
--
--	local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
--	tap.plan(N [, watchdog_seconds])
--
-- and ends with tap.done().  The module paths are derived from arg[0]
-- when LUA_PATH/LUA_CPATH are not set, so `prove -e ./lem t/` works from
-- an in-tree build as well as `make check`.
--
-- Checks: tap.ok, tap.is, tap.like, tap.fails, tap.same (several values
-- at once, e.g. tap.same(tap.pack(s:read()), { nil, 'closed' }, desc)).
-- Whatever a test leaves behind - the files of tap.tmpname(), the
-- processes given to tap.kill_at_end(pid) - is removed by tap.cleanup(),
-- which tap.done() calls, and which also runs when the test dies of an
-- error or of its watchdog.

local here = arg and arg[0] and arg[0]:match('^(.*)/') or '.'
-- what subprocesses need to find the same modules
local subenv = ''
if not os.getenv('LUA_PATH') then
	local p = here .. '/?.lua;' .. here .. '/../lib/?.lua;'
	package.path = p .. package.path
	subenv = subenv .. "LUA_PATH='" .. p .. ";'; export LUA_PATH; "
end
if not os.getenv('LUA_CPATH') then
	local p = here .. '/../lib/?.so;'
	package.cpath = p .. package.cpath
	subenv = subenv .. "LUA_CPATH='" .. p .. ";'; export LUA_CPATH; "
end

local utils = require 'lem.utils'

local tap = { dir = here }
local planned, count, failed = 0, 0, 0
local watchdog

-- the lem binary running this test, for tests that start another lem
tap.lem = os.getenv('LEM') or (arg and arg[-1]) or 'lem'

-- LEM_TEST_SLOW=k stretches watchdogs and tap.sh timeouts k times (set
-- by `make check-valgrind`, where every lem runs under valgrind)
tap.slow = tonumber(os.getenv('LEM_TEST_SLOW') or '') or 1

local function out(...)
	io.write(...)
	io.flush()
end

function tap.plan(n, seconds)
	planned = n
	out('1..', n, '\n')
	watchdog = utils.sleeper()
	utils.spawn(function()
		if tap.finished then return end
		local ok = watchdog:sleep((seconds or 30) * tap.slow)
		if ok == nil then
			out('not ok ', count + 1, ' - watchdog: test took more than ',
				seconds or 30, ' s\n')
			out('Bail out! watchdog\n')
			utils.exit(1)
		end
	end)
end

function tap.ok(cond, desc, diag)
	count = count + 1
	if cond then
		out('ok ', count, ' - ', desc or '', '\n')
	else
		failed = failed + 1
		out('not ok ', count, ' - ', desc or '', '\n')
		if diag then tap.diag(diag) end
	end
	return cond
end

function tap.diag(...)
	local s = table.concat({ ... }, ' ')
	out('# ', (s:gsub('\n', '\n# ')), '\n')
end

local function show(v)
	if type(v) == 'string' then return string.format('%q', v) end
	return tostring(v)
end

-- tap.is and tap.like take an optional diag too, printed after got and
-- want on failure (e.g. the stderr of the command that gave got)
local function more(diag)
	return diag ~= nil and '\n' .. tostring(diag) or ''
end

function tap.is(got, want, desc, diag)
	return tap.ok(got == want, desc,
		'got: ' .. show(got) .. '\nwant: ' .. show(want) .. more(diag))
end

-- tap.pack(...): the values with their count, nils included
function tap.pack(...)
	return { n = select('#', ...), ... }
end

-- the number of values in t: t.n, else its highest positive integer key
local function count_of(t)
	if t.n then return t.n end
	local n = 0
	for k in pairs(t) do
		if type(k) == 'number' and k > n and k == math.floor(k) then n = k end
	end
	return n
end

local function showall(t, n)
	local parts = {}
	for i = 1, n do parts[i] = show(t[i]) end
	return '(n=' .. n .. ') ' .. table.concat(parts, ', ')
end

-- tap.values(...): the values as text, for a diagnostic: (n=2) nil, "x"
function tap.values(...)
	return showall({ ... }, select('#', ...))
end

-- tap.same(got, want, desc): got and want hold the same values, position
-- by position, and as many of them (give got as tap.pack(...) or a table
-- constructor; nils count where a later position is filled or n says so)
function tap.same(got, want, desc)
	if type(got) ~= 'table' then
		-- e.g. the results of a coroutine that has not ended
		return tap.ok(false, desc, 'got: ' .. show(got) .. ' (no results)\nwant: ' ..
			showall(want, count_of(want)))
	end
	local ng, nw = count_of(got), count_of(want)
	local bad = ng ~= nw and 'count' or nil
	for i = 1, math.max(ng, nw) do
		if got[i] ~= want[i] then bad = bad or i break end
	end
	local diag
	if bad then
		diag = 'got:  ' .. showall(got, ng) .. '\nwant: ' .. showall(want, nw) ..
			(bad == 'count' and '' or '\nfirst difference at ' .. bad)
	end
	return tap.ok(not bad, desc, diag)
end

function tap.like(got, pattern, desc, diag)
	return tap.ok(type(got) == 'string' and got:find(pattern) ~= nil, desc,
		'got: ' .. show(got) .. '\nwant match: ' .. pattern .. more(diag))
end

-- tap.fails(pattern, desc, f, ...): f(...) must raise a matching error
function tap.fails(pattern, desc, f, ...)
	local ok, err = pcall(f, ...)
	return tap.ok(not ok and tostring(err):find(pattern) ~= nil, desc,
		'got: ' .. show(ok) .. ', ' .. show(err) .. '\nwant error: ' .. pattern)
end

-- how many checks ran, and how many of them failed
function tap.counts()
	return count, failed
end

function tap.skip(n, why)
	for _ = 1, n do
		count = count + 1
		out('ok ', count, ' # SKIP ', why, '\n')
	end
end

function tap.done()
	if count ~= planned then
		out('# planned ', planned, ' tests but ran ', count, '\n')
	end
	tap.finished = true
	tap.cleanup()
	if watchdog then watchdog:wakeup(true) end
	if failed > 0 or count ~= planned then
		utils.exit(1)
	end
end

-- ------------------------------------------------------------ helpers

local pid
function tap.pid()
	if not pid then
		local f = io.open('/proc/self/stat')
		pid = f and f:read('*n') or math.random(1, 1e9)
		if f then f:close() end
	end
	return pid
end

function tap.quote(s)
	return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- os.execute(cmd) succeeded: 0 from Lua 5.1, true where LuaJIT has the
-- Lua 5.2 extensions
local function execute_ok(cmd)
	local r = os.execute(cmd)
	return r == 0 or r == true
end

-- Every temporary file of a test lives in one directory of its own,
-- made on first use and removed, whatever is in it, by tap.cleanup().
local tmpdir, tmpn = nil, 0
local function mktmpdir()
	local base = os.getenv('TMPDIR') or '/tmp'
	for _ = 1, 10 do
		local d = string.format('%s/lem-test-%d-%d', base, tap.pid(),
			math.random(1, 1e9))
		-- mkdir fails if d exists: never someone else's directory
		if execute_ok('mkdir -m 700 ' .. tap.quote(d) .. ' 2>/dev/null') then
			return d
		end
	end
	error('tap.lua: cannot make a temporary directory in ' .. base)
end

-- a fresh temporary file name (for a file, a directory or a FIFO)
function tap.tmpname(suffix)
	if not tmpdir then tmpdir = mktmpdir() end
	tmpn = tmpn + 1
	return string.format('%s/%d%s', tmpdir, tmpn, suffix or '')
end

function tap.writefile(name, data)
	local f = assert(io.open(name, 'wb'))
	assert(f:write(data))
	assert(f:close())
	return name
end

function tap.readfile(name)
	local f = io.open(name, 'rb')
	if not f then return nil end
	local d = f:read('*a')
	f:close()
	return d
end

-- tap.kill_at_end(pid): a process the test started that must not
-- outlive it (a server, a sleeping child); tap.cleanup() kills it
local pids = {}
function tap.kill_at_end(p)
	pids[#pids + 1] = assert(tonumber(p), 'tap.kill_at_end: not a pid')
	return p
end

-- kill a process now (and forget it); true if it was there
function tap.kill(p)
	for i = #pids, 1, -1 do
		if pids[i] == p then table.remove(pids, i) end
	end
	return execute_ok('kill ' .. p .. ' 2>/dev/null')
end

function tap.cleanup()
	for _, p in ipairs(pids) do os.execute('kill ' .. p .. ' 2>/dev/null') end
	pids = {}
	if tmpdir then
		os.execute('rm -rf ' .. tap.quote(tmpdir))
		tmpdir = nil
	end
end

-- A test that dies of an uncaught error (or of utils.exit) never reaches
-- tap.done(); lem still runs every __gc before it exits, and this one
-- cleans up.
do
	local guard = newproxy(true)
	getmetatable(guard).__gc = function() tap.cleanup() end
	tap._guard = guard
end

-- tap.sh(cmd): run a shell command (blocking, at most 60 s); returns
-- stdout, stderr and the exit status.
function tap.sh(cmd, stdin)
	local o, e = tap.tmpname('.out'), tap.tmpname('.err')
	local full = 'timeout -k 5 ' .. math.floor(60 * tap.slow) .. ' sh -c '
		.. tap.quote(subenv .. cmd)
	if stdin then
		full = full .. ' < ' .. tap.quote(tap.writefile(tap.tmpname('.in'), stdin))
	else
		full = full .. ' < /dev/null'
	end
	full = full .. ' > ' .. o .. ' 2> ' .. e .. '; echo $?'
	local p = io.popen(full)
	local status = tonumber(p:read('*a'))
	p:close()
	local out, err = tap.readfile(o) or '', tap.readfile(e) or ''
	os.remove(o)
	os.remove(e)
	return out, err, status
end

-- tap.lemrun(script [, args [, stdin]]): run a Lua script in a new lem;
-- returns stdout, stderr, status
function tap.lemrun(script, args, stdin)
	local f = tap.writefile(tap.tmpname('.lua'), script)
	return tap.sh(tap.quote(tap.lem) .. ' ' .. f .. ' ' .. (args or ''), stdin)
end

-- tap.tcp_pair(): two connected TCP streams over 127.0.0.1 (client,
-- server side) and the port they used
function tap.tcp_pair()
	local streams = require 'lem.streams'
	local srv = assert(streams.tcp_listen('127.0.0.1', 0))
	local _, port = srv:address()
	local a
	utils.spawn(function() a = assert(streams.tcp_connect('127.0.0.1', port)) end)
	local b = assert(srv:accept())
	while not a do utils.yield() end
	srv:close()
	return a, b, port
end

-- The number of descriptors this process has open, counted without
-- starting a process: a child listing /proc/PID/fd (ls through io.popen)
-- also sees the pipe io.popen made, one end or both depending on when
-- the child runs, which made the count wrong under load.  Here every
-- slot of the descriptor table is probed through /proc/self/fdinfo/N,
-- which exists exactly while descriptor N is open, and which opening
-- does not disturb: the probe's own descriptor is closed again before
-- the next one, and the kernel does not show a descriptor in fdinfo
-- until its open has finished.
function tap.nfds()
	local st = tap.readfile('/proc/self/status') or ''
	local size = tonumber(st:match('FDSize:%s*(%d+)')) or 1024
	local n = 0
	for fd = 0, size - 1 do
		local f = io.open('/proc/self/fdinfo/' .. fd)
		if f then
			n = n + 1
			f:close()
		end
	end
	return n
end

-- the open descriptors and what they are, for a diagnostic
function tap.fdlist()
	local t = tap.tmpname('.fds')
	os.execute('ls -l /proc/' .. tap.pid() .. '/fd > ' .. t .. ' 2>&1')
	local l = tap.readfile(t) or ''
	os.remove(t)
	return l
end

-- seconds since some fixed point (/proc/uptime: 10 ms resolution)
function tap.clock()
	local f = io.open('/proc/uptime')
	local t = f:read('*n')
	f:close()
	return t
end

-- tap.waitfor(cond [, seconds]): sleep in small steps until cond() is
-- true; false if it is still false after `seconds` (10, stretched by
-- LEM_TEST_SLOW).  For waiting on what another coroutine, the kernel or
-- a child process does, where a fixed sleep would be a race.
function tap.waitfor(cond, seconds)
	local s = utils.sleeper()
	local deadline = tap.clock() + (seconds or 10) * tap.slow
	while not cond() do
		if tap.clock() > deadline then return false end
		s:sleep(0.01)
	end
	return true
end

-- Run by prove without LUA_PATH/LUA_CPATH (and without LEM): the lem
-- processes a test starts, by any means, must find the same modules, so
-- tap.lem becomes a wrapper named lem that sets the paths.
if subenv ~= '' and not os.getenv('LEM') then
	local function abs(path)
		local p = io.popen('cd ' .. tap.quote(path) .. ' && pwd')
		local r = p:read('*l')
		p:close()
		return r or path
	end
	local p = io.popen('readlink /proc/' .. tap.pid() .. '/exe')
	local exe = p:read('*l')
	p:close()
	local t = abs(here)
	local dir = tap.tmpname('.bin')
	os.execute('mkdir -p ' .. tap.quote(dir))
	tap.writefile(dir .. '/lem', table.concat {
		'#!/bin/sh\n',
		": \"${LUA_PATH=", t, "/?.lua;", t, "/../lib/?.lua;;}\"; export LUA_PATH\n",
		": \"${LUA_CPATH=", t, "/../lib/?.so;;}\"; export LUA_CPATH\n",
		'exec ', tap.quote(exe or tap.lem), ' "$@"\n' })
	os.execute('chmod +x ' .. tap.quote(dir .. '/lem'))
	tap.lem = dir .. '/lem'
end

return tap
