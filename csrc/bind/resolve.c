/* resolve.c: corio.resolve(host [, opts]) -> the addresses of host, as
 * strings, in getaddrinfo's order; nil, msg, EAI_* on failure. Literals
 * and localhost answer at once; names wait on the worker pool (core
 * resolve.c) like a read waits on a socket: cancellable and timeable. */
#define _GNU_SOURCE   /* EAI_ADDRFAMILY */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include "bind.h"

#define LOOKUP_MT "corio.Lookup"

/* The waiting task's hold on its lookup, a userdata on its stack. Until
 * done delivers it, the lookup is the pool's; after, the box's (freed by
 * the continuation, or by __gc if that never ran to the end). */
typedef struct l_lookup {
    corio_lookup *lk;
    l_task *t;
    int owned;
    int host_idx;             /* l_lookup_then: the name's argument index */
    lua_CFunction then;       /* and the function to call again */
} l_lookup;

static void lookup_done(corio_job *j, int cancelled)
{
    corio_lookup *lk = (corio_lookup *)j;
    if (cancelled) {
        free(lk);
        return;
    }
    l_lookup *box = lk->owner;
    box->owned = 1;
    l_task_wake(box->t);
}

/* A cancel or deadline: give the lookup up (the pool frees it, at once or
 * when its getaddrinfo returns) and wake the task. */
static void lookup_interrupt(corio_loop *l, corio_task *t)
{
    l_lookup *box = t->wait_obj;
    corio_lookup *lk = box->lk;
    box->lk = NULL;
    corio_job_cancel(&lk->job);
    corio_task_wake(l, t);
}

static const corio_wait_ops lookup_wait = { "resolve", lookup_interrupt, 1 };

static void lookup_gc_box(l_lookup *box)
{
    if (box->owned)
        free(box->lk);
    box->lk = NULL, box->owned = 0;
}

static int lookup_gc(lua_State *L)
{
    lookup_gc_box(lua_touserdata(L, 1));
    return 0;
}

/* Push the array of addresses sa[0..n-1]. */
static int push_addrs(lua_State *L, const struct sockaddr_storage *sa, size_t n)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        char host[64];
        corio_addr_format((const struct sockaddr *)&sa[i], host, sizeof host);
        lua_pushstring(L, host);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int resolve_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    l_lookup *box = lua_touserdata(L, (int)ctx);
    l_resumed(L, l_rt(L)->current);   /* raises if interrupted (box's __gc frees) */
    corio_lookup *lk = box->lk;
    int n = lk->rc ? l_addr_fail(L, lk->rc) : push_addrs(L, lk->addrs, lk->n);
    lookup_gc_box(box);   /* now rather than when the box is collected */
    return n;
}

/* Push a box and submit a lookup of host for task t: the box, or NULL
 * with -errno in *rc (the box pushed all the same, empty). */
static l_lookup *start(lua_State *L, l_task *t, const char *host, int family, int *rc)
{
    l_lookup *box = lua_newuserdatauv(L, sizeof *box, 0);
    memset(box, 0, sizeof *box);
    luaL_setmetatable(L, LOOKUP_MT);
    corio_lookup *lk = corio_lookup_new(host, family);
    if (!lk) {
        *rc = -ENOMEM;
        return NULL;
    }
    lk->owner = box;
    lk->job.done = lookup_done;
    *rc = corio_job_submit(&t->rt->loop, &lk->job);
    if (*rc < 0) {
        free(lk);
        return NULL;
    }
    box->lk = lk, box->t = t;
    return box;
}

int l_lookup_needed(lua_State *L, const char *host)
{
    struct sockaddr_storage quick[2];
    l_task *t = l_rt(L)->current;
    return host && strcmp(host, "*") && corio_lookup_quick(host, AF_UNSPEC, quick) == 0 &&
           t && t->co == L && lua_isyieldable(L);
}

static int then_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    l_lookup *box = lua_touserdata(L, (int)ctx);
    l_resumed(L, l_rt(L)->current);
    corio_lookup *lk = box->lk;
    int family = (int)lk->family, rc = lk->rc ? lk->rc : EAI_ADDRFAMILY;
    for (size_t i = 0; !lk->rc && i < lk->n; i++) {
        if (family == AF_UNSPEC || lk->addrs[i].ss_family == family) {
            char host[64];
            corio_addr_format((const struct sockaddr *)&lk->addrs[i], host, sizeof host);
            lua_pushstring(L, host);
            lua_replace(L, box->host_idx);
            rc = 0;
            break;
        }
    }
    lua_CFunction fn = box->then;
    lookup_gc_box(box);
    if (rc)
        return l_addr_fail(L, rc);
    lua_settop(L, (int)ctx - 1);
    return fn(L);
}

int l_lookup_then(lua_State *L, int idx, int family, lua_CFunction fn)
{
    l_task *t = l_enter(L, "corio.resolve");
    const char *host = lua_tostring(L, idx);
    int rc;
    l_lookup *box = start(L, t, host, family, &rc);
    if (!box)
        return l_fail(L, rc);
    box->host_idx = lua_absindex(L, idx), box->then = fn;
    return l_suspend(L, t, &lookup_wait, box, lua_gettop(L), then_k);
}

/* opts.family: "inet", "inet6" or absent. */
static int family_option(lua_State *L, int opts)
{
    if (lua_isnoneornil(L, opts))
        return AF_UNSPEC;
    if (!lua_istable(L, opts))
        luaL_error(L, "corio.resolve: bad argument #2 (table expected, got %s)",
                   luaL_typename(L, opts));
    lua_getfield(L, opts, "family");
    const char *f = lua_tostring(L, -1);
    int family = lua_isnil(L, -1) ? AF_UNSPEC
               : f && !strcmp(f, "inet") ? AF_INET
               : f && !strcmp(f, "inet6") ? AF_INET6 : -1;
    if (family < 0)
        luaL_error(L, "corio.resolve: bad option 'family' (\"inet\" or \"inet6\" expected)");
    lua_pop(L, 1);
    return family;
}

static int l_resolve(lua_State *L)
{
    size_t len;
    if (lua_type(L, 1) != LUA_TSTRING)
        return luaL_error(L, "corio.resolve: bad argument #1 (string expected, got %s)",
                          luaL_typename(L, 1));
    const char *host = lua_tolstring(L, 1, &len);
    if (!len || strlen(host) != len)
        return luaL_error(L, "corio.resolve: bad argument #1 (%s)",
                          len ? "host with a NUL byte" : "empty host");
    int family = family_option(L, 2);
    struct sockaddr_storage quick[2];
    int n = corio_lookup_quick(host, family, quick);
    if (n < 0)
        return l_addr_fail(L, n);
    if (n > 0) {
        l_check_current(L);
        return push_addrs(L, quick, (size_t)n);
    }
    l_task *t = l_enter(L, "corio.resolve");
    lua_settop(L, 2);
    int rc;
    l_lookup *box = start(L, t, host, family, &rc);
    if (!box)
        return l_fail(L, rc);
    return l_suspend(L, t, &lookup_wait, box, 3, resolve_k);
}

static void resolve_open(lua_State *L)
{
    luaL_newmetatable(L, LOOKUP_MT);
    lua_pushcfunction(L, lookup_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
}

static const luaL_Reg resolve_funcs[] = { {"resolve", l_resolve}, {NULL, NULL} };

const l_module l_resolve_module = { resolve_open, resolve_funcs };
