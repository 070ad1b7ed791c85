/*
 * task.c - lem coroutines and their handles: lem_newthread(),
 * utils.spawn, utils.current and the utils.Coroutine methods join,
 * cancel and status.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "runtime.h"

#include <stdlib.h>

/*
 * A handle is the coroutine itself: utils.Coroutine is the metatable of
 * the thread type (Lua has one for all threads), so spawn allocates
 * nothing beyond the coroutine, and coroutine.running() inside it is its
 * own handle.  Every coroutine lem_newthread() makes has this marker at
 * the bottom of its stack, under the function: when it has returned, its
 * results lie above the marker, where join() finds them, and the marker
 * tells it from a coroutine made by coroutine.create.
 */
static char marker;
#define COROUTINE_MT "lem.Coroutine"

/* a coroutine waiting in co:join() */
struct joiner {
	struct lem_wait w;
	struct joiner *next;
	unsigned int target;    /* the slot of the coroutine joined */
};

lua_State *
lem_newthread(void)
{
	unsigned int slot;
	lua_State *T = anchor_new(&slot);

	TASK(slot)->handle = 1;
	lua_pushlightuserdata(T, &marker);
	sched_ended_T = T;              /* lem_queue(T) needs no lookup */
	sched_ended_slot = slot;
	return T;
}

void
lem_forgetthread(lua_State *T)
{
	unsigned int slot = anchor_lookup(T);

	if (slot != 0)
		anchor_forget(slot);
}

static int
joiner_cancel(struct lem_wait *w, lua_State *T)
{
	struct joiner *j = (struct joiner *)w, **p;

	(void)T;
	/* the task records may have moved: find the link from the head */
	for (p = &TASK(j->target)->joiners; *p != NULL; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			break;
		}
	return 0;
}

/* push true and the results of the finished coroutine T onto J, which
 * has room for lua_gettop(T) values; returns their number */
static int
push_results(lua_State *J, lua_State *T)
{
	int i, n = lua_gettop(T);

	lua_pushboolean(J, 1);
	for (i = 2; i <= n; i++) {
		lua_pushvalue(T, i);
		lua_xmove(T, J, 1);
	}
	return n;
}

void
task_done(unsigned int slot)
{
	struct task *t = TASK(slot);
	lua_State *T = NULL;

	if (!t->handle) {
		/* a pcall's helper that its caller gave up (see pcall.c) */
		anchor_forget(slot);
		return;
	}
	if (t->joiners != NULL)
		T = anchor_thread(slot);
	while (t->joiners != NULL) {
		struct joiner *j = t->joiners;
		lua_State *J;
		int n;

		t->joiners = j->next;
		J = lem_wait_end(&j->w);
		if (J == NULL)
			continue;
		if (!lua_checkstack(J, lua_gettop(T) + 1)) {
			lem_wait_fail(&j->w, "too many results");
			continue;
		}
		n = push_results(J, T);
		lem_queue(J, n);
	}
	if (t->held != NULL)
		mutex_abandon_all(slot);
	if (t->scope != NULL || t->spare != NULL)
		scope_drop_all(slot);
	t->wait = NULL;
	anchor_forget(slot);
}

int
task_finished(lua_State *co)
{
	lua_Debug ar;

	return lua_status(co) == 0 && lua_touserdata(co, 1) == &marker &&
		!lua_getstack(co, 0, &ar) && anchor_lookup(co) == 0;
}

/* coroutine.status(co): a lem coroutine that returned is 'dead', though
 * its results are kept on its stack */
static int
coroutine_status_compat(lua_State *T)
{
	lua_State *co = lua_tothread(T, 1);

	if (co != NULL && co != T && task_finished(co)) {
		lua_pushliteral(T, "dead");
		return 1;
	}
	lua_pushvalue(T, lua_upvalueindex(1));
	lua_insert(T, 1);
	lua_call(T, lua_gettop(T) - 1, 1);
	return 1;
}

/* the thread at idx must be a lem coroutine; its slot, 0 if done */
unsigned int
task_check(lua_State *T, int idx)
{
	lua_State *co = lua_tothread(T, idx);
	unsigned int slot;

	if (co == NULL)
		luaL_typerror(T, idx, "utils.Coroutine");
	slot = anchor_lookup(co);
	if (slot != 0 && TASK(slot)->handle)
		return slot;
	if (slot == 0 && co != T && task_finished(co))
		return 0;
	luaL_argerror(T, idx, "not a coroutine spawned by lem");
	return 0;
}

/* co:join() */
static int
coroutine_join(lua_State *T)
{
	unsigned int slot = task_check(T, 1);
	struct joiner *j;
	struct task *t;
	int ret;

	if (slot == 0) {
		lua_State *co = lua_tothread(T, 1);

		if (!lua_checkstack(T, lua_gettop(co) + 1))
			return luaL_error(T, "too many results to join");
		return push_results(T, co);
	}
	if (slot == sched_owner())
		return luaL_error(T, "a coroutine cannot join itself");
	lua_settop(T, 1);
	j = lua_newuserdata(T, sizeof(struct joiner));  /* stays on T's stack */
	j->w.T = NULL;
	j->target = slot;
	ret = lem_wait(T, &j->w, joiner_cancel);
	if (lem_waiting(&j->w)) {
		t = TASK(slot);
		j->next = t->joiners;
		t->joiners = j;
	}
	return ret;
}

/* co:cancel() */
static int
coroutine_cancel(lua_State *T)
{
	unsigned int slot = task_check(T, 1);
	struct task *t;

	if (slot == 0)
		return lem_error(T, "done");
	t = TASK(slot);
	t->cancelled = 1;
	if (t->wait != NULL)
		lem_wait_fail(t->wait, "cancelled");
	lua_pushboolean(T, 1);
	return 1;
}

/* co:status() */
static int
coroutine_status(lua_State *T)
{
	unsigned int slot = task_check(T, 1);

	if (slot == 0)
		lua_pushliteral(T, "done");
	else if (TASK(slot)->state == TASK_RUNNING)
		lua_pushliteral(T, "running");
	else if (TASK(slot)->state == TASK_WAITING)
		lua_pushliteral(T, "waiting");
	else
		lua_pushliteral(T, "queued");
	return 1;
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
	if (!lua_checkstack(S, n + 2)) {
		lem_forgetthread(S);
		return luaL_error(T, "too many arguments to spawn");
	}
	lua_pushthread(S);
	lua_xmove(S, T, 1);             /* the handle, below func */
	lua_insert(T, 1);
	lua_xmove(T, S, n);
	lem_queue(S, n - 1);
	return 1;
}

/* utils.current() */
static int
utils_current(lua_State *T)
{
	unsigned int owner = sched_owner();

	if (owner == 0)
		lua_pushnil(T);
	else
		anchor_push(T, owner);
	return 1;
}

static const luaL_Reg coroutine_methods[] = {
	{ "join",   coroutine_join },
	{ "cancel", coroutine_cancel },
	{ "status", coroutine_status },
	{ NULL, NULL }
};

/* task_init(): the thread metatable; spawn, current and Coroutine into
 * the table on top of L */
void
task_init(void)
{
	lem_newmetatable(L, COROUTINE_MT, coroutine_methods);
	lua_pushthread(L);
	lua_pushvalue(L, -2);
	lua_setmetatable(L, -2);        /* the metatable of every thread */
	lua_pop(L, 1);
	lua_setfield(L, -2, "Coroutine");
	lua_pushcfunction(L, utils_spawn);
	lua_setfield(L, -2, "spawn");
	lua_pushcfunction(L, utils_current);
	lua_setfield(L, -2, "current");

	lua_getglobal(L, "coroutine");
	lua_getfield(L, -1, "status");
	lua_pushcclosure(L, coroutine_status_compat, 1);
	lua_setfield(L, -2, "status");
	lua_pop(L, 1);
}
