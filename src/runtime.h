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
 *   async.c   the worker threads of lem_async_run() and
 *             lem_async_run_file();
 *   workers.c lem --workers: the supervisor, and utils.worker.
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

/*
 * The task record of an anchored coroutine.  Every coroutine lem holds
 * works for one lem coroutine, its owner: itself, or on Lua 5.1 the
 * coroutine whose pcall it runs (pcall.c).  Only the owner's record keeps
 * the state a utils.Coroutine handle shows, and what waits, deadlines,
 * cancellation and mutexes are attached to.  Records are found by slot
 * number; the array may move when a coroutine is made, so never keep a
 * pointer to one across lem_newthread().
 */
struct scope;
struct joiner;
struct mutex;
struct task {
	unsigned int owner;     /* slot of the owner (its own slot if it is one) */
	unsigned int parent;    /* pcall.c: the slot of the caller, or 0 */
	unsigned char state;    /* TASK_QUEUED, ... (owner) */
	unsigned char cancelled;        /* co:cancel() was called (owner) */
	unsigned char handle;   /* a lem coroutine, not a pcall's helper */
	unsigned char caught;   /* LuaJIT: the stack index of the xpcall that
				 * runs its body, or 0 (sched.c) */
	struct lem_wait *wait;  /* the wait in progress (owner) */
	struct scope *scope;    /* the innermost deadline scope (owner) */
	struct scope *spare;    /* an ended scope whose timer may still run */
	struct mutex *held;     /* the mutexes it holds (owner) */
	struct joiner *joiners; /* coroutines waiting in co:join() (owner) */
};
#define TASK_QUEUED  1
#define TASK_RUNNING 2
#define TASK_WAITING 3

struct anchor_slot {
	unsigned int hash;      /* of the coroutine (anchor.c) */
	struct task task;
};
extern struct anchor_slot *anchor_slots;
#define TASK(slot) (&anchor_slots[(slot)].task)
#define OWNER(slot) TASK(TASK(slot)->owner)

/* anchor.c */
void anchor_init(void);
void anchor_free(void);
lua_State *anchor_new(unsigned int *slot);      /* a new held coroutine */
void anchor_forget(unsigned int slot);
unsigned int anchor_lookup(lua_State *T);       /* its slot, 0: not held */
lua_State *anchor_thread(unsigned int slot);
void anchor_push(lua_State *T, unsigned int slot);  /* the coroutine, onto T */
extern unsigned int anchor_count;       /* coroutines held */

/* sched.c */
extern lua_State *sched_running;        /* the coroutine lem resumed */
extern unsigned int sched_slot;         /* ... and its slot */
extern int sched_suspended;             /* did it yield through lem_suspend? */
extern int sched_exiting;
extern int sched_status;                /* the exit status */
extern lua_State *sched_cb;             /* where callbacks push (sched.c) */
extern int sched_in_callbacks;          /* libev's callbacks are running */
void sched_init(void);
void sched_free(void);
/* queue T (slot) with the top nargs values of its stack */
void sched_push(lua_State *T, int nargs, unsigned int slot);
/* the slot of the running lem coroutine's owner, 0 outside any */
#define sched_owner() (sched_slot ? TASK(sched_slot)->owner : 0u)

/* task.c */
void task_init(void);
/* slot has ended normally, its results above the marker: wake joiners,
 * abandon mutexes, let it go */
void task_done(unsigned int slot);
/* the slot of a utils.Coroutine handle at idx, or raise; 0: it is done */
unsigned int task_check(lua_State *T, int idx);
int task_finished(lua_State *co);       /* a lem coroutine that returned */

/* wait.c */
void wait_init(void);                   /* timeout, sleep into the table on L */
void wait_free(void);
extern lua_State *sched_ended_T;        /* what lem_wait_end() returned */
extern unsigned int sched_ended_slot;
/* push nil and the word, or the word alone (the word is interned on
 * first use; from then on pushing it allocates nothing) */
void wait_push_word(lua_State *T, const char *word);
void wait_push_string(lua_State *T, const char *word);
/* deadline scopes of an owner: discard those above keep (NULL: all) */
void scope_unwind(unsigned int owner, struct scope *keep);
void scope_drop_all(unsigned int owner);        /* the coroutine ends */

/* sync.c */
void sync_init(void);
void mutex_abandon_all(unsigned int owner);

/* pcall.c */
void pcall_init(void);
void pcall_stack_base(void *base);     /* an address near main's frame */
/* T (slot) has ended with status (0 or an error): if it is the helper of
 * a suspended pcall, push pcall's results onto the waiting caller, set
 * *nargs and *slot and return the caller */
lua_State *pcall_finished(lua_State *T, unsigned int *slot, int status,
		int *nargs);
/* Lua 5.1 cannot resume a coroutine whose body is a C function that
 * yielded: put a Lua function under the C function, which sits below the
 * top nargs values of T */
void pcall_push_trampoline(lua_State *T, int nargs);

/* async.c: the pool sizes (LEM_ASYNC_THREADS, LEM_FS_THREADS) */
void async_init(void);

/* workers.c: lem --workers */
void workers_child_init(void);          /* a worker? (main, first thing) */
void workers_init(void);                /* utils.worker into the core table */
int workers_option(char **argv, int i); /* --workers/--grace: entries used */
int workers_wanted(void);               /* N of --workers, 0 if none */
int workers_main(char **argv, int script);      /* the supervisor */

/* report.c */
void report_init(void);
void report_error(lua_State *T);        /* the error object is on top of T */
/* LuaJIT: remember the report of the error object on top of T while the
 * stack that raised it is still there (an xpcall handler) */
int report_keep(lua_State *T);
/* a message handler for lua_pcall: the message and its traceback */
int report_handler(lua_State *S);
void report_push_handler(lua_State *S); /* that handler, allocating nothing */

#endif /* LEM_RUNTIME_H */
