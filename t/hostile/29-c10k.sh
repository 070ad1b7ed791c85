# needs: lem.streams
# 29. 10k concurrent connections to an autospawn echo server at
# ulimit -n 20000: all answered, descriptors back to baseline, RSS per
# connection reported.  30. Slowloris: 1000 trickling connections; a
# normal client's RTT stays under 100 ms; every fd is reclaimed.
. "$HOSTILE_DIR/h.sh"
port=$HOSTILE_PORT
nconn=$(awk -v s="$scale" 'BEGIN { n = int(10000 * s); print (n < 10 ? 10 : n) }')
nslow=$(awk -v s="$scale" 'BEGIN { n = int(1000 * s); print (n < 10 ? 10 : n) }')
ulimit -n 20000 2>/dev/null || ulimit -n 4096 2>/dev/null || true
lim=$(ulimit -n)
[ "$lim" -gt $((nconn + 100)) ] || nconn=$((lim - 200))

echo_server
fds0=$(ls /proc/$srv/fd | wc -l)
rss0=$(awk '/VmRSS/ {print $2}' /proc/$srv/status)
res=$(peer c10k "$port" $nconn)
hwm=$(awk '/VmHWM/ {print $2}' /proc/$srv/status)
like "$res" "^answered $nconn of $nconn" "c10k: all $nconn concurrent connections answered"
per=$(awk -v a="$hwm" -v b="$rss0" -v n="$nconn" 'BEGIN { printf "%.2f", (a - b) / n }')
echo "# figure c10k (case 29): $res; server RSS $rss0 kB -> peak $hwm kB: $per kB per connection"
for _ in $(seq 50); do [ "$(ls /proc/$srv/fd | wc -l)" = "$fds0" ] && break; sleep 0.1; done
is "$(ls /proc/$srv/fd | wc -l)" "$fds0" 'descriptors back to baseline'

# slowloris
res=$(peer slowloris "$port" $nslow 3)
worst=$(echo "$res" | sed -n 's/.*worst_rtt_ms \([0-9.]*\).*/\1/p')
echo "# figure slowloris (case 30): $res"
ok $(awk -v w="${worst:-999}" 'BEGIN { print (w < 100 ? 0 : 1) }') "slowloris: worst normal RTT ${worst} ms < 100 ms"
for _ in $(seq 50); do [ "$(ls /proc/$srv/fd | wc -l)" = "$fds0" ] && break; sleep 0.1; done
is "$(ls /proc/$srv/fd | wc -l)" "$fds0" 'every fd reclaimed once the slow connections go'
cw=$(ss -Htan state close-wait "( sport = :$port )" | wc -l)
is "$cw" 0 'no CLOSE_WAIT'
kill $srv; wait $srv 2>/dev/null
unlike "$(cat "$tmp/srv.err")" 'Sanitizer|runtime error|Segmentation|==[0-9]+== ' 'server stderr clean'
finish
