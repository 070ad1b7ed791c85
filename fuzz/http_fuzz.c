/*
 * http_fuzz.c - libFuzzer target for lem's HTTP parser and chunked
 * decoder (lib/lem/http/parser.c).
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * The first input byte picks what to do with the rest (the second seeds
 * the split):
 *   bits 0-1  a request head, a response head, a chunked body, or a
 *             stream of pipelined requests with their bodies;
 *   bits 2-3  how the bytes arrive: one at a time, 1-16 or 1-256 at a
 *             time, or in two pieces;
 *   bits 4-5  limits: the defaults, or small ones (128 bytes and 4
 *             fields, 1024 and 20, no fields at all);
 *   bits 6-7  responses: the request was HEAD, CONNECT; with a chunked
 *             body, bit 7 instead picks WebSocket frames (the second
 *             byte then also says which side and which RSV bits).
 * Invariants: whatever the split, the result is the same as for the
 * whole input (the status of a refusal, every offset of a success, the
 * data and trailers of a chunked body, the bytes consumed); offsets lie
 * within the head; consumed <= length.  The arriving bytes are kept in a
 * buffer whose unarrived tail is poisoned, so that ASan catches a read
 * past the length given.
 *
 * With -DLEM_DIFF_HTTP_PARSER (fuzz/run adds it when Debian's
 * libhttp-parser-dev is installed; lem itself never uses that library)
 * every request head is also parsed by http-parser 2.9 and the outcomes
 * compared: accept/refuse/incomplete, then method, target, version and
 * each header field.  Where they disagree, diff_explain() below names the
 * class of difference (each a place where lem is stricter than
 * http-parser, or where http-parser refuses what RFC 9112 allows); a
 * disagreement outside every class aborts.  LEM_FUZZ_STATS=1 prints how
 * often each class was met at exit.
 *
 * WebSocket frames (lib/lem/websocket/frame.c): a header gives the same
 * result from every prefix, and encoding what was parsed gives back its
 * bytes exactly (the shortest length form is the only valid one);
 * masking in two pieces equals masking at once and undoes itself; the
 * UTF-8 check of a text payload is the same whole, byte by byte and by a
 * reference decoder.
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -I../lib/lem/http
 *        -I../lib/lem/websocket http_fuzz.c ../lib/lem/http/parser.c
 *        ../lib/lem/websocket/frame.c   (or `make fuzz`)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parser.h"
#include "frame.h"

#if defined(__has_feature)
# if __has_feature(address_sanitizer)
#  include <sanitizer/asan_interface.h>
# endif
#endif
#ifndef ASAN_POISON_MEMORY_REGION
# define ASAN_POISON_MEMORY_REGION(a, n) ((void)(a), (void)(n))
# define ASAN_UNPOISON_MEMORY_REGION(a, n) ((void)(a), (void)(n))
#endif

#define NHDR 128
#define FAIL(...) do { fprintf(stderr, "http_fuzz: " __VA_ARGS__); \
	fputc('\n', stderr); abort(); } while (0)
#define ASSERT(c) do { if (!(c)) FAIL("%s (line %d)", #c, __LINE__); } \
	while (0)

struct split {
	unsigned int style, seed;
	size_t cut;
};

/* the size of the next piece to arrive */
static size_t
split_next(struct split *s, size_t have, size_t n)
{
	size_t k;

	switch (s->style) {
	case 0:
		k = 1;
		break;
	case 1:
	case 2:
		s->seed = s->seed * 1103515245 + 12345;
		k = 1 + (s->seed >> 16) % (s->style == 1 ? 16 : 256);
		break;
	default:
		k = have < s->cut ? s->cut - have : n - have;
		break;
	}
	return k < n - have ? k : n - have;
}

/* the arrived bytes: mem[0..have) readable, the rest poisoned */
static void
arrive(unsigned char *mem, size_t have, size_t n)
{
	ASAN_POISON_MEMORY_REGION(mem, n);
	ASAN_UNPOISON_MEMORY_REGION(mem, have);
}

/* ------------------------------------------------------------- heads */

struct limits {
	unsigned int max_head, max_headers;
	int head_response, connect_response;
};

static void
setup(struct lem_http_parser *p, int type, struct lem_http_header *h,
		const struct limits *l)
{
	lem_http_parser_init(p, type, h, l->max_headers);
	p->max_head = l->max_head;
	p->head_response = (unsigned char)l->head_response;
	p->connect_response = (unsigned char)l->connect_response;
}

static int
span_in(struct lem_http_span s, size_t lo, size_t hi)
{
	return s.off >= lo && s.off <= hi && s.len <= hi - s.off;
}

/* what holds for any result of lem_http_parse() on b[0..n) */
static void
check_head(const struct lem_http_parser *p, const unsigned char *b,
		size_t n, int r)
{
	unsigned int i, k;
	char dec[LEM_HTTP_MAX_HEAD];
	long dl;

	ASSERT(r >= -1 && (r < 0 || (size_t)r <= n));
	ASSERT(r <= (int)p->max_head);
	if (r < 0) {
		ASSERT(p->why != NULL);
		if (p->type == LEM_HTTP_RESPONSE)
			ASSERT(p->error == 502);
		else
			ASSERT(p->error == 400 || p->error == 414 ||
				p->error == 431 || p->error == 501 ||
				p->error == 505);
		return;
	}
	if (r == 0)
		return;
	ASSERT(b[r - 1] == '\n');
	ASSERT(p->nheaders <= p->max_headers);
	ASSERT(p->version <= 1 && p->body <= LEM_HTTP_BODY_CLOSE);
	if (p->body == LEM_HTTP_BODY_LENGTH)
		ASSERT(p->content_length < UINT64_C(1) << 63);
	if (p->type == LEM_HTTP_REQUEST) {
		ASSERT(p->body != LEM_HTTP_BODY_CLOSE);
		ASSERT(span_in(p->method, 0, (size_t)r) && p->method.len > 0);
		ASSERT(span_in(p->target, p->method.off + p->method.len + 1,
			(size_t)r) && p->target.len > 0);
		ASSERT(b[p->target.off - 1] == ' ');
		ASSERT(b[p->target.off + p->target.len] == ' ');
		ASSERT(span_in(p->path, p->target.off,
			p->target.off + p->target.len));
		ASSERT(span_in(p->query, p->target.off,
			p->target.off + p->target.len));
		for (i = 0; i < p->target.len; i++)
			ASSERT(b[p->target.off + i] > 0x20 &&
				b[p->target.off + i] < 0x7f);
		if (p->flags & LEM_HTTP_PATH_ENCODED) {
			dl = lem_http_pct_decode(dec,
				(const char *)b + p->path.off, p->path.len);
			ASSERT(dl >= 0 && (size_t)dl <= p->path.len);
			ASSERT(memchr(dec, '\0', (size_t)dl) == NULL);
		} else {
			ASSERT(memchr(b + p->path.off, '%',
				p->path.len) == NULL);
		}
		if (p->version == 1)
			ASSERT(p->flags & LEM_HTTP_HAS_HOST);
	} else {
		ASSERT(p->status >= 100 && p->status <= 599);
		ASSERT(span_in(p->reason, 12, (size_t)r));
	}
	for (i = 0; i < p->nheaders && p->headers != NULL; i++) {
		const struct lem_http_header *h = &p->headers[i];

		ASSERT(span_in(h->name, 1, (size_t)r) && h->name.len > 0);
		ASSERT(span_in(h->value, h->name.off + h->name.len + 1,
			(size_t)r));
		ASSERT(b[h->name.off + h->name.len] == ':');
		ASSERT(b[h->name.off - 1] == '\n');
		for (k = 0; k < h->value.len; k++) {
			unsigned char c = b[h->value.off + k];

			ASSERT(c == '\t' || (c >= 0x20 && c != 0x7f));
		}
		if (h->value.len > 0) {
			ASSERT(b[h->value.off] != ' ' &&
				b[h->value.off] != '\t');
			k = h->value.off + h->value.len - 1;
			ASSERT(b[k] != ' ' && b[k] != '\t');
		}
	}
}

static void
same_head(const struct lem_http_parser *a, const struct lem_http_parser *b,
		int ra, int rb)
{
	unsigned int i;

	if (ra != rb || a->error != b->error)
		FAIL("whole %d (%u %s) but split %d (%u %s)", ra, a->error,
			a->why ? a->why : "-", rb, b->error,
			b->why ? b->why : "-");
	if (ra <= 0)
		return;
#define SAME(f) ASSERT(a->f == b->f)
	SAME(method.off); SAME(method.len); SAME(target.off);
	SAME(target.len); SAME(path.off); SAME(path.len); SAME(query.off);
	SAME(query.len); SAME(reason.off); SAME(reason.len); SAME(status);
	SAME(version); SAME(nheaders); SAME(flags); SAME(body);
	SAME(content_length);
	for (i = 0; i < a->nheaders; i++) {
		SAME(headers[i].name.off); SAME(headers[i].name.len);
		SAME(headers[i].value.off); SAME(headers[i].value.len);
	}
#undef SAME
}

static struct lem_http_header hw[NHDR], hs[NHDR];

/* parse b[0..n) whole and split; returns the whole result in *p */
static int
head_both(struct lem_http_parser *p, int type, const unsigned char *b,
		size_t n, const struct limits *l, struct split *sp)
{
	struct lem_http_parser q;
	unsigned char *mem;
	size_t have = 0;
	int r, rq = 0;

	setup(p, type, hw, l);
	r = lem_http_parse(p, (const char *)b, n);
	check_head(p, b, n, r);
	ASSERT(lem_http_parse(p, (const char *)b, n) == r);

	mem = malloc(n + 1);
	memcpy(mem, b, n);
	setup(&q, type, hs, l);
	while (have < n) {
		have += split_next(sp, have, n);
		arrive(mem, have, n);
		rq = lem_http_parse(&q, (const char *)mem, have);
		check_head(&q, mem, have, rq);
		if (rq != 0)
			break;
	}
	arrive(mem, n, n);
	free(mem);
	if (n == 0)
		rq = lem_http_parse(&q, "", 0);
	same_head(p, &q, r, rq);
	return r;
}

/* ----------------------------------------------------------- chunked */

struct chunk_out {
	unsigned char data[8192];       /* the body, as much as fits */
	size_t len;
	unsigned long trailers;         /* a hash of the trailer fields */
	int end;                        /* DONE, ERROR, MORE */
	size_t consumed;
};

static void
chunk_hash(unsigned long *h, const unsigned char *s, size_t n)
{
	while (n--)
		*h = *h * 31 + *s++;
	*h = *h * 31 + 0x100;
}

/* decode b[0..n) arriving as sp says (NULL: whole) */
static void
chunked_run(const unsigned char *b, size_t n, struct split *sp,
		unsigned int max_trailer, struct chunk_out *o)
{
	struct lem_http_chunked c;
	unsigned char *mem = malloc(n + 1);
	size_t start = 0, have = 0, len;
	int r;

	memcpy(mem, b, n);
	lem_http_chunked_init(&c);
	c.max_trailer = max_trailer;
	o->len = 0;
	o->trailers = 0;
	have = sp != NULL ? split_next(sp, 0, n) : n;
	for (;;) {
		arrive(mem, have, n);
		len = have - start;
		r = lem_http_chunked_parse(&c, (const char *)mem + start, len);
		ASSERT(c.consumed <= len);
		if (r == LEM_HTTP_CHUNK_DATA) {
			ASSERT(c.data_len > 0 &&
				c.data_off + c.data_len == c.consumed);
			if (o->len + c.data_len <= sizeof(o->data)) {
				memcpy(o->data + o->len, mem + start +
					c.data_off, c.data_len);
			}
			o->len += c.data_len;
		} else if (r == LEM_HTTP_CHUNK_TRAILER) {
			ASSERT(span_in(c.name, 0, c.consumed));
			ASSERT(span_in(c.value, 0, c.consumed));
			ASSERT(c.name.len > 0);
			chunk_hash(&o->trailers, mem + start + c.name.off,
				c.name.len);
			chunk_hash(&o->trailers, mem + start + c.value.off,
				c.value.len);
		} else if (r == LEM_HTTP_CHUNK_ERROR) {
			ASSERT(c.why != NULL);
		} else if (r == LEM_HTTP_CHUNK_DONE) {
			ASSERT(c.consumed >= 2 && mem[start + c.consumed - 1]
				== '\n' && mem[start + c.consumed - 2] == '\r');
		} else {
			ASSERT(r == LEM_HTTP_CHUNK_MORE);
		}
		start += c.consumed;
		if (r == LEM_HTTP_CHUNK_ERROR || r == LEM_HTTP_CHUNK_DONE)
			break;
		if (r == LEM_HTTP_CHUNK_MORE) {
			if (have == n)
				break;
			have += sp != NULL ? split_next(sp, have, n) : n - have;
		}
	}
	arrive(mem, n, n);
	free(mem);
	o->end = r;
	o->consumed = start;
}

static void
chunked_both(const unsigned char *b, size_t n, struct split *sp,
		unsigned int max_trailer, size_t *consumed, int *end)
{
	static struct chunk_out w, s;
	size_t k;

	chunked_run(b, n, NULL, max_trailer, &w);
	chunked_run(b, n, sp, max_trailer, &s);
	if (w.end != s.end || w.consumed != s.consumed || w.len != s.len ||
			w.trailers != s.trailers)
		FAIL("chunked: whole %d @%zu %zu bytes, split %d @%zu %zu "
			"bytes", w.end, w.consumed, w.len, s.end, s.consumed,
			s.len);
	k = w.len < sizeof(w.data) ? w.len : sizeof(w.data);
	ASSERT(memcmp(w.data, s.data, k) == 0);
	ASSERT(w.len <= n);
	if (consumed != NULL)
		*consumed = w.consumed;
	if (end != NULL)
		*end = w.end;
}

/* ---------------------------------------------------------- WebSocket */

/* a reference UTF-8 check, code point by code point */
static int
utf8_ref(const unsigned char *s, size_t n)
{
	size_t i = 0, k, need;
	unsigned long cp, min;
	unsigned char c;

	while (i < n) {
		c = s[i++];
		if (c < 0x80)
			continue;
		if ((c & 0xe0) == 0xc0) {
			need = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			need = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return 0;
		}
		for (k = 0; k < need; k++) {
			if (i == n || (s[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i++] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
	}
	return 1;
}

static void
ws_frames(const unsigned char *b, size_t n, unsigned int ctl)
{
	unsigned int flags = (ctl & 1 ? LEM_WS_SERVER : 0) | (ctl & 0x70);
	unsigned char h[LEM_WS_HEADER_MAX], *pay, *pay2, message = 0;
	struct lem_ws_frame f, g;
	struct lem_utf8 u = LEM_UTF8_INIT, v;
	size_t off = 0, len, k, cut;
	unsigned int code;
	int r, rk, frames, whole, byte;

	for (frames = 0; off < n && frames < 64; frames++) {
		r = lem_ws_frame_parse(&f, b + off, n - off, flags);
		ASSERT(r == -1 || r == 0 || (r >= 2 && r <= 14));
		for (k = 0; k < n - off && k < LEM_WS_HEADER_MAX; k++) {
			rk = lem_ws_frame_parse(&g, b + off, k, flags);
			if (r > 0 && k >= (size_t)r)
				break;
			ASSERT(rk == 0 || (rk == -1 && r == -1 &&
				strcmp(g.why, f.why) == 0));
			if (rk == 0 && k >= 2 && r != -1)
				ASSERT(g.hlen == f.hlen);
		}
		if (r <= 0)
			return;
		ASSERT(f.hlen == r);
		ASSERT(lem_ws_frame_encode(h, (unsigned int)(f.fin << 7 |
			f.rsv | f.opcode), f.len, f.masked ? f.mask : NULL) ==
			(size_t)r);
		ASSERT(memcmp(h, b + off, (size_t)r) == 0);
		if (lem_ws_frame_sequence(&message, &f) < 0)
			ASSERT(f.why != NULL);
		off += (size_t)r;
		len = f.len < n - off ? (size_t)f.len : n - off;
		pay = malloc(len + 1);
		pay2 = malloc(len + 1);
		lem_ws_mask(pay, b + off, len, f.mask, 0);
		cut = len ? (ctl >> 1) % (len + 1) : 0;
		lem_ws_mask(pay2, b + off, cut, f.mask, 0);
		lem_ws_mask(pay2 + cut, b + off + cut, len - cut, f.mask, cut);
		ASSERT(memcmp(pay, pay2, len) == 0);
		lem_ws_mask(pay2, pay2, len, f.mask, 0);
		ASSERT(memcmp(pay2, b + off, len) == 0);
		if (f.opcode == LEM_WS_CLOSE) {
			r = lem_ws_close_check(pay, len, &code);
			ASSERT(r == 0 || r == 1002 || r == 1007);
			ASSERT(r != 0 || len == 0 || lem_ws_close_code_valid(code));
		}
		/* UTF-8: whole, byte by byte, the reference; and carried over
		 * from frame to frame */
		v = (struct lem_utf8)LEM_UTF8_INIT;
		whole = lem_utf8_check(&v, pay, len) == 0 && lem_utf8_done(&v);
		v = (struct lem_utf8)LEM_UTF8_INIT;
		byte = 1;
		for (k = 0; k < len && byte; k++)
			byte = lem_utf8_check(&v, pay + k, 1) == 0;
		byte = byte && lem_utf8_done(&v);
		ASSERT(whole == byte && whole == utf8_ref(pay, len));
		lem_utf8_check(&u, pay, len);
		free(pay);
		free(pay2);
		off += len;
	}
}

/* ------------------------------------------------- the differential */

#ifdef LEM_DIFF_HTTP_PARSER
#include <http_parser.h>

#define HP_MAXH 2048

struct hp {
	int complete, cb;               /* cb: 1 field, 2 value */
	const char *url;
	size_t url_len;
	unsigned int nh;
	struct { const char *n, *v; size_t nl, vl; } h[HP_MAXH];
	unsigned int major, minor, method, flags;
	uint64_t content_length;
	int keep_alive;
};

static struct hp H;

static int
hp_url(http_parser *p, const char *at, size_t len)
{
	(void)p;
	if (H.url == NULL)
		H.url = at;
	H.url_len = (size_t)(at + len - H.url);
	return 0;
}

static int
hp_field(http_parser *p, const char *at, size_t len)
{
	(void)p;
	if (H.cb != 1) {
		if (H.nh == HP_MAXH)
			return 1;
		H.h[H.nh].n = at;
		H.h[H.nh].v = NULL;
		H.h[H.nh].vl = 0;
		H.nh++;
		H.cb = 1;
	}
	H.h[H.nh - 1].nl = (size_t)(at + len - H.h[H.nh - 1].n);
	return 0;
}

static int
hp_value(http_parser *p, const char *at, size_t len)
{
	(void)p;
	if (H.nh == 0)
		return 1;
	if (H.cb != 2 || H.h[H.nh - 1].v == NULL)
		H.h[H.nh - 1].v = at;
	H.cb = 2;
	H.h[H.nh - 1].vl = (size_t)(at + len - H.h[H.nh - 1].v);
	return 0;
}

static int
hp_done(http_parser *p)
{
	H.complete = 1;
	H.major = p->http_major;
	H.minor = p->http_minor;
	H.method = p->method;
	H.flags = p->flags;
	H.content_length = p->content_length;
	H.keep_alive = http_should_keep_alive(p);
	http_parser_pause(p, 1);
	return 0;
}

/*
 * The classes of disagreement, each explained; how often each was met is
 * printed at exit with LEM_FUZZ_STATS=1.  Where lem refuses and
 * http-parser does not, lem is stricter on purpose (RFC 9112 rules that
 * http-parser 2.9 leaves to the application, or parses leniently); where
 * lem accepts and http-parser refuses, RFC 9112 allows what lem accepts.
 */
enum {
	CLASS_NONE,
	CLASS_WAIT, CLASS_CR, CLASS_HOST, CLASS_TARGET, CLASS_HTTP09,
	CLASS_VERSION, CLASS_CL, CLASS_TE, CLASS_FIELD, CLASS_LIMIT,
	CLASS_METHOD, CLASS_URL, CLASS_CL_LIST, CLASS_TRIM, CLASS_CLOSE,
	CLASS_CONN, CLASS_CL_TAB, CLASS_TE_PREFIX, NCLASSES
};

static const char *const classes[NCLASSES] = {
	"(agree)",
	/* lem needs more, http-parser refuses: lem only looks at complete
	 * lines (but for control characters), so it refuses a bad line
	 * when its end arrives (or at max_head) */
	"lem refuses a line once it is complete",
	/* http-parser takes a CR alone (not before LF) as a line end; lem
	 * refuses a bare CR anywhere (RFC 9112 2.2) */
	"bare CR",
	/* http-parser does not look at Host; RFC 9112 3.2 requires exactly
	 * one valid Host in HTTP/1.1 (lem: 400) */
	"Host missing, repeated or invalid",
	/* lem refuses '#', userinfo, '*' but for OPTIONS, CONNECT without
	 * host:port, invalid %-escapes and %00 in the path */
	"request-target lem refuses",
	/* http-parser accepts a request line without a version (HTTP/0.9) */
	"request line without a version",
	/* lem: exactly HTTP/1.0 or HTTP/1.1 (505 for another x.y, 400 for
	 * garbage); http-parser takes any digits */
	"HTTP version",
	/* lem refuses an empty Content-Length, and one of 2^63 or more */
	"Content-Length lem refuses",
	/* RFC 9112 6.1 and 6.3: TE in HTTP/1.0, with CL, not ending in
	 * chunked (400), another coding first (501), chunked twice, invalid
	 * coding syntax; http-parser 2.9 checks only some of it */
	"Transfer-Encoding lem refuses",
	/* obs-fold, space or tab before the colon, CTLs and DEL in values,
	 * names that are no token: http-parser (built non-strict) takes them */
	"field syntax lem refuses",
	/* lem's max_head (16384: 414/431) and max_headers (100: 431) */
	"lem's limits",
	/* http-parser knows a fixed list of methods; any token is one */
	"method unknown to http-parser",
	/* http-parser's URL grammar refuses targets RFC 9112 allows:
	 * absolute-form without "//" (urn:x), visible characters browsers
	 * send unencoded, and more */
	"target http-parser refuses",
	/* a list of identical values or identical repeats of Content-Length
	 * (RFC 9110 8.6 allows either way); http-parser refuses them */
	"Content-Length list or repeat",
	/* both accept: http-parser keeps trailing whitespace in values,
	 * lem trims it (RFC 9112 5: OWS is not part of the value) */
	"trailing whitespace in values",
	/* both accept: an HTTP/1.0 request with Connection: keep-alive and
	 * close; close wins (RFC 9112 9.3), http-parser keeps alive */
	"keep-alive and close in HTTP/1.0",
	/* both accept: a Connection token with OWS around it that
	 * http-parser does not recognise ("keep-alive<TAB>"); lem trims OWS
	 * from list elements (RFC 9110 5.6.1) */
	"Connection tokens http-parser misses",
	/* a Content-Length value with HTAB in the OWS after it; OWS is SP
	 * or HTAB (RFC 9110 5.6.3), http-parser takes only SP */
	"Content-Length followed by HTAB",
	/* a field whose name begins with Transfer-Encoding (say
	 * Transfer-Encodings) next to Content-Length: http-parser takes it
	 * for Transfer-Encoding and refuses the pair */
	"name beginning with Transfer-Encoding",
};
static unsigned long class_count[NCLASSES];

static void
print_stats(void)
{
	size_t i;

	for (i = 0; i < NCLASSES; i++)
		fprintf(stderr, "http_fuzz: %10lu  %s\n", class_count[i],
			classes[i]);
}

static int
why_in(const struct lem_http_parser *p, const char *const *list)
{
	for (; *list != NULL; list++) {
		if (strcmp(p->why, *list) == 0)
			return 1;
	}
	return 0;
}

/* a CR not followed by LF in b[s..e) (at e: no LF yet, so bare) */
static int
has_bare_cr(const unsigned char *b, size_t s, size_t e)
{
	for (; s < e; s++) {
		if (b[s] == '\r' && (s + 1 == e || b[s + 1] != '\n'))
			return 1;
	}
	return 0;
}

/* the method lem accepted is one of http-parser's */
static int
method_known(const struct lem_http_parser *p, const unsigned char *b)
{
	const char *m;
	int i;

	for (i = 0; i < 64; i++) {
		m = http_method_str((enum http_method)i);
		if (strcmp(m, "<unknown>") == 0)
			break;
		if (strlen(m) == p->method.len &&
				memcmp(m, b + p->method.off,
					p->method.len) == 0)
			return 1;
	}
	return 0;
}

/* the class of a Content-Length lem accepted and http-parser did not:
 * a list or repeat, HTAB after the value, or -1 */
static int
cl_explain(const struct lem_http_parser *p, const unsigned char *b)
{
	unsigned int i, k = 0, tab = 0;
	const struct lem_http_header *h;
	size_t e;

	for (i = 0; i < p->nheaders; i++) {
		h = &p->headers[i];
		if (h->name.len != 14 ||
				strncasecmp((const char *)b + h->name.off,
				"content-length", 14) != 0)
			continue;
		if (memchr(b + h->value.off, ',', h->value.len) != NULL)
			return CLASS_CL_LIST;
		k++;
		for (e = h->value.off + h->value.len; b[e] == ' ' ||
				b[e] == '\t'; e++)
			tab |= b[e] == '\t';
	}
	return k > 1 ? CLASS_CL_LIST : tab ? CLASS_CL_TAB : -1;
}

/* whether the Connection fields of the head lem accepted list close and
 * keep-alive, found here on their own */
static void
conn_tokens(const struct lem_http_parser *p, const unsigned char *b,
		int *close, int *ka)
{
	const struct lem_http_header *h;
	unsigned int i;
	size_t k, e, t;

	*close = *ka = 0;
	for (i = 0; i < p->nheaders; i++) {
		h = &p->headers[i];
		if (h->name.len != 10 || strncasecmp((const char *)b +
				h->name.off, "connection", 10) != 0)
			continue;
		e = h->value.off + h->value.len;
		for (k = h->value.off; k < e; k = t + 1) {
			while (k < e && (b[k] == ' ' || b[k] == '\t'))
				k++;
			for (t = k; t < e && b[t] != ','; t++)
				;
			while (t > k && (b[t - 1] == ' ' || b[t - 1] == '\t'))
				t--;
			if (t - k == 5 && strncasecmp((const char *)b + k,
					"close", 5) == 0)
				*close = 1;
			if (t - k == 10 && strncasecmp((const char *)b + k,
					"keep-alive", 10) == 0)
				*ka = 1;
			while (t < e && b[t] != ',')
				t++;
		}
	}
}

/* the class of a keep-alive disagreement, or -1 */
static int
keep_alive_explain(const struct lem_http_parser *p, const unsigned char *b)
{
	int close, ka, lem_ka = (p->flags & LEM_HTTP_KEEP_ALIVE) != 0;

	conn_tokens(p, b, &close, &ka);
	if (lem_ka != (!close && (p->version == 1 || ka)))
		return -1;              /* lem is wrong by its own tokens */
	if (((H.flags & F_CONNECTION_CLOSE) != 0) != close ||
			((H.flags & F_CONNECTION_KEEP_ALIVE) != 0) != ka)
		return CLASS_CONN;
	if (p->version == 0 && close && ka)
		return CLASS_CLOSE;
	return -1;
}

/* the head lem accepted has a field named Transfer-Encoding<more> */
static int
te_prefix(const struct lem_http_parser *p, const unsigned char *b)
{
	const struct lem_http_header *h;
	unsigned int i;

	for (i = 0; i < p->nheaders; i++) {
		h = &p->headers[i];
		if (h->name.len > 17 && strncasecmp((const char *)b +
				h->name.off, "transfer-encoding", 17) == 0)
			return 1;
	}
	return 0;
}

/*
 * The class of a disagreement between lem (r, p) and http-parser (H,
 * err) on the request b[0..n), or -1 if none explains it.
 */
static int
diff_explain(const struct lem_http_parser *p, int r, int err,
		const unsigned char *b, size_t n)
{
	static const char *const host[] = {
		"missing Host", "more than one Host", "invalid Host", NULL
	};
	static const char *const target[] = {
		"invalid request-target", "invalid CONNECT target",
		"invalid authority", "invalid percent-encoding in path",
		"invalid method", NULL
	};
	static const char *const version[] = {
		"invalid HTTP version", "HTTP version not supported", NULL
	};
	static const char *const cl[] = {
		"invalid Content-Length", "Content-Length too large", NULL
	};
	static const char *const te[] = {
		"invalid Transfer-Encoding", "empty Transfer-Encoding",
		"chunked applied twice", "Transfer-Encoding in HTTP/1.0",
		"both Content-Length and Transfer-Encoding",
		"last transfer coding not chunked",
		"unsupported transfer coding", NULL
	};
	static const char *const field[] = {
		"obsolete line folding", "whitespace before colon",
		"invalid field name", "empty field name",
		"invalid character in field value", "invalid character", NULL
	};
	const unsigned char *nl;
	size_t s, e, i, sp;

	if (r == 0) {
		if (H.complete)
			return has_bare_cr(b, 0, n) ? CLASS_CR : -1;
		return err != HPE_OK ? CLASS_WAIT : -1;
	}
	if (r > 0) {
		if (H.complete)
			return -1;
		switch (err) {
		case HPE_INVALID_METHOD:
			return method_known(p, b) ? -1 : CLASS_METHOD;
		case HPE_INVALID_URL:
			return CLASS_URL;
		case HPE_INVALID_TRANSFER_ENCODING:
			return te_prefix(p, b) ? CLASS_TE_PREFIX : -1;
		case HPE_UNEXPECTED_CONTENT_LENGTH:
			if (te_prefix(p, b))
				return CLASS_TE_PREFIX;
			/* fall through */
		case HPE_INVALID_CONTENT_LENGTH:
			return cl_explain(p, b);
		}
		return -1;
	}
	/* lem refuses, http-parser accepts or wants more */
	if (p->error == 414 || p->error == 431)
		return CLASS_LIMIT;
	s = p->pos;
	nl = memchr(b + s, '\n', n - s);
	e = nl != NULL ? (size_t)(nl - b) + 1 : n;        /* with the LF */
	if (has_bare_cr(b, s, e))
		return CLASS_CR;
	if (why_in(p, host))
		return CLASS_HOST;
	if (why_in(p, target)) {
		for (i = s, sp = 0; i < e; i++)
			sp += b[i] == ' ';
		return sp < 2 ? CLASS_HTTP09 : CLASS_TARGET;
	}
	if (why_in(p, version))
		return CLASS_VERSION;
	if (why_in(p, cl))
		return CLASS_CL;
	if (why_in(p, te))
		return CLASS_TE;
	if (why_in(p, field))
		return CLASS_FIELD;
	return -1;
}

static void
diff_print(const char *what, const struct lem_http_parser *p, int r,
		int err, const unsigned char *b, size_t n)
{
	size_t i;

	fprintf(stderr, "http_fuzz: lem and http-parser disagree: %s\n"
		"  lem: %d %u %s\n  http-parser: %s (%s)\n  input: \"", what,
		r, p->error, p->why ? p->why : "",
		H.complete ? "complete" : "not complete",
		http_errno_name((enum http_errno)err));
	for (i = 0; i < n; i++) {
		if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '"' &&
				b[i] != '\\')
			fputc(b[i], stderr);
		else
			fprintf(stderr, "\\x%02x", b[i]);
	}
	fprintf(stderr, "\"\n");
}

/* LEM_FUZZ_DIFF_LOG=1: go on after an unexplained disagreement */
static void
diff_report(const char *what, const struct lem_http_parser *p, int r,
		int err, const unsigned char *b, size_t n)
{
	diff_print(what, p, r, err, b, n);
	if (getenv("LEM_FUZZ_DIFF_LOG") == NULL)
		abort();
}

static void
diff_request(const struct lem_http_parser *p, int r, const unsigned char *b,
		size_t n)
{
	static http_parser_settings s;
	static int init, show = -1;
	http_parser hp;
	int err, c;
	unsigned int i;

	if (!init) {
		http_parser_settings_init(&s);
		s.on_url = hp_url;
		s.on_header_field = hp_field;
		s.on_header_value = hp_value;
		s.on_headers_complete = hp_done;
		if (getenv("LEM_FUZZ_STATS") != NULL)
			atexit(print_stats);
		/* LEM_FUZZ_SHOW=k: print the inputs of class k */
		if (getenv("LEM_FUZZ_SHOW") != NULL)
			show = atoi(getenv("LEM_FUZZ_SHOW"));
		init = 1;
	}
	memset(&H, 0, sizeof(H));
	http_parser_init(&hp, HTTP_REQUEST);
	http_parser_execute(&hp, &s, (const char *)b, n);
	err = (int)HTTP_PARSER_ERRNO(&hp);
	if (H.complete)
		err = HPE_OK;
	if ((r > 0) == (H.complete != 0) &&
			(r < 0) == (err != HPE_OK)) {
		if (r <= 0) {
			class_count[CLASS_NONE]++;
			return;
		}
		/* both accept: the same head? */
		c = CLASS_NONE;
		if (strlen(http_method_str((enum http_method)H.method)) !=
				p->method.len || memcmp(b + p->method.off,
				http_method_str((enum http_method)H.method),
				p->method.len) != 0) {
			diff_report("method", p, r, err, b, n);
			return;
		}
		if (H.url_len != p->target.len || memcmp(H.url,
				b + p->target.off, H.url_len) != 0) {
			diff_report("target", p, r, err, b, n);
			return;
		}
		if (H.major != 1 || H.minor != p->version) {
			diff_report("version", p, r, err, b, n);
			return;
		}
		if (H.nh != p->nheaders) {
			diff_report("number of fields", p, r, err, b, n);
			return;
		}
		for (i = 0; i < H.nh; i++) {
			const struct lem_http_header *h = &p->headers[i];
			size_t vl = H.h[i].vl;

			if (H.h[i].nl != h->name.len || memcmp(H.h[i].n,
					b + h->name.off, h->name.len) != 0) {
				diff_report("field name", p, r, err, b, n);
				return;
			}
			while (vl > 0 && (H.h[i].v[vl - 1] == ' ' ||
					H.h[i].v[vl - 1] == '\t'))
				vl--;
			if (vl != H.h[i].vl)
				c = CLASS_TRIM;
			if (vl != h->value.len || (vl > 0 && memcmp(H.h[i].v,
					b + h->value.off, vl) != 0)) {
				diff_report("field value", p, r, err, b, n);
				return;
			}
		}
		/* the framing, what request smuggling is about */
		if ((p->body == LEM_HTTP_BODY_CHUNKED) !=
				((H.flags & F_CHUNKED) != 0) ||
				(p->body == LEM_HTTP_BODY_LENGTH &&
				 H.content_length != p->content_length) ||
				(p->body == LEM_HTTP_BODY_NONE &&
				 H.content_length != UINT64_MAX &&
				 H.content_length != 0)) {
			diff_report("framing", p, r, err, b, n);
			return;
		}
		if ((H.keep_alive != 0) !=
				((p->flags & LEM_HTTP_KEEP_ALIVE) != 0)) {
			c = keep_alive_explain(p, b);
			if (c < 0) {
				diff_report("keep-alive", p, r, err, b, n);
				return;
			}
		}
		class_count[c]++;
		if (show >= 0 && c == show)
			diff_print(classes[c], p, r, err, b, n);
		return;
	}
	c = diff_explain(p, r, err, b, n);
	if (c < 0) {
		diff_report("accept/refuse", p, r, err, b, n);
		return;
	}
	class_count[c]++;
	if (show >= 0 && c == show)
		diff_print(classes[c], p, r, err, b, n);
}
#endif /* LEM_DIFF_HTTP_PARSER */

/* ---------------------------------------------------------- the target */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct limits lims[4] = {
		{ LEM_HTTP_MAX_HEAD, 100, 0, 0 },
		{ 128, 4, 0, 0 },
		{ 1024, 20, 0, 0 },
		{ LEM_HTTP_MAX_HEAD, 0, 0, 0 }
	};
	struct lem_http_parser p;
	struct limits l;
	struct split sp;
	const unsigned char *b;
	size_t n, off, used;
	int r, end, msgs;

	if (size < 2)
		return 0;
	l = lims[(data[0] >> 4) & 3];
	l.head_response = (data[0] >> 6) & 1;
	l.connect_response = (data[0] >> 7) & 1;
	sp.style = (data[0] >> 2) & 3;
	sp.seed = data[1];
	sp.cut = data[1] * 8;
	b = data + 2;
	n = size - 2;

	switch (data[0] & 3) {
	case 0:
		r = head_both(&p, LEM_HTTP_REQUEST, b, n, &l, &sp);
#ifdef LEM_DIFF_HTTP_PARSER
		if (((data[0] >> 4) & 3) == 0)
			diff_request(&p, r, b, n);
#endif
		break;
	case 1:
		head_both(&p, LEM_HTTP_RESPONSE, b, n, &l, &sp);
		break;
	case 2:
		if (data[0] & 0x80)
			ws_frames(b, n, data[1]);
		else
			chunked_both(b, n, &sp, l.max_head, NULL, NULL);
		break;
	default:
		/* pipelined requests, each with its body */
		for (off = 0, msgs = 0; off < n && msgs < 8; msgs++) {
			r = head_both(&p, LEM_HTTP_REQUEST, b + off, n - off,
				&l, &sp);
			if (r <= 0)
				break;
			off += (size_t)r;
			if (p.body == LEM_HTTP_BODY_LENGTH) {
				if (p.content_length > n - off)
					break;
				off += (size_t)p.content_length;
			} else if (p.body == LEM_HTTP_BODY_CHUNKED) {
				chunked_both(b + off, n - off, &sp, 256, &used,
					&end);
				ASSERT(used <= n - off);
				if (end != LEM_HTTP_CHUNK_DONE)
					break;
				off += used;
			}
		}
		break;
	}
	return 0;
}
