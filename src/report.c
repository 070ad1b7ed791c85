/*
 * report.c - the report of an error that no coroutine caught.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "runtime.h"

#include <stdio.h>
#include <string.h>

static int traceback_ref = LUA_NOREF;   /* debug.traceback as lem started */
static int kept_ref = LUA_NOREF;        /* report_keep(): {thread, obj, text} */
static int handler_ref = LUA_NOREF;     /* report_handler */
static int record_ref = LUA_NOREF;      /* keep_record */

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

/* push the message of the error object at idx (a __tostring may raise) */
static void
push_message(lua_State *S, int idx)
{
	lua_pushcfunction(S, errobj_tostring);
	lua_pushvalue(S, idx);
	if (lua_pcall(S, 1, 1, 0) != 0) {
		lua_pop(S, 1);
		lua_pushfstring(S, "(error object is a %s value)",
				luaL_typename(S, idx));
	}
}

/* report(thread, errobj): the message and the thread's traceback */
static int
report_traceback(lua_State *S)
{
	push_message(S, 2);
	lua_rawgeti(S, LUA_REGISTRYINDEX, traceback_ref);
	lua_pushvalue(S, 1);
	lua_pushvalue(S, -3);
	lua_call(S, 2, 1);              /* debug.traceback(thread, msg) */
	return 1;
}

/*
 * Push the message of the error object at idx and the traceback from the
 * function that called the running C function (a handler of lua_pcall or
 * xpcall, so that is where the error was raised).
 */
static void
push_traceback(lua_State *S, int idx, int level)
{
	push_message(S, idx);
	lua_rawgeti(S, LUA_REGISTRYINDEX, traceback_ref);
	lua_insert(S, -2);
	lua_pushinteger(S, level);
	lua_call(S, 2, 1);              /* debug.traceback(msg, level) */
}

/* handler(errobj) for lua_pcall: the message and the traceback there */
int
report_handler(lua_State *S)
{
	lua_settop(S, 1);
	push_traceback(S, 1, 2);
	return 1;
}

/* record(errobj), called by report_keep: kept_ref = {thread, obj, text} */
static int
keep_record(lua_State *T)
{
	lua_createtable(T, 3, 0);
	lua_pushthread(T);
	lua_rawseti(T, -2, 1);
	lua_pushvalue(T, 1);
	lua_rawseti(T, -2, 2);
	/* level 1 is this function, 2 report_keep, 3 where the error was */
	push_traceback(T, 1, 3);
	lua_rawseti(T, -2, 3);
	lua_rawseti(T, LUA_REGISTRYINDEX, kept_ref);
	return 0;
}

int
report_keep(lua_State *T)
{
	lua_settop(T, 1);
	lua_rawgeti(T, LUA_REGISTRYINDEX, kept_ref);
	lua_rawgeti(T, -1, 2);
	if (lua_rawequal(T, -1, 1)) {
		/* raised again on its way out: keep the first place */
		lua_rawgeti(T, -2, 1);
		if (lua_tothread(T, -1) == T) {
			lua_settop(T, 1);
			return 1;
		}
	}
	/*
	 * Made in a protected call: a finalizer that the allocations here
	 * run may raise, and the error being handled then goes on without
	 * a kept report instead of being replaced by whatever was on top.
	 */
	lua_settop(T, 1);
	lua_rawgeti(T, LUA_REGISTRYINDEX, record_ref);
	lua_pushvalue(T, 1);
	(void)lua_pcall(T, 1, 0, 0);
	lua_settop(T, 1);
	return 1;
}

/* the report report_keep() made of T's error, if it is this one */
static const char *
report_kept(lua_State *T)
{
	const char *text = NULL;

	lua_rawgeti(L, LUA_REGISTRYINDEX, kept_ref);
	lua_rawgeti(L, -1, 1);
	if (lua_tothread(L, -1) == T) {
		lua_rawgeti(L, -2, 2);
		lua_pushvalue(T, -1);
		lua_xmove(T, L, 1);
		if (lua_rawequal(L, -1, -2)) {
			lua_rawgeti(L, -4, 3);
			text = lua_tostring(L, -1);
			lua_insert(L, -5);      /* keep it while it is printed */
		}
		lua_pop(L, 2);
	}
	lua_pop(L, 2);
	return text;
}

/* does the traceback line [line, end) begin with s? */
static int
frame_is(const char *line, const char *end, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(end - line) >= n && memcmp(line, s, n) == 0;
}

/*
 * The start of the last line of a traceback ending at end, if that line is
 * a frame of lem's own: the driver that runs -e, -l and the script (main.c,
 * "[lem]", its tail calls) or, at the very bottom on LuaJIT, the xpcall
 * that calls each coroutine's body (sched.c), which LuaJIT names by its
 * builtin number.  NULL when it is not.
 */
static const char *
own_frame(const char *msg, const char *end, int bottom)
{
	const char *nl = end;

	while (nl > msg && nl[-1] != '\n')
		nl--;
	if (nl == msg || *nl != '\t')
		return NULL;
	if (bottom && (frame_is(nl + 1, end, "[builtin#") ||
			frame_is(nl + 1, end, "[C]: in function 'xpcall'")))
		return nl;
	if (frame_is(nl + 1, end, "[lem]:") ||
			frame_is(nl + 1, end, "(tail call): ?") ||
			frame_is(nl + 1, end, "(...tail calls...)"))
		return nl;
	return NULL;
}

/*
 * Print a report.  lem's own frames at the bottom of a traceback are left
 * out, so that it ends with the script's main chunk as lua(1)'s does, or
 * with the body of a spawned coroutine.
 */
static void
print_report(const char *msg)
{
	const char *end = msg + strlen(msg), *nl;
	int bottom = 1;

	if (strstr(msg, "\nstack traceback:\n") != NULL)
		while ((nl = own_frame(msg, end, bottom)) != NULL) {
			end = nl - 1;
			bottom = 0;
		}
	fflush(stdout);
	fprintf(stderr, "lem: %.*s\n", (int)(end - msg), msg);
	fflush(stderr);
}

void
report_error(lua_State *T)
{
	const char *msg;
	int top = lua_gettop(L);

	if (lua_isnil(T, -1))
		return;                 /* error(): lua(1) prints nothing */
	if ((msg = report_kept(T)) != NULL) {
		print_report(msg);
		lua_settop(L, top);
		return;
	}
	lua_pushcfunction(L, report_traceback);
	lua_pushthread(T);
	lua_xmove(T, L, 1);
	lua_pushvalue(T, -1);
	lua_xmove(T, L, 1);
	if (lua_pcall(L, 2, 1, 0) == 0 && (msg = lua_tostring(L, -1)) != NULL) {
		print_report(msg);
	} else {
		/* no memory for the traceback: a string message is still
		 * there on T (LUA_ERRMEM's "not enough memory", say) */
		msg = lua_type(T, -1) == LUA_TSTRING ? lua_tostring(T, -1) : NULL;
		fflush(stdout);
		fprintf(stderr, "lem: %s\n",
				msg ? msg : "(error object cannot be printed)");
	}
	fflush(stderr);
	lua_settop(L, top);
}

void
report_init(void)
{
	lua_getglobal(L, "debug");
	lua_getfield(L, -1, "traceback");
	traceback_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_pop(L, 1);
	lua_newtable(L);
	kept_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_pushcfunction(L, report_handler);
	handler_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_pushcfunction(L, keep_record);
	record_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

void
report_push_handler(lua_State *S)
{
	lua_rawgeti(S, LUA_REGISTRYINDEX, handler_ref);
}
