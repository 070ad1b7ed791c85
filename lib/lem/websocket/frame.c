/*
 * frame.c - the RFC 6455 pieces of lem.websocket (see frame.h).
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * Extensions are not known here: flags say which RSV bits one has
 * negotiated, and what an extension forbids beyond that (RSV1 on a
 * control or continuation frame for permessage-deflate) is its own check.
 */
#include <string.h>

#include "frame.h"

/* -------------------------------------------------------------- frames */

static int
frame_fail(struct lem_ws_frame *f, const char *why)
{
	f->why = why;
	return -1;
}

int
lem_ws_frame_parse(struct lem_ws_frame *f, const unsigned char *b,
		size_t len, unsigned int flags)
{
	unsigned int len7, need, i;
	uint64_t n;

	f->hlen = 0;
	f->why = NULL;
	if (len < 1)
		return 0;
	f->fin = b[0] >> 7;
	f->rsv = b[0] & 0x70;
	f->opcode = b[0] & 0x0f;
	if (f->rsv & ~flags)
		return frame_fail(f, "reserved bit set");
	switch (f->opcode) {
	case LEM_WS_CONTINUATION:
	case LEM_WS_TEXT:
	case LEM_WS_BINARY:
	case LEM_WS_CLOSE:
	case LEM_WS_PING:
	case LEM_WS_PONG:
		break;
	default:
		return frame_fail(f, "unknown opcode");
	}
	if ((f->opcode & 0x08) && !f->fin)
		return frame_fail(f, "fragmented control frame");
	if (len < 2)
		return 0;
	f->masked = b[1] >> 7;
	len7 = b[1] & 0x7f;
	if ((flags & LEM_WS_SERVER) && !f->masked)
		return frame_fail(f, "unmasked frame from a client");
	if (!(flags & LEM_WS_SERVER) && f->masked)
		return frame_fail(f, "masked frame from a server");
	if ((f->opcode & 0x08) && len7 > LEM_WS_CONTROL_MAX)
		return frame_fail(f, "control frame too long");
	need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) +
		(f->masked ? 4 : 0);
	f->hlen = (unsigned char)need;
	if (len7 == 127 && len > 2 && (b[2] & 0x80))
		return frame_fail(f, "frame length of 2^63 or more");
	if (len < need)
		return 0;
	i = 2;
	if (len7 == 126) {
		n = (uint64_t)b[2] << 8 | b[3];
		if (n < 126)
			return frame_fail(f, "frame length not minimal");
		i = 4;
	} else if (len7 == 127) {
		for (n = 0; i < 10; i++)
			n = n << 8 | b[i];
		if (n < 65536)
			return frame_fail(f, "frame length not minimal");
	} else {
		n = len7;
	}
	if (f->masked)
		memcpy(f->mask, b + i, 4);
	else
		memset(f->mask, 0, 4);
	f->len = n;
	return (int)need;
}

int
lem_ws_frame_sequence(unsigned char *message, struct lem_ws_frame *f)
{
	if (f->opcode & 0x08)
		return f->opcode;       /* control frames come in between */
	if (f->opcode == LEM_WS_CONTINUATION) {
		if (*message == 0) {
			f->why = "continuation outside a message";
			return -1;
		}
		if (f->fin) {
			unsigned char op = *message;

			*message = 0;
			return op;
		}
		return *message;
	}
	if (*message != 0) {
		f->why = "new message inside a fragmented one";
		return -1;
	}
	if (!f->fin)
		*message = f->opcode;
	return f->opcode;
}

size_t
lem_ws_frame_encode(unsigned char *d, unsigned int first, uint64_t len,
		const unsigned char *mask)
{
	unsigned char m = mask != NULL ? 0x80 : 0;
	size_t i = 2;
	int k;

	d[0] = (unsigned char)first;
	if (len < 126) {
		d[1] = (unsigned char)(m | len);
	} else if (len < 65536) {
		d[1] = m | 126;
		d[2] = (unsigned char)(len >> 8);
		d[3] = (unsigned char)len;
		i = 4;
	} else {
		d[1] = m | 127;
		for (k = 0; k < 8; k++)
			d[2 + k] = (unsigned char)(len >> (56 - 8 * k));
		i = 10;
	}
	if (mask != NULL) {
		memcpy(d + i, mask, 4);
		i += 4;
	}
	return i;
}

void
lem_ws_mask(unsigned char *dst, const unsigned char *src, size_t len,
		const unsigned char key[4], uint64_t offset)
{
	unsigned char k8[8];
	uint64_t m, v, w;
	size_t i;

	/* the key from where offset falls in it, twice over: a word of it
	 * fits every eight bytes, whatever the byte order */
	for (i = 0; i < 8; i++)
		k8[i] = key[(offset + i) & 3];
	memcpy(&m, k8, 8);
	for (; len >= 16; len -= 16, src += 16, dst += 16) {
		memcpy(&v, src, 8);
		memcpy(&w, src + 8, 8);
		v ^= m;
		w ^= m;
		memcpy(dst, &v, 8);
		memcpy(dst + 8, &w, 8);
	}
	if (len >= 8) {
		memcpy(&v, src, 8);
		v ^= m;
		memcpy(dst, &v, 8);
		len -= 8;
		src += 8;
		dst += 8;
	}
	for (i = 0; i < len; i++)
		dst[i] = src[i] ^ k8[i];
}

/* ---------------------------------------------------------------- UTF-8 */

#define UTF8_BAD 0xff

int
lem_utf8_check(struct lem_utf8 *u, const unsigned char *s, size_t len)
{
	unsigned int need = u->need, lo = u->lo, hi = u->hi;
	unsigned char c;
	uint64_t v;
	size_t i = 0;

	if (need == UTF8_BAD)
		return -1;
	while (i < len) {
		if (need > 0) {
			c = s[i++];
			if (c < lo || c > hi)
				goto bad;
			need--;
			lo = 0x80;
			hi = 0xbf;
			continue;
		}
		/* between characters: ASCII eight bytes at a time */
		while (len - i >= 8) {
			memcpy(&v, s + i, 8);
			if (v & UINT64_C(0x8080808080808080))
				break;
			i += 8;
		}
		if (i == len)
			break;
		c = s[i++];
		if (c < 0x80)
			continue;
		lo = 0x80;
		hi = 0xbf;
		if (c < 0xc2) {                 /* continuation, overlong */
			goto bad;
		} else if (c < 0xe0) {
			need = 1;
		} else if (c < 0xf0) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0;      /* overlong */
			else if (c == 0xed)
				hi = 0x9f;      /* surrogates */
		} else if (c < 0xf5) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90;      /* overlong */
			else if (c == 0xf4)
				hi = 0x8f;      /* above U+10FFFF */
		} else {
			goto bad;
		}
	}
	u->need = (unsigned char)need;
	u->lo = (unsigned char)lo;
	u->hi = (unsigned char)hi;
	return 0;
bad:
	u->need = UTF8_BAD;
	return -1;
}

int
lem_utf8_done(const struct lem_utf8 *u)
{
	return u->need == 0;
}

/* ---------------------------------------------------------------- close */

int
lem_ws_close_code_valid(unsigned int code)
{
	return (code >= 1000 && code <= 1003) ||
		(code >= 1007 && code <= 1014) ||
		(code >= 3000 && code <= 4999);
}

int
lem_ws_close_check(const unsigned char *p, size_t len, unsigned int *code)
{
	struct lem_utf8 u = LEM_UTF8_INIT;
	unsigned int c;

	if (len == 0) {
		*code = 1005;
		return 0;
	}
	if (len == 1 || len > LEM_WS_CONTROL_MAX)
		return 1002;
	c = (unsigned int)p[0] << 8 | p[1];
	if (!lem_ws_close_code_valid(c))
		return 1002;
	if (lem_utf8_check(&u, p + 2, len - 2) < 0 || !lem_utf8_done(&u))
		return 1007;
	*code = c;
	return 0;
}

/* ---------------------------------------------------------------- SHA-1 */

#define ROL(x, n) ((uint32_t)((x) << (n)) | ((x) >> (32 - (n))))

static void
sha1_block(uint32_t h[5], const unsigned char *p)
{
	uint32_t w[80], a, b, c, d, e, f, k, t;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
			(uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (i = 16; i < 80; i++)
		w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = h[0];
	b = h[1];
	c = h[2];
	d = h[3];
	e = h[4];
	for (i = 0; i < 80; i++) {
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		t = ROL(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = ROL(b, 30);
		b = a;
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

void
lem_sha1_init(struct lem_sha1 *c)
{
	c->h[0] = 0x67452301;
	c->h[1] = 0xefcdab89;
	c->h[2] = 0x98badcfe;
	c->h[3] = 0x10325476;
	c->h[4] = 0xc3d2e1f0;
	c->len = 0;
}

void
lem_sha1_update(struct lem_sha1 *c, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t have = (size_t)(c->len & 63), n;

	c->len += len;
	if (have > 0) {
		n = 64 - have < len ? 64 - have : len;
		memcpy(c->buf + have, p, n);
		p += n;
		len -= n;
		if (have + n < 64)
			return;
		sha1_block(c->h, c->buf);
	}
	for (; len >= 64; len -= 64, p += 64)
		sha1_block(c->h, p);
	if (len > 0)
		memcpy(c->buf, p, len);
}

void
lem_sha1_final(struct lem_sha1 *c, unsigned char out[20])
{
	uint64_t bits = c->len * 8;
	size_t have = (size_t)(c->len & 63);
	int i;

	/* 0x80, zeros up to 56 mod 64, the length in bits (big-endian) */
	c->buf[have++] = 0x80;
	if (have > 56) {
		memset(c->buf + have, 0, 64 - have);
		sha1_block(c->h, c->buf);
		have = 0;
	}
	memset(c->buf + have, 0, 56 - have);
	for (i = 0; i < 8; i++)
		c->buf[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
	sha1_block(c->h, c->buf);
	for (i = 0; i < 20; i++)
		out[i] = (unsigned char)(c->h[i / 4] >> (24 - 8 * (i % 4)));
}

/* ----------------------------------------------------- the handshake */

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
lem_base64_encode(char *dst, const unsigned char *src, size_t len)
{
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 3 <= len; i += 3) {
		v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 |
			src[i + 2];
		dst[o++] = b64[v >> 18];
		dst[o++] = b64[(v >> 12) & 63];
		dst[o++] = b64[(v >> 6) & 63];
		dst[o++] = b64[v & 63];
	}
	if (len - i == 1) {
		v = (uint32_t)src[i] << 16;
		dst[o++] = b64[v >> 18];
		dst[o++] = b64[(v >> 12) & 63];
		dst[o++] = '=';
		dst[o++] = '=';
	} else if (len - i == 2) {
		v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;
		dst[o++] = b64[v >> 18];
		dst[o++] = b64[(v >> 12) & 63];
		dst[o++] = b64[(v >> 6) & 63];
		dst[o++] = '=';
	}
	dst[o] = '\0';
	return o;
}

int
lem_ws_key_valid(const char *key, size_t len)
{
	size_t i;

	if (len != 24 || key[22] != '=' || key[23] != '=')
		return 0;
	for (i = 0; i < 22; i++) {
		if (key[i] == '\0' || strchr(b64, key[i]) == NULL)
			return 0;
	}
	return 1;
}

void
lem_ws_accept(char out[29], const char *key, size_t len)
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	struct lem_sha1 c;
	unsigned char md[20];

	lem_sha1_init(&c);
	lem_sha1_update(&c, key, len);
	lem_sha1_update(&c, guid, sizeof(guid) - 1);
	lem_sha1_final(&c, md);
	lem_base64_encode(out, md, sizeof(md));
}
