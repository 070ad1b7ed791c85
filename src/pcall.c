/*
 * pcall.c - pcall and xpcall that protected code can yield across on
 * plain Lua 5.1, and the guard on coroutine.resume.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "runtime.h"

#include <stdlib.h>
#include <string.h>

/*
 * Lua 5.1 cannot resume a coroutine whose body is a C function that
 * yielded, so C functions start behind this Lua function.  Calling the
 * vararg directly leaves the callee without a name, as a direct call would.
 */
static const char TRAMPOLINE[] = "return (...)(select(2, ...))";
static int trampoline_ref = LUA_NOREF;

/*
 * Plain Lua 5.1 cannot yield across pcall, so lem replaces pcall and
 * xpcall there: the protected function runs in an inner coroutine S.
 * When S finishes without waiting, its results are returned at once.
 * When S suspends through lem_suspend(), the caller T suspends too and
 * links[S] = T; when S later finishes, the scheduler resumes T with the
 * results.  An xpcall handler waits on T's stack (slot 1), and runs on
 * S, where the stack of the error is still intact for debug.traceback.
 *
 * The links table lives in the registry, not in a fixed slot of L's
 * stack: a __gc metamethod run on L may call pcall.
 */
static int links_ref = LUA_NOREF;
static int nlinks;              /* entries in the links table */
static int pcall_depth;

static lua_State *
link_take(lua_State *S)
{
	lua_State *T;

	lua_rawgeti(L, LUA_REGISTRYINDEX, links_ref);
	lua_pushthread(S);
	lua_xmove(S, L, 1);
	lua_pushvalue(L, -1);
	lua_rawget(L, -3);               /* links S links[S] */
	T = lua_tothread(L, -1);
	lua_pop(L, 1);
	if (T == NULL) {
		lua_pop(L, 2);
		return NULL;
	}
	lua_pushnil(L);
	lua_rawset(L, -3);               /* links[S] = nil */
	lua_pop(L, 1);
	nlinks--;
	return T;
}

/*
 * S has finished with status (0 or an error): push pcall's results onto
 * T, whose slot 1 is the error handler or nil, and return their number.
 */
static int
pcall_results(lua_State *S, int status, lua_State *T)
{
	int n;

	if (status == 0) {
		n = lua_gettop(S);
		if (!lua_checkstack(T, n + 1))
			lem_oom();
		lua_pushboolean(T, 1);
		lua_xmove(S, T, n);
		sched_thread_done(S);
		return n + 1;
	}
	if (!lua_isnil(T, 1)) {
		/* the error object is on top of S */
		if (!lua_checkstack(S, 3))
			lem_oom();
		lua_pushvalue(T, 1);
		lua_xmove(T, S, 1);
		lua_insert(S, -2);
		lua_pcall(S, 1, 1, 0);
	}
	lua_pushboolean(T, 0);
	lua_xmove(S, T, 1);
	lem_forgetthread(S);
	return 2;
}

lua_State *
pcall_finished(lua_State *T, int status, int *nargs)
{
	lua_State *P;

	if (nlinks == 0 || (P = link_take(T)) == NULL)
		return NULL;
	*nargs = pcall_results(T, status, P);
	return P;
}

void
pcall_push_trampoline(lua_State *T, int nargs)
{
	lua_rawgeti(T, LUA_REGISTRYINDEX, trampoline_ref);
	lua_insert(T, -nargs - 2);
}

static int
pcall_run(lua_State *T, int handler)
{
	lua_State *S, *prev = sched_running;
	int n, status;

	if (pcall_depth >= 200)
		return luaL_error(T, "C stack overflow");
	n = lua_gettop(T);
	S = lem_newthread();
	if (!lua_checkstack(S, n + 1))
		lem_oom();
	if (handler) {                   /* xpcall(f, h, ...) */
		lua_pushvalue(T, 2);
		lua_remove(T, 2);
		lua_insert(T, 1);
		lua_xmove(T, S, n - 1);  /* T: h;  S: f ... */
		n -= 2;
	} else {
		lua_xmove(T, S, n);
		lua_pushnil(T);          /* T: nil; S: f ... */
		n -= 1;
	}
	if (lua_iscfunction(S, 1)) {
		pcall_push_trampoline(S, n);
		n++;
	}
	sched_running = (prev == T) ? S : NULL;
	sched_suspended = 0;
	pcall_depth++;
	status = lua_resume(S, n);
	pcall_depth--;
	sched_running = prev;
	if (status != LUA_YIELD) {
		sched_suspended = 0;
		return pcall_results(S, status, T);
	}
	if (!sched_suspended) {
		/* a plain coroutine.yield(): not allowed across pcall in 5.1 */
		lem_forgetthread(S);
		lua_pushboolean(T, 0);
		lua_pushliteral(T, "attempt to yield across metamethod/C-call boundary");
		return 2;
	}
	sched_suspended = 0;
	n = lem_suspend(T);
	lua_pushthread(S);
	lua_xmove(S, L, 1);
	lua_pushthread(T);
	lua_xmove(T, L, 1);
	lua_rawgeti(L, LUA_REGISTRYINDEX, links_ref);
	lua_insert(L, -3);
	lua_rawset(L, -3);               /* links[S] = T */
	lua_pop(L, 1);
	nlinks++;
	return n;
}

static int
dump_writer(lua_State *S, const void *p, size_t sz, void *ud)
{
	(void)S;
	luaL_addlstring(ud, p, sz);
	return 0;
}

/*
 * The trampoline: function(f, ...) return f(...) end, made to be
 * invisible in error messages as pcall itself is in lua(1): f is called
 * through an unnamed expression (the name is '?'), and its line
 * information is set to 0, so that luaL_where adds no "chunk:1:" to
 * pcall(error, 'x') or to argument errors.  Binary chunks keep the line
 * of each instruction as ints at the end of the function: sizelineinfo,
 * the lines (all 1 here), sizelocvars = 0, sizeupvalues = 0.
 */
static void
load_trampoline(void)
{
	const int one = 1, zero = 0;
	luaL_Buffer b;
	char *chunk;
	size_t len, end, pos;
	int n = 0, v;

	if (luaL_loadbuffer(L, TRAMPOLINE, sizeof(TRAMPOLINE) - 1, "=(pcall)") != 0)
		lem_oom();
	luaL_buffinit(L, &b);
	lua_dump(L, dump_writer, &b);
	luaL_pushresult(&b);
	len = lua_objlen(L, -1);
	chunk = malloc(len);
	if (chunk == NULL)
		lem_oom();
	memcpy(chunk, lua_tostring(L, -1), len);
	lua_pop(L, 1);
	end = len - 2 * sizeof(int);
	for (pos = end; pos >= sizeof(int); pos -= sizeof(int), n++) {
		memcpy(&v, chunk + pos - sizeof(int), sizeof(int));
		if (v != one)
			break;
	}
	pos -= sizeof(int);
	memcpy(&v, chunk + pos, sizeof(int));
	if (n > 0 && v == n) {
		for (pos += sizeof(int); pos < end; pos += sizeof(int))
			memcpy(chunk + pos, &zero, sizeof(int));
		lua_pop(L, 1);
		if (luaL_loadbuffer(L, chunk, len, "=(pcall)") != 0)
			lem_oom();
	}
	/* otherwise keep the function with its line information */
	free(chunk);
}

static int
lem_pcall(lua_State *T)
{
	luaL_checkany(T, 1);
	return pcall_run(T, 0);
}

static int
lem_xpcall(lua_State *T)
{
	luaL_checkany(T, 2);
	return pcall_run(T, 1);
}

/*
 * coroutine.resume(co, ...) for any co but the coroutines lem runs: one
 * of those resumed by hand while it waits for an event would later be
 * resumed again by that event, at the wrong place.
 */
static int
guarded_resume(lua_State *T)
{
	lua_State *co = lua_tothread(T, 1);

	if (co != NULL) {
		if (co == T || anchor_held(co)) {
			lua_pushboolean(T, 0);
			lua_pushliteral(T, "cannot resume a coroutine run by lem");
			return 2;
		}
	}
	lua_pushvalue(T, lua_upvalueindex(1));
	lua_insert(T, 1);
	lua_call(T, lua_gettop(T) - 1, LUA_MULTRET);
	return lua_gettop(T);
}

void
pcall_init(void)
{
	lua_newtable(L);
	links_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	load_trampoline();
	trampoline_ref = luaL_ref(L, LUA_REGISTRYINDEX);

	lua_getglobal(L, "jit");
	if (lua_isnil(L, -1)) {
		/* plain Lua 5.1: make pcall and xpcall yield-safe */
		lua_register(L, "pcall", lem_pcall);
		lua_register(L, "xpcall", lem_xpcall);
	}
	lua_pop(L, 1);

	/* coroutine.resume must not touch the coroutines lem runs */
	lua_getglobal(L, "coroutine");
	lua_getfield(L, -1, "resume");
	lua_pushcclosure(L, guarded_resume, 1);
	lua_setfield(L, -2, "resume");
	lua_pop(L, 1);
}
