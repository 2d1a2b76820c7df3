/* stream.c: corio.Stream, a connection of any transport (TCP, Unix):
 * read, read_exact, readline, write, shutdown, close, peer, addr,
 * setoption; on Unix streams peercred, send_fd, recv_fd; and the connect
 * the transports' constructors share (tcp.c, unix.c). */
#define _GNU_SOURCE   /* struct ucred */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <sys/un.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bind.h"

#define DEFAULT_READ 65536
#define DEFAULT_LINE 65536
#define WRITE_IOV 16

/* The core stream lives inside the userdata (one block per connection).
 * Closing it with ops still in flight leaves the core using that memory
 * until their final callbacks, so the userdata is then held by a registry
 * ref (also when it was closed by __gc: it is resurrected until then). */
typedef struct l_stream {
    l_task *reader;       /* the task inside a read, suspended or woken */
    int anchor;           /* registry ref while closed but still in use */
    uint8_t open;         /* cs set up and not closed */
    uint8_t live;         /* cs set up and not yet released by the loop */
    uint8_t writing;      /* a task is inside a write or the connect */
    uint8_t counted;      /* accepted by a listener with max_connections */
    corio_stream cs;      /* last: a Unix stream's extension follows it
                             (corio_unix_stream) */
} l_stream;

/* The open core stream, or NULL once closed. */
static corio_stream *core(l_stream *st)
{
    return st->open ? &st->cs : NULL;
}

/* The loop is done with the core stream (closed and idle, or the loop is
 * closing): free its fd and buffers, let go of the userdata. */
static void stream_release(corio_handle *h)
{
    l_stream *st = container_of(h, l_stream, cs.h);
    l_runtime *rt = container_of(corio_stream_loop(&st->cs), l_runtime, loop);
    corio_stream_dispose(&st->cs);
    st->open = st->live = 0;
    if (st->anchor != LUA_NOREF) {
        luaL_unref(rt->from, LUA_REGISTRYINDEX, st->anchor);
        st->anchor = LUA_NOREF;
    }
}

static l_stream *check_stream(lua_State *L)
{
    return l_checkclass(L, 1, CL_STREAM);
}

/* The stream at arg 1, raising "<fname>: stream is closed" if it is. */
static l_stream *check_open(lua_State *L, const char *fname)
{
    l_stream *st = check_stream(L);
    if (!st->open)
        luaL_error(L, "%s: stream is closed", fname);
    return st;
}

static int closed_fail(lua_State *L)
{
    return l_closed(L, "stream");
}

/* Close the stream at idx without raising: wakes a task blocked in a read
 * (it then returns "stream is closed"); a writer wakes when the kernel
 * lets go of its data. */
static void stream_close(lua_State *L, int idx, l_stream *st)
{
    if (!st->open)
        return;
    corio_task *r = corio_stream_reader(&st->cs);
    st->open = 0;
    corio_stream_close(&st->cs);
    if (st->live) {   /* ops still to finish: hold the memory */
        lua_pushvalue(L, idx);
        st->anchor = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    if (r)
        corio_task_wake(corio_stream_loop(&st->cs), r);
    if (st->counted) {   /* a place under its listener's limit is free */
        st->counted = 0;
        l_listener_conn_closed(L, idx);
    }
}

void l_stream_set_counted(lua_State *L, int idx)
{
    l_stream *st = lua_touserdata(L, idx);
    st->counted = 1;
}

/* Push a new stream userdata (a Unix stream's when is_unix), set up on
 * fd, or closed when fd < 0. */
void l_stream_push(lua_State *L, l_runtime *rt, int fd, int is_unix)
{
    size_t size = is_unix ? offsetof(l_stream, cs) + sizeof(corio_unix_stream) : sizeof(l_stream);
    l_stream *st = lua_newuserdatauv(L, size, 0);
    memset(st, 0, size);
    st->anchor = LUA_NOREF;
    l_setclass(L, CL_STREAM);
    if (fd >= 0)
        l_stream_attach(L, -1, rt, fd, is_unix);
}

void l_stream_attach(lua_State *L, int idx, l_runtime *rt, int fd, int is_unix)
{
    l_stream *st = lua_touserdata(L, idx);
    corio_stream_init(&st->cs, &rt->loop, fd, stream_release);
    if (is_unix)
        corio_stream_set_unix(&st->cs);
    st->open = st->live = 1;
}

/* ---- reading ---- */

/* A cancelled or timed-out reader gives the stream up at once. */
static void read_interrupt(corio_loop *l, corio_task *t)
{
    l_stream *st = t->wait_obj;
    st->reader = NULL;
    if (st->open)
        corio_stream_forget_reader(&st->cs);
    corio_task_wake(l, t);
}

static const corio_wait_ops read_wait = { "read", read_interrupt, 1 };

/* Wait for more data, then continue in k. */
static int wait_data(lua_State *L, l_stream *st, const char *fname, lua_KContext ctx,
                     lua_KFunction k)
{
    l_task *t = l_task_current(L, fname);
    if (st->reader && st->reader != t)
        return luaL_error(L, "%s: another task is reading this stream", fname);
    l_check(L, t);   /* a cancel or deadline that came after the wake */
    int rc = corio_stream_want_read(&st->cs, &t->t);
    if (rc < 0)
        return l_fail(L, rc);
    st->reader = t;
    return l_suspend(L, t, &read_wait, st, ctx, k);
}

/* On a resume: forget the reader slot, raise cancel/timeout if any.
 * Returns the core stream, or NULL if it was closed meanwhile. */
static corio_stream *reading(lua_State *L, int status)
{
    l_stream *st = lua_touserdata(L, 1);
    if (status == LUA_YIELD) {
        l_task *t = l_rt(L)->current;
        if (st->reader == t)
            st->reader = NULL;
        l_resumed(L, t);
    }
    return core(st);
}

/* Move up to n buffered bytes into a Lua string. */
static int take(lua_State *L, corio_stream *s, size_t n)
{
    if (n > corio_stream_buffered(s))
        n = corio_stream_buffered(s);
    lua_pushlstring(L, corio_stream_data(s), n);
    corio_stream_consume(s, n);
    return 1;
}

/* End of data: nil at a clean end, nil, msg, code on an error. */
static int at_end(lua_State *L, corio_stream *s)
{
    if (corio_stream_read_error(s))
        return l_fail(L, corio_stream_read_error(s));
    lua_pushnil(L);
    return 1;
}

static int ended(corio_stream *s)
{
    return corio_stream_ended(s);
}

static int read_k(lua_State *L, int status, lua_KContext ctx)
{
    corio_stream *s = reading(L, status);
    if (!s)
        return closed_fail(L);
    if (corio_stream_buffered(s))
        return take(L, s, (size_t)ctx);
    if (ended(s))
        return at_end(L, s);
    return wait_data(L, lua_touserdata(L, 1), "stream:read", ctx, read_k);
}

/* Enter a read: a task is required; a task that keeps finding data
 * already buffered yields after its budget so others get to run. */
static int start_read(lua_State *L, const char *fname, lua_KContext ctx, lua_KFunction k)
{
    l_task *t = l_enter(L, fname);
    l_stream *st = lua_touserdata(L, 1);
    if (st->reader && st->reader != t)
        return luaL_error(L, "%s: another task is reading this stream", fname);
    if (l_budget_spent(t)) {
        st->reader = t;   /* it keeps the read across the yield */
        return l_yield(L, t, ctx, k);
    }
    return k(L, LUA_OK, ctx);
}

/* stream:read([n]): up to n bytes (default 64 KiB); nil at end of stream. */
static int l_stream_read(lua_State *L)
{
    check_open(L, "stream:read");
    lua_Integer n = luaL_optinteger(L, 2, DEFAULT_READ);
    luaL_argcheck(L, n > 0, 2, "must be positive");
    lua_settop(L, 2);
    return start_read(L, "stream:read", (lua_KContext)n, read_k);
}

static int read_exact_k(lua_State *L, int status, lua_KContext ctx)
{
    corio_stream *s = reading(L, status);
    if (!s)
        return closed_fail(L);
    if (corio_stream_buffered(s) >= (size_t)ctx)
        return take(L, s, (size_t)ctx);
    if (ended(s)) {
        if (corio_stream_read_error(s))
            return l_fail(L, corio_stream_read_error(s));
        lua_pushnil(L);
        lua_pushliteral(L, "unexpected end of stream");
        lua_pushliteral(L, "EOF");
        return 3;
    }
    return wait_data(L, lua_touserdata(L, 1), "stream:read_exact", ctx, read_exact_k);
}

/* stream:read_exact(n): exactly n bytes; at a premature end, nil, msg, code
 * (the bytes received stay buffered). */
static int l_stream_read_exact(lua_State *L)
{
    check_open(L, "stream:read_exact");
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 0, 2, "must not be negative");
    lua_settop(L, 2);
    if (n == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    return start_read(L, "stream:read_exact", (lua_KContext)n, read_exact_k);
}

static int line_too_long(lua_State *L)
{
    lua_pushnil(L);
    lua_pushliteral(L, "line too long");
    lua_pushliteral(L, "EMSGSIZE");
    return 3;
}

/* ctx: bytes already searched for "\n" (corio_buf_line). */
static int readline_k(lua_State *L, int status, lua_KContext ctx)
{
    corio_stream *s = reading(L, status);
    if (!s)
        return closed_fail(L);
    size_t max = (size_t)lua_tointeger(L, 2), from = (size_t)ctx, used;
    /* a clean end makes the unterminated rest the last line */
    long n = corio_stream_line(s, &from, max, ended(s) && !corio_stream_read_error(s), &used);
    if (n == -EMSGSIZE)
        return line_too_long(L);
    if (n >= 0) {
        lua_pushlstring(L, corio_stream_data(s), (size_t)n);
        corio_stream_consume(s, used);
        return 1;
    }
    if (ended(s))
        return at_end(L, s);
    /* the search resumes where this one stopped, also after a wake that
     * brought no new byte (a backpressure stop and re-arm) */
    return wait_data(L, lua_touserdata(L, 1), "stream:readline",
                     (lua_KContext)from, readline_k);
}

/* stream:readline([max]): next line without its ending; nil at end of
 * stream; nil, "line too long" past max bytes (default 64 KiB). */
static int l_stream_readline(lua_State *L)
{
    check_open(L, "stream:readline");
    lua_Integer max = luaL_optinteger(L, 2, DEFAULT_LINE);
    luaL_argcheck(L, max > 0, 2, "must be positive");
    lua_settop(L, 1);
    lua_pushinteger(L, max);
    return start_read(L, "stream:readline", 0, readline_k);
}

/* ---- writing ---- */

/* A write (or connect) is interrupted through the kernel: the writer
 * wakes at the op's final callback, once the kernel lets go of its bytes. */
static void write_interrupt(corio_loop *l, corio_task *t)
{
    l_stream *st = t->wait_obj;
    (void)l;
    if (st->open)
        corio_stream_cancel_write(&st->cs);
}

static const corio_wait_ops write_wait = { "write", write_interrupt, 1 };

static int write_k(lua_State *L, int status, lua_KContext ctx)
{
    l_stream *st = lua_touserdata(L, 1);
    l_task *t = l_rt(L)->current;
    (void)status, (void)ctx;
    st->writing = 0;
    l_resumed(L, t);
    if (!st->open)
        return closed_fail(L);
    if (corio_stream_write_error(&st->cs))
        return l_fail(L, corio_stream_write_error(&st->cs));
    lua_pushboolean(L, 1);
    return 1;
}

/* Collect the string arguments into iov (at most WRITE_IOV entries are
 * on the stack; more go to a userdata left on the Lua stack). */
static struct iovec *gather(lua_State *L, struct iovec *small, int *cnt)
{
    int n = lua_gettop(L) - 1;
    struct iovec *iov = small;
    if (n > WRITE_IOV)
        iov = lua_newuserdatauv(L, sizeof *iov * (size_t)n, 0);
    *cnt = 0;
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *p = luaL_checklstring(L, i + 2, &len);
        if (len)
            iov[(*cnt)++] = (struct iovec){(void *)p, len};
    }
    return iov;
}

/* stream:write(s, ...): returns true once every byte is written; the
 * strings stay on this coroutine's stack, so alive, until then. */
static int l_stream_write(lua_State *L)
{
    l_stream *st = check_open(L, "stream:write");
    struct iovec small[WRITE_IOV];
    int cnt;
    struct iovec *iov = gather(L, small, &cnt);
    l_task *t = l_enter(L, "stream:write");
    if (st->writing)
        return luaL_error(L, "stream:write: another task is writing this stream");
    if (corio_stream_broken(&st->cs)) {
        lua_pushnil(L);
        lua_pushliteral(L, "an earlier write was interrupted");
        lua_pushliteral(L, "EPIPE");
        return 3;
    }
    if (cnt == 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    int rc = corio_stream_write(&st->cs, iov, cnt, &t->t);
    if (rc < 0)
        return l_fail(L, rc);
    st->writing = 1;
    return l_suspend(L, t, &write_wait, st, 0, write_k);
}

/* ---- the rest ---- */

static int l_stream_shutdown(lua_State *L)
{
    l_stream *st = check_open(L, "stream:shutdown");
    int rc = corio_stream_shutdown(&st->cs);
    if (rc < 0)
        return l_fail(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

/* stream:close(): true; a second close returns nil, msg, "EBADF". */
static int l_stream_close(lua_State *L)
{
    l_stream *st = check_stream(L);
    if (!st->open)
        return closed_fail(L);
    stream_close(L, 1, st);
    l_settle(L, l_rt(L));
    lua_pushboolean(L, 1);
    return 1;
}

static int l_stream_gc(lua_State *L)
{
    stream_close(L, 1, check_stream(L));
    return 0;
}

int l_push_sockname(lua_State *L, int fd, int (*get)(int, struct sockaddr *, socklen_t *))
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    if (get(fd, (struct sockaddr *)&sa, &len) < 0)
        return l_fail(L, -errno);
    if (sa.ss_family == AF_UNIX)
        return l_push_unix_path(L, (struct sockaddr_un *)&sa, len);
    char host[64];
    int port = corio_addr_format((struct sockaddr *)&sa, host, sizeof host);
    lua_pushstring(L, host);
    lua_pushinteger(L, port);
    return 2;
}

static int l_stream_peer(lua_State *L)
{
    return l_push_sockname(L, corio_stream_fd(&check_open(L, "stream:peer")->cs), getpeername);
}

static int l_stream_addr(lua_State *L)
{
    return l_push_sockname(L, corio_stream_fd(&check_open(L, "stream:addr")->cs), getsockname);
}

/* stream:setoption(name, value): nodelay, keepalive (booleans), rcvbuf,
 * sndbuf (bytes). */
static int l_stream_setoption(lua_State *L)
{
    l_stream *st = check_open(L, "stream:setoption");
    const char *name = luaL_checkstring(L, 2);
    int level = SOL_SOCKET, opt, v;
    if (!strcmp(name, "nodelay"))
        level = IPPROTO_TCP, opt = TCP_NODELAY, v = lua_toboolean(L, 3);
    else if (!strcmp(name, "keepalive"))
        opt = SO_KEEPALIVE, v = lua_toboolean(L, 3);
    else if (!strcmp(name, "rcvbuf") || !strcmp(name, "sndbuf"))
        opt = name[0] == 'r' ? SO_RCVBUF : SO_SNDBUF, v = (int)luaL_checkinteger(L, 3);
    else
        return luaL_error(L, "stream:setoption: unknown option '%s' "
                             "(expected nodelay, keepalive, rcvbuf or sndbuf)", name);
    if (setsockopt(corio_stream_fd(&st->cs), level, opt, &v, sizeof v) < 0)
        return l_fail(L, -errno);
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- Unix streams: credentials, fd passing ---- */

/* The open Unix stream at arg 1 (raises naming fname otherwise). */
static l_stream *check_unix(lua_State *L, const char *fname)
{
    l_stream *st = check_open(L, fname);
    if (!corio_stream_is_unix(&st->cs))
        luaL_error(L, "%s: not a Unix stream", fname);
    return st;
}

int l_stream_fd(lua_State *L, int idx)
{
    l_stream *st = l_testclass(L, idx, CL_STREAM);
    if (!st)
        return -1;
    if (!st->open)
        luaL_error(L, "stream is closed");
    return corio_stream_fd(&st->cs);
}

/* stream:peercred(): pid, uid, gid of the peer process (at connect). */
static int l_stream_peercred(lua_State *L)
{
    l_stream *st = check_unix(L, "stream:peercred");
    struct ucred cr;
    socklen_t len = sizeof cr;
    if (getsockopt(corio_stream_fd(&st->cs), SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
        return l_fail(L, -errno);
    lua_pushinteger(L, cr.pid);
    lua_pushinteger(L, cr.uid);
    lua_pushinteger(L, cr.gid);
    return 3;
}

static int recv_fd_k(lua_State *L, int status, lua_KContext ctx)
{
    corio_stream *s = reading(L, status);
    if (!s)
        return closed_fail(L);
    size_t n;
    int fd = corio_stream_take_fd(s, &n);
    if (fd >= 0) {
        lua_pushinteger(L, fd);
        take(L, s, n);
        return 2;
    }
    if (fd == -EMFILE) {
        lua_pushnil(L);
        lua_pushliteral(L, "passed fds were lost (the process was out of fds, "
                           "or a message carried more than 32)");
        lua_pushliteral(L, "EMFILE");
        return 3;
    }
    if (ended(s))
        return at_end(L, s);
    return wait_data(L, lua_touserdata(L, 1), "stream:recv_fd", ctx, recv_fd_k);
}

/* stream:recv_fd(): the next fd passed to the stream (the caller owns it)
 * and the bytes from the read position up to the end of the message that
 * carried it ("" when reads went past them); waits like a read; nil at
 * end of stream. */
static int l_stream_recv_fd(lua_State *L)
{
    check_unix(L, "stream:recv_fd");
    lua_settop(L, 1);
    return start_read(L, "stream:recv_fd", 0, recv_fd_k);
}

/* A SENDMSG carrying one fd; on the sender's stack until its callback. */
typedef struct l_sendfd {
    corio_msg_op op;
    struct msghdr m;
    struct iovec iov;
    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } ctl;
    l_task *task;
} l_sendfd;

static void sendfd_cb(corio_op *op, int res, const void *data, unsigned flags)
{
    l_sendfd *p = corio_container_of(op, l_sendfd, op.op);
    (void)data, (void)flags;
    op->bres = res;
    l_task_wake(p->task);
}

static void sendfd_interrupt(corio_loop *l, corio_task *t)
{
    l_sendfd *p = t->wait_obj;
    l->be->vt->cancel(l->be, &p->op.op);
}

static const corio_wait_ops sendfd_wait = { "send_fd", sendfd_interrupt, 1 };

/* Stack: 1 stream, 2 fd or object, 3 data, 4 the l_sendfd. */
static int send_fd_k(lua_State *L, int status, lua_KContext ctx)
{
    l_stream *st = lua_touserdata(L, 1);
    l_sendfd *p = lua_touserdata(L, 4);
    (void)status, (void)ctx;
    st->writing = 0;
    int res = p->op.op.bres;
    int partial = res > 0 && (size_t)res < p->iov.iov_len;
    if (partial && st->open && l_pending(l_rt(L)->current))
        corio_stream_break(&st->cs);   /* interrupted mid-message */
    l_resumed(L, l_rt(L)->current);
    if (!st->open)
        return closed_fail(L);
    if (res < 0)
        return l_fail(L, res);
    if (partial) {   /* the fd went; the rest as a write, which must not be cut */
        corio_stream_mark_partial(&st->cs);
        lua_settop(L, 1);
        lua_pushlstring(L, (char *)p->iov.iov_base + res, p->iov.iov_len - (size_t)res);
        return l_stream_write(L);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* The fd to pass at idx: an integer, or a stream, listener or UDP socket
 * (which stays open: the kernel passes a duplicate). */
static int fd_to_pass(lua_State *L, int idx, const char *fname)
{
    int isint = 0, fd;
    lua_Integer i = lua_type(L, idx) == LUA_TNUMBER ? lua_tointegerx(L, idx, &isint) : 0;
    if (isint)
        fd = i >= 0 && i <= INT32_MAX ? (int)i : -1;
    else if ((fd = l_stream_fd(L, idx)) < 0 && (fd = l_listener_fd(L, idx)) < 0)
        fd = l_udp_fd(L, idx);
    if (fd < 0)
        luaL_error(L, "%s: bad argument #1 (fd, stream, listener or UDP socket expected)", fname);
    return fd;
}

/* stream:send_fd(x [, data]): send one fd with data (default one byte) in
 * one message; true, or nil, msg, code. */
static int l_stream_send_fd(lua_State *L)
{
    const char *fname = "stream:send_fd";
    l_stream *st = check_unix(L, fname);
    int fd = fd_to_pass(L, 2, fname);
    size_t len;
    const char *data = luaL_optlstring(L, 3, "", &len);
    if (len == 0)
        data = "\0", len = 1;   /* a stream message carries at least a byte */
    l_task *t = l_enter(L, fname);
    if (st->writing)
        return luaL_error(L, "%s: another task is writing this stream", fname);
    if (corio_stream_broken(&st->cs))
        return l_fail(L, -EPIPE);
    lua_settop(L, 2);
    lua_pushlstring(L, data, len);   /* 3: kept alive until sent */
    l_sendfd *p = lua_newuserdatauv(L, sizeof *p, 0);
    memset(p, 0, sizeof *p);
    p->iov = (struct iovec){(void *)lua_tostring(L, 3), len};
    p->m = (struct msghdr){.msg_iov = &p->iov, .msg_iovlen = 1, .msg_control = p->ctl.b,
                           .msg_controllen = sizeof p->ctl.b};
    struct cmsghdr *c = CMSG_FIRSTHDR(&p->m);
    c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS, c->cmsg_len = CMSG_LEN(sizeof fd);
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    p->op = (corio_msg_op){.op = {.kind = CORIO_OP_SENDMSG, .fd = corio_stream_fd(&st->cs), .cb = sendfd_cb},
                           .msg = &p->m};
    p->task = t;
    corio_backend *be = t->rt->loop.be;
    int rc = be->vt->submit(be, &p->op.op);
    if (rc < 0)
        return l_fail(L, rc);
    st->writing = 1;
    return l_suspend(L, t, &sendfd_wait, p, 0, send_fd_k);
}

static int l_stream_tostring(lua_State *L)
{
    l_stream *st = check_stream(L);
    if (st->open)
        lua_pushfstring(L, "corio.Stream (fd %d)", corio_stream_fd(&st->cs));
    else
        lua_pushliteral(L, "corio.Stream (closed)");
    return 1;
}

/* ---- connecting ---- */

/* ctx: stack index of the new stream. */
static int connect_k(lua_State *L, int status, lua_KContext ctx)
{
    l_stream *st = lua_touserdata(L, (int)ctx);
    l_task *t = l_rt(L)->current;
    (void)status;
    st->writing = 0;
    if (t->t.flags & CORIO_TF_INTERRUPTED)
        stream_close(L, (int)ctx, st);
    l_resumed(L, t);
    int res = st->open ? corio_stream_connect_result(&st->cs) : -ECANCELED;
    if (res < 0) {
        stream_close(L, (int)ctx, st);
        return l_fail(L, res);
    }
    lua_settop(L, (int)ctx);
    return 1;
}

int l_stream_connect(lua_State *L, l_task *t, const struct sockaddr *sa, socklen_t len,
                     int is_unix)
{
    l_runtime *rt = t->rt;
    l_stream_push(L, rt, -1, is_unix);
    int idx = lua_gettop(L);
    l_stream *st = lua_touserdata(L, idx);
    int rc = corio_stream_connect(&st->cs, &rt->loop, sa, len, &t->t, stream_release);
    if (rc < 0)
        return l_fail(L, rc);
    if (is_unix)
        corio_stream_set_unix(&st->cs);
    st->open = st->live = 1;
    if (corio_stream_connect_result(&st->cs) != 1) {
        rc = corio_stream_connect_result(&st->cs);
        stream_close(L, idx, st);
        return l_fail(L, rc);
    }
    st->writing = 1;
    return l_suspend(L, t, &write_wait, st, idx, connect_k);
}

static const luaL_Reg stream_methods[] = {
    {"read", l_stream_read},         {"read_exact", l_stream_read_exact},
    {"readline", l_stream_readline}, {"write", l_stream_write},
    {"shutdown", l_stream_shutdown}, {"close", l_stream_close},
    {"peer", l_stream_peer},         {"addr", l_stream_addr},
    {"setoption", l_stream_setoption}, {"__close", l_stream_gc},
    {"peercred", l_stream_peercred}, {"send_fd", l_stream_send_fd},
    {"recv_fd", l_stream_recv_fd},
    {"__gc", l_stream_gc},           {"__tostring", l_stream_tostring},
    {NULL, NULL},
};

int l_stream_writing(lua_State *L, int idx)
{
    l_stream *st = l_checkclass(L, idx, CL_STREAM);
    return st->writing;
}

static void stream_open(lua_State *L)
{
    l_new_class_as(L, CL_STREAM, stream_methods);
}

const l_module l_stream_module = { stream_open, NULL };
