/* fuzz.h: what the libFuzzer targets of spec/fuzz share: a check that
 * aborts (libFuzzer then saves the input that broke it) and a cursor that
 * reads the input as a program's bytes. Built by `make cfuzz`. */
#ifndef CORIO_FUZZ_H
#define CORIO_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Stop the run at the first broken invariant, saying which and why. */
#define CHECK(cond, ...) do {                                              \
        if (cond)                                                          \
            break;                                                         \
        fprintf(stderr, "CHECK FAILED %s:%d (%s): ", __FILE__, __LINE__, #cond); \
        fprintf(stderr, __VA_ARGS__);                                      \
        fprintf(stderr, "\n");                                             \
        abort();                                                           \
    } while (0)

/* The input, read from the front; past its end every byte reads as 0. */
typedef struct fz_in {
    const uint8_t *p;
    size_t n;
} fz_in;

static inline int fz_more(const fz_in *in) { return in->n > 0; }

static inline uint8_t fz_u8(fz_in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static inline uint16_t fz_u16(fz_in *in)
{
    uint16_t hi = fz_u8(in);
    return (uint16_t)(hi << 8 | fz_u8(in));
}

/* Up to n bytes of the input in place; *got says how many there were. */
static inline const uint8_t *fz_bytes(fz_in *in, size_t n, size_t *got)
{
    const uint8_t *p = in->p;
    *got = n < in->n ? n : in->n;
    in->p += *got;
    in->n -= *got;
    return p;
}

#endif
