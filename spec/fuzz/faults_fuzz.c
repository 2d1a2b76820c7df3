/* faults_fuzz.c: the parser of fault specs (csrc/core/faults.c, the
 * $CORIO_FAULTS a user or CI hands to a faults build).
 *
 * The input is a spec string. Checks:
 *  - corio_faults_arm accepts exactly what an independent model accepts:
 *    items split at ',' and ' ', each key=value with a known key; seed and
 *    failat decimal digits only (fitting 64 bits), rates a whole number in
 *    [0, 1]; under 512 bytes. A refusal says why and arms nothing.
 *  - what was armed behaves: a rate of 1 injects every time, 0 never;
 *    failat=N fails exactly the Nth allocation; disarm stops everything.
 *  - never a crash or an out-of-bounds read (ASan), whatever the bytes. */
#include "fuzz.h"
#include "faults.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* faults.c wraps corio's allocations under the linker's --wrap; here
 * the "real" ones are libc's. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__real_malloc(size_t n) { return malloc(n); }
void *__real_calloc(size_t n, size_t m) { return calloc(n, m); }
void *__real_realloc(void *p, size_t n) { return realloc(p, n); }

static const char *const kinds[CORIO_FAULT_NKINDS] = {
    "enomem", "short", "reset", "enobufs", "eagain", "overflow", "eintr", "spurious",
};

typedef struct model {
    int rate_set[CORIO_FAULT_NKINDS];
    double rate[CORIO_FAULT_NKINDS];
    unsigned long long failat;
} model;

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* One item of the model; 1 if good. */
static int model_item(model *m, const char *item)
{
    const char *eq = strchr(item, '=');
    if (!eq || eq == item || !eq[1])
        return 0;
    size_t klen = (size_t)(eq - item);
    const char *val = eq + 1;
    if ((klen == 4 && !strncmp(item, "seed", 4)) || (klen == 6 && !strncmp(item, "failat", 6))) {
        if (!all_digits(val))
            return 0;
        errno = 0;
        unsigned long long v = strtoull(val, NULL, 10);
        if (errno)
            return 0;
        if (klen == 6)
            m->failat = v;
        return 1;
    }
    for (int k = 0; k < CORIO_FAULT_NKINDS; k++) {
        if (strlen(kinds[k]) != klen || strncmp(item, kinds[k], klen))
            continue;
        char *end;
        double r = strtod(val, &end);
        if (*end || !(r >= 0 && r <= 1))
            return 0;
        m->rate_set[k] = 1;
        m->rate[k] = r;
        return 1;
    }
    return 0;
}

/* The whole spec by the model; 1 if it should be accepted. */
static int model_spec(model *m, const char *spec)
{
    if (strlen(spec) >= 512)
        return 0;
    char buf[512];
    strcpy(buf, spec);
    char *p = buf;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        if (!*p)
            break;
        char *start = p;
        while (*p && *p != ',' && *p != ' ')
            p++;
        char save = *p;
        *p = '\0';
        int ok = model_item(m, start);
        *p = save;
        if (!ok)
            return 0;
    }
    return 1;
}

/* An armed spec behaves as written. */
static void check_behaviour(const model *m, int empty)
{
    CHECK(corio_faults_armed() == !empty, "armed %d for an %s spec", corio_faults_armed(),
          empty ? "empty" : "accepted");
    if (empty)
        return;
    for (int k = 1; k < CORIO_FAULT_NKINDS; k++) {
        if (!m->rate_set[k] || (m->rate[k] != 0 && m->rate[k] != 1))
            continue;
        for (int i = 0; i < 8; i++)
            CHECK(corio_fault(k) == (m->rate[k] == 1), "%s=%g injected wrongly", kinds[k],
                  m->rate[k]);
    }
    if (m->failat && m->failat <= 64) {
        for (unsigned long long n = 1; n <= 64; n++)
            CHECK(corio_fault(CORIO_FAULT_ENOMEM) == (n == m->failat),
                  "failat=%llu: allocation %llu", m->failat, n);
        CHECK(corio_faults_allocs() == 64, "allocations counted %llu",
              (unsigned long long)corio_faults_allocs());
    }
    corio_faults_disarm();
    for (int k = 0; k < CORIO_FAULT_NKINDS; k++)
        CHECK(!corio_fault(k), "a fault after disarm");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char spec[700];
    size_t n = size < sizeof spec - 1 ? size : sizeof spec - 1;
    memcpy(spec, data, n);
    spec[n] = '\0';   /* (an embedded NUL ends the spec, as in the environment) */
    model m = {0};
    int want = model_spec(&m, spec);
    char why[256] = "";
    int rc = corio_faults_arm(spec, why, sizeof why);
    CHECK((rc == 0) == want, "spec \"%s\": arm %d, model %s", spec, rc, want ? "accepts" : "refuses");
    if (rc < 0) {
        CHECK(rc == -EINVAL && why[0], "a refusal without a reason (%d)", rc);
        CHECK(!corio_faults_armed(), "armed after a refusal");
        return 0;
    }
    check_behaviour(&m, spec[0] == '\0');
    return 0;
}
