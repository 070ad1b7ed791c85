# needs: lem.fs
# 43. Files that fail: ENOSPC on a small tmpfs (File:write, writefile:
# the old file stays whole and no temporary file is left) and on
# /dev/full; an open that is still running in its thread when its
# deadline passes (strace delays it): the waiter gets 'timeout' and the
# descriptor it made is closed, not leaked; a file removed while open.
. "$HOSTILE_DIR/h.sh"

cat > "$tmp/full.lua" <<'LUA'
local fs = require 'lem.fs'
local dir = ...
local f = assert(fs.open('/dev/full', 'w'))
print(f:write('x'))
f:close()
assert(fs.writefile(dir .. '/keep', 'old contents'))
print(fs.writefile(dir .. '/keep', ('x'):rep(2 * 1024 * 1024)))
print(fs.readfile(dir .. '/keep'))
print(table.concat(assert(fs.readdir(dir)), ' '))
local g = assert(fs.open(dir .. '/big', 'w'))
local r, e
for i = 1, 64 do
	r, e = g:write(('y'):rep(65536))
	if not r then break end
end
print(r, e)
print(g:close())
print(fs.remove(dir .. '/big'), table.concat(assert(fs.readdir(dir)), ' '))
LUA
want="nil	No space left on device
nil	No space left on device
old contents
keep
nil	No space left on device
true
true	keep"
if command -v unshare >/dev/null && unshare -m true 2>/dev/null; then
	mkdir "$tmp/mnt"
	out=$(unshare -m sh -c 'mount -t tmpfs -o size=1m tmpfs "$1" && exec "$LEM" "$2" "$1"' sh "$tmp/mnt" "$tmp/full.lua" 2>&1)
	is "$out" "$want" 'ENOSPC on a 1 MB tmpfs: nil, message; writefile leaves the old file whole and no temporary file'
else
	lemrun 'local fs = require "lem.fs" local f = assert(fs.open("/dev/full", "w")) print(f:write("x"))'
	is "$out" "nil	No space left on device" 'ENOSPC on /dev/full: nil, message (no tmpfs here)'
fi

# an open still running when its deadline passes
echo data > "$tmp/slow"
cat > "$tmp/slow.lua" <<'LUA'
local fs, utils = require 'lem.fs', require 'lem.utils'
local path = ...
local function nfds()
	local n = 0
	for fd = 0, 1023 do
		local f = io.open('/proc/self/fdinfo/' .. fd)
		if f then n = n + 1 f:close() end
	end
	return n
end
fs.stat('/')
local n0 = nfds()
print(utils.timeout(0.1, fs.open, path))
print(utils.timeout(0.1, fs.readfile, path))
utils.sleep(1.5)        -- both finish in their thread meanwhile
print(nfds() == n0, fs.readfile(path))
LUA
if command -v strace >/dev/null; then
	out=$(ASAN_OPTIONS=detect_leaks=0:exitcode=86 strace -f -qq -o /dev/null -P "$tmp/slow" \
		-e trace=openat -e inject=openat:delay_exit=400000:when=1..2 \
		"$LEM" "$tmp/slow.lua" "$tmp/slow" 2>&1)
	is "$out" "nil	timeout
nil	timeout
true	data" 'opens running past their deadline: timeout, and their descriptors are closed'
else
	echo "# skipped: no strace"
fi

# removed while open, read to the end
lemrun 'local fs = require "lem.fs"
local p = os.tmpname()
assert(fs.writefile(p, ("z"):rep(100000)))
local f = assert(fs.open(p))
assert(fs.remove(p))
local d = f:read("*a")
print(#d, (fs.stat(p)), f:close())'
is "$out" "100000	nil	true" 'a file removed while open reads to its end'
nosan 'the runs'
finish
