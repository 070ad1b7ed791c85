/*
 * addr.c - what the sockets of lem.streams share: port arguments,
 * options tables, name lookups in a worker thread, binding, and
 * addresses as Lua values (stream:address(), stream:peer()).
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "streams.h"

#include <assert.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/un.h>

/* ------------------------------------------------------------ ports */

/*
 * port argument: a number 0-65535, or a string.  A string that Lua reads
 * as a number is that number, with the same check (tcp_listen(addr,
 * '70000') raises as 70000 does); any other string is a service name.
 * buf must hold 8 bytes.
 */
const char *
streams_checkport(lua_State *T, int idx, char *buf, int *numeric)
{
	lua_Number p;

	if (lua_type(T, idx) != LUA_TNUMBER) {
		/* before lua_isnumber, which would read '80\0x' as 80 */
		const char *name = lem_checkcstring(T, idx);

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

/* the port number of a service name; 0 or a getaddrinfo error */
int
streams_service_port(const char *name, int socktype, int *port)
{
	struct addrinfo hints, *res;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = socktype;
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

/* ---------------------------------------------------- options tables */

/*
 * The options table at idx (nil or none: no options): every key must be
 * one of names (a list ending in NULL), so that a misspelt option raises
 * instead of being ignored.
 */
void
streams_checkoptions(lua_State *T, int idx, const char *const names[])
{
	if (lua_isnoneornil(T, idx))
		return;
	luaL_checktype(T, idx, LUA_TTABLE);
	lua_pushnil(T);
	while (lua_next(T, idx) != 0) {
		const char *const *n;

		lua_pop(T, 1);
		if (lua_type(T, -1) == LUA_TSTRING) {
			size_t len;
			const char *key = lua_tolstring(T, -1, &len);

			/* by length: a key 'backlog\0x' is no option either */
			for (n = names; *n != NULL; n++)
				if (strlen(*n) == len &&
						memcmp(*n, key, len) == 0)
					break;
			if (*n != NULL)
				continue;
			lua_pushfstring(T, "unknown option '%s'", key);
		} else {
			lua_pushfstring(T, "unknown option (a %s key)",
					luaL_typename(T, -1));
		}
		luaL_argerror(T, idx, lua_tostring(T, -1));
	}
}

/* options[name] as a boolean; def when absent; anything else raises */
int
streams_optboolean(lua_State *T, int idx, const char *name, int def)
{
	int v = def;

	if (lua_isnoneornil(T, idx))
		return def;
	lua_getfield(T, idx, name);
	if (lua_type(T, -1) == LUA_TBOOLEAN)
		v = lua_toboolean(T, -1);
	else if (!lua_isnil(T, -1)) {
		lua_pushfstring(T, "option '%s': boolean expected, got %s",
				name, luaL_typename(T, -1));
		luaL_argerror(T, idx, lua_tostring(T, -1));
	}
	lua_pop(T, 1);
	return v;
}

/* options[name] as an integer min..max; def when absent */
int
streams_optinteger(lua_State *T, int idx, const char *name, int def,
		int min, int max)
{
	lua_Number n;

	if (lua_isnoneornil(T, idx))
		return def;
	lua_getfield(T, idx, name);
	if (lua_isnil(T, -1)) {
		lua_pop(T, 1);
		return def;
	}
	if (lua_type(T, -1) != LUA_TNUMBER) {
		lua_pushfstring(T, "option '%s': number expected, got %s",
				name, luaL_typename(T, -1));
		luaL_argerror(T, idx, lua_tostring(T, -1));
	}
	n = lua_tonumber(T, -1);
	if (!(n >= min && n <= max) || n != (lua_Number)(int)n) {
		lua_pushfstring(T, "option '%s' out of range", name);
		luaL_argerror(T, idx, lua_tostring(T, -1));
	}
	lua_pop(T, 1);
	return (int)n;
}

/* ----------------------------------------------------------- lookups */

struct lookup *
lookup_new(const char *host, const char *port, int socktype, int flags)
{
	size_t hl = strlen(host), pl = strlen(port);
	struct lookup *lk = malloc(sizeof(struct lookup) + hl + pl + 2);

	if (lk == NULL)
		return NULL;
	memset(lk, 0, sizeof(*lk));
	lk->socktype = socktype;
	lk->flags = flags;
	lk->host = lk->names;
	memcpy(lk->host, host, hl + 1);
	lk->port = lk->names + hl + 1;
	memcpy(lk->port, port, pl + 1);
	return lk;
}

static void
lookup_free(struct lookup *lk)
{
	if (lk->res != NULL)
		freeaddrinfo(lk->res);
	free(lk);
}

/*
 * An address literal needs no thread and no waiting: 1 when answered now
 * (res, or gai_err), 0 for a name, which lookup_run() looks up.
 */
int
lookup_numeric(struct lookup *lk, int numeric_port)
{
	struct addrinfo hints;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = lk->socktype;
	hints.ai_flags = lk->flags | AI_NUMERICHOST |
		(numeric_port ? AI_NUMERICSERV : 0);
	rc = getaddrinfo(lk->host, lk->port, &hints, &lk->res);
	if (rc == EAI_NONAME) {
		lk->res = NULL;
		return 0;
	}
	if (rc != 0) {
		lk->res = NULL;
		lk->sys_err = errno;
	}
	lk->gai_err = rc;
	return 1;
}

static void
lookup_work(struct lem_async *a)
{
	struct lookup *lk = (struct lookup *)a;
	struct addrinfo hints;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = lk->socktype;
	hints.ai_flags = lk->flags | AI_ADDRCONFIG;
	lk->res = NULL;
	lk->gai_err = getaddrinfo(lk->host, lk->port, &hints, &lk->res);
	lk->sys_err = errno;
	if (lk->gai_err != 0)
		lk->res = NULL;
}

static void
lookup_back(struct lem_async *a)
{
	struct lookup *lk = (struct lookup *)a;

	assert(lk->running);
	lk->running = 0;
	if (lk->done == NULL) {         /* nobody waits any more */
		lookup_free(lk);
		return;
	}
	lk->done(lk);
}

/* look the name up in a worker thread; done(lk) runs in the loop */
void
lookup_run(struct lookup *lk, void (*done)(struct lookup *lk), void *ud)
{
	assert(!lk->running && done != NULL);
	lk->done = done;
	lk->ud = ud;
	lk->running = 1;
	lem_async_run(&lk->a, lookup_work, lookup_back);
}

/* whoever asked is done with it (or gives up) */
void
lookup_drop(struct lookup *lk)
{
	if (lk == NULL)
		return;
	if (lk->running)
		lk->done = NULL;        /* lookup_back frees it */
	else
		lookup_free(lk);
}

/* nil and what getaddrinfo said */
int
lookup_error(lua_State *T, const struct lookup *lk)
{
	assert(lk->gai_err != 0);
	if (lk->gai_err == EAI_SYSTEM)
		return lem_strerror(T, lk->sys_err);
	return lem_error(T, gai_strerror(lk->gai_err));
}

/* ----------------------------------------------------------- binding */

/*
 * A socket bound to sa (IPv6 taking IPv4 too if dual), listening if
 * o->backlog >= 0: its descriptor, or -errno.
 */
int
streams_bind(const struct sockaddr *sa, socklen_t len, int dual,
		const struct bind_opts *o)
{
	int fd, one = 1, zero = 0, err;

	fd = socket(sa->sa_family, o->socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	if (fd < 0)
		return -errno;
	if (o->reuseaddr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR,
				&one, sizeof(one)) < 0)
		goto error;
#ifdef STREAMS_REUSEPORT
	if (o->reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT,
				&one, sizeof(one)) < 0)
		goto error;
#else
	assert(!o->reuseport);
#endif
	if (dual && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
				&zero, sizeof(zero)) < 0)
		goto error;
	if (bind(fd, sa, len) < 0)
		goto error;
	/* the kernel caps the backlog at net.core.somaxconn */
	if (o->backlog >= 0 && listen(fd, o->backlog) < 0)
		goto error;
	return fd;
error:
	err = errno;
	close(fd);
	return -err;
}

/*
 * Every address ('*'): one IPv6 socket taking IPv4 too, or IPv4 where
 * the system has no IPv6.  The descriptor, or -errno.
 */
int
streams_bind_any(int port, const struct bind_opts *o)
{
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;
	int fd;

	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_addr = in6addr_any;
	s6.sin6_port = htons(port);
	fd = streams_bind((struct sockaddr *)&s6, sizeof(s6), 1, o);
	if (fd != -EAFNOSUPPORT && fd != -EADDRNOTAVAIL)
		return fd;
	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_addr.s_addr = htonl(INADDR_ANY);
	s4.sin_port = htons(port);
	return streams_bind((struct sockaddr *)&s4, sizeof(s4), 0, o);
}

/* --------------------------------------------------------- addresses */

/*
 * IP addresses as text, without the sprintf() that glibc's inet_ntop()
 * makes for each part: a datagram server formats one per datagram.  The
 * text is inet_ntop's (RFC 5952: lowercase hex, the longest run of two
 * or more zero groups as '::', the first of equal runs; ::ffff:a.b.c.d
 * for IPv4-mapped addresses).  Both return the length written to out.
 */
static size_t
format_ipv4(const unsigned char *a, char *out)
{
	char *o = out;
	int i;

	for (i = 0; i < 4; i++) {
		unsigned int v = a[i];

		if (i > 0)
			*o++ = '.';
		if (v >= 100)
			*o++ = (char)('0' + v / 100);
		if (v >= 10)
			*o++ = (char)('0' + v / 10 % 10);
		*o++ = (char)('0' + v % 10);
	}
	*o = '\0';
	return (size_t)(o - out);
}

static size_t
format_ipv6(const unsigned char *a, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned int w[8];
	int i, best = -1, bestlen = 0, cur = -1, curlen = 0;
	char *o = out;

	for (i = 0; i < 8; i++) {
		w[i] = (unsigned int)a[2 * i] << 8 | a[2 * i + 1];
		if (w[i] != 0) {
			cur = -1;
			continue;
		}
		if (cur < 0) {
			cur = i;
			curlen = 0;
		}
		if (++curlen > bestlen) {
			best = cur;
			bestlen = curlen;
		}
	}
	if (bestlen < 2)
		best = -1;
	for (i = 0; i < 8; i++) {
		unsigned int v = w[i];
		int shift;

		if (best >= 0 && i >= best && i < best + bestlen) {
			if (i == best)
				*o++ = ':';
			continue;
		}
		if (i != 0)
			*o++ = ':';
		if (i == 6 && best == 0 && (bestlen == 6 ||
				(bestlen == 5 && w[5] == 0xffff)))
			return (size_t)(o - out) + format_ipv4(a + 12, o);
		for (shift = 12; shift > 0 && (v >> shift) == 0; shift -= 4)
			;
		for (; shift >= 0; shift -= 4)
			*o++ = hex[(v >> shift) & 0xf];
	}
	if (best >= 0 && best + bestlen == 8)
		*o++ = ':';
	*o = '\0';
	return (size_t)(o - out);
}

/*
 * Push an address as Lua values: an IP address (text) and a port (a
 * number), or one string for a Unix-domain socket: its path, '@name' in
 * the abstract namespace, '' when it has no name.  Returns how many.
 */
int
streams_pushaddr(lua_State *T, const struct sockaddr *sa, socklen_t len)
{
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];

	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		size_t n = format_ipv4((const unsigned char *)&in->sin_addr,
				host);

		lua_pushlstring(T, host, n);
		lua_pushnumber(T, ntohs(in->sin_port));
		return 2;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)sa;
		size_t n = format_ipv6(in6->sin6_addr.s6_addr, host);

		if (in6->sin6_scope_id != 0) {
			/* fe80::1%eth0, as getaddrinfo() reads it back */
			char ifname[IF_NAMESIZE];

			if (if_indextoname(in6->sin6_scope_id, ifname) != NULL)
				snprintf(host + n, sizeof(host) - n, "%%%s",
						ifname);
			else
				snprintf(host + n, sizeof(host) - n, "%%%u",
						(unsigned)in6->sin6_scope_id);
			n = strlen(host);
		}
		lua_pushlstring(T, host, n);
		lua_pushnumber(T, ntohs(in6->sin6_port));
		return 2;
	}
	case AF_UNIX: {
		const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t n = len > off ? len - off : 0;

		if (n > sizeof(un->sun_path))
			n = sizeof(un->sun_path);
		if (n == 0) {
			lua_pushliteral(T, "");
		} else if (un->sun_path[0] == '\0') {
			/* abstract: every byte of the name counts */
			lua_pushliteral(T, "@");
			lua_pushlstring(T, un->sun_path + 1, n - 1);
			lua_concat(T, 2);
		} else {
			size_t l = 0;

			while (l < n && un->sun_path[l] != '\0')
				l++;
			lua_pushlstring(T, un->sun_path, l);
		}
		return 1;
	}
	default:
		return lem_strerror(T, EAFNOSUPPORT);
	}
}

/*
 * An IPv4 address in its usual form (four decimal parts, 0-255, no
 * leading zeros) into *a: 1, else 0 (inet_pton() reads the rest).
 */
int
streams_parse_ipv4(const char *s, unsigned char *a)
{
	int i;

	for (i = 0; i < 4; i++) {
		unsigned int v;

		if (*s < '0' || *s > '9')
			return 0;
		v = (unsigned int)(*s++ - '0');
		if (v != 0) {
			if (*s >= '0' && *s <= '9')
				v = v * 10 + (unsigned int)(*s++ - '0');
			if (*s >= '0' && *s <= '9')
				v = v * 10 + (unsigned int)(*s++ - '0');
		}
		if (v > 255 || *s++ != (i < 3 ? '.' : '\0'))
			return 0;
		a[i] = (unsigned char)v;
	}
	return 1;
}

/* the local (or the peer's) address of socket fd, pushed */
int
streams_sockname(lua_State *T, int fd, int peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int rc;

	memset(&ss, 0, sizeof(ss));
	if (peer)
		rc = getpeername(fd, (struct sockaddr *)&ss, &len);
	else
		rc = getsockname(fd, (struct sockaddr *)&ss, &len);
	if (rc < 0)
		return lem_strerror(T, errno);
	return streams_pushaddr(T, (struct sockaddr *)&ss, len);
}

/* stream:address() */
int
stream_address(lua_State *T)
{
	struct stream *s = stream_check(T);

	if (!(s->flags & SF_OPEN))
		return lem_closed(T);
	return streams_sockname(T, s->w.fd, 0);
}

/* stream:peer() */
int
stream_peer(lua_State *T)
{
	struct stream *s = stream_check(T);

	if (!(s->flags & SF_OPEN))
		return lem_closed(T);
	return streams_sockname(T, s->w.fd, 1);
}
