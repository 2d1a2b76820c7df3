/* errname.c: errno numbers to their symbolic names, the `code` of every
 * `nil, message, code` failure the binding returns. */
#define _GNU_SOURCE   /* EAI_NODATA, EAI_ADDRFAMILY */
#include <errno.h>
#include <netdb.h>
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
    E(ESRCH), E(ENXIO), E(E2BIG), E(ENOEXEC), E(ECHILD), E(ENOTBLK), E(EXDEV),
    E(ENODEV), E(ENOTDIR), E(EISDIR), E(ENOTTY), E(ETXTBSY), E(EFBIG), E(ESPIPE),
    E(EROFS), E(EMLINK), E(EDOM), E(EDEADLK), E(ENAMETOOLONG), E(ENOLCK),
    E(ENOTEMPTY), E(ELOOP), E(ENOMSG), E(EIDRM), E(EOVERFLOW), E(EILSEQ),
    E(ENOTUNIQ), E(EBADFD), E(EDQUOT), E(ESTALE), E(EOWNERDEAD), E(ENOTRECOVERABLE),
    E(EKEYREJECTED), E(ESHUTDOWN), E(ETOOMANYREFS), E(EBADMSG), E(EPROTO),
    E(ENODATA), E(ENOSR), E(ENOSTR), E(ENOLINK), E(ECOMM), E(EREMOTEIO),
};
#undef E

const char *corio_addr_errname(int rc)
{
    switch (rc) {
    case EAI_NONAME: return "EAI_NONAME";
    case EAI_AGAIN: return "EAI_AGAIN";
    case EAI_FAIL: return "EAI_FAIL";
    case EAI_FAMILY: return "EAI_FAMILY";
    case EAI_SOCKTYPE: return "EAI_SOCKTYPE";
    case EAI_SERVICE: return "EAI_SERVICE";
    case EAI_MEMORY: return "EAI_MEMORY";
    case EAI_BADFLAGS: return "EAI_BADFLAGS";
    case EAI_OVERFLOW: return "EAI_OVERFLOW";
#ifdef EAI_NODATA
    case EAI_NODATA: return "EAI_NODATA";
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY: return "EAI_ADDRFAMILY";
#endif
    case EAI_SYSTEM: return "EAI_SYSTEM";
    }
    return "EAI_FAIL";
}

const char *corio_errname(int err)
{
    unsigned u = err < 0 ? 0u - (unsigned)err : (unsigned)err;   /* (INT_MIN too) */
    if (u < sizeof names / sizeof *names && names[u])
        return names[u];
    return "EUNKNOWN";
}
