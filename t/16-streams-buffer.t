-- t/16-streams-buffer.t - the read buffer of lem.streams as a plain C
-- unit (lib/lem/streams/buffer.c): it compiles alone with $CC, without
-- warnings, and t/buffer_test.c's checks pass.  Those run in the
-- t/buffer_test that make check built with the build's flags (the
-- sanitizers' too), or, run by prove, in the one compiled here.
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')

tap.plan(2, 60)

local cc = os.getenv('CC') or 'cc'
local src = tap.dir .. '/../lib/lem/streams'
local exe = tap.tmpname()
local out, err, st = tap.sh(cc .. ' -Wall -Wextra -O1 -I' .. tap.quote(src) ..
	' -o ' .. exe .. ' ' .. tap.quote(tap.dir .. '/buffer_test.c') .. ' ' ..
	tap.quote(src .. '/buffer.c'))
local built = os.getenv('LEM_TEST_BUILT')
if built then exe = built .. '/buffer_test' end
if not tap.ok(st == 0 and err == '', 'buffer.c builds alone, without warnings', err) then
	tap.skip(1, 'no test program')
else
	out, err, st = tap.sh(tap.quote(exe))
	tap.like(out, '^ok %d+\n$', 'every check of the buffer passes', out .. err)
end
tap.cleanup()
tap.done()
