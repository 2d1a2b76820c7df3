/* faults.c: the fault injector behind faults.h (only in -DCORIO_FAULTS
 * builds). One seeded generator (splitmix64) decides every fault, so a
 * run's choices follow from its seed; the kernel's timing still varies,
 * so a failing seed reproduces the same kinds of faults at about the same
 * rates, usually the failure itself.
 *
 * corio's own malloc, calloc and realloc calls reach __wrap_* here (the
 * faults build links with -Wl,--wrap=...): they fail like the Lua state's
 * allocations, and count towards "failat". Calls made inside liburing or
 * liblua are not ours and are left alone. */
#include "faults.h"

#ifdef CORIO_FAULTS
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <execinfo.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const names[CORIO_FAULT_NKINDS] = {
    "enomem", "short", "reset", "enobufs", "eagain", "overflow", "eintr", "spurious",
};

static struct {
    int armed;
    uint64_t state;                        /* splitmix64 */
    uint32_t rate[CORIO_FAULT_NKINDS];     /* chance as a fraction of 2^32 */
    uint64_t hits[CORIO_FAULT_NKINDS];
    uint64_t allocs;                       /* allocations seen while armed */
    uint64_t failat;                       /* fail only this one (1-based); 0: rates */
    size_t retry;                          /* size of the Lua allocation just failed, 0 */
} F;
static int held;                           /* armed, waiting for corio_faults_start */
static int quiet;                          /* corio_faults_quiet */

static uint64_t next64(void)
{
    uint64_t z = (F.state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint32_t corio_fault_below(uint32_t n)
{
    return n ? (uint32_t)((next64() >> 32) % n) : 0;
}

const char *corio_fault_name(enum corio_fault_kind k)
{
    return k < CORIO_FAULT_NKINDS ? names[k] : "?";
}

void corio_faults_quiet(int on) { quiet = on; }

static __thread int exempt;

void corio_faults_exempt_thread(void)
{
    exempt = 1;
}

int corio_fault(enum corio_fault_kind k)
{
    if (!F.armed || quiet || exempt)
        return 0;
    int exact = k == CORIO_FAULT_ENOMEM && F.failat;   /* the sweep: the Nth only */
    if (k == CORIO_FAULT_ENOMEM)
        F.allocs++;
    int hit = exact ? F.allocs == F.failat
                      : F.rate[k] && (uint32_t)(next64() >> 32) < F.rate[k];
    F.hits[k] += (uint64_t)hit;
    if (hit && F.failat && getenv("CORIO_FAULTS_TRACE")) {   /* where the sweep's failure is */
        void *pcs[32];
        fprintf(stderr, "corio faults: failing allocation %llu here:\n", (unsigned long long)F.allocs);
        backtrace_symbols_fd(pcs, backtrace(pcs, 32), 2);
    }
    return hit;
}

int corio_fault_lua_alloc(size_t nsize)
{
    if (quiet)
        return 0;
    if (F.armed && F.retry && F.retry == nsize) {   /* Lua's retry after its emergency GC */
        F.retry = 0;
        return 1;
    }
    F.retry = 0;
    int hit = corio_fault(CORIO_FAULT_ENOMEM);
    if (hit && F.failat)   /* (random rates: the retry is left to chance) */
        F.retry = nsize;
    return hit;
}

static int bad(char *why, size_t len, const char *item)
{
    if (why && len)
        snprintf(why, len, "bad fault spec item '%s' (want seed=N, failat=N or "
                 "enomem|short|reset|enobufs|eagain|overflow|eintr|spurious=RATE in [0,1])", item);
    return -EINVAL;
}

/* One "key=value" item into f. */
static int parse_item(char *item, char *why, size_t len)
{
    char *eq = strchr(item, '='), *end;
    if (!eq || eq == item || !eq[1])
        return bad(why, len, item);
    *eq = '\0';
    const char *key = item, *val = eq + 1;
    if (!strcmp(key, "seed") || !strcmp(key, "failat")) {
        errno = 0;
        unsigned long long v = strtoull(val, &end, 10);
        if (*end || errno || *val < '0' || *val > '9')   /* digits only: no sign */
            return *eq = '=', bad(why, len, item);
        if (key[0] == 's')
            F.state = v;
        else
            F.failat = v;
        return 0;
    }
    for (int k = 0; k < CORIO_FAULT_NKINDS; k++) {
        if (strcmp(key, names[k]))
            continue;
        double r = strtod(val, &end);
        if (*end || !(r >= 0 && r <= 1))
            return *eq = '=', bad(why, len, item);
        F.rate[k] = r >= 1 ? UINT32_MAX : (uint32_t)(r * 4294967296.0);
        return 0;
    }
    *eq = '=';
    return bad(why, len, item);
}

int corio_faults_arm(const char *spec, char *why, size_t whylen)
{
    char buf[512];
    held = 0;
    memset(&F, 0, sizeof F);
    if (!spec || !*spec)
        return 0;
    if (strlen(spec) >= sizeof buf)
        return bad(why, whylen, "(too long)");
    strcpy(buf, spec);
    for (char *save = NULL, *it = strtok_r(buf, ", ", &save); it; it = strtok_r(NULL, ", ", &save)) {
        int rc = parse_item(it, why, whylen);
        if (rc < 0) {
            memset(&F, 0, sizeof F);
            return rc;
        }
    }
    F.armed = 1;
    return 0;
}

void corio_fault_shorten(const struct iovec **iov, size_t *cnt, struct iovec *one)
{
    if (!corio_fault(CORIO_FAULT_SHORT))
        return;
    if (*cnt > 1) {
        *cnt = 1 + corio_fault_below((uint32_t)(*cnt - 1));
    } else if (*cnt == 1 && (*iov)[0].iov_len > 1) {
        size_t len = (*iov)[0].iov_len;
        *one = (*iov)[0];
        one->iov_len = 1 + corio_fault_below((uint32_t)(len - 1 > UINT32_MAX ? UINT32_MAX : len - 1));
        *iov = one;
    }
}

void corio_fault_break(int fd)
{
    shutdown(fd, SHUT_RDWR);
}

void corio_faults_disarm(void) { F.armed = 0, held = 0; }
void corio_faults_hold(void) { held = F.armed, F.armed = 0; }

void corio_faults_start(void)
{
    if (held)
        F.armed = 1, held = 0;
}
void corio_faults_rearm(void) { F.armed = 1; }
int corio_faults_armed(void) { return F.armed; }
uint64_t corio_faults_hits(enum corio_fault_kind k) { return k < CORIO_FAULT_NKINDS ? F.hits[k] : 0; }
uint64_t corio_faults_allocs(void) { return F.allocs; }

/* ---- corio's own allocations (linked with --wrap) ---------------------- */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n)
{
    return corio_fault(CORIO_FAULT_ENOMEM) ? (errno = ENOMEM, NULL) : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    return corio_fault(CORIO_FAULT_ENOMEM) ? (errno = ENOMEM, NULL) : __real_calloc(n, m);
}

/* realloc(p, 0) frees, which never fails. */
void *__wrap_realloc(void *p, size_t n)
{
    if (n && corio_fault(CORIO_FAULT_ENOMEM))
        return errno = ENOMEM, NULL;
    return __real_realloc(p, n);
}
#else
typedef int corio_faults_unused;   /* ISO C wants a non-empty file */
#endif
