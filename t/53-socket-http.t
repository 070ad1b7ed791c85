-- t/53-socket-http.t - LuaSocket's own socket.http on lem.socket: without
-- patch_luasocket() http.request (inside socket.protect, a C protected
-- call) fails at once and http.open works; with it, http.request runs
-- concurrently: 20 requests at once against a lem server and against
-- Python's http.server.
local tap = dofile((arg[0]:match('^(.*)/') or '.') .. '/tap.lua')
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local socket = require 'lem.socket'

tap.plan(14, 120)

local have = pcall(require, 'socket.http')
if not have then
	tap.skip(14, 'LuaSocket (lua-socket) is not installed')
	tap.done()
	return
end
local ltn12 = require 'ltn12'
local fds0 = tap.nfds()

-- a small HTTP/1.1 server on lem.streams: the body names the method, the
-- path and the length of the request body; '/slow' answers after a while
local srv = assert(streams.tcp_listen('127.0.0.1', 0))
local _, port = srv:address()
local served = 0
local function serve(s)
	local line = s:read('*l')
	if not line then s:close() return end
	local method, path = line:match('^(%u+) (%S+) HTTP/1%.%d\r\n$')
	local len = 0
	while true do
		local h = s:read('*l')
		if not h or h == '\r\n' then break end
		local v = h:lower():match('^content%-length:%s*(%d+)')
		if v then len = tonumber(v) end
	end
	if len > 0 then s:read(len) end
	if path and path:match('^/slow') then utils.sleep(0.05) end
	local body = ('%s %s %d'):format(tostring(method), tostring(path), len)
	s:write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ' ..
		#body .. '\r\nConnection: close\r\n\r\n' .. body)
	served = served + 1
	s:close()
end
utils.spawn(function()
	while true do
		local s = srv:accept()
		if not s then break end
		utils.spawn(serve, s)
	end
end)
local base = 'http://127.0.0.1:' .. port

local ticks, ticking = 0, true
utils.spawn(function()
	while ticking do
		ticks = ticks + 1
		utils.sleep(0.002)
	end
end)

-- ------------------------------------------------ without the patch
local http = require 'socket.http'
local t0 = ticks
utils.yield()
t0 = ticks
local r, err = http.request { url = base .. '/x', create = socket.tcp }
tap.ok(r == nil and tostring(err):find('attempt to yield across', 1, true),
	"without patch_luasocket: http.request returns nil, lem's yield error", tostring(err))
tap.is(ticks, t0, '... at once: nothing else ran meanwhile')

local function open_get(path)
	local h = http.open('127.0.0.1', port, socket.tcp)
	h:sendrequestline('GET', path)
	h:sendheaders({ host = '127.0.0.1', connection = 'close' })
	local code = h:receivestatusline()
	local headers = h:receiveheaders()
	local body = {}
	h:receivebody(headers, (ltn12.sink.table(body)))
	h:close()
	return code, table.concat(body)
end
tap.same({ open_get('/open') }, { 200, 'GET /open 0' }, 'http.open works without the patch')

-- --------------------------------------------------- with the patch
tap.is(socket.patch_luasocket(), true, 'patch_luasocket() returns true')
tap.is(socket.patch_luasocket(), true, '... and may be called again')
package.loaded['socket.http'] = nil     -- request is made with protect at load
http = require 'socket.http'

local function get(url)
	local body = {}
	local res, code = http.request { url = url, create = socket.tcp,
		sink = (ltn12.sink.table(body)) }
	return res, code, table.concat(body)
end

tap.same({ get(base .. '/one') }, { 1, 200, 'GET /one 0' }, 'http.request{create = lem.socket.tcp}')
local body = {}
local pr, pc = http.request { url = base .. '/post', method = 'POST', create = socket.tcp,
	source = ltn12.source.string(('p'):rep(5000)),
	headers = { ['content-length'] = 5000 }, sink = (ltn12.sink.table(body)) }
tap.same({ pr, pc, table.concat(body) }, { 1, 200, 'POST /post 5000' }, 'a POST with a body')

-- 20 requests at once, each of which the server holds a while
local function twenty(url, check)
	local cos, good, bad = {}, 0, {}
	for i = 1, 20 do
		cos[i] = utils.spawn(function()
			local res, code, b = get(url(i))
			if res == 1 and code == 200 and check(i, b) then
				good = good + 1
			else
				bad[#bad + 1] = tostring(res) .. ' ' .. tostring(code)
			end
		end)
	end
	for i = 1, 20 do cos[i]:join() end
	return good, bad
end
served = 0
t0 = ticks
local good, bad = twenty(function(i) return base .. '/slow?' .. i end,
	function(i, b) return b == 'GET /slow?' .. i .. ' 0' end)
tap.is(good, 20, '20 requests at once to a lem server', table.concat(bad, '\n'))
tap.ok(ticks > t0, '... while the ticker ran')

-- Python's http.server: its command line listens with a backlog of 5,
-- where 20 connections at once get resets from the kernel; the same
-- server with a longer backlog is what is tested here
local _, _, nopy = tap.sh('command -v python3')
if nopy ~= 0 then
	tap.skip(3, 'python3 is not installed')
else
	local dir = tap.tmpname('.www')
	os.execute('mkdir -p ' .. tap.quote(dir))
	tap.writefile(dir .. '/index.txt', 'served by python\n')
	local s0 = assert(socket.bind('127.0.0.1', 0))
	local _, pport = s0:getsockname()
	s0:close()
	local p = io.popen('cd ' .. tap.quote(dir) .. ' && exec python3 -c ' .. tap.quote(
		'import http.server as h, sys\n' ..
		'h.ThreadingHTTPServer.request_queue_size = 64\n' ..
		'h.test(HandlerClass=h.SimpleHTTPRequestHandler,' ..
		' ServerClass=h.ThreadingHTTPServer, port=int(sys.argv[1]), bind="127.0.0.1")') ..
		' ' .. pport .. ' >/dev/null 2>&1 & echo $!')
	local pid = tonumber(p:read('*l'))
	p:close()
	tap.kill_at_end(pid)
	local up = tap.waitfor(function()
		local c = socket.connect('127.0.0.1', pport)
		if c then c:close() end
		return c ~= nil
	end, 20)
	local purl = 'http://127.0.0.1:' .. pport .. '/index.txt'
	tap.same(up and { get(purl) } or {}, { 1, 200, 'served by python\n' },
		"a request to Python's http.server")
	good, bad = twenty(function() return purl end,
		function(_, b) return b == 'served by python\n' end)
	tap.is(good, 20, "20 requests at once to Python's http.server", table.concat(bad, '\n'))
	local h = http.open('127.0.0.1', pport, socket.tcp)
	h:sendrequestline('GET', '/index.txt')
	h:sendheaders({ host = '127.0.0.1' })
	local code = h:receivestatusline()
	local hd = h:receiveheaders()
	local b = {}
	h:receivebody(hd, (ltn12.sink.table(b)))
	h:close()
	tap.same({ code, table.concat(b) }, { 200, 'served by python\n' }, "http.open to Python's server")
	tap.kill(pid)
end

-- a server that never answers: the request's own timeout (http.TIMEOUT)
local mute = assert(socket.bind('127.0.0.1', 0))
local _, mport = mute:getsockname()
http.TIMEOUT = 0.1
local tr, terr = http.request { url = 'http://127.0.0.1:' .. mport .. '/', create = socket.tcp }
tap.same({ tr, terr }, { nil, 'timeout' }, "a server that never answers: nil, 'timeout' (http.TIMEOUT)")
mute:close()

srv:close()
ticking = false
utils.sleep(0.01)
collectgarbage()
collectgarbage()
tap.is(tap.nfds(), fds0, 'no descriptor left open', tap.fdlist())
tap.done()
