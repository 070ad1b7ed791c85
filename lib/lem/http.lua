-- lem.http - an HTTP/1.1 server and client for lem.
--
-- Copyright (C) 2026 the lem authors.  This file is part of lem, free
-- software under the GNU General Public License version 3 or later; see
-- COPYING.
--
-- The C half (lib/lem/http/conn.c, built into lem.streams) parses heads
-- and bodies in the stream's read buffer and writes whole heads at once;
-- this file gives it the shape of API.md section 4.  Every wait is a
-- stream operation under a utils.timeout scope: the header, idle and
-- body timeouts of the server are deadlines, and a caller's own
-- deadlines and co:cancel() reach every wait of the client.
--
-- See lem-http(3).

local utils   = require 'lem.utils'
local streams = require 'lem.streams'

local internal = debug.getregistry()['lem.streams.internal']
local core = assert(internal and internal.http,
	'lem.http: lem.streams has no HTTP operations')

local type, tostring, tonumber, rawget, rawset, setmetatable, pairs, next,
	select, xpcall, error =
	type, tostring, tonumber, rawget, rawset, setmetatable, pairs, next,
	select, xpcall, error
local traceback = debug.traceback
local stderr = io.stderr
local format = string.format

local timeout = utils.timeout
local c_new, c_head, c_body, c_read, c_discard, c_body_state, c_flush =
	core.new, core.head, core.body, core.read, core.discard,
	core.body_state, core.flush
local c_send, c_start, c_write, c_finish, c_sendfile_head, c_sendfile,
	c_queue, c_done, c_expect, c_error, c_close_after, c_peer,
	c_request, c_reusable =
	core.send, core.start, core.write, core.finish, core.sendfile_head,
	core.sendfile, core.queue, core.done, core.expect, core.error,
	core.close_after, core.peer, core.request, core.reusable
local c_headers = core.headers
local CONN = core.CONN

local http = {}

local CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n'

-- the state of each connection a server serves, by its Conn
local ctxs = setmetatable({}, { __mode = 'k' })

-- ------------------------------------------------------------- requests

local Request = {}

local function req_index(req, k)
	local m = Request[k]
	if m ~= nil then return m end
	if k == 'headers' then
		local h = c_headers(rawget(req, CONN))
		rawset(req, 'headers', h)
		return h
	elseif k == 'peer' then
		local ctx = ctxs[rawget(req, CONN)]
		local p = ctx and ctx.peer
		if p == nil and ctx then
			p = c_peer(ctx.conn) or ''
			ctx.peer = p
		end
		rawset(req, 'peer', p)
		return p
	end
	return nil
end

-- send the 100 Continue a request asked for, before its body is read
local function continue(c, ctx)
	if c_expect(c) then
		local ok, err = timeout(ctx.srv.body_timeout, ctx.stream.write,
			ctx.stream, CONTINUE)
		if not ok then return nil, err end
	end
	return true
end

-- req:body(): the whole body (decoded when chunked)
function Request.body(req)
	local c = rawget(req, CONN)
	local ctx = ctxs[c]
	local ok, err = continue(c, ctx)
	if not ok then return nil, err end
	return timeout(ctx.srv.body_timeout, c_body, c, ctx.srv.max_body_size)
end

-- req:read([n]): up to n bytes of the body, nil at its end
function Request.read(req, n)
	local c = rawget(req, CONN)
	local ctx = ctxs[c]
	if n ~= nil and (type(n) ~= 'number' or n < 1 or n % 1 ~= 0) then
		error("bad argument #1 to 'read' (invalid byte count)", 2)
	end
	local ok, err = continue(c, ctx)
	if not ok then return nil, err end
	return timeout(ctx.srv.body_timeout, c_read, c, n, ctx.srv.max_body_size)
end

-- ------------------------------------------------------------ responses

-- res is the Conn: its metatable's __index is Response
local Response = {}

-- wait for what the kernel did not take at once
local function flush_res(res, ok, err)
	if ok == false then
		local c = res
		local ctx = ctxs[c]
		return timeout(ctx and ctx.srv.body_timeout, c_flush, c)
	end
	return ok, err
end

function Response.send(res, status, headers, body)
	local ok, err = c_send(res, status, headers, body)
	if ok == false then return flush_res(res, ok) end
	return ok, err
end

function Response.start(res, status, headers)
	return c_start(res, status, headers)
end

function Response.write(res, data)
	local ok, err = c_write(res, data)
	if ok == false then return flush_res(res, ok) end
	return ok, err
end

function Response.finish(res)
	local ok, err = c_finish(res)
	if ok == false then return flush_res(res, ok) end
	return ok, err
end

-- res:sendfile(file[, offset[, length]]): a streams.sendfile object
function Response.sendfile(res, file, offset, length)
	offset = offset or 0
	if type(offset) ~= 'number' or offset < 0 or offset % 1 ~= 0 then
		error("bad argument #2 to 'sendfile' (invalid offset)", 2)
	end
	if length == nil then
		local size, err = file:size()
		if not size then return nil, err end
		length = size > offset and size - offset or 0
	elseif type(length) ~= 'number' or length < 0 or length % 1 ~= 0 then
		error("bad argument #3 to 'sendfile' (invalid length)", 2)
	end
	local framing = c_sendfile_head(res, length)
	local c = res
	local ctx = ctxs[c]
	local t = ctx and ctx.srv.body_timeout
	if framing == 'none' then
		return timeout(t, c_flush, c)
	end
	local ok, err = timeout(t, c_sendfile, c, file, offset, length)
	if not ok then return nil, err end
	if framing == 'chunked' and length > 0 then
		c_queue(c, '\r\n')
		return timeout(t, c_flush, c)
	end
	return true
end

core.setup(Response)
local req_mt = { __index = req_index }

-- ---------------------------------------------------------------- server

local Server = {}
Server.__index = Server

local defaults = {
	header_timeout = 10,
	idle_timeout = 60,
	body_timeout = 60,
	max_header_size = 16384,
	max_headers = 100,
	max_body_size = 1048576,
	max_requests = 0,
}

local function errmsg(e)
	if type(e) == 'string' or type(e) == 'number' then return tostring(e) end
	local mt = getmetatable(e)
	if mt and mt.__tostring then
		local ok, s = pcall(tostring, e)
		if ok and type(s) == 'string' then return s end
	end
	return format('(error object is a %s value)', type(e))
end

-- the message handler of a handler: message and traceback, as lem
-- prints an error nobody caught (nil: error() prints nothing)
local function handler_error(e)
	if e == nil then return nil end
	return traceback(errmsg(e), 2)
end

local function report(msg)
	if msg ~= nil then
		io.stdout:flush()
		stderr:write('lem: ', msg, '\n')
		stderr:flush()
	end
end

-- the requests of one connection in order, until it or the server
-- closes; req (reused for each request) and res (the Conn) are valid
-- while the handler runs
local function conn_loop(srv, handler, c, ctx, req)
	local header_t, idle_t, body_t = srv.header_timeout, srv.idle_timeout,
		srv.body_timeout
	local max_requests, served = srv.max_requests, 0
	local method, target, path, query, version = timeout(header_t, c_head, c)
	while method do
		req.method, req.target, req.path, req.query, req.version,
			req.headers = method, target, path, query, version, nil
		served = served + 1
		if srv.closing or (max_requests > 0 and served >= max_requests) then
			c_close_after(c)
		end
		ctx.busy = true
		handler(req, c)
		local keep, pending, unread = c_done(c)
		if pending then
			keep = timeout(body_t, c_flush, c) and keep
		end
		if keep and unread then
			keep = timeout(body_t, c_discard, c, srv.max_body_size)
		end
		ctx.busy = false
		if not keep or srv.closing then return end
		method, target, path, query, version = timeout(idle_t, c_head, c, true)
		if method == false then
			-- the first bytes of a head came: the rest within header_t
			method, target, path, query, version = timeout(header_t, c_head, c)
		end
	end
	local err, status = target, path
	if err == 'bad request' then
		c_error(c, status)
	elseif err == 'timeout' and core.state(c) == 'partial' then
		c_error(c, 408)
	end
end

-- one connection: one protected call for all its requests (a handler's
-- error ends the connection anyway)
local function serve_conn(srv, handler, stream)
	local c = c_new(stream, 'server', srv.max_header_size, srv.max_headers,
		srv.max_body_size)
	local ctx = { srv = srv, conn = c, stream = stream, busy = false }
	local req = setmetatable({ [CONN] = c }, req_mt)
	ctxs[c] = ctx
	srv.conns[c] = ctx
	srv.nconns = srv.nconns + 1
	if not srv.closing then
		local ok, msg = xpcall(conn_loop, handler_error, srv, handler, c,
			ctx, req)
		if not ok then
			report(msg)
			local _, pending = c_done(c, true)
			if pending then timeout(srv.body_timeout, c_flush, c) end
		end
	end
	srv.conns[c] = nil
	ctxs[c] = nil
	srv.nconns = srv.nconns - 1
	if not stream:closed() then stream:close() end
	if srv.closing and srv.nconns == 0 then srv.gone:broadcast() end
end

local function check_options(options)
	local o = {}
	for k, v in pairs(defaults) do o[k] = v end
	if options == nil then return o end
	if type(options) ~= 'table' then
		error('bad argument (options table expected, got ' .. type(options) .. ')', 3)
	end
	for k, v in pairs(options) do
		if k == 'tls' then
			o.tls = v
		elseif defaults[k] == nil then
			error(format("unknown option '%s'", tostring(k)), 3)
		elseif type(v) ~= 'number' or v ~= v or v < 0 then
			error(format("invalid value of option '%s'", k), 3)
		else
			o[k] = v
		end
	end
	for _, k in ipairs { 'max_header_size', 'max_headers', 'max_requests' } do
		if o[k] % 1 ~= 0 then
			error(format("invalid value of option '%s'", k), 3)
		end
	end
	if o.max_header_size < 64 or o.max_header_size > 1073741824 then
		error("invalid value of option 'max_header_size'", 3)
	end
	if o.max_headers < 1 or o.max_headers > 65536 then
		error("invalid value of option 'max_headers'", 3)
	end
	return o
end

-- the tls option: a lem.tls server context; lem.tls, or nil when it is
-- not built
local function check_tls(v)
	local ok, tls = pcall(require, 'lem.tls')
	if not ok or type(tls) ~= 'table' or not tls.Context then return nil end
	if getmetatable(v) ~= tls.Context or v:kind() ~= 'server' then
		error("invalid value of option 'tls' (a lem.tls server context expected)", 3)
	end
	return tls
end

local function new_server(listener, o)
	o.listener = listener
	o.conns = {}
	o.nconns = 0
	o.gone = utils.condition()
	o.closing = false
	return setmetatable(o, Server)
end

-- http.server(server[, options]): serve an existing lem.Server
function http.server(server, options)
	if type(server) ~= 'userdata' or getmetatable(server) ~= streams.Server then
		error("bad argument #1 to 'server' (lem.Server expected)", 2)
	end
	local o = check_options(options)
	if o.tls ~= nil then
		local tls = check_tls(o.tls)
		if not tls then return nil, 'not supported' end
		-- each stream becomes a TLS stream as it is served; its
		-- handshake is part of the first head (header_timeout)
		o.wrap = tls.wrap
	end
	return new_server(server, o)
end

-- http.listen(address, port[, options])
function http.listen(address, port, options)
	local o = check_options(options)
	local listener, err
	if o.tls ~= nil then
		local tls = check_tls(o.tls)
		if not tls then return nil, 'not supported' end
		-- TLS streams, their handshakes in their own coroutines
		listener, err = tls.listen(address, port, o.tls)
	else
		listener, err = streams.tcp_listen(address, port)
	end
	if not listener then return nil, err end
	return new_server(listener, o)
end

-- srv:serve(handler): until the server closes, then nil, 'interrupted'
function Server:serve(handler)
	if type(handler) ~= 'function' and not (getmetatable(handler) or {}).__call then
		error("bad argument #1 to 'serve' (function expected)", 2)
	end
	if self.closing then return nil, 'interrupted' end
	local srv = self
	local ok, err = self.listener:autospawn(function(stream)
		-- never served in plain text: a stream that cannot be made a
		-- TLS stream (out of memory; or one that already is, from a
		-- server of tls.listen given the tls option too) is closed
		if srv.wrap then
			local ok, s = pcall(srv.wrap, stream, srv.tls)
			if not (ok and s) then
				if not stream:closed() then stream:close() end
				return
			end
		end
		serve_conn(srv, handler, stream)
	end)
	if ok == nil and err == 'closed' then err = 'interrupted' end
	return ok, err
end

function Server:address()
	return self.listener:address()
end

local function wait_gone(srv)
	while srv.nconns > 0 do
		local ok, err = srv.gone:wait()
		if ok == nil and err ~= nil then return nil, err end
	end
	return true
end

-- srv:close([grace]): stop accepting, close idle connections, let the
-- requests in flight finish (Connection: close), interrupt what is left
-- after grace seconds (nil: wait for them); returns when all are gone
function Server:close(grace)
	if grace ~= nil and (type(grace) ~= 'number' or grace ~= grace) then
		error("bad argument #1 to 'close' (number expected)", 2)
	end
	if self.closing then return nil, 'already closed' end
	self.closing = true
	if not self.listener:closed() then self.listener:close() end
	for c, ctx in pairs(self.conns) do
		if ctx.busy then
			c_close_after(c)
		elseif ctx.stream:busy() then
			ctx.stream:interrupt()
		end
	end
	if self.nconns > 0 then
		local ok = timeout(grace, wait_gone, self)
		if not ok then
			for _, ctx in pairs(self.conns) do
				if not ctx.stream:closed() then ctx.stream:close() end
			end
		end
	end
	return true
end

function Server:closed()
	return self.closing
end

-- ---------------------------------------------------------------- client

-- How a scheme connects: a function(host, port) returning a Stream.
-- lem.tls puts https here (or it is found below when loaded).
http.connectors = {
	http = function(host, port)
		return streams.tcp_connect(host, port)
	end,
}

local DEFAULT_PORT = { http = 80, https = 443, ws = 80, wss = 443 }

-- scheme, host (without brackets), port, target, Host field value
local function parse_url(url)
	if type(url) ~= 'string' then return nil end
	local scheme, rest = url:match('^(%a[%w+.-]*)://(.*)$')
	if not scheme then return nil end
	scheme = scheme:lower()
	local authority, target = rest:match('^([^/?#]*)(.*)$')
	target = target:gsub('#.*$', '')
	if target == '' then target = '/'
	elseif target:sub(1, 1) == '?' then target = '/' .. target end
	if authority:find('@', 1, true) then return nil end
	local host, port = authority:match('^%[([%x:.]+)%]:?(%d*)$')
	local hostfield
	if host then
		hostfield = '[' .. host .. ']'
	else
		host, port = authority:match('^([^:]+):?(%d*)$')
		hostfield = host
	end
	if not host or host == '' then return nil end
	local defport = DEFAULT_PORT[scheme]
	port = tonumber(port ~= '' and port or defport)
	if not port or port < 1 or port > 65535 then return nil end
	if port ~= defport then hostfield = hostfield .. ':' .. port end
	return scheme, host, port, target, hostfield
end
http.parse_url = parse_url

local pool = {}             -- key -> list of idle Conns
local POOL_MAX = 16         -- idle connections kept per host and port
local pool_streams = setmetatable({}, { __mode = 'k' })  -- Conn -> Stream

local function pool_get(key)
	local list = pool[key]
	while list and #list > 0 do
		local c = list[#list]
		list[#list] = nil
		if c_reusable(c) then return c end
		local s = pool_streams[c]
		if s and not s:closed() then s:close() end
	end
	return nil
end

local function pool_put(key, c)
	local list = pool[key]
	if not list then list = {}; pool[key] = list end
	if #list >= POOL_MAX then
		local old = table.remove(list, 1)
		local s = pool_streams[old]
		if s and not s:closed() then s:close() end
	end
	list[#list + 1] = c
end

local function connector(scheme)
	local f = http.connectors[scheme]
	if f == nil and scheme == 'https' then
		local ok, tls = pcall(require, 'lem.tls')
		if ok and type(tls) == 'table' and tls.connect then
			f = function(host, port) return tls.connect(host, port) end
			http.connectors.https = f
		end
	end
	return f
end
http.connector = connector

local ClientResponse = {}
ClientResponse.__index = ClientResponse

-- the body is read to its end: the connection goes back to the pool
local function release(res)
	local c = rawget(res, CONN)
	if c == nil then return end
	rawset(res, CONN, nil)
	local s = pool_streams[c]
	if core.keep(c) and c_reusable(c) then
		pool_put(res._key, c)
	elseif s and not s:closed() then
		s:close()
	end
end

local function drop(res)
	local c = rawget(res, CONN)
	if c == nil then return end
	rawset(res, CONN, nil)
	local s = pool_streams[c]
	if s and not s:closed() then s:close() end
end

-- res:body([max]): the whole body; beyond max nil, 'too large'
function ClientResponse:body(max)
	if max ~= nil and (type(max) ~= 'number' or max < 0) then
		error("bad argument #1 to 'body' (invalid size)", 2)
	end
	local c = rawget(self, CONN)
	if c == nil then
		if self._read then return nil, 'closed' end
		self._read = true
		return ''
	end
	local data, err = c_body(c, max)
	self._read = true
	if data == nil then
		if err ~= 'timeout' and err ~= 'cancelled' then drop(self) end
		if err == 'too large' then drop(self) end
		return nil, err
	end
	release(self)
	return data
end

-- res:read([n]): up to n bytes, nil at the end
function ClientResponse:read(n)
	if n ~= nil and (type(n) ~= 'number' or n < 1 or n % 1 ~= 0) then
		error("bad argument #1 to 'read' (invalid byte count)", 2)
	end
	local c = rawget(self, CONN)
	if c == nil then return nil end
	local data, err = c_read(c, n)
	if data == nil then
		if err == nil then release(self)
		elseif err ~= 'timeout' and err ~= 'cancelled' then drop(self) end
		return nil, err
	end
	return data
end

function ClientResponse:close()
	drop(self)
	return true
end

local IDEMPOTENT = { GET = true, HEAD = true, OPTIONS = true, PUT = true,
	DELETE = true, TRACE = true }

-- one attempt: a Conn (from the pool when reused) and its response
local function attempt(c, method, target, hostfield, headers, body)
	local ok, err = c_request(c, method, target, hostfield, headers, body)
	if ok == false then ok, err = c_flush(c) end
	if not ok then return nil, err end
	local res, err2, status = c_head(c)
	if not res then
		if err2 == 'bad request' then return nil, 'protocol error' end
		return nil, err2
	end
	return res
end

-- http.request(method, url[, headers[, body]])
function http.request(method, url, headers, body)
	if type(method) ~= 'string' then
		error("bad argument #1 to 'request' (string expected, got " .. type(method) .. ')', 2)
	end
	if headers ~= nil and type(headers) ~= 'table' then
		error("bad argument #3 to 'request' (table expected, got " .. type(headers) .. ')', 2)
	end
	if body ~= nil and type(body) ~= 'string' then
		error("bad argument #4 to 'request' (string expected, got " .. type(body) .. ')', 2)
	end
	if not method:find("^[!#$%%&'*+.^_`|~%w-]+$") then
		error("bad argument #1 to 'request' (invalid method)", 2)
	end
	local sch = type(url) == 'string' and url:match('^(%a[%w+.-]*)://')
	if sch and sch:lower() ~= 'http' and sch:lower() ~= 'https' then
		return nil, 'not supported'
	end
	local scheme, host, port, target, hostfield = parse_url(url)
	if not scheme then
		error("bad argument #2 to 'request' (invalid URL)", 2)
	end
	local connect = connector(scheme)
	if not connect then return nil, 'not supported' end
	local key = scheme .. '://' .. hostfield
	for try = 1, 2 do
		local c = pool_get(key)
		local reused = c ~= nil
		if not c then
			local stream, err = connect(host, port)
			if not stream then return nil, err end
			c = c_new(stream, 'client', 65536, 256)
			pool_streams[c] = stream
		end
		local res, err = attempt(c, method, target, hostfield, headers, body)
		if res then
			res._key = key
			rawset(res, CONN, c)
			setmetatable(res, ClientResponse)
			if c_body_state(c) == 'done' then release(res) end
			return res
		end
		local s = pool_streams[c]
		if s and not s:closed() then s:close() end
		-- a pooled connection the server closed meanwhile: once more
		-- (a TLS server may close it without close_notify: truncated)
		if not (reused and (err == 'closed' or err == 'truncated') and
				IDEMPOTENT[method] and try == 1) then
			return nil, err
		end
	end
end

-- http.close_idle(): close the pooled connections (true)
function http.close_idle()
	for key, list in pairs(pool) do
		for _, c in ipairs(list) do
			local s = pool_streams[c]
			if s and not s:closed() then s:close() end
		end
		pool[key] = nil
	end
	return true
end

-- for lem.websocket: the Conn and Stream of a response being answered
function http._stream(res)
	local ctx = ctxs[res]
	return ctx and ctx.stream, res
end
http._core = core
http._pool_streams = pool_streams

return http
