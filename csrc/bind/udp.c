/* udp.c: corio.udp: datagram sockets (core/dgram.c). bind, connect,
 * sendto / recvfrom, send / recv on a connected socket, multicast
 * membership and options. */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <string.h>
#include "bind.h"
#include "../core/dgram.h"

#define MAX_DGRAM 65535          /* the receive buffer: any UDP payload */
#define MAX_PAYLOAD_V4 65507     /* 65535 - 8 (UDP) - 20 (IPv4) */
#define MAX_PAYLOAD_V6 65527     /* 65535 - 8 (UDP); the IPv6 header is outside */

typedef struct l_udp {
    corio_dgram *d;              /* NULL once closed */
    int family;
    int connected;
} l_udp;

/* ---- arguments ---- */

static l_udp *check_udp(lua_State *L)
{
    return l_checkclass(L, 1, CL_UDP);
}

static l_udp *check_open(lua_State *L, const char *fname)
{
    l_udp *u = check_udp(L);
    if (!u->d)
        luaL_error(L, "%s: socket is closed", fname);
    return u;
}

/* Argument idx as a host: a non-empty string (nil allowed if opt). */
static const char *check_host(lua_State *L, int idx, const char *fname, int opt)
{
    if (opt && lua_isnoneornil(L, idx))
        return NULL;
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_error(L, "%s: bad argument #%d (host string expected, got %s)", fname, idx,
                   luaL_typename(L, idx));
    size_t n;
    const char *h = lua_tolstring(L, idx, &n);
    if (!*h)
        luaL_error(L, "%s: bad argument #%d (empty host)", fname, idx);
    if (strlen(h) != n)
        luaL_error(L, "%s: bad argument #%d (host with a NUL)", fname, idx);
    return h;
}

static int check_port(lua_State *L, int idx, const char *fname)
{
    int isint;
    lua_Integer p = lua_tointegerx(L, idx, &isint);
    if (!isint)
        luaL_error(L, "%s: bad argument #%d (port number expected, got %s)", fname, idx,
                   luaL_typename(L, idx));
    if (p < 0 || p > 65535)
        luaL_error(L, "%s: bad argument #%d (port out of range 0-65535)", fname, idx);
    return (int)p;
}

/* Resolve host, port into sa; on failure push nil, msg, EAI_* and -1. */
static int resolve(lua_State *L, const char *host, int port, int passive,
                   struct sockaddr_storage *sa, socklen_t *len)
{
    int rc = corio_addr_resolve(host, port, passive, sa, len);
    if (rc == 0)
        return 0;
    l_addr_fail(L, rc);
    return -1;
}

/* ---- creating ---- */

static void udp_release(l_udp *u)
{
    if (u->d)
        corio_dgram_close(u->d);
    u->d = NULL;
}

/* Push a closed socket userdata (its metatable set before any resource
 * exists, so a failure leaks nothing). */
static l_udp *push_udp(lua_State *L)
{
    l_udp *u = lua_newuserdatauv(L, sizeof *u, 0);
    memset(u, 0, sizeof *u);
    l_setclass(L, CL_UDP);
    return u;
}

static int setflag(int fd, int level, int opt, int on)
{
    return setsockopt(fd, level, opt, &on, sizeof on) < 0 ? -errno : 0;
}

/* The options of corio.udp.bind (opts at index 3). */
static int bind_options(lua_State *L, int fd)
{
    int rc = 0;
    if (l_opt_bool(L, 3, "reuseaddr", 0))
        rc = setflag(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (!rc && l_opt_bool(L, 3, "reuseport", 0))
        rc = setflag(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    if (!rc && l_opt_bool(L, 3, "broadcast", 0))
        rc = setflag(fd, SOL_SOCKET, SO_BROADCAST, 1);
    return rc;
}

/* Resolve args 1 (host) and 2 (port) and push a socket of the address's
 * family; NULL with nil, msg, code pushed (3 values) on failure, or NULL
 * with *len 0 when host is a name to look up first (l_lookup_then). */
static l_udp *open_for(lua_State *L, const char *fname, int passive,
                       struct sockaddr_storage *sa, socklen_t *len)
{
    const char *host = check_host(L, 1, fname, passive);
    int port = check_port(L, 2, fname);
    if (passive && !lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    if (l_lookup_needed(L, host)) {   /* the caller is called again with an address */
        *len = 0;
        return NULL;
    }
    if (resolve(L, host, port, passive, sa, len) < 0)
        return NULL;
    l_udp *u = push_udp(L);
    int rc = corio_dgram_open(&l_rt(L)->loop, sa->ss_family, &u->d);
    if (rc < 0) {
        lua_pop(L, 1);
        l_fail(L, rc);
        return NULL;
    }
    u->family = sa->ss_family;
    return u;
}

/* corio.udp.bind(host, port [, opts]): a socket bound to host:port (host
 * nil or "*": any IPv4 address; "::" for IPv6); port 0 picks one. */
static int l_udp_bind(lua_State *L)
{
    struct sockaddr_storage sa;
    socklen_t len;
    l_udp *u = open_for(L, "corio.udp.bind", 1, &sa, &len);
    if (!u)
        return len ? 3 : l_lookup_then(L, 1, AF_UNSPEC, l_udp_bind);
    int rc = bind_options(L, corio_dgram_fd(u->d));
    if (!rc && bind(corio_dgram_fd(u->d), (struct sockaddr *)&sa, len) < 0)
        rc = -errno;
    if (rc < 0) {
        udp_release(u);
        return l_fail(L, rc);
    }
    return 1;
}

int l_udp_fd(lua_State *L, int idx)
{
    l_udp *u = l_testclass(L, idx, CL_UDP);
    if (!u)
        return -1;
    if (!u->d)
        luaL_error(L, "socket is closed");
    return corio_dgram_fd(u->d);
}

int l_udp_adopt(lua_State *L, int fd, int family)
{
    l_udp *u = push_udp(L);
    int rc = corio_dgram_adopt(&l_rt(L)->loop, fd, &u->d);
    if (rc < 0)
        return l_fail(L, rc);
    u->family = family;
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    u->connected = getpeername(fd, (struct sockaddr *)&peer, &len) == 0;
    return 1;
}

/* corio.udp.connect(host, port): a socket whose datagrams go to and come
 * only from host:port. */
static int l_udp_connect(lua_State *L)
{
    struct sockaddr_storage sa;
    socklen_t len;
    l_udp *u = open_for(L, "corio.udp.connect", 0, &sa, &len);
    if (!u)
        return len ? 3 : l_lookup_then(L, 1, AF_UNSPEC, l_udp_connect);
    if (connect(corio_dgram_fd(u->d), (struct sockaddr *)&sa, len) < 0) {
        int rc = -errno;
        udp_release(u);
        return l_fail(L, rc);
    }
    u->connected = 1;
    return 1;
}

/* ---- waiting ---- */

/* A task leaving a queue of the socket (cancel, timeout): its waiter is
 * the wait object, marked as having left (no task) so that it does not
 * pass on a turn it never had. */
static void udp_interrupt(corio_loop *l, corio_task *t)
{
    corio_waiter *w = t->wait_obj;
    corio_waitq_remove(w);
    w->task = NULL;
    corio_task_wake(l, t);
}

static const corio_wait_ops udp_wait = { "udp", udp_interrupt, 1 };

/* The waiter of the current call, on the task's stack (index *wi, made
 * on first use). */
static corio_waiter *waiter(lua_State *L, l_task *t, int *wi)
{
    if (!*wi) {
        corio_waiter *w = lua_newuserdatauv(L, sizeof *w, 0);
        memset(w, 0, sizeof *w);
        w->task = &t->t;
        *wi = lua_gettop(L);
    }
    return lua_touserdata(L, *wi);
}

/* On a resume: a task woken for its turn that is about to raise (cancel,
 * deadline) hands the turn to the next waiter first. Raises if
 * interrupted; returns the socket, or NULL if it was closed meanwhile. */
static corio_dgram *resumed(lua_State *L, int status, int wi, corio_waitq *(*q)(corio_dgram *))
{
    l_udp *u = lua_touserdata(L, 1);
    l_task *t = l_rt(L)->current;
    if (status == LUA_YIELD && wi) {
        corio_waiter *w = lua_touserdata(L, wi);
        if (u->d && !w->q && w->task && l_pending(t))   /* woken for its turn */
            corio_dgram_pass(u->d, q(u->d));
        l_resumed(L, t);
    }
    l_check(L, t);
    return u->d;
}

static corio_waitq *readers(corio_dgram *d) { return &d->readers; }
static corio_waitq *writers(corio_dgram *d) { return &d->writers; }

/* ---- receiving ---- */

/* The runtime's receive buffer: one for all sockets, made on first use
 * (an idle socket holds none). */
static char *scratch(lua_State *L)
{
    static const char key = 0;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &key) != LUA_TUSERDATA) {
        lua_pop(L, 1);
        lua_newuserdatauv(L, MAX_DGRAM, 0);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &key);
    }
    char *p = lua_touserdata(L, -1);
    lua_pop(L, 1);   /* anchored by the registry */
    return p;
}

/* Push data [, host, port] [, true if truncated]: n results. */
static int push_datagram(lua_State *L, const char *buf, int n, int trunc,
                         const struct sockaddr_storage *from, int with_from)
{
    lua_pushlstring(L, buf, (size_t)n);
    int nres = 1;
    if (with_from) {
        char host[64];
        int port = corio_addr_format((const struct sockaddr *)from, host, sizeof host);
        lua_pushstring(L, host);
        lua_pushinteger(L, port);
        nres = 3;
    }
    if (trunc) {
        lua_pushboolean(L, 1);
        nres++;
    }
    return nres;
}

/* Stack: 1 socket, 2 max, 3 0/1 (with sender), [4 waiter]. ctx: the
 * waiter's index (0 before the first wait). */
static int recv_k(lua_State *L, int status, lua_KContext ctx)
{
    int wi = (int)ctx;
    corio_dgram *d = resumed(L, status, wi, readers);
    if (!d)
        return l_closed(L, "socket");
    l_task *t = l_rt(L)->current;
    int with_from = (int)lua_tointeger(L, 3), trunc = 0;
    struct sockaddr_storage from;
    socklen_t flen = sizeof from;
    char *buf = scratch(L);
    corio_waiter *w = waiter(L, t, &wi);
    int n = corio_dgram_recv(d, buf, (size_t)lua_tointeger(L, 2), (struct sockaddr *)&from,
                             &flen, &trunc, w, ctx != 0);
    if (n >= 0)
        return push_datagram(L, buf, n, trunc, &from, with_from);
    if (n != -EAGAIN)
        return l_fail(L, n);
    return l_suspend(L, t, &udp_wait, w, wi, recv_k);
}

static int start_recv(lua_State *L, const char *fname, int with_from)
{
    check_open(L, fname);
    lua_Integer max = luaL_optinteger(L, 2, MAX_DGRAM);
    if (max < 1 || max > MAX_DGRAM)
        luaL_error(L, "%s: bad argument #2 (size 1-%d expected)", fname, MAX_DGRAM);
    l_task *t = l_enter(L, fname);
    lua_settop(L, 1);
    lua_pushinteger(L, max);
    lua_pushinteger(L, with_from);
    if (l_budget_spent(t))
        return l_yield(L, t, 0, recv_k);
    return recv_k(L, LUA_OK, 0);
}

/* sock:recvfrom([max]): data, host, port of the next datagram, and true
 * when it was longer than max (default 65,535) and cut. */
static int l_udp_recvfrom(lua_State *L)
{
    return start_recv(L, "udp:recvfrom", 1);
}

/* sock:recv([max]): the next datagram (true second when cut). */
static int l_udp_recv(lua_State *L)
{
    return start_recv(L, "udp:recv", 0);
}

/* ---- sending ---- */

/* Stack: 1 socket, 2 data, 3 address userdata or nil, [4 waiter]. */
static int send_k(lua_State *L, int status, lua_KContext ctx)
{
    int wi = (int)ctx;
    corio_dgram *d = resumed(L, status, wi, writers);
    if (!d)
        return l_closed(L, "socket");
    l_task *t = l_rt(L)->current;
    size_t len;
    const char *data = lua_tolstring(L, 2, &len);
    struct sockaddr_storage *to = lua_touserdata(L, 3);
    socklen_t tolen = to && to->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                      : sizeof(struct sockaddr_in);
    corio_waiter *w = waiter(L, t, &wi);
    int n = corio_dgram_send(d, data, len, (struct sockaddr *)to, tolen, w, ctx != 0);
    if (n >= 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    if (n != -EAGAIN)
        return l_fail(L, n);
    return l_suspend(L, t, &udp_wait, w, wi, send_k);
}

/* Check the payload at arg 2 against the protocol's maximum. */
static int too_big(lua_State *L, l_udp *u, size_t len)
{
    size_t max = u->family == AF_INET6 ? MAX_PAYLOAD_V6 : MAX_PAYLOAD_V4;
    if (len <= max)
        return 0;
    lua_pushnil(L);
    lua_pushfstring(L, "datagram of %d bytes is over the maximum of %d", (int)len, (int)max);
    lua_pushliteral(L, "EMSGSIZE");
    return 3;
}

/* Send arg 2 (len bytes) to `to` (NULL: the connected peer). The common
 * case is sent now with nothing allocated; otherwise (socket full, or the
 * task's budget spent, when it yields first) the address moves into a
 * userdata at 3 and send_k waits. */
static int send_now(lua_State *L, l_udp *u, l_task *t, size_t len,
                    const struct sockaddr_storage *to, socklen_t tolen)
{
    if (!l_budget_spent(t)) {
        int n = corio_dgram_try_send(u->d, lua_tostring(L, 2), len,
                                     (const struct sockaddr *)to, tolen);
        if (n != -EAGAIN)
            return n < 0 ? l_fail(L, n) : (lua_pushboolean(L, 1), 1);
    }
    lua_settop(L, 2);
    if (to)
        memcpy(lua_newuserdatauv(L, sizeof *to, 0), to, sizeof *to);
    else
        lua_pushnil(L);
    return t->rt->loop.budget < 0 ? l_yield(L, t, 0, send_k) : send_k(L, LUA_OK, 0);
}

/* sock:sendto(data, host, port): true, or nil, msg, code. */
static int l_udp_sendto(lua_State *L)
{
    const char *fname = "udp:sendto";
    l_udp *u = check_open(L, fname);
    size_t len;
    luaL_checklstring(L, 2, &len);
    const char *host = check_host(L, 3, fname, 0);
    int port = check_port(L, 4, fname);
    l_task *t = l_enter(L, fname);
    if (u->connected) {
        lua_pushnil(L);
        lua_pushliteral(L, "the socket is connected (use send)");
        lua_pushliteral(L, "EISCONN");
        return 3;
    }
    if (too_big(L, u, len))
        return 3;
    if (l_lookup_needed(L, host))
        return l_lookup_then(L, 3, u->family, l_udp_sendto);
    struct sockaddr_storage sa;
    socklen_t salen;
    if (resolve(L, host, port, 0, &sa, &salen) < 0)
        return 3;
    return send_now(L, u, t, len, &sa, salen);
}

/* sock:send(data): true, or nil, msg, code (a connected socket). */
static int l_udp_send(lua_State *L)
{
    l_udp *u = check_open(L, "udp:send");
    size_t len;
    luaL_checklstring(L, 2, &len);
    l_task *t = l_enter(L, "udp:send");
    if (too_big(L, u, len))
        return 3;
    return send_now(L, u, t, len, NULL, 0);
}

/* ---- membership and options ---- */

/* Whether iface is an IPv4 address or the name of an interface here. */
static int iface_known(const char *iface)
{
    struct in_addr a;
    return inet_pton(AF_INET, iface, &a) == 1 || if_nametoindex(iface) != 0;
}

/* Join or leave group (arg 2) on interface (arg 3: an IPv4 address for an
 * IPv4 group, else an interface name or index; default any). */
static int membership(lua_State *L, const char *fname, int join)
{
    l_udp *u = check_open(L, fname);
    const char *group = check_host(L, 2, fname, 0);
    const char *iface = lua_isnoneornil(L, 3) ? NULL : luaL_checkstring(L, 3);
    struct ip_mreqn m4 = {0};
    struct ipv6_mreq m6 = {0};
    int rc;
    if (iface && !iface_known(iface))
        return l_fail(L, -ENODEV);
    if (inet_pton(AF_INET, group, &m4.imr_multiaddr) == 1) {
        if (iface && inet_pton(AF_INET, iface, &m4.imr_address) != 1)
            m4.imr_ifindex = (int)if_nametoindex(iface);
        rc = setsockopt(corio_dgram_fd(u->d), IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP,
                        &m4, sizeof m4);
    } else if (inet_pton(AF_INET6, group, &m6.ipv6mr_multiaddr) == 1) {
        m6.ipv6mr_interface = iface ? if_nametoindex(iface) : 0;
        rc = setsockopt(corio_dgram_fd(u->d), IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP,
                        &m6, sizeof m6);
    } else {
        return luaL_error(L, "%s: bad argument #1 (an IPv4 or IPv6 group address expected)",
                          fname);
    }
    if (rc < 0)
        return l_fail(L, -errno);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_udp_join(lua_State *L)
{
    return membership(L, "udp:join", 1);
}

static int l_udp_leave(lua_State *L)
{
    return membership(L, "udp:leave", 0);
}

/* An option by name: its level and name for the socket's family, and
 * whether it takes a boolean, an integer or an address (multicast_if). */
typedef struct udp_opt {
    const char *name;
    int level4, opt4, level6, opt6;
    char kind;   /* 'b' boolean, 'i' integer, 'a' interface */
} udp_opt;

static const udp_opt options[] = {
    {"broadcast", SOL_SOCKET, SO_BROADCAST, SOL_SOCKET, SO_BROADCAST, 'b'},
    {"rcvbuf", SOL_SOCKET, SO_RCVBUF, SOL_SOCKET, SO_RCVBUF, 'i'},
    {"sndbuf", SOL_SOCKET, SO_SNDBUF, SOL_SOCKET, SO_SNDBUF, 'i'},
    {"ttl", IPPROTO_IP, IP_TTL, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 'i'},
    {"multicast_ttl", IPPROTO_IP, IP_MULTICAST_TTL, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 'i'},
    {"multicast_loop", IPPROTO_IP, IP_MULTICAST_LOOP, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 'b'},
    {"multicast_if", IPPROTO_IP, IP_MULTICAST_IF, IPPROTO_IPV6, IPV6_MULTICAST_IF, 'a'},
};

/* Set an interface option: an IPv4 address (IPv4) or an interface name. */
static int set_iface(lua_State *L, l_udp *u, const udp_opt *o)
{
    const char *v = luaL_checkstring(L, 3);
    if (!iface_known(v)) {
        errno = ENODEV;
        return -1;
    }
    if (u->family == AF_INET) {
        struct ip_mreqn m = {0};
        if (inet_pton(AF_INET, v, &m.imr_address) != 1)
            m.imr_ifindex = (int)if_nametoindex(v);
        return setsockopt(corio_dgram_fd(u->d), o->level4, o->opt4, &m, sizeof m);
    }
    unsigned idx = if_nametoindex(v);
    return setsockopt(corio_dgram_fd(u->d), o->level6, o->opt6, &idx, sizeof idx);
}

/* sock:setoption(name, value): true, or nil, msg, code. */
static int l_udp_setoption(lua_State *L)
{
    l_udp *u = check_open(L, "udp:setoption");
    const char *name = luaL_checkstring(L, 2);
    const udp_opt *o = NULL;
    for (size_t i = 0; i < sizeof options / sizeof *options; i++)
        if (!strcmp(name, options[i].name))
            o = &options[i];
    if (!o)
        return luaL_error(L, "udp:setoption: unknown option '%s' (expected broadcast, rcvbuf, "
                             "sndbuf, ttl, multicast_ttl, multicast_loop or multicast_if)", name);
    int rc;
    if (o->kind == 'a') {
        rc = set_iface(L, u, o);
    } else {
        lua_Integer n = o->kind == 'b' ? lua_toboolean(L, 3) : luaL_checkinteger(L, 3);
        if (n < INT_MIN || n > INT_MAX)
            return luaL_error(L, "udp:setoption: value of '%s' out of range", name);
        int v = (int)n;
        int v6 = u->family == AF_INET6;
        rc = setsockopt(corio_dgram_fd(u->d), v6 ? o->level6 : o->level4, v6 ? o->opt6 : o->opt4, &v,
                        sizeof v);
    }
    if (rc < 0)
        return l_fail(L, -errno);
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- the rest ---- */

static int l_udp_addr(lua_State *L)
{
    return l_push_sockname(L, corio_dgram_fd(check_open(L, "udp:addr")->d), getsockname);
}

static int l_udp_peer(lua_State *L)
{
    return l_push_sockname(L, corio_dgram_fd(check_open(L, "udp:peer")->d), getpeername);
}

/* sock:close(): true; a second close returns nil, msg, "EBADF". Tasks
 * waiting on it get nil, "socket is closed", "EBADF". */
static int l_udp_close(lua_State *L)
{
    l_udp *u = check_udp(L);
    if (!u->d)
        return l_closed(L, "socket");
    udp_release(u);
    l_settle(L, l_rt(L));
    lua_pushboolean(L, 1);
    return 1;
}

static int l_udp_gc(lua_State *L)
{
    udp_release(check_udp(L));
    return 0;
}

static int l_udp_tostring(lua_State *L)
{
    l_udp *u = check_udp(L);
    if (u->d)
        lua_pushfstring(L, "corio.UdpSocket (fd %d)", corio_dgram_fd(u->d));
    else
        lua_pushliteral(L, "corio.UdpSocket (closed)");
    return 1;
}

static const luaL_Reg udp_methods[] = {
    {"sendto", l_udp_sendto},   {"recvfrom", l_udp_recvfrom}, {"send", l_udp_send},
    {"recv", l_udp_recv},       {"join", l_udp_join},         {"leave", l_udp_leave},
    {"setoption", l_udp_setoption}, {"addr", l_udp_addr},     {"peer", l_udp_peer},
    {"close", l_udp_close},     {"__close", l_udp_gc},        {"__gc", l_udp_gc},
    {"__tostring", l_udp_tostring}, {NULL, NULL},
};

static const luaL_Reg udp_funcs[] = {
    {"udp_bind", l_udp_bind}, {"udp_connect", l_udp_connect}, {NULL, NULL},
};

static void udp_open(lua_State *L)
{
    l_new_class_as(L, CL_UDP, udp_methods);
}

const l_module l_udp_module = { udp_open, udp_funcs };
