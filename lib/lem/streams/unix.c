/*
 * unix.c - Unix-domain stream sockets: streams.unix_connect,
 * streams.unix_listen (the socket file's mode, the stale-file rule,
 * unlinking only what was made) and stream:credentials().
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "streams.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/un.h>

/* unix_connect waits this long at first while a listener's backlog is
 * full, twice as long each time after, up to the most */
#define RETRY_FIRST 0.001
#define RETRY_MOST  0.1

/* the socket file a server made, for close() to unlink */
struct unix_name {
	dev_t dev;
	ino_t ino;
	pid_t pid;              /* who made it: not a child that inherited it */
	char path[];
};

/* a unix_connect waiting for room in the listener's backlog */
struct unix_retry {
	struct ev_timer timer;
	struct stream *s;
	ev_tstamp delay;
	char path[];
};

/* where unix_connect keeps its stream on the waiting coroutine's stack */
#define UNIX_STREAM_IDX 2

/* ---------------------------------------------------------- addresses */

/*
 * The address of path: a file name, or with abstract set '@name' for
 * the Linux abstract namespace (a zero byte, then the name; no file,
 * gone when the socket closes).  0, or -ENAMETOOLONG when sun_path
 * cannot hold it (107 bytes and a zero byte for a file name), -ENOENT
 * for ''.
 */
int
unix_addr(const char *path, int abstract, struct sockaddr_storage *ss,
		socklen_t *len)
{
	struct sockaddr_un *sa = (struct sockaddr_un *)ss;
	size_t n = strlen(path);

	assert(sizeof(*ss) >= sizeof(*sa));
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (abstract) {
		assert(path[0] == '@');
		if (n > sizeof(sa->sun_path))
			return -ENAMETOOLONG;
		memcpy(sa->sun_path + 1, path + 1, n - 1);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
		return 0;
	}
	if (n == 0)
		return -ENOENT;
	if (n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, n + 1);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

/*
 * A new socket connected to path: 0 and *fd, or -errno.  An AF_UNIX
 * connect() does not wait on Linux: it succeeds or fails at once, with
 * EAGAIN while the listener's backlog is full.  Shared with
 * streams.open(), which reports that as it is.
 */
int
unix_connect_fd(const char *path, int abstract, int *fd)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int rc = unix_addr(path, abstract, &ss, &len), s, err;

	if (rc < 0)
		return rc;
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	do {
		rc = connect(s, (struct sockaddr *)&ss, len);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		err = errno;
		close(s);
		return -err;
	}
	*fd = s;
	return 0;
}

/* -------------------------------------------------------- unix_connect */

static void
retry_timer_cb(EV_P_ struct ev_timer *w, int revents)
{
	struct unix_retry *r = (struct unix_retry *)
		((char *)w - offsetof(struct unix_retry, timer));

	(void)EV_A;
	(void)revents;
	stream_continue(r->s);
}

/*
 * The connect operation while the backlog is full: try again when the
 * timer has run out.  There is no event to wait for (poll() on a socket
 * that is not connected says at once that it hung up), hence the timer.
 */
static int
unix_connect_step(lua_State *P, struct stream *s)
{
	struct unix_retry *r = s->u.ux;
	lua_State *T;
	int fd, rc;

	if (ev_is_active(&r->timer))
		return 0;
	if (r->delay > 0) {
		rc = unix_connect_fd(r->path, r->path[0] == '@', &fd);
		if (rc == 0) {
			stream_setfd(s, fd, 0);
			T = s->wait.T != NULL ? s->wait.T : P;
			lua_pushvalue(T, UNIX_STREAM_IDX);
			if (T != P)
				lua_xmove(T, P, 1);
			return 1;
		}
		if (rc != -EAGAIN)
			return lem_strerror(P, -rc);
	}
	r->delay = r->delay > 0 ? r->delay * 2 : RETRY_FIRST;
	if (r->delay > RETRY_MOST)
		r->delay = RETRY_MOST;
	ev_timer_set(&r->timer, r->delay, 0);
	ev_timer_start(LEM, &r->timer);
	return 0;
}

static void
unix_connect_end(struct stream *s)
{
	struct unix_retry *r = s->u.ux;

	ev_timer_stop(LEM, &r->timer);
	free(r);
	s->u.ux = NULL;
}

static const struct stream_op unix_connect_op = {
	unix_connect_step, 0, unix_connect_end, NULL
};

/* streams.unix_connect(path) */
int
streams_unix_connect(lua_State *T)
{
	const char *path = lem_checkcstring(T, 1);
	struct unix_retry *r;
	struct stream *s;
	size_t len;
	int fd, rc;

	lua_settop(T, 1);
	s = stream_new(T);      /* UNIX_STREAM_IDX: closed until connected */
	rc = unix_connect_fd(path, path[0] == '@', &fd);
	if (rc == 0) {
		stream_setfd(s, fd, 0);
		return 1;
	}
	if (rc != -EAGAIN)
		return lem_strerror(T, -rc);
	/* the listener is there but its backlog is full: wait for room, as
	 * a blocking connect() would (deadlines and cancel end it) */
	len = strlen(path);
	r = malloc(sizeof(struct unix_retry) + len + 1);
	if (r == NULL)
		return lem_strerror(T, ENOMEM);
	ev_timer_init(&r->timer, retry_timer_cb, 0, 0);
	r->s = s;
	r->delay = 0;
	memcpy(r->path, path, len + 1);
	s->u.ux = r;
	return stream_start(T, s, &unix_connect_op);
}

/* --------------------------------------------------------- unix_listen */

/* the mode argument: an octal string such as '0660'; -1 if none */
static int
checkmode(lua_State *T, int idx)
{
	const char *m;
	size_t len, i;
	unsigned int v = 0;

	if (lua_isnoneornil(T, idx))
		return -1;
	if (lua_type(T, idx) != LUA_TSTRING)
		return luaL_argerror(T, idx, "invalid mode (an octal string "
				"such as '0660')");
	m = lua_tolstring(T, idx, &len);
	if (len == 0 || len > 5)
		goto bad;
	for (i = 0; i < len; i++) {
		if (m[i] < '0' || m[i] > '7')
			goto bad;
		v = v * 8 + (unsigned int)(m[i] - '0');
	}
	if (v > 07777)
		goto bad;
	return (int)v;
bad:
	return luaL_argerror(T, idx, "invalid mode (an octal string such as "
			"'0660')");
}

/*
 * Bind fd to path.  If something is there already, only a socket that
 * refuses connections (its server is gone: a stale file) is removed and
 * the bind tried again; a live socket, one that cannot be tried (no
 * permission) or any other file stays: -EADDRINUSE.  A name in the
 * abstract namespace is never stale.  0 or -errno.
 */
static int
unix_bind(int fd, const char *path, const struct sockaddr_storage *ss,
		socklen_t len)
{
	struct stat st, again;
	int probe, rc, tries;

	for (tries = 0; tries < 2; tries++) {
		if (bind(fd, (const struct sockaddr *)ss, len) == 0)
			return 0;
		/* after one replacement, whatever is there now stays */
		if (errno != EADDRINUSE || path[0] == '@' || tries > 0)
			return -errno;
		if (lstat(path, &st) < 0) {
			if (errno == ENOENT)
				continue;       /* gone meanwhile: bind again */
			return -EADDRINUSE;
		}
		if (!S_ISSOCK(st.st_mode))
			return -EADDRINUSE;
		rc = unix_connect_fd(path, 0, &probe);
		if (rc == 0) {
			close(probe);   /* somebody answers: live */
			return -EADDRINUSE;
		}
		if (rc != -ECONNREFUSED)
			return -EADDRINUSE;
		/* stale; unless it was replaced since we looked */
		if (lstat(path, &again) < 0 || again.st_dev != st.st_dev ||
				again.st_ino != st.st_ino)
			return -EADDRINUSE;
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
	}
	return -EADDRINUSE;
}

/* unlink the file srv made, if it is still the one it made */
void
unix_name_release(struct server *srv)
{
	struct unix_name *un = srv->ux;
	struct stat st;

	if (un == NULL)
		return;
	srv->ux = NULL;
	if (un->pid == getpid() && lstat(un->path, &st) == 0 &&
			S_ISSOCK(st.st_mode) && st.st_dev == un->dev &&
			st.st_ino == un->ino)
		(void)unlink(un->path);
	free(un);
}

static const char *const unix_listen_options[] = { "backlog", NULL };

/*
 * streams.unix_listen(path[, mode[, options]])
 *
 * The mode is applied with chmod() between bind() and listen(): before
 * listen() every connect() to the socket is refused, so there is no
 * moment in which anybody could connect through wider permissions than
 * asked for.  (fchmod() on the socket does not reach the file on Linux,
 * and umask() would change the mask of the whole process, worker threads
 * included.)  chmod() follows a symbolic link put in the socket's place
 * meanwhile, which takes the right to rename in its directory: whoever
 * has that can replace the socket anyway.
 */
int
streams_unix_listen(lua_State *T)
{
	const char *path = lem_checkcstring(T, 1);
	int mode = checkmode(T, 2), backlog, fd = -1, rc, err;
	struct sockaddr_storage ss;
	socklen_t len;
	struct unix_name *un = NULL;
	struct server *srv;
	struct stat st;

	if (mode >= 0 && path[0] == '@')
		return luaL_argerror(T, 2, "an abstract socket has no mode");
	streams_checkoptions(T, 3, unix_listen_options);
	backlog = streams_optinteger(T, 3, "backlog", 511, 0, 0x7fffffff);
	lua_settop(T, 3);
	srv = server_new(T);
	rc = unix_addr(path, path[0] == '@', &ss, &len);
	if (rc < 0)
		return lem_strerror(T, -rc);
	if (path[0] != '@') {
		size_t n = strlen(path);

		un = malloc(sizeof(struct unix_name) + n + 1);
		if (un == NULL)
			return lem_strerror(T, ENOMEM);
		memcpy(un->path, path, n + 1);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		goto error;
	}
	rc = unix_bind(fd, path, &ss, len);
	if (rc < 0) {
		err = -rc;
		goto error;
	}
	if (un != NULL) {
		if (lstat(path, &st) < 0) {
			err = errno;
			goto error;
		}
		un->dev = st.st_dev;
		un->ino = st.st_ino;
		un->pid = getpid();
		srv->ux = un;   /* from now on, unix_name_release() unlinks */
		un = NULL;
		if (mode >= 0 && chmod(path, (mode_t)mode) < 0) {
			err = errno;
			goto error;
		}
	}
	if (listen(fd, backlog) < 0) {
		err = errno;
		goto error;
	}
	if (srv->ux != NULL && (lstat(path, &st) < 0 ||
				st.st_dev != srv->ux->dev ||
				st.st_ino != srv->ux->ino)) {
		/* another server starting at the same moment found our file
		 * before we listened, took it for stale and replaced it: that
		 * one has the path now */
		err = EADDRINUSE;
		free(srv->ux);
		srv->ux = NULL;
		goto error;
	}
	server_setfd(srv, fd);
	return 1;
error:
	unix_name_release(srv);
	free(un);
	if (fd >= 0)
		close(fd);
	return lem_strerror(T, err);
}

/* ----------------------------------------------------------- methods */

/* stream:credentials(): pid, uid and gid of the peer of a Unix stream */
int
stream_credentials(lua_State *T)
{
	struct stream *s = stream_check(T);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (!(s->flags & SF_OPEN))
		return lem_closed(T);
	if (getsockname(s->w.fd, (struct sockaddr *)&ss, &len) < 0)
		return lem_strerror(T, errno);
	if (ss.ss_family != AF_UNIX)
		return lem_error(T, "not supported");
#ifdef SO_PEERCRED
	{
		struct ucred cr;

		len = sizeof(cr);
		if (getsockopt(s->w.fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
			return lem_strerror(T, errno);
		lua_pushnumber(T, (lua_Number)cr.pid);
		lua_pushnumber(T, (lua_Number)cr.uid);
		lua_pushnumber(T, (lua_Number)cr.gid);
		return 3;
	}
#else
	return lem_error(T, "not supported");
#endif
}
