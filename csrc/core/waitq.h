/* waitq.h: the one FIFO queue of waiting tasks, for whatever makes tasks
 * wait their turn: channels, a listener's acceptors, the joiners of a
 * task. A waiter is a small record of the waiting side (embedded in a
 * bigger record of its own, or in a userdata on the task's stack), so a
 * task carries no queue links and a queue costs nothing until someone
 * waits; a cancelled waiter leaves in O(1). */
#ifndef CORIO_WAITQ_H
#define CORIO_WAITQ_H
#include <stddef.h>
#include "list.h"

struct corio_task;
typedef struct corio_waitq corio_waitq;
typedef struct corio_waiter corio_waiter;

struct corio_waiter {
    corio_link link;           /* first */
    corio_waitq *q;            /* the queue it is in, NULL when in none */
    struct corio_task *task;   /* who waits */
};

struct corio_waitq {
    corio_list list;
    size_t n;
};

/* The head waiter, or NULL. */
static inline corio_waiter *corio_waitq_first(const corio_waitq *q)
{
    return (corio_waiter *)q->list.head;
}

/* Append w at the tail (w must be in no queue). */
void corio_waitq_push(corio_waitq *q, corio_waiter *w);

/* Put w at the head: a waiter woken but beaten to what woke it keeps its
 * turn. */
void corio_waitq_push_front(corio_waitq *q, corio_waiter *w);

/* Queue w: at the head when again (a waiter woken but beaten to what
 * woke it keeps its turn), else at the tail. */
static inline void corio_waitq_enqueue(corio_waitq *q, corio_waiter *w, int again)
{
    if (again)
        corio_waitq_push_front(q, w);
    else
        corio_waitq_push(q, w);
}

/* Take w out of its queue; returns whether it was in one. */
int corio_waitq_remove(corio_waiter *w);

/* Take the head waiter out and return it, or NULL. */
corio_waiter *corio_waitq_pop(corio_waitq *q);

#endif
