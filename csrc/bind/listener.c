/* listener.c: corio.Listener, of any transport (tcp.c and unix.c make
 * them): accept, addr, close. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "bind.h"

typedef struct l_listener {
    corio_listener *ls;       /* NULL once closed */
    char *path;               /* a Unix listener's socket file, removed at close */
    int is_unix;              /* accepts Unix streams */
    int max_conns;            /* opts.max_connections, 0 for none */
    int nconns;               /* accepted streams still open, when limited */
    int shared;               /* its fd was passed on: another owner may listen */
    dev_t dev;                /* the socket file it made (path), to remove */
    ino_t ino;                /*   only that one at close */
} l_listener;

/* Registry key of the weak table accepted stream -> its limited listener. */
static const char owners_key = 0;

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

/* Close without raising; tasks blocked in accept wake and get
 * nil, "listener is closed". */
static void listener_close(l_listener *l)
{
    if (!l->ls)
        return;
    corio_listener_close(l->ls);
    l->ls = NULL;
    if (l->path) {   /* the file, if it is still ours and nobody else listens */
        struct stat st;
        if (!l->shared && stat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
            unlink(l->path);
        free(l->path);
        l->path = NULL;
    }
}

/* The stream on top was accepted by the limited listener at arg 1: count
 * it, and remember its listener for when it closes. */
static void count_conn(lua_State *L, l_listener *l)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &owners_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_createtable(L, 0, 1);
        lua_pushliteral(L, "k");
        lua_setfield(L, -2, "__mode");
        lua_setmetatable(L, -2);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &owners_key);
    }
    lua_pushvalue(L, -2);   /* the stream */
    lua_pushvalue(L, 1);    /* its listener */
    lua_rawset(L, -3);
    lua_pop(L, 1);
    l->nconns++;            /* (after what may fail for lack of memory) */
    l_stream_set_counted(L, -1);
}

void l_listener_conn_closed(lua_State *L, int stream_idx)
{
    stream_idx = lua_absindex(L, stream_idx);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &owners_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    lua_pushvalue(L, stream_idx);
    lua_rawget(L, -2);
    l_listener *l = l_testclass(L, -1, CL_LISTENER);
    if (l) {
        l->nconns--;
        if (l->ls && l->nconns < l->max_conns)
            corio_listener_resume(l->ls);
    }
    lua_pushvalue(L, stream_idx);
    lua_pushnil(L);
    lua_rawset(L, -4);
    lua_pop(L, 2);
}

int l_listener_max_option(lua_State *L, int opts, const char *fname)
{
    int max = l_opt_int(L, opts, fname, "max_connections", 0);
    if (max < 0)
        luaL_error(L, "%s: bad option 'max_connections' (positive integer expected)", fname);
    return max;
}

void l_listener_set_max(lua_State *L, int max)
{
    l_listener *l = lua_touserdata(L, -1);
    l->max_conns = max;
}

/* A cancelled acceptor leaves the queue (its waiter is the wait object). */
static void accept_interrupt(corio_loop *lp, corio_task *t)
{
    corio_waitq_remove(t->wait_obj);
    corio_task_wake(lp, t);
}

static const corio_wait_ops accept_wait = { "accept", accept_interrupt, 1 };

/* Several tasks may accept on one listener: they wait in the core
 * listener's queue, served in order, each through a waiter on its own
 * stack (ctx: its index, 0 before the first wait). */
static int accept_k(lua_State *L, int status, lua_KContext ctx)
{
    l_listener *l = lua_touserdata(L, 1);
    l_task *t = l_rt(L)->current;
    int woken = status == LUA_YIELD && ctx != 0;
    if (status == LUA_YIELD)
        l_resumed(L, t);
    if (!l->ls)
        return l_closed(L, "listener");
    if (woken && l_pending(t) && corio_listener_queued(l->ls))
        corio_listener_pass(l->ls);   /* this task raises below: the next one takes it */
    l_check(L, t);       /* a cancel or deadline that came after the wake */
    if (!ctx) {
        corio_waiter *w = lua_newuserdatauv(L, sizeof *w, 0);
        memset(w, 0, sizeof *w);
        w->task = &t->t;
        ctx = lua_gettop(L);
    }
    corio_waiter *w = lua_touserdata(L, (int)ctx);
    int limited = l->max_conns && l->nconns >= l->max_conns;
    if (!limited && corio_listener_queued(l->ls))
        l_stream_push(L, t->rt, -1, l->is_unix);   /* before the fd leaves the queue:
                                                      a failed allocation loses none */
    int fd = limited ? corio_listener_pause(l->ls, w, woken)   /* at the limit: wait */
                     : corio_listener_take(l->ls, w, woken);
    if (fd >= 0) {
        l_stream_attach(L, -1, t->rt, fd, l->is_unix);
        if (l->max_conns)
            count_conn(L, l);
        return 1;
    }
    if (fd != -EAGAIN)
        return l_fail(L, fd);
    return l_suspend(L, t, &accept_wait, w, ctx, accept_k);
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
    return l_push_sockname(L, corio_listener_fd(check_open(L, "listener:addr")->ls), getsockname);
}

static int l_listener_close(lua_State *L)
{
    l_listener *l = check_listener(L);
    if (!l->ls)
        return l_closed(L, "listener");
    listener_close(l);
    l_settle(L, l_rt(L));
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
        lua_pushfstring(L, "corio.Listener (fd %d)", corio_listener_fd(l->ls));
    else
        lua_pushliteral(L, "corio.Listener (closed)");
    return 1;
}

int l_listener_fd(lua_State *L, int idx)
{
    l_listener *l = l_testclass(L, idx, CL_LISTENER);
    if (!l)
        return -1;
    if (!l->ls)
        luaL_error(L, "listener is closed");
    l->shared = 1;   /* asked for to pass it on (send_fd) */
    return corio_listener_fd(l->ls);
}

/* A closed listener userdata, pushed. */
static l_listener *push_listener(lua_State *L, int is_unix)
{
    l_listener *l = lua_newuserdatauv(L, sizeof *l, 0);
    memset(l, 0, sizeof *l);
    l->is_unix = is_unix;
    l_setclass(L, CL_LISTENER);
    return l;
}

int l_listener_new(lua_State *L, const struct sockaddr *sa, socklen_t len, int backlog,
                   int reuseaddr, int reuseport, const char *path)
{
    l_listener *l = push_listener(L, sa->sa_family == AF_UNIX);
    if (path && !(l->path = strdup(path)))
        return l_fail(L, -ENOMEM);
    int rc = corio_listener_open(&l_rt(L)->loop, sa, len, backlog, reuseaddr, reuseport,
                                 &l->ls);
    struct stat st;
    if (rc == 0 && l->path && stat(l->path, &st) == 0) {
        l->dev = st.st_dev, l->ino = st.st_ino;
    } else if (l->path) {   /* nothing of ours to remove later */
        free(l->path);
        l->path = NULL;
    }
    if (rc < 0)
        return l_fail(L, rc);
    return 1;
}

int l_listener_adopt(lua_State *L, int fd, int is_unix)
{
    l_listener *l = push_listener(L, is_unix);
    int rc = corio_listener_adopt(&l_rt(L)->loop, fd, &l->ls);
    return rc < 0 ? l_fail(L, rc) : 1;
}

static const luaL_Reg listener_methods[] = {
    {"accept", l_listener_accept}, {"addr", l_listener_addr},
    {"close", l_listener_close},   {"__close", l_listener_gc},
    {"__gc", l_listener_gc},       {"__tostring", l_listener_tostring},
    {NULL, NULL},
};

static void listener_open(lua_State *L)
{
    l_new_class_as(L, CL_LISTENER, listener_methods);
}

const l_module l_listener_module = { listener_open, NULL };
