/*
 * socket.c - lem.socket: TCP objects (and the module table; the UDP
 * objects are socket/udp.c) with LuaSocket's method names,
 * arguments, results and error strings, whose waits suspend the calling
 * coroutine instead of blocking lem.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * An object is a tcp{master} (new, maybe bound), a tcp{client} (connected
 * or accepted) or a tcp{server} (listening), as in LuaSocket: one
 * metatable per class, and every method checks the class it needs.  Each
 * object has two sides, each with its own cancellable wait (lem.h): the
 * read side for receive and accept, the write side for send, connect and
 * bind (whose name lookups are waits too).  So one coroutine may receive
 * while another sends; a second call on a busy side gets nil, 'busy'.
 *
 * settimeout() is LuaSocket's: with only 'b' or only 't' set the limit
 * counts from the start of the call; with both, 'b' bounds each wait and
 * 't' the call.  It is kept by a timer per side; the deadline of an
 * enclosing utils.timeout() and co:cancel() end the same waits through
 * lem's cancel hooks.  A wait that settimeout ends hands out the partial
 * result (consumed, as LuaSocket does); one that lem ends leaves the
 * bytes buffered and gives back the prefix.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* accept4, SOCK_CLOEXEC */
#endif
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <lualib.h>

#include "lem.h"
#include "streams/buffer.h"
#include "socket/socket.h"


/* receive('*l') gives up on a line longer than this (as lem.streams) */
#define LINE_MAX_BYTES (1024 * 1024)

#define KIND_MASTER 0
#define KIND_CLIENT 1
#define KIND_SERVER 2
#define M_MASTER (1 << KIND_MASTER)
#define M_CLIENT (1 << KIND_CLIENT)
#define M_SERVER (1 << KIND_SERVER)
#define M_ANY    (M_MASTER | M_CLIENT | M_SERVER)

static const char *const class_names[] = {
	"tcp{master}", "tcp{client}", "tcp{server}"
};

/* tsock.flags */
#define F_CLOSED     0x01   /* close() was called */
#define F_EOF        0x02   /* recv() said end of file */
#define F_DRAINED    0x04   /* the last recv() came back short */
#define F_OWNFD      0x08   /* fd was made by the connect in progress */
#define F_CONNECTING 0x10   /* connect() on fd is in progress */
#define F_STEP       0x20   /* results are being made from the buffer */

/* side.op */
enum { OP_NONE, OP_RECEIVE, OP_ACCEPT, OP_SEND, OP_MACHINE };

/* tsock.pattern */
enum { P_LINE, P_ALL, P_COUNT };

/* tsock.cm: what the machine (bind, connect, listen) still has to do */
#define CM_BIND     0x01    /* bind to host, port at T's index bidx */
#define CM_LISTEN   0x02    /* listen(backlog) */
#define CM_CONNECT  0x04    /* connect to host, port at T's index 2 */
#define CM_SELF     0x08    /* success returns the object, failure closes */
#define CM_RESOLVED 0x10    /* res holds the addresses of this step */

/* machine results besides a count of results */
#define W_LOOKUP (-1)           /* a name lookup must run */
#define W_WRITE  (-2)           /* wait until fd is writable */

/* socket options (bits of opt_set and opt_val) */
enum { O_KEEPALIVE, O_REUSEADDR, O_REUSEPORT, O_NODELAY, O_V6ONLY,
	O_LINGER };
static const char *const opt_names[] = {
	"keepalive", "reuseaddr", "reuseport", "tcp-nodelay", "ipv6-v6only",
	"linger", NULL
};

struct tsock;

struct side {
	struct lem_wait w;      /* first: a cancel hook's w is the side */
	struct ev_io io;
	struct ev_timer timer;  /* settimeout */
	struct tsock *s;
	ev_tstamp start;        /* when the current call started */
	unsigned char op;
};

struct tsock {
	struct side rd;         /* receive, accept */
	struct side wr;         /* send, connect, bind */
	struct lem_buf in;      /* received, not yet handed out */
	int fd;                 /* -1: none (yet, or closed) */
	unsigned char kind;
	unsigned char flags;
	unsigned char pattern;  /* receive in progress */
	unsigned char cm;
	int family;             /* asked for: AF_UNSPEC, AF_INET, AF_INET6 */
	int fdfamily;           /* of fd */
	lua_Number tb, tt;      /* settimeout values, as given */
	double nb, nt;          /* the same, < 0 meaning none */
	double birthday;        /* gettime() when made, for getstats */
	lua_Number received, sent;
	size_t want;            /* receive(n): bytes wanted (after prefix) */
	size_t scanned;         /* receive('*l'): bytes searched for \n */
	const char *data;       /* send in progress */
	size_t len, done, first;
	int err;                /* errno of a failed recv/send */
	int cerr;               /* errno of the last failed connect */
	int gai_err, gai_sys;   /* a failed lookup of the machine */
	int bidx;               /* index of the machine's bind host */
	int backlog;
	struct sock_lookup *lk;      /* the machine's lookup */
	struct addrinfo *res, *cur;
	unsigned int opt_set, opt_val;
	struct linger linger;
};

/* the metatables of the three classes (registry references) */
static int mt_ref[3] = { LUA_NOREF, LUA_NOREF, LUA_NOREF };
static int pcall_ref = LUA_NOREF, xpcall_ref = LUA_NOREF;

char sock_scratch[SOCK_SCRATCH_SIZE];
int sock_scratch_busy;

/* ------------------------------------------------------------ helpers */

double
sock_gettime(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* LuaSocket's words for some errors, strerror() for the rest */
const char *
sock_strerror(int err)
{
	switch (err) {
	case EADDRINUSE:   return "address already in use";
	case EISCONN:      return "already connected";
	case EACCES:       return "permission denied";
	case ECONNREFUSED: return "connection refused";
	case ECONNABORTED:
	case ECONNRESET:
	case EPIPE:        return "closed";
	case ETIMEDOUT:    return "timeout";
	default:           return strerror(err);
	}
}

/* LuaSocket's words for getaddrinfo()'s errors */
const char *
sock_gai_word(int err, int syserr)
{
	switch (err) {
	case EAI_AGAIN:    return "temporary failure in name resolution";
	case EAI_BADFLAGS: return "invalid value for ai_flags";
	case EAI_FAIL:     return "non-recoverable failure in name resolution";
	case EAI_FAMILY:   return "ai_family not supported";
	case EAI_MEMORY:   return "memory allocation failure";
	case EAI_NONAME:   return "host or service not provided, or not known";
#ifdef EAI_OVERFLOW
	case EAI_OVERFLOW: return "argument buffer overflow";
#endif
	case EAI_SERVICE:  return "service not supported for socket type";
	case EAI_SOCKTYPE: return "ai_socktype not supported";
	case EAI_SYSTEM:   return strerror(syserr);
	default:           return gai_strerror(err);
	}
}

static int
sock_error(lua_State *T, int err)
{
	return lem_error(T, sock_strerror(err));
}

/*
 * Can T be suspended here?  lem_wait() raises where it cannot; lem.socket
 * returns nil, message instead, so that a library calling it inside a C
 * protected call (LuaSocket's socket.protect) gets the error as a result
 * and fails cleanly.  A C function below the caller on T's stack means T
 * cannot yield, except LuaJIT's pcall and xpcall, which it can yield
 * across.  (On Lua 5.1 metamethods and for iterators are boundaries that
 * the stack does not show: there lem_wait() still raises.)
 */
const char *
sock_cannot_wait(lua_State *T)
{
	lua_Debug ar;
	int level;

	for (level = 1; lua_getstack(T, level, &ar); level++) {
		int bad;

		if (!lua_getinfo(T, SOCKET_JIT ? "Sf" : "S", &ar))
			break;
		bad = ar.what[0] == 'C';
		if (SOCKET_JIT) {
			if (bad) {
				lua_rawgeti(T, LUA_REGISTRYINDEX, pcall_ref);
				lua_rawgeti(T, LUA_REGISTRYINDEX, xpcall_ref);
				bad = !lua_rawequal(T, -1, -3) &&
					!lua_rawequal(T, -2, -3);
				lua_pop(T, 2);
			}
			lua_pop(T, 1);
		}
		if (bad)
			return YIELD_ACROSS;
	}
	return NULL;
}

/*
 * Return the n results on top of T's stack once the coroutines already
 * queued have run, so that a loop polling with a timeout of 0 cannot
 * starve them; at once where T cannot be suspended.
 */
int
sock_return_later(lua_State *T, int n)
{
	int ret;

	if (sock_cannot_wait(T) != NULL)
		return n;
	ret = lem_suspend(T);
	lem_queue(T, n);
	return ret;
}

/* a port argument: a number or a string (raises otherwise) */
void
sock_port_check(lua_State *T, int idx)
{
	if (lua_type(T, idx) != LUA_TNUMBER)
		lem_checkcstring(T, idx);
}

/*
 * The port at idx as getaddrinfo() wants it; *numeric is set for a
 * number.  NULL for a number that is no port.  Allocates nothing (a
 * string argument is a string already), so that steps may call it.
 */
const char *
sock_port_text(lua_State *T, int idx, char *buf, int *numeric)
{
	if (lua_type(T, idx) == LUA_TNUMBER) {
		lua_Number p = lua_tonumber(T, idx);

		*numeric = 1;
		if (!(p >= 0 && p <= 65535) || p != floor(p))
			return NULL;
		snprintf(buf, 8, "%d", (int)p);
		return buf;
	}
	*numeric = 0;
	return lua_tostring(T, idx);
}

/* ------------------------------------------------------------- lookups */

void
sock_lookup_free(struct sock_lookup *lk)
{
	if (lk->res != NULL)
		freeaddrinfo(lk->res);
	free(lk);
}

struct sock_lookup *
sock_lookup_new(const char *host, const char *port,
		const struct addrinfo *hints)
{
	size_t hl = host ? strlen(host) + 1 : 0;
	size_t pl = port ? strlen(port) + 1 : 0;
	struct sock_lookup *lk = malloc(sizeof(struct sock_lookup) + hl + pl);

	if (lk == NULL)
		return NULL;
	memset(lk, 0, sizeof(struct sock_lookup));
	lk->hints = *hints;
	lk->host = host ? memcpy(lk->names, host, hl) : NULL;
	lk->port = port ? memcpy(lk->names + hl, port, pl) : NULL;
	return lk;
}

/* in a worker thread */
static void
lookup_work(struct lem_async *a)
{
	struct sock_lookup *lk = (struct sock_lookup *)a;

	lk->res = NULL;
	lk->err = getaddrinfo(lk->host, lk->port, &lk->hints, &lk->res);
	lk->syserr = errno;
	if (lk->err == 0 && lk->reverse) {
		if (getnameinfo(lk->res->ai_addr, lk->res->ai_addrlen,
				lk->name, sizeof(lk->name), NULL, 0,
				NI_NAMEREQD) != 0)
			lk->name[0] = '\0';
	}
}

/* back in the loop */
static void
lookup_done(struct lem_async *a)
{
	struct sock_lookup *lk = (struct sock_lookup *)a;

	if (lk->owner == NULL)
		sock_lookup_free(lk);
	else
		lk->finish(lk);
}

void
sock_lookup_start(struct sock_lookup *lk)
{
	lk->started = 1;
	lem_async_run(&lk->a, lookup_work, lookup_done);
}

/* the owner goes: free it now (also a job no worker has taken yet), or
 * when the worker is done with it */
void
sock_lookup_abandon(struct sock_lookup *lk)
{
	if (!lk->started || lem_async_cancel(&lk->a))
		sock_lookup_free(lk);
	else
		lk->owner = NULL;
}

/* ----------------------------------------------------------- objects */

static void rd_io_cb(EV_P_ struct ev_io *io, int revents);
static void wr_io_cb(EV_P_ struct ev_io *io, int revents);
static void rd_timer_cb(EV_P_ struct ev_timer *t, int revents);
static void wr_timer_cb(EV_P_ struct ev_timer *t, int revents);

static void
side_init(struct tsock *s, struct side *d, int events,
		void (*io_cb)(EV_P_ struct ev_io *, int),
		void (*timer_cb)(EV_P_ struct ev_timer *, int))
{
	struct lem_wait w = LEM_WAIT_INIT;

	d->w = w;
	ev_io_init(&d->io, io_cb, -1, events);
	d->io.data = d;
	ev_timer_init(&d->timer, timer_cb, 0, 0);
	d->timer.data = d;
	d->s = s;
	d->start = 0;
	d->op = OP_NONE;
}

/* push a new object of class kind, without a descriptor */
static struct tsock *
tsock_new(lua_State *T, int kind, int family)
{
	struct tsock *s = lua_newuserdata(T, sizeof(struct tsock));

	memset(s, 0, sizeof(struct tsock));
	side_init(s, &s->rd, EV_READ, rd_io_cb, rd_timer_cb);
	side_init(s, &s->wr, EV_WRITE, wr_io_cb, wr_timer_cb);
	s->fd = -1;
	s->kind = (unsigned char)kind;
	s->family = family;
	s->fdfamily = AF_UNSPEC;
	s->tb = s->tt = -1;
	s->nb = s->nt = -1;
	s->birthday = sock_gettime();
	s->opt_set = s->opt_val = 1u << O_NODELAY;
	s->lk = NULL;
	s->res = s->cur = NULL;
	lua_rawgeti(T, LUA_REGISTRYINDEX, mt_ref[kind]);
	lua_setmetatable(T, -2);
	return s;
}

/* change the class of the object at T's index 1, pushing it on P */
static void
tsock_setkind(lua_State *P, lua_State *T, struct tsock *s, int kind)
{
	s->kind = (unsigned char)kind;
	lua_pushvalue(T, 1);
	if (P != T)
		lua_xmove(T, P, 1);
	lua_rawgeti(P, LUA_REGISTRYINDEX, mt_ref[kind]);
	lua_setmetatable(P, -2);
	lua_pop(P, 1);
}

/* setsockopt of option o with the stored value */
static int
opt_apply(struct tsock *s, int o)
{
	int v = (s->opt_val >> o) & 1, fd = s->fd;

	switch (o) {
	case O_KEEPALIVE:
		return setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v));
	case O_REUSEADDR:
		return setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v));
	case O_REUSEPORT:
#ifdef SO_REUSEPORT
		return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &v, sizeof(v));
#else
		errno = ENOPROTOOPT;
		return -1;
#endif
	case O_NODELAY:
		return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v));
	case O_V6ONLY:
		return setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof(v));
	case O_LINGER:
		return setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &s->linger,
				sizeof(s->linger));
	}
	return -1;
}

/* make the descriptor; 0 or errno */
static int
tsock_open(struct tsock *s, int family)
{
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int o;

	if (fd < 0)
		return errno;
	s->fd = fd;
	s->fdfamily = family;
	/* options set before there was a descriptor; best effort */
	for (o = O_KEEPALIVE; o <= O_LINGER; o++)
		if (((s->opt_set >> o) & 1) &&
				(o != O_V6ONLY || family == AF_INET6))
			opt_apply(s, o);
	ev_io_set(&s->rd.io, fd, EV_READ);
	ev_io_set(&s->wr.io, fd, EV_WRITE);
	return 0;
}

/* close the descriptor; the object stays usable as a master */
static void
tsock_dropfd(struct tsock *s)
{
	ev_io_stop(LEM, &s->rd.io);
	ev_io_stop(LEM, &s->wr.io);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->fdfamily = AF_UNSPEC;
	s->flags &= ~(F_OWNFD | F_CONNECTING | F_EOF | F_DRAINED);
	ev_io_set(&s->rd.io, -1, EV_READ);
	ev_io_set(&s->wr.io, -1, EV_WRITE);
}

/* the machine's resources go (its wait has ended or is ending) */
static void
machine_reset(struct tsock *s)
{
	ev_io_stop(LEM, &s->wr.io);
	ev_timer_stop(LEM, &s->wr.timer);
	if (s->lk != NULL) {
		sock_lookup_abandon(s->lk);
		s->lk = NULL;
	}
	if (s->res != NULL) {
		freeaddrinfo(s->res);
		s->res = s->cur = NULL;
	}
	s->cm &= ~CM_RESOLVED;
	s->gai_err = 0;
}

/*
 * The end of the object: every watcher stops, the lookup is abandoned,
 * the descriptor closed.  Waiters are failed with 'closed' unless gc
 * (at exit, when lem collects objects that coroutines still wait on).
 */
static void
tsock_shut(struct tsock *s, int gc)
{
	s->flags |= F_CLOSED;           /* first: the cancel hooks see it */
	if (gc) {
		lem_wait_end(&s->rd.w);         /* nobody will resume them */
		lem_wait_end(&s->wr.w);
	} else {
		lem_wait_fail(&s->rd.w, "closed");
		lem_wait_fail(&s->wr.w, "closed");
	}
	ev_timer_stop(LEM, &s->rd.timer);
	machine_reset(s);
	s->cm = 0;
	s->rd.op = s->wr.op = OP_NONE;
	tsock_dropfd(s);
	if (!(s->flags & F_STEP))
		lem_buf_free(&s->in);
}

/* the object at index 1 if its class is in mask, else raise */
static struct tsock *
tsock_check(lua_State *T, int mask, const char *expected)
{
	struct tsock *s = lua_touserdata(T, 1);

	if (s != NULL && lua_getmetatable(T, 1)) {
		int k = -1;

		if (lua_rawequal(T, -1, lua_upvalueindex(1)))
			k = KIND_MASTER;
		else if (lua_rawequal(T, -1, lua_upvalueindex(2)))
			k = KIND_CLIENT;
		else if (lua_rawequal(T, -1, lua_upvalueindex(3)))
			k = KIND_SERVER;
		lua_pop(T, 1);
		if (k >= 0 && (mask & (1 << k)))
			return s;
	}
	luaL_argerror(T, 1, expected);
	return NULL;
}

/* -------------------------------------------------------------- time */

static int
has_timeout(const struct tsock *s)
{
	return s->nb >= 0 || s->nt >= 0;
}

/* a call on side d starts: the time its limits count from */
static void
side_begin(struct tsock *s, struct side *d)
{
	if (has_timeout(s)) {
		ev_now_update(LEM);
		d->start = ev_now(LEM);
	}
}

/* seconds the next wait of the call may take, as LuaSocket: < 0 none */
static double
side_retry(const struct tsock *s, const struct side *d)
{
	double now, t;

	if (!has_timeout(s))
		return -1;
	now = ev_now(LEM);
	if (s->nt < 0) {
		t = d->start + s->nb - now;
	} else {
		t = d->start + s->nt - now;
		if (s->nb >= 0 && t > s->nb)
			t = s->nb;
	}
	return t > 0 ? t : 0;
}

/* (re)arm the timer of d for the next wait; 1 if time is up already */
static int
side_arm(struct tsock *s, struct side *d)
{
	double t = side_retry(s, d);

	ev_timer_stop(LEM, &d->timer);
	if (t < 0)
		return 0;
	if (t == 0)
		return 1;
	ev_timer_set(&d->timer, t, 0);
	ev_timer_start(LEM, &d->timer);
	return 0;
}

/* with both 'b' and 't' set every wait has its own limit */
static int
side_rearm(struct tsock *s, struct side *d)
{
	if (s->nb >= 0 && s->nt >= 0)
		return side_arm(s, d);
	return 0;
}

/* ------------------------------------------------------------ receive */

enum { R_DONE, R_AGAIN, R_CLOSED, R_ERROR, R_NOMEM, R_TOOLONG };

/* 1: the receive in progress can be answered; -1: the line is too long */
static int
rx_ready(struct tsock *s)
{
	size_t len = lem_buf_len(&s->in);

	switch (s->pattern) {
	case P_LINE:
		if (lem_buf_line(&s->in, &s->scanned) > 0)
			return 1;
		return len >= LINE_MAX_BYTES ? -1 : 0;
	case P_COUNT:
		return s->want == 0 ? len > 0 : len >= s->want;
	default:
		return 0;
	}
}

/*
 * Read until the receive can be answered.  After a short read the
 * kernel had nothing more: wait for readiness instead of asking again,
 * unless eager (a timeout of 0: LuaSocket reads until EAGAIN).
 */
static int
rx_fill(struct tsock *s, int eager)
{
	for (;;) {
		int r = rx_ready(s);
		ssize_t n;

		if (r != 0)
			return r > 0 ? R_DONE : R_TOOLONG;
		if (s->flags & F_EOF)
			return R_CLOSED;
		if ((s->flags & F_DRAINED) && !eager)
			return R_AGAIN;
		n = recv(s->fd, sock_scratch, SOCK_SCRATCH_SIZE, 0);
		if (n > 0) {
			if (lem_buf_append(&s->in, sock_scratch, (size_t)n) < 0)
				return R_NOMEM;
			if (n < SOCK_SCRATCH_SIZE)
				s->flags |= F_DRAINED;
			else
				s->flags &= ~F_DRAINED;
			continue;
		}
		if (n == 0) {
			s->flags |= F_EOF;
			return R_CLOSED;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			s->flags |= F_DRAINED;
			return R_AGAIN;
		}
		s->err = errno;
		return R_ERROR;
	}
}

/* prefix .. bytes, every CR dropped from the bytes (receive('*l')) */
static void
push_line(lua_State *P, const char *prefix, size_t plen,
		const char *p, size_t n)
{
	luaL_Buffer b;
	const char *cr;

	if (plen == 0) {
		cr = memchr(p, '\r', n);
		if (cr == NULL) {
			lua_pushlstring(P, p, n);
			return;
		}
		if (cr == p + n - 1) {          /* the usual CR LF */
			lua_pushlstring(P, p, n - 1);
			return;
		}
	}
	luaL_buffinit(P, &b);
	luaL_addlstring(&b, prefix, plen);
	while (n > 0 && (cr = memchr(p, '\r', n)) != NULL) {
		luaL_addlstring(&b, p, (size_t)(cr - p));
		n -= (size_t)(cr - p) + 1;
		p = cr + 1;
	}
	luaL_addlstring(&b, p, n);
	luaL_pushresult(&b);
}

static void
push_joined(lua_State *P, const char *prefix, size_t plen,
		const char *p, size_t n)
{
	if (plen == 0) {
		lua_pushlstring(P, p, n);
	} else {
		luaL_Buffer b;

		luaL_buffinit(P, &b);
		luaL_addlstring(&b, prefix, plen);
		luaL_addlstring(&b, p, n);
		luaL_pushresult(&b);
	}
}

/* data, nil, nil; the bytes handed out are consumed */
static int
rx_answer(lua_State *P, struct tsock *s, const char *prefix, size_t plen)
{
	const char *p;
	size_t n;

	switch (s->pattern) {
	case P_LINE:
		n = lem_buf_line(&s->in, &s->scanned);
		push_line(P, prefix, plen, lem_buf_data(&s->in), n - 1);
		break;
	case P_COUNT:
		n = s->want;
		p = lem_buf_take(&s->in, n, &n);
		push_joined(P, prefix, plen, p, n);
		break;
	default:
		p = lem_buf_all(&s->in, &n);
		push_joined(P, prefix, plen, p, n);
		break;
	}
	lem_buf_consume(&s->in, n);
	s->received += (lua_Number)n;   /* as LuaSocket: bytes handed out */
	s->scanned = 0;
	lua_pushnil(P);
	lua_pushnil(P);
	return 3;
}

/* nil, word, partial: prefix and every byte buffered, consumed */
static int
rx_fail(lua_State *P, struct tsock *s, const char *word,
		const char *prefix, size_t plen)
{
	size_t n;
	const char *p = lem_buf_all(&s->in, &n);

	lua_pushnil(P);
	lua_pushstring(P, word);
	if (s->pattern == P_LINE)
		push_line(P, prefix, plen, p, n);
	else
		push_joined(P, prefix, plen, p, n);
	lem_buf_consume(&s->in, n);
	s->received += (lua_Number)n;
	s->scanned = 0;
	return 3;
}

/* try to answer the receive in progress: results, or 0 to wait */
static int
rx_run(lua_State *P, struct tsock *s, const char *prefix, size_t plen,
		int eager)
{
	switch (rx_fill(s, eager)) {
	case R_AGAIN:
		return 0;
	case R_DONE:
		return rx_answer(P, s, prefix, plen);
	case R_CLOSED:
		/* '*a' is done at end of file, if it got anything */
		if (s->pattern == P_ALL && lem_buf_len(&s->in) > 0)
			return rx_answer(P, s, prefix, plen);
		return rx_fail(P, s, "closed", prefix, plen);
	case R_ERROR:
		return rx_fail(P, s, sock_strerror(s->err), prefix, plen);
	case R_NOMEM:
		return rx_fail(P, s, strerror(ENOMEM), prefix, plen);
	default:
		return rx_fail(P, s, "too large", prefix, plen);
	}
}

/* the end of a step that made results from the buffer */
static void
rx_step_end(struct tsock *s)
{
	s->flags &= ~F_STEP;
	if (s->flags & F_CLOSED)        /* closed by a __gc meanwhile */
		lem_buf_free(&s->in);
}

static void
rx_stop(struct tsock *s)
{
	ev_io_stop(LEM, &s->rd.io);
	ev_timer_stop(LEM, &s->rd.timer);
	s->rd.op = OP_NONE;
}

/* lem ends the wait: nil, word, prefix; the bytes stay buffered */
static int
rx_cancel(struct lem_wait *w, lua_State *T)
{
	struct tsock *s = ((struct side *)w)->s;

	rx_stop(s);
	s->scanned = 0;
	lua_pushvalue(T, 3);
	return 1;
}

static int
rx_step(lua_State *P, void *ud)
{
	struct tsock *s = ud;
	lua_State *T = s->rd.w.T;
	size_t plen;
	const char *prefix = lua_tolstring(T, 3, &plen);
	int n;

	s->flags |= F_STEP;
	n = rx_run(P, s, prefix, plen, 0);
	if (n == 0 && side_rearm(s, &s->rd))
		n = rx_fail(P, s, "timeout", prefix, plen);
	rx_step_end(s);
	if (n > 0)
		rx_stop(s);
	return n;
}

static int
rx_timeout_step(lua_State *P, void *ud)
{
	struct tsock *s = ud;
	lua_State *T = s->rd.w.T;
	size_t plen;
	const char *prefix = lua_tolstring(T, 3, &plen);
	int n;

	s->flags |= F_STEP;
	n = rx_fail(P, s, "timeout", prefix, plen);
	rx_step_end(s);
	rx_stop(s);
	return n;
}

/* sock:receive([pattern[, prefix]]) */
static int
tcp_receive(lua_State *T)
{
	struct tsock *s = tsock_check(T, M_CLIENT, "tcp{client} expected");
	struct side *d = &s->rd;
	size_t plen, want = 0;
	const char *prefix = luaL_optlstring(T, 3, "", &plen);
	const char *why;
	int pattern, n, ret;

	if (lua_isnumber(T, 2)) {
		lua_Number v = lua_tonumber(T, 2);

		luaL_argcheck(T, v >= 0, 2, "invalid receive pattern");
		pattern = P_COUNT;
		want = v >= (lua_Number)SIZE_MAX ? SIZE_MAX : (size_t)v;
	} else {
		const char *p = luaL_optstring(T, 2, "*l");

		if (p[0] == '*' && p[1] == 'l')
			pattern = P_LINE;
		else if (p[0] == '*' && p[1] == 'a')
			pattern = P_ALL;
		else
			return luaL_argerror(T, 2, "invalid receive pattern");
	}
	lua_settop(T, 3);
	if (lua_isnil(T, 3)) {          /* the prefix slot holds a string */
		lua_pushliteral(T, "");
		lua_replace(T, 3);
	}
	/* receive(n, prefix) counts the prefix in n */
	if (pattern == P_COUNT && plen > 0) {
		if (want <= plen) {
			lua_pushvalue(T, 3);
			lua_pushnil(T);
			lua_pushnil(T);
			return 3;
		}
		want -= plen;
	}
	if (s->flags & F_CLOSED) {
		lua_pushnil(T);
		lua_pushliteral(T, "closed");
		lua_pushvalue(T, 3);
		return 3;
	}
	if (lem_waiting(&d->w)) {
		lua_pushnil(T);
		lua_pushliteral(T, "busy");
		lua_pushvalue(T, 3);
		return 3;
	}
	luaL_checkstack(T, 8, NULL);
	s->pattern = (unsigned char)pattern;
	s->want = want;
	s->scanned = 0;
	s->flags |= F_STEP;
	/* a timeout of 0, or a deadline already passed: ask the kernel */
	n = rx_run(T, s, prefix, plen,
			s->nb == 0 || s->nt == 0 || lem_wait_ends_now(T));
	rx_step_end(s);
	if (n > 0)
		return n;
	side_begin(s, d);
	if (side_retry(s, d) == 0)
		return sock_return_later(T,
				rx_fail(T, s, "timeout", prefix, plen));
	why = sock_cannot_wait(T);
	if (why != NULL) {
		lua_pushnil(T);
		lua_pushstring(T, why);
		lua_pushvalue(T, 3);
		return 3;
	}
	ret = lem_wait(T, &d->w, rx_cancel);
	if (lem_waiting(&d->w)) {
		d->op = OP_RECEIVE;
		ev_io_start(LEM, &d->io);
		side_arm(s, d);
	}
	return ret;
}

/* --------------------------------------------------------------- send */

/* 0: all sent; EAGAIN: wait; else errno */
static int
tx_some(struct tsock *s)
{
	while (s->done < s->len) {
		ssize_t n = send(s->fd, s->data + s->done, s->len - s->done,
				MSG_NOSIGNAL);

		if (n >= 0) {
			s->done += (size_t)n;
			s->sent += (lua_Number)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return EAGAIN;
		return errno;
	}
	return 0;
}

/* the index of the last byte sent */
static lua_Number
tx_last(const struct tsock *s)
{
	return (lua_Number)(s->first - 1 + s->done);
}

static void
tx_stop(struct tsock *s)
{
	ev_io_stop(LEM, &s->wr.io);
	ev_timer_stop(LEM, &s->wr.timer);
	s->wr.op = OP_NONE;
}

/* nil, word, last */
static int
tx_cancel(struct lem_wait *w, lua_State *T)
{
	struct tsock *s = ((struct side *)w)->s;

	tx_stop(s);
	lua_pushnumber(T, tx_last(s));
	return 1;
}

static int
tx_error_step(lua_State *P, void *ud)
{
	struct tsock *s = ud;

	tx_stop(s);
	lua_pushnil(P);
	lua_pushstring(P, sock_strerror(s->err));
	lua_pushnumber(P, tx_last(s));
	return 3;
}

static void
tx_continue(struct tsock *s)
{
	struct side *d = &s->wr;
	int err = tx_some(s);
	lua_State *T;

	if (err == EAGAIN) {
		if (side_rearm(s, d))
			lem_wait_fail(&d->w, "timeout");
		return;
	}
	if (err == 0) {
		T = lem_wait_end(&d->w);
		tx_stop(s);
		if (T == NULL)
			return;
		lua_pushnumber(T, tx_last(s));
		lua_pushnil(T);
		lua_pushnil(T);
		lem_queue(T, 3);
		return;
	}
	s->err = err;
	if (err == EPIPE || err == ECONNRESET)
		lem_wait_fail(&d->w, "closed");
	else
		lem_wait_run(&d->w, tx_error_step, s);
}

/* a string index of send(data, i, j), truncated as LuaSocket does */
static long
index_arg(lua_State *T, int idx, size_t size, long def)
{
	lua_Number v = luaL_optnumber(T, idx, (lua_Number)def);
	lua_Number lim = (lua_Number)size + 1;

	if (v != v)
		return def;
	if (v > lim)
		v = lim;
	else if (v < -lim)
		v = -lim;
	return (long)v;
}

/* sock:send(data[, i[, j]]) */
static int
tcp_send(lua_State *T)
{
	struct tsock *s = tsock_check(T, M_CLIENT, "tcp{client} expected");
	struct side *d = &s->wr;
	size_t size;
	const char *data = luaL_checklstring(T, 2, &size);
	long i = index_arg(T, 3, size, 1), j = index_arg(T, 4, size, -1);
	const char *why;
	int err, ret;

	if (i < 0)
		i = (long)size + i + 1;
	if (j < 0)
		j = (long)size + j + 1;
	if (i < 1)
		i = 1;
	if (j > (long)size)
		j = (long)size;
	if (s->flags & F_CLOSED) {
		lua_pushnil(T);
		lua_pushliteral(T, "closed");
		lua_pushnumber(T, (lua_Number)(i - 1));
		return 3;
	}
	if (lem_waiting(&d->w)) {
		lua_pushnil(T);
		lua_pushliteral(T, "busy");
		lua_pushnumber(T, (lua_Number)(i - 1));
		return 3;
	}
	lua_settop(T, 4);
	luaL_checkstack(T, 8, NULL);
	s->first = (size_t)i;
	s->done = 0;
	s->len = i <= j ? (size_t)(j - i + 1) : 0;
	s->data = data + i - 1;
	err = tx_some(s);
	if (err == 0) {
		lua_pushnumber(T, tx_last(s));
		lua_pushnil(T);
		lua_pushnil(T);
		return 3;
	}
	if (err != EAGAIN) {
		lua_pushnil(T);
		lua_pushstring(T, sock_strerror(err));
		lua_pushnumber(T, tx_last(s));
		return 3;
	}
	side_begin(s, d);
	if (side_retry(s, d) == 0) {
		lua_pushnil(T);
		lua_pushliteral(T, "timeout");
		lua_pushnumber(T, tx_last(s));
		return sock_return_later(T, 3);
	}
	why = sock_cannot_wait(T);
	if (why != NULL) {
		lua_pushnil(T);
		lua_pushstring(T, why);
		lua_pushnumber(T, tx_last(s));
		return 3;
	}
	ret = lem_wait(T, &d->w, tx_cancel);
	if (lem_waiting(&d->w)) {
		d->op = OP_SEND;
		ev_io_start(LEM, &d->io);
		side_arm(s, d);
	}
	return ret;
}

/* ------------------------------------------------- bind, listen, connect */

/*
 * Bind, listen and connect are one machine (tsock.cm says which steps
 * are left), so that tcp:bind, tcp:connect, socket.bind and
 * socket.connect share the name lookups and their waits.  machine_run
 * returns a count of results pushed on P, or W_LOOKUP / W_WRITE: the
 * wait needed before it can go on.
 */

static void machine_lookup_done(struct sock_lookup *lk);

/* the addresses of host, port at T's index idx: 0 (in s->res), W_LOOKUP
 * (s->lk is made, not started), or getaddrinfo's error */
static int
machine_resolve(lua_State *T, struct tsock *s, int idx, int passive)
{
	char pbuf[8];
	int numeric, rc;
	const char *host = lua_tostring(T, idx);
	const char *port = sock_port_text(T, idx + 1, pbuf, &numeric);
	struct addrinfo hints, *res = NULL;

	if (port == NULL)
		return EAI_SERVICE;
	if (passive && strcmp(host, "*") == 0)
		host = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = s->family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = (passive ? AI_PASSIVE : 0) |
		(numeric ? AI_NUMERICSERV : 0);
	/* an address literal needs no lookup: no thread, no waiting */
	hints.ai_flags |= AI_NUMERICHOST;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc == 0) {
		s->res = s->cur = res;
		s->cm |= CM_RESOLVED;
		return 0;
	}
	if (rc != EAI_NONAME || host == NULL)
		return rc;
	hints.ai_flags &= ~AI_NUMERICHOST;
	s->lk = sock_lookup_new(host, port, &hints);
	if (s->lk == NULL)
		return EAI_MEMORY;
	s->lk->owner = s;
	s->lk->finish = machine_lookup_done;
	return W_LOOKUP;
}

static void
machine_free_res(struct tsock *s)
{
	if (s->res != NULL)
		freeaddrinfo(s->res);
	s->res = s->cur = NULL;
	s->cm &= ~CM_RESOLVED;
}

/* bind to one of the addresses in s->res: 0 or errno */
static int
machine_bind(struct tsock *s)
{
	struct addrinfo *ai;
	int err = EAFNOSUPPORT, made = 0;

	for (ai = s->res; ai != NULL; ai = ai->ai_next) {
		if (s->fd >= 0 && ai->ai_family != s->fdfamily) {
			if (!made)
				continue;
			tsock_dropfd(s);
			made = 0;
		}
		if (s->fd < 0) {
			err = tsock_open(s, ai->ai_family);
			if (err != 0)
				continue;
			made = 1;
		}
		if (bind(s->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			return 0;
		err = errno;
		if (made) {
			tsock_dropfd(s);
			made = 0;
		}
	}
	return err;
}

/* connect to the addresses from s->cur on: 0, W_WRITE, or errno */
static int
machine_connect(struct tsock *s)
{
	int err = s->cerr ? s->cerr : EAFNOSUPPORT;

	for (; s->cur != NULL; s->cur = s->cur->ai_next) {
		struct addrinfo *ai = s->cur;

		if (s->fd >= 0 && ai->ai_family != s->fdfamily) {
			if (!(s->flags & F_OWNFD))
				continue;
			tsock_dropfd(s);
		}
		if (s->fd < 0) {
			err = tsock_open(s, ai->ai_family);
			if (err != 0)
				continue;
			s->flags |= F_OWNFD;
		}
		if (connect(s->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			return 0;
		err = errno;
		if (err == EINPROGRESS || err == EINTR) {
			s->flags |= F_CONNECTING;
			return W_WRITE;
		}
		s->cerr = err;
		if (s->flags & F_OWNFD)
			tsock_dropfd(s);
	}
	return err;
}

/* nil, message; the machine stops (socket.bind/connect close the object) */
static int
machine_fail(lua_State *P, struct tsock *s, const char *msg)
{
	lua_pushnil(P);
	lua_pushstring(P, msg);
	machine_reset(s);
	if (s->flags & F_CONNECTING)
		tsock_dropfd(s);
	if (s->cm & CM_SELF)
		tsock_shut(s, 0);
	s->cm = 0;
	s->wr.op = OP_NONE;
	return 2;
}

static int
machine_run(lua_State *P, lua_State *T, struct tsock *s)
{
	int rc;

	if (s->gai_err != 0)
		return machine_fail(P, s, sock_gai_word(s->gai_err, s->gai_sys));
	if (s->cm & CM_BIND) {
		if (!(s->cm & CM_RESOLVED)) {
			rc = machine_resolve(T, s, s->bidx, 1);
			if (rc == W_LOOKUP)
				return rc;
			if (rc != 0)
				return machine_fail(P, s, sock_gai_word(rc, errno));
		}
		rc = machine_bind(s);
		machine_free_res(s);
		if (rc != 0)
			return machine_fail(P, s, sock_strerror(rc));
		s->cm &= ~CM_BIND;
	}
	if (s->cm & CM_LISTEN) {
		if (listen(s->fd, s->backlog) < 0)
			return machine_fail(P, s, sock_strerror(errno));
		tsock_setkind(P, T, s, KIND_SERVER);
		s->cm &= ~CM_LISTEN;
	}
	if (s->cm & CM_CONNECT) {
		if (!(s->cm & CM_RESOLVED)) {
			rc = machine_resolve(T, s, 2, 0);
			if (rc == W_LOOKUP)
				return rc;
			if (rc != 0)
				return machine_fail(P, s, sock_gai_word(rc, errno));
		}
		if (s->flags & F_CONNECTING) {
			int err = 0;
			socklen_t len = sizeof(err);

			if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err,
						&len) < 0)
				err = errno;
			if (err == EINPROGRESS || err == EALREADY)
				return W_WRITE;
			s->flags &= ~F_CONNECTING;
			if (err == 0) {
				rc = 0;
			} else {
				s->cerr = err;
				if (s->flags & F_OWNFD)
					tsock_dropfd(s);
				s->cur = s->cur->ai_next;
				rc = machine_connect(s);
			}
		} else {
			rc = machine_connect(s);
		}
		if (rc == W_WRITE)
			return rc;
		machine_free_res(s);
		if (rc != 0)
			return machine_fail(P, s, sock_strerror(rc));
		s->flags &= ~(F_OWNFD | F_EOF | F_DRAINED);
		tsock_setkind(P, T, s, KIND_CLIENT);
		s->cm &= ~CM_CONNECT;
	}
	if (s->cm & CM_SELF) {
		lua_pushvalue(T, 1);
		if (P != T)
			lua_xmove(T, P, 1);
	} else {
		lua_pushnumber(P, 1);
	}
	s->cm = 0;
	s->wr.op = OP_NONE;
	return 1;
}

/* the machine's wait ends (deadline, cancel, close, settimeout) */
static int
machine_cancel(struct lem_wait *w, lua_State *T)
{
	struct tsock *s = ((struct side *)w)->s;

	(void)T;
	machine_reset(s);
	/* a connect cut short leaves nothing half-open behind */
	if (s->flags & F_CONNECTING)
		tsock_dropfd(s);
	else if (s->flags & F_OWNFD)
		tsock_dropfd(s);
	if ((s->cm & CM_SELF) && !(s->flags & F_CLOSED))
		tsock_shut(s, 0);
	s->cm = 0;
	s->wr.op = OP_NONE;
	return 0;
}

/* go on waiting for what machine_run asked for (inside a wait) */
static int
machine_wait_more(struct tsock *s, int why)
{
	if (why == W_LOOKUP) {
		ev_io_stop(LEM, &s->wr.io);
		sock_lookup_start(s->lk);
	} else {
		ev_io_start(LEM, &s->wr.io);
	}
	return 0;
}

static int
machine_step(lua_State *P, void *ud)
{
	struct tsock *s = ud;
	int n = machine_run(P, s->wr.w.T, s);

	if (n < 0) {
		machine_wait_more(s, n);
		if (side_rearm(s, &s->wr))
			return machine_fail(P, s, "timeout");
		return 0;
	}
	ev_io_stop(LEM, &s->wr.io);
	ev_timer_stop(LEM, &s->wr.timer);
	return n;
}

static void
machine_lookup_done(struct sock_lookup *lk)
{
	struct tsock *s = lk->owner;

	s->lk = NULL;
	if (lk->err == 0) {
		s->res = s->cur = lk->res;
		lk->res = NULL;
		s->cm |= CM_RESOLVED;
	} else {
		s->gai_err = lk->err;
		s->gai_sys = lk->syserr;
	}
	sock_lookup_free(lk);
	lem_wait_run(&s->wr.w, machine_step, s);
}

/* run the machine for a call; T's stack is laid out for it */
static int
machine_start(lua_State *T, struct tsock *s)
{
	struct side *d = &s->wr;
	const char *why;
	int n, ret;

	luaL_checkstack(T, 8, NULL);
	/* what a call left whose lem_wait() raised (not in a lem coroutine) */
	machine_reset(s);
	if (s->flags & (F_CONNECTING | F_OWNFD))
		tsock_dropfd(s);
	s->cerr = 0;
	side_begin(s, d);
	n = machine_run(T, T, s);
	if (n > 0)
		return n;
	if (side_retry(s, d) == 0)
		return sock_return_later(T, machine_fail(T, s, "timeout"));
	why = sock_cannot_wait(T);
	if (why != NULL)
		return machine_fail(T, s, why);
	ret = lem_wait(T, &d->w, machine_cancel);
	if (!lem_waiting(&d->w)) {
		machine_cancel(&d->w, T);
		return ret;
	}
	d->op = OP_MACHINE;
	machine_wait_more(s, n);
	side_arm(s, d);
	return ret;
}

/* sock:connect(host, port) */
static int
tcp_connect(lua_State *T)
{
	struct tsock *s = tsock_check(T, M_ANY, "tcp{any} expected");

	lem_checkcstring(T, 2);
	sock_port_check(T, 3);
	if (s->flags & F_CLOSED)
		return lem_closed(T);
	if (s->kind != KIND_MASTER)
		return lem_error(T, "already connected");
	if (lem_waiting(&s->wr.w))
		return lem_busy(T);
	lua_settop(T, 3);
	s->cm = CM_CONNECT;
	return machine_start(T, s);
}

/* sock:bind(host, port) */
static int
tcp_bind(lua_State *T)
{
	struct tsock *s = tsock_check(T, M_MASTER, "tcp{master} expected");

	lem_checkcstring(T, 2);
	sock_port_check(T, 3);
	if (s->flags & F_CLOSED)
		return lem_closed(T);
	if (lem_waiting(&s->wr.w))
		return lem_busy(T);
	lua_settop(T, 3);
	s->cm = CM_BIND;
	s->bidx = 2;
	return machine_start(T, s);
}

static int
backlog_arg(lua_State *T, int idx)
{
	lua_Number b = luaL_optnumber(T, idx, 32);

	if (!(b >= 0))
		return 0;
	return b > 65535 ? 65535 : (int)b;
}

/* sock:listen([backlog]) */
static int
tcp_listen(lua_State *T)
{
	struct tsock *s = tsock_check(T, M_MASTER, "tcp{master} expected");
	int backlog = backlog_arg(T, 2), err;

	if (s->flags & F_CLOSED)
		return lem_closed(T);
	if (lem_waiting(&s->wr.w))
		return lem_busy(T);
	if (s->fd < 0) {
		err = tsock_open(s, s->family == AF_INET6 ? AF_INET6 : AF_INET);
		if (err != 0)
			return sock_error(T, err);
	}
	if (listen(s->fd, backlog) < 0)
		return sock_error(T, errno);
	lua_settop(T, 1);
	tsock_setkind(T, T, s, KIND_SERVER);
	lua_pushnumber(T, 1);
	return 1;
}

/* ------------------------------------------------------------- accept */

static void
acc_stop(struct tsock *s)
{
	ev_io_stop(LEM, &s->rd.io);
	ev_timer_stop(LEM, &s->rd.timer);
	s->rd.op = OP_NONE;
}

static int
acc_cancel(struct lem_wait *w, lua_State *T)
{
	(void)T;
	acc_stop(((struct side *)w)->s);
	return 0;
}

/* a new client on P, nil and a message, or 0: nothing to accept yet */
static int
acc_run(lua_State *P, struct tsock *s)
{
	struct tsock *c = tsock_new(P, KIND_CLIENT, s->family);

	for (;;) {
		int fd = accept4(s->fd, NULL, NULL,
				SOCK_NONBLOCK | SOCK_CLOEXEC);
		int err, one = 1;

		if (fd >= 0) {
			c->fd = fd;
			c->fdfamily = s->fdfamily;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
					sizeof(one));
			ev_io_set(&c->rd.io, fd, EV_READ);
			ev_io_set(&c->wr.io, fd, EV_WRITE);
			return 1;
		}
		err = errno;
		if (err == EINTR || err == ECONNABORTED || err == EPROTO)
			continue;
		lua_pop(P, 1);          /* the unused object is garbage */
		if (err == EAGAIN || err == EWOULDBLOCK)
			return 0;
		return sock_error(P, err);
	}
}

static int
acc_step(lua_State *P, void *ud)
{
	struct tsock *s = ud;
	int n = acc_run(P, s);

	if (n == 0) {
		if (side_rearm(s, &s->rd)) {
			acc_stop(s);
			return lem_error(P, "timeout");
		}
		return 0;
	}
	acc_stop(s);
	return n;
}

/* server:accept() */
static int
tcp_accept(lua_State *T)
{
	struct tsock *s = tsock_check(T, M_SERVER, "tcp{server} expected");
	struct side *d = &s->rd;
	const char *why;
	int n, ret;

	if (s->flags & F_CLOSED)
		return lem_closed(T);
	if (lem_waiting(&d->w))
		return lem_busy(T);
	lua_settop(T, 1);
	luaL_checkstack(T, 8, NULL);
	n = acc_run(T, s);
	if (n > 0)
		return n;
	side_begin(s, d);
	if (side_retry(s, d) == 0)
		return sock_return_later(T, lem_error(T, "timeout"));
	why = sock_cannot_wait(T);
	if (why != NULL)
		return lem_error(T, why);
	ret = lem_wait(T, &d->w, acc_cancel);
	if (lem_waiting(&d->w)) {
		d->op = OP_ACCEPT;
		ev_io_start(LEM, &d->io);
		side_arm(s, d);
	}
	return ret;
}

/* ---------------------------------------------------------- callbacks */

static void
rd_io_cb(EV_P_ struct ev_io *io, int revents)
{
	struct side *d = io->data;
	struct tsock *s = d->s;

	(void)revents;
	switch (d->op) {
	case OP_RECEIVE:
		s->flags &= ~F_DRAINED;
		lem_wait_run(&d->w, rx_step, s);
		break;
	case OP_ACCEPT:
		lem_wait_run(&d->w, acc_step, s);
		break;
	default:
		ev_io_stop(EV_A_ io);
	}
}

static void
rd_timer_cb(EV_P_ struct ev_timer *t, int revents)
{
	struct side *d = t->data;

	(void)EV_A;
	(void)revents;
	if (d->op == OP_RECEIVE)
		lem_wait_run(&d->w, rx_timeout_step, d->s);
	else
		lem_wait_fail(&d->w, "timeout");
}

static void
wr_io_cb(EV_P_ struct ev_io *io, int revents)
{
	struct side *d = io->data;

	(void)revents;
	switch (d->op) {
	case OP_SEND:
		tx_continue(d->s);
		break;
	case OP_MACHINE:
		lem_wait_run(&d->w, machine_step, d->s);
		break;
	default:
		ev_io_stop(EV_A_ io);
	}
}

static void
wr_timer_cb(EV_P_ struct ev_timer *t, int revents)
{
	struct side *d = t->data;

	(void)EV_A;
	(void)revents;
	lem_wait_fail(&d->w, "timeout");
}

/* ------------------------------------------------------ other methods */

/* sock:close() */
static int
tcp_close(lua_State *T)
{
	struct tsock *s = tsock_check(T, M_ANY, "tcp{any} expected");

	if (!(s->flags & F_CLOSED))
		tsock_shut(s, 0);
	lua_pushnumber(T, 1);
	return 1;
}

static int
tcp__gc(lua_State *T)
{
	struct tsock *s = tsock_check(T, M_ANY, "tcp{any} expected");

	if (!(s->flags & F_CLOSED))
		tsock_shut(s, 1);
	return 0;
}

static int
tcp__tostring(lua_State *T)
{
	struct tsock *s = tsock_check(T, M_ANY, "tcp{any} expected");

	lua_pushfstring(T, "%s: %p", class_names[s->kind], (void *)s);
	return 1;
}

/* sock:shutdown([how]) */
static int
tcp_shutdown(lua_State *T)
{
	static const char *const hows[] = { "both", "send", "receive", NULL };
	static const int how_v[] = { SHUT_RDWR, SHUT_WR, SHUT_RD };
	struct tsock *s = tsock_check(T, M_CLIENT, "tcp{client} expected");
	int how = luaL_checkoption(T, 2, "both", hows);

	if (s->flags & F_CLOSED)
		return lem_closed(T);
	shutdown(s->fd, how_v[how]);
	lua_pushnumber(T, 1);
	return 1;
}

int
sock_push_address(lua_State *T, const struct sockaddr_storage *ss,
		socklen_t len, int port_string)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	int rc = getnameinfo((const struct sockaddr *)ss, len, host,
			sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV);

	if (rc != 0)
		return lem_error(T, sock_gai_word(rc, errno));
	lua_pushstring(T, host);
	if (port_string)
		lua_pushstring(T, serv);
	else
		lua_pushinteger(T, atoi(serv));
	lua_pushstring(T, ss->ss_family == AF_INET6 ? "inet6" : "inet");
	return 3;
}

/* sock:getpeername(): address, port (a number), family */
static int
tcp_getpeername(lua_State *T)
{
	struct tsock *s = tsock_check(T, M_ANY, "tcp{any} expected");
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (s->flags & F_CLOSED)
		return lem_closed(T);
	if (getpeername(s->fd, (struct sockaddr *)&ss, &len) < 0)
		return lem_strerror(T, errno);
	return sock_push_address(T, &ss, len, 0);
}

/* sock:getsockname(): address, port (a string, as LuaSocket), family */
static int
tcp_getsockname(lua_State *T)
{
	struct tsock *s = tsock_check(T, M_ANY, "tcp{any} expected");
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (s->flags & F_CLOSED)
		return lem_closed(T);
	if (getsockname(s->fd, (struct sockaddr *)&ss, &len) < 0)
		return lem_strerror(T, errno);
	return sock_push_address(T, &ss, len, 1);
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

/* sock:setoption(name, value) */
static int
tcp_setoption(lua_State *T)
{
	struct tsock *s = tsock_check(T, M_ANY, "tcp{any} expected");
	int o = opt_check(T, 2);
	unsigned int bit = 1u << o;

	if (o == O_LINGER) {
		lua_Number t;

		luaL_checktype(T, 3, LUA_TTABLE);
		lua_getfield(T, 3, "on");
		if (!lua_isboolean(T, -1))
			return luaL_argerror(T, 3,
					"boolean 'on' field expected");
		s->linger.l_onoff = lua_toboolean(T, -1);
		lua_getfield(T, 3, "timeout");
		if (!lua_isnumber(T, -1))
			return luaL_argerror(T, 3,
					"number 'timeout' field expected");
		t = lua_tonumber(T, -1);
		s->linger.l_linger = !(t > 0) ? 0 :
			t > INT_MAX ? INT_MAX : (int)t;
	} else {
		if (!lua_isboolean(T, 3))
			return luaL_typerror(T, 3, "boolean");
		if (lua_toboolean(T, 3))
			s->opt_val |= bit;
		else
			s->opt_val &= ~bit;
	}
	if (s->flags & F_CLOSED)
		return lem_closed(T);
	s->opt_set |= bit;
	if (s->fd >= 0 && opt_apply(s, o) < 0)
		return lem_error(T, "setsockopt failed");
	lua_pushnumber(T, 1);
	return 1;
}

/* sock:getoption(name) */
static int
tcp_getoption(lua_State *T)
{
	struct tsock *s = tsock_check(T, M_ANY, "tcp{any} expected");
	int o = opt_check(T, 2);

	if (s->flags & F_CLOSED)
		return lem_closed(T);
	if (o == O_LINGER) {
		struct linger l = s->linger;
		socklen_t len = sizeof(l);

		if (s->fd >= 0 && getsockopt(s->fd, SOL_SOCKET, SO_LINGER,
					&l, &len) < 0)
			return lem_error(T, "getsockopt failed");
		lua_createtable(T, 0, 2);
		lua_pushboolean(T, l.l_onoff);
		lua_setfield(T, -2, "on");
		lua_pushinteger(T, l.l_linger);
		lua_setfield(T, -2, "timeout");
		return 1;
	}
	if (s->fd >= 0) {
		static const int level[] = { SOL_SOCKET, SOL_SOCKET, SOL_SOCKET,
			IPPROTO_TCP, IPPROTO_IPV6 };
		static const int name[] = { SO_KEEPALIVE, SO_REUSEADDR,
#ifdef SO_REUSEPORT
			SO_REUSEPORT,
#else
			-1,
#endif
			TCP_NODELAY, IPV6_V6ONLY };
		int v = 0;
		socklen_t len = sizeof(v);

		if (name[o] < 0 || getsockopt(s->fd, level[o], name[o], &v,
					&len) < 0)
			return lem_error(T, "getsockopt failed");
		lua_pushboolean(T, v);
		return 1;
	}
	lua_pushboolean(T, (s->opt_val >> o) & 1);
	return 1;
}

/* a number of seconds for settimeout: < 0 and infinity mean none */
double
sock_timeout_norm(lua_Number t)
{
	return (t < 0 || isinf(t)) ? -1 : (double)t;
}

/* sock:settimeout(value[, mode]) */
static int
tcp_settimeout(lua_State *T)
{
	struct tsock *s = tsock_check(T, M_ANY, "tcp{any} expected");
	lua_Number t = luaL_optnumber(T, 2, -1);
	const char *mode = luaL_optstring(T, 3, "b");

	if (t != t)
		return luaL_argerror(T, 2, "number expected, got NaN");
	switch (*mode) {
	case 'b':
		s->tb = t;
		s->nb = sock_timeout_norm(t);
		break;
	case 'r':
	case 't':
		s->tt = t;
		s->nt = sock_timeout_norm(t);
		break;
	default:
		return luaL_argerror(T, 3, "invalid timeout mode");
	}
	lua_pushnumber(T, 1);
	return 1;
}

/* sock:gettimeout(): block, total */
static int
tcp_gettimeout(lua_State *T)
{
	struct tsock *s = tsock_check(T, M_ANY, "tcp{any} expected");

	lua_pushnumber(T, s->tb);
	lua_pushnumber(T, s->tt);
	return 2;
}

/* sock:getstats(): received, sent, age */
static int
tcp_getstats(lua_State *T)
{
	struct tsock *s = tsock_check(T, M_CLIENT, "tcp{client} expected");

	lua_pushnumber(T, s->received);
	lua_pushnumber(T, s->sent);
	lua_pushnumber(T, sock_gettime() - s->birthday);
	return 3;
}

/* sock:setstats(received, sent, age) */
static int
tcp_setstats(lua_State *T)
{
	struct tsock *s = tsock_check(T, M_CLIENT, "tcp{client} expected");

	s->received = luaL_optnumber(T, 2, s->received);
	s->sent = luaL_optnumber(T, 3, s->sent);
	if (lua_isnumber(T, 4))
		s->birthday = sock_gettime() - lua_tonumber(T, 4);
	lua_pushnumber(T, 1);
	return 1;
}

/* sock:dirty(): are received bytes waiting in the buffer? */
static int
tcp_dirty(lua_State *T)
{
	struct tsock *s = tsock_check(T, M_ANY, "tcp{any} expected");

	lua_pushboolean(T, lem_buf_len(&s->in) > 0);
	return 1;
}

static int
tcp_getfd(lua_State *T)
{
	struct tsock *s = tsock_check(T, M_ANY, "tcp{any} expected");

	lua_pushnumber(T, s->fd);
	return 1;
}

static int
tcp_getfamily(lua_State *T)
{
	struct tsock *s = tsock_check(T, M_ANY, "tcp{any} expected");
	int f = s->fd >= 0 ? s->fdfamily : s->family;

	lua_pushstring(T, f == AF_INET6 ? "inet6" : "inet4");
	return 1;
}

static const luaL_Reg tcp_methods[] = {
	{ "accept",      tcp_accept },
	{ "bind",        tcp_bind },
	{ "close",       tcp_close },
	{ "connect",     tcp_connect },
	{ "dirty",       tcp_dirty },
	{ "getfamily",   tcp_getfamily },
	{ "getfd",       tcp_getfd },
	{ "getoption",   tcp_getoption },
	{ "getpeername", tcp_getpeername },
	{ "getsockname", tcp_getsockname },
	{ "getstats",    tcp_getstats },
	{ "gettimeout",  tcp_gettimeout },
	{ "listen",      tcp_listen },
	{ "receive",     tcp_receive },
	{ "send",        tcp_send },
	{ "setoption",   tcp_setoption },
	{ "setpeername", tcp_connect },
	{ "setsockname", tcp_bind },
	{ "setstats",    tcp_setstats },
	{ "settimeout",  tcp_settimeout },
	{ "shutdown",    tcp_shutdown },
	{ NULL, NULL }
};

/* ---------------------------------------------------------- functions */

static int
new_tcp(lua_State *T, int family)
{
	struct tsock *s = tsock_new(T, KIND_MASTER, family);
	int err;

	if (family == AF_UNSPEC)
		return 1;       /* the descriptor comes with connect or bind */
	err = tsock_open(s, family);
	if (err != 0) {
		s->flags |= F_CLOSED;
		return sock_error(T, err);
	}
	return 1;
}

/* socket.tcp(), socket.tcp4(), socket.tcp6() */
static int
socket_tcp(lua_State *T)
{
	return new_tcp(T, AF_UNSPEC);
}

static int
socket_tcp4(lua_State *T)
{
	return new_tcp(T, AF_INET);
}

static int
socket_tcp6(lua_State *T)
{
	return new_tcp(T, AF_INET6);
}

/* socket.connect(host, port[, localhost[, localport[, family]]]) */
static int
socket_connect(lua_State *T)
{
	static const char *const fams[] = { "unspec", "inet", "inet6", NULL };
	static const int fam_v[] = { AF_UNSPEC, AF_INET, AF_INET6 };
	int bind, family;
	struct tsock *s;

	lem_checkcstring(T, 1);
	sock_port_check(T, 2);
	bind = !lua_isnoneornil(T, 3);
	if (bind)
		lem_checkcstring(T, 3);
	if (bind && !lua_isnoneornil(T, 4))
		sock_port_check(T, 4);
	family = fam_v[luaL_checkoption(T, 5, "unspec", fams)];
	lua_settop(T, 5);
	if (bind && lua_isnil(T, 4)) {
		lua_pushliteral(T, "0");
		lua_replace(T, 4);
	}
	s = tsock_new(T, KIND_MASTER, family);
	lua_insert(T, 1);       /* obj, host, port, lhost, lport, family */
	s->cm = CM_CONNECT | CM_SELF | (bind ? CM_BIND : 0);
	s->bidx = 4;
	return machine_start(T, s);
}

/* socket.bind(host, port[, backlog]): a server */
static int
socket_bind(lua_State *T)
{
	struct tsock *s;
	int backlog;

	lem_checkcstring(T, 1);
	sock_port_check(T, 2);
	backlog = backlog_arg(T, 3);
	lua_settop(T, 3);
	if (strcmp(lua_tostring(T, 1), "*") == 0) {
		lua_pushliteral(T, "0.0.0.0");  /* as LuaSocket's socket.bind */
		lua_replace(T, 1);
	}
	s = tsock_new(T, KIND_MASTER, AF_UNSPEC);
	lua_insert(T, 1);       /* obj, host, port, backlog */
	s->opt_set |= 1u << O_REUSEADDR;
	s->opt_val |= 1u << O_REUSEADDR;
	s->cm = CM_BIND | CM_LISTEN | CM_SELF;
	s->bidx = 2;
	s->backlog = backlog;
	return machine_start(T, s);
}

/* socket.skip(d, ...): the values after the first d */
static int
socket_skip(lua_State *T)
{
	lua_Number d = luaL_checknumber(T, 1);
	int top = lua_gettop(T);

	if (!(d < top))                 /* NaN too */
		return 0;
	if (d < -1)
		d = -1;
	return top - (int)d - 1;
}

/* socket.gettime() */
static int
socket_gettime(lua_State *T)
{
	lua_pushnumber(T, sock_gettime());
	return 1;
}

/* socket.sleep(seconds): a wait of its own */
struct nap {
	struct lem_wait w;
	struct ev_timer timer;
};

static int
nap_cancel(struct lem_wait *w, lua_State *T)
{
	(void)T;
	ev_timer_stop(LEM, &((struct nap *)w)->timer);
	return 0;
}

static void
nap_timer_cb(EV_P_ struct ev_timer *t, int revents)
{
	struct nap *z = t->data;
	lua_State *T = lem_wait_end(&z->w);

	(void)EV_A;
	(void)revents;
	if (T != NULL)
		lem_queue(T, 0);
}

static int
socket_sleep(lua_State *T)
{
	lua_Number secs = luaL_checknumber(T, 1);
	struct lem_wait w0 = LEM_WAIT_INIT;
	struct nap *z;
	int ret;

	if (secs != secs)
		return luaL_argerror(T, 1, "number expected, got NaN");
	lua_settop(T, 1);
	if (secs <= 0) {                /* yields once, returns nothing */
		ret = lem_suspend(T);
		lem_queue(T, 0);
		return ret;
	}
	z = lua_newuserdata(T, sizeof(struct nap));   /* stays on T's stack */
	z->w = w0;
	ev_timer_init(&z->timer, nap_timer_cb, 0, 0);
	z->timer.data = z;
	ret = lem_wait(T, &z->w, nap_cancel);
	if (lem_waiting(&z->w) && !isinf(secs)) {
		ev_now_update(LEM);
		ev_timer_set(&z->timer, secs, 0);
		ev_timer_start(LEM, &z->timer);
	}
	return ret;
}

/* socket.dns.toip(host): address, { name =, alias = {}, ip = {} } */
struct dnsq {
	struct lem_wait w;
	struct sock_lookup *lk;
};

static int
dnsq_cancel(struct lem_wait *w, lua_State *T)
{
	struct dnsq *q = (struct dnsq *)w;

	(void)T;
	if (q->lk != NULL)
		sock_lookup_abandon(q->lk);
	q->lk = NULL;
	return 0;
}

static int
toip_step(lua_State *P, void *ud)
{
	struct sock_lookup *lk = ud;
	struct dnsq *q = lk->owner;
	lua_State *T = q->w.T;
	struct addrinfo *ai;
	char ip[NI_MAXHOST];
	int n = 0;

	if (lk->err != 0) {
		if (lk->err == EAI_NONAME || lk->err == EAI_FAMILY ||
#ifdef EAI_NODATA
				lk->err == EAI_NODATA ||
#endif
#ifdef EAI_ADDRFAMILY
				lk->err == EAI_ADDRFAMILY ||
#endif
				lk->err == EAI_FAIL)
			return lem_error(P, "host not found");
		return lem_error(P, sock_gai_word(lk->err, lk->syserr));
	}
	lua_pushnil(P);                 /* the first address, below */
	lua_createtable(P, 0, 3);
	if (lk->name[0] != '\0')
		lua_pushstring(P, lk->name);
	else if (lk->res->ai_canonname != NULL)
		lua_pushstring(P, lk->res->ai_canonname);
	else {
		lua_pushvalue(T, 1);
		lua_xmove(T, P, 1);
	}
	lua_setfield(P, -2, "name");
	lua_newtable(P);
	lua_setfield(P, -2, "alias");
	lua_newtable(P);
	for (ai = lk->res; ai != NULL; ai = ai->ai_next) {
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, ip, sizeof(ip),
					NULL, 0, NI_NUMERICHOST) != 0)
			continue;
		if (n == 0) {
			lua_pushstring(P, ip);
			lua_replace(P, -4);
		}
		lua_pushstring(P, ip);
		lua_rawseti(P, -2, ++n);
	}
	lua_setfield(P, -2, "ip");
	if (n == 0)
		return lem_error(P, "host not found");
	return 2;
}

static void
toip_done(struct sock_lookup *lk)
{
	struct dnsq *q = lk->owner;

	q->lk = NULL;
	lem_wait_run(&q->w, toip_step, lk);
	sock_lookup_free(lk);
}

static int
dns_toip(lua_State *T)
{
	const char *host = lem_checkcstring(T, 1);
	struct lem_wait w0 = LEM_WAIT_INIT;
	struct addrinfo hints;
	struct in_addr a4;
	struct dnsq *q;
	const char *why;
	int ret;

	lua_settop(T, 1);
	luaL_checkstack(T, 8, NULL);
	why = sock_cannot_wait(T);
	if (why != NULL)
		return lem_error(T, why);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;      /* as LuaSocket's gethostbyname */
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_CANONNAME;
	q = lua_newuserdata(T, sizeof(struct dnsq));  /* stays on T's stack */
	q->w = w0;
	q->lk = NULL;
	ret = lem_wait(T, &q->w, dnsq_cancel);
	if (!lem_waiting(&q->w))
		return ret;
	q->lk = sock_lookup_new(host, NULL, &hints);
	if (q->lk == NULL) {
		lem_wait_fail(&q->w, "memory allocation failure");
		return ret;
	}
	q->lk->owner = q;
	q->lk->finish = toip_done;
	/* an address literal: LuaSocket gives its name too */
	q->lk->reverse = inet_aton(host, &a4) != 0;
	sock_lookup_start(q->lk);
	return ret;
}

/* socket.dns.gethostname() */
static int
dns_gethostname(lua_State *T)
{
	char name[257];

	if (gethostname(name, sizeof(name) - 1) < 0)
		return lem_strerror(T, errno);
	name[sizeof(name) - 1] = '\0';
	lua_pushstring(T, name);
	return 1;
}

/* ------------------------------------------------------------- module */

/*
 * The Lua part: LuaSocket's helpers that need no descriptor, and
 * patch_luasocket.  Its protect() runs the function under lem's pcall,
 * which the function can be suspended across (also on plain Lua 5.1),
 * and turns the errors raised by a try() (tables of one metatable) into
 * nil, message, as LuaSocket's own does.
 */
static const char glue[] =
	"local M, pcall, error, type, getmetatable, setmetatable, select,\n"
	"  require, debug = ...\n"
	"-- LuaSocket's try() errors hide their metatable (__metatable)\n"
	"getmetatable = type(debug) == 'table' and debug.getmetatable or\n"
	"  getmetatable\n"
	"local function protector(mt)\n"
	"  local function finish(ok, ...)\n"
	"    if ok then return ... end\n"
	"    local e = ...\n"
	"    if type(e) == 'table' and getmetatable(e) == mt then\n"
	"      return nil, e[1]\n"
	"    end\n"
	"    error(e, 0)\n"
	"  end\n"
	"  return function(f)\n"
	"    return function(...) return finish(pcall(f, ...)) end\n"
	"  end\n"
	"end\n"
	"local wrapped = {}\n"
	"function M.newtry(finalizer)\n"
	"  return function(...)\n"
	"    if not (...) then\n"
	"      if finalizer then finalizer() end\n"
	"      error(setmetatable({ (select(2, ...)) }, wrapped), 0)\n"
	"    end\n"
	"    return ...\n"
	"  end\n"
	"end\n"
	"M.protect = protector(wrapped)\n"
	"M.try = M.newtry()\n"
	"function M.connect4(host, port, lhost, lport)\n"
	"  return M.connect(host, port, lhost, lport, 'inet')\n"
	"end\n"
	"function M.connect6(host, port, lhost, lport)\n"
	"  return M.connect(host, port, lhost, lport, 'inet6')\n"
	"end\n"
	"local patched = setmetatable({}, { __mode = 'k' })\n"
	"function M.patch_luasocket()\n"
	"  local ok, ls = pcall(require, 'socket')\n"
	"  if not ok then return nil, ls end\n"
	"  if type(ls) ~= 'table' or type(ls.newtry) ~= 'function' then\n"
	"    return nil, 'socket is not LuaSocket'\n"
	"  end\n"
	"  if patched[ls.protect] then return true end\n"
	"  local _, e = pcall(ls.newtry(), nil, 'probe')\n"
	"  local mt = type(e) == 'table' and getmetatable(e)\n"
	"  if not mt then return nil, 'unknown LuaSocket try()' end\n"
	"  ls.protect = protector(mt)\n"
	"  patched[ls.protect] = true\n"
	"  return true\n"
	"end\n";

static const luaL_Reg socket_functions[] = {
	{ "tcp",     socket_tcp },
	{ "tcp4",    socket_tcp4 },
	{ "tcp6",    socket_tcp6 },
	{ "connect", socket_connect },
	{ "bind",    socket_bind },
	{ "gettime", socket_gettime },
	{ "sleep",   socket_sleep },
	{ "skip",    socket_skip },
	{ NULL, NULL }
};

int
luaopen_lem_socket(lua_State *T)
{
	static int registered;
	const luaL_Reg *r;
	int k, top;

	/* lem never unloads a C module: the buffers still holding bytes at
	 * exit (some objects are never finalized) are freed after lua_close */
	if (!registered && atexit(lem_buf_release_all) == 0)
		registered = 1;

	if (pcall_ref == LUA_NOREF) {
		lua_getglobal(T, "pcall");
		pcall_ref = luaL_ref(T, LUA_REGISTRYINDEX);
		lua_getglobal(T, "xpcall");
		xpcall_ref = luaL_ref(T, LUA_REGISTRYINDEX);
	}

	/* three metatables, and one __index table for each (its class) */
	top = lua_gettop(T);
	for (k = 0; k < 3; k++) {
		char name[32];

		snprintf(name, sizeof(name), "lem.socket.%s", class_names[k]);
		/* loaded again: the same metatables, old objects work */
		luaL_newmetatable(T, name);             /* top + 1 + k */
		if (mt_ref[k] == LUA_NOREF) {
			lua_pushvalue(T, -1);
			mt_ref[k] = luaL_ref(T, LUA_REGISTRYINDEX);
		}
	}
	for (k = 0; k < 3; k++) {
		lua_newtable(T);                        /* top + 4 + k */
		lua_pushstring(T, class_names[k]);
		lua_setfield(T, -2, "class");
	}
	for (r = tcp_methods; r->name != NULL; r++) {
		lua_pushvalue(T, top + 1);
		lua_pushvalue(T, top + 2);
		lua_pushvalue(T, top + 3);
		lua_pushcclosure(T, r->func, 3);
		for (k = 0; k < 3; k++) {
			lua_pushvalue(T, -1);
			lua_setfield(T, top + 4 + k, r->name);
		}
		lua_pop(T, 1);
	}
	for (k = 0; k < 3; k++) {
		lua_pushvalue(T, top + 4 + k);
		lua_setfield(T, top + 1 + k, "__index");
		lua_pushvalue(T, top + 1);
		lua_pushvalue(T, top + 2);
		lua_pushvalue(T, top + 3);
		lua_pushcclosure(T, tcp__gc, 3);
		lua_setfield(T, top + 1 + k, "__gc");
		lua_pushvalue(T, top + 1);
		lua_pushvalue(T, top + 2);
		lua_pushvalue(T, top + 3);
		lua_pushcclosure(T, tcp__tostring, 3);
		lua_setfield(T, top + 1 + k, "__tostring");
	}
	lua_settop(T, top);

	lua_newtable(T);
	luaL_register(T, NULL, socket_functions);
	udp_open(T);
	lua_createtable(T, 0, 2);
	lua_pushcfunction(T, dns_toip);
	lua_setfield(T, -2, "toip");
	lua_pushcfunction(T, dns_gethostname);
	lua_setfield(T, -2, "gethostname");
	lua_setfield(T, -2, "dns");
	lua_pushliteral(T, "lem.socket " PACKAGE_VERSION);
	lua_setfield(T, -2, "_VERSION");
	for (k = 0; k < 3; k++) {
		/* socket.master, .client, .server: the metatables */
		static const char *const f[] = { "master", "client", "server" };

		lua_rawgeti(T, LUA_REGISTRYINDEX, mt_ref[k]);
		lua_setfield(T, -2, f[k]);
	}

	if (luaL_loadbuffer(T, glue, sizeof(glue) - 1, "=lem.socket") != 0)
		return lua_error(T);
	lua_pushvalue(T, -2);
	lua_getglobal(T, "pcall");
	lua_getglobal(T, "error");
	lua_getglobal(T, "type");
	lua_getglobal(T, "getmetatable");
	lua_getglobal(T, "setmetatable");
	lua_getglobal(T, "select");
	lua_getglobal(T, "require");
	lua_getglobal(T, "debug");
	lua_call(T, 9, 0);
	return 1;
}
