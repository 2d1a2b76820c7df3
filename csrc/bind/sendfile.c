/* sendfile.c: stream:sendfile(file [, offset [, count]]) -> bytes sent:
 * the kernel copies a file to a stream (sendfile(2)) without the bytes
 * passing through Lua. When the socket is full the task waits for it to
 * drain (a POLL op, cancellable and timeable like a write); between
 * blocks it yields once its budget is spent. offset defaults to 0, count
 * to the rest of the file; fewer bytes are sent when the file is shorter.
 * The file's own position does not move. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include "bind.h"

#define BLOCK (1 << 20)   /* bytes per sendfile(2) call */

typedef struct l_sendfile {
    corio_op pop;         /* POLLOUT while the socket is full */
    l_task *task;
    int sock, fd;
    int64_t off, left, sent;
} l_sendfile;

static void pollout_cb(corio_op *op, int res, const void *data, unsigned flags)
{
    (void)data, (void)flags;
    l_sendfile *sf = corio_container_of(op, l_sendfile, pop);
    op->bres = res;
    l_task_wake(sf->task);
}

static void pollout_interrupt(corio_loop *l, corio_task *t)
{
    l_sendfile *sf = t->wait_obj;
    l->be->vt->cancel(l->be, &sf->pop);
}

static const corio_wait_ops sendfile_wait = { "sendfile", pollout_interrupt, 1 };

static int sendfile_k(lua_State *L, int status, lua_KContext ctx)
{
    l_sendfile *sf = lua_touserdata(L, (int)ctx);
    l_task *t = l_rt(L)->current;
    if (status == LUA_YIELD) {
        l_resumed(L, t);
        if (sf->pop.bres < 0 && sf->pop.bres != -ECANCELED)
            return l_fail(L, sf->pop.bres);
    }
    if (l_stream_fd(L, 1) != sf->sock)
        return l_closed(L, "stream");
    while (sf->left > 0) {
        off_t off = (off_t)sf->off;
        ssize_t n = sendfile(sf->sock, sf->fd, &off, sf->left < BLOCK ? (size_t)sf->left : BLOCK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            sf->pop = (corio_op){.kind = CORIO_OP_POLL, .fd = sf->sock, .cb = pollout_cb,
                                 .events = POLLOUT};
            int rc = t->rt->loop.be->vt->submit(t->rt->loop.be, &sf->pop);
            if (rc < 0)
                return l_fail(L, rc);
            return l_suspend(L, t, &sendfile_wait, sf, ctx, sendfile_k);
        }
        if (n < 0)
            return l_fail(L, -errno);
        if (n == 0)
            break;   /* the file is shorter than asked */
        sf->off += n, sf->left -= n, sf->sent += n;
        if (sf->left > 0 && l_budget_spent(t))
            return l_yield(L, t, ctx, sendfile_k);
    }
    lua_pushinteger(L, (lua_Integer)sf->sent);
    return 1;
}

static int l_stream_sendfile(lua_State *L)
{
    const char *fname = "stream:sendfile";
    l_checkclass(L, 1, CL_STREAM);
    int sock = l_stream_fd(L, 1);
    int is_file = luaL_getmetafield(L, 2, "__name") == LUA_TSTRING &&
                  !strcmp(lua_tostring(L, -1), "corio.File");
    if (!is_file)
        return luaL_error(L, "%s: bad argument #1 (corio.fs file expected, got %s)", fname,
                          luaL_typename(L, 2));
    lua_getfield(L, 2, "h");
    int fd = lua_isnil(L, -1) ? -1 : l_file_fd(L, -1);
    lua_pop(L, 2);
    lua_Integer off = luaL_optinteger(L, 3, 0), count = luaL_optinteger(L, 4, -1);
    if (off < 0)
        return luaL_error(L, "%s: bad argument #2 (offset must be >= 0)", fname);
    if (count < -1 || (lua_gettop(L) >= 4 && !lua_isnil(L, 4) && count < 0))
        return luaL_error(L, "%s: bad argument #3 (count must be >= 0)", fname);
    l_task *t = l_enter(L, fname);
    if (sock < 0)
        return l_closed(L, "stream");
    if (fd < 0)
        return l_closed(L, "file");
    if (l_stream_writing(L, 1))
        return luaL_error(L, "%s: another task is writing this stream", fname);
    if (count < 0) {
        struct stat st;
        if (fstat(fd, &st) < 0)
            return l_fail(L, -errno);
        count = st.st_size > off ? st.st_size - off : 0;
    }
    lua_settop(L, 4);
    l_sendfile *sf = lua_newuserdatauv(L, sizeof *sf, 0);
    memset(sf, 0, sizeof *sf);
    sf->task = t, sf->sock = sock, sf->fd = fd, sf->off = off, sf->left = count;
    return sendfile_k(L, LUA_OK, lua_gettop(L));
}

static void sendfile_open(lua_State *L)
{
    l_add_method(L, CL_STREAM, "sendfile", l_stream_sendfile);
}

const l_module l_sendfile_module = { sendfile_open, NULL };
