/*
 * utils.c - lem.utils: spawning, yielding, exiting and sleepers.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include <math.h>
#include <stdlib.h>

#include "lem.h"

#define SLEEPER_MT "lem.Sleeper"

/* w.data is the sleeping coroutine, NULL when nobody sleeps */
struct sleeper {
	struct ev_timer w;
};

/* The sleeper functions carry the metatable as upvalue 1 (see lem.h). */
static struct sleeper *
check_sleeper(lua_State *T)
{
	return lem_checkudata(T, 1, lua_upvalueindex(1), SLEEPER_MT);
}

/* utils.spawn(func, ...) */
static int
utils_spawn(lua_State *T)
{
	lua_State *S;
	int n;

	luaL_checktype(T, 1, LUA_TFUNCTION);
	n = lua_gettop(T);
	S = lem_newthread();
	if (!lua_checkstack(S, n + 1)) {
		lem_forgetthread(S);
		return luaL_error(T, "too many arguments to spawn");
	}
	lua_xmove(T, S, n);
	lem_queue(S, n - 1);
	lua_pushboolean(T, 1);
	return 1;
}

/* utils.yield() */
static int
utils_yield(lua_State *T)
{
	int ret;

	lua_settop(T, 0);
	ret = lem_suspend(T);
	lem_queue(T, 0);
	return ret;
}

/* utils.exit([status]): true/false as in Lua 5.2's os.exit */
static int
utils_exit(lua_State *T)
{
	int status;

	switch (lua_type(T, 1)) {
	case LUA_TNONE:
	case LUA_TNIL:
		status = EXIT_SUCCESS;
		break;
	case LUA_TBOOLEAN:
		status = lua_toboolean(T, 1) ? EXIT_SUCCESS : EXIT_FAILURE;
		break;
	case LUA_TNUMBER: {
		lua_Number n = lua_tonumber(T, 1);

		if (n != n || n < -2147483648.0 || n > 2147483647.0)
			return luaL_argerror(T, 1, "exit status out of range");
		status = (int)n;
		break;
	}
	default:
		return luaL_typerror(T, 1, "number or boolean");
	}
	lem_exit(status);
	lua_settop(T, 0);
	return lem_suspend(T);
}

/* utils.sleeper() */
static int
utils_sleeper(lua_State *T)
{
	struct sleeper *s = lua_newuserdata(T, sizeof(struct sleeper));

	ev_timer_init(&s->w, NULL, 0, 0);
	s->w.data = NULL;
	lua_pushvalue(T, lua_upvalueindex(1));
	lua_setmetatable(T, -2);
	return 1;
}

static void
sleeper_timeout_cb(EV_P_ struct ev_timer *w, int revents)
{
	lua_State *T = w->data;

	(void)EV_A;
	(void)revents;
	w->data = NULL;          /* a one-shot timer: libev has stopped it */
	lua_pushnil(T);
	lua_pushliteral(T, "timeout");
	lem_queue(T, 2);
}

/* sleeper:sleep([seconds]) */
static int
sleeper_sleep(lua_State *T)
{
	struct sleeper *s = check_sleeper(T);
	int timed = !lua_isnoneornil(T, 2);
	lua_Number t = 0;
	int ret;

	if (timed) {
		t = luaL_checknumber(T, 2);
		if (t != t)
			return luaL_argerror(T, 2, "timeout is not a number (NaN)");
		if (isinf(t) && t > 0)
			timed = 0;       /* forever */
	}
	lua_settop(T, 1);
	if (s->w.data != NULL)
		return lem_busy(T);
	ret = lem_suspend(T);
	if (timed && t <= 0) {
		/* like utils.yield(), but it still times out */
		lua_pushnil(T);
		lua_pushliteral(T, "timeout");
		lem_queue(T, 2);
		return ret;
	}
	s->w.data = T;
	if (timed) {
		/* the loop clock may be stale after CPU-bound work */
		ev_now_update(LEM);
		ev_timer_init(&s->w, sleeper_timeout_cb, t, 0);
		s->w.data = T;
		ev_timer_start(LEM, &s->w);
	}
	return ret;
}

/* sleeper:wakeup(...) */
static int
sleeper_wakeup(lua_State *W)
{
	struct sleeper *s = check_sleeper(W);
	lua_State *T = s->w.data;
	int n = lua_gettop(W) - 1;

	if (T == NULL)
		return lem_error(W, "not sleeping");
	if (!lua_checkstack(T, n))
		return luaL_error(W, "too many values to wake up with");
	ev_timer_stop(LEM, &s->w);
	s->w.data = NULL;
	lua_xmove(W, T, n);
	lem_queue(T, n);
	lua_pushboolean(W, 1);
	return 1;
}

/* also reachable as utils.Sleeper.__gc: check self like any method */
static int
sleeper_gc(lua_State *T)
{
	struct sleeper *s = luaL_checkudata(T, 1, SLEEPER_MT);

	ev_timer_stop(LEM, &s->w);
	return 0;
}

static int
sleeper_tostring(lua_State *T)
{
	struct sleeper *s = check_sleeper(T);

	lua_pushfstring(T, "lem.Sleeper (%s): %p",
			s->w.data ? "sleeping" : "idle", (void *)s);
	return 1;
}

static const luaL_Reg sleeper_methods[] = {
	{ "sleep",      sleeper_sleep },
	{ "wakeup",     sleeper_wakeup },
	{ "__gc",       sleeper_gc },
	{ "__tostring", sleeper_tostring },
	{ NULL, NULL }
};

static const luaL_Reg utils_functions[] = {
	{ "spawn",   utils_spawn },
	{ "yield",   utils_yield },
	{ "exit",    utils_exit },
	{ NULL, NULL }
};

int
luaopen_lem_utils(lua_State *T)
{
	lem_newmetatable(T, SLEEPER_MT, sleeper_methods);

	lua_newtable(T);
	luaL_register(T, NULL, utils_functions);
	lua_pushvalue(T, -2);
	lua_pushcclosure(T, utils_sleeper, 1);
	lua_setfield(T, -2, "sleeper");
	lua_pushvalue(T, -2);
	lua_setfield(T, -2, "Sleeper");  /* utils.Sleeper = mt */
	return 1;
}
