/*
 * udpgen - UDP echo load generator for the corio benchmark suite (bench/udp.sh).
 *
 * Single thread, epoll (level-triggered), N connected UDP sockets.  Each
 * socket keeps exactly one datagram in flight (ping-pong): send, wait for its
 * echo, send the next.  Connected sockets, so the kernel filters replies by
 * peer and each socket's echoes arrive on it alone.
 *
 * Every datagram carries its socket's id and a sequence number, and a filler
 * derived from both; an echo must come back whole and identical.  UDP may
 * drop: a datagram not echoed within the timeout (-t, default 200 ms) counts
 * as lost and the next one is sent in its place; an echo of an older sequence
 * number that turns up later (a late reply to a datagram already counted
 * lost) is counted as stale and ignored.
 *
 * Latency: from the send of a datagram to the receipt of its echo, taken
 * once per epoll batch, in a log-linear histogram (32 linear buckets per
 * power of two of nanoseconds, < 3.2 % error).
 *
 * Output: one key=value line on stdout (requests/rps over the measured
 * window; all_requests also counts the warm-up, for CPU per datagram).
 * Exit status non-zero when an echo did not verify or nothing came back.
 *
 * usage: udpgen [-H host] -p port [-c sockets] [-d seconds] [-w warmup_s]
 *               [-s size] [-t timeout_ms]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ histogram */

#define SUB_BITS 5
#define SUB_COUNT (1u << SUB_BITS)
#define HIST_BUCKETS (2 * SUB_COUNT + 58 * SUB_COUNT)

static uint64_t hist[HIST_BUCKETS], hist_total, lat_max;

static unsigned bucket_of(uint64_t v)
{
    if (v < 2 * SUB_COUNT)
        return (unsigned)v;
    int shift = 63 - __builtin_clzll(v) - SUB_BITS;
    return 2 * SUB_COUNT + (unsigned)(shift - 1) * SUB_COUNT + (unsigned)((v >> shift) - SUB_COUNT);
}

static uint64_t bucket_value(unsigned b)   /* midpoint */
{
    if (b < 2 * SUB_COUNT)
        return b;
    unsigned shift = (b - 2 * SUB_COUNT) / SUB_COUNT + 1;
    uint64_t m = (b - 2 * SUB_COUNT) % SUB_COUNT + SUB_COUNT;
    return (m << shift) + ((1ull << shift) >> 1);
}

static void hist_add(uint64_t ns)
{
    unsigned b = bucket_of(ns);
    hist[b < HIST_BUCKETS ? b : HIST_BUCKETS - 1]++;
    hist_total++;
    if (ns > lat_max)
        lat_max = ns;
}

static double hist_pct_us(double p)
{
    uint64_t want = (uint64_t)ceil(p / 100.0 * (double)hist_total), seen = 0;
    if (!hist_total)
        return 0;
    for (unsigned b = 0; b < HIST_BUCKETS; b++)
        if ((seen += hist[b]) >= (want ? want : 1))
            return (double)bucket_value(b) / 1e3;
    return (double)lat_max / 1e3;
}

/* ------------------------------------------------------------------ state */

struct client {
    int fd;
    uint32_t id, seq;      /* seq of the datagram in flight */
    uint64_t sent_ns;
};

static struct client *clients;
static int nclients;
static size_t dgram_size = 64;
static uint64_t timeout_ns = 200000000ull;
static int measuring;
static uint64_t requests, all_requests, lost, all_lost, stale, verify_errors, send_errors, refused;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Datagram contents: id, seq, then a filler that depends on both, so an
 * echo from another socket or of another datagram does not verify. */
static void fill(unsigned char *p, uint32_t id, uint32_t seq)
{
    memcpy(p, &id, 4);
    memcpy(p + 4, &seq, 4);
    for (size_t i = 8; i < dgram_size; i++)
        p[i] = (unsigned char)(id * 131u + seq * 31u + i);
}

static void send_next(struct client *c, uint64_t t)
{
    unsigned char buf[65536];
    fill(buf, c->id, c->seq);
    c->sent_ns = t;
    /* a failed send (ENOBUFS, ECONNREFUSED left by an earlier ICMP error)
     * is not retried here: the timeout resends it and counts a loss */
    if (send(c->fd, buf, dgram_size, 0) < 0)
        send_errors++;
}

/* ------------------------------------------------------------------ events */

/* One datagram arrived on c: verify it; if it is the echo awaited, count
 * the round trip and send the next datagram. */
static void on_readable(struct client *c, uint64_t t)
{
    unsigned char got[65536], want[65536];
    ssize_t n = recv(c->fd, got, sizeof got, MSG_DONTWAIT);
    if (n < 0) {
        if (errno == ECONNREFUSED)      /* nobody at the server's port (yet) */
            refused++;
        return;
    }
    uint32_t id, seq;
    memcpy(&id, got, 4);
    memcpy(&seq, got + 4, 4);
    if ((size_t)n == dgram_size && id == c->id && seq != c->seq && seq - c->seq > 0x80000000u) {
        stale++;                        /* older than the one in flight */
        return;
    }
    fill(want, c->id, c->seq);
    if ((size_t)n != dgram_size || memcmp(got, want, dgram_size) != 0) {
        verify_errors++;
        return;
    }
    all_requests++;
    if (measuring) {
        requests++;
        hist_add(t - c->sent_ns);
    }
    c->seq++;
    send_next(c, t);
}

/* Datagrams not echoed within the timeout are lost: send the next. */
static void sweep_timeouts(uint64_t t)
{
    for (int i = 0; i < nclients; i++) {
        struct client *c = &clients[i];
        if (t - c->sent_ns < timeout_ns)
            continue;
        all_lost++;
        if (measuring)
            lost++;
        c->seq++;
        send_next(c, t);
    }
}

static void run_until(int ep, uint64_t end)
{
    struct epoll_event evs[256];
    uint64_t t = now_ns(), next_sweep = t + timeout_ns / 4;
    while (t < end) {
        uint64_t wake = next_sweep < end ? next_sweep : end;
        int ms = (int)((wake - t + 999999) / 1000000);
        int n = epoll_wait(ep, evs, 256, ms);
        t = now_ns();
        for (int i = 0; i < n; i++)
            on_readable(&clients[evs[i].data.u32], t);
        if (t >= next_sweep) {
            sweep_timeouts(t);
            next_sweep = t + timeout_ns / 4;
        }
    }
}

/* ------------------------------------------------------------------ setup */

static int open_clients(const char *host, int port)
{
    struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    if (inet_pton(AF_INET, host, &dst.sin_addr) != 1) {
        fprintf(stderr, "udpgen: bad IPv4 address %s\n", host);
        exit(2);
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    clients = calloc((size_t)nclients, sizeof *clients);
    for (int i = 0; i < nclients; i++) {
        struct client *c = &clients[i];
        c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&dst, sizeof dst) < 0) {
            fprintf(stderr, "udpgen: socket %d: %s\n", i, strerror(errno));
            exit(1);
        }
        c->id = (uint32_t)i;
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    }
    return ep;
}

static void usage(void)
{
    fprintf(stderr, "usage: udpgen [-H host] -p port [-c sockets] [-d seconds] [-w warmup_s]\n"
                    "              [-s size] [-t timeout_ms]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 0, opt;
    double duration = 3, warmup = 1;
    nclients = 1;
    while ((opt = getopt(argc, argv, "H:p:c:d:w:s:t:")) != -1) {
        switch (opt) {
        case 'H': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'c': nclients = atoi(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 's': dgram_size = (size_t)atol(optarg); break;
        case 't': timeout_ns = (uint64_t)atol(optarg) * 1000000ull; break;
        default: usage();
        }
    }
    if (!port || nclients < 1 || dgram_size < 8 || dgram_size > 65507 || !timeout_ns)
        usage();
    int ep = open_clients(host, port);

    uint64_t t = now_ns();
    for (int i = 0; i < nclients; i++)
        send_next(&clients[i], t);
    run_until(ep, t + (uint64_t)(warmup * 1e9));
    measuring = 1;
    uint64_t t0 = now_ns();
    run_until(ep, t0 + (uint64_t)(duration * 1e9));
    double secs = (double)(now_ns() - t0) / 1e9;

    printf("mode=udp conns=%d size=%zu secs=%.3f requests=%llu all_requests=%llu rps=%.0f "
           "p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f lost=%llu all_lost=%llu stale=%llu "
           "verify_errors=%llu send_errors=%llu refused=%llu\n",
           nclients, dgram_size, secs, (unsigned long long)requests,
           (unsigned long long)all_requests, (double)requests / secs, hist_pct_us(50),
           hist_pct_us(99), hist_pct_us(99.9), (double)lat_max / 1e3, (unsigned long long)lost,
           (unsigned long long)all_lost, (unsigned long long)stale,
           (unsigned long long)verify_errors, (unsigned long long)send_errors,
           (unsigned long long)refused);
    return (verify_errors || !requests) ? 1 : 0;
}
