/*
 * buffer.c - the read buffer of a lem stream (see buffer.h).
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include <stdlib.h>
#include <string.h>

#include "buffer.h"

/*
 * The first allocation is the smallest power of two (at least BUF_MIN)
 * that holds what is stored: the few bytes left over after a line are
 * then a small block that malloc recycles cheaply, not a page that moves
 * the break up and down on every request.
 */
#define BUF_MIN 64

void
lem_buf_free(struct lem_buf *b)
{
	free(b->mem);
	b->mem = NULL;
	b->start = b->end = b->cap = 0;
}

char *
lem_buf_space(struct lem_buf *b, size_t want, size_t *avail)
{
	size_t len = b->end - b->start;
	size_t need, ncap;
	char *nmem;

	if (want > (size_t)-1 - len)
		return NULL;
	need = len + want;
	if (b->cap - b->end >= want)
		goto done;
	if (b->cap >= need && b->start > 0) {
		/* enough room once the consumed head is reclaimed */
		memmove(b->mem, b->mem + b->start, len);
		b->start = 0;
		b->end = len;
		goto done;
	}
	ncap = b->cap > BUF_MIN ? b->cap : BUF_MIN;     /* then doubles */
	while (ncap < need) {
		if (ncap > (size_t)-1 / 2) {
			ncap = need;
			break;
		}
		ncap *= 2;
	}
	if (b->start > 0 && len > 0) {
		memmove(b->mem, b->mem + b->start, len);
	}
	nmem = realloc(b->mem, ncap);
	if (nmem == NULL) {
		if (b->start > 0) {
			/* the bytes moved down: keep the struct consistent */
			b->start = 0;
			b->end = len;
		}
		return NULL;
	}
	b->mem = nmem;
	b->start = 0;
	b->end = len;
	b->cap = ncap;
done:
	*avail = b->cap - b->end;
	return b->mem + b->end;
}

void
lem_buf_commit(struct lem_buf *b, size_t n)
{
	b->end += n;
	if (b->start == b->end)
		lem_buf_free(b);
}

int
lem_buf_append(struct lem_buf *b, const char *src, size_t n)
{
	size_t avail;
	char *dst;

	if (n == 0)
		return 0;
	dst = lem_buf_space(b, n, &avail);
	if (dst == NULL)
		return -1;
	memcpy(dst, src, n);
	lem_buf_commit(b, n);
	return 0;
}

void
lem_buf_consume(struct lem_buf *b, size_t n)
{
	b->start += n;
	if (b->start >= b->end)
		lem_buf_free(b);     /* an idle stream holds no memory */
}

size_t
lem_buf_line(const struct lem_buf *b, size_t *scanned)
{
	size_t len = b->end - b->start;
	const char *p, *nl;

	if (*scanned >= len)
		return 0;
	p = b->mem + b->start;
	nl = memchr(p + *scanned, '\n', len - *scanned);
	if (nl == NULL) {
		*scanned = len;
		return 0;
	}
	return (size_t)(nl - p) + 1;
}

const char *
lem_buf_take(const struct lem_buf *b, size_t n, size_t *len)
{
	if (b->end - b->start < n)
		return NULL;
	*len = n;
	return n ? b->mem + b->start : "";
}

const char *
lem_buf_all(const struct lem_buf *b, size_t *len)
{
	*len = b->end - b->start;
	return *len ? b->mem + b->start : "";
}
