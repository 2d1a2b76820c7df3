/* stream.c: a connected socket: read buffer fed by a multishot RECV (or,
 * on a Unix stream, by recvmsg on readiness, keeping passed fds), whole
 * writes as resubmitted SENDs, non-blocking connect. */
#define _GNU_SOURCE   /* POLLRDHUP */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "stream.h"

static corio_backend *be(corio_stream *s) { return s->loop->be; }

/* Free the stream once it is closed and no op can call back any more. */
static void maybe_free(corio_stream *s)
{
    if (s->flags & CORIO_SF_CLOSED)
        corio_handle_settled(s->loop, &s->h, corio_op_busy(&s->recv) || s->w);
}

/* A write state for s from the loop's pool, its op set up; or NULL. */
static corio_wreq *wreq_take(corio_stream *s, int kind, corio_op_cb cb)
{
    corio_wreq *w = corio_pool_take(&s->loop->wreqs, sizeof *w);
    if (w) {
        w->o.op.kind = (uint8_t)kind;
        w->o.op.fd = s->fd;
        w->o.op.cb = cb;
        w->s = s;
        w->sent = 0;
    }
    return w;
}

/* The write or connect is over: its state goes back to the pool. */
static void wreq_done(corio_stream *s)
{
    corio_wreq *w = s->w;
    s->w = NULL;
    free(w->heap);
    corio_pool_give(&s->loop->wreqs, w);
}

static corio_unix_stream *unix_of(corio_stream *s)
{
    return (corio_unix_stream *)s;
}

void corio_stream_dispose(corio_stream *s)
{
    if (s->flags & CORIO_SF_MSG)
        corio_fdq_close_all(&unix_of(s)->fds);
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    corio_buf_free(&s->rbuf, &s->loop->alloc);
    if (s->w)
        wreq_done(s);
}

/* Stop receiving while the reader lags too far behind (a repeated cancel
 * is a no-op for the backend; a read re-arms the RECV below the mark). */
static void apply_backpressure(corio_stream *s)
{
    if (s->rbuf.len > CORIO_STREAM_HWM)
        be(s)->vt->cancel(be(s), &s->recv);
}

/* Keep the fds of the SCM_RIGHTS messages in m, marked with the byte
 * count; any that cannot be queued is closed (the stream reports it as
 * -ENOMEM on its next read). */
static void keep_fds(corio_unix_stream *u, struct msghdr *m)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
            if (corio_fdq_push(&u->fds, fd, u->received) < 0) {
                close(fd);
                u->s.rerr = -ENOMEM;
            }
        }
    }
}

#define UNIX_RECV_CHUNK 32768

/* One recvmsg into the read buffer: bytes, 0 at the end, or -errno; *fds
 * tells whether the message carried control data (the kernel ends a read
 * there, so a short read then does not mean the socket is empty). */
static int recv_one(corio_unix_stream *u, int *fds)
{
    char buf[UNIX_RECV_CHUNK];
    union { struct cmsghdr h; char b[CMSG_SPACE(CORIO_UNIX_MAX_FDS * sizeof(int))]; } ctl;
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
                       .msg_controllen = sizeof ctl.b};
    ssize_t n = recvmsg(u->s.fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0)
        return -errno;
    if (n > 0 && corio_buf_append(&u->s.rbuf, buf, (size_t)n, &u->s.loop->alloc) < 0)
        return -ENOMEM;
    u->received += (uint64_t)n;
    *fds = m.msg_controllen > 0 || (m.msg_flags & MSG_CTRUNC);
    if (m.msg_flags & MSG_CTRUNC)
        u->fds_lost = 1;
    keep_fds(u, &m);
    return (int)n;
}

/* A Unix stream turned readable (its multishot POLL): take what the
 * socket holds, up to the backpressure mark, then wake the reader. A
 * short read means the socket had no more (or the read stopped at a
 * message carrying fds): no second call to find EAGAIN, since new data
 * is a new readiness; a hang-up is not, so then reading goes on to the
 * end. The POLL is cancelled (and re-armed by the
 * next read) above the mark, or once nothing more can come. */
static void recv_msgs(corio_stream *s, int res, unsigned flags)
{
    corio_unix_stream *u = unix_of(s);
    while (res >= 0 && s->rbuf.len <= CORIO_STREAM_HWM && !s->rerr &&
           u->fds.count < CORIO_UNIX_MAX_QUEUED &&
           !(s->flags & (CORIO_SF_EOF | CORIO_SF_CLOSED))) {
        int fds = 0, n = recv_one(u, &fds);
        if (n == 0)
            s->flags |= CORIO_SF_EOF;
        if (n == -EAGAIN || n == -EWOULDBLOCK || n == -EINTR || n == 0)
            break;
        if (n < 0)
            s->rerr = (int16_t)n;
        else if (n < UNIX_RECV_CHUNK && !fds && !(res & (POLLHUP | POLLRDHUP | POLLERR)))
            break;   /* (a hang-up is read to its end: it is not signalled again) */
    }
    if (res < 0 && res != -ECANCELED)
        s->rerr = (int16_t)res;
    if ((flags & CORIO_OPF_MORE) &&
        (s->rbuf.len > CORIO_STREAM_HWM || u->fds.count >= CORIO_UNIX_MAX_QUEUED ||
         (s->flags & CORIO_SF_EOF) || s->rerr))
        be(s)->vt->cancel(be(s), &s->recv);   /* a read re-arms it */
    if (s->flags & CORIO_SF_CLOSED) {
        maybe_free(s);
        return;
    }
    corio_task_wake_slot(s->loop, &s->reader);
}

/* RECV callback: every byte received is kept, also when a cancel raced. */
static void recv_cb(corio_op *op, int res, const void *data, unsigned flags)
{
    corio_stream *s = corio_container_of(op, corio_stream, recv);
    if (s->flags & CORIO_SF_MSG) {
        recv_msgs(s, res, flags);
        return;
    }
    if (res > 0 && corio_buf_append(&s->rbuf, data, (size_t)res, &s->loop->alloc) < 0)
        s->rerr = -ENOMEM;
    else if (res == 0)
        s->flags |= CORIO_SF_EOF;
    else if (res < 0 && res != -ECANCELED && res != -ENOBUFS)
        s->rerr = res;   /* (ENOBUFS: a cancelled RECV that ran out of buffers) */
    if (s->flags & CORIO_SF_CLOSED) {
        maybe_free(s);
        return;
    }
    if (flags & CORIO_OPF_MORE)
        apply_backpressure(s);
    corio_task_wake_slot(s->loop, &s->reader);
}

/* Drop the n bytes just sent from the front of the pending iovecs. */
static void advance_iov(corio_wreq *w, size_t n)
{
    while (w->iovcnt && n >= w->iov->iov_len) {
        n -= w->iov->iov_len;
        w->iov++;
        w->iovcnt--;
    }
    if (w->iovcnt) {
        w->iov->iov_base = (char *)w->iov->iov_base + n;
        w->iov->iov_len -= n;
    }
}

static int submit_send(corio_stream *s, corio_wreq *w)
{
    w->o.send.iov = w->iov;
    w->o.send.iovcnt = w->iovcnt > 1024 ? 1024 : w->iovcnt; /* UIO_MAXIOV */
    return be(s)->vt->submit(be(s), &w->o.op);
}

/* The write or connect ended: wake the writer, maybe free the stream. */
static void end_write(corio_stream *s)
{
    if (s->werr == -ECANCELED && (s->w->sent || (s->flags & CORIO_SF_PARTIAL)))
        s->flags |= CORIO_SF_WBROKEN;
    s->flags &= ~(unsigned)(CORIO_SF_WCANCEL | CORIO_SF_PARTIAL);
    wreq_done(s);
    corio_task_wake_slot(s->loop, &s->writer);
    maybe_free(s);
}

/* SEND callback: resubmit the rest of a short send, else wake the writer. */
static void send_cb(corio_op *op, int res, const void *data, unsigned flags)
{
    corio_wreq *w = corio_container_of(op, corio_wreq, o.op);
    corio_stream *s = w->s;
    (void)data, (void)flags;
    if (res < 0) {
        s->werr = res;
    } else {
        w->sent += (size_t)res;
        advance_iov(w, (size_t)res);
        if (w->iovcnt && !(s->flags & (CORIO_SF_CLOSED | CORIO_SF_WCANCEL))) {
            int rc = res > 0 ? submit_send(s, w) : -EPIPE;
            if (rc == 0)
                return;
            s->werr = rc;
        }
        if (w->iovcnt && !s->werr)
            s->werr = -ECANCELED;
    }
    end_write(s);
}

/* CONNECT callback. */
static void conn_cb(corio_op *op, int res, const void *data, unsigned flags)
{
    corio_stream *s = corio_container_of(op, corio_wreq, o.op)->s;
    (void)data, (void)flags;
    s->conn_res = res;
    end_write(s);
}

void corio_stream_init(corio_stream *s, corio_loop *l, int fd,
                       void (*release)(corio_handle *h))
{
    memset(s, 0, sizeof *s);
    s->loop = l;
    s->fd = fd;
    s->h.release = release;
    s->recv.kind = CORIO_OP_RECV;
    s->recv.fd = fd;
    s->recv.cb = recv_cb;
    corio_loop_add_handle(l, &s->h);
}

void corio_stream_set_unix(corio_stream *s)
{
    corio_unix_stream *u = unix_of(s);
    s->flags |= CORIO_SF_MSG;
    s->recv.kind = CORIO_OP_POLL;
    s->recv.events = POLLIN | POLLRDHUP | CORIO_POLL_MULTI;   /* RDHUP: a peer's FIN */
    u->fds = (corio_fdq){0};
    u->received = 0;
    u->fds_lost = 0;
}

int corio_stream_take_fd(corio_stream *s, size_t *data_len)
{
    corio_unix_stream *u = unix_of(s);
    if (!(s->flags & CORIO_SF_MSG))
        return -EAGAIN;
    if (!u->fds.count && u->fds_lost) {   /* reported once */
        u->fds_lost = 0;
        return -EMFILE;
    }
    if (!u->fds.count)
        return -EAGAIN;
    uint64_t pos = u->received - s->rbuf.len, mark = corio_fdq_first(&u->fds)->mark;
    *data_len = mark > pos ? (size_t)(mark - pos) : 0;
    return corio_fdq_pop(&u->fds);
}

int corio_stream_connect(corio_stream *s, corio_loop *l, const struct sockaddr *sa,
                         socklen_t len, corio_task *w, void (*release)(corio_handle *h))
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    corio_stream_init(s, l, fd, release);
    corio_wreq *wr = wreq_take(s, CORIO_OP_CONNECT, conn_cb);
    if (!wr || !(wr->heap = malloc(len))) {
        corio_pool_give(&l->wreqs, wr);
        s->conn_res = -ENOMEM;
        return 0;
    }
    s->w = wr;
    memcpy(wr->heap, sa, len);
    wr->o.conn.addr = wr->heap;
    wr->o.conn.len = len;
    s->conn_res = 1;
    s->writer = w;
    int rc = be(s)->vt->submit(be(s), &wr->o.op);
    if (rc < 0) {
        s->conn_res = rc, s->writer = NULL;
        wreq_done(s);
    }
    return 0;
}

int corio_stream_want_read(corio_stream *s, corio_task *w)
{
    if (!corio_op_busy(&s->recv) && !(s->flags & CORIO_SF_EOF) && !s->rerr) {
        int rc = be(s)->vt->submit(be(s), &s->recv);
        if (rc < 0)
            return s->rerr = rc;
    }
    s->reader = w;
    return 0;
}

int corio_stream_write(corio_stream *s, const struct iovec *iov, int cnt, corio_task *w)
{
    if (s->w)
        return -EBUSY;
    if (s->flags & CORIO_SF_WBROKEN)
        return -EPIPE;
    corio_wreq *wr = wreq_take(s, CORIO_OP_SEND, send_cb);
    if (!wr)
        return -ENOMEM;
    s->w = wr;
    wr->iov = wr->small;
    if (cnt > CORIO_STREAM_IOV && !(wr->iov = wr->heap = malloc(sizeof *iov * (size_t)cnt))) {
        wreq_done(s);
        return -ENOMEM;
    }
    memcpy(wr->iov, iov, sizeof *iov * (size_t)cnt);
    wr->iovcnt = cnt;
    s->werr = 0;
    int rc = submit_send(s, wr);
    if (rc == 0)
        s->writer = w;
    else
        wreq_done(s);
    return rc;
}

void corio_stream_cancel_write(corio_stream *s)
{
    if (s->w) {
        s->flags |= CORIO_SF_WCANCEL;
        be(s)->vt->cancel(be(s), &s->w->o.op);
    }
}

int corio_stream_shutdown(corio_stream *s)
{
    return shutdown(s->fd, SHUT_WR) < 0 ? -errno : 0;
}

void corio_stream_close(corio_stream *s)
{
    s->flags |= CORIO_SF_CLOSED;
    corio_handle_close(s->loop, &s->h);
    s->reader = NULL;
    be(s)->vt->cancel(be(s), &s->recv);   /* a no-op when idle */
    corio_stream_cancel_write(s);
    maybe_free(s);
}
