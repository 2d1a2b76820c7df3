/* slab.h: a small-object allocator without per-block headers.
 *
 * Blocks of up to CORIO_SLAB_MAX bytes come from size classes 16 bytes
 * apart, carved from one reserved range of address space (pages are only
 * backed once touched) and recycled through per-class LIFO free lists.
 * The caller passes the block size back on free, as Lua's allocator
 * protocol does, so a block needs no header: a 64-byte object costs 64
 * bytes, where malloc would take 80. Blocks are 16-byte aligned, like
 * malloc's. Memory is reused, never returned to the system.
 *
 * Not thread-safe: one slab per single-threaded owner (one Lua state). */
#ifndef CORIO_SLAB_H
#define CORIO_SLAB_H
#include <stddef.h>

#define CORIO_SLAB_ALIGN 16
#define CORIO_SLAB_MAX 1024
#define CORIO_SLAB_CLASSES (CORIO_SLAB_MAX / CORIO_SLAB_ALIGN)

typedef struct corio_slab_class {
    void *free;            /* LIFO list linked through the blocks */
    char *next, *end;      /* unused tail of the class's current run */
} corio_slab_class;

typedef struct corio_slab {
    char *base, *top, *limit;   /* the reserved range and its carved part */
    size_t live;                /* bytes in blocks handed out (for stats) */
    corio_slab_class cls[CORIO_SLAB_CLASSES];
} corio_slab;

/* Reserve up to `reserve` bytes of address space (less if the system
 * refuses, down to 64 MiB). 0 or -errno. */
int corio_slab_init(corio_slab *s, size_t reserve);

/* Unmap everything; every block becomes invalid. */
void corio_slab_destroy(corio_slab *s);

/* A block of n bytes (1..CORIO_SLAB_MAX), or NULL when the range is used up. */
void *corio_slab_alloc(corio_slab *s, size_t n);

/* Give back block p, allocated with size n (or with any size of the same
 * class). */
void corio_slab_free(corio_slab *s, void *p, size_t n);

/* Whether p points into the slab's range (so it is one of its blocks). */
static inline int corio_slab_owns(const corio_slab *s, const void *p)
{
    return (const char *)p >= s->base && (const char *)p < s->limit;
}

/* Whether sizes a and b share a class (a block of one serves the other). */
static inline int corio_slab_same_class(size_t a, size_t b)
{
    return (a + CORIO_SLAB_ALIGN - 1) / CORIO_SLAB_ALIGN ==
           (b + CORIO_SLAB_ALIGN - 1) / CORIO_SLAB_ALIGN;
}

#endif
