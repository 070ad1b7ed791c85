/*
 * conn.c - the C half of lem.websocket: RFC 6455 messages on a lem
 * stream, with one receiver and one sender at the same time.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * Built into lem.streams and offered to lib/lem/websocket.lua in the
 * registry table "lem.streams.internal", field websocket.
 *
 * Receiving is a stream operation (streams.h) on the stream's own wait:
 * recv reads frames from the stream's read buffer, unmasks them in
 * place, reassembles fragments, checks UTF-8 and answers pings, and
 * returns when a whole message (or the close) is there.
 *
 * Sending cannot use the stream's wait, which a receiver may hold: a
 * WebSocket has a writer of its own, a second watcher (EV_WRITE) on the
 * same descriptor and a queue of whole frames, out.  A frame goes to the
 * kernel at once when the queue is empty; what the kernel leaves is
 * appended to the queue, which the writer drains whenever the descriptor
 * is writable, whether or not anybody waits for it.  send() waits (its
 * own lem_wait, so deadlines and cancel apply) until the queue is empty;
 * a pong or a close reply from the receiver is only queued.  Frames are
 * queued whole, so they never interleave.  One sender waits at a time:
 * a second gets 'busy'.
 */
#include "streams.h"
#include "frame.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#ifdef HAVE_SYS_RANDOM_H
#include <sys/random.h>
#endif

#define WS_MT "lem.WebSocket"

#define READ_CHUNK 65536

/* pings are answered while at most this much waits to be sent */
#define PONG_QUEUE_MAX 65536

struct ws {
	struct lem_wait txwait;         /* a sender waiting for out to drain */
	struct ev_io txw;               /* the writer: EV_WRITE on the fd */
	struct stream *s;
	struct lem_buf out;             /* whole frames, not yet sent */
	struct lem_buf msg;             /* the fragments of a message so far */
	struct lem_ws_frame f;          /* the frame being read */
	uint64_t f_left;                /* its payload bytes still to come */
	uint64_t f_off;                 /* ... and those already read */
	uint64_t max_message;
	struct lem_utf8 utf8;
	unsigned int close_code;        /* the peer's */
	unsigned char server;           /* frames from the peer are masked */
	unsigned char in_frame;
	unsigned char message;          /* lem_ws_frame_sequence's state */
	unsigned char msg_op;           /* text or binary: the message's */
	unsigned char sent_close;
	unsigned char got_close;
	unsigned char broken;           /* the stream failed: nothing goes */
	unsigned char held;             /* the transport (TLS) holds bytes */
	unsigned char ctl_len;
	char ctl[LEM_WS_CONTROL_MAX];   /* a control frame's payload */
};

/* ------------------------------------------------------------- random */

/* masking keys and handshake nonces from the kernel's generator, taken
 * 256 bytes at a time */
static unsigned char rnd[256];
static size_t rnd_left;

static int
rnd_fill(void)
{
	size_t got = 0;

#ifdef HAVE_GETRANDOM
	while (got < sizeof(rnd)) {
		ssize_t r = getrandom(rnd + got, sizeof(rnd) - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
#endif
	if (got < sizeof(rnd)) {
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			return -1;
		while (got < sizeof(rnd)) {
			ssize_t r = read(fd, rnd + got, sizeof(rnd) - got);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		close(fd);
		if (got < sizeof(rnd))
			return -1;
	}
	rnd_left = sizeof(rnd);
	return 0;
}

static int
rnd_bytes(unsigned char *dst, size_t n)
{
	while (n > 0) {
		size_t k;

		if (rnd_left == 0 && rnd_fill() < 0)
			return -1;
		k = n < rnd_left ? n : rnd_left;
		memcpy(dst, rnd + sizeof(rnd) - rnd_left, k);
		memset(rnd + sizeof(rnd) - rnd_left, 0, k);
		rnd_left -= k;
		dst += k;
		n -= k;
	}
	return 0;
}

/* ------------------------------------------------------------- writer */

static void ws_txw_cb(EV_P_ struct ev_io *w, int revents);

/* a failure of the stream's transport (TLS) ends it as a gone peer does */
static int
ws_errno(int e)
{
	return e == STREAM_EIO ? EPIPE : e;
}

/*
 * Write what out holds, then what the stream's transport (TLS) still
 * holds: 1 drained, 0 the kernel is full, -errno.
 */
static int
ws_drain(struct ws *ws)
{
	struct stream *s = ws->s;
	int e = 0;

	if (ws->broken || !(s->flags & SF_OPEN)) {
		lem_buf_free(&ws->out);
		return -EPIPE;
	}
	while (lem_buf_len(&ws->out) > 0) {
		struct iovec v;
		ssize_t r;

		v.iov_base = (void *)lem_buf_data(&ws->out);
		v.iov_len = lem_buf_len(&ws->out);
		r = stream_writev(s, &v, 1, &e);
		if (r > 0) {
			lem_buf_consume(&ws->out, (size_t)r);
			continue;
		}
		if (r < 0 && (e == EAGAIN || e == EWOULDBLOCK))
			return 0;
		ws->broken = 1;
		lem_buf_free(&ws->out);
		return -(r < 0 ? ws_errno(e) : EPIPE);
	}
	if (stream_io_flush(s, &e) < 0) {
		if (e == EAGAIN) {
			ws->held = 1;
			return 0;
		}
		ws->broken = 1;
		return -ws_errno(e);
	}
	ws->held = 0;
	return 1;
}

/* keep the writer going while out holds bytes */
static void
ws_arm(struct ws *ws)
{
	struct stream *s = ws->s;

	if ((lem_buf_len(&ws->out) == 0 && !ws->held) || ws->broken ||
			!(s->flags & SF_OPEN)) {
		ev_io_stop(LEM, &ws->txw);
		return;
	}
	if (ev_is_active(&ws->txw))
		return;
	if (ws->txw.fd != s->w.fd)
		ev_io_set(&ws->txw, s->w.fd, EV_WRITE);
	ev_io_start(LEM, &ws->txw);
}

static void
ws_txw_cb(EV_P_ struct ev_io *w, int revents)
{
	struct ws *ws = (struct ws *)((char *)w - offsetof(struct ws, txw));
	int r = ws_drain(ws);

	(void)revents;
	if (r == 0)
		return;
	ev_io_stop(EV_A_ w);
	if (r > 0) {
		lua_State *T = lem_wait_end(&ws->txwait);

		if (T != NULL) {
			lua_pushboolean(T, 1);
			lem_queue(T, 1);
		}
	} else {
		lem_wait_fail(&ws->txwait, "closed");
	}
}

/* a deadline or cancel ends a sender's wait: what is queued still goes */
static int
ws_tx_cancel(struct lem_wait *w, lua_State *T)
{
	(void)w;
	(void)T;
	return 0;
}

/*
 * Queue a frame (opcode, payload) after what out holds; with the queue
 * empty, a server's frame goes straight from the payload.  Returns 1
 * sent, 0 queued, -errno.
 */
static int
ws_frame_out(struct ws *ws, unsigned int opcode, const char *data,
		size_t len)
{
	unsigned char hdr[LEM_WS_HEADER_MAX], key[4];
	size_t hl;

	if (ws->broken || !(ws->s->flags & SF_OPEN))
		return -EPIPE;
	if (!ws->server) {
		size_t start;

		if (rnd_bytes(key, 4) < 0)
			return -EIO;
		hl = lem_ws_frame_encode(hdr, LEM_WS_FIN | opcode, len, key);
		if (lem_buf_append(&ws->out, (const char *)hdr, hl) < 0)
			return -ENOMEM;
		start = lem_buf_len(&ws->out);
		if (lem_buf_append(&ws->out, data, len) < 0)
			return -ENOMEM;
		if (len > 0) {
			unsigned char *p = (unsigned char *)
				lem_buf_data(&ws->out) + start;

			lem_ws_mask(p, p, len, key, 0);
		}
		return ws_drain(ws);
	}
	hl = lem_ws_frame_encode(hdr, LEM_WS_FIN | opcode, len, NULL);
	if (lem_buf_len(&ws->out) == 0) {
		struct iovec iov[2];
		size_t total = hl + len, sent = 0;

		iov[0].iov_base = hdr;
		iov[0].iov_len = hl;
		iov[1].iov_base = (void *)data;
		iov[1].iov_len = len;
		while (sent < total) {
			int e = 0;
			ssize_t r = stream_writev(ws->s, iov, len ? 2 : 1, &e);

			if (r > 0) {
				size_t k = (size_t)r;

				sent += k;
				if (k >= iov[0].iov_len) {
					k -= iov[0].iov_len;
					iov[0].iov_len = 0;
					iov[1].iov_base =
						(char *)iov[1].iov_base + k;
					iov[1].iov_len -= k;
				} else {
					iov[0].iov_base =
						(char *)iov[0].iov_base + k;
					iov[0].iov_len -= k;
				}
				continue;
			}
			if (r < 0 && (e == EAGAIN || e == EWOULDBLOCK))
				break;
			ws->broken = 1;
			return -(r < 0 ? ws_errno(e) : EPIPE);
		}
		if (sent == total)
			return ws_drain(ws);    /* what a transport holds */
		if (lem_buf_append(&ws->out, iov[0].iov_base,
					iov[0].iov_len) < 0 ||
				lem_buf_append(&ws->out, iov[1].iov_base,
					iov[1].iov_len) < 0)
			return -ENOMEM;
		return 0;
	}
	if (lem_buf_append(&ws->out, (const char *)hdr, hl) < 0 ||
			lem_buf_append(&ws->out, data, len) < 0)
		return -ENOMEM;
	return ws_drain(ws);
}

/* the close frame, once: code 0 sends none (an empty payload) */
static int
ws_close_out(struct ws *ws, unsigned int code, const char *reason,
		size_t rl)
{
	char p[LEM_WS_CONTROL_MAX];
	size_t n = 0;

	if (ws->sent_close)
		return 1;
	ws->sent_close = 1;
	if (code != 0) {
		p[0] = (char)(code >> 8);
		p[1] = (char)(code & 0xff);
		if (rl > LEM_WS_CONTROL_MAX - 2)
			rl = LEM_WS_CONTROL_MAX - 2;
		memcpy(p + 2, reason, rl);
		n = 2 + rl;
	}
	return ws_frame_out(ws, LEM_WS_CLOSE, p, n);
}

static struct ws *
ws_check(lua_State *T)
{
	return luaL_checkudata(T, 1, WS_MT);
}

/* ws:send(data, opcode): true (sent), or waits; nil, 'closed' */
static int
ws_send(lua_State *T)
{
	struct ws *ws = ws_check(T);
	size_t len;
	const char *data = luaL_checklstring(T, 2, &len);
	int opcode = (int)luaL_checkinteger(T, 3);
	int r, ret;

	if (opcode != LEM_WS_TEXT && opcode != LEM_WS_BINARY &&
			opcode != LEM_WS_PING && opcode != LEM_WS_PONG)
		return luaL_argerror(T, 3, "invalid opcode");
	if (opcode >= LEM_WS_CLOSE && len > LEM_WS_CONTROL_MAX)
		return luaL_argerror(T, 2, "more than 125 bytes");
	if (opcode == LEM_WS_TEXT) {
		struct lem_utf8 u = LEM_UTF8_INIT;

		if (lem_utf8_check(&u, (const unsigned char *)data, len) < 0 ||
				!lem_utf8_done(&u))
			return luaL_argerror(T, 2, "text is not UTF-8");
	}
	lua_settop(T, 1);
	if (lem_waiting(&ws->txwait))
		return lem_busy(T);
	if (ws->sent_close || ws->broken || !(ws->s->flags & SF_OPEN))
		return lem_closed(T);
	r = ws_frame_out(ws, (unsigned int)opcode, data, len);
	if (r < 0) {
		ws->broken = 1;
		return r == -EPIPE || stream_peer_gone(-r) ? lem_closed(T) :
			lem_strerror(T, -r);
	}
	if (r > 0) {
		lua_pushboolean(T, 1);
		return 1;
	}
	ret = lem_wait(T, &ws->txwait, ws_tx_cancel);
	ws_arm(ws);     /* even when the wait ended at once: out drains */
	return ret;
}

/* ws:flush(): wait until what is queued is sent */
static int
ws_flush(lua_State *T)
{
	struct ws *ws = ws_check(T);
	int r, ret;

	lua_settop(T, 1);
	if (lem_waiting(&ws->txwait))
		return lem_busy(T);
	r = ws_drain(ws);
	if (r < 0)
		return lem_closed(T);
	if (r > 0) {
		lua_pushboolean(T, 1);
		return 1;
	}
	ret = lem_wait(T, &ws->txwait, ws_tx_cancel);
	ws_arm(ws);
	return ret;
}

/* ws:close_frame(code, reason): queue our close (once) and push it out;
 * true when sent, false when queued (flush), nil, 'closed' */
static int
ws_close_frame(lua_State *T)
{
	struct ws *ws = ws_check(T);
	unsigned int code = (unsigned int)luaL_optinteger(T, 2, 1000);
	size_t rl;
	const char *reason = luaL_optlstring(T, 3, "", &rl);
	int r;

	if (code != 0 && !lem_ws_close_code_valid(code))
		return luaL_argerror(T, 2, "invalid close code");
	if (rl > LEM_WS_CONTROL_MAX - 2)
		return luaL_argerror(T, 3, "reason longer than 123 bytes");
	{
		struct lem_utf8 u = LEM_UTF8_INIT;

		if (lem_utf8_check(&u, (const unsigned char *)reason, rl) < 0 ||
				!lem_utf8_done(&u))
			return luaL_argerror(T, 3, "reason is not UTF-8");
	}
	if (ws->sent_close || ws->broken || !(ws->s->flags & SF_OPEN))
		return lem_closed(T);
	r = ws_close_out(ws, code, reason, rl);
	if (r < 0)
		return lem_closed(T);
	ws_arm(ws);
	lua_pushboolean(T, r > 0);
	return 1;
}

/* ------------------------------------------------------------ receiver */

/* fail the connection with code (1002, 1007, 1009): the close is queued;
 * nil, word */
static int
ws_fail(lua_State *P, struct ws *ws, unsigned int code, const char *word)
{
	(void)ws_close_out(ws, code, "", 0);
	ws->got_close = 1;      /* nothing more is read */
	ws_arm(ws);
	lem_buf_free(&ws->msg);
	return lem_error(P, word);
}

/* a control frame's payload is in ws->ctl: act on it; 0 to go on, or
 * the results */
static int
ws_control(lua_State *P, struct ws *ws)
{
	switch (ws->f.opcode) {
	case LEM_WS_PING:
		/* a peer that pings without reading the pongs: only what fits
		 * in PONG_QUEUE_MAX is answered (RFC 6455 5.5.3 allows
		 * answering only the latest) */
		if (!ws->sent_close &&
				lem_buf_len(&ws->out) <= PONG_QUEUE_MAX) {
			if (ws_frame_out(ws, LEM_WS_PONG, ws->ctl,
						ws->ctl_len) < 0)
				ws->broken = 1;
			ws_arm(ws);
		}
		return 0;
	case LEM_WS_PONG:
		return 0;
	default: {                      /* close */
		unsigned int code = 0;
		int bad = lem_ws_close_check((const unsigned char *)ws->ctl,
				ws->ctl_len, &code);

		if (bad)
			return ws_fail(P, ws, (unsigned int)bad,
					"protocol error");
		ws->got_close = 1;
		ws->close_code = code;
		/* echo the code (RFC 6455 5.5.1) */
		(void)ws_close_out(ws, code == 1005 ? 0 : code, "", 0);
		ws_arm(ws);
		lem_buf_free(&ws->msg);
		lua_pushnil(P);
		lua_pushliteral(P, "closed");
		lua_pushinteger(P, (lua_Integer)code);
		if (ws->ctl_len > 2)
			lua_pushlstring(P, ws->ctl + 2, ws->ctl_len - 2);
		else
			lua_pushliteral(P, "");
		return 4;
	}
	}
}

static void
push_kind(lua_State *P, int opcode)
{
	if (opcode == LEM_WS_TEXT)
		lua_pushliteral(P, "text");
	else
		lua_pushliteral(P, "binary");
}

/* nil, 'closed', code, '' */
static int
push_closed(lua_State *P, unsigned int code)
{
	lua_pushnil(P);
	lua_pushliteral(P, "closed");
	lua_pushinteger(P, (lua_Integer)code);
	lua_pushliteral(P, "");
	return 4;
}

/* a frame header at buf[0..have): 1 taken, 0 more bytes, or -results */
static int
recv_header(lua_State *P, struct stream *s, struct ws *ws,
		const unsigned char *buf, size_t have)
{
	unsigned int flags = ws->server ? LEM_WS_SERVER : 0;
	int n = lem_ws_frame_parse(&ws->f, buf, have, flags);

	if (n == 0)
		return 0;
	if (n < 0 || lem_ws_frame_sequence(&ws->message, &ws->f) < 0)
		return -ws_fail(P, ws, 1002, "protocol error");
	if (ws->f.opcode < LEM_WS_CLOSE &&
			lem_buf_len(&ws->msg) + ws->f.len > ws->max_message)
		return -ws_fail(P, ws, 1009, "too large");
	if (ws->f.opcode == LEM_WS_TEXT || ws->f.opcode == LEM_WS_BINARY) {
		struct lem_utf8 u = LEM_UTF8_INIT;

		ws->utf8 = u;
		ws->msg_op = ws->f.opcode;
	}
	lem_buf_consume(&s->in, (size_t)n);
	ws->in_frame = 1;
	ws->f_left = ws->f.len;
	ws->f_off = 0;
	ws->ctl_len = 0;
	return 1;
}

/* a control frame, all of it at buf: 1 dealt with, or -results */
static int
recv_control(lua_State *P, struct stream *s, struct ws *ws,
		const unsigned char *buf)
{
	size_t n = (size_t)ws->f_left;
	unsigned char *ctl = (unsigned char *)ws->ctl;
	int r;

	memcpy(ctl, buf, n);
	if (ws->f.masked)
		lem_ws_mask(ctl, ctl, n, ws->f.mask, 0);
	ws->ctl_len = (unsigned char)n;
	lem_buf_consume(&s->in, n);
	ws->in_frame = 0;
	r = ws_control(P, ws);
	return r > 0 ? -r : 1;
}

/* n bytes of a data frame's payload at buf: 1 taken, or -results */
static int
recv_data(lua_State *P, struct stream *s, struct ws *ws,
		unsigned char *buf, size_t n)
{
	int text = ws->msg_op == LEM_WS_TEXT;
	struct lem_utf8 *u = &ws->utf8;
	unsigned char *p;

	/* the whole message in one frame, all here: no copy */
	if (ws->f.fin && ws->f_off == 0 && n == ws->f_left &&
			lem_buf_len(&ws->msg) == 0) {
		if (ws->f.masked)
			lem_ws_mask(buf, buf, n, ws->f.mask, 0);
		ws->in_frame = 0;
		if (text && (lem_utf8_check(u, buf, n) < 0 ||
					!lem_utf8_done(u))) {
			lem_buf_consume(&s->in, n);
			return -ws_fail(P, ws, 1007, "protocol error");
		}
		lua_pushlstring(P, (const char *)buf, n);
		push_kind(P, ws->msg_op);
		lem_buf_consume(&s->in, n);
		ws->message = 0;
		return -2;
	}
	if (lem_buf_append(&ws->msg, (const char *)buf, n) < 0)
		return -lem_strerror(P, ENOMEM);
	lem_buf_consume(&s->in, n);
	p = (unsigned char *)lem_buf_data(&ws->msg) + lem_buf_len(&ws->msg) - n;
	if (ws->f.masked)
		lem_ws_mask(p, p, n, ws->f.mask, ws->f_off);
	if (text && lem_utf8_check(u, p, n) < 0) {
		ws->in_frame = 0;
		return -ws_fail(P, ws, 1007, "protocol error");
	}
	ws->f_left -= n;
	ws->f_off += n;
	if (ws->f_left > 0)
		return 1;
	ws->in_frame = 0;
	if (!ws->f.fin)
		return 1;
	if (text && !lem_utf8_done(u))
		return -ws_fail(P, ws, 1007, "protocol error");
	lua_pushlstring(P, lem_buf_data(&ws->msg), lem_buf_len(&ws->msg));
	push_kind(P, ws->msg_op);
	lem_buf_free(&ws->msg);
	return -2;
}

/* recv_more: the connection ended (no results can be that many) */
#define RECV_END (-100)

/* more bytes into the stream's buffer: 1, 0 to wait, RECV_END at the
 * end of the connection, or -results */
static int
recv_more(lua_State *P, struct stream *s, struct ws *ws, size_t have)
{
	size_t want, avail;
	char *dst;
	ssize_t r;
	int err = 0;

	if (!(s->flags & SF_OPEN))
		return RECV_END;
	if (!ws->in_frame)
		want = LEM_WS_HEADER_MAX;
	else if (ws->f_left - have > READ_CHUNK)
		want = READ_CHUNK;
	else
		want = (size_t)(ws->f_left - have);
	dst = lem_buf_space(&s->in, want < 4096 ? 4096 : want, &avail);
	if (dst == NULL)
		return -lem_strerror(P, ENOMEM);
	r = stream_recv(s, dst, avail, &err);
	lem_buf_commit(&s->in, r > 0 ? (size_t)r : 0);
	if (r > 0)
		return 1;
	if (r == -1)
		return 0;
	if (r == 0) {
		stream_shut(s, 0);
		return RECV_END;
	}
	return -lem_strerror(P, err);
}

static int
recv_step(lua_State *P, struct stream *s)
{
	struct ws *ws = s->u.ext;

	for (;;) {
		size_t have = lem_buf_len(&s->in);
		unsigned char *buf = (unsigned char *)lem_buf_data(&s->in);
		int r;

		if (ws->got_close)
			return push_closed(P, ws->close_code ?
					ws->close_code : 1006);
		if (!ws->in_frame && have > 0)
			r = recv_header(P, s, ws, buf, have);
		else if (ws->in_frame && ws->f.opcode >= LEM_WS_CLOSE &&
				have >= ws->f_left)
			r = recv_control(P, s, ws, buf);
		else if (ws->in_frame && ws->f.opcode < LEM_WS_CLOSE &&
				(have > 0 || ws->f_left == 0))
			r = recv_data(P, s, ws, buf, have < ws->f_left ?
					have : (size_t)ws->f_left);
		else
			r = 0;
		if (r == 0)
			r = recv_more(P, s, ws, have);
		if (r == RECV_END)
			break;          /* the end of the connection */
		if (r < 0)
			return -r;
		if (r == 0)
			return 0;
	}
	/* the TCP connection ended without a close frame */
	ws->got_close = 1;
	ws->broken = 1;
	lem_buf_free(&ws->msg);
	return push_closed(P, 1006);
}

static const struct stream_op recv_op = { recv_step, EV_READ, NULL, NULL };

/* ws:receive() */
static int
ws_receive(lua_State *T)
{
	struct ws *ws = ws_check(T);
	struct stream *s = ws->s;

	lua_settop(T, 1);
	if (lem_waiting(&s->wait))
		return lem_busy(T);
	stream_reset(s);
	s->u.ext = ws;
	return stream_start(T, s, &recv_op);
}

/* ws:state(): sent_close, got_close, broken, pending bytes */
static int
ws_state(lua_State *T)
{
	struct ws *ws = ws_check(T);

	lua_pushboolean(T, ws->sent_close);
	lua_pushboolean(T, ws->got_close);
	lua_pushboolean(T, ws->broken || !(ws->s->flags & SF_OPEN));
	lua_pushnumber(T, (lua_Number)lem_buf_len(&ws->out));
	return 4;
}

/* ws:receiving(): is a receiver waiting on the stream? */
static int
ws_receiving(lua_State *T)
{
	struct ws *ws = ws_check(T);

	lua_pushboolean(T, lem_waiting(&ws->s->wait));
	return 1;
}

/* ws:shutdown(): stop the writer (the stream is about to close) */
static int
ws_shutdown(lua_State *T)
{
	struct ws *ws = ws_check(T);

	ev_io_stop(LEM, &ws->txw);
	lem_buf_free(&ws->out);
	lem_buf_free(&ws->msg);
	ws->broken = 1;
	lem_wait_fail(&ws->txwait, "closed");
	return 0;
}

static int
ws__gc(lua_State *T)
{
	struct ws *ws = luaL_checkudata(T, 1, WS_MT);

	if (lem_waiting(&ws->txwait))
		(void)lem_wait_end(&ws->txwait);
	ev_io_stop(LEM, &ws->txw);
	lem_buf_free(&ws->out);
	lem_buf_free(&ws->msg);
	return 0;
}

/* websocket.new(stream, server, max_message) */
static int
ws_new(lua_State *T)
{
	struct stream *s = luaL_checkudata(T, 1, STREAM_MT);
	int server = lua_toboolean(T, 2);
	lua_Number max = luaL_checknumber(T, 3);
	struct ws *ws;

	if (!(max >= 0))
		return luaL_argerror(T, 3, "invalid max_message");
	ws = lua_newuserdata(T, sizeof(struct ws));
	memset(ws, 0, sizeof(*ws));
	ws->s = s;
	ws->server = (unsigned char)server;
	ws->max_message = max >= 9.2e18 ? UINT64_MAX : (uint64_t)max;
	ev_io_init(&ws->txw, ws_txw_cb, s->w.fd, EV_WRITE);
	luaL_getmetatable(T, WS_MT);
	lua_setmetatable(T, -2);
	lua_createtable(T, 1, 0);
	lua_pushvalue(T, 1);
	lua_rawseti(T, -2, 1);
	lua_setfenv(T, -2);
	return 1;
}

/* websocket.accept_key(key): Sec-WebSocket-Accept, or nil if the key
 * is not valid */
static int
ws_accept_key(lua_State *T)
{
	size_t len;
	const char *key = luaL_checklstring(T, 1, &len);
	char out[29];

	if (!lem_ws_key_valid(key, len))
		return 0;
	lem_ws_accept(out, key, len);
	lua_pushlstring(T, out, 28);
	return 1;
}

/* websocket.new_key(): a fresh Sec-WebSocket-Key */
static int
ws_new_key(lua_State *T)
{
	unsigned char raw[16];
	char out[25];

	if (rnd_bytes(raw, sizeof(raw)) < 0)
		return lem_strerror(T, EIO);
	lem_base64_encode(out, raw, sizeof(raw));
	lua_pushlstring(T, out, 24);
	return 1;
}

static const luaL_Reg ws_methods[] = {
	{ "send",        ws_send },
	{ "flush",       ws_flush },
	{ "close_frame", ws_close_frame },
	{ "receive",     ws_receive },
	{ "state",       ws_state },
	{ "receiving",   ws_receiving },
	{ "shutdown",    ws_shutdown },
	{ NULL, NULL }
};

static const luaL_Reg ws_functions[] = {
	{ "new",        ws_new },
	{ "accept_key", ws_accept_key },
	{ "new_key",    ws_new_key },
	{ NULL, NULL }
};

void
ws_internal_register(lua_State *T, int internal)
{
	luaL_newmetatable(T, WS_MT);
	lua_pushcfunction(T, ws__gc);
	lua_setfield(T, -2, "__gc");
	lua_pushliteral(T, "lem.WebSocket");
	lua_setfield(T, -2, "__metatable");
	lua_pop(T, 1);

	lua_newtable(T);
	luaL_register(T, NULL, ws_functions);
	lua_newtable(T);
	luaL_register(T, NULL, ws_methods);
	lua_setfield(T, -2, "methods");
	lua_setfield(T, internal, "websocket");
}
