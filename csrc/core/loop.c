/* loop.c: the loop's phases. A turn is: run the ready tasks (reaping the
 * backend every few dozen resumes), wait for I/O bounded by the next timer,
 * fire due timers. The caller (binding) decides when to stop. */
#include <errno.h>
#include <stdlib.h>
#include "clock.h"
#include "task.h"
#include "workers.h"

int corio_loop_init(corio_loop *l, const char *force, char *why, size_t whylen)
{
    *l = (corio_loop){0};
    corio_wheel_init(&l->wheel, corio_clock_ms());
    return corio_backend_open(&l->be, force, why, whylen);
}

void corio_loop_close(corio_loop *l)
{
    if (l->be)
        l->be->vt->destroy(l->be);
    l->be = NULL;
    corio_workers_close(l);   /* after the backend: its POLL is gone */
    corio_link *n;
    while ((n = corio_list_pop(&l->handles)))
        ((corio_handle *)n)->release((corio_handle *)n);
    l->nclosing = 0;
    corio_alloc_flush(&l->alloc);
    corio_pool_drain(&l->wreqs);
}

void corio_loop_add_handle(corio_loop *l, corio_handle *h)
{
    corio_list_push(&l->handles, &h->link);
}

void corio_handle_close(corio_loop *l, corio_handle *h)
{
    (void)h;
    l->nclosing++;
}

int corio_handle_settled(corio_loop *l, corio_handle *h, int busy)
{
    if (busy)
        return 0;
    l->nclosing--;
    corio_list_remove(&l->handles, &h->link);
    h->release(h);
    return 1;
}

int corio_loop_settle(corio_loop *l, int64_t timeout_ns)
{
    uint64_t end = corio_clock_ns() + (uint64_t)timeout_ns;
    while (l->nclosing) {
        uint64_t now = corio_clock_ns();
        if (now >= end)
            return -ETIMEDOUT;
        int rc = l->be->vt->wait(l->be, (int64_t)(end - now));
        if (rc < 0)
            return rc;
    }
    return 0;
}

void corio_loop_ready(corio_loop *l, corio_task *t)
{
    if (corio_task_queued(t))
        return;
    t->next = (corio_task *)l;   /* end marker, never a task */
    if (l->rq_tail)
        l->rq_tail->next = t;
    else
        l->rq_head = t;
    l->rq_tail = t;
    l->nready++;
}

/* Pop the head of the ready queue. */
static corio_task *pop_ready(corio_loop *l)
{
    corio_task *t = l->rq_head;
    l->rq_head = t->next == (corio_task *)l ? NULL : t->next;
    if (!l->rq_head)
        l->rq_tail = NULL;
    t->next = NULL;
    l->nready--;
    return t;
}

void corio_loop_timer(corio_loop *l, corio_timer *t, uint64_t delay_ns)
{
    uint64_t now = corio_clock_ns();
    uint64_t at = (now + delay_ns + 999999u) / 1000000u;
    /* The wheel's clock only moves while timers are armed: bring an empty
     * one up to now, or the timer would be placed against a stale time
     * and cost the loop a wasted turn to cascade it down. */
    if (!l->wheel.count)
        corio_wheel_advance(&l->wheel, now / 1000000u);
    corio_wheel_add(&l->wheel, t, at);
}

/* Fire the timers that are due at the current clock. */
static void fire_timers(corio_loop *l)
{
    if (l->wheel.count)
        corio_wheel_advance(&l->wheel, corio_clock_ms());
}

size_t corio_loop_run_ready(corio_loop *l)
{
    size_t n = l->nready, ran = 0;
    while (ran < n && l->nready) {
        if (++l->since_reap >= CORIO_REAP_EVERY) {
            l->since_reap = 0;
            corio_workers_flush(l);
            l->be->vt->wait(l->be, 0);
            fire_timers(l);
        }
        l->run(l, pop_ready(l), l->run_ud);
        ran++;
    }
    return ran;
}

size_t corio_loop_trim(corio_loop *l)
{
    return l->be->vt->trim ? l->be->vt->trim(l->be) : 0;
}

int64_t corio_loop_next_timeout(corio_loop *l)
{
    if (l->nready)
        return 0;
    uint64_t next = corio_wheel_next(&l->wheel);
    if (next == UINT64_MAX)
        return -1;
    uint64_t at = next * 1000000u, now = corio_clock_ns();
    return at > now ? (int64_t)(at - now) : 0;
}

int corio_loop_poll(corio_loop *l, int64_t timeout_ns)
{
    int64_t t = corio_loop_next_timeout(l);
    if (t < 0 || (timeout_ns >= 0 && timeout_ns < t))
        t = timeout_ns;
    l->since_reap = 0;
    corio_workers_flush(l);
    int rc = l->be->vt->wait(l->be, t);
    fire_timers(l);
    return rc < 0 ? rc : 0;   /* backends report EINTR and timeouts as 0 */
}
