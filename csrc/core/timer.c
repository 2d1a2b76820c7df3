/* timer.c: the hierarchical timing wheel declared in timer.h.
 *
 * Placement: a timer goes to the level of the highest bit in which its
 * deadline differs from now (6 bits per level), in the slot given by the
 * deadline's bits of that level. So below the top level every occupied slot
 * lies at or after now's own slot in that level, and a slot's start tick is
 * now's bits above the slot with the slot index spliced in. The top level
 * wraps: its slots are read as a ring starting at now's slot, and deadlines
 * more than 63 top slots ahead are clamped to the farthest one and placed
 * again when it is reached.
 *
 * Advancing never walks tick by tick: it repeatedly takes the earliest
 * occupied slot (found with a rotate and count-trailing-zeros per level),
 * moves now to that slot's start and empties it, firing what is due and
 * re-placing the rest, which always lands at a lower level. Slots are
 * emptied one timer at a time through the ordinary unlink, so callbacks may
 * add or delete any timer while a slot is being processed. A callback that
 * keeps re-arming itself at or before now makes advance loop forever, and
 * advance must not be called from a callback. Ticks near UINT64_MAX (more
 * than 2^64 - 2^36) are not supported; deadlines up to UINT64_MAX are. */
#include "timer.h"

#define BITS  6                          /* log2(CORIO_WHEEL_SLOTS) */
#define MASK  ((uint64_t)CORIO_WHEEL_SLOTS - 1)
#define TOP   (CORIO_WHEEL_LEVELS - 1)

/* Rotate right by r (0..63) without the undefined shift by 64. */
static inline uint64_t rotr(uint64_t x, unsigned r)
{
    return (x >> r) | (x << ((64 - r) & 63));
}

/* Now's slot index in level lv. */
static inline unsigned pos_of(uint64_t now, unsigned lv)
{
    return (unsigned)((now >> (BITS * lv)) & MASK);
}

/* Append t to the circular list of slot (lv, s) and mark it occupied. Tail
 * insertion keeps timers of one slot in arming order. */
static void slot_link(corio_wheel *w, corio_timer *t, unsigned lv, unsigned s)
{
    corio_timer *head = w->slots[lv][s];
    if (!head) {
        t->next = t->prev = t;
        w->slots[lv][s] = t;
        w->occupied[lv] |= (uint64_t)1 << s;
    } else {
        t->prev = head->prev;
        t->next = head;
        head->prev->next = t;
        head->prev = t;
    }
    t->level = (uint8_t)lv;
    t->slot = (uint8_t)s;
}

/* Take t out of its slot list, clearing the slot's bit when it empties. */
static void slot_unlink(corio_wheel *w, corio_timer *t)
{
    unsigned lv = t->level, s = t->slot;
    if (t->next == t) {
        w->slots[lv][s] = NULL;
        w->occupied[lv] &= ~((uint64_t)1 << s);
    } else {
        t->prev->next = t->next;
        t->next->prev = t->prev;
        if (w->slots[lv][s] == t)
            w->slots[lv][s] = t->next;
    }
    t->next = t->prev = NULL;
}

/* Top-level slot for a deadline at least one top slot ahead of now:
 * its own slot when within the ring, else the farthest slot (clamped). */
static unsigned top_slot(uint64_t now, uint64_t when)
{
    uint64_t ahead = (when >> (BITS * TOP)) - (now >> (BITS * TOP));
    if (ahead > MASK)
        ahead = MASK;
    return (unsigned)(((now >> (BITS * TOP)) + ahead) & MASK);
}

/* Put an unlinked t where its deadline belongs relative to w->now. Due
 * timers go to now's level-0 slot, which advance looks at first. */
static void place(corio_wheel *w, corio_timer *t)
{
    uint64_t when = t->expires > w->now ? t->expires : w->now;
    uint64_t diff = when ^ w->now;
    unsigned lv = diff ? (unsigned)(63 - __builtin_clzll(diff)) / BITS : 0;
    if (lv >= TOP)
        slot_link(w, t, TOP, top_slot(w->now, when));
    else
        slot_link(w, t, lv, pos_of(when, lv));
}

/* Zeroing empties every slot and bitmap. */
void corio_wheel_init(corio_wheel *w, uint64_t now_ms)
{
    *w = (corio_wheel){ .now = now_ms };
}

/* Moving an armed timer is a del then a fresh placement. */
void corio_wheel_add(corio_wheel *w, corio_timer *t, uint64_t expires_ms)
{
    corio_wheel_del(w, t);
    t->expires = expires_ms;
    t->armed = 1;
    w->count++;
    place(w, t);
}

/* O(1): unlink from its slot; the armed flag makes a repeat harmless. */
void corio_wheel_del(corio_wheel *w, corio_timer *t)
{
    if (!t->armed)
        return;
    slot_unlink(w, t);
    t->armed = 0;
    w->count--;
}

/* Start tick of the first occupied slot of level lv at or after now's slot
 * (ring order), or UINT64_MAX when the level is empty. */
static uint64_t level_next(const corio_wheel *w, unsigned lv)
{
    uint64_t occ = w->occupied[lv];
    if (!occ)
        return UINT64_MAX;
    unsigned shift = BITS * lv;
    unsigned ahead = (unsigned)__builtin_ctzll(rotr(occ, pos_of(w->now, lv)));
    return ((w->now >> shift) + ahead) << shift;
}

/* Earliest occupied slot over all levels: its start tick, and its level in
 * *lvp. Lower levels win ties so due timers fire before a cascade. */
static uint64_t earliest(const corio_wheel *w, unsigned *lvp)
{
    uint64_t best = UINT64_MAX;
    for (unsigned lv = 0; lv < CORIO_WHEEL_LEVELS; lv++) {
        uint64_t at = level_next(w, lv);
        if (at < best) {
            best = at;
            *lvp = lv;
        }
    }
    return best;
}

/* A lower bound by construction: a slot never starts after its timers. */
uint64_t corio_wheel_next(const corio_wheel *w)
{
    unsigned lv = 0;
    return earliest(w, &lv);
}

/* Empty slot s of level lv (now is its start): fire the due timers, move
 * the others down. Pops from the head each time, so anything a callback
 * adds to or deletes from this slot is seen. Returns the number fired. */
static size_t run_slot(corio_wheel *w, unsigned lv, unsigned s)
{
    size_t fired = 0;
    corio_timer *t;
    while ((t = w->slots[lv][s]) != NULL) {
        slot_unlink(w, t);
        if (t->expires <= w->now) {
            t->armed = 0;
            w->count--;
            fired++;
            t->cb(w, t);
        } else {
            place(w, t);
        }
    }
    return fired;
}

/* The loop visits only occupied slots, so a long jump over an almost empty
 * wheel costs a few iterations per timer, not one per tick. Time never
 * goes back: an earlier now_ms counts as the wheel's now. */
size_t corio_wheel_advance(corio_wheel *w, uint64_t now_ms)
{
    size_t fired = 0;
    unsigned lv = 0;
    uint64_t at;
    if (now_ms < w->now)
        now_ms = w->now;
    while ((at = earliest(w, &lv)) <= now_ms && at != UINT64_MAX) {
        if (at > w->now)
            w->now = at;
        fired += run_slot(w, lv, pos_of(w->now, lv));
    }
    w->now = now_ms;
    return fired;
}
