/* addr_fuzz.c: libFuzzer target for the core's parsers of outside
 * strings and numbers: corio_addr_resolve / corio_addr_format
 * (csrc/core/addr.c) and the error names of csrc/core/errname.c.
 *
 * The input: a flags byte (bit 0 passive, bit 1 no host, bit 2 an
 * address instead of a host, bit 3 that address is IPv6), two bytes of
 * port, four of an error number, then the host (up to its first NUL) or
 * the address's 4 or 16 bytes.
 * The resolver is this file's getaddrinfo, which replaces libc's: it
 * touches no network and knows a few names ("localhost", "host-v4",
 * "host-v6", "eai-N" for the N-th EAI_* error). Checked:
 * - literals ("127.0.0.1", "::1", "*", no host) never reach the resolver,
 *   and give the address inet_pton gives (the wildcard or loopback for
 *   "*" / no host) with the port;
 * - the resolver is asked for SOCK_STREAM, AI_PASSIVE when passive; its
 *   first answer is taken, with the port; its list is freed (LeakSanitizer);
 * - a failure is a negative EAI_* code with a message and an "EAI_" name;
 * - round trip: corio_addr_format gives a NUL-terminated numeric host and
 *   the port, and resolving that again gives the same address bytes
 *   without the resolver; for every result above, and for any IPv4 or
 *   IPv6 address made of input bytes;
 * - corio_errname: an "E[A-Z0-9]*" name for any number, the same for -e
 *   and e; corio_addr_errname: an "EAI_" name for any number. At start-up
 *   (not fuzzed: the domains are small) the names of 0..4096 are unique,
 *   a few known ones are right, and every EAI_* code has its own name.
 * Not here: Unix socket paths, parsed only in csrc/bind/unix.c (Lua).
 */
#define _GNU_SOURCE   /* EAI_NODATA, EAI_ADDRFAMILY */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include "addr.h"
#include "fuzz.h"

/* ---- the resolver ---- */

static int resolver_calls, want_passive;

static const int eai_codes[] = {
    EAI_NONAME, EAI_AGAIN, EAI_FAIL, EAI_FAMILY, EAI_SOCKTYPE, EAI_SERVICE,
    EAI_MEMORY, EAI_BADFLAGS, EAI_OVERFLOW, EAI_NODATA, EAI_ADDRFAMILY, EAI_SYSTEM,
};
static const char *const eai_names[] = {
    "EAI_NONAME", "EAI_AGAIN", "EAI_FAIL", "EAI_FAMILY", "EAI_SOCKTYPE", "EAI_SERVICE",
    "EAI_MEMORY", "EAI_BADFLAGS", "EAI_OVERFLOW", "EAI_NODATA", "EAI_ADDRFAMILY",
    "EAI_SYSTEM",
};
#define NEAI (sizeof eai_codes / sizeof *eai_codes)

/* One answer: family and address text (documentation ranges). */
static struct addrinfo *answer(int family, const char *text, struct addrinfo *next)
{
    struct addrinfo *ai = calloc(1, sizeof *ai + sizeof(struct sockaddr_in6));
    struct sockaddr_in6 *sa = (struct sockaddr_in6 *)(ai + 1);
    ai->ai_family = family;
    ai->ai_socktype = SOCK_STREAM;
    ai->ai_addr = (struct sockaddr *)sa;
    ai->ai_next = next;
    sa->sin6_family = (sa_family_t)family;
    if (family == AF_INET) {
        ai->ai_addrlen = sizeof(struct sockaddr_in);
        inet_pton(AF_INET, text, &((struct sockaddr_in *)sa)->sin_addr);
    } else {
        ai->ai_addrlen = sizeof(struct sockaddr_in6);
        inet_pton(AF_INET6, text, &sa->sin6_addr);
    }
    return ai;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    resolver_calls++;
    CHECK(node && !service && hints, "odd resolver call");
    CHECK(hints->ai_socktype == SOCK_STREAM, "socktype %d", hints->ai_socktype);
    CHECK(!(hints->ai_flags & AI_PASSIVE) == !want_passive, "AI_PASSIVE %d, passive %d",
          hints->ai_flags & AI_PASSIVE, want_passive);
    if (!strcmp(node, "localhost"))
        *res = answer(AF_INET6, "::1", answer(AF_INET, "127.0.0.1", NULL));
    else if (!strcmp(node, "host-v4"))
        *res = answer(AF_INET, "192.0.2.7", NULL);
    else if (!strcmp(node, "host-v6"))
        *res = answer(AF_INET6, "2001:db8::7", answer(AF_INET, "192.0.2.8", NULL));
    else if (!strncmp(node, "eai-", 4))
        return eai_codes[(unsigned char)node[4] % NEAI];
    else
        return EAI_NONAME;
    return 0;
}

void freeaddrinfo(struct addrinfo *ai)
{
    while (ai) {
        struct addrinfo *next = ai->ai_next;
        free(ai);
        ai = next;
    }
}

/* ---- checks ---- */

static int resolve(const char *host, int port, int passive, struct sockaddr_storage *sa,
                   socklen_t *len, int *calls)
{
    resolver_calls = 0;
    want_passive = passive;
    memset(sa, 0xa5, sizeof *sa);
    int rc = corio_addr_resolve(host, port, passive, sa, len);
    *calls = resolver_calls;
    return rc;
}

/* Family, port and address bytes of a result. */
static const void *addr_of(const struct sockaddr_storage *sa, size_t *n)
{
    if (sa->ss_family == AF_INET) {
        *n = 4;
        return &((const struct sockaddr_in *)sa)->sin_addr;
    }
    *n = 16;
    return &((const struct sockaddr_in6 *)sa)->sin6_addr;
}

static int port_of(const struct sockaddr_storage *sa)
{
    return ntohs(sa->ss_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
                                          : ((const struct sockaddr_in6 *)sa)->sin6_port);
}

/* A literal must give inet_pton's address without the resolver. */
static void check_literal(const char *host, int passive, const struct sockaddr_storage *sa,
                          int rc, int calls)
{
    unsigned char want[16];
    int family = 0;
    if (!host || !strcmp(host, "*"))
        host = passive ? "0.0.0.0" : "127.0.0.1";
    if (inet_pton(AF_INET, host, want) == 1)
        family = AF_INET;
    else if (inet_pton(AF_INET6, host, want) == 1)
        family = AF_INET6;
    if (!family)
        return;
    size_t n;
    CHECK(rc == 0 && calls == 0, "literal \"%s\": rc %d, %d resolver calls", host, rc, calls);
    CHECK(sa->ss_family == family, "literal \"%s\": family %d", host, sa->ss_family);
    CHECK(!memcmp(addr_of(sa, &n), want, n), "literal \"%s\": another address", host);
}

/* Format the result, resolve that again: the same address, no resolver. */
static void check_round_trip(const struct sockaddr_storage *sa, socklen_t len, int port,
                             int passive)
{
    char host[INET6_ADDRSTRLEN + 8];
    memset(host, 'x', sizeof host);
    int p = corio_addr_format((const struct sockaddr *)sa, host, INET6_ADDRSTRLEN);
    CHECK(memchr(host, '\0', INET6_ADDRSTRLEN), "formatted host not terminated");
    CHECK(p == port, "formatted port %d, not %d", p, port);
    struct sockaddr_storage again;
    socklen_t len2;
    int calls, rc = resolve(host, port, passive, &again, &len2, &calls);
    CHECK(rc == 0 && calls == 0, "\"%s\" again: rc %d, %d resolver calls", host, rc, calls);
    CHECK(len2 == len && !memcmp(&again, sa, len), "\"%s\" again: another address", host);
}

static void check_failure(int rc, int calls)
{
    CHECK(rc < 0 && calls == 1, "rc %d after %d resolver calls", rc, calls);
    const char *msg = corio_addr_error(rc), *name = corio_addr_errname(rc);
    CHECK(msg && *msg, "no message for %d", rc);
    CHECK(name && !strncmp(name, "EAI_", 4), "name %s for %d", name ? name : "(null)", rc);
    for (size_t i = 0; i < NEAI; i++)
        if (eai_codes[i] == rc && strcmp(name, eai_names[i]))
            CHECK(0, "%d is %s, not %s", rc, eai_names[i], name);
}

static void check_address(fz_in *in, int flags, int port)
{
    char host[256];
    size_t n;
    const uint8_t *p = fz_bytes(in, sizeof host - 1, &n);
    memcpy(host, p, n);
    host[n] = '\0';
    const char *h = flags & 2 ? NULL : host;
    int passive = flags & 1, calls;
    struct sockaddr_storage sa;
    socklen_t len;
    int rc = resolve(h, port, passive, &sa, &len, &calls);
    check_literal(h, passive, &sa, rc, calls);
    if (rc != 0) {
        check_failure(rc, calls);
        return;
    }
    CHECK((sa.ss_family == AF_INET && len == sizeof(struct sockaddr_in)) ||
          (sa.ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6)),
          "family %d, len %u", sa.ss_family, (unsigned)len);
    CHECK(port_of(&sa) == port, "port %d, not %d", port_of(&sa), port);
    check_round_trip(&sa, len, port, passive);
}

/* Any address from the input's bytes: format it, parse it back. */
static void check_format(fz_in *in, int flags, int port)
{
    struct sockaddr_storage sa;
    memset(&sa, 0, sizeof sa);
    size_t n, want = flags & 8 ? 16 : 4;
    const uint8_t *p = fz_bytes(in, want, &n);
    socklen_t len;
    if (flags & 8) {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&sa;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        memcpy(&v6->sin6_addr, p, n);
        len = sizeof *v6;
    } else {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&sa;
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        memcpy(&v4->sin_addr, p, n);
        len = sizeof *v4;
    }
    check_round_trip(&sa, len, port, flags & 1);
}

/* A name of the form E[A-Z0-9]*. */
static int errno_like(const char *s)
{
    if (!s || s[0] != 'E')
        return 0;
    while (*++s)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            return 0;
    return 1;
}

/* INT_MIN included (found here: corio_errname once negated it, a signed
 * overflow); only its negation is left out, being one itself. */
static void check_errname(int e)
{
    const char *name = corio_errname(e);
    CHECK(errno_like(name), "errname(%d) = %s", e, name ? name : "(null)");
    if (e != INT_MIN)
        CHECK(name == corio_errname(-e), "errname(%d) != errname(%d)", e, -e);
    CHECK(!strncmp(corio_addr_errname(e), "EAI_", 4), "addr_errname(%d)", e);
}

#define SPAN 4096

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *seen[SPAN + 1];
    (void)argc, (void)argv;
    for (int e = 0; e <= SPAN; e++) {
        const char *name = corio_errname(e);
        check_errname(e);
        seen[e] = strcmp(name, "EUNKNOWN") ? name : NULL;
        for (int f = 0; seen[e] && f < e; f++)
            CHECK(!seen[f] || strcmp(seen[f], name), "%d and %d are both %s", f, e, name);
    }
    CHECK(!strcmp(corio_errname(0), "EUNKNOWN"), "errname(0)");
    CHECK(!strcmp(corio_errname(-ECONNREFUSED), "ECONNREFUSED"), "ECONNREFUSED");
    CHECK(!strcmp(corio_errname(EWOULDBLOCK), "EAGAIN"), "EWOULDBLOCK");
    CHECK(!strcmp(corio_errname(-ETIMEDOUT), "ETIMEDOUT"), "ETIMEDOUT");
    CHECK(!strcmp(corio_errname(ECANCELED), "ECANCELED"), "ECANCELED");
    CHECK(!strcmp(corio_errname(-EMSGSIZE), "EMSGSIZE"), "EMSGSIZE");
    for (size_t i = 0; i < NEAI; i++)
        CHECK(!strcmp(corio_addr_errname(eai_codes[i]), eai_names[i]), "%s is named %s",
              eai_names[i], corio_addr_errname(eai_codes[i]));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {data, size};
    int flags = fz_u8(&in);
    int port = fz_u16(&in);
    uint32_t e = (uint32_t)fz_u16(&in) << 16;
    e |= fz_u16(&in);
    check_errname((int)e);
    if (flags & 4)
        check_format(&in, flags, port);
    else
        check_address(&in, flags, port);
    return 0;
}
