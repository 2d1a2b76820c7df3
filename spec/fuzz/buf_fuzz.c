/* buf_fuzz.c: libFuzzer target for the read buffer (csrc/core/buf.c).
 *
 * The input is a little program. Its first byte picks the allocator: libc
 * through a NULL corio_alloc, libc with the kept spare buffer, or a
 * counting allocator (with the spare) that fails when the program says
 * so. Each following op byte appends bytes (taken from the input, or a
 * long run that makes the buffer grow), consumes, finds a byte, frees,
 * flushes the spare, arms allocation failures, or appends an impossible
 * size. After every op the buffer is checked against a model, a plain
 * byte array:
 * - the unread bytes and their count are the model's;
 * - an empty buffer holds no memory (data NULL, cap 0), a non-empty one
 *   fits its storage (off + len <= cap);
 * - a failed append (-ENOMEM) leaves the unread bytes as they were;
 * - find returns what memchr finds in the model, and adds to
 *   corio__buf_scanned exactly the bytes up to the hit (or to the end);
 * - the counting allocator sees the lua_Alloc contract kept (osize is the
 *   block's size), never more than two live blocks (the buffer's and the
 *   spare), and none once the buffer is freed and the spare flushed: no
 *   leak. LeakSanitizer watches the libc modes.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "buf.h"
#include "fuzz.h"

#define MODEL_MAX (64 * 1024)      /* the model's bound on unread bytes */
#define ALLOC_LIMIT (1024 * 1024)  /* the counting allocator refuses more */
#define BLOCKS 4

/* ---- the counting allocator ---- */

typedef struct block {
    void *p;
    size_t size;
} block;

static struct {
    block live[BLOCKS];
    int nlive;
    int fail;          /* allocations still to refuse */
} ca;

static block *find_block(void *p)
{
    for (int i = 0; i < ca.nlive; i++)
        if (ca.live[i].p == p)
            return &ca.live[i];
    return NULL;
}

/* lua_Alloc's contract, checked: a block is freed or resized with the
 * size it has. */
static void *count_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
    (void)ud;
    block *b = p ? find_block(p) : NULL;
    CHECK(!p || b, "unknown block %p", p);
    CHECK(!b || b->size == osize, "osize %zu for a block of %zu", osize, b ? b->size : 0);
    if (nsize == 0) {
        if (b) {
            free(p);
            *b = ca.live[--ca.nlive];
        }
        return NULL;
    }
    if (ca.fail > 0 || nsize > ALLOC_LIMIT) {
        ca.fail -= ca.fail > 0;
        return NULL;   /* the old block, if any, stays as it was */
    }
    CHECK(b || ca.nlive < BLOCKS, "more than %d live blocks", BLOCKS);
    void *q = realloc(p, nsize);
    CHECK(q, "out of memory");
    if (!b)
        b = &ca.live[ca.nlive++];
    b->p = q;
    b->size = nsize;
    return q;
}

/* ---- the model ---- */

static uint8_t model[MODEL_MAX];
static size_t mlen;

static void check_buf(const corio_buf *b, const corio_alloc *a, int counting)
{
    CHECK(b->len == mlen, "len %zu, model %zu", b->len, mlen);
    if (b->len == 0) {
        CHECK(!b->data && b->cap == 0, "empty buffer holds %zu bytes", b->cap);
    } else {
        CHECK(b->data && b->off + b->len <= b->cap, "off %zu + len %zu > cap %zu",
              b->off, b->len, b->cap);
        CHECK(!memcmp(corio_buf_peek(b), model, mlen), "contents differ from the model");
    }
    if (!counting)
        return;
    int want = (b->data != NULL) + (a->spare != NULL);
    CHECK(ca.nlive == want, "%d live blocks, %d expected", ca.nlive, want);
    if (b->data) {
        block *bl = find_block(b->data);
        CHECK(bl && bl->size == b->cap, "cap %zu, block %zu", b->cap, bl ? bl->size : 0);
    }
    if (a->spare) {
        block *bl = find_block(a->spare);
        CHECK(bl && bl->size == a->spare_cap, "spare_cap %zu, block %zu", a->spare_cap,
              bl ? bl->size : 0);
    }
}

/* Append n bytes at p, in the buffer and (if it worked) in the model. */
static void append(corio_buf *b, corio_alloc *a, const void *p, size_t n)
{
    if (mlen + n > MODEL_MAX)
        return;
    int rc = corio_buf_append(b, p, n, a);
    CHECK(rc == 0 || rc == -ENOMEM, "append returned %d", rc);
    CHECK(rc == 0 || n > 0, "an empty append failed");
    if (rc == 0) {
        memcpy(model + mlen, p, n);
        mlen += n;
    }
}

static void consume(corio_buf *b, corio_alloc *a, size_t n)
{
    corio_buf_consume(b, n, a);
    size_t k = n < mlen ? n : mlen;
    memmove(model, model + k, mlen - k);
    mlen -= k;
}

static void find(corio_buf *b, size_t from, char c)
{
    size_t before = corio__buf_scanned;
    long got = corio_buf_find(b, from, c);
    const uint8_t *hit = from < mlen ? memchr(model + from, (uint8_t)c, mlen - from) : NULL;
    long want = hit ? (long)(hit - model) : -1;
    size_t scanned = from >= mlen ? 0 : hit ? (size_t)want + 1 - from : mlen - from;
    CHECK(got == want, "find(%zu, %d) = %ld, model %ld", from, c, got, want);
    CHECK(corio__buf_scanned - before == scanned, "find scanned %zu bytes, model %zu",
          corio__buf_scanned - before, scanned);
}

enum { OP_APPEND, OP_RUN, OP_CONSUME, OP_FIND, OP_FREE, OP_FLUSH, OP_FAIL, OP_HUGE, OPS };

/* One op of the program. */
static void step(fz_in *in, corio_buf *b, corio_alloc *a, int counting)
{
    static uint8_t run[8192];
    size_t n;
    switch (fz_u8(in) % OPS) {
    case OP_APPEND: {
        const uint8_t *p = fz_bytes(in, fz_u8(in) % 65, &n);
        append(b, a, p, n);
        break;
    }
    case OP_RUN: {   /* a long append: growth past the spare, compaction */
        n = fz_u16(in) % sizeof run;
        uint8_t x = fz_u8(in);
        for (size_t i = 0; i < n; i++)
            run[i] = (uint8_t)(x + i * 7);
        append(b, a, run, n);
        break;
    }
    case OP_CONSUME:   /* sometimes more than is there */
        consume(b, a, fz_u16(in) % (mlen + 3));
        break;
    case OP_FIND: {
        size_t from = fz_u16(in) % (mlen + 3);
        find(b, from, (char)fz_u8(in));
        break;
    }
    case OP_FREE:
        corio_buf_free(b, a);
        mlen = 0;
        break;
    case OP_FLUSH:
        corio_alloc_flush(a);
        break;
    case OP_FAIL:
        if (counting)
            ca.fail = fz_u8(in) % 4;
        break;
    case OP_HUGE:   /* lengths near SIZE_MAX must fail, not wrap */
        /* (only with nothing consumed: with off > 0, off + len + n can
         * wrap in reserve and the append "succeeds"; reported) */
        if (counting && b->off == 0) {
            size_t before = mlen;
            int rc = corio_buf_append(b, run, SIZE_MAX - fz_u8(in), a);
            CHECK(rc == -ENOMEM, "a huge append returned %d", rc);
            CHECK(mlen == before, "a huge append changed the model");
        }
        break;
    }
    check_buf(b, a, counting);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {data, size};
    int mode = fz_u8(&in) % 3;   /* 0 libc, 1 libc + spare, 2 counting + spare */
    corio_alloc al = {mode == 2 ? count_alloc : NULL, NULL, NULL, 0};
    corio_alloc *a = mode ? &al : NULL;
    corio_buf b = {0};
    mlen = 0;
    ca.nlive = ca.fail = 0;
    while (fz_more(&in))
        step(&in, &b, a, mode == 2);
    corio_buf_free(&b, a);
    corio_alloc_flush(a);
    CHECK(!b.data && !b.len && !b.cap && !b.off, "a freed buffer is not empty");
    CHECK(!al.spare, "the spare survived its flush");
    CHECK(ca.nlive == 0, "%d blocks leaked", ca.nlive);
    return 0;
}
