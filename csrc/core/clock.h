/* clock.h: the monotonic clock every deadline in corio is measured on. */
#ifndef CORIO_CLOCK_H
#define CORIO_CLOCK_H
#include <stdint.h>

/* Monotonic time in nanoseconds (CLOCK_MONOTONIC). */
uint64_t corio_clock_ns(void);

/* Monotonic time in whole milliseconds: the timer wheel's tick. */
static inline uint64_t corio_clock_ms(void) { return corio_clock_ns() / 1000000u; }

#endif
