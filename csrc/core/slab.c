/* slab.c: header-less size-class allocator over one reserved range. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include "slab.h"

/* Each class takes address space in runs of this size; only the pages it
 * writes are ever backed, so a class that is barely used costs a page. */
#define RUN_BYTES (64u * 1024u)
#define MIN_RESERVE ((size_t)64 << 20)

static size_t class_of(size_t n) { return (n - 1) / CORIO_SLAB_ALIGN; }

int corio_slab_init(corio_slab *s, size_t reserve)
{
    memset(s, 0, sizeof *s);
    /* MAP_NORESERVE: no commit charge up front; where the system refuses a
     * range this large (overcommit off, an address-space limit), halve it. */
    for (; reserve >= MIN_RESERVE; reserve /= 2) {
        void *p = mmap(NULL, reserve, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED) {
            s->base = s->top = p;
            s->limit = s->base + reserve;
            return 0;
        }
    }
    return -ENOMEM;
}

void corio_slab_destroy(corio_slab *s)
{
    if (s->base)
        munmap(s->base, (size_t)(s->limit - s->base));
    memset(s, 0, sizeof *s);
}

/* Give class c a fresh run to carve from; 0 or -ENOMEM. */
static int new_run(corio_slab *s, corio_slab_class *c)
{
    if ((size_t)(s->limit - s->top) < RUN_BYTES)
        return -ENOMEM;
    c->next = s->top;
    c->end = s->top + RUN_BYTES;
    s->top += RUN_BYTES;
    return 0;
}

void *corio_slab_alloc(corio_slab *s, size_t n)
{
    size_t k = class_of(n), sz = (k + 1) * CORIO_SLAB_ALIGN;
    corio_slab_class *c = &s->cls[k];
    void *p = c->free;
    if (p) {
        memcpy(&c->free, p, sizeof(void *));
    } else {
        if ((size_t)(c->end - c->next) < sz && new_run(s, c) < 0)
            return NULL;
        p = c->next;
        c->next += sz;
    }
    s->live += sz;
    return p;
}

void corio_slab_free(corio_slab *s, void *p, size_t n)
{
    size_t k = class_of(n);
    corio_slab_class *c = &s->cls[k];
    memcpy(p, &c->free, sizeof(void *));
    c->free = p;
    s->live -= (k + 1) * CORIO_SLAB_ALIGN;
}
