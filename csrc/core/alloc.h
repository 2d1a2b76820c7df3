/* alloc.h: how the core allocates memory that should count as its
 * owner's (a stream's read buffer, the loop's records): through an
 * allocator with lua_Alloc's contract (p NULL allocates, nsize 0 frees,
 * else reallocates from osize to nsize; NULL on failure), so the Lua
 * binding can count it against the state's memory limit. A NULL
 * corio_alloc means libc. */
#ifndef CORIO_ALLOC_H
#define CORIO_ALLOC_H
#include <stddef.h>
#include <stdlib.h>

typedef void *(*corio_alloc_fn)(void *ud, void *p, size_t osize, size_t nsize);

typedef struct corio_alloc {
    corio_alloc_fn fn;
    void *ud;
    /* One emptied small buffer kept for the next one needed (buf.c): a
     * ping-pong's read buffer is emptied and refilled per message, and an
     * allocator round trip per message costs more than the message's
     * other work in the loop. Per allocator (per loop), so idle streams
     * still hold nothing. */
    void *spare;
    size_t spare_cap;
} corio_alloc;


static inline void *corio_mem(const corio_alloc *a, void *p, size_t osize, size_t nsize)
{
    if (a && a->fn)
        return a->fn(a->ud, p, osize, nsize);
    if (nsize == 0) {
        free(p);
        return NULL;
    }
    return realloc(p, nsize);
}

/* Free the kept buffer (the owner is closing, or changing allocators). */
static inline void corio_alloc_flush(corio_alloc *a)
{
    if (a && a->spare) {
        corio_mem(a, a->spare, a->spare_cap, 0);
        a->spare = NULL;
        a->spare_cap = 0;
    }
}

#endif
