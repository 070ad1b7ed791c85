/*
 * runtime.h - how the parts of the lem interpreter talk to each other
 * (private: modules use lem.h only).
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * The parts, and who owns what:
 *
 *   main.c    the command line, the main chunk's driver, main();
 *   heap.c    the allocator of the Lua state;
 *   anchor.c  the thread table: which coroutines lem holds, so that they
 *             are not collected while queued or waiting;
 *   sched.c   the run queue and the scheduler: resuming coroutines,
 *             suspending them, ending the program;
 *   pcall.c   yield-safe pcall/xpcall on plain Lua 5.1 and the guard on
 *             coroutine.resume;
 *   report.c  reports of uncaught errors;
 *   api.c     small helpers of lem.h for modules;
 *   async.c   the worker threads of lem_async_run().
 *
 * Everything here runs in the loop's thread.  L is the main Lua state: it
 * never runs Lua code of its own, so its stack is free for short pieces
 * of bookkeeping, which always leave it as they found it.
 */
#ifndef LEM_RUNTIME_H
#define LEM_RUNTIME_H

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lem.h"

/* main.c */
extern lua_State *L;
void lem_oom(void);

/* heap.c: a new Lua state on lem's allocator (or Lua's own) */
lua_State *heap_newstate(void);

/* anchor.c */
void anchor_init(void);
void anchor_free(void);
int anchor_held(lua_State *T);          /* does lem hold T? */
extern unsigned int anchor_count;       /* coroutines held */

/* sched.c */
extern lua_State *sched_running;        /* the coroutine lem resumed */
extern int sched_suspended;             /* did it yield through lem_suspend? */
extern int sched_exiting;
extern int sched_status;                /* the exit status */
void sched_init(void);
void sched_free(void);
void sched_thread_done(lua_State *T);   /* T returned normally */
lua_State *sched_pooled(void);          /* a finished coroutine, or NULL */

/* pcall.c */
void pcall_init(void);
/* T, a coroutine lem resumed, has ended with status (0 or an error):
 * if it was the inner coroutine of a suspended pcall, push pcall's
 * results onto the waiting caller, set *nargs and return the caller */
lua_State *pcall_finished(lua_State *T, int status, int *nargs);
/* Lua 5.1 cannot resume a coroutine whose body is a C function that
 * yielded: put a Lua function under the C function, which sits below the
 * top nargs values of T */
void pcall_push_trampoline(lua_State *T, int nargs);

/* report.c */
void report_init(void);
void report_error(lua_State *T);        /* the error object is on top of T */

#endif /* LEM_RUNTIME_H */
