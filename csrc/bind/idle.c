/* idle.c: garbage collection while the loop has nothing to do.
 *
 * Lua's collector is paced by allocation: after a cycle it waits until the
 * heap has doubled. A server that goes quiet after a burst keeps the
 * burst's garbage (every echoed string, every request's temporaries) in
 * its RSS indefinitely, because nothing allocates to drive the next cycle.
 * So when the loop has been idle for a short grace period after enough
 * allocation, the runtime finishes a collection cycle in slices (polling
 * for I/O between slices, and yielding the CPU to the first event that
 * arrives), then hands the memory freed back to the system: the slab's
 * empty runs, malloc's free pages and the backend's receive buffers.
 *
 * A state whose collector the user stopped (collectgarbage("stop")) is
 * left alone. */
#include "bind.h"
#include "../core/clock.h"
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define IDLE_MIN_CHURN ((size_t)1 << 20)  /* bytes allocated before a pass is worth it */
#define IDLE_SLICE_NS 1000000             /* GC work between two polls for I/O */
#define IDLE_MAX_SLICES 1000              /* a bound, whatever the collector does */

/* Whether the collector runs: not stopped by the user, and not inside a
 * finalizer (lua_gc then answers -1 to everything). */
static int gc_running(lua_State *L)
{
    return lua_gc(L, LUA_GCISRUNNING) == 1;
}

/* Bytes in the Lua heap. */
static size_t heap_bytes(lua_State *L)
{
    return (size_t)lua_gc(L, LUA_GCCOUNT) * 1024u + (size_t)lua_gc(L, LUA_GCCOUNTB);
}

/* Bytes allocated since the last pass: counted by the slab allocator when
 * it is on, else estimated from the heap's growth since its lowest point
 * (a collection since the last pass, the user's or the pacer's, lowers the
 * mark: growth from a high mark would hide a burst for good). */
static size_t churn(lua_State *L, l_runtime *rt)
{
    size_t *n = l_alloc_churn(L);
    if (n)
        return *n;
    size_t h = heap_bytes(L);
    if (h < rt->idle_heap)
        rt->idle_heap = h;
    return h - rt->idle_heap;
}

int l_idle_due(lua_State *L, l_runtime *rt)
{
    if (rt->idle_ends)
        return 1;   /* a pass is under way */
    if (!gc_running(L))
        return 0;
    size_t min = rt->idle_heap / 32;
    return churn(L, rt) >= (min > IDLE_MIN_CHURN ? min : IDLE_MIN_CHURN);
}

/* No pass under way (any more): 0, for l_idle_work to return. */
static int no_pass(l_runtime *rt)
{
    rt->idle_ends = rt->idle_slices = 0;
    return 0;
}

/* The pass is over: give the freed memory back, start counting again. */
static int finish(lua_State *L, l_runtime *rt)
{
    rt->idle_passes++;
    rt->idle_released += l_alloc_trim(L) + corio_loop_trim(&rt->loop);
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    rt->idle_heap = heap_bytes(L);
    size_t *n = l_alloc_churn(L);
    if (n)
        *n = 0;
    return no_pass(rt);
}

/* In generational mode a step is a minor collection and never ends a
 * cycle; the garbage of a burst that has aged stays. Asking for
 * incremental mode tells which mode was on (a no-op when it was
 * incremental already); going back to generational mode runs a full
 * collection, which is what an idle generational heap wants. So a
 * generational pass is one blocking collection. Returns 1 if it was that. */
static int generational_pass(lua_State *L)
{
    if (lua_gc(L, LUA_GCINC, 0, 0, 0) != LUA_GCGEN)
        return 0;
    lua_gc(L, LUA_GCGEN, 0, 0);
    return 1;
}

/* An incremental pass runs two cycle ends: the cycle in progress when the
 * loop went idle may have started before the burst's garbage was made,
 * the next one collects all of it. A slice stops early when a finalizer
 * made a task ready. */
int l_idle_work(lua_State *L, l_runtime *rt)
{
    if (!gc_running(L))             /* stopped meanwhile */
        return no_pass(rt);
    if (generational_pass(L))       /* also when the mode changed mid-pass */
        return finish(L, rt);
    if (rt->idle_ends == 0)
        rt->idle_ends = 2;
    if (++rt->idle_slices > IDLE_MAX_SLICES)
        return finish(L, rt);
    uint64_t until = corio_clock_ns() + IDLE_SLICE_NS;
    do {
        int end = lua_gc(L, LUA_GCSTEP, 0);
        if (end < 0)                /* the collector went away meanwhile */
            return no_pass(rt);
        if (end && --rt->idle_ends == 0)
            return finish(L, rt);
    } while (!rt->loop.nready && corio_clock_ns() < until);
    return 1;
}
