# needs: lem.streams
# 45. lem --workers under churn: workers killed with SIGKILL over and
# over, a burst of SIGHUPs (rolling restarts queued behind each other),
# a worker that dies at once on some starts; the service answers all
# along, and SIGTERM still ends everything: status 0, no process left.
. "$HOSTILE_DIR/h.sh"
port=$HOSTILE_PORT

cat > "$tmp/w.lua" <<'LUA'
local streams, utils = require 'lem.streams', require 'lem.utils'
local id = utils.worker()
-- one start in four of worker 2 fails at once
if id == 2 and math.random(4) == 1 then os.exit(1) end
local srv = assert(streams.tcp_listen('127.0.0.1', tonumber(arg[1])))
srv:autospawn(function(c)
	local l = c:read('*l')
	if l then c:write(l) end
	c:close()
end)
LUA
"$LEM" --workers 3 --grace 3 "$tmp/w.lua" "$port" 2> "$tmp/sup.err" &
sup=$!
ask() {
	"$PYTHON" - "$port" <<'PY'
import socket, sys, time
ok = 0
for i in range(int(sys.argv[2]) if len(sys.argv) > 2 else 20):
    try:
        s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=2)
        s.sendall(b'hi\n')
        if s.recv(10) == b'hi\n': ok += 1
        s.close()
    except OSError:
        pass
    time.sleep(0.01)
print(ok)
PY
}
for _ in $(seq 50); do [ "$(ask)" -gt 0 ] 2>/dev/null && break; sleep 0.1; done
is "$(ask)" 20 'three workers answer'
workers() { ps --ppid "$sup" -o pid= | tr -d ' '; }
for round in 1 2 3 4 5; do
	w=$(workers | head -n1)
	[ -n "$w" ] && kill -KILL "$w"
	sleep 0.2
done
for _ in 1 2 3 4 5; do kill -HUP "$sup"; sleep 0.05; done
answered=$(ask)
echo "# figure workers churn: $answered of 20 answered during kills and SIGHUPs"
ok "$([ "$answered" -ge 15 ] && echo 0 || echo 1)" "the service answers during the churn ($answered of 20)"
for _ in $(seq 100); do grep -q 'rolling restart done' "$tmp/sup.err" && break; sleep 0.1; done
like "$(cat "$tmp/sup.err")" 'rolling restart done' 'the rolling restarts complete'
is "$(ask)" 20 'all answer afterwards'
kill -0 "$sup"; ok $? 'the supervisor survived'
kill -TERM "$sup"
wait "$sup"
is $? 0 'SIGTERM: the supervisor exits 0'
sleep 0.2
is "$(ps --ppid "$sup" -o pid= | wc -l)" 0 'no worker left'
unlike "$(cat "$tmp/sup.err")" 'Sanitizer|runtime error|Segmentation' 'supervisor stderr clean'
finish
