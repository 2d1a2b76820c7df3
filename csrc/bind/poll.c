/* poll.c: core.poll(fd, events): wait until an fd the runtime does not own
 * (a signalfd, a pipe, a host's socket) is ready, through the reactor. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include "bind.h"

/* The op lives in a userdata on the waiting coroutine's stack, so it stays
 * alive until its final callback even if the task is cancelled. */
typedef struct l_poll {
    corio_op pop;
    l_task *task;
} l_poll;

static void poll_cb(corio_op *op, int res, const void *data, unsigned flags)
{
    l_poll *p = corio_container_of(op, l_poll, pop);
    (void)data, (void)flags;
    op->bres = res;
    l_task_wake(p->task);
}

/* The poll is cancelled in the kernel; the task wakes at its final
 * callback. */
static void poll_interrupt(corio_loop *l, corio_task *t)
{
    l_poll *p = t->wait_obj;
    l->be->vt->cancel(l->be, &p->pop);
}

static const corio_wait_ops poll_wait = { "poll", poll_interrupt, 1 };

/* ctx: stack index of the l_poll userdata. */
static int poll_k(lua_State *L, int status, lua_KContext ctx)
{
    l_poll *p = lua_touserdata(L, (int)ctx);
    (void)status;
    l_resumed(L, l_rt(L)->current);
    int res = p->pop.bres;
    if (res < 0)
        return l_fail(L, res);
    lua_pushfstring(L, "%s%s%s", (res & POLLIN) ? "r" : "", (res & POLLOUT) ? "w" : "",
                    (res & (POLLERR | POLLHUP)) ? "e" : "");
    return 1;
}

/* core.poll(fd, "r" | "w" | "rw"): the events that happened ("r", "w",
 * plus "e" on error/hang-up), or nil, msg, code. */
static int l_poll_fd(lua_State *L)
{
    int fd = (int)luaL_checkinteger(L, 1);
    const char *ev = luaL_optstring(L, 2, "r");
    unsigned events = (strchr(ev, 'r') ? POLLIN : 0) | (strchr(ev, 'w') ? POLLOUT : 0);
    luaL_argcheck(L, fd >= 0, 1, "invalid fd");
    luaL_argcheck(L, events != 0, 2, "expected \"r\", \"w\" or \"rw\"");
    l_task *t = l_enter(L, "corio.poll");
    lua_settop(L, 2);
    l_poll *p = lua_newuserdatauv(L, sizeof *p, 0);
    memset(p, 0, sizeof *p);
    p->pop = (corio_op){.kind = CORIO_OP_POLL, .fd = fd, .cb = poll_cb, .events = events};
    p->task = t;
    corio_backend *be = t->rt->loop.be;
    int rc = be->vt->submit(be, &p->pop);
    if (rc < 0)
        return l_fail(L, rc);
    return l_suspend(L, t, &poll_wait, p, 3, poll_k);
}

static const luaL_Reg poll_funcs[] = {
    {"poll", l_poll_fd}, {NULL, NULL},
};

const l_module l_poll_module = { NULL, poll_funcs };
