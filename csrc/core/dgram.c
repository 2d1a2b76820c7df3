/* dgram.c: datagram sockets (dgram.h). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>
#include "dgram.h"

static corio_backend *be(corio_dgram *d) { return d->loop->be; }

static void release(corio_handle *h)
{
    corio_dgram *d = (corio_dgram *)h;
    if (d->fd >= 0)
        close(d->fd);
    free(d);
}

static void maybe_free(corio_dgram *d)
{
    if (d->closed)
        corio_handle_settled(d->loop, &d->h, corio_op_busy(&d->rpoll) || corio_op_busy(&d->wpoll));
}

/* The read poll is multishot: it stays armed while readers come and go
 * (no re-registration per datagram). With nobody waiting it is stopped:
 * a datagram left unread would make epoll report it again and again. */
static void rpoll_cb(corio_op *op, int res, const void *data, unsigned flags)
{
    corio_dgram *d = corio_container_of(op, corio_dgram, rpoll);
    (void)res, (void)data;
    if (d->closed) {
        maybe_free(d);
        return;
    }
    if (d->readers.n)
        corio_task_wake_first(d->loop, &d->readers);
    else if (flags & CORIO_OPF_MORE)
        be(d)->vt->cancel(be(d), op);
}

static void wpoll_cb(corio_op *op, int res, const void *data, unsigned flags)
{
    corio_dgram *d = corio_container_of(op, corio_dgram, wpoll);
    (void)res, (void)data, (void)flags;
    if (d->closed)
        maybe_free(d);
    else
        corio_task_wake_first(d->loop, &d->writers);
}

int corio_dgram_open(corio_loop *l, int family, corio_dgram **out)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = corio_dgram_adopt(l, fd, out);
    if (rc < 0)
        close(fd);
    return rc;
}

int corio_dgram_adopt(corio_loop *l, int fd, corio_dgram **out)
{
    corio_dgram *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->fd = fd;
    d->loop = l;
    d->h.release = release;
    d->rpoll = (corio_op){.kind = CORIO_OP_POLL, .fd = d->fd, .cb = rpoll_cb,
                          .events = POLLIN | CORIO_POLL_MULTI};
    d->wpoll = (corio_op){.kind = CORIO_OP_POLL, .fd = d->fd, .cb = wpoll_cb, .events = POLLOUT};
    corio_loop_add_handle(l, &d->h);
    *out = d;
    return 0;
}

/* Queue w on q (at the head if again) and make sure readiness is watched
 * by p; -EAGAIN, or -errno if the poll cannot be armed. */
static int wait_on(corio_dgram *d, corio_waitq *q, corio_op *p, corio_waiter *w, int again)
{
    if (!corio_op_busy(p)) {
        int rc = be(d)->vt->submit(be(d), p);
        if (rc < 0)
            return rc;
    }
    corio_waitq_enqueue(q, w, again);
    return -EAGAIN;
}

/* After a waiter's turn (and when a woken one passes it on): if others
 * wait, the next one tries too (the socket may hold more than one
 * datagram, or room for more). */
void corio_dgram_pass(corio_dgram *d, corio_waitq *q)
{
    corio_task_wake_first(d->loop, q);
}

int corio_dgram_recv(corio_dgram *d, void *buf, size_t cap, struct sockaddr *from,
                     socklen_t *fromlen, int *trunc, corio_waiter *w, int again)
{
    if (d->readers.n && !again)   /* others wait before us: in order */
        return wait_on(d, &d->readers, &d->rpoll, w, 0);
    struct iovec iov = {buf, cap};
    struct msghdr m = {.msg_name = from, .msg_namelen = fromlen ? *fromlen : 0,
                       .msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n = recvmsg(d->fd, &m, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return wait_on(d, &d->readers, &d->rpoll, w, again);
    corio_dgram_pass(d, &d->readers);
    if (n < 0)
        return -errno;
    if (fromlen)
        *fromlen = m.msg_namelen;
    *trunc = (m.msg_flags & MSG_TRUNC) != 0;
    return (size_t)n > cap ? (int)cap : (int)n;
}

/* One sendto, never blocking: bytes, -EAGAIN when there is no room now
 * (or a signal came), or -errno. */
static int send_once(corio_dgram *d, const void *buf, size_t len, const struct sockaddr *to,
                     socklen_t tolen)
{
    ssize_t n = sendto(d->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, to, to ? tolen : 0);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
    return (int)n;
}

int corio_dgram_try_send(corio_dgram *d, const void *buf, size_t len,
                         const struct sockaddr *to, socklen_t tolen)
{
    return d->writers.n ? -EAGAIN : send_once(d, buf, len, to, tolen);   /* in order */
}

int corio_dgram_send(corio_dgram *d, const void *buf, size_t len, const struct sockaddr *to,
                     socklen_t tolen, corio_waiter *w, int again)
{
    if (d->writers.n && !again)
        return wait_on(d, &d->writers, &d->wpoll, w, 0);
    int n = send_once(d, buf, len, to, tolen);
    if (n == -EAGAIN)
        return wait_on(d, &d->writers, &d->wpoll, w, again);
    corio_dgram_pass(d, &d->writers);
    return n;
}

void corio_dgram_close(corio_dgram *d)
{
    d->closed = 1;
    corio_handle_close(d->loop, &d->h);
    while (corio_task_wake_first(d->loop, &d->readers))
        ;
    while (corio_task_wake_first(d->loop, &d->writers))
        ;
    be(d)->vt->cancel(be(d), &d->rpoll);   /* no-ops when idle */
    be(d)->vt->cancel(be(d), &d->wpoll);
    maybe_free(d);
}
