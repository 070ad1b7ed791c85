-- t/hostile/hh.lua - what the HTTP cases (60-69) share: a lem.http
-- server on a free port, raw connections and their answers.
--
-- Copyright (C) 2026 the lem authors.  Part of lem, free software under
-- the GNU General Public License version 3 or later; see COPYING.
local utils = require 'lem.utils'
local streams = require 'lem.streams'
local http = require 'lem.http'

local hh = {}

-- a server with handler and options; returns srv, port
function hh.server(handler, options)
	local srv = assert(http.listen('127.0.0.1', 0, options))
	local _, port = srv:address()
	utils.spawn(function() srv:serve(handler) end)
	return srv, port
end

function hh.connect(port)
	return assert(streams.tcp_connect('127.0.0.1', port))
end

-- write bytes, read until the server closes (at most secs, 10)
function hh.exchange(port, bytes, secs)
	local s = hh.connect(port)
	if bytes then s:write(bytes) end
	local out = utils.timeout(secs or 10, s.read, s, '*a')
	local closed = out ~= nil
	if not s:closed() then s:close() end
	return out or '', closed
end

-- the status codes of the answers in text, in order
function hh.statuses(text)
	local t = {}
	for st in text:gmatch('HTTP/1%.1 (%d%d%d) ') do t[#t + 1] = tonumber(st) end
	return t
end

return hh
