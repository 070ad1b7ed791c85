-- t/21-websocket-frame.t - the RFC 6455 functions of lem.websocket as a
-- plain C unit (lib/lem/websocket/frame.c): it compiles alone with $CC,
-- without warnings, and t/ws_frame_test.c's checks pass, in the
-- t/ws_frame_test that make check built (or, run by prove, here).
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')

tap.plan(2, 120)

local cc = os.getenv('CC') or 'cc'
local cflags = ''
local src = tap.dir .. '/../lib/lem/websocket'
local exe = tap.tmpname()
local out, err, st = tap.sh(cc .. ' -Wall -Wextra -O1 ' .. cflags ..
	' -I' .. tap.quote(src) .. ' -o ' .. exe .. ' ' ..
	tap.quote(tap.dir .. '/ws_frame_test.c') .. ' ' ..
	tap.quote(src .. '/frame.c'))
local built = os.getenv('LEM_TEST_BUILT')
if built then exe = built .. '/ws_frame_test' end
if not tap.ok(st == 0 and err == '', 'frame.c builds alone, without warnings', err) then
	tap.skip(1, 'no test program')
else
	out, err, st = tap.sh(exe)
	tap.like(out, '^ok %d+\n$',
		'every check of the WebSocket frame functions passes', out .. err)
end
tap.cleanup()
tap.done()
