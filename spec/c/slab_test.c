/* slab_test.c: unit tests of the small-object allocator (csrc/core/slab.c).
 *
 * Built and run by `make ctest`. Prints one line per failing check, then
 * "N passed, M failed"; exits 1 on any failure. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "slab.h"
#include "check.h"

/* Every size gets an aligned block inside the range that holds its bytes;
 * blocks never overlap; live counts the rounded sizes. */
static void test_sizes(void)
{
    corio_slab s;
    CHECK(corio_slab_init(&s, (size_t)1 << 30) == 0, "init");
    enum { N = CORIO_SLAB_MAX };
    unsigned char *p[N + 1];
    size_t live = 0;
    for (size_t n = 1; n <= N; n++) {
        p[n] = corio_slab_alloc(&s, n);
        CHECK(p[n] && ((uintptr_t)p[n] % CORIO_SLAB_ALIGN) == 0, "size %zu: %p", n, (void *)p[n]);
        CHECK(corio_slab_owns(&s, p[n]) && corio_slab_owns(&s, p[n] + n - 1), "size %zu not owned", n);
        memset(p[n], (int)(n & 0xff), n);
        live += (n + CORIO_SLAB_ALIGN - 1) / CORIO_SLAB_ALIGN * CORIO_SLAB_ALIGN;
    }
    CHECK(s.live == live, "live %zu, want %zu", s.live, live);
    int intact = 1;
    for (size_t n = 1; n <= N; n++)
        for (size_t i = 0; i < n; i++)
            intact &= p[n][i] == (unsigned char)(n & 0xff);
    CHECK(intact, "a block was overwritten by another");
    for (size_t n = 1; n <= N; n++)
        corio_slab_free(&s, p[n], n);
    CHECK(s.live == 0, "live %zu after freeing all", s.live);
    int x;
    CHECK(!corio_slab_owns(&s, &x) && !corio_slab_owns(&s, NULL), "owns foreign memory");
    corio_slab_destroy(&s);
    CHECK(s.base == NULL && !corio_slab_owns(&s, p[1]), "destroyed slab still owns");
}

/* A freed block is the next one handed out in its class (LIFO), also for
 * another size of the same class; other classes are not affected. */
static void test_reuse(void)
{
    corio_slab s;
    CHECK(corio_slab_init(&s, (size_t)1 << 30) == 0, "init");
    void *a = corio_slab_alloc(&s, 64), *b = corio_slab_alloc(&s, 64);
    void *c = corio_slab_alloc(&s, 200);
    CHECK(a && b && c && a != b, "alloc");
    corio_slab_free(&s, a, 64);
    corio_slab_free(&s, b, 64);
    CHECK(corio_slab_alloc(&s, 50) == b, "LIFO reuse within a class (50 ~ 64)");
    CHECK(corio_slab_alloc(&s, 64) == a, "second reuse");
    void *d = corio_slab_alloc(&s, 64);
    CHECK(d != a && d != b && d != c, "fresh block after the list is empty");
    CHECK(corio_slab_same_class(49, 64) && !corio_slab_same_class(48, 49) &&
          corio_slab_same_class(1, 16) && !corio_slab_same_class(16, 17), "same_class");
    corio_slab_destroy(&s);
}

/* Churn: many blocks of mixed sizes freed and reallocated in random order
 * keep their contents, and the live count returns to zero. */
static void test_churn(void)
{
    corio_slab s;
    CHECK(corio_slab_init(&s, (size_t)1 << 30) == 0, "init");
    enum { N = 20000, ROUNDS = 200000 };
    static unsigned char *blk[N];
    static size_t len[N];
    unsigned seed = 12345;
    int ok = 1;
    for (int r = 0; r < ROUNDS; r++) {
        seed = seed * 1103515245u + 12345u;
        int i = (int)((seed >> 8) % N);
        if (blk[i]) {
            for (size_t k = 0; k < len[i]; k++)
                ok &= blk[i][k] == (unsigned char)i;
            corio_slab_free(&s, blk[i], len[i]);
            blk[i] = NULL;
        } else {
            len[i] = 1 + (seed >> 4) % CORIO_SLAB_MAX;
            blk[i] = corio_slab_alloc(&s, len[i]);
            ok &= blk[i] != NULL;
            if (blk[i])
                memset(blk[i], (unsigned char)i, len[i]);
        }
    }
    CHECK(ok, "a block lost its contents or an alloc failed");
    for (int i = 0; i < N; i++)
        if (blk[i])
            corio_slab_free(&s, blk[i], len[i]);
    CHECK(s.live == 0, "live %zu", s.live);
    corio_slab_destroy(&s);
}

/* When the range is used up, alloc returns NULL (the caller falls back);
 * freed blocks are still served. */
static void test_exhaustion(void)
{
    corio_slab s;
    CHECK(corio_slab_init(&s, (size_t)64 << 20) == 0, "init");
    size_t n = 0;
    void *last = NULL, *p;
    while ((p = corio_slab_alloc(&s, CORIO_SLAB_MAX)) != NULL) {
        last = p;
        n++;
    }
    CHECK(n > 60000 && n <= ((size_t)64 << 20) / CORIO_SLAB_MAX, "%zu blocks in 64 MiB", n);
    CHECK(corio_slab_alloc(&s, CORIO_SLAB_MAX) == NULL, "alloc after exhaustion");
    corio_slab_free(&s, last, CORIO_SLAB_MAX);
    CHECK(corio_slab_alloc(&s, CORIO_SLAB_MAX) == last, "freed block served when full");
    corio_slab_destroy(&s);
}

/* Helpers of the trim tests: runs by index, and blocks filled with a
 * pattern of their own so that an overlap or a stale link shows. */
static size_t run_index(const corio_slab *s, const void *p)
{
    return (size_t)((const char *)p - s->base) / CORIO_SLAB_RUN;
}

/* Pages in a run: the system's page size, not an assumed 4 KiB. */
static size_t run_pages(void)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    return (CORIO_SLAB_RUN + pg - 1) / pg;
}

/* Pages of run i resident in memory, by mincore. */
static size_t resident(const corio_slab *s, size_t i)
{
    size_t pages = run_pages(), n = 0;
    unsigned char vec[pages];
    if (mincore(s->base + i * CORIO_SLAB_RUN, CORIO_SLAB_RUN, vec) < 0)
        return (size_t)-1;
    for (size_t k = 0; k < pages; k++)
        n += vec[k] & 1;
    return n;
}

/* Whether every page holding a byte of blk[0..count) (n bytes each) is
 * resident: the blocks were written, so their pages were, and only trim
 * may drop them. */
static int blocks_resident(unsigned char **blk, size_t count, size_t n)
{
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    int ok = 1;
    for (size_t i = 0; i < count; i++) {
        uintptr_t first = (uintptr_t)blk[i] / pg, last = ((uintptr_t)blk[i] + n - 1) / pg;
        unsigned char vec[2];   /* a block of up to 1 KiB spans at most two pages */
        ok &= mincore((void *)(first * pg), (last - first + 1) * pg, vec) == 0 &&
              (vec[0] & 1) && (first == last || (vec[1] & 1));
    }
    return ok;
}

static int fill(corio_slab *s, unsigned char **blk, size_t count, size_t n, int seed)
{
    int ok = 1;
    for (size_t i = 0; i < count; i++) {
        blk[i] = corio_slab_alloc(s, n);
        ok &= blk[i] != NULL;
        if (blk[i])
            memset(blk[i], (int)((seed + i) & 0xff), n);
    }
    return ok;
}

static int intact(unsigned char **blk, size_t count, size_t n, int seed)
{
    int ok = 1;
    for (size_t i = 0; i < count; i++)
        for (size_t k = 0; k < n; k++)
            ok &= blk[i][k] == (unsigned char)((seed + i) & 0xff);
    return ok;
}

static void free_all(corio_slab *s, unsigned char **blk, size_t count, size_t n)
{
    for (size_t i = 0; i < count; i++)
        corio_slab_free(s, blk[i], n);
}

/* 19,000 strings of 96 bytes freed at once: frees release nothing, trim
 * gives back every run but the class's current one, whose pages leave
 * memory; the blocks are then served again from those runs, intact. A run
 * holds RUN / 96 blocks (its tail too short for one more is not used). */
static void test_trim_releases(void)
{
    corio_slab s;
    CHECK(corio_slab_init(&s, (size_t)1 << 30) == 0, "init");
    enum { N = 19000, SZ = 96 };
    static unsigned char *blk[N];
    CHECK(fill(&s, blk, N, SZ, 1), "fill");
    size_t runs = run_index(&s, s.top), cur = run_index(&s, blk[N - 1]);
    size_t per = CORIO_SLAB_RUN / SZ;
    CHECK(runs == (N + per - 1) / per && cur == runs - 1, "%zu runs", runs);
    free_all(&s, blk, N, SZ);
    CHECK(blocks_resident(blk, N, SZ), "frees alone released pages");
    size_t gone = 0;
    CHECK(s.empty_bytes == (runs - 1) * CORIO_SLAB_RUN, "empty %zu", s.empty_bytes);
    size_t got = corio_slab_trim(&s);
    CHECK(got == (runs - 1) * CORIO_SLAB_RUN, "trim released %zu", got);
    for (size_t i = 0; i < runs; i++)
        gone += resident(&s, i) == 0;
    CHECK(gone == runs - 1 && resident(&s, cur) > 0, "%zu runs left memory", gone);
    CHECK(s.empty_bytes == 0 && s.released_bytes == got, "counters after trim");
    CHECK(corio_slab_footprint(&s) == CORIO_SLAB_RUN, "footprint %zu", corio_slab_footprint(&s));
    CHECK(corio_slab_trim(&s) == 0, "second trim releases nothing");
    char *top = s.top;
    CHECK(fill(&s, blk, N, SZ, 2) && intact(blk, N, SZ, 2), "refilled blocks intact");
    CHECK(s.top == top && s.released_bytes == 0, "released runs reused, none carved");
    CHECK(s.live == (size_t)N * SZ, "live %zu", s.live);
    corio_slab_destroy(&s);
}

/* Classes side by side: freeing one class releases only its runs; the
 * others' blocks stay intact and resident. */
static void test_trim_mixed(void)
{
    corio_slab s;
    CHECK(corio_slab_init(&s, (size_t)1 << 30) == 0, "init");
    enum { A = 10000, B = 1000, C = 300 };   /* 3, 4 and 5 runs */
    static unsigned char *a[A], *b[B], *c[C];
    for (int i = 0; i < 10; i++)
        CHECK(fill(&s, a + i * A / 10, A / 10, 16, i) && fill(&s, b + i * B / 10, B / 10, 200, i) &&
              fill(&s, c + i * C / 10, C / 10, 1000, i), "fill round %d", i);
    free_all(&s, b, B, 200);
    CHECK(corio_slab_trim(&s) == 3 * CORIO_SLAB_RUN, "trim of the 200-byte class");
    int ok = 1;
    for (int i = 0; i < 10; i++)
        ok &= intact(a + i * A / 10, A / 10, 16, i) && intact(c + i * C / 10, C / 10, 1000, i);
    CHECK(ok, "other classes' blocks intact");
    CHECK(resident(&s, run_index(&s, a[0])) > 0 && resident(&s, run_index(&s, c[0])) > 0,
          "other classes' runs resident");
    free_all(&s, a, A, 16);
    free_all(&s, c, C, 1000);
    CHECK(corio_slab_trim(&s) == 6 * CORIO_SLAB_RUN, "trim of the rest");
    CHECK(s.live == 0, "live %zu", s.live);
    corio_slab_destroy(&s);
}

/* A run with one live block is not released; it is once that block goes.
 * The current run is never released, even empty. */
static void test_trim_partial(void)
{
    corio_slab s;
    CHECK(corio_slab_init(&s, (size_t)1 << 30) == 0, "init");
    enum { PER = CORIO_SLAB_RUN / 64, N = 3 * PER };   /* runs 0, 1, 2 (current) */
    static unsigned char *blk[N];
    CHECK(fill(&s, blk, N, 64, 7), "fill");
    CHECK(run_index(&s, blk[0]) == 0 && run_index(&s, blk[PER]) == 1 &&
          run_index(&s, blk[N - 1]) == 2, "three runs in order");
    for (size_t i = 0; i < 2 * PER; i++)
        if (i != 5)
            corio_slab_free(&s, blk[i], 64);
    CHECK(corio_slab_trim(&s) == CORIO_SLAB_RUN, "only the empty run released");
    CHECK(resident(&s, 0) > 0 && resident(&s, 1) == 0, "run 0 kept, run 1 gone");
    CHECK(intact(blk + 5, 1, 64, 7 + 5), "the live block survived");
    corio_slab_free(&s, blk[5], 64);
    free_all(&s, blk + 2 * PER, PER, 64);
    CHECK(corio_slab_trim(&s) == CORIO_SLAB_RUN, "run 0 released, current run kept");
    CHECK(resident(&s, 0) == 0 && resident(&s, 2) > 0, "residency after the second trim");
    corio_slab_destroy(&s);
}

/* Runs one class gave back serve another class (a fresh one, and one
 * with runs of its own), carved afresh: no stale link from the old class. */
static void test_trim_other_class(void)
{
    corio_slab s;
    CHECK(corio_slab_init(&s, (size_t)1 << 30) == 0, "init");
    enum { A = 3 * (CORIO_SLAB_RUN / 48), B = 2 * (CORIO_SLAB_RUN / 512) };
    static unsigned char *a[A], *b[B];
    CHECK(fill(&s, a, A, 48, 3), "fill 48");
    free_all(&s, a, A, 48);
    CHECK(corio_slab_trim(&s) == 2 * CORIO_SLAB_RUN, "trim");
    char *top = s.top;
    CHECK(fill(&s, b, B, 512, 4) && intact(b, B, 512, 4), "512-byte blocks in released runs");
    CHECK(s.top == top && run_index(&s, b[0]) != run_index(&s, b[B - 1]), "reused, not carved");
    CHECK(fill(&s, a, A, 48, 5) && intact(a, A, 48, 5) && intact(b, B, 512, 4),
          "48-byte class served again");
    corio_slab_destroy(&s);
}

/* Runs emptied in either address order, with a live run between them:
 * each empty run is released (trim gathers neighbours into one call), the
 * run in the middle is not. */
static void test_trim_spans(void)
{
    corio_slab s;
    CHECK(corio_slab_init(&s, (size_t)1 << 30) == 0, "init");
    enum { PER = CORIO_SLAB_RUN / 256, N = 6 * PER };   /* runs 0..5, 5 current */
    static unsigned char *blk[N];
    CHECK(fill(&s, blk, N, 256, 9), "fill");
    for (size_t i = N; i-- > 0;)
        if (i != 2 * PER + 1)
            corio_slab_free(&s, blk[i], 256);
    CHECK(corio_slab_trim(&s) == 4 * CORIO_SLAB_RUN, "four runs released");
    size_t gone = 0;
    for (size_t i = 0; i < 5; i++)
        gone += resident(&s, i) == 0;
    CHECK(gone == 4 && resident(&s, 2) > 0, "runs 0, 1, 3, 4 gone, 2 kept");
    CHECK(intact(blk + 2 * PER + 1, 1, 256, 9 + 2 * PER + 1), "the live block survived");
    corio_slab_destroy(&s);
}

/* Whether AddressSanitizer is on: gcc defines __SANITIZE_ADDRESS__, clang
 * answers __has_feature (which gcc before 14 lacks, hence the nesting). */
#if defined(__SANITIZE_ADDRESS__)
#define SLAB_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_TEST_ASAN 1
#endif
#endif
#ifndef SLAB_TEST_ASAN
#define SLAB_TEST_ASAN 0
#endif

/* Where the system refuses to drop pages (here a locked run), trim
 * releases the others and keeps that run empty, for a later trim. Not
 * under ASan, whose mlock does nothing. */
static void test_trim_refused(void)
{
#if SLAB_TEST_ASAN
    printf("skip test_trim_refused: mlock does nothing under ASan\n");
    return;
#endif
    corio_slab s;
    CHECK(corio_slab_init(&s, (size_t)1 << 30) == 0, "init");
    enum { PER = CORIO_SLAB_RUN / 512, N = 4 * PER };   /* runs 0..3, 3 current */
    static unsigned char *blk[N];
    CHECK(fill(&s, blk, N, 512, 0), "fill");
    if (mlock(s.base + CORIO_SLAB_RUN, CORIO_SLAB_RUN) < 0) {
        printf("skip test_trim_refused: mlock not permitted\n");
        corio_slab_destroy(&s);
        return;
    }
    free_all(&s, blk, PER, 512);                  /* run 0 */
    free_all(&s, blk + 2 * PER, PER, 512);        /* run 2 */
    free_all(&s, blk + PER, PER, 512);            /* run 1 (locked), between them */
    CHECK(corio_slab_trim(&s) == 2 * CORIO_SLAB_RUN, "the unlocked runs released");
    CHECK(s.empty_bytes == CORIO_SLAB_RUN && resident(&s, 1) > 0, "the locked run kept");
    munlock(s.base + CORIO_SLAB_RUN, CORIO_SLAB_RUN);
    CHECK(corio_slab_trim(&s) == CORIO_SLAB_RUN && resident(&s, 1) == 0, "released once unlocked");
    CHECK(fill(&s, blk, 3 * PER, 512, 1) && intact(blk, 3 * PER, 512, 1), "all three reused");
    corio_slab_destroy(&s);
}

/* Alloc/free churn, on the current run and across a run boundary (a run
 * emptying and refilling), never releases anything by itself. */
static void test_churn_keeps_runs(void)
{
    corio_slab s;
    CHECK(corio_slab_init(&s, (size_t)1 << 30) == 0, "init");
    void *x = corio_slab_alloc(&s, 100), *y = x;
    for (int i = 0; i < 100000 && y == x; i++) {
        corio_slab_free(&s, x, 100);
        y = corio_slab_alloc(&s, 100);
    }
    CHECK(y == x && corio_slab_trim(&s) == 0 && resident(&s, run_index(&s, x)) > 0,
          "churn on the current run");
    corio_slab_free(&s, x, 100);
    CHECK(corio_slab_trim(&s) == 0 && s.empty_bytes == 0, "empty current run kept");
    enum { PER = CORIO_SLAB_RUN / CORIO_SLAB_MAX };
    unsigned char *blk[PER + 1];
    CHECK(fill(&s, blk, PER + 1, CORIO_SLAB_MAX, 0), "fill");
    int ok = 1;
    for (int r = 0; r < 1000; r++) {
        free_all(&s, blk, PER, CORIO_SLAB_MAX);
        ok &= fill(&s, blk, PER, CORIO_SLAB_MAX, r);
    }
    CHECK(ok, "an alloc failed during churn");
    CHECK(intact(blk, PER, CORIO_SLAB_MAX, 999), "blocks intact after churn");
    CHECK(blocks_resident(blk, PER + 1, CORIO_SLAB_MAX), "churn gave back pages");
    corio_slab_destroy(&s);
}

/* Blocks of mixed sizes, and whether any two overlap (sorted by address,
 * each must end before the next begins). */
typedef struct sized { unsigned char *p; size_t n; } sized;

static int by_address(const void *a, const void *b)
{
    const sized *x = a, *y = b;
    return (x->p > y->p) - (x->p < y->p);
}

static int disjoint(sized *blk, size_t count)
{
    int ok = 1;
    qsort(blk, count, sizeof *blk, by_address);
    for (size_t i = 1; i < count; i++)
        ok &= blk[i - 1].p + blk[i - 1].n <= blk[i].p;
    return ok;
}

/* Lua frees a block it shrank in place (alloc.c, out of memory) with the
 * smaller size, of a smaller class: the live count still returns to where
 * it was, and the run, emptied, trimmed and reused by both classes, hands
 * out no block twice. */
static void test_free_smaller_size(void)
{
    corio_slab s;
    CHECK(corio_slab_init(&s, (size_t)1 << 30) == 0, "init");
    void *keep = corio_slab_alloc(&s, 100);
    size_t start = s.live;
    void *p = corio_slab_alloc(&s, 200);
    CHECK(keep && p && !corio_slab_same_class(200, 100), "alloc");
    corio_slab_free(&s, p, 100);
    CHECK(s.live == start, "live %zu, want %zu", s.live, start);
    /* Runs 1 and 2 full, 3 current. Refilled with M of each size, the
     * 200-byte class fills run 3 then a released run, and the 100-byte
     * class outgrows run 0 into the other released run. */
    enum { PER = CORIO_SLAB_RUN / 208, N = 2 * PER + 1, M = 2 * PER };
    static unsigned char *big[N];
    CHECK(fill(&s, big, N, 200, 1), "fill");
    for (size_t i = 0; i < N; i++)
        corio_slab_free(&s, big[i], 100);
    CHECK(s.live == start, "live %zu after %d frees, want %zu", s.live, N, start);
    CHECK(corio_slab_trim(&s) == 2 * CORIO_SLAB_RUN, "the emptied runs released");
    char *top = s.top;
    static unsigned char *a[M], *b[M];
    static sized all[2 * M];
    int ok = 1;
    for (size_t i = 0; i < M; i++) {
        ok &= fill(&s, a + i, 1, 200, (int)i) & fill(&s, b + i, 1, 100, (int)i + 7);
        all[2 * i] = (sized){ a[i], 200 };
        all[2 * i + 1] = (sized){ b[i], 100 };
    }
    CHECK(ok, "refill");
    CHECK(s.released_bytes == 0 && s.top == top, "both classes reuse the released runs");
    CHECK(s.live == start + (size_t)M * (208 + 112), "live %zu after refill", s.live);
    int same = 1;
    for (size_t i = 0; i < M; i++)
        same &= intact(a + i, 1, 200, (int)i) & intact(b + i, 1, 100, (int)i + 7);
    CHECK(same, "a block lost its contents");
    CHECK(disjoint(all, 2 * M), "two live blocks overlap");
    corio_slab_destroy(&s);
}

/* A range used up by one class, emptied and trimmed, serves another class
 * to its end. */
static void test_trim_whole_range(void)
{
    corio_slab s;
    CHECK(corio_slab_init(&s, (size_t)64 << 20) == 0, "init");
    enum { MAX = ((size_t)64 << 20) / CORIO_SLAB_MAX };
    size_t runs = ((size_t)64 << 20) / CORIO_SLAB_RUN, n = 0;
    static void *big[MAX];
    while (n < MAX && (big[n] = corio_slab_alloc(&s, CORIO_SLAB_MAX)) != NULL)
        n++;
    CHECK(n == MAX && !corio_slab_alloc(&s, CORIO_SLAB_MAX), "%zu blocks fill the range", n);
    for (size_t i = 0; i < n; i++)
        corio_slab_free(&s, big[i], CORIO_SLAB_MAX);
    CHECK(corio_slab_trim(&s) == (runs - 1) * CORIO_SLAB_RUN, "trim of a full range");
    size_t small = 0;
    unsigned char *p;
    while ((p = corio_slab_alloc(&s, 16)) != NULL) {
        memset(p, 0xab, 16);
        small++;
    }
    CHECK(small == (runs - 1) * (CORIO_SLAB_RUN / 16), "%zu 16-byte blocks", small);
    CHECK(corio_slab_alloc(&s, CORIO_SLAB_MAX) != NULL, "the kept run still serves its class");
    corio_slab_destroy(&s);
}

int main(void)
{
    test_sizes();
    test_reuse();
    test_churn();
    test_exhaustion();
    test_trim_releases();
    test_trim_mixed();
    test_trim_partial();
    test_trim_other_class();
    test_trim_spans();
    test_trim_refused();
    test_churn_keeps_runs();
    test_free_smaller_size();
    test_trim_whole_range();
    return check_report();
}
