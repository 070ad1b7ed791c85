# needs: lem.process
# 41. Processes that fail or misbehave: fork failing with EAGAIN (ulimit
# -u, as an unprivileged user when run as root), EMFILE while making the
# pipes, a child that writes 1 GB (read through p.stdout with flat RSS;
# process.run stops it at max_output), a child that never exits (a
# deadline kills its group).  lem survives each, nothing is left behind.
. "$HOSTILE_DIR/h.sh"

# --- EAGAIN: no more processes for this user
cat > "$tmp/eagain.lua" <<'LUA'
local process, utils = require 'lem.process', require 'lem.utils'
local ps, fails, msg = {}, 0, nil
for i = 1, 30 do
	local p, err = process.spawn({ 'sleep', '30' })
	if p then ps[#ps + 1] = p else fails = fails + 1 msg = err end
end
local r1, r2 = process.run({ 'true' })
for _, p in ipairs(ps) do p:kill('SIGKILL') p:wait() end
local ok = process.run({ 'true' })
print(#ps > 0 and 'some' or 'none', fails > 0 and msg, r1 == nil and r2, ok)
LUA
chmod 644 "$tmp/eagain.lua"; chmod 755 "$tmp"
if [ "$(id -u)" = 0 ]; then
	if command -v setpriv >/dev/null; then
		asuser="setpriv --reuid=65534 --regid=65534 --clear-groups"
	else
		asuser=
	fi
else
	asuser=env
fi
if [ -n "$asuser" ]; then
	out=$(cd /; $asuser bash -c 'ulimit -u 12; exec "$LEM" "$1"' sh "$tmp/eagain.lua" 2>&1)
	is "$out" "some	Resource temporarily unavailable	Resource temporarily unavailable	exit" \
		'ulimit -u: spawn and run give nil, EAGAIN; after the children end, spawn works again'
else
	echo "# skipped EAGAIN: root without setpriv"
fi

# --- EMFILE while making the pipes
cat > "$tmp/emfile.lua" <<'LUA'
local process = require "lem.process"
local function nfds()
	local n = 0
	for fd = 0, 64 do
		local f = io.open("/proc/self/fdinfo/" .. fd)
		if f then n = n + 1 f:close() end
	end
	return n
end
local files = {}
while true do
	local f = io.open("/dev/null")
	if not f then break end
	files[#files + 1] = f
end
for i = 1, 3 do files[#files]:close() files[#files] = nil end
local before = nfds()
local r = {}
for i = 1, 20 do
	local p, e = process.spawn({ "true" }, { stdin = "pipe", stdout = "pipe", stderr = "pipe" })
	r[#r + 1] = e
end
local after = nfds()
for i = 1, 10 do files[#files]:close() files[#files] = nil end
local p = assert(process.spawn({ "true" }, { stdout = "pipe" }))
print(r[1], r[20], before == after, (p:wait()))
LUA
out=$( (ulimit -n 32; "$LEM" "$tmp/emfile.lua" 2>&1) )
is "$out" "Too many open files	Too many open files	true	exit" 'EMFILE while making pipes: nil, message, no descriptor left; later spawns work'

# --- 1 GB from a child, through p.stdout and through run
size=$(awk -v s="$scale" 'BEGIN { printf "%d", 1073741824 * (s < 1 ? s : 1) }')
lemrun 'local process = require "lem.process"
local function rss() return tonumber(io.open("/proc/self/status"):read("*a"):match("VmRSS:%s*(%d+)")) end
local p = assert(process.spawn({ "head", "-c", "'"$size"'", "/dev/zero" }, { stdout = "pipe" }))
local n, peak, r0 = 0, 0, rss()
while true do
	local d = p.stdout:read()
	if not d then break end
	n = n + #d
	if n % (64 * 1048576) < #d then local r = rss() if r > peak then peak = r end end
end
print(n, (p:wait()), peak - r0 < 65536)'
is "$out" "$size	exit	true" "a child writing $size bytes: all read through p.stdout, RSS flat"
is "$(echo "$err" | head -c 300)" "" '... no error output'
lemrun 'print(require("lem.process").run({ "head", "-c", "'"$size"'", "/dev/zero" }))'
is "$out" "nil	too large" "process.run of it: nil, 'too large' at 16 MiB"

# --- never exits: a deadline kills the whole group
lemrun 'local process, utils = require "lem.process", require "lem.utils"
print(utils.timeout(0.3, process.run, { "sleep", "41.41" }))
utils.sleep(0.3)
print(io.popen("ps -eo args | grep -c \"^sleep 41.41\""):read("*n"))'
is "$out" "nil	timeout
0" 'a child that never exits: run under a deadline gives timeout and kills it'
nosan 'the runs'
finish
