/*
 * stream.c - lem.Stream objects: waiting for an operation on a
 * non-blocking descriptor, one waiting coroutine at a time; closing.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "streams.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

char stream_rbuf[STREAM_RBUF_SIZE];
int stream_rbuf_busy;

static void stream_io_cb(EV_P_ struct ev_io *w, int revents);

/* ------------------------------------------------------------ helpers */

struct stream *
stream_new(lua_State *T)
{
	struct stream *s = lua_newuserdata(T, sizeof(struct stream));

	memset(s, 0, sizeof(*s));
	ev_io_init(&s->w, stream_io_cb, -1, 0);
	luaL_getmetatable(T, STREAM_MT);
	lua_setmetatable(T, -2);
	return s;
}

/* the stream now owns the open descriptor fd */
void
stream_setfd(struct stream *s, int fd, unsigned char flags)
{
	assert(!ev_is_active(&s->w) && !(s->flags & SF_IDLE));
	ev_io_set(&s->w, fd, 0);
	s->flags = SF_OPEN | flags;
}

/* add O_NONBLOCK to whatever flags fd has; returns 0 or -errno */
int
stream_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/*
 * Stop watching the descriptor.  A watcher left armed for reading while
 * nobody waits (SF_IDLE) was ev_unref'd, so that it does not keep lem
 * running: the reference goes back before it stops.
 */
void
stream_watch_stop(struct stream *s)
{
	if (s->flags & SF_IDLE) {
		s->flags &= ~SF_IDLE;
		ev_ref(LEM);
	}
	ev_io_stop(LEM, &s->w);
}

/*
 * Give up the descriptor: the watcher goes first, so that no callback can
 * ever see a number the kernel has handed out again.  The read buffer
 * stays: bytes already received can still be read.  0 or -errno.
 */
int
stream_shut(struct stream *s, int gc)
{
	int fd = s->w.fd;

	stream_watch_stop(s);
	if (!(s->flags & SF_OPEN))
		return 0;
	s->flags &= ~(SF_OPEN | SF_DRAINED);
	if (s->io != NULL && s->io->free != NULL)
		s->io->free(s);
	ev_io_set(&s->w, -1, 0);
	if (gc && fd <= 2)
		return 0;       /* stdin, stdout and stderr stay open */
	if (close(fd) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

int
stream_peer_gone(int err)
{
	return err == ECONNRESET || err == EPIPE || err == ENOTCONN ||
		err == ETIMEDOUT;
}

/*
 * The other end is gone: the pending or next operation reports 'closed'.
 * When a write is what found out (EPIPE, ECONNRESET), bytes the peer sent
 * before it left may still wait in the kernel: move them to the read
 * buffer first, so that read() still hands them out.
 */
int
stream_lost(lua_State *T, struct stream *s)
{
	int i;

	for (i = 0; i < 64 && (s->flags & SF_OPEN) &&
			!(s->flags & SF_REGULAR); i++) {
		size_t avail;
		char *dst = lem_buf_space(&s->in, STREAM_RBUF_SIZE, &avail);
		ssize_t r;
		int err;

		if (dst == NULL)
			break;
		if (s->io != NULL)
			r = s->io->recv(s, dst, avail, &err);
		else
			r = read(s->w.fd, dst, avail);
		lem_buf_commit(&s->in, r > 0 ? (size_t)r : 0);
		if (r <= 0)
			break;
	}
	stream_shut(s, 0);
	return lem_closed(T);
}

/*
 * An operation failed with err (an errno value, or STREAM_EIO from the
 * transport): push its results onto P, 'closed' when the peer is gone.
 */
int
stream_fail(lua_State *P, struct stream *s, int err)
{
	if (err == STREAM_EIO)
		return lem_error(P, s->io->message(s));
	if (stream_peer_gone(err))
		return stream_lost(P, s);
	return lem_strerror(P, err);
}

/*
 * A write(2) or sendfile(2) of an operation failed with err: -1 to try
 * again, 0 to wait until the descriptor is writable, or the results
 * pushed onto P ('closed' when the peer is gone, else the error).
 */
int
stream_write_error(lua_State *P, struct stream *s, int err)
{
	if (err == EINTR)
		return -1;
	if (err == EAGAIN || err == EWOULDBLOCK)
		return 0;
	return stream_fail(P, s, err);
}

/*
 * The end of a write or sendfile operation on a stream with a transport:
 * what the transport still holds goes out first.  -1 when it is out, else
 * as stream_write_error (0: wait).
 */
int
stream_flush(lua_State *P, struct stream *s)
{
	for (;;) {
		int err, r;

		if (s->io->send(s, NULL, 0, &err) >= 0)
			return -1;
		if ((r = stream_write_error(P, s, err)) >= 0)
			return r;
	}
}

/* stream_writev (streams.h) for a stream with a transport: the pieces
 * of a small write go as one piece (one TLS record) */
ssize_t
stream_io_writev(struct stream *s, const struct iovec *iov, int n, int *err)
{
	char buf[16384];
	size_t total = 0;
	ssize_t r;
	int i;

	for (i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (n > 1 && total <= sizeof(buf)) {
		total = 0;
		for (i = 0; i < n; i++) {
			memcpy(buf + total, iov[i].iov_base, iov[i].iov_len);
			total += iov[i].iov_len;
		}
		return total > 0 ? s->io->send(s, buf, total, err) : 0;
	}
	for (i = 0, total = 0; i < n; i++) {
		if (iov[i].iov_len == 0)
			continue;
		r = s->io->send(s, iov[i].iov_base, iov[i].iov_len, err);
		if (r < 0)
			return total > 0 ? (ssize_t)total : -1;
		total += (size_t)r;
		if ((size_t)r < iov[i].iov_len)
			break;
	}
	return (ssize_t)total;
}

/*
 * Has nothing come, and has the peer not closed?  For a pooled
 * connection that is to carry another request.  A transport is asked to
 * read (bytes of its own, such as TLS session tickets, are taken in
 * passing; a byte of data means the answer is no anyway).
 */
int
stream_quiet(struct stream *s)
{
	char ch;
	ssize_t r;
	int err = 0;

	if (!(s->flags & SF_OPEN))
		return 0;
	if (s->io == NULL) {
		r = recv(s->w.fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
		return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
	}
	s->flags &= ~SF_DRAINED;        /* ask the kernel now */
	return s->io->recv(s, &ch, 1, &err) == -1;
}

/* ------------------------------------------------- the waiting part */

/*
 * The operation in progress has ended, however: forget it.  A watcher
 * armed for reading stays armed, unreferenced (SF_IDLE): the next read
 * usually comes soon, and starting and stopping the watcher for every
 * read costs an epoll_ctl() each time.  If the descriptor becomes ready
 * while nobody reads, the callback stops it (no spinning).  A watcher
 * armed for writing is stopped: a writable socket would wake the loop
 * on every turn.
 */
static void
stream_op_end(struct stream *s)
{
	const struct stream_op *op = s->op;

	if (ev_is_active(&s->w) && !(s->flags & SF_IDLE)) {
		if (s->w.events & EV_WRITE || !(s->flags & SF_OPEN)) {
			ev_io_stop(LEM, &s->w);
		} else {
			ev_unref(LEM);
			s->flags |= SF_IDLE;
		}
	}
	s->op = NULL;
	s->want = 0;
	if (op != NULL && op->end != NULL)
		op->end(s);
	memset(&s->u, 0, sizeof(s->u));
}

/* a transport waits for other events than before (see stream_arm) */
static void
stream_rearm(struct stream *s, int events)
{
	ev_io_stop(LEM, &s->w);
	ev_io_set(&s->w, s->w.fd, events);
	ev_io_start(LEM, &s->w);
}

/*
 * Watch the descriptor for the events of the operation, or for those its
 * transport waits for (they may change from one step to the next).
 */
static inline void
stream_arm(struct stream *s)
{
	int events = s->want != 0 ? s->want : s->op->events;

	if (s->flags & SF_IDLE) {
		/* armed while idle: now somebody waits */
		s->flags &= ~SF_IDLE;
		ev_ref(LEM);
		if ((s->w.events & (EV_READ | EV_WRITE)) == events)
			return;
		ev_io_stop(LEM, &s->w);
	}
	if (s->w.fd < 0 || events == 0)
		return;
	if (ev_is_active(&s->w)) {
		if ((s->w.events & (EV_READ | EV_WRITE)) != events)
			stream_rearm(s, events);
		return;
	}
	/* ev_io_set() makes libev tell the kernel again (epoll_ctl): only
	 * when the events change */
	if ((s->w.events & (EV_READ | EV_WRITE)) != events)
		ev_io_set(&s->w, s->w.fd, events);
	ev_io_start(LEM, &s->w);
}

/* a deadline, a cancel, interrupt() or close() ends the wait */
static int
stream_cancel(struct lem_wait *w, lua_State *T)
{
	struct stream *s = (struct stream *)w;
	int n = 0;

	if (s->op != NULL && s->op->cut != NULL)
		n = s->op->cut(s, T);
	stream_op_end(s);
	return n;
}

static int
stream_step(lua_State *P, void *ud)
{
	struct stream *s = ud;

	return s->op->step(P, s);
}

static void
stream_io_cb(EV_P_ struct ev_io *w, int revents)
{
	struct stream *s = (struct stream *)((char *)w - offsetof(struct stream, w));

	(void)EV_A;
	(void)revents;
	if (!lem_waiting(&s->wait) || s->op == NULL) {
		/* ready while nobody waits: the next read asks at once */
		stream_watch_stop(s);
		s->flags &= ~SF_DRAINED;
		return;
	}
	s->flags &= ~SF_DRAINED;
	lem_wait_run(&s->wait, stream_step, s);
	if (!lem_waiting(&s->wait)) {
		if (s->op != NULL)
			stream_op_end(s);
	} else {
		stream_arm(s);  /* a connect may have moved to a new socket */
	}
}

/* a step made progress outside the callback (a lookup came back) */
void
stream_continue(struct stream *s)
{
	stream_io_cb(LEM, &s->w, 0);
}

/*
 * Start operation op: try it now, and only if the descriptor is not ready
 * suspend T and wait for events.
 */
int
stream_start(lua_State *T, struct stream *s, const struct stream_op *op)
{
	const char *word;
	int n, ret;

	assert(!lem_waiting(&s->wait));
	s->op = op;
	n = op->step(T, s);
	if (n == 0 && (s->flags & SF_DRAINED) && lem_wait_ends_now(T)) {
		/* the wait would end at once: ask the kernel after all */
		s->flags &= ~SF_DRAINED;
		n = op->step(T, s);
	}
	if (n == 0 && op->cut != NULL && (word = lem_wait_ending(T)) != NULL) {
		/* a deadline has passed (the step itself may have taken the
		 * time): nil, the word and what the step did, as if the wait
		 * had been cut short */
		lua_pushnil(T);
		lua_pushstring(T, word);
		n = 2 + op->cut(s, T);
	}
	if (n > 0) {
		stream_op_end(s);
		return n;
	}
	ret = lem_wait(T, &s->wait, stream_cancel);
	if (lem_waiting(&s->wait))
		stream_arm(s);
	else
		stream_op_end(s);       /* a deadline had passed already */
	return ret;
}

/*
 * lem_wait() raises where T cannot wait (a metamethod, say): the
 * operation it was for is then left behind, not waited for; the next
 * start on the stream ends it (lem.http and lem.websocket call it too).
 */
void
stream_reset(struct stream *s)
{
	if (s->op != NULL && !lem_waiting(&s->wait))
		stream_op_end(s);
}

/* ------------------------------------------------------------ methods */

/* The methods carry the metatable as upvalue 1 (see lem_checkudata). */
struct stream *
stream_check(lua_State *T)
{
	struct stream *s = lem_checkudata(T, 1, lua_upvalueindex(1), STREAM_MT);

	stream_reset(s);
	return s;
}

/* stream:closed() */
static int
stream_closed(lua_State *T)
{
	struct stream *s = stream_check(T);

	lua_pushboolean(T, !(s->flags & SF_OPEN));
	return 1;
}

/* stream:busy() */
static int
stream_busy(lua_State *T)
{
	struct stream *s = stream_check(T);

	lua_pushboolean(T, lem_waiting(&s->wait));
	return 1;
}

/* stream:close() */
static int
stream_close(lua_State *T)
{
	struct stream *s = stream_check(T);
	int err;

	if (!(s->flags & SF_OPEN)) {
		lem_buf_free(&s->in);
		return lem_error(T, "already closed");
	}
	lem_wait_fail(&s->wait, "interrupted");
	if (s->io != NULL && s->io->shutdown != NULL)
		s->io->shutdown(s);
	err = stream_shut(s, 0);
	lem_buf_free(&s->in);
	if (err)
		return lem_strerror(T, -err);
	lua_pushboolean(T, 1);
	return 1;
}

/* stream:interrupt() */
static int
stream_interrupt(lua_State *T)
{
	struct stream *s = stream_check(T);

	if (!lem_waiting(&s->wait))
		return lem_error(T, "not busy");
	lem_wait_fail(&s->wait, "interrupted");
	lua_pushboolean(T, 1);
	return 1;
}

static int
stream__gc(lua_State *T)
{
	struct stream *s = luaL_checkudata(T, 1, STREAM_MT);

	/* a waiting coroutine keeps its stream alive, except at exit */
	if (lem_waiting(&s->wait))
		(void)lem_wait_end(&s->wait);
	if (s->op != NULL)
		stream_op_end(s);
	stream_shut(s, 1);
	lem_buf_free(&s->in);
	return 0;
}

static int
stream__tostring(lua_State *T)
{
	struct stream *s = stream_check(T);

	lua_pushfstring(T, "lem.Stream (%s): %p",
			(s->flags & SF_OPEN) ? (lem_waiting(&s->wait) ? "busy" :
			"open") : "closed", (void *)s);
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
	{ "address",    stream_address },
	{ "peer",       stream_peer },
	{ "credentials", stream_credentials },
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
