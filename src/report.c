/*
 * report.c - the report of an error that no coroutine caught.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "runtime.h"

#include <stdio.h>

static int traceback_ref = LUA_NOREF;   /* debug.traceback as lem started */

/* message(errobj): a string for any error object, never raising */
static int
errobj_tostring(lua_State *S)
{
	if (lua_type(S, 1) == LUA_TSTRING || lua_type(S, 1) == LUA_TNUMBER) {
		lua_pushstring(S, lua_tostring(S, 1));
		return 1;
	}
	if (luaL_callmeta(S, 1, "__tostring") && lua_isstring(S, -1))
		return 1;
	lua_pushfstring(S, "(error object is a %s value)", luaL_typename(S, 1));
	return 1;
}

/* report(thread, errobj): the message and the thread's traceback */
static int
report_traceback(lua_State *S)
{
	lua_pushcfunction(S, errobj_tostring);
	lua_pushvalue(S, 2);
	if (lua_pcall(S, 1, 1, 0) != 0) {
		lua_pop(S, 1);
		lua_pushfstring(S, "(error object is a %s value)",
				luaL_typename(S, 2));
	}
	lua_rawgeti(S, LUA_REGISTRYINDEX, traceback_ref);
	lua_pushvalue(S, 1);
	lua_pushvalue(S, -3);
	lua_call(S, 2, 1);              /* debug.traceback(thread, msg) */
	return 1;
}

void
report_error(lua_State *T)
{
	const char *msg;

	lua_pushcfunction(L, report_traceback);
	lua_pushthread(T);
	lua_xmove(T, L, 1);
	lua_pushvalue(T, -1);
	lua_xmove(T, L, 1);
	if (lua_pcall(L, 2, 1, 0) == 0 && (msg = lua_tostring(L, -1)) != NULL) {
		fflush(stdout);
		fprintf(stderr, "lem: %s\n", msg);
	} else {
		/* no memory for the traceback: a string message is still
		 * there on T (LUA_ERRMEM's "not enough memory", say) */
		msg = lua_type(T, -1) == LUA_TSTRING ? lua_tostring(T, -1) : NULL;
		fflush(stdout);
		fprintf(stderr, "lem: %s\n",
				msg ? msg : "(error object cannot be printed)");
	}
	fflush(stderr);
	lua_pop(L, 1);
}

void
report_init(void)
{
	lua_getglobal(L, "debug");
	lua_getfield(L, -1, "traceback");
	traceback_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_pop(L, 1);
}
