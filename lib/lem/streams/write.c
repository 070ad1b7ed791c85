/*
 * write.c - stream:write(), and corking for the writes of TCP streams.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "streams.h"

#include <errno.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

/* the data string stays on the waiting coroutine's stack */
static int
write_step(lua_State *P, struct stream *s)
{
	while (s->u.wr.len > 0) {
		ssize_t n = write(s->w.fd, s->u.wr.data, s->u.wr.len);

		if (n > 0) {
			s->u.wr.data += n;
			s->u.wr.len -= (size_t)n;
			s->u.wr.sent += (size_t)n;
			/* a short write to a socket or pipe: it is full */
			if (s->u.wr.len > 0 && !(s->flags & SF_REGULAR))
				return 0;
			continue;
		}
		if (n < 0) {
			int r = stream_write_error(P, s, errno);

			if (r >= 0)
				return r;
		}
	}
	lua_pushboolean(P, 1);
	return 1;
}

/* cut short: nil, word, the bytes written */
static int
write_cut(struct stream *s, lua_State *T)
{
	lua_pushnumber(T, (lua_Number)s->u.wr.sent);
	return 1;
}

static const struct stream_op write_op = { write_step, EV_WRITE, NULL, write_cut };

/* stream:write(data) */
int
stream_write(lua_State *T)
{
	struct stream *s = stream_check(T);
	size_t len;
	const char *data = luaL_checklstring(T, 2, &len);

	lua_settop(T, 2);       /* data stays here while T waits */
	if (lem_waiting(&s->wait))
		return lem_busy(T);
	if (!(s->flags & SF_OPEN))
		return lem_closed(T);
	s->u.wr.data = data;
	s->u.wr.len = len;
	s->u.wr.sent = 0;
	return stream_start(T, s, &write_op);
}

static int
stream_setcork(lua_State *T, int on)
{
	struct stream *s = stream_check(T);

	if (lem_waiting(&s->wait))
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
int
stream_cork(lua_State *T)
{
	return stream_setcork(T, 1);
}

/* stream:uncork() */
int
stream_uncork(lua_State *T)
{
	return stream_setcork(T, 0);
}
