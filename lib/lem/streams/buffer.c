/*
 * buffer.c - the read buffer of a lem stream (see buffer.h).
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include <errno.h>
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

/*
 * Every block of storage is on one list, headed by a struct blk: a
 * buffer whose owner is never finalized (a stream made by a __gc
 * metamethod while Lua 5.1 closes its state) is still found and freed by
 * lem_buf_release_all().
 */
struct blk {
	struct blk *next, *prev;
	double align_;          /* keeps the bytes after it aligned */
};
static struct blk blocks = { &blocks, &blocks, 0 };

#define BLK(mem) ((struct blk *)(mem) - 1)

static void
blk_link(struct blk *k)
{
	k->next = blocks.next;
	k->prev = &blocks;
	blocks.next->prev = k;
	blocks.next = k;
}

static void
blk_unlink(struct blk *k)
{
	k->prev->next = k->next;
	k->next->prev = k->prev;
}

static char *
blk_realloc(char *mem, size_t size)
{
	struct blk *k = mem ? BLK(mem) : NULL, *nk;

	if (size > (size_t)-1 - sizeof(struct blk))
		return NULL;
	if (k != NULL)
		blk_unlink(k);
	nk = realloc(k, sizeof(struct blk) + size);
	if (nk == NULL) {
		if (k != NULL)
			blk_link(k);
		return NULL;
	}
	blk_link(nk);
	return (char *)(nk + 1);
}

void
lem_buf_release_all(void)
{
	while (blocks.next != &blocks) {
		struct blk *k = blocks.next;

		blk_unlink(k);
		free(k);
	}
}

void
lem_buf_free(struct lem_buf *b)
{
	if (b->mem != NULL) {
		struct blk *k = BLK(b->mem);

		blk_unlink(k);
		free(k);
	}
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
	nmem = blk_realloc(b->mem, ncap);
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

/* ----------------------------------------------------------- framing */

static int
frame_head(struct lem_buf *b, size_t n, struct lem_frame *f)
{
	f->data = lem_buf_data(b);
	f->len = n;
	f->in_buf = 1;
	return LEM_FRAME_DONE;
}

/* the result of a recv() that gave no bytes */
static int
frame_none(struct lem_src *src, ssize_t r)
{
	if (r == 0) {
		src->open = 0;
		return LEM_FRAME_END;
	}
	return r == -1 ? LEM_FRAME_WAIT : LEM_FRAME_ERROR;
}

/* receive into the buffer, with room for at least want more bytes */
static ssize_t
frame_recv(struct lem_buf *b, struct lem_src *src, size_t want, int *err)
{
	size_t avail;
	char *dst = lem_buf_space(b, want, &avail);
	ssize_t r;

	if (dst == NULL) {
		*err = ENOMEM;
		return -2;
	}
	r = src->recv(src->ud, dst, avail, err);
	lem_buf_commit(b, r > 0 ? (size_t)r : 0);
	return r;
}

int
lem_frame_some(struct lem_buf *b, struct lem_src *src, struct lem_frame *f,
		int *err)
{
	ssize_t r;

	if (lem_buf_len(b) > 0)
		return frame_head(b, lem_buf_len(b), f);
	if (!src->open)
		return LEM_FRAME_END;
	if (src->scratch != NULL) {
		r = src->recv(src->ud, src->scratch, src->scratch_size, err);
		if (r > 0) {
			f->data = src->scratch;
			f->len = (size_t)r;
			f->in_buf = 0;
			return LEM_FRAME_DONE;
		}
	} else {
		r = frame_recv(b, src, src->chunk, err);
		if (r > 0)
			return frame_head(b, lem_buf_len(b), f);
	}
	return frame_none(src, r);
}

int
lem_frame_n(struct lem_buf *b, struct lem_src *src, size_t n,
		struct lem_frame *f, int *err)
{
	for (;;) {
		size_t have = lem_buf_len(b);
		ssize_t r;

		if (have >= n)
			return frame_head(b, n, f);
		if (!src->open)
			return LEM_FRAME_END;
		if (have == 0 && src->scratch != NULL && n <= src->scratch_size) {
			r = src->recv(src->ud, src->scratch, src->scratch_size, err);
			if (r > 0 && (size_t)r >= n) {
				/* the rest is kept before the frame is handed out */
				if (lem_buf_append(b, src->scratch + n, (size_t)r - n) < 0)
					goto nomem;
				f->data = src->scratch;
				f->len = n;
				f->in_buf = 0;
				return LEM_FRAME_DONE;
			}
			if (r > 0) {
				if (lem_buf_append(b, src->scratch, (size_t)r) < 0)
					goto nomem;
				continue;
			}
		} else {
			/* straight into the buffer, sized for the rest */
			r = frame_recv(b, src, n - have, err);
			if (r > 0)
				continue;
		}
		return frame_none(src, r);
	}
nomem:
	*err = ENOMEM;
	return LEM_FRAME_ERROR;
}

int
lem_frame_line(struct lem_buf *b, struct lem_src *src, size_t *scanned,
		size_t max, struct lem_frame *f, int *err)
{
	for (;;) {
		size_t len = lem_buf_line(b, scanned);
		ssize_t r;

		if (len > max || (len == 0 && lem_buf_len(b) >= max)) {
			*scanned = 0;
			return LEM_FRAME_LONG;
		}
		if (len > 0) {
			*scanned = 0;
			return frame_head(b, len, f);
		}
		if (!src->open)
			return LEM_FRAME_END;
		if (lem_buf_len(b) == 0 && src->scratch != NULL) {
			r = src->recv(src->ud, src->scratch, src->scratch_size, err);
			if (r > 0) {
				const char *nl = memchr(src->scratch, '\n', (size_t)r);
				size_t l = nl ? (size_t)(nl - src->scratch) + 1 : 0;

				if (nl != NULL && l <= max) {
					if (lem_buf_append(b, src->scratch + l,
								(size_t)r - l) < 0)
						goto nomem;
					f->data = src->scratch;
					f->len = l;
					f->in_buf = 0;
					return LEM_FRAME_DONE;
				}
				if (lem_buf_append(b, src->scratch, (size_t)r) < 0)
					goto nomem;
				continue;
			}
		} else {
			r = frame_recv(b, src, src->chunk, err);
			if (r > 0)
				continue;
		}
		return frame_none(src, r);
	}
nomem:
	*err = ENOMEM;
	return LEM_FRAME_ERROR;
}

int
lem_frame_all(struct lem_buf *b, struct lem_src *src, struct lem_frame *f,
		int *err)
{
	while (src->open) {
		ssize_t r = frame_recv(b, src, src->chunk, err);

		if (r > 0)
			continue;
		if (r == 0) {
			src->open = 0;
			break;
		}
		return r == -1 ? LEM_FRAME_WAIT : LEM_FRAME_ERROR;
	}
	return frame_head(b, lem_buf_len(b), f);
}

void
lem_frame_done(struct lem_buf *b, const struct lem_frame *f)
{
	if (f->in_buf)
		lem_buf_consume(b, f->len);
}
