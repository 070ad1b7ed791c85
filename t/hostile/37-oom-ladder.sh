# 37. Out of memory in Lua under a `ulimit -v` ladder: from the smallest
# limit lem starts under, in 400 kB steps, until the run succeeds.  Each
# run exits 0, or 1 with "not enough memory"; never a signal.  The work
# allocates in the main coroutine and in spawned ones (a LUA_ERRMEM from
# resume), with sleepers, pcall and string building.  Not under ASan
# (it cannot start under ulimit -v) nor valgrind.
. "$HOSTILE_DIR/h.sh"

if [ "${HOSTILE_ASAN:-0}" = 1 ] || [ "${HOSTILE_VALGRIND:-0}" = 1 ]; then
	echo "# skipped: ASan/valgrind builds cannot run under ulimit -v"
	finish
fi
cat > "$tmp/oom.lua" <<'LUA'
local utils = require 'lem.utils'
local s = utils.sleeper()
local t, done = {}, 0
for i = 1, 4 do
	utils.spawn(function()
		local u = {}
		for j = 1, 20000 do u[j] = ('y'):rep(30) .. j end
		s:sleep(0)
		done = done + 1
	end)
end
local ok = pcall(function()
	for i = 1, 40000 do t[i] = { ('x'):rep(20) .. i } end
end)
for i = 1, 20000 do t[i] = nil end
local big = {}
for i = 1, 1000 do big[#big + 1] = tostring(i) end
big = table.concat(big, ',')
while done < 4 do utils.yield() end
print('done', ok, #big)
LUA
# the smallest limit lem starts under
lo=1000
while [ $lo -lt 200000 ]; do
	(ulimit -v $lo; exec "$LEM" -e '' ) >/dev/null 2>&1 && break
	lo=$((lo + 200))
done
runs=0 clean=0 signals=0 other=0 success=0
lim=$lo
while [ $runs -lt 400 ]; do
	(ulimit -v $lim; exec "$LEM" "$tmp/oom.lua") > "$tmp/o" 2> "$tmp/e"
	rc=$?
	runs=$((runs + 1))
	if [ $rc = 0 ] && grep -q '^done' "$tmp/o"; then
		success=1
		break
	elif [ $rc = 1 ] && grep -q 'not enough memory' "$tmp/e"; then
		clean=$((clean + 1))
	elif [ $rc -gt 128 ]; then
		signals=$((signals + 1))
		echo "# limit $lim kB: killed by signal $((rc - 128)): $(head -c 200 "$tmp/e")"
	else
		other=$((other + 1))
		echo "# limit $lim kB: status $rc: $(head -c 200 "$tmp/e")"
	fi
	lim=$((lim + 400))
done
echo "# figure OOM ladder: $runs runs from $lo kB to $lim kB, $clean clean failures (status 1, \"not enough memory\"), $signals signals, $other other"
is "$success" 1 'the run succeeds at the top of the ladder'
is "$signals" 0 'no run died by a signal'
is "$other" 0 'every failing run exited 1 with "not enough memory"'
finish
