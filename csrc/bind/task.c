/* task.c: corio.Task: Lua coroutines run by the loop, how they suspend,
 * wake, get cancelled and hit deadlines. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include "bind.h"
#include "../core/faults.h"


static const char *const status_names[] = {
    "ready", "suspended", "done", "failed", "cancelled",
};

static int deadline_pop(lua_State *L, l_deadline *d);

void l_task_push(lua_State *L, l_task *t)
{
    l_anchor_push(L, t->rt, t->ref);
}

/* ---- the coroutine's entry: runs fn under a yieldable pcall so that
 * <close> variables and handlers run (and may suspend) on errors ---- */

/* Push the aux record of the task at idx, creating it if create is set;
 * returns 0 (pushing nothing) when there is none. Tracebacks and exit
 * hooks live there, not in every task: most tasks never need them. */
static int aux_record(lua_State *L, int idx, int create)
{
    idx = lua_absindex(L, idx);
    l_task *t = lua_touserdata(L, idx);
    if (!(t->t.uflags & TF_AUX) && !create)
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->rt->aux);
    lua_pushvalue(L, idx);
    if (lua_rawget(L, -2) == LUA_TTABLE || !create) {
        lua_remove(L, -2);
        if (lua_istable(L, -1))
            return 1;
        lua_pop(L, 1);
        return 0;
    }
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, idx);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
    lua_remove(L, -2);
    t->t.uflags |= TF_AUX;
    return 1;
}

int l_task_aux(lua_State *L, int idx, const char *key)
{
    if (!aux_record(L, idx, 0)) {
        lua_pushnil(L);
        return LUA_TNIL;
    }
    int t = lua_getfield(L, -1, key);
    lua_remove(L, -2);
    return t;
}

/* Message handler: keep the traceback beside the task, the error as is. */
static int entry_msgh(lua_State *L)
{
    l_runtime *rt = l_rt(L);
    if (l_is_cancel_error(L, 1, rt) || !rt->current)
        return 1;
    const char *msg = lua_type(L, 1) == LUA_TSTRING ? lua_tostring(L, 1)
                                                     : luaL_tolstring(L, 1, NULL);
    luaL_traceback(L, L, msg, 1);
    l_task_push(L, rt->current);
    aux_record(L, -1, 1);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "tb");
    lua_settop(L, 1);
    return 1;
}

/* After fn: returns true, results... or false, err. */
static int entry_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)ctx;
    int ok = status == LUA_OK || status == LUA_YIELD;
    lua_pushboolean(L, ok);
    lua_replace(L, 1);
    return lua_gettop(L);
}

/* The coroutine body of every task (one shared closure: upvalue 1 the
 * runtime, 2 the message handler). */
static int entry(lua_State *L)
{
    int nargs = lua_gettop(L) - 1;
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_insert(L, 1);
    return entry_k(L, lua_pcallk(L, nargs, LUA_MULTRET, 1, 0, entry_k), 0);
}

/* Finished coroutines are kept for reuse by later spawns: creating a
 * thread (and collecting it) is most of the cost of a short task. */
#define POOL_MAX 256

static void pool_put(lua_State *L, l_runtime *rt)
{
    if (rt->npool >= POOL_MAX) {
        lua_pop(L, 1);
        return;
    }
    lua_settop(lua_tothread(L, -1), 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->pool);
    lua_insert(L, -2);
    lua_rawseti(L, -2, ++rt->npool);
    lua_pop(L, 1);
}

/* Push a thread for a new task: a recycled one or a new one. */
static lua_State *pool_get(lua_State *L, l_runtime *rt)
{
    if (!rt->npool)
        return lua_newthread(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->pool);
    lua_rawgeti(L, -1, rt->npool);
    lua_pushnil(L);
    lua_rawseti(L, -3, rt->npool--);
    lua_remove(L, -2);
    return lua_tothread(L, -1);
}

l_task *l_task_new(lua_State *L, int fnidx, int nargs)
{
    l_runtime *rt = l_rt(L);
    luaL_checkstack(L, nargs + 4, "corio.spawn: too many arguments");
    l_task *t = lua_newuserdatauv(L, sizeof *t, 1);
    memset(t, 0, sizeof *t);
    t->ref = LUA_NOREF;
    l_setclass(L, CL_TASK);
    lua_State *co = pool_get(L, rt);
    if (!lua_checkstack(co, nargs + 3))
        luaL_error(L, "corio.spawn: too many arguments");
    lua_setiuservalue(L, -2, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->entry);
    for (int i = 0; i <= nargs; i++)
        lua_pushvalue(L, fnidx + i);
    lua_xmove(L, co, nargs + 2);
    t->co = co, t->rt = rt, t->nargs = nargs + 1;
    lua_pushvalue(L, -1);
    t->ref = l_anchor(L, rt);
    corio_task_start(&rt->loop, &t->t);
    return t;
}

/* ---- finishing ---- */

/* Hook i of the hooks table on top, called with the task below it. */
static int call_hook(lua_State *L, lua_Integer i)
{
    lua_rawgeti(L, -1, i);
    lua_pushvalue(L, -3);
    return lua_pcall(L, 1, 0, 0);
}

/* Call the task's on_exit hooks (in its aux record) as fn(task); a failing
 * hook is reported on stderr, never raised into the scheduler. */
static void run_exit_hooks(lua_State *L, l_task *t)
{
    if (!(t->t.uflags & TF_AUX))
        return;
    l_task_push(L, t);
    if (l_task_aux(L, -1, "hooks") != LUA_TTABLE) {
        lua_pop(L, 2);
        return;
    }
    lua_Integer n = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
        int st = call_hook(L, i);
        if (st != LUA_OK) {   /* once more after a full collection, for a lack of
                                 memory (hooks allow a second call: group.lua) */
            lua_pop(L, 1);
            lua_gc(L, LUA_GCCOLLECT);
            st = call_hook(L, i);
        }
        if (st != LUA_OK) {
            fprintf(stderr, "corio: error in a task exit hook: %s\n", l_safe_tostring(L, -1));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 2);
}

/* The task is over: release its anchor and wake whoever joins it. */
static void retire(lua_State *L, l_task *t, int status)
{
    l_runtime *rt = t->rt;
    while (t->t.deadlines)             /* each holds a registry ref */
        deadline_pop(L, (l_deadline *)t->t.deadlines);
    corio_task_finish(&rt->loop, &t->t, status);
    int report = status == ST_FAILED && !(t->joiners && t->joiners->n) &&
                 !(t->t.uflags & (TF_SUPERVISED | TF_MAIN));
    if (report)
        l_report(rt, L, t);
    run_exit_hooks(L, t);
    if (t->joiners) {
        while (corio_task_wake_first(&rt->loop, t->joiners))
            ;
        l_mem(rt, t->joiners, sizeof *t->joiners, 0);
        t->joiners = NULL;
    }
    l_anchor_drop(L, rt, t->ref);
    t->ref = LUA_NOREF;
}

/* Move the nres values on top of the coroutine into the task's user value
 * (a table, only when there is something to keep) and let the coroutine
 * go: back to the pool when it ended cleanly. */
static void stash(lua_State *L, l_task *t, int recyclable)
{
    lua_State *co = t->co;
    luaL_checkstack(L, 4, "corio");
    l_task_push(L, t);
    lua_pushthread(co);
    lua_xmove(co, L, 1);                   /* keeps co alive meanwhile */
    if (t->nres > 0) {
        lua_createtable(L, t->nres, 0);
        for (int i = t->nres; i >= 1; i--) {
            lua_xmove(co, L, 1);
            lua_rawseti(L, -2, i);
        }
    } else {
        lua_pushnil(L);
    }
    lua_setiuservalue(L, -3, 1);
    t->co = NULL;
    if (recyclable)
        pool_put(L, t->rt);
    else
        lua_pop(L, 1);
    lua_pop(L, 1);
}

struct stash_call {
    l_task *t;
    int recyclable;
};

static void stash_p(lua_State *L, void *ud)
{
    struct stash_call *c = ud;
    stash(L, c->t, c->recyclable);
}

/* stash, where a failed allocation (the results' table) cannot unwind
 * the scheduler: the task then fails with "not enough memory" (a shared
 * record, made at start-up) instead of its results, and still ends
 * cleanly. Returns 0 then. */
static int stash_protected(lua_State *L, l_task *t, int recyclable)
{
    struct stash_call c = { t, recyclable };
    if (l_protect(L, t->rt, stash_p, &c) == LUA_OK)
        return 1;
    lua_pop(L, 1);
    l_task_push(L, t);
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->rt->oom_results);
    lua_setiuservalue(L, -2, 1);
    lua_pop(L, 1);
    t->co = NULL;
    t->nres = 1;
    return 0;
}

/* Sort out how the coroutine ended: entry returned (ok, ...) or, if the
 * message handler itself failed, the resume failed. */
static void finish(l_task *t, int st, int nres)
{
    lua_State *co = t->co;
    int status = ST_FAILED;
    if (st == LUA_OK) {
        int ok = lua_toboolean(co, -nres);
        lua_remove(co, -nres);
        t->nres = nres - 1;
        status = ok ? ST_DONE : ST_FAILED;
    } else {
        t->nres = 1;
    }
    if (status == ST_FAILED && l_is_cancel_error(co, -1, t->rt))
        status = ST_CANCELLED;
    if (!stash_protected(t->rt->from, t, st == LUA_OK) && status == ST_DONE)
        status = ST_FAILED;
    retire(t->rt->from, t, status);
}

void l_task_run(corio_loop *l, corio_task *q, void *ud)
{
    l_task *t = l_task_of(q);
    l_runtime *rt = ud;
    (void)l;
    if (corio_task_done(&t->t)) {   /* cancelled before it started */
        t->nres = 0;                /* its stack holds its arguments, no results */
        stash_protected(rt->from, t, 1);
        retire(rt->from, t, ST_CANCELLED);
        return;
    }
    t->t.flags |= CORIO_TF_STARTED;
    t->t.status = ST_READY;
    rt->loop.budget = CORIO_BUDGET;
    rt->current = t;
    corio_faults_quiet(t->t.uflags & TF_NOFAULTS);
    int nres, st = lua_resume(t->co, rt->from, t->nargs, &nres);
    corio_faults_quiet(0);
    rt->current = NULL;
    t->nargs = 0;
    if (st != LUA_YIELD) {
        finish(t, st, nres);
        return;
    }
    lua_pop(t->co, nres);
    if (!t->t.wait && !corio_task_queued(&t->t))   /* a bare coroutine.yield() */
        corio_loop_ready(&rt->loop, &t->t);
}

/* ---- suspending ---- */

l_task *l_task_current(lua_State *L, const char *fname)
{
    l_task *t = l_rt(L)->current;
    if (!t)
        luaL_error(L, "%s: not inside a task", fname);
    if (t->co != L)
        luaL_error(L, "%s: cannot suspend inside a coroutine that corio does not "
                      "manage (coroutine.wrap/create inside a task)", fname);
    if (!lua_isyieldable(L))
        luaL_error(L, "%s: cannot suspend here (inside a C call that does not "
                      "allow yields, such as table.sort or string.gsub)", fname);
    if (t->t.flags & CORIO_TF_STOPPED) {   /* l_task_stop: it only unwinds now */
        l_push_cancel_error(L, t->rt);
        lua_error(L);
    }
    return t;
}

/* Raise a pending cancellation or an expired deadline, if any. */
void l_check(lua_State *L, l_task *t)
{
    corio_deadline *d;
    int what = corio_task_take_pending(&t->t, &d);
    if (what == 1)
        l_push_cancel_error(L, t->rt);
    else if (what == 2)   /* the deadline object itself is the timeout error */
        lua_rawgeti(L, LUA_REGISTRYINDEX, ((l_deadline *)d)->ref);
    if (what)
        lua_error(L);
}

void l_check_current(lua_State *L)
{
    l_task *t = l_rt(L)->current;
    if (t && t->co == L)
        l_check(L, t);
}

/* core.check(): raise a pending cancellation or expired deadline of the
 * current task (the Lua modules' waiting operations start with it). */
static int l_check_fn(lua_State *L)
{
    l_check_current(L);
    return 0;
}

l_task *l_enter(lua_State *L, const char *fname)
{
    l_task *t = l_task_current(L, fname);
    l_check(L, t);
    return t;
}

int l_pending(l_task *t)
{
    return corio_task_pending(&t->t);
}

int l_suspend(lua_State *L, l_task *t, const corio_wait_ops *wait, void *obj,
              lua_KContext ctx, lua_KFunction k)
{
    corio_task_suspend(&t->rt->loop, &t->t, wait, obj);
    return lua_yieldk(L, 0, ctx, k);
}

void l_resumed(lua_State *L, l_task *t)
{
    if (corio_task_resumed(&t->t))
        l_check(L, t);
}

/* Go to the back of the ready queue; pending cancels wait for the next
 * real suspension. */
int l_yield(lua_State *L, l_task *t, lua_KContext ctx, lua_KFunction k)
{
    corio_task_yield(&t->rt->loop, &t->t);
    return lua_yieldk(L, 0, ctx, k);
}

/* ---- corio.yield / corio.sleep ---- */

static int yield_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status, (void)ctx;
    l_resumed(L, l_rt(L)->current);
    return 0;
}

static int l_yield_fn(lua_State *L)
{
    l_task *t = l_enter(L, "corio.yield");
    return l_yield(L, t, 0, yield_k);
}

static int l_sleep(lua_State *L)
{
    lua_Number s = l_check_seconds(L, 1, "corio.sleep");
    l_task *t = l_enter(L, "corio.sleep");
    if (!(s > 0))
        return l_yield(L, t, 0, yield_k);
    if (corio_task_sleep(&t->rt->loop, &t->t, l_seconds_ns(s)) < 0)
        return luaL_error(L, "corio.sleep: not enough memory");
    return lua_yieldk(L, 0, 0, yield_k);
}

/* ---- parking (the primitive under the Lua wait queues and select) ---- */

/* The stack was emptied before parking: what is on it now are the
 * values core.wake passed. */
static int park_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status, (void)ctx;
    l_resumed(L, l_rt(L)->current);
    return lua_gettop(L);
}

/* A shielded park never raises: what is pending stays pending (unless the
 * task was stopped, l_task_stop). */
static int shield_k(lua_State *L, int status, lua_KContext ctx)
{
    l_task *t = l_rt(L)->current;
    (void)status, (void)ctx;
    if (t->t.flags & CORIO_TF_STOPPED)
        l_resumed(L, t);
    return lua_gettop(L);
}

/* core.suspend([shield]): wait until core.wake(task, ...) and return its
 * values. Shielded, cancels and deadlines neither stop the wait nor raise
 * (they are raised at the next unshielded suspension): for cleanups that
 * must wait, like a group closing its children. */
static int l_park(lua_State *L)
{
    int shield = lua_toboolean(L, 1);
    l_task *t = shield ? l_task_current(L, "corio.suspend") : l_enter(L, "corio.suspend");
    lua_settop(L, 0);
    if (shield)
        return l_suspend(L, t, &corio_wait_shield, NULL, 0, shield_k);
    return l_suspend(L, t, &corio_wait_park, NULL, 0, park_k);
}

static l_task *check_task(lua_State *L, int i)
{
    return l_checkclass(L, i, CL_TASK);
}

/* core.wake(task, ...): resume a parked task with values; false if the
 * task is not parked (already woken, cancelled or finished). */
int l_task_unpark(lua_State *L, l_task *t, int n)
{
    if ((t->t.wait != &corio_wait_park && t->t.wait != &corio_wait_shield) ||
        (t->t.flags & CORIO_TF_INTERRUPTED)) {
        lua_pop(L, n);
        return 0;
    }
    if (!lua_checkstack(t->co, n + 1))
        return luaL_error(L, "corio.wake: too many values");
    lua_xmove(L, t->co, n);
    t->nargs = n;
    l_task_wake(t);
    return 1;
}

static int l_unpark(lua_State *L)
{
    l_task *t = check_task(L, 1);
    lua_pushboolean(L, l_task_unpark(L, t, lua_gettop(L) - 1));
    return 1;
}

/* ---- join / cancel / status ---- */

/* Push the results of the finished task at idx, or raise its error. A
 * task cancelled before it started is finished before the loop pops it:
 * until then its coroutine (t->co) still holds its arguments, and nres
 * (sharing nargs's place) counts them, not results. */
int l_task_results(lua_State *L, int idx)
{
    l_task *t = lua_touserdata(L, idx);
    if (t->t.status == ST_CANCELLED && (t->co || t->nres == 0)) {
        l_push_cancel_error(L, t->rt);
        return lua_error(L);
    }
    int n = t->nres;
    luaL_checkstack(L, n + 1, "task:join: too many results");
    lua_getiuservalue(L, idx, 1);
    for (int i = 1; i <= n; i++)
        lua_rawgeti(L, -i, i);
    if (t->t.status != ST_DONE)
        return lua_error(L);
    return n;
}

/* A joiner leaves the target's queue (its waiter is the wait object). */
static void join_interrupt(corio_loop *l, corio_task *t)
{
    corio_waitq_remove(t->wait_obj);
    corio_task_wake(l, t);
}

static const corio_wait_ops join_wait = { "join", join_interrupt, 0 };

static int join_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status, (void)ctx;
    l_resumed(L, l_rt(L)->current);
    return l_task_results(L, 1);
}

/* task:join(): the joiner waits in the target's queue through a waiter on
 * its own stack (arg 2), alive as long as the wait. */
static int l_task_join(lua_State *L)
{
    l_task *target = check_task(L, 1);
    if (corio_task_done(&target->t))
        return l_task_results(L, 1);
    l_task *t = l_enter(L, "task:join");
    if (t == target)
        return luaL_error(L, "task:join: a task cannot join itself");
    if (!target->joiners) {
        target->joiners = l_mem(t->rt, NULL, 0, sizeof *target->joiners);
        if (!target->joiners)
            return luaL_error(L, "task:join: not enough memory");
        memset(target->joiners, 0, sizeof *target->joiners);
    }
    lua_settop(L, 1);
    corio_waiter *w = lua_newuserdatauv(L, sizeof *w, 0);
    memset(w, 0, sizeof *w);
    w->task = &t->t;
    corio_waitq_push(target->joiners, w);
    return l_suspend(L, t, &join_wait, w, 0, join_k);
}

static int l_task_cancel_m(lua_State *L)
{
    lua_pushboolean(L, l_task_cancel(check_task(L, 1)));
    return 1;
}

static int l_task_status(lua_State *L)
{
    lua_pushstring(L, status_names[check_task(L, 1)->t.status]);
    return 1;
}

static int l_task_tostring(lua_State *L)
{
    l_task *t = check_task(L, 1);
    lua_pushfstring(L, "corio.Task (%s): %p", status_names[t->t.status], (void *)t);
    return 1;
}

/* task:traceback(): the traceback of its error, or nil. */
static int l_task_traceback(lua_State *L)
{
    check_task(L, 1);
    l_task_aux(L, 1, "tb");
    return 1;
}

/* ---- deadlines (under corio.timeout) ---- */

static l_deadline *check_deadline(lua_State *L, int i)
{
    return l_checkclass(L, i, CL_DEADLINE);
}

/* Unlink d from its task; returns whether it fired. */
static int deadline_pop(lua_State *L, l_deadline *d)
{
    if (d->d.popped)
        return d->d.fired;
    corio_deadline_pop(&l_rt(L)->loop, &d->d);
    luaL_unref(L, LUA_REGISTRYINDEX, d->ref);
    d->ref = LUA_NOREF;
    return d->d.fired;
}

/* core.deadline(seconds): push a deadline on the current task. */
static int l_deadline_new(lua_State *L)
{
    lua_Number s = l_check_seconds(L, 1, "corio.timeout");
    l_task *t = l_task_current(L, "corio.timeout");
    l_deadline *d = lua_newuserdatauv(L, sizeof *d, 0);
    memset(d, 0, sizeof *d);
    l_setclass(L, CL_DEADLINE);
    d->ref = LUA_NOREF;
    d->d.popped = 1;     /* nothing to undo if the ref below raises */
    lua_pushvalue(L, -1);
    d->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    d->d.popped = 0;
    corio_deadline_push(&t->rt->loop, &t->t, &d->d, s > 0 ? l_seconds_ns(s) : 0);
    return 1;
}

/* d:close() -> fired, raised (whether it interrupted its task); also
 * __close and __gc. */
static int l_deadline_close(lua_State *L)
{
    l_deadline *d = check_deadline(L, 1);
    lua_pushboolean(L, deadline_pop(L, d));
    lua_pushboolean(L, d->d.raised);
    return 2;
}

static int l_deadline_tostring(lua_State *L)
{
    check_deadline(L, 1);
    lua_pushliteral(L, "timeout");
    return 1;
}

/* core.is_deadline(v): v is a deadline object (a timeout error). */
static int l_is_deadline(lua_State *L)
{
    lua_pushboolean(L, l_testclass(L, 1, CL_DEADLINE) != NULL);
    return 1;
}

/* ---- module functions ---- */

static int l_spawn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    l_task_new(L, 1, lua_gettop(L) - 1);
    return 1;
}

static int l_current(lua_State *L)
{
    l_task *t = l_rt(L)->current;
    if (t)
        l_task_push(L, t);
    else
        lua_pushnil(L);
    return 1;
}

/* core.supervise(task): its failure goes to its group, not the reporter. */
static int l_supervise(lua_State *L)
{
    l_task *t = check_task(L, 1);
    if (lua_toboolean(L, 2))
        t->t.uflags |= TF_SUPERVISED;
    else
        t->t.uflags &= (uint8_t)~TF_SUPERVISED;
    return 0;
}

/* core.on_exit(task, fn): call fn(task) when the task finishes (from the
 * scheduler, not inside a task: fn must not suspend). Returns false, and
 * registers nothing, if the task has already finished. */
static int l_on_exit(lua_State *L)
{
    l_task *t = check_task(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (corio_task_done(&t->t)) {
        lua_pushboolean(L, 0);
        return 1;
    }
    aux_record(L, 1, 1);
    if (lua_getfield(L, -1, "hooks") != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "hooks");
    }
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, luaL_len(L, -2) + 1);
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg task_funcs[] = {
    {"on_exit", l_on_exit},
    {"spawn", l_spawn},       {"current", l_current},   {"yield", l_yield_fn},
    {"sleep", l_sleep},       {"check", l_check_fn},       {"suspend", l_park},      {"wake", l_unpark},
    {"deadline", l_deadline_new}, {"is_deadline", l_is_deadline},
    {"supervise", l_supervise}, {NULL, NULL},
};

static const luaL_Reg task_methods[] = {
    {"join", l_task_join},     {"cancel", l_task_cancel_m},
    {"status", l_task_status}, {"traceback", l_task_traceback},
    {"__tostring", l_task_tostring}, {NULL, NULL},
};

static const luaL_Reg deadline_methods[] = {
    {"close", l_deadline_close}, {"__close", l_deadline_close},
    {"__gc", l_deadline_close},  {"__tostring", l_deadline_tostring},
    {NULL, NULL},
};

void l_task_init_runtime(lua_State *L, l_runtime *rt)
{
    l_anchor_init(L, rt);
    lua_createtable(L, POOL_MAX, 0);
    rt->pool = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    rt->aux = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, -1);                 /* the runtime userdata */
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, entry_msgh, 1);
    lua_pushcclosure(L, entry, 2);
    rt->entry = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_createtable(L, 1, 0);             /* the results of a task whose own
                                             could not be kept (stash_protected) */
    lua_pushliteral(L, "not enough memory");
    lua_rawseti(L, -2, 1);
    rt->oom_results = luaL_ref(L, LUA_REGISTRYINDEX);
}

static void task_open(lua_State *L)
{
    l_new_class_as(L, CL_TASK, task_methods);
    l_new_class_as(L, CL_DEADLINE, deadline_methods);
}

const l_module l_task_module = { task_open, task_funcs };
