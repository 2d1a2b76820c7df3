/* task_test.c: the core scheduler (task.h) and the waiter queue (waitq.h)
 * driven from C, without Lua: tasks are C records whose "run" is a
 * callback that records the order and does what the test asks. */
#include <errno.h>
#include <string.h>
#include "check.h"
#include "clock.h"
#include "task.h"
#include "waitq.h"

typedef struct ctask {
    corio_task t;       /* first: the loop hands back &t */
    int id, runs;
} ctask;

static int order[64], norder;

/* The loop's run callback: count the run, log the order. */
static void run(corio_loop *l, corio_task *t, void *ud)
{
    ctask *c = (ctask *)t;
    (void)l, (void)ud;
    c->runs++;
    if (norder < 64)
        order[norder++] = c->id;
}

static void open_loop(corio_loop *l)
{
    char why[128];
    int rc = corio_loop_init(l, "epoll", why, sizeof why);
    CHECK(rc == 0, "corio_loop_init: %d %s", rc, why);
    l->run = run;
    norder = 0;
}

/* Poll until t is queued to run or ms pass; whether it was. */
static int poll_until_ready(corio_loop *l, corio_task *t, int ms)
{
    uint64_t end = corio_clock_ns() + (uint64_t)ms * 1000000u;
    while (!corio_task_queued(t) && corio_clock_ns() < end)
        corio_loop_poll(l, 5000000);
    return corio_task_queued(t);
}

static void test_fifo(void)
{
    corio_loop l;
    ctask a = {.id = 1}, b = {.id = 2}, c = {.id = 3};
    open_loop(&l);
    corio_task_start(&l, &a.t);
    corio_task_start(&l, &b.t);
    corio_task_start(&l, &c.t);
    a.id = 1, b.id = 2, c.id = 3;   /* (start zeroes the core part only) */
    CHECK(l.nlive == 3 && l.nready == 3, "nlive %zu nready %zu", l.nlive, l.nready);
    CHECK(corio_loop_run_ready(&l) == 3, "ran");
    CHECK(norder == 3 && order[0] == 1 && order[1] == 2 && order[2] == 3, "order");
    corio_task_finish(&l, &a.t, CORIO_TASK_DONE);
    CHECK(l.nlive == 2 && corio_task_done(&a.t), "finish");
    corio_task_finish(&l, &b.t, CORIO_TASK_DONE);
    corio_task_finish(&l, &c.t, CORIO_TASK_DONE);
    corio_loop_close(&l);
}

static void test_park_wake_interrupt(void)
{
    corio_loop l;
    ctask a = {0};
    open_loop(&l);
    corio_task_start(&l, &a.t);
    corio_loop_run_ready(&l);
    corio_task_suspend(&l, &a.t, &corio_wait_park, NULL);
    CHECK(a.t.status == CORIO_TASK_SUSPENDED && !corio_task_queued(&a.t), "parked");
    corio_task_wake(&l, &a.t);
    CHECK(corio_task_queued(&a.t) && a.t.status == CORIO_TASK_READY && !a.t.wait, "woken");
    corio_task_wake(&l, &a.t);   /* not waiting: a no-op */
    CHECK(l.nready == 1, "one entry");
    corio_loop_run_ready(&l);
    CHECK(!corio_task_resumed(&a.t), "not interrupted");
    corio_task_suspend(&l, &a.t, &corio_wait_park, NULL);
    corio_task_interrupt(&l, &a.t);
    CHECK(corio_task_queued(&a.t), "interrupt wakes a park");
    corio_loop_run_ready(&l);
    CHECK(corio_task_resumed(&a.t) && !corio_task_resumed(&a.t), "interrupted once");
    corio_deadline *d;
    CHECK(corio_task_take_pending(&a.t, &d) == 0, "nothing pending");
    corio_task_finish(&l, &a.t, CORIO_TASK_DONE);
    corio_loop_close(&l);
}

static void test_cancel(void)
{
    corio_loop l;
    ctask a = {0}, b = {0};
    open_loop(&l);
    corio_task_start(&l, &a.t);
    corio_task_start(&l, &b.t);
    CHECK(corio_task_cancel(&l, &b.t) == 1, "cancel before start");
    CHECK(b.t.status == CORIO_TASK_CANCELLED && corio_task_queued(&b.t), "stays queued");
    a.t.flags |= CORIO_TF_STARTED;
    corio_loop_run_ready(&l);
    corio_task_suspend(&l, &a.t, &corio_wait_park, NULL);
    CHECK(corio_task_cancel(&l, &a.t) == 1 && corio_task_queued(&a.t), "cancel wakes");
    CHECK(corio_task_pending(&a.t), "pending");
    corio_deadline *d;
    CHECK(corio_task_resumed(&a.t), "resumed interrupted");
    CHECK(corio_task_take_pending(&a.t, &d) == 1, "a cancel");
    CHECK(corio_task_take_pending(&a.t, &d) == 0, "consumed");
    corio_task_finish(&l, &a.t, CORIO_TASK_CANCELLED);
    CHECK(corio_task_cancel(&l, &a.t) == 0, "cancel after finish");
    corio_task_finish(&l, &b.t, CORIO_TASK_CANCELLED);
    CHECK(l.nlive == 0, "nlive %zu", l.nlive);
    corio_loop_close(&l);
}

static void test_shield_and_stop(void)
{
    corio_loop l;
    ctask a = {0};
    open_loop(&l);
    corio_task_start(&l, &a.t);
    a.t.flags |= CORIO_TF_STARTED;
    corio_loop_run_ready(&l);
    corio_task_suspend(&l, &a.t, &corio_wait_shield, NULL);
    corio_task_cancel(&l, &a.t);
    CHECK(!corio_task_queued(&a.t) && corio_task_pending(&a.t), "shielded: stays, pending");
    CHECK(corio_loop_deadlocked(&l), "a lone shielded task is a deadlock");
    corio_task_stop(&l, &a.t);
    CHECK(corio_task_queued(&a.t), "stop breaks a shielded wait");
    corio_loop_run_ready(&l);
    corio_deadline *d;
    CHECK(corio_task_take_pending(&a.t, &d) == 1, "stopped: a cancel");
    CHECK(corio_task_take_pending(&a.t, &d) == 1, "and again: it stays stopped");
    corio_task_finish(&l, &a.t, CORIO_TASK_CANCELLED);
    corio_loop_close(&l);
}

static void test_sleep(void)
{
    corio_loop l;
    ctask a = {0};
    open_loop(&l);
    corio_task_start(&l, &a.t);
    corio_loop_run_ready(&l);
    uint64_t t0 = corio_clock_ns();
    CHECK(corio_task_sleep(&l, &a.t, 20000000u) == 0, "sleep");
    CHECK(l.wheel.count == 1 && !corio_loop_deadlocked(&l), "a timer: no deadlock");
    CHECK(poll_until_ready(&l, &a.t, 1000), "woken");
    CHECK(corio_clock_ns() - t0 >= 20000000u, "not early: %llu ns",
          (unsigned long long)(corio_clock_ns() - t0));
    CHECK(l.wheel.count == 0, "timer gone");
    corio_loop_run_ready(&l);
    /* interrupted: timer freed at once */
    corio_task_sleep(&l, &a.t, 10000000000u);
    a.t.flags |= CORIO_TF_STARTED;
    corio_task_cancel(&l, &a.t);
    CHECK(corio_task_queued(&a.t) && l.wheel.count == 0, "cancelled sleep");
    corio_loop_run_ready(&l);
    corio_task_finish(&l, &a.t, CORIO_TASK_CANCELLED);
    corio_loop_close(&l);
}

static void test_deadlines(void)
{
    corio_loop l;
    ctask a = {0};
    corio_deadline outer = {0}, inner = {0}, zero = {0};
    corio_deadline *d;
    open_loop(&l);
    corio_task_start(&l, &a.t);
    corio_loop_run_ready(&l);
    corio_deadline_push(&l, &a.t, &outer, 10000000u);
    corio_deadline_push(&l, &a.t, &inner, 10000000000u);
    corio_task_suspend(&l, &a.t, &corio_wait_park, NULL);
    CHECK(poll_until_ready(&l, &a.t, 1000), "the deadline interrupts");
    corio_loop_run_ready(&l);
    CHECK(corio_task_resumed(&a.t), "interrupted");
    CHECK(corio_task_take_pending(&a.t, &d) == 2 && d == &outer, "the outer deadline");
    CHECK(outer.raised && !inner.fired, "raised");
    CHECK(corio_deadline_pop(&l, &inner) == 0, "inner did not fire");
    CHECK(corio_deadline_pop(&l, &outer) == 1, "outer fired");
    CHECK(corio_deadline_pop(&l, &outer) == 1 && !a.t.deadlines, "pop twice");
    CHECK(l.wheel.count == 0, "timers gone");
    corio_deadline_push(&l, &a.t, &zero, 0);
    CHECK(corio_task_pending(&a.t) && l.wheel.count == 0, "a zero deadline is expired");
    corio_task_finish(&l, &a.t, CORIO_TASK_DONE);
    CHECK(!a.t.deadlines && zero.popped, "finish pops deadlines");
    corio_loop_close(&l);
}

static void io_interrupt(corio_loop *l, corio_task *t)
{
    corio_task_wake(l, t);
}

static const corio_wait_ops io_wait = { "io", io_interrupt, 1 };

static void test_io_and_budget(void)
{
    corio_loop l;
    ctask a = {0};
    corio_task *slot = NULL;
    open_loop(&l);
    corio_task_start(&l, &a.t);
    corio_loop_run_ready(&l);
    corio_task_suspend(&l, &a.t, &io_wait, NULL);
    slot = &a.t;
    CHECK(l.nio == 1 && !corio_loop_deadlocked(&l), "an I/O wait is no deadlock");
    corio_task_wake_slot(&l, &slot);
    CHECK(!slot && l.nio == 0 && corio_task_queued(&a.t), "woken from its slot");
    corio_task_wake_slot(&l, &slot);   /* empty slot: nothing */
    l.budget = 2;
    CHECK(!corio_task_budget_spent(&l) && !corio_task_budget_spent(&l), "budget");
    CHECK(corio_task_budget_spent(&l), "spent");
    corio_loop_run_ready(&l);
    corio_task_finish(&l, &a.t, CORIO_TASK_DONE);
    corio_loop_close(&l);
}

static void test_waitq(void)
{
    corio_waitq q = {0};
    corio_waiter w[4];
    memset(w, 0, sizeof w);
    corio_waitq_push(&q, &w[0]);
    corio_waitq_push(&q, &w[1]);
    corio_waitq_push_front(&q, &w[2]);
    corio_waitq_push(&q, &w[3]);
    CHECK(q.n == 4, "n %zu", q.n);
    CHECK(corio_waitq_remove(&w[1]) && !corio_waitq_remove(&w[1]), "remove once");
    CHECK(corio_waitq_pop(&q) == &w[2], "front first");
    CHECK(corio_waitq_pop(&q) == &w[0], "then in order");
    CHECK(corio_waitq_remove(&w[3]) && !corio_waitq_first(&q) && !q.list.tail && q.n == 0, "empty");
    CHECK(corio_waitq_pop(&q) == NULL, "pop empty");
}

int main(void)
{
    test_fifo();
    test_park_wake_interrupt();
    test_cancel();
    test_shield_and_stop();
    test_sleep();
    test_deadlines();
    test_io_and_budget();
    test_waitq();
    return check_report();
}
