/*
 * heap.c - the allocator of lem's Lua state.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "runtime.h"

#include <stdlib.h>
#include <unistd.h>

#if defined(__GLIBC__)
#include <malloc.h>
#include <sys/mman.h>
#endif

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

static void *
heap_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
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

lua_State *
heap_newstate(void)
{
	heap_mark = (char *)sbrk(0);
	if (heap_mark == (char *)-1)
		heap_mark = NULL;
	else
		heap_mark += HEAP_SMALL;
	return lua_newstate(heap_alloc, NULL);
}
#else
lua_State *
heap_newstate(void)
{
	return luaL_newstate();
}
#endif
