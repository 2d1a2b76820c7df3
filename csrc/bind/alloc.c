/* alloc.c: serve the Lua state's small objects from a corio slab.
 *
 * A parked task is a coroutine (lua_State, a 45-slot stack, CallInfos), a
 * task userdata and a stream userdata: about ten small blocks, on which
 * malloc's per-block header and 16-byte rounding add ~150 bytes per idle
 * connection. The slab (core/slab.c) has no per-block header and recycles
 * blocks by size class, which also makes spawning and channel traffic
 * cheaper.
 *
 * The slab is installed with lua_setallocf when the module opens, wrapping
 * the state's own allocator: blocks above CORIO_SLAB_MAX, blocks that
 * existed before, and any request the slab cannot serve go to that
 * allocator, told apart by address. It is installed only where the state
 * uses a plain allocator (its userdata NULL, as luaL_newstate's is), so an
 * embedder's accounting allocator keeps seeing every byte; CORIO_ALLOC=libc
 * turns it off, and ASan builds leave it off so ASan sees every object.
 * There, over a plain allocator, a wrapper that only counts the bytes
 * allocated is installed instead (the idle pass needs the count).
 *
 * Lifetime: the slab lives as long as the state. The last block
 * lua_close frees is the main thread's own (allocated before the slab):
 * freeing it tears the slab down. Because lua_close unloads C modules
 * before it frees the remaining objects, the module pins itself in memory
 * (RTLD_NODELETE) before installing an allocator that lives in its code. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "bind.h"
#include "../core/faults.h"
#include "../core/slab.h"

/* Address space only (pages are backed when touched). A state with more
 * small objects than this goes on with the previous allocator for the
 * rest; kept moderate so that hosts with many states do not run out of
 * address space. */
#define SLAB_RESERVE ((size_t)8 << 30)

typedef struct l_alloc {
    lua_Alloc prev;           /* the state's allocator before ours */
    void *prev_ud;
    void *main_block;         /* the main thread's block: freed last */
    size_t churn;             /* bytes allocated since the last reset */
    size_t live;              /* bytes held: the Lua heap and corio's buffers */
    size_t limit;             /* corio.memory_limit, 0 for none */
    corio_slab slab;
} l_alloc;

/* The limit, before an allocation: whether growing a block from osize to
 * nsize (osize 0 for a new one) is refused. Frees and shrinks never are
 * (Lua requires a shrink to succeed). Fault builds fail some on purpose. */
static inline int over_limit(const l_alloc *a, size_t old, size_t nsize)
{
    return nsize > old && ((a->limit && a->live + (nsize - old) > a->limit) ||
                           corio_fault_lua_alloc(nsize));
}

/* After an allocation: count what the state holds now (modular
 * arithmetic: a shrink or free adds the difference's complement). This
 * runs on every allocation of the state, so it is kept to an add. */
static inline void *counted(l_alloc *a, void *q, size_t old, size_t nsize)
{
    if (__builtin_expect(q != NULL || nsize == 0, 1))
        a->live += nsize - old;
    return q;
}

static void *slab_realloc(l_alloc *a, void *p, size_t osize, size_t nsize)
{
    void *q = NULL;
    if (nsize <= CORIO_SLAB_MAX)
        q = corio_slab_alloc(&a->slab, nsize);
    /* Lua: a shrink never fails. Keeping p is safe: freed later with the
     * smaller size, it goes back to its own run, counted at its run's class
     * (a few bytes of it unused, only when memory is exhausted). */
    if (!q && !(q = a->prev(a->prev_ud, NULL, 0, nsize)))
        return nsize <= osize ? p : NULL;
    memcpy(q, p, osize < nsize ? osize : nsize);
    if (corio_slab_owns(&a->slab, p))
        corio_slab_free(&a->slab, p, osize);
    else
        a->prev(a->prev_ud, p, osize, 0);
    return q;
}

static inline void *slab_fn(l_alloc *a, void *p, size_t osize, size_t nsize)
{
    if (p && corio_slab_owns(&a->slab, p)) {
        if (nsize == 0) {
            corio_slab_free(&a->slab, p, osize);
            return NULL;
        }
        if (nsize <= CORIO_SLAB_MAX && corio_slab_same_class(osize, nsize))
            return p;
        return slab_realloc(a, p, osize, nsize);
    }
    if (!p) {
        a->churn += nsize;
        void *q = nsize && nsize <= CORIO_SLAB_MAX ? corio_slab_alloc(&a->slab, nsize) : NULL;
        return q ? q : a->prev(a->prev_ud, NULL, osize, nsize);
    }
    if (nsize == 0 || nsize > CORIO_SLAB_MAX || osize > CORIO_SLAB_MAX) {
        void *prev_ud = a->prev_ud;
        lua_Alloc prev = a->prev;
        if (nsize == 0 && p == a->main_block) {   /* lua_close's last free */
            corio_slab_destroy(&a->slab);
            free(a);
        }
        return prev(prev_ud, p, osize, nsize);
    }
    return slab_realloc(a, p, osize, nsize);   /* an old small block moves in */
}

static void *l_alloc_fn(void *ud, void *p, size_t osize, size_t nsize)
{
    l_alloc *a = ud;
    size_t old = p ? osize : 0;
    if (over_limit(a, old, nsize))
        return NULL;
    int last = nsize == 0 && p == a->main_block;   /* lua_close's last free: a goes */
    void *q = slab_fn(a, p, osize, nsize);
    return last ? q : counted(a, q, old, nsize);
}

/* Where the slab is off, over a plain allocator: count, pass everything
 * on. (Growth of the heap is no measure of allocation: a collection that
 * ran unseen between two looks hides a burst.) */
static void *count_fn(void *ud, void *p, size_t osize, size_t nsize)
{
    l_alloc *a = ud;
    lua_Alloc prev = a->prev;
    void *prev_ud = a->prev_ud;
    size_t old = p ? osize : 0;
    if (over_limit(a, old, nsize))
        return NULL;
    if (!p)
        a->churn += nsize;
    if (nsize == 0 && p == a->main_block) {   /* lua_close's last free */
        free(a);
        return prev(prev_ud, p, osize, nsize);
    }
    return counted(a, prev(prev_ud, p, osize, nsize), old, nsize);
}

/* Keep this module's code mapped until the process exits. */
static int pin_module(void)
{
    Dl_info info;
    if (!dladdr((void *)l_alloc_fn, &info) || !info.dli_fname)
        return 0;
    return dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != NULL;
}

static int wanted(void)
{
    const char *e = getenv("CORIO_ALLOC");
    if (e && *e)
        return strcmp(e, "libc") != 0;
#if defined(__SANITIZE_ADDRESS__)
    return 0;
#else
    return 1;
#endif
}

/* Install a (its slab set up if slab) as L's allocator over f, ud. */
static void install(lua_State *L, l_alloc *a, int slab, lua_Alloc f, void *ud)
{
    a->prev = f;
    a->prev_ud = ud;
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    a->main_block = (char *)lua_tothread(L, -1) - LUA_EXTRASPACE;
    lua_pop(L, 1);
    /* what the state holds already (blocks it frees later through us) */
    a->live = (size_t)lua_gc(L, LUA_GCCOUNT) * 1024u + (size_t)lua_gc(L, LUA_GCCOUNTB);
    lua_setallocf(L, slab ? l_alloc_fn : count_fn, a);
}

/* Over a plain allocator (its userdata NULL): the slab where wanted, else
 * the counting wrapper. An embedder's allocator is left alone until a
 * memory limit asks for counting (l_alloc_counting). */
void l_alloc_install(lua_State *L)
{
    void *ud;
    lua_Alloc f = lua_getallocf(L, &ud);
    if (f == l_alloc_fn || f == count_fn || ud || !pin_module())
        return;
    l_alloc *a = calloc(1, sizeof *a);
    if (!a)
        return;
    int slab = wanted();
    if (slab && corio_slab_init(&a->slab, SLAB_RESERVE) < 0) {
        free(a);
        return;
    }
    install(L, a, slab, f, ud);
}

/* Ours, or NULL. */
static l_alloc *ours(lua_State *L)
{
    void *ud;
    lua_Alloc f = lua_getallocf(L, &ud);
    return f == l_alloc_fn || f == count_fn ? ud : NULL;
}

l_alloc *l_alloc_counting(lua_State *L)
{
    l_alloc *a = ours(L);
    if (a || !pin_module())
        return a;
    void *ud;
    lua_Alloc f = lua_getallocf(L, &ud);
    if (!(a = calloc(1, sizeof *a)))
        return NULL;
    install(L, a, 0, f, ud);
    return a;
}

int l_alloc_set_limit(lua_State *L, size_t limit, size_t *prev)
{
    l_alloc *a = limit ? l_alloc_counting(L) : ours(L);
    if (prev)
        *prev = a ? a->limit : 0;
    if (!a)
        return limit ? -1 : 0;
    a->limit = limit;
    return 0;
}

size_t l_alloc_live(lua_State *L)
{
    l_alloc *a = ours(L);
    /* (blocks from before a late install may make the count dip below 0) */
    return a && a->live < SIZE_MAX / 2 ? a->live : 0;
}


static l_alloc *active(lua_State *L)
{
    void *ud;
    return lua_getallocf(L, &ud) == l_alloc_fn ? ud : NULL;
}

int l_alloc_active(lua_State *L)
{
    return active(L) != NULL;
}

size_t l_alloc_slab_bytes(lua_State *L)
{
    l_alloc *a = active(L);
    return a ? a->slab.live : 0;
}

size_t *l_alloc_churn(lua_State *L)
{
    l_alloc *a = ours(L);
    return a ? &a->churn : NULL;
}

size_t l_alloc_trim(lua_State *L)
{
    l_alloc *a = active(L);
    return a ? corio_slab_trim(&a->slab) : 0;
}
