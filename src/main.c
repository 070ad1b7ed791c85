/*
 * main.c - the lem command: lua(1)'s command line, the driver of the main
 * chunk, and main().
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "runtime.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lualib.h>

#ifndef LEM_CMODDIR
#define LEM_CMODDIR "/usr/local/lib/lua/5.1"
#endif
#ifndef LEM_LMODDIR
#define LEM_LMODDIR "/usr/local/share/lua/5.1"
#endif

lua_State *L;

/* messages start with "lem: " whatever the name lem was run under */
static const char progname[] = "lem";

void
lem_oom(void)
{
	fputs("lem: not enough memory\n", stderr);
	exit(EXIT_FAILURE);
}

/*
 * The main coroutine runs this chunk: LUA_INIT, then -e and -l in order,
 * then the script with its arguments.  Load errors end the program
 * through fail() without a traceback, as lua(1) does.  Each chunk is
 * called as the result of chunk(), so that it has no name: tracebacks
 * then say "in main chunk", as lua(1)'s do (report.c leaves this
 * driver's own frames out).
 */
static const char driver[] =
	"local fail, init, acts, argt, script = ...\n"
	"local loadfile, loadstring, require = loadfile, loadstring, require\n"
	"local function chunk(f) return f end\n"
	"local function run(f, err)\n"
	"  if not f then return fail(err) end\n"
	"  chunk(f)()\n"
	"end\n"
	"if init then\n"
	"  if init:sub(1, 1) == '@' then run(loadfile(init:sub(2)))\n"
	"  else run(loadstring(init, '=LUA_INIT')) end\n"
	"end\n"
	"for i = 1, #acts, 2 do\n"
	"  if acts[i] == 'e' then run(loadstring(acts[i + 1], '=(command line)'))\n"
	"  else require(acts[i + 1]) end\n"
	"end\n"
	"if argt then arg = argt end\n"
	"if script then\n"
	"  local f, err = loadfile(script ~= '-' and script or nil)\n"
	"  if not f then return fail(err) end\n"
	"  return chunk(f)(select(6, ...))\n"
	"end\n";

static int
driver_fail(lua_State *T)
{
	fflush(stdout);
	fprintf(stderr, "%s: %s\n", progname, luaL_optstring(T, 1, "error"));
	lem_exit(EXIT_FAILURE);
	return lem_suspend(T);
}

static void
print_usage(void)
{
	fprintf(stderr,
		"usage: %s [options] [script [args]].\n"
		"Available options are:\n"
		"  -e stat  execute string 'stat'\n"
		"  -l name  require library 'name'\n"
		"  -v       show version information\n"
		"  --workers N  run N worker processes of the script\n"
		"  --grace S    seconds workers get to stop (30)\n"
		"  --       stop handling options\n"
		"  -        execute stdin and stop handling options\n"
		"lem has no interactive mode: give it a script, or a script on stdin.\n",
		progname);
}

static void
print_version(void)
{
	const char *lua = LUA_RELEASE;

	lua_getglobal(L, "jit");
	if (lua_istable(L, -1)) {
		lua_getfield(L, -1, "version");
		if (lua_isstring(L, -1))
			lua = lua_tostring(L, -1);
		lua_pop(L, 1);
	}
	printf("lem %s (%s, libev %d.%d)\n", PACKAGE_VERSION, lua,
			ev_version_major(), ev_version_minor());
	fflush(stdout);
	lua_pop(L, 1);
}

/* lua(1)'s option parser: the index of the script, 0 if none, -1 on error */
static int
collect_args(char **argv, int *has_e, int *has_v)
{
	int i;

	for (i = 1; argv[i] != NULL; i++) {
		const char *a = argv[i];

		if (a[0] != '-')
			return i;
		switch (a[1]) {
		case '-': {
			int n = workers_option(argv, i);   /* --workers, --grace */

			if (n < 0)
				return -1;
			if (n > 0) {
				i += n - 1;
				break;
			}
			if (strcmp(a, "--version") == 0) {
				*has_v = 1;
				break;
			}
			if (a[2] != '\0')
				return -1;
			return argv[i + 1] != NULL ? i + 1 : 0;
		}
		case '\0':
			return i;
		case 'v':
			if (a[2] != '\0')
				return -1;
			*has_v = 1;
			break;
		case 'e':
			*has_e = 1;
			/* fall through */
		case 'l':
			if (a[2] == '\0') {
				i++;
				if (argv[i] == NULL)
					return -1;
			}
			break;
		default:
			return -1;
		}
	}
	return 0;
}

/* package.path/cpath: our install directories first, unless the user set them */
static void
set_path(const char *field, const char *env, const char *dir, const char *pat)
{
	if (getenv(env) != NULL)
		return;
	lua_getglobal(L, "package");
	lua_getfield(L, -1, field);
	lua_pushfstring(L, "%s/%s;%s", dir, pat, lua_tostring(L, -1));
	lua_setfield(L, -3, field);
	lua_pop(L, 2);
}

static int
panic(lua_State *S)
{
	const char *msg = lua_tostring(S, -1);

	fflush(stdout);
	fprintf(stderr, "lem: %s\n", msg ? msg : "unprotected error");
	exit(EXIT_FAILURE);
	return 0;
}

static void
sigpipe_handler(int sig)
{
	/*
	 * A handler rather than SIG_IGN: writes to a vanished peer still
	 * fail with EPIPE, but children get the default disposition back
	 * when they exec, which SIG_IGN would survive.
	 */
	(void)sig;
}

/* what main() hands to pmain() */
struct args {
	char **argv;
	int script;             /* index of the script, 0: stdin, -1: none */
	int version;            /* -v */
};

/* queue the main coroutine: driver(fail, init, acts, arg, script, args...) */
static int
pmain(lua_State *S)
{
	struct args *a = lua_touserdata(L, 1);
	char **argv = a->argv;
	int script = a->script, nacts = 0, i;
	lua_State *T;

	(void)S;
	luaL_openlibs(L);
	if (a->version)
		print_version();
	async_init();
	anchor_init();
	report_init();
	sched_init();
	pcall_init();
	/* what lem.utils gets from the core: registry["lem.core"] */
	lua_newtable(L);
	task_init();
	wait_init();
	sync_init();
	workers_init();
	lua_setfield(L, LUA_REGISTRYINDEX, "lem.core");
	set_path("path", "LUA_PATH", LEM_LMODDIR, "?.lua");
	set_path("cpath", "LUA_CPATH", LEM_CMODDIR, "?.so");

	T = lem_newthread();
	if (luaL_loadbuffer(T, driver, sizeof(driver) - 1, "=[lem]") != 0)
		lem_oom();
	lua_pushcfunction(T, driver_fail);
	if (getenv("LUA_INIT") != NULL)
		lua_pushstring(T, getenv("LUA_INIT"));
	else
		lua_pushnil(T);
	lua_newtable(T);
	for (i = 1; argv[i] != NULL && (script <= 0 || i < script); i++) {
		const char *o = argv[i];

		if (o[0] != '-' || (o[1] != 'e' && o[1] != 'l'))
			continue;
		lua_pushlstring(T, o + 1, 1);
		lua_rawseti(T, -2, ++nacts);
		if (o[2] == '\0')
			o = argv[++i];
		else
			o += 2;
		lua_pushstring(T, o);
		lua_rawseti(T, -2, ++nacts);
	}
	if (script == 0) {
		lua_pushnil(T);
		lua_pushliteral(T, "-");
	} else if (script > 0) {
		int narg = 0, argc;

		/* arg[-n..-1]: interpreter and options, arg[0]: script; set
		 * once -e and -l have run, as lua(1) does */
		lua_newtable(T);
		for (i = 0; argv[i] != NULL; i++) {
			lua_pushstring(T, argv[i]);
			lua_rawseti(T, -2, i - script);
		}
		argc = i;
		lua_pushstring(T, argv[script]);
		luaL_checkstack(T, argc, "too many arguments to script");
		for (i = script + 1; argv[i] != NULL; i++, narg++)
			lua_pushstring(T, argv[i]);
		script = narg;
	} else {
		lua_pushnil(T);
		lua_pushnil(T);
		script = 0;
	}
	lem_queue(T, 5 + script);
	return 0;
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	struct args a;
	int fdflags[3];
	int has_e = 0, has_v = 0, i;

	(void)argc;
	workers_child_init();
	a.argv = argv;
	a.script = collect_args(argv, &has_e, &has_v);
	a.version = has_v;
	if (a.script < 0) {
		print_usage();
		return EXIT_FAILURE;
	}
	if (a.script == 0 && !has_e && !has_v && isatty(STDIN_FILENO)) {
		print_usage();
		return EXIT_FAILURE;
	}
	if (a.script == 0 && (has_e || has_v))
		a.script = -1;           /* run -e/-l, then stop */

	/* descriptors 0-2 closed at start would be the first ones lem
	 * opens: a socket would become stdout.  /dev/null takes their place */
	for (i = 0; i < 3; i++)
		if (fcntl(i, F_GETFD) < 0 && open("/dev/null", O_RDWR) != i)
			return EXIT_FAILURE;
	if (workers_wanted())
		return workers_main(argv, a.script);
	pcall_stack_base(&a);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sigpipe_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGPIPE, &sa, NULL);
	for (i = 0; i < 3; i++)
		fdflags[i] = fcntl(i, F_GETFL);

	/* not the default loop: that one reaps every child on SIGCHLD, which
	 * would steal the exit status of io.popen and os.execute children */
	lem_loop = ev_loop_new(EVFLAG_AUTO);
	if (lem_loop == NULL) {
		fputs("lem: cannot initialise libev\n", stderr);
		return EXIT_FAILURE;
	}
	L = heap_newstate();
	if (L == NULL)
		lem_oom();
	lua_atpanic(L, panic);
	if (lua_cpcall(L, pmain, &a) != 0)
		lem_oom();               /* only allocations can fail there */

	ev_run(LEM, 0);

	lua_close(L);                    /* every __gc runs while the loop exists */
	ev_loop_destroy(LEM);
	sched_free();
	wait_free();
	anchor_free();
	for (i = 0; i < 3; i++)
		if (fdflags[i] >= 0)
			fcntl(i, F_SETFL, fdflags[i]);
	fflush(stdout);
	return sched_status;
}
