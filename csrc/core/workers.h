/* workers.h: a pool of threads for blocking work, for what the kernel has
 * no asynchronous operation for (getaddrinfo), or the backend lacks (file
 * operations on epoll, or an op the ring does not probe).
 *
 * Each loop owns its pool, started at the first job: up to
 * CORIO_THREADS threads (default 4, capped at CORIO_WORKERS_MAX), created
 * as jobs wait for one. Jobs queue per class: files first, and names may
 * occupy at most half the threads (at least one), so a run of slow
 * lookups never delays a file read. A finished job comes back to its
 * loop through an eventfd the backend polls, the same completion path as
 * kernel I/O: its done callback runs on the loop's thread, inside the
 * backend's wait, like an op's callback.
 *
 * Jobs are the owner's memory, from malloc (never the loop's allocator):
 * a job still running when its loop closes is finished and freed on the
 * worker's thread. */
#ifndef CORIO_WORKERS_H
#define CORIO_WORKERS_H
#include <stddef.h>
#include <stdint.h>
#include "list.h"

#define CORIO_WORKERS_MAX 64

struct corio_loop;
typedef struct corio_workers corio_workers;
typedef struct corio_job corio_job;

enum corio_job_class {
    CORIO_JOB_FILES,    /* file operations: served first, by every thread */
    CORIO_JOB_NAMES,    /* name lookups: at most half the threads */
    CORIO_JOB_CLASSES
};

struct corio_job {
    /* Runs on a worker thread: no loop, no Lua, only the job's own data. */
    void (*work)(corio_job *j);
    /* Runs exactly once, after work or instead of it. cancelled = 0: on
     * the loop's thread, with work's results in the job. cancelled = 1:
     * the owner gave the job up (corio_job_cancel) or the loop closed; it
     * must only free the job's memory (with free(): it may run on a worker
     * thread). */
    void (*done)(corio_job *j, int cancelled);
    uint8_t cls;        /* enum corio_job_class */
    /* private to workers.c */
    uint8_t state;
    corio_link link;
    corio_workers *pool;
};

/* Queue j (work and done set, cls set) on l's pool, starting the pool or
 * a thread if needed: 0, or -errno (-ENOMEM; -EAGAIN when no thread can
 * be started and none runs). */
int corio_job_submit(struct corio_loop *l, corio_job *j);

/* Give j up. A job still queued is taken off the queue and its done(j, 1)
 * called before this returns; a running one has done(j, 1) called when
 * its work returns. Either way the owner must not touch j again. */
void corio_job_cancel(corio_job *j);

typedef struct corio_workers_stats {
    size_t threads;     /* started and not exited */
    size_t queued;      /* submitted, not yet started */
    size_t running;     /* inside work() */
} corio_workers_stats;

void corio_workers_stats_get(struct corio_loop *l, corio_workers_stats *st);

/* Wake idle threads for the jobs submitted since the last flush. The
 * loop calls it before it reaps or waits: a turn that submits many jobs
 * wakes the threads once, not once per job (on one core, a thread woken
 * per job would preempt the loop for every job). */
void corio_workers_flush(struct corio_loop *l);

/* For corio_loop_close: cancel queued jobs (done(j, 1) now), leave
 * running ones to finish on their threads, and let the threads exit once
 * idle. The loop is not touched again by any thread afterwards. */
void corio_workers_close(struct corio_loop *l);

#endif
