-- t/10-streams-gc-self.t - Stream.__gc, Server.__gc and SendFile.__gc
-- called from Lua with the wrong object (found by the hostile cases
-- t/hostile/01-type-matrix.lua and t/hostile/02-wrong-self.lua).
--
-- The metatables are exported (streams.Stream etc.), so __gc is callable
-- like any method; it used lua_touserdata without a check and then
-- closed/stopped whatever the argument was (UBSan: member access within
-- null pointer; ASan: heap-buffer-overflow on io.stdout's userdata).
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local streams = require 'lem.streams'
local utils = require 'lem.utils'

tap.plan(10)

for _, kind in ipairs({ 'Stream', 'Server', 'SendFile' }) do
	local gc = streams[kind].__gc
	tap.fails('bad argument #1 to', kind .. '.__gc() raises', gc)
	tap.fails('bad argument #1 to', kind .. '.__gc(io.stdout) raises', gc, io.stdout)
	tap.fails('bad argument #1 to', kind .. '.__gc(sleeper) raises', gc, utils.sleeper())
end
tap.ok(io.stdout:write(''), 'io.stdout is untouched')
tap.done()
