/*
 * uring_echo - raw C liburing echo server, the "limit" for the io_uring backend.
 *
 * One thread, one ring.  Multishot accept on the listener; per connection a
 * multishot recv that picks buffers from a provided buffer ring; each filled
 * buffer is sent back as is and returned to the ring when the send is done.
 * At most one send is in flight per connection (a FIFO of received buffers
 * keeps the byte order when several recvs complete before a send does).
 *
 * liburing 2.3 has no io_uring_setup_buf_ring(), so the ring memory is
 * mmap()ed here and registered with io_uring_register_buf_ring().
 *
 * usage: uring_echo [host] [port]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define NBUFS 4096              /* power of two */
#define BUFSZ 2048
#define BGID 1

enum { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3 };

#define UD(op, fd) (((uint64_t)(op) << 32) | (uint32_t)(fd))
#define UD_OP(u) ((int)((u) >> 32))
#define UD_FD(u) ((int)(uint32_t)(u))

struct conn {
    int head, tail;     /* FIFO of buffer ids waiting to be sent, -1 = empty */
    uint32_t head_off;  /* bytes of the head buffer already sent */
    uint8_t sending, closing, open, recv_done;
};

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static unsigned char *bufbase;
static int buf_next[NBUFS];
static uint32_t buf_len[NBUFS];
static struct conn *conns;
static int maxfd, lfd;

static struct io_uring_sqe *get_sqe(void)
{
    struct io_uring_sqe *s = io_uring_get_sqe(&ring);
    while (!s) {
        io_uring_submit(&ring);
        s = io_uring_get_sqe(&ring);
    }
    return s;
}

static void recycle(int bid)
{
    io_uring_buf_ring_add(br, bufbase + (size_t)bid * BUFSZ, BUFSZ, (unsigned short)bid,
                          io_uring_buf_ring_mask(NBUFS), 0);
    io_uring_buf_ring_advance(br, 1);
}

static void arm_accept(void)
{
    struct io_uring_sqe *s = get_sqe();
    io_uring_prep_multishot_accept(s, lfd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, UD(OP_ACCEPT, lfd));
}

static void arm_recv(int fd)
{
    struct io_uring_sqe *s = get_sqe();
    io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = BGID;
    io_uring_sqe_set_data64(s, UD(OP_RECV, fd));
}

static void start_send(int fd)
{
    struct conn *c = &conns[fd];
    int bid = c->head;
    struct io_uring_sqe *s = get_sqe();
    io_uring_prep_send(s, fd, bufbase + (size_t)bid * BUFSZ + c->head_off,
                       buf_len[bid] - c->head_off, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, UD(OP_SEND, fd));
    c->sending = 1;
}

static void release_queue(struct conn *c)
{
    while (c->head >= 0) {
        int b = c->head;
        c->head = buf_next[b];
        recycle(b);
    }
    c->tail = -1;
    c->head_off = 0;
}

/* close once the recv side has stopped and no send is in flight */
static void maybe_close(int fd)
{
    struct conn *c = &conns[fd];
    if (!c->open || !c->closing || c->sending || !c->recv_done)
        return;
    release_queue(c);
    c->open = 0;
    close(fd);
}

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 9000;
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    maxfd = (int)rl.rlim_cur + 16;
    conns = calloc((size_t)maxfd, sizeof *conns);

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    inet_pton(AF_INET, host, &a.sin_addr);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4096) < 0) {
        perror("uring_echo: bind/listen");
        return 1;
    }

    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
    if (getenv("URING_ECHO_PLAIN"))
        p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = 16384;
    int r = io_uring_queue_init_params(4096, &ring, &p);
    if (r < 0) {   /* older kernel: plain ring */
        memset(&p, 0, sizeof p);
        p.flags = IORING_SETUP_CQSIZE;
        p.cq_entries = 16384;
        r = io_uring_queue_init_params(4096, &ring, &p);
    }
    if (r < 0) {
        fprintf(stderr, "uring_echo: io_uring_queue_init: %s\n", strerror(-r));
        return 1;
    }

    /* provided buffer ring: mmap the ring itself, register it, fill it */
    size_t rsz = NBUFS * sizeof(struct io_uring_buf);
    br = mmap(NULL, rsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (br == MAP_FAILED) {
        perror("uring_echo: mmap");
        return 1;
    }
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (uint64_t)(uintptr_t)br;
    reg.ring_entries = NBUFS;
    reg.bgid = BGID;
    r = io_uring_register_buf_ring(&ring, &reg, 0);
    if (r < 0) {
        fprintf(stderr, "uring_echo: io_uring_register_buf_ring: %s\n", strerror(-r));
        return 1;
    }
    io_uring_buf_ring_init(br);
    bufbase = malloc((size_t)NBUFS * BUFSZ);
    for (int i = 0; i < NBUFS; i++)
        io_uring_buf_ring_add(br, bufbase + (size_t)i * BUFSZ, BUFSZ, (unsigned short)i,
                              io_uring_buf_ring_mask(NBUFS), i);
    io_uring_buf_ring_advance(br, NBUFS);

    arm_accept();
    for (;;) {
        r = io_uring_submit_and_wait(&ring, 1);
        if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
            fprintf(stderr, "uring_echo: submit: %s\n", strerror(-r));
            return 1;
        }
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            uint64_t ud = cqe->user_data;
            int fd = UD_FD(ud), res = cqe->res;
            unsigned flags = cqe->flags;
            switch (UD_OP(ud)) {
            case OP_ACCEPT:
                if (res >= 0) {
                    if (res >= maxfd) {
                        close(res);
                    } else {
                        setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                        struct conn *c = &conns[res];
                        c->head = c->tail = -1;
                        c->head_off = 0;
                        c->sending = c->closing = c->recv_done = 0;
                        c->open = 1;
                        arm_recv(res);
                    }
                }
                if (!(flags & IORING_CQE_F_MORE))
                    arm_accept();
                break;
            case OP_RECV: {
                struct conn *c = &conns[fd];
                if (res > 0 && (flags & IORING_CQE_F_BUFFER)) {
                    int bid = (int)(flags >> IORING_CQE_BUFFER_SHIFT);
                    buf_len[bid] = (uint32_t)res;
                    buf_next[bid] = -1;
                    if (c->tail >= 0)
                        buf_next[c->tail] = bid;
                    else
                        c->head = bid;
                    c->tail = bid;
                    if (!c->sending && !c->closing)
                        start_send(fd);
                }
                if (!(flags & IORING_CQE_F_MORE)) {
                    if (res == -ENOBUFS || (res > 0 && !c->closing))
                        arm_recv(fd);           /* ring ran dry or rearm */
                    else {
                        c->recv_done = 1;
                        c->closing = 1;
                        maybe_close(fd);
                    }
                }
                break;
            }
            case OP_SEND: {
                struct conn *c = &conns[fd];
                c->sending = 0;
                if (res <= 0) {
                    c->closing = 1;
                    /* recv may still be armed; shutdown makes it finish */
                    shutdown(fd, SHUT_RDWR);
                    maybe_close(fd);
                    break;
                }
                int bid = c->head;
                c->head_off += (uint32_t)res;
                if (c->head_off >= buf_len[bid]) {
                    c->head = buf_next[bid];
                    if (c->head < 0)
                        c->tail = -1;
                    c->head_off = 0;
                    recycle(bid);
                }
                if (c->head >= 0 && !c->closing)
                    start_send(fd);
                else
                    maybe_close(fd);
                break;
            }
            }
        }
        io_uring_cq_advance(&ring, seen);
    }
}
