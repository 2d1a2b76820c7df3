/* buf_test.c: unit tests of the read buffer (csrc/core/buf.c).
 *
 * Build and run:
 *   gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Icsrc/core \
 *       spec/c/buf_test.c csrc/core/buf.c -o /tmp/buf_test && /tmp/buf_test
 * Prints one line per failing check, then "N passed, M failed"; exits 1 on
 * any failure. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "buf.h"
#include "check.h"

/* True when the unread bytes of b are exactly s[0..n). */
static int holds(const corio_buf *b, const char *s, size_t n)
{
    return b->len == n && (n == 0 || memcmp(corio_buf_peek(b), s, n) == 0);
}

/* A zeroed buffer is empty and valid; free on it is harmless. */
static void test_empty(void)
{
    corio_buf b = { 0 };
    CHECK(corio_buf_find(&b, 0, 'x') == -1, "find in empty");
    CHECK(corio_buf_append(&b, NULL, 0, NULL) == 0 && b.data == NULL, "empty append allocated");
    corio_buf_consume(&b, 0, NULL);
    corio_buf_consume(&b, 10, NULL);
    corio_buf_free(&b, NULL);
    corio_buf_free(&b, NULL);
    CHECK(b.data == NULL && b.len == 0 && b.off == 0 && b.cap == 0, "not zero");
}

/* Appends concatenate; consume drops a prefix; consuming all frees. */
static void test_append_consume(void)
{
    corio_buf b = { 0 };
    CHECK(corio_buf_append(&b, "hello ", 6, NULL) == 0, "append");
    CHECK(corio_buf_append(&b, "world", 5, NULL) == 0, "append");
    CHECK(holds(&b, "hello world", 11), "content");
    corio_buf_consume(&b, 6, NULL);
    CHECK(holds(&b, "world", 5), "after consume");
    corio_buf_consume(&b, 5, NULL);
    CHECK(b.data == NULL && b.cap == 0 && b.len == 0 && b.off == 0, "not freed when empty");
    CHECK(corio_buf_append(&b, "x", 1, NULL) == 0 && holds(&b, "x", 1), "reuse after free");
    corio_buf_consume(&b, 100, NULL);
    CHECK(b.data == NULL && b.len == 0, "over-consume did not free");
}

/* Growth is geometric: a byte-at-a-time fill of 1 MiB reallocates only
 * a logarithmic number of times, and the content survives. */
static void test_growth(void)
{
    corio_buf b = { 0 };
    size_t caps = 0, last = 0, n = 1 << 20;
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        char c = (char)(i * 7);
        ok &= corio_buf_append(&b, &c, 1, NULL) == 0;
        if (b.cap != last)
            caps++, last = b.cap;
    }
    CHECK(ok && b.len == n, "len %zu", b.len);
    CHECK(caps <= 20, "%zu capacity changes", caps);
    for (size_t i = 0; i < n && ok; i++)
        ok &= corio_buf_peek(&b)[i] == (char)(i * 7);
    CHECK(ok, "content corrupted by growth");
    corio_buf_free(&b, NULL);
}

/* A large consumed prefix is reclaimed by compaction, not by growing. */
static void test_compact(void)
{
    corio_buf b = { 0 };
    char blk[1000];
    memset(blk, 'a', sizeof blk);
    CHECK(corio_buf_append(&b, blk, sizeof blk, NULL) == 0, "append");
    size_t cap = b.cap, pos = 0;
    corio_buf_consume(&b, 900, NULL);
    for (int round = 0; round < 1000; round++) {
        for (size_t i = 0; i < 800; i++)
            blk[i] = (char)(pos + i);
        CHECK(corio_buf_append(&b, blk, 800, NULL) == 0, "append round %d", round);
        corio_buf_consume(&b, 800, NULL);
        pos += 800;
    }
    CHECK(b.cap == cap, "grew from %zu to %zu while compaction would do", cap, b.cap);
    CHECK(b.len == 100 && b.off + b.len <= b.cap, "len %zu off %zu", b.len, b.off);
    for (size_t i = 0; i < 100; i++)
        if (corio_buf_peek(&b)[i] != (char)(pos - 100 + i))
            CHECK(0, "byte %zu wrong after compaction", i);
    corio_buf_free(&b, NULL);
}

/* When the unread bytes outnumber the consumed ones, an append that does
 * not fit grows the storage instead of moving them at the same size (a
 * move per small append would be quadratic). */
static void test_no_costly_compact(void)
{
    corio_buf b = { 0 };
    static char big[4096];
    memset(big, 'z', sizeof big);
    corio_buf_append(&b, big, sizeof big, NULL);
    size_t cap = b.cap;
    corio_buf_append(&b, big, cap - b.len, NULL);
    corio_buf_consume(&b, 10, NULL);
    CHECK(corio_buf_append(&b, "0123456789", 10, NULL) == 0, "append");
    CHECK(b.cap >= 2 * cap, "cap %zu, was %zu", b.cap, cap);
    CHECK(b.len == cap && memcmp(corio_buf_peek(&b) + cap - 10, "0123456789", 10) == 0,
          "content");
    corio_buf_free(&b, NULL);
}

/* A stream-like pattern: data in, partial consume; the content always
 * matches a reference and the capacity stays bounded. */
static void test_stream(void)
{
    corio_buf b = { 0 };
    static char ref[1 << 16];
    size_t rlen = 0, maxcap = 0;
    uint32_t seed = 12345, next = 0;
    for (int step = 0; step < 20000; step++) {
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 8) % 700;
        char chunk[700];
        for (size_t i = 0; i < n; i++)
            chunk[i] = (char)(next++ * 13);
        if (rlen + n > sizeof ref)
            n = sizeof ref - rlen;
        CHECK(corio_buf_append(&b, chunk, n, NULL) == 0, "append");
        memcpy(ref + rlen, chunk, n);
        rlen += n;
        size_t c = (seed >> 16) % 800;
        c = c > rlen ? rlen : c;
        corio_buf_consume(&b, c, NULL);
        memmove(ref, ref + c, rlen - c);
        rlen -= c;
        if (!holds(&b, ref, rlen))
            CHECK(0, "content differs at step %d", step);
        maxcap = b.cap > maxcap ? b.cap : maxcap;
    }
    CHECK(maxcap <= 4 * sizeof ref, "capacity %zu", maxcap);
    corio_buf_free(&b, NULL);
}

/* find returns the index in the unread bytes, honours from, and never
 * looks past the end or at consumed bytes. */
static void test_find(void)
{
    corio_buf b = { 0 };
    corio_buf_append(&b, "ab\ncd\nef", 8, NULL);
    CHECK(corio_buf_find(&b, 0, '\n') == 2, "first");
    CHECK(corio_buf_find(&b, 2, '\n') == 2, "at from");
    CHECK(corio_buf_find(&b, 3, '\n') == 5, "second");
    CHECK(corio_buf_find(&b, 6, '\n') == -1, "none after");
    CHECK(corio_buf_find(&b, 8, 'f') == -1 && corio_buf_find(&b, 100, 'a') == -1, "from>=len");
    CHECK(corio_buf_find(&b, 0, 'f') == 7, "last byte");
    corio_buf_consume(&b, 3, NULL);
    CHECK(corio_buf_find(&b, 0, 'a') == -1, "found a consumed byte");
    CHECK(corio_buf_find(&b, 0, '\n') == 2, "index not relative to unread");
    CHECK(corio_buf_find(&b, 0, '\0') == -1, "NUL past end");
    corio_buf_free(&b, NULL);
}

/* An append whose size overflows fails with -ENOMEM and changes nothing. */
static void test_overflow(void)
{
    corio_buf b = { 0 };
    corio_buf_append(&b, "abc", 3, NULL);
    CHECK(corio_buf_append(&b, "x", SIZE_MAX - 1, NULL) < 0, "huge append succeeded");
    CHECK(holds(&b, "abc", 3), "content changed by failed append");
    corio_buf_free(&b, NULL);
}

int main(void)
{
    test_empty();
    test_append_consume();
    test_growth();
    test_compact();
    test_no_costly_compact();
    test_stream();
    test_find();
    test_overflow();
    return check_report();
}
