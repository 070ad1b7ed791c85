-- t/13-streams-sendfile-fifo.t - streams.sendfile() refuses a FIFO without
-- blocking the program.
--
-- sendfile(path) used to open() the path first and look at it after: on a
-- FIFO without a writer that open() waits, and the whole loop with it
-- (examples/fileserver.lua froze for every client on GET /fifo).  The
-- FIFO case runs in a child lem under timeout(1), so that a blocked loop
-- fails the test instead of hanging it.
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local streams = require 'lem.streams'

tap.plan(6, 60)

local fifo = tap.tmpname('.fifo')
os.execute('mkfifo ' .. fifo)
local limit = math.floor(10 * tap.slow)
local script = tap.writefile(tap.tmpname('.lua'), [[
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local ticks = 0
utils.spawn(function() ticks = ticks + 1 end)
local f, err = streams.sendfile(arg[1])
print(tostring(f), err)
utils.yield()
print('ticks', ticks)
]])
local o, e, st = tap.sh('timeout -k 1 ' .. limit .. ' ' .. tap.quote(tap.lem) ..
	' ' .. script .. ' ' .. tap.quote(fifo))
tap.is(st, 0, 'sendfile(fifo) returns: the loop is not blocked in open()', e)
tap.like(o, '^nil\tnot a regular file\n', "... with nil, 'not a regular file'")
tap.like(o, 'ticks\t1\n', '... and other coroutines still run')

local r, err = streams.sendfile('/')
tap.ok(r == nil and err == 'not a regular file', "a directory: nil, 'not a regular file'", err)
r, err = streams.sendfile('/dev/zero')
tap.ok(r == nil and err == 'not a regular file', "a device: nil, 'not a regular file'", err)
local file = tap.writefile(tap.tmpname(), 'regular')
local f = assert(streams.sendfile(file))
tap.is(f:size(), 7, 'a regular file still opens')
f:close()
tap.cleanup()
tap.done()
