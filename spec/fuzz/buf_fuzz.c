/* buf_fuzz.c: libFuzzer target for the read buffer (csrc/core/buf.c).
 *
 * The input is a little program. Its first byte picks the allocator: libc
 * through a NULL corio_alloc, libc with the kept spare buffer, or a
 * counting allocator (with the spare) that fails when the program says
 * so. Two buffers share it, as a loop's streams share its spare. Each
 * following op byte picks a buffer and appends bytes (taken from the
 * input, or a long run that makes the buffer grow), consumes, finds a
 * byte, frees, flushes the spare, arms allocation failures, or appends an
 * impossible size. After every op each buffer is checked against its
 * model, a plain byte array:
 * - the unread bytes and their count are the model's;
 * - an empty buffer holds no memory (data NULL, cap 0), a non-empty one
 *   fits its storage (off + len <= cap);
 * - a failed append (-ENOMEM) leaves the unread bytes as they were;
 * - find returns what memchr finds in the model, and adds to
 *   corio__buf_scanned exactly the bytes up to the hit (or to the end);
 * - the counting allocator sees the lua_Alloc contract kept (osize is the
 *   block's size); its live blocks are exactly the buffers' storage and
 *   the spare, with their sizes (cap, spare_cap), and none are left once
 *   the buffers are freed and the spare flushed: no leak. LeakSanitizer
 *   watches the libc modes.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "buf.h"
#include "fuzz.h"

#define MODEL_MAX (64 * 1024)      /* the model's bound on unread bytes */
#define ALLOC_LIMIT (1024 * 1024)  /* the counting allocator refuses more */
#define BLOCKS 4            /* two buffers and the spare, and one more */

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

/* Two buffers share the allocator, as a loop's streams share its spare. */
typedef struct fbuf {
    corio_buf b;
    uint8_t model[MODEL_MAX];
    size_t mlen;
} fbuf;

static fbuf bufs[2];

static void check_buf(const fbuf *f)
{
    const corio_buf *b = &f->b;
    CHECK(b->len == f->mlen, "len %zu, model %zu", b->len, f->mlen);
    if (b->len == 0) {
        CHECK(!b->data && b->cap == 0, "empty buffer holds %zu bytes", b->cap);
        return;
    }
    CHECK(b->data && b->off + b->len <= b->cap, "off %zu + len %zu > cap %zu",
          b->off, b->len, b->cap);
    CHECK(!memcmp(corio_buf_peek(b), f->model, f->mlen), "contents differ from the model");
}

/* The counting allocator's live blocks are the buffers' and the spare. */
static void check_blocks(const corio_alloc *a)
{
    int want = (a->spare != NULL);
    for (int i = 0; i < 2; i++) {
        const corio_buf *b = &bufs[i].b;
        if (!b->data)
            continue;
        want++;
        block *bl = find_block(b->data);
        CHECK(bl && bl->size == b->cap, "cap %zu, block %zu", b->cap, bl ? bl->size : 0);
    }
    CHECK(ca.nlive == want, "%d live blocks, %d expected", ca.nlive, want);
    if (a->spare) {
        block *bl = find_block(a->spare);
        CHECK(bl && bl->size == a->spare_cap, "spare_cap %zu, block %zu", a->spare_cap,
              bl ? bl->size : 0);
    }
}

/* Append n bytes at p, in the buffer and (if it worked) in the model. */
static void append(fbuf *f, corio_alloc *a, const void *p, size_t n)
{
    if (f->mlen + n > MODEL_MAX)
        return;
    int rc = corio_buf_append(&f->b, p, n, a);
    CHECK(rc == 0 || rc == -ENOMEM, "append returned %d", rc);
    CHECK(rc == 0 || n > 0, "an empty append failed");
    if (rc == 0) {
        memcpy(f->model + f->mlen, p, n);
        f->mlen += n;
    }
}

static void consume(fbuf *f, corio_alloc *a, size_t n)
{
    corio_buf_consume(&f->b, n, a);
    size_t k = n < f->mlen ? n : f->mlen;
    memmove(f->model, f->model + k, f->mlen - k);
    f->mlen -= k;
}

static void find(fbuf *f, size_t from, char c)
{
    size_t before = corio__buf_scanned, len = f->mlen;
    long got = corio_buf_find(&f->b, from, c);
    const uint8_t *hit = from < len ? memchr(f->model + from, (uint8_t)c, len - from) : NULL;
    long want = hit ? (long)(hit - f->model) : -1;
    size_t scanned = from >= len ? 0 : hit ? (size_t)want + 1 - from : len - from;
    CHECK(got == want, "find(%zu, %d) = %ld, model %ld", from, c, got, want);
    CHECK(corio__buf_scanned - before == scanned, "find scanned %zu bytes, model %zu",
          corio__buf_scanned - before, scanned);
}

/* Lengths near SIZE_MAX must fail, not wrap, also with bytes consumed
 * (found here: reserve's overflow check once left off out, so off + len
 * + n wrapped and the append copied out of bounds). */
static void append_huge(fbuf *f, corio_alloc *a, size_t less)
{
    static const char byte;
    int rc = corio_buf_append(&f->b, &byte, SIZE_MAX - less, a);
    CHECK(rc == -ENOMEM, "a huge append returned %d", rc);
}

enum { OP_APPEND, OP_RUN, OP_CONSUME, OP_FIND, OP_FREE, OP_FLUSH, OP_FAIL, OP_HUGE, OPS };

/* One op of the program, on the buffer its byte picks. */
static void step(fz_in *in, corio_alloc *a, int counting)
{
    static uint8_t run[8192];
    uint8_t op = fz_u8(in);
    fbuf *f = &bufs[op / OPS % 2];
    size_t n;
    switch (op % OPS) {
    case OP_APPEND: {
        const uint8_t *p = fz_bytes(in, fz_u8(in) % 65, &n);
        append(f, a, p, n);
        break;
    }
    case OP_RUN: {   /* a long append: growth past the spare, compaction */
        n = fz_u16(in) % sizeof run;
        uint8_t x = fz_u8(in);
        for (size_t i = 0; i < n; i++)
            run[i] = (uint8_t)(x + i * 7);
        append(f, a, run, n);
        break;
    }
    case OP_CONSUME:   /* sometimes more than is there */
        consume(f, a, fz_u16(in) % (f->mlen + 3));
        break;
    case OP_FIND: {
        size_t from = fz_u16(in) % (f->mlen + 3);
        find(f, from, (char)fz_u8(in));
        break;
    }
    case OP_FREE:
        corio_buf_free(&f->b, a);
        f->mlen = 0;
        break;
    case OP_FLUSH:
        corio_alloc_flush(a);
        break;
    case OP_FAIL:
        if (counting)
            ca.fail = fz_u8(in) % 4;
        break;
    case OP_HUGE:
        if (counting)
            append_huge(f, a, fz_u8(in));
        break;
    }
    check_buf(&bufs[0]);
    check_buf(&bufs[1]);
    if (counting)
        check_blocks(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {data, size};
    int mode = fz_u8(&in) % 3;   /* 0 libc, 1 libc + spare, 2 counting + spare */
    corio_alloc al = {mode == 2 ? count_alloc : NULL, NULL, NULL, 0};
    corio_alloc *a = mode ? &al : NULL;
    ca.nlive = ca.fail = 0;
    for (int i = 0; i < 2; i++) {
        bufs[i].b = (corio_buf){0};
        bufs[i].mlen = 0;
    }
    while (fz_more(&in))
        step(&in, a, mode == 2);
    for (int i = 0; i < 2; i++) {
        corio_buf *b = &bufs[i].b;
        corio_buf_free(b, a);
        CHECK(!b->data && !b->len && !b->cap && !b->off, "a freed buffer is not empty");
    }
    corio_alloc_flush(a);
    CHECK(!al.spare, "the spare survived its flush");
    CHECK(ca.nlive == 0, "%d blocks leaked", ca.nlive);
    return 0;
}
