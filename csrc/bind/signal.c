/* signal.c: corio.SignalFd, the binding of core/sigfd: a signalfd for a
 * set of signals, read without blocking; corio/signal.lua waits on it
 * through core.poll. Also core.getpid, for sending signals to oneself. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "bind.h"
#include "../core/sigfd.h"

#define SIGFD_MT "corio.SignalFd"

typedef struct l_sigfd {
    int fd;            /* -1 once closed */
    sigset_t set;
} l_sigfd;

static l_sigfd *check_sigfd(lua_State *L)
{
    return luaL_checkudata(L, 1, SIGFD_MT);
}

static int l_sigfd_read(lua_State *L);
static int l_sigfd_fd(lua_State *L);
static int l_sigfd_close(lua_State *L);
static int l_sigfd_tostring(lua_State *L);

static const luaL_Reg sigfd_methods[] = {
    {"read", l_sigfd_read},   {"fd", l_sigfd_fd},       {"close", l_sigfd_close},
    {"__close", l_sigfd_close}, {"__gc", l_sigfd_close}, {"__tostring", l_sigfd_tostring},
    {NULL, NULL},
};

/* Set the SignalFd metatable on the userdata at the top, creating it on
 * first use (luaopen registers only this file's functions). */
static void set_class(lua_State *L)
{
    if (luaL_newmetatable(L, SIGFD_MT)) {
        luaL_setfuncs(L, sigfd_methods, 0);
        lua_pushvalue(L, -1);
        lua_setfield(L, -2, "__index");
    }
    lua_setmetatable(L, -2);
}

/* The signal set named by the string arguments; raises on a bad name. */
static void check_names(lua_State *L, sigset_t *set)
{
    int n = lua_gettop(L);
    if (n == 0)
        luaL_error(L, "corio.signal: no signal given");
    sigemptyset(set);
    for (int i = 1; i <= n; i++) {
        const char *name = luaL_checkstring(L, i);
        int signo = corio_signal_number(name);
        if (signo < 0)
            luaL_error(L, "corio.signal: unknown or uncatchable signal '%s'", name);
        sigaddset(set, signo);
    }
}

/* core.signal_open(name, ...): a SignalFd, or nil, msg, code. The
 * userdata exists (closed) before the fd, so a failure leaks nothing. */
static int l_signal_open(lua_State *L)
{
    sigset_t set;
    check_names(L, &set);
    l_sigfd *s = lua_newuserdatauv(L, sizeof *s, 0);
    s->fd = -1;
    set_class(L);
    int fd = corio_signal_open(&set);
    if (fd < 0)
        return l_fail(L, fd);
    s->fd = fd;
    s->set = set;
    return 1;
}

/* sfd:read(): the name of the next pending signal; nil when none is
 * pending; nil, msg, code on failure. */
static int l_sigfd_read(lua_State *L)
{
    l_sigfd *s = check_sigfd(L);
    if (s->fd < 0)
        return luaL_error(L, "signal:recv: listener is closed");
    int rc = corio_signal_read(s->fd);
    if (rc == -EAGAIN) {
        lua_pushnil(L);
        return 1;
    }
    if (rc < 0)
        return l_fail(L, rc);
    const char *name = corio_signal_name(rc);
    lua_pushstring(L, name ? name : "?");
    return 1;
}

/* sfd:fd(): the descriptor to poll, or nil once closed. */
static int l_sigfd_fd(lua_State *L)
{
    l_sigfd *s = check_sigfd(L);
    if (s->fd < 0)
        lua_pushnil(L);
    else
        lua_pushinteger(L, s->fd);
    return 1;
}

/* sfd:close(): true the first time, then nil, msg, "EBADF"; also __close
 * and __gc. Restores the default handling of signals nobody listens to
 * any more. */
static int l_sigfd_close(lua_State *L)
{
    l_sigfd *s = check_sigfd(L);
    if (s->fd < 0)
        return l_closed(L, "signal listener");
    corio_signal_close(s->fd, &s->set);
    s->fd = -1;
    lua_pushboolean(L, 1);
    return 1;
}

static int l_sigfd_tostring(lua_State *L)
{
    l_sigfd *s = check_sigfd(L);
    lua_pushfstring(L, "corio.SignalFd (%s): %p", s->fd < 0 ? "closed" : "open", (void *)s);
    return 1;
}

/* core.getpid() */
static int l_getpid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)getpid());
    return 1;
}

static const luaL_Reg signal_funcs[] = {
    {"signal_open", l_signal_open}, {"getpid", l_getpid}, {NULL, NULL},
};

const l_module l_signal_module = { NULL, signal_funcs };
