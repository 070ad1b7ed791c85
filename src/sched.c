/*
 * sched.c - the scheduler: the run queue, resuming and suspending
 * coroutines, and ending the program.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "runtime.h"

#include <stdlib.h>
#include <string.h>

struct ev_loop *lem_loop;
lua_State *sched_running;
int sched_suspended;
int sched_exiting;
int sched_status = EXIT_SUCCESS;

/* The run queue: a ring of coroutines and their argument counts. */
struct job {
	lua_State *T;
	int nargs;
};
static struct job *queue;
static unsigned int qhead, qlen, qcap;
static struct ev_prepare prepare;
static struct ev_idle idle;

/*
 * Coroutines that returned normally can run a new function, so finished
 * ones are kept (still anchored) for lem_newthread to hand out again.
 */
#define POOL_MAX 256
static lua_State *pool[POOL_MAX];
static int npool;

lua_State *
sched_pooled(void)
{
	if (npool > 0)
		return pool[--npool];
	return NULL;
}

/* A coroutine has finished normally: recycle it. */
void
sched_thread_done(lua_State *T)
{
	lua_settop(T, 0);
	if (npool < POOL_MAX)
		pool[npool++] = T;
	else
		lem_forgetthread(T);
}

void
lem_queue(lua_State *T, int nargs)
{
	struct job *j;

	/* a new coroutine starting with a C function: see pcall.c */
	if (lua_status(T) == 0 && lua_iscfunction(T, -nargs - 1)) {
		pcall_push_trampoline(T, nargs);
		nargs++;
	}
	if (qlen == qcap) {
		/*
		 * realloc moves a big ring by remapping its pages, without
		 * copying or touching fresh ones; then the part that had
		 * wrapped around to the front goes after the old end.
		 */
		unsigned int ncap = qcap ? 2 * qcap : 64;
		struct job *nq = realloc(queue, ncap * sizeof(struct job));

		if (nq == NULL)
			lem_oom();
		if (qhead > 0)
			memcpy(nq + qcap, nq, qhead * sizeof(struct job));
		queue = nq;
		qcap = ncap;
	}
	j = &queue[(qhead + qlen) & (qcap - 1)];
	j->T = T;
	j->nargs = nargs;
	qlen++;
	if (!ev_is_active(&idle))
		ev_idle_start(LEM, &idle);   /* keeps the loop alive, polls with 0 timeout */
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
thread_resume(lua_State *T, int nargs)
{
	lua_State *P;
	int status;

	for (;;) {
		sched_running = T;
		sched_suspended = 0;
		status = lua_resume(T, nargs);
		sched_running = NULL;
		if (status == LUA_YIELD) {
			if (!sched_suspended) {
				/* a bare coroutine.yield() acts as utils.yield() */
				lua_settop(T, 0);
				lem_queue(T, 0);
			}
			return;
		}
		if ((P = pcall_finished(T, status, &nargs)) != NULL) {
			T = P;
			continue;
		}
		if (status == 0) {
			sched_thread_done(T);
			return;
		}
		if (!sched_exiting) {
			report_error(T);
			lem_exit(EXIT_FAILURE);
		}
		lem_forgetthread(T);
		return;
	}
}

/*
 * Run what is queued now; coroutines queued meanwhile wait for the next
 * loop iteration, so I/O and timers get their turn between batches.
 */
static void
prepare_cb(EV_P_ struct ev_prepare *w, int revents)
{
	unsigned int n = qlen;

	(void)w;
	(void)revents;
	while (n-- > 0 && !sched_exiting) {
		struct job j = queue[qhead];

		qhead = (qhead + 1) & (qcap - 1);
		qlen--;
		thread_resume(j.T, j.nargs);
	}
	/*
	 * With the queue empty the idle watcher goes; if no other watcher
	 * is active either, libev polls without blocking and ev_run returns.
	 */
	if (qlen == 0 && ev_is_active(&idle))
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
}

void
sched_free(void)
{
	free(queue);
	queue = NULL;
}
