/*
 * udp.c - lem.Datagram objects: UDP sockets (streams.udp_bind,
 * streams.udp_connect) with send and receive, one whole datagram at a
 * time; a receiver and a sender may wait at the same time.
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
#include <arpa/inet.h>
#include <netinet/in.h>

/*
 * The biggest datagram receive() takes whole.  A UDP datagram carries at
 * most 65507 bytes over IPv4 and 65527 over IPv6 (65535 less the
 * headers), so nothing real is ever cut short; MSG_TRUNC still tells the
 * true size, and a bigger one (an IPv6 jumbogram) is 'too large'.
 */
#define DGRAM_MAX STREAM_RBUF_SIZE

/* dgram.flags */
#define DF_CONNECTED 0x01       /* udp_connect: send takes no address */
#define DF_DRAINED   0x02       /* the last recv said EAGAIN: wait first */
#define DF_RIDLE     0x04       /* r armed while nobody receives (unref'd) */
#define DF_CONNECT   0x08       /* udp_connect is looking its name up */

/*
 * A datagram socket.  rwait is the coroutine in receive() (or in
 * udp_bind/udp_connect while a name is looked up), swait the one in
 * send(); each direction has its own watcher.
 */
struct dgram {
	struct lem_wait rwait;
	struct lem_wait swait;
	struct ev_io r, w;
	int fd;                 /* -1 when closed */
	int family;             /* of the socket */
	unsigned char flags;
	struct lookup *lk;      /* a name being looked up */
	/* the send in progress: the data stays on the sender's stack */
	const char *data;
	size_t len;
	struct sockaddr_storage to;
	socklen_t tolen;        /* 0: connected */
};

/* where udp_bind and udp_connect keep the datagram on T's stack */
#define DGRAM_IDX 3

static void dgram_r_cb(EV_P_ struct ev_io *w, int revents);
static void dgram_w_cb(EV_P_ struct ev_io *w, int revents);

/* ------------------------------------------------------------ helpers */

static struct dgram *
dgram_new(lua_State *T)
{
	struct dgram *d = lua_newuserdata(T, sizeof(struct dgram));

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	ev_io_init(&d->r, dgram_r_cb, -1, EV_READ);
	ev_io_init(&d->w, dgram_w_cb, -1, EV_WRITE);
	luaL_getmetatable(T, DGRAM_MT);
	lua_setmetatable(T, -2);
	return d;
}

/* the datagram now owns socket fd: 0 or -errno */
static int
dgram_setfd(struct dgram *d, int fd, int connected)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	assert(d->fd < 0);
	d->fd = fd;
	d->family = ss.ss_family;
	if (connected)
		d->flags |= DF_CONNECTED;
	ev_io_set(&d->r, fd, EV_READ);
	ev_io_set(&d->w, fd, EV_WRITE);
	return 0;
}

/* the receive watcher: stop it (see SF_IDLE in stream.c) */
static void
dgram_r_stop(struct dgram *d)
{
	if (d->flags & DF_RIDLE) {
		d->flags &= ~DF_RIDLE;
		ev_ref(LEM);
	}
	ev_io_stop(LEM, &d->r);
}

/* a receive has ended: the watcher stays armed, unreferenced */
static void
dgram_r_idle(struct dgram *d)
{
	if (ev_is_active(&d->r) && !(d->flags & DF_RIDLE)) {
		ev_unref(LEM);
		d->flags |= DF_RIDLE;
	}
}

static void
dgram_r_arm(struct dgram *d)
{
	if (d->flags & DF_RIDLE) {
		d->flags &= ~DF_RIDLE;
		ev_ref(LEM);
	}
	if (!ev_is_active(&d->r))
		ev_io_start(LEM, &d->r);
}

/* nil and the error: EMSGSIZE is 'too large', others the system's */
static int
dgram_error(lua_State *T, int err)
{
	if (err == EMSGSIZE)
		return lem_error(T, "too large");
	return lem_strerror(T, err);
}

/*
 * The destination sa as an address for a socket of the datagram's
 * family, into d->to: IPv4 goes to an IPv6 socket as ::ffff:a.b.c.d,
 * and ::ffff:a.b.c.d to an IPv4 socket as a.b.c.d.  0 or -EAFNOSUPPORT.
 */
static int
dgram_dest(struct dgram *d, const struct sockaddr *sa)
{
	if (sa->sa_family == d->family) {
		d->tolen = sa->sa_family == AF_INET6 ?
			sizeof(struct sockaddr_in6) :
			sizeof(struct sockaddr_in);
		memcpy(&d->to, sa, d->tolen);
		return 0;
	}
	if (sa->sa_family == AF_INET && d->family == AF_INET6) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		struct sockaddr_in6 *to = (struct sockaddr_in6 *)&d->to;

		memset(to, 0, sizeof(*to));
		to->sin6_family = AF_INET6;
		to->sin6_port = in->sin_port;
		to->sin6_addr.s6_addr[10] = 0xff;
		to->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&to->sin6_addr.s6_addr[12], &in->sin_addr, 4);
		d->tolen = sizeof(*to);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && d->family == AF_INET) {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)sa;
		struct sockaddr_in *to = (struct sockaddr_in *)&d->to;

		if (!IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			return -EAFNOSUPPORT;

		memset(to, 0, sizeof(*to));
		to->sin_family = AF_INET;
		to->sin_port = in6->sin6_port;
		memcpy(&to->sin_addr, &in6->sin6_addr.s6_addr[12], 4);
		d->tolen = sizeof(*to);
		return 0;
	}
	return -EAFNOSUPPORT;
}

/* the first answer of a lookup the socket can send to, into d->to */
static int
dgram_dest_lookup(struct dgram *d, const struct lookup *lk)
{
	const struct addrinfo *ai;
	int pass;

	/* one of the socket's own family first */
	for (pass = 0; pass < 2; pass++)
		for (ai = lk->res; ai != NULL; ai = ai->ai_next)
			if ((pass == 1 || ai->ai_family == d->family) &&
					dgram_dest(d, ai->ai_addr) == 0)
				return 0;
	return -EAFNOSUPPORT;
}

/* host and port as an address literal, without getaddrinfo(): 0, or -1
 * for anything else (a name, a scope '%eth0') */
static int
dgram_dest_fast(struct dgram *d, const char *host, int port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (streams_parse_ipv4(host, (unsigned char *)
				&((struct sockaddr_in *)&ss)->sin_addr) ||
			inet_pton(AF_INET, host,
				&((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)
					&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	} else {
		return -1;
	}
	return dgram_dest(d, (struct sockaddr *)&ss) == 0 ? 0 : -2;
}

/* ------------------------------------------------- udp_bind/connect */

/* a socket for the first answer that works: 0 or -errno */
static int
dgram_make_on(struct dgram *d, const struct lookup *lk, int connect_to)
{
	struct bind_opts o = { SOCK_DGRAM, 0, 0, -1 };
	const struct addrinfo *ai;
	int err = EADDRNOTAVAIL;

	for (ai = lk->res; ai != NULL; ai = ai->ai_next) {
		int fd;

		if (!connect_to) {
			fd = streams_bind(ai->ai_addr, ai->ai_addrlen, 0, &o);
			if (fd < 0) {
				err = -fd;
				continue;
			}
		} else {
			fd = socket(ai->ai_family, SOCK_DGRAM |
					SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (fd < 0) {
				err = errno;
				continue;
			}
			/* a UDP connect() only sets the peer: it never waits */
			if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
				err = errno;
				close(fd);
				continue;
			}
		}
		return dgram_setfd(d, fd, connect_to);
	}
	return -err;
}

/* the lookup is back: make the socket, hand out the datagram or error */
static int
dgram_make_step(lua_State *P, void *ud)
{
	struct dgram *d = ud;
	struct lookup *lk = d->lk;
	lua_State *T = d->rwait.T;
	int rc;

	d->lk = NULL;
	if (lk->gai_err != 0) {
		rc = lookup_error(P, lk);
		lookup_drop(lk);
		return rc;
	}
	rc = dgram_make_on(d, lk, (d->flags & DF_CONNECT) != 0);
	lookup_drop(lk);
	d->flags &= ~DF_CONNECT;
	if (rc < 0)
		return lem_strerror(P, -rc);
	lua_pushvalue(T, DGRAM_IDX);
	lua_xmove(T, P, 1);
	return 1;
}

static void
dgram_make_resolved(struct lookup *lk)
{
	struct dgram *d = lk->ud;

	lem_wait_run(&d->rwait, dgram_make_step, d);
}

static int
dgram_make_cancel(struct lem_wait *w, lua_State *T)
{
	struct dgram *d = (struct dgram *)w;

	(void)T;
	lookup_drop(d->lk);
	d->lk = NULL;
	return 0;
}

/* udp_bind (connect_to 0) and udp_connect (1) */
static int
dgram_make(lua_State *T, int connect_to)
{
	const char *host = lem_checkcstring(T, 1);
	char pbuf[8];
	int numeric, rc, ret;
	const char *port = streams_checkport(T, 2, pbuf, &numeric);
	struct lookup *lk;
	struct dgram *d;

	lua_settop(T, 2);
	d = dgram_new(T);       /* DGRAM_IDX: closed until it has a socket */
	if (!connect_to && strcmp(host, "*") == 0) {
		/* every address, IPv6 and IPv4 on one socket if possible */
		struct bind_opts o = { SOCK_DGRAM, 0, 0, -1 };
		int pnum, fd;

		if (numeric) {
			pnum = atoi(port);
		} else {
			rc = streams_service_port(port, SOCK_DGRAM, &pnum);
			if (rc != 0)
				return lem_error(T, gai_strerror(rc));
		}
		fd = streams_bind_any(pnum, &o);
		if (fd < 0 || (fd = dgram_setfd(d, fd, 0)) < 0)
			return lem_strerror(T, -fd);
		return 1;
	}
	lk = lookup_new(host, port, SOCK_DGRAM, connect_to ? 0 : AI_PASSIVE);
	if (lk == NULL)
		return lem_strerror(T, ENOMEM);
	if (lookup_numeric(lk, numeric)) {
		/* an address literal: at once, no waiting */
		if (lk->gai_err != 0)
			rc = lookup_error(T, lk);
		else if ((rc = dgram_make_on(d, lk, connect_to)) < 0)
			rc = lem_strerror(T, -rc);
		else
			rc = 1;
		lookup_drop(lk);
		return rc;
	}
	/* a name: looked up in a worker thread while T waits */
	d->lk = lk;
	if (connect_to)
		d->flags |= DF_CONNECT;
	ret = lem_wait(T, &d->rwait, dgram_make_cancel);  /* may raise: __gc */
	if (!lem_waiting(&d->rwait)) {
		d->lk = NULL;
		lookup_drop(lk);
		return ret;
	}
	lookup_run(lk, dgram_make_resolved, d);
	return ret;
}

/* streams.udp_bind(address, port) */
int
streams_udp_bind(lua_State *T)
{
	return dgram_make(T, 0);
}

/* streams.udp_connect(host, port) */
int
streams_udp_connect(lua_State *T)
{
	return dgram_make(T, 1);
}

/* ------------------------------------------------------------ receive */

/*
 * One datagram: data, host, port onto P; 0 when none is there.  The
 * bytes go from the shared read buffer straight into a Lua string;
 * while a __gc metamethod run by an allocation of another read holds
 * that buffer (stream_rbuf_busy), a buffer of its own.
 */
static int
recv_step(lua_State *P, struct dgram *d)
{
	int busy = stream_rbuf_busy, n;
	struct sockaddr_storage ss;
	socklen_t sl;
	char *buf;
	ssize_t got;

	if (d->flags & DF_DRAINED)
		return 0;
	buf = busy ? lua_newuserdata(P, DGRAM_MAX) : stream_rbuf;
	for (;;) {
		sl = sizeof(ss);
		got = recvfrom(d->fd, buf, DGRAM_MAX, MSG_TRUNC,
				(struct sockaddr *)&ss, &sl);
		if (got >= 0)
			break;
		n = errno;
		if (n == EINTR)
			continue;
		if (busy)
			lua_pop(P, 1);
		if (n == EAGAIN || n == EWOULDBLOCK) {
			d->flags |= DF_DRAINED;
			return 0;
		}
		/* an ICMP error on a connected socket, say: the socket stays
		 * usable, the next receive waits for the next datagram */
		return dgram_error(P, n);
	}
	if ((size_t)got > DGRAM_MAX) {
		if (busy)
			lua_pop(P, 1);
		return dgram_error(P, EMSGSIZE);        /* 'too large' */
	}
	stream_rbuf_busy = 1;
	lua_pushlstring(P, buf, (size_t)got);
	stream_rbuf_busy = busy;
	n = 1 + streams_pushaddr(P, (struct sockaddr *)&ss, sl);
	if (busy)
		lua_remove(P, -n - 1);
	return n;
}

static int
recv_step_cb(lua_State *P, void *ud)
{
	return recv_step(P, ud);
}

static int
recv_cancel(struct lem_wait *w, lua_State *T)
{
	struct dgram *d = (struct dgram *)((char *)w -
			offsetof(struct dgram, rwait));

	(void)T;
	dgram_r_idle(d);
	return 0;
}

static void
dgram_r_cb(EV_P_ struct ev_io *w, int revents)
{
	struct dgram *d = (struct dgram *)
		((char *)w - offsetof(struct dgram, r));

	(void)EV_A;
	(void)revents;
	d->flags &= ~DF_DRAINED;
	if (!lem_waiting(&d->rwait)) {
		/* ready while nobody receives: no spinning */
		dgram_r_stop(d);
		return;
	}
	lem_wait_run(&d->rwait, recv_step_cb, d);
	if (!lem_waiting(&d->rwait) && d->fd >= 0)
		dgram_r_idle(d);
}

/* ------------------------------------------------------------- send */

static int
send_step(lua_State *P, struct dgram *d)
{
	ssize_t n;
	int err;

	if (d->lk != NULL) {
		struct lookup *lk = d->lk;

		if (lk->running)
			return 0;
		d->lk = NULL;
		if (lk->gai_err != 0) {
			err = lookup_error(P, lk);
			lookup_drop(lk);
			return err;
		}
		err = dgram_dest_lookup(d, lk);
		lookup_drop(lk);
		if (err < 0)
			return lem_strerror(P, -err);
	}
	for (;;) {
		if (d->tolen > 0)
			n = sendto(d->fd, d->data, d->len, 0,
					(struct sockaddr *)&d->to, d->tolen);
		else
			n = send(d->fd, d->data, d->len, 0);
		if (n >= 0) {
			lua_pushboolean(P, 1);
			return 1;
		}
		err = errno;
		if (err == EINTR)
			continue;
		if (err == EAGAIN || err == EWOULDBLOCK)
			return 0;       /* the send buffer is full */
		return dgram_error(P, err);
	}
}

static int
send_step_cb(lua_State *P, void *ud)
{
	return send_step(P, ud);
}

/* the send has ended, however */
static void
send_end(struct dgram *d)
{
	ev_io_stop(LEM, &d->w);
	lookup_drop(d->lk);
	d->lk = NULL;
	d->data = NULL;
}

static int
send_cancel(struct lem_wait *w, lua_State *T)
{
	struct dgram *d = (struct dgram *)((char *)w -
			offsetof(struct dgram, swait));

	(void)T;
	send_end(d);
	return 0;
}

static void
dgram_w_cb(EV_P_ struct ev_io *w, int revents)
{
	struct dgram *d = (struct dgram *)
		((char *)w - offsetof(struct dgram, w));

	(void)EV_A;
	(void)revents;
	if (!lem_waiting(&d->swait)) {
		send_end(d);
		return;
	}
	lem_wait_run(&d->swait, send_step_cb, d);
	if (!lem_waiting(&d->swait))
		send_end(d);
}

static void
send_resolved(struct lookup *lk)
{
	struct dgram *d = lk->ud;

	lem_wait_run(&d->swait, send_step_cb, d);
	if (!lem_waiting(&d->swait))
		send_end(d);
	else if (d->fd >= 0)
		ev_io_start(LEM, &d->w);        /* resolved; buffer full */
}

/* ------------------------------------------------------------ methods */

/* The methods carry the metatable as upvalue 1 (see lem_checkudata). */
static struct dgram *
checkdgram(lua_State *T)
{
	return lem_checkudata(T, 1, lua_upvalueindex(1), DGRAM_MT);
}

/* a port argument as a number, without formatting it (send's fast path):
 * 1 and *port, or 0 for a string, which streams_checkport reads */
static int
numeric_port(lua_State *T, int idx, int *port)
{
	lua_Number p;

	if (lua_type(T, idx) != LUA_TNUMBER)
		return 0;
	p = lua_tonumber(T, idx);
	if (!(p >= 0 && p <= 65535) || p != (lua_Number)(int)p)
		luaL_argerror(T, idx, "port out of range");
	*port = (int)p;
	return 1;
}

/* d:send(data[, host, port]) */
static int
dgram_send(lua_State *T)
{
	struct dgram *d = checkdgram(T);
	size_t len;
	const char *data = luaL_checklstring(T, 2, &len);
	const char *host = NULL, *port = NULL;
	char pbuf[8];
	int numeric = 0, pnum = 0, n, ret;
	struct lookup *lk = NULL;

	if (!lua_isnoneornil(T, 3) || !lua_isnoneornil(T, 4)) {
		host = lem_checkcstring(T, 3);
		if (!numeric_port(T, 4, &pnum)) {
			port = streams_checkport(T, 4, pbuf, &numeric);
			if (numeric)
				pnum = atoi(port);
		} else {
			numeric = 1;
		}
		if (d->flags & DF_CONNECTED)
			return luaL_argerror(T, 3, "a connected datagram "
					"takes no address");
	} else if (d->fd >= 0 && !(d->flags & DF_CONNECTED)) {
		return luaL_argerror(T, 3, "address expected (the datagram "
				"is not connected)");
	}
	lua_settop(T, 2);       /* data stays here while T waits */
	if (d->fd < 0)
		return lem_closed(T);
	if (lem_waiting(&d->swait))
		return lem_busy(T);
	d->tolen = 0;
	if (host != NULL) {
		n = numeric ? dgram_dest_fast(d, host, pnum) : -1;
		if (n == -2)
			return lem_strerror(T, EAFNOSUPPORT);
		if (n < 0) {
			if (port == NULL) {
				snprintf(pbuf, sizeof(pbuf), "%d", pnum);
				port = pbuf;
			}
			lk = lookup_new(host, port, SOCK_DGRAM, 0);
			if (lk == NULL)
				return lem_strerror(T, ENOMEM);
			if (lookup_numeric(lk, numeric)) {
				if (lk->gai_err != 0)
					n = lookup_error(T, lk);
				else if ((n = dgram_dest_lookup(d, lk)) < 0)
					n = lem_strerror(T, -n);
				lookup_drop(lk);
				if (n > 0)
					return n;
				lk = NULL;
			}
		}
	}
	d->data = data;
	d->len = len;
	d->lk = lk;             /* a name: wait for its lookup first */
	if (lk == NULL) {
		n = send_step(T, d);
		if (n > 0) {
			d->data = NULL;
			return n;
		}
	}
	ret = lem_wait(T, &d->swait, send_cancel);
	if (!lem_waiting(&d->swait)) {
		send_end(d);    /* a deadline had passed already */
		return ret;
	}
	if (lk != NULL)
		lookup_run(lk, send_resolved, d);
	else
		ev_io_start(LEM, &d->w);
	return ret;
}

/* d:receive() */
static int
dgram_receive(lua_State *T)
{
	struct dgram *d = checkdgram(T);
	int n, ret;

	lua_settop(T, 1);
	if (d->fd < 0)
		return lem_closed(T);
	if (lem_waiting(&d->rwait))
		return lem_busy(T);
	n = recv_step(T, d);
	if (n == 0 && (d->flags & DF_DRAINED) && lem_wait_ends_now(T)) {
		/* the wait would end at once: ask the kernel after all */
		d->flags &= ~DF_DRAINED;
		n = recv_step(T, d);
	}
	if (n > 0)
		return n;
	ret = lem_wait(T, &d->rwait, recv_cancel);
	if (lem_waiting(&d->rwait))
		dgram_r_arm(d);
	return ret;
}

/* d:address() */
static int
dgram_address(lua_State *T)
{
	struct dgram *d = checkdgram(T);

	if (d->fd < 0)
		return lem_closed(T);
	return streams_sockname(T, d->fd, 0);
}

/* d:closed() */
static int
dgram_closed(lua_State *T)
{
	struct dgram *d = checkdgram(T);

	lua_pushboolean(T, d->fd < 0);
	return 1;
}

/* d:busy(): a coroutine waits in receive() or in send() */
static int
dgram_busy(lua_State *T)
{
	struct dgram *d = checkdgram(T);

	lua_pushboolean(T, lem_waiting(&d->rwait) || lem_waiting(&d->swait));
	return 1;
}

/* d:interrupt(): both directions */
static int
dgram_interrupt(lua_State *T)
{
	struct dgram *d = checkdgram(T);
	int n;

	n = lem_wait_fail(&d->rwait, "interrupted");
	n += lem_wait_fail(&d->swait, "interrupted");
	if (n == 0)
		return lem_error(T, "not busy");
	lua_pushboolean(T, 1);
	return 1;
}

/* give up the socket; 0 or -errno of close() */
static int
dgram_shut(struct dgram *d, int gc)
{
	int fd = d->fd;

	dgram_r_stop(d);
	send_end(d);
	d->fd = -1;
	ev_io_set(&d->r, -1, EV_READ);
	ev_io_set(&d->w, -1, EV_WRITE);
	if (fd < 0 || (gc && fd <= 2))
		return 0;
	if (close(fd) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

/* d:close() */
static int
dgram_close(lua_State *T)
{
	struct dgram *d = checkdgram(T);
	int err;

	if (d->fd < 0)
		return lem_error(T, "already closed");
	lem_wait_fail(&d->rwait, "interrupted");
	lem_wait_fail(&d->swait, "interrupted");
	err = dgram_shut(d, 0);
	if (err)
		return lem_strerror(T, -err);
	lua_pushboolean(T, 1);
	return 1;
}

static int
dgram__gc(lua_State *T)
{
	struct dgram *d = luaL_checkudata(T, 1, DGRAM_MT);

	/* a waiting coroutine keeps its datagram alive, except at exit */
	if (lem_waiting(&d->rwait))
		(void)lem_wait_end(&d->rwait);
	if (lem_waiting(&d->swait))
		(void)lem_wait_end(&d->swait);
	dgram_shut(d, 1);
	return 0;
}

static int
dgram__tostring(lua_State *T)
{
	struct dgram *d = checkdgram(T);

	lua_pushfstring(T, "lem.Datagram (%s): %p", d->fd < 0 ? "closed" :
			lem_waiting(&d->rwait) || lem_waiting(&d->swait) ?
			"busy" : "open", (void *)d);
	return 1;
}

static const luaL_Reg dgram_methods[] = {
	{ "send",       dgram_send },
	{ "receive",    dgram_receive },
	{ "address",    dgram_address },
	{ "closed",     dgram_closed },
	{ "busy",       dgram_busy },
	{ "interrupt",  dgram_interrupt },
	{ "close",      dgram_close },
	{ "__gc",       dgram__gc },
	{ "__tostring", dgram__tostring },
	{ NULL, NULL }
};

/* push the metatable lem.Datagram */
void
dgram_open_methods(lua_State *T)
{
	lem_newmetatable(T, DGRAM_MT, dgram_methods);
}
