/*
 * t/buffer_empty.c - lem_buf_data() of an empty read buffer must not be
 * NULL + 0 (undefined behaviour that UBSan reports as "applying zero
 * offset to null pointer"); run by t/16-streams-buffer-empty.t, which
 * needs it built with -fsanitize=undefined.  Prints "ok" and exits 0.
 *
 * Copyright (C) 2026 the lem authors.  Part of lem, free software under
 * the GNU General Public License version 3 or later; see COPYING.
 */
#include <stdio.h>

#include "buffer.h"

int
main(void)
{
	struct lem_buf b = LEM_BUF_INIT;
	const char *p = lem_buf_data(&b);
	size_t len;

	if (lem_buf_append(&b, "ab", 2) != 0)
		return 2;
	lem_buf_consume(&b, 2);
	p = lem_buf_data(&b);
	if (p == NULL || lem_buf_all(&b, &len) == NULL || len != 0)
		return 3;
	lem_buf_free(&b);
	puts("ok");
	return 0;
}
