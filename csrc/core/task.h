/* task.h: tasks as the core sees them (the scheduler). A task is ready (queued on its
 * loop), suspended in a wait, or finished; what running it means is the
 * loop's run callback (the Lua binding resumes a coroutine), so a C test
 * can drive tasks without Lua.
 *
 * A suspended task points at the record of its wait (corio_wait_ops):
 * how to interrupt it, whether it is pending I/O (a deadlock needs every
 * task blocked with no I/O and no timer), a name for reports. A new kind
 * of wait is one such record in the file that owns it.
 *
 * Interrupts: cancel() marks the task and interrupts its wait, whose
 * interrupt function withdraws it and wakes it; a deadline does the same
 * when its timer fires. The task then finds out, when it resumes, through
 * corio_task_resumed and corio_task_take_pending, and raises. A shielded
 * wait has no interrupt function: what is pending stays pending until the
 * next wait that has one. stop() is the cancel that cannot be ignored:
 * every later wait of the task fails at once (see CORIO_TF_STOPPED). */
#ifndef CORIO_TASK_H
#define CORIO_TASK_H
#include <stdint.h>
#include "loop.h"
#include "timer.h"
#include "waitq.h"

enum corio_task_status {
    CORIO_TASK_READY, CORIO_TASK_SUSPENDED,
    CORIO_TASK_DONE, CORIO_TASK_FAILED, CORIO_TASK_CANCELLED,   /* finished */
};

enum {
    CORIO_TF_STARTED = 1,      /* it has run at least once */
    CORIO_TF_INTERRUPTED = 2,  /* its wait was broken by a cancel or deadline */
    CORIO_TF_CANCEL = 4,       /* a cancel is pending */
    CORIO_TF_STOPPED = 8,      /* stopped: it may never wait again */
};

typedef struct corio_wait_ops {
    const char *what;          /* "read", "sleep", ... for reports */
    /* Withdraw t from what it waits on and wake it (now or at a later
     * callback). NULL: the wait cannot be interrupted (shielded). */
    void (*interrupt)(struct corio_loop *l, corio_task *t);
    uint8_t is_io;             /* woken by the reactor */
} corio_wait_ops;

struct corio_task {
    corio_task *next;                /* ready queue: non-NULL exactly while queued */
    const corio_wait_ops *wait;      /* NULL unless suspended */
    void *wait_obj;                  /* the wait's object, for its ops */
    struct corio_deadline *deadlines;   /* innermost first */
    uint8_t status;                  /* enum corio_task_status */
    uint8_t flags;                   /* CORIO_TF_* */
    uint8_t uflags;                  /* free for the owner's own flags */
};

/* A deadline on a task (corio.timeout): its timer interrupts the task's
 * wait. The owner provides the memory. */
typedef struct corio_deadline {
    corio_timer timer;
    corio_task *task;
    struct corio_deadline *next;     /* the enclosing deadline */
    uint8_t fired;                   /* its time has come */
    uint8_t popped;                  /* no longer on its task */
    uint8_t raised;                  /* it interrupted its task at least once */
} corio_deadline;

static inline int corio_task_queued(const corio_task *t) { return t->next != NULL; }
static inline int corio_task_done(const corio_task *t) { return t->status >= CORIO_TASK_DONE; }

/* A new task, queued to run: the loop counts it live until finish. */
void corio_task_start(corio_loop *l, corio_task *t);

/* The task finished (status one of the finished ones): its deadlines are
 * popped, it no longer counts as live. */
void corio_task_finish(corio_loop *l, corio_task *t, int status);

/* Suspend t in the wait described by ops (on obj). The caller then yields
 * back to the loop; whoever ends the wait calls corio_task_wake. (This and
 * the other per-wait functions below are inline: they run on every wait
 * and wake, and a call across files costs more than their bodies.) */
static inline void corio_task_suspend(corio_loop *l, corio_task *t, const corio_wait_ops *ops,
                                      void *obj)
{
    t->wait = ops;
    t->wait_obj = obj;
    t->status = CORIO_TASK_SUSPENDED;
    if (ops->is_io)
        l->nio++;
}

/* End t's wait and queue it to run; a no-op when it is not waiting. */
static inline void corio_task_wake(corio_loop *l, corio_task *t)
{
    if (!t->wait)
        return;
    if (t->wait->is_io)
        l->nio--;
    t->wait = NULL;
    t->status = CORIO_TASK_READY;
    corio_loop_ready(l, t);
}

/* Wake the task registered in *slot, if any, clearing the slot first (the
 * task may register again at once). */
static inline void corio_task_wake_slot(corio_loop *l, corio_task **slot)
{
    corio_task *t = *slot;
    if (t) {
        *slot = NULL;
        corio_task_wake(l, t);
    }
}

/* Take the first waiter of q out and wake its task; whether there was one. */
static inline int corio_task_wake_first(corio_loop *l, corio_waitq *q)
{
    corio_waiter *w = corio_waitq_pop(q);
    if (w)
        corio_task_wake(l, w->task);
    return w != NULL;
}

/* Queue t at the back of the ready queue without waiting on anything. */
static inline void corio_task_yield(corio_loop *l, corio_task *t)
{
    t->wait = NULL;
    t->status = CORIO_TASK_READY;
    corio_loop_ready(l, t);
}

/* Break t's wait (for a cancel or a deadline), once. */
void corio_task_interrupt(corio_loop *l, corio_task *t);

/* Cancel t: 0 if it had finished; 1 otherwise. A task that never ran is
 * marked cancelled and stays queued until the loop pops it (its run
 * callback must then finish it without running it). */
int corio_task_cancel(corio_loop *l, corio_task *t);

/* Cancel t for good: woken even from a shielded wait, and every later
 * wait fails at once (corio_task_take_pending reports a cancel). */
void corio_task_stop(corio_loop *l, corio_task *t);

/* Resumed after a wait: whether it was interrupted (flag cleared). */
static inline int corio_task_resumed(corio_task *t)
{
    int was = (t->flags & CORIO_TF_INTERRUPTED) != 0;
    t->flags &= (uint8_t)~CORIO_TF_INTERRUPTED;
    return was;
}

/* For the inline functions: the outermost fired deadline of t, or NULL;
 * take it (2, in *d, marked raised) or 0. */
corio_deadline *corio__task_deadline_fired(const corio_task *t);
int corio__task_deadline_pending(corio_task *t, corio_deadline **d);

/* What interrupts t now, consumed: 0 nothing; 1 a cancel (or t stopped);
 * 2 an expired deadline, the outermost one, in *d (marked raised). */
static inline int corio_task_take_pending(corio_task *t, corio_deadline **d)
{
    if (t->flags & (CORIO_TF_CANCEL | CORIO_TF_STOPPED)) {
        t->flags &= (uint8_t)~CORIO_TF_CANCEL;   /* a stopped task stays stopped */
        return 1;
    }
    if (t->deadlines)
        return corio__task_deadline_pending(t, d);
    return 0;
}

/* Whether take_pending would report something. */
static inline int corio_task_pending(const corio_task *t)
{
    return (t->flags & (CORIO_TF_CANCEL | CORIO_TF_STOPPED)) ||
           (t->deadlines && corio__task_deadline_fired(t));
}

/* The running task's fairness budget: immediate completions left before
 * it must yield (reset by the loop before each run). */
#define CORIO_BUDGET 128
static inline int corio_task_budget_spent(corio_loop *l)
{
    return --l->budget < 0;
}

/* Sleep: suspend t for ns (the timer record comes from the loop's
 * allocator and goes back when the sleep ends). 0 or -ENOMEM. */
int corio_task_sleep(corio_loop *l, corio_task *t, uint64_t ns);

/* Free the timer of a sleeping t (the loop is closing with t asleep). */
void corio_task_forget_sleep(corio_loop *l, corio_task *t);

/* Push d on t (zeroed by the caller): it fires after ns (at once for 0). */
void corio_deadline_push(corio_loop *l, corio_task *t, corio_deadline *d, uint64_t ns);

/* Take d off its task and disarm it (once); returns whether it fired. */
int corio_deadline_pop(corio_loop *l, corio_deadline *d);

/* The waits the scheduler itself provides. */
extern const corio_wait_ops corio_wait_sleep;   /* corio_task_sleep */
extern const corio_wait_ops corio_wait_park;    /* woken by its owner; interrupt wakes it */
extern const corio_wait_ops corio_wait_shield;  /* the same, deaf to interrupts */

#endif
