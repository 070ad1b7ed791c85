/*
 * lem.c - the Lua Event Machine: a Lua interpreter that runs every chunk
 * in a coroutine scheduled from a libev main loop.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lualib.h>

#if defined(__GLIBC__)
#include <malloc.h>
#include <sys/mman.h>
#endif

#include "lem.h"

/*
 * Lua 5.1 cannot resume a coroutine whose body is a C function that
 * yielded, so C functions start behind this Lua function.  Calling the
 * vararg directly leaves the callee without a name, as a direct call would.
 */
static const char TRAMPOLINE[] = "return (...)(select(2, ...))";

#ifndef LEM_CMODDIR
#define LEM_CMODDIR "/usr/local/lib/lua/5.1"
#endif
#ifndef LEM_LMODDIR
#define LEM_LMODDIR "/usr/local/share/lua/5.1"
#endif

/*
 * The thread table: every coroutine lem may resume is a value there,
 * which keeps it from being collected while it is queued or waits for an
 * event (see "anchors" below).  The links table maps the inner coroutine
 * of a suspended pcall (Lua 5.1 only, see below) to the coroutine waiting
 * in that pcall.  Both live in the registry, not in fixed slots of L's
 * stack: a garbage collection step triggered by an allocation on L runs
 * __gc metamethods on L itself, in a new frame where slot 1 is not ours,
 * and such a metamethod may call pcall or spawn.
 */
static int threads_ref = LUA_NOREF;
static int links_ref = LUA_NOREF;

struct ev_loop *lem_loop;
static lua_State *L;
static int exit_status = EXIT_SUCCESS;
static int exiting;
static lua_State *running;      /* the coroutine lem has resumed, if any */
static int suspended;           /* did running yield through lem_suspend? */
static int nlinks;              /* entries in the links table */
static int traceback_ref = LUA_NOREF;
static int trampoline_ref = LUA_NOREF;  /* TRAMPOLINE, loaded */

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

/*
 * Coroutines that lem lets go are garbage that no allocation accounts
 * for: after 100,000 sleepers have finished, the collector may not run
 * again before lua_close() frees them all at exit.  Once a quarter of
 * the anchored coroutines (and at least GC_IDLE_MIN) have been let go,
 * an idle watcher of the lowest priority does GC_IDLE_KB steps of
 * collection whenever the loop has nothing else to do, until two cycles
 * have completed (a cycle already under way may have marked them before
 * they were let go).  A busy loop never runs it.
 */
#define GC_IDLE_MIN 1024
#define GC_IDLE_KB  32
static struct ev_idle gc_idle;
static unsigned int nthreads;   /* coroutines anchored in the thread table */
static unsigned int nforgotten; /* let go since the last idle collection */
static int gc_cycles;           /* cycles completed by this idle collection */

static void
oom(void)
{
	fputs("lem: not enough memory\n", stderr);
	exit(EXIT_FAILURE);
}

/* ------------------------------------------------------ Lua's memory */

#if defined(__GLIBC__) && defined(MADV_HUGEPAGE) && defined(HAVE_LUA_NEWSTATE_ALLOC)
/*
 * Plain Lua allocates each coroutine, table and string with malloc, so
 * tens of thousands of coroutines mean as many first-touch page faults,
 * which cost microseconds each in a virtual machine.  Once the heap has
 * grown past HEAP_SMALL, lem asks for transparent huge pages on it (where
 * the kernel allows them at all) and lets malloc grow it in big steps, so
 * that whole 2 MiB blocks can be faulted in at once.  Small programs keep
 * their small heaps.  LuaJIT's own allocator maps fresh 4 KiB pages
 * for the same objects; where it lets lem supply the allocator (GC64
 * builds, see configure), LuaJIT gets this heap too.
 */
#define HEAP_SMALL ((size_t)32 << 20)
#define HEAP_STEP  ((size_t)16 << 20)
static char *heap_mark;          /* the break beyond which the heap is advised */

static void
heap_init(void)
{
	heap_mark = (char *)sbrk(0);
	if (heap_mark == (char *)-1)
		heap_mark = NULL;
	else
		heap_mark += HEAP_SMALL;
}

static void *
lem_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	(void)ud;
	if (nsize == 0) {
		free(ptr);
		return NULL;
	}
	ptr = realloc(ptr, nsize);
	if (nsize > osize && heap_mark != NULL) {
		char *brk = sbrk(0);

		if (brk > heap_mark) {
			static int stepping;

			if (!stepping) {
				stepping = 1;
				mallopt(M_TOP_PAD, HEAP_STEP);
			}
			madvise(heap_mark, brk - heap_mark, MADV_HUGEPAGE);
			heap_mark = brk;
		}
	}
	return ptr;
}

static lua_State *
new_state(void)
{
	heap_init();
	return lua_newstate(lem_alloc, NULL);
}
#else
#define new_state() luaL_newstate()
#endif

/* ------------------------------------------------------------ anchors */

/*
 * The thread table is an array: threads[slot] = coroutine.  A free slot
 * holds the number of the next free one (0 ends the list), so the array
 * stays dense and grows in place, and the collector visits coroutines in
 * the order they were made.  Keyed by the coroutine, a Lua table would
 * rehash (reinserting every entry) each time it doubles.
 *
 * A small open-addressing hash in C (amap) finds the slot of a coroutine.
 * Its entries are slot numbers, 4 bytes each, and slot_hash[slot] keeps
 * the hash of the coroutine in each slot: growing and deleting need only
 * that, and a lookup reads the coroutine back from the thread table to
 * confirm a match.  Adding an entry never looks.
 */
static unsigned int *amap;              /* slot numbers, 0: an empty entry */
static unsigned int amap_bits, amap_len;
static uint32_t *slot_hash;             /* indexed by slot */
static unsigned int slot_cap;           /* slot_hash has room for this many */
static unsigned int free_head;          /* the first free slot, 0: none */
static unsigned int top_slot;           /* slots 1..top_slot have been used */

static uint32_t
thread_hash(lua_State *T)
{
	return (uint32_t)((uintptr_t)T >> 4) * 2654435761u;
}

static unsigned int
amap_index(uint32_t hash)
{
	return amap_bits ? hash >> (32 - amap_bits) : 0;
}

/* the coroutine in slot of the thread table at index t of L */
static lua_State *
slot_thread(int t, unsigned int slot)
{
	lua_State *T;

	lua_rawgeti(L, t, (int)slot);
	T = lua_tothread(L, -1);
	lua_pop(L, 1);
	return T;
}

static void
amap_insert(unsigned int slot)
{
	unsigned int mask = (1u << amap_bits) - 1, i;

	for (i = amap_index(slot_hash[slot]); amap[i] != 0; i = (i + 1) & mask)
		;
	amap[i] = slot;
}

static void
amap_put(lua_State *T, unsigned int slot)
{
	if (slot >= slot_cap) {
		unsigned int ncap = slot_cap ? 2 * slot_cap : 256;
		uint32_t *nh = realloc(slot_hash, ncap * sizeof(uint32_t));

		if (nh == NULL)
			oom();
		slot_hash = nh;
		slot_cap = ncap;
	}
	slot_hash[slot] = thread_hash(T);
	if (4 * (amap_len + 1) > 3 * (amap_bits ? 1u << amap_bits : 0)) {
		/* at most 3/4 full */
		unsigned int *old = amap;
		unsigned int n = amap_bits ? 1u << amap_bits : 0, i;

		amap_bits = amap_bits ? amap_bits + 1 : 8;
		amap = calloc((size_t)1 << amap_bits, sizeof(unsigned int));
		if (amap == NULL)
			oom();
		for (i = 0; i < n; i++)
			if (old[i] != 0)
				amap_insert(old[i]);
		free(old);
	}
	amap_insert(slot);
	amap_len++;
}

/*
 * The slot of T, 0 if lem does not hold T; take also removes it.  t is the
 * index of the thread table on L's stack.
 */
static unsigned int
amap_get(int t, lua_State *T, int take)
{
	uint32_t hash = thread_hash(T);
	unsigned int mask, i, j, k, slot;

	if (amap_len == 0)
		return 0;
	mask = (1u << amap_bits) - 1;
	for (i = amap_index(hash); (slot = amap[i]) != 0; i = (i + 1) & mask)
		if (slot_hash[slot] == hash && slot_thread(t, slot) == T)
			break;
	if (slot == 0 || !take)
		return slot;
	/* linear probing: move later entries of the run back into the hole */
	amap[i] = 0;
	for (j = (i + 1) & mask; amap[j] != 0; j = (j + 1) & mask) {
		k = amap_index(slot_hash[amap[j]]);
		if (((j - k) & mask) >= ((j - i) & mask)) {
			amap[i] = amap[j];
			amap[j] = 0;
			i = j;
		}
	}
	amap_len--;
	return slot;
}

/* is T a coroutine lem holds? */
static int
anchored(lua_State *T)
{
	unsigned int slot;

	lua_rawgeti(L, LUA_REGISTRYINDEX, threads_ref);
	slot = amap_get(lua_gettop(L), T, 0);
	lua_pop(L, 1);
	return slot != 0;
}

/* ---------------------------------------------------------------- API */

lua_State *
lem_newthread(void)
{
	lua_State *T;
	unsigned int slot;
	int t;

	if (npool > 0)
		return pool[--npool];
	/*
	 * Making T may run __gc metamethods that come back here (spawn,
	 * pcall); nothing below runs the collector: storing into the array
	 * grows it without a collection step, and amap is C memory.
	 */
	T = lua_newthread(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, threads_ref);
	t = lua_gettop(L);
	if (free_head != 0) {
		slot = free_head;
		lua_rawgeti(L, t, (int)slot);
		free_head = (unsigned int)lua_tointeger(L, -1);
		lua_pop(L, 1);
	} else {
		slot = ++top_slot;
	}
	lua_pushvalue(L, t - 1);
	lua_rawseti(L, t, (int)slot);           /* threads[slot] = T */
	amap_put(T, slot);
	lua_pop(L, 2);
	nthreads++;
	return T;
}

void
lem_forgetthread(lua_State *T)
{
	unsigned int slot;
	int t;

	lua_rawgeti(L, LUA_REGISTRYINDEX, threads_ref);
	t = lua_gettop(L);
	slot = amap_get(t, T, 1);
	if (slot == 0) {
		lua_pop(L, 1);
		return;
	}
	lua_pushinteger(L, (lua_Integer)free_head);
	lua_rawseti(L, t, (int)slot);           /* threads[slot] = next free */
	free_head = slot;
	lua_pop(L, 1);
	nthreads--;
	if (++nforgotten >= GC_IDLE_MIN && nforgotten >= nthreads / 4 &&
			!ev_is_active(&gc_idle)) {
		ev_idle_start(LEM, &gc_idle);
		ev_unref(LEM);           /* no reason to keep running */
	}
}

/* A coroutine has finished normally: recycle it. */
static void
thread_done(lua_State *T)
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

	if (qlen == qcap) {
		/*
		 * realloc moves a big ring by remapping its pages, without
		 * copying or touching fresh ones; then the part that had
		 * wrapped around to the front goes after the old end.
		 */
		unsigned int ncap = qcap ? 2 * qcap : 64;
		struct job *nq = realloc(queue, ncap * sizeof(struct job));

		if (nq == NULL)
			oom();
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

	if (T != running)
		return luaL_error(T, "attempt to suspend a coroutine that lem "
				"does not run (a coroutine.create/wrap coroutine?)");
	/* lua_yield raises if T cannot yield here, and commits otherwise */
	ret = lua_yield(T, lua_gettop(T));
	suspended = 1;
	return ret;
}

void
lem_exit(int status)
{
	if (exiting)
		return;
	exiting = 1;
	exit_status = status;
	ev_break(LEM, EVBREAK_ALL);
}

int
lem_error(lua_State *T, const char *msg)
{
	lua_pushnil(T);
	lua_pushstring(T, msg);
	return 2;
}

int
lem_strerror(lua_State *T, int err)
{
	return lem_error(T, strerror(err));
}

/* ------------------------------------------------------ error reports */

/* message(errobj): a string for any error object, never raising */
static int
errobj_tostring(lua_State *S)
{
	if (lua_type(S, 1) == LUA_TSTRING || lua_type(S, 1) == LUA_TNUMBER) {
		lua_pushstring(S, lua_tostring(S, 1));
		return 1;
	}
	if (luaL_callmeta(S, 1, "__tostring") && lua_isstring(S, -1))
		return 1;
	lua_pushfstring(S, "(error object is a %s value)", luaL_typename(S, 1));
	return 1;
}

/* report(thread, errobj): the message and the thread's traceback */
static int
report_traceback(lua_State *S)
{
	lua_pushcfunction(S, errobj_tostring);
	lua_pushvalue(S, 2);
	if (lua_pcall(S, 1, 1, 0) != 0) {
		lua_pop(S, 1);
		lua_pushfstring(S, "(error object is a %s value)",
				luaL_typename(S, 2));
	}
	lua_rawgeti(S, LUA_REGISTRYINDEX, traceback_ref);
	lua_pushvalue(S, 1);
	lua_pushvalue(S, -3);
	lua_call(S, 2, 1);              /* debug.traceback(thread, msg) */
	return 1;
}

/* Print "lem: <message and traceback>" for the error object on top of T. */
static void
report_error(lua_State *T)
{
	const char *msg;

	lua_pushcfunction(L, report_traceback);
	lua_pushthread(T);
	lua_xmove(T, L, 1);
	lua_pushvalue(T, -1);
	lua_xmove(T, L, 1);
	if (lua_pcall(L, 2, 1, 0) == 0 && (msg = lua_tostring(L, -1)) != NULL) {
		fflush(stdout);
		fprintf(stderr, "lem: %s\n", msg);
	} else {
		/* no memory for the traceback: a string message is still
		 * there on T (LUA_ERRMEM's "not enough memory", say) */
		msg = lua_type(T, -1) == LUA_TSTRING ? lua_tostring(T, -1) : NULL;
		fflush(stdout);
		fprintf(stderr, "lem: %s\n",
				msg ? msg : "(error object cannot be printed)");
	}
	fflush(stderr);
	lua_pop(L, 1);
}

/* ------------------------------------------------- yield-safe pcall */

/*
 * Plain Lua 5.1 cannot yield across pcall, so lem replaces pcall and
 * xpcall there: the protected function runs in an inner coroutine S.
 * When S finishes without waiting, its results are returned at once.
 * When S suspends through lem_suspend(), the caller T suspends too and
 * links[S] = T; when S later finishes, the scheduler resumes T with the
 * results.  An xpcall handler waits on T's stack (slot 1), and runs on
 * S, where the stack of the error is still intact for debug.traceback.
 */
static int pcall_depth;

static lua_State *
link_take(lua_State *S)
{
	lua_State *T;

	lua_rawgeti(L, LUA_REGISTRYINDEX, links_ref);
	lua_pushthread(S);
	lua_xmove(S, L, 1);
	lua_pushvalue(L, -1);
	lua_rawget(L, -3);               /* links S links[S] */
	T = lua_tothread(L, -1);
	lua_pop(L, 1);
	if (T == NULL) {
		lua_pop(L, 2);
		return NULL;
	}
	lua_pushnil(L);
	lua_rawset(L, -3);               /* links[S] = nil */
	lua_pop(L, 1);
	nlinks--;
	return T;
}

/*
 * S has finished with status (0 or an error): push pcall's results onto
 * T, whose slot 1 is the error handler or nil, and return their number.
 */
static int
pcall_results(lua_State *S, int status, lua_State *T)
{
	int n;

	if (status == 0) {
		n = lua_gettop(S);
		if (!lua_checkstack(T, n + 1))
			oom();
		lua_pushboolean(T, 1);
		lua_xmove(S, T, n);
		thread_done(S);
		return n + 1;
	}
	if (!lua_isnil(T, 1)) {
		/* the error object is on top of S */
		if (!lua_checkstack(S, 3))
			oom();
		lua_pushvalue(T, 1);
		lua_xmove(T, S, 1);
		lua_insert(S, -2);
		lua_pcall(S, 1, 1, 0);
	}
	lua_pushboolean(T, 0);
	lua_xmove(S, T, 1);
	lem_forgetthread(S);
	return 2;
}

static int
pcall_run(lua_State *T, int handler)
{
	lua_State *S, *prev = running;
	int n, status;

	if (pcall_depth >= 200)
		return luaL_error(T, "C stack overflow");
	n = lua_gettop(T);
	S = lem_newthread();
	if (!lua_checkstack(S, n + 1))
		oom();
	if (handler) {                   /* xpcall(f, h, ...) */
		lua_pushvalue(T, 2);
		lua_remove(T, 2);
		lua_insert(T, 1);
		lua_xmove(T, S, n - 1);  /* T: h;  S: f ... */
		n -= 2;
	} else {
		lua_xmove(T, S, n);
		lua_pushnil(T);          /* T: nil; S: f ... */
		n -= 1;
	}
	if (lua_iscfunction(S, 1)) {
		/* a coroutine cannot start with a C function in Lua 5.1 */
		lua_rawgeti(S, LUA_REGISTRYINDEX, trampoline_ref);
		lua_insert(S, 1);
		n++;
	}
	running = (prev == T) ? S : NULL;
	suspended = 0;
	pcall_depth++;
	status = lua_resume(S, n);
	pcall_depth--;
	running = prev;
	if (status != LUA_YIELD) {
		suspended = 0;
		return pcall_results(S, status, T);
	}
	if (!suspended) {
		/* a plain coroutine.yield(): not allowed across pcall in 5.1 */
		lem_forgetthread(S);
		lua_pushboolean(T, 0);
		lua_pushliteral(T, "attempt to yield across metamethod/C-call boundary");
		return 2;
	}
	suspended = 0;
	n = lem_suspend(T);
	lua_pushthread(S);
	lua_xmove(S, L, 1);
	lua_pushthread(T);
	lua_xmove(T, L, 1);
	lua_rawgeti(L, LUA_REGISTRYINDEX, links_ref);
	lua_insert(L, -3);
	lua_rawset(L, -3);               /* links[S] = T */
	lua_pop(L, 1);
	nlinks++;
	return n;
}

static int
dump_writer(lua_State *S, const void *p, size_t sz, void *ud)
{
	(void)S;
	luaL_addlstring(ud, p, sz);
	return 0;
}

/*
 * The trampoline pcall puts under a C function: function(f, ...) return
 * f(...) end, made to be invisible in error messages as pcall itself is
 * in lua(1): f is called through an unnamed expression (the name is
 * '?'), and its line information is set to 0, so that luaL_where adds no
 * "chunk:1:" to pcall(error, 'x') or to argument errors.  Binary chunks
 * keep the line of each instruction as ints at the end of the function:
 * sizelineinfo, the lines (all 1 here), sizelocvars = 0, sizeupvalues = 0.
 */
static void
load_trampoline(void)
{
	const int one = 1, zero = 0;
	luaL_Buffer b;
	char *chunk;
	size_t len, end, pos;
	int n = 0, v;

	if (luaL_loadbuffer(L, TRAMPOLINE, sizeof(TRAMPOLINE) - 1, "=(pcall)") != 0)
		oom();
	luaL_buffinit(L, &b);
	lua_dump(L, dump_writer, &b);
	luaL_pushresult(&b);
	len = lua_objlen(L, -1);
	chunk = malloc(len);
	if (chunk == NULL)
		oom();
	memcpy(chunk, lua_tostring(L, -1), len);
	lua_pop(L, 1);
	end = len - 2 * sizeof(int);
	for (pos = end; pos >= sizeof(int); pos -= sizeof(int), n++) {
		memcpy(&v, chunk + pos - sizeof(int), sizeof(int));
		if (v != one)
			break;
	}
	pos -= sizeof(int);
	memcpy(&v, chunk + pos, sizeof(int));
	if (n > 0 && v == n) {
		for (pos += sizeof(int); pos < end; pos += sizeof(int))
			memcpy(chunk + pos, &zero, sizeof(int));
		lua_pop(L, 1);
		if (luaL_loadbuffer(L, chunk, len, "=(pcall)") != 0)
			oom();
	}
	/* otherwise keep the function with its line information */
	free(chunk);
}

static int
lem_pcall(lua_State *T)
{
	luaL_checkany(T, 1);
	return pcall_run(T, 0);
}

static int
lem_xpcall(lua_State *T)
{
	luaL_checkany(T, 2);
	return pcall_run(T, 1);
}

/*
 * coroutine.resume(co, ...) for any co but the coroutines lem runs: one
 * of those resumed by hand while it waits for an event would later be
 * resumed again by that event, at the wrong place.
 */
static int
guarded_resume(lua_State *T)
{
	lua_State *co = lua_tothread(T, 1);

	if (co != NULL) {
		if (co == T || anchored(co)) {
			lua_pushboolean(T, 0);
			lua_pushliteral(T, "cannot resume a coroutine run by lem");
			return 2;
		}
	}
	lua_pushvalue(T, lua_upvalueindex(1));
	lua_insert(T, 1);
	lua_call(T, lua_gettop(T) - 1, LUA_MULTRET);
	return lua_gettop(T);
}

/* ---------------------------------------------------------- scheduler */

static void
thread_resume(lua_State *T, int nargs)
{
	lua_State *P;
	int status;

	for (;;) {
		running = T;
		suspended = 0;
		status = lua_resume(T, nargs);
		running = NULL;
		if (status == LUA_YIELD) {
			if (!suspended) {
				/* a bare coroutine.yield() acts as utils.yield() */
				lua_settop(T, 0);
				lem_queue(T, 0);
			}
			return;
		}
		if (nlinks > 0 && (P = link_take(T)) != NULL) {
			nargs = pcall_results(T, status, P);
			T = P;
			continue;
		}
		if (status == 0) {
			thread_done(T);
			return;
		}
		if (!exiting) {
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
	while (n-- > 0 && !exiting) {
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
	if (exiting)
		ev_break(EV_A_ EVBREAK_ALL);
}

static void
idle_cb(EV_P_ struct ev_idle *w, int revents)
{
	(void)EV_A;
	(void)w;
	(void)revents;
}

/* a step of collection; a __gc that fails is ignored, as in lua_close */
static int
gc_step(lua_State *S)
{
	lua_pushboolean(S, lua_gc(S, LUA_GCSTEP, GC_IDLE_KB));
	return 1;
}

static void
gc_idle_cb(EV_P_ struct ev_idle *w, int revents)
{
	int done = 2;

	(void)revents;
	if (!exiting) {
		lua_pushcfunction(L, gc_step);
		if (lua_pcall(L, 0, 1, 0) != 0)
			done = 2;
		else
			done = lua_toboolean(L, -1) ? ++gc_cycles : 0;
		lua_pop(L, 1);
	}
	if (done >= 2) {
		nforgotten = 0;
		gc_cycles = 0;
		ev_ref(EV_A);
		ev_idle_stop(EV_A_ w);
	}
}

/* ------------------------------------------------------- main program */

/* messages start with "lem: " whatever the name lem was run under */
static const char progname[] = "lem";

/*
 * The main coroutine runs this chunk: LUA_INIT, then -e and -l in order,
 * then the script with its arguments.  Load errors end the program
 * through fail() without a traceback, as lua(1) does.
 */
static const char driver[] =
	"local fail, init, acts, script = ...\n"
	"local loadfile, loadstring, require = loadfile, loadstring, require\n"
	"local function run(f, err) if not f then return fail(err) end return f() end\n"
	"if init then\n"
	"  if init:sub(1, 1) == '@' then run(loadfile(init:sub(2)))\n"
	"  else run(loadstring(init, '=LUA_INIT')) end\n"
	"end\n"
	"for i = 1, #acts, 2 do\n"
	"  if acts[i] == 'e' then run(loadstring(acts[i + 1], '=(command line)'))\n"
	"  else require(acts[i + 1]) end\n"
	"end\n"
	"if script then\n"
	"  local f, err = loadfile(script ~= '-' and script or nil)\n"
	"  if not f then return fail(err) end\n"
	"  return f(select(5, ...))\n"
	"end\n";

static int
driver_fail(lua_State *T)
{
	fflush(stdout);
	fprintf(stderr, "%s: %s\n", progname, luaL_optstring(T, 1, "error"));
	lem_exit(EXIT_FAILURE);
	return lem_suspend(T);
}

static void
print_usage(void)
{
	fprintf(stderr,
		"usage: %s [options] [script [args]].\n"
		"Available options are:\n"
		"  -e stat  execute string 'stat'\n"
		"  -l name  require library 'name'\n"
		"  -v       show version information\n"
		"  --       stop handling options\n"
		"  -        execute stdin and stop handling options\n"
		"lem has no interactive mode: give it a script, or a script on stdin.\n",
		progname);
}

static void
print_version(void)
{
	const char *lua = LUA_RELEASE;

	lua_getglobal(L, "jit");
	if (lua_istable(L, -1)) {
		lua_getfield(L, -1, "version");
		if (lua_isstring(L, -1))
			lua = lua_tostring(L, -1);
		lua_pop(L, 1);
	}
	printf("lem %s (%s, libev %d.%d)\n", PACKAGE_VERSION, lua,
			ev_version_major(), ev_version_minor());
	fflush(stdout);
	lua_pop(L, 1);
}

/* lua(1)'s option parser: the index of the script, 0 if none, -1 on error */
static int
collect_args(char **argv, int *has_e, int *has_v)
{
	int i;

	for (i = 1; argv[i] != NULL; i++) {
		const char *a = argv[i];

		if (a[0] != '-')
			return i;
		switch (a[1]) {
		case '-':
			if (strcmp(a, "--version") == 0) {
				*has_v = 1;
				break;
			}
			if (a[2] != '\0')
				return -1;
			return argv[i + 1] != NULL ? i + 1 : 0;
		case '\0':
			return i;
		case 'v':
			if (a[2] != '\0')
				return -1;
			*has_v = 1;
			break;
		case 'e':
			*has_e = 1;
			/* fall through */
		case 'l':
			if (a[2] == '\0') {
				i++;
				if (argv[i] == NULL)
					return -1;
			}
			break;
		default:
			return -1;
		}
	}
	return 0;
}

/* package.path/cpath: our install directories first, unless the user set them */
static void
set_path(const char *field, const char *env, const char *dir, const char *pat)
{
	if (getenv(env) != NULL)
		return;
	lua_getglobal(L, "package");
	lua_getfield(L, -1, field);
	lua_pushfstring(L, "%s/%s;%s", dir, pat, lua_tostring(L, -1));
	lua_setfield(L, -3, field);
	lua_pop(L, 2);
}

static int
panic(lua_State *S)
{
	const char *msg = lua_tostring(S, -1);

	fflush(stdout);
	fprintf(stderr, "lem: %s\n", msg ? msg : "unprotected error");
	exit(EXIT_FAILURE);
	return 0;
}

static void
sigpipe_handler(int sig)
{
	/*
	 * A handler rather than SIG_IGN: writes to a vanished peer still
	 * fail with EPIPE, but children get the default disposition back
	 * when they exec, which SIG_IGN would survive.
	 */
	(void)sig;
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	int fdflags[3];
	int has_e = 0, has_v = 0;
	int script, i;
	lua_State *T;

	(void)argc;
	script = collect_args(argv, &has_e, &has_v);
	if (script < 0) {
		print_usage();
		return EXIT_FAILURE;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sigpipe_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGPIPE, &sa, NULL);
	for (i = 0; i < 3; i++)
		fdflags[i] = fcntl(i, F_GETFL);

	/* not the default loop: that one reaps every child on SIGCHLD, which
	 * would steal the exit status of io.popen and os.execute children */
	lem_loop = ev_loop_new(EVFLAG_AUTO);
	if (lem_loop == NULL) {
		fputs("lem: cannot initialise libev\n", stderr);
		return EXIT_FAILURE;
	}
	L = new_state();
	if (L == NULL)
		oom();
	lua_atpanic(L, panic);
	luaL_openlibs(L);

	if (has_v)
		print_version();
	if (script == 0 && !has_e && !has_v) {
		if (isatty(STDIN_FILENO)) {
			print_usage();
			lua_close(L);
			return EXIT_FAILURE;
		}
	} else if (script == 0) {
		script = -1;             /* run -e/-l, then stop */
	}

	lua_settop(L, 0);
	lua_newtable(L);
	threads_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_newtable(L);
	links_ref = luaL_ref(L, LUA_REGISTRYINDEX);

	lua_getglobal(L, "debug");
	lua_getfield(L, -1, "traceback");
	traceback_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_pop(L, 1);

	load_trampoline();
	trampoline_ref = luaL_ref(L, LUA_REGISTRYINDEX);

	set_path("path", "LUA_PATH", LEM_LMODDIR, "?.lua");
	set_path("cpath", "LUA_CPATH", LEM_CMODDIR, "?.so");

	lua_getglobal(L, "jit");
	if (lua_isnil(L, -1)) {
		/* plain Lua 5.1: make pcall and xpcall yield-safe */
		lua_register(L, "pcall", lem_pcall);
		lua_register(L, "xpcall", lem_xpcall);
	}
	lua_pop(L, 1);

	/* coroutine.resume must not touch the coroutines lem runs */
	lua_getglobal(L, "coroutine");
	lua_getfield(L, -1, "resume");
	lua_pushcclosure(L, guarded_resume, 1);
	lua_setfield(L, -2, "resume");
	lua_pop(L, 1);

	ev_prepare_init(&prepare, prepare_cb);
	ev_prepare_start(LEM, &prepare);
	ev_unref(LEM);                   /* the prepare watcher alone is no reason to run */
	ev_idle_init(&idle, idle_cb);
	ev_idle_init(&gc_idle, gc_idle_cb);
	ev_set_priority(&gc_idle, EV_MINPRI);

	/* the main coroutine: driver(fail, init, acts, script, args...) */
	T = lem_newthread();
	if (luaL_loadbuffer(T, driver, sizeof(driver) - 1, "=[lem]") != 0)
		oom();
	lua_pushcfunction(T, driver_fail);
	if (getenv("LUA_INIT") != NULL)
		lua_pushstring(T, getenv("LUA_INIT"));
	else
		lua_pushnil(T);
	lua_newtable(T);
	for (i = 1, has_e = 0; argv[i] != NULL && (script <= 0 || i < script); i++) {
		const char *a = argv[i];

		if (a[0] != '-' || (a[1] != 'e' && a[1] != 'l'))
			continue;
		lua_pushlstring(T, a + 1, 1);
		lua_rawseti(T, -2, ++has_e);
		if (a[2] == '\0')
			a = argv[++i];
		else
			a += 2;
		lua_pushstring(T, a);
		lua_rawseti(T, -2, ++has_e);
	}
	if (script == 0) {
		lua_pushliteral(T, "-");
	} else if (script > 0) {
		int narg = 0;

		lua_pushstring(T, argv[script]);
		/* arg[-n..-1]: interpreter and options, arg[0]: script */
		lua_newtable(T);
		for (i = 0; argv[i] != NULL; i++) {
			lua_pushstring(T, argv[i]);
			lua_rawseti(T, -2, i - script);
		}
		lua_setglobal(T, "arg");
		luaL_checkstack(T, argc, "too many arguments to script");
		for (i = script + 1; argv[i] != NULL; i++, narg++)
			lua_pushstring(T, argv[i]);
		script = narg;
	} else {
		lua_pushnil(T);
		script = 0;
	}
	lem_queue(T, 4 + script);

	ev_run(LEM, 0);

	lua_close(L);                    /* every __gc runs while the loop exists */
	ev_loop_destroy(LEM);
	free(queue);
	free(amap);
	free(slot_hash);
	for (i = 0; i < 3; i++)
		if (fdflags[i] >= 0)
			fcntl(i, F_SETFL, fdflags[i]);
	fflush(stdout);
	return exit_status;
}
