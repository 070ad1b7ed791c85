-- t/03-sleeper-gc-self.t - utils.Sleeper.__gc called from Lua with
-- something that is not a sleeper (found by t/hostile/02-wrong-self.lua).
--
-- The metatable is exported, so __gc is an ordinary Lua-callable
-- function: it used lua_touserdata without a check and stopped a
-- "timer" at NULL or inside another object (UBSan: member access
-- within null pointer).
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local gc = utils.Sleeper.__gc

tap.plan(5)

tap.fails("bad argument #1 to '[^']*' %(lem.Sleeper expected, got no value%)",
	'__gc() raises', gc)
tap.fails("bad argument #1 to '[^']*' %(lem.Sleeper expected, got nil%)",
	'__gc(nil) raises', gc, nil)
tap.fails("bad argument #1 to '[^']*' %(lem.Sleeper expected, got userdata%)",
	'__gc(io.stdout) raises', gc, io.stdout)
local s = utils.sleeper()
gc(s)
tap.is(select(2, s:sleep(0)), 'timeout', 'a sleeper still works after __gc(s)')
tap.like(tostring(io.stdout), '^file', 'io.stdout is untouched')

tap.done()
