/* waitq.c: the FIFO of waiters (waitq.h), on the core's list. */
#include "waitq.h"

void corio_waitq_push(corio_waitq *q, corio_waiter *w)
{
    w->q = q;
    corio_list_push(&q->list, &w->link);
    q->n++;
}

void corio_waitq_push_front(corio_waitq *q, corio_waiter *w)
{
    w->q = q;
    corio_list_push_front(&q->list, &w->link);
    q->n++;
}

int corio_waitq_remove(corio_waiter *w)
{
    corio_waitq *q = w->q;
    if (!q)
        return 0;
    corio_list_remove(&q->list, &w->link);
    q->n--;
    w->q = NULL;
    return 1;
}

corio_waiter *corio_waitq_pop(corio_waitq *q)
{
    corio_waiter *w = corio_waitq_first(q);
    if (w)
        corio_waitq_remove(w);
    return w;
}
