# needs: lem.streams
# 26. EINTR and spurious readiness, injected with strace -p into a
# running lem echo server: EAGAIN on read (when=2), EINTR on read,
# write and accept4, ECONNRESET on read, EPIPE on write, write delays.
# Every retry is invisible to Lua and the data is identical (sha256);
# an injected reset or broken pipe ends that one connection only.
. "$HOSTILE_DIR/h.sh"
port=$HOSTILE_PORT
command -v strace >/dev/null || { echo "# skipped: no strace"; finish; }

echo_server
size=$((1024 * 1024))
inject() {      # inject DESC STRACE-ARGS...: run a 1 MB echo under it
	local desc=$1; shift
	ASAN_OPTIONS=detect_leaks=0 strace -qq -o "$tmp/st" -p $srv "$@" &
	local st=$!
	sleep 0.5
	res=$(peer slowpeer "$port" $size)
	kill $st 2>/dev/null; wait $st 2>/dev/null
	injected=$(grep -c 'INJECTED\|DELAYED' "$tmp/st")
	is "$res" "sent $size got $size sha256 match" "$desc ($injected injected): data identical"
}
inject 'EAGAIN on read (when=2)' -e trace=read -e inject=read:error=EAGAIN:when=2
inject 'EINTR on read' -e trace=read -e inject=read:error=EINTR:when=1..200
inject 'EINTR on write' -e trace=write -e inject=write:error=EINTR:when=1..200
inject 'EINTR on accept4' -e trace=accept4 -e inject=accept4:error=EINTR:when=1
inject 'EAGAIN on write' -e trace=write -e inject=write:error=EAGAIN:when=2..50
inject 'write delays of 3 ms' -e trace=write -e inject=write:delay_enter=3000:when=1..30

# an injected reset or broken pipe ends one connection, not the server
ASAN_OPTIONS=detect_leaks=0 strace -qq -o "$tmp/st" -p $srv -e trace=read -e inject=read:error=ECONNRESET:when=2 &
st=$!; sleep 0.5
res=$(peer echo-rounds "$port" 3)
kill $st 2>/dev/null; wait $st 2>/dev/null
like "$res" 'answered [23] of 3' 'ECONNRESET on read: that connection ends, the others are served'
ASAN_OPTIONS=detect_leaks=0 strace -qq -o "$tmp/st" -p $srv -e trace=write -e inject=write:error=EPIPE:when=1 &
st=$!; sleep 0.5
res=$(peer echo-rounds "$port" 3)
kill $st 2>/dev/null; wait $st 2>/dev/null
like "$res" 'answered 2 of 3' 'EPIPE on write: that connection ends, the others are served'
res=$(peer echo-rounds "$port" 5)
is "$res" 'answered 5 of 5' 'the server serves normally afterwards'
kill -0 $srv 2>/dev/null; ok $? 'the server survived'
kill $srv; wait $srv 2>/dev/null

# EAGAIN on sendfile: a file server sending 4 MB per connection
head -c $((4 * 1024 * 1024)) /dev/urandom > "$tmp/file"
cat > "$tmp/fsrv.lua" <<LUA
local streams = require 'lem.streams'
local srv = assert(streams.tcp_listen('127.0.0.1', $port + 1))
print('ready') io.stdout:flush()
srv:autospawn(function(c)
	local f = assert(streams.sendfile('$tmp/file'))
	assert(c:sendfile(f))
	f:close()
	c:close()
end)
LUA
"$LEM" "$tmp/fsrv.lua" > "$tmp/fsrv.out" 2>> "$tmp/srv.err" &
fsrv=$!
for _ in $(seq 50); do grep -q ready "$tmp/fsrv.out" 2>/dev/null && break; sleep 0.1; done
ASAN_OPTIONS=detect_leaks=0 strace -qq -o "$tmp/st" -p $fsrv -e trace=sendfile -e inject=sendfile:error=EAGAIN:when=1..3 &
st=$!; sleep 0.5
res=$(peer slowsink $((port + 1)))
kill $st 2>/dev/null; wait $st 2>/dev/null
is "$res" "received $((4 * 1024 * 1024))" "EAGAIN on sendfile ($(grep -c INJECTED "$tmp/st") injected): every byte sent"
kill $fsrv; wait $fsrv 2>/dev/null
unlike "$(cat "$tmp/srv.err")" 'Sanitizer|runtime error|Segmentation|==[0-9]+== ' 'server stderr clean'
finish
