/*
 * sendfile.c - lem.SendFile objects: regular files for stream:sendfile().
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

/*
 * streams.sendfile(path)
 *
 * Only regular files: a FIFO would block the whole program in open()
 * until a writer came, and opening a device can have effects of its own
 * (a tape rewinds, a modem line is raised).  stat() first refuses them
 * without opening anything; O_NONBLOCK covers a path that is replaced
 * by a FIFO between stat() and open(), and fstat() has the last word.
 */
int
streams_sendfile(lua_State *T)
{
	const char *path = streams_checkcstring(T, 1);
	struct sfile *f;
	struct stat st;
	int fd, fl, err;

	lua_settop(T, 1);
	f = lua_newuserdata(T, sizeof(struct sfile));
	f->fd = -1;             /* closed until it is open */
	f->users = 0;
	luaL_getmetatable(T, SENDFILE_MT);
	lua_setmetatable(T, -2);
	if (stat(path, &st) < 0)
		return lem_strerror(T, errno);
	if (!S_ISREG(st.st_mode))
		return lem_error(T, "not a regular file");
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return lem_strerror(T, errno);
	if (fstat(fd, &st) < 0) {
		err = errno;
		goto error;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return lem_error(T, "not a regular file");
	}
	/* the file is read with pread() and sendfile(): no O_NONBLOCK */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		err = errno;
		goto error;
	}
	f->fd = fd;
	return 1;
error:
	close(fd);
	return lem_strerror(T, err);
}

/* The methods carry the metatable as upvalue 1 (see lem_checkudata). */
static struct sfile *
checkfile(lua_State *T)
{
	return lem_checkudata(T, 1, lua_upvalueindex(1), SENDFILE_MT);
}

/* file:close() */
static int
sendfile_close(lua_State *T)
{
	struct sfile *f = checkfile(T);
	int fd = f->fd;

	if (fd < 0)
		return lem_error(T, "file closed");
	if (f->users > 0)
		return lem_busy(T);     /* a stream is sending it */
	f->fd = -1;
	if (close(fd) < 0 && errno != EINTR)
		return lem_strerror(T, errno);
	lua_pushboolean(T, 1);
	return 1;
}

/* file:size(): the size now (it may have changed since it was opened) */
static int
sendfile_size(lua_State *T)
{
	struct sfile *f = checkfile(T);
	struct stat st;

	if (f->fd < 0)
		return lem_error(T, "file closed");
	if (fstat(f->fd, &st) < 0)
		return lem_strerror(T, errno);
	lua_pushnumber(T, (lua_Number)st.st_size);
	return 1;
}

static int
sendfile__gc(lua_State *T)
{
	struct sfile *f = luaL_checkudata(T, 1, SENDFILE_MT);

	if (f->fd > 2)
		close(f->fd);
	f->fd = -1;
	return 0;
}

static int
sendfile__tostring(lua_State *T)
{
	struct sfile *f = checkfile(T);

	lua_pushfstring(T, "lem.SendFile (%s): %p",
			f->fd < 0 ? "closed" : "open", (void *)f);
	return 1;
}

static const luaL_Reg sendfile_methods[] = {
	{ "close",      sendfile_close },
	{ "size",       sendfile_size },
	{ "__gc",       sendfile__gc },
	{ "__tostring", sendfile__tostring },
	{ NULL, NULL }
};

/* push the metatable lem.SendFile */
void
sendfile_open_methods(lua_State *T)
{
	lem_newmetatable(T, SENDFILE_MT, sendfile_methods);
}
