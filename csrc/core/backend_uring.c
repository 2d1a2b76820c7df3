/* backend_uring.c: the io_uring reactor backend (contract in backend.h).
 *
 * Design, in the order a completion travels:
 *  - One ring per backend, set up with SINGLE_ISSUER|DEFER_TASKRUN when the
 *    kernel takes it (else COOP_TASKRUN, else plain): the backend must then
 *    be used from the thread that created it.
 *  - An SQE's user_data is the op's address; internal SQEs (cancels, probes)
 *    carry the low tag bit, ops being at least 8-byte aligned. An op has at
 *    most one request in the kernel at a time, so a re-armed op keeps its
 *    user_data and an ASYNC_CANCEL by user_data always finds the live one.
 *  - RECV reads into a provided-buffer ring: a buffer is picked only when
 *    data arrives, so an idle connection holds none, and it goes back into
 *    the ring right after the owner's callback returns. Where the kernel
 *    consumes buffers incrementally (6.12+), a few large buffers are packed
 *    with one receive after another, else every receive takes a whole
 *    4 KiB buffer. The ring's memory is touched as it cycles, so its size
 *    is the receive memory an idle server ends up holding. -ENOBUFS (ring ran dry) never reaches the
 *    owner: the op is parked on the pending list and re-armed at the end of
 *    the same wait(), once the batch's buffers are back; MORE stays set.
 *  - ACCEPT and RECV are multishot when the kernel can; when the kernel ends
 *    a multishot (or a single-shot fallback completes) and the op was
 *    neither cancelled nor fatally failed, it is re-armed transparently.
 *  - wait() makes one io_uring_enter per turn (submit + wait, EXT_ARG
 *    timeout), reaps CQEs in batches, then runs the pending list.
 *  - pollfd() is an eventfd registered lazily; with DEFER_TASKRUN the kernel
 *    signals it when deferred completion work is queued (checked by the
 *    spec). While a host drives us through pollfd, SQEs queued outside
 *    wait() kick the eventfd and wait() flushes its own SQEs before it
 *    returns, so a host sleeping in poll() never strands a submission.
 */
#define _GNU_SOURCE
#include "backend.h"
#include "clock.h"
#include "faults.h"

#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef CORIO_FAULTS
#define URING_SQ_ENTRIES 4096
#else   /* rings small enough for a fault run to fill them (faults.h) */
#define URING_SQ_ENTRIES 16
#endif
#define URING_CQ_ENTRIES (4 * URING_SQ_ENTRIES)
/* Whole-buffer consumption: 1024 x 4 KiB = 4 MiB of receive memory per
 * loop. 4 KiB holds a typical request, and 1024 buffers cover 1024
 * connections whose data lands in the same turn; beyond that recv re-arms
 * after the batch. */
#ifndef CORIO_FAULTS
#define URING_NBUFS 1024
#else
#define URING_NBUFS 32
#endif
#define URING_BUFSZ 4096
/* Incremental consumption: 16 x 32 KiB = 512 KiB. Small receives are
 * packed, so 1,000 connections each sending a 64-byte request in one turn
 * take 64 KiB of it; a large receive still gets up to 32 KiB at once. */
#ifndef CORIO_FAULTS
#define URING_INC_NBUFS 16
#else
#define URING_INC_NBUFS 4
#endif
#define URING_INC_BUFSZ (32 * 1024)
/* Not in liburing 2.3's headers (kernel 6.12 uapi). */
#ifndef IOU_PBUF_RING_INC
#define IOU_PBUF_RING_INC 2
#endif
#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE (1u << 4)
#endif
#define URING_BGID 0
#define URING_BATCH 256
#define URING_DESTROY_NS 1000000000LL

#define TAG_INTERNAL 1u  /* user_data low bit: not an op */

/* op->bstate bits; LIVE is set from submit() until the final callback.
 * FAULT (fault builds): a reset was injected, the op ends in ECONNRESET. */
enum { ST_LIVE = 1, ST_INK = 2, ST_CANCEL = 4, ST_FAULT = 8 };

/* Test hooks, read by corio_backend_uring_new, so the spec can cover the
 * fallbacks this kernel would not pick: force_singleshot uses single-shot
 * ACCEPT and RECV; setup_skip skips that many of setup_ring's flag sets
 * (1: COOP_TASKRUN, 2: SUBMIT_ALL only, 3: no flags); no_incbuf keeps the
 * whole-buffer ring. */
int corio__uring_force_singleshot;
int corio__uring_setup_skip;
int corio__uring_no_incbuf;   /* whole-buffer ring even where INC works */

typedef struct uring_backend {
    corio_backend base;
    struct io_uring ring;
    int ring_ok;              /* ring initialised (for teardown) */
    unsigned inflight;        /* requests queued or in the kernel */
    int efd;                  /* pollfd eventfd, -1 until asked for */
    uint32_t file_ops;        /* bit k: file op kind k is in the kernel's ring */
    uint8_t in_wait, kicked;
    uint8_t ms_accept, ms_recv;
    uint8_t flag_ok;          /* IORING_SQ_TASKRUN tells when to enter */
    uint8_t bufs_used;        /* a receive used the buffers since the last trim */
    struct io_uring_buf_ring *br;
    char *bufs;
    unsigned nbufs, bufsz;    /* buffer ring geometry */
    uint32_t *boff;           /* incremental mode: bytes used of each buffer */
    unsigned br_add;          /* buffers added, not yet published */
    corio_list pend;          /* ops to re-arm or finish */
    struct msghdr *msgs;      /* SENDMSG headers, one per SQ slot */
#ifdef CORIO_FAULTS
    unsigned dry;             /* turns left of withholding released buffers */
    unsigned nheld;
    uint16_t *held;           /* buffers withheld, nbufs slots */
#endif
} uring_backend;

static const corio_backend_vt uring_vt;


/* ---- provided buffers ---------------------------------------------------- */

/* Queue buffer bid back into the ring; visible to the kernel after
 * flush_bufs (one release store per batch rather than per buffer). */
static void recycle(uring_backend *b, unsigned bid)
{
    if (b->boff)
        b->boff[bid] = 0;
    io_uring_buf_ring_add(b->br, b->bufs + (size_t)bid * b->bufsz, b->bufsz,
                          (unsigned short)bid, io_uring_buf_ring_mask(b->nbufs),
                          (int)b->br_add++);
}

/* Publish the buffers recycled since the last flush. */
static void flush_bufs(uring_backend *b)
{
    if (b->br_add) {
        io_uring_buf_ring_advance(b->br, (int)b->br_add);
        b->br_add = 0;
    }
}

/* Where the res bytes of a completion with flags cf are (NULL if it took
 * no buffer). In incremental mode a buffer serves receives back to back:
 * this one starts where the previous one using it ended. */
static const char *buf_data(uring_backend *b, unsigned cf, int res)
{
    if (!(cf & IORING_CQE_F_BUFFER))
        return NULL;
    unsigned bid = cf >> IORING_CQE_BUFFER_SHIFT;
    char *p = b->bufs + (size_t)bid * b->bufsz;
    b->bufs_used = 1;
    if (b->boff) {
        p += b->boff[bid];
        if (res > 0)
            b->boff[bid] += (uint32_t)res;
    }
    return p;
}

/* A completion's buffer is read: give it back unless the kernel goes on
 * filling it (incremental mode, BUF_MORE). */
static void buf_release(uring_backend *b, unsigned cf)
{
    if (!(cf & IORING_CQE_F_BUFFER) || (b->boff && (cf & IORING_CQE_F_BUF_MORE)))
        return;
#ifdef CORIO_FAULTS
    /* ENOBUFS: for a few turns, released buffers stay out of the ring,
     * which runs dry for real */
    if (b->held && (b->dry || corio_fault(CORIO_FAULT_ENOBUFS))) {
        b->dry += b->dry ? 0 : 1 + corio_fault_below(3);
        b->held[b->nheld++] = (uint16_t)(cf >> IORING_CQE_BUFFER_SHIFT);
        return;
    }
#endif
    recycle(b, cf >> IORING_CQE_BUFFER_SHIFT);
}

/* Fault builds: give the withheld buffers back once the dry spell ends. */
static void buf_unhold(uring_backend *b)
{
#ifdef CORIO_FAULTS
    if (b->dry && --b->dry == 0) {
        while (b->nheld)
            recycle(b, b->held[--b->nheld]);
        flush_bufs(b);
    }
#else
    (void)b;
#endif
}

static void unmap_bufs(uring_backend *b)
{
    if (b->br)
        munmap(b->br, b->nbufs * sizeof(struct io_uring_buf));
    if (b->bufs)
        munmap(b->bufs, (size_t)b->nbufs * b->bufsz);
    free(b->boff);
    b->br = NULL, b->bufs = NULL, b->boff = NULL;
}

/* Map a ring of n buffers of sz bytes ourselves (liburing 2.3 has no
 * io_uring_setup_buf_ring) and register it as group URING_BGID with flags. */
static int map_bufs(uring_backend *b, unsigned n, unsigned sz, unsigned flags)
{
    b->nbufs = n, b->bufsz = sz;
    void *r = mmap(NULL, n * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED)
        return -errno;
    b->br = r;
    void *m = mmap(NULL, (size_t)n * sz, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return -errno;
    b->bufs = m;
    /* liburing 2.3 calls the flags field "pad" */
    struct io_uring_buf_reg reg = { .ring_addr = (uintptr_t)r, .ring_entries = n,
                                    .bgid = URING_BGID, .pad = (uint16_t)flags };
    return io_uring_register_buf_ring(&b->ring, &reg, 0);
}

/* Register the buffer ring: incremental where the kernel takes it (an
 * older kernel rejects the flag with EINVAL), else (whatever went wrong)
 * whole buffers; fill it. */
static int setup_bufs(uring_backend *b, char *why, size_t len)
{
    int rc = -EINVAL;
    if (!corio__uring_no_incbuf) {
        rc = map_bufs(b, URING_INC_NBUFS, URING_INC_BUFSZ, IOU_PBUF_RING_INC);
        if (rc == 0 && !(b->boff = calloc(URING_INC_NBUFS, sizeof *b->boff))) {
            io_uring_unregister_buf_ring(&b->ring, URING_BGID);
            rc = -ENOMEM;
        }
        if (rc < 0)
            unmap_bufs(b);
    }
    if (rc < 0 && (rc = map_bufs(b, URING_NBUFS, URING_BUFSZ, 0)) < 0)
        unmap_bufs(b);
    if (rc < 0)
        return corio_backend_fail(why, len, "io_uring_register_buf_ring", rc);
    io_uring_buf_ring_init(b->br);
    for (unsigned i = 0; i < b->nbufs; i++)
        recycle(b, i);
    flush_bufs(b);
    return 0;
}

/* ---- setup --------------------------------------------------------------- */

/* Create the ring with the best flag set the kernel accepts: EINVAL means
 * "unknown flag", so drop to the next set; anything else is final. */
static int setup_ring(uring_backend *b, char *why, size_t len)
{
    static const unsigned tries[] = {
        IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
            IORING_SETUP_TASKRUN_FLAG,
        IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
        IORING_SETUP_SUBMIT_ALL,
        0,
    };
    int rc = -EINVAL;
    size_t skip = (size_t)corio__uring_setup_skip;
    for (size_t i = skip; i < sizeof tries / sizeof tries[0] && rc == -EINVAL; i++) {
        struct io_uring_params p = { .flags = tries[i] | IORING_SETUP_CQSIZE,
                                     .cq_entries = URING_CQ_ENTRIES };
        rc = io_uring_queue_init_params(URING_SQ_ENTRIES, &b->ring, &p);
    }
    if (rc < 0)
        return corio_backend_fail(why, len, "io_uring_setup", rc);
    b->ring_ok = 1;
    return 0;
}

/* Refuse kernels missing what the design relies on: EXT_ARG (wait timeout
 * without a timeout SQE), NODROP (no lost CQE on overflow), SUBMIT_STABLE
 * (SENDMSG headers only need to live until submission). */
static int check_features(uring_backend *b, char *why, size_t len)
{
    unsigned need = IORING_FEAT_EXT_ARG | IORING_FEAT_NODROP | IORING_FEAT_SUBMIT_STABLE;
    if ((b->ring.features & need) != need)
        return corio_backend_fail(why, len, "io_uring: kernel lacks EXT_ARG/NODROP/SUBMIT_STABLE",
                                  -ENOSYS);
    return 0;
}

/* Every opcode the backend issues must be known to the kernel. */
static int probe_ops(uring_backend *b, char *why, size_t len)
{
    static const int ops[] = { IORING_OP_ACCEPT, IORING_OP_RECV, IORING_OP_SEND,
                               IORING_OP_SENDMSG, IORING_OP_RECVMSG, IORING_OP_CONNECT,
                               IORING_OP_POLL_ADD, IORING_OP_ASYNC_CANCEL };
    struct io_uring_probe *p = io_uring_get_probe_ring(&b->ring);
    if (!p)
        return corio_backend_fail(why, len, "io_uring_get_probe", -ENOSYS);
    int rc = 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!io_uring_opcode_supported(p, ops[i]))
            rc = corio_backend_fail(why, len, "io_uring: a required opcode is missing",
                                    -ENOSYS);
    /* File ops are optional: what the ring lacks goes to the worker pool. */
    static const struct { int kind, opcode; } files[] = {
        { CORIO_OP_OPENAT, IORING_OP_OPENAT },     { CORIO_OP_CLOSE, IORING_OP_CLOSE },
        { CORIO_OP_READ, IORING_OP_READ },         { CORIO_OP_WRITE, IORING_OP_WRITE },
        { CORIO_OP_FSYNC, IORING_OP_FSYNC },       { CORIO_OP_STATX, IORING_OP_STATX },
        { CORIO_OP_RENAMEAT, IORING_OP_RENAMEAT }, { CORIO_OP_UNLINKAT, IORING_OP_UNLINKAT },
        { CORIO_OP_MKDIRAT, IORING_OP_MKDIRAT },
    };
    const char *off = getenv("CORIO_URING_NO_FILE_OPS");   /* tests: force the pool */
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (io_uring_opcode_supported(p, files[i].opcode) && !(off && *off && *off != '0'))
            b->file_ops |= 1u << files[i].kind;
    io_uring_free_probe(p);
    return rc;
}

/* Prepare a buffer-selecting recv on fd, multishot when ms. */
static void prep_recv(struct io_uring_sqe *sqe, int fd, int ms)
{
    io_uring_prep_recv(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = URING_BGID;
    if (ms)
        sqe->ioprio |= IORING_RECV_MULTISHOT;
}

/* Run the probe recv to its final CQE; returns 1 if a CQE carried MORE. */
static int probe_drain(uring_backend *b)
{
    int more = 0, done = 0;
    while (!done) {
        struct io_uring_cqe *cqe;
        if (io_uring_wait_cqe(&b->ring, &cqe) < 0)
            break;
        more |= (cqe->flags & IORING_CQE_F_MORE) != 0;
        done = !(cqe->flags & IORING_CQE_F_MORE);
        buf_data(b, cqe->flags, cqe->res);
        buf_release(b, cqe->flags);
        io_uring_cqe_seen(&b->ring, cqe);
    }
    flush_bufs(b);
    return more;
}

/* One socketpair tells two things by trying (kernel versions lie less than
 * behaviour): whether multishot recv works (6.0+; older kernels give
 * EINVAL or a plain single completion), and whether queued completion work
 * raises IORING_SQ_TASKRUN, which lets wait(0) skip the syscall when the
 * flag is clear. */
static void probe_recv(uring_backend *b)
{
    int sv[2];
    unsigned lazy = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_DEFER_TASKRUN;
    b->flag_ok = !(b->ring.flags & lazy);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
    if (!sqe)
        goto out;
    prep_recv(sqe, sv[0], 1);
    io_uring_sqe_set_data64(sqe, TAG_INTERNAL);
    io_uring_submit(&b->ring);
    if (write(sv[1], "x", 1) == 1 && (IO_URING_READ_ONCE(*b->ring.sq.kflags) & IORING_SQ_TASKRUN))
        b->flag_ok = 1;
    shutdown(sv[1], SHUT_WR);
    b->ms_recv = (uint8_t)probe_drain(b);
out:
    close(sv[0]);
    close(sv[1]);
}

/* ---- queueing ------------------------------------------------------------ */

/* A free SQE, submitting the full SQ first if need be; NULL if the kernel
 * will not take submissions right now. */
static struct io_uring_sqe *get_sqe(uring_backend *b)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
    if (!sqe) {
        io_uring_submit(&b->ring);
        sqe = io_uring_get_sqe(&b->ring);
    }
    return sqe;
}

/* Make a host sleeping on pollfd() come back to flush what was queued
 * outside wait(); once per wait() turn. */
static void kick(uring_backend *b)
{
    if (b->efd >= 0 && !b->in_wait && !b->kicked) {
        b->kicked = 1;
        eventfd_write(b->efd, 1);
    }
}

/* Park op to be armed (or finished, if cancelled) by the next pass of
 * run_pending. */
static void push_pending(uring_backend *b, corio_op *op)
{
    corio_list_push(&b->pend, &op->blink);
}

/* SEND with one iovec is a plain send; more use SENDMSG with the header in
 * the SQ slot's msghdr, which the kernel copies at submission.
 * MSG_WAITALL makes the kernel finish a partial stream send itself. */
static void prep_send(uring_backend *b, struct io_uring_sqe *sqe, corio_op *op)
{
    const struct iovec *iov = ((corio_send_op *)op)->iov;
    size_t cnt = (size_t)((corio_send_op *)op)->iovcnt;
    int flags = MSG_NOSIGNAL | MSG_WAITALL;
    struct iovec one;
    corio_fault_shorten(&iov, &cnt, &one);   /* fault builds: offer only a part */
    if (cnt == 1) {
        io_uring_prep_send(sqe, op->fd, iov[0].iov_base, iov[0].iov_len, flags);
        return;
    }
    struct msghdr *m = &b->msgs[sqe - b->ring.sq.sqes];
    memset(m, 0, sizeof *m);
    m->msg_iov = (struct iovec *)iov;
    m->msg_iovlen = cnt;
    io_uring_prep_sendmsg(sqe, op->fd, m, (unsigned)flags);
}

/* Fill sqe for a file op (an off of -1 reads or writes at the file
 * position, as the kernel's RW_CUR_POS feature says). */
static void prep_file(struct io_uring_sqe *sqe, corio_file_op *f)
{
    int fd = f->op.fd;
    switch (f->op.kind) {
    case CORIO_OP_OPENAT:
        io_uring_prep_openat(sqe, AT_FDCWD, f->path, f->flags, f->mode);
        break;
    case CORIO_OP_CLOSE:
        io_uring_prep_close(sqe, fd);
        break;
    case CORIO_OP_READ:
        io_uring_prep_read(sqe, fd, f->buf, f->len, (uint64_t)f->off);
        break;
    case CORIO_OP_WRITE:
        io_uring_prep_write(sqe, fd, f->buf, f->len, (uint64_t)f->off);
        break;
    case CORIO_OP_FSYNC:
        io_uring_prep_fsync(sqe, fd, 0);
        break;
    case CORIO_OP_STATX:
        io_uring_prep_statx(sqe, *f->path ? AT_FDCWD : fd, f->path, f->flags,
                            STATX_BASIC_STATS, f->buf);
        break;
    case CORIO_OP_RENAMEAT:
        io_uring_prep_renameat(sqe, AT_FDCWD, f->path, AT_FDCWD, f->path2, 0);
        break;
    case CORIO_OP_UNLINKAT:
        io_uring_prep_unlinkat(sqe, AT_FDCWD, f->path, f->flags);
        break;
    case CORIO_OP_MKDIRAT:
        io_uring_prep_mkdirat(sqe, AT_FDCWD, f->path, f->mode);
        break;
    }
}

/* Fill sqe for op's kind. */
static void prep_op(uring_backend *b, struct io_uring_sqe *sqe, corio_op *op)
{
    int fl = SOCK_NONBLOCK | SOCK_CLOEXEC;
    switch (op->kind) {
    case CORIO_OP_ACCEPT:
        if (b->ms_accept)
            io_uring_prep_multishot_accept(sqe, op->fd, NULL, NULL, fl);
        else
            io_uring_prep_accept(sqe, op->fd, NULL, NULL, fl);
        break;
    case CORIO_OP_RECV:
        prep_recv(sqe, op->fd, b->ms_recv);
        break;
    case CORIO_OP_SEND:
        prep_send(b, sqe, op);
        break;
    case CORIO_OP_CONNECT:
        io_uring_prep_connect(sqe, op->fd, ((corio_connect_op *)op)->addr, ((corio_connect_op *)op)->len);
        break;
    case CORIO_OP_POLL:
        io_uring_prep_poll_add(sqe, op->fd, op->events & ~CORIO_POLL_MULTI);
        if (op->events & CORIO_POLL_MULTI)
            sqe->len |= IORING_POLL_ADD_MULTI;
        break;
    case CORIO_OP_RECVMSG:
        io_uring_prep_recvmsg(sqe, op->fd, ((corio_msg_op *)op)->msg,
                              (unsigned)((corio_msg_op *)op)->flags);
        break;
    case CORIO_OP_SENDMSG:
        io_uring_prep_sendmsg(sqe, op->fd, ((corio_msg_op *)op)->msg,
                              (unsigned)(((corio_msg_op *)op)->flags | MSG_NOSIGNAL));
        break;
    default:
        prep_file(sqe, (corio_file_op *)op);
        break;
    }
}

/* Queue op's request; -EAGAIN when no SQE can be had (caller parks it). */
static int arm(uring_backend *b, corio_op *op)
{
    struct io_uring_sqe *sqe = get_sqe(b);
    if (!sqe)
        return -EAGAIN;
    prep_op(b, sqe, op);
    io_uring_sqe_set_data(sqe, op);
    op->bstate |= ST_INK;
    b->inflight++;
    return 0;
}

/* Ask the kernel to end op's request (or all requests when op is NULL);
 * the cancel's own CQE is internal. */
static int queue_cancel(uring_backend *b, corio_op *op)
{
    struct io_uring_sqe *sqe = get_sqe(b);
    if (!sqe)
        return -EAGAIN;
    io_uring_prep_cancel(sqe, op, op ? 0 : IORING_ASYNC_CANCEL_ANY);
    io_uring_sqe_set_data64(sqe, TAG_INTERNAL);
    b->inflight++;
    return 0;
}

/* ---- completion ---------------------------------------------------------- */

/* Final callback: the op is idle again before cb runs, so cb may reuse it. */
static int finish(corio_op *op, int res, const void *data)
{
    op->bstate = 0;
    op->cb(op, res, data, 0);
    return 1;
}

/* A callback with more to come. */
static int more(corio_op *op, int res, const void *data)
{
    op->cb(op, res, data, CORIO_OPF_MORE);
    return 1;
}

/* After a MORE callback for a request that the kernel ended: arm it again,
 * unless the callback cancelled it (then its final callback is now). */
static int rearm(uring_backend *b, corio_op *op)
{
    if (op->bstate & ST_CANCEL)
        return finish(op, -ECANCELED, NULL);
    if (arm(b, op) < 0)
        push_pending(b, op);
    return 0;
}

/* Finish or re-arm every parked op; ops that still cannot get an SQE wait
 * for the next pass. Returns callbacks run. */
static int run_pending(uring_backend *b)
{
    corio_list batch = b->pend;
    corio_link *n;
    int ran = 0;
    b->pend = (corio_list){0};
    while ((n = corio_list_pop(&batch)))
        ran += rearm(b, corio_op_of(n));
    return ran;
}

/* Fault builds: the connection "was reset" at a receive. The op ends in
 * ECONNRESET once the kernel lets it go; its data from now on is dropped,
 * as a reset drops what the peer had sent, and the socket is broken both
 * ways (corio_fault_break). */
static void poison(uring_backend *b, corio_op *op, unsigned cf)
{
    if ((cf & IORING_CQE_F_MORE) && queue_cancel(b, op) < 0)
        return;
    op->bstate |= ST_FAULT | ST_CANCEL;
    corio_fault_break(op->fd);
}

/* Fault builds: a send or connect that worked, reported as a reset. */
static int reset_result(const corio_op *op, int res)
{
    int k = op->kind;
    if (res >= 0 && !(op->bstate & ST_CANCEL) &&
        (k == CORIO_OP_SEND || k == CORIO_OP_SENDMSG || k == CORIO_OP_CONNECT) &&
        corio_fault(CORIO_FAULT_RESET))
        return corio_fault_break(op->fd), -ECONNRESET;
    return res;
}

/* RECV completion. Data with MORE is passed on; a request the kernel ended
 * with data or -ENOBUFS is re-armed (the owner still sees MORE); EOF,
 * errors and anything after cancel() are final. The buffer goes back into
 * the ring once the callback has returned. */
static int on_recv(uring_backend *b, corio_op *op, int res, unsigned cf)
{
    const char *data = buf_data(b, cf, res);
    int n = 0;
    if (res > 0 && !(op->bstate & ST_CANCEL) && corio_fault(CORIO_FAULT_RESET))
        poison(b, op, cf);
    int live = !(op->bstate & ST_CANCEL);
    if (op->bstate & ST_FAULT) {   /* data after an injected reset is dropped */
        if (!(cf & IORING_CQE_F_MORE))
            n = finish(op, -ECONNRESET, NULL);
    }
    else if (cf & IORING_CQE_F_MORE)
        n = more(op, res, data);
    else if (res == -ENOBUFS && live)
        push_pending(b, op);
    else if (res > 0 && live) {
        n = more(op, res, data);
        n += rearm(b, op);
    }
    else
        n = finish(op, res, data);
    buf_release(b, cf);
    return n;
}

/* Accept errors after which the listener cannot go on. */
static int accept_fatal(int res)
{
    return res == -EBADF || res == -EINVAL || res == -ENOTSOCK || res == -EOPNOTSUPP ||
           res == -EFAULT || res == -ECANCELED;
}

/* A shortage (no fd or memory for the new connection): the connection
 * stays in the backlog, so a retry at once fails at once. The ACCEPT ends
 * and its owner backs off (backend.h), as on epoll. */
static int accept_shortage(int res)
{
    return res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM;
}

/* ACCEPT completion: like on_recv, a request the kernel ended is re-armed
 * unless cancelled, fatal or short of a resource; transient errors
 * (ECONNABORTED, EINTR, ...) are retried silently. (Kernels end a
 * multishot accept on any error; should one keep it armed after a
 * shortage, it is cancelled here.) */
static int on_accept(uring_backend *b, corio_op *op, int res, unsigned cf)
{
    if (cf & IORING_CQE_F_MORE) {
        if (accept_shortage(res) && !(op->bstate & ST_CANCEL) && queue_cancel(b, op) == 0)
            op->bstate |= ST_CANCEL;
        return more(op, res, NULL);
    }
    if ((op->bstate & ST_CANCEL) || accept_fatal(res) || accept_shortage(res))
        return finish(op, res, NULL);
    int n = res >= 0 ? more(op, res, NULL) : 0;
    return n + rearm(b, op);
}

/* A multishot POLL's CQE: readiness with MORE is passed on; a poll the
 * kernel ended with a readiness is re-armed (the owner still sees MORE);
 * errors and anything after cancel() are final. */
static int on_poll_multi(uring_backend *b, corio_op *op, int res, unsigned cf)
{
    if (cf & IORING_CQE_F_MORE)
        return more(op, res, NULL);
    if (res >= 0 && !(op->bstate & ST_CANCEL)) {
        int n = more(op, res, NULL);
        return n + rearm(b, op);
    }
    return finish(op, res, NULL);
}

/* Route one CQE; returns callbacks run. */
static int on_cqe(uring_backend *b, const struct io_uring_cqe *cqe)
{
    if (cqe->user_data & TAG_INTERNAL) {
        b->inflight--;
        return 0;
    }
    corio_op *op = io_uring_cqe_get_data(cqe);
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        op->bstate &= (uint8_t)~ST_INK;
        b->inflight--;
    }
    if (op->kind == CORIO_OP_RECV)
        return on_recv(b, op, cqe->res, cqe->flags);
    if (op->kind == CORIO_OP_ACCEPT)
        return on_accept(b, op, cqe->res, cqe->flags);
    if (op->kind == CORIO_OP_POLL && (op->events & CORIO_POLL_MULTI))
        return on_poll_multi(b, op, cqe->res, cqe->flags);
    return finish(op, reset_result(op, cqe->res), NULL);
}

/* Dispatch the CQEs in the ring, URING_BATCH at a time, advancing the CQ
 * once per batch. Read straight from the ring: liburing's peek_batch_cqe
 * would enter the kernel again whenever IORING_SQ_TASKRUN is up, and
 * completions landing while we dispatch are better left to the next
 * turn's single enter. Only an overflow forces an extra enter, to flush
 * it. Bounded to one CQ's worth so a busy turn still returns. */
static int reap(uring_backend *b)
{
    struct io_uring *r = &b->ring;
    unsigned ready, total = 0;
    int n = 0;
    if (corio_fault(CORIO_FAULT_OVERFLOW))   /* leave the CQ to fill up */
        return 0;
    if (IO_URING_READ_ONCE(*r->sq.kflags) & IORING_SQ_CQ_OVERFLOW)
        io_uring_get_events(r);
    while (total < URING_CQ_ENTRIES && (ready = io_uring_cq_ready(r)) > 0) {
        unsigned head = *r->cq.khead;
        if (ready > URING_BATCH)
            ready = URING_BATCH;
        for (unsigned i = 0; i < ready; i++)
            n += on_cqe(b, &r->cq.cqes[(head + i) & r->cq.ring_mask]);
        io_uring_cq_advance(r, ready);
        flush_bufs(b);
        total += ready;
    }
    return n;
}

/* The turn's one syscall. timeout 0: enter (submit + GETEVENTS) only if
 * there is something to submit or the kernel flags deferred work or an
 * overflow (or its TASKRUN flag cannot be trusted, see probe_recv); else
 * no syscall at all. Otherwise submit and wait for one CQE with an
 * EXT_ARG timeout. */
static int enter(uring_backend *b, int64_t timeout_ns)
{
    if (corio_fault(CORIO_FAULT_EINTR))   /* a signal, or a CQ overflow to flush */
        return corio_fault_below(2) ? -EINTR : -EBUSY;
    if (timeout_ns == 0) {
        unsigned kf = IO_URING_READ_ONCE(*b->ring.sq.kflags);
        if (!b->flag_ok || io_uring_sq_ready(&b->ring) ||
            (kf & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)))
            return io_uring_submit_and_get_events(&b->ring);
        return 0;
    }
    struct __kernel_timespec ts = { .tv_sec = timeout_ns / 1000000000LL,
                                    .tv_nsec = timeout_ns % 1000000000LL };
    struct io_uring_cqe *cqe;
    return io_uring_submit_and_wait_timeout(&b->ring, &cqe, 1, timeout_ns < 0 ? NULL : &ts,
                                            NULL);
}

/* Results of enter() that are not failures of wait(). */
static int benign(int rc)
{
    return rc >= 0 || rc == -ETIME || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY;
}

/* Reset the pollfd eventfd before looking for work: anything completing
 * after this signals it again, so no wakeup is lost. */
static void drain_efd(uring_backend *b)
{
    eventfd_t v;
    if (b->efd >= 0) {
        eventfd_read(b->efd, &v);
        b->kicked = 0;
    }
}

/* ---- vtable -------------------------------------------------------------- */

/* The file ops the kernel's ring has (probed at set-up). */
static int u_supports(corio_backend *base, int kind)
{
    uring_backend *b = (uring_backend *)base;
    if (kind < 0 || kind >= CORIO_OP_COUNT)
        return 0;
    return kind < CORIO_OP_FILE_FIRST || (b->file_ops >> kind & 1);
}

/* Arm op now, or park it for the next wait() if the SQ cannot take it:
 * submit never fails for lack of room. */
static int u_submit(corio_backend *base, corio_op *op)
{
    uring_backend *b = (uring_backend *)base;
    if (op->bstate)
        return -EBUSY;
    if (op->kind >= CORIO_OP_COUNT || !op->cb)
        return -EINVAL;
    if (!u_supports(base, op->kind))
        return -EOPNOTSUPP;
    op->bstate = ST_LIVE;
    if (arm(b, op) < 0)
        push_pending(b, op);
    kick(b);
    return 0;
}

/* Mark op cancelled; if the kernel holds its request, queue an
 * ASYNC_CANCEL. A parked or re-arming op is finished by the dispatcher. */
static int u_cancel(corio_backend *base, corio_op *op)
{
    uring_backend *b = (uring_backend *)base;
    if (!(op->bstate & ST_LIVE) || (op->bstate & ST_CANCEL))
        return 0;
    op->bstate |= ST_CANCEL;
    if (op->bstate & ST_INK) {
        int rc = queue_cancel(b, op);
        if (rc < 0) {
            op->bstate &= (uint8_t)~ST_CANCEL;
            return rc;
        }
    }
    kick(b);
    return 0;
}

/* One loop turn; see enter() and reap(). Not reentrant: a callback calling
 * wait() gets -EBUSY. */
static int u_wait(corio_backend *base, int64_t timeout_ns)
{
    uring_backend *b = (uring_backend *)base;
    if (b->in_wait)
        return -EBUSY;
    b->in_wait = 1;
    drain_efd(b);
    buf_unhold(b);
    int n = run_pending(b);
    int rc = enter(b, n ? 0 : timeout_ns);
    n += reap(b);
    n += run_pending(b);
    if (b->efd >= 0 && io_uring_sq_ready(&b->ring))
        io_uring_submit(&b->ring);
    b->in_wait = 0;
    if (b->pend.head)
        kick(b);
    return benign(rc) || n ? n : rc;
}

/* The eventfd the kernel signals on completions, created on first use so
 * loops that never ask pay nothing for it. */
static int u_pollfd(corio_backend *base)
{
    uring_backend *b = (uring_backend *)base;
    if (b->efd >= 0)
        return b->efd;
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = io_uring_register_eventfd(&b->ring, fd);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    b->efd = fd;
    if (io_uring_sq_ready(&b->ring) || b->pend.head)
        kick(b);
    return fd;
}

/* Count down the final CQEs of everything in flight, for at most
 * URING_DESTROY_NS, calling no callback. */
static void drain_all(uring_backend *b)
{
    uint64_t end = corio_clock_ns() + URING_DESTROY_NS;
    while (b->inflight) {
        uint64_t now = corio_clock_ns();
        if (now >= end)
            break;
        uint64_t left = end - now;
        struct __kernel_timespec ts = { .tv_sec = (long long)(left / 1000000000u),
                                        .tv_nsec = (long long)(left % 1000000000u) };
        struct io_uring_cqe *cqe;
        int rc = io_uring_submit_and_wait_timeout(&b->ring, &cqe, 1, &ts, NULL);
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&b->ring, head, cqe) {
            seen++;
            if (!(cqe->flags & IORING_CQE_F_MORE) || (cqe->user_data & TAG_INTERNAL))
                b->inflight--;
        }
        io_uring_cq_advance(&b->ring, seen);
        if (!benign(rc))
            break;
    }
}

/* Release everything; safe on a half-built backend. */
static void free_backend(uring_backend *b)
{
    if (b->ring_ok) {
        if (b->br)
            io_uring_unregister_buf_ring(&b->ring, URING_BGID);
        io_uring_queue_exit(&b->ring);
    }
    unmap_bufs(b);
    if (b->efd >= 0)
        close(b->efd);
    free(b->msgs);
#ifdef CORIO_FAULTS
    free(b->held);
#endif
    free(b);
}

/* Cancel everything the kernel holds, wait (bounded) until it lets go,
 * then tear down. Parked ops were never in the kernel: just dropped. */
static void u_destroy(corio_backend *base)
{
    uring_backend *b = (uring_backend *)base;
    b->pend = (corio_list){0};
    if (b->inflight && queue_cancel(b, NULL) == 0)
        drain_all(b);
    free_backend(b);
}

/* The receive buffers hold no data between two wait()s once every
 * completion is reaped: received bytes are copied out in the callbacks.
 * Their pages can then be dropped, to be faulted in again, zeroed, by the
 * next receive, provided the kernel cannot write into them before our
 * next io_uring_enter:
 *  - DEFER_TASKRUN: receives complete as task work run only inside our
 *    own io_uring_enter (otherwise task work may run at any return to
 *    user space, between the last reap and the madvise);
 *  - multishot receives: they are re-polled, never handed to the
 *    kernel's io-wq workers, which would copy into a buffer from another
 *    thread at any time (a single-shot receive that finds no data twice
 *    may be);
 *  - no completion waiting: none in the CQ, none in the kernel's overflow
 *    list (SQ_CQ_OVERFLOW), no deferred work pending (SQ_TASKRUN).
 * Only pages a receive used since the last trim are worth the syscall. */
static size_t u_trim(corio_backend *base)
{
    uring_backend *b = (uring_backend *)base;
    size_t len = (size_t)b->nbufs * b->bufsz;
    unsigned pending = IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN;
    if (!b->bufs || !b->bufs_used || b->in_wait || !b->ms_recv ||
        !(b->ring.flags & IORING_SETUP_DEFER_TASKRUN) || io_uring_cq_ready(&b->ring) ||
        (IO_URING_READ_ONCE(*b->ring.sq.kflags) & pending))
        return 0;
    if (madvise(b->bufs, len, MADV_DONTNEED) < 0)
        return 0;
    b->bufs_used = 0;
    return len;
}

static const corio_backend_vt uring_vt = {
    .name = "io_uring",
    .submit = u_submit,
    .cancel = u_cancel,
    .wait = u_wait,
    .pollfd = u_pollfd,
    .trim = u_trim,
    .supports = u_supports,
    .destroy = u_destroy,
};

/* Build the ring, check the kernel, register buffers, probe behaviour. */
static int init_backend(uring_backend *b, char *why, size_t len)
{
    int rc = setup_ring(b, why, len);
    if (rc == 0)
        rc = check_features(b, why, len);
    if (rc == 0)
        rc = probe_ops(b, why, len);
    if (rc == 0)
        rc = setup_bufs(b, why, len);
    if (rc < 0)
        return rc;
    b->msgs = calloc(b->ring.sq.ring_entries, sizeof *b->msgs);
    if (!b->msgs)
        return corio_backend_fail(why, len, "calloc", -ENOMEM);
#ifdef CORIO_FAULTS
    if (!(b->held = calloc(b->nbufs, sizeof *b->held)))
        return corio_backend_fail(why, len, "calloc", -ENOMEM);
#endif
    io_uring_register_ring_fd(&b->ring);  /* optional: saves an fget per enter */
    probe_recv(b);
    b->ms_accept = 1;  /* same kernel release (5.19) as buffer rings */
    if (corio__uring_force_singleshot)
        b->ms_accept = b->ms_recv = 0;
    return 0;
}

int corio_backend_uring_new(corio_backend **out, char *why, size_t whylen)
{
    uring_backend *b = calloc(1, sizeof *b);
    if (!b)
        return corio_backend_fail(why, whylen, "calloc", -ENOMEM);
    b->base.vt = &uring_vt;
    b->efd = -1;
    int rc = init_backend(b, why, whylen);
    if (rc < 0) {
        free_backend(b);
        return rc;
    }
    *out = &b->base;
    return 0;
}
