-- examples/fileserver.lua - a static file server on lem.http: GET and
-- HEAD, Last-Modified and 304 for If-Modified-Since (with lem.fs), one
-- byte range (206), sendfile (the file goes from the page cache to the
-- socket without passing through lem), no way out of ROOT.
--
--   ./lem examples/fileserver.lua PORT [ROOT]   then: curl localhost:PORT/README
local streams = require 'lem.streams'
local http = require 'lem.http'
local has_fs, fs = pcall(require, 'lem.fs')     -- for modification times

local port = tonumber(arg[1]) or 8080
local root = arg[2] or '.'
local srv = assert(http.listen('*', port))
print(('serving %s on port %d'):format(root, select(2, srv:address())))
io.stdout:flush()        -- the banner shows even through a pipe

local TYPES = {
	html = 'text/html; charset=utf-8', htm = 'text/html; charset=utf-8',
	txt = 'text/plain; charset=utf-8', css = 'text/css', js = 'text/javascript',
	json = 'application/json', png = 'image/png', jpg = 'image/jpeg',
	jpeg = 'image/jpeg', gif = 'image/gif', svg = 'image/svg+xml',
	pdf = 'application/pdf', wasm = 'application/wasm',
}

local function text(res, status, msg, extra)
	local h = { ['Content-Type'] = 'text/plain; charset=utf-8' }
	for k, v in pairs(extra or {}) do h[k] = v end
	return res:send(status, h, msg .. '\n')
end

local function httpdate(t)
	return os.date('!%a, %d %b %Y %H:%M:%S GMT', t)
end

-- seconds since the epoch of an IMF-fixdate, or nil
local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6,
	Jul = 7, Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12 }
local function parsedate(s)
	local d, mon, y, hh, mm, ss = (s or ''):match(
		'^%a%a%a, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$')
	local m = MONTHS[mon]
	if not m then return nil end
	y, m, d = tonumber(y), m, tonumber(d)
	-- days from 1970-01-01 (the civil-from-days algorithm, inverted)
	if m <= 2 then y = y - 1 end
	local era = math.floor(y / 400)
	local yoe = y - era * 400
	local doy = math.floor((153 * (m + (m > 2 and -3 or 9)) + 2) / 5) + d - 1
	local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
	local days = era * 146097 + doe - 719468
	return days * 86400 + tonumber(hh) * 3600 + tonumber(mm) * 60 + tonumber(ss)
end

-- "bytes=a-b", "bytes=a-", "bytes=-n" of a file of size bytes: offset,
-- length; false if unsatisfiable; nil to send it all
local function range(spec, size)
	if not spec then return nil end
	local a, b = spec:match('^bytes=(%d*)%-(%d*)$')
	if not a or (a == '' and b == '') then return nil end
	if a == '' then
		local n = tonumber(b)
		if n == 0 then return false end
		if n > size then n = size end
		return size - n, n
	end
	a = tonumber(a)
	b = b == '' and size - 1 or math.min(tonumber(b), size - 1)
	if a >= size or b < a then return false end
	return a, b - a + 1
end

srv:serve(function(req, res)
	if req.method ~= 'GET' and req.method ~= 'HEAD' then
		return text(res, 405, 'Method Not Allowed', { Allow = 'GET, HEAD' })
	end
	local path = req.path
	-- the decoded path stays inside root: no "..", no NUL, no "\"
	if path:sub(1, 1) ~= '/' or path:find('\0', 1, true) then
		return text(res, 400, 'Bad Request')
	end
	for seg in path:gmatch('[^/]+') do
		if seg == '..' or seg == '.' or seg:find('\\', 1, true) then
			return text(res, 403, 'Forbidden')
		end
	end
	if path:sub(-1) == '/' then path = path .. 'index.html' end
	local file, err = streams.sendfile(root .. path)
	if not file then
		if err == 'not a regular file' then return text(res, 403, 'Forbidden') end
		return text(res, 404, 'Not Found')
	end
	local size = file:size()
	local headers = {
		['Content-Type'] = TYPES[path:match('%.(%w+)$') or ''] or 'application/octet-stream',
		['Accept-Ranges'] = 'bytes',
	}
	local st = has_fs and fs.stat(root .. path)
	if st then
		local mtime = math.floor(st.mtime)
		headers['Last-Modified'] = httpdate(mtime)
		local since = parsedate(req.headers['if-modified-since'])
		if since and mtime <= since then
			file:close()
			return res:send(304, headers)
		end
	end
	local off, len = range(req.headers['range'], size)
	if off == false then
		file:close()
		return text(res, 416, 'Range Not Satisfiable',
			{ ['Content-Range'] = 'bytes */' .. size })
	end
	if off then
		headers['Content-Range'] = ('bytes %d-%d/%d'):format(off, off + len - 1, size)
		headers['Content-Length'] = len
		res:start(206, headers)
	else
		off, len = 0, size
		headers['Content-Length'] = size
		res:start(200, headers)
	end
	res:sendfile(file, off, len)
	file:close()
end)
