/*
 * pcall.c - pcall and xpcall that protected code can yield across on
 * plain Lua 5.1, and the guard on coroutine.resume.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "runtime.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/*
 * Lua 5.1 cannot resume a coroutine whose body is a C function that
 * yielded, so C functions start behind this Lua function.  Calling the
 * vararg directly leaves the callee without a name, as a direct call would.
 */
static const char TRAMPOLINE[] = "return (...)(select(2, ...))";
static int trampoline_ref = LUA_NOREF;

/*
 * Plain Lua 5.1 cannot yield across pcall, so lem replaces pcall and
 * xpcall there: the protected function runs in a helper coroutine S,
 * whose task record names the caller T as its parent and T's owner as
 * its own (runtime.h).  When S finishes without waiting, its results are
 * returned at once.  When S suspends through lem_suspend(), T suspends
 * too; when S later finishes, the scheduler resumes T with the results
 * (pcall_finished).  An xpcall handler waits on T's stack (slot 1), and
 * runs on S, where the stack of the error is still intact.
 *
 * S must not show: coroutine.running() in it is T's lem coroutine, it
 * shares T's globals (getfenv(0)/setfenv(0)) and debug hook, and
 * debug.getinfo and debug.traceback go on from S's bottom frame to T's
 * pcall frame.  Deadline scopes made inside end with S (scope_unwind).
 *
 * Lua 5.1 counts nested C calls per coroutine, and S starts from zero:
 * nested pcalls could each nest 200 C calls (a string.gsub callback in a
 * gsub callback ...) and overflow the C stack.  So pcall and
 * coroutine.resume measure the C stack itself and refuse with Lua's own
 * "C stack overflow" once less than CSTACK_RESERVE is left.
 */
#define PCALL_MAX 200
#define POOL_MAX 64
#define CSTACK_RESERVE ((size_t)3 << 20)

static int pcall_depth;
static lua_State *pool[POOL_MAX];       /* finished helpers */
static unsigned int pool_slot[POOL_MAX];
static int npool;
static int running_ref = LUA_NOREF;     /* coroutine.running */
static int gethook_ref = LUA_NOREF;     /* debug.gethook */
static int sethook_ref = LUA_NOREF;     /* debug.sethook */
static int getinfo_ref = LUA_NOREF;     /* debug.getinfo */
static int traceback_ref = LUA_NOREF;   /* debug.traceback */
static char *cstack_base;
static size_t cstack_limit;

void
pcall_stack_base(void *base)
{
	struct rlimit rl;
	size_t lim = (size_t)8 << 20;

	cstack_base = base;
	if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
			rl.rlim_cur < ((rlim_t)1 << 30))
		lim = rl.rlim_cur;
	cstack_limit = lim > 2 * CSTACK_RESERVE ? lim - CSTACK_RESERVE : lim / 2;
}

/* raise "C stack overflow" if the C stack is nearly used up */
static void
cstack_check(lua_State *T)
{
	char here;

	if (cstack_base != NULL && cstack_base > &here &&
			(size_t)(cstack_base - &here) > cstack_limit)
		luaL_error(T, "C stack overflow");
}

/* a helper for T (slot tslot), from the pool or new */
static lua_State *
helper_new(unsigned int tslot, unsigned int *slotp)
{
	lua_State *S;
	unsigned int slot;
	struct task *t;

	if (npool > 0) {
		npool--;
		S = pool[npool];
		slot = pool_slot[npool];
	} else {
		S = anchor_new(&slot);
	}
	t = TASK(slot);
	t->owner = TASK(tslot)->owner;
	t->parent = tslot;
	t->handle = 0;
	t->scope = TASK(t->owner)->scope;   /* what to go back to */
	*slotp = slot;
	return S;
}

static void
helper_done(lua_State *S, unsigned int slot, int reuse)
{
	struct task *t = TASK(slot);

	t->parent = 0;
	t->owner = slot;
	t->scope = NULL;
	lua_settop(S, 0);
	if (reuse && npool < POOL_MAX) {
		pool[npool] = S;
		pool_slot[npool++] = slot;
	} else {
		anchor_forget(slot);
	}
}

/* T's hook onto S (from) or back; debug's own functions keep their
 * table of hook functions right */
static void
hook_copy(lua_State *from, lua_State *to)
{
	int n;

	if (lua_gethook(from) == NULL && lua_gethook(to) == NULL)
		return;
	lua_rawgeti(L, LUA_REGISTRYINDEX, sethook_ref);
	lua_pushthread(to);
	lua_xmove(to, L, 1);
	lua_rawgeti(L, LUA_REGISTRYINDEX, gethook_ref);
	lua_pushthread(from);
	lua_xmove(from, L, 1);
	n = lua_gettop(L);
	lua_call(L, 1, LUA_MULTRET);
	n = lua_gettop(L) - n + 2;      /* the hook, mask, count */
	if (n > 0 && lua_isnil(L, -n)) {
		lua_pop(L, n);
		n = 0;
	}
	lua_call(L, n + 1, 0);
}

/* the globals of from become those of to */
static void
env_copy(lua_State *from, lua_State *to)
{
	lua_pushthread(from);
	lua_getfenv(from, -1);
	lua_xmove(from, to, 1);
	lua_pop(from, 1);
	lua_pushthread(to);
	lua_insert(to, -2);
	lua_setfenv(to, -2);
	lua_pop(to, 1);
}

/* S is done (status) or gave up: what it changed goes back to T */
static void
helper_leave(lua_State *S, unsigned int slot, lua_State *T)
{
	struct task *t = TASK(slot);

	scope_unwind(t->owner, t->scope);
	env_copy(S, T);
	hook_copy(S, T);
	if (lua_gethook(S) != NULL) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, sethook_ref);
		lua_pushthread(S);
		lua_xmove(S, L, 1);
		lua_call(L, 1, 0);
	}
}

/*
 * S has finished with status (0 or an error): push pcall's results onto
 * T, whose slot 1 is the error handler or nil, and return their number.
 * This needs no memory: T may be suspended, outside any protected call.
 */
static int
pcall_results(lua_State *S, unsigned int slot, int status, lua_State *T)
{
	int n;

	helper_leave(S, slot, T);
	if (status == 0) {
		n = lua_gettop(S);
		if (!lua_checkstack(T, n + 1)) {
			lua_pushboolean(T, 0);
			wait_push_string(T, "stack overflow");
			helper_done(S, slot, 1);
			return 2;
		}
		lua_pushboolean(T, 1);
		lua_xmove(S, T, n);
		helper_done(S, slot, 1);
		return n + 1;
	}
	if (!lua_isnil(T, 1)) {
		/* the error object is on top of S: the handler runs there,
		 * or where there is room when the error was a full stack */
		lua_State *H = lua_checkstack(S, 3) ? S : L;
		int top = lua_gettop(L);

		if (H == L)
			lua_xmove(S, L, 1);
		lua_pushvalue(T, 1);
		lua_xmove(T, H, 1);
		lua_insert(H, -2);
		if (lua_pcall(H, 1, 1, 0) != 0) {
			lua_pop(H, 1);
			wait_push_string(H, "error in error handling");
		}
		if (H == L) {
			lua_xmove(L, S, 1);
			lua_settop(L, top);
		}
	}
	lua_pushboolean(T, 0);
	lua_xmove(S, T, 1);
	helper_done(S, slot, 0);
	return 2;
}

lua_State *
pcall_finished(lua_State *T, unsigned int *slot, int status, int *nargs)
{
	unsigned int pslot = TASK(*slot)->parent;
	lua_State *P;

	if (pslot == 0)
		return NULL;
	P = anchor_thread(pslot);
	*nargs = pcall_results(T, *slot, status, P);
	*slot = pslot;
	return P;
}

void
pcall_push_trampoline(lua_State *T, int nargs)
{
	lua_rawgeti(T, LUA_REGISTRYINDEX, trampoline_ref);
	lua_insert(T, -nargs - 2);
}

static int
pcall_run(lua_State *T, int handler)
{
	lua_State *S, *prev = sched_running;
	unsigned int pslot = sched_slot, slot;
	int n, status;

	if (pcall_depth >= PCALL_MAX)
		return luaL_error(T, "C stack overflow");
	cstack_check(T);
	n = lua_gettop(T);
	if (prev != T) {
		/* not a coroutine lem runs (a __gc metamethod on L, a
		 * coroutine.create one): nothing can wait there, so Lua's
		 * own protected call does */
		if (handler) {
			lua_pushvalue(T, 2);
			lua_remove(T, 2);
			lua_insert(T, 1);        /* h f ... */
			status = lua_pcall(T, n - 2, LUA_MULTRET, 1);
			lua_remove(T, 1);
		} else {
			status = lua_pcall(T, n - 1, LUA_MULTRET, 0);
		}
		lua_pushboolean(T, status == 0);
		lua_insert(T, 1);
		return status == 0 ? lua_gettop(T) : 2;
	}
	S = helper_new(pslot, &slot);
	if (!lua_checkstack(S, n + 1))
		lem_oom();
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
		pcall_push_trampoline(S, n);
		n++;
	}
	env_copy(T, S);
	hook_copy(T, S);
	sched_running = S;
	sched_slot = slot;
	sched_suspended = 0;
	pcall_depth++;
	status = lua_resume(S, n);
	pcall_depth--;
	sched_running = prev;
	sched_slot = pslot;
	if (status != LUA_YIELD) {
		sched_suspended = 0;
		return pcall_results(S, slot, status, T);
	}
	if (!sched_suspended) {
		/* a plain coroutine.yield(): not allowed across pcall in 5.1 */
		helper_leave(S, slot, T);
		helper_done(S, slot, 0);
		lua_pushboolean(T, 0);
		lua_pushliteral(T, "attempt to yield across metamethod/C-call boundary");
		return 2;
	}
	sched_suspended = 0;
	/*
	 * T suspends too, and TASK(slot)->parent leads back to it.  Where T
	 * cannot yield (this pcall runs inside a metamethod), lem_suspend
	 * raises: then S has no parent, runs to the end of its wait in the
	 * background, and its results are dropped (a documented limit).
	 */
	TASK(slot)->parent = 0;
	n = lem_suspend(T);
	TASK(slot)->parent = pslot;
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
 * The trampoline: function(f, ...) return f(...) end, made to be
 * invisible in error messages as pcall itself is in lua(1): f is called
 * through an unnamed expression (the name is '?'), and its line
 * information is set to 0, so that luaL_where adds no "chunk:1:" to
 * pcall(error, 'x') or to argument errors.  Binary chunks keep the line
 * of each instruction as ints at the end of the function: sizelineinfo,
 * the lines (all 1 here), sizelocvars = 0, sizeupvalues = 0.
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
		lem_oom();
	luaL_buffinit(L, &b);
	lua_dump(L, dump_writer, &b);
	luaL_pushresult(&b);
	len = lua_objlen(L, -1);
	chunk = malloc(len);
	if (chunk == NULL)
		lem_oom();
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
			lem_oom();
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

/* the caller of helper slot, and its slot */
static lua_State *
helper_parent(lua_State *S, unsigned int *slot)
{
	unsigned int p;

	*slot = anchor_lookup(S);
	if (*slot == 0 || (p = TASK(*slot)->parent) == 0)
		return NULL;
	*slot = p;
	return anchor_thread(p);
}

/* coroutine.running(): inside pcall, the lem coroutine that called it */
static int
lem_running(lua_State *T)
{
	if (T == sched_running && TASK(sched_slot)->parent != 0) {
		anchor_push(T, sched_owner());
		return 1;
	}
	lua_rawgeti(T, LUA_REGISTRYINDEX, running_ref);
	lua_call(T, 0, 1);
	return 1;
}

/* the number of frames of S that are S's own (not the trampoline),
 * counted from level 0 */
static int
own_levels(lua_State *S)
{
	lua_Debug ar;
	int n = 0;

	while (lua_getstack(S, n, &ar))
		n++;
	if (n > 0 && lua_getstack(S, n - 1, &ar) && lua_getinfo(S, "f", &ar)) {
		lua_rawgeti(S, LUA_REGISTRYINDEX, trampoline_ref);
		if (lua_rawequal(S, -1, -2))
			n--;
		lua_pop(S, 2);
	}
	return n;
}

/*
 * debug.getinfo([thread,] level [, what]): a level beyond the helper's
 * own frames is a frame of its caller, from the pcall frame up.
 */
static int
lem_getinfo(lua_State *T)
{
	lua_State *S = T, *P;
	unsigned int slot;
	int level, n;

	if (lua_type(T, 1) != LUA_TNUMBER || T != sched_running ||
			TASK(sched_slot)->parent == 0) {
		lua_rawgeti(T, LUA_REGISTRYINDEX, getinfo_ref);
		lua_insert(T, 1);
		lua_call(T, lua_gettop(T) - 1, 1);
		return 1;
	}
	level = (int)lua_tointeger(T, 1);
	n = own_levels(S);              /* level 0 is this function */
	if (level < 0 || level < n) {
		lua_rawgeti(T, LUA_REGISTRYINDEX, getinfo_ref);
		lua_insert(T, 1);
		lua_pushinteger(T, level + 1);  /* + the frame of this one */
		lua_replace(T, 2);
		lua_call(T, lua_gettop(T) - 1, 1);
		return 1;
	}
	level -= n;
	while ((P = helper_parent(S, &slot)) != NULL) {
		int m = own_levels(P);

		if (level < m || TASK(slot)->parent == 0) {
			lua_rawgeti(T, LUA_REGISTRYINDEX, getinfo_ref);
			lua_pushthread(P);
			lua_xmove(P, T, 1);
			lua_pushinteger(T, level);
			if (lua_isnoneornil(T, 2))
				lua_call(T, 2, 1);
			else {
				lua_pushvalue(T, 2);
				lua_call(T, 3, 1);
			}
			return 1;
		}
		level -= m;
		S = P;
	}
	lua_pushnil(T);
	return 1;
}

/*
 * debug.traceback([msg [, level]]) inside pcall: the helper's frames,
 * then its callers' from the pcall frame on.
 */
static int
lem_traceback(lua_State *T)
{
	lua_State *S, *P;
	unsigned int slot;
	luaL_Buffer b;

	int bare = lua_gettop(T) == 0;

	lua_rawgeti(T, LUA_REGISTRYINDEX, traceback_ref);
	lua_insert(T, 1);
	if (lua_type(T, 2) == LUA_TTHREAD ||
			(!bare && !lua_isstring(T, 2))) {
		lua_call(T, lua_gettop(T) - 1, 1);
		return 1;
	}
	if (bare) {
		/* no message: Lua's form starts with the header line */
		lua_settop(T, 1);
		lua_pushliteral(T, "");
	}
	if (lua_isnoneornil(T, 3)) {
		lua_settop(T, 2);
		lua_pushinteger(T, 2);  /* the caller, past this function */
	} else {
		lua_pushinteger(T, lua_tointeger(T, 3) + 1);
		lua_replace(T, 3);
	}
	lua_settop(T, 3);
	lua_call(T, 2, 1);
	if (bare) {
		const char *tb = lua_tostring(T, -1);

		lua_pushstring(T, tb + (tb[0] == '\n'));
		lua_remove(T, -2);
	}
	if ((P = helper_parent(T, &slot)) == NULL)
		return 1;
	luaL_buffinit(T, &b);
	luaL_addvalue(&b);
	for (S = T; (P = helper_parent(S, &slot)) != NULL; S = P) {
		const char *tb, *nl;

		lua_rawgeti(T, LUA_REGISTRYINDEX, traceback_ref);
		lua_pushthread(P);
		lua_xmove(P, T, 1);
		lua_pushliteral(T, "");
		lua_pushinteger(T, 0);
		lua_call(T, 3, 1);
		tb = lua_tostring(T, -1);
		/* drop the header line "stack traceback:" */
		if (tb != NULL && (nl = strchr(tb + 1, '\n')) != NULL)
			lua_pushstring(T, nl);
		else
			lua_pushliteral(T, "");
		lua_remove(T, -2);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	return 1;
}

/*
 * coroutine.resume(co, ...) for any co but the coroutines lem runs: one
 * of those resumed by hand while it waits for an event would later be
 * resumed again by that event, at the wrong place.  A coroutine made by
 * coroutine.create cannot wait; deadline scopes it made end when it
 * yields or returns.
 */
static int
guarded_resume(lua_State *T)
{
	lua_State *co = lua_tothread(T, 1);
	unsigned int owner = (T == sched_running) ? sched_owner() : 0;
	struct scope *keep = owner ? TASK(owner)->scope : NULL;

	if (co != NULL) {
		if (co == T || anchor_lookup(co) != 0) {
			lua_pushboolean(T, 0);
			lua_pushliteral(T, "cannot resume a coroutine run by lem");
			return 2;
		}
		if (task_finished(co)) {
			lua_pushboolean(T, 0);
			lua_pushliteral(T, "cannot resume dead coroutine");
			return 2;
		}
	}
	cstack_check(T);
	lua_pushvalue(T, lua_upvalueindex(1));
	lua_insert(T, 1);
	lua_call(T, lua_gettop(T) - 1, LUA_MULTRET);
	if (owner != 0)
		scope_unwind(owner, keep);
	return lua_gettop(T);
}

static int
ref_field(const char *lib, const char *name)
{
	lua_getglobal(L, lib);
	lua_getfield(L, -1, name);
	lua_remove(L, -2);
	return luaL_ref(L, LUA_REGISTRYINDEX);
}

static void
set_field(const char *lib, const char *name, lua_CFunction f)
{
	lua_getglobal(L, lib);
	lua_pushcfunction(L, f);
	lua_setfield(L, -2, name);
	lua_pop(L, 1);
}

void
pcall_init(void)
{
	load_trampoline();
	trampoline_ref = luaL_ref(L, LUA_REGISTRYINDEX);

	lua_getglobal(L, "jit");
	if (lua_isnil(L, -1)) {
		/* plain Lua 5.1: make pcall and xpcall yield-safe, and keep
		 * their helpers out of sight */
		lua_register(L, "pcall", lem_pcall);
		lua_register(L, "xpcall", lem_xpcall);
		running_ref = ref_field("coroutine", "running");
		gethook_ref = ref_field("debug", "gethook");
		sethook_ref = ref_field("debug", "sethook");
		getinfo_ref = ref_field("debug", "getinfo");
		traceback_ref = ref_field("debug", "traceback");
		set_field("coroutine", "running", lem_running);
		set_field("debug", "getinfo", lem_getinfo);
		set_field("debug", "traceback", lem_traceback);
	}
	lua_pop(L, 1);

	/*
	 * C modules stay loaded until the process ends: objects made by a
	 * __gc metamethod while the state closes are finalized after the
	 * library handles (LuaJIT), and would call into unmapped code.
	 */
	lua_getfield(L, LUA_REGISTRYINDEX, "_LOADLIB");
	if (lua_istable(L, -1)) {
		lua_pushnil(L);
		lua_setfield(L, -2, "__gc");
	}
	lua_pop(L, 1);

	/* coroutine.resume must not touch the coroutines lem runs */
	lua_getglobal(L, "coroutine");
	lua_getfield(L, -1, "resume");
	lua_pushcclosure(L, guarded_resume, 1);
	lua_setfield(L, -2, "resume");
	lua_pop(L, 1);
}
