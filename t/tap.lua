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

function tap.is(got, want, desc)
	return tap.ok(got == want, desc,
		'got: ' .. show(got) .. '\nwant: ' .. show(want))
end

function tap.like(got, pattern, desc)
	return tap.ok(type(got) == 'string' and got:find(pattern) ~= nil, desc,
		'got: ' .. show(got) .. '\nwant match: ' .. pattern)
end

-- tap.fails(pattern, desc, f, ...): f(...) must raise a matching error
function tap.fails(pattern, desc, f, ...)
	local ok, err = pcall(f, ...)
	return tap.ok(not ok and tostring(err):find(pattern) ~= nil, desc,
		'got: ' .. show(ok) .. ', ' .. show(err) .. '\nwant error: ' .. pattern)
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

local tmpn = 0
-- a fresh temporary file name, removed by tap.cleanup()
local tmpfiles = {}
function tap.tmpname(suffix)
	tmpn = tmpn + 1
	local name = string.format('%s/lem-test-%d-%d%s',
		os.getenv('TMPDIR') or '/tmp', tap.pid(), tmpn, suffix or '')
	tmpfiles[#tmpfiles + 1] = name
	return name
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

function tap.cleanup()
	for _, name in ipairs(tmpfiles) do os.remove(name) end
	tmpfiles = {}
end

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
	return tap.readfile(o) or '', tap.readfile(e) or '', status
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

-- the number of descriptors this process has open.  Not through
-- io.popen: its pipe's write end is closed only after the child has
-- started, so ls would sometimes count it.  os.execute opens nothing
-- here (the shell opens the output file).
function tap.nfds()
	local out = tap.tmpname('.fds')
	os.execute('ls /proc/' .. tap.pid() .. '/fd > ' .. out)
	local n = select(2, (tap.readfile(out) or ''):gsub('\n', ''))
	os.remove(out)
	return n
end

-- seconds since some fixed point, with sub-millisecond resolution
function tap.clock()
	local f = io.open('/proc/uptime')
	local t = f:read('*n')
	f:close()
	return t
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
	tmpfiles[#tmpfiles + 1] = dir .. '/lem'
	tmpfiles[#tmpfiles + 1] = dir
	tap.lem = dir .. '/lem'
end

return tap
