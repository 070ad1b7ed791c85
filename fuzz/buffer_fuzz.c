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
 * the control bytes, through the framing functions of buffer.c that the
 * streams call (lem_frame_*), with and without the scratch buffer and
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

/* the source of the framing functions: the peer, in its chunks */
static ssize_t
src_recv(void *ud, char *dst, size_t len, int *err)
{
	(void)err;
	return (ssize_t)peer_recv(ud, dst, len);
}

/*
 * Run one framing call the way read.c does: hand out a frame (through
 * lem_buf_data when it comes from the buffer, as read.c copies it),
 * then lem_frame_done.  Returns the framing result.
 */
static int
frame(int kind, struct peer *p, struct lem_buf *b, struct sink *s, int *open,
		size_t n, int use_scratch)
{
	char rbuf[RBUF];
	struct lem_src src;
	struct lem_frame f;
	size_t scanned = 0, before = s->len;
	int err = 0, rc;

	src.recv = src_recv;
	src.ud = p;
	src.scratch = use_scratch ? rbuf : NULL;   /* busy: no scratch */
	src.scratch_size = RBUF;
	src.chunk = RBUF;
	src.open = *open;
	switch (kind) {
	case 0:  rc = lem_frame_some(b, &src, &f, &err); break;
	case 1:  rc = lem_frame_n(b, &src, n, &f, &err); break;
	case 2:
		/* a line comes in several calls when the source runs dry
		 * between them: scanned carries over */
		do
			rc = lem_frame_line(b, &src, &scanned, LINE_MAX_, &f, &err);
		while (rc == LEM_FRAME_WAIT);
		break;
	default: rc = lem_frame_all(b, &src, &f, &err); break;
	}
	*open = src.open;
	if (rc == LEM_FRAME_ERROR)
		abort();                /* no memory, the only error here */
	if (rc != LEM_FRAME_DONE)
		return rc;
	if (f.in_buf && (f.len > lem_buf_len(b) ||
			(f.len > 0 && f.data != lem_buf_data(b))))
		abort();
	if (!f.in_buf && (f.data < rbuf || f.data + f.len > rbuf + RBUF))
		abort();
	sink_add(s, f.data, f.len);
	lem_frame_done(b, &f);
	if (kind == 1 && s->len - before != n)
		abort();
	if (kind == 2) {
		/* the line: ends with its only '\n', within the cap */
		size_t l = s->len - before;

		if (l == 0 || l > LINE_MAX_ || s->data[s->len - 1] != '\n' ||
				memchr(s->data + before, '\n', l - 1) != NULL)
			abort();
	}
	if (kind == 3) {
		if (*open || lem_buf_len(b) != 0)
			abort();
		lem_buf_free(b);
	}
	return rc;
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

		int scratch = !(c & 0x20);

		switch (c & 3) {
		case 0:
			frame(0, &p, &b, &s, &open, 0, scratch);
			break;
		case 1: {
			size_t n = ctl_byte(&p);

			if (c & 4)
				n = n * 13 + ctl_byte(&p);  /* beyond RBUF */
			frame(1, &p, &b, &s, &open, n, scratch);
			break;
		}
		case 2:
			frame(2, &p, &b, &s, &open, 0, scratch);
			break;
		case 3:
			if ((c & 0x1c) == 0)        /* '*a' ends it: rarely */
				frame(3, &p, &b, &s, &open, 0, scratch);
			else
				frame(0, &p, &b, &s, &open, 0, scratch);
			break;
		}
		check_idle(&b);
	}
	frame(3, &p, &b, &s, &open, 0, 1);
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
