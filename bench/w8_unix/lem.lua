-- W8 our lem (spec API: lem.streams): echo server on a Unix-domain socket.
-- usage: $LEM lem.lua PATH
local streams = require 'lem.streams'
local path = assert(arg[1], 'usage: lem.lua PATH')

local server = assert(streams.unix_listen(path, nil, { backlog = 4096 }))
assert(server:autospawn(function(s)
	while true do
		local data = s:read()     -- no mode: whatever is immediately available
		if not data then break end
		if not s:write(data) then break end
	end
	s:close()
end))
