/* unix.c: corio.unix.listen / connect, corio.socketpair and corio.adopt.
 * Unix streams are corio.Stream objects (stream.c has their peercred,
 * send_fd and recv_fd); Unix listeners are corio.Listener objects. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "bind.h"

int l_push_unix_path(lua_State *L, const struct sockaddr_un *sa, socklen_t len)
{
    size_t n = len > offsetof(struct sockaddr_un, sun_path)
                   ? len - offsetof(struct sockaddr_un, sun_path) : 0;
    if (n == 0) {
        lua_pushliteral(L, "");                    /* unnamed (socketpair) */
    } else if (sa->sun_path[0] == '\0') {
        lua_pushliteral(L, "@");                   /* abstract */
        lua_pushlstring(L, sa->sun_path + 1, n - 1);
        lua_concat(L, 2);
    } else {
        lua_pushlstring(L, sa->sun_path, strnlen(sa->sun_path, n));
    }
    return 1;
}

/* The address for path (arg idx): "@name" is the abstract name. Raises
 * naming fname on a bad argument; ENAMETOOLONG as nil, msg, code (-1). */
static int unix_addr(lua_State *L, int idx, const char *fname, struct sockaddr_un *sa,
                     socklen_t *len)
{
    size_t n;
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_error(L, "%s: bad argument #%d (path string expected, got %s)", fname, idx,
                   luaL_typename(L, idx));
    const char *path = lua_tolstring(L, idx, &n);
    if (n == 0 || memchr(path, '\0', n))
        luaL_error(L, "%s: bad argument #%d (empty path or path with a NUL)", fname, idx);
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (n >= sizeof sa->sun_path) {
        l_fail(L, -ENAMETOOLONG);
        return -1;
    }
    memcpy(sa->sun_path, path, n);
    if (path[0] == '@')
        sa->sun_path[0] = '\0';
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] != '@'));
    return 0;
}

/* Whether a socket answers at sa: 1 live, 0 nothing or stale (refused),
 * -errno when that cannot be told (the file is then left alone). A path
 * that is not a socket (a regular file, a FIFO) is never stale: binding
 * there fails with EADDRINUSE, and nothing is removed. */
static int socket_live(const struct sockaddr_un *sa, socklen_t len)
{
    struct stat st;
    if (lstat(sa->sun_path, &st) == 0 && !S_ISSOCK(st.st_mode))
        return 1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = connect(fd, (const struct sockaddr *)sa, len) == 0 ? 1 : -errno;
    close(fd);
    if (rc == -ECONNREFUSED || rc == -ENOENT)
        return 0;
    return rc;
}

/* opts.perm: an octal string ("0660") or an integer; -1 when absent. */
static int perm_option(lua_State *L, int opts, const char *fname)
{
    if (lua_isnoneornil(L, opts))
        return -1;
    int t = lua_getfield(L, opts, "perm");
    long mode = -1;
    if (t == LUA_TSTRING) {
        const char *s = lua_tostring(L, -1);
        char *end;
        mode = strtol(s, &end, 8);
        if (!*s || *end || mode < 0 || mode > 07777)
            luaL_error(L, "%s: bad option 'perm' (octal string like \"0660\" expected)", fname);
    } else if (t != LUA_TNIL) {
        mode = (long)l_opt_int(L, opts, fname, "perm", -1);
        if (mode < 0 || mode > 0777)
            luaL_error(L, "%s: bad option 'perm' (mode 0 to 0777 expected)", fname);
    }
    lua_pop(L, 1);
    return (int)mode;
}

/* corio.unix.listen(path [, opts]): a listener on a Unix socket file (or
 * an abstract "@name"); opts.backlog, opts.perm, opts.unlink (default
 * true: a stale socket file, one that refuses connections, is replaced;
 * a live one gives EADDRINUSE). Closing it removes the file. */
static int l_unix_listen(lua_State *L)
{
    const char *fname = "corio.unix.listen";
    struct sockaddr_un sa;
    socklen_t len;
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    if (unix_addr(L, 1, fname, &sa, &len) < 0)
        return 3;
    int backlog = l_opt_int(L, 2, fname, "backlog", 0);
    int max = l_listener_max_option(L, 2, fname);
    int perm = perm_option(L, 2, fname);
    int file = sa.sun_path[0] != '\0';
    if (file && l_opt_bool(L, 2, "unlink", 1)) {
        int live = socket_live(&sa, len);
        if (live == 1)
            return l_fail(L, -EADDRINUSE);
        if (live == 0)
            unlink(sa.sun_path);
    }
    lua_settop(L, 2);
    if (l_listener_new(L, (struct sockaddr *)&sa, len, backlog, 0, 0,
                       file ? sa.sun_path : NULL) != 1)
        return 3;
    l_listener_set_max(L, max);
    if (file && perm >= 0 && chmod(sa.sun_path, (mode_t)perm) < 0) {
        int e = errno;
        lua_getfield(L, -1, "close");
        lua_pushvalue(L, -2);
        lua_call(L, 1, 0);
        return l_fail(L, -e);
    }
    return 1;
}

/* corio.unix.connect(path): a connected Unix stream. */
static int l_unix_connect(lua_State *L)
{
    struct sockaddr_un sa;
    socklen_t len;
    l_task *t = l_enter(L, "corio.unix.connect");
    if (unix_addr(L, 1, "corio.unix.connect", &sa, &len) < 0)
        return 3;
    lua_settop(L, 1);
    return l_stream_connect(L, t, (struct sockaddr *)&sa, len, 1);
}

/* corio.socketpair(): two Unix streams connected to each other. */
static int l_socketpair(lua_State *L)
{
    l_runtime *rt = l_rt(L);
    int sv[2];
    l_stream_push(L, rt, -1, 1);   /* both exist before the fds do */
    l_stream_push(L, rt, -1, 1);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return l_fail(L, -errno);
    l_stream_attach(L, -2, rt, sv[0], 1);
    l_stream_attach(L, -1, rt, sv[1], 1);
    return 2;
}

/* An int socket option of fd, or -1. */
static int sockopt(int fd, int opt)
{
    int v;
    socklen_t len = sizeof v;
    return getsockopt(fd, SOL_SOCKET, opt, &v, &len) < 0 ? -1 : v;
}

/* corio.adopt(fd): the corio object for a socket fd (a stream, a listener
 * or a UDP socket, by its type), which then owns it; nil, msg, code when
 * fd is not a socket corio handles. */
static int l_adopt(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    if (fd < 0 || fd > INT32_MAX)
        return luaL_error(L, "corio.adopt: bad argument #1 (fd expected)");
    int type = sockopt((int)fd, SO_TYPE), family = sockopt((int)fd, SO_DOMAIN);
    if (type < 0)
        return l_fail(L, -errno);
    int fl = fcntl((int)fd, F_GETFL);
    if (fl < 0 || fcntl((int)fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0)
        return l_fail(L, -errno);
    int is_unix = family == AF_UNIX;
    if (type == SOCK_STREAM && sockopt((int)fd, SO_ACCEPTCONN) == 1)
        return l_listener_adopt(L, (int)fd, is_unix);
    if (type == SOCK_STREAM) {
        l_stream_push(L, l_rt(L), (int)fd, is_unix);
        return 1;
    }
    if (type == SOCK_DGRAM && (family == AF_INET || family == AF_INET6))
        return l_udp_adopt(L, (int)fd, family);
    return l_fail(L, -EPROTOTYPE);
}

static const luaL_Reg unix_funcs[] = {
    {"unix_listen", l_unix_listen}, {"unix_connect", l_unix_connect},
    {"socketpair", l_socketpair},   {"adopt", l_adopt},
    {NULL, NULL},
};

const l_module l_unix_module = { NULL, unix_funcs };
