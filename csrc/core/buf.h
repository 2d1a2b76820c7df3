/* buf.h: a growable byte buffer with a consumed-prefix offset, used as a
 * stream's read buffer. Holds no memory while empty (see corio_buf_consume),
 * so an idle connection costs no buffer. */
#ifndef CORIO_BUF_H
#define CORIO_BUF_H
#include <stddef.h>
#include "alloc.h"

typedef struct corio_buf {
    char *data;
    size_t off;   /* first unread byte */
    size_t len;   /* unread bytes, from data + off */
    size_t cap;
} corio_buf;

static inline const char *corio_buf_peek(const corio_buf *b) { return b->data + b->off; }

/* Append n bytes; 0 or -ENOMEM. The storage comes from a (NULL: libc),
 * which every call on one buffer must share. */
int corio_buf_append(corio_buf *b, const void *p, size_t n, corio_alloc *a);

/* Drop the first n unread bytes; frees the storage when nothing is left. */
void corio_buf_consume(corio_buf *b, size_t n, corio_alloc *a);

/* Bytes corio_buf_find has searched, over the process (a test hook). */
extern size_t corio__buf_scanned;

/* Index of the first c in the unread bytes at or after from, or -1. */
long corio_buf_find(const corio_buf *b, size_t from, char c);

/* Line framing (stream:readline): the next line of the unread bytes,
 * ended by "\n" (a "\r" before it is not part of the line) or, once ended
 * is set (no more bytes will come), by the end of the bytes, kept whole.
 * *from holds how many bytes earlier calls searched for this line (0 for a
 * new line) and is updated, so that each byte is searched once however the
 * bytes arrive. The line's length, with *used set to the bytes it takes
 * (its ending included); -EMSGSIZE once it is longer than max (not
 * counting a "\r" at its end); -EAGAIN while its end has not come. */
long corio_buf_line(const corio_buf *b, size_t *from, size_t max, int ended, size_t *used);

void corio_buf_free(corio_buf *b, corio_alloc *a);

#endif
