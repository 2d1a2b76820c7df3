/* workers.c: the blocking-work pool declared in workers.h.
 *
 * One mutex guards the queues and counts; idle threads sleep on one
 * condition variable. A finished job goes on the finished list and the
 * eventfd is written (under the mutex, so the loop can close the fd
 * without racing a late write); the loop's multishot POLL on the eventfd
 * takes the whole list and calls the done callbacks.
 *
 * The pool outlives its loop while threads run: the loop's reference and
 * each thread's count in refs, and whoever drops the last frees it. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "backend.h"
#include "faults.h"
#include "loop.h"
#include "workers.h"

#define DEFAULT_THREADS 4

enum { J_IDLE, J_QUEUED, J_RUNNING, J_GIVEN_UP, J_FINISHED };

struct corio_workers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    corio_list queue[CORIO_JOB_CLASSES];
    corio_list finished;
    size_t nqueued, nthreads, nidle, nrunning;
    size_t unsignalled;    /* jobs queued since the last flush */
    size_t running[CORIO_JOB_CLASSES];
    size_t max;            /* threads at most */
    size_t refs;           /* the loop (until close) + each thread */
    int closed;            /* the loop let go: no eventfd, no callbacks there */
    int armed;             /* the POLL on efd is armed */
    int efd;
    corio_loop *loop;
    corio_poll_op poll;    /* multishot POLLIN on efd */
};

static corio_job *job_of(corio_link *n)
{
    return n ? corio_container_of(n, corio_job, link) : NULL;
}

/* Threads from $CORIO_THREADS: 1 to CORIO_WORKERS_MAX, else the default. */
static size_t max_threads(void)
{
    const char *s = getenv("CORIO_THREADS");
    char *end;
    long n = s ? strtol(s, &end, 10) : 0;
    if (!s || *end || n < 1)
        return DEFAULT_THREADS;
    return n > CORIO_WORKERS_MAX ? CORIO_WORKERS_MAX : (size_t)n;
}

/* Names may hold at most half the threads (at least one). */
static size_t names_cap(const corio_workers *p)
{
    return p->max / 2 ? p->max / 2 : 1;
}

/* The next job a thread may start (mutex held), taken off its queue. */
static corio_job *next_job(corio_workers *p)
{
    corio_job *j = job_of(p->queue[CORIO_JOB_FILES].head);
    if (!j && p->running[CORIO_JOB_NAMES] < names_cap(p))
        j = job_of(p->queue[CORIO_JOB_NAMES].head);
    if (j) {
        corio_list_remove(&p->queue[j->cls], &j->link);
        p->nqueued--;
    }
    return j;
}

static void release(corio_workers *p)
{
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

/* Hand a finished job back (mutex held): to the loop, or, once the loop
 * is gone or the owner gave it up, to done(j, 1) here (returns 1). */
static int finish(corio_workers *p, corio_job *j)
{
    if (p->closed || j->state == J_GIVEN_UP)
        return 1;
    j->state = J_FINISHED;
    int wake = !p->finished.head;
    corio_list_push(&p->finished, &j->link);
    if (wake) {
        uint64_t one = 1;
        ssize_t rc = write(p->efd, &one, sizeof one);   /* EAGAIN: already readable */
        (void)rc;
    }
    return 0;
}

static void *worker(void *arg)
{
    corio_workers *p = arg;
    corio_faults_exempt_thread();
    pthread_mutex_lock(&p->mu);
    for (;;) {
        corio_job *j = next_job(p);
        if (!j) {
            if (p->closed)
                break;
            p->nidle++;
            pthread_cond_wait(&p->cv, &p->mu);
            p->nidle--;
            continue;
        }
        j->state = J_RUNNING;
        p->nrunning++, p->running[j->cls]++;
        pthread_mutex_unlock(&p->mu);
        j->work(j);
        pthread_mutex_lock(&p->mu);
        p->nrunning--, p->running[j->cls]--;
        if (j->cls == CORIO_JOB_NAMES && p->queue[CORIO_JOB_NAMES].head)
            pthread_cond_signal(&p->cv);   /* a held-back lookup may start */
        if (finish(p, j)) {
            pthread_mutex_unlock(&p->mu);
            j->done(j, 1);
            pthread_mutex_lock(&p->mu);
        }
    }
    p->nthreads--;
    int last = --p->refs == 0;
    pthread_mutex_unlock(&p->mu);
    if (last)
        release(p);
    return NULL;
}

/* Start a thread (mutex held) with every signal blocked, so that signals
 * corio listens to through signalfd are never delivered to it. */
static int start_thread(corio_workers *p)
{
    pthread_attr_t attr;
    pthread_t th;
    sigset_t all, old;
    if (pthread_attr_init(&attr))
        return -ENOMEM;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&th, &attr, worker, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc)
        return -rc;
    p->nthreads++, p->refs++;
    return 0;
}

/* The loop side: take every finished job and call its done. */
static void deliver(corio_op *op, int res, const void *data, unsigned flags)
{
    (void)data, (void)res;
    corio_workers *p = corio_container_of(op, corio_workers, poll);
    uint64_t n;
    ssize_t rc = read(p->efd, &n, sizeof n);
    (void)rc;
    pthread_mutex_lock(&p->mu);
    corio_list done = p->finished;
    p->finished = (corio_list){0};
    pthread_mutex_unlock(&p->mu);
    for (corio_job *j; (j = job_of(done.head));) {
        corio_list_remove(&done, &j->link);
        j->state = J_IDLE;
        j->done(j, 0);
    }
    /* The POLL ended (an error, or a backend that re-arms by hand): arm
     * it again; if that fails, the next submit retries. */
    if (!(flags & CORIO_OPF_MORE) && p->loop->be->vt->submit(p->loop->be, &p->poll) < 0)
        p->armed = 0;
}

static int pool_open(corio_loop *l)
{
    corio_workers *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd < 0) {
        int err = -errno;
        free(p);
        return err;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->max = max_threads();
    p->refs = 1;
    p->loop = l;
    p->poll.kind = CORIO_OP_POLL;
    p->poll.fd = p->efd;
    p->poll.events = POLLIN | CORIO_POLL_MULTI;
    p->poll.cb = deliver;
    l->workers = p;
    return 0;
}

/* Arm the POLL that brings finished jobs back, if it is not. */
static int arm(corio_loop *l, corio_workers *p)
{
    if (p->armed)
        return 0;
    int rc = l->be->vt->submit(l->be, &p->poll);
    p->armed = rc == 0;
    return rc;
}

int corio_job_submit(corio_loop *l, corio_job *j)
{
    if (j->cls >= CORIO_JOB_CLASSES)
        return -EINVAL;
    int rc = l->workers ? 0 : pool_open(l);
    if (rc == 0)
        rc = arm(l, l->workers);
    if (rc < 0)
        return rc;
    corio_workers *p = l->workers;
    pthread_mutex_lock(&p->mu);
    if (p->nidle <= p->nqueued && p->nthreads < p->max &&
        (rc = start_thread(p)) < 0 && p->nthreads)
        rc = 0;   /* the running threads will get to it */
    if (rc == 0) {
        j->pool = p;
        j->state = J_QUEUED;
        corio_list_push(&p->queue[j->cls], &j->link);
        p->nqueued++;
        p->unsignalled++;
    }
    pthread_mutex_unlock(&p->mu);
    return rc == -ENOMEM ? rc : rc < 0 ? -EAGAIN : 0;
}

void corio_workers_flush(corio_loop *l)
{
    corio_workers *p = l->workers;
    if (!p || !p->unsignalled)
        return;
    pthread_mutex_lock(&p->mu);
    if (p->unsignalled >= p->nidle)
        pthread_cond_broadcast(&p->cv);
    else
        for (size_t i = 0; i < p->unsignalled; i++)
            pthread_cond_signal(&p->cv);
    p->unsignalled = 0;
    pthread_mutex_unlock(&p->mu);
}

void corio_job_cancel(corio_job *j)
{
    corio_workers *p = j->pool;
    pthread_mutex_lock(&p->mu);
    int now = 1;
    if (j->state == J_QUEUED) {
        corio_list_remove(&p->queue[j->cls], &j->link);
        p->nqueued--;
    } else if (j->state == J_FINISHED) {
        corio_list_remove(&p->finished, &j->link);
    } else if (j->state == J_RUNNING) {
        j->state = J_GIVEN_UP;
        now = 0;
    }
    pthread_mutex_unlock(&p->mu);
    if (now)
        j->done(j, 1);
}

void corio_workers_stats_get(corio_loop *l, corio_workers_stats *st)
{
    memset(st, 0, sizeof *st);
    corio_workers *p = l->workers;
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    st->threads = p->nthreads;
    st->queued = p->nqueued;
    st->running = p->nrunning;
    pthread_mutex_unlock(&p->mu);
}

void corio_workers_close(corio_loop *l)
{
    corio_workers *p = l->workers;
    if (!p)
        return;
    l->workers = NULL;
    corio_list gone = {0};
    pthread_mutex_lock(&p->mu);
    p->closed = 1;
    for (int c = 0; c < CORIO_JOB_CLASSES; c++)
        for (corio_job *j; (j = job_of(p->queue[c].head));) {
            corio_list_remove(&p->queue[c], &j->link);
            corio_list_push(&gone, &j->link);
        }
    p->nqueued = 0;
    for (corio_job *j; (j = job_of(p->finished.head));) {
        corio_list_remove(&p->finished, &j->link);
        corio_list_push(&gone, &j->link);
    }
    close(p->efd);
    p->efd = -1;
    pthread_cond_broadcast(&p->cv);
    int last = --p->refs == 0;
    pthread_mutex_unlock(&p->mu);
    for (corio_job *j; (j = job_of(gone.head));) {
        corio_list_remove(&gone, &j->link);
        j->done(j, 1);
    }
    if (last)
        release(p);
}
