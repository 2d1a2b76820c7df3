/* pool.h: a free list of same-size records, so that records taken and
 * given back on hot paths (a stream's write state) cost no malloc, and an
 * idle object holds none. At most CORIO_POOL_KEEP free records are kept;
 * beyond that they go back to malloc. */
#ifndef CORIO_POOL_H
#define CORIO_POOL_H
#include <stddef.h>

#define CORIO_POOL_KEEP 1024

typedef struct corio_pool {
    void *free;        /* records linked through their first word */
    size_t nfree;
} corio_pool;

/* A zeroed record of size bytes (>= sizeof(void *)), or NULL. Every take
 * from one pool must ask for the same size. */
void *corio_pool_take(corio_pool *p, size_t size);

/* Give r back (NULL is ignored). */
void corio_pool_give(corio_pool *p, void *r);

/* Free the records kept. */
void corio_pool_drain(corio_pool *p);

#endif
