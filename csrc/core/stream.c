/* stream.c: a connected socket: read buffer fed by a multishot RECV, whole
 * writes as resubmitted SENDs, non-blocking connect. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "stream.h"

static corio_backend *be(corio_stream *s) { return s->loop->be; }

/* Free the stream once it is closed and no op can call back any more. */
static void maybe_free(corio_stream *s)
{
    if (!(s->flags & CORIO_SF_CLOSED) || corio_op_busy(&s->recv) ||
        corio_op_busy(&s->send))
        return;
    corio_loop_del_handle(&s->h);
    s->h.release(&s->h);
}

/* Close the fd and free memory; no I/O (also used at loop close). */
static void release(corio_handle *h)
{
    corio_stream *s = (corio_stream *)h;
    if (s->fd >= 0)
        close(s->fd);
    corio_buf_free(&s->rbuf);
    free(s->heap);
    free(s);
}

/* Stop receiving while the reader lags too far behind. */
static void apply_backpressure(corio_stream *s)
{
    if (s->rbuf.len > CORIO_STREAM_HWM && !(s->flags & CORIO_SF_STOPPING)) {
        s->flags |= CORIO_SF_STOPPING;
        be(s)->vt->cancel(be(s), &s->recv);
    }
}

/* RECV callback: every byte received is kept, also when a cancel raced. */
static void recv_cb(corio_op *op, int res, const void *data, unsigned flags)
{
    corio_stream *s = op->owner;
    if (res > 0 && corio_buf_append(&s->rbuf, data, (size_t)res) < 0)
        s->rerr = -ENOMEM;
    else if (res == 0)
        s->flags |= CORIO_SF_EOF;
    else if (res < 0 && res != -ECANCELED && res != -ENOBUFS)
        s->rerr = res;
    if (!(flags & CORIO_OPF_MORE))
        s->flags &= ~CORIO_SF_STOPPING;
    if (s->flags & CORIO_SF_CLOSED) {
        maybe_free(s);
        return;
    }
    if (flags & CORIO_OPF_MORE)
        apply_backpressure(s);
    corio_waiter_fire(&s->reader);
}

/* Drop the n bytes just sent from the front of the pending iovecs. */
static void advance_iov(corio_stream *s, size_t n)
{
    while (s->wiovcnt && n >= s->wiov->iov_len) {
        n -= s->wiov->iov_len;
        s->wiov++;
        s->wiovcnt--;
    }
    if (s->wiovcnt) {
        s->wiov->iov_base = (char *)s->wiov->iov_base + n;
        s->wiov->iov_len -= n;
    }
}

static int submit_send(corio_stream *s)
{
    s->send.u.send.iov = s->wiov;
    s->send.u.send.iovcnt = s->wiovcnt > 1024 ? 1024 : s->wiovcnt; /* UIO_MAXIOV */;
    return be(s)->vt->submit(be(s), &s->send);
}

/* SEND callback: resubmit the rest of a short send, else wake the writer. */
static void send_cb(corio_op *op, int res, const void *data, unsigned flags)
{
    corio_stream *s = op->owner;
    (void)data, (void)flags;
    if (res < 0) {
        s->werr = res;
    } else {
        advance_iov(s, (size_t)res);
        if (s->wiovcnt && !(s->flags & (CORIO_SF_CLOSED | CORIO_SF_WCANCEL))) {
            int rc = res > 0 ? submit_send(s) : -EPIPE;
            if (rc == 0)
                return;
            s->werr = rc;
        }
        if (s->wiovcnt && !s->werr)
            s->werr = -ECANCELED;
    }
    s->flags &= ~CORIO_SF_WCANCEL;
    corio_waiter_fire(&s->writer);
    maybe_free(s);
}

/* CONNECT callback: the op becomes the stream's SEND op again. */
static void conn_cb(corio_op *op, int res, const void *data, unsigned flags)
{
    corio_stream *s = op->owner;
    (void)data, (void)flags;
    s->conn_res = res;
    s->flags &= ~CORIO_SF_WCANCEL;
    op->kind = CORIO_OP_SEND;
    op->cb = send_cb;
    free(s->heap);
    s->heap = NULL;
    corio_waiter_fire(&s->writer);
    maybe_free(s);
}

static void init_op(corio_op *op, corio_stream *s, int kind, corio_op_cb cb)
{
    op->kind = (uint8_t)kind;
    op->fd = s->fd;
    op->cb = cb;
    op->owner = s;
}

int corio_stream_open(corio_loop *l, int fd, corio_stream **out)
{
    corio_stream *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->loop = l;
    s->fd = fd;
    s->h.release = release;
    init_op(&s->recv, s, CORIO_OP_RECV, recv_cb);
    init_op(&s->send, s, CORIO_OP_SEND, send_cb);
    corio_loop_add_handle(l, &s->h);
    *out = s;
    return 0;
}

int corio_stream_connect(corio_loop *l, const struct sockaddr *sa, socklen_t len,
                         corio_waiter *w, corio_stream **out)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = corio_stream_open(l, fd, out);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    corio_stream *s = *out;
    if (!(s->heap = malloc(len))) {
        s->conn_res = -ENOMEM;
        return 0;
    }
    memcpy(s->heap, sa, len);
    s->send.kind = CORIO_OP_CONNECT;
    s->send.cb = conn_cb;
    s->send.u.connect.addr = s->heap;
    s->send.u.connect.len = len;
    s->conn_res = 1;
    s->writer = w;
    rc = be(s)->vt->submit(be(s), &s->send);
    if (rc < 0)
        s->conn_res = rc, s->writer = NULL;
    return 0;
}

int corio_stream_want_read(corio_stream *s, corio_waiter *w)
{
    if (!corio_op_busy(&s->recv) && !(s->flags & CORIO_SF_EOF) && !s->rerr) {
        int rc = be(s)->vt->submit(be(s), &s->recv);
        if (rc < 0)
            return s->rerr = rc;
    }
    s->reader = w;
    return 0;
}

int corio_stream_write(corio_stream *s, const struct iovec *iov, int cnt, corio_waiter *w)
{
    if (corio_op_busy(&s->send))
        return -EBUSY;
    free(s->heap);
    s->heap = NULL;
    s->wiov = s->wiov_small;
    if (cnt > CORIO_STREAM_IOV && !(s->wiov = s->heap = malloc(sizeof *iov * (size_t)cnt)))
        return -ENOMEM;
    memcpy(s->wiov, iov, sizeof *iov * (size_t)cnt);
    s->wiovcnt = cnt;
    s->werr = 0;
    int rc = submit_send(s);
    if (rc == 0)
        s->writer = w;
    return rc;
}

void corio_stream_cancel_write(corio_stream *s)
{
    if (corio_op_busy(&s->send)) {
        s->flags |= CORIO_SF_WCANCEL;
        be(s)->vt->cancel(be(s), &s->send);
    }
}

int corio_stream_shutdown(corio_stream *s)
{
    return shutdown(s->fd, SHUT_WR) < 0 ? -errno : 0;
}

void corio_stream_close(corio_stream *s)
{
    s->flags |= CORIO_SF_CLOSED;
    s->reader = NULL;
    if (corio_op_busy(&s->recv))
        be(s)->vt->cancel(be(s), &s->recv);
    corio_stream_cancel_write(s);
    maybe_free(s);
}
