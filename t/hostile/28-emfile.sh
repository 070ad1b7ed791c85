# needs: lem.streams
# 28. Descriptor exhaustion during accept: lem under `ulimit -n 64`
# running an autospawn echo server while a peer holds 100 connections
# for 5 s.  accept() reports 'Too many open files' (t/11), autospawn
# backs off: CPU stays under 20% in the window, the server is never
# closed, new clients are served afterwards.  Then strace-injected
# EMFILE, ENFILE, ECONNABORTED and ENOBUFS into accept4: each retry is
# invisible, every client answered.
. "$HOSTILE_DIR/h.sh"
port=$HOSTILE_PORT
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

echo_server 64
peer hold "$port" 100 5 > "$tmp/hold.out" &
hold=$!
sleep 1
c0=$(cpu $srv); t0=$(date +%s%N)
if command -v strace >/dev/null; then
	ASAN_OPTIONS=detect_leaks=0 timeout -s INT 3 strace -qq -o "$tmp/st.window" -p $srv -e trace=accept4 || true
else
	sleep 3
fi
c1=$(cpu $srv); t1=$(date +%s%N)
fails=$(grep -c 'EMFILE' "$tmp/st.window" 2>/dev/null || echo 0)
echo "# figure EMFILE window: $fails failing accept4 calls in 3 s (autospawn backs off)"
pct=$(( (c1 - c0) * 100 * 1000000000 / (t1 - t0) / 100 ))
wait $hold
echo "# figure EMFILE window: CPU ${pct}% over 3 s with 100 held connections at ulimit -n 64; $(cat "$tmp/hold.out")"
ok $([ "$pct" -lt 20 ] && echo 0 || echo 1) "CPU under 20% while out of descriptors (${pct}%)"
kill -0 $srv 2>/dev/null; ok $? 'the server is still running'
sleep 0.3
t2=$(date +%s%N)
res=$(peer echo-rounds "$port" 20)
t3=$(date +%s%N)
is "$res" 'answered 20 of 20' 'new clients are served afterwards'
echo "# figure EMFILE recovery: 20 sequential echo rounds in $(( (t3 - t2) / 1000000 )) ms after the holders left"

# fault injection into the running server
if command -v strace >/dev/null; then
	for e in EMFILE ENFILE ECONNABORTED ENOBUFS; do
		ASAN_OPTIONS=detect_leaks=0 strace -qq -o "$tmp/st.$e" -p $srv -e trace=accept4 \
			-e inject=accept4:error=$e:when=2..4 &
		st=$!
		sleep 0.5
		res=$(peer echo-rounds "$port" 6)
		kill $st 2>/dev/null; wait $st 2>/dev/null
		nf=$(grep -c "= -1 $e" "$tmp/st.$e")
		is "$res" 'answered 6 of 6' "accept4 failing with $e ($nf injected): every client answered"
	done
fi
kill -0 $srv 2>/dev/null; ok $? 'the server survived all of it'
kill $srv; wait $srv 2>/dev/null
unlike "$(cat "$tmp/srv.err")" 'Sanitizer|runtime error|Segmentation|==[0-9]+== ' 'server stderr clean'
finish
