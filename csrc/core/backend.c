/* backend.c: picking a reactor backend when a loop is created.
 *
 * On success why is "" except after a silent fallback to epoll, where it
 * keeps the reason io_uring was skipped (for diagnostics; not an error). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "backend.h"

/* Empty the reason buffer, if there is one. */
static void why_clear(char *why, size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
}

int corio_backend_fail(char *why, size_t whylen, const char *what, int err)
{
    if (why && whylen)
        snprintf(why, whylen, "%s: %s", what, strerror(-err));
    return err;
}

/* io_uring when the kernel lets us, else epoll. If both fail, why names
 * both reasons and the epoll error is returned. */
static int open_auto(corio_backend **out, char *why, size_t whylen)
{
    char ur[160] = "", ep[160] = "";
    if (corio_backend_uring_new(out, ur, sizeof ur) == 0)
        return 0;
    int rc = corio_backend_epoll_new(out, ep, sizeof ep);
    if (why && whylen) {
        if (rc == 0)
            snprintf(why, whylen, "%s", ur);
        else
            snprintf(why, whylen, "io_uring: %s; epoll: %s", ur, ep);
    }
    return rc;
}

int corio_backend_open(corio_backend **out, const char *force, char *why, size_t whylen)
{
    why_clear(why, whylen);
    if (!force || !*force)
        return open_auto(out, why, whylen);
    if (strcmp(force, "io_uring") == 0)
        return corio_backend_uring_new(out, why, whylen);
    if (strcmp(force, "epoll") == 0)
        return corio_backend_epoll_new(out, why, whylen);
    if (why && whylen)
        snprintf(why, whylen, "unknown backend '%s' (expected io_uring or epoll)", force);
    return -EINVAL;
}
