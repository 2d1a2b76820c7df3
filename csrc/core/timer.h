/* timer.h: hierarchical timing wheel (Tokio-style), 1 ms ticks.
 *
 * CORIO_WHEEL_LEVELS levels of 64 slots each: level k covers deadlines up
 * to 64^(k+1) ms ahead; a slot of level k spans 64^k ms. Insert and cancel
 * are O(1) (intrusive doubly linked slot lists plus a bitmap of occupied
 * slots per level); advancing cascades a higher-level slot down when its
 * span starts. Deadlines farther than the wheel's range are clamped to the
 * last slot of the top level and re-cascaded until they are due.
 * No allocation: the caller owns every corio_timer. */
#ifndef CORIO_TIMER_H
#define CORIO_TIMER_H
#include <stddef.h>
#include <stdint.h>

#define CORIO_WHEEL_LEVELS 6   /* 64^6 ms ~ 2.2 years */
#define CORIO_WHEEL_SLOTS  64

typedef struct corio_timer corio_timer;
typedef struct corio_wheel corio_wheel;
/* Called with the wheel that fired t (owners that embed the wheel find
 * themselves from it, so a timer needs no back-pointer). */
typedef void (*corio_timer_cb)(corio_wheel *w, corio_timer *t);

struct corio_timer {
    corio_timer *next, *prev;  /* slot list links (wheel-private) */
    uint64_t expires;          /* absolute tick (ms) it fires at */
    corio_timer_cb cb;         /* called from corio_wheel_advance */
    uint8_t level, slot;       /* where it sits (wheel-private) */
    uint8_t armed;             /* 1 while in the wheel */
};

struct corio_wheel {
    uint64_t now;                                   /* last tick advanced to */
    uint64_t occupied[CORIO_WHEEL_LEVELS];          /* bit s set: slot s non-empty */
    corio_timer *slots[CORIO_WHEEL_LEVELS][CORIO_WHEEL_SLOTS];
    size_t count;                                   /* armed timers */
};

/* Start an empty wheel at tick now_ms. */
void corio_wheel_init(corio_wheel *w, uint64_t now_ms);

/* Arm t (with t->cb set) to fire at tick expires_ms. A deadline at or before
 * the wheel's now fires on the next corio_wheel_advance. Re-arming an armed
 * timer moves it. */
void corio_wheel_add(corio_wheel *w, corio_timer *t, uint64_t expires_ms);

/* Disarm t; a no-op when t is not armed. Safe from inside a callback. */
void corio_wheel_del(corio_wheel *w, corio_timer *t);

/* The earliest tick at which corio_wheel_advance may fire or cascade
 * something: exact for level 0, the slot's start for higher levels (a
 * lower bound). UINT64_MAX when the wheel is empty. */
uint64_t corio_wheel_next(const corio_wheel *w);

/* Move time forward to now_ms and call the callback of every timer whose
 * deadline is <= now_ms, earliest slots first. A callback may add or
 * delete timers (also itself, and it may free its own timer); a timer added with a deadline <= now_ms
 * from a callback fires in the same call. Returns the number fired. */
size_t corio_wheel_advance(corio_wheel *w, uint64_t now_ms);

#endif
