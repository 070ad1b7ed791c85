/*
 * server.c - lem.Server objects: accepting TCP and Unix-domain connections
 * one by one or spawning a coroutine for each.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "streams.h"

#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

/* how long autospawn pauses when the process is out of descriptors */
#define BACKOFF_SECONDS 0.1

static void server_io_cb(EV_P_ struct ev_io *w, int revents);
static void server_backoff_cb(EV_P_ struct ev_timer *w, int revents);

struct server *
server_new(lua_State *T)
{
	struct server *srv = lua_newuserdata(T, sizeof(struct server));

	memset(srv, 0, sizeof(*srv));
	ev_io_init(&srv->w, server_io_cb, -1, EV_READ);
	ev_timer_init(&srv->backoff, server_backoff_cb, BACKOFF_SECONDS, 0);
	srv->fd = -1;
	srv->backlog = -1;
	luaL_getmetatable(T, SERVER_MT);
	lua_setmetatable(T, -2);
	return srv;
}

/* the server now owns the listening descriptor fd */
void
server_setfd(struct server *srv, int fd)
{
	assert(srv->fd < 0 && !ev_is_active(&srv->w));
	srv->fd = fd;
	ev_io_set(&srv->w, fd, EV_READ);
}

/*
 * Accept one connection: the descriptor, or -1 with *err.  Errors that
 * concern only the connection that failed are retried here.
 */
static int
server_accept_fd(struct server *srv, int *err)
{
	for (;;) {
		int fd = accept4(srv->fd, NULL, NULL,
				SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0)
			return fd;
		switch (errno) {
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
		case ENETDOWN:
		case ENOPROTOOPT:
		case EHOSTDOWN:
		case ENONET:
		case EHOSTUNREACH:
		case EOPNOTSUPP:
		case ENETUNREACH:
			continue;
		}
		*err = errno;
		return -1;
	}
}

static int
out_of_fds(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS ||
		err == ENOMEM;
}

/*
 * A new stream for fd, pushed onto P.  TCP streams get TCP_NODELAY
 * (unless tcp_listen was told otherwise): a reply written in two parts
 * must not wait for the peer's delayed acknowledgement.  A setsockopt
 * that fails (the connection is already reset, say) is left for the
 * first read or write to report.
 */
static void
server_push_stream(lua_State *P, struct server *srv, int fd)
{
	struct stream *s = stream_new(P);

	stream_setfd(s, fd, 0);
	if (srv->nodelay) {
		int one = 1;

		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				sizeof(one));
	}
}

/*
 * The step of accept() and autospawn, on P (see streams.h).  accept():
 * a stream, or nil and the error; 0 when nothing is there.  autospawn:
 * a coroutine runs handler(stream) for every connection; it returns only
 * on an error that is not the process running out of descriptors.  The
 * new coroutines and streams are made on P, in a protected call.
 */
static int
server_step(lua_State *P, void *ud)
{
	struct server *srv = ud;
	lua_State *T = srv->wait.T != NULL ? srv->wait.T : P;

	for (;;) {
		int err = 0;
		int fd = server_accept_fd(srv, &err);
		lua_State *S;

		if (fd >= 0 && !srv->spawning) {
			server_push_stream(P, srv, fd);
			return 1;
		}
		if (fd >= 0) {
			S = lem_newthread();
			lua_pushvalue(T, 2);    /* the handler */
			lua_xmove(T, S, 1);
			server_push_stream(P, srv, fd);
			lua_xmove(P, S, 1);
			lem_queue(S, 1);
			continue;
		}
		if (err == EAGAIN || err == EWOULDBLOCK)
			return 0;
		if (out_of_fds(err) && srv->spawning) {
			/* the connection stays queued in the kernel; polling
			 * for it now would spin: pause instead */
			ev_io_stop(LEM, &srv->w);
			ev_timer_set(&srv->backoff, BACKOFF_SECONDS, 0);
			ev_timer_start(LEM, &srv->backoff);
			return 0;
		}
		return lem_strerror(P, err);
	}
}

/* the wait has ended, however */
static void
server_stop(struct server *srv)
{
	ev_io_stop(LEM, &srv->w);
	ev_timer_stop(LEM, &srv->backoff);
}

static int
server_cancel(struct lem_wait *w, lua_State *T)
{
	(void)T;
	server_stop((struct server *)w);
	return 0;
}

static void
server_io_cb(EV_P_ struct ev_io *w, int revents)
{
	struct server *srv = (struct server *)
		((char *)w - offsetof(struct server, w));

	(void)EV_A;
	(void)revents;
	lem_wait_run(&srv->wait, server_step, srv);
	if (!lem_waiting(&srv->wait))
		server_stop(srv);
}

static void
server_backoff_cb(EV_P_ struct ev_timer *w, int revents)
{
	struct server *srv = (struct server *)
		((char *)w - offsetof(struct server, backoff));

	(void)revents;
	if (lem_waiting(&srv->wait))
		ev_io_start(EV_A_ &srv->w);
}

/* start waiting: accept() or autospawn */
static int
server_start(lua_State *T, struct server *srv, int spawning)
{
	int n, ret;

	/* under lem --workers, this worker now serves */
	lem_worker_ready();
	srv->spawning = (unsigned char)spawning;
	n = server_step(T, srv);
	if (n > 0)
		return n;
	ret = lem_wait(T, &srv->wait, server_cancel);
	if (lem_waiting(&srv->wait) && !ev_is_active(&srv->backoff))
		ev_io_start(LEM, &srv->w);
	else if (!lem_waiting(&srv->wait))
		server_stop(srv);
	return ret;
}

/* ------------------------------------------------------------ methods */

/* The methods carry the metatable as upvalue 1 (see lem_checkudata). */
static struct server *
checkserver(lua_State *T)
{
	return lem_checkudata(T, 1, lua_upvalueindex(1), SERVER_MT);
}

/* server:closed() */
static int
server_closed(lua_State *T)
{
	struct server *srv = checkserver(T);

	lua_pushboolean(T, srv->fd < 0);
	return 1;
}

/* server:busy() */
static int
server_busy(lua_State *T)
{
	struct server *srv = checkserver(T);

	lua_pushboolean(T, lem_waiting(&srv->wait));
	return 1;
}

/* server:close() */
static int
server_close(lua_State *T)
{
	struct server *srv = checkserver(T);
	int fd = srv->fd;

	if (fd < 0)
		return lem_error(T, "already closed");
	lem_wait_fail(&srv->wait, "interrupted");
	server_stop(srv);               /* before close(): see stream_shut */
	unix_name_release(srv);         /* before close(): no stale window */
	srv->fd = -1;
	if (close(fd) < 0 && errno != EINTR)
		return lem_strerror(T, errno);
	lua_pushboolean(T, 1);
	return 1;
}

/* server:interrupt() */
static int
server_interrupt(lua_State *T)
{
	struct server *srv = checkserver(T);

	if (!lem_waiting(&srv->wait))
		return lem_error(T, "not busy");
	lem_wait_fail(&srv->wait, "interrupted");
	lua_pushboolean(T, 1);
	return 1;
}

/* server:accept() */
static int
server_accept(lua_State *T)
{
	struct server *srv = checkserver(T);

	lua_settop(T, 1);
	if (srv->fd < 0)
		return lem_closed(T);
	if (lem_waiting(&srv->wait))
		return lem_busy(T);
	return server_start(T, srv, 0);
}

/* server:autospawn(handler) */
static int
server_autospawn(lua_State *T)
{
	struct server *srv = checkserver(T);

	luaL_checktype(T, 2, LUA_TFUNCTION);
	lua_settop(T, 2);
	if (srv->fd < 0)
		return lem_closed(T);
	if (lem_waiting(&srv->wait))
		return lem_busy(T);
	return server_start(T, srv, 1);
}

/* server:address(): the bound address (a string) and port (a number),
 * or the path of a Unix-domain server */
static int
server_address(lua_State *T)
{
	struct server *srv = checkserver(T);

	if (srv->fd < 0)
		return lem_closed(T);
	return streams_sockname(T, srv->fd, 0);
}

static int
server__gc(lua_State *T)
{
	struct server *srv = luaL_checkudata(T, 1, SERVER_MT);

	if (lem_waiting(&srv->wait))
		(void)lem_wait_end(&srv->wait);         /* at exit */
	server_stop(srv);
	lookup_drop(srv->lk);   /* a tcp_listen that never got its answer */
	srv->lk = NULL;
	if (srv->fd >= 0)
		unix_name_release(srv);
	if (srv->fd > 2)
		close(srv->fd);
	srv->fd = -1;
	return 0;
}

static int
server__tostring(lua_State *T)
{
	struct server *srv = checkserver(T);

	lua_pushfstring(T, "lem.Server (%s): %p", srv->fd < 0 ? "closed" :
			lem_waiting(&srv->wait) ? "busy" : "open", (void *)srv);
	return 1;
}

static const luaL_Reg server_methods[] = {
	{ "closed",     server_closed },
	{ "busy",       server_busy },
	{ "close",      server_close },
	{ "interrupt",  server_interrupt },
	{ "accept",     server_accept },
	{ "autospawn",  server_autospawn },
	{ "address",    server_address },
	{ "__gc",       server__gc },
	{ "__tostring", server__tostring },
	{ NULL, NULL }
};

/* push the metatable lem.Server */
void
server_open_methods(lua_State *T)
{
	lem_newmetatable(T, SERVER_MT, server_methods);
}
