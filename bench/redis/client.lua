-- bench/redis/client.lua - the work every Redis client of this bench
-- does: redis-lua, unchanged, on the socket it is given, alternating
-- SET and GET of its own key, `ops` commands in all.  The caller closes
-- the socket.
local redis = require 'redis'

return function(sock, id, ops)
	local r = redis.connect({ socket = sock })
	local key, val = 'bench:' .. id, ('v'):rep(3)
	for i = 1, ops, 2 do
		r:set(key, val)
		if i + 1 <= ops then
			assert(r:get(key) == val)
		end
	end
end
