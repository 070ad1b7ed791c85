/*
 * t/capi_module.c - a tiny third-party module written against lem.h, used
 * by t/05-capi.t (and by `make installcheck`) to prove the public C API.
 *
 * Copyright (C) 2026 the lem authors.  Part of lem, free software under
 * the GNU General Public License version 3 or later; see COPYING.
 */
#include <stdlib.h>
#include <string.h>
#include <lem.h>

struct delay {
	struct ev_timer w;
	lua_Number value;
};

static void
delay_cb(EV_P_ struct ev_timer *w, int revents)
{
	struct delay *d = (struct delay *)w;
	lua_State *T = w->data;

	(void)EV_A;
	(void)revents;
	lua_pushnumber(T, d->value * 2);
	lem_queue(T, 1);
	free(d);
}

/* capi.double_later(x, seconds): suspends, then returns 2 * x */
static int
capi_double_later(lua_State *T)
{
	lua_Number x = luaL_checknumber(T, 1);
	lua_Number t = luaL_checknumber(T, 2);
	struct delay *d;
	int ret;

	ret = lem_suspend(T);
	d = malloc(sizeof(*d));
	if (d == NULL) {
		lua_pushnil(T);
		lem_queue(T, 1);
		return ret;
	}
	d->value = x;
	ev_timer_init(&d->w, delay_cb, t, 0);
	d->w.data = T;
	ev_timer_start(LEM, &d->w);
	return ret;
}

/* capi.run(f, ...): runs f(...) in a new coroutine made with lem_newthread */
static int
capi_run(lua_State *T)
{
	lua_State *S;
	int n = lua_gettop(T);

	luaL_checktype(T, 1, LUA_TFUNCTION);
	S = lem_newthread();
	lua_xmove(T, S, n);
	lem_queue(S, n - 1);
	return 0;
}

struct job {
	struct lem_async a;
	lua_State *T;
	long n, sum;
};

static void
job_work(struct lem_async *a)
{
	struct job *j = (struct job *)a;
	long i;

	for (i = 1, j->sum = 0; i <= j->n; i++)
		j->sum += i;
}

static void
job_done(struct lem_async *a)
{
	struct job *j = (struct job *)a;

	lua_pushnumber(j->T, (lua_Number)j->sum);
	lem_queue(j->T, 1);
	free(j);
}

/* capi.sum(n): 1 + 2 + ... + n, computed in a worker thread */
static int
capi_sum(lua_State *T)
{
	long n = (long)luaL_checknumber(T, 1);
	struct job *j;
	int ret;

	j = malloc(sizeof(*j));
	if (j == NULL)
		return luaL_error(T, "out of memory");
	ret = lem_suspend(T);
	j->T = T;
	j->n = n;
	lem_async_run(&j->a, job_work, job_done);
	return ret;
}

/* box:get(): the number in the box, checked with lem_checkudata */
static int
box_get(lua_State *T)
{
	lua_Number *v = lem_checkudata(T, 1, lua_upvalueindex(1), "capi.Box");

	lua_pushnumber(T, *v);
	return 1;
}

/* capi.box(v): a userdata holding v, whose get method carries its metatable */
static int
capi_box(lua_State *T)
{
	lua_Number *v = lua_newuserdata(T, sizeof(lua_Number));

	*v = luaL_checknumber(T, 1);
	lua_pushvalue(T, lua_upvalueindex(1));
	lua_setmetatable(T, -2);
	return 1;
}

/*
 * A bell: a wait that deadlines and co:cancel() can end (lem_wait).
 * bell:wait() waits for bell:ring(v), which ends it with v, or for
 * bell:later(seconds, s), which after that time ends it through
 * lem_wait_run with the string s .. "!" (made in a protected call).
 */
struct bell {
	struct lem_wait w;
	struct ev_timer timer;
	char text[32];
};

static int
bell_cancel(struct lem_wait *w, lua_State *T)
{
	struct bell *b = (struct bell *)w;

	(void)T;
	ev_timer_stop(LEM, &b->timer);
	return 0;
}

static int
bell_step(lua_State *P, void *ud)
{
	struct bell *b = ud;

	lua_pushfstring(P, "%s!", b->text);
	return 1;
}

static void
bell_timer_cb(EV_P_ struct ev_timer *w, int revents)
{
	struct bell *b = w->data;

	(void)EV_A;
	(void)revents;
	lem_wait_run(&b->w, bell_step, b);
}

static struct bell *
check_bell(lua_State *T)
{
	return lem_checkudata(T, 1, lua_upvalueindex(1), "capi.Bell");
}

/* bell:wait() */
static int
bell_wait(lua_State *T)
{
	struct bell *b = check_bell(T);

	lua_settop(T, 1);
	if (lem_waiting(&b->w))
		return lem_busy(T);
	return lem_wait(T, &b->w, bell_cancel);
}

/* bell:ring(v): true if somebody waited */
static int
bell_ring(lua_State *T)
{
	struct bell *b = check_bell(T);
	lua_State *W;

	luaL_checkany(T, 2);
	W = lem_wait_end(&b->w);
	if (W == NULL) {
		lua_pushboolean(T, 0);
		return 1;
	}
	ev_timer_stop(LEM, &b->timer);
	lua_settop(T, 2);
	lua_xmove(T, W, 1);
	lem_queue(W, 1);
	lua_pushboolean(T, 1);
	return 1;
}

/* bell:later(seconds, text): end the wait with text .. '!' then */
static int
bell_later(lua_State *T)
{
	struct bell *b = check_bell(T);
	lua_Number t = luaL_checknumber(T, 2);
	size_t len;
	const char *text = luaL_checklstring(T, 3, &len);

	if (len >= sizeof(b->text))
		return luaL_argerror(T, 3, "too long");
	memcpy(b->text, text, len + 1);
	ev_timer_stop(LEM, &b->timer);
	ev_timer_set(&b->timer, t, 0);
	ev_timer_start(LEM, &b->timer);
	return 0;
}

/* bell:fail(): nil, 'interrupted' for the waiter; true if there was one */
static int
bell_fail(lua_State *T)
{
	struct bell *b = check_bell(T);

	lua_pushboolean(T, lem_wait_fail(&b->w, "interrupted"));
	return 1;
}

static int
bell_gc(lua_State *T)
{
	struct bell *b = lua_touserdata(T, 1);

	ev_timer_stop(LEM, &b->timer);
	return 0;
}

static const luaL_Reg bell_methods[] = {
	{ "wait",  bell_wait },
	{ "ring",  bell_ring },
	{ "later", bell_later },
	{ "fail",  bell_fail },
	{ "__gc",  bell_gc },
	{ NULL, NULL }
};

/* capi.bell() */
static int
capi_bell(lua_State *T)
{
	struct bell *b = lua_newuserdata(T, sizeof(struct bell));

	b->w.T = NULL;
	ev_timer_init(&b->timer, bell_timer_cb, 0, 0);
	b->timer.data = b;
	luaL_getmetatable(T, "capi.Bell");
	lua_setmetatable(T, -2);
	return 1;
}

static const luaL_Reg capi[] = {
	{ "bell",         capi_bell },
	{ "double_later", capi_double_later },
	{ "run",          capi_run },
	{ "sum",          capi_sum },
	{ NULL, NULL }
};

int
luaopen_capi_module(lua_State *L)
{
	lua_newtable(L);
	luaL_register(L, NULL, capi);
	lua_newtable(L);                        /* the Box metatable */
	lua_pushvalue(L, -1);
	lua_setfield(L, -2, "__index");
	lua_pushvalue(L, -1);
	lua_pushcclosure(L, box_get, 1);
	lua_setfield(L, -2, "get");
	lua_pushcclosure(L, capi_box, 1);
	lua_setfield(L, -2, "box");
	lem_newmetatable(L, "capi.Bell", bell_methods);
	lua_setfield(L, -2, "Bell");
	return 1;
}
