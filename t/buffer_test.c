/*
 * t/buffer_test.c - checks of lib/lem/streams/buffer.c on its own (no
 * Lua, no libev), compiled and run by t/16-streams-buffer.t.  Prints
 * one line per failed check and "ok N" at the end.
 *
 * Copyright (C) 2026 the lem authors.  Part of lem, free software under
 * the GNU General Public License version 3 or later; see COPYING.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"

static int checks, failures;

#define CHECK(c) do { checks++; if (!(c)) { failures++; \
	printf("failed: %s (line %d)\n", #c, __LINE__); } } while (0)

int
main(void)
{
	struct lem_buf b = LEM_BUF_INIT;
	size_t len, scanned = 0, avail, i, total;
	const char *p;
	char *dst;
	unsigned int seed = 1;

	/* empty: no memory, nothing to take */
	CHECK(lem_buf_len(&b) == 0 && b.mem == NULL);
	CHECK(lem_buf_take(&b, 1, &len) == NULL);
	p = lem_buf_all(&b, &len);
	CHECK(p != NULL && len == 0);
	CHECK(lem_buf_line(&b, &scanned) == 0);
	CHECK(lem_buf_take(&b, 0, &len) != NULL && len == 0);

	/* lines, scanned only once */
	CHECK(lem_buf_append(&b, "abc", 3) == 0);
	scanned = 0;
	CHECK(lem_buf_line(&b, &scanned) == 0 && scanned == 3);
	CHECK(lem_buf_append(&b, "d\r\nef\n", 6) == 0);
	len = lem_buf_line(&b, &scanned);
	CHECK(len == 6 && memcmp(lem_buf_data(&b), "abcd\r\n", 6) == 0);
	lem_buf_consume(&b, len);
	scanned = 0;
	CHECK(lem_buf_line(&b, &scanned) == 3);
	lem_buf_consume(&b, 3);
	CHECK(b.mem == NULL && lem_buf_len(&b) == 0);   /* freed when empty */

	/* take n */
	CHECK(lem_buf_append(&b, "0123456789", 10) == 0);
	p = lem_buf_take(&b, 4, &len);
	CHECK(p != NULL && len == 4 && memcmp(p, "0123", 4) == 0);
	lem_buf_consume(&b, 4);
	CHECK(lem_buf_take(&b, 7, &len) == NULL);
	p = lem_buf_all(&b, &len);
	CHECK(len == 6 && memcmp(p, "456789", 6) == 0);

	/* space/commit, with the consumed head reclaimed */
	dst = lem_buf_space(&b, 100, &avail);
	CHECK(dst != NULL && avail >= 100);
	memcpy(dst, "xyz", 3);
	lem_buf_commit(&b, 3);
	p = lem_buf_all(&b, &len);
	CHECK(len == 9 && memcmp(p, "456789xyz", 9) == 0);
	dst = lem_buf_space(&b, 0, &avail);
	lem_buf_commit(&b, 0);
	CHECK(lem_buf_len(&b) == 9);
	lem_buf_free(&b);
	CHECK(b.mem == NULL && lem_buf_len(&b) == 0);
	dst = lem_buf_space(&b, 10, &avail);
	lem_buf_commit(&b, 0);          /* nothing came: no memory kept */
	CHECK(b.mem == NULL);

	/* random appends and takes against a model */
	{
		static char model[1 << 20];
		size_t mlen = 0;

		total = 0;
		for (i = 0; i < 20000; i++) {
			size_t n = (seed = seed * 1103515245 + 12345) >> 16;
			char chunk[512];
			size_t k;

			n %= sizeof(chunk);
			if (i % 3 != 2 && mlen + n < sizeof(model)) {
				for (k = 0; k < n; k++)
					chunk[k] = (k % 37 == 0) ? '\n' : (char)(total + k);
				total += n;
				CHECK(lem_buf_append(&b, chunk, n) == 0);
				memcpy(model + mlen, chunk, n);
				mlen += n;
			} else if (i % 2) {
				n = n > mlen ? mlen : n;
				p = lem_buf_take(&b, n, &len);
				CHECK(p != NULL && len == n && memcmp(p, model, n) == 0);
				lem_buf_consume(&b, n);
				memmove(model, model + n, mlen - n);
				mlen -= n;
			} else {
				size_t s = 0;
				char *nl = memchr(model, '\n', mlen);

				len = lem_buf_line(&b, &s);
				CHECK(len == (nl ? (size_t)(nl - model) + 1 : 0));
				lem_buf_consume(&b, len);
				memmove(model, model + len, mlen - len);
				mlen -= len;
			}
			CHECK(lem_buf_len(&b) == mlen);
			if (mlen == 0)
				CHECK(b.mem == NULL);
		}
	}
	lem_buf_free(&b);
	if (failures) {
		printf("%d of %d checks failed\n", failures, checks);
		return 1;
	}
	printf("ok %d\n", checks);
	return 0;
}
