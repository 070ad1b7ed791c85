-- examples/fileserver.lua - a static file server speaking a little HTTP,
-- using sendfile (the file goes from the page cache to the socket without
-- passing through lem) and cork (headers and body leave in full packets).
--
--   ./lem examples/fileserver.lua PORT [ROOT]   then: curl localhost:PORT/README
local streams = require 'lem.streams'

local port = tonumber(arg[1]) or 8080
local root = arg[2] or '.'
local server = assert(streams.tcp_listen('*', port))
print(('serving %s on port %d'):format(root, select(2, server:address())))
io.stdout:flush()        -- the banner shows even through a pipe

-- a short answer; HEAD gets the same headers without the body
local function respond(s, method, status, body, headers)
	s:write(('HTTP/1.1 %s\r\nContent-Type: text/plain\r\n%s' ..
		'Content-Length: %d\r\nConnection: close\r\n\r\n%s'):format(
		status, headers or '', #body, method == 'HEAD' and '' or body))
end

assert(server:autospawn(function(s)
	local request = s:read('*l')
	if not request then s:close() return end
	-- skip the header lines, up to the empty one
	repeat
		local line = s:read('*l')
		if not line then s:close() return end
	until line == '\r\n' or line == '\n'

	local method, path = request:match('^(%u+) (/[^ ?]*)')
	-- a zero byte in the path would make sendfile() raise
	if not method or path:find('%z') then
		respond(s, method or 'GET', '400 Bad Request', 'bad request line\n')
	elseif method ~= 'GET' and method ~= 'HEAD' then
		respond(s, method, '405 Method Not Allowed', 'only GET and HEAD\n',
			'Allow: GET, HEAD\r\n')
	elseif path:find('%.%.') then
		respond(s, method, '403 Forbidden', 'no ..\n')
	else
		-- a FIFO, directory or device: nil, 'not a regular file' at once
		local file, err = streams.sendfile(root .. path)
		if err == 'not a regular file' then
			respond(s, method, '403 Forbidden', path .. ' is not a regular file\n')
		elseif not file then
			respond(s, method, '404 Not Found', path .. ' not found\n')
		else
			s:cork()        -- nil, 'not supported' without TCP_CORK: fine
			s:write(('HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n' ..
				'Content-Length: %d\r\nConnection: close\r\n\r\n'):format(file:size()))
			if method == 'GET' then s:sendfile(file) end
			s:uncork()
			file:close()
		end
	end
	s:close()
end))
