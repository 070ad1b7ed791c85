/*
 * udp.c - lem.socket's UDP objects: LuaSocket's udp{unconnected} and
 * udp{connected}, whose waits suspend the calling coroutine.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * An object is unconnected (sendto, receivefrom, setsockname) or
 * connected (send, getpeername), one metatable each, as in LuaSocket;
 * setpeername moves it between the two.  Any number of coroutines may
 * receive on one object at the same time, and any number send: each
 * waiter is a small userdata on its own coroutine's stack, queued on the
 * object in arrival order, with its own lem_wait and settimeout timer.
 * A datagram that arrives goes to the first receiver waiting.  The name
 * lookup of setsockname or setpeername is one more wait (one at a time).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* SOCK_CLOEXEC */
#endif
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "socket.h"

/* the biggest datagram receive() hands out whole, its default size */
#define UDP_MAX 65535

#define KIND_UNCONN 0
#define KIND_CONN   1
#define M_UNCONN (1 << KIND_UNCONN)
#define M_CONN   (1 << KIND_CONN)
#define M_ANY    (M_UNCONN | M_CONN)

static const char *const class_names[] = {
	"udp{unconnected}", "udp{connected}"
};

/* uwait.op */
enum { U_RECEIVE, U_RECEIVEFROM, U_SEND, U_BIND, U_CONNECT };

/* options (bits of opt_set and opt_val; the ttl is a number of its own) */
enum { O_BROADCAST, O_DONTROUTE, O_REUSEADDR, O_REUSEPORT, O_V6ONLY,
	O_MLOOP, O_MTTL };
static const char *const opt_names[] = {
	"broadcast", "dontroute", "reuseaddr", "reuseport", "ipv6-v6only",
	"ip-multicast-loop", "ip-multicast-ttl", NULL
};

struct usock;

/* one coroutine waiting on an object; lives on that coroutine's stack */
struct uwait {
	struct lem_wait w;      /* first: the cancel hook's w is the waiter */
	struct ev_timer timer;  /* settimeout */
	struct usock *u;
	struct uwait *next, *prev;
	unsigned char linked;   /* in a queue, or the object's nw */
	unsigned char op;
	size_t size;            /* receive: at most this many bytes */
	const char *data;       /* send: stays on the waiter's stack */
	size_t len;
	struct sockaddr_storage to;
	socklen_t tolen;        /* 0: send to the peer */
};

struct uqueue {
	struct uwait *head, *tail;
};

struct usock {
	struct ev_io rio, wio;
	struct uqueue rq, wq;   /* receivers, senders */
	struct uwait *nw;       /* setsockname/setpeername: a lookup */
	struct sock_lookup *lk;
	int fd;                 /* -1: none (yet, or closed) */
	int family;             /* asked for: AF_UNSPEC, AF_INET, AF_INET6 */
	int fdfamily;           /* of fd */
	unsigned char kind;
	unsigned char closed;
	lua_Number tb, tt;      /* settimeout values, as given */
	double limit;           /* the seconds a wait may take; < 0: none */
	unsigned int opt_set, opt_val;
	int ttl;
};

static int mt_ref[2] = { LUA_NOREF, LUA_NOREF };

static void udp_rio_cb(EV_P_ struct ev_io *io, int revents);
static void udp_wio_cb(EV_P_ struct ev_io *io, int revents);

/* ------------------------------------------------------------ helpers */

static int
udp_error(lua_State *T, int err)
{
	return lem_error(T, sock_strerror(err));
}

/* the object at index 1 if its class is in mask, else raise */
static struct usock *
udp_check(lua_State *T, int mask, const char *expected)
{
	struct usock *u = lua_touserdata(T, 1);

	if (u != NULL && lua_getmetatable(T, 1)) {
		int k = -1;

		if (lua_rawequal(T, -1, lua_upvalueindex(1)))
			k = KIND_UNCONN;
		else if (lua_rawequal(T, -1, lua_upvalueindex(2)))
			k = KIND_CONN;
		lua_pop(T, 1);
		if (k >= 0 && (mask & (1 << k)))
			return u;
	}
	luaL_argerror(T, 1, expected);
	return NULL;
}

/* change the class of the object at T's index 1 (P: where to work) */
static void
udp_setkind(lua_State *P, lua_State *T, struct usock *u, int kind)
{
	u->kind = (unsigned char)kind;
	lua_pushvalue(T, 1);
	if (P != T)
		lua_xmove(T, P, 1);
	lua_rawgeti(P, LUA_REGISTRYINDEX, mt_ref[kind]);
	lua_setmetatable(P, -2);
	lua_pop(P, 1);
}

static int
opt_apply(struct usock *u, int o)
{
	int v = (u->opt_val >> o) & 1, fd = u->fd;

	switch (o) {
	case O_BROADCAST:
		return setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &v, sizeof(v));
	case O_DONTROUTE:
		return setsockopt(fd, SOL_SOCKET, SO_DONTROUTE, &v, sizeof(v));
	case O_REUSEADDR:
		return setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v));
	case O_REUSEPORT:
#ifdef SO_REUSEPORT
		return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &v, sizeof(v));
#else
		errno = ENOPROTOOPT;
		return -1;
#endif
	case O_V6ONLY:
		return setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof(v));
	case O_MLOOP:
		return setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &v,
				sizeof(v));
	case O_MTTL:
		return setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &u->ttl,
				sizeof(u->ttl));
	}
	return -1;
}

static void
udp_setfd(struct usock *u, int fd, int family)
{
	u->fd = fd;
	u->fdfamily = family;
	ev_io_set(&u->rio, fd, EV_READ);
	ev_io_set(&u->wio, fd, EV_WRITE);
}

/* make the descriptor: 0 or errno */
static int
udp_open_fd(struct usock *u, int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int o;

	if (fd < 0)
		return errno;
	udp_setfd(u, fd, family);
	/* options set before there was a descriptor; best effort */
	for (o = O_BROADCAST; o <= O_MTTL; o++)
		if (((u->opt_set >> o) & 1) &&
				(o != O_V6ONLY || family == AF_INET6))
			opt_apply(u, o);
	return 0;
}

static void
udp_dropfd(struct usock *u)
{
	ev_io_stop(LEM, &u->rio);
	ev_io_stop(LEM, &u->wio);
	if (u->fd >= 0)
		close(u->fd);
	udp_setfd(u, -1, AF_UNSPEC);
}

/* ------------------------------------------------------------ waiters */

static void
queue_unlink(struct uqueue *q, struct uwait *w)
{
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		q->head = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	else
		q->tail = w->prev;
	w->next = w->prev = NULL;
}

static struct uqueue *
waiter_queue(struct uwait *w)
{
	return w->op == U_SEND ? &w->u->wq : &w->u->rq;
}

/* the waiter leaves its queue; the watcher stops with the last one */
static void
waiter_unlink(struct uwait *w)
{
	struct usock *u = w->u;

	ev_timer_stop(LEM, &w->timer);
	if (!w->linked)
		return;
	w->linked = 0;
	if (w->op == U_BIND || w->op == U_CONNECT) {
		if (u->lk != NULL)
			sock_lookup_abandon(u->lk);
		u->lk = NULL;
		u->nw = NULL;
		return;
	}
	queue_unlink(waiter_queue(w), w);
	if (u->rq.head == NULL)
		ev_io_stop(LEM, &u->rio);
	if (u->wq.head == NULL)
		ev_io_stop(LEM, &u->wio);
}

/* a deadline, co:cancel(), close() or settimeout ends the wait */
static int
waiter_cancel(struct lem_wait *lw, lua_State *T)
{
	(void)T;
	waiter_unlink((struct uwait *)lw);
	return 0;
}

static void
waiter_timer_cb(EV_P_ struct ev_timer *t, int revents)
{
	struct uwait *w = t->data;

	(void)EV_A;
	(void)revents;
	lem_wait_fail(&w->w, "timeout");
}

/*
 * Suspend T on a new waiter for op (pushed on T's stack, where it stays
 * while T waits).  NULL, with the results pushed and *ret set, if T
 * cannot wait here, its wait ended at once, or the timeout is 0.
 */
static struct uwait *
waiter_start(lua_State *T, struct usock *u, int op, int *ret)
{
	struct lem_wait w0 = LEM_WAIT_INIT;
	const char *why;
	struct uwait *w;

	if (u->limit == 0) {
		*ret = sock_return_later(T, lem_error(T, "timeout"));
		return NULL;
	}
	why = sock_cannot_wait(T);
	if (why != NULL) {
		*ret = lem_error(T, why);
		return NULL;
	}
	w = lua_newuserdata(T, sizeof(struct uwait));
	memset(w, 0, sizeof(*w));
	w->w = w0;
	ev_timer_init(&w->timer, waiter_timer_cb, 0, 0);
	w->timer.data = w;
	w->u = u;
	w->op = (unsigned char)op;
	*ret = lem_wait(T, &w->w, waiter_cancel);
	if (!lem_waiting(&w->w))
		return NULL;
	if (u->limit > 0) {
		ev_now_update(LEM);
		ev_timer_set(&w->timer, u->limit, 0);
		ev_timer_start(LEM, &w->timer);
	}
	return w;
}

/* queue an armed waiter and watch the descriptor for it */
static void
waiter_enqueue(struct uwait *w)
{
	struct usock *u = w->u;
	struct uqueue *q = waiter_queue(w);

	w->linked = 1;
	w->prev = q->tail;
	w->next = NULL;
	if (q->tail != NULL)
		q->tail->next = w;
	else
		q->head = w;
	q->tail = w;
	if (w->op == U_SEND)
		ev_io_start(LEM, &u->wio);
	else
		ev_io_start(LEM, &u->rio);
}

/* end a waiter: nil, word (gc: nothing, nobody will resume it) */
static void
waiter_kill(struct uwait *w, int gc)
{
	if (gc)
		lem_wait_end(&w->w);
	else
		lem_wait_fail(&w->w, "closed");
	/* also when the failure waits for a step that runs (see lem.h) */
	waiter_unlink(w);
}

static void
udp_fail_all(struct usock *u, int gc)
{
	while (u->rq.head != NULL)
		waiter_kill(u->rq.head, gc);
	while (u->wq.head != NULL)
		waiter_kill(u->wq.head, gc);
	if (u->nw != NULL)
		waiter_kill(u->nw, gc);
}

static void
udp_shut(struct usock *u, int gc)
{
	u->closed = 1;
	udp_fail_all(u, gc);
	udp_dropfd(u);
}

/* ------------------------------------------------------------ receive */

/*
 * One datagram for op (receive or receivefrom, at most size bytes) onto
 * P: the number of results, or 0 when none is there.
 */
static int
rx_try(lua_State *P, struct usock *u, int op, size_t size)
{
	int busy = sock_scratch_busy, err, n;
	struct sockaddr_storage ss;
	socklen_t sl;
	char *buf;
	ssize_t got;

	buf = busy ? lua_newuserdata(P, UDP_MAX) : sock_scratch;
	for (;;) {
		sl = sizeof(ss);
		got = recvfrom(u->fd, buf, size, 0, (struct sockaddr *)&ss,
				&sl);
		if (got >= 0)
			break;
		err = errno;
		if (err == EINTR)
			continue;
		if (busy)
			lua_pop(P, 1);
		if (err == EAGAIN || err == EWOULDBLOCK)
			return 0;
		/* an ICMP error (connection refused): the object stays
		 * usable, the next receive waits for the next datagram */
		return udp_error(P, err);
	}
	sock_scratch_busy = 1;
	lua_pushlstring(P, buf, (size_t)got);
	sock_scratch_busy = busy;
	n = 1;
	if (op == U_RECEIVEFROM) {
		char host[NI_MAXHOST], serv[NI_MAXSERV];

		if (getnameinfo((struct sockaddr *)&ss, sl, host,
					sizeof(host), serv, sizeof(serv),
					NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
			host[0] = '\0';
			serv[0] = '0';
			serv[1] = '\0';
		}
		lua_pushstring(P, host);
		lua_pushinteger(P, atoi(serv));
		n = 3;
	}
	if (busy)
		lua_remove(P, -n - 1);
	return n;
}

/* ---------------------------------------------------------------- send */

/* the bytes sent onto P, nil and a message, or 0: the kernel is full */
static int
tx_try(lua_State *P, struct usock *u, const char *data, size_t len,
		const struct sockaddr_storage *to, socklen_t tolen)
{
	for (;;) {
		ssize_t n;
		int err;

		if (tolen > 0)
			n = sendto(u->fd, data, len, 0,
					(const struct sockaddr *)to, tolen);
		else
			n = send(u->fd, data, len, 0);
		if (n >= 0) {
			lua_pushnumber(P, (lua_Number)n);
			return 1;
		}
		err = errno;
		if (err == EINTR)
			continue;
		if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS)
			return 0;
		return udp_error(P, err);
	}
}

/* ---------------------------------------------------------- callbacks */

static int
waiter_step(lua_State *P, void *ud)
{
	struct uwait *w = ud;
	int n;

	if (w->op == U_SEND)
		n = tx_try(P, w->u, w->data, w->len, &w->to, w->tolen);
	else
		n = rx_try(P, w->u, w->op, w->size);
	if (n > 0)
		waiter_unlink(w);
	return n;
}

/* serve the waiters of q in order while the kernel has something */
static void
queue_run(struct uqueue *q)
{
	struct uwait *w;

	while ((w = q->head) != NULL) {
		lem_wait_run(&w->w, waiter_step, w);
		if (q->head == w)
			break;          /* nothing now: it goes on waiting */
	}
}

static void
udp_rio_cb(EV_P_ struct ev_io *io, int revents)
{
	struct usock *u = io->data;

	(void)revents;
	if (u->rq.head == NULL) {
		ev_io_stop(EV_A_ io);
		return;
	}
	queue_run(&u->rq);
}

static void
udp_wio_cb(EV_P_ struct ev_io *io, int revents)
{
	struct usock *u = io->data;

	(void)revents;
	if (u->wq.head == NULL) {
		ev_io_stop(EV_A_ io);
		return;
	}
	queue_run(&u->wq);
}

/* ------------------------------------------------------------- objects */

/* push a new object of class kind, without a descriptor */
static struct usock *
udp_new(lua_State *T, int family)
{
	struct usock *u = lua_newuserdata(T, sizeof(struct usock));

	memset(u, 0, sizeof(*u));
	ev_io_init(&u->rio, udp_rio_cb, -1, EV_READ);
	u->rio.data = u;
	ev_io_init(&u->wio, udp_wio_cb, -1, EV_WRITE);
	u->wio.data = u;
	u->fd = -1;
	u->family = family;
	u->fdfamily = AF_UNSPEC;
	u->kind = KIND_UNCONN;
	u->tb = u->tt = -1;
	u->limit = -1;
	u->ttl = 1;
	lua_rawgeti(T, LUA_REGISTRYINDEX, mt_ref[KIND_UNCONN]);
	lua_setmetatable(T, -2);
	return u;
}

/* udp:receive([size]) and udp:receivefrom([size]) */
static int
udp_receive_op(lua_State *T, struct usock *u, int op)
{
	lua_Number v = luaL_optnumber(T, 2, UDP_MAX);
	struct uwait *w;
	size_t size;
	int n, ret;

	luaL_argcheck(T, v >= 0, 2, "invalid receive size");
	size = v > UDP_MAX ? UDP_MAX : (size_t)v;
	lua_settop(T, 2);
	if (u->closed)
		return lem_closed(T);
	luaL_checkstack(T, 8, NULL);
	/* with receivers queued a new one waits its turn, unless it only
	 * polls (a timeout of 0, a deadline passed) */
	if (u->rq.head == NULL || u->limit == 0 || lem_wait_ends_now(T)) {
		n = rx_try(T, u, op, size);
		if (n > 0)
			return n;
	}
	w = waiter_start(T, u, op, &ret);
	if (w != NULL) {
		w->size = size;
		waiter_enqueue(w);
	}
	return ret;
}

static int
udp_receive(lua_State *T)
{
	struct usock *u = udp_check(T, M_ANY, "udp{any} expected");

	if (u->fd < 0 && !u->closed) {
		/* nothing can come to a socket without an address */
		int err = udp_open_fd(u, u->family == AF_INET6 ?
				AF_INET6 : AF_INET);

		if (err != 0)
			return udp_error(T, err);
	}
	return udp_receive_op(T, u, U_RECEIVE);
}

static int
udp_receivefrom(lua_State *T)
{
	struct usock *u = udp_check(T, M_UNCONN, "udp{unconnected} expected");

	if (u->fd < 0 && !u->closed) {
		int err = udp_open_fd(u, u->family == AF_INET6 ?
				AF_INET6 : AF_INET);

		if (err != 0)
			return udp_error(T, err);
	}
	return udp_receive_op(T, u, U_RECEIVEFROM);
}

/* send data at T's index 2 to (to, tolen) */
static int
udp_send_op(lua_State *T, struct usock *u, const struct sockaddr_storage *to,
		socklen_t tolen)
{
	size_t len;
	const char *data = lua_tolstring(T, 2, &len);
	struct uwait *w;
	int n, ret;

	luaL_checkstack(T, 8, NULL);
	if (u->wq.head == NULL || u->limit == 0 || lem_wait_ends_now(T)) {
		n = tx_try(T, u, data, len, to, tolen);
		if (n > 0)
			return n;
	}
	w = waiter_start(T, u, U_SEND, &ret);
	if (w != NULL) {
		w->data = data;
		w->len = len;
		if (tolen > 0)
			memcpy(&w->to, to, tolen);
		w->tolen = tolen;
		waiter_enqueue(w);
	}
	return ret;
}

/* udp:send(datagram) */
static int
udp_send(lua_State *T)
{
	struct usock *u = udp_check(T, M_CONN, "udp{connected} expected");

	luaL_checkstring(T, 2);
	lua_settop(T, 2);
	if (u->closed)
		return lem_closed(T);
	return udp_send_op(T, u, NULL, 0);
}

/*
 * An address literal and a port as a destination for the object: 0, or
 * getaddrinfo's error (the port is a number, or a string of digits).
 */
static int
udp_dest(lua_State *T, struct usock *u, struct sockaddr_storage *ss,
		socklen_t *len)
{
	const char *host = lua_tostring(T, 3);
	int want = u->fd >= 0 ? u->fdfamily : u->family;
	struct addrinfo hints, *res = NULL;
	char pbuf[8];
	int numeric, rc;
	const char *port = sock_port_text(T, 4, pbuf, &numeric);

	if (port == NULL)
		return EAI_SERVICE;
	memset(ss, 0, sizeof(*ss));
	if (numeric) {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
		int p = atoi(port);

		/* the usual case without getaddrinfo() */
		if (want != AF_INET6 &&
				inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
			a4->sin_family = AF_INET;
			a4->sin_port = htons((unsigned short)p);
			*len = sizeof(*a4);
			return 0;
		}
		if (want != AF_INET &&
				inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
			a6->sin6_family = AF_INET6;
			a6->sin6_port = htons((unsigned short)p);
			*len = sizeof(*a6);
			return 0;
		}
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = want;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		return rc;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* udp:sendto(datagram, ip, port) */
static int
udp_sendto(lua_State *T)
{
	struct usock *u = udp_check(T, M_UNCONN, "udp{unconnected} expected");
	struct sockaddr_storage ss;
	socklen_t len;
	int rc;

	luaL_checkstring(T, 2);
	lem_checkcstring(T, 3);
	sock_port_check(T, 4);
	lua_settop(T, 4);
	if (u->closed)
		return lem_closed(T);
	rc = udp_dest(T, u, &ss, &len);
	if (rc != 0)
		return lem_error(T, gai_strerror(rc));
	if (u->fd < 0) {
		/* the kernel binds an ephemeral port with the first send */
		rc = udp_open_fd(u, ss.ss_family);
		if (rc != 0)
			return udp_error(T, rc);
	}
	return udp_send_op(T, u, &ss, len);
}

/* ------------------------------------------------ setsockname, peername */

/* bind (op U_BIND) or connect to one of the addresses: 0 or errno */
static int
udp_attach(struct usock *u, const struct addrinfo *res, int op)
{
	const struct addrinfo *ai;
	int err = EAFNOSUPPORT;

	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int made = 0, rc;

		if (u->fd >= 0 && ai->ai_family != u->fdfamily)
			continue;
		if (u->fd < 0) {
			err = udp_open_fd(u, ai->ai_family);
			if (err != 0)
				continue;
			made = 1;
		}
		if (op == U_BIND)
			rc = bind(u->fd, ai->ai_addr, ai->ai_addrlen);
		else
			rc = connect(u->fd, ai->ai_addr, ai->ai_addrlen);
		if (rc == 0)
			return 0;
		err = errno;
		if (made)
			udp_dropfd(u);
	}
	return err;
}

/* the results of a bind or connect to res, onto P */
static int
udp_attach_results(lua_State *P, lua_State *T, struct usock *u,
		const struct addrinfo *res, int op)
{
	int err = udp_attach(u, res, op);

	if (err != 0)
		return udp_error(P, err);
	if (op == U_CONNECT)
		udp_setkind(P, T, u, KIND_CONN);
	lua_pushnumber(P, 1);
	return 1;
}

static int
name_step(lua_State *P, void *ud)
{
	struct sock_lookup *lk = ud;
	struct usock *u = lk->owner;
	struct uwait *w = u->nw;
	int n;

	if (lk->err != 0)
		n = lem_error(P, sock_gai_word(lk->err, lk->syserr));
	else
		n = udp_attach_results(P, w->w.T, u, lk->res, w->op);
	waiter_unlink(w);
	return n;
}

static void
name_done(struct sock_lookup *lk)
{
	struct usock *u = lk->owner;

	u->lk = NULL;
	lem_wait_run(&u->nw->w, name_step, lk);
	sock_lookup_free(lk);
}

/* bind or connect to host, port at T's indexes 2, 3 */
static int
udp_attach_call(lua_State *T, struct usock *u, int op)
{
	const char *host = lua_tostring(T, 2);
	struct addrinfo hints, *res = NULL;
	struct uwait *w;
	char pbuf[8];
	int numeric, rc, ret;
	const char *port = sock_port_text(T, 3, pbuf, &numeric);

	if (port == NULL)
		return lem_error(T, sock_gai_word(EAI_SERVICE, 0));
	if (u->nw != NULL)
		return lem_busy(T);
	if (op == U_BIND && strcmp(host, "*") == 0)
		host = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = u->fd >= 0 ? u->fdfamily : u->family;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = (op == U_BIND ? AI_PASSIVE : 0) |
		(numeric ? AI_NUMERICSERV : 0);
	/* an address literal needs no lookup: no thread, no waiting */
	hints.ai_flags |= AI_NUMERICHOST;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc == 0) {
		rc = udp_attach_results(T, T, u, res, op);
		freeaddrinfo(res);
		return rc;
	}
	if (rc != EAI_NONAME || host == NULL)
		return lem_error(T, sock_gai_word(rc, errno));
	hints.ai_flags &= ~AI_NUMERICHOST;
	luaL_checkstack(T, 8, NULL);
	w = waiter_start(T, u, op, &ret);
	if (w == NULL)
		return ret;
	w->linked = 1;
	u->nw = w;
	u->lk = sock_lookup_new(host, port, &hints);
	if (u->lk == NULL) {
		lem_wait_fail(&w->w, "memory allocation failure");
		return ret;
	}
	u->lk->owner = u;
	u->lk->finish = name_done;
	sock_lookup_start(u->lk);
	return ret;
}

/* udp:setsockname(address, port) */
static int
udp_setsockname(lua_State *T)
{
	struct usock *u = udp_check(T, M_UNCONN, "udp{unconnected} expected");

	lem_checkcstring(T, 2);
	sock_port_check(T, 3);
	lua_settop(T, 3);
	if (u->closed)
		return lem_closed(T);
	return udp_attach_call(T, u, U_BIND);
}

/* udp:setpeername(address, port), udp:setpeername('*') */
static int
udp_setpeername(lua_State *T)
{
	struct usock *u = udp_check(T, M_ANY, "udp{any} expected");
	const char *host = lem_checkcstring(T, 2);

	if (strcmp(host, "*") == 0) {
		lua_settop(T, 1);
		if (u->closed)
			return lem_closed(T);
		if (u->kind == KIND_CONN && u->fd >= 0) {
			struct sockaddr sa;

			memset(&sa, 0, sizeof(sa));
			sa.sa_family = AF_UNSPEC;
			if (connect(u->fd, &sa, sizeof(sa)) < 0 &&
					errno != EAFNOSUPPORT)
				return udp_error(T, errno);
		}
		udp_setkind(T, T, u, KIND_UNCONN);
		lua_pushnumber(T, 1);
		return 1;
	}
	sock_port_check(T, 3);
	lua_settop(T, 3);
	if (u->closed)
		return lem_closed(T);
	return udp_attach_call(T, u, U_CONNECT);
}

/* ------------------------------------------------------ other methods */

static int
udp_close(lua_State *T)
{
	struct usock *u = udp_check(T, M_ANY, "udp{any} expected");

	if (!u->closed)
		udp_shut(u, 0);
	lua_pushnumber(T, 1);
	return 1;
}

static int
udp__gc(lua_State *T)
{
	struct usock *u = udp_check(T, M_ANY, "udp{any} expected");

	if (!u->closed)
		udp_shut(u, 1);
	return 0;
}

static int
udp__tostring(lua_State *T)
{
	struct usock *u = udp_check(T, M_ANY, "udp{any} expected");

	lua_pushfstring(T, "%s: %p", class_names[u->kind], (void *)u);
	return 1;
}

/* udp:getsockname(): address, port (a string, as LuaSocket), family */
static int
udp_getsockname(lua_State *T)
{
	struct usock *u = udp_check(T, M_ANY, "udp{any} expected");
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (u->closed)
		return lem_closed(T);
	if (getsockname(u->fd, (struct sockaddr *)&ss, &len) < 0)
		return lem_strerror(T, errno);
	return sock_push_address(T, &ss, len, 1);
}

/* udp:getpeername(): address, port (a number), family */
static int
udp_getpeername(lua_State *T)
{
	struct usock *u = udp_check(T, M_CONN, "udp{connected} expected");
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (u->closed)
		return lem_closed(T);
	if (getpeername(u->fd, (struct sockaddr *)&ss, &len) < 0)
		return lem_strerror(T, errno);
	return sock_push_address(T, &ss, len, 0);
}

static int
opt_check(lua_State *T, int idx)
{
	const char *name = luaL_checkstring(T, idx);
	int o;

	for (o = 0; opt_names[o] != NULL; o++)
		if (strcmp(opt_names[o], name) == 0)
			return o;
	return luaL_argerror(T, idx,
			lua_pushfstring(T, "unsupported option `%s'", name));
}

/* udp:setoption(name, value) */
static int
udp_setoption(lua_State *T)
{
	struct usock *u = udp_check(T, M_ANY, "udp{any} expected");
	int o = opt_check(T, 2);
	unsigned int bit = 1u << o;

	if (o == O_MTTL) {
		lua_Number t = luaL_checknumber(T, 3);

		u->ttl = !(t >= 0) ? -1 : t > 1000 ? 1000 : (int)t;
	} else {
		if (!lua_isboolean(T, 3))
			return luaL_typerror(T, 3, "boolean");
		if (lua_toboolean(T, 3))
			u->opt_val |= bit;
		else
			u->opt_val &= ~bit;
	}
	if (u->closed)
		return lem_closed(T);
	u->opt_set |= bit;
	if (u->fd >= 0 && opt_apply(u, o) < 0)
		return lem_error(T, "setsockopt failed");
	lua_pushnumber(T, 1);
	return 1;
}

/* udp:getoption(name) */
static int
udp_getoption(lua_State *T)
{
	static const int level[] = { SOL_SOCKET, SOL_SOCKET, SOL_SOCKET,
		SOL_SOCKET, IPPROTO_IPV6, IPPROTO_IP, IPPROTO_IP };
	static const int name[] = { SO_BROADCAST, SO_DONTROUTE,
		SO_REUSEADDR,
#ifdef SO_REUSEPORT
		SO_REUSEPORT,
#else
		-1,
#endif
		IPV6_V6ONLY, IP_MULTICAST_LOOP, IP_MULTICAST_TTL };
	struct usock *u = udp_check(T, M_ANY, "udp{any} expected");
	int o = opt_check(T, 2), v = 0;
	socklen_t len = sizeof(v);

	if (u->closed)
		return lem_closed(T);
	if (u->fd < 0) {
		/* what the descriptor will get (the kernel's defaults) */
		if (o == O_MTTL)
			lua_pushinteger(T, u->ttl);
		else if ((u->opt_set >> o) & 1)
			lua_pushboolean(T, (u->opt_val >> o) & 1);
		else
			lua_pushboolean(T, o == O_MLOOP);
		return 1;
	}
	if (name[o] < 0 || getsockopt(u->fd, level[o], name[o], &v, &len) < 0)
		return lem_error(T, "getsockopt failed");
	if (o == O_MTTL)
		lua_pushinteger(T, v);
	else
		lua_pushboolean(T, v);
	return 1;
}

/* udp:settimeout(value[, mode]): one wait per call, so 'b' and 't' are
 * both limits on it, and the smaller one holds */
static int
udp_settimeout(lua_State *T)
{
	struct usock *u = udp_check(T, M_ANY, "udp{any} expected");
	lua_Number t = luaL_optnumber(T, 2, -1);
	const char *mode = luaL_optstring(T, 3, "b");
	double b, tt;

	if (t != t)
		return luaL_argerror(T, 2, "number expected, got NaN");
	switch (*mode) {
	case 'b':
		u->tb = t;
		break;
	case 'r':
	case 't':
		u->tt = t;
		break;
	default:
		return luaL_argerror(T, 3, "invalid timeout mode");
	}
	b = sock_timeout_norm(u->tb);
	tt = sock_timeout_norm(u->tt);
	u->limit = b < 0 ? tt : (tt < 0 || b < tt) ? b : tt;
	lua_pushnumber(T, 1);
	return 1;
}

static int
udp_gettimeout(lua_State *T)
{
	struct usock *u = udp_check(T, M_ANY, "udp{any} expected");

	lua_pushnumber(T, u->tb);
	lua_pushnumber(T, u->tt);
	return 2;
}

/* udp:dirty(): datagrams are never buffered by lem */
static int
udp_dirty(lua_State *T)
{
	udp_check(T, M_ANY, "udp{any} expected");
	lua_pushboolean(T, 0);
	return 1;
}

static int
udp_getfd(lua_State *T)
{
	struct usock *u = udp_check(T, M_ANY, "udp{any} expected");

	lua_pushnumber(T, u->fd);
	return 1;
}

/*
 * udp:setfd(fd): the object takes fd (made non-blocking and
 * close-on-exec) and lets go of its own without closing it, as
 * LuaSocket; setfd(-1) detaches.  Not while somebody waits on it.
 */
static int
udp_setfd_method(lua_State *T)
{
	struct usock *u = udp_check(T, M_ANY, "udp{any} expected");
	lua_Number v = luaL_checknumber(T, 2);
	int fd, fl, family = AF_UNSPEC;

	luaL_argcheck(T, v == floor(v) && v >= -1 && v <= 1e9, 2,
			"invalid descriptor");
	fd = (int)v;
	if (u->rq.head != NULL || u->wq.head != NULL || u->nw != NULL)
		return lem_busy(T);
	if (fd >= 0) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
			return lem_strerror(T, errno);
		family = ss.ss_family;
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || (!(fl & O_NONBLOCK) &&
				fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
			return lem_strerror(T, errno);
		fl = fcntl(fd, F_GETFD);
		if (fl < 0 || (!(fl & FD_CLOEXEC) &&
				fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0))
			return lem_strerror(T, errno);
	}
	ev_io_stop(LEM, &u->rio);
	ev_io_stop(LEM, &u->wio);
	udp_setfd(u, fd, family);
	u->closed = 0;
	return 0;
}

static int
udp_getfamily(lua_State *T)
{
	struct usock *u = udp_check(T, M_ANY, "udp{any} expected");
	int f = u->fd >= 0 ? u->fdfamily : u->family;

	lua_pushstring(T, f == AF_INET6 ? "inet6" : "inet4");
	return 1;
}

static const luaL_Reg udp_methods[] = {
	{ "close",       udp_close },
	{ "dirty",       udp_dirty },
	{ "getfamily",   udp_getfamily },
	{ "getfd",       udp_getfd },
	{ "getoption",   udp_getoption },
	{ "getpeername", udp_getpeername },
	{ "getsockname", udp_getsockname },
	{ "gettimeout",  udp_gettimeout },
	{ "receive",     udp_receive },
	{ "receivefrom", udp_receivefrom },
	{ "send",        udp_send },
	{ "sendto",      udp_sendto },
	{ "setfd",       udp_setfd_method },
	{ "setoption",   udp_setoption },
	{ "setpeername", udp_setpeername },
	{ "setsockname", udp_setsockname },
	{ "settimeout",  udp_settimeout },
	{ NULL, NULL }
};

/* ---------------------------------------------------------- functions */

static int
new_udp(lua_State *T, int family)
{
	struct usock *u = udp_new(T, family);
	int err;

	if (family == AF_UNSPEC)
		return 1;       /* the descriptor comes with its first use */
	err = udp_open_fd(u, family);
	if (err != 0) {
		u->closed = 1;
		return udp_error(T, err);
	}
	return 1;
}

/* socket.udp(), socket.udp4(), socket.udp6() */
static int
socket_udp(lua_State *T)
{
	return new_udp(T, AF_UNSPEC);
}

static int
socket_udp4(lua_State *T)
{
	return new_udp(T, AF_INET);
}

static int
socket_udp6(lua_State *T)
{
	return new_udp(T, AF_INET6);
}

void
udp_open(lua_State *T)
{
	const luaL_Reg *r;
	int k, top = lua_gettop(T);

	for (k = 0; k < 2; k++) {
		char name[32];

		snprintf(name, sizeof(name), "lem.socket.%s", class_names[k]);
		/* loaded again: the same metatables, old objects work */
		luaL_newmetatable(T, name);             /* top + 1 + k */
		if (mt_ref[k] == LUA_NOREF) {
			lua_pushvalue(T, -1);
			mt_ref[k] = luaL_ref(T, LUA_REGISTRYINDEX);
		}
	}
	for (k = 0; k < 2; k++) {
		lua_newtable(T);                        /* top + 3 + k */
		lua_pushstring(T, class_names[k]);
		lua_setfield(T, -2, "class");
	}
	for (r = udp_methods; r->name != NULL; r++) {
		lua_pushvalue(T, top + 1);
		lua_pushvalue(T, top + 2);
		lua_pushcclosure(T, r->func, 2);
		for (k = 0; k < 2; k++) {
			lua_pushvalue(T, -1);
			lua_setfield(T, top + 3 + k, r->name);
		}
		lua_pop(T, 1);
	}
	for (k = 0; k < 2; k++) {
		lua_pushvalue(T, top + 3 + k);
		lua_setfield(T, top + 1 + k, "__index");
		lua_pushvalue(T, top + 1);
		lua_pushvalue(T, top + 2);
		lua_pushcclosure(T, udp__gc, 2);
		lua_setfield(T, top + 1 + k, "__gc");
		lua_pushvalue(T, top + 1);
		lua_pushvalue(T, top + 2);
		lua_pushcclosure(T, udp__tostring, 2);
		lua_setfield(T, top + 1 + k, "__tostring");
	}
	lua_settop(T, top);
	lua_pushcfunction(T, socket_udp);
	lua_setfield(T, -2, "udp");
	lua_pushcfunction(T, socket_udp4);
	lua_setfield(T, -2, "udp4");
	lua_pushcfunction(T, socket_udp6);
	lua_setfield(T, -2, "udp6");
}
