/*
 * wait.c - waits that deadlines and cancellation can end: lem_wait() and
 * friends (lem.h), deadline scopes (utils.timeout) and utils.sleep.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "runtime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * Words such as 'timeout' are pushed onto waiting coroutines from libev
 * callbacks, where an allocation could run a __gc metamethod outside any
 * protected call.  So each word is made into a Lua string once, in a
 * protected call, and kept in a registry table keyed by the C string's
 * address: pushing it later is a table read, which allocates nothing.
 */
static int words_ref = LUA_NOREF;
static int step_ref = LUA_NOREF;        /* wait_step_run */
static int intern_ref = LUA_NOREF;      /* wait_intern */
static int handler_ref = LUA_NOREF;     /* report.c's message handler */

/* a protected call of the function below the top nargs values of L
 * failed in lem's own code (a __gc metamethod raised): report, end lem */
static void
wait_internal_error(int top)
{
	const char *msg = lua_tostring(L, -1);

	fflush(stdout);
	fprintf(stderr, "lem: %s\n", msg ? msg : "error in __gc metamethod");
	fflush(stderr);
	lua_settop(L, top);
	lem_exit(EXIT_FAILURE);
}

static int
wait_intern(lua_State *S)
{
	const char *word = lua_touserdata(S, 1);

	lua_rawgeti(S, LUA_REGISTRYINDEX, words_ref);
	lua_pushlightuserdata(S, (void *)word);
	lua_pushstring(S, word);
	lua_rawset(S, -3);
	return 0;
}

void
wait_push_word(lua_State *T, const char *word)
{
	lua_pushnil(T);
	wait_push_string(T, word);
}

void
wait_push_string(lua_State *T, const char *word)
{
	int top = lua_gettop(L);

	lua_rawgeti(L, LUA_REGISTRYINDEX, words_ref);
	lua_pushlightuserdata(L, (void *)word);
	lua_rawget(L, -2);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_rawgeti(L, LUA_REGISTRYINDEX, handler_ref);
		lua_rawgeti(L, LUA_REGISTRYINDEX, intern_ref);
		lua_pushlightuserdata(L, (void *)word);
		if (lua_pcall(L, 1, 0, -3) != 0) {
			wait_internal_error(top);
			lua_pushnil(T);
			return;
		}
		lua_pop(L, 1);
		lua_pushlightuserdata(L, (void *)word);
		lua_rawget(L, -2);
	}
	lua_xmove(L, T, 1);
	lua_settop(L, top);
}

/* ------------------------------------------------------------ scopes */

/*
 * A deadline scope: utils.timeout(seconds, f, ...) pushes one on the
 * calling lem coroutine while f runs.  Scopes nest; eff is the scope
 * whose deadline applies (the earliest of this one and the enclosing
 * ones), and only eff scopes arm their timer, lazily, when a wait starts
 * under them: a call that never waits costs no timer.  A scope is
 * expired once its timer fired at or past its deadline, or from the
 * start for seconds <= 0.
 *
 * A coroutine that puts a deadline on each of many short waits (a read
 * under utils.timeout(30, ...), again and again) would start and stop a
 * timer for each.  So the last scope a coroutine ended is kept as its
 * spare, timer still running, and its next scope reuses it: if the timer
 * is due no later than the new deadline it stays as it is, and when it
 * fires before the deadline it is just set again for the rest.
 */
struct scope {
	struct scope *parent;   /* the enclosing scope; the free list */
	struct scope *eff;
	ev_tstamp deadline;     /* in ev_now()'s time */
	struct ev_timer timer;
	unsigned int owner;     /* the slot of the lem coroutine */
	unsigned int id;
	unsigned char expired;
	unsigned char inuse;    /* on its coroutine's chain, not the spare */
};

#define SCOPE_BLOCK 64
struct scope_block {
	struct scope_block *next;
	struct scope s[SCOPE_BLOCK];
};
static struct scope_block *scope_blocks;
static struct scope *scope_free;
static unsigned int scope_ids;

static int
scope_expired(struct scope *sc)
{
	return sc->eff->expired;
}

static void
scope_timer_cb(EV_P_ struct ev_timer *w, int revents)
{
	struct scope *sc = w->data;
	struct task *t = TASK(sc->owner);

	(void)revents;
	if (!sc->inuse || sc->eff != sc)
		return;                 /* a spare, or no longer what applies */
	if (ev_now(EV_A) < sc->deadline) {
		/* set for an earlier deadline of a scope that used it before */
		ev_timer_set(w, sc->deadline - ev_now(EV_A), 0);
		ev_timer_start(EV_A_ w);
		return;
	}
	sc->expired = 1;
	if (t->wait != NULL)
		lem_wait_fail(t->wait, "timeout");
}

static struct scope *
scope_alloc(void)
{
	struct scope *sc;

	if (scope_free == NULL) {
		struct scope_block *b = malloc(sizeof(struct scope_block));
		int i;

		if (b == NULL)
			lem_oom();
		b->next = scope_blocks;
		scope_blocks = b;
		for (i = 0; i < SCOPE_BLOCK; i++) {
			b->s[i].parent = scope_free;
			scope_free = &b->s[i];
		}
	}
	sc = scope_free;
	scope_free = sc->parent;
	ev_timer_init(&sc->timer, scope_timer_cb, 0, 0);
	sc->timer.data = sc;
	return sc;
}

static void
scope_release(struct scope *sc)
{
	ev_timer_stop(LEM, &sc->timer);
	sc->inuse = 0;
	sc->parent = scope_free;
	scope_free = sc;
}

/* the innermost scope of owner goes */
static void
scope_pop(struct task *t)
{
	struct scope *sc = t->scope;

	t->scope = sc->parent;
	if (t->spare == NULL && ev_is_active(&sc->timer)) {
		sc->inuse = 0;
		t->spare = sc;
	} else {
		scope_release(sc);
	}
}

void
scope_unwind(unsigned int owner, struct scope *keep)
{
	struct task *t = TASK(owner);

	while (t->scope != NULL && t->scope != keep)
		scope_pop(t);
}

void
scope_drop_all(unsigned int owner)
{
	struct task *t = TASK(owner);

	scope_unwind(owner, NULL);
	if (t->spare != NULL) {
		scope_release(t->spare);
		t->spare = NULL;
	}
}

/* arm the timer of the deadline that applies to a wait under sc */
static void
scope_arm(struct scope *sc)
{
	struct scope *e = sc->eff;

	if (!ev_is_active(&e->timer)) {
		ev_timer_set(&e->timer, e->deadline - ev_now(LEM), 0);
		ev_timer_start(LEM, &e->timer);
	}
}

/* a number of seconds: nil or math.huge mean none (returns 0) */
static int
check_seconds(lua_State *T, int idx, lua_Number *t)
{
	if (lua_isnoneornil(T, idx))
		return 0;
	*t = luaL_checknumber(T, idx);
	if (*t != *t)
		luaL_argerror(T, idx, "number expected, got NaN");
	return !(isinf(*t) && *t > 0);
}

/*
 * A bad argument to utils.timeout, named as the caller knows it: push is
 * called by the Lua wrapper below, so the place is the wrapper's caller.
 */
static int
timeout_argerror(lua_State *T, int narg, const char *expected)
{
	lua_Number v = lua_tonumber(T, narg);
	const char *got = lua_type(T, narg) == LUA_TNUMBER && v != v ? "NaN" :
		luaL_typename(T, narg);

	luaL_where(T, 2);
	lua_pushfstring(T, "bad argument #%d to 'timeout' (%s expected, got %s)",
			narg, expected, got);
	lua_concat(T, 2);
	return lua_error(T);
}

/* push(seconds, f): a new scope on the running lem coroutine; its id */
static int
scope_push(lua_State *T)
{
	unsigned int owner = sched_owner();
	struct task *t;
	struct scope *sc;
	lua_Number secs = 0;
	int timed;

	if (!lua_isnoneornil(T, 1) &&
			(!lua_isnumber(T, 1) || lua_tonumber(T, 1) !=
			 lua_tonumber(T, 1)))
		timeout_argerror(T, 1, "number");
	timed = check_seconds(T, 1, &secs);
	if (lua_type(T, 2) != LUA_TFUNCTION && !luaL_getmetafield(T, 2, "__call"))
		timeout_argerror(T, 2, "function");
	if (owner == 0)
		return luaL_error(T, "utils.timeout outside a lem coroutine");
	if (!timed) {
		lua_pushinteger(T, 0);
		return 1;
	}
	t = TASK(owner);
	if (t->spare != NULL) {
		sc = t->spare;
		t->spare = NULL;
	} else {
		sc = scope_alloc();
	}
	ev_now_update(LEM);     /* the clock is read afresh */
	sc->deadline = ev_now(LEM) + (secs > 0 ? secs : 0);
	sc->expired = secs <= 0;
	sc->inuse = 1;
	sc->owner = owner;
	sc->id = ++scope_ids ? scope_ids : ++scope_ids;
	sc->parent = t->scope;
	if (sc->parent != NULL && sc->parent->eff->deadline <= sc->deadline)
		sc->eff = sc->parent->eff;
	else
		sc->eff = sc;
	/* a reused timer due after the deadline would fire too late */
	if (ev_is_active(&sc->timer) && (sc->eff != sc || sc->expired ||
			ev_now(LEM) + ev_timer_remaining(LEM, &sc->timer) > sc->deadline))
		ev_timer_stop(LEM, &sc->timer);
	t->scope = sc;
	lua_pushinteger(T, (lua_Integer)sc->id);
	return 1;
}

/* end the scope id of the running lem coroutine (and any left above it) */
static void
scope_end(lua_State *T)
{
	unsigned int owner = sched_owner();
	unsigned int id = (unsigned int)lua_tointeger(T, 1);
	struct scope *sc;

	if (id == 0 || owner == 0)
		return;
	for (sc = TASK(owner)->scope; sc != NULL; sc = sc->parent)
		if (sc->id == id)
			break;
	if (sc != NULL)
		scope_unwind(owner, sc->parent);
}

/* pop(id, ...): returns ... */
static int
scope_pop_direct(lua_State *T)
{
	scope_end(T);
	return lua_gettop(T) - 1;
}

/* pop(id, ok, ...): the results of an xpcall; raises its error again */
static int
scope_pop_caught(lua_State *T)
{
	scope_end(T);
	if (!lua_toboolean(T, 2)) {
		lua_settop(T, 3);
		return lua_error(T);
	}
	return lua_gettop(T) - 2;
}

/*
 * utils.timeout(seconds, f, ...) is Lua code, so that f can wait: on Lua
 * 5.1 a C function cannot be yielded across.  There, an error raised by
 * f unwinds to lem's pcall, which drops the scopes made inside it
 * (pcall.c), so f is called directly.  LuaJIT's pcall is its own, so f
 * runs under xpcall and its error is raised again once the scope is gone
 * (report_keep remembers the traceback of the place it came from).
 */
static const char timeout_direct[] =
	"local push, pop = ...\n"
	"return function(seconds, f, ...)\n"
	"  return pop(push(seconds, f), f(...))\n"
	"end\n";
static const char timeout_caught[] =
	"local push, pop, xpcall, keep = ...\n"
	"return function(seconds, f, ...)\n"
	"  return pop(push(seconds, f), xpcall(f, keep, ...))\n"
	"end\n";

/* ------------------------------------------------------------- waits */

int
lem_wait(lua_State *T, struct lem_wait *w, lem_cancel_cb cancel)
{
	int ret = lem_suspend(T);       /* raises if T cannot wait */
	unsigned int owner = sched_owner();
	struct task *t = TASK(owner);
	const char *word = NULL;

	w->cancel = cancel;
	w->pending = NULL;
	w->running = 0;
	w->slot = sched_slot;
	if (t->cancelled)
		word = "cancelled";
	else if (t->scope != NULL && scope_expired(t->scope))
		word = "timeout";
	if (word != NULL) {
		/* after the coroutines already queued have had their turn */
		w->T = NULL;
		wait_push_word(T, word);
		sched_push(T, 2, sched_slot);
		return ret;
	}
	w->T = T;
	t->wait = w;
	if (t->scope != NULL)
		scope_arm(t->scope);
	return ret;
}

const char *
lem_wait_ending(lua_State *T)
{
	struct task *t;

	if (T != sched_running)
		return NULL;
	t = TASK(sched_owner());
	if (t->cancelled)
		return "cancelled";
	if (t->scope != NULL && scope_expired(t->scope))
		return "timeout";
	return NULL;
}

int
lem_wait_ends_now(lua_State *T)
{
	return lem_wait_ending(T) != NULL;
}

/* w ends: it is no longer what its coroutine waits for */
static lua_State *
wait_take(struct lem_wait *w)
{
	lua_State *T = w->T;
	struct task *t = OWNER(w->slot);

	w->T = NULL;
	w->pending = NULL;
	if (t->wait == w)
		t->wait = NULL;
	return T;
}

/* lem_queue() of the coroutine that lem_wait_end() returned: no lookup */
lua_State *sched_ended_T;
unsigned int sched_ended_slot;

lua_State *
lem_wait_end(struct lem_wait *w)
{
	if (w->T == NULL || w->running)
		return NULL;
	sched_ended_slot = w->slot;
	return sched_ended_T = wait_take(w);
}

int
lem_wait_fail(struct lem_wait *w, const char *word)
{
	unsigned int slot = w->slot;
	lua_State *T;
	int n = 2;

	if (w->T == NULL)
		return 0;
	if (w->running) {
		if (w->pending == NULL)
			w->pending = word;
		return 1;
	}
	T = wait_take(w);
	if (!lua_checkstack(T, 8))
		lem_oom();
	wait_push_word(T, word);
	if (w->cancel != NULL)
		n += w->cancel(w, T);
	sched_push(T, n, slot);
	return 1;
}

struct step {
	lem_step_cb fn;
	void *ud;
};

/* a step ran on P, whose stack was top high, and returned n */
static void
wait_ran(struct lem_wait *w, lua_State *P, int top, int n)
{
	if (n > 0) {
		unsigned int slot = w->slot;
		lua_State *T = wait_take(w);

		if (!lua_checkstack(T, n))
			lem_oom();
		lua_xmove(P, T, n);
		lua_settop(P, top);
		sched_push(T, n, slot);
		return;
	}
	lua_settop(P, top);
	if (w->pending != NULL) {
		const char *word = w->pending;

		w->pending = NULL;
		lem_wait_fail(w, word);
	}
}

static int
wait_step_run(lua_State *P)
{
	struct step *st = lua_touserdata(P, 1);

	lua_settop(P, 0);
	return st->fn(P, st->ud);
}

void
lem_wait_run(struct lem_wait *w, lem_step_cb fn, void *ud)
{
	struct step st;
	int top, n;

	if (w->T == NULL || w->running)
		return;
	if (sched_in_callbacks && sched_running == NULL) {
		/* in libev's callbacks, already protected (sched.c) */
		lua_State *P = sched_cb;

		top = lua_gettop(P);
		w->running = 1;
		n = fn(P, ud);
		w->running = 0;
		wait_ran(w, P, top, n);
		return;
	}
	st.fn = fn;
	st.ud = ud;
	top = lua_gettop(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, handler_ref);
	lua_rawgeti(L, LUA_REGISTRYINDEX, step_ref);
	lua_pushlightuserdata(L, &st);
	w->running = 1;
	n = lua_pcall(L, 1, LUA_MULTRET, top + 1);
	w->running = 0;
	if (n != 0) {
		wait_internal_error(top);
		return;
	}
	lua_remove(L, top + 1);         /* the handler */
	wait_ran(w, L, top, lua_gettop(L) - top);
}

/* ------------------------------------------------------- utils.sleep */

struct sleep {
	struct lem_wait w;
	struct ev_timer timer;
};

static int
sleep_cancel(struct lem_wait *w, lua_State *T)
{
	struct sleep *s = (struct sleep *)w;

	(void)T;
	ev_timer_stop(LEM, &s->timer);
	return 0;
}

static void
sleep_timer_cb(EV_P_ struct ev_timer *timer, int revents)
{
	struct sleep *s = timer->data;
	lua_State *T = lem_wait_end(&s->w);

	(void)EV_A;
	(void)revents;
	if (T == NULL)
		return;
	lua_pushboolean(T, 1);
	lem_queue(T, 1);
}

/* utils.sleep(seconds) */
static int
utils_sleep(lua_State *T)
{
	lua_Number secs = luaL_checknumber(T, 1);
	struct sleep *s;
	int ret;

	if (!(secs >= 0))
		return luaL_argerror(T, 1, secs != secs ?
				"number expected, got NaN" : "negative time");
	lua_settop(T, 1);
	if (secs == 0) {
		/* yields once, like utils.yield(); not a wait */
		ret = lem_suspend(T);
		lua_pushboolean(T, 1);
		lem_queue(T, 1);
		return ret;
	}
	s = lua_newuserdata(T, sizeof(struct sleep));  /* stays on T's stack */
	s->w.T = NULL;
	ev_timer_init(&s->timer, sleep_timer_cb, 0, 0);
	s->timer.data = s;
	ret = lem_wait(T, &s->w, sleep_cancel);
	if (lem_waiting(&s->w) && !isinf(secs)) {
		ev_now_update(LEM);     /* the full time, after CPU-bound work */
		ev_timer_set(&s->timer, secs, 0);
		ev_timer_start(LEM, &s->timer);
	}
	return ret;
}

/* ------------------------------------------------------------ set-up */

static void
load_timeout(int core)
{
	int jit;

	lua_getglobal(L, "jit");
	jit = !lua_isnil(L, -1);
	lua_pop(L, 1);
	if (jit) {
		if (luaL_loadbuffer(L, timeout_caught, sizeof(timeout_caught) - 1,
					"=(timeout)") != 0)
			lem_oom();
		lua_pushcfunction(L, scope_push);
		lua_pushcfunction(L, scope_pop_caught);
		lua_getglobal(L, "xpcall");
		lua_pushcfunction(L, report_keep);
		lua_call(L, 4, 1);
	} else {
		if (luaL_loadbuffer(L, timeout_direct, sizeof(timeout_direct) - 1,
					"=(timeout)") != 0)
			lem_oom();
		lua_pushcfunction(L, scope_push);
		lua_pushcfunction(L, scope_pop_direct);
		lua_call(L, 2, 1);
	}
	lua_setfield(L, core, "timeout");
}

/* wait_init(): fills the core table (on top of L) with timeout, sleep */
void
wait_init(void)
{
	static const char *const words[] = {
		"timeout", "cancelled", "interrupted", "closed", "abandoned",
		"done", NULL
	};
	int i;

	lua_newtable(L);
	words_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_pushcfunction(L, wait_step_run);
	step_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_pushcfunction(L, wait_intern);
	intern_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_pushcfunction(L, report_handler);
	handler_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	for (i = 0; words[i] != NULL; i++) {
		lua_pushcfunction(L, wait_intern);
		lua_pushlightuserdata(L, (void *)words[i]);
		lua_call(L, 1, 0);
	}
	load_timeout(lua_gettop(L));
	lua_pushcfunction(L, utils_sleep);
	lua_setfield(L, -2, "sleep");
}

void
wait_free(void)
{
	while (scope_blocks != NULL) {
		struct scope_block *b = scope_blocks;

		scope_blocks = b->next;
		free(b);
	}
	scope_free = NULL;
}
