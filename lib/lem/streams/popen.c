/*
 * popen.c - streams.popen: a pipe to a command, and reaping it.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "streams.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

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
int
streams_popen(lua_State *T)
{
	const char *cmd = lem_checkcstring(T, 1);
	size_t mlen;
	const char *mode = luaL_optlstring(T, 2, "r", &mlen);
	struct stream *s;
	struct child *c;
	int fds[2], reading, err;
	pid_t pid;

	if ((mode[0] != 'r' && mode[0] != 'w') || strlen(mode) != mlen ||
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

/* the module is unloaded (lua_close): drop the records, stop the watcher */
void
popen_unload(void)
{
	while (children != NULL) {
		struct child *c = children;

		children = c->next;
		free(c);
	}
	if (ev_is_active(&sigchld)) {
		ev_ref(LEM);
		ev_signal_stop(LEM, &sigchld);
	}
}
