/*
 * tcp.c - streams.tcp_connect (the connect operation) and tcp_listen.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "streams.h"

#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

/* -------------------------------------------------------- tcp_connect */

/* where tcp_connect keeps its stream on the waiting coroutine's stack */
#define CONNECT_STREAM_IDX 4

/* close the socket of the address that failed */
static void
connect_drop_socket(struct stream *s)
{
	stream_shut(s, 0);
	s->flags = 0;
}

/* a new socket for ai, connecting: 0 (connected), -EINPROGRESS, -errno */
static int
connect_try(struct stream *s, const struct addrinfo *ai)
{
	int one = 1, err;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
			SOCK_CLOEXEC, ai->ai_protocol);

	if (fd < 0)
		return -errno;
	if (s->u.conn.nodelay && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
				&one, sizeof(one)) < 0)
		goto error;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
		stream_setfd(s, fd, 0);
		return 0;
	}
	if (errno == EINPROGRESS || errno == EINTR) {
		stream_setfd(s, fd, 0);
		return -EINPROGRESS;
	}
error:
	err = errno;
	close(fd);
	return -err;
}

/*
 * The connect operation: wait for the name lookup, then try the addresses
 * in turn.  Pushes the connected stream (or nil and the error of the last
 * address), or returns 0 while the lookup runs or a connect is in
 * progress on w.fd.
 */
static int
connect_step(lua_State *P, struct stream *s)
{
	struct lookup *lk = s->u.conn.lk;
	lua_State *T;
	int err;

	if (lk->running)
		return 0;
	if (lk->gai_err != 0) {
		lookup_error(P, lk);
		goto failed;
	}
	if (s->u.conn.cur == NULL) {
		s->u.conn.cur = lk->res;
	} else if (s->flags & SF_OPEN) {
		/* the connect in progress has finished, one way or another */
		socklen_t len = sizeof(err);

		err = 0;
		if (getsockopt(s->w.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err == 0)
			goto connected;
		if (err == EINPROGRESS || err == EALREADY)
			return 0;
		connect_drop_socket(s);
		s->u.conn.err = err;
		s->u.conn.cur = s->u.conn.cur->ai_next;
	}
	for (; s->u.conn.cur != NULL; s->u.conn.cur = s->u.conn.cur->ai_next) {
		int rc = connect_try(s, s->u.conn.cur);

		if (rc == 0)
			goto connected;
		if (rc == -EINPROGRESS)
			return 0;
		s->u.conn.err = -rc;
	}
	lem_strerror(P, s->u.conn.err ? s->u.conn.err : EADDRNOTAVAIL);
failed:
	s->u.conn.lk = NULL;
	lookup_drop(lk);
	return 2;
connected:
	s->u.conn.lk = NULL;
	lookup_drop(lk);
	/* the stream is on the coroutine's stack: where this started, or
	 * the one waiting now */
	T = s->wait.T != NULL ? s->wait.T : P;
	lua_pushvalue(T, CONNECT_STREAM_IDX);
	if (T != P)
		lua_xmove(T, P, 1);
	return 1;
}

/* ended without a stream (a deadline, a cancel): nothing is left behind */
static void
connect_end(struct stream *s)
{
	struct lookup *lk = s->u.conn.lk;

	if (lk == NULL)
		return;                 /* connected, or failed: done */
	s->u.conn.lk = NULL;
	lookup_drop(lk);                /* a late answer is dropped */
	connect_drop_socket(s);
}

static const struct stream_op connect_op = {
	connect_step, EV_WRITE, connect_end, NULL
};

static void
connect_resolved(struct lookup *lk)
{
	stream_continue(lk->ud);
}

static const char *const connect_options[] = { "nodelay", NULL };

/* streams.tcp_connect(host, port[, options]) */
int
streams_tcp_connect(lua_State *T)
{
	const char *host = lem_checkcstring(T, 1);
	char pbuf[8];
	int numeric, nodelay;
	const char *port = streams_checkport(T, 2, pbuf, &numeric);
	struct lookup *lk;
	struct stream *s;

	streams_checkoptions(T, 3, connect_options);
	nodelay = streams_optboolean(T, 3, "nodelay", 1);
	lua_settop(T, 3);
	s = stream_new(T);      /* CONNECT_STREAM_IDX */
	lk = lookup_new(host, port, SOCK_STREAM, 0);
	if (lk == NULL)
		return lem_strerror(T, ENOMEM);
	s->u.conn.lk = lk;
	s->u.conn.nodelay = nodelay;
	/* an address literal needs no lookup: no thread, no waiting; a
	 * name is looked up in a thread, and whatever becomes of the wait,
	 * the answer comes back and is dropped if nobody waits any more */
	if (!lookup_numeric(lk, numeric))
		lookup_run(lk, connect_resolved, s);
	return stream_start(T, s, &connect_op);
}

/* --------------------------------------------------------- tcp_listen */

/* where tcp_listen keeps its server on the waiting coroutine's stack */
#define LISTEN_SERVER_IDX 4

/* listen on the first address of the lookup that works: 0 or -errno */
static int
listen_on(struct server *srv, const struct lookup *lk)
{
	struct bind_opts o = { SOCK_STREAM, 1, srv->reuseport, srv->backlog };
	const struct addrinfo *ai;
	int fd = -EADDRNOTAVAIL;

	for (ai = lk->res; ai != NULL; ai = ai->ai_next) {
		fd = streams_bind(ai->ai_addr, ai->ai_addrlen, 0, &o);
		if (fd >= 0) {
			server_setfd(srv, fd);
			return 0;
		}
	}
	return fd;
}

/* the lookup is back: listen, and hand out the server or the error */
static int
listen_step(lua_State *P, void *ud)
{
	struct server *srv = ud;
	struct lookup *lk = srv->lk;
	lua_State *T = srv->wait.T;
	int rc;

	srv->lk = NULL;
	if (lk->gai_err != 0) {
		rc = lookup_error(P, lk);
		lookup_drop(lk);
		return rc;
	}
	rc = listen_on(srv, lk);
	lookup_drop(lk);
	if (rc < 0)
		return lem_strerror(P, -rc);
	lua_pushvalue(T, LISTEN_SERVER_IDX);
	lua_xmove(T, P, 1);
	return 1;
}

static void
listen_resolved(struct lookup *lk)
{
	struct server *srv = lk->ud;

	lem_wait_run(&srv->wait, listen_step, srv);     /* never waits on */
}

/* a deadline or cancel while the name is looked up */
static int
listen_cancel(struct lem_wait *w, lua_State *T)
{
	struct server *srv = (struct server *)w;

	(void)T;
	lookup_drop(srv->lk);
	srv->lk = NULL;
	return 0;
}

/* reuseport by default in the workers of lem --workers: they all listen
 * on the same port */
static int
default_reuseport(void)
{
	return lem_worker(NULL) > 0;
}

static const char *const listen_options[] = {
	"backlog", "reuseport", "nodelay", NULL
};

/* streams.tcp_listen(address, port[, options]) */
int
streams_tcp_listen(lua_State *T)
{
	const char *addr = lem_checkcstring(T, 1);
	char pbuf[8];
	int numeric, backlog, reuseport, nodelay, rc, ret;
	const char *port = streams_checkport(T, 2, pbuf, &numeric);
	struct server *srv;
	struct lookup *lk;

	streams_checkoptions(T, 3, listen_options);
	backlog = streams_optinteger(T, 3, "backlog", 511, 0, 0x7fffffff);
	reuseport = streams_optboolean(T, 3, "reuseport", -1);
	nodelay = streams_optboolean(T, 3, "nodelay", 1);
#ifdef STREAMS_REUSEPORT
	if (reuseport < 0)
		reuseport = default_reuseport();
#else
	if (reuseport > 0)
		return lem_error(T, "not supported");
	reuseport = 0;          /* in workers or not: there is none */
#endif
	lua_settop(T, 3);
	srv = server_new(T);    /* LISTEN_SERVER_IDX */
	srv->backlog = backlog;
	srv->reuseport = (unsigned char)reuseport;
	srv->nodelay = (unsigned char)nodelay;
	if (strcmp(addr, "*") == 0) {
		/* every address; a service name is made a number first, so
		 * that it gets the same socket as a number does */
		struct bind_opts o = {
			SOCK_STREAM, 1, srv->reuseport, srv->backlog
		};
		int pnum, fd;

		if (numeric) {
			pnum = atoi(port);
		} else {
			rc = streams_service_port(port, SOCK_STREAM, &pnum);
			if (rc != 0)
				return lem_error(T, gai_strerror(rc));
		}
		fd = streams_bind_any(pnum, &o);
		if (fd < 0)
			return lem_strerror(T, -fd);
		server_setfd(srv, fd);
		return 1;
	}
	lk = lookup_new(addr, port, SOCK_STREAM, AI_PASSIVE);
	if (lk == NULL)
		return lem_strerror(T, ENOMEM);
	if (lookup_numeric(lk, numeric)) {
		/* an address literal: at once, no waiting */
		if (lk->gai_err != 0)
			rc = lookup_error(T, lk);
		else if ((rc = listen_on(srv, lk)) < 0)
			rc = lem_strerror(T, -rc);
		else
			rc = 1;
		lookup_drop(lk);
		return rc;
	}
	/* a name: looked up in a worker thread while T waits */
	srv->lk = lk;
	/* lem_wait may raise: then __gc drops lk */
	ret = lem_wait(T, &srv->wait, listen_cancel);
	if (!lem_waiting(&srv->wait)) {
		/* a deadline had passed already, or T is cancelled */
		srv->lk = NULL;
		lookup_drop(lk);
		return ret;
	}
	lookup_run(lk, listen_resolved, srv);
	return ret;
}
