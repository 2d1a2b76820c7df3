/* buf.c: the growable read buffer declared in buf.h.
 *
 * Unread bytes live at data + off. Room for an append is found in this
 * order: the free tail; the consumed prefix, reclaimed by moving the unread
 * bytes to the front when that move costs no more than the bytes already
 * consumed (so compaction stays amortised); a geometric regrow. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"

#define MIN_CAP 64
#define SPARE_MAX 512   /* an emptied buffer up to this size is kept (alloc.h) */

/* Move the unread bytes to the start of the storage. */
static void compact(corio_buf *b)
{
    if (b->off == 0)
        return;
    memmove(b->data, b->data + b->off, b->len);
    b->off = 0;
}

/* Capacity to grow to for need bytes: at least double the old one (so a
 * buffer that compaction cannot help is never memmoved at the same size
 * again and again), never below MIN_CAP, exactly need near SIZE_MAX. */
static size_t grown_cap(size_t cap, size_t need)
{
    if (cap > SIZE_MAX / 2)
        return need;
    size_t c = cap < MIN_CAP / 2 ? MIN_CAP : cap * 2;
    while (c < need) {
        if (c > SIZE_MAX / 2)
            return need;
        c *= 2;
    }
    return c;
}

/* Make room for n more bytes after the unread ones; 0 or -ENOMEM. */
static int reserve(corio_buf *b, size_t n, corio_alloc *a)
{
    if (n > SIZE_MAX - b->off - b->len)   /* (off + len <= cap: no wrap) */
        return -ENOMEM;
    size_t need = b->len + n;
    if (b->off + need <= b->cap)
        return 0;
    if (need <= b->cap && b->off >= b->len) {
        compact(b);
        return 0;
    }
    size_t cap = grown_cap(b->cap, need);
    compact(b);
    char *p;
    if (!b->data && a && a->spare && a->spare_cap >= cap) {   /* the kept one */
        p = a->spare, cap = a->spare_cap;
        a->spare = NULL;
    } else if (!(p = corio_mem(a, b->data, b->data ? b->cap : 0, cap))) {
        return -ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int corio_buf_append(corio_buf *b, const void *p, size_t n, corio_alloc *a)
{
    if (n == 0)
        return 0;
    int rc = reserve(b, n, a);
    if (rc < 0)
        return rc;
    memcpy(b->data + b->off + b->len, p, n);
    b->len += n;
    return 0;
}

/* Consuming everything (or more) frees the storage: idle streams hold none. */
void corio_buf_consume(corio_buf *b, size_t n, corio_alloc *a)
{
    if (n >= b->len) {
        corio_buf_free(b, a);
        return;
    }
    b->off += n;
    b->len -= n;
}

size_t corio__buf_scanned;

long corio_buf_find(const corio_buf *b, size_t from, char c)
{
    if (from >= b->len)
        return -1;
    const char *base = b->data + b->off;
    const char *hit = memchr(base + from, c, b->len - from);
    corio__buf_scanned += hit ? (size_t)(hit - base) + 1 - from : b->len - from;
    return hit ? (long)(hit - base) : -1;
}

/* Length of the first n unread bytes without a trailing "\r". */
static size_t line_len(const corio_buf *b, size_t n)
{
    return n && corio_buf_peek(b)[n - 1] == '\r' ? n - 1 : n;
}

long corio_buf_line(const corio_buf *b, size_t *from, size_t max, int ended, size_t *used)
{
    if (*from > b->len)   /* bytes were taken by other means meanwhile */
        *from = 0;
    long i = corio_buf_find(b, *from, '\n');
    size_t end = i >= 0 ? (size_t)i : b->len;
    if (line_len(b, end) > max)
        return -EMSGSIZE;
    if (i >= 0) {
        *used = end + 1;
        return (long)line_len(b, end);
    }
    *from = b->len;
    if (!ended || b->len == 0)
        return -EAGAIN;
    *used = b->len;
    return (long)b->len;
}

void corio_buf_free(corio_buf *b, corio_alloc *a)
{
    if (b->data && a && !a->spare && b->cap <= SPARE_MAX) {
        a->spare = b->data;
        a->spare_cap = b->cap;
    } else if (b->data) {
        corio_mem(a, b->data, b->cap, 0);
    }
    *b = (corio_buf){ 0 };
}
