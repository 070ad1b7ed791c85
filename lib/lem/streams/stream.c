/*
 * stream.c - lem.Stream objects: reading, writing, sendfile and corking
 * on a non-blocking descriptor, one waiting coroutine at a time.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "streams.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#if defined(HAVE_SYS_SENDFILE_H) && defined(HAVE_SENDFILE)
#include <sys/sendfile.h>
#define USE_SENDFILE 1
#endif

/* One buffer for every read that starts with nothing stored: the bytes
 * go from here straight into a Lua string, nothing is allocated. */
char stream_rbuf[STREAM_RBUF_SIZE];

/* ------------------------------------------------------------ helpers */

struct stream *
stream_new(lua_State *T)
{
	struct stream *s = lua_newuserdata(T, sizeof(struct stream));

	ev_io_init(&s->w, stream_io_cb, -1, 0);
	s->w.data = NULL;
	s->in.mem = NULL;
	s->in.start = s->in.end = s->in.cap = 0;
	s->flags = 0;
	s->op = OP_NONE;
	s->u.req = NULL;
	luaL_getmetatable(T, STREAM_MT);
	lua_setmetatable(T, -2);
	return s;
}

/* the stream now owns the open descriptor fd */
void
stream_setfd(struct stream *s, int fd, unsigned char flags)
{
	ev_io_set(&s->w, fd, 0);
	s->flags = SF_OPEN | flags;
}

/* add O_NONBLOCK to whatever flags fd has; returns 0 or -1 (errno) */
int
stream_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	if (fl & O_NONBLOCK)
		return 0;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/*
 * Give up the descriptor: the watcher goes first, so that no callback can
 * ever see a number the kernel has handed out again.  The read buffer
 * stays: bytes already received can still be read.
 */
static int
stream_shut(struct stream *s, int gc)
{
	int fd = s->w.fd;
	int ret = 0;

	ev_io_stop(LEM, &s->w);
	if (!(s->flags & SF_OPEN))
		return 0;
	s->flags &= ~(SF_OPEN | SF_DRAINED);
	ev_io_set(&s->w, -1, 0);
	if (gc && fd <= 2)
		return 0;       /* stdin, stdout and stderr stay open */
	if (close(fd) < 0 && errno != EINTR)
		ret = errno;
	return ret;
}

/*
 * The other end is gone: the pending or next operation reports 'closed'.
 * When a write is what found out (EPIPE, ECONNRESET), bytes the peer sent
 * before it left may still wait in the kernel: move them to the read
 * buffer first, so that read() still hands them out.
 */
static int
stream_lost(lua_State *T, struct stream *s)
{
	int i;

	for (i = 0; i < 64 && (s->flags & SF_OPEN) &&
			!(s->flags & SF_REGULAR); i++) {
		size_t avail;
		char *dst = lem_buf_space(&s->in, STREAM_RBUF_SIZE, &avail);
		ssize_t r;

		if (dst == NULL)
			break;
		r = read(s->w.fd, dst, avail);
		lem_buf_commit(&s->in, r > 0 ? (size_t)r : 0);
		if (r <= 0)
			break;
	}
	stream_shut(s, 0);
	return lem_closed(T);
}

static int
peer_gone(int err)
{
	return err == ECONNRESET || err == EPIPE || err == ENOTCONN ||
		err == ETIMEDOUT;
}

/* the operation in progress has ended: forget its state */
static void
stream_op_done(struct stream *s)
{
	if (s->op == OP_SENDFILE && s->u.sf.file != NULL)
		s->u.sf.file->users--;
	s->op = OP_NONE;
	memset(&s->u, 0, sizeof(s->u));
}

/*
 * Read at most len bytes into dst.  Returns the count, 0 at end of
 * stream, -1 if it would block and -2 on another error (in *err).  A
 * short read means the kernel has nothing more right now, so the next
 * attempt waits for readiness first instead of asking again.
 */
static ssize_t
stream_recv(struct stream *s, char *dst, size_t len, int *err)
{
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
	return -2;
}

/* a failed read: the peer is gone ('closed') or an OS error */
static int
stream_recv_error(lua_State *T, struct stream *s, ssize_t r, int err)
{
	if (r == 0 || peer_gone(err))
		return stream_lost(T, s);
	return lem_strerror(T, err);
}

/*
 * Receive into s->in, with room for at least want more bytes.  Returns
 * what stream_recv returns; -2 with err = ENOMEM when no room can be had.
 */
static ssize_t
stream_recv_buffered(struct stream *s, size_t want, int *err)
{
	size_t avail;
	char *dst = lem_buf_space(&s->in, want, &avail);
	ssize_t r;

	if (dst == NULL) {
		*err = ENOMEM;
		return -2;
	}
	r = stream_recv(s, dst, avail, err);
	lem_buf_commit(&s->in, r > 0 ? (size_t)r : 0);
	return r;
}

static void
push_consume(lua_State *T, struct lem_buf *b, size_t len)
{
	lua_pushlstring(T, lem_buf_data(b), len);
	lem_buf_consume(b, len);
}

/*
 * The operations.  Each returns the number of results it pushed onto T,
 * or 0 when it has to wait for the descriptor; it is called again from
 * the watcher callback then.
 */

/* read(): what is there, or the next chunk that arrives */
static int
op_read(lua_State *T, struct stream *s)
{
	ssize_t r;
	int err = 0;

	if (lem_buf_len(&s->in) > 0) {
		push_consume(T, &s->in, lem_buf_len(&s->in));
		return 1;
	}
	if (!(s->flags & SF_OPEN))
		return lem_closed(T);
	r = stream_recv(s, stream_rbuf, STREAM_RBUF_SIZE, &err);
	if (r > 0) {
		lua_pushlstring(T, stream_rbuf, (size_t)r);
		return 1;
	}
	if (r == -1)
		return 0;
	return stream_recv_error(T, s, r, err);
}

/* store what came in; the caller has consumed nothing of it */
static int
stash(lua_State *T, struct stream *s, const char *p, size_t len)
{
	if (lem_buf_append(&s->in, p, len) < 0)
		return lem_strerror(T, ENOMEM);
	return 0;
}

/* read(n) */
static int
op_read_n(lua_State *T, struct stream *s)
{
	size_t n = s->u.want;

	for (;;) {
		size_t have = lem_buf_len(&s->in);
		ssize_t r;
		int err = 0;

		if (have >= n) {
			push_consume(T, &s->in, n);
			return 1;
		}
		if (!(s->flags & SF_OPEN))
			return lem_closed(T);
		if (have == 0 && n <= STREAM_RBUF_SIZE) {
			r = stream_recv(s, stream_rbuf, STREAM_RBUF_SIZE, &err);
			if (r > 0 && (size_t)r >= n) {
				lua_pushlstring(T, stream_rbuf, n);
				if (stash(T, s, stream_rbuf + n, (size_t)r - n))
					return 2;
				return 1;
			}
			if (r > 0) {
				if (stash(T, s, stream_rbuf, (size_t)r))
					return 2;
				continue;
			}
		} else {
			/* read straight into the buffer, sized for the rest */
			r = stream_recv_buffered(s, n - have, &err);
			if (r > 0)
				continue;
		}
		if (r == -1)
			return 0;
		return stream_recv_error(T, s, r, err);
	}
}

/* read('*l'): up to and including '\n'; s->u.want is how far we looked */
static int
op_read_line(lua_State *T, struct stream *s)
{
	for (;;) {
		size_t len = lem_buf_line(&s->in, &s->u.want);
		ssize_t r;
		int err = 0;

		if (len > STREAM_LINE_MAX ||
				(len == 0 && lem_buf_len(&s->in) >= STREAM_LINE_MAX)) {
			s->u.want = 0;
			return lem_error(T, "line too long");
		}
		if (len > 0) {
			push_consume(T, &s->in, len);
			s->u.want = 0;
			return 1;
		}
		if (!(s->flags & SF_OPEN))
			return lem_closed(T);
		if (lem_buf_len(&s->in) == 0) {
			r = stream_recv(s, stream_rbuf, STREAM_RBUF_SIZE, &err);
			if (r > 0) {
				const char *nl = memchr(stream_rbuf, '\n', (size_t)r);

				if (nl != NULL && nl - stream_rbuf < STREAM_LINE_MAX) {
					size_t l = (size_t)(nl - stream_rbuf) + 1;

					lua_pushlstring(T, stream_rbuf, l);
					if (stash(T, s, stream_rbuf + l, (size_t)r - l))
						return 2;
					return 1;
				}
				if (stash(T, s, stream_rbuf, (size_t)r))
					return 2;
				continue;
			}
		} else {
			r = stream_recv_buffered(s, STREAM_RBUF_SIZE, &err);
			if (r > 0)
				continue;
		}
		if (r == -1)
			return 0;
		return stream_recv_error(T, s, r, err);
	}
}

/* read('*a'): everything up to the end of the stream, which closes it */
static int
op_read_all(lua_State *T, struct stream *s)
{
	for (;;) {
		ssize_t r;
		int err = 0;

		if (!(s->flags & SF_OPEN))
			break;
		r = stream_recv_buffered(s, STREAM_RBUF_SIZE, &err);
		if (r > 0)
			continue;
		if (r == -1)
			return 0;
		if (r == -2 && !peer_gone(err))
			return lem_strerror(T, err);   /* the bytes stay stored */
		stream_shut(s, 0);
	}
	lua_pushlstring(T, lem_buf_data(&s->in), lem_buf_len(&s->in));
	lem_buf_free(&s->in);
	return 1;
}

/* write(data): the string stays on the waiting coroutine's stack */
static int
op_write(lua_State *T, struct stream *s)
{
	while (s->u.wr.len > 0) {
		ssize_t n = write(s->w.fd, s->u.wr.data, s->u.wr.len);

		if (n > 0) {
			s->u.wr.data += n;
			s->u.wr.len -= (size_t)n;
			/* a short write to a socket or pipe: it is full */
			if (s->u.wr.len > 0 && !(s->flags & SF_REGULAR))
				return 0;
			continue;
		}
		if (n < 0) {
			int err = errno;

			if (err == EINTR)
				continue;
			if (err == EAGAIN || err == EWOULDBLOCK)
				return 0;
			if (peer_gone(err))
				return stream_lost(T, s);
			return lem_strerror(T, err);
		}
	}
	lua_pushboolean(T, 1);
	return 1;
}

/* sendfile(file[, offset]): from u.sf.off up to u.sf.end */
static int
op_sendfile(lua_State *T, struct stream *s)
{
	struct sfile *f = s->u.sf.file;

	while (s->u.sf.off < s->u.sf.end) {
		off_t left = s->u.sf.end - s->u.sf.off;
		ssize_t n;
		int err;

		if (f->fd < 0)
			return lem_error(T, "file closed");
#ifdef USE_SENDFILE
		if (!(s->flags & SF_REGULAR)) {
			size_t chunk = left > 0x7ffff000 ? 0x7ffff000 : (size_t)left;

			n = sendfile(s->w.fd, f->fd, &s->u.sf.off, chunk);
			if (n > 0) {
				if ((size_t)n < chunk)
					return 0;       /* the socket is full */
				continue;
			}
			if (n == 0)
				break;                  /* the file got shorter */
			err = errno;
			if (err != EINVAL && err != ENOSYS && err != EOPNOTSUPP)
				goto error;
			/* this pair of descriptors cannot: copy below */
		}
#endif
		/*
		 * The copy loop reads the file at the offset each time, so
		 * nothing has to be kept when the stream takes only part.
		 */
		n = pread(f->fd, stream_rbuf, left > STREAM_RBUF_SIZE ?
				STREAM_RBUF_SIZE : (size_t)left, s->u.sf.off);
		if (n == 0)
			break;
		if (n < 0) {
			err = errno;
			if (err == EINTR)
				continue;
			return lem_strerror(T, err);
		} else {
			ssize_t w = write(s->w.fd, stream_rbuf, (size_t)n);

			if (w > 0) {
				s->u.sf.off += w;
				if (w < n && !(s->flags & SF_REGULAR))
					return 0;
				continue;
			}
			err = errno;
		}
#ifdef USE_SENDFILE
error:
#endif
		if (err == EINTR)
			continue;
		if (err == EAGAIN || err == EWOULDBLOCK)
			return 0;
		if (peer_gone(err))
			return stream_lost(T, s);
		return lem_strerror(T, err);
	}
	lua_pushboolean(T, 1);
	return 1;
}

static int
op_run(lua_State *T, struct stream *s)
{
	switch (s->op) {
	case OP_READ:      return op_read(T, s);
	case OP_READ_N:    return op_read_n(T, s);
	case OP_READ_LINE: return op_read_line(T, s);
	case OP_READ_ALL:  return op_read_all(T, s);
	case OP_WRITE:     return op_write(T, s);
	case OP_SENDFILE:  return op_sendfile(T, s);
	case OP_CONNECT:   return stream_connect_step(T, s);
	}
	return 0;
}

void
stream_io_cb(EV_P_ struct ev_io *w, int revents)
{
	struct stream *s = (struct stream *)w;
	lua_State *T = w->data;
	int n;

	(void)revents;
	s->flags &= ~SF_DRAINED;
	n = op_run(T, s);
	if (n == 0) {
		if (!ev_is_active(w))
			ev_io_start(EV_A_ w);   /* a connect moved to a new socket */
		return;
	}
	ev_io_stop(EV_A_ w);
	w->data = NULL;
	stream_op_done(s);
	lem_queue(T, n);
}

/*
 * Start operation op: try it now, and only if the descriptor is not ready
 * suspend T and wait for events.
 */
static int
stream_start(lua_State *T, struct stream *s, int op, int events)
{
	int n, ret;

	s->op = op;
	n = op_run(T, s);
	if (n > 0) {
		s->op = OP_NONE;
		memset(&s->u, 0, sizeof(s->u));
		return n;
	}
	ret = lem_suspend(T);
	/* only now, when nothing can raise any more: a file being sent
	 * cannot be closed under the stream */
	if (op == OP_SENDFILE)
		s->u.sf.file->users++;
	s->w.data = T;
	/* ev_io_set() makes libev tell the kernel again (epoll_ctl): only
	 * when the events change */
	if ((s->w.events & (EV_READ | EV_WRITE)) != events)
		ev_io_set(&s->w, s->w.fd, events);
	ev_io_start(LEM, &s->w);
	return ret;
}

/* Resume the waiting coroutine with nil, 'interrupted'. */
static void
stream_cancel(struct stream *s)
{
	lua_State *T = s->w.data;

	ev_io_stop(LEM, &s->w);
	s->w.data = NULL;
	if (s->op == OP_CONNECT && s->u.req != NULL)
		stream_connect_forget(s);
	stream_op_done(s);
	lem_error(T, "interrupted");
	lem_queue(T, 2);
}

/* ------------------------------------------------------------ methods */

/* The methods carry the metatable as upvalue 1 (see lem_checkudata). */
static struct stream *
checkstream(lua_State *T)
{
	return lem_checkudata(T, 1, lua_upvalueindex(1), STREAM_MT);
}

/* stream:closed() */
static int
stream_closed(lua_State *T)
{
	struct stream *s = checkstream(T);

	lua_pushboolean(T, !(s->flags & SF_OPEN));
	return 1;
}

/* stream:busy() */
static int
stream_busy(lua_State *T)
{
	struct stream *s = checkstream(T);

	lua_pushboolean(T, s->w.data != NULL);
	return 1;
}

/* stream:close() */
static int
stream_close(lua_State *T)
{
	struct stream *s = checkstream(T);
	int err;

	if (!(s->flags & SF_OPEN)) {
		lem_buf_free(&s->in);
		return lem_error(T, "already closed");
	}
	if (s->w.data != NULL)
		stream_cancel(s);
	err = stream_shut(s, 0);
	lem_buf_free(&s->in);
	if (err)
		return lem_strerror(T, err);
	lua_pushboolean(T, 1);
	return 1;
}

/* stream:interrupt() */
static int
stream_interrupt(lua_State *T)
{
	struct stream *s = checkstream(T);

	if (s->w.data == NULL)
		return lem_error(T, "not busy");
	stream_cancel(s);
	lua_pushboolean(T, 1);
	return 1;
}

/* stream:read([mode]) */
static int
stream_read(lua_State *T)
{
	struct stream *s = checkstream(T);
	int op;
	size_t n = 0;

	switch (lua_type(T, 2)) {
	case LUA_TNONE:
	case LUA_TNIL:
		op = OP_READ;
		break;
	case LUA_TNUMBER: {
		lua_Number v = lua_tonumber(T, 2);

		if (!(v >= 0 && v <= 9007199254740992.0) || v != (lua_Number)(size_t)v)
			return luaL_argerror(T, 2, "invalid byte count");
		n = (size_t)v;
		op = OP_READ_N;
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
			op = OP_READ_ALL;
		else if (ml == 1 && m[0] == 'l')
			op = OP_READ_LINE;
		else
			return luaL_argerror(T, 2, "invalid mode");
		break;
	}
	default:
		return luaL_argerror(T, 2, "invalid mode");
	}
	lua_settop(T, 1);
	if (s->w.data != NULL)
		return lem_busy(T);
	if (!(s->flags & SF_OPEN) && lem_buf_len(&s->in) == 0)
		return lem_closed(T);
	s->u.want = n;
	return stream_start(T, s, op, EV_READ);
}

/* stream:write(data) */
static int
stream_write(lua_State *T)
{
	struct stream *s = checkstream(T);
	size_t len;
	const char *data = luaL_checklstring(T, 2, &len);

	lua_settop(T, 2);       /* data stays here while T waits */
	if (s->w.data != NULL)
		return lem_busy(T);
	if (!(s->flags & SF_OPEN))
		return lem_closed(T);
	s->u.wr.data = data;
	s->u.wr.len = len;
	return stream_start(T, s, OP_WRITE, EV_WRITE);
}

/* stream:sendfile(file[, offset]) */
static int
stream_sendfile(lua_State *T)
{
	struct stream *s = checkstream(T);
	struct sfile *f = luaL_checkudata(T, 2, SENDFILE_MT);
	lua_Number off = luaL_optnumber(T, 3, 0);
	struct stat st;

	if (!(off >= 0 && off <= 9007199254740992.0) || off != (lua_Number)(off_t)off)
		return luaL_argerror(T, 3, "invalid offset");
	lua_settop(T, 2);       /* the file stays here while T waits */
	if (s->w.data != NULL)
		return lem_busy(T);
	if (!(s->flags & SF_OPEN))
		return lem_closed(T);
	if (f->fd < 0)
		return lem_error(T, "file closed");
	if (fstat(f->fd, &st) < 0)
		return lem_strerror(T, errno);
	s->u.sf.file = f;
	s->u.sf.off = (off_t)off;
	s->u.sf.end = st.st_size;
	return stream_start(T, s, OP_SENDFILE, EV_WRITE);
}

static int
stream_setcork(lua_State *T, int on)
{
	struct stream *s = checkstream(T);

	if (s->w.data != NULL)
		return lem_busy(T);
	if (!(s->flags & SF_OPEN))
		return lem_closed(T);
#if HAVE_DECL_TCP_CORK
	if (setsockopt(s->w.fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)) < 0)
		return lem_strerror(T, errno);
	lua_pushboolean(T, 1);
	return 1;
#else
	(void)on;
	return lem_error(T, "not supported");
#endif
}

/* stream:cork() */
static int
stream_cork(lua_State *T)
{
	return stream_setcork(T, 1);
}

/* stream:uncork() */
static int
stream_uncork(lua_State *T)
{
	return stream_setcork(T, 0);
}

static int
stream__gc(lua_State *T)
{
	struct stream *s = luaL_checkudata(T, 1, STREAM_MT);

	/* a waiting coroutine keeps its stream alive, except at exit */
	if (s->op == OP_CONNECT && s->u.req != NULL)
		stream_connect_forget(s);
	s->w.data = NULL;
	stream_shut(s, 1);
	lem_buf_free(&s->in);
	return 0;
}

static int
stream__tostring(lua_State *T)
{
	struct stream *s = checkstream(T);

	lua_pushfstring(T, "lem.Stream (%s): %p",
			(s->flags & SF_OPEN) ? (s->w.data ? "busy" : "open")
			: "closed", (void *)s);
	return 1;
}

static const luaL_Reg stream_methods[] = {
	{ "closed",     stream_closed },
	{ "busy",       stream_busy },
	{ "close",      stream_close },
	{ "interrupt",  stream_interrupt },
	{ "read",       stream_read },
	{ "write",      stream_write },
	{ "sendfile",   stream_sendfile },
	{ "cork",       stream_cork },
	{ "uncork",     stream_uncork },
	{ "__gc",       stream__gc },
	{ "__tostring", stream__tostring },
	{ NULL, NULL }
};

/* push the metatable lem.Stream */
void
stream_open_methods(lua_State *T)
{
	lem_newmetatable(T, STREAM_MT, stream_methods);
}
