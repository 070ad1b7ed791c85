/*
 * sched.c - the scheduler: the run queues, resuming and suspending
 * coroutines, and ending the program.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ev_loop *lem_loop;
lua_State *sched_running;
unsigned int sched_slot;
int sched_suspended;
int sched_exiting;
int sched_status = EXIT_SUCCESS;

/*
 * Two run queues, each a ring of coroutines with their argument counts
 * and slots, first in first out.  Coroutines queued by running Lua code
 * (spawn, yield, a wakeup by another coroutine) go to the back of the
 * backlog; coroutines that a libev callback hands back (I/O ready, a
 * timer fired) go to the event queue.  Each loop turn runs everything
 * the event queue held when the turn began, then the backlog that was
 * there, for at most SLICE seconds: a million spawns then keep a ready
 * socket waiting one slice, not until all of them have run.
 */
#define SLICE      0.005
#define SLICE_POLL 64           /* resumes between two looks at the clock */

struct job {
	lua_State *T;
	int nargs;
	unsigned int slot;
};
struct ring {
	struct job *jobs;
	unsigned int head, len, cap;
};
static struct ring backlog, events;
static struct ev_prepare prepare;
static struct ev_idle idle;
static int in_turn;             /* prepare_cb is running coroutines */

static int xpcall_ref = LUA_NOREF;      /* LuaJIT: xpcall, the bodies' base */
static int keep_ref = LUA_NOREF;        /* LuaJIT: report_keep, its handler */

/*
 * libev's callbacks all run inside one protected call per loop turn, on
 * a Lua thread of their own (sched_cb): a step that pushes the results
 * of a wait (lem_wait_run) pushes them there, so a __gc metamethod that
 * an allocation runs, and that raises, is caught and reported instead
 * of ending lem in Lua's panic.  Nothing else uses that thread, and no
 * coroutine runs Lua code on it.
 */
lua_State *sched_cb;
int sched_in_callbacks;
static int cb_ref = LUA_NOREF;          /* keeps sched_cb */
static int invoke_ref = LUA_NOREF;      /* invoke_run */

static int
invoke_run(lua_State *S)
{
	(void)S;
	ev_invoke_pending(LEM);
	return 0;
}

static void
invoke_cb(EV_P)
{
	int top;

	if (ev_pending_count(EV_A) == 0)
		return;
	top = lua_gettop(sched_cb);
	report_push_handler(sched_cb);
	lua_rawgeti(sched_cb, LUA_REGISTRYINDEX, invoke_ref);
	sched_in_callbacks = 1;
	if (lua_pcall(sched_cb, 0, 0, top + 1) != 0) {
		const char *msg = lua_tostring(sched_cb, -1);

		/* a __gc metamethod raised in lem's own work */
		fflush(stdout);
		fprintf(stderr, "lem: %s\n", msg ? msg : "error in __gc metamethod");
		fflush(stderr);
		lem_exit(EXIT_FAILURE);
	}
	sched_in_callbacks = 0;
	lua_settop(sched_cb, top);
}

static void
ring_push(struct ring *r, lua_State *T, int nargs, unsigned int slot)
{
	struct job *j;

	if (r->len == r->cap) {
		/*
		 * realloc moves a big ring by remapping its pages, without
		 * copying or touching fresh ones; then the part that had
		 * wrapped around to the front goes after the old end.
		 */
		unsigned int ncap = r->cap ? 2 * r->cap : 64;
		struct job *nq = realloc(r->jobs, ncap * sizeof(struct job));

		if (nq == NULL)
			lem_oom();
		if (r->head > 0)
			memcpy(nq + r->cap, nq, r->head * sizeof(struct job));
		r->jobs = nq;
		r->cap = ncap;
	}
	j = &r->jobs[(r->head + r->len) & (r->cap - 1)];
	j->T = T;
	j->nargs = nargs;
	j->slot = slot;
	r->len++;
}

static struct job
ring_take(struct ring *r)
{
	struct job j = r->jobs[r->head];

	r->head = (r->head + 1) & (r->cap - 1);
	r->len--;
	return j;
}

void
sched_push(lua_State *T, int nargs, unsigned int slot)
{
	struct task *o = OWNER(slot);

	if (o->state == 0 && lua_status(T) == 0) {
		/*
		 * A new coroutine.  On LuaJIT its body is called by xpcall
		 * itself, the coroutine's first function: xpcall(f, keep,
		 * ...).  No Lua frame of lem's sits below f, so that a body
		 * that waits fits in the stack a coroutine starts with.
		 */
		int base = lua_gettop(T) - nargs;   /* the body */

		/* nothing here allocates: a finalizer would run on T */
		if (xpcall_ref != LUA_NOREF && base < 256 &&
				lua_checkstack(T, 2)) {
			lua_rawgeti(T, LUA_REGISTRYINDEX, xpcall_ref);
			lua_insert(T, base);
			lua_rawgeti(T, LUA_REGISTRYINDEX, keep_ref);
			lua_insert(T, base + 2);
			nargs += 2;
			o->caught = (unsigned char)base;
		} else if (lua_iscfunction(T, -nargs - 1)) {
			pcall_push_trampoline(T, nargs);
			nargs++;
		}
	}
	o->state = TASK_QUEUED;
	ring_push(sched_running != NULL || in_turn ? &backlog : &events,
			T, nargs, slot);
	if (!ev_is_active(&idle))
		ev_idle_start(LEM, &idle);   /* keeps the loop alive, polls with 0 timeout */
}

void
lem_queue(lua_State *T, int nargs)
{
	unsigned int slot;

	if (T == sched_ended_T) {
		slot = sched_ended_slot;
		sched_ended_T = NULL;
	} else if (T == sched_running)
		slot = sched_slot;
	else
		slot = anchor_lookup(T);
	if (slot == 0)
		luaL_error(T, "lem_queue: a coroutine lem does not hold");
	sched_push(T, nargs, slot);
}

int
lem_suspend(lua_State *T)
{
	int ret;

	if (T != sched_running)
		return luaL_error(T, "attempt to suspend a coroutine that lem "
				"does not run (a coroutine.create/wrap coroutine?)");
	/* lua_yield raises if T cannot yield here, and commits otherwise */
	ret = lua_yield(T, lua_gettop(T));
	sched_suspended = 1;
	OWNER(sched_slot)->state = TASK_WAITING;
	return ret;
}

void
lem_exit(int status)
{
	if (sched_exiting)
		return;
	sched_exiting = 1;
	sched_status = status;
	ev_break(LEM, EVBREAK_ALL);
}

static void
thread_resume(lua_State *T, int nargs, unsigned int slot)
{
	lua_State *P;
	int status;

	for (;;) {
		sched_running = T;
		sched_slot = slot;
		sched_suspended = 0;
		OWNER(slot)->state = TASK_RUNNING;
		status = lua_resume(T, nargs);
		sched_running = NULL;
		sched_slot = 0;
		if (status == LUA_YIELD) {
			if (!sched_suspended) {
				/* a bare coroutine.yield() acts as utils.yield() */
				lua_settop(T, 0);
				sched_push(T, 0, slot);
			}
			return;
		}
		if (TASK(slot)->parent != 0 &&
				(P = pcall_finished(T, &slot, status, &nargs)) != NULL) {
			T = P;
			continue;
		}
		if (status == 0 && OWNER(slot)->caught) {
			/* xpcall's results, where xpcall was */
			int base = OWNER(slot)->caught;

			if (lua_toboolean(T, base)) {
				lua_remove(T, base);
			} else {
				lua_settop(T, base + 1);        /* the error object */
				status = LUA_ERRRUN;
			}
		}
		if (status == 0) {
			task_done(slot);
			return;
		}
		if (!sched_exiting) {
			report_error(T);
			lem_exit(EXIT_FAILURE);
		}
		anchor_forget(slot);
		return;
	}
}

static void
prepare_cb(EV_P_ struct ev_prepare *w, int revents)
{
	unsigned int n = events.len;
	ev_tstamp end = 0;

	(void)w;
	(void)revents;
	in_turn = 1;
	while (n-- > 0 && !sched_exiting) {
		struct job j = ring_take(&events);

		thread_resume(j.T, j.nargs, j.slot);
	}
	n = backlog.len;
	while (n > 0 && !sched_exiting) {
		struct job j = ring_take(&backlog);

		thread_resume(j.T, j.nargs, j.slot);
		if (--n % SLICE_POLL == 0 && n > 0) {
			ev_tstamp now = ev_time();

			if (end == 0)
				end = now + SLICE;
			else if (now >= end)
				break;
		}
	}
	in_turn = 0;
	/*
	 * With the queues empty the idle watcher goes; if no other watcher
	 * is active either, libev polls without blocking and ev_run returns.
	 */
	if (events.len == 0 && backlog.len == 0 && ev_is_active(&idle))
		ev_idle_stop(EV_A_ &idle);
	if (sched_exiting)
		ev_break(EV_A_ EVBREAK_ALL);
}

static void
idle_cb(EV_P_ struct ev_idle *w, int revents)
{
	(void)EV_A;
	(void)w;
	(void)revents;
}

void
sched_init(void)
{
	ev_prepare_init(&prepare, prepare_cb);
	ev_prepare_start(LEM, &prepare);
	ev_unref(LEM);          /* the prepare watcher alone is no reason to run */
	ev_idle_init(&idle, idle_cb);

	sched_cb = lua_newthread(L);
	cb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_pushcfunction(L, invoke_run);
	invoke_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	ev_set_invoke_pending_cb(LEM, invoke_cb);

	/* LuaJIT unwinds the stack of an error before lua_resume returns:
	 * coroutine bodies run under xpcall, whose handler (report_keep)
	 * takes the traceback where the error was raised */
	lua_getglobal(L, "jit");
	if (!lua_isnil(L, -1)) {
		lua_getglobal(L, "xpcall");
		xpcall_ref = luaL_ref(L, LUA_REGISTRYINDEX);
		lua_pushcfunction(L, report_keep);
		keep_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	lua_pop(L, 1);
}

void
sched_free(void)
{
	free(backlog.jobs);
	free(events.jobs);
	backlog.jobs = events.jobs = NULL;
}
