-- t/12-streams-popen-exit-leak.t - a popen child still running when lem
-- exits leaks nothing (a regression test).
--
-- lua_close() unloads lem.streams after the finalizers; the record of a
-- child still running was left allocated and became unreachable: 16
-- bytes "definitely lost" (valgrind) / a LeakSanitizer report (ASan).
-- This test runs such a script under valgrind when lem is a plain
-- build, or plainly when lem has ASan built in.
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')

tap.plan(2, 120)

local bin = tap.readfile(tap.lem) or ''
local script = tap.writefile(tap.tmpname('.lua'), [[
local streams = require 'lem.streams'
P = streams.popen('sleep 1')
Q = streams.popen('cat', 'w')
print('started')
]])
local prefix
if bin:find('__asan_init', 1, true) or bin:find('valgrind', 1, true) then
	prefix = ''                  -- the sanitizer or valgrind is built in
elseif os.execute('command -v valgrind >/dev/null 2>&1') == 0 then
	prefix = 'valgrind -q --leak-check=full --errors-for-leak-kinds=definite ' ..
		'--error-exitcode=99 '
end
if not prefix then
	tap.skip(2, 'neither valgrind nor an ASan build')
else
	local o, e, st = tap.sh(prefix .. tap.quote(tap.lem) .. ' ' .. script)
	tap.is(o, 'started\n', 'the script ran')
	tap.is(st, 0, 'exit with children still running: no leak reported', e)
end
tap.cleanup()
tap.done()
