/* stream.h: connected sockets and listeners over backend ops.
 *
 * A stream owns its fd, a read buffer fed by one multishot RECV armed on
 * demand, and, while a write or the connect runs, a write state (its SEND
 * or CONNECT op and iovecs) taken from the loop's pool, so an idle stream
 * is small. The caller owns a stream's memory (the Lua binding embeds it
 * in the stream's userdata). The task waiting on the stream (a reader, a
 * writer) is woken whenever the state it waits on may have changed; it
 * then re-reads the stream's fields. A closed stream's memory stays in
 * use until every op has had its final callback (the kernel may write
 * into it until then): the loop tells the owner through the handle's
 * release function. Listeners are heap-allocated and freed the same way. */
#ifndef CORIO_STREAM_H
#define CORIO_STREAM_H
#include <stddef.h>
#include <sys/socket.h>
#include "backend.h"
#include "buf.h"
#include "fdq.h"
#include "loop.h"
#include "task.h"
#include "waitq.h"

/* Above this many buffered unread bytes the RECV is stopped (backpressure);
 * it is re-armed when a read finds the buffer below it. */
#define CORIO_STREAM_HWM (256u * 1024u)

enum {
    CORIO_SF_EOF = 1,       /* peer finished sending */
    CORIO_SF_CLOSED = 2,    /* owner closed: free when ops are idle */
    CORIO_SF_WCANCEL = 8,   /* the current write was cancelled: no resubmit */
    CORIO_SF_WBROKEN = 16,  /* a write was interrupted after some of its bytes
                               went out: the peer has part of a message, so
                               later writes fail with -EPIPE */
    CORIO_SF_MSG = 32,      /* a Unix stream (corio_unix_stream): received with
                               recvmsg on readiness, keeping passed fds */
    CORIO_SF_PARTIAL = 64,  /* the current write ends a message begun elsewhere */
};

/* iovecs kept inline in a write state (most writes are one to four
 * strings); more go to the heap. */
#define CORIO_STREAM_IOV 4

/* The state of the write (or the connect) in progress. */
typedef struct corio_wreq {
    union {
        corio_op op;
        corio_send_op send;
        corio_connect_op conn;
    } o;                       /* SEND, or CONNECT while connecting */
    struct corio_stream *s;    /* whose write it is */
    struct iovec *iov;         /* unsent part of the write */
    int iovcnt;
    size_t sent;               /* bytes of it sent so far */
    struct iovec small[CORIO_STREAM_IOV];
    void *heap;                /* big iovec array, or the connect address */
} corio_wreq;

typedef struct corio_stream {
    corio_handle h;            /* first: registered with the loop */
    corio_loop *loop;
    int fd;
    unsigned flags;
    int16_t rerr;              /* -errno of a failed read (sticky) */
    int16_t werr;              /* -errno of the last failed write */
    int conn_res;              /* connect result: 1 pending, 0 ok, -errno */
    corio_buf rbuf;
    corio_op recv;
    corio_task *reader, *writer;
    corio_wreq *w;             /* write in progress (until its final callback) */
} corio_stream;

/* A Unix stream: fds passed to it (SCM_RIGHTS) queue in arrival order
 * with the stream's byte count at the end of the message that brought
 * them; reads never drop one. Its receive is a POLL followed by recvmsg
 * calls, since a plain recv would make the kernel close passed fds. */
typedef struct corio_unix_stream {
    corio_stream s;            /* first */
    corio_fdq fds;
    uint64_t received;         /* bytes received so far */
    int fds_lost;              /* the kernel dropped passed fds (MSG_CTRUNC) */
} corio_unix_stream;

/* Most fds one message may carry; more are closed by the kernel. */
#define CORIO_UNIX_MAX_FDS 32
/* Received fds queued on a stream before it stops reading (a peer could
 * otherwise fill the process's fd table through a line it never ends). */
#define CORIO_UNIX_MAX_QUEUED 256

typedef struct corio_listener {
    corio_handle h;
    corio_loop *loop;
    int fd;
    unsigned flags;
    int err;                   /* -errno of a failed accept (reported once) */
    corio_fdq fds;             /* accepted fds not yet taken */
    corio_op accept;
    corio_waitq acceptors;     /* tasks waiting for a connection, in order */
    corio_timer retry;         /* re-arms the accept after a back-off */
    unsigned backoff_ms;       /* next back-off; 0 while not starved */
    uint8_t paused;            /* corio_listener_pause: accept nothing */
} corio_listener;

/* What an owner may read of a stream (the fields are the core's; the
 * binding goes through these). */
static inline int corio_stream_fd(const corio_stream *s) { return s->fd; }
static inline corio_loop *corio_stream_loop(const corio_stream *s) { return s->loop; }
static inline const char *corio_stream_data(const corio_stream *s) { return corio_buf_peek(&s->rbuf); }
static inline size_t corio_stream_buffered(const corio_stream *s) { return s->rbuf.len; }
static inline void corio_stream_consume(corio_stream *s, size_t n)
{
    corio_buf_consume(&s->rbuf, n, &s->loop->alloc);
}
/* The next line of the buffered bytes (corio_buf_line). */
static inline long corio_stream_line(const corio_stream *s, size_t *from, size_t max,
                                     int ended, size_t *used)
{
    return corio_buf_line(&s->rbuf, from, max, ended, used);
}
static inline int corio_stream_read_error(const corio_stream *s) { return s->rerr; }
/* No more bytes will come: the peer finished, or reading failed. */
static inline int corio_stream_ended(const corio_stream *s)
{
    return s->rerr || (s->flags & CORIO_SF_EOF);
}
static inline int corio_stream_write_error(const corio_stream *s) { return s->werr; }
static inline int corio_stream_connect_result(const corio_stream *s) { return s->conn_res; }
static inline int corio_stream_is_unix(const corio_stream *s) { return (s->flags & CORIO_SF_MSG) != 0; }
static inline int corio_stream_broken(const corio_stream *s) { return (s->flags & CORIO_SF_WBROKEN) != 0; }
/* The task registered to be woken for data, and forgetting it. */
static inline corio_task *corio_stream_reader(const corio_stream *s) { return s->reader; }
static inline void corio_stream_forget_reader(corio_stream *s) { s->reader = NULL; }

/* Set up s, in memory the caller owns, on a connected non-blocking fd.
 * Once s is closed and idle, or when the loop closes, the loop calls
 * release(&s->h), which must call corio_stream_dispose(s); after that the
 * memory is the caller's again. */
void corio_stream_init(corio_stream *s, corio_loop *l, int fd,
                       void (*release)(corio_handle *h));

/* Make s, just set up on a Unix stream socket, a corio_unix_stream (the
 * memory after s is the caller's to provide). */
void corio_stream_set_unix(corio_stream *s);

/* A Unix stream's next passed fd (-EAGAIN when none has come; -EMFILE,
 * once, when the kernel dropped passed fds for lack of room: the process
 * was out of fds, or a message carried more than CORIO_UNIX_MAX_FDS), and
 * into *data_len how many buffered bytes precede the end of the message
 * that brought it (0 when reads have already gone past it). */
int corio_stream_take_fd(corio_stream *s, size_t *data_len);

/* Close the fd and free the buffers (and any passed fd still queued; no
 * I/O): for release functions. */
void corio_stream_dispose(corio_stream *s);

/* Create a socket and set up s on it (as corio_stream_init), then start
 * connecting to sa: s->conn_res becomes 0 or -errno, then the writer w is
 * woken. -errno (s not set up) if the socket cannot be created. */
int corio_stream_connect(corio_stream *s, corio_loop *l, const struct sockaddr *sa,
                         socklen_t len, corio_task *w, void (*release)(corio_handle *h));

/* Make sure data is coming: arm the RECV if needed and register w to be
 * woken on data, end of stream or error. */
int corio_stream_want_read(corio_stream *s, corio_task *w);

/* Send all of iov (the bytes must stay valid until w is woken; then
 * s->werr is 0 or -errno). Short sends are resubmitted. -EBUSY while
 * another write runs; -EPIPE once a write was broken (CORIO_SF_WBROKEN). */
int corio_stream_write(corio_stream *s, const struct iovec *iov, int cnt, corio_task *w);

/* Part of a message has gone out by other means (a SENDMSG carrying an
 * fd): the next write carries the rest, and if it is interrupted the
 * stream breaks even when none of its own bytes went; break marks it
 * broken at once (CORIO_SF_WBROKEN). */
static inline void corio_stream_mark_partial(corio_stream *s) { s->flags |= CORIO_SF_PARTIAL; }
static inline void corio_stream_break(corio_stream *s) { s->flags |= CORIO_SF_WBROKEN; }

/* Ask the kernel to stop the current SEND / CONNECT; the writer is woken
 * at the op's final callback as usual. */
void corio_stream_cancel_write(corio_stream *s);

/* Release the handle: cancel ops, close the fd and free once all are idle.
 * Wakes nothing: the owner's waiters must already be gone, except a writer
 * with a SEND in flight, which is woken at its final callback. */
void corio_stream_close(corio_stream *s);

/* shutdown(SHUT_WR): 0 or -errno. */
int corio_stream_shutdown(corio_stream *s);

/* Open a listener bound to sa. backlog <= 0 means SOMAXCONN. */
int corio_listener_open(corio_loop *l, const struct sockaddr *sa, socklen_t len,
                        int backlog, int reuseaddr, int reuseport,
                        corio_listener **out);

static inline int corio_listener_fd(const corio_listener *ls) { return ls->fd; }
/* Connections accepted, not yet taken. */
static inline size_t corio_listener_queued(const corio_listener *ls) { return ls->fds.count; }

/* A listener on fd, a listening socket (non-blocking) the caller hands
 * over: closed with the listener. 0 or -ENOMEM (fd still the caller's). */
int corio_listener_adopt(corio_loop *l, int fd, corio_listener **out);

/* Take an accepted fd (>= 0), or queue w (its task set by the caller; at
 * the head when again is set: a waiter woken but beaten to the connection
 * keeps its turn) and return -EAGAIN, or return a pending accept error
 * (-errno) once. Queued waiters are woken in order, one per connection
 * (or error) that arrives; a waiter that leaves (cancel) calls
 * corio_waitq_remove. When accepting fails for lack of a
 * resource (EMFILE, ENFILE, ENOBUFS, ENOMEM) the error is reported once
 * and the listener backs off: it stops accepting and retries after a
 * delay that doubles from CORIO_ACCEPT_BACKOFF_MIN_MS to _MAX_MS while the
 * shortage lasts, waiters simply waiting meanwhile; the first connection
 * accepted ends the episode. */
#define CORIO_ACCEPT_BACKOFF_MIN_MS 5
#define CORIO_ACCEPT_BACKOFF_MAX_MS 100
int corio_listener_take(corio_listener *ls, corio_waiter *w, int again);

/* A waiter woken for a connection will not take it (it is being
 * cancelled): wake the next one in its place. */
void corio_listener_pass(corio_listener *ls);

/* Stop accepting (the owner's connection limit is reached): new
 * connections wait in the kernel's backlog. Queue w meanwhile (at the
 * head if again); -EAGAIN. */
int corio_listener_pause(corio_listener *ls, corio_waiter *w, int again);

/* Accept again after a pause; the first waiter is woken to take its turn. */
void corio_listener_resume(corio_listener *ls);

/* Cancel the accept, close the fd and queued fds, free once idle; every
 * queued waiter is woken (and out of the queue). */
void corio_listener_close(corio_listener *ls);

#endif
