-- t/04-pcall-messages.t - lem's yield-safe pcall on Lua 5.1 leaves
-- error messages as lua(1) makes them (a regression test).
--
-- pcall(cfunc, ...) runs cfunc under a small Lua trampoline; its line
-- information and its local name used to show up: pcall(error, 'x')
-- gave '[string "local func = ..."]:1: x' instead of 'x', and argument
-- errors named 'func'.
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'

tap.plan(8)

local ok, err = pcall(error, 'x')
tap.is(ok, false, 'pcall(error, "x") fails')
tap.is(err, 'x', '... with exactly "x"')
ok, err = pcall(string.rep)
tap.like(err, "^bad argument #1 to '%??r?e?p?'", 'argument errors carry no position')
tap.ok(not err:find('func', 1, true), '... and do not name the trampoline', err)
local t = {}
ok, err = pcall(error, t)
tap.ok(err == t, 'pcall(error, table) returns the table itself')
ok, err = xpcall(error, function(m) return 'handled ' .. tostring(m) end)
tap.is(err, 'handled nil', 'xpcall(error, handler) on a C function')
local s = utils.sleeper()
tap.same(tap.pack(pcall(s.sleep, s, 0.01)), { true, nil, 'timeout', n = 3 },
	'pcall of a C function that suspends still works')
ok, err = pcall(function() error('z') end)
tap.like(err, '^.*04%-pcall%-messages%.t:%d+: z$',
	'Lua functions keep their positions')

tap.done()
