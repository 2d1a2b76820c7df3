/*
 * udp_echo - raw C UDP echo server, the "limit" for corio's UDP echo.
 *
 * One thread, one socket, a blocking recvmsg/sendmsg loop: every datagram
 * goes back to its sender as is.
 *
 * Why this shape: with a single socket there is nothing to multiplex, so
 * readiness notification (epoll, or an io_uring poll) only adds a system
 * call.  Blocking recvmsg costs one call per datagram when the socket holds
 * something and sleeps inside that same call when it is empty; an epoll loop
 * needs recvmsg until EAGAIN plus epoll_wait, i.e. one more call each time the
 * socket runs dry (after every datagram with one client).  io_uring would
 * still need a submission and a completion per datagram for the same work.
 * recvmmsg/sendmmsg batching is left out on purpose: the target compares
 * per-datagram handling (corio makes one recvmsg and one sendmsg per
 * datagram), and with one datagram in flight per client batches are small.
 *
 * The receive buffer is raised to 4 MiB, as examples/udp_echo.lua does, so
 * both absorb the same bursts.
 *
 * usage: udp_echo [host] [port]     prints "listening on host:port"
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int open_socket(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int rcvbuf = 4 * 1024 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        fprintf(stderr, "udp_echo: bad IPv4 address %s\n", host);
        exit(1);
    }
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("udp_echo: bind");
        exit(1);
    }
    return fd;
}

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 9000;
    int fd = open_socket(host, port);
    printf("listening on %s:%d\n", host, port);
    fflush(stdout);

    static char buf[65536];
    struct sockaddr_storage from;
    struct iovec iov = { buf, sizeof buf };
    struct msghdr m = { .msg_name = &from, .msg_iov = &iov, .msg_iovlen = 1 };
    for (;;) {
        m.msg_namelen = sizeof from;
        iov.iov_len = sizeof buf;
        ssize_t n = recvmsg(fd, &m, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("udp_echo: recvmsg");
            return 1;
        }
        iov.iov_len = (size_t)n;
        /* a failed send (ICMP error from a client gone, ENOBUFS) loses one
         * datagram, as UDP may; the server goes on */
        if (sendmsg(fd, &m, 0) < 0 && errno != EINTR)
            perror("udp_echo: sendmsg");
    }
}
