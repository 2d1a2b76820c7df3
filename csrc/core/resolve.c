/* resolve.c: the lookups of resolve.h. */
#define _GNU_SOURCE   /* EAI_ADDRFAMILY */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "resolve.h"

static int put_v4(struct sockaddr_storage *sa, const struct in_addr *a)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
    memset(sa, 0, sizeof *sa);
    v4->sin_family = AF_INET;
    v4->sin_addr = *a;
    return 1;
}

static int put_v6(struct sockaddr_storage *sa, const struct in6_addr *a)
{
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
    memset(sa, 0, sizeof *sa);
    v6->sin6_family = AF_INET6;
    v6->sin6_addr = *a;
    return 1;
}

int corio_lookup_quick(const char *host, int family, struct sockaddr_storage out[2])
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return family == AF_INET6 ? EAI_ADDRFAMILY : put_v4(&out[0], &a4);
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return family == AF_INET ? EAI_ADDRFAMILY : put_v6(&out[0], &a6);
    if (strcasecmp(host, "localhost") && strcasecmp(host, "localhost."))
        return 0;
    int n = 0;
    if (family != AF_INET6) {
        a4.s_addr = htonl(INADDR_LOOPBACK);
        n += put_v4(&out[n], &a4);
    }
    if (family != AF_INET)
        n += put_v6(&out[n], &in6addr_loopback);
    return n;
}

/* Whether sa is among the n addresses of list (hosts files may list an
 * address twice). */
static int seen(const struct sockaddr_storage *list, size_t n, const struct sockaddr_storage *sa)
{
    for (size_t i = 0; i < n; i++)
        if (!memcmp(&list[i], sa, sizeof *sa))
            return 1;
    return 0;
}

/* On a worker: getaddrinfo, keeping each address once (it lists one per
 * socket type and protocol unless asked for one type). */
static void lookup_work(corio_job *j)
{
    corio_lookup *lk = (corio_lookup *)j;
    struct addrinfo hints = {.ai_family = lk->family, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(lk->host, NULL, &hints, &res);
    if (rc != 0) {
        lk->rc = rc < 0 ? rc : -rc;
        return;
    }
    for (struct addrinfo *ai = res; ai && lk->n < CORIO_LOOKUP_MAX; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof lk->addrs[0])
            continue;
        struct sockaddr_storage *sa = &lk->addrs[lk->n];
        memset(sa, 0, sizeof *sa);
        memcpy(sa, ai->ai_addr, ai->ai_addrlen);
        if (!seen(lk->addrs, lk->n, sa))
            lk->n++;
    }
    freeaddrinfo(res);
    if (lk->n == 0)
        lk->rc = EAI_NONAME;
}

corio_lookup *corio_lookup_new(const char *host, int family)
{
    size_t len = strlen(host);
    corio_lookup *lk = malloc(sizeof *lk + len + 1);
    if (!lk)
        return NULL;
    memset(lk, 0, sizeof *lk);
    memcpy(lk->host, host, len + 1);
    lk->family = family;
    lk->job.work = lookup_work;
    lk->job.cls = CORIO_JOB_NAMES;
    return lk;
}
