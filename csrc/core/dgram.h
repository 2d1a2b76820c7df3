/* dgram.h: datagram sockets (UDP) over the reactor.
 *
 * Receiving and sending try the syscall first (recvmsg / sendmsg, never
 * blocking): under load a datagram costs one syscall, as in a plain C
 * server. Only when the socket has nothing (or no room) do tasks wait, in
 * FIFO queues, on one POLL op per direction: an idle socket holds no
 * receive buffer of its own (the caller brings one, shared by all its
 * sockets), and a datagram of any size up to the caller's buffer arrives
 * whole. A waiter woken by readiness that finds nothing goes back to the
 * head of its queue. */
#ifndef CORIO_DGRAM_H
#define CORIO_DGRAM_H
#include <stddef.h>
#include <sys/socket.h>
#include "backend.h"
#include "loop.h"
#include "task.h"
#include "waitq.h"

typedef struct corio_dgram {
    corio_handle h;            /* first: registered with the loop */
    corio_loop *loop;
    int fd;
    int closed;
    corio_op rpoll, wpoll;         /* readiness for the queues below */
    corio_waitq readers, writers;
} corio_dgram;

static inline int corio_dgram_fd(const corio_dgram *d) { return d->fd; }
static inline corio_loop *corio_dgram_loop(const corio_dgram *d) { return d->loop; }

/* A datagram socket of family (AF_INET, AF_INET6), heap-allocated and
 * freed by the loop once closed and idle. 0 or -errno. */
int corio_dgram_open(corio_loop *l, int family, corio_dgram **out);

/* The same over fd, a non-blocking datagram socket the caller hands over
 * (closed with it). 0 or -ENOMEM (fd still the caller's). */
int corio_dgram_adopt(corio_loop *l, int fd, corio_dgram **out);

/* Receive one datagram into buf (cap bytes; a longer one is cut, and
 * *trunc set), the sender's address into from (*fromlen in/out; NULL for
 * none). Bytes, or -EAGAIN with w queued (at the head if again: a waiter
 * woken for nothing keeps its turn) until readiness wakes its task, or
 * -errno (an ICMP error on a connected socket: -ECONNREFUSED...). */
int corio_dgram_recv(corio_dgram *d, void *buf, size_t cap, struct sockaddr *from,
                     socklen_t *fromlen, int *trunc, corio_waiter *w, int again);

/* Send one datagram now if nobody waits to send and there is room: bytes,
 * -EAGAIN (nothing queued: the caller then goes through corio_dgram_send)
 * or -errno. */
int corio_dgram_try_send(corio_dgram *d, const void *buf, size_t len,
                         const struct sockaddr *to, socklen_t tolen);

/* Send one datagram (to: NULL on a connected socket). Bytes, -EAGAIN with
 * w queued until there is room, or -errno. */
int corio_dgram_send(corio_dgram *d, const void *buf, size_t len, const struct sockaddr *to,
                     socklen_t tolen, corio_waiter *w, int again);

/* A waiter woken for its turn will not take it (it is being cancelled):
 * the next waiter of q (readers or writers) gets it. */
void corio_dgram_pass(corio_dgram *d, corio_waitq *q);

/* Close: wake every waiter (they find it closed), cancel the polls, close
 * the fd once the kernel lets go. */
void corio_dgram_close(corio_dgram *d);

#endif
