/*
 * t/ws_frame_test.c - checks of lib/lem/websocket/frame.c on its own (no
 * Lua, no libev), compiled and run by t/21-websocket-frame.t.  Prints one
 * line per failed check and "ok N" at the end.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

static int checks, failures;

#define CHECK(c) do { checks++; if (!(c)) { failures++; \
	printf("failed: %s (line %d)\n", #c, __LINE__); } } while (0)
#define CHECKL(c, line) do { checks++; if (!(c)) { failures++; \
	printf("failed: %s (line %d)\n", #c, line); } } while (0)

#define U (const unsigned char *)

static struct lem_ws_frame F;

/*
 * Parse the header h (n bytes) with flags, whole and from every prefix
 * (each in a buffer of exactly its bytes): the prefixes shorter than
 * the header need more (or fail the same way), the rest give the result.
 */
static int
parse(const unsigned char *h, size_t n, unsigned int flags, int line)
{
	struct lem_ws_frame g;
	unsigned char *mem;
	size_t i;
	int r, rp;

	r = lem_ws_frame_parse(&F, h, n, flags);
	for (i = 0; i < n; i++) {
		mem = malloc(i + 1);
		memcpy(mem, h, i);
		rp = lem_ws_frame_parse(&g, mem, i, flags);
		free(mem);
		if (rp < 0) {
			CHECKL(r < 0 && strcmp(g.why, F.why) == 0, line);
			break;
		}
		if (r > 0 && i >= (size_t)r)
			CHECKL(rp == r, line);  /* the payload follows */
		else
			CHECKL(rp == 0, line);
		if (i >= 2 && r > 0)
			CHECKL(g.hlen == r, line);
	}
	return r;
}

#define PARSE(h, flags) parse(U h, sizeof(h) - 1, flags, __LINE__)
#define BAD(h, flags, w) do { CHECK(PARSE(h, flags) == -1); \
	CHECK(F.why != NULL && strcmp(F.why, w) == 0); } while (0)

static void
test_parse(void)
{
	static const unsigned char hello[] = "Hello";
	unsigned char buf[32];

	/* RFC 6455 5.7: an unmasked text frame "Hello" (to a client) */
	CHECK(PARSE("\x81\x05Hello", 0) == 2);
	CHECK(F.fin == 1 && F.opcode == LEM_WS_TEXT && F.len == 5);
	CHECK(F.masked == 0 && F.rsv == 0);
	BAD("\x81\x05Hello", LEM_WS_SERVER, "unmasked frame from a client");
	/* ... masked (to a server) */
	CHECK(PARSE("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
		LEM_WS_SERVER) == 6);
	CHECK(F.fin && F.opcode == LEM_WS_TEXT && F.len == 5 && F.masked);
	CHECK(memcmp(F.mask, "\x37\xfa\x21\x3d", 4) == 0);
	memcpy(buf, "\x7f\x9f\x4d\x51\x58", 5);
	lem_ws_mask(buf, buf, 5, F.mask, 0);
	CHECK(memcmp(buf, hello, 5) == 0);
	lem_ws_mask(buf, hello, 5, F.mask, 0);
	CHECK(memcmp(buf, "\x7f\x9f\x4d\x51\x58", 5) == 0);
	BAD("\x81\x85\x37\xfa\x21\x3d", 0, "masked frame from a server");
	/* ... fragmented: "Hel", "lo" */
	CHECK(PARSE("\x01\x03Hel", 0) == 2 && !F.fin && F.len == 3);
	CHECK(F.opcode == LEM_WS_TEXT);
	CHECK(PARSE("\x80\x02lo", 0) == 2 && F.fin && F.len == 2);
	CHECK(F.opcode == LEM_WS_CONTINUATION);
	/* ... ping, masked pong */
	CHECK(PARSE("\x89\x05Hello", 0) == 2 && F.opcode == LEM_WS_PING);
	CHECK(PARSE("\x8a\x85\x37\xfa\x21\x3d", LEM_WS_SERVER) == 6);
	CHECK(F.opcode == LEM_WS_PONG && F.len == 5);
	/* ... 256 bytes and 64 KiB of binary */
	CHECK(PARSE("\x82\x7e\x01\x00", 0) == 4 && F.len == 256);
	CHECK(F.opcode == LEM_WS_BINARY);
	CHECK(PARSE("\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 0) == 10);
	CHECK(F.len == 65536);
	CHECK(PARSE("\x82\xff\x00\x00\x00\x00\x00\x01\x00\x00" "abcd",
		LEM_WS_SERVER) == 14);
	CHECK(F.len == 65536 && memcmp(F.mask, "abcd", 4) == 0);

	/* lengths: the shortest form only, below 2^63 */
	CHECK(PARSE("\x82\x7d", 0) == 2 && F.len == 125);
	CHECK(PARSE("\x82\x7e\x00\x7e", 0) == 4 && F.len == 126);
	CHECK(PARSE("\x82\x7e\xff\xff", 0) == 4 && F.len == 65535);
	BAD("\x82\x7e\x00\x7d", 0, "frame length not minimal");
	BAD("\x82\x7e\x00\x00", 0, "frame length not minimal");
	BAD("\x82\x7f\x00\x00\x00\x00\x00\x00\xff\xff", 0,
		"frame length not minimal");
	BAD("\x82\x7f\x00\x00\x00\x00\x00\x00\x00\x05", 0,
		"frame length not minimal");
	CHECK(PARSE("\x82\x7f\x7f\xff\xff\xff\xff\xff\xff\xff", 0) == 10);
	CHECK(F.len == UINT64_C(0x7fffffffffffffff));
	BAD("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00", 0,
		"frame length of 2^63 or more");
	/* known from the third byte */
	CHECK(lem_ws_frame_parse(&F, U "\x82\x7f\x80", 3, 0) == -1);
	CHECK(lem_ws_frame_parse(&F, U "\x82\x7f\x7f", 3, 0) == 0);
	CHECK(F.hlen == 10);

	/* RSV bits, opcodes */
	BAD("\xc1\x00", 0, "reserved bit set");
	BAD("\xa1\x00", 0, "reserved bit set");
	BAD("\x91\x00", 0, "reserved bit set");
	CHECK(PARSE("\xc1\x00", LEM_WS_RSV1) == 2 && F.rsv == LEM_WS_RSV1);
	BAD("\xe1\x00", LEM_WS_RSV1, "reserved bit set");
	CHECK(PARSE("\xf1\x00", 0x70) == 2 && F.rsv == 0x70);
	BAD("\x83\x00", 0, "unknown opcode");
	BAD("\x87\x00", 0, "unknown opcode");
	BAD("\x8b\x00", 0, "unknown opcode");
	BAD("\x8f\x00", 0, "unknown opcode");
	CHECK(lem_ws_frame_parse(&F, U "\x8f", 1, 0) == -1);   /* 1 byte */
	CHECK(lem_ws_frame_parse(&F, U "\x81", 1, 0) == 0 && F.hlen == 0);
	CHECK(lem_ws_frame_parse(&F, U "", 0, 0) == 0);

	/* control frames: final, at most 125 bytes */
	BAD("\x09\x00", 0, "fragmented control frame");
	BAD("\x08\x00", 0, "fragmented control frame");
	BAD("\x0a\x00", 0, "fragmented control frame");
	CHECK(PARSE("\x88\x7d", 0) == 2 && F.len == 125);
	BAD("\x88\x7e\x00\x7e", 0, "control frame too long");
	BAD("\x89\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 0,
		"control frame too long");
	CHECK(PARSE("\x00\x7e\x01\x00", 0) == 4);      /* data may fragment */
}

static void
test_encode(void)
{
	static const uint64_t lens[] = {
		0, 1, 125, 126, 127, 65535, 65536, 65537, UINT64_C(1) << 32,
		UINT64_C(0x7fffffffffffffff)
	};
	static const unsigned char key[4] = { 1, 2, 3, 4 };
	unsigned char h[LEM_WS_HEADER_MAX];
	size_t i, n;
	int m;

	n = lem_ws_frame_encode(h, LEM_WS_FIN | LEM_WS_TEXT, 5, NULL);
	CHECK(n == 2 && memcmp(h, "\x81\x05", 2) == 0);
	n = lem_ws_frame_encode(h, LEM_WS_FIN | LEM_WS_TEXT, 5,
		U "\x37\xfa\x21\x3d");
	CHECK(n == 6 && memcmp(h, "\x81\x85\x37\xfa\x21\x3d", 6) == 0);
	n = lem_ws_frame_encode(h, LEM_WS_FIN | LEM_WS_BINARY, 256, NULL);
	CHECK(n == 4 && memcmp(h, "\x82\x7e\x01\x00", 4) == 0);
	n = lem_ws_frame_encode(h, LEM_WS_FIN | LEM_WS_BINARY, 65536, NULL);
	CHECK(n == 10 && memcmp(h, "\x82\x7f\0\0\0\0\0\x01\0\0", 10) == 0);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (m = 0; m < 2; m++) {
			n = lem_ws_frame_encode(h, LEM_WS_BINARY, lens[i],
				m ? key : NULL);
			CHECK(lem_ws_frame_parse(&F, h, n,
				m ? LEM_WS_SERVER : 0) == (int)n);
			CHECK(F.len == lens[i] && F.fin == 0 && F.masked == m);
			CHECK(F.opcode == LEM_WS_BINARY);
			CHECK(!m || memcmp(F.mask, key, 4) == 0);
		}
	}
}

static void
test_mask(void)
{
	static const unsigned char key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	unsigned char src[300], a[300], b[300];
	size_t len, off, cut, i;

	for (i = 0; i < sizeof(src); i++)
		src[i] = (unsigned char)(i * 7 + 3);
	for (len = 0; len < 70; len++) {
		for (off = 0; off < 9; off++) {
			for (i = 0; i < len; i++)
				a[i] = src[i] ^ key[(off + i) & 3];
			lem_ws_mask(b, src, len, key, off);
			CHECK(memcmp(a, b, len) == 0);
			lem_ws_mask(b, b, len, key, off);       /* in place */
			CHECK(memcmp(b, src, len) == 0);
		}
	}
	/* in pieces, at every cut */
	lem_ws_mask(a, src, sizeof(src), key, 0);
	for (cut = 0; cut <= sizeof(src); cut += 7) {
		lem_ws_mask(b, src, cut, key, 0);
		lem_ws_mask(b + cut, src + cut, sizeof(src) - cut, key, cut);
		CHECK(memcmp(a, b, sizeof(src)) == 0);
	}
	/* an offset past 2^32 */
	lem_ws_mask(b, src, 10, key, (UINT64_C(1) << 33) + 1);
	for (i = 0; i < 10; i++)
		CHECK(b[i] == (src[i] ^ key[(i + 1) & 3]));
	/* unaligned */
	lem_ws_mask(b + 1, src + 3, 100, key, 2);
	for (i = 0; i < 100; i++)
		CHECK(b[1 + i] == (src[3 + i] ^ key[(i + 2) & 3]));
}

static void
test_sequence(void)
{
	unsigned char msg = 0;

	F.opcode = LEM_WS_TEXT;
	F.fin = 0;
	CHECK(lem_ws_frame_sequence(&msg, &F) == LEM_WS_TEXT && msg == 1);
	F.opcode = LEM_WS_PING;
	F.fin = 1;
	CHECK(lem_ws_frame_sequence(&msg, &F) == LEM_WS_PING && msg == 1);
	F.opcode = LEM_WS_CONTINUATION;
	F.fin = 0;
	CHECK(lem_ws_frame_sequence(&msg, &F) == LEM_WS_TEXT && msg == 1);
	F.opcode = LEM_WS_BINARY;
	F.fin = 1;
	CHECK(lem_ws_frame_sequence(&msg, &F) == -1);
	CHECK(strcmp(F.why, "new message inside a fragmented one") == 0);
	F.opcode = LEM_WS_CONTINUATION;
	F.fin = 1;
	CHECK(lem_ws_frame_sequence(&msg, &F) == LEM_WS_TEXT && msg == 0);
	CHECK(lem_ws_frame_sequence(&msg, &F) == -1);
	CHECK(strcmp(F.why, "continuation outside a message") == 0);
	F.opcode = LEM_WS_BINARY;
	F.fin = 1;
	CHECK(lem_ws_frame_sequence(&msg, &F) == LEM_WS_BINARY && msg == 0);
	F.fin = 0;
	CHECK(lem_ws_frame_sequence(&msg, &F) == LEM_WS_BINARY && msg == 2);
}

/* a reference UTF-8 check, code point by code point */
static int
utf8_ref(const unsigned char *s, size_t n)
{
	size_t i = 0, k, need;
	unsigned long cp, min;

	while (i < n) {
		unsigned char c = s[i++];

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

/* s is valid UTF-8 (as a whole): check it whole, in two, byte by byte */
static int
utf8_all(const unsigned char *s, size_t n)
{
	struct lem_utf8 u = LEM_UTF8_INIT;
	size_t cut, i;
	int whole, r;

	whole = lem_utf8_check(&u, s, n) == 0 && lem_utf8_done(&u);
	for (cut = 0; cut <= n; cut++) {
		struct lem_utf8 v = LEM_UTF8_INIT;

		r = lem_utf8_check(&v, s, cut) == 0 &&
			lem_utf8_check(&v, s + cut, n - cut) == 0 &&
			lem_utf8_done(&v);
		CHECK(r == whole);
	}
	{
		struct lem_utf8 v = LEM_UTF8_INIT;

		r = 1;
		for (i = 0; i < n && r; i++)
			r = lem_utf8_check(&v, s + i, 1) == 0;
		r = r && lem_utf8_done(&v);
		CHECK(r == whole);
	}
	return whole;
}

#define UTF8_OK(s) do { CHECK(utf8_all(U s, sizeof(s) - 1) == 1); \
	CHECK(utf8_ref(U s, sizeof(s) - 1) == 1); } while (0)
#define UTF8_BAD(s) do { CHECK(utf8_all(U s, sizeof(s) - 1) == 0); \
	CHECK(utf8_ref(U s, sizeof(s) - 1) == 0); } while (0)

static void
test_utf8(void)
{
	struct lem_utf8 u = LEM_UTF8_INIT;
	static const unsigned char fail_fast[] =
		"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
		"edited";
	unsigned char buf[64];
	unsigned int seed = 11;
	size_t i, n;

	UTF8_OK("");
	UTF8_OK("Hello, World! 0123456789abcdefghijklmnopqrstuvwxyz");
	UTF8_OK("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5");  /* kosme */
	UTF8_OK("\xc2\x80");                    /* U+0080 */
	UTF8_OK("\xdf\xbf");                    /* U+07FF */
	UTF8_OK("\xe0\xa0\x80");                /* U+0800 */
	UTF8_OK("\xed\x9f\xbf");                /* U+D7FF */
	UTF8_OK("\xee\x80\x80");                /* U+E000 */
	UTF8_OK("\xef\xbf\xbd");                /* U+FFFD */
	UTF8_OK("\xef\xbf\xbf");                /* U+FFFF */
	UTF8_OK("\xf0\x90\x80\x80");            /* U+10000 */
	UTF8_OK("\xf4\x8f\xbf\xbf");            /* U+10FFFF */
	UTF8_OK("abcdefgh\xf0\x9f\x98\x80ijklmnopqrstuvwxyz\x7f");
	UTF8_OK("\0\0\0\0\0\0\0\0\0");

	UTF8_BAD("\x80");                       /* lone continuation */
	UTF8_BAD("\xbf");
	UTF8_BAD("abcdefgh\x80");
	UTF8_BAD("\xc0\x80");                   /* overlong */
	UTF8_BAD("\xc1\xbf");
	UTF8_BAD("\xe0\x80\x80");
	UTF8_BAD("\xe0\x9f\xbf");
	UTF8_BAD("\xf0\x80\x80\x80");
	UTF8_BAD("\xf0\x8f\xbf\xbf");
	UTF8_BAD("\xed\xa0\x80");               /* surrogates */
	UTF8_BAD("\xed\xbf\xbf");
	UTF8_BAD("\xed\xa0\x80\xed\xb0\x80");
	UTF8_BAD("\xf4\x90\x80\x80");           /* above U+10FFFF */
	UTF8_BAD("\xf7\xbf\xbf\xbf");
	UTF8_BAD("\xf5\x80\x80\x80");
	UTF8_BAD("\xf8\x88\x80\x80\x80");
	UTF8_BAD("\xfe");
	UTF8_BAD("\xff");
	UTF8_BAD("\xc2");                       /* truncated */
	UTF8_BAD("\xe0\xa0");
	UTF8_BAD("\xf0\x90\x80");
	UTF8_BAD("\xc2\x41");                   /* not a continuation */
	UTF8_BAD("\xe1\x80\xc0");
	UTF8_BAD("\xf1\x80\x80\xe0");

	/* truncated is "not done" but not invalid: the rest may follow */
	CHECK(lem_utf8_check(&u, U "ab\xf0\x90", 4) == 0 && !lem_utf8_done(&u));
	CHECK(lem_utf8_check(&u, U "\x80\x80", 2) == 0 && lem_utf8_done(&u));
	/* fail fast: at the byte that makes it invalid, and sticky */
	u = (struct lem_utf8)LEM_UTF8_INIT;
	for (i = 0; i < sizeof(fail_fast) - 1; i++) {
		if (lem_utf8_check(&u, fail_fast + i, 1) < 0)
			break;
	}
	CHECK(i == 12);
	CHECK(lem_utf8_check(&u, U "a", 1) == -1 && !lem_utf8_done(&u));
	/* a zeroed state works like LEM_UTF8_INIT */
	memset(&u, 0, sizeof(u));
	CHECK(lem_utf8_check(&u, U "\xe0\xa0\x80\xc2\x80", 5) == 0);
	CHECK(lem_utf8_done(&u));

	/* random strings against the reference */
	for (i = 0; i < 20000; i++) {
		struct lem_utf8 v = LEM_UTF8_INIT;
		size_t k;

		seed = seed * 1103515245 + 12345;
		n = (seed >> 16) % sizeof(buf);
		for (k = 0; k < n; k++) {
			seed = seed * 1103515245 + 12345;
			buf[k] = (unsigned char)(seed >> 16);
			if ((seed >> 8) & 1)   /* mostly plausible bytes */
				buf[k] = (unsigned char)(0x80 |
					(buf[k] & 0x3f));
			else if ((seed >> 9) & 1)
				buf[k] &= 0x7f;
		}
		CHECK((lem_utf8_check(&v, buf, n) == 0 && lem_utf8_done(&v)) ==
			utf8_ref(buf, n));
	}
}

static void
test_close(void)
{
	unsigned int code = 0;

	CHECK(lem_ws_close_check(U "", 0, &code) == 0 && code == 1005);
	CHECK(lem_ws_close_check(U "\x03", 1, &code) == 1002);
	CHECK(lem_ws_close_check(U "\x03\xe8", 2, &code) == 0 && code == 1000);
	CHECK(lem_ws_close_check(U "\x03\xe9" "bye", 5, &code) == 0);
	CHECK(code == 1001);
	CHECK(lem_ws_close_check(U "\x03\xe8\xce\xba", 4, &code) == 0);
	CHECK(lem_ws_close_check(U "\x03\xe8\xce", 3, &code) == 1007);
	CHECK(lem_ws_close_check(U "\x03\xe8\xed\xa0\x80", 5, &code) == 1007);
	CHECK(lem_ws_close_check(U "\x03\xe8\xff", 3, &code) == 1007);
	/* codes: 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 0, 65535 */
	CHECK(lem_ws_close_check(U "\x03\xe7", 2, &code) == 1002);
	CHECK(lem_ws_close_check(U "\x03\xec", 2, &code) == 1002);
	CHECK(lem_ws_close_check(U "\x03\xed", 2, &code) == 1002);
	CHECK(lem_ws_close_check(U "\x03\xee", 2, &code) == 1002);
	CHECK(lem_ws_close_check(U "\x03\xf7", 2, &code) == 1002);
	CHECK(lem_ws_close_check(U "\x03\xf8", 2, &code) == 1002);
	CHECK(lem_ws_close_check(U "\x0b\xb7", 2, &code) == 1002);
	CHECK(lem_ws_close_check(U "\x13\x88", 2, &code) == 1002);
	CHECK(lem_ws_close_check(U "\x00\x00", 2, &code) == 1002);
	CHECK(lem_ws_close_check(U "\xff\xff", 2, &code) == 1002);
	/* 1003, 1007, 1011, 1014, 3000, 4999 */
	CHECK(lem_ws_close_check(U "\x03\xeb", 2, &code) == 0 && code == 1003);
	CHECK(lem_ws_close_check(U "\x03\xef", 2, &code) == 0 && code == 1007);
	CHECK(lem_ws_close_check(U "\x03\xf3", 2, &code) == 0 && code == 1011);
	CHECK(lem_ws_close_check(U "\x03\xf6", 2, &code) == 0 && code == 1014);
	CHECK(lem_ws_close_check(U "\x0b\xb8", 2, &code) == 0 && code == 3000);
	CHECK(lem_ws_close_check(U "\x13\x87", 2, &code) == 0 && code == 4999);
	CHECK(lem_ws_close_code_valid(1000) && !lem_ws_close_code_valid(1005));
	CHECK(!lem_ws_close_code_valid(1006) && !lem_ws_close_code_valid(1015));
}

static void
sha1_hex(const void *data, size_t len, char *out)
{
	struct lem_sha1 c;
	unsigned char md[20];
	int i;

	lem_sha1_init(&c);
	lem_sha1_update(&c, data, len);
	lem_sha1_final(&c, md);
	for (i = 0; i < 20; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static void
test_handshake(void)
{
	static char a[1000000];
	struct lem_sha1 c;
	unsigned char md[20], md2[20];
	char out[64];
	size_t i;

	sha1_hex("", 0, out);
	CHECK(strcmp(out, "da39a3ee5e6b4b0d3255bfef95601890afd80709") == 0);
	sha1_hex("abc", 3, out);
	CHECK(strcmp(out, "a9993e364706816aba3e25717850c26c9cd0d89d") == 0);
	sha1_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
		out);
	CHECK(strcmp(out, "84983e441c3bd26ebaae4aa1f95129e5e54670f1") == 0);
	memset(a, 'a', sizeof(a));
	sha1_hex(a, 55, out);
	CHECK(strcmp(out, "c1c8bbdc22796e28c0e15163d20899b65621d65a") == 0);
	sha1_hex(a, 56, out);
	CHECK(strcmp(out, "c2db330f6083854c99d4b5bfb6e8f29f201be699") == 0);
	sha1_hex(a, 64, out);
	CHECK(strcmp(out, "0098ba824b5c16427bd7a1122a5a442a25ec644d") == 0);
	sha1_hex(a, sizeof(a), out);
	CHECK(strcmp(out, "34aa973cd4c4daa4f61eeb2bdbad27316534016f") == 0);
	/* in uneven pieces */
	lem_sha1_init(&c);
	for (i = 0; i < sizeof(a); i += 1 + i % 97)
		lem_sha1_update(&c, a + i, 1 + i % 97 < sizeof(a) - i ?
			1 + i % 97 : sizeof(a) - i);
	lem_sha1_final(&c, md);
	lem_sha1_init(&c);
	lem_sha1_update(&c, a, sizeof(a));
	lem_sha1_final(&c, md2);
	CHECK(memcmp(md, md2, 20) == 0);

	/* RFC 4648 10 */
	CHECK(lem_base64_encode(out, U "", 0) == 0 && out[0] == '\0');
	CHECK(lem_base64_encode(out, U "f", 1) == 4 && !strcmp(out, "Zg=="));
	CHECK(lem_base64_encode(out, U "fo", 2) == 4 && !strcmp(out, "Zm8="));
	CHECK(lem_base64_encode(out, U "foo", 3) == 4 && !strcmp(out, "Zm9v"));
	CHECK(lem_base64_encode(out, U "foob", 4) == 8);
	CHECK(strcmp(out, "Zm9vYg==") == 0);
	CHECK(lem_base64_encode(out, U "foobar", 6) == 8);
	CHECK(strcmp(out, "Zm9vYmFy") == 0);
	CHECK(lem_base64_encode(out, U "\xff\xfe\xfd", 3) == 4);
	CHECK(strcmp(out, "//79") == 0);

	/* RFC 6455 1.3 */
	lem_ws_accept(out, "dGhlIHNhbXBsZSBub25jZQ==", 24);
	CHECK(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
	CHECK(lem_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ==", 24));
	CHECK(lem_ws_key_valid("AAAAAAAAAAAAAAAAAAAAA+/=", 24) == 0);
	CHECK(lem_ws_key_valid("AAAAAAAAAAAAAAAAAAAA+/==", 24));
	CHECK(!lem_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=", 23));
	CHECK(!lem_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ===", 25));
	CHECK(!lem_ws_key_valid("dGhlIHNhbXBsZSBub25jZ!==", 24));
	CHECK(!lem_ws_key_valid("dGhlIHNhbXBsZSBub25jZ\0==", 24));
	CHECK(!lem_ws_key_valid("dGhlIHNhbXBsZSBub25j ==", 24));
}

int
main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	test_parse();
	test_encode();
	test_mask();
	test_sequence();
	test_utf8();
	test_close();
	test_handshake();
	if (failures) {
		printf("%d of %d checks failed\n", failures, checks);
		return 1;
	}
	printf("ok %d\n", checks);
	return 0;
}
