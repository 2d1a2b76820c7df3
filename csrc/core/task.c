/* task.c: the scheduler: task states, waits, interrupts, deadlines, sleep and the
 * fairness budget (task.h). */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include "task.h"

void corio_task_start(corio_loop *l, corio_task *t)
{
    memset(t, 0, sizeof *t);
    l->nlive++;
    corio_loop_ready(l, t);
}

void corio_task_finish(corio_loop *l, corio_task *t, int status)
{
    t->status = (uint8_t)status;
    while (t->deadlines)          /* none may fire on a finished task */
        corio_deadline_pop(l, t->deadlines);
    l->nlive--;
}




void corio_task_interrupt(corio_loop *l, corio_task *t)
{
    if (!t->wait || !t->wait->interrupt || (t->flags & CORIO_TF_INTERRUPTED))
        return;
    t->flags |= CORIO_TF_INTERRUPTED;
    t->wait->interrupt(l, t);
}

int corio_task_cancel(corio_loop *l, corio_task *t)
{
    if (corio_task_done(t))
        return 0;
    if (!(t->flags & CORIO_TF_STARTED)) {
        /* It never runs: it stays queued (its owner keeps it alive) until
         * the loop pops it, so the ready queue never holds a freed task. */
        t->status = CORIO_TASK_CANCELLED;
        return 1;
    }
    t->flags |= CORIO_TF_CANCEL;
    corio_task_interrupt(l, t);
    return 1;
}

void corio_task_stop(corio_loop *l, corio_task *t)
{
    if (corio_task_done(t))
        return;
    t->flags |= CORIO_TF_STOPPED;
    if (!corio_task_cancel(l, t) || !t->wait || t->wait->interrupt ||
        (t->flags & CORIO_TF_INTERRUPTED))
        return;
    t->flags |= CORIO_TF_INTERRUPTED;   /* a shielded wait: break it anyway */
    corio_task_wake(l, t);
}


corio_deadline *corio__task_deadline_fired(const corio_task *t)
{
    corio_deadline *hit = NULL;
    for (corio_deadline *d = t->deadlines; d; d = d->next)
        if (d->fired)
            hit = d;
    return hit;
}

int corio__task_deadline_pending(corio_task *t, corio_deadline **d)
{
    if (!(*d = corio__task_deadline_fired(t)))
        return 0;
    (*d)->raised = 1;
    return 2;
}


/* ---- sleep ---- */

typedef struct sleep_rec {
    corio_timer tm;
    corio_task *task;
} sleep_rec;

/* The loop whose wheel fired a timer. */
static corio_loop *wheel_loop(corio_wheel *w)
{
    return (corio_loop *)((char *)w - offsetof(corio_loop, wheel));
}

void corio_task_forget_sleep(corio_loop *l, corio_task *t)
{
    sleep_rec *s = t->wait == &corio_wait_sleep ? t->wait_obj : NULL;
    if (s) {
        t->wait_obj = NULL;
        corio_wheel_del(&l->wheel, &s->tm);
        corio_loop_mem(l, s, sizeof *s, 0);
    }
}

static void sleep_fire(corio_wheel *w, corio_timer *tm)
{
    sleep_rec *s = (sleep_rec *)tm;
    corio_loop *l = wheel_loop(w);
    corio_task *t = s->task;
    corio_task_forget_sleep(l, t);
    corio_task_wake(l, t);
}

static void sleep_interrupt(corio_loop *l, corio_task *t)
{
    corio_task_forget_sleep(l, t);
    corio_task_wake(l, t);
}

const corio_wait_ops corio_wait_sleep = { "sleep", sleep_interrupt, 0 };

int corio_task_sleep(corio_loop *l, corio_task *t, uint64_t ns)
{
    sleep_rec *s = corio_loop_mem(l, NULL, 0, sizeof *s);
    if (!s)
        return -ENOMEM;
    memset(s, 0, sizeof *s);
    s->tm.cb = sleep_fire;
    s->task = t;
    corio_loop_timer(l, &s->tm, ns);
    corio_task_suspend(l, t, &corio_wait_sleep, s);
    return 0;
}

/* ---- parking ---- */

const corio_wait_ops corio_wait_park = { "wait", corio_task_wake, 0 };
const corio_wait_ops corio_wait_shield = { "shielded wait", NULL, 0 };

/* ---- deadlines ---- */

static void deadline_fire(corio_wheel *w, corio_timer *tm)
{
    corio_deadline *d = (corio_deadline *)tm;
    d->fired = 1;
    corio_task_interrupt(wheel_loop(w), d->task);
}

void corio_deadline_push(corio_loop *l, corio_task *t, corio_deadline *d, uint64_t ns)
{
    d->task = t;
    d->timer.cb = deadline_fire;
    d->next = t->deadlines;
    t->deadlines = d;
    if (ns == 0)
        d->fired = 1;
    else
        corio_loop_timer(l, &d->timer, ns);
}

int corio_deadline_pop(corio_loop *l, corio_deadline *d)
{
    if (d->popped)
        return d->fired;
    d->popped = 1;
    corio_deadline **p = &d->task->deadlines;
    while (*p && *p != d)
        p = &(*p)->next;
    if (*p)
        *p = d->next;
    corio_wheel_del(&l->wheel, &d->timer);
    return d->fired;
}
