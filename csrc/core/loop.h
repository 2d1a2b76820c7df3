/* loop.h: one event loop: a ready queue of tasks (task.h), a timer wheel
 * and a reactor backend. What running a task means is the caller's run
 * callback (the Lua binding resumes a coroutine). No global state: each
 * loop is independent. */
#ifndef CORIO_LOOP_H
#define CORIO_LOOP_H
#include <stddef.h>
#include <stdint.h>
#include "alloc.h"
#include "backend.h"
#include "list.h"
#include "pool.h"
#include "timer.h"

typedef struct corio_task corio_task;   /* task.h */

/* Resumes between two reaps of the backend while tasks stay ready, so I/O
 * completions and timers are never starved by busy tasks. */
#define CORIO_REAP_EVERY 32

/* An object that owns ops (stream, listener, datagram socket): the loop
 * releases the ones still registered when it closes, and carries out the
 * close of the others (corio_handle_close). */
typedef struct corio_handle corio_handle;
struct corio_handle {
    corio_link link;
    void (*release)(corio_handle *h);   /* close fd, free memory, no I/O */
};

typedef struct corio_loop corio_loop;
typedef void (*corio_run_fn)(corio_loop *l, corio_task *t, void *ud);

struct corio_loop {
    corio_backend *be;
    corio_wheel wheel;
    corio_task *rq_head, *rq_tail;
    size_t nready;
    unsigned since_reap;      /* resumes since the last backend reap */
    corio_run_fn run;
    void *run_ud;
    corio_alloc alloc;        /* the loop's records and streams' buffers (alloc.h):
                                 libc unless the owner sets one */
    size_t nlive;             /* tasks started, not finished */
    size_t nio;               /* tasks suspended in an I/O wait */
    int budget;               /* of the running task (task.c) */
    corio_list handles;       /* registered handles */
    size_t nclosing;          /* handles closed by their owner, not yet released */
    corio_pool wreqs;         /* streams' write states (stream.c) */
    struct corio_workers *workers;   /* blocking-work pool, from the first job */
};

/* Open a loop on a backend chosen by corio_backend_open(force). */
int corio_loop_init(corio_loop *l, const char *force, char *why, size_t whylen);

/* Release the backend, then every handle still registered, then the
 * pools. Timers and queued tasks are simply forgotten. */
void corio_loop_close(corio_loop *l);

/* Register a handle, for release at close. */
void corio_loop_add_handle(corio_loop *l, corio_handle *h);

/* Close now, free when the kernel lets go: the owner closed h and
 * cancelled its ops. corio_handle_close counts it as closing;
 * corio_handle_settled, called then and from every final callback of its
 * ops with whether one is still busy, releases it once none is. Returns
 * 1 when h was released (its memory may be gone). */
void corio_handle_close(corio_loop *l, corio_handle *h);
int corio_handle_settled(corio_loop *l, corio_handle *h, int busy);

/* A closed object keeps its fd open in the kernel until its cancelled ops
 * have had their final callbacks, which only wait() delivers. Owners count
 * such handles in nclosing (closed, not yet released); settle waits, at
 * most timeout_ns, until there is none, so a caller about to stop driving
 * the loop leaves no listener listening and no peer without its FIN.
 * 0, -ETIMEDOUT, or -errno from the backend. */
int corio_loop_settle(corio_loop *l, int64_t timeout_ns);

/* Queue t to run (at the tail); a no-op if it is already queued. */
void corio_loop_ready(corio_loop *l, corio_task *t);

/* Memory from the loop's allocator. */
static inline void *corio_loop_mem(corio_loop *l, void *p, size_t osize, size_t nsize)
{
    return corio_mem(&l->alloc, p, osize, nsize);
}

/* Every task left is blocked on the others: none ready, no timer armed,
 * none waiting on I/O. */
static inline int corio_loop_deadlocked(const corio_loop *l)
{
    return l->nlive && !l->nready && !l->wheel.count && !l->nio;
}

/* Arm timer t to fire after delay_ns (rounded up to whole ms, so it never
 * fires early). */
void corio_loop_timer(corio_loop *l, corio_timer *t, uint64_t delay_ns);

/* Run the tasks that are ready now (not those they make ready), reaping
 * the backend every CORIO_REAP_EVERY resumes. Returns the number run. */
size_t corio_loop_run_ready(corio_loop *l);

/* Let the backend give back memory it refills on demand (an idle loop,
 * between polls); bytes released. */
size_t corio_loop_trim(corio_loop *l);

/* Wait for I/O once, at most timeout_ns (-1: until the next timer or
 * completion; never blocks while tasks are ready), then fire due timers.
 * Returns 0 or -errno from the backend. */
int corio_loop_poll(corio_loop *l, int64_t timeout_ns);

/* Nanoseconds until the loop has work: 0 if tasks are ready, -1 if nothing
 * is scheduled (no task ready, no timer), else time to the next timer. */
int64_t corio_loop_next_timeout(corio_loop *l);

#endif
