/*
 * utils.c - lem.utils: what the core offers (spawn, current, timeout,
 * sleep, the Coroutine handles, queues, mutexes, semaphores and
 * conditions), plus yield, exit and sleepers.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include <math.h>
#include <stdlib.h>

#include "lem.h"

#define SLEEPER_MT "lem.Sleeper"

/* a sleeper is a wait (see lem.h) with a timer for its timeout */
struct sleeper {
	struct lem_wait w;
	struct ev_timer timer;
};

/* The sleeper functions carry the metatable as upvalue 1 (see lem.h). */
static struct sleeper *
check_sleeper(lua_State *T)
{
	return lem_checkudata(T, 1, lua_upvalueindex(1), SLEEPER_MT);
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

static void
sleeper_timeout_cb(EV_P_ struct ev_timer *w, int revents)
{
	struct sleeper *s = w->data;

	(void)EV_A;
	(void)revents;
	lem_wait_fail(&s->w, "timeout");
}

static int
sleeper_cancel(struct lem_wait *w, lua_State *T)
{
	struct sleeper *s = (struct sleeper *)w;

	(void)T;
	ev_timer_stop(LEM, &s->timer);
	return 0;
}

/* utils.sleeper() */
static int
utils_sleeper(lua_State *T)
{
	struct sleeper *s = lua_newuserdata(T, sizeof(struct sleeper));

	s->w.T = NULL;
	ev_timer_init(&s->timer, sleeper_timeout_cb, 0, 0);
	s->timer.data = s;
	lua_pushvalue(T, lua_upvalueindex(1));
	lua_setmetatable(T, -2);
	return 1;
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
	if (lem_waiting(&s->w))
		return lem_busy(T);
	if (timed && t <= 0) {
		/* like utils.yield(), but it still times out */
		ret = lem_suspend(T);
		lua_pushnil(T);
		lua_pushliteral(T, "timeout");
		lem_queue(T, 2);
		return ret;
	}
	ret = lem_wait(T, &s->w, sleeper_cancel);
	if (timed && lem_waiting(&s->w)) {
		/* the loop clock may be stale after CPU-bound work */
		ev_now_update(LEM);
		ev_timer_set(&s->timer, t, 0);
		ev_timer_start(LEM, &s->timer);
	}
	return ret;
}

/* sleeper:wakeup(...) */
static int
sleeper_wakeup(lua_State *W)
{
	struct sleeper *s = check_sleeper(W);
	int n = lua_gettop(W) - 1;
	lua_State *T;

	if (!lem_waiting(&s->w))
		return lem_error(W, "not sleeping");
	if (!lua_checkstack(s->w.T, n))
		return luaL_error(W, "too many values to wake up with");
	T = lem_wait_end(&s->w);
	ev_timer_stop(LEM, &s->timer);
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

	ev_timer_stop(LEM, &s->timer);
	return 0;
}

static int
sleeper_tostring(lua_State *T)
{
	struct sleeper *s = check_sleeper(T);

	lua_pushfstring(T, "lem.Sleeper (%s): %p",
			lem_waiting(&s->w) ? "sleeping" : "idle", (void *)s);
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
	/* spawn, current, timeout, sleep, queue, ... come from the core */
	lua_getfield(T, LUA_REGISTRYINDEX, "lem.core");
	if (!lua_istable(T, -1))
		return luaL_error(T, "lem.utils: not running in lem");
	lua_pushnil(T);
	while (lua_next(T, -2)) {
		lua_pushvalue(T, -2);
		lua_insert(T, -2);
		lua_settable(T, -5);
	}
	lua_pop(T, 1);
	lua_pushvalue(T, -2);
	lua_pushcclosure(T, utils_sleeper, 1);
	lua_setfield(T, -2, "sleeper");
	lua_pushvalue(T, -2);
	lua_setfield(T, -2, "Sleeper");  /* utils.Sleeper = mt */
	return 1;
}
