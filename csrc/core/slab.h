/* slab.h: a small-object allocator without per-block headers.
 *
 * Blocks of up to CORIO_SLAB_MAX bytes come from size classes 16 bytes
 * apart, carved from one reserved range of address space (pages are only
 * backed once touched). The caller passes the block size back on free, as
 * Lua's allocator protocol does, so a block needs no header: a 64-byte
 * object costs 64 bytes, where malloc would take 80. Blocks are 16-byte
 * aligned, like malloc's.
 *
 * The range is cut into runs of CORIO_SLAB_RUN bytes, each serving one
 * class at a time and recycling its freed blocks LIFO. A run whose blocks
 * are all free is kept (backed) until corio_slab_trim gives its pages back
 * to the system; after that any class may reuse it. Alloc and free stay
 * O(1) and make no system call.
 *
 * Not thread-safe: one slab per single-threaded owner (one Lua state). */
#ifndef CORIO_SLAB_H
#define CORIO_SLAB_H
#include <stddef.h>

#define CORIO_SLAB_ALIGN 16
#define CORIO_SLAB_MAX 1024
#define CORIO_SLAB_CLASSES (CORIO_SLAB_MAX / CORIO_SLAB_ALIGN)
#define CORIO_SLAB_RUN ((size_t)64 * 1024)

struct corio_slab_run;   /* per-run bookkeeping, private to slab.c */

typedef struct corio_slab_class {
    struct corio_slab_run *run;       /* current run: allocations come from here */
    struct corio_slab_run *partial;   /* other runs of the class with free blocks */
    char *next, *end;                 /* uncarved tail of the current run */
} corio_slab_class;

typedef struct corio_slab {
    char *base, *top, *limit;   /* the reserved range and its carved part */
    struct corio_slab_run *runs;       /* one entry per run of the range */
    struct corio_slab_run *empty;      /* runs with no live block, still backed */
    struct corio_slab_run *released;   /* runs given back, blank address space */
    size_t live;                /* bytes in blocks handed out (for stats) */
    size_t empty_bytes;         /* bytes in empty runs: what trim would release */
    size_t released_bytes;      /* bytes of the carved part currently released */
    corio_slab_class cls[CORIO_SLAB_CLASSES];
} corio_slab;

/* Reserve up to `reserve` bytes of address space (less if the system
 * refuses, down to 64 MiB). 0 or -errno. */
int corio_slab_init(corio_slab *s, size_t reserve);

/* Unmap everything; every block becomes invalid. */
void corio_slab_destroy(corio_slab *s);

/* A block of n bytes (1..CORIO_SLAB_MAX), or NULL when the range is used up. */
void *corio_slab_alloc(corio_slab *s, size_t n);

/* Give back block p. n is the size it was allocated with, another size of
 * its class, or any smaller size (Lua frees a block it shrank in place
 * with the smaller size): the block returns to its own run and the live
 * count drops by what it took. A free into a run with no live block (a
 * double free, a pointer the slab did not hand out) fails an assert. */
void corio_slab_free(corio_slab *s, void *p, size_t n);

/* Give the pages of every empty run back to the system (madvise
 * MADV_DONTNEED); returns the bytes released. Call it when idle, e.g.
 * after a full garbage collection: it makes a system call per span of
 * adjacent empty runs (a few microseconds per run, mostly the kernel
 * freeing pages; nothing when no run is empty), and released pages fault
 * in again when reused, which is why frees never release on their own.
 * A class's current run is kept even when empty, so up to one run per
 * class stays backed. */
size_t corio_slab_trim(corio_slab *s);

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

/* Address space the slab may hold resident: runs carved and not released
 * (an upper bound on its memory: live blocks, free blocks, empty runs). */
static inline size_t corio_slab_footprint(const corio_slab *s)
{
    return (size_t)(s->top - s->base) - s->released_bytes;
}

#endif
