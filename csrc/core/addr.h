/* addr.h: socket addresses: parse, resolve, format; errno names. */
#ifndef CORIO_ADDR_H
#define CORIO_ADDR_H
#include <stddef.h>
#include <sys/socket.h>

/* Resolve host (IPv4/IPv6 literal, "localhost" or a name; NULL or "*" for
 * any address when passive) and port into sa. Literals never touch the
 * resolver. 0 or a negative EAI_* code (see corio_addr_error). */
int corio_addr_resolve(const char *host, int port, int passive,
                       struct sockaddr_storage *sa, socklen_t *len);

/* Message for an error from corio_addr_resolve. */
const char *corio_addr_error(int rc);

/* The EAI_* name of an error from corio_addr_resolve ("EAI_NONAME"...;
 * "EAI_SYSTEM" carries no errno here). */
const char *corio_addr_errname(int rc);

/* Write sa's numeric host into host (>= 46 bytes) and return its port. */
int corio_addr_format(const struct sockaddr *sa, char *host, size_t hostlen);

/* "ECONNREFUSED" for ECONNREFUSED; "EUNKNOWN" for unknown numbers. */
const char *corio_errname(int err);

#endif
