/*
 * streams.h - what the parts of lem.streams share (private to the module).
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#ifndef LEM_STREAMS_H
#define LEM_STREAMS_H

/* accept4, pipe2, SOCK_CLOEXEC */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/types.h>

#include "lem.h"
#include "buffer.h"

#define STREAM_MT   "lem.Stream"
#define SERVER_MT   "lem.Server"
#define SENDFILE_MT "lem.SendFile"

/* the longest line read('*l') collects before it gives up */
#define STREAM_LINE_MAX (1024 * 1024)

/* what a busy stream is waiting for (stream.op) */
enum stream_op {
	OP_NONE,
	OP_READ,                /* read(): whatever comes */
	OP_READ_N,              /* read(n) */
	OP_READ_LINE,           /* read('*l') */
	OP_READ_ALL,            /* read('*a') */
	OP_WRITE,
	OP_SENDFILE,
	OP_CONNECT              /* tcp_connect, resolving or connecting */
};

/* stream.flags */
#define SF_OPEN     0x01    /* w.fd is ours and open */
#define SF_REGULAR  0x02    /* a regular file: never waits, never skips */
#define SF_DRAINED  0x04    /* the last read came back short: wait first */

struct sfile;
struct connect_req;

/*
 * A stream.  w.data is the coroutine waiting on it (NULL: not busy).
 * Only the fields of the pending operation are meaningful.
 */
struct stream {
	struct ev_io w;
	struct lem_buf in;      /* received, not yet read */
	unsigned char flags;
	unsigned char op;
	union {
		size_t want;    /* OP_READ_N: bytes; OP_READ_LINE: scanned */
		struct {        /* OP_WRITE */
			const char *data;
			size_t len;
		} wr;
		struct {        /* OP_SENDFILE */
			struct sfile *file;
			off_t off;
			off_t end;
		} sf;
		struct connect_req *req;  /* OP_CONNECT */
	} u;
};

/* A sendfile object (lem.SendFile). */
struct sfile {
	int fd;                 /* -1 when closed */
	int users;              /* streams sending it right now */
};

/* A server (lem.Server).  w.data is the waiting coroutine. */
struct server {
	struct ev_io w;
	struct ev_timer backoff; /* EMFILE: pause accepting for a while */
	int fd;                  /* -1 when closed */
	unsigned char spawning;  /* autospawn (not accept) is waiting */
};

/* stream.c */
struct stream *stream_new(lua_State *T);
void stream_setfd(struct stream *s, int fd, unsigned char flags);
int stream_set_nonblock(int fd);
void stream_io_cb(EV_P_ struct ev_io *w, int revents);
void stream_open_methods(lua_State *T);

/* core.c */
int stream_connect_step(lua_State *T, struct stream *s);
void stream_connect_forget(struct stream *s);

/* server.c */
void server_open_methods(lua_State *T);
struct server *server_new(lua_State *T);

/* sendfile.c */
void sendfile_open_methods(lua_State *T);
int streams_sendfile(lua_State *T);

/* internal.c: registry["lem.streams.internal"], for other modules */
void streams_internal_register(lua_State *T);

extern char stream_rbuf[];
#define STREAM_RBUF_SIZE 65536

#endif /* LEM_STREAMS_H */
