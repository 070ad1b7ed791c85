/*
 * lem.h - the C API of the Lua Event Machine, for authors of lem modules.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * A lem module is an ordinary Lua C module (luaopen_*) that is loaded by
 * the lem interpreter.  Every piece of Lua code runs in a coroutine that
 * lem resumes from its libev main loop.  A module function that has to
 * wait for an event suspends the running coroutine with lem_suspend(),
 * arms a libev watcher, and from the watcher's callback pushes its results
 * onto the coroutine's stack and hands it back with lem_queue().
 *
 *	static int
 *	thing_wait(lua_State *T)
 *	{
 *		struct thing *t = luaL_checkudata(T, 1, "my.Thing");
 *		int ret;
 *
 *		if (t->w.data != NULL)
 *			return lem_busy(T);              (nil, 'busy')
 *		ret = lem_suspend(T);              (may raise: arm nothing before)
 *		t->w.data = T;
 *		ev_io_start(LEM, &t->w);
 *		return ret;
 *	}
 *
 *	static void
 *	thing_cb(EV_P_ struct ev_io *w, int revents)
 *	{
 *		lua_State *T = w->data;
 *
 *		ev_io_stop(EV_A_ w);
 *		w->data = NULL;
 *		lua_pushboolean(T, 1);
 *		lem_queue(T, 1);                   (thing:wait() returns true)
 *	}
 *
 * Callbacks run outside any protected call: never raise a Lua error in
 * them.  While a coroutine is suspended, every value that was on its
 * stack when it called lem_suspend() stays there, so objects it waits on
 * cannot be garbage collected.
 */
#ifndef LEM_H
#define LEM_H

#include <ev.h>
#include <lua.h>
#include <lauxlib.h>

#define LEM_VERSION_MAJOR 0
#define LEM_VERSION_MINOR 2
#define LEM_VERSION_PATCH 0

/* The libev loop lem runs; use it as the loop argument of ev_* calls. */
extern struct ev_loop *lem_loop;
#define LEM lem_loop

/*
 * Create a new coroutine.  lem keeps a reference to it, so it is not
 * garbage collected until it has finished running, or until
 * lem_forgetthread() is called on it.  Push a function (and its
 * arguments) onto its stack and pass it to lem_queue() to start it.
 * Returns NULL only if memory runs out.
 */
lua_State *lem_newthread(void);

/* Drop lem's reference to a coroutine made by lem_newthread() that will
 * never be queued. */
void lem_forgetthread(lua_State *T);

/*
 * Schedule coroutine T to run with the top nargs values of its stack:
 * either a new coroutine from lem_newthread() (the function, Lua or C,
 * sits below the arguments) or one suspended by lem_suspend(), which will
 * see the values as the results of the call that suspended it.  Coroutines run in
 * the order they were queued, from the main loop, never from inside
 * lem_queue().
 */
void lem_queue(lua_State *T, int nargs);

/*
 * Suspend T, the coroutine that is running the calling C function, until
 * somebody passes it to lem_queue().  Use it as
 *
 *	ret = lem_suspend(T);
 *	... arm the watcher that will queue T ...
 *	return ret;
 *
 * It raises a Lua error, before anything is armed, if T cannot be
 * suspended: it is not a coroutine run by lem (one made by
 * coroutine.create, say) or it is inside a C call that Lua cannot yield
 * across (a metamethod, a table.sort comparator, ...).  Every value on
 * T's stack stays there while T is suspended.
 */
int lem_suspend(lua_State *T);

/*
 * Waits that deadlines and cancellation can end.
 *
 * lem_suspend() alone gives a wait that only the module itself can end:
 * utils.timeout() deadlines and co:cancel() do not reach it.  A module
 * that wants its waits to obey them embeds a struct lem_wait in its
 * object and suspends with lem_wait() instead.  Then exactly one of
 * these ends the wait, whatever happens in the same loop iteration:
 *
 *   - the module: lem_wait_end() hands back the coroutine, the module
 *     pushes the results and calls lem_queue() (or lem_wait_run() does
 *     all three in a protected call, see below);
 *   - the module again, failing it: lem_wait_fail(w, "interrupted"), as
 *     interrupt() and close() do;
 *   - lem: a deadline passes (nil, 'timeout') or the coroutine is
 *     cancelled (nil, 'cancelled').
 *
 * Whoever ends it second finds it ended and does nothing.  When the wait
 * is failed, lem first pushes nil and the word, then calls the cancel
 * hook, which must stop the module's watchers and unlink the wait from
 * any list of the module, so that nothing of it is left armed.  The hook
 * may push further results that need no memory (numbers, booleans, values
 * copied from the coroutine's own stack with lua_pushvalue) and returns
 * how many; it must not raise or call Lua.
 *
 *	static int
 *	thing_cancel(struct lem_wait *w, lua_State *T)
 *	{
 *		struct thing *t = (struct thing *)w;  (w is the first member)
 *
 *		(void)T;
 *		ev_io_stop(LEM, &t->io);
 *		return 0;                  (the results: nil, word)
 *	}
 *
 *	static int
 *	thing_wait(lua_State *T)
 *	{
 *		struct thing *t = lem_checkudata(T, 1, lua_upvalueindex(1),
 *				"my.Thing");
 *		int ret;
 *
 *		if (lem_waiting(&t->wait))
 *			return lem_busy(T);
 *		lua_settop(T, 1);
 *		ret = lem_wait(T, &t->wait, thing_cancel);   (may raise)
 *		if (lem_waiting(&t->wait))
 *			ev_io_start(LEM, &t->io);  (not if it ended at once)
 *		return ret;
 *	}
 *
 *	static void
 *	thing_cb(EV_P_ struct ev_io *io, int revents)
 *	{
 *		struct thing *t = io->data;
 *		lua_State *T = lem_wait_end(&t->wait);
 *
 *		ev_io_stop(EV_A_ io);
 *		if (T == NULL)
 *			return;
 *		lua_pushboolean(T, 1);
 *		lem_queue(T, 1);
 *	}
 *
 * Results that need memory (strings, tables, userdata) are better pushed
 * through lem_wait_run(): an allocation may run a __gc metamethod, and
 * one that raises where no coroutine is running would end lem without a
 * report.
 */
struct lem_wait;
typedef int (*lem_cancel_cb)(struct lem_wait *w, lua_State *T);
struct lem_wait {
	lua_State *T;           /* the waiting coroutine; NULL: not waiting */
	lem_cancel_cb cancel;
	/* private to lem: */
	const char *pending;    /* a failure asked for during lem_wait_run */
	unsigned int slot;
	unsigned int running;
};
#define LEM_WAIT_INIT { NULL, NULL, NULL, 0, 0 }

/* Is somebody waiting on w? */
#define lem_waiting(w) ((w)->T != NULL)

/*
 * Suspend T, the running coroutine, on w (as lem_suspend() does: use its
 * result as the C function's return value, and it raises before anything
 * is armed if T cannot wait here).  If T is cancelled or its deadline
 * has passed, T is queued at once with nil, 'cancelled' or 'timeout' and
 * w is not waiting afterwards: check lem_waiting(w) before arming.
 */
int lem_wait(lua_State *T, struct lem_wait *w, lem_cancel_cb cancel);

/* Would a wait that the running coroutine T starts now end at once (a
 * deadline has passed, or T is cancelled)?  An operation that skipped a
 * system call because it expected to wait can try it first. */
int lem_wait_ends_now(lua_State *T);

/* The same, as the word such a wait would end with ("cancelled" or
 * "timeout"), or NULL.  An operation that has done part of its work
 * (bytes written) can then return nil, word and its count at once
 * instead of waiting, since lem_wait() would queue T with nil, word
 * only. */
const char *lem_wait_ending(lua_State *T);

/* End the wait: returns the waiting coroutine (push its results, then
 * lem_queue() it), or NULL if w was not waiting. */
lua_State *lem_wait_end(struct lem_wait *w);

/* End the wait with nil, word and whatever the cancel hook adds, and
 * queue the coroutine; returns 1, or 0 if w was not waiting.  word must
 * stay valid (a string literal). */
int lem_wait_fail(struct lem_wait *w, const char *word);

/*
 * From a libev callback: call step(P, ud) in a protected call, where P is
 * a Lua state to push results onto.  If it returns n > 0, the wait ends
 * with those n results (the coroutine is queued); 0 means it goes on
 * waiting.  A failure asked for while step runs (a __gc metamethod that
 * closes the object, say) waits until step is done, and applies only if
 * step returned 0.  An error raised inside (by a __gc metamethod) is
 * reported like an uncaught error and ends lem.
 */
typedef int (*lem_step_cb)(lua_State *P, void *ud);
void lem_wait_run(struct lem_wait *w, lem_step_cb step, void *ud);

/*
 * lem --workers N runs N lem processes of a script.  lem_worker()
 * returns the number of this worker (1..N) and puts N in *count (if not
 * NULL); outside workers it returns 0 and *count is 1.  A module that
 * serves (lem.streams does, on the first accept) calls
 * lem_worker_ready() when it starts serving: the supervisor waits for
 * that before it stops the worker a new one replaces.  It does nothing
 * outside workers or when called again.
 */
int lem_worker(int *count);
void lem_worker_ready(void);

/*
 * Stop the program: no further coroutine runs, the main loop ends, all
 * __gc metamethods run, stdio is flushed and lem exits with status.
 */
void lem_exit(int status);

/* Push nil and the message; return 2.  The error words of lem, made in
 * one place so that every module spells them the same way. */
int lem_error(lua_State *T, const char *msg);
#define lem_busy(T)   lem_error(T, "busy")
#define lem_closed(T) lem_error(T, "closed")
/* nil, strerror(err) */
int lem_strerror(lua_State *T, int err);

/*
 * The userdata at index idx if its metatable is the value at index mt,
 * else raise luaL_checkudata's "tname expected" argument error.  Give a
 * module's methods their metatable as upvalue 1 and pass
 * lua_upvalueindex(1) as mt: comparing it is much cheaper than
 * luaL_checkudata, which looks tname up in the registry on every call.
 * mt must be a pseudo-index or a positive index.
 */
static inline void *
lem_checkudata(lua_State *T, int idx, int mt, const char *tname)
{
	void *p = lua_touserdata(T, idx);

	if (p == NULL || !lua_getmetatable(T, idx) || !lua_rawequal(T, -1, mt))
		luaL_typerror(T, idx, tname);
	lua_pop(T, 1);
	return p;
}

/*
 * The string argument at idx, for a system call that takes a C string (a
 * path, a host, a command): one with a zero byte inside would be cut
 * there without a word, so it raises "string contains a zero byte".
 */
const char *lem_checkcstring(lua_State *T, int idx);

/*
 * Push a new metatable registered as tname (luaL_newmetatable), with
 * __index set to itself and the functions of methods (a luaL_Reg list
 * ending in NULL) stored in it as closures over it: each method finds
 * its metatable as lua_upvalueindex(1), for lem_checkudata().
 */
void lem_newmetatable(lua_State *T, const char *tname, const luaL_Reg *methods);

/*
 * Blocking work off the main loop.  lem keeps a small pool of worker
 * threads.  Fill in a struct lem_async (usually embedded in a bigger
 * struct of your own) and pass it to lem_async_run(): work(a) runs in a
 * worker thread, where it must not touch Lua or libev; then done(a) runs
 * in the main loop thread, where it typically pushes results onto a
 * suspended coroutine and calls lem_queue().  A pending job keeps the
 * main loop alive.  The struct must stay valid until done() is called.
 */
struct lem_async;
typedef void (*lem_async_cb)(struct lem_async *a);
struct lem_async {
	lem_async_cb work;
	lem_async_cb done;
	struct lem_async *next;         /* private to lem */
};
void lem_async_run(struct lem_async *a, lem_async_cb work, lem_async_cb done);

/*
 * The same on a second pool, for work on regular files (lem.fs,
 * streams.sendfile): a slow disk then never holds up a name lookup, nor
 * a slow name server a file.  LEM_ASYNC_THREADS and LEM_FS_THREADS, read
 * at start, size the two pools (4 threads each by default).
 */
void lem_async_run_file(struct lem_async *a, lem_async_cb work,
		lem_async_cb done);

/*
 * Take back a job that no thread has started yet (a deadline passed
 * while it was queued, say): returns 1, and neither work() nor done()
 * will be called.  Returns 0 if work() has started or finished: done()
 * will be called (or has been) as usual.
 */
int lem_async_cancel(struct lem_async *a);

#endif /* LEM_H */
