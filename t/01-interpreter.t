-- t/01-interpreter.t - the lem command line: options, arg, exit status,
-- error reports, output, signals (README "Running scripts")
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local sh, lemrun, q = tap.sh, tap.lemrun, tap.quote
local LEM = q(tap.lem)

tap.plan(65, 120)

-- options
local o, e, st = sh(LEM .. ' -v')
tap.like(o, '^lem %d+%.%d+%.%d+ %(', '-v prints the version')
tap.is(st, 0, '-v alone exits 0')
o, e, st = sh(LEM .. ' --version')
tap.like(o, '^lem %d', '--version prints the version')
o, e, st = sh(LEM .. " -e 'print(1 + 1)'")
tap.is(o, '2\n', '-e runs a statement')
tap.is(st, 0, '-e alone exits 0')
o, e, st = sh(LEM .. " -e 'x = 1' -e'print(x + 1)'")
tap.is(o, '2\n', '-e twice, attached and separate, in order')
local mod = tap.tmpname()
os.execute('mkdir -p ' .. mod)
tap.writefile(mod .. '/lemtestmod.lua', "io.write('loaded ') return {}")
o, e, st = sh('LUA_PATH=' .. q(mod .. '/?.lua;;') .. ' ' .. LEM ..
	" -l lemtestmod -e 'print(package.loaded.lemtestmod ~= nil)'")
tap.is(o, 'loaded true\n', '-l requires a module before -e')
o, e, st = sh(LEM .. ' -i')
tap.is(st, 1, '-i (no REPL) is rejected with status 1')
tap.like(e, 'usage:', '... and a usage message')
o, e, st = sh(LEM .. ' -x')
tap.is(st, 1, 'an unknown option exits 1')
o, e, st = sh(LEM .. ' -e')
tap.is(st, 1, '-e without a statement exits 1')

-- arg and ...
local script = tap.writefile(tap.tmpname('.lua'), [[
print(arg[0] ~= nil, arg[1], arg[2], #arg, select('#', ...), ...)
print(arg[-1] ~= nil, arg[-2])
]])
o, e, st = sh(LEM .. ' -e "y=1" ' .. script .. ' a b')
tap.is(o, 'true\ta\tb\t2\t2\ta\tb\ntrue\t-e\n', 'arg table and ... hold the arguments')
o, e, st = sh(LEM .. ' -- ' .. script .. ' --x')
tap.like(o, '^true\t%-%-x\tnil\t1\t1\t%-%-x', '-- ends the options')
o, e, st = sh(LEM .. ' - a b', 'print(arg[0], ...)')
tap.is(o, '-\ta\tb\n', '- runs stdin with arguments')
o, e, st = sh(LEM, 'print("from stdin")')
tap.is(o, 'from stdin\n', 'no script and stdin not a terminal: runs stdin')
if os.execute('command -v script >/dev/null 2>&1') == 0 then
	o, e, st = sh('script -qec ' .. q(tap.lem) .. ' /dev/null')
	tap.is(st, 1, 'no script on a terminal: status 1')
	tap.like(o .. e, 'usage:', '... with usage (no REPL)')
else
	tap.skip(2, 'script(1) not available for a terminal')
end

-- hash-bang scripts
local hb = tap.writefile(tap.tmpname('.lua'),
	'#!/usr/bin/env lem\nprint("hash-bang", ...)\n')
os.execute('chmod +x ' .. hb)
local bindir = tap.lem:match('^(.*)/') or '.'
o, e, st = sh('PATH=' .. q(bindir) .. ':$PATH ' .. hb .. ' x')
tap.is(o, 'hash-bang\tx\n', 'an executable script with #!/usr/bin/env lem runs')

-- LUA_INIT
o, e, st = sh('LUA_INIT="z = 42" ' .. LEM .. " -e 'print(z)'")
tap.is(o, '42\n', 'LUA_INIT as a chunk')
local init = tap.writefile(tap.tmpname('.lua'), 'z = 43')
o, e, st = sh('LUA_INIT=@' .. init .. ' ' .. LEM .. " -e 'print(z)'")
tap.is(o, '43\n', 'LUA_INIT as @file')

-- errors and exit status
o, e, st = lemrun('print("before")\nerror("boom")\nprint("after")')
tap.is(o, 'before\n', 'an error stops the main chunk')
tap.is(st, 1, 'an uncaught error exits 1')
tap.like(e, '^lem: [^\n]*:2: boom\nstack traceback:\n', 'message and traceback on stderr')
o, e, st = lemrun([[
local utils = require 'lem.utils'
local function deep() error('in spawned') end
utils.spawn(function() deep() end)
utils.spawn(function() print('must not run') end)
utils.yield()
print('must not run either')
]])
tap.is(st, 1, 'an error in a spawned coroutine exits 1')
tap.like(e, 'in spawned\nstack traceback:.*deep', 'with that coroutine\'s traceback')
tap.is(o, '', 'nothing runs after the error')
o, e, st = lemrun('error({})')
tap.like(e, '^lem: %(error object is a table value%)', 'a table error object')
o, e, st = lemrun('error()')
tap.is(e, '', 'a nil error object: nothing printed, as lua(1)')
tap.is(st, 1, '... still status 1')
o, e, st = lemrun('error(setmetatable({}, {__tostring = function() return "custom" end}))')
tap.like(e, '^lem: custom', 'an error object with __tostring')
o, e, st = lemrun('error(setmetatable({}, {__tostring = function() error("bad") end}))')
tap.is(st, 1, 'an error object whose __tostring raises: status 1')
tap.like(e, '^lem: %(error object is a table value%)', '... and a fallback message')
o, e, st = lemrun('x = = 1')
tap.is(st, 1, 'a syntax error exits 1')
tap.like(e, "^lem: [^\n]*unexpected symbol near '='\n$", '... with the message only')
o, e, st = sh(LEM .. ' /nonexistent/script.lua')
tap.is(st, 1, 'a missing script exits 1')
tap.like(e, 'cannot open /nonexistent/script.lua', '... and says so')
o, e, st = lemrun('print("fine")')
tap.is(st, 0, 'a normal end exits 0')

-- the end of the program
o, e, st = lemrun([[
local utils = require 'lem.utils'
local s = utils.sleeper()
utils.spawn(function() s:sleep() print('never') end)
print('main done')
]])
tap.is(o, 'main done\n', 'a sleeper nobody can wake does not keep lem alive')
tap.is(st, 0, '... and the exit status is 0')

-- utils.exit
o, e, st = lemrun([[
local utils = require 'lem.utils'
local p = newproxy(true)
getmetatable(p).__gc = function() io.write('gc ran\n') end
_G.keep = p
utils.spawn(function() print('must not run') end)
io.write('buffered ')
utils.exit(3)
print('not reached')
]])
tap.is(st, 3, 'utils.exit(3) exits 3')
tap.is(o, 'buffered gc ran\n', '... runs __gc, flushes output, runs nothing else')
o, e, st = lemrun('require("lem.utils").exit(true)')
tap.is(st, 0, 'utils.exit(true) exits 0')
o, e, st = lemrun('require("lem.utils").exit(false)')
tap.is(st, 1, 'utils.exit(false) exits 1')
o, e, st = lemrun('require("lem.utils").exit()')
tap.is(st, 0, 'utils.exit() exits 0')
o, e, st = lemrun('require("lem.utils").exit("x")')
tap.is(st, 1, 'utils.exit("x") raises')
tap.like(e, "bad argument #1 to 'exit'", '... a clear argument error')
o, e, st = lemrun([[
local utils = require 'lem.utils'
utils.spawn(function() utils.exit(5) end)
local s = utils.sleeper()
print(s:sleep(10))
]])
tap.is(st, 5, 'utils.exit from a spawned coroutine ends a sleeping main')
tap.is(o, '', '... whose sleep never returns')
o, e, st = lemrun([[
local utils = require 'lem.utils'
local ok = pcall(utils.exit, 4)
print('not reached', ok)
]])
tap.is(st, 4, 'utils.exit inside pcall still exits')
tap.is(o, '', '... without returning')
o, e, st = lemrun([[
local p = newproxy(true)
getmetatable(p).__gc = function() error('gc error') end
_G.keep = p
require('lem.utils').exit(6)
]])
tap.is(st, 6, 'a __gc that raises at exit does not change the status')

-- output is never lost
o, e, st = sh(LEM .. " -e 'for i = 1, 100000 do print(i) end require(\"lem.utils\").exit(0)' | wc -l")
tap.like(o, '^%s*100000%s*$', '100000 lines through a pipe, then utils.exit: none lost')
o, e, st = sh(LEM .. " -e 'io.write((\"x\"):rep(1000000))' | wc -c")
tap.like(o, '^%s*1000000%s*$', '1 MB written with io.write through a pipe')

-- signals and descriptors
o, e, st = sh('bash -c ' .. q(tap.lem .. [[ -e 'for i = 1, 200000 do io.write("line\n") end print("alive")' 2>/dev/null | head -c 1 >/dev/null; echo ${PIPESTATUS[0]}]]))
tap.is(o, '0\n', 'writing to a closed pipe does not kill lem (no SIGPIPE death)')
o, e, st = sh(LEM .. [[ -e 'os.execute("grep SigIgn /proc/self/status")']])
local ign = tonumber(o:match('SigIgn:%s*(%x+)') or '0', 16) or 0
tap.ok(math.floor(ign / 4096) % 2 == 0, 'children do not inherit an ignored SIGPIPE', o)
o, e, st = sh(LEM .. [[ -e 'os.execute("ls -l /proc/self/fd")']])
tap.ok(not o:find('eventpoll') and not o:find('eventfd'),
	'no descriptor of lem leaks into children (close-on-exec)', o)

-- lem does not reap children it did not start
o, e, st = lemrun([[
local p = io.popen('exit 3')
require('lem.utils').sleeper():sleep(0.2)
print(p:close())
]])
tap.like(o, '^true', 'io.popen:close() still gets its child after the loop ran')

-- stdio descriptors are left as lem found them
o, e, st = sh(LEM .. [[ -e 'print(1)' | cat]])
tap.is(o, '1\n', 'plain output through a pipe')

-- arg is set once -e and -l have run, as lua(1) does
o, e, st = sh(LEM .. [[ -e 'io.write(tostring(arg), " ")' ]] ..
	tap.quote(tap.writefile(tap.tmpname('.lua'), 'io.write(type(arg), " ", arg[1])')) .. ' one')
tap.is(o, 'nil table one', 'arg is not set during -e, and is set for the script')

-- descriptors 0-2 closed at start: /dev/null takes their place (not
-- under valgrind, which wants its own output descriptor)
if (tap.readfile(tap.lem) or ''):find('valgrind', 1, true) then
	tap.skip(2, 'valgrind needs descriptor 2')
else
	o, e, st = sh(LEM .. [[ -e 'local f = io.open("/proc/self/fd/1") print("x")' <&- >&- 2>&-; echo "st=$?"]])
	tap.is(o, 'st=0\n', 'lem runs with 0-2 closed')
	do
		local report = tap.tmpname('.fds')
		local script = tap.writefile(tap.tmpname('.lua'), [[
			local s = require('lem.streams').tcp_listen('127.0.0.1', 0)
			local f = io.open(']] .. report .. [[', 'w')
			for i = 0, 2 do
				local p = io.popen('readlink /proc/' ..
					io.open('/proc/self/stat'):read('*n') .. '/fd/' .. i)
				f:write(p:read('*l'), ' ')
				p:close()
			end
			f:close()
		]])
		sh(LEM .. ' ' .. script .. ' <&- >&- 2>&-')
		tap.is(tap.readfile(report), '/dev/null /dev/null /dev/null ',
			'what lem opens does not land on 0-2')
	end
end

-- the traceback of an uncaught error shows where it happened
o, e, st = lemrun([[
table.sort({ 3, 1, 2 }, function(a, b) local t = nil return t.x < b end)
]])
tap.like(e, 'attempt to index.*stack traceback:.-:1: in function <', 
	'an error in a sort comparator: its own frame is in the traceback')
o, e, st = lemrun([[
local utils = require 'lem.utils'
local function deeper() local t = {} return t.a.b end
utils.spawn(function() utils.sleep(0.001) deeper() end)
]])
tap.like(e, ":2: attempt to index.*in function 'deeper'",
	'an error in a spawned coroutine after a wait: the frames where it happened')

-- and ends with the main chunk, as lua(1)'s does: no frame of lem's own
o, e, st = lemrun('local function f() error("low") end\nf()\n')
tap.like(e, ':2: in main chunk\n$', 'a traceback ends at the script\'s main chunk', e)
o, e, st = sh(LEM .. " -e 'local x = nil; x()'")
tap.like(e, '%(command line%):1: in main chunk\n$',
	'... and at the -e chunk', e)

tap.cleanup()
tap.done()
