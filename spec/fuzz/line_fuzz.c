/* line_fuzz.c: libFuzzer target for readline's framing: corio_buf_line
 * (csrc/core/buf.c), which stream:readline (csrc/bind/stream.c,
 * readline_k) calls on the stream's read buffer each time it wakes.
 *
 * The input: a flags byte (bit 0: the stream ends with a read error
 * instead of cleanly), two bytes for max (1 to 600, or huge), then
 * records [k][k bytes], each one receive of k bytes appended to the
 * buffer at a boundary the fuzzer chose (k = 0: a wake that brought
 * nothing, as after a backpressure re-arm). After each receive a reader
 * reads lines as the binding does, keeping the search position across
 * its waits; after "line too long" it discards through the next "\n", as
 * a caller skipping the line would. After the last record the stream
 * ends and it reads to the end. Checked:
 * - the lines (without "\n" / "\r\n"), the bytes each takes, the "line
 *   too long" errors and the end are those of a naive splitter run over
 *   the whole byte stream at once, so they do not depend on the chunking;
 *   at a clean end the unterminated rest is the last line, after a read
 *   error it stays buffered;
 * - "line too long" takes nothing (asking again says the same);
 * - a search that found no end stops at the end of the buffer, and
 *   readline searches each byte of the stream at most once
 *   (corio__buf_scanned), however small the chunks.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "buf.h"
#include "fuzz.h"

enum { EV_LINE, EV_LONG, EV_END };
static const char *const ev_name[] = {"line", "line too long", "end"};

typedef struct ev {
    int type;
    size_t off;          /* where in the stream it begins */
    size_t len, used;    /* a line's length, and the bytes it takes */
} ev;

/* Length of the n bytes at p without a trailing "\r". */
static size_t crlen(const uint8_t *p, size_t n)
{
    return n && p[n - 1] == '\r' ? n - 1 : n;
}

/* The naive model: split the whole stream s of n bytes into events. */
static size_t split(const uint8_t *s, size_t n, size_t max, int error_end, ev *out)
{
    size_t p = 0, k = 0;
    while (p < n) {
        const uint8_t *nl = memchr(s + p, '\n', n - p);
        size_t end = nl ? (size_t)(nl - s) : n;
        size_t len = crlen(s + p, end - p);
        if (len > max) {
            out[k++] = (ev){EV_LONG, p, 0, 0};
            p = nl ? end + 1 : n;   /* the reader skips through the "\n" */
        } else if (nl) {
            out[k++] = (ev){EV_LINE, p, len, end + 1 - p};
            p = end + 1;
        } else if (error_end) {
            break;                  /* the rest stays buffered */
        } else {
            out[k++] = (ev){EV_LINE, p, n - p, n - p};   /* kept whole */
            p = n;
        }
    }
    out[k++] = (ev){EV_END, p, 0, 0};
    return k;
}

typedef struct reader {
    corio_buf b;
    size_t max;
    int error_end;
    size_t from;         /* the binding's ctx: bytes searched for this line */
    int skipping;        /* after "line too long": discarding through "\n" */
    size_t pos;          /* stream bytes taken so far */
    size_t scanned;      /* bytes corio_buf_line searched */
    const uint8_t *s;
    const ev *ev;
    size_t nev, next;
} reader;

/* The model's next event, which must be of type and begin at pos. */
static const ev *expect(reader *r, int type)
{
    CHECK(r->next < r->nev, "%s at %zu after the model's end", ev_name[type], r->pos);
    const ev *e = &r->ev[r->next++];
    CHECK(e->type == type, "%s at %zu, the model has %s", ev_name[type], r->pos,
          ev_name[e->type]);
    CHECK(e->off == r->pos, "%s at %zu, the model's at %zu", ev_name[type], r->pos, e->off);
    return e;
}

static void take(reader *r, size_t n)
{
    corio_buf_consume(&r->b, n, NULL);
    r->pos += n;
}

/* Discard through the next "\n"; 1 once it is found. */
static int skip(reader *r)
{
    long i = corio_buf_find(&r->b, 0, '\n');
    take(r, i >= 0 ? (size_t)i + 1 : r->b.len);
    return i >= 0;
}

/* A line was found: it must be the model's. */
static void got_line(reader *r, long n, size_t used)
{
    const ev *e = expect(r, EV_LINE);
    CHECK((size_t)n == e->len && used == e->used, "line of %ld taking %zu, model %zu taking %zu",
          n, used, e->len, e->used);
    CHECK(!memcmp(corio_buf_peek(&r->b), r->s + e->off, (size_t)n), "line at %zu differs",
          r->pos);
    take(r, used);
    r->from = 0;
}

/* "line too long": nothing taken, and asking again says the same. */
static void got_too_long(reader *r)
{
    expect(r, EV_LONG);
    size_t len = r->b.len, from = r->from, used = 0;
    long again = corio_buf_line(&r->b, &from, r->max, 0, &used);
    CHECK(again == -EMSGSIZE && r->b.len == len, "asked again: %ld, %zu bytes of %zu left",
          again, r->b.len, len);
    r->skipping = 1;
    r->from = 0;
}

/* Read lines as readline_k does until one must wait for more bytes
 * (ended: none will come, so read to the end). */
static void pump(reader *r, int ended)
{
    for (;;) {
        if (r->skipping && !skip(r) && !ended)
            return;
        r->skipping = 0;
        size_t before = corio__buf_scanned, used = 0;
        long n = corio_buf_line(&r->b, &r->from, r->max, ended && !r->error_end, &used);
        r->scanned += corio__buf_scanned - before;
        if (n == -EMSGSIZE) {
            got_too_long(r);
        } else if (n >= 0) {
            got_line(r, n, used);
        } else {
            CHECK(n == -EAGAIN, "corio_buf_line returned %ld", n);
            CHECK(r->from == r->b.len, "the search stopped at %zu of %zu", r->from, r->b.len);
            if (!ended)
                return;
            expect(r, EV_END);
            CHECK(r->next == r->nev, "the end came before the model's");
            return;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {data, size};
    reader r = {.error_end = fz_u8(&in) & 1};
    uint16_t m = fz_u16(&in);
    r.max = m >= 0xff00 ? SIZE_MAX / 2 : 1 + m % 600u;

    /* the stream, and where its chunks end */
    uint8_t *s = malloc(size + 1);
    size_t *ends = malloc((size + 1) * sizeof *ends), n = 0, nchunks = 0;
    while (fz_more(&in)) {
        size_t got;
        const uint8_t *p = fz_bytes(&in, fz_u8(&in), &got);
        memcpy(s + n, p, got);
        n += got;
        ends[nchunks++] = n;
    }
    ev *evs = malloc((n + 1) * sizeof *evs);
    r.s = s;
    r.ev = evs;
    r.nev = split(s, n, r.max, r.error_end, evs);

    for (size_t i = 0, at = 0; i < nchunks; at = ends[i++]) {
        CHECK(corio_buf_append(&r.b, s + at, ends[i] - at, NULL) == 0, "append failed");
        pump(&r, 0);
    }
    pump(&r, 1);
    CHECK(r.b.len == n - r.pos, "%zu bytes buffered, %zu not taken", r.b.len, n - r.pos);
    CHECK(r.scanned <= n, "readline searched %zu bytes of a %zu-byte stream", r.scanned, n);
    corio_buf_free(&r.b, NULL);
    free(s);
    free(ends);
    free(evs);
    return 0;
}
