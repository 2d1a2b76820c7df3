/* waitq.c: the FIFO of waiters (waitq.h). */
#include "waitq.h"

void corio_waitq_push(corio_waitq *q, corio_waiter *w)
{
    w->q = q;
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    q->n++;
}

void corio_waitq_push_front(corio_waitq *q, corio_waiter *w)
{
    w->q = q;
    w->prev = NULL;
    w->next = q->head;
    if (q->head)
        q->head->prev = w;
    else
        q->tail = w;
    q->head = w;
    q->n++;
}

int corio_waitq_remove(corio_waiter *w)
{
    corio_waitq *q = w->q;
    if (!q)
        return 0;
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    q->n--;
    w->q = NULL;
    w->next = w->prev = NULL;
    return 1;
}

corio_waiter *corio_waitq_pop(corio_waitq *q)
{
    corio_waiter *w = q->head;
    if (w)
        corio_waitq_remove(w);
    return w;
}
