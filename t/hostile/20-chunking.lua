-- needs: lem.streams
-- 20. Chunking torture: the same input one byte per 1 ms and as one
-- burst, read with a mix of read(n), '*l' and read(); both runs give
-- identical results, equal to the input.
local h = require 'h'
local streams = require 'lem.streams'

local input = {}
for i = 1, 40 do
	input[#input + 1] = ('line %d %s\r\n'):format(i, ('.'):rep(i % 7))
	if i % 5 == 0 then input[#input + 1] = '\0\0raw\n' end
end
input = table.concat(input) .. 'no newline at the end'
local file = h.tmpname('.in')
local f = assert(io.open(file, 'wb'))
f:write(input)
f:close()

local srv = assert(streams.tcp_listen('127.0.0.1', h.port))
local function run(delay, modes)
	local p = h.peer('trickle', h.port, file, delay)
	local c = assert(srv:accept())
	local got, i = {}, 0
	while true do
		i = i + 1
		local mode = modes[i % #modes + 1]
		local d, err
		if mode then d, err = c:read(mode) else d, err = c:read() end
		if not d then
			got[#got + 1] = '<' .. err .. '>'
			local rest = c:read()
			if rest then got[#got + 1] = rest end
			break
		end
		got[#got + 1] = d
	end
	c:close()
	p:read('*a')
	return got
end
local slowdelay = h.valgrind and 0.004 or 0.001
local fixed = { 7, '*l', 1, '*l', 13, '*l' }
local burst = run(0, fixed)
local slow = run(slowdelay, fixed)
h.is(table.concat(burst, '|'), table.concat(slow, '|'),
	"read(n) and '*l': identical pieces, burst or one byte per ms")
h.is(table.concat(burst):gsub('<closed>', ''), input, '... and they make up the input')
local mixed = { 7, '*l', false, 1, '*l', 13 }
burst = run(0, mixed)
slow = run(slowdelay, mixed)
h.is(table.concat(burst):gsub('<closed>', ''), input, 'with read() too: burst gives the input')
h.is(table.concat(slow):gsub('<closed>', ''), input, 'with read() too: one byte per ms gives the input')
h.figure('chunking (case 20)', #input .. ' bytes, reads with read(): burst ' ..
	#burst .. ', slow ' .. #slow)
os.remove(file)
srv:close()
h.done()
