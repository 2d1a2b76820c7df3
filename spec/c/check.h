/* check.h: the check macro of the core's C unit tests (buf, slab, timer).
 * A test counts its checks and prints only the failing ones; main ends
 * with check_report(), whose "N passed, M failed" line spec/run.sh reads. */
#ifndef CORIO_CHECK_H
#define CORIO_CHECK_H
#include <stdio.h>

static int passed, failed;

/* Record one check; print it (with a printf-style detail) only when it
 * fails. */
#define CHECK(cond, ...) do {                                          \
        if (cond) { passed++; break; }                                 \
        failed++;                                                      \
        printf("FAIL %s:%d (%s): ", __func__, __LINE__, #cond);       \
        printf(__VA_ARGS__);                                           \
        printf("\n");                                                  \
    } while (0)

/* Print the totals; the exit status for main. */
static inline int check_report(void)
{
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#endif
