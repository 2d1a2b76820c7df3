/* addr.c: address parsing and formatting. Literals (the common case) are
 * parsed with inet_pton and never reach the blocking resolver. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include "addr.h"
#include "resolve.h"

/* Try host as an IPv4 then IPv6 literal; 0 on success, -1 if not one. */
static int parse_literal(const char *host, int port, struct sockaddr_storage *sa,
                         socklen_t *len)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
    memset(sa, 0, sizeof *sa);
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof *v6;
        return 0;
    }
    return -1;
}

int corio_addr_resolve(const char *host, int port, int passive,
                       struct sockaddr_storage *sa, socklen_t *len)
{
    if (!host || !strcmp(host, "*"))
        host = passive ? "0.0.0.0" : "127.0.0.1";
    if (parse_literal(host, port, sa, len) == 0)
        return 0;
    struct sockaddr_storage quick[2];
    if (corio_lookup_quick(host, AF_UNSPEC, quick) > 0)   /* localhost */
        return parse_literal("127.0.0.1", port, sa, len);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0)
        return rc < 0 ? rc : -rc;
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    if (sa->ss_family == AF_INET)
        ((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
    return 0;
}

const char *corio_addr_error(int rc)
{
    return gai_strerror(rc);
}

int corio_addr_format(const struct sockaddr *sa, char *host, size_t hostlen)
{
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &v6->sin6_addr, host, (socklen_t)hostlen);
        return ntohs(v6->sin6_port);
    }
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &v4->sin_addr, host, (socklen_t)hostlen);
    return ntohs(v4->sin_port);
}
