/*
 * conn.c - the C half of lem.http: HTTP/1.1 on a lem stream.  A Conn
 * reads message heads and bodies straight out of the stream's read
 * buffer (the parser works on those bytes in place) and writes whole
 * response or request heads, with their body, in one system call.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * It is built into lem.streams (it needs the insides of a Stream) and
 * offered to lib/lem/http.lua in the registry table
 * "lem.streams.internal", field http.  Nothing here is API: http.lua
 * gives it the shape of API.md section 4.
 *
 * The reads are stream operations (streams.h): head, body, read and
 * discard wait on the stream's own lem_wait, so deadlines (the server's
 * header, idle and body timeouts are utils.timeout scopes around them),
 * co:cancel(), interrupt() and close() end them as any read.  Writes are
 * tried at once; what the kernel does not take is kept in the Conn's
 * out buffer and the caller waits for it with flush (EV_WRITE), under
 * its deadline.
 *
 * Server side, for each request: head() gives req and res tables; req
 * holds method, target, path, query and version, and the head's bytes
 * (a Head userdata under the key HEAD) from which req.headers is made
 * when asked for; res is { conn, seq }, so a res kept past its request
 * is refused.
 */
#include "streams.h"
#include "parser.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#if defined(HAVE_SYS_SENDFILE_H) && defined(HAVE_SENDFILE)
#include <sys/sendfile.h>
#define USE_SENDFILE 1
#endif

#define CONN_MT "lem.http.Conn"

/* how much a read into the stream's buffer asks for at a time */
#define READ_CHUNK 16384

/* the most read([n]) hands out at once by default */
#define READ_DEFAULT 65536

/* roles */
#define ROLE_SERVER 0
#define ROLE_CLIENT 1

/* the state of the response (server) or request (client) we send */
#define RES_NONE    0           /* nothing sent yet */
#define RES_STARTED 1           /* the head is out or queued */
#define RES_DONE    2           /* complete */

/* how its body is framed */
#define OUT_LENGTH  0           /* Content-Length: out_left to come */
#define OUT_CHUNKED 1
#define OUT_CLOSE   2           /* until we close (HTTP/1.0 streaming) */
#define OUT_NONE    3           /* no body (HEAD, 204, 304) */

/* body_err */
#define BODY_BAD    1           /* bad framing, or the peer went away */
#define BODY_LARGE  2           /* over the limit */

struct conn {
	struct stream *s;
	struct lem_http_parser p;
	struct lem_http_chunked ch;
	struct lem_buf out;             /* ours, not yet taken by the kernel */
	struct lem_buf acc;             /* a body being collected */
	uint64_t body_left;             /* LENGTH: bytes still to come */
	uint64_t chunk_left;            /* CHUNKED: data bytes at the start of
					 * the stream buffer not handed out */
	uint64_t body_seen;             /* body bytes so far */
	uint64_t max_body;              /* server: max_body_size */
	uint64_t limit;                 /* of the operation in progress */
	uint64_t out_left;              /* OUT_LENGTH: bytes still to write */
	size_t want;                    /* read(n) */
	struct sfile *sf;               /* sendfile: the file */
	off_t sf_off, sf_start;
	uint64_t sf_left;
	uint32_t seq;                   /* requests (server) so far */
	unsigned char role;
	unsigned char body;             /* enum lem_http_body; NONE once read */
	unsigned char body_err;
	unsigned char version;          /* minor version of the peer's */
	unsigned char keep;             /* the connection may stay open */
	unsigned char head_req;         /* answering HEAD: no body */
	unsigned char expect;           /* 100-continue not answered yet */
	unsigned char res;              /* RES_* */
	unsigned char framing;          /* OUT_* */
	unsigned char idle;             /* head(): give false once bytes came */
	unsigned char closing;          /* answer with Connection: close */
	unsigned char upgraded;         /* 101 sent or received */
	unsigned char body_cut;         /* the last body read was cut short
					 * (a deadline, a cancel) */
	unsigned int max_headers;
	unsigned int hn;                /* field lines of the kept head */
	char *hcopy;                    /* the kept head: req.headers */
	size_t hcap;
	struct lem_http_header hdrs[1]; /* max_headers of them */
};

static char conn_key;           /* req[CONN]: the Conn */

/* one buffer to assemble heads in (the kernel copies it at once; what
 * it leaves goes to the Conn's out buffer) */
#define WBUF_SIZE 16384
static char wbuf[WBUF_SIZE];

/* ------------------------------------------------------------ helpers */

/* the functions carry the metatable of Conns as upvalue 1 */
static struct conn *
conn_check(lua_State *T, int idx)
{
	return lem_checkudata(T, idx, lua_upvalueindex(1), CONN_MT);
}

/* res is the Conn itself (its metatable's __index has the methods) */
#define res_check(T) conn_check(T, 1)

/* tchar (RFC 9110 5.6.2) */
static const unsigned char tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

static int
is_token(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!tchar[(unsigned char)s[i]])
			return 0;
	return 1;
}

/* a field value we may send: no CR, LF, NUL or other controls but HTAB,
 * no leading or trailing white space */
static int
is_value(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return 0;
	}
	if (len > 0 && (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' ||
				s[len - 1] == '\t'))
		return 0;
	return 1;
}

static int
ieq(const char *a, size_t alen, const char *b)
{
	size_t i;

	for (i = 0; i < alen; i++) {
		unsigned char x = (unsigned char)a[i];

		if (b[i] == '\0')
			return 0;
		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (x != (unsigned char)b[i])
			return 0;
	}
	return b[alen] == '\0';
}

/* does the comma-separated list s hold the token tok (lower case)? */
static int
list_has(const char *s, size_t len, const char *tok)
{
	size_t i = 0, tl = strlen(tok);

	while (i < len) {
		size_t j;

		while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
			i++;
		j = i;
		while (j < len && s[j] != ',')
			j++;
		{
			size_t e = j;

			while (e > i && (s[e - 1] == ' ' || s[e - 1] == '\t'))
				e--;
			if (e - i == tl && ieq(s + i, tl, tok))
				return 1;
		}
		i = j;
	}
	return 0;
}

/* push name in lower case */
static void
push_lower(lua_State *P, const char *name, size_t len)
{
	char small[128], *d = small;
	size_t i;

	if (len > sizeof(small)) {
		d = malloc(len);
		if (d == NULL)
			luaL_error(P, "not enough memory");
	}
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		d[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch);
	}
	lua_pushlstring(P, d, len);
	if (d != small)
		free(d);
}

/*
 * The headers table of a head at buf: lower-case names; a repeated
 * field's values joined with ", ", except set-cookie, always a list.
 */
static void
push_headers(lua_State *P, const char *buf, const struct lem_http_header *h,
		unsigned int nh)
{
	unsigned int i;

	lua_createtable(P, 0, (int)nh);
	for (i = 0; i < nh; i++) {
		const char *name = buf + h[i].name.off;
		const char *val = buf + h[i].value.off;
		size_t nl = h[i].name.len, vl = h[i].value.len;

		push_lower(P, name, nl);
		lua_pushvalue(P, -1);
		lua_rawget(P, -3);
		if (nl == 10 && ieq(name, nl, "set-cookie")) {
			if (lua_isnil(P, -1)) {
				lua_pop(P, 1);
				lua_createtable(P, 1, 0);
				lua_pushvalue(P, -2);
				lua_pushvalue(P, -2);
				lua_rawset(P, -5);
			}
			lua_pushlstring(P, val, vl);
			lua_rawseti(P, -2, (int)lua_objlen(P, -2) + 1);
			lua_pop(P, 2);
			continue;
		}
		if (lua_isnil(P, -1)) {
			lua_pop(P, 1);
			lua_pushlstring(P, val, vl);
		} else {
			lua_pushliteral(P, ", ");
			lua_pushlstring(P, val, vl);
			lua_concat(P, 3);
		}
		lua_rawset(P, -3);
	}
}

/* the parser's result for a server's request */
static const char *
status_reason(unsigned int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 102: return "Processing";
	case 103: return "Early Hints";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 207: return "Multi-Status";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 418: return "I'm a teapot";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 425: return "Too Early";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 451: return "Unavailable For Legal Reasons";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 507: return "Insufficient Storage";
	case 511: return "Network Authentication Required";
	}
	switch (status / 100) {
	case 1: return "Informational";
	case 2: return "Success";
	case 3: return "Redirection";
	case 4: return "Client Error";
	}
	return "Server Error";
}

/* ------------------------------------------------------------- output */

/* a head being assembled: in wbuf, or in the heap once it outgrows it */
struct wb {
	char *buf;
	size_t len, cap;
};

static void
wb_init(struct wb *b)
{
	b->buf = wbuf;
	b->len = 0;
	b->cap = WBUF_SIZE;
}

static void
wb_free(struct wb *b)
{
	if (b->buf != wbuf)
		free(b->buf);
	wb_init(b);
}

/* room for n more bytes; raises (after freeing) when memory runs out */
static char *
wb_room(lua_State *T, struct wb *b, size_t n)
{
	if (b->cap - b->len < n) {
		size_t ncap = b->cap;
		char *nb;

		while (ncap - b->len < n)
			ncap *= 2;
		nb = b->buf == wbuf ? malloc(ncap) : realloc(b->buf, ncap);
		if (nb == NULL) {
			wb_free(b);
			luaL_error(T, "not enough memory");
		}
		if (b->buf == wbuf)
			memcpy(nb, wbuf, b->len);
		b->buf = nb;
		b->cap = ncap;
	}
	return b->buf + b->len;
}

static inline void
wb_add(lua_State *T, struct wb *b, const char *s, size_t n)
{
	char *d = b->cap - b->len >= n ? b->buf + b->len : wb_room(T, b, n);

	memcpy(d, s, n);
	b->len += n;
}

#define wb_lit(T, b, s) wb_add(T, b, s, sizeof(s) - 1)

static void
wb_str(lua_State *T, struct wb *b, const char *s)
{
	wb_add(T, b, s, strlen(s));
}

static void
wb_num(lua_State *T, struct wb *b, uint64_t v)
{
	char tmp[24], *e = tmp + sizeof(tmp), *d = e;

	do {
		*--d = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	wb_add(T, b, d, (size_t)(e - d));
}

/*
 * Send iov[0..n) after whatever waits in c->out: as much as the kernel
 * (or the stream's transport: TLS) takes now, the rest appended to
 * c->out.  Returns 1 when all is sent, 0 when some waits in c->out or in
 * the transport (flush it), or -errno (the peer is gone: -EPIPE; nothing
 * kept), CONN_EIO for a failure of the transport.  ENOMEM when the rest
 * cannot be kept.
 */
#define CONN_EIO (-1000000)
static int
conn_send(struct conn *c, struct iovec *iov, int n)
{
	struct stream *s = c->s;
	struct iovec v[8];
	int i, k = 0, err = 0, e = 0;
	size_t total = 0, sent = 0;

	if (!(s->flags & SF_OPEN))
		return -EPIPE;
	if (lem_buf_len(&c->out) > 0) {
		v[k].iov_base = (void *)lem_buf_data(&c->out);
		v[k].iov_len = lem_buf_len(&c->out);
		total += v[k].iov_len;
		k++;
	}
	for (i = 0; i < n && k < 8; i++) {
		if (iov[i].iov_len == 0)
			continue;
		v[k++] = iov[i];
		total += iov[i].iov_len;
	}
	while (sent < total) {
		ssize_t r;
		int first = 0;
		size_t skip = sent;
		struct iovec w[8];
		int m = 0;

		for (i = 0; i < k; i++) {
			if (skip >= v[i].iov_len) {
				skip -= v[i].iov_len;
				continue;
			}
			if (m == 0)
				first = i;
			size_t k = m == 0 ? skip : 0;

			w[m].iov_base = (char *)v[i].iov_base + k;
			w[m].iov_len = v[i].iov_len - k;
			m++;
		}
		(void)first;
		r = stream_writev(s, w, m, &e);
		if (r > 0) {
			sent += (size_t)r;
			if (sent < total)
				continue;       /* again: it fails or fills */
			break;
		}
		if (r < 0 && (e == EAGAIN || e == EWOULDBLOCK))
			break;
		err = r < 0 ? e : EPIPE;
		break;
	}
	if (err == 0 && sent == total && stream_io_flush(s, &e) < 0 &&
			e != EAGAIN)
		err = e;
	if (err) {
		lem_buf_free(&c->out);
		c->keep = 0;
		if (err == STREAM_EIO)
			return CONN_EIO;
		return stream_peer_gone(err) ? -EPIPE : -err;
	}
	/* drop what went from c->out, keep the rest of everything */
	{
		size_t outlen = lem_buf_len(&c->out);
		size_t skip = sent;

		if (skip >= outlen) {
			skip -= outlen;
			lem_buf_free(&c->out);
			i = outlen > 0 ? 1 : 0;
		} else {
			lem_buf_consume(&c->out, skip);
			skip = 0;
			i = outlen > 0 ? 1 : 0;
		}
		for (; i < k; i++) {
			const char *p = v[i].iov_base;
			size_t l = v[i].iov_len;

			if (skip >= l) {
				skip -= l;
				continue;
			}
			if (lem_buf_append(&c->out, p + skip, l - skip) < 0) {
				lem_buf_free(&c->out);
				c->keep = 0;
				return -ENOMEM;
			}
			skip = 0;
		}
	}
	if (lem_buf_len(&c->out) > 0)
		return 0;
	/* all taken: what the transport holds still has to go */
	return sent == total && stream_io_flush(s, &e) == 0 ? 1 : 0;
}

/* conn_send's result as Lua results: true, false (flush), nil, word */
static int
send_result(lua_State *T, struct conn *c, int r)
{
	if (r >= 0) {
		lua_pushboolean(T, r);
		return 1;
	}
	if (r == -EPIPE)
		return lem_closed(T);
	if (r == CONN_EIO)
		return stream_fail(T, c->s, STREAM_EIO);
	return lem_strerror(T, -r);
}

/* flush: write c->out out (an operation, EV_WRITE) */
static int
flush_step(lua_State *P, struct stream *s)
{
	struct conn *c = s->u.ext;
	int r = conn_send(c, NULL, 0);

	if (r == 0)
		return 0;
	if (r > 0) {
		lua_pushboolean(P, 1);
		return 1;
	}
	return send_result(P, c, r);
}

static const struct stream_op flush_op = { flush_step, EV_WRITE, NULL, NULL };

/* start operation op of c on the stream, or say why not */
static int
conn_start(lua_State *T, struct conn *c, const struct stream_op *op)
{
	struct stream *s = c->s;

	if (lem_waiting(&s->wait))
		return lem_busy(T);
	stream_reset(s);        /* an operation left behind (stream.c) */
	s->u.ext = c;
	return stream_start(T, s, op);
}

/* conn:flush() */
static int
http_flush(lua_State *T)
{
	struct conn *c = conn_check(T, 1);

	lua_settop(T, 1);
	if (lem_buf_len(&c->out) == 0) {
		int e;

		/* a transport may still hold some (then wait for it) */
		if (!(c->s->flags & SF_OPEN) || stream_io_flush(c->s, &e) == 0) {
			lua_pushboolean(T, 1);
			return 1;
		}
		if (e != EAGAIN)
			return stream_fail(T, c->s, e);
	}
	if (!(c->s->flags & SF_OPEN)) {
		lem_buf_free(&c->out);
		return lem_closed(T);
	}
	return conn_start(T, c, &flush_op);
}

/* ------------------------------------------------------- message heads */

/* keep a copy of the head buf[0..n) for req.headers (the spans are in
 * c->hdrs until the next head is parsed) */
static int
keep_head(struct conn *c, const char *buf, size_t n)
{
	if (n > c->hcap) {
		size_t cap = c->hcap ? c->hcap : 256;
		char *nb;

		while (cap < n)
			cap *= 2;
		nb = realloc(c->hcopy, cap);
		if (nb == NULL)
			return -1;
		c->hcopy = nb;
		c->hcap = cap;
	}
	memcpy(c->hcopy, buf, n);
	c->hn = c->p.nheaders;
	return 0;
}

static void
push_span(lua_State *P, const char *buf, struct lem_http_span sp)
{
	lua_pushlstring(P, buf + sp.off, sp.len);
}

/* push the conn userdata that the waiting (or running) coroutine called
 * the operation with (its argument 1) */
static void
push_self(lua_State *P, struct stream *s)
{
	lua_State *T = s->wait.T != NULL ? s->wait.T : P;

	lua_pushvalue(T, 1);
	if (T != P)
		lua_xmove(T, P, 1);
}

/* set up the body of the message just parsed */
static void
body_begin(struct conn *c)
{
	c->body = (unsigned char)c->p.body;
	c->body_left = c->p.body == LEM_HTTP_BODY_LENGTH ?
		c->p.content_length : 0;
	if (c->body == LEM_HTTP_BODY_LENGTH && c->body_left == 0)
		c->body = LEM_HTTP_BODY_NONE;
	c->chunk_left = 0;
	c->body_seen = 0;
	c->body_err = 0;
	c->body_cut = 0;
	lem_buf_free(&c->acc);
	if (c->body == LEM_HTTP_BODY_CHUNKED)
		lem_http_chunked_init(&c->ch);
	c->version = (unsigned char)c->p.version;
}

/*
 * server: the request's method, target, path (decoded), query (nil
 * when there is no '?') and version, which http.lua stores in its req
 * table (Lua's own field stores are cheaper than lua_setfield)
 */
static int
push_request(lua_State *P, struct conn *c, const char *buf, size_t n)
{
	struct lem_http_parser *p = &c->p;

	if (keep_head(c, buf, n) < 0)
		return lem_strerror(P, ENOMEM);
	push_span(P, buf, p->method);
	push_span(P, buf, p->target);
	if (p->path.off == p->target.off && p->path.len == p->target.len &&
			!(p->flags & LEM_HTTP_PATH_ENCODED)) {
		lua_pushvalue(P, -1);
	} else if (p->flags & LEM_HTTP_PATH_ENCODED) {
		char small[512], *d = small;
		long dl;

		if (p->path.len > sizeof(small)) {
			d = malloc(p->path.len);
			if (d == NULL)
				return luaL_error(P, "not enough memory");
		}
		dl = lem_http_pct_decode(d, buf + p->path.off, p->path.len);
		lua_pushlstring(P, d, dl > 0 ? (size_t)dl : 0);
		if (d != small)
			free(d);
	} else {
		push_span(P, buf, p->path);
	}
	if (p->query.off > 0 && buf[p->query.off - 1] == '?')
		push_span(P, buf, p->query);
	else
		lua_pushnil(P);
	if (p->version == 1)
		lua_pushliteral(P, "1.1");
	else
		lua_pushliteral(P, "1.0");
	return 5;
}

/* client: the response of the head buf[0..n) */
static int
push_response(lua_State *P, struct conn *c, const char *buf)
{
	struct lem_http_parser *p = &c->p;

	lua_createtable(P, 0, 6);
	lua_pushinteger(P, (lua_Integer)p->status);
	lua_setfield(P, -2, "status");
	push_span(P, buf, p->reason);
	lua_setfield(P, -2, "reason");
	if (p->version == 1)
		lua_pushliteral(P, "1.1");
	else
		lua_pushliteral(P, "1.0");
	lua_setfield(P, -2, "version");
	push_headers(P, buf, c->hdrs, p->nheaders);
	lua_setfield(P, -2, "headers");
	return 1;
}

/* the message head buf[0..n) is complete: results, and the state for
 * its body */
static int
head_done(lua_State *P, struct stream *s, struct conn *c, const char *buf,
		size_t n)
{
	struct lem_http_parser *p = &c->p;
	int ret;

	body_begin(c);
	if (c->role == ROLE_SERVER)
		c->keep = (p->flags & LEM_HTTP_KEEP_ALIVE) != 0;
	else
		c->keep = c->keep && (p->flags & LEM_HTTP_KEEP_ALIVE) != 0;
	if (c->role == ROLE_SERVER) {
		c->seq++;
		c->res = RES_NONE;
		c->framing = OUT_LENGTH;
		c->out_left = 0;
		c->head_req = p->method.len == 4 &&
			memcmp(buf + p->method.off, "HEAD", 4) == 0;
		c->expect = (p->flags & LEM_HTTP_EXPECT_CONTINUE) != 0 &&
			c->body != LEM_HTTP_BODY_NONE;
		ret = push_request(P, c, buf, n);
		(void)push_self;
		(void)s;
	} else {
		if (p->status == 101)
			c->upgraded = 1;
		ret = push_response(P, c, buf);
	}
	return ret;
}

/* nil, 'bad request', status: the parser refused the head */
static int
head_error(lua_State *P, struct conn *c)
{
	lua_pushnil(P);
	lua_pushliteral(P, "bad request");
	lua_pushinteger(P, (lua_Integer)c->p.error);
	lua_pushstring(P, c->p.why ? c->p.why : "");
	c->keep = 0;
	return 4;
}

/* the head in s->in is complete (n > 0): consume it, push the results */
static int
head_from_buf(lua_State *P, struct stream *s, struct conn *c, int n)
{
	int ret = head_done(P, s, c, lem_buf_data(&s->in), (size_t)n);

	lem_buf_consume(&s->in, (size_t)n);
	lem_http_parser_reset(&c->p);
	return ret;
}

/*
 * head(): r bytes came into the scratch buffer with nothing stored.  A
 * whole head there: its results (*ret) and 1, the rest kept.  Else the
 * bytes go to the stream's buffer (parsed again from there) and 0.
 */
static int
head_scratch(lua_State *P, struct stream *s, struct conn *c, size_t r,
		int *ret)
{
	int n = lem_http_parse(&c->p, stream_rbuf, r);

	if (n > 0 && !(c->role == ROLE_CLIENT && c->p.status < 200 &&
				c->p.status != 101)) {
		if (lem_buf_append(&s->in, stream_rbuf + n,
					r - (size_t)n) < 0) {
			*ret = lem_strerror(P, ENOMEM);
			return 1;
		}
		stream_rbuf_busy = 1;
		*ret = head_done(P, s, c, stream_rbuf, (size_t)n);
		stream_rbuf_busy = 0;
		lem_http_parser_reset(&c->p);
		return 1;
	}
	lem_http_parser_reset(&c->p);
	if (lem_buf_append(&s->in, stream_rbuf, r) < 0) {
		*ret = lem_strerror(P, ENOMEM);
		return 1;
	}
	return 0;
}

/*
 * head(idle): read and parse one message head.  A 1xx response other
 * than 101 is skipped (the client's).  With idle set, the first bytes of
 * a head that is not complete yet give false: the caller then waits for
 * the rest under its header timeout.
 */
static int
head_step(lua_State *P, struct stream *s)
{
	struct conn *c = s->u.ext;

	for (;;) {
		size_t len = lem_buf_len(&s->in);
		int err = 0, n;
		ssize_t r;

		if (len > 0) {
			n = lem_http_parse(&c->p, lem_buf_data(&s->in), len);
			if (n > 0 && c->role == ROLE_CLIENT &&
					c->p.status < 200 &&
					c->p.status != 101) {
				lem_buf_consume(&s->in, (size_t)n);
				lem_http_parser_reset(&c->p);
				continue;
			}
			if (n > 0)
				return head_from_buf(P, s, c, n);
			if (n < 0)
				return head_error(P, c);
			if (c->idle) {
				c->idle = 0;
				lua_pushboolean(P, 0);
				return 1;
			}
		}
		if (!(s->flags & SF_OPEN))
			return lem_closed(P);
		if (len == 0 && !stream_rbuf_busy) {
			/* the common case: the whole head in one read, parsed
			 * in the scratch buffer, nothing copied but the rest */
			int ret = 0;

			r = stream_recv(s, stream_rbuf, STREAM_RBUF_SIZE, &err);
			if (r > 0 && head_scratch(P, s, c, (size_t)r, &ret))
				return ret;
			if (r > 0)
				continue;
		} else {
			size_t avail;
			char *dst = lem_buf_space(&s->in, READ_CHUNK, &avail);

			if (dst == NULL)
				return lem_strerror(P, ENOMEM);
			r = stream_recv(s, dst, avail, &err);
			lem_buf_commit(&s->in, r > 0 ? (size_t)r : 0);
			if (r > 0)
				continue;
		}
		if (r == -1)
			return 0;
		if (r == 0) {
			c->keep = 0;
			stream_shut(s, 0);
			return lem_closed(P);
		}
		return lem_strerror(P, err);
	}
}

static const struct stream_op head_op = { head_step, EV_READ, NULL, NULL };

/* conn:head([idle]) */
static int
http_head(lua_State *T)
{
	struct conn *c = conn_check(T, 1);

	c->idle = (unsigned char)lua_toboolean(T, 2);
	lua_settop(T, 1);
	if (c->body != LEM_HTTP_BODY_NONE)
		return luaL_error(T, "the last message's body is not read");
	if (!(c->s->flags & SF_OPEN) && lem_buf_len(&c->s->in) == 0)
		return lem_closed(T);
	return conn_start(T, c, &head_op);
}

/* ------------------------------------------------------------- bodies */

/* read more of the body into s->in (room for at least want): 1, or the
 * results (0: wait; > 0 pushed) with *done set */
static int
body_recv(lua_State *P, struct stream *s, struct conn *c, size_t want,
		int *done)
{
	size_t avail;
	char *dst;
	ssize_t r;
	int err = 0;

	*done = 1;
	if (!(s->flags & SF_OPEN)) {
		if (c->body == LEM_HTTP_BODY_CLOSE)
			return -1;
		c->body_err = BODY_BAD;
		return lem_closed(P);
	}
	if (want > READ_CHUNK * 4)
		want = READ_CHUNK * 4;
	if (want < 4096)
		want = 4096;
	dst = lem_buf_space(&s->in, want, &avail);
	if (dst == NULL)
		return lem_strerror(P, ENOMEM);
	r = stream_recv(s, dst, avail, &err);
	lem_buf_commit(&s->in, r > 0 ? (size_t)r : 0);
	if (r > 0) {
		*done = 0;
		return 1;
	}
	if (r == -1)
		return 0;
	if (r == 0) {
		c->keep = 0;
		stream_shut(s, 0);
		if (c->body == LEM_HTTP_BODY_CLOSE)
			return -1;      /* the end of a close-delimited body */
		c->body_err = BODY_BAD;
		return lem_closed(P);
	}
	c->body_err = BODY_BAD;
	return lem_strerror(P, err);
}

static int
too_large(lua_State *P, struct conn *c)
{
	c->body_err = BODY_LARGE;
	c->keep = 0;
	return lem_error(P, "too large");
}

static int
bad_framing(lua_State *P, struct conn *c)
{
	c->body_err = BODY_BAD;
	c->keep = 0;
	return lem_error(P, "protocol error");
}

/*
 * The next piece of the body: sets *data and *len (at most max bytes,
 * still in s->in: consume them once used) and returns 1; 2 at the end
 * of the body; 0 to wait; or < 0 with results pushed (-n).
 */
static int
body_piece(lua_State *P, struct stream *s, struct conn *c, size_t max,
		const char **data, size_t *len)
{
	for (;;) {
		size_t have = lem_buf_len(&s->in);
		int done, rc;

		switch (c->body) {
		case LEM_HTTP_BODY_NONE:
			return 2;
		case LEM_HTTP_BODY_LENGTH:
			if (c->body_left == 0) {
				c->body = LEM_HTTP_BODY_NONE;
				return 2;
			}
			if (have > 0) {
				*data = lem_buf_data(&s->in);
				*len = have;
				if (*len > c->body_left)
					*len = (size_t)c->body_left;
				if (*len > max)
					*len = max;
				c->body_left -= *len;
				c->body_seen += *len;
				return 1;
			}
			break;
		case LEM_HTTP_BODY_CLOSE:
			if (have > 0) {
				*data = lem_buf_data(&s->in);
				*len = have > max ? max : have;
				c->body_seen += *len;
				return 1;
			}
			break;
		case LEM_HTTP_BODY_CHUNKED:
			if (c->chunk_left > 0 && have > 0) {
				*data = lem_buf_data(&s->in);
				*len = have;
				if (*len > c->chunk_left)
					*len = (size_t)c->chunk_left;
				if (*len > max)
					*len = max;
				c->chunk_left -= *len;
				c->body_seen += *len;
				return 1;
			}
			if (c->chunk_left == 0 && have > 0) {
				int ev = lem_http_chunked_parse(&c->ch,
						lem_buf_data(&s->in), have);

				switch (ev) {
				case LEM_HTTP_CHUNK_DATA:
					/* the data stays in the buffer, handed
					 * out from chunk_left */
					lem_buf_consume(&s->in, c->ch.data_off);
					c->chunk_left = c->ch.data_len;
					continue;
				case LEM_HTTP_CHUNK_TRAILER:
					lem_buf_consume(&s->in, c->ch.consumed);
					continue;
				case LEM_HTTP_CHUNK_DONE:
					lem_buf_consume(&s->in, c->ch.consumed);
					c->body = LEM_HTTP_BODY_NONE;
					return 2;
				case LEM_HTTP_CHUNK_MORE:
					lem_buf_consume(&s->in, c->ch.consumed);
					break;
				default:
					return -bad_framing(P, c);
				}
			}
			break;
		}
		rc = body_recv(P, s, c, READ_CHUNK, &done);
		if (rc == -1) {
			c->body = LEM_HTTP_BODY_NONE;   /* closed: the end */
			return 2;
		}
		if (done)
			return rc == 0 ? 0 : -rc;
	}
}

/* read(n): up to n bytes of the body, nil at its end */
static int
read_step(lua_State *P, struct stream *s)
{
	struct conn *c = s->u.ext;
	const char *data;
	size_t len;
	int rc;

	if (c->body_err == BODY_LARGE)
		return lem_error(P, "too large");
	if (c->body_err)
		return lem_error(P, "protocol error");
	if (c->body == LEM_HTTP_BODY_LENGTH &&
			c->body_seen + c->body_left > c->limit)
		return too_large(P, c);
	rc = body_piece(P, s, c, c->want, &data, &len);
	if (rc == 1) {
		if (c->body_seen > c->limit) {
			lem_buf_consume(&s->in, len);
			return too_large(P, c);
		}
		lua_pushlstring(P, data, len);
		lem_buf_consume(&s->in, len);
		return 1;
	}
	if (rc == 2) {
		lua_pushnil(P);
		return 1;
	}
	return rc < 0 ? -rc : 0;
}

/* body(max): the whole body, collected in c->acc */
static int
body_step(lua_State *P, struct stream *s)
{
	struct conn *c = s->u.ext;

	if (c->body_err == BODY_LARGE)
		return lem_error(P, "too large");
	if (c->body_err)
		return lem_error(P, "protocol error");
	if (c->body == LEM_HTTP_BODY_LENGTH &&
			c->body_seen + c->body_left > c->limit)
		return too_large(P, c);
	for (;;) {
		const char *data;
		size_t len;
		int rc;

		/* a length-delimited body that is all there: no copy */
		if (c->body == LEM_HTTP_BODY_LENGTH &&
				lem_buf_len(&c->acc) == 0 &&
				lem_buf_len(&s->in) >= c->body_left) {
			size_t n = (size_t)c->body_left;

			lua_pushlstring(P, lem_buf_data(&s->in), n);
			lem_buf_consume(&s->in, n);
			c->body_seen += n;
			c->body_left = 0;
			c->body = LEM_HTTP_BODY_NONE;
			return 1;
		}
		rc = body_piece(P, s, c, (size_t)-1, &data, &len);
		if (rc == 1) {
			if (c->body_seen > c->limit) {
				lem_buf_consume(&s->in, len);
				lem_buf_free(&c->acc);
				return too_large(P, c);
			}
			if (lem_buf_append(&c->acc, data, len) < 0) {
				lem_buf_free(&c->acc);
				c->keep = 0;
				return lem_strerror(P, ENOMEM);
			}
			lem_buf_consume(&s->in, len);
			continue;
		}
		if (rc == 2) {
			lua_pushlstring(P, lem_buf_data(&c->acc),
					lem_buf_len(&c->acc));
			lem_buf_free(&c->acc);
			return 1;
		}
		if (rc < 0)
			lem_buf_free(&c->acc);
		return rc < 0 ? -rc : 0;
	}
}

/* discard(limit): skip the rest of the body; true, or 'too large' */
static int
discard_step(lua_State *P, struct stream *s)
{
	struct conn *c = s->u.ext;

	if (c->body_err)
		return lem_error(P, c->body_err == BODY_LARGE ?
				"too large" : "protocol error");
	for (;;) {
		const char *data;
		size_t len;
		int rc;

		if (c->body == LEM_HTTP_BODY_LENGTH &&
				c->body_seen + c->body_left > c->limit)
			return too_large(P, c);
		rc = body_piece(P, s, c, (size_t)-1, &data, &len);
		if (rc == 1) {
			lem_buf_consume(&s->in, len);
			if (c->body_seen > c->limit)
				return too_large(P, c);
			continue;
		}
		if (rc == 2) {
			lua_pushboolean(P, 1);
			return 1;
		}
		return rc < 0 ? -rc : 0;
	}
}

/* a body read cut short: if nothing is answered, the answer is 408 */
static int
body_cut(struct stream *s, lua_State *T)
{
	struct conn *c = s->u.ext;

	(void)T;
	c->body_cut = 1;
	return 0;
}

static const struct stream_op read_op = { read_step, EV_READ, NULL, body_cut };
static const struct stream_op body_op = { body_step, EV_READ, NULL, body_cut };
static const struct stream_op discard_op = {
	discard_step, EV_READ, NULL, NULL
};

static uint64_t
opt_limit(lua_State *T, int idx)
{
	lua_Number v;

	if (lua_isnoneornil(T, idx))
		return UINT64_MAX;
	v = luaL_checknumber(T, idx);
	if (!(v >= 0))
		luaL_argerror(T, idx, "invalid size");
	if (v >= 18446744073709551615.0)
		return UINT64_MAX;
	return (uint64_t)v;
}

static int
body_start(lua_State *T, struct conn *c, const struct stream_op *op)
{
	if (op != &discard_op)
		c->body_cut = 0;
	if (c->body == LEM_HTTP_BODY_NONE && c->body_err == 0) {
		if (op == &discard_op) {
			lua_pushboolean(T, 1);
			return 1;
		}
		if (op == &read_op) {
			lua_pushnil(T);
			return 1;
		}
	}
	if (c->body_err == 0 && !(c->s->flags & SF_OPEN) &&
			lem_buf_len(&c->s->in) == 0 &&
			c->body != LEM_HTTP_BODY_CLOSE) {
		c->body_err = BODY_BAD;
		return lem_closed(T);
	}
	return conn_start(T, c, op);
}

/* conn:body([max]) */
static int
http_body(lua_State *T)
{
	struct conn *c = conn_check(T, 1);

	c->limit = opt_limit(T, 2);
	lua_settop(T, 1);
	return body_start(T, c, &body_op);
}

/* conn:read([n[, max]]) */
static int
http_read(lua_State *T)
{
	struct conn *c = conn_check(T, 1);
	lua_Number n = luaL_optnumber(T, 2, READ_DEFAULT);

	if (!(n >= 1 && n <= 1073741824.0))
		return luaL_argerror(T, 2, "invalid byte count");
	c->want = (size_t)n;
	c->limit = opt_limit(T, 3);
	lua_settop(T, 1);
	return body_start(T, c, &read_op);
}

/* conn:discard(limit) */
static int
http_discard(lua_State *T)
{
	struct conn *c = conn_check(T, 1);

	c->limit = opt_limit(T, 2);
	lua_settop(T, 1);
	return body_start(T, c, &discard_op);
}

/* conn:body_state(): 'done', 'unread', 'bad' or 'too large' */
static int
http_body_state(lua_State *T)
{
	struct conn *c = conn_check(T, 1);

	if (c->body_err == BODY_LARGE)
		lua_pushliteral(T, "too large");
	else if (c->body_err)
		lua_pushliteral(T, "bad");
	else if (c->body == LEM_HTTP_BODY_NONE)
		lua_pushliteral(T, "done");
	else
		lua_pushliteral(T, "unread");
	return 1;
}

/* ---------------------------------------------------- response heads */

/* what the user's headers said about framing */
struct uh {
	int has_length;
	uint64_t length;
	int has_date;
	int has_connection;
};

/* add one header line name: value, checked */
static void
add_field(lua_State *T, struct wb *b, const char *name, size_t nl, int vidx)
{
	size_t vl;
	const char *v;

	if (lua_type(T, vidx) != LUA_TSTRING &&
			lua_type(T, vidx) != LUA_TNUMBER) {
		wb_free(b);
		luaL_error(T, "invalid value of header field '%s'", name);
	}
	v = lua_tolstring(T, vidx, &vl);
	if (!is_value(v, vl)) {
		wb_free(b);
		luaL_error(T, "invalid value of header field '%s'", name);
	}
	{
		size_t n = nl + vl + 4;
		char *d = b->cap - b->len >= n ? b->buf + b->len :
			wb_room(T, b, n);

		memcpy(d, name, nl);
		d[nl] = ':';
		d[nl + 1] = ' ';
		memcpy(d + nl + 2, v, vl);
		d[nl + 2 + vl] = '\r';
		d[nl + 3 + vl] = '\n';
		b->len += n;
	}
}

/*
 * The user's header fields from the table at hidx (nil: none) into b.
 * Content-Length is noted (and written only when keep_length); Connection
 * is not written, only read for "close"; Transfer-Encoding is lem's.
 */
static void
add_user_fields(lua_State *T, struct conn *c, struct wb *b, int hidx,
		struct uh *u, int keep_length)
{
	memset(u, 0, sizeof(*u));
	if (lua_isnoneornil(T, hidx))
		return;
	if (!lua_istable(T, hidx)) {
		wb_free(b);
		luaL_argerror(T, hidx, "table of header fields expected");
	}
	lua_pushnil(T);
	while (lua_next(T, hidx) != 0) {
		size_t nl;
		const char *name;

		if (lua_type(T, -2) != LUA_TSTRING) {
			wb_free(b);
			luaL_error(T, "invalid header field name");
		}
		name = lua_tolstring(T, -2, &nl);
		if (!is_token(name, nl)) {
			wb_free(b);
			luaL_error(T, "invalid header field name '%s'", name);
		}
		if (nl != 17 && nl != 14 && nl != 10 && nl != 4)
			goto plain;
		if (ieq(name, nl, "transfer-encoding")) {
			wb_free(b);
			luaL_error(T, "Transfer-Encoding is set by lem");
		}
		if (ieq(name, nl, "content-length")) {
			const char *v = lua_tostring(T, -1);
			char *end;
			unsigned long long n = 0;

			if (v == NULL || !(*v >= '0' && *v <= '9') ||
					(errno = 0, n = strtoull(v, &end, 10),
					 *end != '\0' || errno != 0)) {
				wb_free(b);
				luaL_error(T, "invalid value of header field "
						"'Content-Length'");
			}
			u->has_length = 1;
			u->length = n;
			if (keep_length)
				add_field(T, b, name, nl, lua_gettop(T));
			lua_pop(T, 1);
			continue;
		}
		if (ieq(name, nl, "connection")) {
			const char *v = lua_tostring(T, -1);

			if (v != NULL && list_has(v, strlen(v), "close"))
				c->keep = 0;
			u->has_connection = 1;
			/* a server's is lem's; a client's goes as it is */
			if (c->role == ROLE_CLIENT)
				add_field(T, b, name, nl, lua_gettop(T));
			lua_pop(T, 1);
			continue;
		}
		if (ieq(name, nl, "date"))
			u->has_date = 1;
plain:
		if (lua_istable(T, -1)) {
			int i, n = (int)lua_objlen(T, -1);

			for (i = 1; i <= n; i++) {
				lua_rawgeti(T, -1, i);
				add_field(T, b, name, nl, lua_gettop(T));
				lua_pop(T, 1);
			}
		} else {
			add_field(T, b, name, nl, lua_gettop(T));
		}
		lua_pop(T, 1);
	}
}

static int
check_status(lua_State *T, int idx)
{
	lua_Number v = luaL_checknumber(T, idx);
	int st = (int)v;

	if ((lua_Number)st != v || st < 100 || st > 999)
		luaL_argerror(T, idx, "invalid status");
	if (st < 200 && st != 101)
		luaL_argerror(T, idx, "informational status");
	return st;
}

/* the status line, and the fields every response gets from lem */
static void
add_status(lua_State *T, struct wb *b, int status)
{
	char *d;

	if (status == 200) {
		wb_lit(T, b, "HTTP/1.1 200 OK\r\n");
		return;
	}
	d = wb_room(T, b, 13);
	memcpy(d, "HTTP/1.1 ", 9);
	d[9] = (char)('0' + status / 100);
	d[10] = (char)('0' + status / 10 % 10);
	d[11] = (char)('0' + status % 10);
	d[12] = ' ';
	b->len += 13;
	wb_str(T, b, status_reason((unsigned int)status));
	wb_lit(T, b, "\r\n");
}

static void
add_tail(lua_State *T, struct conn *c, struct wb *b, const struct uh *u)
{
	if (!u->has_date) {
		char *d = wb_room(T, b, 37);

		memcpy(d, "Date: ", 6);
		memcpy(d + 6, lem_http_date((time_t)ev_now(LEM)), 29);
		d[35] = '\r';
		d[36] = '\n';
		b->len += 37;
	}
	if (c->upgraded)
		wb_lit(T, b, "Connection: Upgrade\r\n");
	else if (!c->keep)
		wb_lit(T, b, "Connection: close\r\n");
	else if (c->version == 0)
		wb_lit(T, b, "Connection: keep-alive\r\n");
	wb_lit(T, b, "\r\n");
}

/* may the connection stay open after this answer? (before its head) */
static void
decide_keep(struct conn *c)
{
	if (c->closing)
		c->keep = 0;
	/* an unread body: kept only if it is short enough to skip */
	if (c->body != LEM_HTTP_BODY_NONE &&
			(c->body_err || (c->body == LEM_HTTP_BODY_LENGTH &&
					 c->body_left > c->max_body)))
		c->keep = 0;
	if (c->body_err)
		c->keep = 0;
}

static int
no_body_status(int status)
{
	return status == 204 || status == 304 || status < 200;
}

/* res:send(status[, headers[, body]]) */
static int
http_send(lua_State *T)
{
	struct conn *c = res_check(T);
	int status = check_status(T, 2);
	size_t blen = 0;
	const char *body = luaL_optlstring(T, 4, NULL, &blen);
	struct wb b;
	struct uh u;
	struct iovec iov[2];
	int r;

	if (c->res != RES_NONE)
		return luaL_error(T, "response already started");
	if (body != NULL && blen > 0 && no_body_status(status))
		return luaL_error(T, "a %d response has no body", status);
	if (status == 101)
		c->upgraded = 1;
	decide_keep(c);
	wb_init(&b);
	add_status(T, &b, status);
	add_user_fields(T, c, &b, 3, &u, 0);
	if (u.has_length && body != NULL && blen > 0 && u.length != blen) {
		wb_free(&b);
		return luaL_error(T, "Content-Length does not match the body");
	}
	if (!no_body_status(status)) {
		wb_lit(T, &b, "Content-Length: ");
		wb_num(T, &b, (u.has_length && blen == 0) ? u.length : blen);
		wb_lit(T, &b, "\r\n");
	} else if (status == 304 && u.has_length) {
		wb_lit(T, &b, "Content-Length: ");
		wb_num(T, &b, u.length);
		wb_lit(T, &b, "\r\n");
	}
	add_tail(T, c, &b, &u);
	c->res = RES_DONE;
	c->framing = OUT_NONE;
	if (c->head_req || no_body_status(status))
		blen = 0;
	/* a small body goes in the same buffer */
	if (blen > 0 && blen <= 4096 && b.buf == wbuf &&
			b.cap - b.len >= blen) {
		memcpy(b.buf + b.len, body, blen);
		b.len += blen;
		blen = 0;
	}
	iov[0].iov_base = b.buf;
	iov[0].iov_len = b.len;
	iov[1].iov_base = (void *)body;
	iov[1].iov_len = blen;
	r = conn_send(c, iov, 2);
	wb_free(&b);
	return send_result(T, c, r);
}

/* res:start(status[, headers]): the head waits in c->out for the first
 * write (or finish) */
static int
http_start(lua_State *T)
{
	struct conn *c = res_check(T);
	int status = check_status(T, 2);
	struct wb b;
	struct uh u;

	if (c->res != RES_NONE)
		return luaL_error(T, "response already started");
	decide_keep(c);
	wb_init(&b);
	add_status(T, &b, status);
	add_user_fields(T, c, &b, 3, &u, 1);
	if (c->head_req || no_body_status(status)) {
		c->framing = OUT_NONE;
	} else if (u.has_length) {
		c->framing = OUT_LENGTH;
		c->out_left = u.length;
	} else if (c->version == 1) {
		c->framing = OUT_CHUNKED;
		wb_lit(T, &b, "Transfer-Encoding: chunked\r\n");
	} else {
		c->framing = OUT_CLOSE;
		c->keep = 0;
	}
	add_tail(T, c, &b, &u);
	if (lem_buf_append(&c->out, b.buf, b.len) < 0) {
		wb_free(&b);
		return lem_strerror(T, ENOMEM);
	}
	wb_free(&b);
	c->res = RES_STARTED;
	lua_pushboolean(T, 1);
	return 1;
}

/* res:write(data): true, false (flush), nil, word */
static int
http_write(lua_State *T)
{
	struct conn *c = res_check(T);
	size_t len;
	const char *data = luaL_checklstring(T, 2, &len);
	struct iovec iov[3];
	char hex[24];
	int r;

	if (c->res != RES_STARTED)
		return luaL_error(T, c->res == RES_NONE ?
				"response not started" : "response finished");
	if (c->framing == OUT_NONE || len == 0)
		return send_result(T, c, conn_send(c, NULL, 0));
	if (c->framing == OUT_LENGTH) {
		if (len > c->out_left)
			return luaL_error(T, "more than the Content-Length");
		c->out_left -= len;
	}
	if (c->framing == OUT_CHUNKED) {
		int n = snprintf(hex, sizeof(hex), "%zx\r\n", len);

		iov[0].iov_base = hex;
		iov[0].iov_len = (size_t)n;
		iov[1].iov_base = (void *)data;
		iov[1].iov_len = len;
		iov[2].iov_base = "\r\n";
		iov[2].iov_len = 2;
		r = conn_send(c, iov, 3);
	} else {
		iov[0].iov_base = (void *)data;
		iov[0].iov_len = len;
		r = conn_send(c, iov, 1);
	}
	return send_result(T, c, r);
}

/* the end of a streamed response: what is left to send */
static int
finish_body(lua_State *T, struct conn *c)
{
	struct iovec iov[1];

	c->res = RES_DONE;
	if (c->framing == OUT_CHUNKED) {
		iov[0].iov_base = "0\r\n\r\n";
		iov[0].iov_len = 5;
		return send_result(T, c, conn_send(c, iov, 1));
	}
	if (c->framing == OUT_LENGTH && c->out_left > 0)
		c->keep = 0;    /* short: the peer sees the connection end */
	if (c->framing == OUT_CLOSE)
		c->keep = 0;
	return send_result(T, c, conn_send(c, NULL, 0));
}

/* res:finish() */
static int
http_finish(lua_State *T)
{
	struct conn *c = res_check(T);

	if (c->res != RES_STARTED)
		return luaL_error(T, c->res == RES_NONE ?
				"response not started" : "response finished");
	if (c->framing == OUT_LENGTH && c->out_left > 0) {
		c->res = RES_DONE;
		c->keep = 0;
		return luaL_error(T, "response shorter than its "
				"Content-Length");
	}
	return finish_body(T, c);
}

/*
 * res:sendfile_head(size): for sendfile of size bytes.  Not started:
 * start with Content-Length size.  Returns the framing ('length',
 * 'chunked', 'close' or 'none') after checking the length; the caller
 * flushes, sends the file (wrapping it in a chunk when chunked) and
 * accounts with sent(n).
 */
static int
http_sendfile_head(lua_State *T)
{
	struct conn *c = res_check(T);
	lua_Number n = luaL_checknumber(T, 2);
	uint64_t size;

	if (!(n >= 0))
		return luaL_argerror(T, 2, "invalid size");
	size = (uint64_t)n;
	if (c->res == RES_DONE)
		return luaL_error(T, "response finished");
	if (c->res == RES_NONE) {
		struct wb b;
		struct uh u;

		lua_settop(T, 3);
		decide_keep(c);
		wb_init(&b);
		add_status(T, &b, 200);
		add_user_fields(T, c, &b, 3, &u, 0);
		wb_lit(T, &b, "Content-Length: ");
		wb_num(T, &b, size);
		wb_lit(T, &b, "\r\n");
		add_tail(T, c, &b, &u);
		if (lem_buf_append(&c->out, b.buf, b.len) < 0) {
			wb_free(&b);
			return lem_strerror(T, ENOMEM);
		}
		wb_free(&b);
		c->res = RES_STARTED;
		c->framing = c->head_req ? OUT_NONE : OUT_LENGTH;
		c->out_left = size;
	}
	switch (c->framing) {
	case OUT_LENGTH:
		if (size > c->out_left)
			return luaL_error(T, "more than the Content-Length");
		c->out_left -= size;
		lua_pushliteral(T, "length");
		break;
	case OUT_CHUNKED:
		if (size > 0) {
			char hex[24];
			int k = snprintf(hex, sizeof(hex), "%llx\r\n",
					(unsigned long long)size);

			if (lem_buf_append(&c->out, hex, (size_t)k) < 0)
				return lem_strerror(T, ENOMEM);
		}
		lua_pushliteral(T, "chunked");
		break;
	case OUT_CLOSE:
		lua_pushliteral(T, "close");
		break;
	default:
		lua_pushliteral(T, "none");
		break;
	}
	return 1;
}

/*
 * conn:sendfile(file, offset, length): what c->out holds (the head), then
 * length bytes of file from offset; corked in between, so that the head
 * and the first bytes of the file leave in one segment.  An operation
 * (EV_WRITE).  true, or nil, word, bytes of the file sent.
 */
static void
sf_cork(struct stream *s, int on)
{
#if HAVE_DECL_TCP_CORK
	(void)setsockopt(s->w.fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
#else
	(void)s;
	(void)on;
#endif
}

static int
sendfile_step(lua_State *P, struct stream *s)
{
	struct conn *c = s->u.ext;
	struct sfile *f = c->sf;

	if (lem_buf_len(&c->out) > 0) {
		int r = conn_send(c, NULL, 0);

		if (r == 0)
			return 0;
		if (r < 0)
			return send_result(P, c, r);
	}
	while (c->sf_left > 0) {
		ssize_t n;
		int err;

		if (f->fd < 0)
			return lem_error(P, "file closed");
#ifdef USE_SENDFILE
		if (s->io == NULL) {
			size_t chunk = c->sf_left > 0x7ffff000 ? 0x7ffff000 :
				(size_t)c->sf_left;

			n = sendfile(s->w.fd, f->fd, &c->sf_off, chunk);
			if (n > 0) {
				c->sf_left -= (uint64_t)n;
				if ((size_t)n < chunk)
					return 0;
				continue;
			}
			if (n == 0)
				goto short_file;
			err = errno;
			if (err != EINVAL && err != ENOSYS && err != EOPNOTSUPP)
				goto error;
		}
#endif
		{
			char buf[16384];
			size_t want = c->sf_left > sizeof(buf) ? sizeof(buf) :
				(size_t)c->sf_left;

			n = pread(f->fd, buf, want, c->sf_off);
			if (n == 0)
				goto short_file;
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return lem_strerror(P, errno);
			} else {
				/* through the transport, if any (TLS) */
				struct iovec v = { buf, (size_t)n };
				ssize_t w = stream_writev(s, &v, 1, &err);

				if (w > 0) {
					c->sf_off += w;
					c->sf_left -= (uint64_t)w;
					if (w < n)
						return 0;
					continue;
				}
				if (w == 0)
					err = EAGAIN;
			}
		}
#ifdef USE_SENDFILE
error:
#endif
		if (err == EINTR)
			continue;
		if (err == EAGAIN || err == EWOULDBLOCK)
			return 0;
		c->keep = 0;
		return stream_fail(P, s, err);
	}
	{
		int err;

		if (stream_io_flush(s, &err) < 0) {
			if (err == EAGAIN)
				return 0;
			c->keep = 0;
			return stream_fail(P, s, err);
		}
	}
	lua_pushboolean(P, 1);
	return 1;
short_file:
	/* the file got shorter than promised: the response is broken */
	c->keep = 0;
	return lem_error(P, "file changed");
}

static void
sendfile_end(struct stream *s)
{
	struct conn *c = s->u.ext;

	if (c->sf != NULL)
		c->sf->users--;
	c->sf = NULL;
	if (s->flags & SF_OPEN)
		sf_cork(s, 0);
}

static int
sendfile_cut(struct stream *s, lua_State *T)
{
	struct conn *c = s->u.ext;

	c->keep = 0;    /* the body is cut: the connection cannot go on */
	lua_pushnumber(T, (lua_Number)(c->sf_off - c->sf_start));
	return 1;
}

static const struct stream_op sendfile_op = {
	sendfile_step, EV_WRITE, sendfile_end, sendfile_cut
};

static int
http_sendfile(lua_State *T)
{
	struct conn *c = conn_check(T, 1);
	struct sfile *f = luaL_checkudata(T, 2, SENDFILE_MT);
	lua_Number off = luaL_checknumber(T, 3);
	lua_Number len = luaL_checknumber(T, 4);

	if (!(off >= 0 && off <= 9007199254740992.0) ||
			off != (lua_Number)(off_t)off)
		return luaL_argerror(T, 3, "invalid offset");
	if (!(len >= 0 && len <= 9007199254740992.0))
		return luaL_argerror(T, 4, "invalid length");
	lua_settop(T, 2);
	if (f->fd < 0)
		return lem_error(T, "file closed");
	if (!(c->s->flags & SF_OPEN))
		return lem_closed(T);
	if (lem_waiting(&c->s->wait))
		return lem_busy(T);
	c->sf = f;
	c->sf_off = c->sf_start = (off_t)off;
	c->sf_left = (uint64_t)len;
	f->users++;
	if (lem_buf_len(&c->out) > 0 && len > 0)
		sf_cork(c->s, 1);
	return conn_start(T, c, &sendfile_op);
}

/* conn:queue(data): bytes for the next flush (the CRLF after a chunk) */
static int
http_queue(lua_State *T)
{
	struct conn *c = conn_check(T, 1);
	size_t len;
	const char *data = luaL_checklstring(T, 2, &len);

	if (lem_buf_append(&c->out, data, len) < 0)
		return lem_strerror(T, ENOMEM);
	lua_pushboolean(T, 1);
	return 1;
}

static int http_error_fn(lua_State *T);

/*
 * conn:done(failed): the handler has returned (or raised, failed).
 * Completes the response: nothing sent gives 200 with no body (500 when
 * failed), a streamed one is finished (failed: the connection closes).
 * When req:body() failed and nothing was sent, the answer is 400 (bad
 * framing) or 413 (too large).  Returns keep (the connection may go on),
 * pending (flush first) and unread (discard the rest of the body).
 */
static int
http_done(lua_State *T)
{
	struct conn *c = conn_check(T, 1);
	int failed = lua_toboolean(T, 2);

	lua_settop(T, 1);
	if (c->res == RES_NONE && !failed && (c->body_err || (c->body_cut &&
					c->body != LEM_HTTP_BODY_NONE))) {
		/* req:body() failed and nothing was sent: lem answers */
		lua_pushcfunction(T, http_error_fn);
		lua_pushvalue(T, 1);
		lua_pushinteger(T, c->body_err == BODY_LARGE ? 413 :
				c->body_err ? 400 : 408);
		lua_call(T, 2, 0);
	}
	if (c->res == RES_NONE) {
		struct wb b;
		struct iovec iov[1];
		struct uh u;
		int status = failed ? 500 : 200;

		memset(&u, 0, sizeof(u));
		decide_keep(c);
		if (failed)
			c->keep = 0;
		wb_init(&b);
		add_status(T, &b, status);
		if (failed) {
			wb_lit(T, &b, "Content-Type: text/plain\r\n"
					"Content-Length: 22\r\n");
		} else {
			wb_lit(T, &b, "Content-Length: 0\r\n");
		}
		add_tail(T, c, &b, &u);
		if (failed && !c->head_req)
			wb_lit(T, &b, "Internal Server Error\n");
		iov[0].iov_base = b.buf;
		iov[0].iov_len = b.len;
		(void)conn_send(c, iov, 1);
		wb_free(&b);
		c->res = RES_DONE;
	} else if (c->res == RES_STARTED) {
		if (failed) {
			c->keep = 0;
			c->res = RES_DONE;
		} else {
			if (c->framing == OUT_LENGTH && c->out_left > 0)
				c->keep = 0;
			lua_pop(T, finish_body(T, c));
		}
	}
	if (failed)
		c->keep = 0;
	if (c->upgraded)
		c->keep = 0;
	lua_pushboolean(T, c->keep && (c->s->flags & SF_OPEN));
	lua_pushboolean(T, lem_buf_len(&c->out) > 0);
	lua_pushboolean(T, c->body != LEM_HTTP_BODY_NONE);
	return 3;
}

/* conn:expect(): true once if a 100 Continue is due now (the body is
 * read and nothing was answered yet) */
static int
http_expect(lua_State *T)
{
	struct conn *c = conn_check(T, 1);
	int due = c->expect && c->res == RES_NONE;

	c->expect = 0;
	lua_pushboolean(T, due);
	return 1;
}

/* conn:error(status): a canned answer to a request refused before any
 * handler ran, tried once (the connection is closed after it) */
static int
http_error_fn(lua_State *T)
{
	struct conn *c = luaL_checkudata(T, 1, CONN_MT);
	int status = (int)luaL_checkinteger(T, 2);
	const char *reason = status_reason((unsigned int)status);
	char msg[256];
	int n;

	if (!(c->s->flags & SF_OPEN))
		return lem_closed(T);
	n = snprintf(msg, sizeof(msg), "HTTP/1.1 %d %s\r\n"
			"Content-Type: text/plain\r\n"
			"Content-Length: %zu\r\n"
			"Date: %s\r\n"
			"Connection: close\r\n\r\n%s\n",
			status, reason, strlen(reason) + 1,
			lem_http_date((time_t)ev_now(LEM)), reason);
	c->keep = 0;
	c->res = RES_DONE;
	{
		/* tried once, through the transport if any */
		struct iovec v = { msg, (size_t)n };
		int e;

		if (stream_writev(c->s, &v, 1, &e) < 0 && e != EAGAIN)
			return stream_fail(T, c->s, e);
		(void)stream_io_flush(c->s, &e);
	}
	lua_pushboolean(T, 1);
	return 1;
}

static int
http_error(lua_State *T)
{
	(void)conn_check(T, 1);
	return http_error_fn(T);
}

/* conn:close_after(): answers say Connection: close from now on */
static int
http_close_after(lua_State *T)
{
	struct conn *c = conn_check(T, 1);

	c->closing = 1;
	return 0;
}

/* conn:state(): 'idle' (between messages, nothing buffered), 'partial'
 * (bytes of a head came), 'busy' (a message is being answered) */
static int
http_state(lua_State *T)
{
	struct conn *c = conn_check(T, 1);

	if (c->res == RES_STARTED || (c->seq > 0 && c->res == RES_NONE))
		lua_pushliteral(T, "busy");
	else if (lem_buf_len(&c->s->in) > 0)
		lua_pushliteral(T, "partial");
	else
		lua_pushliteral(T, "idle");
	return 1;
}

/* conn:peer(): the peer's address as a string, or nil */
static int
http_peer(lua_State *T)
{
	struct conn *c = conn_check(T, 1);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[NI_MAXHOST];

	if (!(c->s->flags & SF_OPEN) ||
			getpeername(c->s->w.fd, (struct sockaddr *)&ss,
				&len) < 0)
		return 0;
	if (ss.ss_family == AF_UNIX) {
		lua_pushliteral(T, "");
		return 1;
	}
	if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host),
				NULL, 0, NI_NUMERICHOST) != 0)
		return 0;
	lua_pushstring(T, host);
	return 1;
}

/* -------------------------------------------------------------- client */

/*
 * conn:request(method, target, host, headers, body, chunked):
 * the request head (Host, Content-Length or chunked framing, the user's
 * fields) and the body, written at once.  true, false (flush) or
 * nil, word.  The response to expect is set up for head().
 */
static int
http_request(lua_State *T)
{
	struct conn *c = conn_check(T, 1);
	size_t ml, tl, hl, blen = 0;
	const char *method = luaL_checklstring(T, 2, &ml);
	const char *target = luaL_checklstring(T, 3, &tl);
	const char *host = luaL_checklstring(T, 4, &hl);
	const char *body = luaL_optlstring(T, 6, NULL, &blen);
	struct wb b;
	struct uh u;
	struct iovec iov[2];
	int r, has_host = 0;

	if (!is_token(method, ml))
		return luaL_argerror(T, 2, "invalid method");
	if (tl == 0 || !is_value(target, tl) || memchr(target, ' ', tl))
		return luaL_argerror(T, 3, "invalid target");
	if (!is_value(host, hl))
		return luaL_argerror(T, 4, "invalid host");
	if (c->body != LEM_HTTP_BODY_NONE)
		return luaL_error(T, "the last response is not read");
	if (!lua_isnoneornil(T, 5)) {
		luaL_checktype(T, 5, LUA_TTABLE);
		lua_pushnil(T);
		while (lua_next(T, 5) != 0) {
			if (lua_type(T, -2) == LUA_TSTRING) {
				size_t kl;
				const char *k = lua_tolstring(T, -2, &kl);

				if (ieq(k, kl, "host"))
					has_host = 1;
			}
			lua_pop(T, 1);
		}
	}
	c->keep = 1;
	c->version = 1;
	wb_init(&b);
	wb_add(T, &b, method, ml);
	wb_lit(T, &b, " ");
	wb_add(T, &b, target, tl);
	wb_lit(T, &b, " HTTP/1.1\r\n");
	if (!has_host) {
		wb_lit(T, &b, "Host: ");
		wb_add(T, &b, host, hl);
		wb_lit(T, &b, "\r\n");
	}
	u.has_date = 1;
	add_user_fields(T, c, &b, 5, &u, 0);
	if (u.has_length && body != NULL && u.length != blen) {
		wb_free(&b);
		return luaL_error(T, "Content-Length does not match the body");
	}
	if (body != NULL || u.has_length ||
			(ml == 4 && memcmp(method, "POST", 4) == 0) ||
			(ml == 3 && memcmp(method, "PUT", 3) == 0)) {
		wb_lit(T, &b, "Content-Length: ");
		wb_num(T, &b, body != NULL ? blen :
				u.has_length ? u.length : 0);
		wb_lit(T, &b, "\r\n");
	}
	if (!c->keep && !u.has_connection)
		wb_lit(T, &b, "Connection: close\r\n");
	wb_lit(T, &b, "\r\n");
	lem_http_parser_reset(&c->p);
	c->p.head_response = ml == 4 && memcmp(method, "HEAD", 4) == 0;
	c->p.connect_response = ml == 7 && memcmp(method, "CONNECT", 7) == 0;
	iov[0].iov_base = b.buf;
	iov[0].iov_len = b.len;
	iov[1].iov_base = (void *)body;
	iov[1].iov_len = body != NULL ? blen : 0;
	r = conn_send(c, iov, 2);
	wb_free(&b);
	return send_result(T, c, r);
}

/* conn:reusable(): the connection is open, its last response is read
 * to the end and the peer sent nothing more (nor closed): it can carry
 * the next request */
static int
http_reusable(lua_State *T)
{
	struct conn *c = conn_check(T, 1);
	struct stream *s = c->s;

	if (!(s->flags & SF_OPEN) || !c->keep ||
			c->body != LEM_HTTP_BODY_NONE || c->body_err ||
			lem_buf_len(&s->in) > 0 || lem_buf_len(&c->out) > 0 ||
			lem_waiting(&s->wait) || c->upgraded) {
		lua_pushboolean(T, 0);
		return 1;
	}
	lua_pushboolean(T, stream_quiet(s));
	return 1;
}

/* conn:keep(): may the connection carry another message? */
static int
http_keep(lua_State *T)
{
	struct conn *c = conn_check(T, 1);

	lua_pushboolean(T, c->keep && (c->s->flags & SF_OPEN));
	return 1;
}

/* ------------------------------------------------------------- objects */

/* http.new(stream, role, max_header_size, max_headers, max_body_size) */
static int
http_new(lua_State *T)
{
	struct stream *s = luaL_checkudata(T, 1, STREAM_MT);
	const char *role = luaL_checkstring(T, 2);
	lua_Number mh = luaL_optnumber(T, 3, LEM_HTTP_MAX_HEAD);
	lua_Number mn = luaL_optnumber(T, 4, LEM_HTTP_MAX_HEADERS);
	uint64_t mb = opt_limit(T, 5);
	struct conn *c;
	size_t sz;

	if (!(mh >= 64 && mh <= LEM_HTTP_MAX_HEAD_LIMIT))
		return luaL_argerror(T, 3, "invalid max_header_size");
	if (!(mn >= 1 && mn <= 65536))
		return luaL_argerror(T, 4, "invalid max_headers");
	sz = sizeof(struct conn) +
		((size_t)mn - 1) * sizeof(struct lem_http_header);
	c = lua_newuserdata(T, sz);
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->max_headers = (unsigned int)mn;
	c->role = strcmp(role, "client") == 0 ? ROLE_CLIENT : ROLE_SERVER;
	c->max_body = mb;
	c->keep = 1;
	c->version = 1;
	c->res = RES_DONE;
	lem_http_parser_init(&c->p, c->role == ROLE_CLIENT ?
			LEM_HTTP_RESPONSE : LEM_HTTP_REQUEST,
			c->hdrs, c->max_headers);
	c->p.max_head = (uint32_t)mh;
	luaL_getmetatable(T, CONN_MT);
	lua_setmetatable(T, -2);
	/* the stream lives as long as its Conn */
	lua_createtable(T, 1, 0);
	lua_pushvalue(T, 1);
	lua_rawseti(T, -2, 1);
	lua_setfenv(T, -2);
	return 1;
}

static int
conn__gc(lua_State *T)
{
	struct conn *c = luaL_checkudata(T, 1, CONN_MT);

	lem_buf_free(&c->out);
	lem_buf_free(&c->acc);
	free(c->hcopy);
	c->hcopy = NULL;
	return 0;
}

/* conn:headers(): the headers table of the request being answered */
static int
http_headers(lua_State *T)
{
	struct conn *c = conn_check(T, 1);

	if (c->hcopy == NULL)
		lua_newtable(T);
	else
		push_headers(T, c->hcopy, c->hdrs, c->hn);
	return 1;
}

/* http.setup(methods): the methods of res (the Conn) */
static int
http_setup(lua_State *T)
{
	luaL_checktype(T, 1, LUA_TTABLE);
	lua_settop(T, 1);
	luaL_getmetatable(T, CONN_MT);
	lua_pushvalue(T, 1);
	lua_setfield(T, -2, "__index");
	return 0;
}

/* http.date(): the Date of now */
static int
http_date(lua_State *T)
{
	lua_pushlstring(T, lem_http_date((time_t)ev_now(LEM)), 29);
	return 1;
}

static const luaL_Reg http_functions[] = {
	{ "new",           http_new },
	{ "setup",         http_setup },
	{ "headers",       http_headers },
	{ "date",          http_date },
	{ "head",          http_head },
	{ "body",          http_body },
	{ "read",          http_read },
	{ "discard",       http_discard },
	{ "body_state",    http_body_state },
	{ "flush",         http_flush },
	{ "send",          http_send },
	{ "start",         http_start },
	{ "write",         http_write },
	{ "finish",        http_finish },
	{ "sendfile_head", http_sendfile_head },
	{ "queue",         http_queue },
	{ "sendfile",      http_sendfile },
	{ "done",          http_done },
	{ "expect",        http_expect },
	{ "error",         http_error },
	{ "close_after",   http_close_after },
	{ "state",         http_state },
	{ "peer",          http_peer },
	{ "request",       http_request },
	{ "reusable",      http_reusable },
	{ "keep",          http_keep },
	{ NULL, NULL }
};

void
http_internal_register(lua_State *T, int internal)
{
	luaL_newmetatable(T, CONN_MT);
	lua_pushcfunction(T, conn__gc);
	lua_setfield(T, -2, "__gc");
	lua_pushliteral(T, "lem.http.Response");
	lua_setfield(T, -2, "__metatable");
	lua_pop(T, 1);

	lua_newtable(T);
	{
		const luaL_Reg *r;

		for (r = http_functions; r->name != NULL; r++) {
			luaL_getmetatable(T, CONN_MT);
			lua_pushcclosure(T, r->func, 1);
			lua_setfield(T, -2, r->name);
		}
	}
	lua_pushlightuserdata(T, &conn_key);
	lua_setfield(T, -2, "CONN");
	lua_setfield(T, internal, "http");
}
