/*
 * parser.h - lem's HTTP/1.1 message-head parser and chunked decoder
 * (RFC 9112), plain C (no Lua, no libev, no allocation).
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * The caller owns the bytes.  It keeps what has arrived of a message in
 * one buffer (which may move between calls: only offsets are kept) and
 * calls lem_http_parse() with all of it after each arrival.  The parser
 * never reads past the length it is given, remembers how far it got,
 * and reports the message head as offsets and lengths into the buffer.
 *
 *	struct lem_http_header hdrs[LEM_HTTP_MAX_HEADERS];
 *	struct lem_http_parser p;
 *	int n;
 *
 *	lem_http_parser_init(&p, LEM_HTTP_REQUEST, hdrs, LEM_HTTP_MAX_HEADERS);
 *	while ((n = lem_http_parse(&p, buf, len)) == 0)
 *		... read more, append to buf, len += ...;
 *	if (n < 0)
 *		... answer p.error (400, 414, 431, 501, 505) with p.why, close;
 *	... the head is buf[0..n), the body (p.body, p.content_length)
 *	... starts at buf + n; lem_http_parser_reset(&p) before the next
 *	... message, which the caller passes from its own first byte.
 */
#ifndef LEM_HTTP_PARSER_H
#define LEM_HTTP_PARSER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define LEM_HTTP_MAX_HEAD        16384  /* default limit of a head, bytes */
#define LEM_HTTP_MAX_HEADERS     100    /* default limit of field lines */
#define LEM_HTTP_MAX_HEAD_LIMIT  (1u << 30)     /* largest max_head */
#define LEM_HTTP_CHUNK_LINE_MAX  4096   /* a chunk-size line, extensions */
#define LEM_HTTP_MAX_TRAILER     16384  /* default limit of trailers */

/* bytes at buf + off; offsets are relative to the buffer passed in */
struct lem_http_span {
	uint32_t off;
	uint32_t len;
};

struct lem_http_header {
	struct lem_http_span name;      /* a token, in the case it came in */
	struct lem_http_span value;     /* without leading/trailing OWS */
};

enum lem_http_type {
	LEM_HTTP_REQUEST,               /* server side: a request line */
	LEM_HTTP_RESPONSE               /* client side: a status line */
};

enum lem_http_body {
	LEM_HTTP_BODY_NONE,             /* no body at all */
	LEM_HTTP_BODY_LENGTH,           /* content_length bytes (maybe 0) */
	LEM_HTTP_BODY_CHUNKED,          /* use lem_http_chunked_parse */
	LEM_HTTP_BODY_CLOSE             /* responses: until the peer closes */
};

/* flags */
#define LEM_HTTP_KEEP_ALIVE      0x01   /* the connection may be reused */
#define LEM_HTTP_EXPECT_CONTINUE 0x02   /* Expect: 100-continue (1.1) */
#define LEM_HTTP_UPGRADE_WS      0x04   /* Upgrade lists websocket */
#define LEM_HTTP_CONN_UPGRADE    0x08   /* Connection lists upgrade */
#define LEM_HTTP_PATH_ENCODED    0x10   /* path holds %XX: decode it */
#define LEM_HTTP_HAS_HOST        0x20   /* a Host field line is present */
#define LEM_HTTP_TARGET_ABSOLUTE 0x40   /* absolute-form (proxy) target */

struct lem_http_parser {
	/* settings: lem_http_parser_init() sets them, the caller may change
	 * them before the first lem_http_parse() */
	uint32_t max_head;              /* bytes, <= LEM_HTTP_MAX_HEAD_LIMIT */
	uint32_t max_headers;           /* field lines (room in headers) */
	struct lem_http_header *headers;        /* NULL: count, keep none */
	unsigned char type;             /* enum lem_http_type */
	unsigned char head_response;    /* response: the request was HEAD */
	unsigned char connect_response; /* response: the request was CONNECT */

	/* the result, valid once lem_http_parse() returned > 0 */
	struct lem_http_span method;    /* request */
	struct lem_http_span target;    /* request, raw */
	struct lem_http_span path;      /* request: target up to '?' (in
					 * absolute-form: after the authority;
					 * may be empty there), still %-encoded
					 * when LEM_HTTP_PATH_ENCODED */
	struct lem_http_span query;     /* request: after '?', raw */
	struct lem_http_span reason;    /* response: the reason phrase */
	unsigned int status;            /* response: 100..599 */
	unsigned int version;           /* the minor digit: 0 or 1 */
	unsigned int nheaders;          /* field lines in headers[] */
	unsigned int flags;             /* LEM_HTTP_* above */
	unsigned int body;              /* enum lem_http_body */
	uint64_t content_length;        /* for LEM_HTTP_BODY_LENGTH */

	/* after lem_http_parse() returned < 0: the status to answer (400,
	 * 414, 431, 501, 505; for a response always 502) and a short
	 * reason, a static string */
	unsigned int error;
	const char *why;

	/* private: where to resume */
	uint32_t pos;                   /* start of the first unparsed line
					 * (after an error: of the line
					 * refused, for diagnostics) */
	uint32_t scan;                  /* no '\n' in [pos, scan) */
	uint32_t headlen;               /* the result once done */
	unsigned char state;
	unsigned char seen;             /* the framing fields met so far */
	unsigned char te_codings;       /* Transfer-Encoding: codings seen */
	unsigned char te_last_chunked;  /* ... and the last was chunked */
};

/*
 * Set up p to parse one message of the given type, with the default
 * limits, storing up to max_headers field lines in headers.
 */
void lem_http_parser_init(struct lem_http_parser *p, enum lem_http_type type,
		struct lem_http_header *headers, unsigned int max_headers);

/* Forget the message parsed (or begun): the settings stay. */
void lem_http_parser_reset(struct lem_http_parser *p);

/*
 * Parse the head at buf[0..len), all that has arrived of the message so
 * far (the same bytes as before, plus the new ones).  Returns the length
 * of the head (through the empty line) once it is complete and valid,
 * 0 if more bytes are needed, or -1 with p->error and p->why set.  Once
 * it has returned non-zero it returns the same again.  The result does
 * not depend on how the bytes were split across calls (only p->why may:
 * a control character is refused as soon as it arrives).
 */
int lem_http_parse(struct lem_http_parser *p, const char *buf, size_t len);

/*
 * Percent-decode len bytes at src into dst (which may be src: the result
 * is never longer).  Returns the decoded length, or -1 for an invalid
 * escape or %00.  A path that lem_http_parse() accepted always decodes.
 */
long lem_http_pct_decode(char *dst, const char *src, size_t len);

/*
 * The chunked decoder, for the body of a message whose head said
 * LEM_HTTP_BODY_CHUNKED.  Each call looks at the bytes of the body not
 * consumed yet, buf[0..len), and reports one event:
 *   LEM_HTTP_CHUNK_DATA     body bytes at buf + data_off, data_len long;
 *   LEM_HTTP_CHUNK_TRAILER  a trailer field, name and value spans in buf
 *                           (checked like header fields; keep or drop);
 *   LEM_HTTP_CHUNK_DONE     the body ended (the last chunk, the trailers
 *                           and the final CRLF are consumed);
 *   LEM_HTTP_CHUNK_MORE     more bytes are needed;
 *   LEM_HTTP_CHUNK_ERROR    invalid framing: why says what (answer 400).
 * Always, consumed says how many bytes of buf are used up (including a
 * data span); the next call gets the bytes after those.  What follows
 * DONE is the next message.  Chunk-size lines and trailers must end in
 * CRLF: a bare LF is refused here (see parser.c).
 */
enum lem_http_chunk_event {
	LEM_HTTP_CHUNK_ERROR = -1,
	LEM_HTTP_CHUNK_MORE,
	LEM_HTTP_CHUNK_DATA,
	LEM_HTTP_CHUNK_TRAILER,
	LEM_HTTP_CHUNK_DONE
};

struct lem_http_chunked {
	/* setting */
	uint32_t max_trailer;           /* bytes of trailer fields */

	/* the last event */
	size_t consumed;
	size_t data_off, data_len;      /* LEM_HTTP_CHUNK_DATA */
	struct lem_http_span name, value;       /* LEM_HTTP_CHUNK_TRAILER */
	const char *why;                /* LEM_HTTP_CHUNK_ERROR */

	/* private */
	uint64_t remaining;             /* bytes left in this chunk */
	uint32_t scan;                  /* no '\n' in the first scan bytes */
	uint32_t trailer;               /* trailer bytes so far */
	unsigned char state;
};

void lem_http_chunked_init(struct lem_http_chunked *c);
int lem_http_chunked_parse(struct lem_http_chunked *c, const char *buf,
		size_t len);

/*
 * The IMF-fixdate of t ("Sun, 06 Nov 1994 08:49:37 GMT", 29 characters)
 * for the Date field, formatted at most once per second: the string is
 * static and changes with t.
 */
const char *lem_http_date(time_t t);

#endif /* LEM_HTTP_PARSER_H */
