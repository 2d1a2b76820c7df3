/* runtime.c: luaopen_corio_core, the per-state runtime, and the functions
 * that drive the loop: run, step, pollfd. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bind.h"
#include "../core/faults.h"

#define RUNTIME_MT "corio.Runtime"
#define CANCELLED_MT "corio.Cancelled"
#define RUNTIME_KEY "corio.runtime"
#define IDLE_GRACE_NS 50000000   /* quiet time before idle garbage collection */
#define SETTLE_NS 1000000000     /* longest wait for the kernel to release closed fds */
#define DEADLOCK_ROUNDS 3        /* rounds of cancelling a deadlock before stopping */
#define LEFTOVER_SHOWN 8         /* leftover tasks named in a deadlock error */

l_runtime *l_rt(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

int l_fail(lua_State *L, int err)
{
    lua_pushnil(L);
    lua_pushstring(L, strerror(err < 0 ? -err : err));
    lua_pushstring(L, corio_errname(err));
    return 3;
}

int l_addr_fail(lua_State *L, int rc)
{
    lua_pushnil(L);
    lua_pushstring(L, corio_addr_error(rc));
    lua_pushstring(L, corio_addr_errname(rc));
    return 3;
}

int l_closed(lua_State *L, const char *what)
{
    lua_pushnil(L);
    lua_pushfstring(L, "%s is closed", what);
    lua_pushliteral(L, "EBADF");
    return 3;
}

uint64_t l_seconds_ns(lua_Number s)
{
    if (!(s > 0))
        return 0;
    return (uint64_t)((s < 1e9 ? s : 1e9) * 1e9);
}

lua_Number l_check_seconds(lua_State *L, int idx, const char *fname)
{
    int isnum;
    lua_Number s = lua_tonumberx(L, idx, &isnum);
    if (!isnum)
        luaL_error(L, "%s: bad argument #%d (number expected, got %s)", fname, idx,
                   luaL_typename(L, idx));
    if (s != s)
        luaL_error(L, "%s: bad argument #%d (not a number: NaN)", fname, idx);
    return s;
}

int l_opt_bool(lua_State *L, int opts, const char *name, int def)
{
    if (lua_isnoneornil(L, opts))
        return def;
    int t = lua_getfield(L, opts, name);
    int v = t == LUA_TNIL ? def : lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

int l_opt_int(lua_State *L, int opts, const char *fname, const char *name, int def)
{
    if (lua_isnoneornil(L, opts))
        return def;
    lua_getfield(L, opts, name);
    int isint, v = def;
    lua_Integer i = lua_tointegerx(L, -1, &isint);
    if (isint)
        v = i < INT_MIN ? INT_MIN : i > INT_MAX ? INT_MAX : (int)i;
    else if (!lua_isnil(L, -1))
        luaL_error(L, "%s: bad option '%s' (integer expected, got %s)", fname, name,
                   luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

int l_is_cancel_error(lua_State *L, int idx, l_runtime *rt)
{
    idx = lua_absindex(L, idx);
    l_push_cancel_error(L, rt);
    int same = lua_rawequal(L, idx, -1);
    lua_pop(L, 1);
    return same;
}

void l_new_class(lua_State *L, const char *mt, const luaL_Reg *methods)
{
    luaL_newmetatable(L, mt);
    lua_pushvalue(L, -2);
    luaL_setfuncs(L, methods, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

#define MODULE(name)
#define CLASS(id, name) [CL_##id] = name,
static const char *const class_names[CL_COUNT] = {
#include "modules.h"
};
#undef MODULE
#undef CLASS

void l_new_class_as(lua_State *L, int cls, const luaL_Reg *methods)
{
    l_runtime *rt = lua_touserdata(L, -1);
    l_new_class(L, class_names[cls], methods);
    luaL_getmetatable(L, class_names[cls]);
    rt->mt[cls] = luaL_ref(L, LUA_REGISTRYINDEX);
}

void l_add_method(lua_State *L, int cls, const char *name, lua_CFunction fn)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, ((l_runtime *)lua_touserdata(L, -1))->mt[cls]);
    lua_pushvalue(L, -2);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

void l_setclass(lua_State *L, int cls)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, l_rt(L)->mt[cls]);
    lua_setmetatable(L, -2);
}

void *l_testclass(lua_State *L, int idx, int cls)
{
    void *p = lua_touserdata(L, idx);
    if (!p || !lua_getmetatable(L, idx))
        return NULL;
    lua_rawgeti(L, LUA_REGISTRYINDEX, l_rt(L)->mt[cls]);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same ? p : NULL;
}

void *l_checkclass(lua_State *L, int idx, int cls)
{
    void *p = l_testclass(L, idx, cls);
    if (!p)
        luaL_typeerror(L, idx, class_names[cls]);
    return p;
}

void l_push_cancel_error(lua_State *L, l_runtime *rt)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->cancel_err);
}

static int tolstring(lua_State *L)
{
    luaL_tolstring(L, 1, NULL);
    return 1;
}

const char *l_safe_tostring(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_pushcfunction(L, tolstring);
    lua_pushvalue(L, idx);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_isstring(L, -1)) {
        lua_pop(L, 1);
        lua_pushstring(L, luaL_typename(L, idx));
    }
    lua_replace(L, idx);
    return lua_tostring(L, idx);
}

/* Push the error of the failed task at idx (kept in its user value). */
static int push_task_error(lua_State *L, int idx)
{
    lua_getiuservalue(L, idx, 1);
    int type = lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
    return type;
}

/* Report the error of a task nobody joins: to the on_error handler as
 * (traceback, task, error), else to stderr. Never raises. */
static void report(l_runtime *rt, lua_State *L, l_task *t)
{
    int top = lua_gettop(L);
    l_task_push(L, t);                                    /* top+1 */
    push_task_error(L, top + 1);                          /* top+2 */
    if (l_task_aux(L, top + 1, "tb") != LUA_TSTRING) {      /* top+3: traceback */
        lua_pop(L, 1);
        lua_pushvalue(L, top + 2);
        l_safe_tostring(L, -1);
    }
    if (rt->on_error == LUA_NOREF) {
        fprintf(stderr, "corio: error in task: %s\n", lua_tostring(L, top + 3));
    } else {
        lua_rawgeti(L, LUA_REGISTRYINDEX, rt->on_error);
        lua_pushvalue(L, top + 3);
        lua_pushvalue(L, top + 1);
        lua_pushvalue(L, top + 2);
        if (lua_pcall(L, 3, 0, 0) != LUA_OK)
            fprintf(stderr, "corio: error in the on_error handler: %s\n",
                    l_safe_tostring(L, -1));
    }
    lua_settop(L, top);
}

static void report_p(lua_State *L, void *t)
{
    report(l_rt(L), L, t);
}

/* Report an unjoined task's error; the scheduler calls this, so a failed
 * allocation (the traceback's text) is reported on stderr, not raised. */
void l_report(l_runtime *rt, lua_State *L, l_task *t)
{
    if (l_protect(L, rt, report_p, t) != LUA_OK) {
        lua_pop(L, 1);
        fprintf(stderr, "corio: a task failed; not enough memory to report its error\n");
    }
}

struct protect_call {
    void (*fn)(lua_State *L, void *ud);
    void *ud;
};

static int protect_k(lua_State *L)
{
    struct protect_call *c = lua_touserdata(L, 1);
    c->fn(L, c->ud);
    return 0;
}

int l_protect(lua_State *L, l_runtime *rt, void (*fn)(lua_State *L, void *ud), void *ud)
{
    struct protect_call c = { fn, ud };
    if (!lua_checkstack(L, 3)) {
        lua_pushnil(L);   /* (room for one value is always there) */
        return LUA_ERRMEM;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->protect);
    lua_pushlightuserdata(L, &c);
    return lua_pcall(L, 1, 0, 0);
}

/* ---- driving the loop ---- */

static void cancel_one(l_task *t, void *ud)
{
    (void)ud;
    l_task_cancel(t);
}

static void cancel_all(l_runtime *rt)
{
    l_each_live(rt->from, rt, cancel_one, NULL);
}

/* The tasks a deadlock left after cancelling, as named in run's error
 * (in C: l_each_live uses the Lua stack meanwhile). */
typedef struct leftovers {
    char text[LEFTOVER_SHOWN * 64];
    size_t len;
    int n;
} leftovers;

/* Name t in the report and stop it (l_task_stop). */
static void stop_one(l_task *t, void *ud)
{
    leftovers *lo = ud;
    if (corio_task_done(&t->t))
        return;
    if (lo->n < LEFTOVER_SHOWN && lo->len < sizeof lo->text) {
        int k = snprintf(lo->text + lo->len, sizeof lo->text - lo->len, "%scorio.Task %p in a %s",
                         lo->n ? ", " : "", (void *)t, t->t.wait ? t->t.wait->what : "ready state");
        if (k > 0)
            lo->len += (size_t)k;
    }
    lo->n++;
    l_task_stop(t);
}

/* Stop every task left and push a description of them, for run's error. */
static void stop_all(l_runtime *rt)
{
    leftovers lo = { .len = 0, .n = 0 };
    l_each_live(rt->from, rt, stop_one, &lo);
    if (lo.len > sizeof lo.text - 1)
        lo.len = sizeof lo.text - 1;
    lo.text[lo.len] = '\0';
    lua_pushfstring(rt->from, " (%d task%s left after cancelling, stopped: %s%s)", lo.n,
                    lo.n == 1 ? "" : "s", lo.text, lo.n > LEFTOVER_SHOWN ? ", ..." : "");
}

void l_settle(lua_State *L, l_runtime *rt)
{
    if (rt->running || rt->closed || !rt->loop.nclosing)
        return;
    rt->from = L;   /* releasing a stream unrefs it from here */
    corio_loop_settle(&rt->loop, SETTLE_NS);
    rt->from = NULL;
}

/* Wait for the next event. When a garbage-collection pass is due, wait
 * only a grace period first; if nothing happened in it, run the pass in
 * slices with a poll for I/O after each, until it is over or an event
 * makes a task ready. */
static int wait_events(l_runtime *rt)
{
    corio_loop *l = &rt->loop;
    if (l->nready || !l_idle_due(rt->from, rt))   /* (ready tasks: not idle, poll at once) */
        return corio_loop_poll(l, -1);
    uint64_t now = corio_clock_ns(), quiet = now + IDLE_GRACE_NS;
    int rc = 0;
    while (rc >= 0 && !l->nready && now < quiet) {   /* completions that wake nobody */
        rc = corio_loop_poll(l, (int64_t)(quiet - now));
        now = corio_clock_ns();
    }
    while (rc >= 0 && !l->nready && l_idle_work(rt->from, rt))
        rc = corio_loop_poll(l, 0);
    return rc;
}

/* Run until every task has finished. Returns 0, -errno from the backend,
 * or 1 when a deadlock had to be broken by cancelling every task (and 2
 * when even that left tasks blocked: they were stopped, and a description
 * of them is pushed on rt->from). When the main task fails, the others are
 * cancelled: run then raises its error once they have unwound. */
static int drive(l_runtime *rt, l_task *main)
{
    int deadlock = 0, main_failed = 0;
    while (rt->loop.nlive) {
        corio_loop_run_ready(&rt->loop);
        if (!rt->loop.nlive)
            break;
        if (main && main->t.status == ST_FAILED && !main_failed) {
            main_failed = 1;
            cancel_all(rt);
            continue;
        }
        if (corio_loop_deadlocked(&rt->loop)) {
            if (++deadlock <= DEADLOCK_ROUNDS)
                cancel_all(rt);
            else if (deadlock == DEADLOCK_ROUNDS + 1)
                stop_all(rt);
            else   /* stopped tasks cannot suspend: never reached */
                return -EDEADLK;
            continue;
        }
        int rc = wait_events(rt);
        if (rc < 0)
            return rc;
    }
    return deadlock > DEADLOCK_ROUNDS ? 2 : deadlock ? 1 : 0;
}

/* Raise if the loop cannot be driven from here. */
static void check_loop(lua_State *L, l_runtime *rt, const char *fname)
{
    if (rt->running)
        luaL_error(L, "%s: the loop is already running (called from a task?)", fname);
    if (rt->closed)
        luaL_error(L, "%s: the runtime is closed", fname);
}

/* Nothing may raise between this and leave_loop. */
static void enter_loop(lua_State *L, l_runtime *rt, const char *fname)
{
    check_loop(L, rt, fname);
    rt->running = 1;
    rt->from = L;
}

static void leave_loop(l_runtime *rt)
{
    rt->running = 0;
    rt->from = NULL;
}

struct drive_call {
    l_task *main;
    int rc;
    int desc;   /* registry ref of the leftover tasks' description (rc 2) */
};

static void drive_p(lua_State *L, void *ud)
{
    struct drive_call *d = ud;
    d->rc = drive(l_rt(L), d->main);
    if (d->rc == 2)
        d->desc = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* A turn of the loop for run or step: fn(L, ud) with the loop entered,
 * protected, so that nothing escaping the scheduler (nothing should:
 * tasks' and handlers' errors are caught where they happen) leaves the
 * loop marked running; then the closes are settled, the loop is left and
 * an error is raised on. */
static void in_loop(lua_State *L, l_runtime *rt, const char *fname,
                    void (*fn)(lua_State *L, void *ud), void *ud)
{
    enter_loop(L, rt, fname);
    corio_faults_start();   /* fault builds: $CORIO_FAULTS from here on */
    int st = l_protect(L, rt, fn, ud);
    corio_loop_settle(&rt->loop, SETTLE_NS);
    leave_loop(rt);
    if (st != LUA_OK)
        lua_error(L);
}

/* Raise the main task's error, with its traceback when it is a string. */
static int raise_main(lua_State *L, l_task *t, int task_idx)
{
    if (t->t.status == ST_FAILED) {
        int is_string = push_task_error(L, task_idx) == LUA_TSTRING;
        lua_pop(L, 1);
        if (is_string && l_task_aux(L, task_idx, "tb") == LUA_TSTRING)
            return lua_error(L);
    }
    return l_task_results(L, task_idx);
}

/* corio.run(fn, ...): run fn as the main task until every task is done. */
static int l_run(lua_State *L)
{
    l_runtime *rt = l_rt(L);
    luaL_checktype(L, 1, LUA_TFUNCTION);
    check_loop(L, rt, "corio.run");
    l_task *t = l_task_new(L, 1, lua_gettop(L) - 1);   /* may raise */
    int idx = lua_gettop(L);
    t->t.uflags |= TF_MAIN;
    struct drive_call d = { t, 0, LUA_NOREF };
    in_loop(L, rt, "corio.run", drive_p, &d);
    int rc = d.rc;
    if (rc == 2) {   /* the description goes back on the stack, as drive left it */
        lua_rawgeti(L, LUA_REGISTRYINDEX, d.desc);
        luaL_unref(L, LUA_REGISTRYINDEX, d.desc);
    }
    /* a deadlock among the others while they unwound from the main task's
     * error (one swallowed its cancel, then waited) does not hide it */
    if (rc > 0 && t->t.status != ST_FAILED)
        return luaL_error(L, "corio.run: deadlock: every task is blocked and nothing can wake "
                             "them%s", rc == 2 ? lua_tostring(L, -1) : "");
    if (rc < 0)
        return luaL_error(L, "corio.run: backend failure: %s", strerror(-rc));
    return t->t.status == ST_DONE ? l_task_results(L, idx) : raise_main(L, t, idx);
}

struct step_call {
    int64_t timeout_ns;
    int rc;
};

static void step_p(lua_State *L, void *ud)
{
    struct step_call *c = ud;
    corio_loop *l = &l_rt(L)->loop;
    corio_loop_run_ready(l);
    c->rc = corio_loop_poll(l, c->timeout_ns);
    corio_loop_run_ready(l);
}

/* corio.step([timeout]): one turn for a host; returns live tasks. */
static int l_step(lua_State *L)
{
    l_runtime *rt = l_rt(L);
    lua_Number to = lua_isnoneornil(L, 1) ? 0 : l_check_seconds(L, 1, "corio.step");
    struct step_call c = { (int64_t)l_seconds_ns(to), 0 };
    in_loop(L, rt, "corio.step", step_p, &c);
    int rc = c.rc;
    if (rc < 0)
        return luaL_error(L, "corio.step: backend failure: %s", strerror(-rc));
    lua_pushinteger(L, (lua_Integer)rt->loop.nlive);
    return 1;
}

/* core.buf_scanned(): bytes searched for line ends so far (a test hook:
 * readline must search each byte about once). */
static int l_buf_scanned(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)corio__buf_scanned);
    return 1;
}

static int l_pollfd(lua_State *L)
{
    corio_backend *be = l_rt(L)->loop.be;
    lua_pushinteger(L, be->vt->pollfd(be));
    return 1;
}

/* corio.next_timeout(): seconds until the loop needs a step (0 if tasks
 * are ready), or nil when only I/O can wake it. */
static int l_next_timeout(lua_State *L)
{
    int64_t ns = corio_loop_next_timeout(&l_rt(L)->loop);
    if (ns < 0)
        lua_pushnil(L);
    else
        lua_pushnumber(L, (lua_Number)ns / 1e9);
    return 1;
}

static int l_backend(lua_State *L)
{
    lua_pushstring(L, l_rt(L)->loop.be->vt->name);
    return 1;
}

static int l_now(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)corio_clock_ns() / 1e9);
    return 1;
}

/* corio.on_error(fn | nil): returns the previous handler. */
static int l_on_error(lua_State *L)
{
    l_runtime *rt = l_rt(L);
    if (!lua_isnoneornil(L, 1))
        luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->on_error);
    luaL_unref(L, LUA_REGISTRYINDEX, rt->on_error);
    rt->on_error = LUA_NOREF;
    if (!lua_isnil(L, 1)) {
        lua_pushvalue(L, 1);
        rt->on_error = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    return 1;
}

/* corio.stats(): counts of live things, for leak checks. */
static int l_stats(lua_State *L)
{
    l_runtime *rt = l_rt(L);
    lua_createtable(L, 0, 16);
    lua_pushstring(L, l_alloc_active(L) ? "slab" : "libc");
    lua_setfield(L, -2, "allocator");
    lua_pushinteger(L, (lua_Integer)l_alloc_slab_bytes(L));
    lua_setfield(L, -2, "slab_bytes");
    lua_pushinteger(L, (lua_Integer)rt->loop.nlive);
    lua_setfield(L, -2, "tasks");
    lua_pushinteger(L, (lua_Integer)rt->loop.nready);
    lua_setfield(L, -2, "ready");
    lua_pushinteger(L, (lua_Integer)rt->loop.wheel.count);
    lua_setfield(L, -2, "timers");
    lua_pushinteger(L, (lua_Integer)rt->loop.nio);
    lua_setfield(L, -2, "io_waiting");
    lua_pushinteger(L, (lua_Integer)rt->nchanwait);
    lua_setfield(L, -2, "channel_waiting");
    lua_pushinteger(L, (lua_Integer)rt->idle_passes);
    lua_setfield(L, -2, "idle_gc_passes");
    lua_pushinteger(L, (lua_Integer)rt->idle_released);
    lua_setfield(L, -2, "idle_released_bytes");
    lua_pushinteger(L, (lua_Integer)l_alloc_live(L));
    lua_setfield(L, -2, "memory_bytes");
    corio_workers_stats ws;
    corio_workers_stats_get(&rt->loop, &ws);
    lua_pushinteger(L, (lua_Integer)ws.threads);
    lua_setfield(L, -2, "pool_threads");
    lua_pushinteger(L, (lua_Integer)ws.queued);
    lua_setfield(L, -2, "pool_queued");
    lua_pushinteger(L, (lua_Integer)ws.running);
    lua_setfield(L, -2, "pool_running");
    return 1;
}

/* corio.memory_limit(bytes | nil): cap the state's memory (the Lua heap
 * and corio's buffers); past it an allocation fails: the task making it
 * gets "not enough memory" (a stream's receive, ENOMEM on its next read).
 * nil lifts it. Returns the previous limit, or nil. */
static int l_memory_limit(lua_State *L)
{
    l_runtime *rt = l_rt(L);
    size_t limit = 0, prev;
    if (!lua_isnoneornil(L, 1)) {
        int isint;
        lua_Integer n = lua_tointegerx(L, 1, &isint);
        if (!isint || n <= 0)
            return luaL_error(L, "corio.memory_limit: bad argument #1 (positive integer or nil expected)");
        limit = (size_t)n;
    }
    if (l_alloc_set_limit(L, limit, &prev) < 0)
        return luaL_error(L, "corio.memory_limit: cannot install a counting allocator");
    rt->alloc = lua_getallocf(L, &rt->alloc_ud);   /* maybe the new counting one */
    corio_alloc_flush(&rt->loop.alloc);             /* from the previous one */
    rt->loop.alloc.fn = rt->alloc;
    rt->loop.alloc.ud = rt->alloc_ud;
    if (prev)
        lua_pushinteger(L, (lua_Integer)prev);
    else
        lua_pushnil(L);
    return 1;
}

static int l_is_cancelled(lua_State *L)
{
    lua_pushboolean(L, l_is_cancel_error(L, 1, l_rt(L)));
    return 1;
}

static int cancelled_tostring(lua_State *L)
{
    lua_pushliteral(L, "cancelled");
    return 1;
}

static void forget_timer(l_task *t, void *ud)
{
    (void)ud;
    corio_task_forget_sleep(&t->rt->loop, &t->t);
}

static int runtime_gc(lua_State *L)
{
    l_runtime *rt = lua_touserdata(L, 1);
    if (!rt->closed) {
        rt->closed = 1;
        rt->from = L;   /* closing releases streams, which unref from it */
        l_each_live(L, rt, forget_timer, NULL);   /* tasks left sleeping */
        corio_loop_close(&rt->loop);
        l_anchor_close(rt);
    }
    return 0;
}

static const luaL_Reg runtime_funcs[] = {
    {"run", l_run},         {"step", l_step},     {"pollfd", l_pollfd},
    {"backend", l_backend}, {"now", l_now},       {"on_error", l_on_error},
    {"stats", l_stats},     {"next_timeout", l_next_timeout},
    {"is_cancelled", l_is_cancelled}, {"buf_scanned", l_buf_scanned},
    {"memory_limit", l_memory_limit}, {NULL, NULL},
};

const l_module l_runtime_module = { NULL, runtime_funcs };

#define MODULE(name) extern const l_module l_##name##_module;
#define CLASS(id, name)
#include "modules.h"
#undef MODULE
#define MODULE(name) &l_##name##_module,
static const l_module *const modules[] = {
#include "modules.h"
};
#undef MODULE
#undef CLASS

/* The unique cancellation error value of this runtime. */
static int new_cancel_error(lua_State *L)
{
    lua_newtable(L);
    luaL_newmetatable(L, CANCELLED_MT);
    lua_pushcfunction(L, cancelled_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_setmetatable(L, -2);
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

static l_runtime *new_runtime(lua_State *L)
{
    l_runtime *rt = lua_newuserdatauv(L, sizeof *rt, 0);
    memset(rt, 0, sizeof *rt);
    rt->closed = 1;
    rt->on_error = LUA_NOREF;
    rt->alloc = lua_getallocf(L, &rt->alloc_ud);
    luaL_newmetatable(L, RUNTIME_MT);
    lua_pushcfunction(L, runtime_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    const char *force = getenv("CORIO_BACKEND");
    char why[256] = "";
    int rc = corio_loop_init(&rt->loop, force, why, sizeof why);
    if (rc < 0) {
        corio_loop_close(&rt->loop);
        luaL_error(L, "corio: cannot start the %s backend: %s",
                   force && *force ? force : "io_uring or epoll", why[0] ? why : strerror(-rc));
    }
    rt->closed = 0;
    rt->loop.run = l_task_run;
    rt->loop.run_ud = rt;
    /* the loop's records and the streams' buffers count as the state's
     * memory (and against its limit) */
    rt->loop.alloc.fn = rt->alloc;
    rt->loop.alloc.ud = rt->alloc_ud;
    rt->cancel_err = new_cancel_error(L);
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, protect_k, 1);
    rt->protect = luaL_ref(L, LUA_REGISTRYINDEX);
    l_task_init_runtime(L, rt);
    return rt;
}

/* One runtime per lua_State: a second require (e.g. after package.loaded
 * was cleared) gets the same one. */
int luaopen_corio_core(lua_State *L)
{
    l_alloc_install(L);   /* first, so the runtime's own objects use it */
    if (lua_getfield(L, LUA_REGISTRYINDEX, RUNTIME_KEY) != LUA_TUSERDATA) {
        lua_pop(L, 1);
        new_runtime(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, RUNTIME_KEY);
    }
    size_t n = sizeof modules / sizeof *modules;
    for (size_t i = 0; i < n; i++)
        if (modules[i]->open)
            modules[i]->open(L);
    lua_newtable(L);
    for (size_t i = 0; i < n; i++) {
        if (!modules[i]->funcs)
            continue;
        lua_pushvalue(L, -2);
        luaL_setfuncs(L, modules[i]->funcs, 1);
    }
    /* core.Task: the task metatable, so Lua modules can add methods */
    luaL_getmetatable(L, "corio.Task");
    lua_setfield(L, -2, "Task");
    luaL_getmetatable(L, "corio.Channel");   /* so channel.lua adds its methods */
    lua_setfield(L, -2, "Channel");
    return 1;
}
