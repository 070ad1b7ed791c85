-- t/20-http-parser.t - lem's HTTP/1.1 parser and chunked decoder as a
-- plain C unit (lib/lem/http/parser.c): it compiles alone with $CC, without
-- warnings, and t/http_parser_test.c's checks pass, in the
-- t/http_parser_test that make check built (or, run by prove, here).
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')

tap.plan(2, 120)

local cc = os.getenv('CC') or 'cc'
local cflags = ''
local src = tap.dir .. '/../lib/lem/http'
local exe = tap.tmpname()
local out, err, st = tap.sh(cc .. ' -Wall -Wextra -O1 ' .. cflags ..
	' -I' .. tap.quote(src) .. ' -o ' .. exe .. ' ' ..
	tap.quote(tap.dir .. '/http_parser_test.c') .. ' ' ..
	tap.quote(src .. '/parser.c'))
local built = os.getenv('LEM_TEST_BUILT')
if built then exe = built .. '/http_parser_test' end
if not tap.ok(st == 0 and err == '', 'parser.c builds alone, without warnings', err) then
	tap.skip(1, 'no test program')
else
	out, err, st = tap.sh(exe)
	tap.like(out, '^ok %d+\n$', 'every check of the HTTP parser passes', out .. err)
end
tap.cleanup()
tap.done()
