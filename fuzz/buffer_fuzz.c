/*
 * buffer_fuzz.c - libFuzzer target for the stream read buffer
 * (lib/lem/streams/buffer.c).
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * The input is split into a control part and a payload.  The payload is
 * "received" in chunks whose sizes come from the control bytes, and read
 * with a sequence of read(), read(n), read('*l') and read('*a') chosen by
 * the control bytes, each following the buffer calls of the matching
 * operation in stream.c (op_read, op_read_n, op_read_line, op_read_all),
 * with a small receive size and line cap so that every branch is hit.
 * Invariants: everything handed out, followed by a final '*a', is the
 * payload exactly, in order; read(n) gives n bytes; a line ends with its
 * only '\n' and respects the cap; an empty buffer owns no memory.
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -I../lib/lem/streams
 *        buffer_fuzz.c ../lib/lem/streams/buffer.c   (or `make fuzz`)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"

#define RBUF     64             /* STREAM_RBUF_SIZE, scaled down */
#define LINE_MAX_ 200           /* STREAM_LINE_MAX, scaled down */

struct peer {                   /* the other end of the "socket" */
	const uint8_t *data;
	size_t len, pos;
	const uint8_t *ctl;
	size_t nctl, cpos;
};

struct sink {                   /* all bytes handed to "Lua" */
	uint8_t *data;
	size_t len, cap;
};

static uint8_t
ctl_byte(struct peer *p)
{
	if (p->nctl == 0)
		return 0;
	return p->ctl[p->cpos++ % p->nctl];
}

/* recv(2): at most max bytes of the next chunk; 0 at the end */
static size_t
peer_recv(struct peer *p, char *dst, size_t max)
{
	uint8_t c = ctl_byte(p);
	size_t n = (size_t)(c & 0x3f) + 1;

	if (c & 0x40)
		n *= 37;                /* now and then a big chunk */
	if (n > max)
		n = max;
	if (n > p->len - p->pos)
		n = p->len - p->pos;
	memcpy(dst, p->data + p->pos, n);
	p->pos += n;
	return n;
}

static void
sink_add(struct sink *s, const char *src, size_t n)
{
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2 + 64;
		s->data = realloc(s->data, s->cap);
		if (s->data == NULL)
			abort();
	}
	if (n > 0)
		memcpy(s->data + s->len, src, n);
	s->len += n;
}

static void
check_idle(const struct lem_buf *b)
{
	if (lem_buf_len(b) == 0 && b->mem != NULL) {
		fprintf(stderr, "empty buffer owns memory\n");
		abort();
	}
	if (b->start > b->end || b->end > b->cap) {
		fprintf(stderr, "inconsistent buffer\n");
		abort();
	}
}

static void
hand_out(struct sink *s, struct lem_buf *b, size_t len)
{
	size_t got;
	const char *p = lem_buf_take(b, len, &got);

	if (p == NULL || got != len)
		abort();
	/* stream.c hands bytes out through lem_buf_data, also 0 of them */
	if (lem_buf_data(b) == NULL || (len > 0 && memcmp(lem_buf_data(b), p, len)))
		abort();
	sink_add(s, p, len);
	lem_buf_consume(b, len);
}

static void
stash(struct lem_buf *b, const char *p, size_t n)
{
	if (lem_buf_append(b, p, n) < 0)
		abort();
}

/* op_read: 1 if something was handed out, 0 at the end */
static int
op_read(struct peer *p, struct lem_buf *b, struct sink *s, int *open)
{
	char rbuf[RBUF];
	size_t r;

	if (lem_buf_len(b) > 0) {
		hand_out(s, b, lem_buf_len(b));
		return 1;
	}
	if (!*open)
		return 0;
	r = peer_recv(p, rbuf, RBUF);
	if (r == 0) {
		*open = 0;
		return 0;
	}
	sink_add(s, rbuf, r);
	return 1;
}

static void
op_read_n(struct peer *p, struct lem_buf *b, struct sink *s, int *open, size_t n)
{
	char rbuf[RBUF];
	size_t before = s->len;

	for (;;) {
		size_t have = lem_buf_len(b), avail, r;
		char *dst;

		if (have >= n) {
			hand_out(s, b, n);
			break;
		}
		if (!*open)
			return;         /* 'closed': the bytes stay stored */
		if (have == 0 && n <= RBUF) {
			r = peer_recv(p, rbuf, RBUF);
			if (r > 0 && r >= n) {
				sink_add(s, rbuf, n);
				stash(b, rbuf + n, r - n);
				break;
			}
			if (r > 0) {
				stash(b, rbuf, r);
				continue;
			}
		} else {
			dst = lem_buf_space(b, n - have, &avail);
			if (dst == NULL || avail < n - have)
				abort();
			r = peer_recv(p, dst, avail);
			lem_buf_commit(b, r);
			if (r > 0)
				continue;
		}
		*open = 0;
	}
	if (s->len - before != n)
		abort();
}

static void
op_read_line(struct peer *p, struct lem_buf *b, struct sink *s, int *open)
{
	char rbuf[RBUF];
	size_t scanned = 0, before = s->len;

	for (;;) {
		size_t len = lem_buf_line(b, &scanned), avail, r;
		char *dst;

		if (len > LINE_MAX_ ||
				(len == 0 && lem_buf_len(b) >= LINE_MAX_))
			return;         /* 'line too long': nothing consumed */
		if (len > 0) {
			hand_out(s, b, len);
			break;
		}
		if (!*open)
			return;
		if (lem_buf_len(b) == 0) {
			r = peer_recv(p, rbuf, RBUF);
			if (r > 0) {
				const char *nl = memchr(rbuf, '\n', r);

				if (nl != NULL && nl - rbuf < LINE_MAX_) {
					size_t l = (size_t)(nl - rbuf) + 1;

					sink_add(s, rbuf, l);
					stash(b, rbuf + l, r - l);
					break;
				}
				stash(b, rbuf, r);
				continue;
			}
		} else {
			dst = lem_buf_space(b, RBUF, &avail);
			if (dst == NULL)
				abort();
			r = peer_recv(p, dst, avail);
			lem_buf_commit(b, r);
			if (r > 0)
				continue;
		}
		*open = 0;
	}
	/* the line: ends with its only '\n', within the cap */
	{
		size_t l = s->len - before;

		if (l == 0 || l > LINE_MAX_ || s->data[s->len - 1] != '\n' ||
				memchr(s->data + before, '\n', l - 1) != NULL)
			abort();
	}
}

static void
op_read_all(struct peer *p, struct lem_buf *b, struct sink *s, int *open)
{
	size_t avail, r, len;
	const char *all;
	char *dst;

	while (*open) {
		dst = lem_buf_space(b, RBUF, &avail);
		if (dst == NULL)
			abort();
		r = peer_recv(p, dst, avail);
		lem_buf_commit(b, r);
		if (r == 0)
			*open = 0;
	}
	all = lem_buf_all(b, &len);
	sink_add(s, all, len);
	lem_buf_free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lem_buf b = LEM_BUF_INIT;
	struct peer p;
	struct sink s = { NULL, 0, 0 };
	size_t split, op;
	int open = 1;

	if (size < 2)
		return 0;
	split = ((size_t)data[0] << 8 | data[1]) % (size - 1);
	memset(&p, 0, sizeof(p));
	p.ctl = data + 2;
	p.nctl = split;
	p.data = data + 2 + split;
	p.len = size - 2 - split;

	for (op = 0; op < 4 * p.len + 16 && (open || lem_buf_len(&b) > 0); op++) {
		uint8_t c = ctl_byte(&p);

		switch (c & 3) {
		case 0:
			op_read(&p, &b, &s, &open);
			break;
		case 1: {
			size_t n = ctl_byte(&p);

			if (c & 4)
				n = n * 13 + ctl_byte(&p);  /* beyond RBUF */
			op_read_n(&p, &b, &s, &open, n);
			break;
		}
		case 2:
			op_read_line(&p, &b, &s, &open);
			break;
		case 3:
			if ((c & 0x1c) == 0)        /* '*a' ends it: rarely */
				op_read_all(&p, &b, &s, &open);
			else
				op_read(&p, &b, &s, &open);
			break;
		}
		check_idle(&b);
	}
	op_read_all(&p, &b, &s, &open);
	check_idle(&b);
	if (s.len != p.len || (p.len > 0 && memcmp(s.data, p.data, p.len) != 0)) {
		fprintf(stderr, "handed out %zu bytes, payload %zu: differ\n",
				s.len, p.len);
		abort();
	}
	free(s.data);
	lem_buf_free(&b);
	return 0;
}
