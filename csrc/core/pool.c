/* pool.c: free list of same-size records. */
#include <stdlib.h>
#include <string.h>
#include "pool.h"

void *corio_pool_take(corio_pool *p, size_t size)
{
    void *r = p->free;
    if (!r)
        return calloc(1, size);
    memcpy(&p->free, r, sizeof(void *));
    p->nfree--;
    memset(r, 0, size);
    return r;
}

void corio_pool_give(corio_pool *p, void *r)
{
    if (!r)
        return;
    if (p->nfree >= CORIO_POOL_KEEP) {
        free(r);
        return;
    }
    memcpy(r, &p->free, sizeof(void *));
    p->free = r;
    p->nfree++;
}

void corio_pool_drain(corio_pool *p)
{
    while (p->free) {
        void *r = p->free;
        memcpy(&p->free, r, sizeof(void *));
        free(r);
    }
    p->nfree = 0;
}
