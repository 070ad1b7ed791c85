/*
 * streams.h - what the parts of lem.streams share (private to the module).
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * The parts:
 *   module.c    the module table and what outlives a reload;
 *   stream.c    Stream objects: the generic wait for an operation, the
 *               methods, closing;
 *   read.c      the read operations (the framing is buffer.c's);
 *   write.c     the write operation and cork;
 *   sendfile.c  SendFile objects and the sendfile operation;
 *   open.c      streams.open;
 *   popen.c     streams.popen and the reaping of its children;
 *   tcp.c       tcp_connect (the connect operation) and tcp_listen;
 *   unix.c      unix_connect, unix_listen, stream:credentials;
 *   udp.c       Datagram objects: udp_bind, udp_connect, send, receive;
 *   addr.c      what they share: ports, options tables, name lookups in
 *               a worker thread, binding, addresses as Lua values;
 *   server.c    Server objects: accept and autospawn;
 *   buffer.c    the read buffer and its framing (plain C, fuzzed).
 *
 * Helpers return 0 or -errno; results for Lua are pushed only by the
 * functions that Lua calls and by the step functions of operations.
 *
 * Other modules of lem that carry streams over something of their own
 * (lem.tls) include this header too: they plug a transport (struct
 * stream_io) into a stream or a server hook (struct server_hook) into a
 * server, and call back into this module through struct streams_api.
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

#include <errno.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/socket.h>

#include "lem.h"
#include "buffer.h"

/* SO_REUSEPORT, unless ./configure --disable-reuseport */
#if defined(HAVE_DECL_SO_REUSEPORT) && HAVE_DECL_SO_REUSEPORT
#define STREAMS_REUSEPORT 1
#endif

#define STREAM_MT   "lem.Stream"
#define SERVER_MT   "lem.Server"
#define SENDFILE_MT "lem.SendFile"
#define DGRAM_MT    "lem.Datagram"

/* the longest line read('*l') collects before it gives up */
#define STREAM_LINE_MAX (1024 * 1024)

/* stream.flags */
#define SF_OPEN     0x01    /* w.fd is ours and open */
#define SF_REGULAR  0x02    /* a regular file: never waits, never skips */
#define SF_DRAINED  0x04    /* the last read came back short: wait first */
#define SF_IDLE     0x08    /* w is armed for reading while nobody waits
			       (ev_unref'd: it does not keep lem running) */

struct addrinfo;
struct stream;
struct sfile;
struct lookup;
struct unix_retry;
struct unix_name;

/*
 * A transport: how the bytes of a stream travel when they do not go
 * straight through its descriptor (lem.tls encrypts them).  s->io is
 * NULL for a plain stream, and the read, write and sendfile operations
 * then use the descriptor themselves; otherwise they call these, which
 * use s->w.fd as they like.  s->io_ud is the transport's own state.
 *
 * recv() is the recv() of struct lem_src (buffer.h) with ud the stream:
 * the byte count, 0 at the end of the stream, -1 when nothing is there
 * now, -2 with *err set.  send() takes up to len bytes and returns how
 * many it took; fewer than len means it cannot take more now (the next
 * attempt waits), and -1 is a failure with *err (EAGAIN: take nothing
 * now).  send() with len 0 flushes: bytes it took earlier and still
 * holds go out first (0 when none are left, else -1 with *err); the
 * write and sendfile operations end only when it returns 0, and the
 * transport sends what it holds before any later bytes.
 *
 * When either would wait, the transport sets s->want to EV_READ or
 * EV_WRITE, whichever it waits for (TLS may have to read during a write,
 * or write during a read), and the operation waits for that instead of
 * its own events.  A transport that buffers bytes of its own must not
 * let SF_DRAINED (set and cleared here around reads of the descriptor)
 * keep it from handing them out.
 *
 * *err is an errno value, or STREAM_EIO for a failure of the transport
 * itself, whose words message() gives (valid until the next call).
 * shutdown(), if any, is called by close() before the descriptor is
 * closed (it says goodbye; it must not wait), and free() whenever the
 * stream gives up its descriptor: at close(), at the end of the stream,
 * at __gc.  After free() the stream is closed and s->io stays set, so
 * that the transport still knows its streams.
 */
#define STREAM_EIO (-1)
struct stream_io {
	ssize_t (*recv)(void *ud, char *dst, size_t len, int *err);
	ssize_t (*send)(struct stream *s, const char *data, size_t len,
			int *err);
	const char *(*message)(struct stream *s);
	void (*shutdown)(struct stream *s);
	void (*free)(struct stream *s);
};

/*
 * An operation a stream waits for.  step() does the work: it is called
 * at once in the calling coroutine (P is that coroutine) and then each
 * time the descriptor is ready (P is a state of lem's, in a protected
 * call); it pushes the results onto P and returns their number, or 0 to
 * go on waiting for events.  end(), if any, releases what the operation
 * holds, however it ended.  cut(), if any, pushes the extra results of an
 * operation ended by a deadline, a cancel, interrupt() or close() (after
 * nil and the word), allocating nothing, and returns their number.
 */
struct stream_op {
	int (*step)(lua_State *P, struct stream *s);
	int events;             /* EV_READ or EV_WRITE; 0: no descriptor yet */
	void (*end)(struct stream *s);
	int (*cut)(struct stream *s, lua_State *T);
};

/*
 * A stream.  wait.T is the coroutine waiting on it (lem_waiting: busy);
 * op is the operation in progress, and only its part of u means anything.
 */
struct stream {
	struct lem_wait wait;   /* first: the cancel hook finds the stream */
	struct ev_io w;
	struct lem_buf in;      /* received, not yet read */
	const struct stream_op *op;
	const struct stream_io *io;     /* NULL: plain, the descriptor */
	void *io_ud;            /* the transport's state */
	unsigned char flags;
	unsigned char want;     /* events the transport waits for; 0: op's */
	union {
		size_t want;    /* read(n): bytes; read('*l'): scanned */
		void *ext;      /* an operation of lem.http or lem.websocket:
				 * its object (http/conn.c, websocket/conn.c) */
		struct {        /* write */
			const char *data;
			size_t len, sent;
		} wr;
		struct {        /* sendfile */
			struct sfile *file;
			off_t off, start, end;
		} sf;
		struct {        /* tcp_connect */
			struct lookup *lk;
			struct addrinfo *cur;
			int err;        /* why the last address failed */
			int nodelay;
		} conn;
		struct unix_retry *ux;  /* unix_connect */
	} u;
};

/* A sendfile object (lem.SendFile). */
struct sfile {
	int fd;                 /* -1 when closed */
	int users;              /* streams sending it right now */
};

/*
 * What a server does with each connection before it hands it out (lem.tls
 * gives it a transport).  accepted() sets up stream s and returns 0, or
 * an errno value, and the connection is then closed and skipped; it must
 * not wait or raise.  free() is called when the server is collected.
 */
struct server_hook {
	int (*accepted)(struct stream *s, void *ud);
	void (*free)(void *ud);
};

/*
 * A server (lem.Server).  wait.T is the coroutine in accept/autospawn,
 * or in tcp_listen while the name it was given is looked up.
 */
struct server {
	struct lem_wait wait;
	struct ev_io w;
	struct ev_timer backoff; /* EMFILE: pause accepting for a while */
	int fd;                  /* -1 when closed */
	unsigned char spawning;  /* autospawn (not accept) is waiting */
	unsigned char nodelay;   /* TCP_NODELAY on accepted streams */
	unsigned char reuseport; /* tcp_listen: SO_REUSEPORT */
	int backlog;             /* tcp_listen: for listen() */
	struct lookup *lk;       /* tcp_listen: the lookup of a name */
	struct unix_name *ux;    /* unix_listen: the file close() unlinks */
	const struct server_hook *hook; /* NULL: hand streams out as they are */
	void *hook_ud;
};

/*
 * What lem.streams offers other C modules of lem, which cannot link
 * against it (every module is loaded on its own): a pointer to this is in
 * the registry under STREAMS_API_KEY once lem.streams is loaded.  The
 * sizes let a module check that it was built with this very header.
 *   check: the stream that is argument 1 of a method whose upvalue 1 is
 *          the lem.Stream metatable (see stream_check);
 *   start: run an operation on the stream (see stream_start);
 *   fail:  push the results for a failure err of an operation (see
 *          stream_fail);
 *   peer_gone: does errno value err mean the peer is gone?
 *   buf_free: lem_buf_free (buffer.h), for the stream's read buffer.
 */
#define STREAMS_API_KEY "lem.streams.api"
#define STREAMS_API_VERSION 1
struct streams_api {
	int version;
	size_t stream_size, server_size;
	struct stream *(*check)(lua_State *T);
	int (*start)(lua_State *T, struct stream *s,
			const struct stream_op *op);
	int (*fail)(lua_State *P, struct stream *s, int err);
	int (*peer_gone)(int err);
	void (*buf_free)(struct lem_buf *b);
};

/*
 * A name looked up with getaddrinfo() in a worker thread (or at once for
 * an address literal).  It lives on its own because the thread needs it
 * until it reports back, even if whoever asked has given up by then:
 * lookup_drop() while it runs makes done() free it, dropping the answer.
 */
struct lookup {
	struct lem_async a;
	void (*done)(struct lookup *lk);  /* in the loop; NULL: dropped */
	void *ud;                         /* for done() */
	struct addrinfo *res;
	int gai_err;            /* of getaddrinfo; 0: res is the answer */
	int sys_err;            /* errno, for EAI_SYSTEM */
	int running;            /* with a worker thread */
	int socktype, flags;    /* the hints */
	char *host, *port;
	char names[];
};

/* stream.c */
struct stream *stream_new(lua_State *T);
void stream_watch_stop(struct stream *s);
void stream_setfd(struct stream *s, int fd, unsigned char flags);
int stream_set_nonblock(int fd);
struct stream *stream_check(lua_State *T);      /* self of a method */
void stream_reset(struct stream *s);    /* forget an operation left behind */
int stream_start(lua_State *T, struct stream *s, const struct stream_op *op);
void stream_continue(struct stream *s);         /* run the step again */
int stream_shut(struct stream *s, int gc);      /* 0 or -errno of close */
int stream_lost(lua_State *T, struct stream *s);
int stream_peer_gone(int err);
int stream_fail(lua_State *P, struct stream *s, int err);
int stream_write_error(lua_State *P, struct stream *s, int err);
int stream_flush(lua_State *P, struct stream *s);
ssize_t stream_io_writev(struct stream *s, const struct iovec *iov, int n,
		int *err);
int stream_quiet(struct stream *s);

/*
 * For the writers of streams that keep their own buffers (lem.http's and
 * lem.websocket's C halves): write iov[0..n) to the descriptor, or give
 * it to the transport.  The count of bytes taken (fewer than all: no
 * more now), or -1 with *err (EAGAIN: none now; STREAM_EIO: the
 * transport's message).
 */
static inline ssize_t
stream_writev(struct stream *s, const struct iovec *iov, int n, int *err)
{
	ssize_t r;

	if (s->io != NULL)
		return stream_io_writev(s, iov, n, err);
	do {
		r = writev(s->w.fd, iov, n);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		*err = errno;
	return r;
}

/*
 * The bytes a transport took and holds go out (see struct stream_io):
 * 0 when none are left (always for a plain stream), -1 with *err
 * (EAGAIN: wait for s->want).  A writer is done only after this.
 */
static inline int
stream_io_flush(struct stream *s, int *err)
{
	if (s->io == NULL)
		return 0;
	return s->io->send(s, NULL, 0, err) < 0 ? -1 : 0;
}
void stream_open_methods(lua_State *T);

/* read.c */
extern const struct stream_op stream_op_read, stream_op_read_n,
	stream_op_read_line, stream_op_read_all;
int stream_read(lua_State *T);
ssize_t stream_recv_fd(void *ud, char *dst, size_t len, int *err);

/*
 * Read at most len bytes of stream ud into dst, through its transport
 * if it has one: the recv() of struct lem_src (buffer.h).  lem.http and
 * lem.websocket read through this.
 */
static inline ssize_t
stream_recv(void *ud, char *dst, size_t len, int *err)
{
	struct stream *s = ud;

	if (s->io != NULL)
		return s->io->recv(ud, dst, len, err);
	return stream_recv_fd(ud, dst, len, err);
}

/* write.c */
int stream_write(lua_State *T);
int stream_cork(lua_State *T);
int stream_uncork(lua_State *T);

/* sendfile.c */
int stream_sendfile(lua_State *T);
int streams_sendfile(lua_State *T);
void sendfile_open_methods(lua_State *T);

/* open.c */
int streams_open(lua_State *T);

/* popen.c */
int streams_popen(lua_State *T);
void popen_unload(void);

/* tcp.c */
int streams_tcp_connect(lua_State *T);
int streams_tcp_listen(lua_State *T);

/* unix.c */
int unix_addr(const char *path, int abstract, struct sockaddr_storage *sa,
		socklen_t *len);
int unix_connect_fd(const char *path, int abstract, int *fd);
int streams_unix_connect(lua_State *T);
int streams_unix_listen(lua_State *T);
int stream_credentials(lua_State *T);
void unix_name_release(struct server *srv);

/* udp.c */
int streams_udp_bind(lua_State *T);
int streams_udp_connect(lua_State *T);
void dgram_open_methods(lua_State *T);

/* server.c */
void server_open_methods(lua_State *T);
struct server *server_new(lua_State *T);
void server_setfd(struct server *srv, int fd);

/* addr.c */
const char *streams_checkport(lua_State *T, int idx, char *buf, int *numeric);
void streams_checkoptions(lua_State *T, int idx, const char *const names[]);
int streams_optboolean(lua_State *T, int idx, const char *name, int def);
int streams_optinteger(lua_State *T, int idx, const char *name, int def,
		int min, int max);
int streams_service_port(const char *name, int socktype, int *port);
struct lookup *lookup_new(const char *host, const char *port, int socktype,
		int flags);
int lookup_numeric(struct lookup *lk, int numeric_port);
void lookup_run(struct lookup *lk, void (*done)(struct lookup *lk),
		void *ud);
void lookup_drop(struct lookup *lk);
int lookup_error(lua_State *T, const struct lookup *lk);
int streams_pushaddr(lua_State *T, const struct sockaddr *sa, socklen_t len);
int streams_parse_ipv4(const char *s, unsigned char *a);
int streams_sockname(lua_State *T, int fd, int peer);
int stream_address(lua_State *T);
int stream_peer(lua_State *T);

/* how a socket is bound (see streams_bind) */
struct bind_opts {
	int socktype;           /* SOCK_STREAM or SOCK_DGRAM */
	int reuseaddr;
	int reuseport;
	int backlog;            /* < 0: do not listen */
};
int streams_bind(const struct sockaddr *sa, socklen_t len, int dual,
		const struct bind_opts *o);
int streams_bind_any(int port, const struct bind_opts *o);

/* internal.c: registry["lem.streams.internal"], for other modules */
void streams_internal_register(lua_State *T);

/*
 * lib/lem/http/conn.c and lib/lem/websocket/conn.c, built into this
 * module: the C halves of lem.http and lem.websocket, whose Lua halves
 * (lib/lem/http.lua, lib/lem/websocket.lua) find them in the table
 * "lem.streams.internal" of the registry, fields http and websocket.
 */
void http_internal_register(lua_State *T, int internal);
void ws_internal_register(lua_State *T, int internal);

/*
 * One buffer for every read that starts with nothing stored: the bytes
 * go from here straight into a Lua string.  Making that string may run a
 * __gc metamethod that reads another stream: while stream_rbuf_busy is
 * set, reads go through the stream's own buffer instead.
 */
#define STREAM_RBUF_SIZE 65536
extern char stream_rbuf[];
extern int stream_rbuf_busy;

#endif /* LEM_STREAMS_H */
