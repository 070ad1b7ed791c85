-- needs: lem.process
-- 46. The type matrix (case 1) for lem.process, lem.signal and lem.fs:
-- every function and method, every slot including self, every kind of
-- value.  Expect "bad argument" errors or nil, message; no crash, no
-- other error, the descriptor set unchanged.  It runs in a lem of its
-- own whose working directory is a scratch directory, since some of
-- the values ('0', '') become file names.
local h = require 'h'
local process = require 'lem.process'

local dir = h.tmpname('.d')
assert(os.execute('mkdir ' .. dir) == 0)
local script = h.tmpname('.lua')
local f = assert(io.open(script, 'w'))
f:write([=[
local utils = require 'lem.utils'
local process = require 'lem.process'
local signal = require 'lem.signal'
local fs = require 'lem.fs'
local streams = require 'lem.streams'
local done = assert(process.spawn({ 'true' }))
done:wait()
local file = assert(fs.open('x', 'w+'))
assert(fs.writefile('ff', 'file for the File methods'))
local listener = signal.listen('SIGUSR2')
local values = {
	{ 'nil', nil }, { 'true', true }, { '0', 0 }, { '-1', -1 },
	{ '1e308', 1e308 }, { 'nan', 0 / 0 }, { '""', '' }, { '{}', {} },
	{ 'print', print }, { 'thread', coroutine.create(function() end) },
	{ 'io.stdout', io.stdout }, { 'sleeper', utils.sleeper() },
	{ 'process', done }, { 'file', file }, { 'listener', listener },
	{ 'stream', assert(streams.open('/dev/null')) },
}
local targets = {}
local function t(name, fn, valid) targets[#targets + 1] = { name, fn, valid } end
t('process.spawn', process.spawn, function() return { 'true' }, { stdout = 'null' } end)
t('process.run', process.run, function() return { 'true' }, { max_output = 10 } end)
for _, m in ipairs({ 'wait', 'kill', 'status', '__index', '__tostring', '__gc' }) do
	t('Process.' .. m, process.Process[m], function() return done, 'pid' end)
end
t('signal.listen', signal.listen, function() return 'SIGUSR2', 'SIGWINCH' end)
for _, m in ipairs({ 'wait', 'close', '__tostring', '__gc' }) do
	t('Listener.' .. m, signal.Listener[m], function() return signal.listen('SIGUSR2') end)
end
t('fs.open', fs.open, function() return 'y', 'w', '0644' end)
for _, n in ipairs({ 'stat', 'lstat', 'readdir', 'readlink', 'realpath', 'readfile',
		'rmdir', 'remove' }) do
	t('fs.' .. n, fs[n], function() return 'x' end)
end
t('fs.mkdir', fs.mkdir, function() return 'd', '0755' end)
t('fs.chmod', fs.chmod, function() return 'x', '0644' end)
t('fs.writefile', fs.writefile, function() return 'w', 'data' end)
for _, n in ipairs({ 'rename', 'link', 'symlink' }) do
	t('fs.' .. n, fs[n], function() return 'x', 'z' end)
end
for _, m in ipairs({ 'read', 'write', 'seek', 'sync', 'size', 'close', 'closed',
		'busy', '__tostring', '__gc' }) do
	t('File.' .. m, fs.File[m], function() return assert(fs.open('ff', 'r+')), 'cur', 0 end)
end
local calls, badarg, nilmsg, returned, others = 0, 0, 0, 0, {}
local pending = 0
for _, tg in ipairs(targets) do
	local name, fn, valid = tg[1], tg[2], tg[3]
	for slot = 1, 3 do
		for _, v in ipairs(values) do
			local args = { valid() }
			args[slot] = v[2]
			local n = math.max(slot, 3)
			calls = calls + 1
			pending = pending + 1
			utils.spawn(function()
				local r = { pcall(utils.timeout, 0.05, fn, unpack(args, 1, n)) }
				pending = pending - 1
				if not r[1] then
					if tostring(r[2]):find('bad argument', 1, true) then
						badarg = badarg + 1
					else
						others[#others + 1] = name .. ' #' .. slot .. ' = ' .. v[1] .. ': ' .. tostring(r[2])
					end
				elseif r[2] == nil and type(r[3]) == 'string' then
					nilmsg = nilmsg + 1
				else
					returned = returned + 1
				end
			end)
		end
	end
end
while pending > 0 do utils.sleep(0.01) end
collectgarbage()
print(calls, badarg, nilmsg, returned, #others)
for i = 1, math.min(#others, 10) do print(others[i]) end
]=])
f:close()
local p = assert(process.spawn({ h.lem, script }, { cwd = dir, stdout = 'pipe', stderr = 'stdout' }))
local out = p.stdout:read('*a')
local how, code = p:wait()
os.execute('rm -rf ' .. dir)
os.remove(script)
local calls, badarg, nilmsg, returned, nothers = out:match('^(%d+)\t(%d+)\t(%d+)\t(%d+)\t(%d+)')
h.same({ how, code }, { 'exit', 0 }, 'the matrix ran to its end', out)
h.ok(calls and tonumber(nothers) == 0, 'only "bad argument" errors or nil, message', out)
h.figure('type matrix (process, signal, fs)', ('%s calls: %s bad argument, %s nil+msg, %s returned'):format(
	tostring(calls), tostring(badarg), tostring(nilmsg), tostring(returned)))
h.done()
