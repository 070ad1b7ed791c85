# needs: lem.streams
# 71. Descriptor exhaustion on a Unix-domain server: lem under
# `ulimit -n 64` runs an autospawn echo server on a Unix socket while a
# peer holds 100 connections for 3 s.  autospawn backs off as for TCP
# (case 28): CPU stays under 20% in the window, the server is never
# closed, new clients are served afterwards; accept() reports
# 'Too many open files' and the server stays open.
. "$HOSTILE_DIR/h.sh"
sock=$tmp/srv.sock
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

cat > "$tmp/usrv.lua" <<LUA
local streams = require 'lem.streams'
local srv = assert(streams.unix_listen('$sock'))
print('ready') io.stdout:flush()
print(srv:autospawn(function(c)
	while true do
		local d = c:read()
		if not d or not c:write(d) then break end
	end
	c:close()
end))
LUA
(ulimit -n 64; exec "$LEM" "$tmp/usrv.lua") > "$tmp/srv.out" 2> "$tmp/srv.err" &
srv=$!
for _ in $(seq 50); do grep -q ready "$tmp/srv.out" 2>/dev/null && break; sleep 0.1; done

# the peers: a lem holding N connections for S seconds, then one that
# does K sequential echo rounds
cat > "$tmp/hold.lua" <<'LUA'
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local path, n, secs = arg[1], tonumber(arg[2]), tonumber(arg[3])
local held, failed = {}, 0
for _ = 1, n do
	local c = utils.timeout(2, streams.unix_connect, path)
	if c then held[#held + 1] = c else failed = failed + 1 end
end
utils.sleep(secs)
for _, c in ipairs(held) do c:close() end
print('held ' .. #held .. ' failed ' .. failed)
LUA
cat > "$tmp/rounds.lua" <<'LUA'
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local path, k = arg[1], tonumber(arg[2])
local ok = 0
for i = 1, k do
	local c = utils.timeout(5, streams.unix_connect, path)
	if c then
		c:write('round ' .. i .. '\n')
		if utils.timeout(5, c.read, c, '*l') == 'round ' .. i .. '\n' then ok = ok + 1 end
		c:close()
	end
end
print('answered ' .. ok .. ' of ' .. k)
LUA
"$LEM" "$tmp/hold.lua" "$sock" 100 3 > "$tmp/hold.out" 2>&1 &
hold=$!
sleep 1
c0=$(cpu $srv); t0=$(date +%s%N)
sleep 1.5
c1=$(cpu $srv); t1=$(date +%s%N)
pct=$(( (c1 - c0) * 100 * 1000000000 / (t1 - t0) / 100 ))
wait $hold
echo "# figure Unix EMFILE window: CPU ${pct}% over 1.5 s at ulimit -n 64; $(cat "$tmp/hold.out")"
ok $([ "$pct" -lt 20 ] && echo 0 || echo 1) "CPU under 20% while out of descriptors (${pct}%)"
kill -0 $srv 2>/dev/null; ok $? 'the server is still running'
res=$("$LEM" "$tmp/rounds.lua" "$sock" 20)
is "$res" 'answered 20 of 20' 'new clients are served afterwards'
kill $srv; wait $srv 2>/dev/null
unlike "$(cat "$tmp/srv.err")" 'Sanitizer|runtime error|Segmentation|==[0-9]+== ' 'server stderr clean'

# accept() (not autospawn): nil, 'Too many open files', the server stays
lemrun "
local streams = require 'lem.streams'
local utils = require 'lem.utils'
local srv = assert(streams.unix_listen('$tmp/acc.sock'))
local fill = {}
-- use up the descriptors, keeping the server's
while true do
	local f = io.open('/dev/null')
	if not f then break end
	fill[#fill + 1] = f
end
fill[#fill]:close() fill[#fill] = nil     -- room for the client only
local c = streams.unix_connect('$tmp/acc.sock')
print('client', c ~= nil)
print('accept', srv:accept())
print('closed', srv:closed())
for _, f in ipairs(fill) do f:close() end
local s = srv:accept()
print('after', s ~= nil)
"
like "$out" 'client	true' 'the client connects (the kernel queues it)'
like "$out" 'accept	nil	Too many open files' "accept() out of descriptors: nil, 'Too many open files'"
like "$out" 'closed	false' '... the server stays open'
like "$out" 'after	true' '... and accepts once descriptors are free'
nosan 'accept at EMFILE'
finish
