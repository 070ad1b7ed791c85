/*
 * fs.c - lem.fs: regular files and the file system, with the blocking
 * system calls in lem's file thread pool (lem_async_run_file), so that
 * a slow disk stalls only the coroutine that waits for it.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * Every call is a job: a malloc'd record that the thread works on and
 * that owns whatever the system call makes (a descriptor, bytes read),
 * so that the job can outlive its waiter.  A deadline or a cancel that
 * ends the wait takes back a job still queued (it never runs); a job
 * already running finishes in its thread, and its done() finds nobody
 * to give the result to: it closes the descriptor an open made and
 * frees the rest.  Bytes a File read for a waiter that has gone stay in
 * the File's buffer for the next read: nothing read is lost.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "lem.h"

#define FILE_MT "lem.File"

#define CHUNK    65536          /* read() and read('*l') ask for this much */
#define LINE_MAX_ (1024 * 1024) /* read('*l') gives up: as streams */

enum {
	/* File operations */
	OP_OPEN, OP_READ, OP_WRITE, OP_SEEK, OP_SYNC, OP_SIZE, OP_CLOSE,
	/* path functions */
	OP_STAT, OP_LSTAT, OP_READDIR, OP_MKDIR, OP_RMDIR, OP_REMOVE,
	OP_RENAME, OP_LINK, OP_SYMLINK, OP_READLINK, OP_REALPATH, OP_CHMOD,
	OP_READFILE, OP_WRITEFILE
};
#define FILE_OP(op) ((op) <= OP_CLOSE)

enum { FMT_CHUNK, FMT_N, FMT_LINE, FMT_ALL };

struct file;
struct jwait;

struct job {
	struct lem_async a;     /* first: the pool hands it back */
	struct file *f;         /* File ops: NULL once the file let go */
	struct jwait *jw;       /* path functions: NULL once the waiter went */
	int op;
	int fd;                 /* the file's, or what open made (-1) */
	int err;                /* errno; 0: it worked */
	const char *word;       /* an error word instead of strerror */
	unsigned char close_fd; /* done() closes fd: its File is gone */
	unsigned char eof;      /* a read reached the end of the file */
	int flags;              /* open */
	int fmt;                /* read */
	int whence;             /* seek */
	mode_t mode;
	size_t want;            /* read(n): bytes wanted beyond the buffer */
	size_t unread;          /* bytes the File had buffered, not returned */
	off_t off;              /* seek: in and out; size */
	char *data;             /* bytes read or to write, a link, a path */
	size_t len, cap;
	struct stat st;
	char *path, *path2;
	char names[];           /* where path and path2 point */
};

/* A File (lem.File).  w.T is the waiting coroutine. */
struct file {
	struct lem_wait w;      /* first: the cancel hook casts back */
	struct job *job;        /* in flight: the file is busy */
	int fd;                 /* -1 when closed */
	int fmt;                /* the read being waited for */
	size_t want;
	char *buf;              /* read from the file, not yet returned */
	size_t start, end, cap;
};

/* A path function's wait; lives on the waiting coroutine's stack. */
struct jwait {
	struct lem_wait w;      /* first */
	struct job *job;
};

static mode_t fs_umask;         /* for the mode of writefile's files */

/* ------------------------------------------------------------ jobs */

static void
job_free(struct job *j)
{
	free(j->data);
	free(j);
}

/* a job nobody takes the result of: nothing it made may stay */
static void
job_discard(struct job *j)
{
	if ((j->op == OP_OPEN || j->close_fd) && j->fd >= 0 &&
			j->op != OP_CLOSE)
		close(j->fd);
	job_free(j);
}

/* room for n more bytes in j->data; -1 (ENOMEM in err) if none */
static int
job_grow(struct job *j, size_t n)
{
	char *p;
	size_t cap;

	if (j->cap - j->len >= n)
		return 0;
	cap = j->cap ? j->cap : 256;
	while (cap - j->len < n) {
		if (cap > ((size_t)-1) / 2) {
			j->err = ENOMEM;
			return -1;
		}
		cap *= 2;
	}
	p = realloc(j->data, cap);
	if (p == NULL) {
		j->err = ENOMEM;
		return -1;
	}
	j->data = p;
	j->cap = cap;
	return 0;
}

/* read up to n bytes more into j->data; the count, 0 at end, -1 error */
static ssize_t
job_read(struct job *j, int fd, size_t n)
{
	ssize_t r;

	if (job_grow(j, n) < 0)
		return -1;
	do {
		r = read(fd, j->data + j->len, n);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		j->err = errno;
		return -1;
	}
	if (r == 0)
		j->eof = 1;
	j->len += (size_t)r;
	return r;
}

static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static void
work_read(struct job *j)
{
	size_t start = j->len;

	switch (j->fmt) {
	case FMT_CHUNK:
		job_read(j, j->fd, CHUNK);
		break;
	case FMT_N:
		if (j->want == 0) {             /* read(0): is there more? */
			job_read(j, j->fd, CHUNK);
			break;
		}
		while (j->len < j->want && job_read(j, j->fd, j->want - j->len) > 0)
			;
		break;
	case FMT_LINE:
		while (j->unread + j->len < LINE_MAX_ &&
				job_read(j, j->fd, CHUNK) > 0) {
			if (memchr(j->data + start, '\n', j->len - start))
				break;
			start = j->len;
		}
		break;
	case FMT_ALL: {
		struct stat st;
		off_t pos = lseek(j->fd, 0, SEEK_CUR);
		size_t hint = CHUNK;

		/* one read of the whole rest where the size is known */
		if (pos >= 0 && fstat(j->fd, &st) == 0 && S_ISREG(st.st_mode) &&
				st.st_size > pos)
			hint = (size_t)(st.st_size - pos) + 1;
		while (job_read(j, j->fd, hint) > 0)
			hint = j->cap - j->len > CHUNK ? j->cap - j->len : CHUNK;
		break;
	}
	}
}

/* readdir: the names, sorted, in j->data as a block of strings; j->len
 * is the count */
static int
names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
work_readdir(struct job *j)
{
	DIR *d = opendir(j->path);
	struct dirent *e;
	char **v, *blk;
	size_t n = 0, bytes = 0, i;

	if (d == NULL) {
		j->err = errno;
		return;
	}
	/* the strings first, packed in j->data; then an index after them */
	for (;;) {
		size_t l;

		errno = 0;
		e = readdir(d);
		if (e == NULL) {
			if (errno != 0)
				j->err = errno;
			break;
		}
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		l = strlen(e->d_name) + 1;
		if (job_grow(j, l) < 0)
			break;
		memcpy(j->data + j->len, e->d_name, l);
		j->len += l;
		n++;
	}
	closedir(d);
	if (j->err)
		return;
	bytes = j->len;
	if (job_grow(j, (n + 1) * sizeof(char *) + sizeof(char *)) < 0)
		return;
	/* pointer-aligned index after the strings */
	blk = j->data + ((bytes + sizeof(char *) - 1) / sizeof(char *)) *
		sizeof(char *);
	v = (char **)blk;
	for (i = 0, blk = j->data; i < n; i++) {
		v[i] = blk;
		blk += strlen(blk) + 1;
	}
	qsort(v, n, sizeof(char *), names_cmp);
	j->want = n;
	j->off = (off_t)((char *)v - j->data);  /* where the index is */
}

/* writefile: a new file next to path, written, synced, renamed over */
static void
work_writefile(struct job *j)
{
	size_t pl = strlen(j->path);
	char *tmp = malloc(pl + 16);
	struct stat st;
	mode_t mode;
	int fd, err;

	if (tmp == NULL) {
		j->err = ENOMEM;
		return;
	}
	memcpy(tmp, j->path, pl);
	memcpy(tmp + pl, ".lem-XXXXXX", 12);
	/* an existing file keeps its permissions */
	if (stat(j->path, &st) == 0 && S_ISREG(st.st_mode))
		mode = st.st_mode & 07777;
	else
		mode = 0666 & ~fs_umask;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		j->err = errno;
		free(tmp);
		return;
	}
	err = write_all(fd, j->data, j->len);
	if (err == 0 && fchmod(fd, mode) < 0)
		err = errno;
	if (err == 0 && fsync(fd) < 0)
		err = errno;
	if (close(fd) < 0 && err == 0 && errno != EINTR)
		err = errno;
	if (err == 0 && rename(tmp, j->path) < 0)
		err = errno;
	if (err != 0)
		unlink(tmp);
	free(tmp);
	j->err = err;
}

static void
work_readfile(struct job *j)
{
	int fd = open(j->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	size_t hint = CHUNK;

	if (fd < 0) {
		j->err = errno;
		return;
	}
	if (fstat(fd, &st) < 0) {
		j->err = errno;
	} else {
		int fl = fcntl(fd, F_GETFL);

		if (fl >= 0)
			fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
		if (S_ISREG(st.st_mode) && st.st_size > 0)
			hint = (size_t)st.st_size + 1;  /* +1: sees the end at once */
		while (job_read(j, fd, hint) > 0)
			hint = j->cap - j->len > CHUNK ? j->cap - j->len : CHUNK;
	}
	close(fd);
}

static void
work_readlink(struct job *j)
{
	size_t size = 256;

	for (;;) {
		ssize_t r;

		if (job_grow(j, size) < 0)
			return;
		r = readlink(j->path, j->data, j->cap);
		if (r < 0) {
			j->err = errno;
			return;
		}
		if ((size_t)r < j->cap) {
			j->len = (size_t)r;
			return;
		}
		size = j->cap * 2;
	}
}

/* in a thread of the file pool */
static void
job_work(struct lem_async *a)
{
	struct job *j = (struct job *)a;
	int r = 0;

	switch (j->op) {
	case OP_OPEN: {
		struct stat st;
		int fl;

		/* O_NONBLOCK: a FIFO does not block the thread in open() (for
		 * writing without a reader it says ENXIO); then blocking I/O */
		j->fd = open(j->path, j->flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
				j->mode);
		if (j->fd < 0) {
			j->err = errno;
			break;
		}
		if (fstat(j->fd, &st) < 0) {
			j->err = errno;
		} else if (S_ISSOCK(st.st_mode)) {
			j->err = ENXIO;         /* as open(2) says for a socket */
		} else if ((fl = fcntl(j->fd, F_GETFL)) < 0 ||
				fcntl(j->fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
			j->err = errno;
		}
		if (j->err) {
			close(j->fd);
			j->fd = -1;
		}
		break;
	}
	case OP_READ:
		work_read(j);
		break;
	case OP_WRITE:
		/* bytes the File had read ahead: the write goes where the
		 * reader is (a pipe or device cannot seek: ESPIPE is fine) */
		if (j->unread > 0 && lseek(j->fd, -(off_t)j->unread, SEEK_CUR) < 0
				&& errno != ESPIPE) {
			j->err = errno;
			break;
		}
		j->err = write_all(j->fd, j->data, j->len);
		break;
	case OP_SEEK:
		if (j->whence == SEEK_CUR)
			j->off -= (off_t)j->unread;
		j->off = lseek(j->fd, j->off, j->whence);
		if (j->off < 0)
			j->err = errno;
		break;
	case OP_SYNC:
		r = fsync(j->fd);
		break;
	case OP_SIZE:
		r = fstat(j->fd, &j->st);
		break;
	case OP_CLOSE:
		if (close(j->fd) < 0 && errno != EINTR)
			j->err = errno;
		j->fd = -1;
		break;
	case OP_STAT:     r = stat(j->path, &j->st); break;
	case OP_LSTAT:    r = lstat(j->path, &j->st); break;
	case OP_READDIR:  work_readdir(j); break;
	case OP_MKDIR:    r = mkdir(j->path, j->mode); break;
	case OP_RMDIR:    r = rmdir(j->path); break;
	case OP_REMOVE:   r = remove(j->path); break;
	case OP_RENAME:   r = rename(j->path, j->path2); break;
	case OP_LINK:     r = link(j->path, j->path2); break;
	case OP_SYMLINK:  r = symlink(j->path, j->path2); break;
	case OP_READLINK: work_readlink(j); break;
	case OP_REALPATH:
		free(j->data);
		j->data = realpath(j->path, NULL);
		if (j->data == NULL)
			j->err = errno;
		else
			j->len = j->cap = strlen(j->data);
		break;
	case OP_CHMOD:    r = chmod(j->path, j->mode); break;
	case OP_READFILE: work_readfile(j); break;
	case OP_WRITEFILE: work_writefile(j); break;
	}
	if (r < 0)
		j->err = errno;
}

/* ---------------------------------------------------- File buffers */

static size_t
buf_len(struct file *f)
{
	return f->end - f->start;
}

static void
buf_free(struct file *f)
{
	free(f->buf);
	f->buf = NULL;
	f->start = f->end = f->cap = 0;
}

/* append what job j read; -1 if no memory (the bytes are lost then) */
static int
buf_take(struct file *f, struct job *j)
{
	size_t have = buf_len(f);

	if (j->len == 0)
		return 0;
	if (have == 0) {
		/* adopt the job's block: no copy */
		free(f->buf);
		f->buf = j->data;
		f->start = 0;
		f->end = j->len;
		f->cap = j->cap;
		j->data = NULL;
		j->len = j->cap = 0;
		return 0;
	}
	if (f->start > 0) {
		memmove(f->buf, f->buf + f->start, have);
		f->start = 0;
		f->end = have;
	}
	if (f->cap - f->end < j->len) {
		char *p = realloc(f->buf, f->end + j->len);

		if (p == NULL)
			return -1;
		f->buf = p;
		f->cap = f->end + j->len;
	}
	memcpy(f->buf + f->end, j->data, j->len);
	f->end += j->len;
	return 0;
}

static void
push_consume(lua_State *T, struct file *f, size_t n)
{
	if (n == 0) {
		lua_pushliteral(T, "");         /* f->buf may be NULL */
		return;
	}
	lua_pushlstring(T, f->buf + f->start, n);
	f->start += n;
	if (f->start == f->end)
		f->start = f->end = 0;
}

/*
 * What read(fmt) returns from the buffer; at_end: the file has no more
 * (a read just reached its end).  Returns the number of results, or 0
 * if the buffer cannot answer yet.
 */
static int
read_from_buffer(lua_State *T, struct file *f, int fmt, size_t want,
		int at_end)
{
	size_t have = buf_len(f);

	switch (fmt) {
	case FMT_CHUNK:
		if (have > 0) {
			push_consume(T, f, have > CHUNK ? CHUNK : have);
			return 1;
		}
		break;
	case FMT_N:
		if (want == 0 && have > 0) {
			lua_pushliteral(T, "");
			return 1;
		}
		if (want > 0 && (have >= want || (at_end && have > 0))) {
			push_consume(T, f, have >= want ? want : have);
			return 1;
		}
		break;
	case FMT_LINE: {
		const char *nl = have ? memchr(f->buf + f->start, '\n', have) : NULL;

		if (nl != NULL && (size_t)(nl - (f->buf + f->start)) < LINE_MAX_) {
			push_consume(T, f, (size_t)(nl - (f->buf + f->start)) + 1);
			return 1;
		}
		if (have >= LINE_MAX_)
			return lem_error(T, "line too long");
		if (at_end && have > 0) {
			push_consume(T, f, have);
			return 1;
		}
		break;
	}
	case FMT_ALL:
		if (at_end) {
			push_consume(T, f, have);
			return 1;
		}
		return 0;
	}
	if (at_end) {
		lua_pushnil(T);         /* end of file */
		return 1;
	}
	return 0;
}

/* ----------------------------------------------------- done() paths */

static int
push_errno(lua_State *T, struct job *j)
{
	if (j->word != NULL)
		return lem_error(T, j->word);
	return lem_strerror(T, j->err);
}

static void
set_num(lua_State *T, const char *k, lua_Number v)
{
	lua_pushnumber(T, v);
	lua_setfield(T, -2, k);
}

static int
push_stat(lua_State *T, const struct stat *st)
{
	const char *type = "file";

	if (S_ISDIR(st->st_mode))
		type = "directory";
	else if (S_ISLNK(st->st_mode))
		type = "link";
	else if (S_ISFIFO(st->st_mode))
		type = "fifo";
	else if (S_ISSOCK(st->st_mode))
		type = "socket";
	else if (S_ISCHR(st->st_mode))
		type = "char";
	else if (S_ISBLK(st->st_mode))
		type = "block";
	lua_createtable(T, 0, 12);
	lua_pushstring(T, type);
	lua_setfield(T, -2, "type");
	set_num(T, "size", (lua_Number)st->st_size);
	set_num(T, "mode", (lua_Number)(st->st_mode & 07777));
	set_num(T, "uid", (lua_Number)st->st_uid);
	set_num(T, "gid", (lua_Number)st->st_gid);
	set_num(T, "ino", (lua_Number)st->st_ino);
	set_num(T, "dev", (lua_Number)st->st_dev);
	set_num(T, "nlink", (lua_Number)st->st_nlink);
	set_num(T, "atime", (lua_Number)st->st_atim.tv_sec +
			st->st_atim.tv_nsec / 1e9);
	set_num(T, "mtime", (lua_Number)st->st_mtim.tv_sec +
			st->st_mtim.tv_nsec / 1e9);
	set_num(T, "ctime", (lua_Number)st->st_ctim.tv_sec +
			st->st_ctim.tv_nsec / 1e9);
	return 1;
}

/* the results of a path function, onto P */
static int
path_step(lua_State *P, void *ud)
{
	struct job *j = ud;
	size_t i;

	if (j->err != 0 || j->word != NULL)
		return push_errno(P, j);
	switch (j->op) {
	case OP_STAT:
	case OP_LSTAT:
		return push_stat(P, &j->st);
	case OP_READDIR: {
		char **v = (char **)(j->data + j->off);

		lua_createtable(P, (int)j->want, 0);
		for (i = 0; i < j->want; i++) {
			lua_pushstring(P, v[i]);
			lua_rawseti(P, -2, (int)i + 1);
		}
		return 1;
	}
	case OP_READLINK:
	case OP_REALPATH:
	case OP_READFILE:
		lua_pushlstring(P, j->data ? j->data : "", j->len);
		return 1;
	}
	lua_pushboolean(P, 1);
	return 1;
}

/* the results of a File operation, onto P */
static int
file_step(lua_State *P, void *ud)
{
	struct job *j = ud;
	struct file *f = j->f;

	switch (j->op) {
	case OP_OPEN:
		return push_errno(P, j);        /* success: see job_done */
	case OP_READ: {
		int n;

		if (j->err != 0 && buf_len(f) == 0)
			return push_errno(P, j);
		n = read_from_buffer(P, f, f->fmt, f->want, 1);
		return n;
	}
	case OP_SEEK:
		if (j->err)
			return push_errno(P, j);
		lua_pushnumber(P, (lua_Number)j->off);
		return 1;
	case OP_SIZE:
		if (j->err)
			return push_errno(P, j);
		lua_pushnumber(P, (lua_Number)j->st.st_size);
		return 1;
	}
	if (j->err)
		return push_errno(P, j);
	lua_pushboolean(P, 1);
	return 1;
}

/* in the loop thread, once the job is done */
static void
job_done(struct lem_async *a)
{
	struct job *j = (struct job *)a;
	struct file *f = j->f;

	if (!FILE_OP(j->op)) {
		struct jwait *jw = j->jw;

		if (jw == NULL) {
			job_discard(j);
			return;
		}
		jw->job = NULL;
		lem_wait_run(&jw->w, path_step, j);
		job_free(j);
		return;
	}
	if (f == NULL) {
		job_discard(j);
		return;
	}
	f->job = NULL;
	switch (j->op) {
	case OP_OPEN:
		if (j->fd >= 0) {
			/* the File waits at index 4 of its opener's stack; if
			 * the opener went (a deadline), nobody ever got the
			 * File: the descriptor is closed now, not at its __gc */
			lua_State *T = lem_wait_end(&f->w);

			if (T != NULL) {
				f->fd = j->fd;
				lua_pushvalue(T, 4);
				lem_queue(T, 1);
			} else {
				close(j->fd);
			}
			job_free(j);
			return;
		}
		break;
	case OP_READ:
		/* what was read stays with the File, waiter or not */
		if (buf_take(f, j) < 0 && j->err == 0)
			j->err = ENOMEM;
		break;
	case OP_WRITE:
	case OP_SEEK:
		if (j->err == 0)
			buf_free(f);    /* the thread moved back over them */
		break;
	}
	if (lem_waiting(&f->w))
		lem_wait_run(&f->w, file_step, j);
	job_free(j);
}

static struct job *
job_new(int op, const char *path, const char *path2)
{
	size_t l1 = path ? strlen(path) + 1 : 0, l2 = path2 ? strlen(path2) + 1 : 0;
	struct job *j = malloc(sizeof(struct job) + l1 + l2);

	if (j == NULL)
		return NULL;
	memset(j, 0, sizeof(*j));
	j->op = op;
	j->fd = -1;
	if (path) {
		j->path = j->names;
		memcpy(j->path, path, l1);
	}
	if (path2) {
		j->path2 = j->names + l1;
		memcpy(j->path2, path2, l2);
	}
	return j;
}

/* ------------------------------------------------------- arguments */

/* permissions: an octal string ('0644', '755') or a number 0-07777 */
static mode_t
check_perm(lua_State *T, int idx, mode_t def)
{
	if (lua_isnoneornil(T, idx))
		return def;
	if (lua_type(T, idx) == LUA_TSTRING) {
		const char *s = lua_tostring(T, idx), *p;
		unsigned long v = 0;

		for (p = s; *p >= '0' && *p <= '7' && v <= 07777; p++)
			v = v * 8 + (unsigned long)(*p - '0');
		if (*p != '\0' || p == s || v > 07777)
			luaL_argerror(T, idx, "invalid permissions (an octal string such as '0644')");
		return (mode_t)v;
	}
	if (lua_type(T, idx) == LUA_TNUMBER) {
		lua_Number n = lua_tonumber(T, idx);

		if (!(n >= 0 && n <= 07777) || n != (lua_Number)(int)n)
			luaL_argerror(T, idx, "invalid permissions");
		return (mode_t)n;
	}
	luaL_typerror(T, idx, "octal string");
	return def;
}

/* ------------------------------------------------- path functions */

static int
jwait_cancel(struct lem_wait *w, lua_State *T)
{
	struct jwait *jw = (struct jwait *)w;
	struct job *j = jw->job;

	(void)T;
	jw->job = NULL;
	if (j == NULL)
		return 0;
	if (lem_async_cancel(&j->a))
		job_free(j);            /* still queued: dropped */
	else
		j->jw = NULL;           /* running: done() discards it */
	return 0;
}

/* the wait cannot start the job (no memory): it ends with a message */
static int
wait_nomem(lua_State *T, struct lem_wait *w, int ret)
{
	lua_State *S = lem_wait_end(w);

	if (S != NULL) {
		lua_pushnil(S);
		lua_pushstring(S, strerror(ENOMEM));
		lem_queue(S, 2);
	}
	(void)T;
	return ret;
}

/* wait on a new job op for the paths; j (if not NULL) gets the job to
 * fill in before it runs */
static int
path_job(lua_State *T, int op, const char *path, const char *path2,
		mode_t mode, const char *data, size_t len)
{
	struct jwait *jw = lua_newuserdata(T, sizeof(struct jwait));
	struct job *j;
	int ret;

	jw->w.T = NULL;
	jw->job = NULL;
	ret = lem_wait(T, &jw->w, jwait_cancel);        /* may raise */
	if (!lem_waiting(&jw->w))
		return ret;
	j = job_new(op, path, path2);
	if (j != NULL && data != NULL) {
		j->data = malloc(len ? len : 1);
		if (j->data == NULL) {
			free(j);
			j = NULL;
		} else {
			memcpy(j->data, data, len);
			j->len = j->cap = len;
		}
	}
	if (j == NULL)
		return wait_nomem(T, &jw->w, ret);
	j->mode = mode;
	j->jw = jw;
	jw->job = j;
	lem_async_run_file(&j->a, job_work, job_done);
	return ret;
}

static int
fs_path1(lua_State *T, int op)
{
	const char *path = lem_checkcstring(T, 1);

	lua_settop(T, 1);
	return path_job(T, op, path, NULL, 0, NULL, 0);
}

static int
fs_path2(lua_State *T, int op)
{
	const char *a = lem_checkcstring(T, 1), *b = lem_checkcstring(T, 2);

	lua_settop(T, 2);
	return path_job(T, op, a, b, 0, NULL, 0);
}

static int fs_stat(lua_State *T)     { return fs_path1(T, OP_STAT); }
static int fs_lstat(lua_State *T)    { return fs_path1(T, OP_LSTAT); }
static int fs_readdir(lua_State *T)  { return fs_path1(T, OP_READDIR); }
static int fs_rmdir(lua_State *T)    { return fs_path1(T, OP_RMDIR); }
static int fs_remove(lua_State *T)   { return fs_path1(T, OP_REMOVE); }
static int fs_readlink(lua_State *T) { return fs_path1(T, OP_READLINK); }
static int fs_realpath(lua_State *T) { return fs_path1(T, OP_REALPATH); }
static int fs_readfile(lua_State *T) { return fs_path1(T, OP_READFILE); }
static int fs_rename(lua_State *T)   { return fs_path2(T, OP_RENAME); }
static int fs_link(lua_State *T)     { return fs_path2(T, OP_LINK); }
static int fs_symlink(lua_State *T)  { return fs_path2(T, OP_SYMLINK); }

/* fs.mkdir(path[, perm]) */
static int
fs_mkdir(lua_State *T)
{
	const char *path = lem_checkcstring(T, 1);
	mode_t mode = check_perm(T, 2, 0777);

	lua_settop(T, 2);
	return path_job(T, OP_MKDIR, path, NULL, mode, NULL, 0);
}

/* fs.chmod(path, perm) */
static int
fs_chmod(lua_State *T)
{
	const char *path = lem_checkcstring(T, 1);
	mode_t mode;

	luaL_checkany(T, 2);
	mode = check_perm(T, 2, 0);
	lua_settop(T, 2);
	return path_job(T, OP_CHMOD, path, NULL, mode, NULL, 0);
}

/* fs.writefile(path, data) */
static int
fs_writefile(lua_State *T)
{
	const char *path = lem_checkcstring(T, 1);
	size_t len;
	const char *data = luaL_checklstring(T, 2, &len);

	lua_settop(T, 2);
	return path_job(T, OP_WRITEFILE, path, NULL, 0, data, len);
}

/* ------------------------------------------------------------ Files */

static int
file_cancel(struct lem_wait *w, lua_State *T)
{
	struct file *f = (struct file *)w;
	struct job *j = f->job;

	(void)T;
	if (j != NULL && lem_async_cancel(&j->a)) {
		f->job = NULL;          /* still queued: dropped */
		job_free(j);
	}
	/* running: the File stays busy until it is done */
	return 0;
}

/* wait on f for a job op; j is returned to be filled in, or NULL if the
 * wait ended at once (*ret is the result either way) */
static struct job *
file_job(lua_State *T, struct file *f, int op, int *ret)
{
	struct job *j;

	*ret = lem_wait(T, &f->w, file_cancel);         /* may raise */
	if (!lem_waiting(&f->w))
		return NULL;
	j = job_new(op, NULL, NULL);
	if (j == NULL) {
		*ret = wait_nomem(T, &f->w, *ret);
		return NULL;
	}
	j->f = f;
	j->fd = f->fd;
	j->unread = buf_len(f);
	f->job = j;
	return j;
}

static void
file_run(struct job *j)
{
	lem_async_run_file(&j->a, job_work, job_done);
}

static struct file *
file_new(lua_State *T, int mt)
{
	struct file *f = lua_newuserdata(T, sizeof(struct file));

	memset(f, 0, sizeof(*f));
	f->w.T = NULL;
	f->fd = -1;
	lua_pushvalue(T, mt);
	lua_setmetatable(T, -2);
	return f;
}

/* fs.open(path[, mode[, perm]]) */
static int
fs_open(lua_State *T)
{
	const char *path = lem_checkcstring(T, 1);
	size_t ml;
	const char *mode = luaL_optlstring(T, 2, "r", &ml);
	mode_t perm = check_perm(T, 3, 0666);
	const char *m = mode;
	int flags, ret;
	struct file *f;
	struct job *j;

	switch (*m++) {
	case 'r': flags = O_RDONLY; break;
	case 'w': flags = O_WRONLY | O_CREAT | O_TRUNC; break;
	case 'a': flags = O_WRONLY | O_CREAT | O_APPEND; break;
	case 'x': flags = O_WRONLY | O_CREAT | O_EXCL; break;
	default:  return luaL_argerror(T, 2, "invalid mode");
	}
	if (*m == '+') {
		flags = (flags & ~O_WRONLY) | O_RDWR;
		m++;
	}
	if (*m == 'b')
		m++;
	if (m != mode + ml)
		return luaL_argerror(T, 2, "invalid mode");
	lua_settop(T, 3);
	f = file_new(T, lua_upvalueindex(1));  /* index 4: job_done pushes it */
	j = file_job(T, f, OP_OPEN, &ret);
	if (j == NULL)
		return ret;
	j->fd = -1;
	j->flags = flags;
	j->mode = perm;
	/* the path goes with the job */
	{
		size_t pl = strlen(path) + 1;
		char *p = malloc(pl);

		if (p == NULL) {
			f->job = NULL;
			free(j);
			return wait_nomem(T, &f->w, ret);
		}
		memcpy(p, path, pl);
		j->data = p;            /* freed with the job */
		j->path = p;
	}
	file_run(j);
	return ret;
}

static struct file *
check_file(lua_State *T)
{
	return lem_checkudata(T, 1, lua_upvalueindex(1), FILE_MT);
}

/* an operation on f may start: nil, 'busy' / 'closed' else */
static int
file_usable(lua_State *T, struct file *f)
{
	if (f->job != NULL)
		return lem_busy(T);
	if (f->fd < 0)
		return lem_closed(T);
	return 0;
}

/* file:read([fmt]) */
static int
file_read(lua_State *T)
{
	struct file *f = check_file(T);
	int fmt, n, ret;
	size_t want = 0;
	struct job *j;

	switch (lua_type(T, 2)) {
	case LUA_TNONE:
	case LUA_TNIL:
		fmt = FMT_CHUNK;
		break;
	case LUA_TNUMBER: {
		lua_Number v = lua_tonumber(T, 2);

		if (!(v >= 0 && v <= 9007199254740992.0) || v != (lua_Number)(size_t)v)
			return luaL_argerror(T, 2, "invalid byte count");
		want = (size_t)v;
		fmt = FMT_N;
		break;
	}
	case LUA_TSTRING: {
		const char *m = lua_tostring(T, 2);

		if (*m == '*')
			m++;
		if (m[0] == 'a' && m[1] == '\0')
			fmt = FMT_ALL;
		else if (m[0] == 'l' && m[1] == '\0')
			fmt = FMT_LINE;
		else
			return luaL_argerror(T, 2, "invalid mode");
		break;
	}
	default:
		return luaL_argerror(T, 2, "invalid mode");
	}
	lua_settop(T, 1);
	if ((n = file_usable(T, f)) != 0)
		return n;
	n = read_from_buffer(T, f, fmt, want, 0);
	if (n > 0)
		return n;
	j = file_job(T, f, OP_READ, &ret);
	if (j == NULL)
		return ret;
	f->fmt = fmt;
	f->want = want;
	j->fmt = fmt;
	j->want = want > buf_len(f) ? want - buf_len(f) : 0;
	file_run(j);
	return ret;
}

/* file:write(data) */
static int
file_write(lua_State *T)
{
	struct file *f = check_file(T);
	size_t len;
	const char *data = luaL_checklstring(T, 2, &len);
	struct job *j;
	int n, ret;

	lua_settop(T, 2);
	if ((n = file_usable(T, f)) != 0)
		return n;
	j = file_job(T, f, OP_WRITE, &ret);
	if (j == NULL)
		return ret;
	/* a copy: the job may outlive the string (a deadline) */
	j->data = malloc(len ? len : 1);
	if (j->data == NULL) {
		f->job = NULL;
		free(j);
		return wait_nomem(T, &f->w, ret);
	}
	memcpy(j->data, data, len);
	j->len = j->cap = len;
	file_run(j);
	return ret;
}

/* file:seek([whence[, offset]]) */
static int
file_seek(lua_State *T)
{
	static const char *const names[] = { "set", "cur", "end", NULL };
	static const int whences[] = { SEEK_SET, SEEK_CUR, SEEK_END };
	struct file *f = check_file(T);
	int w = luaL_checkoption(T, 2, "cur", names);
	lua_Number off = luaL_optnumber(T, 3, 0);
	struct job *j;
	int n, ret;

	if (!(off >= -9007199254740992.0 && off <= 9007199254740992.0) ||
			off != (lua_Number)(off_t)off)
		return luaL_argerror(T, 3, "invalid offset");
	lua_settop(T, 1);
	if ((n = file_usable(T, f)) != 0)
		return n;
	j = file_job(T, f, OP_SEEK, &ret);
	if (j == NULL)
		return ret;
	j->whence = whences[w];
	j->off = (off_t)off;
	file_run(j);
	return ret;
}

static int
file_simple(lua_State *T, int op)
{
	struct file *f = check_file(T);
	struct job *j;
	int n, ret;

	lua_settop(T, 1);
	if ((n = file_usable(T, f)) != 0)
		return n;
	j = file_job(T, f, op, &ret);
	if (j == NULL)
		return ret;
	file_run(j);
	return ret;
}

/* file:sync() */
static int
file_sync(lua_State *T)
{
	return file_simple(T, OP_SYNC);
}

/* file:size() */
static int
file_size(lua_State *T)
{
	return file_simple(T, OP_SIZE);
}

/* a job in flight goes on alone; it closes fd when done */
static void
file_let_go(struct file *f)
{
	struct job *j = f->job;

	f->job = NULL;
	if (j != NULL) {
		j->f = NULL;
		if (j->op != OP_OPEN)
			j->close_fd = 1;
		f->fd = -1;
	}
}

/* close fd in the pool, with nobody waiting */
static void
close_detached(int fd)
{
	struct job *j = job_new(OP_CLOSE, NULL, NULL);

	if (j == NULL) {
		close(fd);
		return;
	}
	j->fd = fd;
	j->f = NULL;
	lem_async_run_file(&j->a, job_work, job_done);
}

/* file:close() */
static int
file_close(lua_State *T)
{
	struct file *f = check_file(T);
	struct job *j;
	int fd = f->fd, ret;

	lua_settop(T, 1);
	if (fd < 0)
		return lem_error(T, "already closed");
	buf_free(f);
	if (f->job != NULL) {
		/* busy: the waiter (if any) is interrupted, the job in the
		 * thread closes the descriptor when it is done */
		if (lem_waiting(&f->w))
			lem_wait_fail(&f->w, "interrupted");
		if (f->job != NULL)
			file_let_go(f);
		else
			close_detached(fd);
		f->fd = -1;
		lua_pushboolean(T, 1);
		return 1;
	}
	f->fd = -1;
	j = file_job(T, f, OP_CLOSE, &ret);
	if (j == NULL) {
		/* the wait ended at once (a deadline): close it anyway */
		if (f->job == NULL)
			close_detached(fd);
		return ret;
	}
	j->fd = fd;
	file_run(j);
	return ret;
}

/* file:closed() */
static int
file_closed(lua_State *T)
{
	struct file *f = check_file(T);

	lua_pushboolean(T, f->fd < 0);
	return 1;
}

/* file:busy() */
static int
file_busy(lua_State *T)
{
	struct file *f = check_file(T);

	lua_pushboolean(T, f->job != NULL);
	return 1;
}

static int
file__gc(lua_State *T)
{
	struct file *f = luaL_checkudata(T, 1, FILE_MT);

	buf_free(f);
	if (f->job != NULL)
		file_let_go(f);
	else if (f->fd > 2)
		close(f->fd);
	f->fd = -1;
	return 0;
}

static int
file__tostring(lua_State *T)
{
	struct file *f = check_file(T);

	lua_pushfstring(T, "lem.File (%s): %p", f->fd < 0 ? "closed" :
			f->job ? "busy" : "open", (void *)f);
	return 1;
}

static const luaL_Reg file_methods[] = {
	{ "read",       file_read },
	{ "write",      file_write },
	{ "seek",       file_seek },
	{ "sync",       file_sync },
	{ "size",       file_size },
	{ "close",      file_close },
	{ "closed",     file_closed },
	{ "busy",       file_busy },
	{ "__gc",       file__gc },
	{ "__tostring", file__tostring },
	{ NULL, NULL }
};

static const luaL_Reg fs_functions[] = {
	{ "stat",      fs_stat },
	{ "lstat",     fs_lstat },
	{ "readdir",   fs_readdir },
	{ "mkdir",     fs_mkdir },
	{ "rmdir",     fs_rmdir },
	{ "remove",    fs_remove },
	{ "rename",    fs_rename },
	{ "link",      fs_link },
	{ "symlink",   fs_symlink },
	{ "readlink",  fs_readlink },
	{ "realpath",  fs_realpath },
	{ "chmod",     fs_chmod },
	{ "readfile",  fs_readfile },
	{ "writefile", fs_writefile },
	{ NULL, NULL }
};

/* the umask, without changing it even for a moment where /proc has it */
static mode_t
read_umask(void)
{
	FILE *fp = fopen("/proc/self/status", "re");
	char line[128];
	mode_t m;

	if (fp != NULL) {
		while (fgets(line, sizeof(line), fp) != NULL) {
			unsigned int v;

			if (sscanf(line, "Umask: %o", &v) == 1) {
				fclose(fp);
				return (mode_t)v;
			}
		}
		fclose(fp);
	}
	m = umask(022);
	umask(m);
	return m;
}

int
luaopen_lem_fs(lua_State *T)
{
	fs_umask = read_umask();
	lem_newmetatable(T, FILE_MT, file_methods);
	lua_newtable(T);
	luaL_register(T, NULL, fs_functions);
	lua_pushvalue(T, -2);
	lua_pushcclosure(T, fs_open, 1);
	lua_setfield(T, -2, "open");
	lua_pushvalue(T, -2);
	lua_setfield(T, -2, "File");    /* fs.File = mt */
	return 1;
}
