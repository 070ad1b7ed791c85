# needs: lem.tls
# 50. 1,000 clients open TCP to a lem TLS server (tls.listen, autospawn)
# and never send a ClientHello; meanwhile a normal client connects and is
# served at once: handshakes run in each connection's own coroutine,
# never in the accept loop.  Then the silent ones go: every descriptor
# is reclaimed.  Needs openssl(1) for the certificates.
. "$HOSTILE_DIR/h.sh"
ulimit -n 8192 2>/dev/null || ulimit -n 4096 2>/dev/null || true
lim=$(ulimit -n)
nconn=$(awk -v s="$scale" 'BEGIN { n = int(1000 * s); print (n < 10 ? 10 : n) }')
[ "$lim" -gt $((2 * nconn + 100)) ] || nconn=$(((lim - 100) / 2))
if ! command -v openssl >/dev/null; then
	echo "ok 1 # SKIP openssl(1) is not installed"
	exit 0
fi
cat > "$tmp/case.lua" <<'LUA'
local h = require 'h'
local tap = require 'tap'
local tlsh = require('tlsh')(tap)
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local tls = require 'lem.tls'
local n = tonumber(arg[1])
local c = tlsh.certs()
local sctx = assert(tls.server { cert = c.cert, key = c.key })
local cctx = assert(tls.client { ca = c.ca })
local srv = assert(tls.listen('127.0.0.1', h.port, sctx))
local started, ended, words = 0, 0, {}
utils.spawn(function()
	srv:autospawn(function(s)
		started = started + 1
		local l, err = s:read('*l')      -- the handshake happens here
		if l then s:write(l) else words[err] = (words[err] or 0) + 1 end
		s:close()
		ended = ended + 1
	end)
end)
local silent = {}
for i = 1, n do silent[i] = assert(streams.tcp_connect('127.0.0.1', h.port)) end
h.ok(h.waitfor(function() return started == n end, 20),
	'the server took all ' .. n .. ' silent connections', started)
local t0 = h.clock()
local s, err = utils.timeout(10, tls.connect, '127.0.0.1', h.port, cctx)
h.ok(s, 'a normal client gets through its handshake', err)
h.ok(s and s:write('hello\n') and s:read('*l') == 'hello\n',
	'... and is served while ' .. n .. ' handshakes wait')
h.figure('normal client while ' .. n .. ' wait before their ClientHello (ms)',
	math.floor((h.clock() - t0) * 1000))
if s then s:close() end
h.is(ended, 1, '... only its own handler has ended')
for i = 1, n do silent[i]:close() end
h.ok(h.waitfor(function() return ended == n + 1 end, 20),
	'when the silent ones go, every handler ends', ended)
h.is(words.closed, n, "... with nil, 'closed'")
srv:close()
h.done()
LUA
"$LEM" "$tmp/case.lua" "$nconn"
