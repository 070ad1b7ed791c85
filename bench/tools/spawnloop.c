/*
 * spawnloop.c - the C reference of bench P1: posix_spawn a program N
 * times, at most CONC children at once, reaping each with waitpid().
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * usage: spawnloop N CONC [PROGRAM]      prints "done N"
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

extern char **environ;

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 5000;
	long conc = argc > 2 ? atol(argv[2]) : 50;
	char *prog = argc > 3 ? argv[3] : "/bin/true";
	char *args[] = { prog, NULL };
	long started = 0, finished = 0, running = 0;

	while (finished < n) {
		while (running < conc && started < n) {
			pid_t pid;
			int err = posix_spawn(&pid, prog, NULL, NULL, args, environ);

			if (err != 0) {
				fprintf(stderr, "spawnloop: posix_spawn failed: %d\n", err);
				return 1;
			}
			started++;
			running++;
		}
		{
			int status;
			pid_t pid = waitpid(-1, &status, 0);

			if (pid < 0) {
				perror("spawnloop: waitpid");
				return 1;
			}
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
				fprintf(stderr, "spawnloop: child failed\n");
				return 1;
			}
			running--;
			finished++;
		}
	}
	printf("done %ld\n", n);
	return 0;
}
