/* channel.c: corio.Channel, FIFO channels between tasks, in C.
 *
 * A channel buffers up to cap values (in a table, its user value) and
 * keeps one FIFO queue of waiting receivers and one of waiting senders.
 * A waiter is either a task parked here in send/recv (a "plain" waiter,
 * whose value to send stays in its own suspended frame) or a select case
 * (a waitq node table { task, tag, data } from lua/corio/select.lua, held
 * by a registry ref). Both kinds share the queues, so waiters are served
 * in arrival order whatever they are.
 *
 * Invariants: receivers wait only
 * while the buffer is empty, senders only while it is full; a value moves
 * from a sender only to the buffer or to a receiver that is woken with it
 * in the same step, so a value is never lost or duplicated, whoever is
 * cancelled. A plain waiter that is cancelled leaves its queue in its
 * interrupt function; a select node that cannot be woken (its task was
 * woken by another case, cancelled or timed out) is dropped. */
#include <string.h>
#include "bind.h"


typedef corio_waitq ch_queue;
typedef struct ch_wait {
    corio_waiter cw;   /* first; its task: the task parked in send/recv, or
                          the select node's */
    int node;          /* select waiter: registry ref of its node, else LUA_NOREF */
    int tag;           /* select waiter: its case index */
} ch_wait;

/* The task of waiter w. */
static l_task *wtask(ch_wait *w)
{
    return l_task_of(w->cw.task);
}

typedef struct l_chan {
    l_runtime *rt;
    lua_Integer cap;          /* LUA_MAXINTEGER: unbounded */
    lua_Integer head, tail;   /* buffered values are uv[head..tail] */
    ch_queue recvq, sendq;
    int closed;
} l_chan;

static l_chan *check_chan(lua_State *L, const char *fname)
{
    l_chan *ch = l_testclass(L, 1, CL_CHANNEL);
    if (!ch)
        luaL_error(L, "%s: not a channel", fname);
    return ch;
}

static lua_Integer count(const l_chan *ch)
{
    return ch->tail - ch->head + 1;
}

/* ---- queues (core waitq.h) ---- */

static void q_push(ch_queue *q, ch_wait *w)
{
    corio_waitq_push(q, &w->cw);
}

static void q_unlink(ch_wait *w)
{
    corio_waitq_remove(&w->cw);
}

static ch_wait *q_head(ch_queue *q)
{
    return (ch_wait *)corio_waitq_first(q);
}

static ch_wait *new_wait(l_runtime *rt)
{
    ch_wait *w = l_mem(rt, NULL, 0, sizeof *w);
    if (w) {
        memset(w, 0, sizeof *w);
        w->node = LUA_NOREF;
        rt->nchanwait++;
    }
    return w;
}

/* Forget a select node: clear its link to w (node.centry). */
static void drop_node(lua_State *L, ch_wait *w)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, w->node);
    lua_pushnil(L);
    lua_setfield(L, -2, "centry");
    lua_pop(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, w->node);
}

/* Unlink w if queued and free it. */
static void release_wait(l_runtime *rt, ch_wait *w)
{
    q_unlink(w);
    rt->nchanwait--;
    l_mem(rt, w, sizeof *w, 0);
}

/* The same, letting go of its select node first. */
static void free_wait(lua_State *L, l_runtime *rt, ch_wait *w)
{
    if (w->node != LUA_NOREF)
        drop_node(L, w);
    release_wait(rt, w);
}

/* ---- handing values over ---- */

/* Resume plain waiter t with the nv values on top of L (popped); its
 * queue entry is the caller's to free. */
static void plain_wake(lua_State *L, l_task *t, int nv)
{
    lua_xmove(L, t->co, nv);
    t->nargs = nv;
    t->t.wait_obj = NULL;
    l_task_wake(t);
}

/* Wake select waiter w as core.wake would: its case tag, then the nv
 * values on top of L (popped). 0 when its task is not parked any more
 * (the values are dropped). */
static int node_wake(lua_State *L, ch_wait *w, int nv)
{
    lua_pushinteger(L, w->tag);
    lua_insert(L, -(nv + 1));      /* tag below the values */
    return l_task_unpark(L, wtask(w), nv + 1);
}

/* Wake waiter w (unlinked) with the nv values on top of L (popped), then
 * free it; whether it took them (a plain waiter always does). */
static int wake_one(lua_State *L, l_chan *ch, ch_wait *w, int nv)
{
    int ok = 1;
    if (w->node == LUA_NOREF)
        plain_wake(L, wtask(w), nv);
    else
        ok = node_wake(L, w, nv);
    free_wait(L, ch->rt, w);
    return ok;
}

/* Hand the value on top of L to the first waiter of q that takes it: 1 if
 * one did (the value is gone), 0 if none (still on top). */
static int wake_first(lua_State *L, l_chan *ch, ch_queue *q)
{
    while (q->n) {
        ch_wait *w = q_head(q);
        q_unlink(w);
        lua_pushvalue(L, -1);
        if (wake_one(L, ch, w, 1)) {
            lua_pop(L, 1);
            return 1;
        }
    }
    return 0;
}

/* Wake every waiter of q with the value on top of L (popped). */
static void wake_all(lua_State *L, l_chan *ch, ch_queue *q)
{
    while (q->n) {
        ch_wait *w = q_head(q);
        q_unlink(w);
        lua_pushvalue(L, -1);
        wake_one(L, ch, w, 1);
    }
    lua_pop(L, 1);
}

/* Take the value of the first sender that can give one and push it: a
 * plain sender's from its frame (it then returns true), a select send
 * case's from its node. 0 (nothing pushed) if no sender. */
static int take_sender(lua_State *L, l_chan *ch)
{
    while (ch->sendq.n) {
        ch_wait *w = q_head(&ch->sendq);
        q_unlink(w);
        int ok = 1;
        if (w->node == LUA_NOREF) {
            l_task *t = wtask(w);
            lua_pushvalue(t->co, 2);          /* send's frame: ch, v */
            lua_xmove(t->co, L, 1);
            lua_pushboolean(L, 1);
            plain_wake(L, t, 1);
        } else if ((ok = node_wake(L, w, 0))) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, w->node);
            lua_getfield(L, -1, "data");
            lua_remove(L, -2);
        }
        free_wait(L, ch->rt, w);
        if (ok)
            return 1;
    }
    return 0;
}

/* Append the value on top of L (popped) to the buffer (uv at idx). */
static void append(lua_State *L, l_chan *ch, int idx)
{
    lua_getiuservalue(L, idx, 1);
    lua_insert(L, -2);
    lua_rawseti(L, -2, ++ch->tail);
    lua_pop(L, 1);
}

/* Move waiting senders' values into the buffer while there is room. */
static void refill(lua_State *L, l_chan *ch, int idx)
{
    while (count(ch) < ch->cap && take_sender(L, ch))
        append(L, ch, idx);
}

/* Push the oldest buffered value (the buffer is not empty). */
static void shift(lua_State *L, l_chan *ch, int idx)
{
    lua_getiuservalue(L, idx, 1);
    lua_rawgeti(L, -1, ch->head);
    lua_pushnil(L);
    lua_rawseti(L, -3, ch->head);
    lua_remove(L, -2);
    if (ch->head == ch->tail)
        ch->head = 1, ch->tail = 0;
    else
        ch->head++;
    refill(L, ch, idx);
}

/* Receive without waiting: push the value and return 1 (nil once closed
 * and drained), or return 0 when a receiver would have to wait. */
static int take(lua_State *L, l_chan *ch, int idx)
{
    if (ch->tail >= ch->head) {
        shift(L, ch, idx);
        return 1;
    }
    if (take_sender(L, ch))   /* unbuffered: straight from a sender */
        return 1;
    if (ch->closed) {
        lua_pushnil(L);
        return 1;
    }
    return 0;
}

/* Send the value at vidx without waiting: 1 if it went to a receiver or
 * the buffer. */
static int give(lua_State *L, l_chan *ch, int idx, int vidx)
{
    lua_pushvalue(L, vidx);
    if (wake_first(L, ch, &ch->recvq))
        return 1;
    if (count(ch) < ch->cap) {
        append(L, ch, idx);
        return 1;
    }
    lua_pop(L, 1);
    return 0;
}

/* ---- waiting ---- */

/* A plain waiter cancelled or timed out: leave the queue. */
static void chan_interrupt(corio_loop *l, corio_task *t)
{
    ch_wait *w = t->wait_obj;
    t->wait_obj = NULL;
    if (w)
        release_wait(l_task_of(t)->rt, w);
    corio_task_wake(l, t);
}

static const corio_wait_ops chan_wait = { "channel", chan_interrupt, 0 };

/* Park the current task in q; k continues. (send and recv checked for a
 * pending cancel or deadline on entry.) */
static int park(lua_State *L, l_chan *ch, ch_queue *q, const char *fname, lua_KFunction k)
{
    l_task *t = l_task_current(L, fname);
    ch_wait *w = new_wait(ch->rt);
    if (!w)
        return luaL_error(L, "%s: not enough memory", fname);
    w->cw.task = &t->t;
    q_push(q, w);
    return l_suspend(L, t, &chan_wait, w, 0, k);
}

static void check_value(lua_State *L, l_chan *ch, const char *fname)
{
    if (lua_isnoneornil(L, 2))
        luaL_error(L, "%s: cannot send nil", fname);
    if (ch->closed)
        luaL_error(L, "%s: channel is closed", fname);
}

/* After a send waited: true (delivered) or false (the channel closed) is
 * on top. */
static int send_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status, (void)ctx;
    l_resumed(L, l_rt(L)->current);
    if (!lua_toboolean(L, -1))
        return luaL_error(L, "channel:send: channel is closed");
    return 1;   /* the true on top */
}

/* ch:send(v): put v in the channel, waiting while it is full; true.
 * Raises if v is nil or the channel is (or gets) closed. */
static int l_chan_send(lua_State *L)
{
    l_chan *ch = check_chan(L, "channel:send");
    check_value(L, ch, "channel:send");
    l_check_current(L);
    lua_settop(L, 2);
    if (give(L, ch, 1, 2)) {
        lua_pushboolean(L, 1);
        return 1;
    }
    return park(L, ch, &ch->sendq, "channel:send", send_k);
}

/* ch:try_send(v): true if sent now, false, "full" otherwise. */
static int l_chan_try_send(lua_State *L)
{
    l_chan *ch = check_chan(L, "channel:try_send");
    check_value(L, ch, "channel:try_send");
    lua_settop(L, 2);
    if (give(L, ch, 1, 2)) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "full");
    return 2;
}

/* After a receive waited: the value (nil once closed) is on top. */
static int recv_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status, (void)ctx;
    l_resumed(L, l_rt(L)->current);
    return 1;
}

/* ch:recv(): the next value, waiting for one; nil once closed and drained. */
static int l_chan_recv(lua_State *L)
{
    l_chan *ch = check_chan(L, "channel:recv");
    l_check_current(L);
    lua_settop(L, 1);
    if (take(L, ch, 1))
        return 1;
    return park(L, ch, &ch->recvq, "channel:recv", recv_k);
}

/* ch:try_recv(): the next value, or nil, "empty" | "closed". */
static int l_chan_try_recv(lua_State *L)
{
    l_chan *ch = check_chan(L, "channel:try_recv");
    lua_settop(L, 1);
    int ok = take(L, ch, 1);
    if (ok && !lua_isnil(L, -1))
        return 1;
    lua_pushnil(L);
    if (ok)
        lua_pushliteral(L, "closed");
    else
        lua_pushliteral(L, "empty");
    return 2;
}

/* ch:close(): no more sends; buffered values stay receivable, waiting
 * receivers get nil, waiting senders false (a plain send then raises, a
 * select send case too). True the first time; then nil, "channel is
 * closed", "EBADF", as every object's second close. */
static int l_chan_close(lua_State *L)
{
    l_chan *ch = check_chan(L, "channel:close");
    if (ch->closed)
        return l_closed(L, "channel");
    ch->closed = 1;
    lua_pushnil(L);
    wake_all(L, ch, &ch->recvq);
    lua_pushboolean(L, 0);
    wake_all(L, ch, &ch->sendq);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_chan_is_closed(lua_State *L)
{
    lua_pushboolean(L, check_chan(L, "channel:is_closed")->closed);
    return 1;
}

static int l_chan_len(lua_State *L)
{
    lua_pushinteger(L, count(check_chan(L, "channel:__len")));
    return 1;
}

/* ch:waiting(): senders and receivers waiting on the channel. */
static int l_chan_waiting(lua_State *L)
{
    l_chan *ch = check_chan(L, "channel:waiting");
    lua_pushinteger(L, (lua_Integer)(ch->sendq.n + ch->recvq.n));
    return 1;
}

/* ch:capacity(): the capacity, or nil when unbounded. */
static int l_chan_capacity(lua_State *L)
{
    l_chan *ch = check_chan(L, "channel:capacity");
    if (ch->cap == LUA_MAXINTEGER)
        lua_pushnil(L);
    else
        lua_pushinteger(L, ch->cap);
    return 1;
}

/* Release the waiters left when a channel is collected. In a normal GC
 * cycle they can only be select nodes of tasks that are gone; at lua_close
 * (every finalizer runs) tasks may still be parked here: they forget the
 * entry, so a later cancel does not touch freed memory. */
static void drain(lua_State *L, l_chan *ch, ch_queue *q)
{
    while (q->n) {
        ch_wait *w = q_head(q);
        if (w->node == LUA_NOREF && w->cw.task->wait_obj == w)
            w->cw.task->wait_obj = NULL;
        free_wait(L, ch->rt, w);
    }
}

static int l_chan_gc(lua_State *L)
{
    l_chan *ch = lua_touserdata(L, 1);
    drain(L, ch, &ch->recvq);
    drain(L, ch, &ch->sendq);
    return 0;
}

/* ---- for select cases (lua/corio/channel.lua) ---- */

/* ch:_take(): true, v if a receive proceeds now, else false. */
static int l_chan_take(lua_State *L)
{
    l_chan *ch = check_chan(L, "channel:recv_case");
    lua_settop(L, 1);
    lua_pushboolean(L, 1);
    if (take(L, ch, 1))
        return 2;
    lua_pushboolean(L, 0);
    return 1;
}

/* ch:_give(v): whether v was sent now. */
static int l_chan_give(lua_State *L)
{
    l_chan *ch = check_chan(L, "channel:send_case");
    if (ch->closed)
        return luaL_error(L, "channel:send_case: channel is closed");
    lua_settop(L, 2);
    lua_pushboolean(L, give(L, ch, 1, 2));
    return 1;
}

/* ch:_enlist(node, sending): queue a select node; sets node.centry so
 * the case can withdraw it (core.chan_detach). The node's task and tag
 * are read once here for the wake. */
static int l_chan_enlist(lua_State *L)
{
    l_chan *ch = check_chan(L, "channel:enlist");
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "task");
    l_task *t = l_checkclass(L, -1, CL_TASK);
    lua_getfield(L, 2, "tag");
    int tag = (int)luaL_checkinteger(L, -1);
    lua_pop(L, 2);
    /* Whatever may raise (a table growing, the ref) comes before w exists;
     * the final store reuses a key already present, so it cannot fail. */
    lua_pushboolean(L, 0);
    lua_setfield(L, 2, "centry");
    lua_pushvalue(L, 2);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    ch_wait *w = new_wait(ch->rt);
    if (!w) {
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
        return luaL_error(L, "channel: not enough memory");
    }
    w->node = ref;
    w->cw.task = &t->t;   /* kept alive by the node, which the ref holds */
    w->tag = tag;
    lua_pushlightuserdata(L, w);
    lua_setfield(L, 2, "centry");
    q_push(lua_toboolean(L, 3) ? &ch->sendq : &ch->recvq, w);
    return 0;
}

/* core.chan_detach(node): withdraw a select node still queued on a
 * channel; whether it was. */
static int l_chan_detach(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "centry");
    ch_wait *w = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!w) {
        lua_pushboolean(L, 0);
        return 1;
    }
    free_wait(L, l_rt(L), w);
    lua_pushboolean(L, 1);
    return 1;
}

/* core.channel(cap): a new channel (cap < 0: unbounded). */
static int l_chan_new(lua_State *L)
{
    lua_Integer cap = luaL_checkinteger(L, 1);
    l_chan *ch = lua_newuserdatauv(L, sizeof *ch, 1);
    memset(ch, 0, sizeof *ch);
    ch->rt = l_rt(L);
    ch->cap = cap < 0 ? LUA_MAXINTEGER : cap;
    ch->head = 1;
    l_setclass(L, CL_CHANNEL);
    lua_newtable(L);
    lua_setiuservalue(L, -2, 1);
    return 1;
}

static const luaL_Reg chan_methods[] = {
    {"send", l_chan_send},         {"try_send", l_chan_try_send},
    {"recv", l_chan_recv},         {"try_recv", l_chan_try_recv},
    {"close", l_chan_close},       {"is_closed", l_chan_is_closed},
    {"waiting", l_chan_waiting},   {"capacity", l_chan_capacity},
    {"_take", l_chan_take},        {"_give", l_chan_give},
    {"_enlist", l_chan_enlist},    {"__len", l_chan_len},
    {"__gc", l_chan_gc},           {NULL, NULL},
};

static const luaL_Reg channel_funcs[] = {
    {"channel", l_chan_new}, {"chan_detach", l_chan_detach}, {NULL, NULL},
};

static void channel_open(lua_State *L)
{
    l_new_class_as(L, CL_CHANNEL, chan_methods);
}

const l_module l_channel_module = { channel_open, channel_funcs };
