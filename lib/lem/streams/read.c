/*
 * read.c - stream:read(): the read operations of a stream.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "streams.h"

#include <errno.h>
#include <unistd.h>

/*
 * Read at most len bytes into dst, for the framing of buffer.c: the
 * count, 0 at the end of the stream (a peer that reset or went away
 * included), -1 if it would block, -2 on another error.  A short read
 * means the kernel has nothing more right now, so the next attempt waits
 * for readiness first instead of asking again.  (stream_recv, in
 * streams.h, reads through the stream's transport if it has one.)
 */
ssize_t
stream_recv_fd(void *ud, char *dst, size_t len, int *err)
{
	struct stream *s = ud;
	ssize_t n;

	if (s->flags & SF_DRAINED)
		return -1;
	do {
		n = read(s->w.fd, dst, len);
	} while (n < 0 && errno == EINTR);
	if (n > 0) {
		if ((size_t)n < len && !(s->flags & SF_REGULAR))
			s->flags |= SF_DRAINED;
		return n;
	}
	if (n == 0)
		return 0;
	*err = errno;
	if (*err == EAGAIN || *err == EWOULDBLOCK) {
		s->flags |= SF_DRAINED;
		return -1;
	}
	return stream_peer_gone(*err) ? 0 : -2;
}

static void
stream_src(struct stream *s, struct lem_src *src)
{
	src->recv = s->io != NULL ? s->io->recv : stream_recv_fd;
	src->ud = s;
	src->scratch = stream_rbuf_busy ? NULL : stream_rbuf;
	src->scratch_size = STREAM_RBUF_SIZE;
	src->chunk = STREAM_RBUF_SIZE;
	src->open = (s->flags & SF_OPEN) != 0;
}

/*
 * What a framing function said, as results on P: the frame (a string),
 * 'closed' at the end of the stream, the error, or 0 to wait.
 */
static int
stream_framed(lua_State *P, struct stream *s, int rc, struct lem_frame *f,
		int err)
{
	int busy = stream_rbuf_busy;

	switch (rc) {
	case LEM_FRAME_DONE:
		/* pushing may run a __gc that reads (and in it another): not
		 * into the scratch while these bytes are there */
		stream_rbuf_busy = busy || !f->in_buf;
		lua_pushlstring(P, f->data, f->len);
		stream_rbuf_busy = busy;
		lem_frame_done(&s->in, f);
		return 1;
	case LEM_FRAME_WAIT:
		return 0;
	case LEM_FRAME_END:
		if (s->flags & SF_OPEN)
			return stream_lost(P, s);
		return lem_closed(P);
	case LEM_FRAME_LONG:
		return lem_error(P, "line too long");
	default:
		return stream_fail(P, s, err);
	}
}

/* read(): what is there, or the next chunk that arrives */
static int
read_step(lua_State *P, struct stream *s)
{
	struct lem_src src;
	struct lem_frame f;
	int err = 0, rc;

	stream_src(s, &src);
	rc = lem_frame_some(&s->in, &src, &f, &err);
	return stream_framed(P, s, rc, &f, err);
}

/* read(n) */
static int
read_n_step(lua_State *P, struct stream *s)
{
	struct lem_src src;
	struct lem_frame f;
	int err = 0, rc;

	stream_src(s, &src);
	rc = lem_frame_n(&s->in, &src, s->u.want, &f, &err);
	return stream_framed(P, s, rc, &f, err);
}

/* read('*l'): up to and including '\n'; s->u.want is how far we looked */
static int
read_line_step(lua_State *P, struct stream *s)
{
	struct lem_src src;
	struct lem_frame f;
	int err = 0, rc;

	stream_src(s, &src);
	rc = lem_frame_line(&s->in, &src, &s->u.want, STREAM_LINE_MAX, &f, &err);
	return stream_framed(P, s, rc, &f, err);
}

/* read('*a'): everything up to the end of the stream, which closes it */
static int
read_all_step(lua_State *P, struct stream *s)
{
	struct lem_src src;
	struct lem_frame f;
	int err = 0, rc, n;

	stream_src(s, &src);
	rc = lem_frame_all(&s->in, &src, &f, &err);
	if (rc != LEM_FRAME_DONE)
		return stream_framed(P, s, rc, &f, err);
	n = stream_framed(P, s, rc, &f, err);
	lem_buf_free(&s->in);
	stream_shut(s, 0);      /* at the end the stream is closed */
	return n;
}

const struct stream_op stream_op_read = { read_step, EV_READ, NULL, NULL };
const struct stream_op stream_op_read_n = { read_n_step, EV_READ, NULL, NULL };
const struct stream_op stream_op_read_line = { read_line_step, EV_READ, NULL, NULL };
const struct stream_op stream_op_read_all = { read_all_step, EV_READ, NULL, NULL };

/* stream:read([mode]) */
int
stream_read(lua_State *T)
{
	struct stream *s = stream_check(T);
	const struct stream_op *op;
	size_t n = 0;

	switch (lua_type(T, 2)) {
	case LUA_TNONE:
	case LUA_TNIL:
		op = &stream_op_read;
		break;
	case LUA_TNUMBER: {
		lua_Number v = lua_tonumber(T, 2);

		if (!(v >= 0 && v <= 9007199254740992.0) || v != (lua_Number)(size_t)v)
			return luaL_argerror(T, 2, "invalid byte count");
		n = (size_t)v;
		op = &stream_op_read_n;
		break;
	}
	case LUA_TSTRING: {
		size_t ml;
		const char *m = lua_tolstring(T, 2, &ml);

		if (*m == '*') {
			m++;
			ml--;
		}
		/* by length: '*l\0x' is no mode either */
		if (ml == 1 && m[0] == 'a')
			op = &stream_op_read_all;
		else if (ml == 1 && m[0] == 'l')
			op = &stream_op_read_line;
		else
			return luaL_argerror(T, 2, "invalid mode");
		break;
	}
	default:
		return luaL_argerror(T, 2, "invalid mode");
	}
	lua_settop(T, 1);
	if (lem_waiting(&s->wait))
		return lem_busy(T);
	if (!(s->flags & SF_OPEN) && lem_buf_len(&s->in) == 0)
		return lem_closed(T);
	s->u.want = n;
	return stream_start(T, s, op);
}
