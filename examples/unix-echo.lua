-- examples/unix-echo.lua - an echo server on a Unix-domain socket: every
-- connection gets its own coroutine, which sends back whatever arrives
-- and logs who connected (the peer's pid and uid, from the kernel).
--
--   ./lem examples/unix-echo.lua PATH [MODE]
--   then: nc -U PATH   (or socat - UNIX-CONNECT:PATH)
--
-- MODE is the socket file's mode, e.g. 0600 (only this user) or 0660.
-- A socket file left by a server that was killed is replaced; any other
-- file at PATH is left alone (the server then says 'Address already in
-- use').  Interrupted with Ctrl-C, lem leaves the file, which the next
-- start replaces.  PATH may be '@name', a name in Linux's abstract
-- namespace (no file at all).
local streams = require 'lem.streams'

local path = arg[1] or 'echo.sock'
local server, err = streams.unix_listen(path, arg[2])
if not server then
	io.stderr:write('unix-echo: ', path, ': ', err, '\n')
	os.exit(1)
end
print(('unix echo server on %s'):format(server:address()))
io.stdout:flush()        -- the banner shows even through a pipe

assert(server:autospawn(function(s)
	local pid, uid = s:credentials()
	print(('connection from pid %s uid %s'):format(tostring(pid), tostring(uid)))
	io.stdout:flush()
	while true do
		local data = s:read()   -- whatever has arrived, at most 64 KiB
		if not data or not s:write(data) then break end
	end
	s:close()
end))
