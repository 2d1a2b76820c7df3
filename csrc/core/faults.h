/* faults.h: seeded fault injection, compiled in only by `make faults`
 * (-DCORIO_FAULTS). Elsewhere every hook is a constant 0 the compiler
 * drops, so release builds carry none of it.
 *
 * The hooks sit where a real failure would appear: the allocators (the
 * Lua state's and corio's own malloc calls), the backends' syscalls and
 * completions. Each injected fault is one the code must already survive
 * in production (a short write, a reset, a full CQ, an allocation that
 * fails): the harness checks that it does, without a crash, a leak, a
 * lost byte or a task that waits forever. A fault the kernel could never
 * produce (EAGAIN from an edge-style wait with data present) is never
 * injected, so a hang it finds is a real one.
 *
 * Driven by a spec string, normally $CORIO_FAULTS:
 *   "seed=7,enomem=0.001,short=0.05,reset=0.01,enobufs=0.01,eagain=0.05,
 *    overflow=0.01,eintr=0.01,spurious=0.05"
 * each rate the chance per opportunity; "failat=N" instead fails exactly
 * the Nth allocation (counted from arming) and no other, for the
 * exhaustive sweep. */
#ifndef CORIO_FAULTS_H
#define CORIO_FAULTS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

enum corio_fault_kind {
    CORIO_FAULT_ENOMEM,    /* an allocation that grows memory fails */
    CORIO_FAULT_SHORT,     /* a stream send takes fewer bytes than offered */
    CORIO_FAULT_RESET,     /* a receive, send or connect ends in ECONNRESET */
    CORIO_FAULT_ENOBUFS,   /* io_uring: the receive buffer ring runs dry */
    CORIO_FAULT_EAGAIN,    /* epoll: a ready syscall says EAGAIN (level-triggered:
                              the readiness is reported again) */
    CORIO_FAULT_OVERFLOW,  /* io_uring: completions left unreaped, the CQ overflows */
    CORIO_FAULT_EINTR,     /* io_uring_enter fails with EINTR or EBUSY */
    CORIO_FAULT_SPURIOUS,  /* epoll: a wake-up for an fd that is not ready */
    CORIO_FAULT_NKINDS
};

#ifdef CORIO_FAULTS
/* Parse spec (NULL or "" arms nothing) and arm it; -EINVAL with the reason
 * in why for a malformed one. Re-seeds and zeroes the counters. */
int corio_faults_arm(const char *spec, char *why, size_t whylen);
/* Stop injecting (the counters stay readable); rearm goes on with the
 * same generator and counters. */
void corio_faults_disarm(void);
void corio_faults_rearm(void);
/* Armed but held until corio_faults_start (the first corio.run), so that
 * loading the module and its Lua parts is not what fails; arm and disarm
 * drop a held start. */
void corio_faults_hold(void);
int corio_faults_armed(void);
/* 1 when a fault of kind k is to be injected now. */
int corio_fault(enum corio_fault_kind k);
/* For the Lua state's allocator: like corio_fault(CORIO_FAULT_ENOMEM).
 * Lua answers a failed allocation with an emergency collection and one
 * retry. Under "failat" the retry fails too, so the sweep's one failure
 * is a real one everywhere; under random rates the retry is left to
 * chance, so most failures exercise the emergency collection and a few
 * (rate squared) reach the code as errors: at rates where every
 * allocation-heavy statement of a workload could fail, no workload could
 * tell corio's faults from its own. */
int corio_fault_lua_alloc(size_t nsize);
/* When a short write is due, cut a send of *cnt iovecs at *iov to a
 * strict prefix of its bytes: fewer iovecs, or for a single one a shorter
 * copy in *one (alive until the send is submitted). Both backends. */
void corio_fault_shorten(const struct iovec **iov, size_t *cnt, struct iovec *one);
/* A random number in [0, n) (n > 0), from the seeded generator. */
uint32_t corio_fault_below(uint32_t n);
/* Faults injected of kind k, and allocations seen, since arming. */
uint64_t corio_faults_hits(enum corio_fault_kind k);
uint64_t corio_faults_allocs(void);
const char *corio_fault_name(enum corio_fault_kind k);
/* An injected reset breaks the whole connection, as a real one does:
 * both directions are shut down, so every later read ends and every
 * later write fails, here and at the peer (which sees the end of the
 * stream). */
void corio_fault_break(int fd);
void corio_faults_start(void);
/* While on, no fault is injected (a harness task that must not fail). */
void corio_faults_quiet(int on);
/* The calling thread (a worker of workers.c) never gets a fault: the
 * generator belongs to the loop's thread. */
void corio_faults_exempt_thread(void);
#else
static inline void corio_faults_quiet(int on) { (void)on; }
static inline void corio_faults_exempt_thread(void) {}
static inline void corio_fault_break(int fd) { (void)fd; }
static inline void corio_faults_start(void) {}
static inline int corio_fault(enum corio_fault_kind k) { (void)k; return 0; }
static inline int corio_fault_lua_alloc(size_t nsize) { (void)nsize; return 0; }
static inline uint32_t corio_fault_below(uint32_t n) { (void)n; return 0; }
static inline void corio_fault_shorten(const struct iovec **iov, size_t *cnt, struct iovec *one)
{
    (void)iov, (void)cnt, (void)one;
}
#endif

#endif
