/*
 * buffer.h - the read buffer of a lem stream: bytes received from a
 * descriptor that no read() has consumed yet.  Plain C (no Lua, no
 * libev), so that it can be tested and fuzzed on its own.
 *
 * Copyright (C) 2026 the lem authors.  This file is part of lem, free
 * software under the GNU General Public License version 3 or later; see
 * COPYING.
 *
 * An empty buffer owns no memory: storage is allocated when bytes are
 * left over and released as soon as the last of them is taken, so an
 * idle stream costs only the struct itself.
 */
#ifndef LEM_STREAMS_BUFFER_H
#define LEM_STREAMS_BUFFER_H

#include <stddef.h>
#include <sys/types.h>

struct lem_buf {
	char *mem;              /* NULL when nothing is stored */
	size_t start;           /* first unconsumed byte */
	size_t end;             /* one past the last byte */
	size_t cap;             /* bytes allocated at mem */
};

#define LEM_BUF_INIT { NULL, 0, 0, 0 }

/* the stored bytes */
static inline size_t
lem_buf_len(const struct lem_buf *b)
{
	return b->end - b->start;
}

/* never NULL: an empty buffer has no storage, and NULL + 0 is undefined */
static inline const char *
lem_buf_data(const struct lem_buf *b)
{
	return b->mem != NULL ? b->mem + b->start : "";
}

/* Release the storage; the buffer is empty and usable afterwards. */
void lem_buf_free(struct lem_buf *b);

/* Free the storage of every buffer still holding some (at exit). */
void lem_buf_release_all(void);

/*
 * Make room for at least want more bytes after the stored ones and return
 * where they go; *avail is set to the room there is (>= want).  Returns
 * NULL, changing nothing, if memory runs out.  Fill the room with e.g.
 * read(2) and then call lem_buf_commit().
 */
char *lem_buf_space(struct lem_buf *b, size_t want, size_t *avail);

/* n bytes were written to the room returned by lem_buf_space() */
void lem_buf_commit(struct lem_buf *b, size_t n);

/* Append n bytes; returns 0, or -1 if memory runs out (nothing added). */
int lem_buf_append(struct lem_buf *b, const char *src, size_t n);

/* Drop the first n (<= lem_buf_len) stored bytes. */
void lem_buf_consume(struct lem_buf *b, size_t n);

/*
 * Look for a line: returns the length of the first line including its
 * '\n', or 0 if the stored bytes hold no '\n'.  *scanned remembers how
 * far a previous unsuccessful call looked, so that appending more bytes
 * and asking again does not rescan them (start it at 0 and reset it after
 * consuming).
 */
size_t lem_buf_line(const struct lem_buf *b, size_t *scanned);

/*
 * The extraction helpers: each returns a pointer to the bytes to hand out
 * and sets *len; the caller copies them (into a Lua string) and then calls
 * lem_buf_consume(b, *len).
 *   lem_buf_take: exactly n bytes, or NULL if fewer are stored;
 *   lem_buf_all:  everything stored (maybe 0 bytes, never NULL).
 */
const char *lem_buf_take(const struct lem_buf *b, size_t n, size_t *len);
const char *lem_buf_all(const struct lem_buf *b, size_t *len);

/*
 * Framing: the read formats of a stream (read(), read(n), read('*l'),
 * read('*a')) over a buffer and a source of bytes.  The streams and the
 * fuzzer call the same functions.
 *
 * recv() fills dst with at most len bytes and returns their number, 0 at
 * the end of the stream (also when the peer is gone), -1 when nothing is
 * there now, or -2 with *err set.  scratch, when not NULL, is a big
 * buffer to receive into when nothing is stored (what is left over goes
 * to the buffer); chunk is how much to receive at a time into the
 * buffer.  open is cleared when recv() said end of stream.
 */
struct lem_src {
	ssize_t (*recv)(void *ud, char *dst, size_t len, int *err);
	void *ud;
	char *scratch;
	size_t scratch_size;
	size_t chunk;
	int open;
};

/* what to hand out: len bytes at data, from the buffer or the scratch */
struct lem_frame {
	const char *data;
	size_t len;
	int in_buf;
};

/* the results of the lem_frame functions */
#define LEM_FRAME_WAIT    0     /* nothing yet: wait for the source */
#define LEM_FRAME_DONE    1     /* *f is set: hand it out, then lem_frame_done */
#define LEM_FRAME_END    -1     /* the end of the stream came first */
#define LEM_FRAME_ERROR  -2     /* *err is set; nothing was lost */
#define LEM_FRAME_LONG   -3     /* a line longer than max (it stays stored) */

/* what is stored, else the next bytes that come */
int lem_frame_some(struct lem_buf *b, struct lem_src *src,
		struct lem_frame *f, int *err);
/* exactly n bytes */
int lem_frame_n(struct lem_buf *b, struct lem_src *src, size_t n,
		struct lem_frame *f, int *err);
/* a line up to and including '\n', at most max bytes; *scanned keeps how
 * far an earlier call looked (start at 0; it is reset when done) */
int lem_frame_line(struct lem_buf *b, struct lem_src *src, size_t *scanned,
		size_t max, struct lem_frame *f, int *err);
/* everything up to the end of the stream */
int lem_frame_all(struct lem_buf *b, struct lem_src *src,
		struct lem_frame *f, int *err);
/* the frame was handed out: drop it from the buffer if it came from there */
void lem_frame_done(struct lem_buf *b, const struct lem_frame *f);

#endif /* LEM_STREAMS_BUFFER_H */
