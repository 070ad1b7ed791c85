/*
 * core.c - lem.streams: opening files, pipes to commands and TCP
 * connections and servers; the module table.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "streams.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>

/* ------------------------------------------------------------ open */

/* streams.open(path[, mode]) */
static int
streams_open(lua_State *T)
{
	const char *path = luaL_checkstring(T, 1);
	const char *mode = luaL_optstring(T, 2, "r");
	const char *m = mode;
	int flags, fd;
	unsigned char sf = 0;
	struct stat st;
	struct stream *s;

	switch (*m++) {
	case 'r': flags = O_RDONLY; break;
	case 'w': flags = O_WRONLY | O_CREAT | O_TRUNC; break;
	case 'a': flags = O_WRONLY | O_CREAT | O_APPEND; break;
	default:  return luaL_argerror(T, 2, "invalid mode");
	}
	if (*m == '+') {
		flags = (flags & ~O_WRONLY) | O_RDWR;
		m++;
	}
	if (*m == 'b')
		m++;
	if (*m != '\0')
		return luaL_argerror(T, 2, "invalid mode");
	lua_settop(T, 2);
	s = stream_new(T);      /* closed until the descriptor is there */
	/* non-blocking from the start: a FIFO without a reader says ENXIO */
	fd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0666);
	if (fd < 0)
		return lem_strerror(T, errno);
	if (fstat(fd, &st) < 0) {
		int err = errno;

		close(fd);
		return lem_strerror(T, err);
	}
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
		sf = SF_REGULAR;
	else if (S_ISFIFO(st.st_mode) && (flags & O_ACCMODE) != O_WRONLY)
		/* until a writer came, read() on a FIFO says end of file:
		 * wait for readiness before the first read */
		sf = SF_DRAINED;
	stream_setfd(s, fd, sf);
	return 1;
}

/* ------------------------------------------------------------ popen */

/*
 * Children of popen are reaped by a SIGCHLD watcher that calls
 * waitpid() on our own pids only (io.popen and os.execute wait for
 * theirs).  lem runs its own libev loop, so ev_child is not available.
 * The watcher does not keep lem running: a child still running when the
 * program ends is inherited and reaped by init.
 */
struct child {
	pid_t pid;
	struct child *next;
};
static struct child *children;
static struct ev_signal sigchld;

static void
sigchld_cb(EV_P_ struct ev_signal *w, int revents)
{
	struct child **p = &children;

	(void)revents;
	while (*p != NULL) {
		struct child *c = *p;
		pid_t r = waitpid(c->pid, NULL, WNOHANG);

		if (r == c->pid || (r < 0 && errno == ECHILD)) {
			*p = c->next;
			free(c);
		} else {
			p = &c->next;
		}
	}
	if (children == NULL) {
		ev_ref(EV_A);
		ev_signal_stop(EV_A_ w);
	}
}

static void
child_watch_start(void)
{
	if (ev_is_active(&sigchld))
		return;
	ev_signal_init(&sigchld, sigchld_cb, SIGCHLD);
	ev_signal_start(LEM, &sigchld);
	ev_unref(LEM);
}

/* in the child, between fork and exec: async-signal-safe calls only */
static void
child_exec(const char *cmd, int fd, int target)
{
	struct sigaction sa;
	sigset_t none;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (fd == target) {
		int fl = fcntl(fd, F_GETFD);

		if (fl >= 0)
			fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
	} else if (dup2(fd, target) < 0) {
		_exit(127);
	}
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

/* streams.popen(cmd[, mode]) */
static int
streams_popen(lua_State *T)
{
	const char *cmd = luaL_checkstring(T, 1);
	const char *mode = luaL_optstring(T, 2, "r");
	struct stream *s;
	struct child *c;
	int fds[2], reading, err;
	pid_t pid;

	if ((mode[0] != 'r' && mode[0] != 'w') ||
			(mode[1] != '\0' && (mode[1] != 'b' || mode[2] != '\0')))
		return luaL_argerror(T, 2, "invalid mode");
	reading = mode[0] == 'r';
	lua_settop(T, 2);
	s = stream_new(T);
	c = malloc(sizeof(struct child));
	if (c == NULL)
		return lem_strerror(T, ENOMEM);
	if (pipe2(fds, O_CLOEXEC) < 0) {
		err = errno;
		goto error;
	}
	child_watch_start();
	pid = fork();
	if (pid == 0) {
		if (reading)
			child_exec(cmd, fds[1], 1);
		else
			child_exec(cmd, fds[0], 0);
	}
	if (pid < 0) {
		err = errno;
		close(fds[0]);
		close(fds[1]);
		goto error;
	}
	c->pid = pid;
	c->next = children;
	children = c;
	if (reading) {
		close(fds[1]);
		fds[1] = fds[0];
	} else {
		close(fds[0]);
	}
	if (stream_set_nonblock(fds[1]) < 0) {
		err = errno;
		close(fds[1]);
		return lem_strerror(T, err);
	}
	stream_setfd(s, fds[1], 0);
	return 1;
error:
	free(c);
	return lem_strerror(T, err);
}

/* -------------------------------------------------------------- TCP */

/*
 * A connect in progress.  It lives outside the stream because a name
 * lookup running in a worker thread needs it until it reports back, even
 * if the stream is gone by then (s == NULL).
 */
struct connect_req {
	struct lem_async a;
	struct stream *s;
	struct addrinfo *res, *cur;
	int gai_err;
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

/* The stream goes away while its connect is pending (lem exits). */
void
stream_connect_forget(struct stream *s)
{
	struct connect_req *req = s->u.req;

	s->u.req = NULL;
	if (req->resolving)
		req->s = NULL;          /* the lookup still runs: done() frees */
	else
		connect_req_free(req);
}

/* port argument: a number 0-65535 or a service name */
static const char *
checkport(lua_State *T, int idx, char *buf, int *numeric)
{
	if (lua_type(T, idx) == LUA_TNUMBER) {
		lua_Number p = lua_tonumber(T, idx);

		if (!(p >= 0 && p <= 65535) || p != (lua_Number)(int)p)
			luaL_argerror(T, idx, "port out of range");
		snprintf(buf, 8, "%d", (int)p);
		*numeric = 1;
		return buf;
	}
	*numeric = 0;
	return luaL_checkstring(T, idx);
}

/*
 * Try the addresses in turn.  Pushes the connected stream (or nil and
 * the error of the last address) and returns the count, or returns 0
 * while a connect is in progress on w.fd (wait for EV_WRITE).
 */
int
stream_connect_step(lua_State *T, struct stream *s)
{
	struct connect_req *req = s->u.req;
	int n;

	if (s->flags & SF_OPEN) {
		/* the connect in progress has finished, one way or another */
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(s->w.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err == 0)
			goto connected;
		if (err == EINPROGRESS || err == EALREADY)
			return 0;
		ev_io_stop(LEM, &s->w);
		close(s->w.fd);
		ev_io_set(&s->w, -1, 0);
		s->flags = 0;
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
			ev_io_set(&s->w, fd, EV_WRITE);
			return 0;
		}
		req->err = errno;
		close(fd);
	}
	n = req->err ? req->err : EADDRNOTAVAIL;
	s->u.req = NULL;
	connect_req_free(req);
	return lem_strerror(T, n);
connected:
	s->u.req = NULL;
	connect_req_free(req);
	ev_io_stop(LEM, &s->w);
	ev_io_set(&s->w, s->w.fd, 0);
	lua_pushvalue(T, CONNECT_STREAM_IDX);
	return 1;
}

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
}

static void
resolve_done(struct lem_async *a)
{
	struct connect_req *req = (struct connect_req *)a;
	struct stream *s = req->s;
	lua_State *T;
	int n;

	req->resolving = 0;
	if (s == NULL) {                /* nobody waits any more */
		connect_req_free(req);
		return;
	}
	T = s->w.data;
	if (req->gai_err != 0) {
		lua_pushnil(T);
		lua_pushstring(T, req->gai_err == EAI_SYSTEM ?
				strerror(errno) : gai_strerror(req->gai_err));
		s->u.req = NULL;
		connect_req_free(req);
		n = 2;
	} else {
		req->cur = req->res;
		n = stream_connect_step(T, s);
		if (n == 0) {
			ev_io_start(LEM, &s->w);
			return;
		}
	}
	s->w.data = NULL;
	s->op = OP_NONE;
	lem_queue(T, n);
}

/* streams.tcp_connect(host, port) */
static int
streams_tcp_connect(lua_State *T)
{
	const char *host = luaL_checkstring(T, 1);
	char pbuf[8];
	int numeric, rc, n, ret;
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
	req->gai_err = -1;
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
	s->u.req = req;
	s->op = OP_CONNECT;
	if (rc == 0) {
		req->gai_err = 0;
		req->cur = req->res;
		n = stream_connect_step(T, s);
		if (n > 0) {
			s->op = OP_NONE;
			return n;
		}
		ret = lem_suspend(T);
		s->w.data = T;
		ev_io_start(LEM, &s->w);
		return ret;
	}
	req->res = NULL;
	if (rc != EAI_NONAME) {
		s->op = OP_NONE;
		s->u.req = NULL;
		connect_req_free(req);
		return lem_error(T, gai_strerror(rc));
	}
	ret = lem_suspend(T);
	s->w.data = T;
	req->resolving = 1;
	lem_async_run(&req->a, resolve_work, resolve_done);
	return ret;
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

/* streams.tcp_listen(address, port) */
static int
streams_tcp_listen(lua_State *T)
{
	const char *addr = luaL_checkstring(T, 1);
	char pbuf[8];
	int numeric, fd = -1, err = EADDRNOTAVAIL, rc;
	const char *port = checkport(T, 2, pbuf, &numeric);
	struct server *srv;

	lua_settop(T, 2);
	srv = server_new(T);
	if (strcmp(addr, "*") == 0 && numeric) {
		/* every address: one IPv6 socket taking IPv4 too, or IPv4 */
		struct sockaddr_in6 s6;
		struct sockaddr_in s4;

		memset(&s6, 0, sizeof(s6));
		s6.sin6_family = AF_INET6;
		s6.sin6_addr = in6addr_any;
		s6.sin6_port = htons(atoi(port));
		fd = listen_on((struct sockaddr *)&s6, sizeof(s6), 1);
		/* IPv4 alone only where the system has no IPv6 */
		if (fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
			memset(&s4, 0, sizeof(s4));
			s4.sin_family = AF_INET;
			s4.sin_addr.s_addr = htonl(INADDR_ANY);
			s4.sin_port = htons(atoi(port));
			fd = listen_on((struct sockaddr *)&s4, sizeof(s4), 0);
		}
		if (fd < 0)
			err = errno;
	} else {
		struct addrinfo hints, *res, *ai;

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE;
		rc = getaddrinfo(strcmp(addr, "*") ? addr : NULL, port,
				&hints, &res);
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

/* ----------------------------------------------------------- module */

static const luaL_Reg streams_functions[] = {
	{ "open",        streams_open },
	{ "popen",       streams_popen },
	{ "tcp_connect", streams_tcp_connect },
	{ "tcp_listen",  streams_tcp_listen },
	{ "sendfile",    streams_sendfile },
	{ NULL, NULL }
};

/*
 * lua_close() runs every finalizer and then unloads this module; the
 * records of children still running would be unreachable from then on
 * (a leak for LeakSanitizer and valgrind).  A sentinel made by
 * luaopen_lem_streams frees them from its __gc, which runs before the
 * unload: finalizers run in reverse order of creation.
 */
static int
streams_unload(lua_State *T)
{
	(void)T;
	while (children != NULL) {
		struct child *c = children;

		children = c->next;
		free(c);
	}
	if (ev_is_active(&sigchld)) {
		ev_ref(LEM);
		ev_signal_stop(LEM, &sigchld);
	}
	return 0;
}

int
luaopen_lem_streams(lua_State *T)
{
	lua_newuserdata(T, 1);
	lua_newtable(T);
	lua_pushcfunction(T, streams_unload);
	lua_setfield(T, -2, "__gc");
	lua_setmetatable(T, -2);
	lua_setfield(T, LUA_REGISTRYINDEX, "lem.streams.unload");

	streams_internal_register(T);
	lua_newtable(T);
	luaL_register(T, NULL, streams_functions);
	stream_open_methods(T);
	lua_setfield(T, -2, "Stream");   /* streams.Stream = mt */
	server_open_methods(T);
	lua_setfield(T, -2, "Server");
	sendfile_open_methods(T);
	lua_setfield(T, -2, "SendFile");
	return 1;
}
