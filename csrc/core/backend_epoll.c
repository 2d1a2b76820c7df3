/* backend_epoll.c: the readiness backend, for hosts where io_uring is
 * blocked (Docker's seccomp profile, kernel.io_uring_disabled).
 *
 * Level-triggered, on purpose. The registered mask always equals what the
 * armed ops want (synced once per wait(), before epoll_wait), so no fd
 * wakes us for a direction nobody waits on. Fairness then falls out for
 * free: each op does a bounded amount of work per wait() (one 64 KiB recv,
 * at most 64 accepts, one sendmsg) and whatever is left is reported again
 * by the next epoll_wait, with no "still ready" list to keep as edge mode
 * would need. The price, an epoll_ctl MOD when an fd's wanted directions
 * change, is paid only on changes, coalesced over a whole loop turn.
 *
 * Op states (op->bstate): ARMED while on its fd's list (op->bres then holds
 * the epoch it was submitted or last serviced in), DONE while on the
 * completed queue (op->bres holds the result). Results known outside
 * wait() (an eager send, a connect that finished at once, a cancel) go to
 * the completed queue; results found inside wait() are reported at once.
 *
 * The fd table is keyed by fd number, which the owner may close and reuse
 * behind our back. So an fd whose op list went empty is re-verified (MOD,
 * falling back to ADD) before it is trusted again, and errors from
 * epoll_ctl are reported to the fd's ops instead of being swallowed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "backend.h"
#include "faults.h"

_Static_assert(POLLIN == EPOLLIN && POLLOUT == EPOLLOUT && POLLPRI == EPOLLPRI &&
               POLLERR == EPOLLERR && POLLHUP == EPOLLHUP && POLLRDHUP == EPOLLRDHUP,
               "poll and epoll event bits differ");

enum { ST_IDLE = 0, ST_ARMED = 1, ST_DONE = 2 };

#define EP_SCRATCH (64 * 1024)   /* shared recv buffer */
#define EP_EVENTS 256            /* events taken per epoll_wait */
#define EP_ACCEPT_BATCH 64       /* accepts per listener per wait() */
#define EP_POLL_BITS (EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP)

typedef struct ep_fd {
    corio_list ops;         /* armed ops, in submission order */
    int dirty_next;         /* next fd on the dirty list, -1 ends it */
    uint32_t mask;          /* events registered with epoll */
    uint8_t registered;     /* we believe epoll holds this fd */
    uint8_t dirty;          /* on the dirty list */
    uint8_t emptied;        /* op list went empty since the last sync */
} ep_fd;

typedef struct ep {
    corio_backend base;
    int epfd;
    int efd;                /* eventfd for pollfd(); -1 until asked for */
    int signaled;           /* efd currently holds a count */
    int no_pwait2;          /* epoll_pwait2 missing or filtered */
    unsigned epoch;         /* wait() counter, see service_fd */
    ep_fd *fds;
    int nfds;
    int dirty_head;         /* fds whose registration may be stale */
    corio_list done;        /* ops whose final result waits for wait() */
    char *scratch;
    struct epoll_event evs[EP_EVENTS];
} ep;

/* ---- small helpers ---------------------------------------------------- */


/* EAGAIN and friends: "nothing now, wait for readiness". */
static int would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

/* Errors accept(2) passes up from the new connection: skip it, go on. */
static int accept_transient(int err)
{
    switch (err) {
    case ECONNABORTED: case EINTR: case EPROTO: case ENETDOWN: case ENOPROTOOPT:
    case EHOSTDOWN: case ENONET: case EHOSTUNREACH: case EOPNOTSUPP: case ENETUNREACH:
        return 1;
    }
    return 0;
}

/* The epoll events an armed op waits for. */
static uint32_t op_mask(const corio_op *op)
{
    switch (op->kind) {
    case CORIO_OP_ACCEPT: case CORIO_OP_RECV: case CORIO_OP_RECVMSG: return EPOLLIN;
    case CORIO_OP_SEND: case CORIO_OP_CONNECT: case CORIO_OP_SENDMSG: return EPOLLOUT;
    default: return ((corio_poll_op *)op)->events & EP_POLL_BITS;
    }
}

/* ---- the fd table and the dirty list ---------------------------------- */

/* Make fds[fd] exist. 0 or -ENOMEM. The table grows by a quarter, not
 * double: every entry is touched (zeroed), and a server with 19,000
 * connections would otherwise hold 32,768 of them (55 bytes of RSS per
 * connection instead of about 36). */
static int fd_grow(ep *e, int fd)
{
    if (fd < e->nfds)
        return 0;
    size_t n = e->nfds ? (size_t)e->nfds : 64;
    while (n <= (size_t)fd)
        n += n / 4;
    if (n > INT_MAX)
        n = (size_t)fd + 1;
    ep_fd *p = realloc(e->fds, n * sizeof *p);
    if (!p)
        return -ENOMEM;
    memset(p + e->nfds, 0, (n - (size_t)e->nfds) * sizeof *p);
    e->fds = p;
    e->nfds = (int)n;
    return 0;
}

/* Queue fd for a registration sync before the next epoll_wait. */
static void mark_dirty(ep *e, int fd)
{
    ep_fd *fs = &e->fds[fd];
    if (fs->dirty)
        return;
    fs->dirty = 1;
    fs->dirty_next = e->dirty_head;
    e->dirty_head = fd;
}

/* Append op to its fd's list; it can be serviced from the next wait() on. */
static void fd_push(ep *e, corio_op *op)
{
    ep_fd *fs = &e->fds[op->fd];
    op->bstate = ST_ARMED;
    op->bres = (int)e->epoch;
    corio_list_push(&fs->ops, &op->blink);
    mark_dirty(e, op->fd);
}

/* Take an armed op off its fd's list (leaves bstate to the caller). */
static void fd_unlink(ep *e, corio_op *op)
{
    ep_fd *fs = &e->fds[op->fd];
    corio_list_remove(&fs->ops, &op->blink);
    if (!fs->ops.head)
        fs->emptied = 1;
    mark_dirty(e, op->fd);
}

/* The first armed SEND (or SENDMSG) on fd: only it may write, to keep
 * sends in order. */
static corio_op *first_send(const ep_fd *fs)
{
    for (corio_link *n = fs->ops.head; n; n = n->next)
        if (corio_op_of(n)->kind == CORIO_OP_SEND || corio_op_of(n)->kind == CORIO_OP_SENDMSG)
            return corio_op_of(n);
    return NULL;
}

/* ---- the completed queue and the pollfd signal ------------------------ */

/* Keep the eventfd readable exactly while wait() has work it would find
 * without the kernel: queued results or registrations not yet synced.
 * Costs nothing until a host asks for pollfd(). */
static void signal_sync(ep *e)
{
    if (e->efd < 0)
        return;
    int want = e->done.head != NULL || e->dirty_head >= 0;
    uint64_t v = 1;
    if (want && !e->signaled && write(e->efd, &v, sizeof v) == sizeof v)
        e->signaled = 1;
    else if (!want && e->signaled && read(e->efd, &v, sizeof v) == sizeof v)
        e->signaled = 0;
}

/* Queue op's final result for the next wait(). */
static void done_push(ep *e, corio_op *op, int res)
{
    op->bstate = ST_DONE;
    op->bres = res;
    corio_list_push(&e->done, &op->blink);
}

/* Run the final callbacks queued before this call. Ones queued by these
 * callbacks wait for the next wait(), which then will not block. */
static int run_done(ep *e)
{
    corio_list batch = e->done;
    corio_link *n;
    int ran = 0;
    e->done = (corio_list){0};
    while ((n = corio_list_pop(&batch))) {
        corio_op *op = corio_op_of(n);
        op->bstate = ST_IDLE;
        op->cb(op, op->bres, NULL, 0);
        ran++;
    }
    return ran;
}

/* ---- registration ----------------------------------------------------- */

/* epoll_ctl as 0 or -errno. */
static int ctl(ep *e, int how, int fd, uint32_t mask)
{
    struct epoll_event ev = { .events = mask, .data.fd = fd };
    return epoll_ctl(e->epfd, how, fd, &ev) < 0 ? -errno : 0;
}

/* Register or update fd. MOD fails with ENOENT when the fd number was
 * closed (epoll dropped it) and reused; ADD fails with EEXIST when epoll
 * still holds it: either way the other call is the right one. */
static int fd_register(ep *e, int fd, uint32_t mask, int known)
{
    int rc = ctl(e, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, mask);
    if (rc == -ENOENT && known)
        rc = ctl(e, EPOLL_CTL_ADD, fd, mask);
    else if (rc == -EEXIST && !known)
        rc = ctl(e, EPOLL_CTL_MOD, fd, mask);
    return rc;
}

/* What an op gets when epoll refuses its fd. EPERM means a regular file
 * (or similar) that epoll cannot watch; poll(2) calls those always ready,
 * so a POLL reports just that; other ops get the error. */
static int refused_result(const corio_op *op, int err)
{
    if (err == -EPERM && op->kind == CORIO_OP_POLL)
        return (int)(((corio_poll_op *)op)->events & (POLLIN | POLLOUT));
    return err;
}

/* Finish every op on fd as epoll refused it with err. */
static void fd_fail(ep *e, int fd, int err)
{
    corio_op *op;
    while ((op = corio_op_of(e->fds[fd].ops.head))) {
        fd_unlink(e, op);
        done_push(e, op, refused_result(op, err));
    }
}

/* Bring fd's epoll registration in line with its ops. An fd left without
 * ops is removed (its owner may close it next); DEL errors mean the owner
 * already closed it, which removed it anyway. */
static void fd_sync(ep *e, int fd)
{
    ep_fd *fs = &e->fds[fd];
    int rc = 0;
    fs->dirty = 0;
    if (!fs->ops.head) {
        if (fs->registered)
            (void)ctl(e, EPOLL_CTL_DEL, fd, 0);
        fs->registered = fs->emptied = 0;
        return;
    }
    uint32_t want = 0;
    for (corio_link *n = fs->ops.head; n; n = n->next)
        want |= op_mask(corio_op_of(n));
    if (!fs->registered || fs->emptied || want != fs->mask)
        rc = fd_register(e, fd, want, fs->registered);
    fs->emptied = 0;
    fs->registered = rc == 0;
    fs->mask = want;
    if (rc < 0)
        fd_fail(e, fd, rc);
}

/* Sync every dirty fd (fd_fail may re-dirty one; it then syncs empty). */
static void flush(ep *e)
{
    while (e->dirty_head >= 0) {
        int fd = e->dirty_head;
        e->dirty_head = e->fds[fd].dirty_next;
        fd_sync(e, fd);
    }
}

/* ---- submit and cancel ------------------------------------------------ */

/* Fault builds: a send or connect that worked, reported as a reset. */
static int fault_reset(corio_op *op, int res)
{
    if (res >= 0 && corio_fault(CORIO_FAULT_RESET))
        return corio_fault_break(op->fd), -ECONNRESET;
    return res;
}

/* sendmsg without SIGPIPE or blocking; bytes or -errno. */
static int do_send(corio_op *op)
{
    const struct iovec *iov = ((corio_send_op *)op)->iov;
    size_t cnt = (size_t)((corio_send_op *)op)->iovcnt;
    struct iovec one;
    if (corio_fault(CORIO_FAULT_EAGAIN))   /* level-triggered: EPOLLOUT retries */
        return -EAGAIN;
    corio_fault_shorten(&iov, &cnt, &one);
    struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = cnt };
    ssize_t n = sendmsg(op->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    return fault_reset(op, n < 0 ? -errno : (int)(n > INT_MAX ? INT_MAX : n));
}

/* recvmsg / sendmsg of a corio_msg_op, never blocking; bytes or -errno. */
static int do_msg(corio_op *op)
{
    corio_msg_op *m = (corio_msg_op *)op;
    if (corio_fault(CORIO_FAULT_EAGAIN))
        return -EAGAIN;
    ssize_t n = op->kind == CORIO_OP_RECVMSG
                    ? recvmsg(op->fd, m->msg, m->flags | MSG_DONTWAIT)
                    : sendmsg(op->fd, m->msg, m->flags | MSG_DONTWAIT | MSG_NOSIGNAL);
    return n < 0 ? -errno : (int)(n > INT_MAX ? INT_MAX : n);
}

/* Most sends complete at once: try now, queue the result, and wait for
 * EPOLLOUT only on EAGAIN. Behind an armed SEND we must not overtake it.
 * (SENDMSG, a datagram's, goes the same way.) */
static void submit_send(ep *e, corio_op *op)
{
    int res = -EAGAIN;
    if (!first_send(&e->fds[op->fd]))
        res = op->kind == CORIO_OP_SEND ? do_send(op) : do_msg(op);
    if (res < 0 && would_block(-res))
        fd_push(e, op);
    else
        done_push(e, op, res);
}

/* Start a nonblocking connect; EINPROGRESS (or EINTR, which leaves it
 * running) waits for EPOLLOUT, anything else is the result. */
static void submit_connect(ep *e, corio_op *op)
{
    int res = 0;
    if (connect(op->fd, ((corio_connect_op *)op)->addr, ((corio_connect_op *)op)->len) < 0)
        res = -errno;
    if (res == -EINPROGRESS || res == -EINTR)
        fd_push(e, op);
    else
        done_push(e, op, fault_reset(op, res));
}

/* Contract: op must be idle. Never calls a callback. */
static int ep_submit(corio_backend *b, corio_op *op)
{
    ep *e = (ep *)b;
    if (op->bstate != ST_IDLE)
        return -EBUSY;
    if (!op->cb || op->kind >= CORIO_OP_COUNT)
        return -EINVAL;
    if (op->kind >= CORIO_OP_FILE_FIRST)   /* readiness means nothing for files */
        return -EOPNOTSUPP;
    if (op->fd < 0)
        return -EBADF;
    if (fd_grow(e, op->fd) < 0)
        return -ENOMEM;
    if (op->kind == CORIO_OP_SEND || op->kind == CORIO_OP_SENDMSG)
        submit_send(e, op);
    else if (op->kind == CORIO_OP_CONNECT)
        submit_connect(e, op);
    else
        fd_push(e, op);
    signal_sync(e);
    return 0;
}

/* Armed: unhook and queue -ECANCELED. A queued result already won the
 * race and stands; idle ops are left alone. */
static int ep_cancel(corio_backend *b, corio_op *op)
{
    ep *e = (ep *)b;
    if (op->bstate != ST_ARMED)
        return 0;
    fd_unlink(e, op);
    done_push(e, op, -ECANCELED);
    signal_sync(e);
    return 0;
}

/* ---- servicing readiness ---------------------------------------------- */

/* Report op's final result now: it leaves its fd and goes idle first, so
 * the callback may resubmit it. Returns the callbacks run (1). */
static int finish(ep *e, corio_op *op, int res)
{
    fd_unlink(e, op);
    op->bstate = ST_IDLE;
    op->cb(op, res, NULL, 0);
    return 1;
}

/* Accept a bounded batch; each new fd is a MORE callback. Resource errors
 * (EMFILE...) are final: retrying them under level triggering would spin. */
static int service_accept(ep *e, corio_op *op)
{
    int ran = 0;
    for (int i = 0; i < EP_ACCEPT_BATCH && op->bstate == ST_ARMED; i++) {
        if (corio_fault(CORIO_FAULT_EAGAIN))
            break;
        int nfd = accept4(op->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (nfd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (nfd < 0 && accept_transient(errno))
            continue;
        if (nfd < 0)
            return ran + finish(e, op, -errno);
        op->cb(op, nfd, NULL, CORIO_OPF_MORE);
        ran++;
    }
    return ran;
}

/* One recv into the shared scratch: data is a MORE callback, EOF and
 * errors are final. */
static int service_recv(ep *e, corio_op *op)
{
    if (corio_fault(CORIO_FAULT_EAGAIN))
        return 0;
    if (corio_fault(CORIO_FAULT_RESET))   /* what the peer sent is lost */
        return corio_fault_break(op->fd), finish(e, op, -ECONNRESET);
    ssize_t n = recv(op->fd, e->scratch, EP_SCRATCH, MSG_DONTWAIT);
    if (n > 0) {
        op->cb(op, (int)n, e->scratch, CORIO_OPF_MORE);
        return 1;
    }
    if (n == 0)
        return finish(e, op, 0);
    if (would_block(errno))
        return 0;
    return finish(e, op, -errno);
}

/* Retry a blocked send; only the fd's first SEND may go. */
static int service_send(ep *e, corio_op *op)
{
    if (first_send(&e->fds[op->fd]) != op)
        return 0;
    int res = op->kind == CORIO_OP_SEND ? do_send(op) : do_msg(op);
    return res < 0 && would_block(-res) ? 0 : finish(e, op, res);
}

/* A RECVMSG whose fd turned readable: one recvmsg; EAGAIN (another reader
 * was first) waits on. */
static int service_recvmsg(ep *e, corio_op *op)
{
    int res = do_msg(op);
    return res < 0 && would_block(-res) ? 0 : finish(e, op, res);
}

/* A connect in progress became writable: its outcome is in SO_ERROR.
 * No error and no peer yet means the wake-up was not the connect's
 * (a spurious one): it waits on. */
static int service_connect(ep *e, corio_op *op)
{
    int err = 0;
    socklen_t len = sizeof err;
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    if (getsockopt(op->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (!err && getpeername(op->fd, (struct sockaddr *)&peer, &plen) < 0 && errno == ENOTCONN)
        return 0;
    return finish(e, op, fault_reset(op, -err));
}

/* Run op's I/O for the events the kernel reported, if they concern it.
 * ERR and HUP concern everyone: the syscall then returns the verdict. */
static int service_op(ep *e, corio_op *op, uint32_t revents)
{
    uint32_t hit = revents & (op_mask(op) | EPOLLERR | EPOLLHUP);
    if (!hit)
        return 0;
    switch (op->kind) {
    case CORIO_OP_ACCEPT: return service_accept(e, op);
    case CORIO_OP_RECV: return service_recv(e, op);
    case CORIO_OP_SEND: case CORIO_OP_SENDMSG: return service_send(e, op);
    case CORIO_OP_CONNECT: return service_connect(e, op);
    case CORIO_OP_RECVMSG: return service_recvmsg(e, op);
    default:
        if (op->events & CORIO_POLL_MULTI) {   /* stays on its fd's list */
            op->cb(op, (int)hit, NULL, CORIO_OPF_MORE);
            return 1;
        }
        return finish(e, op, (int)hit);
    }
}

/* The first op on fd not yet serviced in this wait(). */
static corio_op *next_op(ep *e, int fd)
{
    for (corio_link *n = e->fds[fd].ops.head; n; n = n->next)
        if ((unsigned)corio_op_of(n)->bres != e->epoch)
            return corio_op_of(n);
    return NULL;
}

/* Service every op that was armed on fd before this epoll_wait, once.
 * Callbacks may change the list (and realloc the table), so we rescan
 * from the head each time; ops are stamped with the epoch when serviced
 * and when (re)submitted, so ones armed by these callbacks wait for the
 * next wait(): readiness seen now predates them. An fd with no op left
 * is dropped at once so a level-triggered event cannot repeat. */
static int service_fd(ep *e, int fd, uint32_t revents)
{
    corio_op *op;
    int ran = 0;
    if (fd < 0 || fd >= e->nfds)
        return 0;
    if (!e->fds[fd].ops.head && e->fds[fd].registered) {
        (void)ctl(e, EPOLL_CTL_DEL, fd, 0);
        e->fds[fd].registered = 0;
    }
    while ((op = next_op(e, fd))) {
        op->bres = (int)e->epoch;
        ran += service_op(e, op, revents);
    }
    return ran;
}

/* ---- wait ------------------------------------------------------------- */

/* Milliseconds for epoll_wait, rounded up: the loop's timers rely on
 * never waking before the deadline. */
static int ns_to_ms(int64_t ns)
{
    if (ns <= 0)
        return ns < 0 ? -1 : 0;
    int64_t ms = ns / 1000000 + (ns % 1000000 != 0);
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* epoll_wait with ns resolution where epoll_pwait2 exists (Linux 5.11+;
 * seccomp filters may answer EPERM), ms rounded up otherwise. */
static int kernel_wait(ep *e, int64_t timeout_ns)
{
#ifdef SYS_epoll_pwait2
    if (timeout_ns > 0 && !e->no_pwait2) {
        struct timespec ts = { .tv_sec = timeout_ns / 1000000000,
                               .tv_nsec = timeout_ns % 1000000000 };
        long n = syscall(SYS_epoll_pwait2, e->epfd, e->evs, EP_EVENTS, &ts, NULL, 0);
        if (n >= 0 || (errno != ENOSYS && errno != EPERM))
            return n < 0 ? -errno : (int)n;
        e->no_pwait2 = 1;
    }
#endif
    int n = epoll_wait(e->epfd, e->evs, EP_EVENTS, ns_to_ms(timeout_ns));
    return n < 0 ? -errno : n;
}

/* Fault builds: wake the ops of some fd with work for every direction,
 * none of it real; each must find out by its syscall and wait on. */
static int spurious(ep *e)
{
    if (!e->nfds || !corio_fault(CORIO_FAULT_SPURIOUS))
        return 0;
    int start = (int)corio_fault_below((uint32_t)e->nfds);
    for (int i = 0; i < e->nfds; i++) {
        int fd = (start + i) % e->nfds;
        if (e->fds[fd].ops.head && fd != e->efd)
            return service_fd(e, fd, EPOLLIN | EPOLLOUT | EPOLLPRI);
    }
    return 0;
}

/* One loop turn: queued results first, then registrations, then the
 * kernel (not blocking when something already ran), then readiness. In
 * host mode registrations are synced again on the way out, so a pollfd
 * that is readable always means work. */
static int ep_wait(corio_backend *b, int64_t timeout_ns)
{
    ep *e = (ep *)b;
    int ran = run_done(e);
    flush(e);
    e->epoch++;
    int n = kernel_wait(e, (ran || e->done.head) ? 0 : timeout_ns);
    if (n < 0 && n != -EINTR)
        return n;
    for (int i = 0; i < n; i++)
        if (e->evs[i].data.fd != e->efd)
            ran += service_fd(e, e->evs[i].data.fd, e->evs[i].events);
    ran += spurious(e);
    if (e->efd >= 0)
        flush(e);
    signal_sync(e);
    return ran;
}

/* ---- lifecycle -------------------------------------------------------- */

/* The epoll fd itself; its eventfd (created on first use) makes it
 * readable while results are queued or registrations are pending. */
static int ep_pollfd(corio_backend *b)
{
    ep *e = (ep *)b;
    if (e->efd >= 0)
        return e->epfd;
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0)
        return -errno;
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = efd };
    if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, efd, &ev) < 0) {
        int err = errno;
        close(efd);
        return -err;
    }
    e->efd = efd;
    signal_sync(e);
    return e->epfd;
}

/* No callbacks; the ops' fds belong to their owners and stay open. */
static void ep_destroy(corio_backend *b)
{
    ep *e = (ep *)b;
    if (!e)
        return;
    if (e->efd >= 0)
        close(e->efd);
    close(e->epfd);
    free(e->fds);
    free(e->scratch);
    free(e);
}

static int ep_supports(corio_backend *b, int kind)
{
    (void)b;
    return kind >= 0 && kind < CORIO_OP_FILE_FIRST;
}

static const corio_backend_vt ep_vt = {
    .name = "epoll",
    .submit = ep_submit,
    .cancel = ep_cancel,
    .wait = ep_wait,
    .pollfd = ep_pollfd,
    .supports = ep_supports,
    .destroy = ep_destroy,
};

int corio_backend_epoll_new(corio_backend **out, char *why, size_t whylen)
{
    ep *e = calloc(1, sizeof *e);
    char *scratch = malloc(EP_SCRATCH);
    if (!e || !scratch) {
        free(e);
        free(scratch);
        return corio_backend_fail(why, whylen, "epoll backend", -ENOMEM);
    }
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (e->epfd < 0) {
        int err = -errno;
        free(scratch);
        free(e);
        return corio_backend_fail(why, whylen, "epoll_create1", err);
    }
    e->base.vt = &ep_vt;
    e->efd = -1;
    e->dirty_head = -1;
    e->scratch = scratch;
    *out = &e->base;
    return 0;
}
