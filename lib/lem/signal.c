/*
 * signal.c - lem.signal: listeners for signals, so that a program can
 * shut down cleanly on SIGTERM, reload on SIGHUP, and so on.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * One libev signal watcher per signal number, started when the first
 * listener of that signal opens and stopped when the last one closes;
 * every delivery is counted in every listener of the signal.  libev
 * watches a signal in one loop only: lem has one loop, and lem.streams
 * (and lem.process without pidfd) watch SIGCHLD in that same loop, next
 * to any listener here, which libev allows.  A signal that arrives again
 * before lem handled the first is merged with it, by the kernel (a
 * standard signal is pending or not) or by libev (one callback per loop
 * turn): a count says how many deliveries lem saw, at least one.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lem.h"
#include "signames.h"

#define LISTENER_MT "lem.SignalListener"

struct listener {
	struct lem_wait w;      /* first: the cancel hook casts back */
	struct listener *prev, *next;   /* every open listener */
	uint64_t mask;          /* bit sig - 1: the signals it listens to */
	unsigned char open;
	unsigned char ref;      /* a wait holds a reference on the loop */
	unsigned long count[NSIG];      /* deliveries not yet reported */
	unsigned long first[NSIG];      /* sequence number of the first */
};

struct watch {
	struct ev_signal w;
	unsigned int users;     /* open listeners of this signal */
	struct sigaction saved; /* the action before the first listener */
};

static struct watch watches[NSIG];
static struct listener *listeners;
static unsigned long seq;

#define BIT(sig) ((uint64_t)1 << ((sig) - 1))

/* the pending signal delivered first, 0 if none */
static int
listener_next(struct listener *l)
{
	int sig, best = 0;

	for (sig = 1; sig < NSIG; sig++)
		if ((l->mask & BIT(sig)) && l->count[sig] > 0 &&
				(best == 0 || l->first[sig] < l->first[best]))
			best = sig;
	return best;
}

/* push name, count of the signal sig and forget its deliveries */
static int
listener_report(lua_State *T, struct listener *l, int sig)
{
	char buf[16];

	lua_pushstring(T, signame_of(sig, buf));
	lua_pushnumber(T, (lua_Number)l->count[sig]);
	l->count[sig] = 0;
	return 2;
}

static void
listener_unref(struct listener *l)
{
	if (l->ref) {
		l->ref = 0;
		ev_unref(LEM);
	}
}

static int
listener_step(lua_State *P, void *ud)
{
	struct listener *l = ud;
	int sig = listener_next(l);

	if (sig == 0)
		return 0;
	listener_unref(l);
	return listener_report(P, l, sig);
}

static void
signal_cb(EV_P_ struct ev_signal *w, int revents)
{
	int sig = w->signum;
	struct listener *l;

	(void)EV_A;
	(void)revents;
	seq++;
	for (l = listeners; l != NULL; l = l->next)
		if ((l->mask & BIT(sig)) && l->count[sig]++ == 0)
			l->first[sig] = seq;
	/*
	 * Wake the waiting listeners.  Handing results over runs Lua (a
	 * __gc metamethod may close listeners), so the list is searched
	 * afresh after each: every wake ends a wait, so this ends.
	 */
	for (;;) {
		for (l = listeners; l != NULL; l = l->next)
			if (lem_waiting(&l->w) && l->count[sig] > 0)
				break;
		if (l == NULL)
			break;
		lem_wait_run(&l->w, listener_step, l);
		if (lem_waiting(&l->w))
			break;          /* cannot happen: step had a signal */
	}
}

/* the first listener of sig: lem takes the signal over */
static void
watch_acquire(int sig)
{
	struct watch *wt = &watches[sig];

	if (wt->users++ > 0)
		return;
	sigaction(sig, NULL, &wt->saved);
	ev_signal_init(&wt->w, signal_cb, sig);
	ev_signal_start(LEM, &wt->w);
	ev_unref(LEM);          /* a listener alone does not keep lem running */
}

/*
 * The last listener of sig has gone: libev puts SIG_DFL back.  If the
 * action before was another one (lem's own SIGPIPE handler, SIG_IGN
 * inherited from nohup), that one comes back.  SIGCHLD is left to libev,
 * which may still watch it for lem.streams.
 */
static void
watch_release(int sig)
{
	struct watch *wt = &watches[sig];

	if (--wt->users > 0)
		return;
	ev_ref(LEM);
	ev_signal_stop(LEM, &wt->w);
	if (sig != SIGCHLD && !(!(wt->saved.sa_flags & SA_SIGINFO) &&
				wt->saved.sa_handler == SIG_DFL))
		sigaction(sig, &wt->saved, NULL);
}

/* close l: its waiter (if any) gets nil, 'interrupted' */
static void
listener_shut(struct listener *l, int gc)
{
	int sig;

	if (!l->open)
		return;
	if (!gc && lem_waiting(&l->w))
		lem_wait_fail(&l->w, "interrupted");
	listener_unref(l);
	l->open = 0;
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		listeners = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	l->prev = l->next = NULL;
	for (sig = 1; sig < NSIG; sig++)
		if (l->mask & BIT(sig))
			watch_release(sig);
}

static int
listener_cancel(struct lem_wait *w, lua_State *T)
{
	(void)T;
	listener_unref((struct listener *)w);
	return 0;
}

/* signal.listen(name, ...) */
static int
signal_listen(lua_State *T)
{
	int n = lua_gettop(T), i, sig;
	uint64_t mask = 0;
	struct listener *l;

	if (n == 0)
		return luaL_argerror(T, 1, "signal name expected");
	for (i = 1; i <= n; i++) {
		sig = signame_check(T, i, 0);
		switch (sig) {
		case SIGKILL: case SIGSTOP:
		case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL:
		case SIGTRAP: case SIGSYS:
			/* cannot be caught, or a fault that a handler which
			 * returns would only repeat */
			return luaL_argerror(T, i, lua_pushfstring(T,
					"%s cannot be listened to",
					lua_tostring(T, i) ? lua_tostring(T, i)
					: "this signal"));
		}
		if (sig > 64)
			return luaL_argerror(T, i, "invalid signal number");
		mask |= BIT(sig);
	}
	l = lua_newuserdata(T, sizeof(struct listener));
	memset(l, 0, sizeof(*l));
	l->w.T = NULL;
	lua_pushvalue(T, lua_upvalueindex(1));
	lua_setmetatable(T, -2);
	l->mask = mask;
	l->open = 1;
	l->next = listeners;
	if (listeners != NULL)
		listeners->prev = l;
	listeners = l;
	for (sig = 1; sig < NSIG; sig++)
		if (mask & BIT(sig))
			watch_acquire(sig);
	return 1;
}

static struct listener *
check_listener(lua_State *T)
{
	return lem_checkudata(T, 1, lua_upvalueindex(1), LISTENER_MT);
}

/* listener:wait() */
static int
listener_wait(lua_State *T)
{
	struct listener *l = check_listener(T);
	int sig, ret;

	lua_settop(T, 1);
	if (!l->open)
		return lem_closed(T);
	if (lem_waiting(&l->w))
		return lem_busy(T);
	sig = listener_next(l);
	if (sig != 0)
		return listener_report(T, l, sig);
	ret = lem_wait(T, &l->w, listener_cancel);
	if (lem_waiting(&l->w)) {
		/* a coroutine waiting for a signal keeps lem running */
		ev_ref(LEM);
		l->ref = 1;
	}
	return ret;
}

/* listener:close() */
static int
listener_close(lua_State *T)
{
	struct listener *l = check_listener(T);

	if (!l->open)
		return lem_error(T, "already closed");
	listener_shut(l, 0);
	lua_pushboolean(T, 1);
	return 1;
}

static int
listener__gc(lua_State *T)
{
	struct listener *l = luaL_checkudata(T, 1, LISTENER_MT);

	/* a waiter keeps its listener alive: at exit only */
	listener_shut(l, 1);
	return 0;
}

static int
listener__tostring(lua_State *T)
{
	struct listener *l = check_listener(T);

	lua_pushfstring(T, "lem.SignalListener (%s): %p", !l->open ? "closed"
			: lem_waiting(&l->w) ? "waiting" : "open", (void *)l);
	return 1;
}

static const luaL_Reg listener_methods[] = {
	{ "wait",       listener_wait },
	{ "close",      listener_close },
	{ "__gc",       listener__gc },
	{ "__tostring", listener__tostring },
	{ NULL, NULL }
};

int
luaopen_lem_signal(lua_State *T)
{
	lem_newmetatable(T, LISTENER_MT, listener_methods);
	lua_newtable(T);
	lua_pushvalue(T, -2);
	lua_pushcclosure(T, signal_listen, 1);
	lua_setfield(T, -2, "listen");
	lua_pushvalue(T, -2);
	lua_setfield(T, -2, "Listener");        /* signal.Listener = mt */
	return 1;
}
