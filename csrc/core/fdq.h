/* fdq.h: a FIFO of file descriptors the owner has received and not yet
 * handed out: a listener's accepted connections, the fds passed over a
 * Unix stream. Each carries a mark (the stream's byte count when it came,
 * 0 where unused). Holds no memory while empty. */
#ifndef CORIO_FDQ_H
#define CORIO_FDQ_H
#include <stddef.h>
#include <stdint.h>

typedef struct corio_fdq_entry {
    int fd;
    uint64_t mark;
} corio_fdq_entry;

typedef struct corio_fdq {
    corio_fdq_entry *e;        /* a ring of cap entries */
    size_t head, count, cap;
} corio_fdq;

/* Append fd; 0, or -ENOMEM (fd is then the caller's still). */
int corio_fdq_push(corio_fdq *q, int fd, uint64_t mark);

/* The oldest entry (q->count > 0). */
static inline const corio_fdq_entry *corio_fdq_first(const corio_fdq *q)
{
    return &q->e[q->head];
}

/* Take the oldest fd out (q->count > 0). */
int corio_fdq_pop(corio_fdq *q);

/* Close every fd queued and free the ring. */
void corio_fdq_close_all(corio_fdq *q);

#endif
