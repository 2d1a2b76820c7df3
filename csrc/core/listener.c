/* listener.c: a listening socket fed by a multishot ACCEPT; accepted fds
 * wait in a small ring until a task takes them, tasks wait in a FIFO
 * until a connection comes. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include "stream.h"

/* Stop accepting when this many connections wait unclaimed. */
#define MAX_QUEUED 65536

static corio_backend *be(corio_listener *ls) { return ls->loop->be; }

static void release(corio_handle *h)
{
    corio_listener *ls = (corio_listener *)h;
    corio_fdq_close_all(&ls->fds);
    if (ls->fd >= 0)
        close(ls->fd);
    free(ls);
}

static void maybe_free(corio_listener *ls)
{
    if (ls->flags & CORIO_SF_CLOSED)
        corio_handle_settled(ls->loop, &ls->h, corio_op_busy(&ls->accept));
}

/* Queue an accepted fd; with no memory to queue it, the connection is
 * dropped and the next accept reports ENOMEM (never a silent loss). */
static void push_fd(corio_listener *ls, int fd)
{
    if (corio_fdq_push(&ls->fds, fd, 0) < 0) {
        close(fd);
        ls->err = -ENOMEM;
        return;
    }
    if (ls->fds.count >= MAX_QUEUED)
        be(ls)->vt->cancel(be(ls), &ls->accept);
}

/* Errors that say "no fd (or memory) for a new connection now": the
 * pending connection stays in the backlog, so retrying at once fails at
 * once, forever (a spinning core). */
static int shortage(int res)
{
    return res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM;
}

/* Stop accepting for a while: the backend has ended the ACCEPT (both
 * backends end it on a shortage), the timer re-arms it. Only the first
 * failure of an episode is reported. */
static void back_off(corio_listener *ls, int res)
{
    if (!ls->backoff_ms) {
        ls->err = res;
        ls->backoff_ms = CORIO_ACCEPT_BACKOFF_MIN_MS;
    } else if (ls->backoff_ms < CORIO_ACCEPT_BACKOFF_MAX_MS) {
        ls->backoff_ms *= 2;
    }
    corio_loop_timer(ls->loop, &ls->retry, (uint64_t)ls->backoff_ms * 1000000u);
}

/* The back-off is over: accept again (the ACCEPT is idle unless its final
 * callback is still on its way, in which case try a little later). */
static void retry_fire(corio_wheel *w, corio_timer *t)
{
    (void)w;
    corio_listener *ls = corio_container_of(t, corio_listener, retry);
    if (ls->paused)
        return;                                   /* resume arms it */
    if (corio_op_busy(&ls->accept))
        corio_loop_timer(ls->loop, &ls->retry, 1000000u);
    else if (be(ls)->vt->submit(be(ls), &ls->accept) < 0)
        back_off(ls, -ENOMEM);
}

static void accept_cb(corio_op *op, int res, const void *data, unsigned flags)
{
    corio_listener *ls = corio_container_of(op, corio_listener, accept);
    (void)data, (void)flags;
    int news = res >= 0 || (res != -ECANCELED && !(shortage(res) && ls->backoff_ms));
    if (res >= 0 && (ls->flags & CORIO_SF_CLOSED))
        close(res);
    else if (res >= 0)
        push_fd(ls, res), ls->backoff_ms = 0;
    else if (shortage(res) && !(ls->flags & CORIO_SF_CLOSED))
        back_off(ls, res);
    else if (res != -ECANCELED)
        ls->err = res;
    if (ls->flags & CORIO_SF_CLOSED) {
        maybe_free(ls);
        return;
    }
    if (news)
        corio_listener_pass(ls);
}

void corio_listener_pass(corio_listener *ls)
{
    corio_task_wake_first(ls->loop, &ls->acceptors);
}

/* Arm the ACCEPT unless it is armed, backing off or paused. */
static int arm(corio_listener *ls)
{
    if (corio_op_busy(&ls->accept) || ls->retry.armed || ls->paused)
        return 0;
    return be(ls)->vt->submit(be(ls), &ls->accept);
}

/* Create, configure, bind and listen; the fd or -errno. */
static int listen_fd(const struct sockaddr *sa, socklen_t len, int backlog,
                     int reuseaddr, int reuseport)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if ((reuseaddr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
        bind(fd, sa, len) < 0 || listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int corio_listener_open(corio_loop *l, const struct sockaddr *sa, socklen_t len,
                        int backlog, int reuseaddr, int reuseport,
                        corio_listener **out)
{
    int fd = listen_fd(sa, len, backlog, reuseaddr, reuseport);
    if (fd < 0)
        return fd;
    int rc = corio_listener_adopt(l, fd, out);
    if (rc < 0)
        close(fd);
    return rc;
}

int corio_listener_adopt(corio_loop *l, int fd, corio_listener **out)
{
    corio_listener *ls = calloc(1, sizeof *ls);
    if (!ls)
        return -ENOMEM;
    ls->loop = l, ls->fd = fd, ls->h.release = release;
    ls->accept = (corio_op){.kind = CORIO_OP_ACCEPT, .fd = fd, .cb = accept_cb};
    ls->retry.cb = retry_fire;
    corio_loop_add_handle(l, &ls->h);
    *out = ls;
    return 0;
}

int corio_listener_take(corio_listener *ls, corio_waiter *w, int again)
{
    if (ls->fds.count) {
        int fd = corio_fdq_pop(&ls->fds);
        if (ls->fds.count)
            corio_listener_pass(ls);   /* more are queued: the next one's turn */
        return fd;
    }
    if (ls->err) {
        int e = ls->err;
        ls->err = 0;
        return e;
    }
    int rc = arm(ls);
    if (rc < 0)
        return rc;
    corio_waitq_enqueue(&ls->acceptors, w, again);
    return -EAGAIN;
}

int corio_listener_pause(corio_listener *ls, corio_waiter *w, int again)
{
    ls->paused = 1;
    be(ls)->vt->cancel(be(ls), &ls->accept);   /* a no-op when idle */
    corio_waitq_enqueue(&ls->acceptors, w, again);
    return -EAGAIN;
}

void corio_listener_resume(corio_listener *ls)
{
    if (!ls->paused)
        return;
    ls->paused = 0;
    corio_listener_pass(ls);
}

void corio_listener_close(corio_listener *ls)
{
    ls->flags |= CORIO_SF_CLOSED;
    corio_wheel_del(&ls->loop->wheel, &ls->retry);   /* no more back-off */
    corio_handle_close(ls->loop, &ls->h);
    while (ls->acceptors.n)
        corio_listener_pass(ls);
    be(ls)->vt->cancel(be(ls), &ls->accept);   /* a no-op when idle */
    maybe_free(ls);
}
