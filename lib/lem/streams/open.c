/*
 * open.c - streams.open: devices, FIFOs, files and named sockets.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include "streams.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

/* ------------------------------------------------------------ open */

/*
 * A named Unix-domain socket cannot be opened, only connected to.  The
 * stream reads and writes whatever the mode says.  The connect is
 * unix_connect's, but a listener whose backlog is full is reported as
 * the system's error (EAGAIN) instead of being waited for.
 */
static int
open_unix(lua_State *T, struct stream *s, const char *path)
{
	int fd, rc = unix_connect_fd(path, 0, &fd);     /* a file: never '@' */

	if (rc < 0)
		return lem_strerror(T, -rc);
	stream_setfd(s, fd, 0);
	return 1;
}

/* streams.open(path[, mode]) */
int
streams_open(lua_State *T)
{
	const char *path = lem_checkcstring(T, 1);
	size_t mlen;
	const char *mode = luaL_optlstring(T, 2, "r", &mlen);
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
	if (m != mode + mlen)   /* more, or a zero byte and more */
		return luaL_argerror(T, 2, "invalid mode");
	lua_settop(T, 2);
	s = stream_new(T);      /* closed until the descriptor is there */
	/* non-blocking from the start: a FIFO without a reader says ENXIO */
	fd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0666);
	if (fd < 0) {
		int err = errno;

		/* a socket says ENXIO (Linux) or EOPNOTSUPP (BSD), as does
		 * a FIFO without a reader: stat() tells them apart */
		if ((err == ENXIO || err == EOPNOTSUPP) &&
				stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			return open_unix(T, s, path);
		return lem_strerror(T, err);
	}
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
