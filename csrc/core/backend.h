/* backend.h: the contract between the loop and a reactor backend.
 *
 * A backend runs operations (corio_op) the owner submits and reports their
 * completions through op->cb. The rules every backend keeps:
 *  - submit() and cancel() never call a callback: callbacks run only inside
 *    wait(), so the caller's state is never changed under its feet.
 *  - A one-shot op (SEND, CONNECT, POLL) gets exactly one callback, its
 *    final one. A multishot op (ACCEPT, RECV) gets callbacks with
 *    CORIO_OPF_MORE set while it stays armed and one final callback without
 *    it. After the final callback the backend never touches the op, its
 *    buffers or its iovecs again; until then the owner must keep them alive.
 *  - cancel() asks for an early end; the op still gets its final callback
 *    (res = -ECANCELED, or a real result that raced the cancel: data
 *    delivered this way must be kept by the owner, never dropped).
 *  - Callbacks may submit and cancel ops (including the one being reported).
 *  - destroy() gives no callbacks; when it returns the kernel holds no
 *    reference to any op memory or buffer.
 *  - Functions return 0 (or a count) on success and -errno on failure.
 */
#ifndef CORIO_BACKEND_H
#define CORIO_BACKEND_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <poll.h>
#include <sys/uio.h>
#include "list.h"

enum corio_op_kind {
    CORIO_OP_ACCEPT,  /* multishot; res = new fd (O_NONBLOCK|O_CLOEXEC) or -errno.
                         Transient errors (ECONNABORTED...) are retried
                         silently. A shortage (EMFILE, ENFILE, ENOBUFS,
                         ENOMEM) is the final callback on every backend:
                         the connection stays in the backlog, so retrying
                         at once would spin; the owner submits again after
                         a back-off (listener.c). */
    CORIO_OP_RECV,    /* multishot; res = bytes at data (valid during the cb only),
                         0 = end of stream (final), -errno (final). Running out
                         of receive buffers is dealt with by the backend; only
                         a RECV already cancelled may end with -ENOBUFS. */
    CORIO_OP_SEND,    /* one-shot, a corio_send_op; res = bytes sent (may be
                         short) or -errno. MSG_NOSIGNAL always. */
    CORIO_OP_CONNECT, /* one-shot, a corio_connect_op; res = 0 or -errno */
    CORIO_OP_POLL,    /* one-shot (op->events: POLLIN...); res = revents or
                         -errno. With CORIO_POLL_MULTI in events it stays
                         armed: a MORE callback at each readiness until
                         cancel() or an error, like a multishot RECV. Only
                         new events are sure to be reported (io_uring
                         signals wake-ups; epoll repeats while the
                         condition holds): the owner consumes what it
                         reacts to. */
    CORIO_OP_RECVMSG, /* one-shot, a corio_msg_op: recvmsg(2) into the
                         owner's msghdr (name, iovecs, control, all alive
                         until the final callback); res = bytes or -errno,
                         msg_namelen/controllen/flags as the kernel set them */
    CORIO_OP_SENDMSG, /* one-shot, a corio_msg_op: sendmsg(2) of the owner's
                         msghdr (alive until the callback); res = bytes or
                         -errno. MSG_NOSIGNAL always. */
    /* File ops, each a one-shot corio_file_op; res = an fd (OPENAT), bytes
     * (READ, WRITE at off, or at the file position when off is -1), or 0;
     * -errno. A backend that lacks one (epoll; a ring whose kernel does
     * not probe it) refuses it at submit() with -EOPNOTSUPP, and
     * supports() says so beforehand: fs.c then runs it on the worker
     * pool. */
    CORIO_OP_OPENAT,  /* path, flags, mode */
    CORIO_OP_CLOSE,
    CORIO_OP_READ,    /* buf, len, off */
    CORIO_OP_WRITE,   /* buf, len, off */
    CORIO_OP_FSYNC,
    CORIO_OP_STATX,   /* path (fd unused) or the fd itself (path ""), flags
                         AT_SYMLINK_NOFOLLOW or AT_EMPTY_PATH; buf: a struct statx */
    CORIO_OP_RENAMEAT, /* path -> path2 */
    CORIO_OP_UNLINKAT, /* path, flags 0 or AT_REMOVEDIR */
    CORIO_OP_MKDIRAT,  /* path, mode */
    CORIO_OP_COUNT    /* not an op: submit() refuses this and beyond (-EINVAL) */
};
#define CORIO_OP_FILE_FIRST CORIO_OP_OPENAT

#define CORIO_OPF_MORE 1u  /* in a callback's flags: more callbacks follow */

typedef struct corio_op corio_op;
typedef void (*corio_op_cb)(corio_op *op, int res, const void *data, unsigned flags);

struct corio_op {
    uint8_t kind;          /* enum corio_op_kind */
    uint8_t bstate;        /* backend-private: 0 while idle (no callback pending) */
    int fd;
    corio_op_cb cb;        /* owners embed the op and find themselves
                              with corio_container_of */
    corio_link blink;         /* backend-private: the backend's queues */
    int bres;                 /* backend-private */
    uint32_t events;          /* POLL: what to wait for (POLLIN...); it sits in
                                 what would be padding, so any op that may be a
                                 POLL at times (a stream's receive) costs nothing */
};

/* Ops with parameters extend corio_op (as their first member), so a RECV
 * or ACCEPT op, which an idle connection keeps armed, carries none. */
typedef struct corio_send_op {      /* CORIO_OP_SEND */
    corio_op op;
    const struct iovec *iov;
    int iovcnt;
} corio_send_op;

typedef struct corio_connect_op {   /* CORIO_OP_CONNECT */
    corio_op op;
    const struct sockaddr *addr;
    socklen_t len;
} corio_connect_op;

typedef corio_op corio_poll_op;     /* CORIO_OP_POLL: events in the op */

typedef struct corio_file_op {      /* CORIO_OP_OPENAT ... CORIO_OP_MKDIRAT */
    corio_op op;                    /* op.fd: the file (or unused) */
    const char *path, *path2;       /* relative paths are to the cwd */
    void *buf;
    unsigned len;
    int flags;
    unsigned mode;
    int64_t off;
} corio_file_op;

/* In a POLL's events: stay armed (see CORIO_OP_POLL). Outside every
 * POLL* bit. */
#define CORIO_POLL_MULTI 0x80000000u

typedef struct corio_msg_op {       /* CORIO_OP_RECVMSG, CORIO_OP_SENDMSG */
    corio_op op;
    struct msghdr *msg;
    int flags;                      /* MSG_* for the call (MSG_DONTWAIT is implied) */
} corio_msg_op;

/* The struct of type T whose member m is at p. */
#define corio_container_of(p, T, m) ((T *)((char *)(p) - offsetof(T, m)))

/* The op of a backend queue link (NULL for NULL), for backends. */
static inline corio_op *corio_op_of(corio_link *n)
{
    return n ? corio_container_of(n, corio_op, blink) : NULL;
}

/* True while the op has a final callback still to come. */
static inline int corio_op_busy(const corio_op *op) { return op->bstate != 0; }

typedef struct corio_backend corio_backend;

typedef struct corio_backend_vt {
    const char *name;                                /* "io_uring", "epoll" */
    int  (*submit)(corio_backend *b, corio_op *op);  /* op must be idle */
    int  (*cancel)(corio_backend *b, corio_op *op);  /* no-op when idle */
    /* Flush submissions, wait up to timeout_ns (-1: until a completion;
     * 0: do not block) for completions, run their callbacks. Returns the
     * number of callbacks run, or -errno (EINTR is reported as 0). */
    int  (*wait)(corio_backend *b, int64_t timeout_ns);
    /* An fd that polls readable when wait() would find work (for hosts). */
    int  (*pollfd)(corio_backend *b);
    /* Give back to the system memory the backend refills on demand (for
     * an idle loop, outside wait()); bytes released. NULL: nothing to do. */
    size_t (*trim)(corio_backend *b);
    /* Whether submit() takes ops of kind (the file ops may be missing). */
    int (*supports)(corio_backend *b, int kind);
    void (*destroy)(corio_backend *b);
} corio_backend_vt;

struct corio_backend {
    const corio_backend_vt *vt;
};

/* For backends' set-up: write "<what>: <strerror(-err)>" into why (if
 * there is room) and return err (a -errno), for chaining. */
int corio_backend_fail(char *why, size_t whylen, const char *what, int err);

/* io_uring backend. On failure returns -errno and writes the reason (e.g.
 * "io_uring_setup: Operation not permitted") into why. */
int corio_backend_uring_new(corio_backend **out, char *why, size_t whylen);

/* epoll backend. */
int corio_backend_epoll_new(corio_backend **out, char *why, size_t whylen);

/* Pick a backend: force is NULL/"" (io_uring, falling back to epoll
 * silently), "io_uring" (fail with the reason in why when unavailable) or
 * "epoll". -EINVAL for an unknown name. */
int corio_backend_open(corio_backend **out, const char *force, char *why, size_t whylen);

#endif
