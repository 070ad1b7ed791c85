/*
 * t/http_parser_test.c - checks of lib/lem/http/parser.c on its own (no
 * Lua, no libev), compiled and run by t/20-http-parser.t.  Prints one
 * line per failed check and "ok N" at the end.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * Every head is parsed twice: whole, and fed a byte at a time into a
 * buffer of exactly the bytes that have arrived (so that a read past the
 * length is caught by ASan); the two results must be the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser.h"

static int checks, failures;

#define CHECK(c) do { checks++; if (!(c)) { failures++; \
	printf("failed: %s (line %d)\n", #c, __LINE__); } } while (0)
#define CHECKL(c, line) do { checks++; if (!(c)) { failures++; \
	printf("failed: %s (line %d)\n", #c, line); } } while (0)

#define NHDR 100
static struct lem_http_header hdrs[NHDR], hdrs2[NHDR];
static struct lem_http_parser P;        /* the last whole parse */
static const char *B;                   /* ... and its bytes */

/* the settings of the next parse */
static unsigned int o_max_head = LEM_HTTP_MAX_HEAD;
static unsigned int o_max_headers = NHDR;
static int o_head, o_connect;

static void
setup(struct lem_http_parser *p, int type, struct lem_http_header *h)
{
	lem_http_parser_init(p, type, h, o_max_headers);
	p->max_head = o_max_head;
	p->head_response = (unsigned char)o_head;
	p->connect_response = (unsigned char)o_connect;
}

static int
same_span(struct lem_http_span a, struct lem_http_span b)
{
	return a.off == b.off && a.len == b.len;
}

static int
same_result(const struct lem_http_parser *a, const struct lem_http_parser *b)
{
	unsigned int i;

	/* why may differ: a control character in a partial line is refused
	 * as it arrives, a complete line gets the reason of what it breaks */
	if (a->state != b->state || a->error != b->error)
		return 0;
	if (a->error != 0)
		return a->why != NULL && b->why != NULL;
	if (!same_span(a->method, b->method) ||
			!same_span(a->target, b->target) ||
			!same_span(a->path, b->path) ||
			!same_span(a->query, b->query) ||
			!same_span(a->reason, b->reason) ||
			a->status != b->status || a->version != b->version ||
			a->nheaders != b->nheaders || a->flags != b->flags ||
			a->body != b->body ||
			a->content_length != b->content_length ||
			a->headlen != b->headlen)
		return 0;
	for (i = 0; i < a->nheaders && i < NHDR; i++) {
		if (!same_span(a->headers[i].name, b->headers[i].name) ||
				!same_span(a->headers[i].value,
					b->headers[i].value))
			return 0;
	}
	return 1;
}

/* parse s (n bytes) whole and byte by byte; returns the whole result */
static int
run(int type, const char *s, size_t n, int line)
{
	struct lem_http_parser q;
	int r, r2 = 0;
	size_t i;
	char *mem;

	setup(&P, type, hdrs);
	B = s;
	r = lem_http_parse(&P, s, n);
	CHECKL(lem_http_parse(&P, s, n) == r, line);   /* sticky */
	setup(&q, type, hdrs2);
	for (i = 1; i <= n; i++) {
		mem = malloc(i);
		memcpy(mem, s, i);
		r2 = lem_http_parse(&q, mem, i);
		free(mem);
		if (r2 != 0)
			break;
	}
	CHECKL(r2 == r, line);
	CHECKL(same_result(&P, &q), line);
	if (r > 0)
		CHECKL(i == (size_t)r, line);   /* known at once */
	if (r2 != r || !same_result(&P, &q))
		printf("# whole %d (%u %s), split %d (%u %s): %.60s\n", r,
			P.error, P.why ? P.why : "", r2, q.error,
			q.why ? q.why : "", s);
	return r;
}

static int
span_is(struct lem_http_span sp, const char *want)
{
	return sp.len == strlen(want) && memcmp(B + sp.off, want, sp.len) == 0;
}

static int
header_is(unsigned int i, const char *name, const char *value)
{
	return i < P.nheaders && span_is(hdrs[i].name, name) &&
		span_is(hdrs[i].value, value);
}

#define REQ(s) run(LEM_HTTP_REQUEST, s, sizeof(s) - 1, __LINE__)
#define RES(s) run(LEM_HTTP_RESPONSE, s, sizeof(s) - 1, __LINE__)
/* a request must be refused with status st */
#define BAD(st, s) do { int r_ = REQ(s); CHECK(r_ == -1 && P.error == (st)); \
	if (r_ != -1 || P.error != (st)) printf("#  got %d %u: %s\n", r_, \
		P.error, s); } while (0)
#define GOOD(s) do { int r_ = REQ(s); CHECK(r_ == (int)sizeof(s) - 1); \
	if (r_ != (int)sizeof(s) - 1) printf("#  got %d %u %s: %s\n", r_, \
		P.error, P.why, s); } while (0)
#define BADRES(s) do { int r_ = RES(s); CHECK(r_ == -1 && P.error == 502); \
	} while (0)

#define H "Host: a\r\n"
/* a request with one Transfer-Encoding or Content-Length field */
#define TE(v) "POST / HTTP/1.1\r\n" H "Transfer-Encoding: " v "\r\n\r\n"
#define CL(v) "POST / HTTP/1.1\r\n" H "Content-Length: " v "\r\n\r\n"

static void
test_request_line(void)
{
	char big[300];

	GOOD("GET / HTTP/1.1\r\n" H "\r\n");
	CHECK(span_is(P.method, "GET") && span_is(P.target, "/"));
	CHECK(span_is(P.path, "/") && P.query.len == 0);
	CHECK(P.version == 1 && P.nheaders == 1 && header_is(0, "Host", "a"));
	CHECK(P.body == LEM_HTTP_BODY_NONE);
	CHECK(P.flags == (LEM_HTTP_KEEP_ALIVE | LEM_HTTP_HAS_HOST));

	GOOD("POST /a/b%20c?x=1&y=%zz?z HTTP/1.0\r\n\r\n");
	CHECK(span_is(P.method, "POST") && P.version == 0);
	CHECK(span_is(P.path, "/a/b%20c") && span_is(P.query, "x=1&y=%zz?z"));
	CHECK(P.flags == LEM_HTTP_PATH_ENCODED);
	GOOD("GET /{x}|^`\"<>\\[] HTTP/1.1\r\n" H "\r\n");
	GOOD("M-._~!$%&'*+^`|9 / HTTP/1.1\r\n" H "\r\n");

	/* versions */
	BAD(505, "GET / HTTP/2.0\r\n" H "\r\n");
	BAD(505, "GET / HTTP/1.2\r\n" H "\r\n");
	BAD(505, "GET / HTTP/0.9\r\n\r\n");
	BAD(400, "GET / HTTP/1.10\r\n" H "\r\n");
	BAD(400, "GET / HTTP/1\r\n" H "\r\n");
	BAD(400, "GET / http/1.1\r\n" H "\r\n");
	BAD(400, "GET / HTTP/1.1 \r\n" H "\r\n");
	BAD(400, "GET / HTTP/a.b\r\n" H "\r\n");
	BAD(400, "GET /\r\n\r\n");
	BAD(400, "GET\r\n\r\n");

	/* method, spaces */
	BAD(400, "G@T / HTTP/1.1\r\n" H "\r\n");
	BAD(400, " GET / HTTP/1.1\r\n" H "\r\n");
	BAD(400, "GET  / HTTP/1.1\r\n" H "\r\n");
	BAD(400, "GET /  HTTP/1.1\r\n" H "\r\n");
	BAD(400, "GET\t/ HTTP/1.1\r\n" H "\r\n");
	BAD(400, "\x01GET / HTTP/1.1\r\n" H "\r\n");

	/* request-target forms */
	BAD(400, "GET /a#b HTTP/1.1\r\n" H "\r\n");
	BAD(400, "GET /a\x01 HTTP/1.1\r\n" H "\r\n");
	BAD(400, "GET /a\x7f HTTP/1.1\r\n" H "\r\n");
	BAD(400, "GET /\xc3\xa9 HTTP/1.1\r\n" H "\r\n");
	BAD(400, "GET a HTTP/1.1\r\n" H "\r\n");
	BAD(400, "GET * HTTP/1.1\r\n" H "\r\n");
	BAD(400, "GET ** HTTP/1.1\r\n" H "\r\n");
	GOOD("OPTIONS * HTTP/1.1\r\n" H "\r\n");
	CHECK(span_is(P.target, "*") && span_is(P.path, "*"));
	GOOD("CONNECT example.com:443 HTTP/1.1\r\n"
		"Host: example.com:443\r\n\r\n");
	CHECK(span_is(P.target, "example.com:443") && P.path.len == 0);
	GOOD("CONNECT [::1]:443 HTTP/1.1\r\n" H "\r\n");
	BAD(400, "CONNECT / HTTP/1.1\r\n" H "\r\n");
	BAD(400, "CONNECT example.com HTTP/1.1\r\n" H "\r\n");
	BAD(400, "CONNECT example.com: HTTP/1.1\r\n" H "\r\n");
	BAD(400, "CONNECT :443 HTTP/1.1\r\n" H "\r\n");
	BAD(400, "CONNECT http://a:1/ HTTP/1.1\r\n" H "\r\n");
	GOOD("GET http://example.com:8080/x/y?q=1 HTTP/1.1\r\n" H "\r\n");
	CHECK(span_is(P.path, "/x/y") && span_is(P.query, "q=1"));
	CHECK(P.flags & LEM_HTTP_TARGET_ABSOLUTE);
	GOOD("GET https://example.com HTTP/1.1\r\n" H "\r\n");
	CHECK(P.path.len == 0 && P.query.len == 0);
	GOOD("GET http://example.com?q HTTP/1.1\r\n" H "\r\n");
	CHECK(P.path.len == 0 && span_is(P.query, "q"));
	GOOD("GET urn:x:y HTTP/1.1\r\n" H "\r\n");
	CHECK(span_is(P.path, "x:y"));
	BAD(400, "GET http://u@example.com/ HTTP/1.1\r\n" H "\r\n");
	BAD(400, "GET http:///x HTTP/1.1\r\n" H "\r\n");
	BAD(400, "GET http://a:b/ HTTP/1.1\r\n" H "\r\n");
	BAD(400, "GET 1http://a/ HTTP/1.1\r\n" H "\r\n");
	BAD(400, "GET http//a/ HTTP/1.1\r\n" H "\r\n");

	/* percent-encoding of the path */
	GOOD("GET /a%2Fb%c3%A9 HTTP/1.1\r\n" H "\r\n");
	CHECK(P.flags & LEM_HTTP_PATH_ENCODED);
	BAD(400, "GET /a%2 HTTP/1.1\r\n" H "\r\n");
	BAD(400, "GET /a% HTTP/1.1\r\n" H "\r\n");
	BAD(400, "GET /a%zz HTTP/1.1\r\n" H "\r\n");
	BAD(400, "GET /a%00b HTTP/1.1\r\n" H "\r\n");
	BAD(400, "GET http://h/%0g HTTP/1.1\r\n" H "\r\n");
	GOOD("GET /a?%00 HTTP/1.1\r\n" H "\r\n");        /* the query is raw */

	/* empty lines before the request line */
	GOOD("\r\n\n\r\nGET / HTTP/1.1\r\n" H "\r\n");
	CHECK(span_is(P.method, "GET") && P.method.off == 5);
	BAD(400, "\r\r\nGET / HTTP/1.1\r\n" H "\r\n");

	/* a long request line within the limit */
	memset(big, 'a', sizeof(big));
	big[0] = '/';
	{
		char req[400];
		int n = snprintf(req, sizeof(req),
			"GET %.*s HTTP/1.1\r\nHost: a\r\n\r\n", 290, big);

		CHECK(run(LEM_HTTP_REQUEST, req, (size_t)n, __LINE__) == n);
		CHECK(P.target.len == 290);
	}
}

static void
test_fields(void)
{
	GOOD("GET / HTTP/1.1\r\n" H "X-A:b\r\nX-B: \t v  v\t \r\nX-C:\r\n"
		"X-D: \xe9\x80\xff\r\n\r\n");
	CHECK(P.nheaders == 5);
	CHECK(header_is(1, "X-A", "b") && header_is(2, "X-B", "v  v"));
	CHECK(header_is(3, "X-C", "") && header_is(4, "X-D", "\xe9\x80\xff"));
	GOOD("GET / HTTP/1.1\r\nX-C:   \r\n" H "\r\n");
	CHECK(header_is(0, "X-C", "") && hdrs[0].value.len == 0);

	/* long values (the 16- and 8-byte scans), with HTABs anywhere */
	GOOD("GET / HTTP/1.1\r\n" H "X: 0123456789\t0123456789abcdef\t"
		"0123456789abcdef\t01\r\nY: \t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t"
		"\t\t\t\t\t\t\t\t\t\t\t\t\t\t\tz\t\r\n\r\n");
	CHECK(hdrs[1].value.len == 47 && hdrs[2].value.len == 1);
	BAD(400, "GET / HTTP/1.1\r\n" H "X: 0123456789abcdef0123456789abcdef"
		"\x01\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\n" H "X: 0123456789abcdef0123456789\x7f"
		"abcdef\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\n" H "X: 0123456789abcdef0123456789\r"
		"abcdef\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\n" H "X: 0123456789abcdef0123\t56789\x1f"
		"abcdef\r\n\r\n");
	GOOD("GET / HTTP/1.1\r\n" H "X: \x80\xff\xfe\xa0\xc3\xa9\x80\xff\xfe"
		"\xa0\xc3\xa9\x80\xff\xfe\xa0\xc3\xa9\x80\xff\xfe\xa0\r\n\r\n");
	CHECK(hdrs[1].value.len == 22);

	/* bare LF line ends are accepted in the head */
	GOOD("GET / HTTP/1.1\nHost: a\nX: y\r\n\n");
	CHECK(header_is(1, "X", "y"));

	BAD(400, "GET / HTTP/1.1\r\nHost : a\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\n: a\r\n" H "\r\n");
	BAD(400, "GET / HTTP/1.1\r\n" H "X\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\n" H "X@Y: z\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\n" H "X\"Y: z\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\n" H "X: a\x7f\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\n" H "X: a\x1b\r\n\r\n");
	/* obs-fold, whitespace before the first field */
	BAD(400, "GET / HTTP/1.1\r\n" H "X: a\r\n b\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\n" H "X: a\r\n\tb\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\n " H "\r\n");
	/* bare CR, NUL */
	BAD(400, "GET / HTTP/1.1\r" H "\r\n");
	BAD(400, "GET / HTTP/1.1\r\r\n" H "\r\n");
	BAD(400, "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\n" H "X: a\rb\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\n" H "\r\r\n");
	BAD(400, "GET / HTTP/1.1\r\n" H "X\r: a\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\n" H "X: a\0b\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\n" H "X\0: a\r\n\r\n");
	BAD(400, "GET /\0 HTTP/1.1\r\n" H "\r\n");
	BAD(400, "GET / HTTP/1.1\0\r\n" H "\r\n");
	/* refused as soon as it arrives, without its line end */
	BAD(400, "GET /\x01");
	CHECK(strcmp(P.why, "invalid character") == 0);
	BAD(400, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
	BAD(400, "GET / HTTP/1.1\r\n" H "X: \x7f");
	CHECK(REQ("GET / HTTP/1.1\r\n" H "X: \t\r") == 0);
	CHECK(REQ("GET / HTTP/1.1\r\n" H "X: \xff\x80") == 0);

	/* Host */
	BAD(400, "GET / HTTP/1.1\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\nX: y\r\n\r\n");
	GOOD("GET / HTTP/1.0\r\n\r\n");
	CHECK(!(P.flags & LEM_HTTP_HAS_HOST));
	BAD(400, "GET / HTTP/1.1\r\n" H H "\r\n");
	BAD(400, "GET / HTTP/1.1\r\nHost: a\r\nHOST: a\r\n\r\n");
	BAD(400, "GET / HTTP/1.0\r\n" H "host: b\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\nHost: a b\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\nHost: a:b\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n");
	BAD(400, "GET / HTTP/1.1\r\nHost: a%0\r\n\r\n");
	GOOD("GET / HTTP/1.1\r\nHost:\r\n\r\n");
	GOOD("GET / HTTP/1.1\r\nhOsT: [::1]:8080\r\n\r\n");
	GOOD("GET / HTTP/1.1\r\nHost: xn--bcher-kva.example:80\r\n\r\n");
	GOOD("GET / HTTP/1.1\r\nHost: a:\r\n\r\n");
	GOOD("GET / HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n");
	GOOD("GET / HTTP/1.1\r\nHosts: a\r\nHos: b\r\n" H "\r\n");
}

static void
test_framing(void)
{
	/* Content-Length */
	GOOD(CL("42"));
	CHECK(P.body == LEM_HTTP_BODY_LENGTH && P.content_length == 42);
	GOOD(CL("0"));
	CHECK(P.body == LEM_HTTP_BODY_LENGTH && P.content_length == 0);
	GOOD("POST / HTTP/1.1\r\n" H "content-length: 007\r\n\r\n");
	CHECK(P.content_length == 7);
	GOOD(CL("42, 42,42"));
	CHECK(P.content_length == 42);
	GOOD("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\n"
		"Content-Length: 5\r\n\r\n");
	CHECK(P.content_length == 5 && P.nheaders == 3);
	GOOD("POST / HTTP/1.1\r\n" H
		"Content-Length: 9223372036854775807\r\n\r\n");
	CHECK(P.content_length == UINT64_C(9223372036854775807));
	BAD(400, "POST / HTTP/1.1\r\n" H
		"Content-Length: 9223372036854775808\r\n\r\n");
	BAD(400, "POST / HTTP/1.1\r\n" H
		"Content-Length: 18446744073709551617\r\n\r\n");
	BAD(400, "POST / HTTP/1.1\r\n" H
		"Content-Length: 99999999999999999999999999\r\n\r\n");
	BAD(400, CL("42, 43"));
	BAD(400, "POST / HTTP/1.1\r\n" H "Content-Length: 42\r\n"
		"Content-Length: 43\r\n\r\n");
	BAD(400, CL("abc"));
	BAD(400, CL("-1"));
	BAD(400, CL("+1"));
	BAD(400, CL("0x10"));
	BAD(400, CL("1 2"));
	BAD(400, CL("1,"));
	BAD(400, CL(",1"));
	BAD(400, "POST / HTTP/1.1\r\n" H "Content-Length:\r\n\r\n");
	BAD(400, CL("1.5"));

	/* Transfer-Encoding */
	GOOD(TE("chunked"));
	CHECK(P.body == LEM_HTTP_BODY_CHUNKED);
	GOOD("POST / HTTP/1.1\r\n" H "transfer-encoding: ChUnKeD\r\n\r\n");
	CHECK(P.body == LEM_HTTP_BODY_CHUNKED);
	GOOD(TE(",chunked , "));
	CHECK(P.body == LEM_HTTP_BODY_CHUNKED);
	BAD(501, TE("gzip, chunked"));
	BAD(501, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n"
		"Transfer-Encoding: chunked\r\n\r\n");
	BAD(501, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: x;q=\"a,b\";r=1,"
		" chunked\r\n\r\n");
	BAD(400, TE("chunked, gzip"));
	BAD(400, TE("gzip"));
	BAD(400, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n"
		"Transfer-Encoding: gzip\r\n\r\n");
	BAD(400, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, chunked"
		"\r\n\r\n");
	BAD(400, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n"
		"Transfer-Encoding: chunked\r\n\r\n");
	BAD(400, "POST / HTTP/1.1\r\n" H "Transfer-Encoding:\r\n\r\n");
	BAD(400, TE(","));
	BAD(400, TE("chunked;a=b"));
	BAD(400, TE("x;a, chunked"));
	BAD(400, TE("x;=b, chunked"));
	BAD(400, TE("x;a=\"b, chunked"));
	BAD(400, TE("chunked x"));
	BAD(400, TE("\"chunked\""));
	BAD(400, "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n"
		"Content-Length: 5\r\n\r\n");
	BAD(400, "POST / HTTP/1.1\r\n" H "Content-Length: 5\r\n"
		"Transfer-Encoding: chunked\r\n\r\n");
	BAD(400, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n");
	GOOD("POST / HTTP/1.1\r\n" H "Transfer-Encodings: gzip\r\n\r\n");
	CHECK(P.body == LEM_HTTP_BODY_NONE);

	/* Connection, Expect, Upgrade */
	GOOD("GET / HTTP/1.1\r\n" H "Connection: close\r\n\r\n");
	CHECK(!(P.flags & LEM_HTTP_KEEP_ALIVE));
	GOOD("GET / HTTP/1.1\r\n" H "Connection: foo,  CLOSE \r\n\r\n");
	CHECK(!(P.flags & LEM_HTTP_KEEP_ALIVE));
	GOOD("GET / HTTP/1.1\r\n" H "Connection: closed\r\n\r\n");
	CHECK(P.flags & LEM_HTTP_KEEP_ALIVE);
	GOOD("GET / HTTP/1.0\r\n\r\n");
	CHECK(!(P.flags & LEM_HTTP_KEEP_ALIVE));
	GOOD("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
	CHECK(P.flags & LEM_HTTP_KEEP_ALIVE);
	GOOD("GET / HTTP/1.0\r\nConnection: keep-alive\r\n"
		"Connection: close\r\n\r\n");
	CHECK(!(P.flags & LEM_HTTP_KEEP_ALIVE));
	GOOD("POST / HTTP/1.1\r\n" H "Expect: 100-Continue\r\n\r\n");
	CHECK(P.flags & LEM_HTTP_EXPECT_CONTINUE);
	GOOD("POST / HTTP/1.1\r\n" H "Expect: 100-continued\r\n\r\n");
	CHECK(!(P.flags & LEM_HTTP_EXPECT_CONTINUE));
	GOOD("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n");
	CHECK(!(P.flags & LEM_HTTP_EXPECT_CONTINUE));
	GOOD("GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"
		"Upgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		"Origin: http://example.com\r\n"
		"Sec-WebSocket-Protocol: chat, superchat\r\n"
		"Sec-WebSocket-Version: 13\r\n\r\n");
	CHECK((P.flags & (LEM_HTTP_UPGRADE_WS | LEM_HTTP_CONN_UPGRADE)) ==
		(LEM_HTTP_UPGRADE_WS | LEM_HTTP_CONN_UPGRADE));
	CHECK(header_is(3, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="));
	GOOD("GET / HTTP/1.1\r\n" H "Upgrade: h2c, WebSocket/13\r\n"
		"Connection: keep-alive, upgrade\r\n\r\n");
	CHECK(P.flags & LEM_HTTP_UPGRADE_WS && P.flags & LEM_HTTP_CONN_UPGRADE);
	CHECK(P.flags & LEM_HTTP_KEEP_ALIVE);
	GOOD("GET / HTTP/1.1\r\n" H "Upgrade: websockets\r\n\r\n");
	CHECK(!(P.flags & LEM_HTTP_UPGRADE_WS));
}

static void
test_limits(void)
{
	char buf[20000];
	int n, r;

	/* max_headers */
	o_max_headers = 3;
	GOOD("GET / HTTP/1.1\r\n" H "A: 1\r\nB: 2\r\n\r\n");
	BAD(431, "GET / HTTP/1.1\r\n" H "A: 1\r\nB: 2\r\nC: 3\r\n\r\n");
	o_max_headers = 0;
	BAD(431, "GET / HTTP/1.0\r\nA: 1\r\n\r\n");
	GOOD("GET / HTTP/1.0\r\n\r\n");
	o_max_headers = NHDR;
	BAD(431, "GET / HTTP/1.1\r\n" H
		"0:\r\n1:\r\n2:\r\n3:\r\n4:\r\n5:\r\n6:\r\n7:\r\n8:\r\n9:\r\n"
		"0:\r\n1:\r\n2:\r\n3:\r\n4:\r\n5:\r\n6:\r\n7:\r\n8:\r\n9:\r\n"
		"0:\r\n1:\r\n2:\r\n3:\r\n4:\r\n5:\r\n6:\r\n7:\r\n8:\r\n9:\r\n"
		"0:\r\n1:\r\n2:\r\n3:\r\n4:\r\n5:\r\n6:\r\n7:\r\n8:\r\n9:\r\n"
		"0:\r\n1:\r\n2:\r\n3:\r\n4:\r\n5:\r\n6:\r\n7:\r\n8:\r\n9:\r\n"
		"0:\r\n1:\r\n2:\r\n3:\r\n4:\r\n5:\r\n6:\r\n7:\r\n8:\r\n9:\r\n"
		"0:\r\n1:\r\n2:\r\n3:\r\n4:\r\n5:\r\n6:\r\n7:\r\n8:\r\n9:\r\n"
		"0:\r\n1:\r\n2:\r\n3:\r\n4:\r\n5:\r\n6:\r\n7:\r\n8:\r\n9:\r\n"
		"0:\r\n1:\r\n2:\r\n3:\r\n4:\r\n5:\r\n6:\r\n7:\r\n8:\r\n9:\r\n"
		"0:\r\n1:\r\n2:\r\n3:\r\n4:\r\n5:\r\n6:\r\n7:\r\n8:\r\n9:\r\n"
		"\r\n");
	CHECK(P.nheaders == 100);
	CHECK(strcmp(P.why, "too many header fields") == 0);

	/* max_head: exactly at the limit is fine, a byte more is not */
	o_max_head = 64;
	n = snprintf(buf, sizeof(buf), "GET /%s HTTP/1.1\r\n" H "\r\n",
		"0123456789012345678901234567890123456");
	CHECK(n == 64);
	CHECK(run(LEM_HTTP_REQUEST, buf, (size_t)n, __LINE__) == 64);
	/* with the next request behind it */
	memcpy(buf + n, "GET / HTTP/1.1\r\n", 16);
	CHECK(run(LEM_HTTP_REQUEST, buf, (size_t)n + 16, __LINE__) == 64);
	n = snprintf(buf, sizeof(buf), "GET /%s HTTP/1.1\r\n" H "\r\n",
		"01234567890123456789012345678901234567");
	CHECK(run(LEM_HTTP_REQUEST, buf, (size_t)n, __LINE__) == -1);
	CHECK(P.error == 431);
	n = snprintf(buf, sizeof(buf), "GET /%s HTTP/1.1\r\n" H "\r\n",
		"0123456789012345678901234567890123456789012345678901234567");
	CHECK(run(LEM_HTTP_REQUEST, buf, (size_t)n, __LINE__) == -1);
	CHECK(P.error == 414);
	/* known as soon as max_head bytes are there, not before */
	{
		struct lem_http_parser q;

		setup(&q, LEM_HTTP_REQUEST, hdrs);
		CHECK(lem_http_parse(&q, buf, 63) == 0);
		CHECK(lem_http_parse(&q, buf, 64) == -1 && q.error == 414);
	}
	o_max_head = LEM_HTTP_MAX_HEAD;

	/* the default: 16384 */
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "GET /", 5);
	CHECK(run(LEM_HTTP_REQUEST, buf, sizeof(buf), __LINE__) == -1);
	CHECK(P.error == 414);
	n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\n" H "X: ");
	memset(buf + n, 'v', sizeof(buf) - (size_t)n);
	CHECK(run(LEM_HTTP_REQUEST, buf, sizeof(buf), __LINE__) == -1);
	CHECK(P.error == 431);
	/* 16384 exactly */
	memcpy(buf + 16380, "\r\n\r\n", 4);
	r = run(LEM_HTTP_REQUEST, buf, sizeof(buf), __LINE__);
	CHECK(r == 16384 && P.nheaders == 2 && 
		hdrs[1].value.len == 16380 - (unsigned int)n);
	/* a head of nothing but empty lines never ends: 414 */
	memset(buf, '\n', sizeof(buf));
	CHECK(run(LEM_HTTP_REQUEST, buf, sizeof(buf), __LINE__) == -1);
	CHECK(P.error == 414);
}

static void
test_pipelining(void)
{
	static const char two[] =
		"POST /one HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
		"GET /two?x HTTP/1.1\r\nHost: b\r\n\r\n"
		"GET /three HTTP/1.0\r\n\r\n";
	struct lem_http_parser p;
	size_t off;
	int r;

	lem_http_parser_init(&p, LEM_HTTP_REQUEST, hdrs, NHDR);
	r = lem_http_parse(&p, two, sizeof(two) - 1);
	CHECK(r == 50 && p.body == LEM_HTTP_BODY_LENGTH &&
		p.content_length == 3);
	off = (size_t)r + 3;
	lem_http_parser_reset(&p);
	CHECK(p.headers == hdrs && p.max_headers == NHDR &&
		p.max_head == LEM_HTTP_MAX_HEAD && p.nheaders == 0);
	r = lem_http_parse(&p, two + off, sizeof(two) - 1 - off);
	CHECK(r == 32 && p.path.off == 4 && p.path.len == 4);
	CHECK(p.query.len == 1 && two[off + p.query.off] == 'x');
	CHECK(memcmp(two + off + p.headers[0].value.off, "b", 1) == 0);
	off += (size_t)r;
	lem_http_parser_reset(&p);
	r = lem_http_parse(&p, two + off, sizeof(two) - 1 - off);
	CHECK(r == 23 && off + 23 == sizeof(two) - 1 && p.version == 0);
	CHECK(!(p.flags & LEM_HTTP_KEEP_ALIVE));

	/* all three via run(): only the first head counts */
	CHECK(run(LEM_HTTP_REQUEST, two, sizeof(two) - 1, __LINE__) == 50);
}

static void
test_responses(void)
{
	RES("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
	CHECK(P.status == 200 && span_is(P.reason, "OK") && P.version == 1);
	CHECK(P.body == LEM_HTTP_BODY_LENGTH && P.content_length == 5);
	CHECK(P.flags == LEM_HTTP_KEEP_ALIVE);
	CHECK(RES("HTTP/1.1 404 Not  Found \xe9\r\n\r\n") > 0);
	CHECK(span_is(P.reason, "Not  Found \xe9"));
	CHECK(P.body == LEM_HTTP_BODY_CLOSE && P.flags == 0);
	CHECK(RES("HTTP/1.1 200\r\nTransfer-Encoding: chunked\r\n\r\n") > 0);
	CHECK(P.reason.len == 0 && P.body == LEM_HTTP_BODY_CHUNKED);
	CHECK(RES("HTTP/1.1 200 \r\n\r\n") > 0 && P.reason.len == 0);
	CHECK(RES("HTTP/1.1 204 No Content\r\n\r\n") > 0);
	CHECK(P.body == LEM_HTTP_BODY_NONE && P.flags == LEM_HTTP_KEEP_ALIVE);
	CHECK(RES("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n"
		"\r\n") > 0);
	CHECK(P.body == LEM_HTTP_BODY_NONE && P.content_length == 9);
	CHECK(RES("HTTP/1.1 100 Continue\r\n\r\n") > 0);
	CHECK(P.status == 100 && P.body == LEM_HTTP_BODY_NONE);
	CHECK(RES("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\n\r\n") > 0);
	CHECK(P.body == LEM_HTTP_BODY_NONE);
	CHECK(P.flags & LEM_HTTP_UPGRADE_WS && P.flags & LEM_HTTP_CONN_UPGRADE);
	CHECK(RES("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n") > 0);
	CHECK(P.version == 0 && !(P.flags & LEM_HTTP_KEEP_ALIVE));
	CHECK(RES("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n"
		"Connection: keep-alive\r\n\r\n") > 0);
	CHECK(P.flags & LEM_HTTP_KEEP_ALIVE);
	CHECK(RES("HTTP/1.1 200 OK\r\nConnection: close\r\n"
		"Content-Length: 1\r\n\r\n") > 0);
	CHECK(!(P.flags & LEM_HTTP_KEEP_ALIVE));
	/* a response has no Host; a Host field means nothing there */
	CHECK(RES("HTTP/1.1 200 OK\r\nHost: a b\r\nHost: c\r\n\r\n") > 0);
	o_head = 1;
	CHECK(RES("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n") > 0);
	CHECK(P.body == LEM_HTTP_BODY_NONE && P.content_length == 100);
	CHECK(RES("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") > 0);
	CHECK(P.body == LEM_HTTP_BODY_NONE);
	o_head = 0;
	o_connect = 1;
	CHECK(RES("HTTP/1.1 200 Connection established\r\n\r\n") > 0);
	CHECK(P.body == LEM_HTTP_BODY_NONE);
	CHECK(RES("HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\n") > 0);
	CHECK(P.body == LEM_HTTP_BODY_LENGTH);
	o_connect = 0;

	/* 100 Continue, then the answer, to a HEAD: the settings stay */
	{
		static const char two[] = "HTTP/1.1 100 Continue\r\n\r\n"
			"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n";
		struct lem_http_parser p;
		int r;

		lem_http_parser_init(&p, LEM_HTTP_RESPONSE, hdrs, NHDR);
		p.head_response = 1;
		p.max_head = 100;
		r = lem_http_parse(&p, two, sizeof(two) - 1);
		CHECK(r == 25 && p.status == 100);
		lem_http_parser_reset(&p);
		CHECK(p.head_response == 1 && p.max_head == 100);
		CHECK(lem_http_parse(&p, two + r, sizeof(two) - 1 - (size_t)r)
			== 38 && p.status == 200);
		CHECK(p.body == LEM_HTTP_BODY_NONE && p.content_length == 7);
	}

	BADRES("HTTP/1.1 099 X\r\n\r\n");
	BADRES("HTTP/1.1 600 X\r\n\r\n");
	BADRES("HTTP/1.1 2000 X\r\n\r\n");
	BADRES("HTTP/1.1 20 X\r\n\r\n");
	BADRES("HTTP/1.1 2x0 X\r\n\r\n");
	BADRES("HTTP/1.1  200 X\r\n\r\n");
	BADRES("HTTP/1.1 200 X\x01\r\n\r\n");
	BADRES("HTTP/1.1 200 X\rY\r\n\r\n");
	BADRES("HTTP/2 200 X\r\n\r\n");
	BADRES("HTTP/2.0 200 X\r\n\r\n");
	BADRES("HTTP/1.1\r\n\r\n");
	BADRES("http/1.1 200 OK\r\n\r\n");
	BADRES("\r\nHTTP/1.1 200 OK\r\n\r\n");
	BADRES("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n");
	BADRES("HTTP/1.1 200 OK\r\nX : a\r\n\r\n");
	BADRES("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
		"Content-Length: 2\r\n\r\n");
	BADRES("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
		"Transfer-Encoding: chunked\r\n\r\n");
	BADRES("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
	BADRES("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
	BADRES("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	o_max_head = 32;
	BADRES("HTTP/1.1 200 OK\r\nX-Long: 0123456789\r\n\r\n");
	CHECK(strcmp(P.why, "header section too large") == 0);
	o_max_head = LEM_HTTP_MAX_HEAD;
}

/* ------------------------------------------------------------ chunked */

static char log_whole[4096], log_split[4096];

/*
 * Decode s, fed step bytes at a time (0: whole), into a log of events:
 * "D<data>|", "T<name>=<value>|", then "E<why>" or "F" (done), then
 * "@<bytes consumed>"; "M" when it ran out of input.
 */
static void
chunked_run(const char *s, size_t n, size_t step, unsigned int max_trailer,
		char *out, size_t outlen)
{
	struct lem_http_chunked c;
	size_t start = 0, avail = step ? (step < n ? step : n) : n, o = 0;
	char *mem;
	int r;

	lem_http_chunked_init(&c);
	if (max_trailer)
		c.max_trailer = max_trailer;
	out[0] = '\0';
	for (;;) {
		mem = malloc(avail - start + 1);
		memcpy(mem, s + start, avail - start);
		r = lem_http_chunked_parse(&c, mem, avail - start);
		CHECK(c.consumed <= avail - start);
		if (r == LEM_HTTP_CHUNK_DATA) {
			CHECK(c.data_len > 0 &&
				c.data_off + c.data_len == c.consumed);
			o += (size_t)snprintf(out + o, outlen - o, "D%.*s|",
				(int)c.data_len, mem + c.data_off);
		} else if (r == LEM_HTTP_CHUNK_TRAILER) {
			CHECK(c.value.off + c.value.len <= c.consumed);
			o += (size_t)snprintf(out + o, outlen - o,
				"T%.*s=%.*s|",
				(int)c.name.len, mem + c.name.off,
				(int)c.value.len, mem + c.value.off);
		}
		free(mem);
		start += c.consumed;
		if (r == LEM_HTTP_CHUNK_DONE || r == LEM_HTTP_CHUNK_ERROR) {
			if (r == LEM_HTTP_CHUNK_DONE)
				o += (size_t)snprintf(out + o, outlen - o, "F");
			else
				o += (size_t)snprintf(out + o, outlen - o,
					"E%s", c.why);
			break;
		}
		if (r == LEM_HTTP_CHUNK_MORE) {
			if (avail == n) {
				o += (size_t)snprintf(out + o, outlen - o, "M");
				break;
			}
			avail = step && avail + step < n ? avail + step : n;
		}
		if (o >= outlen)
			break;
	}
	snprintf(out + o, outlen - o, "@%zu", start);
}

/*
 * The log of the whole input, with the data of consecutive D events
 * joined, must be what every split gives when joined the same way.
 */
static void
join_data(char *s)
{
	char *r = s, *w = s;

	while (*r) {
		if (r[0] == '|' && r[1] == 'D') {
			r += 2;
			continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
}

static void
chunked_is(const char *s, size_t n, unsigned int max_trailer,
		const char *want, int line)
{
	size_t step;

	chunked_run(s, n, 0, max_trailer, log_whole, sizeof(log_whole));
	CHECKL(strcmp(log_whole, want) == 0, line);
	if (strcmp(log_whole, want) != 0)
		printf("# got  %s\n# want %s\n", log_whole, want);
	join_data(log_whole);
	for (step = 1; step <= 7; step++) {
		chunked_run(s, n, step, max_trailer, log_split,
			sizeof(log_split));
		join_data(log_split);
		CHECKL(strcmp(log_whole, log_split) == 0, line);
		if (strcmp(log_whole, log_split) != 0)
			printf("# step %zu: %s\n#   whole: %s\n", step,
				log_split, log_whole);
	}
}

#define CHUNKED(s, want) chunked_is(s, sizeof(s) - 1, 0, want, __LINE__)
#define CHUNKED_T(s, t, want) chunked_is(s, sizeof(s) - 1, t, want, __LINE__)

static void
test_chunked(void)
{
	char buf[8000];
	size_t n;

	CHUNKED("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
		"Dhello|D world|F@26");
	CHUNKED("5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n",
		"Dhello|F@15");
	CHUNKED("0\r\n\r\n", "F@5");
	CHUNKED("000\r\n\r\n", "F@7");
	CHUNKED("A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
		"D0123456789|D0123456789|F@35");
	CHUNKED("00005\r\nhello\r\n0\r\n\r\n", "Dhello|F@19");
	/* extensions */
	CHUNKED("5;a\r\nhello\r\n0;b=c\r\n\r\n", "Dhello|F@21");
	CHUNKED("5 ; a = b ;c;d=\"x;\\\"y\\\\\"\t;e=f\r\nhello\r\n0\r\n\r\n",
		"Dhello|F@43");
	/* trailers */
	CHUNKED("5\r\nhello\r\n0\r\nX-T: v \r\nY:\r\n\r\nnext",
		"Dhello|TX-T=v|TY=|F@28");
	CHUNKED_T("0\r\nX: 12345\r\nY: 1\r\n\r\n", 11,
		"TX=12345|Etrailer section too large@13");
	CHUNKED_T("0\r\nX: 12345\r\n\r\n", 10, "TX=12345|F@15");
	CHUNKED_T("0\r\nX: 123456\r\n\r\n", 10, "Etrailer section too large@3");
	CHUNKED_T("0\r\n\r\n", 1, "F@5");
	CHUNKED("0\r\nX: a\r\n b\r\n\r\n", "TX=a|Eobsolete line folding@9");
	CHUNKED("0\r\nX : a\r\n\r\n", "Ewhitespace before colon@3");
	CHUNKED("0\r\nX: a\n\r\n", "Ebare LF in chunked body@3");
	CHUNKED("0\r\nX: a\rb\r\n\r\n", "Ebare CR@3");
	CHUNKED("0\r\nX: a\x01\r\n\r\n", "Einvalid character@3");
	CHUNKED("0\r\n\n", "Ebare LF in chunked body@3");
	CHUNKED("0\r\n\r", "M@3");
	/* sizes */
	CHUNKED("5\nhello\r\n0\r\n\r\n", "Ebare LF in chunked body@0");
	CHUNKED("\r\nhello", "Einvalid chunk size@0");
	CHUNKED("g\r\n", "Einvalid chunk size@0");
	CHUNKED("-5\r\n", "Einvalid chunk size@0");
	CHUNKED("0x5\r\n", "Einvalid chunk extension@0");
	CHUNKED("5 \r\nhello\r\n", "Einvalid chunk extension@0");
	CHUNKED("5;\r\nhello\r\n", "Einvalid chunk extension@0");
	CHUNKED("5;a=\r\nhello\r\n", "Einvalid chunk extension@0");
	CHUNKED("5;a \r\nhello\r\n", "Einvalid chunk extension@0");
	CHUNKED("5;a=\"b\r\nhello\r\n", "Einvalid chunk extension@0");
	CHUNKED("5;a=b c\r\nhello\r\n", "Einvalid chunk extension@0");
	CHUNKED("5;@\r\nhello\r\n", "Einvalid chunk extension@0");
	CHUNKED("5\r\r\nhello\r\n", "Ebare CR@0");
	CHUNKED("5;a=\x7f\r\nhello\r\n", "Einvalid character@0");
	CHUNKED("5;a=\"\xff\t\"\r\nhello\r\n0\r\n\r\n", "Dhello|F@22");
	CHUNKED("7fffffffffffffff\r\nabc", "Dabc|M@21");
	CHUNKED("07FFFFFFFFFFFFFFF\r\nabc", "Dabc|M@22");
	CHUNKED("8000000000000000\r\nabc", "Echunk size too large@0");
	CHUNKED("10000000000000000\r\nabc", "Echunk size too large@0");
	CHUNKED("ffffffffffffffffffffffff\r\n", "Echunk size too large@0");
	/* the CRLF after the data */
	CHUNKED("5\r\nhelloX\r\n", "Dhello|Eno CRLF after chunk data@8");
	CHUNKED("5\r\nhello\rX", "Dhello|Eno CRLF after chunk data@8");
	CHUNKED("5\r\nhello\n0\r\n\r\n", "Dhello|Eno CRLF after chunk data@8");
	CHUNKED("5\r\nhello\r", "Dhello|M@8");
	CHUNKED("5\r\nhel", "Dhel|M@6");
	CHUNKED("5\r\n", "M@3");
	CHUNKED("5", "M@0");
	CHUNKED("", "M@0");

	/* a chunk-size line at the limit, and past it */
	n = (size_t)snprintf(buf, sizeof(buf), "1;x=");
	memset(buf + n, 'a', LEM_HTTP_CHUNK_LINE_MAX - 2 - n);
	n = LEM_HTTP_CHUNK_LINE_MAX - 2;
	memcpy(buf + n, "\r\nz\r\n0\r\n\r\n", 10);
	chunked_is(buf, n + 10, 0, "Dz|F@4104", __LINE__);
	memmove(buf + 1, buf, n + 10);
	chunked_is(buf, n + 11, 0, "Echunk-size line too long@0", __LINE__);
	memset(buf, '0', sizeof(buf));
	chunked_is(buf, sizeof(buf), 0, "Echunk-size line too long@0",
		__LINE__);

	/* a chunk larger than what arrives at once */
	n = (size_t)snprintf(buf, sizeof(buf), "1000\r\n");
	memset(buf + n, 'q', 4096);
	memcpy(buf + n + 4096, "\r\n0\r\n\r\n", 7);
	{
		struct lem_http_chunked c;
		size_t got = 0, off = 0;
		int r;

		lem_http_chunked_init(&c);
		r = lem_http_chunked_parse(&c, buf, 1000);
		CHECK(r == LEM_HTTP_CHUNK_DATA && c.data_off == 6 &&
			c.data_len == 994 && c.consumed == 1000);
		got += c.data_len;
		off += c.consumed;
		while ((r = lem_http_chunked_parse(&c, buf + off,
				n + 4096 + 7 - off)) == LEM_HTTP_CHUNK_DATA) {
			got += c.data_len;
			off += c.consumed;
		}
		CHECK(r == LEM_HTTP_CHUNK_DONE && got == 4096);
		CHECK(off + c.consumed == n + 4096 + 7);
		/* done stays done */
		CHECK(lem_http_chunked_parse(&c, "x", 1) ==
			LEM_HTTP_CHUNK_DONE);
		CHECK(c.consumed == 0);
	}
}

static void
test_helpers(void)
{
	char out[64];

	CHECK(lem_http_pct_decode(out, "/a%20b%2Fc%c3%A9", 16) == 8);
	CHECK(memcmp(out, "/a b/c\xc3\xa9", 8) == 0);
	CHECK(lem_http_pct_decode(out, "abc", 3) == 3);
	CHECK(lem_http_pct_decode(out, "", 0) == 0);
	CHECK(lem_http_pct_decode(out, "%", 1) == -1);
	CHECK(lem_http_pct_decode(out, "%4", 2) == -1);
	CHECK(lem_http_pct_decode(out, "%4g", 3) == -1);
	CHECK(lem_http_pct_decode(out, "a%00", 4) == -1);
	CHECK(lem_http_pct_decode(out, "%FF%7e", 6) == 2);
	CHECK(memcmp(out, "\xff~", 2) == 0);
	/* in place */
	strcpy(out, "%41%42c");
	CHECK(lem_http_pct_decode(out, out, 7) == 3);
	CHECK(memcmp(out, "ABc", 3) == 0);
	/* the decoded path of a parsed request */
	GOOD("GET /x%2fy%20z?q%20 HTTP/1.1\r\n" H "\r\n");
	CHECK(lem_http_pct_decode(out, B + P.path.off, P.path.len) == 6);
	CHECK(memcmp(out, "/x/y z", 6) == 0);

	CHECK(strcmp(lem_http_date(784111777),
		"Sun, 06 Nov 1994 08:49:37 GMT") == 0);
	CHECK(strcmp(lem_http_date(784111777),
		"Sun, 06 Nov 1994 08:49:37 GMT") == 0);
	CHECK(strcmp(lem_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT") == 0);
	CHECK(strcmp(lem_http_date(951782400),
		"Tue, 29 Feb 2000 00:00:00 GMT") == 0);
	CHECK(strlen(lem_http_date(1767225599)) == 29);
	CHECK(strcmp(lem_http_date(1767225599),
		"Wed, 31 Dec 2025 23:59:59 GMT") == 0);
}

/* random bytes: no crash, and whole == split (run() checks) */
static void
test_random(void)
{
	static const char *pieces[] = {
		"GET ", "POST ", "/", "?", "%41", "%", " ", "HTTP/1.1",
		"HTTP/1.0",
		"\r\n", "\n", "\r", "Host: a", "Content-Length: 5",
		"Transfer-Encoding: chunked", ":", "X", "\t", "\0", "*",
		"Connection: close", "HTTP/1.1 200 OK", "a", "\xff", ","
	};
	unsigned int seed = 7, i, k, m;
	char buf[512];
	size_t n, l;

	for (i = 0; i < 3000; i++) {
		n = 0;
		m = 1 + (seed = seed * 1103515245 + 12345) % 24;
		for (k = 0; k < m; k++) {
			seed = seed * 1103515245 + 12345;
			l = strlen(pieces[(seed >> 8) % 25]);
			if ((seed >> 8) % 25 == 18)
				l = 1;
			if (n + l > sizeof(buf))
				break;
			memcpy(buf + n, pieces[(seed >> 8) % 25], l);
			n += l;
		}
		run(i & 1 ? LEM_HTTP_RESPONSE : LEM_HTTP_REQUEST, buf, n,
			__LINE__);
	}
}

int
main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	test_request_line();
	test_fields();
	test_framing();
	test_limits();
	test_pipelining();
	test_responses();
	test_chunked();
	test_helpers();
	test_random();
	if (failures) {
		printf("%d of %d checks failed\n", failures, checks);
		return 1;
	}
	printf("ok %d\n", checks);
	return 0;
}
