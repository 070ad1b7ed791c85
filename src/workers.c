/*
 * workers.c - lem --workers N: a supervisor that runs N fresh lem
 * processes of one script, and what a worker knows of it (utils.worker,
 * lem_worker, lem_worker_ready).
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * The supervisor runs no Lua: it forks and at once execs lem again for
 * each worker (a worker is never a fork of a running loop), with the
 * script and every option but --workers and --grace, and with
 * LEM_WORKER (its number, 1..N), LEM_WORKERS (N) and LEM_WORKER_FD (the
 * write end of a readiness pipe) in its environment.  A worker takes
 * those out of its environment at start, so that its own children do not
 * think they are workers.  In a worker, tcp_listen sets SO_REUSEPORT, so
 * that all of them (and a new one next to an old one) listen on the same
 * port.  A worker is ready when it first accepts (server:accept or
 * server:autospawn): it then writes a byte to the pipe.
 *
 * The supervisor restarts a worker that ends, after a pause that doubles
 * with each quick failure (0.1 s up to 10 s; a worker that ran 10 s
 * starts the count again).  SIGTERM and SIGINT are passed on to every
 * worker; those still running after the grace period (--grace, 30 s) are
 * killed, and a second SIGTERM or SIGINT kills them at once.  SIGHUP
 * restarts the workers one by one: a new one is started, and once it is
 * ready (or after READY_WAIT seconds) the old one gets SIGTERM (and
 * SIGKILL after the grace period), then the next.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* pipe2 */
#endif
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#define WORKERS_MAX   1024
#define READY_WAIT    30.0      /* seconds a new worker has to be ready */
#define BACKOFF_FIRST 0.1
#define BACKOFF_MAX   10.0
#define STABLE_AFTER  10.0      /* a worker that ran this long was fine */

/* ------------------------------------------------ in a worker */

static int worker_id, worker_count = 1;
static int ready_fd = -1;

int
lem_worker(int *count)
{
	if (count != NULL)
		*count = worker_count;
	return worker_id;
}

void
lem_worker_ready(void)
{
	if (ready_fd < 0)
		return;
	while (write(ready_fd, "r", 1) < 0 && errno == EINTR)
		;
	close(ready_fd);
	ready_fd = -1;
}

static int
env_int(const char *name, int lo, int hi)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (v == NULL)
		return -1;
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || n < lo || n > hi)
		return -1;
	return (int)n;
}

/* at start, before anything else runs: are we a worker? */
void
workers_child_init(void)
{
	int id = env_int("LEM_WORKER", 1, WORKERS_MAX);
	int n = env_int("LEM_WORKERS", 1, WORKERS_MAX);
	int fd = env_int("LEM_WORKER_FD", 3, INT_MAX);

	if (id > 0 && n >= id) {
		worker_id = id;
		worker_count = n;
		if (fd >= 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) == 0)
			ready_fd = fd;
	}
	unsetenv("LEM_WORKER");
	unsetenv("LEM_WORKERS");
	unsetenv("LEM_WORKER_FD");
}

/* utils.worker(): id, N; 1, 1 without workers */
static int
utils_worker(lua_State *T)
{
	lua_pushinteger(T, worker_id > 0 ? worker_id : 1);
	lua_pushinteger(T, worker_count);
	return 2;
}

void
workers_init(void)
{
	lua_pushcfunction(L, utils_worker);
	lua_setfield(L, -2, "worker");
}

/* ------------------------------------------------ the options */

static int opt_workers;                 /* 0: no supervisor */
static double opt_grace = 30;

static int
parse_number(const char *s, double *out, int integer)
{
	char *end;
	double v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !(v >= 0) || v > 1e9)
		return -1;
	if (integer && v != (double)(long)v)
		return -1;
	*out = v;
	return 0;
}

/*
 * argv[i] is "--workers N", "--workers=N", "--grace S" or "--grace=S":
 * how many entries it takes (1 or 2); 0 if it is none of them; -1 if its
 * value is wrong (a message is printed).
 */
int
workers_option(char **argv, int i)
{
	static const char *const names[] = { "--workers", "--grace" };
	int k;

	for (k = 0; k < 2; k++) {
		size_t l = strlen(names[k]);
		const char *v;
		int used;
		double d;

		if (strncmp(argv[i], names[k], l) != 0)
			continue;
		if (argv[i][l] == '=') {
			v = argv[i] + l + 1;
			used = 1;
		} else if (argv[i][l] == '\0') {
			v = argv[i + 1];
			used = 2;
		} else {
			continue;
		}
		if (k == 0) {
			if (parse_number(v, &d, 1) < 0 || d < 1 ||
					d > WORKERS_MAX) {
				fprintf(stderr, "lem: --workers wants a number "
						"from 1 to %d\n", WORKERS_MAX);
				return -1;
			}
			opt_workers = (int)d;
		} else {
			if (parse_number(v, &d, 0) < 0) {
				fprintf(stderr, "lem: --grace wants a number "
						"of seconds\n");
				return -1;
			}
			opt_grace = d;
		}
		return used;
	}
	return 0;
}

int
workers_wanted(void)
{
	return opt_workers;
}

/* ------------------------------------------------ the supervisor */

struct proc {
	pid_t pid;              /* 0: none */
	int ready;
	int fd;                 /* the readiness pipe's read end, -1 */
	ev_tstamp started;
	struct ev_io io;
};

struct slot {
	int id;
	struct proc cur;        /* the worker serving */
	struct proc next;       /* its successor in a rolling restart */
	int failures;           /* quick failures in a row */
	struct ev_timer restart; /* backoff before the next start */
	struct ev_timer ready_wait;
};

/* workers told to stop, killed after the grace period */
struct retiring {
	pid_t pid;
	struct ev_timer kill;
	struct retiring *next;
};

static struct ev_loop *sv;
static struct slot *slots;
static int nslots;
static char **wargv;            /* the workers' command line */
static const char *exe;
static struct retiring *retiring;
static int stopping;            /* SIGTERM/SIGINT came: no restarts */
static int killed;              /* some had to be killed */
static int rolling = -1;        /* the slot being restarted, -1: none */
static int roll_again;          /* a SIGHUP came during a restart */
static struct ev_timer grace_timer;
static struct ev_signal sig_term, sig_int, sig_hup;
static struct ev_child child_w;

static void
say(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
	va_list ap;

	fputs("lem: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static void roll_step(void);
static void slot_start(struct slot *s, struct proc *p);
static void retire_kill_cb(EV_P_ struct ev_timer *w, int revents);

static void
proc_close_pipe(struct proc *p)
{
	if (p->fd >= 0) {
		ev_io_stop(sv, &p->io);
		close(p->fd);
		p->fd = -1;
	}
}

static struct slot *
slot_of_io(struct ev_io *w, struct proc **pp)
{
	int i;

	for (i = 0; i < nslots; i++) {
		if (w == &slots[i].cur.io) {
			*pp = &slots[i].cur;
			return &slots[i];
		}
		if (w == &slots[i].next.io) {
			*pp = &slots[i].next;
			return &slots[i];
		}
	}
	return NULL;
}

/* the new worker of the slot being restarted takes over */
static void
roll_promote(struct slot *s)
{
	struct retiring *r;

	ev_timer_stop(sv, &s->ready_wait);
	/* no watcher may be active in a struct that is copied */
	proc_close_pipe(&s->next);
	proc_close_pipe(&s->cur);
	if (s->cur.pid > 0) {
		r = malloc(sizeof(*r));
		if (r != NULL) {
			r->pid = s->cur.pid;
			ev_timer_init(&r->kill, retire_kill_cb, opt_grace, 0);
			r->next = retiring;
			retiring = r;
			ev_timer_start(sv, &r->kill);
		}
		kill(s->cur.pid, SIGTERM);
	}
	s->cur = s->next;
	memset(&s->next, 0, sizeof(s->next));
	s->next.fd = -1;
	rolling++;
	roll_step();
}

static void
retire_kill_cb(EV_P_ struct ev_timer *w, int revents)
{
	struct retiring *r = (struct retiring *)((char *)w -
			offsetof(struct retiring, kill));

	(void)EV_A;
	(void)revents;
	say("worker (pid %d) still running after the grace period: killed",
			(int)r->pid);
	kill(r->pid, SIGKILL);
}

static void
ready_cb(EV_P_ struct ev_io *w, int revents)
{
	struct proc *p;
	struct slot *s = slot_of_io(w, &p);
	char c;
	ssize_t r;

	(void)EV_A;
	(void)revents;
	if (s == NULL)
		return;
	r = read(p->fd, &c, 1);
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	proc_close_pipe(p);
	if (r == 1) {
		p->ready = 1;
		if (p == &s->next && rolling == s->id - 1)
			roll_promote(s);
	}
	/* end of file: it exited (or closed the pipe); child_cb sees to it */
}

static void
ready_wait_cb(EV_P_ struct ev_timer *w, int revents)
{
	struct slot *s = w->data;

	(void)EV_A;
	(void)revents;
	if (s->next.pid > 0 && rolling == s->id - 1) {
		say("worker %d (pid %d) not ready after %g s: taking it as ready",
				s->id, (int)s->next.pid, READY_WAIT);
		roll_promote(s);
	}
}

/* restart the workers one by one, from slot `rolling` on */
static void
roll_step(void)
{
	struct slot *s;

	if (stopping || rolling < 0)
		return;
	if (rolling >= nslots) {
		rolling = -1;
		say("rolling restart done");
		if (roll_again) {
			roll_again = 0;
			rolling = 0;
			roll_step();
		}
		return;
	}
	s = &slots[rolling];
	if (s->cur.pid == 0 && s->next.pid == 0) {
		/* nothing runs there (waiting for its restart): go on */
		rolling++;
		roll_step();
		return;
	}
	slot_start(s, &s->next);
	ev_timer_set(&s->ready_wait, READY_WAIT, 0);
	ev_timer_start(sv, &s->ready_wait);
}

static void
slot_start(struct slot *s, struct proc *p)
{
	char id[16], n[16], fdv[16];
	int pp[2];
	pid_t pid, parent = getpid();

	p->pid = 0;
	p->ready = 0;
	p->fd = -1;
	if (pipe2(pp, O_CLOEXEC) < 0) {
		say("worker %d: cannot make a pipe: %s", s->id, strerror(errno));
		pp[0] = pp[1] = -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		sigset_t none;
		int null = open("/dev/null", O_RDONLY);

		/* no worker outlives the supervisor */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		if (null >= 0 && null != 0) {
			dup2(null, 0);
			close(null);
		}
		snprintf(id, sizeof(id), "%d", s->id);
		snprintf(n, sizeof(n), "%d", nslots);
		setenv("LEM_WORKER", id, 1);
		setenv("LEM_WORKERS", n, 1);
		if (pp[1] >= 0 && fcntl(pp[1], F_SETFD, 0) == 0) {
			snprintf(fdv, sizeof(fdv), "%d", pp[1]);
			setenv("LEM_WORKER_FD", fdv, 1);
		}
		/* handled signals go back to SIG_DFL across exec; the mask
		 * does not */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(exe, wargv);
		fprintf(stderr, "lem: cannot run %s: %s\n", exe, strerror(errno));
		_exit(127);
	}
	if (pp[1] >= 0)
		close(pp[1]);
	if (pid < 0) {
		say("worker %d: cannot start: %s", s->id, strerror(errno));
		if (pp[0] >= 0)
			close(pp[0]);
		s->failures++;
		ev_timer_set(&s->restart, BACKOFF_MAX, 0);
		ev_timer_start(sv, &s->restart);
		return;
	}
	p->pid = pid;
	ev_now_update(sv);
	p->started = ev_now(sv);
	p->fd = pp[0];
	if (p->fd >= 0) {
		ev_io_init(&p->io, ready_cb, p->fd, EV_READ);
		ev_io_start(sv, &p->io);
	}
}

static void
restart_cb(EV_P_ struct ev_timer *w, int revents)
{
	struct slot *s = w->data;

	(void)EV_A;
	(void)revents;
	if (stopping)
		return;
	if (rolling == s->id - 1) {
		/* its successor failed: try again, the old one serves on */
		if (s->next.pid == 0) {
			slot_start(s, &s->next);
			ev_timer_set(&s->ready_wait, READY_WAIT, 0);
			ev_timer_start(sv, &s->ready_wait);
		}
		return;
	}
	if (s->cur.pid == 0)
		slot_start(s, &s->cur);
}

static int
alive(void)
{
	struct retiring *r;
	int i;

	for (i = 0; i < nslots; i++)
		if (slots[i].cur.pid > 0 || slots[i].next.pid > 0)
			return 1;
	for (r = retiring; r != NULL; r = r->next)
		if (r->pid > 0)
			return 1;
	return 0;
}

static void
describe(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "ended");
}

/* a worker's backoff before it starts again */
static void
schedule_restart(struct slot *s, struct proc *p)
{
	double delay;

	if (ev_now(sv) - p->started >= STABLE_AFTER)
		s->failures = 0;
	delay = BACKOFF_FIRST;
	if (s->failures > 0) {
		int k;

		for (k = 0; k < s->failures && delay < BACKOFF_MAX; k++)
			delay *= 2;
	}
	if (delay > BACKOFF_MAX)
		delay = BACKOFF_MAX;
	s->failures++;
	say("worker %d restarts in %g s", s->id, delay);
	ev_timer_set(&s->restart, delay, 0);
	ev_timer_start(sv, &s->restart);
}

static void
child_cb(EV_P_ struct ev_child *w, int revents)
{
	pid_t pid = w->rpid;
	struct retiring **rp;
	char how[64];
	int i;

	(void)revents;
	describe(w->rstatus, how, sizeof(how));
	for (rp = &retiring; *rp != NULL; rp = &(*rp)->next) {
		if ((*rp)->pid == pid) {
			struct retiring *r = *rp;

			ev_timer_stop(EV_A_ &r->kill);
			*rp = r->next;
			free(r);
			goto check;
		}
	}
	for (i = 0; i < nslots; i++) {
		struct slot *s = &slots[i];

		if (s->cur.pid == pid) {
			proc_close_pipe(&s->cur);
			s->cur.pid = 0;
			if (!stopping) {
				say("worker %d (pid %d) %s", s->id, (int)pid, how);
				/* its successor, if one is coming, takes over */
				if (s->next.pid == 0)
					schedule_restart(s, &s->cur);
			}
			break;
		}
		if (s->next.pid == pid) {
			proc_close_pipe(&s->next);
			s->next.pid = 0;
			ev_timer_stop(EV_A_ &s->ready_wait);
			if (!stopping) {
				say("new worker %d (pid %d) %s before it was ready",
						s->id, (int)pid, how);
				schedule_restart(s, &s->next);
			}
			break;
		}
	}
check:
	if (stopping && !alive())
		ev_break(EV_A_ EVBREAK_ALL);
}

static void
kill_all(int sig)
{
	struct retiring *r;
	int i;

	for (i = 0; i < nslots; i++) {
		if (slots[i].cur.pid > 0)
			kill(slots[i].cur.pid, sig);
		if (slots[i].next.pid > 0)
			kill(slots[i].next.pid, sig);
	}
	for (r = retiring; r != NULL; r = r->next)
		if (r->pid > 0)
			kill(r->pid, sig);
}

static void
grace_cb(EV_P_ struct ev_timer *w, int revents)
{
	(void)EV_A;
	(void)w;
	(void)revents;
	if (alive()) {
		say("workers still running after %g s: killed", opt_grace);
		killed = 1;
		kill_all(SIGKILL);
	}
}

static void
stop_cb(EV_P_ struct ev_signal *w, int revents)
{
	int i;

	(void)revents;
	if (stopping) {
		say("%s again: killing the workers",
				w->signum == SIGINT ? "SIGINT" : "SIGTERM");
		killed = 1;
		kill_all(SIGKILL);
		return;
	}
	stopping = 1;
	rolling = -1;
	for (i = 0; i < nslots; i++) {
		ev_timer_stop(EV_A_ &slots[i].restart);
		ev_timer_stop(EV_A_ &slots[i].ready_wait);
	}
	kill_all(w->signum);
	if (!alive()) {
		ev_break(EV_A_ EVBREAK_ALL);
		return;
	}
	ev_timer_init(&grace_timer, grace_cb, opt_grace, 0);
	ev_timer_start(EV_A_ &grace_timer);
}

static void
hup_cb(EV_P_ struct ev_signal *w, int revents)
{
	(void)EV_A;
	(void)w;
	(void)revents;
	if (stopping)
		return;
	if (rolling >= 0) {
		roll_again = 1;
		return;
	}
	say("SIGHUP: restarting the workers one by one");
	rolling = 0;
	roll_step();
}

static void
empty_handler(int sig)
{
	(void)sig;
}

/*
 * Run the supervisor: argv is lem's command line, script the index of
 * the script in it.  Returns the exit status.
 */
int
workers_main(char **argv, int script)
{
	static char self[PATH_MAX];
	struct sigaction sa;
	ssize_t l;
	int i, n = 0;

	if (script <= 0 || strcmp(argv[script], "-") == 0) {
		fputs("lem: --workers needs a script file\n", stderr);
		return EXIT_FAILURE;
	}
	/* a script that cannot be read would only be restarted forever */
	if (access(argv[script], R_OK) < 0) {
		fprintf(stderr, "lem: cannot open %s: %s\n", argv[script],
				strerror(errno));
		return EXIT_FAILURE;
	}
	l = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (l > 0) {
		self[l] = '\0';
		exe = self;
	} else {
		exe = argv[0];
	}
	/* the workers' argv: lem's, without --workers and --grace */
	for (i = 0; argv[i] != NULL; i++)
		;
	wargv = calloc((size_t)i + 1, sizeof(char *));
	slots = calloc((size_t)opt_workers, sizeof(struct slot));
	if (wargv == NULL || slots == NULL) {
		fputs("lem: not enough memory\n", stderr);
		return EXIT_FAILURE;
	}
	for (i = 0; argv[i] != NULL; i++) {
		int k = i > 0 && i < script ? workers_option(argv, i) : 0;

		if (k > 0) {
			i += k - 1;
			continue;
		}
		wargv[n++] = argv[i];
		/* the value of -e or -l is not an option */
		if (i < script && (strcmp(argv[i], "-e") == 0 ||
					strcmp(argv[i], "-l") == 0) &&
				argv[i + 1] != NULL)
			wargv[n++] = argv[++i];
	}
	wargv[n] = NULL;
	wargv[0] = (char *)exe;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = empty_handler;  /* a closed stderr must not kill us */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);

	sv = ev_default_loop(EVFLAG_AUTO);
	if (sv == NULL) {
		fputs("lem: cannot initialise libev\n", stderr);
		return EXIT_FAILURE;
	}
	nslots = opt_workers;
	ev_child_init(&child_w, child_cb, 0, 0);
	ev_child_start(sv, &child_w);
	ev_signal_init(&sig_term, stop_cb, SIGTERM);
	ev_signal_start(sv, &sig_term);
	ev_signal_init(&sig_int, stop_cb, SIGINT);
	ev_signal_start(sv, &sig_int);
	ev_signal_init(&sig_hup, hup_cb, SIGHUP);
	ev_signal_start(sv, &sig_hup);
	for (i = 0; i < nslots; i++) {
		struct slot *s = &slots[i];

		s->id = i + 1;
		s->cur.fd = s->next.fd = -1;
		ev_timer_init(&s->restart, restart_cb, 0, 0);
		s->restart.data = s;
		ev_timer_init(&s->ready_wait, ready_wait_cb, 0, 0);
		s->ready_wait.data = s;
		slot_start(s, &s->cur);
	}
	ev_run(sv, 0);
	return killed ? EXIT_FAILURE : EXIT_SUCCESS;
}
