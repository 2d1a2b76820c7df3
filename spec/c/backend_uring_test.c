/* backend_uring_test.c: drives the io_uring backend through the contract of
 * backend.h. Prints one line per failed check and "N passed, M failed";
 * exits 1 on failure, 77 when io_uring is unavailable here.
 * The whole suite runs four times through the backend's test hooks: as the
 * kernel would pick (multishot, DEFER_TASKRUN here), with single-shot
 * ACCEPT/RECV, with a COOP_TASKRUN ring, and with a plain ring. */
#define _GNU_SOURCE
#include "backend.h"
#include <liburing.h>
#include "clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern int corio__uring_force_singleshot; /* backend test hooks */
extern int corio__uring_setup_skip;
extern int corio__uring_no_incbuf;

static int npass, nfail;
static const char *mode = "multishot";

#define CHECK(c)                                                                    \
    do {                                                                            \
        if (c)                                                                      \
            npass++;                                                                \
        else {                                                                      \
            nfail++;                                                                \
            printf("FAIL [%s] %s:%d: %s\n", mode, __func__, __LINE__, #c);          \
        }                                                                           \
    } while (0)

static corio_backend *B;

/* ---- a recording op -------------------------------------------------------- */

typedef struct top {
    union {
        corio_op op;
        corio_send_op send;
        corio_connect_op conn;
        corio_poll_op poll;
    };
    int ncb, nmore, nfinal, res, bad_after_final;
    unsigned flags;
    char *data;                /* RECV bytes appended here */
    size_t len, cap;
    int fds[64], nfds;         /* ACCEPT results */
    int resubmit_send;         /* SEND: keep sending until all of want */
    size_t sent, want;
    struct iovec iov[2];
    const char *src;
} top;

/* Record one callback; a callback after the final one is a contract bug. */
static void record(top *t, int res, unsigned flags)
{
    if (t->nfinal)
        t->bad_after_final++;
    t->ncb++;
    t->res = res;
    t->flags = flags;
    if (flags & CORIO_OPF_MORE)
        t->nmore++;
    else
        t->nfinal++;
}

static void append(top *t, const void *p, size_t n)
{
    if (t->len + n > t->cap) {
        t->cap = (t->len + n) * 2;
        t->data = realloc(t->data, t->cap);
    }
    memcpy(t->data + t->len, p, n);
    t->len += n;
}

static void cb_recv(corio_op *op, int res, const void *data, unsigned flags)
{
    top *t = corio_container_of(op, top, op);
    record(t, res, flags);
    if (res > 0)
        append(t, data, (size_t)res);
}

static void cb_accept(corio_op *op, int res, const void *data, unsigned flags)
{
    top *t = corio_container_of(op, top, op);
    (void)data;
    record(t, res, flags);
    if (res >= 0 && t->nfds < 64)
        t->fds[t->nfds++] = res;
}

static void cb_plain(corio_op *op, int res, const void *data, unsigned flags)
{
    (void)data;
    record(corio_container_of(op, top, op), res, flags);
}

/* Arm the next chunk of a self-resubmitting SEND, split over two iovecs. */
static void send_next(top *t)
{
    size_t left = t->want - t->sent, chunk = left < 262144 ? left : 262144;
    size_t half = chunk / 2;
    t->iov[0] = (struct iovec){ (void *)(t->src + t->sent), half };
    t->iov[1] = (struct iovec){ (void *)(t->src + t->sent + half), chunk - half };
    t->send.iov = t->iov;
    t->send.iovcnt = half ? 2 : 1;
    if (!half)
        t->iov[0] = t->iov[1];
    B->vt->submit(B, &t->op);
}

static void cb_send_more(corio_op *op, int res, const void *data, unsigned flags)
{
    top *t = corio_container_of(op, top, op);
    (void)data;
    (void)flags;
    t->ncb++;
    if (res < 0) {
        t->res = res;
        t->nfinal = 1;
        return;
    }
    t->sent += (size_t)res;
    if (t->sent < t->want)
        send_next(t);
    else
        t->nfinal = 1;
}

static void top_init(top *t, int kind, int fd, corio_op_cb cb)
{
    memset(t, 0, sizeof *t);
    t->op.kind = (uint8_t)kind;
    t->op.fd = fd;
    t->op.cb = cb;
}

static void top_free(top *t)
{
    free(t->data);
    t->data = NULL;
}

/* ---- helpers --------------------------------------------------------------- */

/* Run wait() until *flag is non-zero or ms elapse; returns *flag. */
static int run_until(volatile int *flag, int ms)
{
    uint64_t end = corio_clock_ns() + (uint64_t)ms * 1000000u;
    while (!*flag && corio_clock_ns() < end)
        B->vt->wait(B, 20000000);
    return *flag;
}

/* Run wait() until t has had its final callback. */
static int run_final(top *t, int ms)
{
    return run_until(&t->nfinal, ms);
}

static void set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* A listening loopback socket; its address in *sa. */
static int listener(struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t len = sizeof *sa;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)sa, sizeof *sa);
    listen(fd, 128);
    getsockname(fd, (struct sockaddr *)sa, &len);
    set_nonblock(fd);
    return fd;
}

/* A connected loopback TCP pair, both ends non-blocking. */
static void tcp_pair(int *a, int *b)
{
    struct sockaddr_in sa;
    int l = listener(&sa);
    *a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    connect(*a, (struct sockaddr *)&sa, sizeof sa);
    struct pollfd p = { l, POLLIN, 0 };
    poll(&p, 1, 1000);
    *b = accept4(l, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    set_nonblock(*a);
    close(l);
}

static unsigned char pattern(size_t i, unsigned seed)
{
    return (unsigned char)((i * 131u + (i >> 9) + seed) & 0xff);
}

static char *make_pattern(size_t n, unsigned seed)
{
    char *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)pattern(i, seed);
    return p;
}

/* ---- tests ----------------------------------------------------------------- */

/* Multishot accept of several connections, then cancel of the listener. */
static void test_accept_multi(void)
{
    struct sockaddr_in sa;
    int l = listener(&sa), cl[5];
    top t;
    top_init(&t, CORIO_OP_ACCEPT, l, cb_accept);
    CHECK(B->vt->submit(B, &t.op) == 0);
    CHECK(corio_op_busy(&t.op));
    CHECK(B->vt->submit(B, &t.op) == -EBUSY);
    for (int i = 0; i < 5; i++) {
        cl[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        connect(cl[i], (struct sockaddr *)&sa, sizeof sa);
    }
    uint64_t end = corio_clock_ns() + 2000000000u;
    while (t.nfds < 5 && corio_clock_ns() < end)
        B->vt->wait(B, 20000000);
    CHECK(t.nfds == 5);
    CHECK(t.nmore == 5 && t.nfinal == 0);
    for (int i = 0; i < t.nfds; i++) {
        CHECK(fcntl(t.fds[i], F_GETFL) & O_NONBLOCK);
        CHECK(fcntl(t.fds[i], F_GETFD) & FD_CLOEXEC);
        close(t.fds[i]);
    }
    CHECK(B->vt->cancel(B, &t.op) == 0);
    CHECK(run_final(&t, 1000));
    CHECK(t.res == -ECANCELED);
    CHECK(!corio_op_busy(&t.op));
    CHECK(B->vt->cancel(B, &t.op) == 0); /* idle: no-op */
    B->vt->wait(B, 0);
    CHECK(t.bad_after_final == 0 && t.nfinal == 1);
    for (int i = 0; i < 5; i++)
        close(cl[i]);
    close(l);
}

/* Cancel of an accept that never saw a connection. */
static void test_cancel_accept(void)
{
    struct sockaddr_in sa;
    int l = listener(&sa);
    top t;
    top_init(&t, CORIO_OP_ACCEPT, l, cb_accept);
    B->vt->submit(B, &t.op);
    B->vt->wait(B, 0);
    B->vt->cancel(B, &t.op);
    CHECK(t.ncb == 0); /* cancel() runs no callback */
    CHECK(run_final(&t, 1000));
    CHECK(t.res == -ECANCELED && t.ncb == 1);
    close(l);
}

/* Data written in chunks arrives in order through MORE callbacks; EOF is
 * the final callback with res 0. */
static void test_recv_chunks(void)
{
    int a, c;
    tcp_pair(&a, &c);
    top t;
    top_init(&t, CORIO_OP_RECV, a, cb_recv);
    CHECK(B->vt->submit(B, &t.op) == 0);
    const char *parts[] = { "hello", ", ", "world", "!" };
    size_t want = 0;
    for (int i = 0; i < 4; i++) {
        CHECK(write(c, parts[i], strlen(parts[i])) == (ssize_t)strlen(parts[i]));
        want += strlen(parts[i]);
        uint64_t end = corio_clock_ns() + 1000000000u;
        while (t.len < want && corio_clock_ns() < end)
            B->vt->wait(B, 20000000);
    }
    CHECK(t.len == 13 && memcmp(t.data, "hello, world!", 13) == 0);
    CHECK(t.nmore >= 1 && t.nfinal == 0);
    shutdown(c, SHUT_WR);
    CHECK(run_final(&t, 1000));
    CHECK(t.res == 0 && !(t.flags & CORIO_OPF_MORE));
    close(a);
    close(c);
    top_free(&t);
}

/* 8 MB each way at once, sent with two-iovec SENDs, received by RECV;
 * every byte checked. Also drains the buffer ring (ENOBUFS path). */
static void test_large(void)
{
    const size_t N = 8u << 20;
    int a, c;
    tcp_pair(&a, &c);
    char *pa = make_pattern(N, 1), *pc = make_pattern(N, 7);
    top ra, rc, sa, sc;
    top_init(&ra, CORIO_OP_RECV, a, cb_recv);
    top_init(&rc, CORIO_OP_RECV, c, cb_recv);
    top_init(&sa, CORIO_OP_SEND, a, cb_send_more);
    top_init(&sc, CORIO_OP_SEND, c, cb_send_more);
    sa.src = pa, sa.want = N, sc.src = pc, sc.want = N;
    B->vt->submit(B, &ra.op);
    B->vt->submit(B, &rc.op);
    send_next(&sa);
    send_next(&sc);
    uint64_t end = corio_clock_ns() + 20000000000u;
    while ((ra.len < N || rc.len < N || !sa.nfinal || !sc.nfinal) && corio_clock_ns() < end &&
           !ra.nfinal && !rc.nfinal)
        B->vt->wait(B, 50000000);
    CHECK(sa.sent == N && sc.sent == N && sa.res == 0 && sc.res == 0);
    CHECK(ra.len == N && rc.len == N);
    CHECK(ra.len == N && memcmp(ra.data, pc, N) == 0);
    CHECK(rc.len == N && memcmp(rc.data, pa, N) == 0);
    CHECK(ra.nfinal == 0 && rc.nfinal == 0); /* never ENOBUFS nor an end */
    shutdown(a, SHUT_WR);
    shutdown(c, SHUT_WR);
    CHECK(run_final(&ra, 1000) && run_final(&rc, 1000));
    CHECK(ra.res == 0 && rc.res == 0);
    close(a);
    close(c);
    free(pa);
    free(pc);
    top_free(&ra);
    top_free(&rc);
}

/* Many connections receiving at once need more buffers than the ring has:
 * the backend must re-arm internally, owners never see ENOBUFS. */
static void test_buffer_starvation(void)
{
    enum { NC = 24, PER = 512 * 1024 };
    int a[NC], c[NC];
    top r[NC];
    char *src = make_pattern(PER, 3);
    size_t off[NC];
    for (int i = 0; i < NC; i++) {
        tcp_pair(&a[i], &c[i]);
        top_init(&r[i], CORIO_OP_RECV, a[i], cb_recv);
        B->vt->submit(B, &r[i].op);
        off[i] = 0;
    }
    B->vt->wait(B, 0);
    uint64_t end = corio_clock_ns() + 20000000000u;
    int done = 0;
    while (!done && corio_clock_ns() < end) {
        done = 1;
        for (int i = 0; i < NC; i++) {
            ssize_t w = off[i] < PER ? write(c[i], src + off[i], PER - off[i]) : 0;
            off[i] += w > 0 ? (size_t)w : 0;
            done &= r[i].len == PER;
        }
        B->vt->wait(B, 5000000);
    }
    int ok = 1, finals = 0;
    for (int i = 0; i < NC; i++) {
        ok &= r[i].len == PER && memcmp(r[i].data, src, PER) == 0;
        finals += r[i].nfinal;
        B->vt->cancel(B, &r[i].op);
    }
    CHECK(ok);
    CHECK(finals == 0);
    for (int i = 0; i < NC; i++) {
        CHECK(run_final(&r[i], 1000) && r[i].res == -ECANCELED);
        close(a[i]);
        close(c[i]);
        top_free(&r[i]);
    }
    free(src);
}

/* Small receives on several connections in the same turns share buffers
 * (incremental mode packs them): each connection still sees exactly its
 * own bytes, in order, across many rounds that cycle the whole ring. */
static void test_small_interleaved(void)
{
    enum { NC = 8, ROUNDS = 600, MSG = 100 };
    int a[NC], c[NC];
    top r[NC];
    char msg[MSG];
    for (int i = 0; i < NC; i++) {
        tcp_pair(&a[i], &c[i]);
        top_init(&r[i], CORIO_OP_RECV, a[i], cb_recv);
        B->vt->submit(B, &r[i].op);
    }
    B->vt->wait(B, 0);
    for (int k = 0; k < ROUNDS; k++) {
        for (int i = 0; i < NC; i++) {
            memset(msg, 'a' + (k + i) % 26, MSG);
            if (write(c[i], msg, MSG) != MSG)
                nfail++;
        }
        /* bytes are on their way (in flight or queued for deferred work)
         * while buffer pages are dropped: none may be lost */
        if (k % 7 == 0)
            B->vt->trim(B);
        uint64_t end = corio_clock_ns() + 2000000000u;
        int all = 0;
        while (!all && corio_clock_ns() < end) {
            B->vt->wait(B, 1000000);
            all = 1;
            for (int i = 0; i < NC; i++)
                all &= r[i].len == (size_t)(k + 1) * MSG;
        }
    }
    int ok = 1;
    for (int i = 0; i < NC; i++) {
        ok &= r[i].len == (size_t)ROUNDS * MSG && r[i].nfinal == 0;
        for (size_t j = 0; ok && j < r[i].len; j++)
            ok &= r[i].data[j] == 'a' + (int)((j / MSG + (size_t)i) % 26);
        B->vt->cancel(B, &r[i].op);
    }
    CHECK(ok);
    for (int i = 0; i < NC; i++) {
        CHECK(run_final(&r[i], 1000) && r[i].res == -ECANCELED);
        close(a[i]);
        close(c[i]);
        top_free(&r[i]);
    }
}

/* A three-iovec SEND is sent whole, in order. */
static void test_send_iov(void)
{
    int a, c;
    tcp_pair(&a, &c);
    struct iovec iov[3] = { { "abc", 3 }, { "", 0 }, { "defgh", 5 } };
    top t;
    top_init(&t, CORIO_OP_SEND, a, cb_plain);
    t.send.iov = iov;
    t.send.iovcnt = 3;
    CHECK(B->vt->submit(B, &t.op) == 0);
    CHECK(run_final(&t, 1000));
    CHECK(t.res == 8 && t.ncb == 1);
    char buf[16] = { 0 };
    struct pollfd p = { c, POLLIN, 0 };
    poll(&p, 1, 1000);
    CHECK(read(c, buf, sizeof buf) == 8 && memcmp(buf, "abcdefgh", 8) == 0);
    /* SEND to a closed peer fails with EPIPE, no SIGPIPE. */
    close(c);
    usleep(10000);
    int fails = 0;
    for (int i = 0; i < 50 && !fails; i++) {
        top_init(&t, CORIO_OP_SEND, a, cb_plain);
        t.send.iov = iov;
        t.send.iovcnt = 1;
        B->vt->submit(B, &t.op);
        run_final(&t, 1000);
        fails = t.res < 0;
    }
    CHECK(fails && (t.res == -EPIPE || t.res == -ECONNRESET));
    close(a);
}

/* CONNECT to a listener succeeds; to a closed port is refused. */
static void test_connect(void)
{
    struct sockaddr_in sa;
    int l = listener(&sa);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    top t;
    top_init(&t, CORIO_OP_CONNECT, s, cb_plain);
    t.conn.addr = (struct sockaddr *)&sa;
    t.conn.len = sizeof sa;
    CHECK(B->vt->submit(B, &t.op) == 0);
    CHECK(run_final(&t, 1000) && t.res == 0);
    close(s);
    close(l); /* the port is now closed */
    s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    top_init(&t, CORIO_OP_CONNECT, s, cb_plain);
    t.conn.addr = (struct sockaddr *)&sa;
    t.conn.len = sizeof sa;
    B->vt->submit(B, &t.op);
    CHECK(run_final(&t, 1000) && t.res == -ECONNREFUSED);
    close(s);
}

/* POLL on a pipe: nothing until written, then POLLIN once. */
static void test_poll(void)
{
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
    top t;
    top_init(&t, CORIO_OP_POLL, p[0], cb_plain);
    t.poll.events = POLLIN;
    B->vt->submit(B, &t.op);
    B->vt->wait(B, 0);
    B->vt->wait(B, 10000000);
    CHECK(t.ncb == 0);
    CHECK(write(p[1], "x", 1) == 1);
    CHECK(run_final(&t, 1000));
    CHECK((t.res & POLLIN) && t.ncb == 1);
    close(p[0]);
    close(p[1]);
}

/* Cancel of a pending RECV: one final callback, -ECANCELED, op idle. */
static void test_cancel_recv(void)
{
    int a, c;
    tcp_pair(&a, &c);
    top t;
    top_init(&t, CORIO_OP_RECV, a, cb_recv);
    B->vt->submit(B, &t.op);
    B->vt->wait(B, 0);
    B->vt->wait(B, 0);
    CHECK(B->vt->cancel(B, &t.op) == 0);
    CHECK(t.ncb == 0);
    CHECK(run_final(&t, 1000));
    CHECK(t.res == -ECANCELED && t.ncb == 1 && !corio_op_busy(&t.op));
    /* Cancel right after submit, before any wait(). */
    top_init(&t, CORIO_OP_RECV, a, cb_recv);
    B->vt->submit(B, &t.op);
    B->vt->cancel(B, &t.op);
    CHECK(run_final(&t, 1000) && t.res == -ECANCELED && t.ncb == 1);
    close(a);
    close(c);
}

/* Self-cancelling RECV: cancel from inside the first data callback. */
static void cb_recv_cancel(corio_op *op, int res, const void *data, unsigned flags)
{
    cb_recv(op, res, data, flags);
    if (flags & CORIO_OPF_MORE)
        B->vt->cancel(B, op);
}

/* Data racing a cancel is delivered, never lost: bytes seen by callbacks
 * plus bytes left in the socket equal bytes written. */
static void test_cancel_race(void)
{
    int lost = 0, finals_ok = 1;
    static char buf[65536];
    for (int iter = 0; iter < 60; iter++) {
        int a, c;
        tcp_pair(&a, &c);
        top t;
        top_init(&t, CORIO_OP_RECV, a, iter % 3 == 2 ? cb_recv_cancel : cb_recv);
        B->vt->submit(B, &t.op);
        if (iter % 2)
            B->vt->wait(B, 0);
        size_t sent = 0;
        for (int k = 0; k < 1 + iter % 7; k++)
            sent += (size_t)write(c, buf, 1000 + 517 * (size_t)k);
        if (iter % 3 == 1)
            B->vt->wait(B, 0);
        B->vt->cancel(B, &t.op);
        finals_ok &= run_final(&t, 1000) && t.nfinal == 1;
        B->vt->wait(B, 0);
        finals_ok &= t.bad_after_final == 0;
        size_t rest = 0;
        ssize_t r;
        while ((r = read(a, buf, sizeof buf)) > 0)
            rest += (size_t)r;
        lost += t.len + rest != sent;
        close(a);
        close(c);
        top_free(&t);
    }
    CHECK(lost == 0);
    CHECK(finals_ok);
}

/* Callbacks may resubmit the op being reported from its final callback. */
static int resub_count;
static void cb_poll_resubmit(corio_op *op, int res, const void *data, unsigned flags)
{
    cb_plain(op, res, data, flags);
    if (++resub_count < 3) {
        corio_container_of(op, top, op)->nfinal = 0;
        CHECK(B->vt->submit(B, op) == 0);
    }
}

static void test_resubmit_in_cb(void)
{
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
    CHECK(write(p[1], "x", 1) == 1);
    top t;
    top_init(&t, CORIO_OP_POLL, p[0], cb_poll_resubmit);
    t.poll.events = POLLIN;
    resub_count = 0;
    B->vt->submit(B, &t.op);
    uint64_t end = corio_clock_ns() + 1000000000u;
    while (resub_count < 3 && corio_clock_ns() < end)
        B->vt->wait(B, 20000000);
    CHECK(resub_count == 3 && !corio_op_busy(&t.op));
    close(p[0]);
    close(p[1]);
}

/* wait(0) returns at once; wait(t) returns after about t. */
static void test_wait_timing(void)
{
    int a, c;
    tcp_pair(&a, &c);
    top t;
    top_init(&t, CORIO_OP_RECV, a, cb_recv);
    B->vt->submit(B, &t.op);
    uint64_t t0 = corio_clock_ns();
    for (int i = 0; i < 100; i++)
        CHECK(B->vt->wait(B, 0) == 0);
    uint64_t t1 = corio_clock_ns();
    CHECK(t1 - t0 < 20000000u);
    CHECK(B->vt->wait(B, 50000000) == 0);
    uint64_t t2 = corio_clock_ns();
    CHECK(t2 - t1 >= 45000000u && t2 - t1 < 200000000u);
    /* wait(0) alone must bring in a completion (deferred task work). */
    CHECK(write(c, "z", 1) == 1);
    usleep(2000);
    int n = 0;
    for (int i = 0; i < 1000 && !n; i++)
        n = B->vt->wait(B, 0);
    CHECK(n == 1 && t.len == 1);
    B->vt->cancel(B, &t.op);
    CHECK(run_final(&t, 1000));
    close(a);
    close(c);
    top_free(&t);
}

/* The pollfd turns readable when a completion waits, and when ops were
 * queued outside wait(); wait(0) then runs them. */
static void test_pollfd(void)
{
    int efd = B->vt->pollfd(B);
    CHECK(efd >= 0);
    CHECK(B->vt->pollfd(B) == efd);
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
    B->vt->wait(B, 0);
    top t;
    top_init(&t, CORIO_OP_POLL, p[0], cb_plain);
    t.poll.events = POLLIN;
    B->vt->submit(B, &t.op);
    struct pollfd pf = { efd, POLLIN, 0 };
    CHECK(poll(&pf, 1, 0) == 1); /* kicked: a submission to flush */
    CHECK(B->vt->wait(B, 0) == 0);
    pf.revents = 0;
    CHECK(poll(&pf, 1, 0) == 0); /* nothing to do: not readable */
    CHECK(write(p[1], "x", 1) == 1);
    pf.revents = 0;
    CHECK(poll(&pf, 1, 1000) == 1 && (pf.revents & POLLIN));
    CHECK(B->vt->wait(B, 0) == 1 && t.nfinal == 1);
    close(p[0]);
    close(p[1]);
}

/* Callbacks counted by destroy tests: destroy must run none. */
static int destroy_cbs;
static void cb_count(corio_op *op, int res, const void *data, unsigned flags)
{
    (void)op, (void)res, (void)data, (void)flags;
    destroy_cbs++;
}

/* destroy() with every kind of op in flight: no callback, no leak, and
 * (under valgrind/ASan) no kernel write into freed op memory. */
static void test_destroy_inflight(void)
{
    corio_backend *b2 = B;
    char why[128];
    CHECK(corio_backend_uring_new(&B, why, sizeof why) == 0);
    struct sockaddr_in sa;
    int l = listener(&sa), a, c, p[2];
    tcp_pair(&a, &c);
    CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
    int big = 1 << 22;
    char *junk = calloc(1, (size_t)big);
    /* one record big enough for any op kind, so the op memory is freed
     * right after destroy() as one block per op */
    union anyop { corio_op op; corio_send_op send; corio_poll_op poll; } *u = calloc(5, sizeof *u);
    corio_op *ops[5];
    struct iovec iov = { junk, (size_t)big };
    for (int i = 0; i < 5; i++)
        ops[i] = &u[i].op, ops[i]->cb = cb_count;
    ops[0]->kind = CORIO_OP_ACCEPT, ops[0]->fd = l;
    ops[1]->kind = CORIO_OP_RECV, ops[1]->fd = a;
    ops[2]->kind = CORIO_OP_POLL, ops[2]->fd = p[0], u[2].poll.events = POLLIN;
    ops[3]->kind = CORIO_OP_SEND, ops[3]->fd = c, u[3].send.iov = &iov, u[3].send.iovcnt = 1;
    ops[4]->kind = CORIO_OP_RECV, ops[4]->fd = c; /* submitted, never flushed */
    for (int i = 0; i < 4; i++)
        CHECK(B->vt->submit(B, ops[i]) == 0);
    B->vt->wait(B, 0);
    CHECK(B->vt->submit(B, ops[4]) == 0);
    B->vt->cancel(B, ops[2]);
    destroy_cbs = 0; /* the RECV may have seen data above */
    B->vt->destroy(B);
    CHECK(destroy_cbs == 0);
    free(u);
    free(junk);
    close(l), close(a), close(c), close(p[0]), close(p[1]);
    B = b2;
}

/* submit() refuses a busy op and an unknown kind. */
static void test_misuse(void)
{
    top t;
    top_init(&t, 99, 0, cb_plain);
    CHECK(B->vt->submit(B, &t.op) == -EINVAL);
    CHECK(!corio_op_busy(&t.op));
    CHECK(strcmp(B->vt->name, "io_uring") == 0);
}

/* Resident pages of this process. */
static long resident_pages(void)
{
    long size = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res;
}

/* Whether this kernel takes DEFER_TASKRUN (6.1+). */
static int kernel_defers(void)
{
    struct io_uring r;
    struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN };
    if (io_uring_queue_init_params(4, &r, &p) < 0)
        return 0;
    io_uring_queue_exit(&r);
    return 1;
}

/* trim() drops the receive buffers' pages only where the kernel cannot
 * write them behind our back (DEFER_TASKRUN, set-up mode 0, with
 * multishot receives), only when a receive used them since the last trim,
 * and receiving goes on intact afterwards (test_small_interleaved trims
 * while bytes are on their way). */
static void test_trim(void)
{
    test_large();                 /* cycles the whole buffer ring */
    long before = resident_pages();
    size_t n = B->vt->trim(B);
    long dropped = before - resident_pages();
    if (corio__uring_setup_skip == 0 && !corio__uring_force_singleshot && kernel_defers()) {
        CHECK(n > 0);
        CHECK(dropped * sysconf(_SC_PAGESIZE) >= (long)n / 4);
    } else {
        CHECK(n == 0);
    }
    CHECK(B->vt->trim(B) == 0);   /* nothing received since */
    test_recv_chunks();
}

static void run_suite(void)
{
    char why[128] = "";
    int rc = corio_backend_uring_new(&B, why, sizeof why);
    CHECK(rc == 0);
    if (rc < 0) {
        printf("corio_backend_uring_new: %d (%s)\n", rc, why);
        return;
    }
    test_misuse();
    test_accept_multi();
    test_cancel_accept();
    test_recv_chunks();
    test_send_iov();
    test_connect();
    test_poll();
    test_cancel_recv();
    test_cancel_race();
    test_resubmit_in_cb();
    test_wait_timing();
    test_large();
    test_buffer_starvation();
    test_small_interleaved();
    test_trim();
    test_pollfd();
    test_destroy_inflight();
    B->vt->destroy(B);
}

int main(void)
{
    char why[128] = "";
    corio_backend *probe;
    int rc = corio_backend_uring_new(&probe, why, sizeof why);
    if (rc < 0) {
        printf("skip: io_uring unavailable: %s\n", why);
        return 77;
    }
    probe->vt->destroy(probe);
    static const struct { const char *name; int single, skip, noinc; } modes[] = {
        { "multishot", 0, 0, 0 }, { "singleshot", 1, 0, 0 }, { "coop", 0, 1, 0 },
        { "plain", 0, 3, 0 }, { "wholebuf", 0, 0, 1 }, { "wholebuf-single", 1, 0, 1 },
    };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        mode = modes[i].name;
        corio__uring_force_singleshot = modes[i].single;
        corio__uring_setup_skip = modes[i].skip;
        corio__uring_no_incbuf = modes[i].noinc;
        run_suite();
    }
    printf("%d passed, %d failed\n", npass, nfail);
    return nfail ? 1 : 0;
}
