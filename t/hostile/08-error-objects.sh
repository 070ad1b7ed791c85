# 8. Non-string error objects: "(error object is a X value)" (nil:
# nothing, as lua(1)), never a NULL passed to printf, status 1.
. "$HOSTILE_DIR/h.sh"

check() {      # check CODE WANT-ERE DESC
	lemrun "$1"
	is "$rc" 1 "$3: status 1"
	if [ -z "$2" ]; then is "$err" "" "$3: nothing printed"
	else like "$err" "$2" "$3: message"; fi
	nosan "$3"
}
check 'error({})' '^lem: \(error object is a table value\)' 'error({})'
# a nil error prints nothing, as lua(1)
check 'error(nil)' '' 'error(nil)'
check 'error()' '' 'error()'
check 'error(true)' '^lem: \(error object is a boolean value\)' 'error(true)'
check 'error(42)' '^lem: .*:1: 42' 'error(42)'
check 'error(print)' '^lem: \(error object is a function value\)' 'error(print)'
check 'error(newproxy())' '^lem: \(error object is a userdata value\)' 'error(newproxy())'
check 'error(setmetatable({}, { __tostring = function() return "custom" end }))' \
	'^lem: custom' '__tostring returning a string'
check 'error(setmetatable({}, { __tostring = function() error("inner") end }))' \
	'^lem: \(error object is a table value\)' '__tostring that raises'
check 'error(setmetatable({}, { __tostring = function() return {} end }))' \
	'^lem: \(error object is a table value\)' '__tostring returning a table'
check 'error(setmetatable({}, { __tostring = function() return nil end }))' \
	'^lem: \(error object is a table value\)' '__tostring returning nil'
check 'require("lem.utils").spawn(function() error({}) end)' \
	'^lem: \(error object is a table value\)' 'error({}) in a spawned coroutine'
check 'error(string.rep("x", 1e6))' '^lem: .*:1: xxxx' 'a 1 MB message'
check 'error("a\0b")' '^lem: .*:1: a' 'a message with a NUL byte'
check 'local function f() return f() + 1 end f()' 'stack overflow' 'stack overflow'
check 'local function f(n) if n == 0 then error("deep") end pcall(f, n - 1) error("up") end f(250)' \
	'up|C stack overflow' 'pcall nested 250 deep'
finish
