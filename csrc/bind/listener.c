/* listener.c: corio.Listener and corio.tcp.listen. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "bind.h"

#define LISTENER_MT "corio.Listener"

typedef struct l_listener {
    corio_listener *ls;   /* NULL once closed */
    l_task *waiter;
} l_listener;

static l_listener *check_listener(lua_State *L)
{
    return l_checkclass(L, 1, CL_LISTENER);
}

static l_listener *check_open(lua_State *L, const char *fname)
{
    l_listener *l = check_listener(L);
    if (!l->ls)
        luaL_error(L, "%s: listener is closed", fname);
    return l;
}

/* Close without raising; a task blocked in accept wakes and gets
 * nil, "listener is closed". */
static void listener_close(l_listener *l)
{
    if (!l->ls)
        return;
    l_task *w = l->waiter;
    l->waiter = NULL;
    corio_listener_close(l->ls);
    l->ls = NULL;
    if (w)
        l_task_wake(w);
}

static void accept_interrupt(l_task *t)
{
    l_listener *l = t->wait_obj;
    l->waiter = NULL;
    if (l->ls)
        l->ls->waiter = NULL;
    l_task_wake(t);
}

static int accept_k(lua_State *L, int status, lua_KContext ctx)
{
    l_listener *l = lua_touserdata(L, 1);
    l_task *t = l_rt(L)->current;
    (void)ctx;
    if (status == LUA_YIELD) {
        if (l->waiter == t)
            l->waiter = NULL;
        l_resumed(L, t);
    }
    if (!l->ls) {
        lua_pushnil(L);
        lua_pushliteral(L, "listener is closed");
        lua_pushliteral(L, "EBADF");
        return 3;
    }
    if (l->waiter && l->waiter != t)
        return luaL_error(L, "listener:accept: another task is accepting on this listener");
    l_check(L, t);   /* a cancel or deadline that came after the wake */
    int fd = corio_listener_take(l->ls, &t->waiter);
    if (fd >= 0) {
        int rc = l_stream_push(L, t->rt, fd);
        return rc < 0 ? l_fail(L, rc) : 1;
    }
    if (fd != -EAGAIN)
        return l_fail(L, fd);
    l->waiter = t;
    return l_suspend(L, t, W_IO, l, accept_interrupt, 0, accept_k);
}

/* listener:accept(): the next connection as a stream, or nil, msg, code. */
static int l_listener_accept(lua_State *L)
{
    check_open(L, "listener:accept");
    lua_settop(L, 1);
    l_task *t = l_enter(L, "listener:accept");
    if (l_budget_spent(t))
        return l_yield(L, t, 0, accept_k);
    return accept_k(L, LUA_OK, 0);
}

static int l_listener_addr(lua_State *L)
{
    l_listener *l = check_open(L, "listener:addr");
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    if (getsockname(l->ls->fd, (struct sockaddr *)&sa, &len) < 0)
        return l_fail(L, -errno);
    char host[64];
    int port = corio_addr_format((struct sockaddr *)&sa, host, sizeof host);
    lua_pushstring(L, host);
    lua_pushinteger(L, port);
    return 2;
}

static int l_listener_close(lua_State *L)
{
    l_listener *l = check_listener(L);
    if (!l->ls) {
        lua_pushnil(L);
        lua_pushliteral(L, "listener is closed");
        lua_pushliteral(L, "EBADF");
        return 3;
    }
    listener_close(l);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_listener_gc(lua_State *L)
{
    listener_close(check_listener(L));
    return 0;
}

static int l_listener_tostring(lua_State *L)
{
    l_listener *l = check_listener(L);
    if (l->ls)
        lua_pushfstring(L, "corio.Listener (fd %d)", l->ls->fd);
    else
        lua_pushliteral(L, "corio.Listener (closed)");
    return 1;
}

/* opts[name] as a boolean, def when absent. */
static int opt_bool(lua_State *L, int opts, const char *name, int def)
{
    if (lua_isnoneornil(L, opts))
        return def;
    int t = lua_getfield(L, opts, name);
    int v = t == LUA_TNIL ? def : lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

static int opt_int(lua_State *L, int opts, const char *name, int def)
{
    if (lua_isnoneornil(L, opts))
        return def;
    lua_getfield(L, opts, name);
    int v = lua_isnil(L, -1) ? def : (int)luaL_checkinteger(L, -1);
    lua_pop(L, 1);
    return v;
}

/* corio.tcp.listen(host, port [, opts]) */
static int l_tcp_listen(lua_State *L)
{
    struct sockaddr_storage sa;
    socklen_t len;
    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    if (l_resolve(L, 1, &sa, &len) < 0)
        return 3;
    int backlog = opt_int(L, 3, "backlog", 0);
    int reuseaddr = opt_bool(L, 3, "reuseaddr", 1);
    int reuseport = opt_bool(L, 3, "reuseport", 0);
    l_listener *l = lua_newuserdatauv(L, sizeof *l, 0);
    memset(l, 0, sizeof *l);
    l_setclass(L, CL_LISTENER);
    int rc = corio_listener_open(&l_rt(L)->loop, (struct sockaddr *)&sa, len, backlog,
                                 reuseaddr, reuseport, &l->ls);
    return rc < 0 ? l_fail(L, rc) : 1;
}

const luaL_Reg l_listener_funcs[] = {
    {"tcp_listen", l_tcp_listen}, {NULL, NULL},
};

static const luaL_Reg listener_methods[] = {
    {"accept", l_listener_accept}, {"addr", l_listener_addr},
    {"close", l_listener_close},   {"__close", l_listener_gc},
    {"__gc", l_listener_gc},       {"__tostring", l_listener_tostring},
    {NULL, NULL},
};

void l_listener_open(lua_State *L)
{
    l_new_class_as(L, CL_LISTENER, LISTENER_MT, listener_methods);
}
