/*
 * sync.c - synchronisation between lem coroutines: utils.queue,
 * utils.mutex, utils.semaphore and utils.condition.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "runtime.h"

#include <math.h>

#define QUEUE_MT     "lem.Queue"
#define MUTEX_MT     "lem.Mutex"
#define SEMAPHORE_MT "lem.Semaphore"
#define CONDITION_MT "lem.Condition"

/*
 * A coroutine waiting on a primitive: a userdata on its own stack, so it
 * lives as long as the wait, linked into the primitive's FIFO list.  A
 * deadline or cancel unlinks it (waiter_cancel), which leaves the
 * primitive as if it had never come.  Whoever serves a waiter unlinks it
 * first and then ends its wait: a waiter in a list is always waiting.
 */
struct waiter;
struct wlist {
	struct waiter *head, *tail;
};
struct waiter {
	struct lem_wait w;
	struct waiter *next, *prev;
	struct wlist *list;
	int ref;                /* a queue's putter: its value in the registry */
};

static void
wlist_add(struct wlist *l, struct waiter *x)
{
	x->list = l;
	x->next = NULL;
	x->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = x;
	else
		l->head = x;
	l->tail = x;
}

static void
wlist_remove(struct waiter *x)
{
	struct wlist *l = x->list;

	if (l == NULL)
		return;
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		l->head = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	else
		l->tail = x->prev;
	x->list = NULL;
}

/* the oldest waiter, unlinked; NULL if none */
static struct waiter *
wlist_take(struct wlist *l)
{
	struct waiter *x = l->head;

	if (x != NULL)
		wlist_remove(x);
	return x;
}

static int
waiter_cancel(struct lem_wait *w, lua_State *T)
{
	struct waiter *x = (struct waiter *)w;

	(void)T;
	wlist_remove(x);
	if (x->ref != LUA_NOREF) {
		luaL_unref(L, LUA_REGISTRYINDEX, x->ref);
		x->ref = LUA_NOREF;
	}
	return 0;
}

/* wait on l; the waiter stays on T's stack */
static int
waiter_wait(lua_State *T, struct wlist *l, struct waiter **xp)
{
	struct waiter *x = lua_newuserdata(T, sizeof(struct waiter));
	int ret;

	x->w.T = NULL;
	x->list = NULL;
	x->ref = LUA_NOREF;
	ret = lem_wait(T, &x->w, waiter_cancel);
	if (lem_waiting(&x->w))
		wlist_add(l, x);
	if (xp != NULL)
		*xp = x;
	return ret;
}

/* fail every waiter of l with nil, word */
static int
wlist_fail(struct wlist *l, const char *word)
{
	struct waiter *x;
	int n = 0;

	while ((x = wlist_take(l)) != NULL) {
		lem_wait_fail(&x->w, word);
		n++;
	}
	return n;
}

static void *
checkself(lua_State *T, const char *tname)
{
	return lem_checkudata(T, 1, lua_upvalueindex(1), tname);
}

static void
set_metatable(lua_State *T, const char *tname)
{
	luaL_getmetatable(T, tname);
	lua_setmetatable(T, -2);
}

/* ------------------------------------------------------------- queue */

/*
 * The values a queue holds are in a ring in its environment table,
 * [first] .. [first + count - 1] (indices modulo nothing: they only grow,
 * and Lua's array part follows them as a hash; small queues stay small).
 */
struct queue {
	struct wlist getters;   /* waiting while empty */
	struct wlist putters;   /* waiting while full */
	double cap;             /* HUGE_VAL: unbounded */
	double first, count;
	int closed;
};

/* utils.queue([capacity]) */
static int
utils_queue(lua_State *T)
{
	struct queue *q;
	lua_Number cap = HUGE_VAL;

	if (!lua_isnoneornil(T, 1)) {
		cap = luaL_checknumber(T, 1);
		if (!(cap >= 0) || (cap != floor(cap) && !isinf(cap)))
			return luaL_argerror(T, 1, "capacity must be a whole number >= 0");
	}
	q = lua_newuserdata(T, sizeof(struct queue));
	q->getters.head = q->getters.tail = NULL;
	q->putters.head = q->putters.tail = NULL;
	q->cap = cap;
	q->first = 1;
	q->count = 0;
	q->closed = 0;
	set_metatable(T, QUEUE_MT);
	lua_newtable(T);
	lua_setfenv(T, -2);
	return 1;
}

/* q:put(v) */
static int
queue_put(lua_State *T)
{
	struct queue *q = checkself(T, QUEUE_MT);
	struct waiter *g, *x;
	int ret;

	luaL_checkany(T, 2);
	if (lua_isnil(T, 2))
		return luaL_argerror(T, 2, "cannot put nil");
	lua_settop(T, 2);
	if (q->closed)
		return lem_closed(T);
	if ((g = wlist_take(&q->getters)) != NULL) {
		/* a getter waits only while the queue is empty: hand it over */
		lua_State *G = lem_wait_end(&g->w);

		lua_pushvalue(T, 2);
		lua_xmove(T, G, 1);
		lem_queue(G, 1);
	} else if (q->count < q->cap) {
		lua_getfenv(T, 1);
		lua_pushvalue(T, 2);
		lua_rawseti(T, -2, (int)(q->first + q->count));
		q->count++;
	} else {
		lua_pushvalue(T, 2);
		ret = waiter_wait(T, &q->putters, &x);
		/* after the wait is set up, which may raise: nothing to undo */
		if (lem_waiting(&x->w)) {
			lua_pushvalue(T, 2);
			x->ref = luaL_ref(T, LUA_REGISTRYINDEX);
		}
		return ret;
	}
	lua_pushboolean(T, 1);
	return 1;
}

/* wake the oldest putter with true; its value is pushed onto T */
static int
queue_take_putter(lua_State *T, struct queue *q)
{
	struct waiter *x = wlist_take(&q->putters);
	lua_State *P;

	if (x == NULL)
		return 0;
	lua_rawgeti(T, LUA_REGISTRYINDEX, x->ref);
	luaL_unref(T, LUA_REGISTRYINDEX, x->ref);
	x->ref = LUA_NOREF;
	P = lem_wait_end(&x->w);
	lua_pushboolean(P, 1);
	lem_queue(P, 1);
	return 1;
}

/* q:get() */
static int
queue_get(lua_State *T)
{
	struct queue *q = checkself(T, QUEUE_MT);

	lua_settop(T, 1);
	if (q->count > 0) {
		int first = (int)q->first;

		lua_getfenv(T, 1);
		lua_rawgeti(T, 2, first);
		lua_pushnil(T);
		lua_rawseti(T, 2, first);
		q->first++;
		q->count--;
		/* room now: the oldest putter's value goes to the back */
		if (queue_take_putter(T, q)) {
			lua_rawseti(T, 2, (int)(q->first + q->count));
			q->count++;
		}
		if (q->count == 0)
			q->first = 1;
		return 1;
	}
	if (queue_take_putter(T, q))    /* capacity 0: straight from it */
		return 1;
	if (q->closed)
		return lem_closed(T);
	return waiter_wait(T, &q->getters, NULL);
}

/* q:close() */
static int
queue_close(lua_State *T)
{
	struct queue *q = checkself(T, QUEUE_MT);

	if (q->closed)
		return lem_error(T, "already closed");
	q->closed = 1;
	wlist_fail(&q->getters, "closed");
	wlist_fail(&q->putters, "closed");
	lua_pushboolean(T, 1);
	return 1;
}

/* q:count() */
static int
queue_count(lua_State *T)
{
	struct queue *q = checkself(T, QUEUE_MT);

	lua_pushnumber(T, q->count);
	return 1;
}

static const luaL_Reg queue_methods[] = {
	{ "put",   queue_put },
	{ "get",   queue_get },
	{ "close", queue_close },
	{ "count", queue_count },
	{ NULL, NULL }
};

/* ------------------------------------------------------------- mutex */

/*
 * A mutex knows its owner (a lem coroutine's slot); the owner's task
 * record lists the mutexes it holds, so that the end of the owner
 * abandons them.
 */
struct mutex {
	struct wlist waiters;
	unsigned int owner;     /* 0: free */
	int abandoned;
	struct mutex *next;     /* in the owner's list of held mutexes */
};

static void
mutex_hold(struct mutex *m, unsigned int owner)
{
	struct task *t = TASK(owner);

	m->owner = owner;
	m->next = t->held;
	t->held = m;
}

static void
mutex_release(struct mutex *m)
{
	struct mutex **p;

	for (p = &TASK(m->owner)->held; *p != NULL; p = &(*p)->next)
		if (*p == m) {
			*p = m->next;
			break;
		}
	m->owner = 0;
}

void
mutex_abandon_all(unsigned int owner)
{
	struct task *t = TASK(owner);

	while (t->held != NULL) {
		struct mutex *m = t->held;

		t->held = m->next;
		m->owner = 0;
		m->abandoned = 1;
		wlist_fail(&m->waiters, "abandoned");
	}
}

/* utils.mutex() */
static int
utils_mutex(lua_State *T)
{
	struct mutex *m = lua_newuserdata(T, sizeof(struct mutex));

	m->waiters.head = m->waiters.tail = NULL;
	m->owner = 0;
	m->abandoned = 0;
	m->next = NULL;
	set_metatable(T, MUTEX_MT);
	return 1;
}

/* m:lock() */
static int
mutex_lock(lua_State *T)
{
	struct mutex *m = checkself(T, MUTEX_MT);
	unsigned int me = sched_owner();

	lua_settop(T, 1);
	if (me == 0)
		return luaL_error(T, "mutex:lock outside a lem coroutine");
	if (m->abandoned)
		return lem_error(T, "abandoned");
	if (m->owner == me)
		return luaL_error(T, "mutex already locked by this coroutine "
				"(a certain deadlock)");
	if (m->owner == 0) {
		mutex_hold(m, me);
		lua_pushboolean(T, 1);
		return 1;
	}
	return waiter_wait(T, &m->waiters, NULL);
}

/* m:unlock() */
static int
mutex_unlock(lua_State *T)
{
	struct mutex *m = checkself(T, MUTEX_MT);
	struct waiter *x;

	if (m->owner == 0 || m->owner != sched_owner())
		return lem_error(T, "not locked");
	mutex_release(m);
	if ((x = wlist_take(&m->waiters)) != NULL) {
		unsigned int next = TASK(x->w.slot)->owner;
		lua_State *W = lem_wait_end(&x->w);

		mutex_hold(m, next);
		lua_pushboolean(W, 1);
		lem_queue(W, 1);
	}
	lua_pushboolean(T, 1);
	return 1;
}

static int
mutex__gc(lua_State *T)
{
	struct mutex *m = luaL_checkudata(T, 1, MUTEX_MT);

	if (m->owner != 0 && anchor_slots != NULL)
		mutex_release(m);
	return 0;
}

static const luaL_Reg mutex_methods[] = {
	{ "lock",   mutex_lock },
	{ "unlock", mutex_unlock },
	{ "__gc",   mutex__gc },
	{ NULL, NULL }
};

/* --------------------------------------------------------- semaphore */

struct semaphore {
	struct wlist waiters;
	double count;
};

/* utils.semaphore(n) */
static int
utils_semaphore(lua_State *T)
{
	lua_Number n = luaL_checknumber(T, 1);
	struct semaphore *s;

	if (!(n >= 0 && n <= 9007199254740992.0) || n != floor(n))
		return luaL_argerror(T, 1, "count must be a whole number >= 0");
	s = lua_newuserdata(T, sizeof(struct semaphore));
	s->waiters.head = s->waiters.tail = NULL;
	s->count = n;
	set_metatable(T, SEMAPHORE_MT);
	return 1;
}

/* s:acquire() */
static int
semaphore_acquire(lua_State *T)
{
	struct semaphore *s = checkself(T, SEMAPHORE_MT);

	lua_settop(T, 1);
	if (s->count > 0) {
		s->count--;
		lua_pushboolean(T, 1);
		return 1;
	}
	return waiter_wait(T, &s->waiters, NULL);
}

/* s:release(): a waiter gets the unit directly, so none can be lost */
static int
semaphore_release(lua_State *T)
{
	struct semaphore *s = checkself(T, SEMAPHORE_MT);
	struct waiter *x = wlist_take(&s->waiters);

	if (x != NULL) {
		lua_State *W = lem_wait_end(&x->w);

		lua_pushboolean(W, 1);
		lem_queue(W, 1);
	} else {
		s->count++;
	}
	lua_pushboolean(T, 1);
	return 1;
}

/* s:count() */
static int
semaphore_count(lua_State *T)
{
	struct semaphore *s = checkself(T, SEMAPHORE_MT);

	lua_pushnumber(T, s->count);
	return 1;
}

static const luaL_Reg semaphore_methods[] = {
	{ "acquire", semaphore_acquire },
	{ "release", semaphore_release },
	{ "count",   semaphore_count },
	{ NULL, NULL }
};

/* --------------------------------------------------------- condition */

struct condition {
	struct wlist waiters;
};

/* utils.condition() */
static int
utils_condition(lua_State *T)
{
	struct condition *c = lua_newuserdata(T, sizeof(struct condition));

	c->waiters.head = c->waiters.tail = NULL;
	set_metatable(T, CONDITION_MT);
	return 1;
}

/* c:wait() */
static int
condition_wait(lua_State *T)
{
	struct condition *c = checkself(T, CONDITION_MT);

	lua_settop(T, 1);
	return waiter_wait(T, &c->waiters, NULL);
}

/* wake x with the values at 2..top of T */
static void
condition_wake(lua_State *T, struct waiter *x)
{
	int i, n = lua_gettop(T) - 1;
	lua_State *W = lem_wait_end(&x->w);

	if (!lua_checkstack(W, n))
		lem_oom();
	for (i = 2; i <= n + 1; i++) {
		lua_pushvalue(T, i);
		lua_xmove(T, W, 1);
	}
	lem_queue(W, n);
}

/* c:signal(...) */
static int
condition_signal(lua_State *T)
{
	struct condition *c = checkself(T, CONDITION_MT);
	struct waiter *x = wlist_take(&c->waiters);

	if (x != NULL)
		condition_wake(T, x);
	lua_pushinteger(T, x != NULL);
	return 1;
}

/* c:broadcast(...): only those waiting now */
static int
condition_broadcast(lua_State *T)
{
	struct condition *c = checkself(T, CONDITION_MT);
	struct wlist now = c->waiters;
	struct waiter *x;
	int n = 0;

	for (x = now.head; x != NULL; x = x->next)
		x->list = &now;
	c->waiters.head = c->waiters.tail = NULL;
	while ((x = wlist_take(&now)) != NULL) {
		condition_wake(T, x);
		n++;
	}
	lua_pushinteger(T, n);
	return 1;
}

static const luaL_Reg condition_methods[] = {
	{ "wait",      condition_wait },
	{ "signal",    condition_signal },
	{ "broadcast", condition_broadcast },
	{ NULL, NULL }
};

/* ------------------------------------------------------------ set-up */

static void
open_type(const char *tname, const luaL_Reg *methods, const char *field,
		const char *ctor_name, lua_CFunction ctor)
{
	lem_newmetatable(L, tname, methods);
	lua_setfield(L, -2, field);
	lua_pushcfunction(L, ctor);
	lua_setfield(L, -2, ctor_name);
}

/* sync_init(): the primitives into the table on top of L */
void
sync_init(void)
{
	open_type(QUEUE_MT, queue_methods, "Queue", "queue", utils_queue);
	open_type(MUTEX_MT, mutex_methods, "Mutex", "mutex", utils_mutex);
	open_type(SEMAPHORE_MT, semaphore_methods, "Semaphore", "semaphore",
			utils_semaphore);
	open_type(CONDITION_MT, condition_methods, "Condition", "condition",
			utils_condition);
}
