/*
 * delay.c - a sample third-party lem module in C, built with LuaRocks
 * (see lem-delay-0.1-1.rockspec and README "LuaRocks").
 *
 *	local delay = require 'delay'
 *	print(delay.value(0.5, 'half a second later'))
 *
 * delay.value(seconds, v) suspends the calling coroutine for `seconds`
 * on lem's libev loop, other coroutines running meanwhile, and then
 * returns v.  It is a complete example of the lem.h API: lem_suspend(),
 * a watcher on LEM, lem_queue() from the callback.
 *
 * lem.h is GPL-3.0-or-later, so a module that includes it must be under
 * a GPL-compatible licence; this one is GPL-3.0-or-later like lem.
 * Copyright (C) 2026 the lem authors.
 */
#include <stdlib.h>
#include <lem.h>

struct delay {
	struct ev_timer w;	/* first: the callback gets it back */
	lua_State *T;
};

static void
delay_cb(EV_P_ struct ev_timer *w, int revents)
{
	struct delay *d = (struct delay *)w;
	lua_State *T = d->T;

	(void)revents;
	ev_timer_stop(EV_A_ w);
	free(d);
	/* the suspended call's stack is kept as it was: [seconds, v] */
	lua_pushvalue(T, 2);
	lem_queue(T, 1);
}

static int
delay_value(lua_State *T)
{
	lua_Number seconds = luaL_checknumber(T, 1);
	struct delay *d;
	int ret;

	luaL_checkany(T, 2);
	lua_settop(T, 2);
	/* lem_suspend() raises where the coroutine cannot be suspended:
	 * call it before anything is allocated or armed */
	ret = lem_suspend(T);
	d = malloc(sizeof(*d));
	if (d == NULL) {
		lua_pushnil(T);
		lua_pushliteral(T, "out of memory");
		lem_queue(T, 2);
		return ret;
	}
	d->T = T;
	ev_timer_init(&d->w, delay_cb, seconds > 0 ? seconds : 0, 0);
	ev_timer_start(LEM, &d->w);
	return ret;
}

static const luaL_Reg delay_functions[] = {
	{ "value", delay_value },
	{ NULL, NULL }
};

int
luaopen_delay(lua_State *L)
{
	luaL_register(L, "delay", delay_functions);
	return 1;
}
