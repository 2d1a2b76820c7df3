/* backend_test.c: the backend contract (backend.h), checked against any
 * backend: `backend_test epoll` or `backend_test io_uring`. Uses only the
 * contract plus plain sockets to set up peers. Prints a line per failed
 * check and "N passed, M failed"; exits 1 on failure, 77 when the named
 * backend cannot be opened here (e.g. io_uring under seccomp). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "backend.h"
#include "clock.h"

static const char *g_name;   /* backend under test */
static const char *g_test;   /* current test, for failure lines */
static int g_pass, g_fail;
static int g_stray;          /* callbacks on an op with no final pending */
static int g_wait_err;       /* wait() returned < 0 */

#define CHECK(cond) check((cond) != 0, __LINE__, #cond)

/* Count one check; print the failed ones. */
static void check(int ok, int line, const char *what)
{
    if (ok) {
        g_pass++;
        return;
    }
    g_fail++;
    printf("FAIL [%s] %s line %d: %s\n", g_name, g_test, line, what);
}

/* ---- a recording op ----------------------------------------------------- */

typedef struct rec {
    union {
        corio_op op;
        corio_send_op send;
        corio_connect_op conn;
        corio_poll_op poll;
        corio_msg_op msg;
    };
    corio_backend *b;
    int armed;        /* a final callback is owed */
    int cancelled;    /* we asked for cancel: no resubmit on ENOBUFS */
    int mores, finals, res;
    int bad;          /* MORE on a one-shot op, or data without a pointer */
    char *data;       /* RECV bytes, from MORE and final callbacks */
    size_t len, cap;
    int fds[64];      /* ACCEPT results */
    int nfds;
} rec;

/* Append n bytes to r's data. */
static void rec_append(rec *r, const void *p, size_t n)
{
    if (r->len + n > r->cap) {
        r->cap = (r->len + n) * 2;
        r->data = realloc(r->data, r->cap);
        if (!r->data)
            abort();
    }
    memcpy(r->data + r->len, p, n);
    r->len += n;
}

/* Keep a result the op delivered (data or an accepted fd). */
static void rec_keep(rec *r, int res, const void *data)
{
    if (r->op.kind == CORIO_OP_RECV && res > 0) {
        if (!data)
            r->bad++;
        else
            rec_append(r, data, (size_t)res);
    }
    if (r->op.kind == CORIO_OP_ACCEPT && res >= 0) {
        if (r->nfds < 64)
            r->fds[r->nfds++] = res;
        else
            close(res);
    }
}

/* The callback every recording op uses. A RECV ended by -ENOBUFS is
 * re-submitted, as the contract asks of owners. */
static void rec_cb(corio_op *op, int res, const void *data, unsigned flags)
{
    rec *r = corio_container_of(op, rec, op);
    if (!r->armed)
        g_stray++;
    rec_keep(r, res, data);
    if (flags & CORIO_OPF_MORE) {
        r->mores++;
        if (op->kind != CORIO_OP_ACCEPT && op->kind != CORIO_OP_RECV &&
            !(op->kind == CORIO_OP_POLL && (op->events & CORIO_POLL_MULTI)))
            r->bad++;
        return;
    }
    if (op->kind == CORIO_OP_RECV && res == -ENOBUFS && !r->cancelled &&
        r->b->vt->submit(r->b, op) == 0)
        return;
    r->armed = 0;
    r->finals++;
    r->res = res;
}

static void rec_init(rec *r, corio_backend *b, int kind, int fd)
{
    memset(r, 0, sizeof *r);
    r->b = b;
    r->op.kind = (uint8_t)kind;
    r->op.fd = fd;
    r->op.cb = rec_cb;
}

/* Submit r's op; 0 or -errno. */
static int rec_submit(rec *r)
{
    r->armed = 1;
    r->cancelled = 0;
    int rc = r->b->vt->submit(r->b, &r->op);
    if (rc < 0)
        r->armed = 0;
    return rc;
}

static void rec_cancel(rec *r)
{
    r->cancelled = 1;
    CHECK(r->b->vt->cancel(r->b, &r->op) == 0);
}

static void rec_free(rec *r)
{
    for (int i = 0; i < r->nfds; i++)
        close(r->fds[i]);
    free(r->data);
    r->data = NULL;
    r->nfds = 0;
}

/* One wait() with a timeout in ms, counting errors. */
static int wait_ms(corio_backend *b, int ms)
{
    int n = b->vt->wait(b, (int64_t)ms * 1000000);
    if (n < 0)
        g_wait_err++;
    return n;
}

/* Run the backend until cond holds or ms pass. */
#define RUN_UNTIL(b, cond, ms)                                          \
    do {                                                                \
        uint64_t dl_ = corio_clock_ns() + (uint64_t)(ms) * 1000000u;    \
        while (!(cond) && corio_clock_ns() < dl_)                      \
            wait_ms((b), 10);                                           \
    } while (0)

/* A few non-blocking turns: lets stray callbacks show up. */
static void settle(corio_backend *b)
{
    for (int i = 0; i < 3; i++)
        wait_ms(b, 1);
}

/* ---- sockets ------------------------------------------------------------ */

static void set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* A nonblocking TCP listener on 127.0.0.1, its address in *sa. */
static int listener(struct sockaddr_in *sa)
{
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    socklen_t len = sizeof *sa;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)sa, sizeof *sa) < 0 || listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)sa, &len) < 0) {
        perror("listener");
        exit(2);
    }
    return fd;
}

/* A blocking client connected to sa. */
static int dial(const struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) < 0) {
        perror("connect");
        exit(2);
    }
    return fd;
}

/* A connected nonblocking TCP pair over loopback. */
static void tcp_pair(int *a, int *c)
{
    struct sockaddr_in sa;
    int l = listener(&sa);
    struct pollfd p = { .fd = l, .events = POLLIN };
    *c = dial(&sa);
    poll(&p, 1, 1000);
    *a = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (*a < 0) {
        perror("accept");
        exit(2);
    }
    set_nonblock(*c);
    close(l);
}

/* Blocking-ish read of exactly n bytes from a nonblocking fd (1 s cap). */
static size_t read_n(int fd, char *buf, size_t n)
{
    size_t got = 0;
    uint64_t dl = corio_clock_ns() + 1000000000u;
    while (got < n && corio_clock_ns() < dl) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        poll(&p, 1, 100);
        ssize_t k = recv(fd, buf + got, n - got, MSG_DONTWAIT);
        if (k > 0)
            got += (size_t)k;
        else if (k == 0)
            break;
    }
    return got;
}

/* Deterministic test bytes: byte i of stream seed. */
static unsigned char pattern(size_t i, unsigned seed)
{
    uint32_t x = (uint32_t)i * 2654435761u + seed * 40503u;
    return (unsigned char)(x >> 13 ^ x >> 24);
}

static void fill(char *p, size_t n, size_t from, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (char)pattern(from + i, seed);
}

static int verify(const char *p, size_t n, size_t from, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] != pattern(from + i, seed))
            return 0;
    return 1;
}

/* ---- tests -------------------------------------------------------------- */

/* wait(0) returns at once; wait(t) never returns before t. */
static void test_wait_timing(corio_backend *b)
{
    g_test = "wait_timing";
    uint64_t t0 = corio_clock_ns();
    CHECK(b->vt->wait(b, 0) == 0);
    CHECK(corio_clock_ns() - t0 < 20000000u);
    t0 = corio_clock_ns();
    CHECK(b->vt->wait(b, 50000000) == 0);
    uint64_t dt = corio_clock_ns() - t0;
    CHECK(dt >= 50000000u);
    CHECK(dt < 1000000000u);
    t0 = corio_clock_ns();
    b->vt->wait(b, 1500000);
    CHECK(corio_clock_ns() - t0 >= 1500000u);
}

/* Several connections through one multishot accept, then its cancel. */
static void test_accept(corio_backend *b)
{
    g_test = "accept_multishot";
    struct sockaddr_in sa;
    int l = listener(&sa), c[3];
    rec r;
    rec_init(&r, b, CORIO_OP_ACCEPT, l);
    CHECK(rec_submit(&r) == 0);
    wait_ms(b, 0);
    for (int i = 0; i < 3; i++)
        c[i] = dial(&sa);
    RUN_UNTIL(b, r.nfds >= 3, 2000);
    CHECK(r.nfds == 3);
    CHECK(r.mores == 3);
    CHECK(r.finals == 0);
    for (int i = 0; i < r.nfds; i++)
        CHECK((fcntl(r.fds[i], F_GETFL) & O_NONBLOCK) && (fcntl(r.fds[i], F_GETFD) & FD_CLOEXEC));
    rec_cancel(&r);
    RUN_UNTIL(b, r.finals, 1000);
    settle(b);
    CHECK(r.finals == 1 && r.res == -ECANCELED);
    CHECK(r.bad == 0);
    rec_free(&r);
    for (int i = 0; i < 3; i++)
        close(c[i]);
    close(l);
}

/* CONNECT: success to a listener, ECONNREFUSED to a closed port. */
static void test_connect(corio_backend *b)
{
    g_test = "connect";
    struct sockaddr_in sa;
    int l = listener(&sa);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    rec r;
    rec_init(&r, b, CORIO_OP_CONNECT, s);
    r.conn.addr = (const struct sockaddr *)&sa;
    r.conn.len = sizeof sa;
    CHECK(rec_submit(&r) == 0);
    RUN_UNTIL(b, r.finals, 2000);
    settle(b);
    CHECK(r.finals == 1 && r.res == 0 && r.mores == 0);
    close(s);
    close(l);

    g_test = "connect_refused";
    l = listener(&sa);
    close(l);   /* nothing listens on sa any more */
    s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    rec_init(&r, b, CORIO_OP_CONNECT, s);
    r.conn.addr = (const struct sockaddr *)&sa;
    r.conn.len = sizeof sa;
    CHECK(rec_submit(&r) == 0);
    RUN_UNTIL(b, r.finals, 2000);
    settle(b);
    CHECK(r.finals == 1 && r.res == -ECONNREFUSED);
    close(s);
}

/* Multishot recv of data sent in chunks, then EOF (shutdown) as final 0. */
static void test_recv_chunks(corio_backend *b)
{
    g_test = "recv_chunks";
    const char *parts[] = { "hello ", "world", "!!!" };
    int a, c;
    tcp_pair(&a, &c);
    rec r;
    rec_init(&r, b, CORIO_OP_RECV, a);
    CHECK(rec_submit(&r) == 0);
    size_t want = 0;
    for (int i = 0; i < 3; i++) {
        want += strlen(parts[i]);
        CHECK(send(c, parts[i], strlen(parts[i]), 0) == (ssize_t)strlen(parts[i]));
        RUN_UNTIL(b, r.len >= want, 2000);
    }
    CHECK(r.len == 14 && memcmp(r.data, "hello world!!!", 14) == 0);
    CHECK(r.mores >= 3 && r.finals == 0);
    shutdown(c, SHUT_WR);
    RUN_UNTIL(b, r.finals, 2000);
    settle(b);
    CHECK(r.finals == 1 && r.res == 0);
    CHECK(r.bad == 0);
    rec_free(&r);
    close(a);
    close(c);
}

/* EOF by close(): pending data first, then a final 0. */
static void test_eof_close(corio_backend *b)
{
    g_test = "eof_close";
    int a, c;
    tcp_pair(&a, &c);
    CHECK(send(c, "bye", 3, 0) == 3);
    close(c);
    rec r;
    rec_init(&r, b, CORIO_OP_RECV, a);
    CHECK(rec_submit(&r) == 0);
    RUN_UNTIL(b, r.finals, 2000);
    CHECK(r.finals == 1 && r.res == 0);
    CHECK(r.len == 3 && memcmp(r.data, "bye", 3) == 0);
    rec_free(&r);
    close(a);
}

/* One SEND of several iovecs (one empty) arrives whole and in order. */
static void test_send_iov(corio_backend *b)
{
    g_test = "send_iovecs";
    int a, c;
    char got[32];
    tcp_pair(&a, &c);
    struct iovec iov[4] = { { "abc", 3 }, { "", 0 }, { "defgh", 5 }, { "ij", 2 } };
    rec r;
    rec_init(&r, b, CORIO_OP_SEND, a);
    r.send.iov = iov;
    r.send.iovcnt = 4;
    CHECK(rec_submit(&r) == 0);
    RUN_UNTIL(b, r.finals, 2000);
    settle(b);
    CHECK(r.finals == 1 && r.res == 10 && r.mores == 0);
    CHECK(read_n(c, got, 10) == 10 && memcmp(got, "abcdefghij", 10) == 0);
    close(a);
    close(c);
}

/* A sender that re-submits its op from its own callback until done. */
typedef struct sender {
    union {
        corio_op op;
        corio_send_op send;
        corio_connect_op conn;
        corio_poll_op poll;
    };
    corio_backend *b;
    const char *buf;
    size_t off, len;
    struct iovec iov;
    int err, done, calls;
} sender;

static void sender_go(sender *s)
{
    s->iov.iov_base = (char *)s->buf + s->off;
    s->iov.iov_len = s->len - s->off;
    int rc = s->b->vt->submit(s->b, &s->op);
    if (rc < 0) {
        s->err = rc;
        s->done = 1;
    }
}

static void sender_cb(corio_op *op, int res, const void *data, unsigned flags)
{
    sender *s = corio_container_of(op, sender, op);
    (void)data;
    s->calls++;
    if (res < 0 || (flags & CORIO_OPF_MORE)) {
        s->err = res < 0 ? res : -EPROTO;
        s->done = 1;
        return;
    }
    s->off += (size_t)res;
    if (s->off < s->len)
        sender_go(s);
    else
        s->done = 1;
}

static void sender_start(sender *s, corio_backend *b, int fd, const char *buf, size_t len)
{
    memset(s, 0, sizeof *s);
    s->b = b;
    s->buf = buf;
    s->len = len;
    s->op.kind = CORIO_OP_SEND;
    s->op.fd = fd;
    s->op.cb = sender_cb;
    s->send.iov = &s->iov;
    s->send.iovcnt = 1;
    sender_go(s);
}

/* 8 MB each way at once, every byte checked, then EOF both ways. */
static void test_large(corio_backend *b)
{
    g_test = "large_transfer";
    enum { N = 8 << 20 };
    int a, c;
    char *ba = malloc(N), *bc = malloc(N);
    fill(ba, N, 0, 1);
    fill(bc, N, 0, 2);
    tcp_pair(&a, &c);
    rec ra, rc;
    sender sa, sc;
    rec_init(&ra, b, CORIO_OP_RECV, a);
    rec_init(&rc, b, CORIO_OP_RECV, c);
    CHECK(rec_submit(&ra) == 0 && rec_submit(&rc) == 0);
    sender_start(&sa, b, a, ba, N);
    sender_start(&sc, b, c, bc, N);
    RUN_UNTIL(b, sa.done && sc.done && ra.len >= N && rc.len >= N, 20000);
    CHECK(sa.done && sa.err == 0 && sa.off == N);
    CHECK(sc.done && sc.err == 0 && sc.off == N);
    CHECK(rc.len == N && verify(rc.data, N, 0, 1));
    CHECK(ra.len == N && verify(ra.data, N, 0, 2));
    shutdown(a, SHUT_WR);
    shutdown(c, SHUT_WR);
    RUN_UNTIL(b, ra.finals && rc.finals, 2000);
    CHECK(ra.finals == 1 && ra.res == 0 && rc.finals == 1 && rc.res == 0);
    CHECK(ra.bad == 0 && rc.bad == 0);
    rec_free(&ra);
    rec_free(&rc);
    close(a);
    close(c);
    free(ba);
    free(bc);
}

/* POLL on a pipe: not before data, POLLIN after; POLLOUT; POLLHUP. */
static void test_poll_pipe(corio_backend *b)
{
    g_test = "poll_pipe";
    int p[2];
    char ch;
    CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
    rec r, w;
    rec_init(&r, b, CORIO_OP_POLL, p[0]);
    r.poll.events = POLLIN;
    CHECK(rec_submit(&r) == 0);
    settle(b);
    CHECK(r.finals == 0);
    CHECK(write(p[1], "x", 1) == 1);
    RUN_UNTIL(b, r.finals, 2000);
    CHECK(r.finals == 1 && r.res > 0 && (r.res & POLLIN));
    rec_init(&w, b, CORIO_OP_POLL, p[1]);
    w.poll.events = POLLOUT;
    CHECK(rec_submit(&w) == 0);
    RUN_UNTIL(b, w.finals, 2000);
    CHECK(w.finals == 1 && w.res > 0 && (w.res & POLLOUT));
    CHECK(read(p[0], &ch, 1) == 1);
    close(p[1]);
    rec_init(&r, b, CORIO_OP_POLL, p[0]);
    r.poll.events = POLLIN;
    CHECK(rec_submit(&r) == 0);
    RUN_UNTIL(b, r.finals, 2000);
    settle(b);
    CHECK(r.finals == 1 && r.res > 0 && (r.res & POLLHUP));
    close(p[0]);
}

/* POLL on a regular file: always ready, as poll(2) has it. */
static void test_poll_file(corio_backend *b)
{
    g_test = "poll_regular_file";
    FILE *f = tmpfile();
    rec r;
    rec_init(&r, b, CORIO_OP_POLL, fileno(f));
    r.poll.events = POLLIN;
    CHECK(rec_submit(&r) == 0);
    RUN_UNTIL(b, r.finals, 2000);
    settle(b);
    CHECK(r.finals == 1 && r.res > 0 && (r.res & POLLIN));
    fclose(f);
}

/* Cancel op r (optionally after one turn armed it): exactly one final,
 * -ECANCELED. */
static void cancel_one(corio_backend *b, rec *r, int turn_first)
{
    CHECK(rec_submit(r) == 0);
    if (turn_first)
        wait_ms(b, 0);
    rec_cancel(r);
    rec_cancel(r);   /* a second cancel changes nothing */
    RUN_UNTIL(b, r->finals, 2000);
    settle(b);
    CHECK(r->finals == 1 && r->res == -ECANCELED);
}

/* Pending recv, accept and poll all end with one -ECANCELED each. */
static void test_cancel(corio_backend *b)
{
    g_test = "cancel_pending";
    struct sockaddr_in sa;
    int a, c, p[2], l = listener(&sa);
    tcp_pair(&a, &c);
    CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
    rec r;
    for (int turn = 0; turn < 2; turn++) {
        rec_init(&r, b, CORIO_OP_RECV, a);
        cancel_one(b, &r, turn);
        rec_init(&r, b, CORIO_OP_ACCEPT, l);
        cancel_one(b, &r, turn);
        rec_init(&r, b, CORIO_OP_POLL, p[0]);
        r.poll.events = POLLIN;
        cancel_one(b, &r, turn);
    }
    g_test = "cancel_idle";
    rec_init(&r, b, CORIO_OP_RECV, a);
    rec_cancel(&r);
    settle(b);
    CHECK(r.finals == 0 && r.mores == 0);
    close(a);
    close(c);
    close(l);
    close(p[0]);
    close(p[1]);
}

/* Data that arrives around a cancel is delivered by the cancelled op or
 * left for the next one: across both, every byte exactly once. */
static void test_cancel_race(corio_backend *b)
{
    g_test = "cancel_race";
    int a, c, lost = 0, twice = 0;
    char buf[4096];
    tcp_pair(&a, &c);
    for (unsigned it = 0; it < 200; it++) {
        size_t k = 1 + (it * 37) % sizeof buf;
        fill(buf, k, 0, it);
        rec r;
        rec_init(&r, b, CORIO_OP_RECV, a);
        rec_submit(&r);
        if (send(c, buf, k, 0) != (ssize_t)k)
            lost++;
        if (it % 2)
            wait_ms(b, 0);
        rec_cancel(&r);
        RUN_UNTIL(b, r.finals, 2000);
        twice += r.finals != 1;
        r.finals = 0;
        if (r.len < k && rec_submit(&r) == 0) {
            RUN_UNTIL(b, r.len >= k, 2000);
            rec_cancel(&r);
            RUN_UNTIL(b, r.finals, 2000);
            twice += r.finals != 1;
        }
        lost += r.len != k || !verify(r.data, r.len, 0, it);
        rec_free(&r);
    }
    CHECK(lost == 0);
    CHECK(twice == 0);
    close(a);
    close(c);
}

/* pollfd polls readable when wait() has something to report. */
static void test_pollfd(corio_backend *b)
{
    g_test = "pollfd";
    int pfd = b->vt->pollfd(b), a, c;
    CHECK(pfd >= 0);
    if (pfd < 0)
        return;
    struct pollfd p = { .fd = pfd, .events = POLLIN };
    tcp_pair(&a, &c);
    rec r;
    rec_init(&r, b, CORIO_OP_RECV, a);
    CHECK(rec_submit(&r) == 0);
    settle(b);
    CHECK(send(c, "ping", 4, 0) == 4);
    CHECK(poll(&p, 1, 1000) == 1 && (p.revents & POLLIN));
    RUN_UNTIL(b, r.len >= 4, 1000);
    CHECK(r.len == 4);
    rec_cancel(&r);   /* a completion is now owed */
    CHECK(poll(&p, 1, 1000) == 1 && (p.revents & POLLIN));
    RUN_UNTIL(b, r.finals, 1000);
    CHECK(r.finals == 1);
    struct iovec iov = { "pong", 4 };
    rec s;
    rec_init(&s, b, CORIO_OP_SEND, a);
    s.send.iov = &iov;
    s.send.iovcnt = 1;
    CHECK(rec_submit(&s) == 0);
    CHECK(poll(&p, 1, 1000) == 1 && (p.revents & POLLIN));
    RUN_UNTIL(b, s.finals, 1000);
    CHECK(s.finals == 1 && s.res == 4);
    rec_free(&r);
    close(a);
    close(c);
}

/* An fd number closed and reused for another socket between turns: ops
 * on the new socket still see its readiness. */
static void test_fd_reuse(corio_backend *b)
{
    g_test = "fd_reuse";
    int a, c, a2, c2;
    tcp_pair(&a, &c);
    rec r;
    rec_init(&r, b, CORIO_OP_RECV, a);
    CHECK(rec_submit(&r) == 0);
    wait_ms(b, 0);
    rec_cancel(&r);
    tcp_pair(&a2, &c2);
    CHECK(dup2(a2, a) == a);   /* a now names the new socket */
    close(a2);
    close(c);
    rec r2;
    rec_init(&r2, b, CORIO_OP_RECV, a);
    CHECK(rec_submit(&r2) == 0);
    CHECK(send(c2, "new", 3, 0) == 3);
    RUN_UNTIL(b, r2.len >= 3, 2000);
    CHECK(r.finals == 1 && r.len == 0);
    CHECK(r2.len == 3 && memcmp(r2.data, "new", 3) == 0);
    rec_cancel(&r2);
    RUN_UNTIL(b, r2.finals, 1000);
    rec_free(&r);
    rec_free(&r2);
    close(a);
    close(c2);
}

/* A callback that re-submits its POLL on an always-ready fd makes one
 * wait() return (a bounded amount of work), not spin. */
static int g_repoll;
static void repoll_cb(corio_op *op, int res, const void *data, unsigned flags)
{
    rec *r = corio_container_of(op, rec, op);
    (void)data;
    (void)flags;
    r->res = res;
    if (++g_repoll < 100000 && r->b->vt->submit(r->b, op) == 0)
        return;
    r->finals++;
}

static void test_resubmit_in_cb(corio_backend *b)
{
    g_test = "resubmit_in_callback";
    int p[2];
    CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
    rec r;
    rec_init(&r, b, CORIO_OP_POLL, p[1]);
    r.op.cb = repoll_cb;
    r.poll.events = POLLOUT;
    CHECK(rec_submit(&r) == 0);
    for (int i = 0; i < 5; i++)
        wait_ms(b, 10);
    CHECK(g_repoll > 0 && g_repoll < 1000);
    CHECK(r.res & POLLOUT);
    b->vt->cancel(b, &r.op);
    g_repoll = 100000;   /* the callback now stops re-submitting */
    RUN_UNTIL(b, r.finals, 1000);
    if (r.finals != 1)
        printf("  finals=%d res=%d repoll=%d busy=%d\n", r.finals, r.res, g_repoll, corio_op_busy(&r.op));
    CHECK(r.finals == 1);
    close(p[0]);
    close(p[1]);
}

/* wait(-1) returns at once when a result is already owed. */
static void test_wait_forever_pending(corio_backend *b)
{
    g_test = "wait_forever_pending";
    int p[2];
    CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
    rec r;
    rec_init(&r, b, CORIO_OP_POLL, p[0]);
    r.poll.events = POLLIN;
    CHECK(rec_submit(&r) == 0);
    rec_cancel(&r);
    uint64_t t0 = corio_clock_ns();
    int n = 0;
    while (!r.finals && n >= 0 && corio_clock_ns() - t0 < 1000000000u)
        n = b->vt->wait(b, -1);
    CHECK(r.finals == 1 && r.res == -ECANCELED);
    CHECK(corio_clock_ns() - t0 < 500000000u);
    close(p[0]);
    close(p[1]);
}

/* An op on an fd that is not open fails: at submit or in its callback. */
static void test_bad_fd(corio_backend *b)
{
    g_test = "bad_fd";
    rec r;
    rec_init(&r, b, CORIO_OP_RECV, 1000);
    int rc = rec_submit(&r);
    if (rc == 0)
        RUN_UNTIL(b, r.finals, 1000);
    CHECK(rc < 0 || (r.finals == 1 && r.res < 0));
}

/* Fill fd's send buffer so that the next SEND must wait. */
static void clog_sndbuf(int fd)
{
    static char junk[65536];
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    while (send(fd, junk, sizeof junk, MSG_DONTWAIT) > 0)
        ;
}

/* RECVMSG and SENDMSG on UDP: the datagram and the sender's address come
 * whole; a RECVMSG submitted before the data waits for it. */
static void test_msg_udp(corio_backend *b)
{
    g_test = "msg_udp";
    int a = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), c = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    CHECK(bind(a, (struct sockaddr *)&sa, sizeof sa) == 0);
    CHECK(getsockname(a, (struct sockaddr *)&sa, &len) == 0);
    char buf[70000], big[65000];
    memset(big, 'u', sizeof big);
    struct sockaddr_in from;
    struct iovec riov = {buf, sizeof buf}, siov = {big, sizeof big};
    struct msghdr rm = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &riov, .msg_iovlen = 1};
    struct msghdr sm = {.msg_name = &sa, .msg_namelen = sizeof sa, .msg_iov = &siov, .msg_iovlen = 1};
    rec r, s;
    rec_init(&r, b, CORIO_OP_RECVMSG, a);
    r.msg.msg = &rm;
    CHECK(rec_submit(&r) == 0);
    settle(b);
    CHECK(r.finals == 0);              /* nothing yet: it waits */
    rec_init(&s, b, CORIO_OP_SENDMSG, c);
    s.msg.msg = &sm;
    CHECK(rec_submit(&s) == 0);
    RUN_UNTIL(b, r.finals && s.finals, 2000);
    CHECK(s.finals == 1 && s.res == (int)sizeof big);
    CHECK(r.finals == 1 && r.res == (int)sizeof big && r.mores == 0);
    CHECK(memcmp(buf, big, sizeof big) == 0);
    struct sockaddr_in cs;
    len = sizeof cs;
    getsockname(c, (struct sockaddr *)&cs, &len);
    CHECK(rm.msg_namelen == sizeof from && from.sin_port == cs.sin_port);
    close(a);
    close(c);
}

/* An fd passed with SCM_RIGHTS arrives in RECVMSG's control data. */
static void test_msg_rights(corio_backend *b)
{
    g_test = "msg_rights";
    int sv[2], p[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    CHECK(pipe(p) == 0);
    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } sc, rc;
    memset(&sc, 0, sizeof sc);
    memset(&rc, 0, sizeof rc);
    char one = 'x', got = 0;
    struct iovec siov = {&one, 1}, riov = {&got, 1};
    struct msghdr sm = {.msg_iov = &siov, .msg_iovlen = 1, .msg_control = sc.b, .msg_controllen = sizeof sc.b};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&sm);
    cm->cmsg_level = SOL_SOCKET, cm->cmsg_type = SCM_RIGHTS, cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &p[1], sizeof(int));
    struct msghdr rm = {.msg_iov = &riov, .msg_iovlen = 1, .msg_control = rc.b, .msg_controllen = sizeof rc.b};
    rec s, r;
    rec_init(&s, b, CORIO_OP_SENDMSG, sv[0]);
    s.msg.msg = &sm;
    rec_init(&r, b, CORIO_OP_RECVMSG, sv[1]);
    r.msg.msg = &rm;
    r.msg.flags = MSG_CMSG_CLOEXEC;
    CHECK(rec_submit(&s) == 0 && rec_submit(&r) == 0);
    RUN_UNTIL(b, r.finals && s.finals, 2000);
    CHECK(s.res == 1 && r.res == 1 && got == 'x');
    cm = CMSG_FIRSTHDR(&rm);
    int fd = -1;
    CHECK(cm && cm->cmsg_type == SCM_RIGHTS);
    if (cm)
        memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    CHECK(fd >= 0 && write(fd, "y", 1) == 1);   /* the pipe's write end, duplicated */
    char y = 0;
    CHECK(read(p[0], &y, 1) == 1 && y == 'y');
    if (fd >= 0)
        close(fd);
    close(p[0]), close(p[1]), close(sv[0]), close(sv[1]);
}

/* A POLL with CORIO_POLL_MULTI stays armed: a MORE callback for each new
 * readiness, until cancel() ends it. */
static void test_poll_multi(corio_backend *b)
{
    g_test = "poll_multi";
    int p[2];
    CHECK(pipe(p) == 0);
    set_nonblock(p[0]);
    rec r;
    rec_init(&r, b, CORIO_OP_POLL, p[0]);
    r.op.events = POLLIN | CORIO_POLL_MULTI;
    CHECK(rec_submit(&r) == 0);
    settle(b);
    CHECK(r.mores == 0 && r.finals == 0);
    char c;
    for (int i = 1; i <= 3; i++) {
        CHECK(write(p[1], "x", 1) == 1);
        RUN_UNTIL(b, r.mores >= i, 1000);
        CHECK(r.mores >= i && r.finals == 0);
        CHECK(read(p[0], &c, 1) == 1);   /* consume what it reacted to */
        settle(b);
    }
    int seen = r.mores;
    settle(b);
    CHECK(r.mores == seen);                /* nothing new: no callback */
    rec_cancel(&r);
    RUN_UNTIL(b, r.finals, 1000);
    CHECK(r.finals == 1 && r.res == -ECANCELED);
    close(p[0]);
    close(p[1]);
}

/* An op kind outside the contract is refused, never run as something else. */
static void test_unknown_kind(corio_backend *b)
{
    g_test = "unknown_kind";
    rec r;
    rec_init(&r, b, CORIO_OP_COUNT, 0);
    CHECK(rec_submit(&r) == -EINVAL);
    r.op.kind = 200;
    CHECK(rec_submit(&r) == -EINVAL);
    CHECK(r.finals == 0);
}

/* destroy() with every kind of op in flight: no callbacks, no leaks
 * (run under ASan or valgrind to see the second half). */
static void test_destroy_inflight(void)
{
    g_test = "destroy_inflight";
    corio_backend *b;
    char why[256];
    if (corio_backend_open(&b, g_name, why, sizeof why) < 0) {
        CHECK(!"reopen");
        return;
    }
    struct sockaddr_in sa;
    int l = listener(&sa), a, c, p[2];
    tcp_pair(&a, &c);
    CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
    clog_sndbuf(c);
    static char big[1 << 20];
    struct iovec iov = { big, sizeof big };
    rec r[5];
    rec_init(&r[0], b, CORIO_OP_ACCEPT, l);
    rec_init(&r[1], b, CORIO_OP_RECV, a);
    rec_init(&r[2], b, CORIO_OP_SEND, c);
    r[2].send.iov = &iov;
    r[2].send.iovcnt = 1;
    rec_init(&r[3], b, CORIO_OP_POLL, p[0]);
    r[3].poll.events = POLLIN;
    rec_init(&r[4], b, CORIO_OP_RECV, c);
    for (int i = 0; i < 5; i++)
        CHECK(rec_submit(&r[i]) == 0);
    wait_ms(b, 0);
    rec_cancel(&r[4]);  /* a final owed at destroy time */
    int before = 0, after = 0;
    for (int i = 0; i < 5; i++)
        before += r[i].mores + r[i].finals;
    b->vt->destroy(b);
    for (int i = 0; i < 5; i++)
        after += r[i].mores + r[i].finals;
    CHECK(after == before);
    for (int i = 0; i < 5; i++)
        rec_free(&r[i]);
    close(l);
    close(a);
    close(c);
    close(p[0]);
    close(p[1]);
}

/* corio_backend_open's name handling. */
static void test_open_names(void)
{
    g_test = "open_names";
    corio_backend *b = NULL;
    char why[256];
    CHECK(corio_backend_open(&b, "kqueue", why, sizeof why) == -EINVAL);
    CHECK(strcmp(why, "unknown backend 'kqueue' (expected io_uring or epoll)") == 0);
    CHECK(corio_backend_open(&b, NULL, why, sizeof why) == 0 && b);
    if (b)
        b->vt->destroy(b);
}

int main(int argc, char **argv)
{
    corio_backend *b;
    char why[256] = "";
    if (argc != 2) {
        fprintf(stderr, "usage: %s epoll|io_uring\n", argv[0]);
        return 2;
    }
    g_name = argv[1];
    int rc = corio_backend_open(&b, g_name, why, sizeof why);
    if (rc < 0) {
        printf("SKIP %s: %s\n", g_name, why);
        return 77;
    }
    g_test = "name";
    CHECK(strcmp(b->vt->name, g_name) == 0);
    test_wait_timing(b);
    test_accept(b);
    test_connect(b);
    test_recv_chunks(b);
    test_eof_close(b);
    test_send_iov(b);
    test_large(b);
    test_poll_pipe(b);
    test_poll_file(b);
    test_cancel(b);
    test_cancel_race(b);
    test_pollfd(b);
    test_bad_fd(b);
    test_fd_reuse(b);
    test_resubmit_in_cb(b);
    test_wait_forever_pending(b);
    test_msg_udp(b);
    test_msg_rights(b);
    test_poll_multi(b);
    test_unknown_kind(b);
    b->vt->destroy(b);
    test_destroy_inflight();
    test_open_names();
    g_test = "global";
    CHECK(g_stray == 0);
    CHECK(g_wait_err == 0);
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
