/*
 * signames.h - signal names and numbers, for lem.signal and lem.process
 * (private to those modules: each includes its own static copy).
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#ifndef LEM_SIGNAMES_H
#define LEM_SIGNAMES_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lem.h"

static const struct signame {
	const char *name;
	int num;
} signames[] = {
	{ "SIGHUP",    SIGHUP },
	{ "SIGINT",    SIGINT },
	{ "SIGQUIT",   SIGQUIT },
	{ "SIGILL",    SIGILL },
	{ "SIGTRAP",   SIGTRAP },
	{ "SIGABRT",   SIGABRT },
	{ "SIGBUS",    SIGBUS },
	{ "SIGFPE",    SIGFPE },
	{ "SIGKILL",   SIGKILL },
	{ "SIGUSR1",   SIGUSR1 },
	{ "SIGSEGV",   SIGSEGV },
	{ "SIGUSR2",   SIGUSR2 },
	{ "SIGPIPE",   SIGPIPE },
	{ "SIGALRM",   SIGALRM },
	{ "SIGTERM",   SIGTERM },
#ifdef SIGSTKFLT
	{ "SIGSTKFLT", SIGSTKFLT },
#endif
	{ "SIGCHLD",   SIGCHLD },
	{ "SIGCONT",   SIGCONT },
	{ "SIGSTOP",   SIGSTOP },
	{ "SIGTSTP",   SIGTSTP },
	{ "SIGTTIN",   SIGTTIN },
	{ "SIGTTOU",   SIGTTOU },
	{ "SIGURG",    SIGURG },
	{ "SIGXCPU",   SIGXCPU },
	{ "SIGXFSZ",   SIGXFSZ },
	{ "SIGVTALRM", SIGVTALRM },
	{ "SIGPROF",   SIGPROF },
	{ "SIGWINCH",  SIGWINCH },
	{ "SIGIO",     SIGIO },
#ifdef SIGPWR
	{ "SIGPWR",    SIGPWR },
#endif
	{ "SIGSYS",    SIGSYS },
	{ NULL, 0 }
};

/* the name of signal sig: "SIGTERM", or "SIG34" for one without a name
 * (buf has room for 16 bytes) */
static inline const char *
signame_of(int sig, char *buf)
{
	const struct signame *s;

	for (s = signames; s->name != NULL; s++)
		if (s->num == sig)
			return s->name;
	snprintf(buf, 16, "SIG%d", sig);
	return buf;
}

/*
 * The signal at idx: a name such as 'SIGTERM' (or 'SIG34') or a number
 * 1..NSIG-1; anything else raises.  zero_ok lets 0 through (kill's
 * "is it there?" probe).
 */
static inline int
signame_check(lua_State *T, int idx, int zero_ok)
{
	if (lua_type(T, idx) == LUA_TNUMBER) {
		lua_Number n = lua_tonumber(T, idx);

		/* the range first: (int) of NaN or 1e308 is undefined */
		if (!(n >= (zero_ok ? 0 : 1) && n < NSIG) || n != (lua_Number)(int)n)
			return luaL_argerror(T, idx, "invalid signal number");
		return (int)n;
	}
	if (lua_type(T, idx) == LUA_TSTRING) {
		const char *name = lua_tostring(T, idx);
		const struct signame *s;

		for (s = signames; s->name != NULL; s++)
			if (strcmp(s->name, name) == 0)
				return s->num;
		if (strncmp(name, "SIG", 3) == 0 && name[3] >= '1' &&
				name[3] <= '9') {
			char *end;
			long n = strtol(name + 3, &end, 10);

			if (*end == '\0' && n > 0 && n < NSIG)
				return (int)n;
		}
		return luaL_argerror(T, idx,
				lua_pushfstring(T, "unknown signal '%s'", name));
	}
	return luaL_typerror(T, idx, "signal name or number");
}

#endif /* LEM_SIGNAMES_H */
