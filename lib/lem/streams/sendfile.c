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
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#if defined(HAVE_SYS_SENDFILE_H) && defined(HAVE_SENDFILE)
#include <sys/sendfile.h>
#define USE_SENDFILE 1
#endif

/*
 * streams.sendfile(path)
 *
 * Only regular files: a FIFO would block in open() until a writer came,
 * and opening a device can have effects of its own (a tape rewinds, a
 * modem line is raised).  stat() first refuses them without opening
 * anything; O_NONBLOCK covers a path that is replaced by a FIFO between
 * stat() and open(), and fstat() has the last word.  All of it runs in
 * lem's file thread pool (a slow disk stalls only this coroutine); a
 * deadline drops the job if it is still queued, or lets it finish and
 * closes what it opened.
 */
struct sf_wait;
struct sf_job {
	struct lem_async a;     /* first */
	struct sf_wait *sw;     /* NULL once the waiter has gone */
	int fd;
	int err;                /* errno, or -1: not a regular file */
	char path[];
};

/* the wait, on the waiting coroutine's stack (index 3) */
struct sf_wait {
	struct lem_wait w;      /* first */
	struct sf_job *job;
};
#define SF_FILE_IDX 2           /* the SendFile, closed until it opens */

static void
sf_work(struct lem_async *a)
{
	struct sf_job *j = (struct sf_job *)a;
	struct stat st;
	int fl;

	if (stat(j->path, &st) < 0) {
		j->err = errno;
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		j->err = -1;
		return;
	}
	j->fd = open(j->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (j->fd < 0) {
		j->err = errno;
		return;
	}
	if (fstat(j->fd, &st) < 0)
		j->err = errno;
	else if (!S_ISREG(st.st_mode))
		j->err = -1;
	/* the file is read with pread() and sendfile(): no O_NONBLOCK */
	else if ((fl = fcntl(j->fd, F_GETFL)) < 0 ||
			fcntl(j->fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		j->err = errno;
	if (j->err != 0) {
		close(j->fd);
		j->fd = -1;
	}
}

static int
sf_fail_step(lua_State *P, void *ud)
{
	struct sf_job *j = ud;

	if (j->err < 0)
		return lem_error(P, "not a regular file");
	return lem_strerror(P, j->err);
}

static void
sf_done(struct lem_async *a)
{
	struct sf_job *j = (struct sf_job *)a;
	struct sf_wait *sw = j->sw;

	if (sw == NULL) {
		if (j->fd >= 0)
			close(j->fd);   /* nobody wants it any more */
	} else if (j->fd >= 0) {
		lua_State *T = lem_wait_end(&sw->w);
		struct sfile *f;

		sw->job = NULL;
		if (T != NULL) {
			f = lua_touserdata(T, SF_FILE_IDX);
			f->fd = j->fd;
			lua_pushvalue(T, SF_FILE_IDX);
			lem_queue(T, 1);
		} else {
			close(j->fd);
		}
	} else {
		sw->job = NULL;
		lem_wait_run(&sw->w, sf_fail_step, j);
	}
	free(j);
}

static int
sf_cancel(struct lem_wait *w, lua_State *T)
{
	struct sf_wait *sw = (struct sf_wait *)w;
	struct sf_job *j = sw->job;

	(void)T;
	sw->job = NULL;
	if (j == NULL)
		return 0;
	if (lem_async_cancel(&j->a))
		free(j);                /* still queued: dropped */
	else
		j->sw = NULL;           /* running: sf_done closes what it opens */
	return 0;
}

int
streams_sendfile(lua_State *T)
{
	const char *path = lem_checkcstring(T, 1);
	size_t len = strlen(path);
	struct sfile *f;
	struct sf_wait *sw;
	struct sf_job *j;
	int ret;

	lua_settop(T, 1);
	f = lua_newuserdata(T, sizeof(struct sfile));   /* SF_FILE_IDX */
	f->fd = -1;             /* closed until it is open */
	f->users = 0;
	luaL_getmetatable(T, SENDFILE_MT);
	lua_setmetatable(T, -2);
	sw = lua_newuserdata(T, sizeof(struct sf_wait));
	sw->w.T = NULL;
	sw->job = NULL;
	ret = lem_wait(T, &sw->w, sf_cancel);           /* may raise */
	if (!lem_waiting(&sw->w))
		return ret;
	j = malloc(sizeof(struct sf_job) + len + 1);
	if (j == NULL) {
		lua_State *S = lem_wait_end(&sw->w);

		lem_strerror(S, ENOMEM);
		lem_queue(S, 2);
		return ret;
	}
	j->sw = sw;
	j->fd = -1;
	j->err = 0;
	memcpy(j->path, path, len + 1);
	sw->job = j;
	lem_async_run_file(&j->a, sf_work, sf_done);
	return ret;
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

/* ------------------------------------------------ stream:sendfile() */

/* from u.sf.off up to u.sf.end */
static int
sendfile_step(lua_State *P, struct stream *s)
{
	struct sfile *f = s->u.sf.file;
	int r;

	while (s->u.sf.off < s->u.sf.end) {
		off_t left = s->u.sf.end - s->u.sf.off;
		ssize_t n;
		int err;

		if (f->fd < 0)
			return lem_error(P, "file closed");
#ifdef USE_SENDFILE
		if (!(s->flags & SF_REGULAR) && s->io == NULL) {
			size_t chunk = left > 0x7ffff000 ? 0x7ffff000 : (size_t)left;

			n = sendfile(s->w.fd, f->fd, &s->u.sf.off, chunk);
			if (n > 0) {
				if ((size_t)n < chunk)
					return 0;       /* the socket is full */
				continue;
			}
			if (n == 0)
				break;                  /* the file got shorter */
			err = errno;
			if (err != EINVAL && err != ENOSYS && err != EOPNOTSUPP)
				goto error;
			/* this pair of descriptors cannot: copy below */
		}
#endif
		/*
		 * The copy loop reads the file at the offset each time, so
		 * nothing has to be kept when the stream takes only part.
		 * It does not use the shared read buffer: a __gc metamethod
		 * run meanwhile could be reading into it.  A stream with a
		 * transport always comes here, and the transport sends.
		 */
		{
			char buf[16384];

			n = pread(f->fd, buf, left > (off_t)sizeof(buf) ?
					sizeof(buf) : (size_t)left, s->u.sf.off);
			if (n == 0)
				break;
			if (n < 0) {
				err = errno;
				if (err == EINTR)
					continue;
				return lem_strerror(P, err);
			} else {
				ssize_t w;

				if (s->io != NULL)
					w = s->io->send(s, buf, (size_t)n, &err);
				else if ((w = write(s->w.fd, buf, (size_t)n)) <= 0)
					err = errno;
				if (w > 0) {
					s->u.sf.off += w;
					if (w < n && !(s->flags & SF_REGULAR))
						return 0;
					continue;
				}
			}
		}
#ifdef USE_SENDFILE
error:
#endif
		if ((n = stream_write_error(P, s, err)) >= 0)
			return (int)n;
	}
	if (s->io != NULL && (r = stream_flush(P, s)) >= 0)
		return r;
	lua_pushboolean(P, 1);
	return 1;
}

static void
sendfile_end(struct stream *s)
{
	s->u.sf.file->users--;
}

/* cut short: nil, word, the bytes sent */
static int
sendfile_cut(struct stream *s, lua_State *T)
{
	lua_pushnumber(T, (lua_Number)(s->u.sf.off - s->u.sf.start));
	return 1;
}

static const struct stream_op sendfile_op = {
	sendfile_step, EV_WRITE, sendfile_end, sendfile_cut
};

/* stream:sendfile(file[, offset]) */
int
stream_sendfile(lua_State *T)
{
	struct stream *s = stream_check(T);
	struct sfile *f = luaL_checkudata(T, 2, SENDFILE_MT);
	lua_Number off = luaL_optnumber(T, 3, 0);
	struct stat st;

	if (!(off >= 0 && off <= 9007199254740992.0) || off != (lua_Number)(off_t)off)
		return luaL_argerror(T, 3, "invalid offset");
	lua_settop(T, 2);       /* the file stays here while T waits */
	if (lem_waiting(&s->wait))
		return lem_busy(T);
	if (!(s->flags & SF_OPEN))
		return lem_closed(T);
	if (f->fd < 0)
		return lem_error(T, "file closed");
	if (fstat(f->fd, &st) < 0)
		return lem_strerror(T, errno);
	s->u.sf.file = f;
	s->u.sf.off = s->u.sf.start = (off_t)off;
	s->u.sf.end = st.st_size;
	f->users++;             /* a file being sent cannot be closed */
	return stream_start(T, s, &sendfile_op);
}

/* push the metatable lem.SendFile */
void
sendfile_open_methods(lua_State *T)
{
	lem_newmetatable(T, SENDFILE_MT, sendfile_methods);
}
