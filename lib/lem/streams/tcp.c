/*
 * tcp.c - streams.tcp_connect (the connect operation) and tcp_listen.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "streams.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>

/* -------------------------------------------------------------- TCP */

/*
 * A connect in progress.  It lives outside the stream because a name
 * lookup running in a worker thread needs it until it reports back, even
 * if the stream has given up waiting by then (s == NULL): done() frees
 * it then, and the late answer is dropped.
 */
struct connect_req {
	struct lem_async a;
	struct stream *s;
	struct addrinfo *res, *cur;
	int gai_err;            /* of the lookup; -1 while it runs */
	int sys_err;            /* errno of the lookup, for EAI_SYSTEM */
	int resolving;          /* the lookup is with a worker thread */
	int err;                /* why the last address failed */
	char *host, *port;
	char names[];
};

/* where tcp_connect keeps its stream on the waiting coroutine's stack */
#define CONNECT_STREAM_IDX 3

static void
connect_req_free(struct connect_req *req)
{
	if (req->res != NULL)
		freeaddrinfo(req->res);
	free(req);
}

/*
 * port argument: a number 0-65535, or a string.  A string that Lua reads
 * as a number is that number, with the same check (tcp_listen(addr,
 * '70000') raises as 70000 does); any other string is a service name.
 */
static const char *
checkport(lua_State *T, int idx, char *buf, int *numeric)
{
	lua_Number p;

	if (lua_type(T, idx) != LUA_TNUMBER) {
		/* before lua_isnumber, which would read '80\0x' as 80 */
		const char *name = streams_checkcstring(T, idx);

		if (!lua_isnumber(T, idx)) {
			*numeric = 0;
			return name;
		}
	}
	p = lua_tonumber(T, idx);
	if (!(p >= 0 && p <= 65535) || p != (lua_Number)(int)p)
		luaL_argerror(T, idx, "port out of range");
	snprintf(buf, 8, "%d", (int)p);
	*numeric = 1;
	return buf;
}

/* close the socket of the address that failed */
static void
connect_drop_socket(struct stream *s)
{
	stream_shut(s, 0);
	s->flags = 0;
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
	struct connect_req *req = s->u.req;
	lua_State *T;
	int err;

	if (req->resolving)
		return 0;
	if (req->gai_err != 0) {
		err = req->gai_err;
		lua_pushnil(P);
		lua_pushstring(P, err == EAI_SYSTEM ? strerror(req->sys_err) :
				gai_strerror(err));
		goto failed;
	}
	if (req->cur == NULL)
		req->cur = req->res;
	else if (s->flags & SF_OPEN) {
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
		req->err = err;
		req->cur = req->cur->ai_next;
	}
	for (; req->cur != NULL; req->cur = req->cur->ai_next) {
		struct addrinfo *ai = req->cur;
		int fd = socket(ai->ai_family,
				SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
				ai->ai_protocol);

		if (fd < 0) {
			req->err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			stream_setfd(s, fd, 0);
			goto connected;
		}
		if (errno == EINPROGRESS || errno == EINTR) {
			stream_setfd(s, fd, 0);
			return 0;
		}
		req->err = errno;
		close(fd);
	}
	lem_strerror(P, req->err ? req->err : EADDRNOTAVAIL);
failed:
	s->u.req = NULL;
	connect_req_free(req);
	return 2;
connected:
	s->u.req = NULL;
	connect_req_free(req);
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
	struct connect_req *req = s->u.req;

	if (req == NULL)
		return;                 /* connected, or failed: done */
	s->u.req = NULL;
	if (req->resolving)
		req->s = NULL;          /* the lookup still runs: done() frees */
	else
		connect_req_free(req);
	connect_drop_socket(s);
}

static const struct stream_op connect_op = {
	connect_step, EV_WRITE, connect_end, NULL
};

static void
resolve_work(struct lem_async *a)
{
	struct connect_req *req = (struct connect_req *)a;
	struct addrinfo hints;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	req->res = NULL;
	req->gai_err = getaddrinfo(req->host, req->port, &hints, &req->res);
	req->sys_err = errno;
}

static void
resolve_done(struct lem_async *a)
{
	struct connect_req *req = (struct connect_req *)a;

	req->resolving = 0;
	if (req->s == NULL) {           /* nobody waits any more */
		connect_req_free(req);
		return;
	}
	stream_continue(req->s);
}

/* streams.tcp_connect(host, port) */
int
streams_tcp_connect(lua_State *T)
{
	const char *host = streams_checkcstring(T, 1);
	char pbuf[8];
	int numeric, rc;
	const char *port = checkport(T, 2, pbuf, &numeric);
	size_t hl = strlen(host), pl = strlen(port);
	struct connect_req *req;
	struct addrinfo hints;
	struct stream *s;

	lua_settop(T, 2);
	s = stream_new(T);      /* CONNECT_STREAM_IDX */
	req = malloc(sizeof(struct connect_req) + hl + pl + 2);
	if (req == NULL)
		return lem_strerror(T, ENOMEM);
	req->resolving = 0;
	req->s = s;
	req->res = req->cur = NULL;
	req->gai_err = 0;
	req->sys_err = 0;
	req->err = 0;
	req->host = req->names;
	memcpy(req->host, host, hl + 1);
	req->port = req->names + hl + 1;
	memcpy(req->port, port, pl + 1);

	/* an address literal needs no lookup: no thread, no waiting */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | (numeric ? AI_NUMERICSERV : 0);
	rc = getaddrinfo(host, port, &hints, &req->res);
	if (rc != 0) {
		req->res = NULL;
		if (rc != EAI_NONAME) {
			connect_req_free(req);
			return lem_error(T, gai_strerror(rc));
		}
		req->resolving = 1;     /* a name: looked up in a thread */
	}
	s->u.req = req;
	/* whatever becomes of the wait, done() comes and frees the request
	 * if nobody waits for it any more */
	if (req->resolving)
		lem_async_run(&req->a, resolve_work, resolve_done);
	return stream_start(T, s, &connect_op);
}

/* bind and listen on one address; returns the descriptor or -1 (errno) */
static int
listen_on(const struct sockaddr *sa, socklen_t len, int dual)
{
	int fd, one = 1, zero = 0, err;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto error;
#ifdef SO_REUSEPORT
	/* the workers of lem --workers all listen on the same port */
	if (lem_worker(NULL) > 0 &&
			setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto error;
#endif
	if (dual && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
				&zero, sizeof(zero)) < 0)
		goto error;
	if (bind(fd, sa, len) < 0)
		goto error;
	/* the kernel caps the backlog at net.core.somaxconn */
	if (listen(fd, 4096) < 0)
		goto error;
	return fd;
error:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* the port number of a service name, for '*'; 0 or a getaddrinfo error */
static int
service_port(const char *name, int *port)
{
	struct addrinfo hints, *res;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	rc = getaddrinfo(NULL, name, &hints, &res);
	if (rc != 0)
		return rc;
	if (res->ai_family == AF_INET6)
		*port = ntohs(((struct sockaddr_in6 *)res->ai_addr)->sin6_port);
	else
		*port = ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port);
	freeaddrinfo(res);
	return 0;
}

/* streams.tcp_listen(address, port) */
int
streams_tcp_listen(lua_State *T)
{
	const char *addr = streams_checkcstring(T, 1);
	char pbuf[8];
	int numeric, fd = -1, err = EADDRNOTAVAIL, rc;
	const char *port = checkport(T, 2, pbuf, &numeric);
	struct server *srv;

	lua_settop(T, 2);
	srv = server_new(T);
	if (strcmp(addr, "*") == 0) {
		/* every address: one IPv6 socket taking IPv4 too, or IPv4;
		 * a service name is made a number first, so that it gets
		 * the same socket as a number does */
		struct sockaddr_in6 s6;
		struct sockaddr_in s4;
		int pnum;

		if (numeric) {
			pnum = atoi(port);
		} else {
			rc = service_port(port, &pnum);
			if (rc != 0)
				return lem_error(T, gai_strerror(rc));
		}
		memset(&s6, 0, sizeof(s6));
		s6.sin6_family = AF_INET6;
		s6.sin6_addr = in6addr_any;
		s6.sin6_port = htons(pnum);
		fd = listen_on((struct sockaddr *)&s6, sizeof(s6), 1);
		/* IPv4 alone only where the system has no IPv6 */
		if (fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
			memset(&s4, 0, sizeof(s4));
			s4.sin_family = AF_INET;
			s4.sin_addr.s_addr = htonl(INADDR_ANY);
			s4.sin_port = htons(pnum);
			fd = listen_on((struct sockaddr *)&s4, sizeof(s4), 0);
		}
		if (fd < 0)
			err = errno;
	} else {
		struct addrinfo hints, *res, *ai;

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | (numeric ? AI_NUMERICSERV : 0);
		rc = getaddrinfo(addr, port, &hints, &res);
		if (rc != 0)
			return lem_error(T, gai_strerror(rc));
		for (ai = res; ai != NULL; ai = ai->ai_next) {
			fd = listen_on(ai->ai_addr, ai->ai_addrlen, 0);
			if (fd >= 0)
				break;
			err = errno;
		}
		freeaddrinfo(res);
	}
	if (fd < 0)
		return lem_strerror(T, err);
	srv->fd = fd;
	ev_io_set(&srv->w, fd, EV_READ);
	return 1;
}
