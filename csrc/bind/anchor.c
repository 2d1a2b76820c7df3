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
    rt->anchor_chunks = NULL;
    rt->anchor_free = NULL;
}

void l_anchor_close(l_runtime *rt)
{
    size_t n = (size_t)rt->anchor_nchunks;
    l_mem(rt, rt->anchor_chunks, n * sizeof(int), 0);
    l_mem(rt, rt->anchor_free, n * ANCHOR_CHUNK * sizeof(int), 0);
    rt->anchor_chunks = rt->anchor_free = NULL;
    rt->anchor_nchunks = 0;
}

static int slot(int ref) { return ((ref - 1) & (ANCHOR_CHUNK - 1)) + 1; }
static int chunk(int ref) { return (ref - 1) >> ANCHOR_SHIFT; }

/* Add a chunk (and room for its slots in the free stack); raises on
 * memory errors with nothing changed. */
static void add_chunk(lua_State *L, l_runtime *rt)
{
    size_t n = (size_t)rt->anchor_nchunks;
    int *c = l_mem(rt, rt->anchor_chunks, n * sizeof(int), (n + 1) * sizeof(int));
    if (!c)
        luaL_error(L, "corio: out of memory");
    rt->anchor_chunks = c;
    int *f = l_mem(rt, rt->anchor_free, n * ANCHOR_CHUNK * sizeof(int),
                   (n + 1) * ANCHOR_CHUNK * sizeof(int));
    if (!f)
        luaL_error(L, "corio: out of memory");
    rt->anchor_free = f;
    lua_createtable(L, ANCHOR_CHUNK, 0);
    c[n] = luaL_ref(L, LUA_REGISTRYINDEX);
    rt->anchor_nchunks++;
}

int l_anchor(lua_State *L, l_runtime *rt)
{
    int ref;
    if (rt->closed)   /* a finalizer spawning while the state closes */
        luaL_error(L, "corio: the runtime is closed");
    if (rt->anchor_nfree) {
        ref = rt->anchor_free[--rt->anchor_nfree];
    } else {
        if (rt->anchor_top == rt->anchor_nchunks * ANCHOR_CHUNK)
            add_chunk(L, rt);
        ref = ++rt->anchor_top;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->anchor_chunks[chunk(ref)]);
    lua_rotate(L, -2, 1);   /* the task over its chunk */
    lua_rawseti(L, -2, slot(ref));
    lua_pop(L, 1);
    return ref;
}

void l_anchor_push(lua_State *L, l_runtime *rt, int ref)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->anchor_chunks[chunk(ref)]);
    lua_rawgeti(L, -1, slot(ref));
    lua_remove(L, -2);
}

void l_anchor_drop(lua_State *L, l_runtime *rt, int ref)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->anchor_chunks[chunk(ref)]);
    lua_pushnil(L);
    lua_rawseti(L, -2, slot(ref));
    lua_pop(L, 1);
    rt->anchor_free[rt->anchor_nfree++] = ref;
}

void l_each_live(lua_State *L, l_runtime *rt, void (*fn)(l_task *t))
{
    luaL_checkstack(L, 4, "corio");
    for (int c = 0; c < rt->anchor_nchunks; c++) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, rt->anchor_chunks[c]);
        for (int i = 1; i <= ANCHOR_CHUNK; i++) {
            if (lua_rawgeti(L, -1, i) == LUA_TUSERDATA)
                fn(lua_touserdata(L, -1));
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
}
