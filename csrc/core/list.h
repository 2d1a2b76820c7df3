/* list.h: the one intrusive doubly linked list of the core. A node is a
 * corio_link embedded in its owner (found back with corio_container_of);
 * a list is its two ends, NULL when empty. Every operation is O(1); a
 * node is in at most one list at a time, and its links are NULL while it
 * is in none. Used by the waiter queues, the loop's handles and the epoll
 * backend's per-fd and completed queues. */
#ifndef CORIO_LIST_H
#define CORIO_LIST_H
#include <stddef.h>

typedef struct corio_link {
    struct corio_link *next, *prev;
} corio_link;

typedef struct corio_list {
    corio_link *head, *tail;
} corio_list;

/* Append n (in no list) at the tail. */
static inline void corio_list_push(corio_list *l, corio_link *n)
{
    n->next = NULL;
    n->prev = l->tail;
    if (l->tail)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
}

/* Put n (in no list) at the head. */
static inline void corio_list_push_front(corio_list *l, corio_link *n)
{
    n->prev = NULL;
    n->next = l->head;
    if (l->head)
        l->head->prev = n;
    else
        l->tail = n;
    l->head = n;
}

/* Take n, which is in l, out of it. */
static inline void corio_list_remove(corio_list *l, corio_link *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
    n->next = n->prev = NULL;
}

/* Take the head out and return it, or NULL when l is empty. */
static inline corio_link *corio_list_pop(corio_list *l)
{
    corio_link *n = l->head;
    if (n)
        corio_list_remove(l, n);
    return n;
}

#endif
