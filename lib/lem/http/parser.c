/*
 * parser.c - lem's HTTP/1.1 message-head parser and chunked decoder
 * (see parser.h).
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * The head is parsed a line at a time.  One scan, sixteen (SSE2) or eight
 * bytes at a time, finds the end of a line and checks that it holds no
 * control character but HTAB and no DEL; then only a complete line is
 * parsed, over character-class tables.  A line's CR or LF is in none of
 * the classes the inner loops test, so they stop at it without a bounds
 * check, and a field value needs no second look.  Nothing past the end
 * of the line found is read.  A partial line is scanned once, whatever
 * the split (the scan resumes where it stopped), so feeding a byte at a
 * time is linear, and a control character is refused as soon as it
 * arrives.
 *
 * Choices where RFC 9112 leaves one:
 * - Line ends: in the head, a bare LF ends a line like CRLF (RFC 9112
 *   2.2 allows it; printf | nc clients send it, and nothing is ambiguous
 *   since a CR is only accepted right before the LF).  In a chunked body
 *   (size lines, the CRLF after data, trailers) CRLF is required: there a
 *   disagreement between lenient and strict parsers is a known request
 *   smuggling vector.  A bare CR anywhere is refused (400).
 * - The request-target may hold any visible ASCII character except '#'
 *   (a fragment is never sent): RFC 3986 excludes " < > \ ^ ` { | } too,
 *   but browsers send several of them unencoded (the WHATWG URL percent-
 *   encode sets) and refusing them would refuse real traffic.  Controls,
 *   SP, DEL and bytes >= 0x80 are refused.
 * - The path must hold valid %XX escapes only, and no %00 (a NUL in a
 *   decoded path truncates it for every C API that gets it).  The query
 *   is passed on raw, unchecked beyond the character class.
 * - Empty lines before a request line are skipped (RFC 9112 2.2) and
 *   count towards max_head.
 * - obs-fold is refused in requests and responses alike (400).
 * - Transfer-Encoding: the only coding lem decodes is chunked, so in a
 *   request any other coding before it is 501, and a response with any
 *   coding but chunked alone is refused (lem's client sends no TE field,
 *   so a server may not use another).  Transfer-Encoding in HTTP/1.0 and
 *   Transfer-Encoding with Content-Length are refused in both (RFC 9112
 *   6.1 and 6.3 call them faulty framing, a smuggling sign).
 * - A response's reason phrase may be missing with its SP (servers that
 *   send "HTTP/1.1 200\r\n" exist); its status must be 100..599.
 */
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "parser.h"

/* ------------------------------------------------- character classes */

#define C_TOKEN  0x01           /* tchar */
#define C_VALUE  0x02           /* field-value: VCHAR obs-text SP HTAB */
#define C_TARGET 0x04           /* request-target (see above) */
#define C_HOST   0x08           /* reg-name: unreserved sub-delims % */
#define C_HEX    0x10
#define C_DIGIT  0x20
#define C_SCHEME 0x40           /* ALPHA DIGIT + - . */

#define IS_ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define IS_TCHAR(c) (IS_ALPHA(c) || IS_DIGIT(c) || (c) == '!' || \
	(c) == '#' || (c) == '$' || (c) == '%' || (c) == '&' || \
	(c) == '\'' || (c) == '*' || (c) == '+' || (c) == '-' || \
	(c) == '.' || (c) == '^' || (c) == '_' || (c) == '`' || \
	(c) == '|' || (c) == '~')
#define IS_VALUE(c) (((c) >= 0x20 && (c) != 0x7f) || (c) == '\t')
#define IS_TARGET(c) ((c) > 0x20 && (c) < 0x7f && (c) != '#')
#define IS_SUBDELIM(c) ((c) == '!' || (c) == '$' || (c) == '&' || \
	(c) == '\'' || (c) == '(' || (c) == ')' || (c) == '*' || \
	(c) == '+' || (c) == ',' || (c) == ';' || (c) == '=')
#define IS_UNRESERVED(c) (IS_ALPHA(c) || IS_DIGIT(c) || (c) == '-' || \
	(c) == '.' || (c) == '_' || (c) == '~')
#define IS_HEX(c) (IS_DIGIT(c) || ((c) >= 'a' && (c) <= 'f') || \
	((c) >= 'A' && (c) <= 'F'))
#define IS_SCHEME(c) (IS_ALPHA(c) || IS_DIGIT(c) || (c) == '+' || \
	(c) == '-' || (c) == '.')

#define CLS(c) ((IS_TCHAR(c) ? C_TOKEN : 0) | (IS_VALUE(c) ? C_VALUE : 0) | \
	(IS_TARGET(c) ? C_TARGET : 0) | \
	(IS_UNRESERVED(c) || IS_SUBDELIM(c) || (c) == '%' ? C_HOST : 0) | \
	(IS_HEX(c) ? C_HEX : 0) | (IS_DIGIT(c) ? C_DIGIT : 0) | \
	(IS_SCHEME(c) ? C_SCHEME : 0))
#define CLS4(c) CLS(c), CLS((c) + 1), CLS((c) + 2), CLS((c) + 3)
#define CLS16(c) CLS4(c), CLS4((c) + 4), CLS4((c) + 8), CLS4((c) + 12)
#define CLS64(c) CLS16(c), CLS16((c) + 16), CLS16((c) + 32), CLS16((c) + 48)

static const unsigned char cls[256] = {
	CLS64(0), CLS64(64), CLS64(128), CLS64(192)
};

#define HEXVAL(c) (((c) & 0xf) + ((c) >> 6) * 9)        /* c is a HEXDIG */
#define OWS(c) ((c) == ' ' || (c) == '\t')

/*
 * s[0..n) equals lc, a lower-case constant of letters, digits and '-',
 * ignoring case.  Exact only because s has passed a class check: the
 * other bytes that c | 0x20 maps onto those characters are controls.
 */
static int
eq_lower(const unsigned char *s, size_t n, const char *lc)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (lc[i] == '\0' || (s[i] | 0x20) != (unsigned char)lc[i])
			return 0;
	}
	return lc[n] == '\0';
}

static struct lem_http_span
span(size_t off, size_t len)
{
	struct lem_http_span sp;

	sp.off = (uint32_t)off;
	sp.len = (uint32_t)len;
	return sp;
}

/* ------------------------------------------------------------ lines */

#define ONES  UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/*
 * The first byte from i on, before lim, that is not of C_VALUE: the CR or
 * LF that ends a line, or a byte no line may hold; lim if there is none.
 * Eight bytes at a time: m flags the bytes below 0x20 and the DELs (the
 * borrows of x - 0x20.. can only flag a byte above a flagged one, so the
 * lowest flag is exact, and on a little-endian machine ctz finds it); a
 * HTAB among them is skipped.  The last few bytes go through the table.
 * Where SSE2 is (every x86-64), sixteen bytes at a time first.
 */
static size_t
line_scan(const unsigned char *b, size_t i, size_t lim)
{
	uint64_t x, y, m;

#ifdef __SSE2__
	/* the same sixteen bytes at a time: min(v, 0x1f) == v is v < 0x20 */
	const __m128i c1f = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f);
	__m128i v;
	unsigned int k;

	while (lim - i >= 16) {
		v = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
		k = (unsigned int)_mm_movemask_epi8(_mm_or_si128(
			_mm_cmpeq_epi8(_mm_min_epu8(v, c1f), v),
			_mm_cmpeq_epi8(v, del)));
		if (k == 0) {
			i += 16;
			continue;
		}
		i += (size_t)__builtin_ctz(k);
		if (b[i] != '\t')
			return i;
		i++;
	}
#endif
	while (lim - i >= 8) {
		memcpy(&x, b + i, 8);
		y = x ^ (ONES * 0x7f);
		m = (((x - ONES * 0x20) & ~x) | ((y - ONES) & ~y)) & HIGHS;
		if (m == 0) {
			i += 8;
			continue;
		}
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
	__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		i += (size_t)__builtin_ctzll(m) >> 3;
		if (b[i] != '\t')
			return i;
		i++;
#else
		for (y = i + 8; i < y; i++) {
			if (!(cls[b[i]] & C_VALUE))
				return i;
		}
#endif
	}
	for (; i < lim; i++) {
		if (!(cls[b[i]] & C_VALUE))
			return i;
	}
	return lim;
}

enum { LINE_MORE, LINE_OK, LINE_BAD };

/*
 * Find the end of a line, looking from *from (the bytes before it, from
 * the start of the line, hold no line end and are of C_VALUE) up to lim.
 * LINE_OK: the line's content ends at *e (its CR, or LF), *lf is its LF.
 * LINE_MORE: it does not end before lim; *from is where to look next.
 * LINE_BAD: a byte no line may hold, or a CR not followed by LF (*why).
 */
static int
line_end(const unsigned char *b, size_t *from, size_t lim, size_t *e,
		size_t *lf, const char **why)
{
	size_t j;

	if (*from >= lim)
		return LINE_MORE;
	j = line_scan(b, *from, lim);
	if (j == lim) {
		*from = lim;
		return LINE_MORE;
	}
	if (b[j] == '\n') {
		*e = *lf = j;
		return LINE_OK;
	}
	if (b[j] == '\r') {
		if (j + 1 == lim) {
			*from = j;
			return LINE_MORE;
		}
		if (b[j + 1] == '\n') {
			*e = j;
			*lf = j + 1;
			return LINE_OK;
		}
		*why = "bare CR";
		return LINE_BAD;
	}
	*why = "invalid character";
	return LINE_BAD;
}

/* ------------------------------------------------------ small grammars */

/*
 * Split the field line b[s..e) (e is at its CR or LF, every byte before
 * it is of C_VALUE) into name and value; returns NULL or why it is
 * invalid.  Used for header and trailer fields alike.
 */
static const char *
field_split(const unsigned char *b, size_t s, size_t e,
		struct lem_http_span *name, struct lem_http_span *value)
{
	size_t i = s, v;

	while (cls[b[i]] & C_TOKEN)
		i++;
	if (b[i] != ':') {
		if (i == s && OWS(b[i]))
			return "obsolete line folding";
		if (OWS(b[i]))
			return "whitespace before colon";
		return "invalid field name";
	}
	if (i == s)
		return "empty field name";
	*name = span(s, i - s);
	i++;
	while (OWS(b[i]))
		i++;
	v = i;
	while (e > v && OWS(b[e - 1]))
		e--;
	*value = span(v, e - v);
	return NULL;
}

/* %XX escapes in b[s..e) are valid, and not %00 when nonul */
static int
check_pct(const unsigned char *b, size_t s, size_t e, int nonul)
{
	const unsigned char *q;

	while (s < e && (q = memchr(b + s, '%', e - s)) != NULL) {
		s = (size_t)(q - b);
		if (e - s < 3 || !(cls[b[s + 1]] & C_HEX) ||
				!(cls[b[s + 2]] & C_HEX))
			return -1;
		if (nonul && b[s + 1] == '0' && b[s + 2] == '0')
			return -1;
		s += 3;
	}
	return 0;
}

/*
 * uri-host [ ":" port ] at b[s..e): an IP-literal of hex digits, ':' and
 * '.' in brackets, or a reg-name; with need_port a non-empty host and a
 * port are required (CONNECT).  Returns 0 or -1.
 */
static int
check_host(const unsigned char *b, size_t s, size_t e, int need_port)
{
	size_t i = s, h, port;

	if (i < e && b[i] == '[') {
		i++;
		while (i < e && ((cls[b[i]] & C_HEX) || b[i] == ':' ||
				b[i] == '.'))
			i++;
		if (i == e || b[i] != ']' || i == s + 1)
			return -1;
		i++;
	} else {
		while (i < e && (cls[b[i]] & C_HOST))
			i++;
		if (check_pct(b, s, i, 1) < 0)
			return -1;
	}
	h = i - s;
	if (i < e) {
		if (b[i] != ':')
			return -1;
		port = ++i;
		while (i < e && (cls[b[i]] & C_DIGIT))
			i++;
		if (i != e || (need_port && i == port))
			return -1;
	} else if (need_port) {
		return -1;
	}
	return need_port && h == 0 ? -1 : 0;
}

/*
 * The next element of the comma-separated list in b[*i..e), without its
 * OWS, skipping empty ones (RFC 9110 5.6.1).  Returns 0 at the end.
 */
static int
list_next(const unsigned char *b, size_t *i, size_t e, size_t *s, size_t *n)
{
	size_t j = *i, k;

	while (j < e && (b[j] == ',' || OWS(b[j])))
		j++;
	if (j == e) {
		*i = j;
		return 0;
	}
	k = j;
	while (j < e && b[j] != ',')
		j++;
	*i = j;
	while (j > k && OWS(b[j - 1]))
		j--;
	*s = k;
	*n = j - k;
	return 1;
}

/* a quoted-string at b[i] ('"'), not past e: the index after it, or 0 */
static size_t
skip_quoted(const unsigned char *b, size_t i, size_t e)
{
	for (i++; i < e; i++) {
		if (b[i] == '"')
			return i + 1;
		if (b[i] == '\\') {
			if (++i == e)
				return 0;
		}
		if (!(cls[b[i]] & C_VALUE))
			return 0;
	}
	return 0;
}

/* ------------------------------------------------------------- parser */

enum { S_START, S_FIELDS, S_DONE, S_ERROR };

#define SEEN_CL      0x01
#define SEEN_TE      0x02
#define SEEN_CHUNKED 0x04
#define SEEN_CLOSE   0x08       /* Connection: close */
#define SEEN_KA      0x10       /* Connection: keep-alive */
#define SEEN_EXPECT  0x20       /* Expect: 100-continue */

void
lem_http_parser_init(struct lem_http_parser *p, enum lem_http_type type,
		struct lem_http_header *headers, unsigned int max_headers)
{
	memset(p, 0, sizeof(*p));
	p->max_head = LEM_HTTP_MAX_HEAD;
	p->max_headers = max_headers;
	p->headers = headers;
	p->type = (unsigned char)type;
}

void
lem_http_parser_reset(struct lem_http_parser *p)
{
	struct lem_http_parser set = *p;

	memset(p, 0, sizeof(*p));
	p->max_head = set.max_head;
	p->max_headers = set.max_headers;
	p->headers = set.headers;
	p->type = set.type;
	p->head_response = set.head_response;
	p->connect_response = set.connect_response;
}

/* Every error of a response is 502, the status a gateway would answer. */
static int
fail(struct lem_http_parser *p, unsigned int status, const char *why)
{
	p->state = S_ERROR;
	p->error = p->type == LEM_HTTP_RESPONSE ? 502 : status;
	p->why = why;
	return -1;
}

/* "HTTP/1.0" or "HTTP/1.1" at b (8 bytes are there): 0, or fail */
static int
parse_version(struct lem_http_parser *p, const unsigned char *b)
{
	if (memcmp(b, "HTTP/", 5) != 0 || !IS_DIGIT(b[5]) || b[6] != '.' ||
			!IS_DIGIT(b[7]))
		return fail(p, 400, "invalid HTTP version");
	if (b[5] != '1' || b[7] > '1')
		return fail(p, 505, "HTTP version not supported");
	p->version = (unsigned int)(b[7] - '0');
	return 0;
}

static int
parse_target(struct lem_http_parser *p, const unsigned char *b)
{
	size_t s = p->target.off, e = s + p->target.len, i;
	const unsigned char *q;
	const unsigned char *m = b + p->method.off;

	if (p->method.len == 7 && memcmp(m, "CONNECT", 7) == 0) {
		/* authority-form only */
		if (check_host(b, s, e, 1) < 0)
			return fail(p, 400, "invalid CONNECT target");
		p->path = span(s, 0);
		p->query = span(e, 0);
		return 0;
	}
	if (b[s] == '*' && e == s + 1) {
		if (p->method.len != 7 || memcmp(m, "OPTIONS", 7) != 0)
			return fail(p, 400, "invalid request-target");
		p->path = span(s, 1);
		p->query = span(e, 0);
		return 0;
	}
	if (b[s] != '/') {
		/* absolute-form: scheme ":" hier-part */
		i = s;
		if (!IS_ALPHA(b[i]))
			return fail(p, 400, "invalid request-target");
		while (cls[b[i]] & C_SCHEME)
			i++;
		if (b[i] != ':')
			return fail(p, 400, "invalid request-target");
		i++;
		if (e - i >= 2 && b[i] == '/' && b[i + 1] == '/') {
			size_t a = i + 2;

			for (i = a; i < e && b[i] != '/' && b[i] != '?'; i++)
				;
			if (i == a || check_host(b, a, i, 0) < 0)
				return fail(p, 400, "invalid authority");
		}
		p->flags |= LEM_HTTP_TARGET_ABSOLUTE;
		s = i;
	}
	q = memchr(b + s, '?', e - s);
	if (q != NULL) {
		i = (size_t)(q - b);
		p->path = span(s, i - s);
		p->query = span(i + 1, e - i - 1);
	} else {
		p->path = span(s, e - s);
		p->query = span(e, 0);
	}
	s = p->path.off;
	e = s + p->path.len;
	if (memchr(b + s, '%', e - s) != NULL) {
		if (check_pct(b, s, e, 1) < 0)
			return fail(p, 400, "invalid percent-encoding in path");
		p->flags |= LEM_HTTP_PATH_ENCODED;
	}
	return 0;
}

/* method SP request-target SP HTTP-version, at b[s..e) */
static int
parse_request_line(struct lem_http_parser *p, const unsigned char *b,
		size_t s, size_t e)
{
	size_t i = s, t;

	while (cls[b[i]] & C_TOKEN)
		i++;
	if (i == s || b[i] != ' ')
		return fail(p, 400, "invalid method");
	p->method = span(s, i - s);
	t = ++i;
	while (cls[b[i]] & C_TARGET)
		i++;
	if (i == t || b[i] != ' ')
		return fail(p, 400, "invalid request-target");
	p->target = span(t, i - t);
	i++;
	if (e - i != 8)
		return fail(p, 400, "invalid HTTP version");
	if (parse_version(p, b + i) < 0)
		return -1;
	return parse_target(p, b);
}

/* HTTP-version SP status-code [ SP reason-phrase ], at b[s..e) */
static int
parse_status_line(struct lem_http_parser *p, const unsigned char *b,
		size_t s, size_t e)
{
	size_t i;

	if (e - s < 12 || b[s + 8] != ' ' || !IS_DIGIT(b[s + 9]) ||
			!IS_DIGIT(b[s + 10]) || !IS_DIGIT(b[s + 11]) ||
			(e - s > 12 && b[s + 12] != ' '))
		return fail(p, 400, "invalid status line");
	if (parse_version(p, b + s) < 0)
		return -1;
	p->status = (unsigned int)(b[s + 9] - '0') * 100 +
		(unsigned int)(b[s + 10] - '0') * 10 +
		(unsigned int)(b[s + 11] - '0');
	if (p->status < 100 || p->status > 599)
		return fail(p, 400, "invalid status code");
	i = e - s > 12 ? s + 13 : e;
	p->reason = span(i, e - i);     /* of C_VALUE, as the line is */
	return 0;
}

static int
field_content_length(struct lem_http_parser *p, const unsigned char *b,
		size_t i, size_t e)
{
	uint64_t v;
	unsigned int d;

	for (;;) {
		if (i == e || !IS_DIGIT(b[i]))
			return fail(p, 400, "invalid Content-Length");
		v = 0;
		while (i < e && IS_DIGIT(b[i])) {
			d = (unsigned int)(b[i++] - '0');
			if (v > (UINT64_C(0x7fffffffffffffff) - d) / 10)
				return fail(p, 400, "Content-Length too large");
			v = v * 10 + d;
		}
		if (!(p->seen & SEEN_CL)) {
			p->content_length = v;
			p->seen |= SEEN_CL;
		} else if (v != p->content_length) {
			return fail(p, 400, "conflicting Content-Length");
		}
		/* a list of identical values is one value (RFC 9110 8.6) */
		while (i < e && OWS(b[i]))
			i++;
		if (i == e)
			return 0;
		if (b[i++] != ',')
			return fail(p, 400, "invalid Content-Length");
		while (i < e && OWS(b[i]))
			i++;
	}
}

/*
 * The parameters of a transfer-coding from b[i], *( OWS ";" OWS token
 * BWS "=" BWS ( token / quoted-string ) ): the index after them, or 0
 * if they are invalid.
 */
static size_t
skip_params(const unsigned char *b, size_t i, size_t e)
{
	size_t j, k;

	for (;;) {
		for (j = i; j < e && OWS(b[j]); j++)
			;
		if (j == e || b[j] != ';')
			return i;
		for (j++; j < e && OWS(b[j]); j++)
			;
		for (k = j; j < e && (cls[b[j]] & C_TOKEN); j++)
			;
		if (j == k)
			return 0;
		while (j < e && OWS(b[j]))
			j++;
		if (j == e || b[j] != '=')
			return 0;
		for (j++; j < e && OWS(b[j]); j++)
			;
		if (j < e && b[j] == '"') {
			j = skip_quoted(b, j, e);
			if (j == 0)
				return 0;
		} else {
			for (k = j; j < e && (cls[b[j]] & C_TOKEN); j++)
				;
			if (j == k)
				return 0;
		}
		i = j;
	}
}

/*
 * Transfer-Encoding: a list of transfer-codings (token and parameters);
 * across field lines the codings add up.  What they mean is decided once
 * the head is complete.
 */
static int
field_transfer_encoding(struct lem_http_parser *p, const unsigned char *b,
		size_t i, size_t e)
{
	size_t k, j;
	int any = 0, chunked;

	for (;;) {
		while (i < e && (b[i] == ',' || OWS(b[i])))
			i++;
		if (i == e)
			break;
		for (k = i; i < e && (cls[b[i]] & C_TOKEN); i++)
			;
		if (i == k)
			return fail(p, 400, "invalid Transfer-Encoding");
		chunked = eq_lower(b + k, i - k, "chunked");
		j = skip_params(b, i, e);
		if (j == 0 || (chunked && j != i))     /* chunked takes none */
			return fail(p, 400, "invalid Transfer-Encoding");
		for (i = j; i < e && OWS(b[i]); i++)
			;
		if (i < e && b[i] != ',')
			return fail(p, 400, "invalid Transfer-Encoding");
		if (chunked && (p->seen & SEEN_CHUNKED))
			return fail(p, 400, "chunked applied twice");
		if (chunked)
			p->seen |= SEEN_CHUNKED;
		if (p->te_codings < 255)
			p->te_codings++;
		p->te_last_chunked = (unsigned char)chunked;
		any = 1;
	}
	if (!any)
		return fail(p, 400, "empty Transfer-Encoding");
	p->seen |= SEEN_TE;
	return 0;
}

/* the field semantics lem needs, by name */
static int
field_meaning(struct lem_http_parser *p, const unsigned char *b,
		const struct lem_http_header *h)
{
	const unsigned char *n = b + h->name.off;
	size_t i = h->value.off, e = i + h->value.len, s, len;

	switch (h->name.len) {
	case 4:
		if (p->type != LEM_HTTP_REQUEST || !eq_lower(n, 4, "host"))
			break;
		if (p->flags & LEM_HTTP_HAS_HOST)
			return fail(p, 400, "more than one Host");
		if (check_host(b, i, e, 0) < 0)
			return fail(p, 400, "invalid Host");
		p->flags |= LEM_HTTP_HAS_HOST;
		break;
	case 6:
		if (p->type != LEM_HTTP_REQUEST || !eq_lower(n, 6, "expect"))
			break;
		while (list_next(b, &i, e, &s, &len)) {
			if (eq_lower(b + s, len, "100-continue"))
				p->seen |= SEEN_EXPECT;
		}
		break;
	case 7:
		if (!eq_lower(n, 7, "upgrade"))
			break;
		while (list_next(b, &i, e, &s, &len)) {
			const unsigned char *sl = memchr(b + s, '/', len);

			if (sl != NULL)
				len = (size_t)(sl - (b + s));
			if (eq_lower(b + s, len, "websocket"))
				p->flags |= LEM_HTTP_UPGRADE_WS;
		}
		break;
	case 10:
		if (!eq_lower(n, 10, "connection"))
			break;
		while (list_next(b, &i, e, &s, &len)) {
			if (eq_lower(b + s, len, "close"))
				p->seen |= SEEN_CLOSE;
			else if (eq_lower(b + s, len, "keep-alive"))
				p->seen |= SEEN_KA;
			else if (eq_lower(b + s, len, "upgrade"))
				p->flags |= LEM_HTTP_CONN_UPGRADE;
		}
		break;
	case 14:
		if (eq_lower(n, 14, "content-length"))
			return field_content_length(p, b, i, e);
		break;
	case 17:
		if (eq_lower(n, 17, "transfer-encoding"))
			return field_transfer_encoding(p, b, i, e);
		break;
	}
	return 0;
}

/* the head is complete: message framing (RFC 9112 6.3), keep-alive */
static int
head_done(struct lem_http_parser *p)
{
	unsigned int st = p->status;

	if (p->seen & SEEN_TE) {
		if (p->version == 0)
			return fail(p, 400, "Transfer-Encoding in HTTP/1.0");
		if (p->seen & SEEN_CL)
			return fail(p, 400,
				"both Content-Length and Transfer-Encoding");
		if (!p->te_last_chunked)
			return fail(p, 400, "last transfer coding not chunked");
		if (p->te_codings > 1)
			return fail(p, 501, "unsupported transfer coding");
	}
	if (p->type == LEM_HTTP_REQUEST) {
		if (p->version == 1 && !(p->flags & LEM_HTTP_HAS_HOST))
			return fail(p, 400, "missing Host");
		if (p->version == 1 && (p->seen & SEEN_EXPECT))
			p->flags |= LEM_HTTP_EXPECT_CONTINUE;
		if (p->seen & SEEN_TE)
			p->body = LEM_HTTP_BODY_CHUNKED;
		else if (p->seen & SEEN_CL)
			p->body = LEM_HTTP_BODY_LENGTH;
		else
			p->body = LEM_HTTP_BODY_NONE;
	} else if (p->head_response || st < 200 || st == 204 || st == 304 ||
			(p->connect_response && st < 300)) {
		p->body = LEM_HTTP_BODY_NONE;
	} else if (p->seen & SEEN_TE) {
		p->body = LEM_HTTP_BODY_CHUNKED;
	} else if (p->seen & SEEN_CL) {
		p->body = LEM_HTTP_BODY_LENGTH;
	} else {
		p->body = LEM_HTTP_BODY_CLOSE;
	}
	if (!(p->seen & SEEN_CLOSE) && (p->version == 1 ||
			(p->seen & SEEN_KA)) && p->body != LEM_HTTP_BODY_CLOSE)
		p->flags |= LEM_HTTP_KEEP_ALIVE;
	return 0;
}

/* one complete line, content b[s..e): 0 for the next, 1 at the end, -1 */
static int
parse_line(struct lem_http_parser *p, const unsigned char *b, size_t s,
		size_t e)
{
	struct lem_http_header h, *hp;
	const char *why;

	if (p->state == S_START) {
		if (e == s) {
			if (p->type == LEM_HTTP_REQUEST)
				return 0;       /* an empty line before */
			return fail(p, 400, "invalid status line");
		}
		p->state = S_FIELDS;
		if (p->type == LEM_HTTP_REQUEST)
			return parse_request_line(p, b, s, e);
		return parse_status_line(p, b, s, e);
	}
	if (e == s)
		return head_done(p) < 0 ? -1 : 1;
	why = field_split(b, s, e, &h.name, &h.value);
	if (why != NULL)
		return fail(p, 400, why);
	if (p->nheaders >= p->max_headers)
		return fail(p, 431, "too many header fields");
	if (p->headers != NULL) {
		hp = &p->headers[p->nheaders];
		*hp = h;
	}
	p->nheaders++;
	return field_meaning(p, b, &h);
}

int
lem_http_parse(struct lem_http_parser *p, const char *buf, size_t len)
{
	const unsigned char *b = (const unsigned char *)buf;
	const char *why = NULL;
	size_t lim, pos, from, e, lf;
	int r;

	if (p->state == S_DONE)
		return (int)p->headlen;
	if (p->state == S_ERROR)
		return -1;
	if (p->max_head > LEM_HTTP_MAX_HEAD_LIMIT)
		p->max_head = LEM_HTTP_MAX_HEAD_LIMIT;
	lim = len < p->max_head ? len : p->max_head;
	pos = p->pos;
	from = p->scan > pos ? p->scan : pos;
	for (;;) {
		r = line_end(b, &from, lim, &e, &lf, &why);
		if (r == LINE_MORE)
			break;
		if (r == LINE_BAD) {
			p->pos = (uint32_t)pos;         /* for diagnostics */
			return fail(p, 400, why);
		}
		r = parse_line(p, b, pos, e);
		if (r < 0) {
			p->pos = (uint32_t)pos;
			return -1;
		}
		pos = from = lf + 1;
		if (r > 0) {
			p->state = S_DONE;
			p->headlen = (uint32_t)pos;
			p->pos = (uint32_t)pos;
			return (int)pos;
		}
	}
	p->pos = (uint32_t)pos;
	p->scan = (uint32_t)from;
	if (len >= p->max_head) {
		/* the head does not fit */
		if (p->state == S_START && p->type == LEM_HTTP_REQUEST)
			return fail(p, 414, "request line too long");
		return fail(p, 431, "header section too large");
	}
	return 0;
}

long
lem_http_pct_decode(char *dst, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0;
	unsigned char c;

	while (i < len) {
		c = s[i];
		if (c == '%') {
			if (len - i < 3 || !(cls[s[i + 1]] & C_HEX) ||
					!(cls[s[i + 2]] & C_HEX))
				return -1;
			c = (unsigned char)(HEXVAL(s[i + 1]) << 4 |
				HEXVAL(s[i + 2]));
			if (c == 0)
				return -1;
			i += 3;
		} else {
			i++;
		}
		dst[o++] = (char)c;
	}
	return (long)o;
}

/* ---------------------------------------------------- chunked decoder */

enum { K_SIZE, K_DATA, K_DATA_CRLF, K_TRAILER, K_DONE, K_ERROR };

void
lem_http_chunked_init(struct lem_http_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->max_trailer = LEM_HTTP_MAX_TRAILER;
}

static int
chunk_fail(struct lem_http_chunked *c, size_t consumed, const char *why)
{
	c->state = K_ERROR;
	c->consumed = consumed;
	c->why = why;
	return LEM_HTTP_CHUNK_ERROR;
}

/*
 * chunk-size [ chunk-ext ] at b[s..e), where b[e] is the CR;
 * chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ).
 * Returns NULL or why it is invalid.  Extensions are skipped.
 */
static const char *
chunk_size_line(struct lem_http_chunked *c, const unsigned char *b,
		size_t s, size_t e)
{
	uint64_t v = 0;
	size_t i = s, j, k;

	if (!(cls[b[i]] & C_HEX))
		return "invalid chunk size";
	while (cls[b[i]] & C_HEX) {
		if (v >> 59)    /* one more digit would pass 2^63 */
			return "chunk size too large";
		v = v << 4 | (uint64_t)HEXVAL(b[i]);
		i++;
	}
	while (i < e) {
		while (OWS(b[i]))
			i++;
		if (b[i] != ';')
			return "invalid chunk extension";
		for (i++; OWS(b[i]); i++)
			;
		for (k = i; cls[b[i]] & C_TOKEN; i++)
			;
		if (i == k)
			return "invalid chunk extension";
		for (j = i; OWS(b[j]); j++)
			;
		if (b[j] != '=')
			continue;
		for (i = j + 1; OWS(b[i]); i++)
			;
		if (b[i] == '"') {
			i = skip_quoted(b, i, e);
			if (i == 0)
				return "invalid chunk extension";
		} else {
			for (k = i; cls[b[i]] & C_TOKEN; i++)
				;
			if (i == k)
				return "invalid chunk extension";
		}
	}
	c->remaining = v;
	c->state = v ? K_DATA : K_TRAILER;
	return NULL;
}

int
lem_http_chunked_parse(struct lem_http_chunked *c, const char *buf,
		size_t len)
{
	const unsigned char *b = (const unsigned char *)buf;
	const char *why = NULL;
	size_t pos = 0, n, window, lim, from, e, lf;
	int k;

	c->consumed = 0;
	for (;;) {
		switch (c->state) {
		case K_DATA:
			if (pos == len)
				goto more;
			n = len - pos;
			if (n > c->remaining)
				n = (size_t)c->remaining;
			c->data_off = pos;
			c->data_len = n;
			c->remaining -= n;
			if (c->remaining == 0)
				c->state = K_DATA_CRLF;
			c->consumed = pos + n;
			return LEM_HTTP_CHUNK_DATA;
		case K_DATA_CRLF:
			if (len - pos < 2) {
				if (len > pos && b[pos] != '\r')
					return chunk_fail(c, pos,
						"no CRLF after chunk data");
				goto more;
			}
			if (b[pos] != '\r' || b[pos + 1] != '\n')
				return chunk_fail(c, pos,
					"no CRLF after chunk data");
			pos += 2;
			c->state = K_SIZE;
			c->scan = 0;
			break;
		case K_SIZE:
		case K_TRAILER:
			if (c->state == K_SIZE)
				window = LEM_HTTP_CHUNK_LINE_MAX;
			else if (c->max_trailer - c->trailer > 2)
				window = c->max_trailer - c->trailer;
			else
				window = 2;     /* room for the final CRLF */
			lim = len - pos < window ? len : pos + window;
			from = pos + c->scan;
			k = line_end(b, &from, lim, &e, &lf, &why);
			if (k == LINE_BAD)
				return chunk_fail(c, pos, why);
			if (k == LINE_MORE) {
				if (len - pos >= window)
					return chunk_fail(c, pos,
						c->state == K_SIZE ?
						"chunk-size line too long" :
						"trailer section too large");
				c->scan = (uint32_t)(from - pos);
				goto more;
			}
			c->scan = 0;
			if (e == lf)
				return chunk_fail(c, pos,
					"bare LF in chunked body");
			if (c->state == K_SIZE) {
				why = chunk_size_line(c, b, pos, e);
				if (why != NULL)
					return chunk_fail(c, pos, why);
				pos = lf + 1;
				break;
			}
			if (e == pos) {
				c->state = K_DONE;
				c->consumed = lf + 1;
				return LEM_HTTP_CHUNK_DONE;
			}
			why = field_split(b, pos, e, &c->name, &c->value);
			if (why != NULL)
				return chunk_fail(c, pos, why);
			if (lf + 1 - pos > c->max_trailer - c->trailer)
				return chunk_fail(c, pos,
					"trailer section too large");
			c->trailer += (uint32_t)(lf + 1 - pos);
			c->consumed = lf + 1;
			return LEM_HTTP_CHUNK_TRAILER;
		case K_DONE:
			return LEM_HTTP_CHUNK_DONE;
		default:
			return LEM_HTTP_CHUNK_ERROR;
		}
	}
more:
	c->consumed = pos;
	return LEM_HTTP_CHUNK_MORE;
}

/* ------------------------------------------------------------ Date */

static char *
put2(char *d, int v)
{
	d[0] = (char)('0' + v / 10 % 10);
	d[1] = (char)('0' + v % 10);
	return d + 2;
}

const char *
lem_http_date(time_t t)
{
	static const char days[] = "SunMonTueWedThuFriSat";
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	static char date[32];
	static time_t cached;
	static int valid;
	struct tm tm;
	char *d = date;
	int year;

	if (valid && t == cached)
		return date;
	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	year = tm.tm_year + 1900;
	if (year < 0 || year > 9999)    /* four digits, whatever happens */
		year = year < 0 ? 0 : 9999;
	memcpy(d, days + 3 * (tm.tm_wday % 7), 3);
	d += 3;
	*d++ = ',';
	*d++ = ' ';
	d = put2(d, tm.tm_mday);
	*d++ = ' ';
	memcpy(d, months + 3 * (tm.tm_mon % 12), 3);
	d += 3;
	*d++ = ' ';
	d = put2(d, year / 100);
	d = put2(d, year % 100);
	*d++ = ' ';
	d = put2(d, tm.tm_hour);
	*d++ = ':';
	d = put2(d, tm.tm_min);
	*d++ = ':';
	d = put2(d, tm.tm_sec);
	memcpy(d, " GMT", 5);
	cached = t;
	valid = 1;
	return date;
}
