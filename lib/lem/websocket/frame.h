/*
 * frame.h - the RFC 6455 pieces of lem.websocket as plain C functions
 * (no Lua, no libev, no allocation): frame headers, masking, UTF-8
 * validation, close payloads and the handshake's accept key.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#ifndef LEM_WEBSOCKET_FRAME_H
#define LEM_WEBSOCKET_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum lem_ws_opcode {
	LEM_WS_CONTINUATION = 0x0,
	LEM_WS_TEXT = 0x1,
	LEM_WS_BINARY = 0x2,
	LEM_WS_CLOSE = 0x8,
	LEM_WS_PING = 0x9,
	LEM_WS_PONG = 0xa
};

#define LEM_WS_FIN         0x80 /* bits of a frame's first byte */
#define LEM_WS_RSV1        0x40
#define LEM_WS_RSV2        0x20
#define LEM_WS_RSV3        0x10
#define LEM_WS_SERVER      0x01 /* flags: we are the server */
#define LEM_WS_HEADER_MAX  14   /* bytes of the longest frame header */
#define LEM_WS_CONTROL_MAX 125  /* payload of a control frame */

struct lem_ws_frame {
	uint64_t len;                   /* payload length, < 2^63 */
	unsigned char fin;              /* 1 on the last frame of a message */
	unsigned char rsv;              /* its LEM_WS_RSV* bits */
	unsigned char opcode;           /* enum lem_ws_opcode */
	unsigned char masked;
	unsigned char mask[4];          /* the masking key when masked */
	unsigned char hlen;             /* header bytes (once known) */
	const char *why;                /* after a protocol error */
};

/*
 * Parse the frame header at buf[0..len).  flags: LEM_WS_SERVER when
 * frames come from a client (they must be masked; a client's must not
 * be), ORed with the RSV bits an extension has negotiated (none may be
 * set otherwise).  Returns the header length (2..14) when complete and
 * valid, 0 when more bytes are needed (f->hlen says how many once two
 * are there), or -1 for a protocol error (close with 1002; f->why).
 * Checked: RSV bits, known opcodes, control frames final and at most 125
 * bytes, the masking rule, the shortest length encoding, length < 2^63.
 */
int lem_ws_frame_parse(struct lem_ws_frame *f, const unsigned char *buf,
		size_t len, unsigned int flags);

/*
 * Where a frame stands in its message: *message is 0 between messages
 * and the opcode of the fragmented message in progress otherwise (start
 * it at 0).  Returns the opcode of the message the frame belongs to (a
 * control frame is its own), or -1 with f->why: a continuation outside
 * a message, or a new data frame inside one.
 */
int lem_ws_frame_sequence(unsigned char *message, struct lem_ws_frame *f);

/*
 * Write a frame header to dst (room for LEM_WS_HEADER_MAX bytes): first
 * is the first byte (LEM_WS_FIN | opcode, maybe RSV bits), mask the
 * masking key or NULL (a client must mask, a server must not).  Returns
 * the header length.
 */
size_t lem_ws_frame_encode(unsigned char *dst, unsigned int first,
		uint64_t len, const unsigned char *mask);

/*
 * Mask or unmask len bytes from src to dst (which may be src) with key;
 * offset is the position of src[0] in the payload, so that a payload can
 * be done in pieces.  Eight bytes at a time.
 */
void lem_ws_mask(unsigned char *dst, const unsigned char *src, size_t len,
		const unsigned char key[4], uint64_t offset);

/*
 * Incremental UTF-8 validation (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), across fragments: feed the
 * payload in any pieces.  lem_utf8_check returns 0 while valid so far,
 * -1 at the first invalid byte (and from then on); lem_utf8_done is 1
 * when the bytes so far end on a character boundary.
 */
struct lem_utf8 {
	unsigned char need;             /* continuation bytes to come */
	unsigned char lo, hi;           /* bounds of the next one */
};

#define LEM_UTF8_INIT { 0, 0x80, 0xbf }

int lem_utf8_check(struct lem_utf8 *u, const unsigned char *s, size_t len);
int lem_utf8_done(const struct lem_utf8 *u);

/*
 * A close frame's payload: empty, or a status code and a UTF-8 reason.
 * Returns 0 with *code (1005, "no status", when empty), or the code to
 * close with: 1002 for a bad length or a code one may not send, 1007
 * for a reason that is not UTF-8.
 */
int lem_ws_close_check(const unsigned char *payload, size_t len,
		unsigned int *code);

/*
 * 1 if code may be sent in a close frame: 1000-1003 and 1007-1011
 * (RFC 6455 7.4.1), 1012-1014 (registered with IANA since), 3000-4999
 * (libraries, applications).  1004-1006, 1015 and the rest are refused.
 */
int lem_ws_close_code_valid(unsigned int code);

/* SHA-1 (FIPS 180-4), for the accept key only */
struct lem_sha1 {
	uint32_t h[5];
	uint64_t len;                   /* bytes so far */
	unsigned char buf[64];
};

void lem_sha1_init(struct lem_sha1 *c);
void lem_sha1_update(struct lem_sha1 *c, const void *data, size_t len);
void lem_sha1_final(struct lem_sha1 *c, unsigned char out[20]);

/* base64 of len bytes into dst (4 * ceil(len / 3) + 1 bytes, with NUL);
 * returns the length without the NUL */
size_t lem_base64_encode(char *dst, const unsigned char *src, size_t len);

/* 1 if a Sec-WebSocket-Key is the base64 of 16 bytes (24 characters) */
int lem_ws_key_valid(const char *key, size_t len);

/* Sec-WebSocket-Accept for key: base64(SHA-1(key GUID)), 28 characters
 * and a NUL */
void lem_ws_accept(char out[29], const char *key, size_t len);

#endif /* LEM_WEBSOCKET_FRAME_H */
