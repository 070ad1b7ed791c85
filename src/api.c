/*
 * api.c - small helpers of lem.h for modules: result conventions and
 * metatables.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "runtime.h"

#include <string.h>

int
lem_error(lua_State *T, const char *msg)
{
	lua_pushnil(T);
	lua_pushstring(T, msg);
	return 2;
}

int
lem_strerror(lua_State *T, int err)
{
	return lem_error(T, strerror(err));
}

void
lem_newmetatable(lua_State *T, const char *tname, const luaL_Reg *methods)
{
	luaL_newmetatable(T, tname);
	lua_pushvalue(T, -1);
	lua_setfield(T, -2, "__index");  /* mt.__index = mt */
	for (; methods->name != NULL; methods++) {
		lua_pushvalue(T, -1);
		lua_pushcclosure(T, methods->func, 1);
		lua_setfield(T, -2, methods->name);
	}
}

const char *
lem_checkcstring(lua_State *T, int idx)
{
	size_t len;
	const char *s = luaL_checklstring(T, idx, &len);

	if (strlen(s) != len)
		luaL_argerror(T, idx, "string contains a zero byte");
	return s;
}
