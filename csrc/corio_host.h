/* corio_host.h: drive corio from a C program's own event loop.
 *
 * Header-only, over the Lua C API: the host links Lua, not corio; corio is
 * loaded with require as usual. Usage:
 *
 *   corio_host_open(L);                 // require "corio"
 *   ... run Lua code that calls corio.spawn(...) ...
 *   while (corio_host_step(L, 0) > 0) { // run what is ready
 *       struct pollfd p = {corio_host_pollfd(L), POLLIN, 0};
 *       poll(&p, 1, corio_host_timeout_ms(L, 1000));   // plus the host's fds
 *   }
 *
 * corio_host_step never blocks longer than its timeout; the pollfd polls
 * readable when I/O completed; timers are covered by the timeout. All
 * functions return -1 on error with the Lua error message on the stack. */
#ifndef CORIO_HOST_H
#define CORIO_HOST_H
#include <lua.h>
#include <lauxlib.h>

#define CORIO_HOST_KEY "corio.host"

/* Load corio into L (require "corio") and keep it for the calls below. */
static inline int corio_host_open(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "corio");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK)
        return -1;
    lua_setfield(L, LUA_REGISTRYINDEX, CORIO_HOST_KEY);
    return 0;
}

/* Call corio.<name>(arg) with one number argument (if has_arg) and leave
 * one result on the stack; -1 with the message on the stack on error. */
static inline int corio_host__call(lua_State *L, const char *name, int has_arg, double arg)
{
    lua_getfield(L, LUA_REGISTRYINDEX, CORIO_HOST_KEY);
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
    if (has_arg)
        lua_pushnumber(L, arg);
    return lua_pcall(L, has_arg, 1, 0) == LUA_OK ? 0 : -1;
}

/* One turn: run ready tasks, wait at most timeout seconds for I/O and
 * timers, run what that made ready. Returns the number of live tasks. */
static inline int corio_host_step(lua_State *L, double timeout)
{
    if (corio_host__call(L, "step", 1, timeout) < 0)
        return -1;
    int n = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return n;
}

/* The fd to poll for readability. */
static inline int corio_host_pollfd(lua_State *L)
{
    if (corio_host__call(L, "pollfd", 0, 0) < 0)
        return -1;
    int fd = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return fd;
}

/* Milliseconds until corio needs a step for its timers (0 if tasks are
 * ready), capped at max_ms; max_ms when only I/O can wake it. */
static inline int corio_host_timeout_ms(lua_State *L, int max_ms)
{
    if (corio_host__call(L, "next_timeout", 0, 0) < 0)
        return -1;
    int ms = max_ms;
    if (!lua_isnil(L, -1)) {
        double s = lua_tonumber(L, -1) * 1000.0;
        ms = s >= max_ms ? max_ms : (int)(s + 0.999);
    }
    lua_pop(L, 1);
    return ms;
}

#endif
