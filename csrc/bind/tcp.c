/* tcp.c: corio.tcp.connect and corio.tcp.listen: TCP's constructors of
 * streams and listeners (their methods are in stream.c and listener.c). */
#include "bind.h"

/* Resolve host/port (arg 1, 2) or push nil, msg, code and return -1. */
static int l_resolve(lua_State *L, int passive, struct sockaddr_storage *sa, socklen_t *len)
{
    const char *host = luaL_optstring(L, 1, NULL);
    lua_Integer port = luaL_checkinteger(L, 2);
    luaL_argcheck(L, port >= 0 && port <= 65535, 2, "port out of range");
    int rc = corio_addr_resolve(host, (int)port, passive, sa, len);
    if (rc == 0)
        return 0;
    l_addr_fail(L, rc);
    return -1;
}

static int l_tcp_connect(lua_State *L)
{
    struct sockaddr_storage sa;
    socklen_t len;
    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    l_task *t = l_enter(L, "corio.tcp.connect");
    if (l_lookup_needed(L, luaL_optstring(L, 1, NULL)))
        return l_lookup_then(L, 1, AF_UNSPEC, l_tcp_connect);
    if (l_resolve(L, 0, &sa, &len) < 0)
        return 3;
    lua_settop(L, 3);
    return l_stream_connect(L, t, (struct sockaddr *)&sa, len, 0);
}

/* corio.tcp.listen(host, port [, opts]) */
static int l_tcp_listen(lua_State *L)
{
    struct sockaddr_storage sa;
    socklen_t len;
    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    if (l_lookup_needed(L, luaL_optstring(L, 1, NULL)))
        return l_lookup_then(L, 1, AF_UNSPEC, l_tcp_listen);
    if (l_resolve(L, 1, &sa, &len) < 0)
        return 3;
    int backlog = l_opt_int(L, 3, "corio.tcp.listen", "backlog", 0);
    int reuseaddr = l_opt_bool(L, 3, "reuseaddr", 1);
    int reuseport = l_opt_bool(L, 3, "reuseport", 0);
    int max = l_listener_max_option(L, 3, "corio.tcp.listen");
    if (l_listener_new(L, (struct sockaddr *)&sa, len, backlog, reuseaddr, reuseport, NULL) != 1)
        return 3;
    l_listener_set_max(L, max);
    return 1;
}

static const luaL_Reg tcp_funcs[] = {
    {"tcp_connect", l_tcp_connect}, {"tcp_listen", l_tcp_listen}, {NULL, NULL},
};

const l_module l_tcp_module = { NULL, tcp_funcs };
