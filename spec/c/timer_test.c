/* timer_test.c: unit tests of the timing wheel (csrc/core/timer.c).
 *
 * Build and run:
 *   gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Icsrc/core \
 *       spec/c/timer_test.c csrc/core/timer.c -o /tmp/timer_test && /tmp/timer_test
 * Prints one line per failing check, then "N passed, M failed"; exits 1 on
 * any failure. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "timer.h"
#include "check.h"

#define LVL(k) ((uint64_t)1 << (6 * (k)))   /* span of a level-k slot */

/* A test timer: the wheel's timer plus what the test wants to know. */
typedef struct tt {
    corio_timer t;
    corio_wheel *w;
    int id;
    int fires;
    uint64_t fired_at;
    void (*then)(struct tt *self);   /* extra work done when fired */
    struct tt *other;                /* target of that work */
    uint64_t arg;
} tt;

/* Every fire in arrival order, for ordering checks. */
static struct { int id; uint64_t tick; } fire_log[4096];
static size_t fire_n;

/* Common callback: note the tick (the wheel's now) and run the extra. */
static void on_fire(corio_wheel *w_, corio_timer *t)
{
    (void)w_;
    tt *x = (tt *)((char *)t - offsetof(tt, t));
    x->fires++;
    x->fired_at = x->w->now;
    if (fire_n < sizeof fire_log / sizeof fire_log[0])
        fire_log[fire_n++] = (typeof(fire_log[0])){ x->id, x->w->now };
    if (x->then)
        x->then(x);
}

/* Set up x as an unarmed timer of wheel w. */
static void tt_init(tt *x, corio_wheel *w, int id)
{
    memset(x, 0, sizeof *x);
    x->t.cb = on_fire;
    x->w = w;
    x->id = id;
}

/* True when no level has an occupied bit or a slot head. */
static int wheel_empty(const corio_wheel *w)
{
    for (int l = 0; l < CORIO_WHEEL_LEVELS; l++) {
        if (w->occupied[l])
            return 0;
        for (int s = 0; s < CORIO_WHEEL_SLOTS; s++)
            if (w->slots[l][s])
                return 0;
    }
    return w->count == 0;
}

/* An empty wheel: nothing next, nothing fires, time still moves. */
static void test_empty(void)
{
    corio_wheel w;
    corio_wheel_init(&w, 500);
    CHECK(corio_wheel_next(&w) == UINT64_MAX, "next=%" PRIu64, corio_wheel_next(&w));
    CHECK(corio_wheel_advance(&w, 100000) == 0, "fired on empty wheel");
    CHECK(w.now == 100000, "now=%" PRIu64, w.now);
    CHECK(corio_wheel_advance(&w, UINT64_MAX) == 0, "fired at max");
    CHECK(wheel_empty(&w), "not empty");
}

/* One deadline start+d fires exactly at its tick, not one tick before,
 * when reached in one step, in two steps, or by following next(). */
static void boundary_one(uint64_t start, uint64_t d)
{
    corio_wheel w;
    tt x;
    uint64_t at = start + d;
    corio_wheel_init(&w, start);
    tt_init(&x, &w, 1);
    corio_wheel_add(&w, &x.t, at);
    CHECK(corio_wheel_next(&w) <= at, "start %" PRIu64 " d %" PRIu64 " next %" PRIu64,
          start, d, corio_wheel_next(&w));
    corio_wheel_advance(&w, start + d / 2);
    CHECK(x.fires == 0, "start %" PRIu64 " d %" PRIu64 ": fired at half", start, d);
    CHECK(corio_wheel_next(&w) <= at, "start %" PRIu64 " d %" PRIu64 ": next after half",
          start, d);
    CHECK(corio_wheel_advance(&w, at - 1) == 0 && x.fires == 0,
          "start %" PRIu64 " d %" PRIu64 ": fired one tick early at %" PRIu64,
          start, d, x.fired_at);
    CHECK(corio_wheel_next(&w) == at, "start %" PRIu64 " d %" PRIu64
          ": next %" PRIu64 " one tick before", start, d, corio_wheel_next(&w));
    CHECK(corio_wheel_advance(&w, at) == 1 && x.fires == 1 && x.fired_at == at,
          "start %" PRIu64 " d %" PRIu64 ": fires=%d at %" PRIu64,
          start, d, x.fires, x.fired_at);
    CHECK(wheel_empty(&w) && !x.t.armed, "start %" PRIu64 " d %" PRIu64 ": left armed",
          start, d);
}

/* Same deadline reached only through next(): each step is a lower bound
 * and the last one is exactly the deadline. */
static void boundary_steps(uint64_t start, uint64_t d)
{
    corio_wheel w;
    tt x;
    uint64_t at = start + d, n = 0;
    int steps = 0;
    corio_wheel_init(&w, start);
    tt_init(&x, &w, 1);
    corio_wheel_add(&w, &x.t, at);
    while (!x.fires && steps++ < 100000) {
        n = corio_wheel_next(&w);
        if (n > at)
            break;
        corio_wheel_advance(&w, n);
    }
    CHECK(x.fires == 1 && x.fired_at == at && n == at,
          "start %" PRIu64 " d %" PRIu64 ": fires=%d at %" PRIu64 " next %" PRIu64,
          start, d, x.fires, x.fired_at, n);
}

/* Deadlines on both sides of every level boundary, and past the range,
 * from several starting ticks (aligned, odd, near a top-level wrap). */
static void test_boundaries(void)
{
    static const uint64_t starts[] = {
        0, 1, 37, 63, LVL(3) - 5, LVL(6) - 3, 5 * LVL(6) + 7 * LVL(5) + 11,
        123456789, 63 * LVL(5) + 1,
    };
    uint64_t ds[64];
    size_t nd = 0;
    for (int k = 1; k <= CORIO_WHEEL_LEVELS; k++) {
        ds[nd++] = LVL(k) - 1;
        ds[nd++] = LVL(k);
        ds[nd++] = LVL(k) + 1;
    }
    static const uint64_t more[] = {
        1, 2, 3 * LVL(6) + 7, LVL(6) * 64 + 5, (uint64_t)1 << 42,
        63 * LVL(5), 63 * LVL(5) + LVL(5) - 1,
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        ds[nd++] = more[i];
    for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++)
        for (size_t i = 0; i < nd; i++) {
            boundary_one(starts[s], ds[i]);
            boundary_steps(starts[s], ds[i]);
        }
}

/* Insertion in scrambled order; one advance fires them by tick. */
static void test_order(void)
{
    enum { N = 600 };
    static tt x[N];
    corio_wheel w;
    corio_wheel_init(&w, 0);
    fire_n = 0;
    for (int i = 0; i < N; i++) {
        int j = (i * 389) % N;            /* 389 is prime to 600 */
        tt_init(&x[j], &w, j);
        corio_wheel_add(&w, &x[j].t, (uint64_t)j * j * 37 / 3 + 1);
    }
    CHECK(w.count == N, "count %zu", w.count);
    CHECK(corio_wheel_advance(&w, UINT64_MAX / 2) == N, "not all fired");
    CHECK(fire_n == N, "fire log %zu", fire_n);
    for (size_t i = 0; i < fire_n; i++) {
        int j = fire_log[i].id;
        CHECK(fire_log[i].tick == (uint64_t)j * j * 37 / 3 + 1, "id %d at %" PRIu64, j,
              fire_log[i].tick);
        if (i)
            CHECK(fire_log[i - 1].tick <= fire_log[i].tick, "out of order at %zu", i);
    }
    CHECK(wheel_empty(&w), "not empty");
}

/* Several timers on one tick all fire on that tick. */
static void test_same_tick(void)
{
    enum { N = 50 };
    tt x[N];
    corio_wheel w;
    corio_wheel_init(&w, 10);
    for (int i = 0; i < N; i++) {
        tt_init(&x[i], &w, i);
        corio_wheel_add(&w, &x[i].t, 10 + 5000);
    }
    CHECK(corio_wheel_advance(&w, 5009) == 0, "early");
    CHECK(corio_wheel_advance(&w, 5010) == N, "not all fired");
    for (int i = 0; i < N; i++)
        CHECK(x[i].fires == 1 && x[i].fired_at == 5010, "timer %d", i);
}

/* del of armed timers at each level disarms; del of unarmed is a no-op. */
static void test_del(void)
{
    corio_wheel w;
    tt x[8], idle;
    corio_wheel_init(&w, 1000);
    tt_init(&idle, &w, 99);
    corio_wheel_del(&w, &idle.t);
    CHECK(w.count == 0 && !idle.t.armed, "del of never-armed");
    for (int i = 0; i < 8; i++) {
        tt_init(&x[i], &w, i);
        corio_wheel_add(&w, &x[i].t, 1000 + LVL(i < 6 ? i : 5) * 3 + (uint64_t)i);
    }
    CHECK(w.count == 8, "count %zu", w.count);
    for (int i = 0; i < 8; i += 2)
        corio_wheel_del(&w, &x[i].t);
    corio_wheel_del(&w, &x[0].t);
    CHECK(w.count == 4, "count after del %zu", w.count);
    corio_wheel_advance(&w, UINT64_MAX / 2);
    for (int i = 0; i < 8; i++)
        CHECK(x[i].fires == (i & 1), "timer %d fires %d", i, x[i].fires);
    corio_wheel_del(&w, &x[1].t);
    CHECK(wheel_empty(&w), "not empty after del of fired");
}

/* Deleting every timer clears every bitmap, so next() says empty. */
static void test_del_all(void)
{
    enum { N = 300 };
    tt x[N];
    corio_wheel w;
    corio_wheel_init(&w, 77);
    for (int i = 0; i < N; i++) {
        tt_init(&x[i], &w, i);
        corio_wheel_add(&w, &x[i].t, 77 + ((uint64_t)1 << (i % 45)) + (uint64_t)i);
    }
    for (int i = N - 1; i >= 0; i -= 2)
        corio_wheel_del(&w, &x[i].t);
    for (int i = 0; i < N; i += 2)
        corio_wheel_del(&w, &x[i].t);
    CHECK(wheel_empty(&w), "bitmaps or heads left");
    CHECK(corio_wheel_next(&w) == UINT64_MAX, "next not empty");
}

/* Re-adding moves a timer (earlier or later) and never duplicates it. */
static void test_readd(void)
{
    corio_wheel w;
    tt x;
    corio_wheel_init(&w, 0);
    tt_init(&x, &w, 1);
    corio_wheel_add(&w, &x.t, 100000);
    corio_wheel_add(&w, &x.t, 50);
    CHECK(w.count == 1, "count %zu", w.count);
    CHECK(corio_wheel_next(&w) == 50, "next %" PRIu64, corio_wheel_next(&w));
    CHECK(corio_wheel_advance(&w, 50) == 1 && x.fired_at == 50, "moved earlier");
    corio_wheel_add(&w, &x.t, 70);
    corio_wheel_add(&w, &x.t, 5000);
    CHECK(corio_wheel_advance(&w, 4999) == 0, "fired at old deadline");
    CHECK(corio_wheel_advance(&w, 1000000) == 1 && x.fired_at == 5000, "moved later");
    CHECK(x.fires == 2 && wheel_empty(&w), "fires %d", x.fires);
}

/* A deadline at or before now fires on the next advance, at now. */
static void test_past(void)
{
    corio_wheel w;
    tt a, b, c;
    corio_wheel_init(&w, 100000);
    tt_init(&a, &w, 1);
    tt_init(&b, &w, 2);
    tt_init(&c, &w, 3);
    corio_wheel_add(&w, &a.t, 10);
    corio_wheel_add(&w, &b.t, 100000);
    corio_wheel_add(&w, &c.t, 0);
    CHECK(corio_wheel_next(&w) == 100000, "next %" PRIu64, corio_wheel_next(&w));
    CHECK(corio_wheel_advance(&w, 100000) == 3, "past not fired on advance(now)");
    CHECK(a.fired_at == 100000 && b.fired_at == 100000 && c.fired_at == 100000, "tick");
    corio_wheel_add(&w, &a.t, 5);
    CHECK(corio_wheel_advance(&w, 50) == 1 && w.now == 100000,
          "backwards advance: now %" PRIu64, w.now);
    CHECK(wheel_empty(&w), "not empty");
}

/* then-hook: re-arm self arg ms later, at most 9 more times. */
static void rearm_self(tt *x)
{
    if (x->fires < 10)
        corio_wheel_add(x->w, &x->t, x->w->now + x->arg);
}

/* then-hook: arm other at absolute tick arg. */
static void add_other(tt *x)
{
    corio_wheel_add(x->w, &x->other->t, x->arg);
}

/* then-hook: disarm other. */
static void del_other(tt *x)
{
    corio_wheel_del(x->w, &x->other->t);
}

/* then-hook: arm self, then disarm self again. */
static void add_del_self(tt *x)
{
    corio_wheel_del(x->w, &x->t);
    corio_wheel_add(x->w, &x->t, x->w->now + 1);
    corio_wheel_del(x->w, &x->t);
}

/* A periodic timer re-arming itself fires every period in one advance. */
static void test_cb_periodic(void)
{
    corio_wheel w;
    tt x;
    corio_wheel_init(&w, 0);
    tt_init(&x, &w, 1);
    x.then = rearm_self;
    x.arg = 70;
    fire_n = 0;
    corio_wheel_add(&w, &x.t, 70);
    CHECK(corio_wheel_advance(&w, 700) == 10, "fired %d", x.fires);
    for (size_t i = 0; i < fire_n; i++)
        CHECK(fire_log[i].tick == 70 * (i + 1), "fire %zu at %" PRIu64, i, fire_log[i].tick);
    CHECK(wheel_empty(&w), "not empty");
}

/* A callback arms another timer in the past, now, and later within the
 * advance: all fire in the same call at their own ticks. */
static void test_cb_add(void)
{
    static const uint64_t when[] = { 3, 200, 201, 5000, 300000 };
    for (size_t i = 0; i < sizeof when / sizeof when[0]; i++) {
        corio_wheel w;
        tt a, b;
        corio_wheel_init(&w, 0);
        tt_init(&a, &w, 1);
        tt_init(&b, &w, 2);
        a.then = add_other, a.other = &b, a.arg = when[i];
        corio_wheel_add(&w, &a.t, 200);
        uint64_t want = when[i] > 200 ? when[i] : 200;
        CHECK(corio_wheel_advance(&w, 300000) == 2, "when %" PRIu64 ": b not fired", when[i]);
        CHECK(b.fires == 1 && b.fired_at == want, "when %" PRIu64 ": b at %" PRIu64,
              when[i], b.fired_at);
    }
}

/* A callback deletes a timer due on the same tick or later: it never fires. */
static void test_cb_del(void)
{
    static const uint64_t when[] = { 200, 201, 263, 264, 100000 };
    for (size_t i = 0; i < sizeof when / sizeof when[0]; i++) {
        corio_wheel w;
        tt a, b;
        corio_wheel_init(&w, 0);
        tt_init(&a, &w, 1);
        tt_init(&b, &w, 2);
        a.then = del_other, a.other = &b;
        b.then = del_other, b.other = &a;
        corio_wheel_add(&w, &a.t, 200);
        corio_wheel_add(&w, &b.t, when[i]);
        CHECK(corio_wheel_advance(&w, 200000) == 1, "when %" PRIu64, when[i]);
        CHECK(a.fires + b.fires == 1, "when %" PRIu64 ": a %d b %d", when[i], a.fires,
              b.fires);
        CHECK(wheel_empty(&w), "when %" PRIu64 ": not empty", when[i]);
    }
}

/* A callback adding and deleting itself leaves it disarmed. */
static void test_cb_self(void)
{
    corio_wheel w;
    tt x;
    corio_wheel_init(&w, 0);
    tt_init(&x, &w, 1);
    x.then = add_del_self;
    corio_wheel_add(&w, &x.t, 4096);
    CHECK(corio_wheel_advance(&w, 1000000) == 1 && x.fires == 1, "fires %d", x.fires);
    CHECK(!x.t.armed && wheel_empty(&w), "left armed");
}

/* Jumps of hours and years over a nearly empty wheel fire at exact ticks. */
static void test_big_jump(void)
{
    static const uint64_t when[] = { 1, 5000, 36000000, 36000001, 7 * LVL(6) + 3 };
    tt x[5];
    corio_wheel w;
    corio_wheel_init(&w, 42);
    for (int i = 0; i < 5; i++) {
        tt_init(&x[i], &w, i);
        corio_wheel_add(&w, &x[i].t, 42 + when[i]);
    }
    CHECK(corio_wheel_advance(&w, 42 + 36000000) == 3, "10 h jump");
    CHECK(corio_wheel_advance(&w, 42 + 7 * LVL(6) + 2) == 1, "years jump");
    CHECK(corio_wheel_advance(&w, 42 + 7 * LVL(6) + 3) == 1, "last one");
    for (int i = 0; i < 5; i++)
        CHECK(x[i].fired_at == 42 + when[i], "timer %d at %" PRIu64, i, x[i].fired_at);
    CHECK(corio_wheel_advance(&w, w.now + 100 * LVL(6)) == 0 && wheel_empty(&w), "empty");
}

/* ---- randomized comparison against a reference model ---- */

enum { RN = 512 };
static tt rx[RN];
static corio_wheel rw;
static struct { int armed; uint64_t due; } model[RN];
static size_t model_count;
static uint64_t rng_state = 0x9E3779B97F4A7C15u, last_tick, target;
static int in_advance;

/* xorshift64*: deterministic so failures reproduce. */
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717u;
}

/* A deadline relative to now, from a mix of scales (some in the past). */
static uint64_t rnd_when(void)
{
    uint64_t now = rw.now;
    switch (rnd() % 8) {
    case 0: return now - rnd() % (now < 100 ? now + 1 : 100);
    case 1: return now + rnd() % 70;
    case 2: return now + rnd() % 5000;
    case 3: return now + rnd() % 300000;
    case 4: return now + rnd() % (1u << 26);
    case 5: return now + rnd() % (LVL(6) + 10000);
    case 6: return now + rnd() % (5 * LVL(6));
    default: return now + LVL(rnd() % 6 + 1) + rnd() % 3 - 1;
    }
}

/* Arm timer i in the wheel and in the model (due: the tick it must fire). */
static void r_add(int i, uint64_t when)
{
    if (!model[i].armed)
        model_count++;
    model[i].armed = 1;
    model[i].due = when > rw.now ? when : rw.now;
    corio_wheel_add(&rw, &rx[i].t, when);
}

/* Disarm timer i in the wheel and in the model. */
static void r_del(int i)
{
    if (model[i].armed)
        model_count--;
    model[i].armed = 0;
    corio_wheel_del(&rw, &rx[i].t);
}

/* then-hook of every random timer: check the fire against the model,
 * then sometimes re-arm itself or touch another timer. */
static void r_fired(tt *x)
{
    int i = x->id;
    uint64_t tick = rw.now;
    CHECK(in_advance && model[i].armed && model[i].due == tick && tick >= last_tick
              && tick <= target,
          "timer %d fired at %" PRIu64 " armed %d due %" PRIu64 " last %" PRIu64, i, tick,
          model[i].armed, model[i].due, last_tick);
    last_tick = tick;
    if (model[i].armed)
        model_count--;
    model[i].armed = 0;
    uint64_t r = rnd() % 10;
    if (r == 0)
        r_add(i, tick + rnd() % 300);
    else if (r == 1)
        r_add((int)(rnd() % RN), rnd_when());
    else if (r == 2)
        r_del((int)(rnd() % RN));
}

/* After an advance: nothing due is still armed, counts agree, and next()
 * is at or after now and never after the earliest due tick. */
static void r_verify(void)
{
    uint64_t min_due = UINT64_MAX;
    for (int i = 0; i < RN; i++) {
        if (model[i].armed != rx[i].t.armed)
            CHECK(0, "timer %d armed %d model %d", i, rx[i].t.armed, model[i].armed);
        if (model[i].armed && model[i].due < min_due)
            min_due = model[i].due;
    }
    CHECK(min_due > target, "missed a timer due at %" PRIu64 " (target %" PRIu64 ")",
          min_due, target);
    CHECK(rw.count == model_count, "count %zu model %zu", rw.count, model_count);
    uint64_t n = corio_wheel_next(&rw);
    CHECK(n <= min_due && (model_count == 0 || n >= rw.now),
          "next %" PRIu64 " min due %" PRIu64 " now %" PRIu64, n, min_due, rw.now);
}

/* A random forward step: mostly small, sometimes to next(), sometimes huge. */
static uint64_t rnd_step(void)
{
    uint64_t n = corio_wheel_next(&rw);
    switch (rnd() % 6) {
    case 0: return rw.now;
    case 1: return n != UINT64_MAX ? n : rw.now + 1;
    case 2: return rw.now + rnd() % 64;
    case 3: return rw.now + rnd() % 10000;
    case 4: return rw.now + rnd() % (1u << 30);
    default: return rw.now + rnd() % 500;
    }
}

/* Advance to a random target, checking that next()-1 is quiet first. */
static void r_advance(void)
{
    uint64_t n = corio_wheel_next(&rw);
    if (n != UINT64_MAX && n > rw.now) {
        target = n - 1;
        in_advance = 1;
        CHECK(corio_wheel_advance(&rw, n - 1) == 0, "fired before next() %" PRIu64, n);
        in_advance = 0;
    }
    target = rnd_step();
    last_tick = rw.now;
    in_advance = 1;
    corio_wheel_advance(&rw, target);
    in_advance = 0;
    r_verify();
}

/* 100k random adds, dels, re-adds and advances, callbacks included. */
static void test_random(void)
{
    int before = failed;
    corio_wheel_init(&rw, 1000);
    for (int i = 0; i < RN; i++) {
        tt_init(&rx[i], &rw, i);
        rx[i].then = r_fired;
    }
    for (int op = 0; op < 100000 && failed - before < 20; op++) {
        uint64_t r = rnd() % 10;
        if (r < 5)
            r_add((int)(rnd() % RN), rnd_when());
        else if (r < 7)
            r_del((int)(rnd() % RN));
        else
            r_advance();
    }
    for (int i = 0; i < RN; i++)
        r_del(i);
    CHECK(wheel_empty(&rw), "not empty after deleting all");
}

int main(void)
{
    test_empty();
    test_boundaries();
    test_order();
    test_same_tick();
    test_del();
    test_del_all();
    test_readd();
    test_past();
    test_cb_periodic();
    test_cb_add();
    test_cb_del();
    test_cb_self();
    test_big_jump();
    test_random();
    return check_report();
}
