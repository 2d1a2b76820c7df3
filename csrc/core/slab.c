/* slab.c: header-less size-class allocator over one reserved range, cut
 * into runs whose pages go back to the system, on trim, once empty. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include "slab.h"

#define RUN_BYTES CORIO_SLAB_RUN
#define MIN_RESERVE ((size_t)64 << 20)

/* Where a run stands; a free into the run looks at it to know whether the
 * run must change lists. */
enum { RUN_UNUSED, RUN_CURRENT, RUN_FULL, RUN_PARTIAL, RUN_EMPTY, RUN_RELEASED };

/* Kept apart from the run's pages, so that an empty run holds nothing but
 * free blocks and its pages can go without losing any bookkeeping. */
typedef struct corio_slab_run {
    void *free;                          /* its freed blocks, linked through them */
    struct corio_slab_run *next, *prev;  /* on a partial, empty or released list */
    uint32_t live;                       /* blocks handed out */
    uint8_t cls, state;
} corio_slab_run;

static size_t class_of(size_t n) { return (n - 1) / CORIO_SLAB_ALIGN; }

static size_t class_bytes(size_t k) { return (k + 1) * CORIO_SLAB_ALIGN; }

static corio_slab_run *run_of(const corio_slab *s, const void *p)
{
    return &s->runs[(size_t)((const char *)p - s->base) / RUN_BYTES];
}

static char *run_start(const corio_slab *s, const corio_slab_run *r)
{
    return s->base + (size_t)(r - s->runs) * RUN_BYTES;
}

/* Doubly linked, so that a partial run that empties leaves its class's
 * list in O(1). */
static void list_push(corio_slab_run **head, corio_slab_run *r)
{
    r->prev = NULL;
    r->next = *head;
    if (*head)
        (*head)->prev = r;
    *head = r;
}

static void list_remove(corio_slab_run **head, corio_slab_run *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        *head = r->next;
    if (r->next)
        r->next->prev = r->prev;
}

static corio_slab_run *list_pop(corio_slab_run **head)
{
    corio_slab_run *r = *head;
    if (r)
        list_remove(head, r);
    return r;
}

/* MAP_NORESERVE: no commit charge up front, pages backed when touched. */
static void *reserve_range(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* With transparent huge pages set to "always", a run's first touch could
 * back 2 MiB at once and khugepaged could collapse released runs back into
 * huge pages, undoing trim. A hint: where it fails, the slab still works. */
static void no_huge_pages(void *p, size_t n)
{
#ifdef MADV_NOHUGEPAGE
    (void)madvise(p, n, MADV_NOHUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

static size_t table_bytes(size_t reserve)
{
    return reserve / RUN_BYTES * sizeof(corio_slab_run);
}

int corio_slab_init(corio_slab *s, size_t reserve)
{
    memset(s, 0, sizeof *s);
    /* Where the system refuses a range this large (overcommit off, an
     * address-space limit), halve it. The run table is reserved the same
     * way, so only the entries of runs in use cost memory. */
    for (; reserve >= MIN_RESERVE; reserve /= 2) {
        char *p = reserve_range(reserve);
        corio_slab_run *runs = p ? reserve_range(table_bytes(reserve)) : NULL;
        if (runs) {
            s->base = s->top = p;
            s->limit = s->base + reserve;
            s->runs = runs;
            no_huge_pages(p, reserve);
            return 0;
        }
        if (p)
            munmap(p, reserve);
    }
    return -ENOMEM;
}

void corio_slab_destroy(corio_slab *s)
{
    if (s->base) {
        size_t reserve = (size_t)(s->limit - s->base);
        munmap(s->base, reserve);
        munmap(s->runs, table_bytes(reserve));
    }
    memset(s, 0, sizeof *s);
}

/* A run with nothing in it, best one whose pages are still backed. Its
 * old free list is dropped (a released run's pages read as zeros): the
 * run is carved afresh. NULL when the range is used up. */
static corio_slab_run *blank_run(corio_slab *s)
{
    corio_slab_run *r;
    if ((r = list_pop(&s->empty)) != NULL) {
        s->empty_bytes -= RUN_BYTES;
    } else if ((r = list_pop(&s->released)) != NULL) {
        s->released_bytes -= RUN_BYTES;
    } else if ((size_t)(s->limit - s->top) >= RUN_BYTES) {
        r = run_of(s, s->top);
        s->top += RUN_BYTES;
    } else {
        return NULL;
    }
    r->free = NULL;
    r->live = 0;
    return r;
}

/* The current run of class k is full: make another one current, first a
 * partial run of the class (its blocks were all carved while it was
 * current, so it has no tail), else a blank run. 0 or -ENOMEM, in which
 * case the full run stays current and is served from as blocks come back. */
static int next_run(corio_slab *s, corio_slab_class *c, size_t k)
{
    corio_slab_run *r = list_pop(&c->partial);
    if (r) {
        c->next = c->end = run_start(s, r) + RUN_BYTES;
    } else if ((r = blank_run(s)) != NULL) {
        r->cls = (uint8_t)k;
        c->next = run_start(s, r);
        c->end = c->next + RUN_BYTES;
    } else {
        return -ENOMEM;
    }
    if (c->run)
        c->run->state = RUN_FULL;
    r->state = RUN_CURRENT;
    c->run = r;
    return 0;
}

void *corio_slab_alloc(corio_slab *s, size_t n)
{
    size_t k = class_of(n), sz = class_bytes(k);
    corio_slab_class *c = &s->cls[k];
    corio_slab_run *r = c->run;
    void *p;
    if (r && (p = r->free) != NULL) {
        memcpy(&r->free, p, sizeof(void *));
    } else if ((size_t)(c->end - c->next) >= sz) {
        p = c->next;
        c->next += sz;
    } else {
        return next_run(s, c, k) < 0 ? NULL : corio_slab_alloc(s, n);
    }
    r->live++;
    s->live += sz;
    return p;
}

/* A free made full run r partial, or partial run r empty. An empty run
 * waits on the empty list for trim, not released here, so that churn
 * across a run boundary costs no system call; the current run stays
 * current even when empty, for the same reason. */
static void run_changed(corio_slab *s, corio_slab_run *r)
{
    corio_slab_run **partial = &s->cls[r->cls].partial;
    if (r->state == RUN_CURRENT)
        return;
    if (r->state == RUN_PARTIAL)
        list_remove(partial, r);
    if (r->live) {
        r->state = RUN_PARTIAL;
        list_push(partial, r);
    } else {
        r->state = RUN_EMPTY;
        list_push(&s->empty, r);
        s->empty_bytes += RUN_BYTES;
    }
}

/* The live count goes by the run's class, not by n: a block Lua shrank in
 * place (alloc.c keeps it when memory runs out) comes back with a smaller
 * size, and must still count what it took. A run with no live block has
 * nothing to give back: the block is freed twice, or not the slab's (a
 * double free into a run with other live blocks goes unseen: O(1) has no
 * way to tell). */
void corio_slab_free(corio_slab *s, void *p, size_t n)
{
    assert(corio_slab_owns(s, p) && (char *)p < s->top);
    corio_slab_run *r = run_of(s, p);
    assert(r->live > 0 && r->state != RUN_EMPTY && r->state != RUN_RELEASED);
    assert(class_of(n) <= r->cls);
    (void)n;
    memcpy(p, &r->free, sizeof(void *));
    r->free = p;
    s->live -= class_bytes(r->cls);
    if (--r->live == 0 || r->state == RUN_FULL)
        run_changed(s, r);
}

/* Release the runs [a, b), adjacent, empty and off every list, in one
 * system call: onto the released list. Where the system refuses (it
 * cannot on a private anonymous range unless the host locked memory),
 * the span is retried run by run and the refused runs go back onto the
 * empty list. Bytes released. */
static size_t release_span(corio_slab *s, corio_slab_run *a, corio_slab_run *b)
{
    size_t bytes = (size_t)(b - a) * RUN_BYTES, n = 0;
    int ok = madvise(run_start(s, a), bytes, MADV_DONTNEED) == 0;
    if (!ok && b - a > 1) {
        for (corio_slab_run *r = a; r < b; r++)
            n += release_span(s, r, r + 1);
        return n;
    }
    for (corio_slab_run *r = a; r < b; r++) {
        r->state = ok ? RUN_RELEASED : RUN_EMPTY;
        list_push(ok ? &s->released : &s->empty, r);
    }
    return ok ? bytes : 0;
}

/* Runs that emptied one after another are often neighbours (blocks
 * allocated together die together): gathering them into spans halves the
 * cost of a trim. */
size_t corio_slab_trim(corio_slab *s)
{
    corio_slab_run *r = s->empty, *next, *a = NULL, *b = NULL;
    size_t n = 0;
    for (s->empty = NULL; r; r = next) {
        next = r->next;
        if (r == b) {
            b++;
        } else if (r + 1 == a) {
            a--;
        } else {
            if (a)
                n += release_span(s, a, b);
            a = r;
            b = r + 1;
        }
    }
    if (a)
        n += release_span(s, a, b);
    s->empty_bytes -= n;
    s->released_bytes += n;
    return n;
}
