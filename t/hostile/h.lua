-- t/hostile/h.lua - helpers for the cases of the hostile suite.
--
-- Copyright (C) 2026 the lem authors.  Part of lem, free software under
-- the GNU General Public License version 3 or later; see COPYING.
--
-- The checks and the small helpers are t/tap.lua's, the ones t/*.t
-- use (h.ok, h.is, h.like, h.same, h.values, h.pid, h.tmpname,
-- h.readfile, h.clock, h.waitfor); what is the hostile suite's own:
--
-- local h = require 'h'      -- records the descriptor baseline
-- h.figure(name, value)     -- a "# figure" line the runner shows
-- h.done()                  -- fd set = baseline, no CLOSE_WAIT on our
--                              ports, no zombie children; then
--                              "HOSTILE CLEAN", or exit 1
-- The cases print no plan: t/hostile/run judges each one by its exit
-- status, its output and what it leaves behind.
local utils = require 'lem.utils'
local tap = require 'tap'     -- t/tap.lua, on LUA_PATH (t/hostile/run)

local h = {}
h.scale = tonumber(os.getenv('HOSTILE_SCALE') or '') or 1
h.port = tonumber(os.getenv('HOSTILE_PORT') or '') or 19000
h.asan = os.getenv('HOSTILE_ASAN') == '1'
h.valgrind = os.getenv('HOSTILE_VALGRIND') == '1'
h.lem = os.getenv('LEM') or 'lem'
h.dir = os.getenv('HOSTILE_DIR') or '.'
h.jit = rawget(_G, 'jit') ~= nil

for _, name in ipairs { 'ok', 'is', 'like', 'same', 'values', 'pid',
		'tmpname', 'readfile', 'clock', 'waitfor' } do
	h[name] = tap[name]
end

function h.n(x)          -- a count scaled by HOSTILE_SCALE, at least 1
	return math.max(1, math.floor(x * h.scale))
end

-- the output of a shell command, run without any descriptor of ours
-- open to it other than the inherited ones (os.execute, not io.popen)
function h.run(cmd)
	local t = h.tmpname('.sh')
	local rc = os.execute('(' .. cmd .. ') > ' .. t .. ' 2>&1')
	local out = h.readfile(t) or ''
	os.remove(t)
	return out, rc
end

-- the set of our descriptors: { [fd] = target }
function h.fds()
	local set = {}
	for fd, target in tap.fdlist():gmatch('(%d+) %-> ([^\n]*)') do
		set[tonumber(fd)] = target
	end
	return set
end

function h.count(set)
	local n = 0
	for _ in pairs(set) do n = n + 1 end
	return n
end

function h.rss()         -- resident set size in kB
	local s = h.readfile('/proc/self/status') or ''
	return tonumber(s:match('VmRSS:%s*(%d+)'))
end

function h.hwm()         -- peak resident set size in kB
	local s = h.readfile('/proc/self/status') or ''
	return tonumber(s:match('VmHWM:%s*(%d+)'))
end

function h.reset_hwm()  -- start measuring the peak RSS from now
	local f = io.open('/proc/' .. h.pid() .. '/clear_refs', 'w')
	if f then f:write('5') f:close() end
end

function h.zombies()
	local out = h.run('ps --ppid ' .. h.pid() .. ' -o stat=,pid=')
	local z = {}
	for pid in out:gmatch('Z%S*%s+(%d+)') do z[#z + 1] = pid end
	return z
end

function h.closewait(lo, hi)
	lo, hi = lo or h.port, hi or h.port + 9
	local out = h.run('ss -Htan state close-wait')
	local n = 0
	for line in out:gmatch('[^\n]+') do
		for port in line:gmatch(':(%d+)') do
			port = tonumber(port)
			if port >= lo and port <= hi then n = n + 1 break end
		end
	end
	return n
end

function h.figure(name, value)
	io.write('# figure ', name, ': ', tostring(value), '\n')
	io.flush()
end

-- a peer (t/hostile/peer.py) as a separate process; returns a stream
-- of its output (read it with :read('*a'))
function h.peer(...)
	local streams = require 'lem.streams'
	local args = { ... }
	for i, v in ipairs(args) do args[i] = "'" .. tostring(v) .. "'" end
	return assert(streams.popen('exec ' .. (os.getenv('PYTHON') or 'python3') ..
		' ' .. h.dir .. '/peer.py ' ..
		table.concat(args, ' ')))
end

-- an echo server on h.port: every connection gets back what it sends
function h.echo_server(port, handler)
	local streams = require 'lem.streams'
	local srv = assert(streams.tcp_listen('127.0.0.1', port or h.port))
	utils.spawn(function()
		srv:autospawn(handler or function(c)
			while true do
				local d = c:read()
				if not d then break end
				if not c:write(d) then break end
			end
			c:close()
		end)
	end)
	return srv
end

h.baseline = h.fds()

function h.done()
	local now = h.fds()
	local extra, missing = {}, {}
	for fd, target in pairs(now) do
		-- lem's own lasting descriptors, made on first use: the eventfd
		-- of the worker pool and libev's signal/wakeup descriptors
		if h.baseline[fd] == nil and not target:find('^anon_inode:%[event')
				and not target:find('^anon_inode:%[signal') then
			extra[#extra + 1] = fd .. ' -> ' .. target
		end
	end
	for fd, target in pairs(h.baseline) do
		if now[fd] == nil then missing[#missing + 1] = fd .. ' -> ' .. target end
	end
	h.ok(#extra == 0 and #missing == 0, 'descriptor set back to baseline',
		'extra: ' .. table.concat(extra, ', ') ..
		'; missing: ' .. table.concat(missing, ', '))
	h.is(h.closewait(), 0, 'no CLOSE_WAIT socket on our ports')
	-- lem reaps its popen children from the loop, on SIGCHLD: give it
	-- a moment
	local z = h.zombies()
	local s = utils.sleeper()
	for _ = 1, 40 do
		if #z == 0 then break end
		s:sleep(0.05)
		z = h.zombies()
	end
	h.ok(#z == 0, 'no zombie children', table.concat(z, ' '))
	local count, failures = tap.counts()
	if failures > 0 then
		io.write('# ', failures, ' of ', count, ' checks failed\n')
		io.flush()
		utils.exit(1)
	end
	tap.cleanup()
	io.write('HOSTILE CLEAN ', count, ' checks\n')
	io.flush()
end

return h
