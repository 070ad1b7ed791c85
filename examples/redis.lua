-- examples/redis.lua - redis-lua (Debian's lua-redis), unchanged, on
-- lem.socket: a job queue with one producer and three workers, each a
-- coroutine with its own connection.  The workers wait in BLPOP; while
-- they wait, the producer and the other coroutines keep running.
--
--   redis-server &            (or any Redis on HOST:PORT)
--   ./lem examples/redis.lua [HOST [PORT]]
local utils = require 'lem.utils'
local socket = require 'lem.socket'
local ok, redis = pcall(require, 'redis')
if not ok then
	io.stderr:write('examples/redis.lua needs redis-lua: apt-get install lua-redis\n')
	os.exit(1)
end

local host, port = arg[1] or '127.0.0.1', tonumber(arg[2]) or 6379

-- redis-lua takes an already connected socket: give it a lem.socket one
local function connect()
	local s = assert(socket.connect(host, port))
	s:settimeout(5)         -- no reply within 5 s: the command fails
	return redis.connect({ socket = s })
end

local queue, jobs, workers = 'lem:example:jobs', 9, 3
local setup = connect()
setup:del(queue, 'lem:example:done')

local done = {}
for w = 1, workers do
	done[w] = utils.spawn(function()
		local r = connect()
		local n = 0
		while true do
			-- waits in Redis (and in lem) until a job comes, 1 s at most
			local item = r:blpop(queue, 1)
			if not item then break end
			local job = item[2]
			if job == 'stop' then break end
			r:incr('lem:example:done')
			n = n + 1
			print(('worker %d: %s'):format(w, job))
		end
		r:quit()
		return n
	end)
end

local producer = utils.spawn(function()
	local r = connect()
	for j = 1, jobs do
		r:rpush(queue, 'job ' .. j)
		utils.sleep(0.01)
	end
	for _ = 1, workers do r:rpush(queue, 'stop') end
	r:quit()
end)

producer:join()
local total = 0
for w = 1, workers do
	local _, n = done[w]:join()
	total = total + n
end
print(('%d jobs done by %d workers; Redis counted %s'):format(total, workers,
	setup:get('lem:example:done')))
setup:del(queue, 'lem:example:done')
setup:quit()
