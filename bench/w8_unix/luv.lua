-- W8 luv (libuv bindings): callback-style echo server on a Unix-domain
-- socket.  usage: lua5.1 luv.lua PATH   (or luajit luv.lua PATH)
local uv = require 'luv'
local path = assert(arg[1], 'usage: luv.lua PATH')

local server = uv.new_pipe(false)
assert(server:bind(path))
assert(server:listen(4096, function(err)
	assert(not err, err)
	local client = uv.new_pipe(false)
	server:accept(client)
	client:read_start(function(err, chunk)
		if err or not chunk then
			if not client:is_closing() then client:close() end
			return
		end
		client:write(chunk)
	end)
end))
uv.run()
