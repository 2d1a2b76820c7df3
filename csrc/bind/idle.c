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
#include <malloc.h>
#include "bind.h"
#include "../core/clock.h"

#define IDLE_MIN_CHURN ((size_t)1 << 20)  /* bytes allocated before a pass is worth it */
#define IDLE_SLICE_NS 1000000             /* GC work between two polls for I/O */
/* A pass gives up after this many slices: in generational mode a step
 * never reports the end of a cycle. */
#define IDLE_MAX_SLICES 100

/* Bytes in the Lua heap. */
static size_t heap_bytes(lua_State *L)
{
    return (size_t)lua_gc(L, LUA_GCCOUNT) * 1024u + (size_t)lua_gc(L, LUA_GCCOUNTB);
}

/* Bytes allocated since the last pass: counted by the slab allocator when
 * it is on, else estimated from the heap's growth. */
static size_t churn(lua_State *L, l_runtime *rt)
{
    size_t n = l_alloc_churn(L);
    if (l_alloc_active(L))
        return n;
    size_t h = heap_bytes(L);
    return h > rt->idle_heap ? h - rt->idle_heap : 0;
}

int l_idle_due(lua_State *L, l_runtime *rt)
{
    if (rt->idle_ends)
        return 1;   /* a pass is under way */
    if (!lua_gc(L, LUA_GCISRUNNING))
        return 0;
    size_t min = rt->idle_heap / 32;
    return churn(L, rt) >= (min > IDLE_MIN_CHURN ? min : IDLE_MIN_CHURN);
}

/* The pass is over: give the freed memory back, start counting again. */
static void finish(lua_State *L, l_runtime *rt)
{
    rt->idle_ends = 0;
    rt->idle_slices = 0;
    rt->idle_passes++;
    rt->idle_released += l_alloc_trim(L) + corio_loop_trim(&rt->loop);
    malloc_trim(0);
    rt->idle_heap = heap_bytes(L);
    l_alloc_reset_churn(L);
}

/* A pass runs two cycle ends: the cycle in progress when the loop went
 * idle may have started before the burst's garbage was made, the next one
 * collects all of it. */
int l_idle_work(lua_State *L, l_runtime *rt)
{
    if (!lua_gc(L, LUA_GCISRUNNING)) {   /* stopped meanwhile */
        rt->idle_ends = rt->idle_slices = 0;
        return 0;
    }
    if (rt->idle_ends == 0)
        rt->idle_ends = 2;
    if (++rt->idle_slices > IDLE_MAX_SLICES) {
        finish(L, rt);
        return 0;
    }
    uint64_t until = corio_clock_ns() + IDLE_SLICE_NS;
    do {
        if (lua_gc(L, LUA_GCSTEP, 0) && --rt->idle_ends == 0) {
            finish(L, rt);
            return 0;
        }
    } while (corio_clock_ns() < until);
    return 1;
}
