-- t/05-capi-rock-sample.t - the sample LuaRocks module of README
-- ("LuaRocks"), examples/rock/delay.c, builds as its rockspec builds it
-- (the lem.h flags, -shared, nothing linked) and its test.lua passes
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')

tap.plan(2, 60)

local cc = os.getenv('CC') or 'cc'
local cppflags = os.getenv('LEM_CPPFLAGS')
if not cppflags then
	-- run by prove from the source tree: guess the flags
	local p = io.popen('pkg-config --cflags lua5.1 2>/dev/null')
	cppflags = '-I' .. tap.dir .. '/../include ' .. (p:read('*l') or '')
	p:close()
end
local rock = tap.dir .. '/../examples/rock'
local dir = tap.tmpname()
os.execute('mkdir ' .. tap.quote(dir))
local _, err, st = tap.sh(cc .. ' -O2 -fPIC -Wall -Wextra ' .. cppflags ..
	' -shared -o ' .. tap.quote(dir .. '/delay.so') .. ' ' .. tap.quote(rock .. '/delay.c'))
if not tap.ok(st == 0 and err == '', 'examples/rock/delay.c builds, without warnings', err) then
	tap.skip(1, 'no module')
else
	local out
	out, err, st = tap.sh('LUA_CPATH=' .. tap.quote(dir .. '/?.so;' .. package.cpath) ..
		' ' .. tap.quote(tap.lem) .. ' ' .. tap.quote(rock .. '/test.lua'))
	tap.like(out, '^ok: delay.value returned "later"', 'examples/rock/test.lua passes', err)
end
tap.done()
