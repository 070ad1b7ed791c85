/*
 * internal.c - what lem.streams offers other lem modules: Streams on
 * descriptors those modules made (lem.process makes the pipes of its
 * children), and the descriptor of a Stream.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * luaopen_lem_streams stores a table in the Lua registry under
 * "lem.streams.internal" with three C functions:
 *
 *   new()          a new Stream without a descriptor (it reads as
 *                  closed); made before the descriptor exists, so that
 *                  an allocation error cannot leak it;
 *   setfd(s, fd)   s takes fd over (O_NONBLOCK is added to its flags;
 *                  close-on-exec is the caller's business) and is
 *                  returned; allocates nothing; raises if s already has
 *                  a descriptor;
 *   fd(s)          the descriptor of s, or nil if s is closed or has a
 *                  transport (a TLS stream: what goes through its
 *                  descriptor is the transport's, not the stream's bytes).
 *
 * They are not part of the Lua API: a module gets them with
 * require 'lem.streams' and then the registry field.
 *
 * The same table has the C halves of lem.http (field http, from
 * lib/lem/http/conn.c) and lem.websocket (field websocket, from
 * lib/lem/websocket/conn.c), which are built into lem.streams because
 * their operations work on the insides of a Stream; module.c adds them.
 */
#include "streams.h"

#include <errno.h>

static int
internal_new(lua_State *T)
{
	stream_new(T);
	return 1;
}

static int
internal_setfd(lua_State *T)
{
	struct stream *s = luaL_checkudata(T, 1, STREAM_MT);
	lua_Number n = luaL_checknumber(T, 2);
	int fd;

	if (!(n >= 0 && n <= 2147483647.0) || n != (lua_Number)(int)n)
		return luaL_argerror(T, 2, "invalid descriptor");
	fd = (int)n;
	if (s->flags & SF_OPEN)
		return luaL_argerror(T, 1, "stream already open");
	stream_set_nonblock(fd);
	stream_setfd(s, fd, 0);
	lua_settop(T, 1);
	return 1;
}

static int
internal_fd(lua_State *T)
{
	struct stream *s = luaL_checkudata(T, 1, STREAM_MT);

	if (!(s->flags & SF_OPEN) || s->io != NULL)
		return 0;
	lua_pushinteger(T, s->w.fd);
	return 1;
}

static const luaL_Reg internal_functions[] = {
	{ "new",   internal_new },
	{ "setfd", internal_setfd },
	{ "fd",    internal_fd },
	{ NULL, NULL }
};

void
streams_internal_register(lua_State *T)
{
	lua_newtable(T);
	luaL_register(T, NULL, internal_functions);
	lua_setfield(T, LUA_REGISTRYINDEX, "lem.streams.internal");
}
