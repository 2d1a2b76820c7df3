/* anchor.c: the tables that keep live tasks reachable.
 *
 * A live task needs one strong reference from a GC root. The registry
 * (luaL_ref) would do, but Lua sizes a table's array part in powers of
 * two: 19,000 tasks sit in 32,768 slots, 28 bytes per idle connection
 * instead of 16. Here tasks sit in chunks of ANCHOR_CHUNK slots, each a
 * table created at that size and never stored past it (so Lua never
 * resizes it), each held by a registry ref: nothing is copied as the
 * count grows and at most one chunk is partly used. Chunks are small
 * because a table written to is traversed again whole by the collector.
 * Free slots are a stack of indexes on the C side, sized with the slots,
 * so dropping an anchor never allocates. */
#include "bind.h"

#define ANCHOR_SHIFT 8
#define ANCHOR_CHUNK (1 << ANCHOR_SHIFT)   /* slots per chunk (4 KiB) */

void l_anchor_init(lua_State *L, l_runtime *rt)
{
    (void)L;
    rt->anchor_top = rt->anchor_nfree = rt->anchor_nchunks = 0;
    rt->anchor_chunks_cap = rt->anchor_free_cap = 0;
    rt->anchor_chunks = rt->anchor_free = NULL;
}

void l_anchor_close(l_runtime *rt)
{
    l_mem(rt, rt->anchor_chunks, (size_t)rt->anchor_chunks_cap * sizeof(int), 0);
    l_mem(rt, rt->anchor_free, (size_t)rt->anchor_free_cap * sizeof(int), 0);
    l_anchor_init(NULL, rt);   /* pushes find nothing, drops do nothing */
}

static int slot(int ref) { return ((ref - 1) & (ANCHOR_CHUNK - 1)) + 1; }
static int chunk(int ref) { return (ref - 1) >> ANCHOR_SHIFT; }

/* Whether ref names a slot handed out (not LUA_NOREF, not after close). */
static int valid(l_runtime *rt, int ref) { return ref > 0 && ref <= rt->anchor_top; }

/* Make *arr hold at least want ints (its capacity *cap); 0 or -1. */
static int reserve(l_runtime *rt, int **arr, int *cap, int want)
{
    if (*cap >= want)
        return 0;
    int n = *cap ? *cap * 2 : 16;
    while (n < want)
        n *= 2;
    int *p = l_mem(rt, *arr, (size_t)*cap * sizeof(int), (size_t)n * sizeof(int));
    if (!p)
        return -1;
    *arr = p, *cap = n;
    return 0;
}

/* Add a chunk, or raise on memory errors leaving the anchors as they
 * were. The Lua allocations come first: a collection they trigger may run
 * a finalizer that anchors (spawns) too, so the counts are read after. */
static void add_chunk(lua_State *L, l_runtime *rt)
{
    lua_createtable(L, ANCHOR_CHUNK, 0);
    int r = luaL_ref(L, LUA_REGISTRYINDEX);
    int n = rt->anchor_nchunks;
    if (reserve(rt, &rt->anchor_chunks, &rt->anchor_chunks_cap, n + 1) < 0 ||
        reserve(rt, &rt->anchor_free, &rt->anchor_free_cap, (n + 1) * ANCHOR_CHUNK) < 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, r);
        luaL_error(L, "corio: not enough memory");
    }
    rt->anchor_chunks[n] = r;
    rt->anchor_nchunks = n + 1;
}

int l_anchor(lua_State *L, l_runtime *rt)
{
    int ref;
    if (rt->closed)   /* a finalizer spawning while the state closes */
        luaL_error(L, "corio: the runtime is closed");
    for (;;) {
        if (rt->anchor_nfree) {
            ref = rt->anchor_free[--rt->anchor_nfree];
            break;
        }
        if (rt->anchor_top < rt->anchor_nchunks * ANCHOR_CHUNK) {
            ref = ++rt->anchor_top;
            break;
        }
        add_chunk(L, rt);
    }
    /* From here nothing allocates: no collection, no finalizer. */
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->anchor_chunks[chunk(ref)]);
    lua_rotate(L, -2, 1);   /* the task over its chunk */
    lua_rawseti(L, -2, slot(ref));
    lua_pop(L, 1);
    return ref;
}

void l_anchor_push(lua_State *L, l_runtime *rt, int ref)
{
    if (!valid(rt, ref)) {
        lua_pushnil(L);
        return;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->anchor_chunks[chunk(ref)]);
    lua_rawgeti(L, -1, slot(ref));
    lua_remove(L, -2);
}

void l_anchor_drop(lua_State *L, l_runtime *rt, int ref)
{
    if (!valid(rt, ref))
        return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->anchor_chunks[chunk(ref)]);
    lua_pushnil(L);
    lua_rawseti(L, -2, slot(ref));
    lua_pop(L, 1);
    rt->anchor_free[rt->anchor_nfree++] = ref;
}

void l_each_live(lua_State *L, l_runtime *rt, void (*fn)(l_task *t, void *ud), void *ud)
{
    luaL_checkstack(L, 4, "corio");
    for (int c = 0; c < rt->anchor_nchunks; c++) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, rt->anchor_chunks[c]);
        for (int i = 1; i <= ANCHOR_CHUNK; i++) {
            if (lua_rawgeti(L, -1, i) == LUA_TUSERDATA)
                fn(lua_touserdata(L, -1), ud);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
}
