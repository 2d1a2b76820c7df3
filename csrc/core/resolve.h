/* resolve.h: name lookups that never block the loop. Literals and
 * "localhost" are answered on the spot; other names go to getaddrinfo on
 * the worker pool (workers.h), so /etc/hosts, nsswitch and search domains
 * behave as for every other program. */
#ifndef CORIO_RESOLVE_H
#define CORIO_RESOLVE_H
#include <stddef.h>
#include <sys/socket.h>
#include "workers.h"

struct corio_loop;

/* Most addresses a lookup keeps (getaddrinfo may list more). */
#define CORIO_LOOKUP_MAX 16

/* Addresses of host found without a lookup, port 0, into out: a literal
 * (1), "localhost" (127.0.0.1 then ::1, loopback even without
 * /etc/hosts; fewer with a family); 0 when host needs a lookup; a
 * negative EAI_* code for a literal of another family than asked. */
int corio_lookup_quick(const char *host, int family, struct sockaddr_storage out[2]);

typedef struct corio_lookup corio_lookup;
struct corio_lookup {
    corio_job job;                    /* first; job.done is the owner's */
    int family;                       /* AF_UNSPEC, AF_INET or AF_INET6 */
    int rc;                           /* 0, or a negative EAI_* code */
    size_t n;                         /* addresses found */
    struct sockaddr_storage addrs[CORIO_LOOKUP_MAX];   /* in getaddrinfo's order */
    void *owner;                      /* the owner's, untouched */
    char host[];
};

/* A lookup of host (malloc'd: free it with free()) for the worker pool;
 * the caller sets job.done and submits job. NULL when out of memory. */
corio_lookup *corio_lookup_new(const char *host, int family);

#endif
