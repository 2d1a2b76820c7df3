/* errname.c: errno numbers to their symbolic names, the `code` of every
 * `nil, message, code` failure the binding returns. */
#include <errno.h>
#include <stddef.h>
#include "addr.h"

#define E(x) [x] = #x
static const char *const names[] = {
    E(EPERM), E(ENOENT), E(EINTR), E(EIO), E(EBADF), E(EAGAIN), E(ENOMEM),
    E(EACCES), E(EFAULT), E(EBUSY), E(EEXIST), E(EINVAL), E(ENFILE),
    E(EMFILE), E(ENOSPC), E(EPIPE), E(ERANGE), E(ENOSYS), E(ENOTSOCK),
    E(EDESTADDRREQ), E(EMSGSIZE), E(EPROTOTYPE), E(ENOPROTOOPT),
    E(EPROTONOSUPPORT), E(EOPNOTSUPP), E(EAFNOSUPPORT), E(EADDRINUSE),
    E(EADDRNOTAVAIL), E(ENETDOWN), E(ENETUNREACH), E(ENETRESET),
    E(ECONNABORTED), E(ECONNRESET), E(ENOBUFS), E(EISCONN), E(ENOTCONN),
    E(ETIMEDOUT), E(ECONNREFUSED), E(EHOSTDOWN), E(EHOSTUNREACH),
    E(EALREADY), E(EINPROGRESS), E(ECANCELED), E(ETIME),
};
#undef E

const char *corio_errname(int err)
{
    if (err < 0)
        err = -err;
    if ((size_t)err < sizeof names / sizeof *names && names[err])
        return names[err];
    return "EUNKNOWN";
}
