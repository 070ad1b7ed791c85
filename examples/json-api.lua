-- examples/json-api.lua - a small JSON API on lem.http: a list of notes
-- kept in memory.
--
--   ./lem examples/json-api.lua PORT
--   curl localhost:PORT/notes
--   curl -d '{"text": "buy milk"}' localhost:PORT/notes
--   curl localhost:PORT/notes/1
--   curl -X DELETE localhost:PORT/notes/1
local http = require 'lem.http'

-- a JSON encoder and decoder, small and strict enough for an example
local json = {}

local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
	['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }
local function encode_string(s)
	return '"' .. s:gsub('[%c"\\]', function(c)
		return escapes[c] or ('\\u%04x'):format(c:byte())
	end) .. '"'
end

function json.encode(v)
	local t = type(v)
	if t == 'string' then return encode_string(v)
	elseif t == 'number' then return (v % 1 == 0 and ('%d'):format(v) or ('%.14g'):format(v))
	elseif t == 'boolean' then return tostring(v)
	elseif v == nil or v == json.null then return 'null'
	elseif t == 'table' then
		local out = {}
		if #v > 0 or next(v) == nil then
			for i = 1, #v do out[i] = json.encode(v[i]) end
			return '[' .. table.concat(out, ',') .. ']'
		end
		local keys = {}
		for k in pairs(v) do keys[#keys + 1] = tostring(k) end
		table.sort(keys)
		for i, k in ipairs(keys) do out[i] = encode_string(k) .. ':' .. json.encode(v[k]) end
		return '{' .. table.concat(out, ',') .. '}'
	end
	error('cannot encode a ' .. t)
end

json.null = setmetatable({}, { __tostring = function() return 'null' end })

function json.decode(s)
	local pos = 1
	local function ws() pos = s:find('[^ \t\r\n]', pos) or #s + 1 end
	local function fail(what) error(('invalid JSON at %d: %s'):format(pos, what), 0) end
	local value
	local function str()
		local out = {}
		pos = pos + 1
		while true do
			local c = s:sub(pos, pos)
			if c == '' then fail('unterminated string') end
			if c == '"' then pos = pos + 1 break end
			if c == '\\' then
				local e = s:sub(pos + 1, pos + 1)
				local map = { b = '\b', f = '\f', n = '\n', r = '\r', t = '\t', ['"'] = '"', ['\\'] = '\\', ['/'] = '/' }
				if map[e] then out[#out + 1] = map[e]; pos = pos + 2
				elseif e == 'u' then
					local hex = s:sub(pos + 2, pos + 5)
					local n = tonumber(hex, 16)
					if not n or #hex ~= 4 then fail('bad \\u escape') end
					if n < 0x80 then out[#out + 1] = string.char(n)
					elseif n < 0x800 then out[#out + 1] = string.char(0xc0 + math.floor(n / 64), 0x80 + n % 64)
					else out[#out + 1] = string.char(0xe0 + math.floor(n / 4096), 0x80 + math.floor(n / 64) % 64, 0x80 + n % 64) end
					pos = pos + 6
				else fail('bad escape') end
			elseif c:byte() < 32 then fail('control character in a string')
			else out[#out + 1] = c; pos = pos + 1 end
		end
		return table.concat(out)
	end
	function value()
		ws()
		local c = s:sub(pos, pos)
		if c == '{' then
			local obj = {}
			pos = pos + 1
			ws()
			if s:sub(pos, pos) == '}' then pos = pos + 1 return obj end
			while true do
				ws()
				if s:sub(pos, pos) ~= '"' then fail('name expected') end
				local k = str()
				ws()
				if s:sub(pos, pos) ~= ':' then fail('":" expected') end
				pos = pos + 1
				obj[k] = value()
				ws()
				local d = s:sub(pos, pos)
				pos = pos + 1
				if d == '}' then return obj end
				if d ~= ',' then fail('"," or "}" expected') end
			end
		elseif c == '[' then
			local arr = {}
			pos = pos + 1
			ws()
			if s:sub(pos, pos) == ']' then pos = pos + 1 return arr end
			while true do
				arr[#arr + 1] = value()
				ws()
				local d = s:sub(pos, pos)
				pos = pos + 1
				if d == ']' then return arr end
				if d ~= ',' then fail('"," or "]" expected') end
			end
		elseif c == '"' then return str()
		elseif s:find('^true', pos) then pos = pos + 4 return true
		elseif s:find('^false', pos) then pos = pos + 5 return false
		elseif s:find('^null', pos) then pos = pos + 4 return json.null
		end
		local num = s:match('^-?%d+%.?%d*[eE]?[-+]?%d*', pos)
		if not num or num == '' or not tonumber(num) then fail('value expected') end
		pos = pos + #num
		return tonumber(num)
	end
	local ok, v = pcall(function()
		local r = value()
		ws()
		if pos <= #s then fail('trailing characters') end
		return r
	end)
	if not ok then return nil, v end
	return v
end

-- the API
local notes, next_id = {}, 1
local JSON = { ['Content-Type'] = 'application/json' }

local function reply(res, status, value)
	return res:send(status, JSON, json.encode(value) .. '\n')
end

local port = tonumber(arg[1]) or 8080
local srv = assert(http.listen('*', port, { max_body_size = 65536 }))
print(('json api on port %d'):format(select(2, srv:address())))
io.stdout:flush()

srv:serve(function(req, res)
	local id = req.path:match('^/notes/(%d+)$')
	if req.path == '/notes' and req.method == 'GET' then
		local list = {}
		for _, n in pairs(notes) do list[#list + 1] = n end
		table.sort(list, function(a, b) return a.id < b.id end)
		return reply(res, 200, list)
	elseif req.path == '/notes' and req.method == 'POST' then
		local body, err = req:body()
		if not body then return reply(res, 400, { error = err }) end
		local v, jerr = json.decode(body)
		if type(v) ~= 'table' or type(v.text) ~= 'string' then
			return reply(res, 400, { error = jerr or 'an object with a text expected' })
		end
		local note = { id = next_id, text = v.text }
		notes[next_id] = note
		next_id = next_id + 1
		return res:send(201, { ['Content-Type'] = 'application/json',
			Location = '/notes/' .. note.id }, json.encode(note) .. '\n')
	elseif id and notes[tonumber(id)] then
		if req.method == 'GET' then return reply(res, 200, notes[tonumber(id)]) end
		if req.method == 'DELETE' then
			notes[tonumber(id)] = nil
			return res:send(204)
		end
		return reply(res, 405, { error = 'method not allowed' })
	end
	return reply(res, 404, { error = 'not found' })
end)
