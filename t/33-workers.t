-- t/33-workers.t - lem --workers N: utils.worker, SO_REUSEPORT in the
-- workers, restart with backoff, SIGTERM passed on with --grace, SIGHUP
-- rolling restart (the new worker serves before the old one is told to
-- stop), bad options (API.md section 3)
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local process = require 'lem.process'

tap.plan(41, 120)

local function free_port()
	local s = assert(streams.tcp_listen('127.0.0.1', 0))
	local _, port = s:address()
	s:close()
	return port
end

local function lines(name)
	local t = {}
	for l in (tap.readfile(name) or ''):gmatch('[^\n]+') do t[#t + 1] = l end
	return t
end

local function gone(pid)
	local st = tap.readfile('/proc/' .. pid .. '/stat')
	return st == nil or st:match('^%d+ %b() (%a)') == 'Z'
end

-- a worker: logs "start id n pid", serves "worker id of n", logs
-- "term id pid" on SIGTERM and stops serving (unless told to stay)
local worker = tap.writefile(tap.tmpname('.lua'), [[
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local signal = require 'lem.signal'
local port, log, mode = tonumber(arg[1]), arg[2], arg[3]
local id, n = utils.worker()
local sf = io.open('/proc/self/stat') local pid = sf:read('*n') sf:close()
local function note(s) local f = io.open(log, 'a') f:write(s, '\n') f:close() end
if mode == 'crash' then os.exit(3) end
local stop = signal.listen('SIGTERM', 'SIGINT')
local srv = assert(streams.tcp_listen('127.0.0.1', port))
-- what the worker's own children see
local pf = io.popen('env')
local env = pf:read('*a')
pf:close()
pf = io.popen('ls /proc/self/fd | wc -l')
local fds = pf:read('*n')
pf:close()
note(('start %d %d %d env=%s fds=%d'):format(id, n, pid,
	env:find('LEM_WORKER') and 'leaked' or 'clean', fds))
utils.spawn(function()
	local name = stop:wait()
	note(('%s %d %d'):format(name == 'SIGTERM' and 'term' or 'int', id, pid))
	if mode ~= 'stay' then srv:close() stop:close() end
end)
srv:autospawn(function(c)
	c:write(('worker %d of %d\n'):format(id, n))
	c:close()
end)
]])

local function ask(port)
	local c, err = streams.tcp_connect('127.0.0.1', port)
	if not c then return nil, err end
	local l = c:read('*l')
	c:close()
	return l or 'reset'
end

-- ------------------------------------------------------ two workers
local port, log = free_port(), tap.tmpname('.log')
local sup = assert(process.spawn({ tap.lem, '--workers', 2, '--grace', 5, worker, port, log },
	{ stderr = 'pipe' }))
tap.kill_at_end(sup.pid)
local errs = {}
utils.spawn(function()
	while true do
		local l = sup.stderr:read('*l')
		if not l then break end
		errs[#errs + 1] = l
	end
end)
tap.ok(tap.waitfor(function() return #lines(log) == 2 end), 'two workers start')
local start = {}
for _, l in ipairs(lines(log)) do
	local id, n, pid, env, fds = l:match('^start (%d+) (%d+) (%d+) env=(%a+) fds=(%d+)')
	start[tonumber(id)] = { n = tonumber(n), pid = tonumber(pid), env = env, fds = tonumber(fds) }
end
tap.ok(start[1] and start[2] and start[1].n == 2 and start[2].n == 2, 'utils.worker(): 1, 2 and 2, 2')
tap.ok(start[1].env == 'clean' and start[2].env == 'clean', "a worker's children do not see LEM_WORKER*")
tap.ok(start[1].fds == start[2].fds and start[1].fds <= 4, "... nor the readiness pipe", start[1].fds)
tap.ok(tap.waitfor(function() return ask(port) ~= nil end), 'both listen on one port (SO_REUSEPORT)')
local seen = {}
for _ = 1, 30 do
	local l = ask(port)
	if l then seen[l] = true end
end
tap.ok(seen['worker 1 of 2\n'] and seen['worker 2 of 2\n'], 'connections reach both workers')

-- a worker that dies is restarted
os.execute('kill -KILL ' .. start[1].pid)
tap.ok(tap.waitfor(function() return #lines(log) == 3 end), 'a killed worker is started again')
local l3 = lines(log)[3]
local newpid = tonumber(l3:match('^start 1 2 (%d+)'))
tap.ok(newpid and newpid ~= start[1].pid, '... with the same number, as a new process', l3)
tap.ok(tap.waitfor(function()
	return table.concat(errs, '\n'):find('worker 1 %(pid ' .. start[1].pid .. '%) was killed by signal 9')
end), '... and the supervisor says so', table.concat(errs, '\n'))
tap.like(table.concat(errs, '\n'), 'worker 1 restarts in 0%.1 s', '... restarting after a pause')
start[1].pid = newpid

-- SIGHUP: one by one, each new worker serving before the old one stops
local refused, served, rolling = 0, 0, true
utils.spawn(function()
	while rolling do
		local l, err = ask(port)
		if l then served = served + 1 elseif err == 'Connection refused' then refused = refused + 1 end
		utils.sleep(0.005)
	end
end)
sup:kill('SIGHUP')
tap.ok(tap.waitfor(function()
	return table.concat(errs, '\n'):find('rolling restart done')
end, 30), 'SIGHUP: a rolling restart')
tap.ok(tap.waitfor(function()
	local t = table.concat(lines(log), '\n')
	return t:find('term 1 ' .. start[1].pid, 1, true) and t:find('term 2 ' .. start[2].pid, 1, true)
end), '... both old workers were told to stop')
local order = {}
for i, l in ipairs(lines(log)) do
	local what, id, pid = l:match('^(%a+) (%d) %d* ?(%d+)')
	if i > 3 then order[#order + 1] = l:match('^(%a+ %d)') .. (l:find('term') and ' old' or ' new') end
end
local o = table.concat(order, ', ')
tap.ok(o:find('start 1 new.*term 1 old') and o:find('start 1 new.*start 2 new') and
	o:find('start 2 new.*term 2 old'), 'each new worker started before its old one was told to stop', o)
tap.ok(gone(start[1].pid) or tap.waitfor(function() return gone(start[1].pid) end), '... the old ones ended')
rolling = false
utils.sleep(0.02)
tap.ok(served > 0 and refused == 0, 'no connection was refused during the restart', served .. ' served, ' .. refused .. ' refused')
local now = {}
for _, l in ipairs(lines(log)) do
	local id, pid = l:match('^start (%d) %d (%d+)')
	if id then now[tonumber(id)] = tonumber(pid) end
end

-- SIGTERM: passed on, the workers stop, the supervisor ends with 0
sup:kill('SIGTERM')
tap.same(tap.pack(utils.timeout(20, sup.wait, sup)), { 'exit', 0 }, 'SIGTERM: the workers stop, the supervisor exits 0')
tap.ok(gone(now[1]) and gone(now[2]), '... and no worker is left')
local t = table.concat(lines(log), '\n')
tap.ok(t:find('term 1 ' .. now[1], 1, true) and t:find('term 2 ' .. now[2], 1, true), '... each got SIGTERM')

-- ----------------------------------------- the grace period, SIGINT
port, log = free_port(), tap.tmpname('.log')
sup = assert(process.spawn({ tap.lem, '--grace=0.5', '--workers=2', worker, port, log, 'stay' },
	{ stderr = 'pipe' }))
tap.kill_at_end(sup.pid)
tap.ok(tap.waitfor(function() return ask(port) ~= nil and #lines(log) == 2 end), '--grace=0.5 --workers=2 start')
local pids = {}
for _, l in ipairs(lines(log)) do pids[#pids + 1] = tonumber(l:match('^start %d %d (%d+)')) end
sup:kill('SIGTERM')
tap.same(tap.pack(utils.timeout(20, sup.wait, sup)), { 'exit', 1 },
	'workers that go on after SIGTERM are killed after the grace period: exit 1')
tap.like(sup.stderr:read('*a'), 'still running after 0%.5 s: killed', '... the supervisor says so')
tap.ok(gone(pids[1]) and gone(pids[2]), '... none is left')
port, log = free_port(), tap.tmpname('.log')
sup = assert(process.spawn({ tap.lem, '--workers', 2, worker, port, log }, { stderr = 'null' }))
tap.kill_at_end(sup.pid)
tap.ok(tap.waitfor(function() return ask(port) ~= nil and #lines(log) == 2 end), 'two workers again')
sup:kill('SIGINT')
tap.same(tap.pack(utils.timeout(20, sup.wait, sup)), { 'exit', 0 }, 'SIGINT: passed on, the supervisor exits 0')
t = table.concat(lines(log), '\n')
tap.ok(t:find('int 1') and t:find('int 2') and not t:find('term'), '... the workers got SIGINT', t)

-- a second SIGTERM kills at once
port, log = free_port(), tap.tmpname('.log')
sup = assert(process.spawn({ tap.lem, '--workers', 1, '--grace', 60, worker, port, log, 'stay' },
	{ stderr = 'pipe' }))
tap.kill_at_end(sup.pid)
tap.ok(tap.waitfor(function() return ask(port) ~= nil end), 'one worker')
sup:kill('SIGTERM')
tap.ok(tap.waitfor(function() return #lines(log) == 2 end), '... SIGTERM reaches it')
sup:kill('SIGTERM')
tap.same(tap.pack(utils.timeout(20, sup.wait, sup)), { 'exit', 1 }, 'a second SIGTERM kills the rest at once')

-- the supervisor killed outright: its workers go too
port, log = free_port(), tap.tmpname('.log')
sup = assert(process.spawn({ tap.lem, '--workers', 2, worker, port, log }, { stderr = 'null' }))
tap.kill_at_end(sup.pid)
tap.ok(tap.waitfor(function() return #lines(log) == 2 end), 'two workers')
pids = {}
for _, l in ipairs(lines(log)) do pids[#pids + 1] = tonumber(l:match('^start %d %d (%d+)')) end
sup:kill('SIGKILL')
sup:wait()
tap.ok(tap.waitfor(function() return gone(pids[1]) and gone(pids[2]) end),
	'SIGKILL to the supervisor: the workers end too')

-- backoff: a worker that fails at once waits longer each time
port, log = free_port(), tap.tmpname('.log')
sup = assert(process.spawn({ tap.lem, '--workers', 1, worker, port, log, 'crash' }, { stderr = 'pipe' }))
tap.kill_at_end(sup.pid)
local got = {}
while #got < 4 do
	local l = sup.stderr:read('*l')
	if not l then break end
	local d = l:match('restarts in ([%d.]+) s')
	if d then got[#got + 1] = tonumber(d) end
end
tap.same(got, { 0.1, 0.2, 0.4, 0.8 }, 'a worker failing at once: 0.1, 0.2, 0.4, 0.8 s before the restarts')
sup:kill('SIGTERM')
tap.same(tap.pack(utils.timeout(20, sup.wait, sup)), { 'exit', 0 }, '... SIGTERM ends it')

-- --------------------------------------------------- bad options
local out, err, status = tap.sh(tap.quote(tap.lem) .. ' -e "print(require(\'lem.utils\').worker())"')
tap.is(out, '1\t1\n', 'utils.worker() without workers: 1, 1')
for _, c in ipairs({
	{ '--workers 0 x.lua', '%-%-workers wants a number from 1 to 1024' },
	{ '--workers two x.lua', '%-%-workers wants a number' },
	{ '--workers=1.5 x.lua', '%-%-workers wants a number' },
	{ '--workers', '%-%-workers wants a number' },
	{ '--grace -1 --workers 2 x.lua', '%-%-grace wants a number of seconds' },
	{ '--workers 2', '%-%-workers needs a script file' },
	{ '--workers 2 -', '%-%-workers needs a script file' },
	{ '--workers 2 /no/such/script.lua', 'cannot open /no/such/script.lua: No such file or directory' },
}) do
	out, err, status = tap.sh(tap.quote(tap.lem) .. ' ' .. c[1])
	tap.ok(status == 1 and err:find(c[2]), 'lem ' .. c[1] .. ': status 1 and a message', err)
end

tap.done()
