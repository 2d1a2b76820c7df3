/*
 * loadgen - echo load generator for the corio benchmark suite.
 *
 * Single-threaded, epoll, non-blocking sockets.
 *
 * Echo mode (default): open N connections, then keep `depth` messages of
 * `size` bytes in flight on each one for the measured duration.  Every
 * echoed byte is compared against what was sent (message contents differ
 * per connection and per message).  Latency is taken per message, from the
 * write that sent it to the read that completed its echo, and recorded in a
 * log-linear histogram (HDR style: 128 linear sub-buckets per power of two,
 * < 0.8 % relative error).
 *
 * Fixed count (-n COUNT): instead of running for a duration, send exactly
 * COUNT messages in all (spread over the connections: each completed reply
 * is replaced by a new request until COUNT have been sent), wait for every
 * reply, then close the connections and exit.  There is no warm-up; -d
 * becomes a time limit (exit non-zero if the replies are not all in by then).
 * bench/callgrind.sh uses it so that the server does a known amount of work.
 *
 * HTTP mode (-m http): each message is "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
 * instead of echo bytes; a reply is complete once its headers and
 * Content-Length bytes of body are in, and must have status 200.  Keep-alive:
 * the requests follow one another on the same connections.
 *
 * Idle mode (-i): open N connections (spread over several 127.0.0.x source
 * addresses and several processes), make one echo round trip on each so the
 * server has certainly accepted it and its task is back waiting in a read,
 * print a "ready" line, then hold them until SIGTERM/SIGINT or -d seconds.
 *
 * Output: a single line of key=value pairs on stdout (the harness parses it);
 * diagnostics go to stderr.  Exit status is non-zero when any byte did not
 * verify or a connection failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* ------------------------------------------------------------------ */
/* histogram                                                          */

#define SUB_BITS 7
#define SUB_COUNT (1u << SUB_BITS)          /* 128 linear buckets per octave */
#define HIST_BUCKETS (2 * SUB_COUNT + 56 * SUB_COUNT)

static uint64_t hist[HIST_BUCKETS];
static uint64_t hist_total;
static uint64_t lat_max;

static unsigned bucket_of(uint64_t v)
{
    if (v < 2 * SUB_COUNT)
        return (unsigned)v;
    int msb = 63 - __builtin_clzll(v);      /* >= SUB_BITS + 1 */
    int shift = msb - SUB_BITS;             /* keeps the top SUB_BITS+1 bits */
    return 2 * SUB_COUNT + (unsigned)(shift - 1) * SUB_COUNT +
           (unsigned)((v >> shift) - SUB_COUNT);
}

static uint64_t bucket_value(unsigned b)  /* midpoint of the bucket */
{
    if (b < 2 * SUB_COUNT)
        return b;
    unsigned shift = (b - 2 * SUB_COUNT) / SUB_COUNT + 1;
    uint64_t m = (b - 2 * SUB_COUNT) % SUB_COUNT + SUB_COUNT;
    return (m << shift) + ((1ull << shift) >> 1);
}

static inline void hist_add(uint64_t ns)
{
    unsigned b = bucket_of(ns);
    if (b >= HIST_BUCKETS)
        b = HIST_BUCKETS - 1;
    hist[b]++;
    hist_total++;
    if (ns > lat_max)
        lat_max = ns;
}

static uint64_t hist_pct(double p)
{
    if (!hist_total)
        return 0;
    uint64_t want = (uint64_t)ceil(p / 100.0 * (double)hist_total);
    if (want < 1)
        want = 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        seen += hist[b];
        if (seen >= want)
            return bucket_value(b);
    }
    return lat_max;
}

/* ------------------------------------------------------------------ */

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Message contents: a slice of a fixed pseudo-random pattern whose start
 * depends on the connection and the message number, so a byte echoed on the
 * wrong connection or out of order does not verify. */
#define PAT_PERIOD 4093u                     /* prime */
static unsigned char *pattern;               /* PAT_PERIOD + max message */

static inline const unsigned char *msg_bytes(uint32_t conn, uint64_t seq)
{
    return pattern + (uint32_t)((conn * 2654435761u + seq * 40503u) % PAT_PERIOD);
}

/* HTTP mode (-m http): every request is this one */
static const char http_req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
static int http_mode;
#define HTTP_HDR_MAX 4096                    /* longest response header accepted */

enum { ST_CONNECTING, ST_OPEN, ST_IDLE, ST_DEAD };

struct conn {
    int fd;
    uint32_t id;
    int state;
    uint64_t tx_seq;        /* messages sent */
    uint64_t rx_seq;        /* messages fully received */
    uint32_t rx_off;        /* bytes of message rx_seq received so far */
    unsigned char *pend;    /* unsent bytes after a short write */
    size_t pend_len, pend_off;
    uint64_t *sent_at;      /* ring of `depth` send times */
    char *hdr;              /* HTTP mode: response header received so far */
    uint32_t hdr_len;
    uint64_t body_left;     /* HTTP mode: body bytes still to come, 0 in a header */
};

static struct conn *conns;
static int nconns, depth = 1, idle_mode, epfd;
static size_t msg_size = 64;              /* bytes per message (HTTP: the request's) */
static uint64_t requests, all_requests, verify_errors, conn_errors;
static uint64_t max_requests, sent_total;  /* -n COUNT (0: no limit), messages sent */
static int measuring;
static unsigned char rxbuf[1 << 16];
static unsigned char *txbuf;
static volatile sig_atomic_t stop_flag;

static void on_signal(int s) { (void)s; stop_flag = 1; }

static void conn_fail(struct conn *c, const char *why, int err)
{
    if (c->state == ST_DEAD)
        return;
    conn_errors++;
    if (conn_errors <= 5)
        fprintf(stderr, "loadgen: connection %u: %s%s%s\n", c->id, why,
                err ? ": " : "", err ? strerror(err) : "");
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->state = ST_DEAD;
}

/* queue `count` new messages on c and write them */
static void send_msgs(struct conn *c, int count, uint64_t t)
{
    if (max_requests) {              /* -n: never more than COUNT in all */
        if ((uint64_t)count > max_requests - sent_total)
            count = (int)(max_requests - sent_total);
        if (count == 0)
            return;
        sent_total += (uint64_t)count;
    }
    size_t len = 0;
    for (int i = 0; i < count; i++) {
        memcpy(txbuf + len, http_mode ? (const unsigned char *)http_req
                                      : msg_bytes(c->id, c->tx_seq), msg_size);
        c->sent_at[c->tx_seq % (uint64_t)depth] = t;
        c->tx_seq++;
        len += msg_size;
    }
    if (c->pend_len) {               /* keep order behind unsent bytes */
        c->pend = realloc(c->pend, c->pend_len + len);
        memcpy(c->pend + c->pend_len, txbuf, len);
        c->pend_len += len;
        return;
    }
    ssize_t w = write(c->fd, txbuf, len);
    if (w < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            conn_fail(c, "write", errno);
            return;
        }
        w = 0;
    }
    if ((size_t)w < len) {
        c->pend = realloc(c->pend, len - (size_t)w);
        memcpy(c->pend, txbuf + w, len - (size_t)w);
        c->pend_len = len - (size_t)w;
        c->pend_off = 0;
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    }
}

static void flush_pending(struct conn *c)
{
    while (c->pend_off < c->pend_len) {
        ssize_t w = write(c->fd, c->pend + c->pend_off, c->pend_len - c->pend_off);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            conn_fail(c, "write", errno);
            return;
        }
        c->pend_off += (size_t)w;
    }
    free(c->pend);
    c->pend = NULL;
    c->pend_len = c->pend_off = 0;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static int connected_count, ready_count;

/* the reply to message rx_seq of c completed at time t */
static void reply_done(struct conn *c, uint64_t t)
{
    if (measuring)
        hist_add(t - c->sent_at[c->rx_seq % (uint64_t)depth]);
    c->rx_seq++;
}

/* Echo mode: checks n received bytes against those sent.  Returns how many
 * messages they completed, or -1 when c failed. */
static int take_echo(struct conn *c, size_t n, uint64_t t)
{
    size_t off = 0;
    int done = 0;
    while (off < n) {
        if (c->rx_seq >= c->tx_seq) {    /* more bytes than were sent */
            verify_errors++;
            conn_fail(c, "unexpected bytes", 0);
            return -1;
        }
        size_t take = msg_size - c->rx_off;
        if (take > n - off)
            take = n - off;
        if (memcmp(rxbuf + off, msg_bytes(c->id, c->rx_seq) + c->rx_off, take)) {
            verify_errors++;
            conn_fail(c, "echoed bytes differ from those sent", 0);
            return -1;
        }
        off += take;
        c->rx_off += (uint32_t)take;
        if (c->rx_off == msg_size) {
            reply_done(c, t);
            c->rx_off = 0;
            done++;
        }
    }
    return done;
}

/* HTTP mode: c->hdr holds a whole response header.  Checks the status and
 * sets body_left from Content-Length; returns -1 when c failed. */
static int http_header(struct conn *c)
{
    const char *why = NULL, *cl;
    c->hdr[c->hdr_len] = '\0';
    c->hdr_len = 0;
    if (strncmp(c->hdr, "HTTP/1.1 200 ", 13) != 0)
        why = "response status is not 200";
    else if (!(cl = strcasestr(c->hdr, "\r\nContent-Length:")))
        why = "response without Content-Length";
    else
        c->body_left = strtoull(cl + 17, NULL, 10);
    if (why) {
        verify_errors++;
        conn_fail(c, why, 0);
        return -1;
    }
    return 0;
}

/* HTTP mode: parses n received bytes.  Returns how many responses they
 * completed, or -1 when c failed. */
static int take_http(struct conn *c, size_t n, uint64_t t)
{
    size_t off = 0;
    int done = 0;
    while (off < n) {
        if (c->rx_seq >= c->tx_seq) {    /* a response nobody asked for */
            verify_errors++;
            conn_fail(c, "unexpected bytes", 0);
            return -1;
        }
        if (c->body_left) {              /* in a body: skip its bytes */
            size_t take = c->body_left < n - off ? (size_t)c->body_left : n - off;
            off += take;
            c->body_left -= take;
            if (!c->body_left) {
                reply_done(c, t);
                done++;
            }
            continue;
        }
        if (c->hdr_len == HTTP_HDR_MAX) {
            verify_errors++;
            conn_fail(c, "response header too long", 0);
            return -1;
        }
        c->hdr[c->hdr_len++] = (char)rxbuf[off++];
        if (c->hdr_len >= 4 && !memcmp(c->hdr + c->hdr_len - 4, "\r\n\r\n", 4)) {
            if (http_header(c) < 0)
                return -1;
            if (!c->body_left) {         /* Content-Length: 0 */
                reply_done(c, t);
                done++;
            }
        }
    }
    return done;
}

static void on_readable(struct conn *c)
{
    for (;;) {
        ssize_t n = read(c->fd, rxbuf, sizeof rxbuf);
        if (n == 0) {
            conn_fail(c, "closed by the server", 0);
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR)
                continue;
            conn_fail(c, "read", errno);
            return;
        }
        uint64_t t = now_ns();
        int done = http_mode ? take_http(c, (size_t)n, t) : take_echo(c, (size_t)n, t);
        if (done < 0)
            return;
        if (done) {
            all_requests += (uint64_t)done;
            if (measuring)
                requests += (uint64_t)done;
            if (idle_mode) {
                if (c->state == ST_OPEN && c->rx_seq == 1) {
                    c->state = ST_IDLE;
                    ready_count++;
                }
            } else if (!stop_flag) {
                send_msgs(c, done, t);
            }
        }
        if ((size_t)n < sizeof rxbuf)
            return;
    }
}

static void usage(void)
{
    fprintf(stderr,
        "usage: loadgen [-H host] -p port [-c conns] [-d seconds] [-w warmup_s]\n"
        "               [-s msg_size] [-P pipeline_depth] [-n count] [-m echo|http]\n"
        "       loadgen -i [-H host] -p port -c conns [-a src_addrs] [-f procs] [-d hold_s]\n"
        "  -n  send exactly count messages in all, then close (-d: time limit)\n"
        "  -m  http: HTTP/1.1 keep-alive GET requests instead of echo messages\n"
        "  -i  idle mode: hold conns open (one round trip each), print ready line\n"
        "  -a  number of 127.0.0.x source addresses to spread over (default: auto)\n"
        "  -f  number of processes (default: auto, <= 15000 conns each)\n");
    exit(2);
}

/* Open conns [first, first+count) of this process. Returns 0 when all are
 * established (or failed) within timeout. */
static int open_conns(struct sockaddr_in *dst, int first, int count, int nsrc)
{
    for (int i = 0; i < count; i++) {
        struct conn *c = &conns[i];
        c->id = (uint32_t)(first + i);
        c->sent_at = calloc((size_t)depth, sizeof(uint64_t));
        if (http_mode)
            c->hdr = malloc(HTTP_HDR_MAX + 1);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            fprintf(stderr, "loadgen: socket: %s\n", strerror(errno));
            return -1;
        }
        c->fd = fd;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (nsrc > 0) {
            struct sockaddr_in src = { .sin_family = AF_INET };
            /* 127.0.0.(2 + k): distinct source addresses, port picked at connect */
            src.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)(2 + (c->id % (uint32_t)nsrc)));
            setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
                fprintf(stderr, "loadgen: bind source: %s\n", strerror(errno));
                return -1;
            }
        }
        c->state = ST_CONNECTING;
        if (connect(fd, (struct sockaddr *)dst, sizeof *dst) < 0 && errno != EINPROGRESS) {
            conn_fail(c, "connect", errno);
            continue;
        }
        struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    }
    /* wait for the handshakes */
    struct epoll_event evs[1024];
    uint64_t deadline = now_ns() + 30ull * 1000000000ull;
    int pending = count - (int)conn_errors;
    while (pending > 0 && now_ns() < deadline && !stop_flag) {
        int n = epoll_wait(epfd, evs, 1024, 100);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->state != ST_CONNECTING)
                continue;
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
            pending--;
            if (err) {
                conn_fail(c, "connect", err);
                continue;
            }
            c->state = ST_OPEN;
            connected_count++;
            struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
            epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        }
    }
    return pending > 0 ? -1 : 0;
}

static void run_loop_until(uint64_t end, int until_ready)
{
    struct epoll_event evs[1024];
    while (!stop_flag) {
        uint64_t t = now_ns();
        if (end && t >= end)
            break;
        if (until_ready && ready_count + (int)conn_errors >= nconns)
            break;
        if (max_requests && (all_requests >= max_requests || (int)conn_errors >= nconns))
            break;              /* -n: all replies in, or no connection left */
        int ms = 100;
        if (end && (end - t) / 1000000 < 100)
            ms = (int)((end - t) / 1000000) + 1;
        int n = epoll_wait(epfd, evs, 1024, ms);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->state == ST_DEAD)
                continue;
            if (evs[i].events & EPOLLOUT)
                flush_pending(c);
            if (c->state != ST_DEAD && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                on_readable(c);
        }
    }
}

/* idle mode, one process: returns 0 if every connection made its round trip */
static int idle_child(struct sockaddr_in *dst, int first, int count, int nsrc,
                      double hold, int notify_fd)
{
    nconns = count;
    conns = calloc((size_t)count, sizeof *conns);
    int rc = open_conns(dst, first, count, nsrc);
    uint64_t t = now_ns();
    for (int i = 0; i < count; i++)
        if (conns[i].state == ST_OPEN)
            send_msgs(&conns[i], 1, t);
    if (rc == 0)
        run_loop_until(now_ns() + 60ull * 1000000000ull, 1);
    char line[64];
    int ok = ready_count == count;
    snprintf(line, sizeof line, "%d %llu\n", ready_count,
             (unsigned long long)(verify_errors + conn_errors));
    if (write(notify_fd, line, strlen(line)) < 0) {
        /* parent gone */
    }
    close(notify_fd);
    /* hold: sleep until signalled or the hold time ends; nothing is read */
    uint64_t end = hold > 0 ? now_ns() + (uint64_t)(hold * 1e9) : 0;
    while (!stop_flag && (!end || now_ns() < end))
        usleep(50000);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 0, nsrc = -1, nprocs = 0, opt;
    double duration = 5, warmup = 0.5;
    nconns = 1;
    while ((opt = getopt(argc, argv, "H:p:c:d:w:s:P:n:m:ia:f:h")) != -1) {
        switch (opt) {
        case 'H': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'c': nconns = atoi(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 's': msg_size = (size_t)atol(optarg); break;
        case 'P': depth = atoi(optarg); break;
        case 'n': max_requests = strtoull(optarg, NULL, 10); break;
        case 'm':
            if (!strcmp(optarg, "http")) http_mode = 1;
            else if (strcmp(optarg, "echo")) usage();
            break;
        case 'i': idle_mode = 1; break;
        case 'a': nsrc = atoi(optarg); break;
        case 'f': nprocs = atoi(optarg); break;
        default: usage();
        }
    }
    if (port <= 0 || nconns <= 0 || depth <= 0 || msg_size == 0 || msg_size > 65536)
        usage();
    if (idle_mode && (http_mode || max_requests))
        usage();
    if (http_mode)
        msg_size = sizeof http_req - 1;

    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, host, &dst.sin_addr) != 1) {
        fprintf(stderr, "loadgen: bad IPv4 address %s\n", host);
        return 2;
    }

    pattern = malloc(PAT_PERIOD + msg_size);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < PAT_PERIOD + msg_size; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        pattern[i] = (unsigned char)(x >> 24);
    }
    txbuf = malloc(msg_size * (size_t)(depth > 1 ? depth : 1) + msg_size);

    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);

    epfd = epoll_create1(EPOLL_CLOEXEC);

    if (idle_mode) {
        int per = (int)rl.rlim_cur - 64;
        if (per > 15000)
            per = 15000;
        if (nprocs <= 0)
            nprocs = (nconns + per - 1) / per;
        if (nsrc < 0)   /* ~ 20000 connections per source address */
            nsrc = nconns / 20000 + 2;
        int base = nconns / nprocs, extra = nconns % nprocs, first = 0;
        pid_t *kids = calloc((size_t)nprocs, sizeof(pid_t));
        FILE **rd = calloc((size_t)nprocs, sizeof(FILE *));
        uint64_t t0 = now_ns();
        for (int k = 0; k < nprocs; k++) {
            int count = base + (k < extra);
            int pfd[2];
            if (pipe(pfd) < 0) { perror("pipe"); return 1; }
            pid_t pid = fork();
            if (pid == 0) {
                close(pfd[0]);
                close(epfd);
                epfd = epoll_create1(EPOLL_CLOEXEC);
                _exit(idle_child(&dst, first, count, nsrc, duration, pfd[1]));
            }
            close(pfd[1]);
            kids[k] = pid;
            rd[k] = fdopen(pfd[0], "r");
            first += count;
        }
        int ready = 0;
        unsigned long long errs = 0;
        for (int k = 0; k < nprocs; k++) {
            int r = 0;
            unsigned long long e = 0;
            if (fscanf(rd[k], "%d %llu", &r, &e) == 2) {
                ready += r;
                errs += e;
            }
            fclose(rd[k]);
        }
        printf("mode=idle conns=%d ready=%d errors=%llu procs=%d src_addrs=%d setup_s=%.3f\n",
               nconns, ready, errs, nprocs, nsrc, (double)(now_ns() - t0) / 1e9);
        fflush(stdout);
        /* hold until signalled (or the children's hold time ends) */
        while (!stop_flag) {
            int st;
            pid_t p = waitpid(-1, &st, WNOHANG);
            if (p < 0)
                break;
            if (p == 0)
                usleep(50000);
        }
        for (int k = 0; k < nprocs; k++)
            kill(kids[k], SIGTERM);
        while (wait(NULL) > 0)
            ;
        return ready == nconns ? 0 : 1;
    }

    /* ---- echo mode (and HTTP mode, which differs only in its messages) ---- */
    const char *mode = http_mode ? "http" : "echo";
    conns = calloc((size_t)nconns, sizeof *conns);
    if (nconns > (int)rl.rlim_cur - 16) {
        fprintf(stderr, "loadgen: %d connections exceed the fd limit %llu\n",
                nconns, (unsigned long long)rl.rlim_cur);
        return 2;
    }
    if (nsrc < 0)
        nsrc = 0;   /* plain ephemeral source */
    if (open_conns(&dst, 0, nconns, nsrc) < 0 || conn_errors) {
        printf("mode=%s conns=%d connected=%d errors=%llu rps=0 error=connect\n",
               mode, nconns, connected_count, (unsigned long long)conn_errors);
        return 1;
    }
    uint64_t t = now_ns();
    for (int i = 0; i < nconns; i++)
        send_msgs(&conns[i], depth, t);
    if (warmup > 0 && !max_requests)     /* -n: every message counts */
        run_loop_until(now_ns() + (uint64_t)(warmup * 1e9), 0);
    measuring = 1;
    uint64_t t0 = now_ns();
    run_loop_until(t0 + (uint64_t)(duration * 1e9), 0);
    measuring = 0;
    int incomplete = max_requests && all_requests < max_requests;
    if (incomplete)
        fprintf(stderr, "loadgen: %llu of %llu replies within the %g s limit\n",
                (unsigned long long)all_requests, (unsigned long long)max_requests, duration);
    if (max_requests)                    /* the server sees every connection end */
        for (int i = 0; i < nconns; i++)
            if (conns[i].state != ST_DEAD)
                close(conns[i].fd);
    double secs = (double)(now_ns() - t0) / 1e9;
    int alive = 0;
    for (int i = 0; i < nconns; i++)
        if (conns[i].state != ST_DEAD)
            alive++;
    printf("mode=%s conns=%d depth=%d size=%zu secs=%.3f requests=%llu all_requests=%llu "
           "rps=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f "
           "verify_errors=%llu conn_errors=%llu alive=%d\n",
           mode, nconns, depth, msg_size, secs, (unsigned long long)requests,
           (unsigned long long)all_requests, (double)requests / secs,
           hist_pct(50) / 1e3, hist_pct(99) / 1e3, hist_pct(99.9) / 1e3, lat_max / 1e3,
           (unsigned long long)verify_errors, (unsigned long long)conn_errors, alive);
    return (verify_errors || conn_errors || incomplete) ? 1 : 0;
}
