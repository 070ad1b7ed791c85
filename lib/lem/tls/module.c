/*
 * module.c - lem.tls: TLS client and server streams on OpenSSL 3.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * tls.connect and tls.listen are written in Lua (below): they call
 * streams.tcp_connect and streams.tcp_listen, which suspend the calling
 * coroutine, and a C function cannot wait for a function it calls.
 */
#include "tls.h"

#include <openssl/err.h>

const struct streams_api *tls_api;

/* what lem.tls is in Lua: called with (tls, streams, core) */
static const char tls_lua[] =
"local tls, streams, core = ...\n"
"local tcp_connect, tcp_listen = streams.tcp_connect, streams.tcp_listen\n"
"local wrap, client, kind, attach = tls.wrap, tls.client, core.kind,\n"
"	core.attach\n"
"local type, error, format = type, error, string.format\n"
"\n"
"local function argerror(n, name, msg)\n"
"	error(format(\"bad argument #%d to '%s' (%s)\", n, name, msg), 3)\n"
"end\n"
"\n"
"local function checkaddr(host, port, name)\n"
"	if type(host) ~= 'string' then\n"
"		argerror(1, name, 'string expected, got ' .. type(host))\n"
"	end\n"
"	local t = type(port)\n"
"	if t == 'number' then\n"
"		if not (port >= 0 and port <= 65535) or port % 1 ~= 0 then\n"
"			argerror(2, name, 'port out of range')\n"
"		end\n"
"	elseif t ~= 'string' then\n"
"		argerror(2, name, 'string expected, got ' .. t)\n"
"	end\n"
"end\n"
"\n"
"-- the context of tls.connect without one, made when first needed\n"
"local default\n"
"\n"
"function tls.connect(host, port, ctx)\n"
"	checkaddr(host, port, 'connect')\n"
"	if ctx == nil then\n"
"		if default == nil then\n"
"			local c, err = client()\n"
"			if not c then return nil, err end\n"
"			default = c\n"
"		end\n"
"		ctx = default\n"
"	elseif kind(ctx) ~= 'client' then\n"
"		argerror(3, 'connect', 'client context expected')\n"
"	end\n"
"	local s, err = tcp_connect(host, port)\n"
"	if not s then return nil, err end\n"
"	local ok\n"
"	ok, err = wrap(s, ctx, host)\n"
"	if ok then ok, err = s:handshake() end\n"
"	if not ok then\n"
"		if not s:closed() then s:close() end\n"
"		return nil, err\n"
"	end\n"
"	return s\n"
"end\n"
"\n"
"function tls.listen(address, port, ctx, options)\n"
"	checkaddr(address, port, 'listen')\n"
"	if kind(ctx) ~= 'server' then\n"
"		argerror(3, 'listen', 'server context expected')\n"
"	end\n"
"	if options ~= nil and type(options) ~= 'table' then\n"
"		argerror(4, 'listen', 'table expected, got ' .. type(options))\n"
"	end\n"
"	local srv, err = tcp_listen(address, port, options)\n"
"	if not srv then return nil, err end\n"
"	return attach(srv, ctx)\n"
"end\n";

/* kind(v): 'client' or 'server' for a context, else nil */
static int
tls_kind(lua_State *T)
{
	struct tls_context *c = context_test(T, 1);

	if (c == NULL || c->ctx == NULL)
		lua_pushnil(T);
	else
		lua_pushstring(T, c->server ? "server" : "client");
	return 1;
}

static const luaL_Reg tls_functions[] = {
	{ "client", tls_client },
	{ "server", tls_server },
	{ NULL, NULL }
};

int
luaopen_lem_tls(lua_State *T)
{
	const struct streams_api *api;
	int streams, mt;

	/* lem.streams: its metatables and what it offers modules */
	lua_getfield(T, LUA_GLOBALSINDEX, "require");
	lua_pushliteral(T, "lem.streams");
	lua_call(T, 1, 1);
	streams = lua_gettop(T);
	lua_getfield(T, LUA_REGISTRYINDEX, STREAMS_API_KEY);
	api = lua_touserdata(T, -1);
	lua_pop(T, 1);
	if (api == NULL || api->version != STREAMS_API_VERSION ||
			api->stream_size != sizeof(struct stream) ||
			api->server_size != sizeof(struct server))
		return luaL_error(T, "lem.tls: lem.streams is of another build");
	tls_api = api;
	if (context_init() < 0 || tls_bio_init() < 0) {
		ERR_clear_error();
		return luaL_error(T, "lem.tls: OpenSSL could not start");
	}
	luaL_getmetatable(T, STREAM_MT);
	mt = lua_gettop(T);

	lua_newtable(T);                /* tls */
	luaL_register(T, NULL, tls_functions);
	lua_pushvalue(T, mt);
	lua_pushcclosure(T, tls_wrap, 1);
	lua_setfield(T, -2, "wrap");
	context_open(T);
	lua_setfield(T, -2, "Context");  /* tls.Context = mt */
	/* TLS streams are lem.Streams with a few methods more */
	tls_stream_methods(T, mt);

	if (luaL_loadbuffer(T, tls_lua, sizeof(tls_lua) - 1, "=lem.tls") != 0)
		return lua_error(T);
	lua_pushvalue(T, -2);           /* tls */
	lua_pushvalue(T, streams);
	lua_createtable(T, 0, 2);       /* core */
	lua_pushcfunction(T, tls_kind);
	lua_setfield(T, -2, "kind");
	lua_pushcfunction(T, tls_attach_server);
	lua_setfield(T, -2, "attach");
	lua_call(T, 3, 0);
	return 1;
}
