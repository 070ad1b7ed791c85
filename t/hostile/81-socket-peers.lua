-- needs: lem.socket
-- 81. lem.socket against hostile peers: a reset in the middle of a line
-- and in the middle of a big send, a send to a peer that is gone (no
-- SIGPIPE), a half-close, EOF without a newline, a line longer than the
-- cap, and the same input in one burst and one byte at a time giving the
-- same results.
local h = require 'h'
local utils = require 'lem.utils'
local socket = require 'lem.socket'

local srv = assert(socket.bind('127.0.0.1', h.port))
local function pair()
	local c
	utils.spawn(function() c = assert(socket.connect('127.0.0.1', h.port)) end)
	local a = assert(srv:accept())
	while not c do utils.yield() end
	return c, a
end

-- 13: half a line, then RST
do
	local p = h.peer('halfline-rst', h.port)
	local c = assert(srv:accept())
	h.same({ c:receive('*l') }, { nil, 'closed', 'half a li' },
		"RST mid-line: nil, 'closed', the partial line")
	h.same({ c:receive() }, { nil, 'closed', '' }, '... then closed, nothing more')
	h.is(p:read('*a'), 'sent\n', 'the peer ran')
	c:close()
end

-- 14: a 50 MB send; the peer reads nothing and resets after 0.3 s
do
	local p = h.peer('sink-rst', h.port, 0.3)
	local c = assert(srv:accept())
	local last, err, n = c:send(('x'):rep(50 * 1024 * 1024))
	h.same({ last, err, type(n) }, { nil, 'closed', 'number' },
		"RST mid-send: nil, 'closed', the last byte sent")
	h.ok(n < 50 * 1024 * 1024, '... which is short of the end')
	h.is(p:read('*a'), 'reset\n', 'the peer ran')
	c:close()
end

-- 15: the peer closed: 'closed', never death by SIGPIPE
do
	local c, a = pair()
	a:close()
	local r
	for _ = 1, 100 do
		r = { c:send(('y'):rep(65536)) }
		if r[1] == nil then break end
		utils.sleep(0.005)
	end
	h.same({ r[1], r[2] }, { nil, 'closed' }, "send to a closed peer: nil, 'closed' (no SIGPIPE)")
	c:close()
end

-- 17: half-close: '*a' gets the whole request, the reply still goes back
do
	local c, a = pair()
	c:send('request body')
	c:shutdown('send')
	h.is(a:receive('*a'), 'request body', "'*a' returns everything up to the half-close")
	h.is(a:send('reply'), 5, 'the reply is sent')
	a:close()
	h.is(c:receive('*a'), 'reply', '... and arrives')
	c:close()
end

-- 21: EOF without a newline: the bytes are handed out, then 'closed'
do
	local c, a = pair()
	c:send('abc')
	c:close()
	h.same({ a:receive() }, { nil, 'closed', 'abc' }, "EOF without newline: nil, 'closed', 'abc'")
	h.same({ a:receive(1) }, { nil, 'closed', '' }, '... once')
	a:close()
end

-- 18: a line longer than 1 MiB without a newline: 'too large'
do
	local c, a = pair()
	local chunk = ('z'):rep(65536)
	utils.spawn(function()
		for _ = 1, 20 do
			if not c:send(chunk) then break end
		end
		c:send('\nafter\n')
	end)
	local l, err, part = a:receive('*l')
	h.same({ l, err }, { nil, 'too large' }, "a line over the cap: nil, 'too large'")
	h.ok(#part >= 1024 * 1024 and not part:find('[^z]'), '... with the partial line')
	h.ok(#part < 20 * 65536, '... not more than was sent')
	local rest = a:receive('*l')
	h.ok(rest and not rest:find('[^z]'), 'the rest of the line can still be read')
	h.is(a:receive('*l'), 'after', '... and the next line')
	c:close()
	a:close()
end

-- 20: the same input in one burst and one byte at a time
do
	local input = 'HEAD line one\r\nsecond\nXYZ12345\nlast line without end'
	local function reader(a)
		local out = {}
		out[#out + 1] = a:receive(4)
		out[#out + 1] = a:receive('*l')
		out[#out + 1] = a:receive()
		out[#out + 1] = a:receive(3, '>')
		out[#out + 1] = a:receive(6)
		out[#out + 1] = a:receive('*l')
		out[#out + 1] = select(3, a:receive('*l'))
		out[#out + 1] = select(2, a:receive('*a'))
		return table.concat(out, '|')
	end
	local c, a = pair()
	c:send(input)
	c:close()
	local burst = reader(a)
	a:close()
	c, a = pair()
	utils.spawn(function()
		for i = 1, #input do
			c:send(input, i, i)
			utils.sleep(0.001)
		end
		c:close()
	end)
	local trickle = reader(a)
	a:close()
	h.is(burst, 'HEAD| line one|second|>XY|Z12345||last line without end|closed',
		'the burst gives the expected results')
	h.is(trickle, burst, 'one byte per millisecond gives the same results')
end

srv:close()
h.done()
