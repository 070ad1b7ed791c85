# needs: lem.streams
# 74. Failing system calls under a Datagram, injected with strace: a
# sendto that says EAGAIN (the send waits for the socket to be writable
# and then goes), EINTR (retried, invisible), EMSGSIZE ('too large'),
# ENOBUFS and EPERM (the system's message, the datagram stays usable); a
# recvfrom that says EINTR (invisible), ENOMEM or ECONNREFUSED (nil and
# the message, and the next receive works).
. "$HOSTILE_DIR/h.sh"
if ! command -v strace >/dev/null; then
	echo "# strace is not installed: nothing to inject"
	ok 0 'skipped: no strace'
	finish
fi
# LeakSanitizer does not work under ptrace
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

cat > "$tmp/send.lua" <<'LUA'
local streams = require 'lem.streams'
local utils = require 'lem.utils'
local rx = assert(streams.udp_bind('127.0.0.1', 0))
local _, port = rx:address()
local tx = assert(streams.udp_bind('127.0.0.1', 0))
for i = 1, 3 do
	local ok, err = tx:send('datagram ' .. i, '127.0.0.1', port)
	io.write('send ', i, ' ', tostring(ok), ' ', tostring(err), '\n')
	if ok then
		local d = utils.timeout(5, rx.receive, rx)
		io.write('recv ', i, ' ', tostring(d), '\n')
	end
end
print('closed', tx:closed())
LUA
inject() {   # inject SYSCALL ERROR WHEN SCRIPT: run SCRIPT with the fault
	strace -f -qq -o "$tmp/strace.out" -e trace="$1" -e inject="$1:error=$2:when=$3" \
		"$LEM" "$4" > "$tmp/out" 2> "$tmp/err" < /dev/null
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

inject sendto EAGAIN 1..3 "$tmp/send.lua"
like "$out" 'send 1 true nil' 'sendto EAGAIN three times: the send waits and goes'
like "$out" 'recv 1 datagram 1' '... the datagram arrives'
like "$out" 'send 3 true nil' '... later sends too'
is "$(grep -c 'EAGAIN' "$tmp/strace.out")" 3 '... three EAGAIN were injected'
nosan 'sendto EAGAIN'

inject sendto EINTR 1 "$tmp/send.lua"
like "$out" 'send 1 true nil' 'sendto EINTR: retried, invisible'
like "$out" 'recv 1 datagram 1' '... the datagram arrives'

inject sendto EMSGSIZE 2 "$tmp/send.lua"
like "$out" 'send 2 nil too large' "sendto EMSGSIZE: nil, 'too large'"
like "$out" 'send 3 true nil' '... and the next send goes'
like "$out" 'closed	false' '... the datagram stays open'

inject sendto ENOBUFS 1 "$tmp/send.lua"
like "$out" 'send 1 nil No buffer space available' 'sendto ENOBUFS: nil and the system message'
like "$out" 'recv 2 datagram 2' '... the next datagram goes'

inject sendto EPERM 1 "$tmp/send.lua"
like "$out" 'send 1 nil Operation not permitted' 'sendto EPERM (a firewall): nil and the message'
nosan 'sendto faults'

cat > "$tmp/recv.lua" <<'LUA'
local streams = require 'lem.streams'
local utils = require 'lem.utils'
local rx = assert(streams.udp_bind('127.0.0.1', 0))
local _, port = rx:address()
local tx = assert(streams.udp_connect('127.0.0.1', port))
for i = 1, 3 do
	tx:send('datagram ' .. i)
	local d, e = utils.timeout(5, rx.receive, rx)
	io.write('recv ', i, ' ', tostring(d), ' ', tostring(e), '\n')
	if not d then
		d, e = utils.timeout(5, rx.receive, rx)
		io.write('again ', i, ' ', tostring(d), ' ', tostring(e), '\n')
	end
end
LUA
inject recvfrom EINTR 1 "$tmp/recv.lua"
like "$out" 'recv 1 datagram 1 127.0.0.1' 'recvfrom EINTR: retried, invisible'
inject recvfrom ENOMEM 2 "$tmp/recv.lua"
like "$out" 'recv 2 nil Cannot allocate memory' 'recvfrom ENOMEM: nil and the system message'
like "$out" 'again 2 datagram 2' '... the datagram is still there for the next receive'
like "$out" 'recv 3 datagram 3' '... and the next one'
inject recvfrom ECONNREFUSED 1 "$tmp/recv.lua"
like "$out" 'recv 1 nil Connection refused' "recvfrom ECONNREFUSED: nil, 'Connection refused'"
like "$out" 'again 1 datagram 1' '... the datagram stays usable'
nosan 'recvfrom faults'
finish
