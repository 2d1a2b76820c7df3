/* slab_test.c: unit tests of the small-object allocator (csrc/core/slab.c).
 *
 * Built and run by `make ctest`. Prints one line per failing check, then
 * "N passed, M failed"; exits 1 on any failure. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(void)
{
    test_sizes();
    test_reuse();
    test_churn();
    test_exhaustion();
    return check_report();
}
