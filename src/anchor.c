/*
 * anchor.c - the thread table: the coroutines lem holds, so that the
 * collector leaves them alone while they are queued or wait for an event.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "runtime.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * The thread table is an array in the registry: threads[slot] =
 * coroutine.  It lives in the registry, not in a fixed slot of L's stack:
 * a garbage collection step triggered by an allocation on L runs __gc
 * metamethods on L itself, in a new frame where slot 1 is not ours, and
 * such a metamethod may spawn.
 *
 * A free slot holds the number of the next free one (0 ends the list), so
 * the array stays dense and grows in place, and the collector visits
 * coroutines in the order they were made.  Keyed by the coroutine, a Lua
 * table would rehash (reinserting every entry) each time it doubles.
 *
 * A small open-addressing hash in C (amap) finds the slot of a coroutine.
 * Its entries are slot numbers, 4 bytes each, and anchor_slots[slot].hash keeps
 * the hash of the coroutine in each slot: growing and deleting need only
 * that, and a lookup reads the coroutine back from the thread table to
 * confirm a match.  Adding an entry never looks.
 */
static int threads_ref = LUA_NOREF;
static unsigned int *amap;              /* slot numbers, 0: an empty entry */
static unsigned int amap_bits, amap_len;
struct anchor_slot *anchor_slots;       /* indexed by slot */
static unsigned int slot_cap;           /* anchor_slots has room for this many */
static unsigned int free_head;          /* the first free slot, 0: none */
static unsigned int top_slot;           /* slots 1..top_slot have been used */
unsigned int anchor_count;

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
static unsigned int nforgotten; /* let go since the last idle collection */
static int gc_cycles;           /* cycles completed by this idle collection */

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

	for (i = amap_index(anchor_slots[slot].hash); amap[i] != 0; i = (i + 1) & mask)
		;
	amap[i] = slot;
}

static void
amap_put(lua_State *T, unsigned int slot)
{
	if (slot >= slot_cap) {
		unsigned int ncap = slot_cap ? 2 * slot_cap : 256;
		struct anchor_slot *nh = realloc(anchor_slots,
				ncap * sizeof(struct anchor_slot));

		if (nh == NULL)
			lem_oom();
		anchor_slots = nh;
		slot_cap = ncap;
	}
	anchor_slots[slot].hash = thread_hash(T);
	memset(&anchor_slots[slot].task, 0, sizeof(struct task));
	anchor_slots[slot].task.owner = slot;
	if (4 * (amap_len + 1) > 3 * (amap_bits ? 1u << amap_bits : 0)) {
		/* at most 3/4 full */
		unsigned int *old = amap;
		unsigned int n = amap_bits ? 1u << amap_bits : 0, i;

		amap_bits = amap_bits ? amap_bits + 1 : 8;
		amap = calloc((size_t)1 << amap_bits, sizeof(unsigned int));
		if (amap == NULL)
			lem_oom();
		for (i = 0; i < n; i++)
			if (old[i] != 0)
				amap_insert(old[i]);
		free(old);
	}
	amap_insert(slot);
	amap_len++;
}

/* The slot of T, 0 if lem does not hold T.  t is the index of the
 * thread table on L's stack. */
static unsigned int
amap_get(int t, lua_State *T)
{
	uint32_t hash = thread_hash(T);
	unsigned int mask, i, slot;

	if (amap_len == 0)
		return 0;
	mask = (1u << amap_bits) - 1;
	for (i = amap_index(hash); (slot = amap[i]) != 0; i = (i + 1) & mask)
		if (anchor_slots[slot].hash == hash && slot_thread(t, slot) == T)
			break;
	return slot;
}

/* Remove the entry of slot, which is in the hash: found by its hash,
 * without reading the thread table. */
static int
amap_remove(unsigned int slot)
{
	unsigned int mask = (1u << amap_bits) - 1, i, j, k;

	if (amap_len == 0)
		return 0;
	for (i = amap_index(anchor_slots[slot].hash); amap[i] != slot;
			i = (i + 1) & mask)
		if (amap[i] == 0)
			return 0;       /* not held */
	/* linear probing: move later entries of the run back into the hole */
	amap[i] = 0;
	for (j = (i + 1) & mask; amap[j] != 0; j = (j + 1) & mask) {
		k = amap_index(anchor_slots[amap[j]].hash);
		if (((j - k) & mask) >= ((j - i) & mask)) {
			amap[i] = amap[j];
			amap[j] = 0;
			i = j;
		}
	}
	amap_len--;
	return 1;
}

unsigned int
anchor_lookup(lua_State *T)
{
	unsigned int slot;

	lua_rawgeti(L, LUA_REGISTRYINDEX, threads_ref);
	slot = amap_get(lua_gettop(L), T);
	lua_pop(L, 1);
	return slot;
}

lua_State *
anchor_thread(unsigned int slot)
{
	lua_State *T;

	lua_rawgeti(L, LUA_REGISTRYINDEX, threads_ref);
	T = slot_thread(lua_gettop(L), slot);
	lua_pop(L, 1);
	return T;
}

void
anchor_push(lua_State *T, unsigned int slot)
{
	lua_rawgeti(T, LUA_REGISTRYINDEX, threads_ref);
	lua_rawgeti(T, -1, (int)slot);
	lua_remove(T, -2);
}

lua_State *
anchor_new(unsigned int *slotp)
{
	lua_State *T;
	unsigned int slot;
	int t;

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
	anchor_count++;
	*slotp = slot;
	return T;
}

void
anchor_forget(unsigned int slot)
{
	int t;

	if (slot == 0 || slot > top_slot || !amap_remove(slot))
		return;
	if (sched_ended_slot == slot)
		sched_ended_T = NULL;
	lua_rawgeti(L, LUA_REGISTRYINDEX, threads_ref);
	t = lua_gettop(L);
	lua_pushinteger(L, (lua_Integer)free_head);
	lua_rawseti(L, t, (int)slot);           /* threads[slot] = next free */
	free_head = slot;
	lua_pop(L, 1);
	anchor_count--;
	if (++nforgotten >= GC_IDLE_MIN && nforgotten >= anchor_count / 4 &&
			!ev_is_active(&gc_idle)) {
		ev_idle_start(LEM, &gc_idle);
		ev_unref(LEM);           /* no reason to keep running */
	}
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
	if (!sched_exiting) {
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

void
anchor_init(void)
{
	lua_newtable(L);
	threads_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	ev_idle_init(&gc_idle, gc_idle_cb);
	ev_set_priority(&gc_idle, EV_MINPRI);
}

void
anchor_free(void)
{
	free(amap);
	free(anchor_slots);
	amap = NULL;
	anchor_slots = NULL;
}
