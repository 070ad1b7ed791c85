-- t/02-utils-spawn-in-gc.t - __gc metamethods that call pcall or spawn
-- while a collection step runs on lem's main state (a regression test).
--
-- lem_newthread allocates on the main state; the collection step that
-- allocation triggers runs pending __gc metamethods there, in a new
-- frame.  lem used to address its thread table as stack slot 1 of the
-- main state, which inside that frame is something else: lua_rawset on
-- it crashed (SEGV under ASan, silent corruption without).
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')

tap.plan(4, 120)

local o, e, st = tap.lemrun([[
local utils = require 'lem.utils'
local n = 0
local gc = function() pcall(function() n = n + 1 end) end
for i = 1, 50000 do
	local p = newproxy(true)
	getmetatable(p).__gc = gc
	utils.spawn(function() end)
end
collectgarbage()
print('done', n > 0)
]])
tap.is(o, 'done\ttrue\n', '__gc calling pcall during a spawn storm')
tap.ok(st == 0, '... exits 0 (status ' .. tostring(st) .. ')', e)

o, e, st = tap.lemrun([[
local utils = require 'lem.utils'
local ran = 0
local gc = function() utils.spawn(function() ran = ran + 1 end) end
for i = 1, 50000 do
	local p = newproxy(true)
	getmetatable(p).__gc = gc
	utils.spawn(function() end)
end
collectgarbage()
utils.yield()
utils.yield()
print('done', ran > 0)
]])
tap.is(o, 'done\ttrue\n', '__gc calling spawn during a spawn storm')
tap.ok(st == 0, '... exits 0 (status ' .. tostring(st) .. ')', e)

tap.cleanup()
tap.done()
