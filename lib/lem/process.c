/*
 * process.c - lem.process: running programs (posix_spawn), their pipes
 * as lem Streams, waiting for them to end (pidfd, else SIGCHLD), sending
 * them signals; process.run in Lua on top.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * Every child has a record (struct child) from the moment it runs until
 * it has been reaped and its Process object is gone, so that a child
 * whose object was collected is still reaped: no zombies.  A child is
 * reaped as soon as it ends, whether anybody waits or not, and only with
 * waitpid() on its own pid: children that lem did not start (io.popen,
 * os.execute, lem.streams' popen) keep their statuses for their owners.
 * The end is seen through a pidfd (Linux 5.3) in the loop, which needs no
 * signal and so never fights another library over SIGCHLD; where
 * pidfd_open fails (an older kernel, a seccomp filter, no descriptor
 * left) a SIGCHLD watcher looks at the children without one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "lem.h"
#include "signames.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

#define PROCESS_MT "lem.Process"

extern char **environ;

struct waiter;

/* A child, from posix_spawn until it is reaped and its object is gone. */
struct child {
	pid_t pid;
	int pidfd;              /* -1: watched through SIGCHLD */
	int status;             /* waitpid()'s, once done */
	unsigned char done;     /* reaped */
	unsigned char lost;     /* somebody else reaped it: no status */
	unsigned char group;    /* leads a process group of its own */
	unsigned char orphan;   /* its Process object was collected */
	unsigned char killed;   /* lem sent it SIGKILL */
	struct ev_io io;        /* on pidfd */
	struct waiter *waiters; /* coroutines in p:wait() */
	struct child *prev, *next;      /* children not yet reaped */
};

/* lem.Process: fields pid, stdin, stdout, stderr live in its fenv table */
struct proc {
	struct child *c;        /* NULL: never ran */
};

/* A coroutine in p:wait(); lives on its stack. */
struct waiter {
	struct lem_wait w;      /* first: the cancel hook casts back */
	struct waiter *prev, *next;
	struct child *c;
};

static struct child *running;   /* not yet reaped */
static struct ev_signal sigchld;
static unsigned int sigchld_users;      /* running children without pidfd */
static int no_pidfd;            /* LEM_NO_PIDFD: always through SIGCHLD */

/* ------------------------------------------------------------ reaping */

static void
waiter_unlink(struct waiter *wt)
{
	struct child *c = wt->c;

	if (wt->prev != NULL)
		wt->prev->next = wt->next;
	else if (c->waiters == wt)
		c->waiters = wt->next;
	if (wt->next != NULL)
		wt->next->prev = wt->prev;
	wt->prev = wt->next = NULL;
	ev_unref(LEM);          /* the wait kept lem running */
}

/* what p:wait() returns for an ended child */
static int
push_status(lua_State *T, struct child *c)
{
	char buf[16];

	if (c->lost)
		return lem_strerror(T, ECHILD);
	if (WIFSIGNALED(c->status)) {
		lua_pushliteral(T, "signal");
		lua_pushstring(T, signame_of(WTERMSIG(c->status), buf));
		return 2;
	}
	lua_pushliteral(T, "exit");
	lua_pushinteger(T, WEXITSTATUS(c->status));
	return 2;
}

static int
waiter_step(lua_State *P, void *ud)
{
	return push_status(P, ud);
}

static void
sigchld_release(void)
{
	if (--sigchld_users == 0) {
		ev_ref(LEM);
		ev_signal_stop(LEM, &sigchld);
	}
}

/* c has been reaped (status), or somebody else reaped it (lost) */
static void
child_finish(struct child *c, int status, int lost)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		running = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	if (c->pidfd >= 0) {
		ev_ref(LEM);
		ev_io_stop(LEM, &c->io);
		close(c->pidfd);
		c->pidfd = -1;
	} else {
		sigchld_release();
	}
	c->done = 1;
	c->status = status;
	c->lost = (unsigned char)lost;
	/* every waiter holds the Process on its stack: c stays */
	while (c->waiters != NULL) {
		struct waiter *wt = c->waiters;

		waiter_unlink(wt);
		lem_wait_run(&wt->w, waiter_step, c);
	}
	if (c->orphan)
		free(c);
}

/* reap c if it has ended; 1 if it has */
static int
child_try_reap(struct child *c)
{
	int status = 0;
	pid_t r;

	do {
		r = waitpid(c->pid, &status, WNOHANG);
	} while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0;
	child_finish(c, status, r < 0);
	return 1;
}

static void
pidfd_cb(EV_P_ struct ev_io *io, int revents)
{
	(void)EV_A;
	(void)revents;
	child_try_reap(io->data);
}

static void
sigchld_cb(EV_P_ struct ev_signal *w, int revents)
{
	struct child *c, *next;

	(void)EV_A;
	(void)w;
	(void)revents;
	for (c = running; c != NULL; c = next) {
		next = c->next;
		if (c->pidfd < 0)
			child_try_reap(c);
	}
}

static int
pidfd_open_(pid_t pid)
{
#if HAVE_DECL_SYS_PIDFD_OPEN
	if (!no_pidfd)
		return (int)syscall(SYS_pidfd_open, pid, 0);   /* O_CLOEXEC */
#else
	(void)pid;
#endif
	errno = ENOSYS;
	return -1;
}

/* c runs: watch for its end */
static void
child_watch(struct child *c)
{
	c->prev = NULL;
	c->next = running;
	if (running != NULL)
		running->prev = c;
	running = c;
	c->pidfd = pidfd_open_(c->pid);
	if (c->pidfd >= 0) {
		ev_io_init(&c->io, pidfd_cb, c->pidfd, EV_READ);
		c->io.data = c;
		ev_io_start(LEM, &c->io);
		ev_unref(LEM);  /* only a waiter keeps lem running */
		return;
	}
	if (sigchld_users++ == 0) {
		ev_signal_init(&sigchld, sigchld_cb, SIGCHLD);
		ev_signal_start(LEM, &sigchld);
		ev_unref(LEM);
	}
	/* it may have ended before the watcher was there */
	child_try_reap(c);
}

/* --------------------------------------------------------- arguments */

enum { IO_INHERIT, IO_PIPE, IO_NULL, IO_STREAM, IO_STDOUT };

struct stdio_spec {
	int kind;
	int fd;                 /* IO_STREAM: the stream's, -1 if closed */
};

/* misuse, named after the function (upvalue 3): spawn or run */
static int
arg_error(lua_State *T, int arg, const char *msg)
{
	return luaL_error(T, "bad argument #%d to '%s' (%s)", arg,
			lua_tostring(T, lua_upvalueindex(3)), msg);
}

/* the string at the top of T (a string or a number), checked for zero
 * bytes; what names it for a message */
static const char *
check_cstring(lua_State *T, int arg, const char *what, size_t *len)
{
	const char *s;

	if (lua_type(T, -1) != LUA_TSTRING && lua_type(T, -1) != LUA_TNUMBER)
		arg_error(T, arg, lua_pushfstring(T, "%s is a %s, string expected",
				what, luaL_typename(T, -1)));
	s = lua_tolstring(T, -1, len);
	if (strlen(s) != *len)
		arg_error(T, arg, lua_pushfstring(T, "%s contains a zero byte",
				what));
	return s;
}

/*
 * argv: the strings of the table at 1, copied into one block (a userdata
 * pushed onto T): the pointers, then the bytes.
 */
static char **
build_argv(lua_State *T)
{
	size_t n = 0, total = 0, len, i;
	char **v, *p;
	const char *s;

	/* the highest positive integer key: a hole below it raises (the
	 * length operator may stop at any border) */
	lua_pushnil(T);
	while (lua_next(T, 1)) {
		lua_pop(T, 1);
		if (lua_type(T, -1) == LUA_TNUMBER) {
			lua_Number k = lua_tonumber(T, -1);

			if (k >= 1 && k <= 1e7 && k == (lua_Number)(size_t)k &&
					(size_t)k > n)
				n = (size_t)k;
		}
	}
	if (n == 0)
		arg_error(T, 1, "argv is empty");
	for (i = 1; i <= n; i++) {
		int t;

		lua_rawgeti(T, 1, (int)i);
		t = lua_type(T, -1);
		s = (t == LUA_TSTRING || t == LUA_TNUMBER) ?
			lua_tolstring(T, -1, &len) : NULL;
		if (s == NULL || strlen(s) != len) {
			/* the name for the message, made only now */
			lua_pushfstring(T, "argv[%d]", (int)i);
			lua_insert(T, -2);
			check_cstring(T, 1, lua_tostring(T, -2), &len);
		}
		total += len + 1;
		lua_pop(T, 1);
	}
	v = lua_newuserdata(T, (n + 1) * sizeof(char *) + total);
	p = (char *)(v + n + 1);
	for (i = 1; i <= n; i++) {
		lua_rawgeti(T, 1, (int)i);
		s = lua_tolstring(T, -1, &len);
		memcpy(p, s, len + 1);
		v[i - 1] = p;
		p += len + 1;
		lua_pop(T, 1);
	}
	v[n] = NULL;
	return v;
}

/* envp: "key=value" for the table at idx (string keys), as build_argv;
 * *path is its PATH or NULL */
static char **
build_env(lua_State *T, int idx, const char **path)
{
	size_t n = 0, total = 0, kl, vl;
	char **v, *p;
	const char *k, *s;

	lua_pushnil(T);
	while (lua_next(T, idx)) {
		if (lua_type(T, -2) != LUA_TSTRING)
			arg_error(T, 2, lua_pushfstring(T,
				"env has a %s key, string expected",
				luaL_typename(T, -2)));
		k = lua_tolstring(T, -2, &kl);
		if (kl == 0 || strlen(k) != kl || strchr(k, '=') != NULL)
			arg_error(T, 2, lua_pushfstring(T,
				"invalid env name '%s'", k));
		lua_pushfstring(T, "env.%s", k);
		lua_insert(T, -2);
		check_cstring(T, 2, lua_tostring(T, -2), &vl);
		lua_pop(T, 2);
		total += kl + vl + 2;
		n++;
	}
	v = lua_newuserdata(T, (n + 1) * sizeof(char *) + total);
	p = (char *)(v + n + 1);
	n = 0;
	*path = NULL;
	lua_pushnil(T);
	while (lua_next(T, idx)) {
		k = lua_tolstring(T, -2, &kl);
		lua_pushvalue(T, -1);   /* tolstring must not convert the value */
		s = lua_tolstring(T, -1, &vl);
		v[n++] = p;
		memcpy(p, k, kl);
		p[kl] = '=';
		memcpy(p + kl + 1, s, vl + 1);
		if (strcmp(k, "PATH") == 0)
			*path = p + kl + 1;
		p += kl + vl + 2;
		lua_pop(T, 2);
	}
	v[n] = NULL;
	return v;
}

/* a stdio option at the top of T for slot (0-2) */
static void
check_stdio(lua_State *T, int slot, struct stdio_spec *io)
{
	static const char *const names[] = { "stdin", "stdout", "stderr" };

	io->fd = -1;
	switch (lua_type(T, -1)) {
	case LUA_TNIL:
		io->kind = IO_INHERIT;
		return;
	case LUA_TSTRING: {
		const char *s = lua_tostring(T, -1);

		if (strcmp(s, "inherit") == 0)
			io->kind = IO_INHERIT;
		else if (strcmp(s, "pipe") == 0)
			io->kind = IO_PIPE;
		else if (strcmp(s, "null") == 0)
			io->kind = IO_NULL;
		else if (slot == 2 && strcmp(s, "stdout") == 0)
			io->kind = IO_STDOUT;
		else
			arg_error(T, 2, lua_pushfstring(T, "invalid %s '%s'",
					names[slot], s));
		return;
	}
	case LUA_TUSERDATA:
		if (lua_getmetatable(T, -1)) {
			int is_stream;

			luaL_getmetatable(T, "lem.Stream");
			is_stream = lua_rawequal(T, -1, -2);
			lua_pop(T, 2);
			if (is_stream) {
				/* the descriptor: internal.fd(stream) */
				lua_getfield(T, lua_upvalueindex(2), "fd");
				lua_pushvalue(T, -2);
				lua_call(T, 1, 1);
				io->kind = IO_STREAM;
				if (lua_isnumber(T, -1))
					io->fd = (int)lua_tointeger(T, -1);
				lua_pop(T, 1);
				return;
			}
		}
		break;
	}
	arg_error(T, 2, lua_pushfstring(T, "%s is a %s: 'inherit', 'pipe', "
			"'null'%s or a stream expected", names[slot],
			luaL_typename(T, -1), slot == 2 ? ", 'stdout'" : ""));
}

/* ------------------------------------------------------------- spawn */

/*
 * The program: name itself if it has a '/', else the first executable
 * regular file name in the directories of path; 0 or an errno.  A name
 * with a '/' is checked here too (unless it is relative and the child
 * gets another working directory): posix_spawn reports a failed exec
 * only where the child shares the parent's memory until it execs
 * (glibc's CLONE_VFORK; not under valgrind, say), and then the child
 * would seem to run and exit 127.
 */
static int
find_program(const char *name, const char *path, const char *cwd, char *out)
{
	int err = ENOENT;

	if (*name == '\0')
		return ENOENT;
	if (strchr(name, '/') != NULL) {
		struct stat st;

		if (strlen(name) >= PATH_MAX)
			return ENAMETOOLONG;
		if (name[0] == '/' || cwd == NULL) {
			if (stat(name, &st) < 0)
				return errno;
			if (!S_ISREG(st.st_mode) || access(name, X_OK) < 0)
				return EACCES;
		}
		strcpy(out, name);
		return 0;
	}
	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (;;) {
		const char *end = strchr(path, ':');
		size_t dl = end ? (size_t)(end - path) : strlen(path);
		struct stat st;

		if (dl + strlen(name) + 2 <= PATH_MAX) {
			if (dl == 0) {
				strcpy(out, name);      /* an empty entry: "." */
			} else {
				memcpy(out, path, dl);
				out[dl] = '/';
				strcpy(out + dl + 1, name);
			}
			if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
				if (access(out, X_OK) == 0)
					return 0;
				err = EACCES;
			}
		}
		if (end == NULL)
			return err;
		path = end + 1;
	}
}

/*
 * The descriptor that becomes the child's stdio from fd.  Children get
 * blocking stdio, but lem's own descriptors may be non-blocking, and
 * that flag belongs to the open file description, which the child
 * would share: a pipe, FIFO or terminal is opened again through
 * /proc/self/fd (a description of its own, made blocking) and *tmp is
 * set to that new descriptor.  Sockets cannot be opened again: they go
 * as they are.  Regular files ignore the flag.
 */
static int
blocking_fd(int fd, int *tmp)
{
	int fl = fcntl(fd, F_GETFL), nfd;
	struct stat st;
	char path[40];

	if (fl < 0 || !(fl & O_NONBLOCK))
		return fd;
	if (fstat(fd, &st) < 0 || !(S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)))
		return fd;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	/* non-blocking open: a FIFO without a reader says ENXIO at once */
	nfd = open(path, (fl & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (nfd < 0)
		return fd;
	fl = fcntl(nfd, F_GETFL);
	if (fl < 0 || fcntl(nfd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		close(nfd);
		return fd;
	}
	*tmp = nfd;
	return nfd;
}

/* internal.setfd(stream at idx, fd) */
static void
stream_setfd(lua_State *T, int idx, int fd)
{
	lua_getfield(T, lua_upvalueindex(2), "setfd");
	lua_pushvalue(T, idx);
	lua_pushinteger(T, fd);
	lua_call(T, 2, 0);
}

/* stream at idx:close() */
static void
stream_close(lua_State *T, int idx)
{
	lua_getfield(T, idx, "close");
	lua_pushvalue(T, idx);
	lua_call(T, 1, 0);
}

/*
 * glibc's posix_spawn sets the two signals it keeps for itself (32 and
 * 33: thread cancellation and setxid) to SIG_IGN in the child unless
 * they are in the set of signals reset to SIG_DFL, and an ignored signal
 * stays ignored across exec; sigaddset() refuses them, so they are added
 * by hand.  The default action is safe there: nothing sends them to the
 * child before it execs, they go to the threads of the parent.
 */
static void
sigset_add_internal(sigset_t *set)
{
#if defined(__GLIBC__) && defined(__SIGRTMIN)
	int sig;
	const int bits = 8 * (int)sizeof(set->__val[0]);

	for (sig = __SIGRTMIN; sig < SIGRTMIN; sig++)
		set->__val[(sig - 1) / bits] |= 1UL << ((sig - 1) % bits);
#else
	(void)set;
#endif
}

#define SPAWN_ARGV   3          /* stack slots of process_spawn */
#define SPAWN_ENV    4
#define SPAWN_PROC   5
#define SPAWN_FIELDS 6
#define SPAWN_STREAM 7          /* 7, 8, 9: the pipes' streams */

/*
 * process.spawn(argv[, options]), and with upvalue 4 true the same for
 * process.run, whose options may also hold input and max_output.
 * Upvalues: 1 the Process metatable, 2 lem.streams' internal table, 3
 * the name for messages.
 */
static int
process_spawn(lua_State *T)
{
	static const char *const fields[] = { "stdin", "stdout", "stderr" };
	int is_run = lua_toboolean(T, lua_upvalueindex(4));
	struct stdio_spec io[3];
	const char *cwd = NULL, *pathenv;
	char **argv, **envp = NULL;
	char prog[PATH_MAX];
	int group = 0, i, err, pipes[3][2], src[3], tmp[6], ntmp = 0;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none;
	struct proc *p;
	struct child *c;
	pid_t pid;

	if (lua_type(T, 1) != LUA_TTABLE)
		return arg_error(T, 1, lua_pushfstring(T, "table expected, got %s",
				luaL_typename(T, 1)));
	if (!lua_isnoneornil(T, 2) && lua_type(T, 2) != LUA_TTABLE)
		return arg_error(T, 2, lua_pushfstring(T, "table expected, got %s",
				luaL_typename(T, 2)));
	lua_settop(T, 2);
	argv = build_argv(T);                   /* SPAWN_ARGV */
	lua_pushnil(T);                         /* SPAWN_ENV */
	for (i = 0; i < 3; i++) {
		io[i].kind = IO_INHERIT;
		io[i].fd = -1;
	}
	pathenv = getenv("PATH");
	if (lua_istable(T, 2)) {
		lua_pushnil(T);
		while (lua_next(T, 2)) {
			const char *k = lua_type(T, -2) == LUA_TSTRING ?
				lua_tostring(T, -2) : NULL;

			if (k == NULL)
				return arg_error(T, 2, "option names are strings");
			if (strcmp(k, "stdin") == 0)
				check_stdio(T, 0, &io[0]);
			else if (strcmp(k, "stdout") == 0)
				check_stdio(T, 1, &io[1]);
			else if (strcmp(k, "stderr") == 0)
				check_stdio(T, 2, &io[2]);
			else if (strcmp(k, "cwd") == 0) {
				size_t len;

				if (lua_type(T, -1) != LUA_TSTRING)
					return arg_error(T, 2, lua_pushfstring(T,
						"cwd is a %s, string expected",
						luaL_typename(T, -1)));
				/* the options table keeps the string */
				cwd = check_cstring(T, 2, "cwd", &len);
			} else if (strcmp(k, "group") == 0) {
				group = lua_toboolean(T, -1);
			} else if (strcmp(k, "env") == 0) {
				if (!lua_istable(T, -1))
					return arg_error(T, 2, lua_pushfstring(T,
						"env is a %s, table expected",
						luaL_typename(T, -1)));
				envp = build_env(T, lua_gettop(T), &pathenv);
				lua_replace(T, SPAWN_ENV);
			} else if (is_run && strcmp(k, "input") == 0) {
				if (lua_type(T, -1) != LUA_TSTRING)
					return arg_error(T, 2, lua_pushfstring(T,
						"input is a %s, string expected",
						luaL_typename(T, -1)));
			} else if (is_run && strcmp(k, "max_output") == 0) {
				lua_Number m = lua_tonumber(T, -1);

				if (lua_type(T, -1) != LUA_TNUMBER || !(m >= 0))
					return arg_error(T, 2,
						"max_output is not a number >= 0");
			} else {
				return arg_error(T, 2, lua_pushfstring(T,
						"unknown option '%s'", k));
			}
			lua_pop(T, 1);
		}
	}
	/* from here on nothing raises but a memory error */
	for (i = 0; i < 3; i++)
		if (io[i].kind == IO_STREAM && io[i].fd < 0)
			return lem_closed(T);
	if (cwd != NULL) {
		struct stat st;

		if (stat(cwd, &st) < 0)
			return lem_strerror(T, errno);
		if (!S_ISDIR(st.st_mode))
			return lem_strerror(T, ENOTDIR);
	}
	err = find_program(argv[0], pathenv, cwd, prog);
	if (err)
		return lem_strerror(T, err);

	p = lua_newuserdata(T, sizeof(struct proc));   /* SPAWN_PROC */
	p->c = NULL;
	lua_pushvalue(T, lua_upvalueindex(1));
	lua_setmetatable(T, -2);
	lua_createtable(T, 0, 4);               /* SPAWN_FIELDS */
	lua_pushinteger(T, 0);
	lua_setfield(T, -2, "pid");             /* set for real below */
	for (i = 0; i < 3; i++) {
		if (io[i].kind == IO_PIPE) {
			lua_getfield(T, lua_upvalueindex(2), "new");
			lua_call(T, 0, 1);      /* SPAWN_STREAM + i */
			lua_pushvalue(T, -1);
			lua_setfield(T, SPAWN_FIELDS, fields[i]);
		} else {
			lua_pushnil(T);         /* SPAWN_STREAM + i */
		}
	}
	c = malloc(sizeof(struct child));
	if (c == NULL)
		return lem_strerror(T, ENOMEM);
	memset(c, 0, sizeof(*c));
	c->pidfd = -1;

	/* the pipes: the parent's ends go to their streams at once */
	for (i = 0; i < 3; i++)
		pipes[i][0] = pipes[i][1] = -1;
	for (i = 0; i < 3; i++) {
		if (io[i].kind != IO_PIPE)
			continue;
		if (pipe2(pipes[i], O_CLOEXEC) < 0) {
			err = errno;
			goto fail;
		}
		stream_setfd(T, SPAWN_STREAM + i, pipes[i][i == 0 ? 1 : 0]);
		pipes[i][i == 0 ? 1 : 0] = -1;  /* the stream's now */
	}
	/* what each of the child's 0, 1, 2 becomes (-1: nothing to do) */
	for (i = 0; i < 3; i++) {
		src[i] = -1;
		switch (io[i].kind) {
		case IO_INHERIT:
			src[i] = blocking_fd(i, &tmp[ntmp]);
			if (src[i] != i)
				ntmp++;
			else
				src[i] = -1;
			break;
		case IO_PIPE:
			src[i] = pipes[i][i == 0 ? 0 : 1];
			break;
		case IO_STREAM:
			src[i] = blocking_fd(io[i].fd, &tmp[ntmp]);
			if (src[i] != io[i].fd)
				ntmp++;
			break;
		}
		/* a source among 0-2 would be overwritten by an earlier dup2 */
		if (src[i] >= 0 && src[i] <= 2 && src[i] != i) {
			int fd = fcntl(src[i], F_DUPFD_CLOEXEC, 3);

			if (fd < 0) {
				err = errno;
				goto fail;
			}
			src[i] = tmp[ntmp++] = fd;
		}
	}

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	err = 0;
	for (i = 0; i < 3 && err == 0; i++) {
		if (io[i].kind == IO_NULL)
			err = posix_spawn_file_actions_addopen(&fa, i, "/dev/null",
					i == 0 ? O_RDONLY : O_WRONLY, 0);
		else if (io[i].kind == IO_STDOUT)
			err = posix_spawn_file_actions_adddup2(&fa, 1, 2);
		else if (src[i] >= 0)
			err = posix_spawn_file_actions_adddup2(&fa, src[i], i);
	}
	if (err == 0 && cwd != NULL) {
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCHDIR_NP
		err = posix_spawn_file_actions_addchdir_np(&fa, cwd);
#else
		err = ENOSYS;
#endif
	}
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCLOSEFROM_NP
	/* only the descriptors asked for, even ones lem inherited without
	 * close-on-exec */
	if (err == 0)
		err = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	sigfillset(&all);
	sigset_add_internal(&all);
	sigemptyset(&none);
	if (err == 0)
		err = posix_spawnattr_setsigdefault(&attr, &all);
	if (err == 0)
		err = posix_spawnattr_setsigmask(&attr, &none);
	if (err == 0 && group)
		err = posix_spawnattr_setpgroup(&attr, 0);
	if (err == 0)
		err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF |
				POSIX_SPAWN_SETSIGMASK |
				(group ? POSIX_SPAWN_SETPGROUP : 0));
	if (err == 0)
		err = posix_spawn(&pid, prog, &fa, &attr, argv,
				envp != NULL ? envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (err)
		goto fail;

	for (i = 0; i < ntmp; i++)
		close(tmp[i]);
	for (i = 0; i < 3; i++)
		if (pipes[i][0] >= 0 || pipes[i][1] >= 0)
			close(pipes[i][i == 0 ? 0 : 1]);
	c->pid = pid;
	c->group = (unsigned char)group;
	p->c = c;
	child_watch(c);
	lua_pushinteger(T, pid);
	lua_setfield(T, SPAWN_FIELDS, "pid");   /* an existing key */
	lua_pushvalue(T, SPAWN_FIELDS);
	lua_setfenv(T, SPAWN_PROC);
	lua_settop(T, SPAWN_PROC);
	return 1;
fail:
	for (i = 0; i < ntmp; i++)
		close(tmp[i]);
	for (i = 0; i < 3; i++) {
		if (pipes[i][0] >= 0)
			close(pipes[i][0]);
		if (pipes[i][1] >= 0)
			close(pipes[i][1]);
		if (io[i].kind == IO_PIPE) {
			lua_getfield(T, lua_upvalueindex(2), "fd");
			lua_pushvalue(T, SPAWN_STREAM + i);
			lua_call(T, 1, 1);
			if (!lua_isnil(T, -1))
				stream_close(T, SPAWN_STREAM + i);
			lua_pop(T, 1);
		}
	}
	free(c);
	return lem_strerror(T, err);
}

/* ----------------------------------------------------------- methods */

static struct child *
check_proc(lua_State *T)
{
	struct proc *p = lem_checkudata(T, 1, lua_upvalueindex(1), PROCESS_MT);

	if (p->c == NULL)
		luaL_argerror(T, 1, "process never ran");
	return p->c;
}

static int
waiter_cancel(struct lem_wait *w, lua_State *T)
{
	(void)T;
	waiter_unlink((struct waiter *)w);
	return 0;
}

/* p:wait() */
static int
proc_wait(lua_State *T)
{
	struct child *c = check_proc(T);
	struct waiter *wt;
	int ret;

	lua_settop(T, 1);
	if (c->done)
		return push_status(T, c);
	wt = lua_newuserdata(T, sizeof(struct waiter));  /* stays on T's stack */
	wt->w.T = NULL;
	wt->c = c;
	wt->prev = wt->next = NULL;
	ret = lem_wait(T, &wt->w, waiter_cancel);
	if (lem_waiting(&wt->w)) {
		wt->next = c->waiters;
		if (c->waiters != NULL)
			c->waiters->prev = wt;
		c->waiters = wt;
		ev_ref(LEM);    /* a waiter keeps lem running */
	}
	return ret;
}

/* p:status() */
static int
proc_status(lua_State *T)
{
	struct child *c = check_proc(T);

	if (c->done)
		return push_status(T, c);
	lua_pushliteral(T, "running");
	return 1;
}

/* p:kill([sig]) */
static int
proc_kill(lua_State *T)
{
	struct child *c = check_proc(T);
	int sig = lua_isnoneornil(T, 2) ? SIGTERM : signame_check(T, 2, 1);

	if (c->done)
		return lem_error(T, "exited");
	/* not reaped yet, so the pid (and the group) cannot be another's */
	if (sig == SIGKILL)
		c->killed = 1;
	if (kill(c->group ? -c->pid : c->pid, sig) < 0) {
		int err = errno;

		if (err == ESRCH)
			return lem_error(T, "exited");
		return lem_strerror(T, err);
	}
	lua_pushboolean(T, 1);
	return 1;
}

/* for process.run: SIGKILL to the whole group, also once the leader has
 * been reaped (a member may still hold the pipes) */
static int
proc_killgroup(lua_State *T)
{
	struct child *c = check_proc(T);

	c->killed = 1;
	if (c->group)
		kill(-c->pid, SIGKILL);
	else if (!c->done)
		kill(c->pid, SIGKILL);
	return 0;
}

/* p.pid, p.stdin, ...: the methods first, then the fields */
static int
proc__index(lua_State *T)
{
	lua_pushvalue(T, 2);
	lua_rawget(T, lua_upvalueindex(1));
	if (!lua_isnil(T, -1))
		return 1;
	lua_pop(T, 1);
	lem_checkudata(T, 1, lua_upvalueindex(1), PROCESS_MT);
	lua_getfenv(T, 1);
	if (!lua_istable(T, -1))
		return 0;
	lua_pushvalue(T, 2);
	lua_rawget(T, -2);
	return 1;
}

static int
proc__gc(lua_State *T)
{
	struct proc *p = luaL_checkudata(T, 1, PROCESS_MT);
	struct child *c = p->c;

	p->c = NULL;
	if (c == NULL)
		return 0;
	if (c->done)
		free(c);
	else
		c->orphan = 1;  /* freed once reaped */
	return 0;
}

static int
proc__tostring(lua_State *T)
{
	struct proc *p = lem_checkudata(T, 1, lua_upvalueindex(1), PROCESS_MT);

	if (p->c == NULL)
		lua_pushfstring(T, "lem.Process: %p", (void *)p);
	else
		lua_pushfstring(T, "lem.Process (%d, %s): %p", (int)p->c->pid,
				p->c->done ? "exited" : "running", (void *)p);
	return 1;
}

static const luaL_Reg proc_methods[] = {
	{ "wait",       proc_wait },
	{ "kill",       proc_kill },
	{ "status",     proc_status },
	{ "__gc",       proc__gc },
	{ "__tostring", proc__tostring },
	{ NULL, NULL }
};

/* ------------------------------------------------------- process.run */

/*
 * process.run(argv[, options]): in Lua, since it waits on several things
 * at once: a coroutine per pipe (and one feeding input) reports to a
 * queue, which the caller waits on, so that its deadline applies to all
 * of it.  On a deadline, a cancel or too much output, the group is
 * killed and the pipes closed, which ends the helpers.
 */
static const char run_lua[] =
	"local spawn, killgroup, utils = ...\n"
	"local queue, go, concat = utils.queue, utils.spawn, table.concat\n"
	"local MAX = 16 * 1024 * 1024\n"
	"local function reader(q, s, key, max)\n"
	"  local parts, n = {}, 0\n"
	"  while true do\n"
	"    local d, err = s:read()\n"
	"    if not d then\n"
	"      if err == 'closed' then return q:put({ key, concat(parts) }) end\n"
	"      return q:put({ key, nil, err })\n"
	"    end\n"
	"    n = n + #d\n"
	"    if n > max then return q:put({ key, nil, 'too large' }) end\n"
	"    parts[#parts + 1] = d\n"
	"  end\n"
	"end\n"
	"local function writer(q, s, input)\n"
	"  s:write(input)\n"
	"  s:close()\n"
	"  q:put({ 'stdin', true })\n"
	"end\n"
	"local function stop(p, err)\n"
	"  killgroup(p)\n"
	"  for _, k in ipairs({ 'stdin', 'stdout', 'stderr' }) do\n"
	"    local s = p[k]\n"
	"    if s and not s:closed() then s:close() end\n"
	"  end\n"
	"  return nil, err\n"
	"end\n"
	"return function(argv, options)\n"
	"  local opts = {}\n"
	"  if type(options) == 'table' then\n"
	"    for k, v in pairs(options) do opts[k] = v end\n"
	"  elseif options ~= nil then\n"
	"    return spawn(argv, options)\n"      /* raises the error */
	"  end\n"
	"  local input, max = opts.input, opts.max_output or MAX\n"
	"  if input ~= nil and opts.stdin ~= nil then\n"
	"    error(\"bad argument #2 to 'run' (both input and stdin given)\", 2)\n"
	"  end\n"
	"  if input ~= nil then opts.stdin = 'pipe' end\n"
	"  opts.stdin = opts.stdin or 'null'\n"
	"  opts.stdout = opts.stdout or 'pipe'\n"
	"  opts.stderr = opts.stderr or 'pipe'\n"
	"  opts.group = true\n"
	"  local p, err = spawn(argv, opts)\n"
	"  if not p then return nil, err end\n"
	"  local q, pending, out = queue(), 0, {}\n"
	"  if p.stdout then pending = pending + 1 go(reader, q, p.stdout, 'stdout', max) end\n"
	"  if p.stderr then pending = pending + 1 go(reader, q, p.stderr, 'stderr', max) end\n"
	"  if input ~= nil then pending = pending + 1 go(writer, q, p.stdin, input) end\n"
	"  while pending > 0 do\n"
	"    local m, e = q:get()\n"
	"    if not m then return stop(p, e) end\n"
	"    if m[1] ~= 'stdin' then\n"
	"      if m[2] == nil then return stop(p, m[3]) end\n"
	"      out[m[1]] = m[2]\n"
	"    end\n"
	"    pending = pending - 1\n"
	"  end\n"
	"  local how, value = p:wait()\n"
	"  if not how then return stop(p, value) end\n"
	"  return how, value, out.stdout, out.stderr\n"
	"end\n";

/* ------------------------------------------------------------ module */

/*
 * lua_close(): the records of children still running (see streams).  A
 * child that lem killed with SIGKILL (process.run past a deadline, say)
 * is about to end: it is waited for a moment, so that it does not
 * become a zombie of init's (some inits reap late, or never); the
 * others go on as orphans.
 */
static int
process_unload(lua_State *T)
{
	int tries = 0;

	(void)T;
	while (running != NULL) {
		struct child *c = running;

		if (c->killed && tries < 200) {
			struct timespec ms = { 0, 1000000 };

			if (waitpid(c->pid, NULL, WNOHANG) == 0) {
				tries++;
				nanosleep(&ms, NULL);
				continue;
			}
		}
		running = c->next;
		if (c->pidfd >= 0) {
			ev_ref(LEM);
			ev_io_stop(LEM, &c->io);
			close(c->pidfd);
		}
		free(c);
	}
	if (sigchld_users > 0) {
		sigchld_users = 0;
		ev_ref(LEM);
		ev_signal_stop(LEM, &sigchld);
	}
	return 0;
}

/* spawn's closure: upvalues mt, internal, name, is_run */
static void
push_spawn(lua_State *T, int mt, int internal, const char *name, int is_run)
{
	lua_pushvalue(T, mt);
	lua_pushvalue(T, internal);
	lua_pushstring(T, name);
	lua_pushboolean(T, is_run);
	lua_pushcclosure(T, process_spawn, 4);
}

int
luaopen_lem_process(lua_State *T)
{
	const char *e = getenv("LEM_NO_PIDFD");
	struct sigaction sa;
	int mt, internal, run;

	no_pidfd = e != NULL && *e != '\0' && strcmp(e, "0") != 0;
	/* with SIGCHLD ignored the kernel would reap our children itself,
	 * statuses and all */
	if (sigaction(SIGCHLD, NULL, &sa) == 0 && !(sa.sa_flags & SA_SIGINFO)
			&& sa.sa_handler == SIG_IGN) {
		sa.sa_handler = SIG_DFL;
		sigaction(SIGCHLD, &sa, NULL);
	}

	/* the Streams come from lem.streams */
	lua_getglobal(T, "require");
	lua_pushliteral(T, "lem.streams");
	lua_call(T, 1, 0);
	lua_getfield(T, LUA_REGISTRYINDEX, "lem.streams.internal");
	if (!lua_istable(T, -1))
		return luaL_error(T, "lem.process: lem.streams has no internal table");
	internal = lua_gettop(T);

	/* one unload sentinel, however often the module is loaded */
	lua_getfield(T, LUA_REGISTRYINDEX, "lem.process.unload");
	if (lua_isnil(T, -1)) {
		lua_newuserdata(T, 1);
		lua_newtable(T);
		lua_pushcfunction(T, process_unload);
		lua_setfield(T, -2, "__gc");
		lua_setmetatable(T, -2);
		lua_setfield(T, LUA_REGISTRYINDEX, "lem.process.unload");
	}
	lua_pop(T, 1);

	lem_newmetatable(T, PROCESS_MT, proc_methods);
	mt = lua_gettop(T);
	lua_pushvalue(T, mt);
	lua_pushcclosure(T, proc__index, 1);
	lua_setfield(T, mt, "__index");

	lua_newtable(T);
	push_spawn(T, mt, internal, "spawn", 0);
	lua_setfield(T, -2, "spawn");
	lua_pushvalue(T, mt);
	lua_setfield(T, -2, "Process");         /* process.Process = mt */

	/* process.run = (run_lua)(spawn for run, killgroup, lem.utils) */
	if (luaL_loadbuffer(T, run_lua, sizeof(run_lua) - 1, "=(process.run)"))
		return lua_error(T);
	run = lua_gettop(T);
	push_spawn(T, mt, internal, "run", 1);
	lua_pushvalue(T, mt);
	lua_pushcclosure(T, proc_killgroup, 1);
	lua_getglobal(T, "require");
	lua_pushliteral(T, "lem.utils");
	lua_call(T, 1, 1);
	lua_call(T, 3, 1);
	lua_setfield(T, run - 1, "run");
	return 1;
}
