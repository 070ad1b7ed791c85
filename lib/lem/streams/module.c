/*
 * module.c - lem.streams: the module table, and what outlives a reload.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "streams.h"

#include <stdlib.h>
#include <string.h>


/* ----------------------------------------------------------- module */

static const luaL_Reg streams_functions[] = {
	{ "open",        streams_open },
	{ "popen",       streams_popen },
	{ "tcp_connect", streams_tcp_connect },
	{ "tcp_listen",  streams_tcp_listen },
	{ "unix_connect", streams_unix_connect },
	{ "unix_listen", streams_unix_listen },
	{ "udp_bind",    streams_udp_bind },
	{ "udp_connect", streams_udp_connect },
	{ "sendfile",    streams_sendfile },
	{ NULL, NULL }
};

/*
 * lua_close() runs every finalizer and then unloads this module; the
 * records of children still running would be unreachable from then on
 * (a leak for LeakSanitizer and valgrind).  A sentinel made by
 * luaopen_lem_streams frees them from its __gc, which runs before the
 * unload: finalizers run in reverse order of creation.
 */
static int
streams_unload(lua_State *T)
{
	(void)T;
	popen_unload();
	return 0;
}

/* for the other modules of lem (see streams.h) */
static const struct streams_api streams_api = {
	STREAMS_API_VERSION,
	sizeof(struct stream),
	sizeof(struct server),
	stream_check,
	stream_start,
	stream_fail,
	stream_peer_gone,
	lem_buf_free
};

int
luaopen_lem_streams(lua_State *T)
{
	static int registered;

	/* lem never unloads a C module, so this runs after lua_close() */
	if (!registered && atexit(lem_buf_release_all) == 0)
		registered = 1;
	/*
	 * One sentinel for the whole life of the Lua state.  A second load
	 * (package.loaded['lem.streams'] = nil; require 'lem.streams') runs
	 * this again in the same loaded library, whose children and SIGCHLD
	 * watcher go on: replacing the sentinel would let the collector run
	 * the old one, which would drop the children still running.
	 */
	lua_getfield(T, LUA_REGISTRYINDEX, "lem.streams.unload");
	if (lua_isnil(T, -1)) {
		lua_newuserdata(T, 1);
		lua_newtable(T);
		lua_pushcfunction(T, streams_unload);
		lua_setfield(T, -2, "__gc");
		lua_setmetatable(T, -2);
		lua_setfield(T, LUA_REGISTRYINDEX, "lem.streams.unload");
	}
	lua_pop(T, 1);
	lua_pushlightuserdata(T, (void *)&streams_api);
	lua_setfield(T, LUA_REGISTRYINDEX, STREAMS_API_KEY);

	streams_internal_register(T);
	lua_newtable(T);
	luaL_register(T, NULL, streams_functions);
	stream_open_methods(T);
	lua_setfield(T, -2, "Stream");   /* streams.Stream = mt */
	server_open_methods(T);
	lua_setfield(T, -2, "Server");
	sendfile_open_methods(T);
	lua_setfield(T, -2, "SendFile");
	dgram_open_methods(T);
	lua_setfield(T, -2, "Datagram");

	/* what lem.http and lem.websocket use: registry
	 * "lem.streams.internal", fields http and websocket */
	lua_getfield(T, LUA_REGISTRYINDEX, "lem.streams.internal");
	if (!lua_istable(T, -1)) {
		lua_pop(T, 1);
		lua_newtable(T);
		lua_pushvalue(T, -1);
		lua_setfield(T, LUA_REGISTRYINDEX, "lem.streams.internal");
	}
	http_internal_register(T, lua_gettop(T));
	ws_internal_register(T, lua_gettop(T));
	lua_pop(T, 1);
	return 1;
}
