/* fdq.c: the FIFO of received fds (fdq.h). */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include "fdq.h"

/* Double the ring, keeping the order. */
static int grow(corio_fdq *q)
{
    size_t cap = q->cap ? q->cap * 2 : 16;
    corio_fdq_entry *e = malloc(cap * sizeof *e);
    if (!e)
        return -ENOMEM;
    for (size_t i = 0; i < q->count; i++)
        e[i] = q->e[(q->head + i) % q->cap];
    free(q->e);
    q->e = e, q->cap = cap, q->head = 0;
    return 0;
}

int corio_fdq_push(corio_fdq *q, int fd, uint64_t mark)
{
    if (q->count == q->cap && grow(q) < 0)
        return -ENOMEM;
    q->e[(q->head + q->count++) % q->cap] = (corio_fdq_entry){fd, mark};
    return 0;
}

int corio_fdq_pop(corio_fdq *q)
{
    int fd = q->e[q->head].fd;
    q->head = (q->head + 1) % q->cap;
    q->count--;
    return fd;
}

void corio_fdq_close_all(corio_fdq *q)
{
    while (q->count)
        close(corio_fdq_pop(q));
    free(q->e);
    *q = (corio_fdq){0};
}
