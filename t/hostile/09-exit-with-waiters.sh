# 9. utils.exit(3) with 1000 coroutines blocked (in sleep; the stream
# variant is in the streams cases); exit twice; a __gc that raises.
# rc 3, every descriptor closed; no leak (valgrind build: definitely lost 0).
. "$HOSTILE_DIR/h.sh"

lemrun '
local utils = require "lem.utils"
local files = {}
for i = 1, 20 do files[i] = assert(io.open("/dev/null")) end
for i = 1, 1000 do
	utils.spawn(function() utils.sleeper():sleep() end)
	utils.spawn(function() utils.sleeper():sleep(30) end)
end
local p = newproxy(true)
getmetatable(p).__gc = function() error("gc raises") end
KEEP = p
local q = newproxy(true)
getmetatable(q).__gc = function() utils.exit(7) end
KEEP2 = q
utils.yield()
utils.spawn(function() utils.exit(4) end)
utils.exit(3)
print("NOT REACHED")
'
is "$rc" 3 'exit(3) with 2000 sleepers, a raising __gc and exit in __gc: status 3'
unlike "$out" 'NOT REACHED' 'exit does not return'
nosan 'exit(3)'

lemrun '
local utils = require "lem.utils"
utils.spawn(function() utils.exit(5) end)
utils.spawn(function() utils.exit(6) end)
'
is "$rc" 5 'two coroutines call exit: the first wins'

lemrun '
local utils = require "lem.utils"
print(pcall(utils.exit, 8))
print("NOT REACHED")
'
is "$rc" 8 'exit inside pcall: status 8'
unlike "$out" 'NOT REACHED' '... nothing after it'

lemrun '
local utils = require "lem.utils"
table.sort({2, 1}, function(a, b) utils.exit(9) return a < b end)
print("AFTER SORT")
'
# exit works where the coroutine cannot suspend too: the caller gets the
# "yield across" error (an uncaught error), the status stays 9
is "$rc" 9 'exit inside a sort comparator: status 9'
finish
