/* bind.h: what the binding files share. Only csrc/bind includes lua.h.
 *
 * One runtime per lua_State lives in a userdata that every module function
 * and method gets as upvalue 1. A task is a userdata (corio.Task) whose
 * first user value is its coroutine; it stays anchored (anchor.c)
 * while it is live. Its states, waits, interrupts and deadlines are the
 * core scheduler's (core/task.h): a suspending call records its wait (a
 * corio_wait_ops record owned by the file that implements the wait) and
 * yields with a continuation; whoever completes the wait calls
 * l_task_wake; cancellation and deadlines call the wait's interrupt
 * function, and the continuation then raises. */
#ifndef CORIO_BIND_H
#define CORIO_BIND_H
#include <lua.h>
#include <lauxlib.h>
#include "../core/corio.h"

#if LUA_VERSION_NUM < 504
#error "corio needs Lua 5.4"
#endif

#define container_of corio_container_of   /* core/backend.h */

typedef struct l_runtime l_runtime;

/* Userdata classes (modules.h), whose metatables the runtime keeps by
 * registry ref so that hot paths check and set them without string
 * lookups. */
#define MODULE(name)
#define CLASS(id, name) CL_##id,
enum l_class {
#include "modules.h"
    CL_COUNT
};
#undef MODULE
#undef CLASS

/* A module of the binding (modules.h): open registers its classes (called
 * with the runtime userdata on top, may be NULL); funcs go into the
 * module table with the runtime as upvalue 1. */
typedef struct l_module {
    void (*open)(lua_State *L);
    const luaL_Reg *funcs;
} l_module;
typedef struct l_task l_task;
typedef struct l_deadline l_deadline;

/* The core's task states, by their binding names. */
enum l_status {
    ST_READY = CORIO_TASK_READY, ST_SUSPENDED = CORIO_TASK_SUSPENDED,
    ST_DONE = CORIO_TASK_DONE, ST_FAILED = CORIO_TASK_FAILED,
    ST_CANCELLED = CORIO_TASK_CANCELLED,
};

/* The binding's own flags of a task (corio_task.uflags). */
enum { TF_SUPERVISED = 1, TF_MAIN = 2, TF_AUX = 4 /* a record in the aux table */,
       TF_NOFAULTS = 8 /* fault builds: no fault is injected while it runs */ };

struct l_task {
    corio_task t;             /* the core task (first: its address is the task's) */
    l_runtime *rt;
    lua_State *co;            /* NULL once finished (results in user value 1) */
    corio_waitq *joiners;     /* tasks waiting in join, allocated by the first */
    int ref;                  /* anchor (anchor.c) while live, else LUA_NOREF */
    union {
        int nargs;            /* values on co's stack for the next resume */
        int nres;             /* results on co's stack once finished */
    };
};

/* The binding task of a core task. */
static inline l_task *l_task_of(corio_task *t) { return (l_task *)t; }

struct l_deadline {
    corio_deadline d;         /* the core deadline (first) */
    int ref;                  /* registry ref while pushed (anchors it) */
};

struct l_runtime {
    corio_loop loop;
    lua_State *from;          /* thread running run/step */
    l_task *current;
    lua_Alloc alloc;          /* the state's allocator, for C-side records */
    void *alloc_ud;
    size_t nchanwait;         /* waiters queued on channels (channel.c) */
    int running;
    int on_error;             /* registry ref of the handler or LUA_NOREF */
    int cancel_err;           /* registry ref of the cancellation error */
    int protect;              /* registry ref of the closure behind l_protect */
    int oom_results;          /* registry ref: {"not enough memory"} (task.c) */
    int entry;                /* registry ref of the shared task entry closure */
    int aux;                  /* registry ref of task -> {tb=, hooks=} (weak keys) */
    int pool;                 /* registry ref of the array of reusable threads */
    int *anchor_chunks;       /* registry refs of the live tasks' tables (anchor.c) */
    int *anchor_free;         /* free slots, a stack */
    int anchor_nchunks, anchor_top, anchor_nfree;
    int anchor_chunks_cap, anchor_free_cap;   /* the two arrays' sizes, in ints */
    int mt[CL_COUNT];         /* registry refs of the class metatables */
    int npool;
    int closed;
    /* idle.c: the pass of garbage collection run while the loop idles */
    size_t idle_heap;         /* heap bytes after the last pass */
    size_t idle_passes;       /* passes completed */
    size_t idle_released;     /* bytes given back to the system by them */
    int idle_ends;            /* cycle ends the pass under way still needs */
    int idle_slices;          /* slices it has run */
};

/* runtime.c */
l_runtime *l_rt(lua_State *L);                     /* upvalue 1 */
/* Run fn(L, ud) in protected mode, as the scheduler must where Lua may
 * fail to allocate (a task's results, an error report): the call costs
 * no allocation until the protection holds, and l_rt works inside.
 * Returns LUA_OK, or an error status with the error on the stack. */
int l_protect(lua_State *L, l_runtime *rt, void (*fn)(lua_State *L, void *ud), void *ud);
/* Allocate (p NULL), resize or free (nsize 0) a C-side record with the
 * state's allocator (the slab when it is on: no malloc header). */
static inline void *l_mem(l_runtime *rt, void *p, size_t osize, size_t nsize)
{
    return rt->alloc(rt->alloc_ud, p, osize, nsize);
}
int l_fail(lua_State *L, int err);                 /* nil, message, code */
/* nil, message, EAI_* name for an error of corio_addr_resolve. */
int l_addr_fail(lua_State *L, int rc);
/* Outside run/step, finish the closes still waiting for the kernel (a
 * closed object's fd is released only when its cancelled ops end). */
void l_settle(lua_State *L, l_runtime *rt);
int l_closed(lua_State *L, const char *what);      /* nil, "<what> is closed", "EBADF" */
/* Seconds from Lua as a delay in ns, clamped to [0, 1e9 s] (NaN is 0). */
uint64_t l_seconds_ns(lua_Number s);
/* Field name of the options table at opts (absent or nil: def): as a
 * boolean; as an int (raising "<fname>: bad option '<name>'" otherwise). */
int l_opt_bool(lua_State *L, int opts, const char *name, int def);
int l_opt_int(lua_State *L, int opts, const char *fname, const char *name, int def);
/* Argument idx as seconds: a number, not NaN (raises naming fname). */
lua_Number l_check_seconds(lua_State *L, int idx, const char *fname);
/* Whether the value at idx is the runtime's cancellation error. */
int l_is_cancel_error(lua_State *L, int idx, l_runtime *rt);
/* tostring of the value at idx that never raises (replaces it in place). */
const char *l_safe_tostring(lua_State *L, int idx);
void l_report(l_runtime *rt, lua_State *L, l_task *t);
void l_push_cancel_error(lua_State *L, l_runtime *rt);
/* Register metatable mt whose methods get the runtime (stack top) as
 * upvalue 1, with __index pointing to itself. */
void l_new_class(lua_State *L, const char *mt, const luaL_Reg *methods);
/* The same for class cls (its name from modules.h), remembering it. */
void l_new_class_as(lua_State *L, int cls, const luaL_Reg *methods);
/* In a module's open function (the runtime on top): add method name to
 * class cls, registered by an earlier module, with the same upvalue. */
void l_add_method(lua_State *L, int cls, const char *name, lua_CFunction fn);
/* Set the metatable of class cls on the value on top. */
void l_setclass(lua_State *L, int cls);
/* The userdata at idx if it is of class cls, else raise a type error. */
void *l_checkclass(lua_State *L, int idx, int cls);
void *l_testclass(lua_State *L, int idx, int cls);

/* The l_*_open functions register a metatable whose methods get the
 * runtime userdata (on the top of the stack) as upvalue 1. */

/* alloc.c: install the slab allocator on L's state if it is wanted and
 * safe (see alloc.c); whether it is active; bytes in its live blocks. */
void l_alloc_install(lua_State *L);
int l_alloc_active(lua_State *L);
size_t l_alloc_slab_bytes(lua_State *L);
/* The count of bytes allocated, for the caller to read and reset; NULL
 * over an embedder's allocator (nothing counts). */
size_t *l_alloc_churn(lua_State *L);
/* Return the slab's empty runs to the system; bytes released. */
size_t l_alloc_trim(lua_State *L);
/* The state's memory limit (0: none), installing a counting allocator
 * over an embedder's if need be; the previous one in *prev. 0, or -1 when
 * no allocator could be installed. Bytes the state holds (0 uncounted). */
typedef struct l_alloc l_alloc;
l_alloc *l_alloc_counting(lua_State *L);
int l_alloc_set_limit(lua_State *L, size_t limit, size_t *prev);
size_t l_alloc_live(lua_State *L);

/* anchor.c: keep the task on top of L (popped) reachable until dropped;
 * returns its index (>= 1). */
void l_anchor_init(lua_State *L, l_runtime *rt);
void l_anchor_close(l_runtime *rt);   /* the runtime is closing */
int l_anchor(lua_State *L, l_runtime *rt);
void l_anchor_push(lua_State *L, l_runtime *rt, int ref);
void l_anchor_drop(lua_State *L, l_runtime *rt, int ref);
/* Call fn(t, ud) on every live task t of rt: a scan of the anchors (a
 * rare path, so a scan beats keeping a list in every task). */
void l_each_live(lua_State *L, l_runtime *rt, void (*fn)(l_task *t, void *ud), void *ud);

/* idle.c: whether a garbage-collection pass is due (or under way) now
 * that the loop has idled; run one slice of it: 1 while more remains. */
int l_idle_due(lua_State *L, l_runtime *rt);
int l_idle_work(lua_State *L, l_runtime *rt);

/* task.c */
l_task *l_task_new(lua_State *L, int fnidx, int nargs);  /* pushes it */
int l_task_results(lua_State *L, int idx);        /* push results or raise */
void l_task_init_runtime(lua_State *L, l_runtime *rt); /* entry closure, aux table */
/* Push field `key` of the aux record of the task at index idx (or nil). */
int l_task_aux(lua_State *L, int idx, const char *key);
void l_task_run(corio_loop *l, corio_task *q, void *ud);
/* End t's wait and queue it (core corio_task_wake). */
static inline void l_task_wake(l_task *t) { corio_task_wake(&t->rt->loop, &t->t); }
/* Hand the n values on top of L (popped) to t parked in core.suspend and
 * wake it: 1, or 0 when t is not parked there (woken by something else,
 * interrupted, finished): the values are dropped. */
int l_task_unpark(lua_State *L, l_task *t, int n);
static inline int l_task_cancel(l_task *t) { return corio_task_cancel(&t->rt->loop, &t->t); }
/* A cancel that cannot be ignored, for tasks a deadlock left after
 * cancelling (shielded waits that wait on each other): t is woken with the
 * cancellation error and every later attempt to suspend raises it too, so
 * it unwinds (its <close> handlers and waiters' clean-ups run) and ends. */
static inline void l_task_stop(l_task *t) { corio_task_stop(&t->rt->loop, &t->t); }
void l_task_push(lua_State *L, l_task *t);
l_task *l_task_current(lua_State *L, const char *fname);  /* raises outside a task */
l_task *l_enter(lua_State *L, const char *fname);  /* current task, pending cancel raised */
/* Raise a pending cancel or fired deadline. Every path that suspends
 * again after a wake calls it before registering a new wait. */
void l_check(lua_State *L, l_task *t);
int l_pending(l_task *t);                          /* l_check would raise */
/* l_check for the current task if L is its coroutine (else nothing): at
 * the entry of an operation that may wait, also when it can finish at
 * once, so an expired deadline never lets it go on. */
void l_check_current(lua_State *L);
int l_suspend(lua_State *L, l_task *t, const corio_wait_ops *wait, void *obj,
              lua_KContext ctx, lua_KFunction k);
int l_yield(lua_State *L, l_task *t, lua_KContext ctx, lua_KFunction k);
void l_resumed(lua_State *L, l_task *t);           /* raises if interrupted */
static inline int l_budget_spent(l_task *t) { return corio_task_budget_spent(&t->rt->loop); }

/* resolve.c: whether host (an argument of a call from L) is a name that
 * needs a lookup and L a task that can wait for one; then
 * l_lookup_then looks it up on the worker pool and calls fn again with
 * argument idx replaced by the first address (of family, unless
 * AF_UNSPEC), or returns nil, msg, EAI_*. Outside a task nothing else
 * runs, and callers resolve on the spot (corio_addr_resolve). */
int l_lookup_needed(lua_State *L, const char *host);
int l_lookup_then(lua_State *L, int idx, int family, lua_CFunction fn);

/* fs.c: the fd of the file handle at idx (-1 once closed), or -2 when
 * the value is not a file handle. */
int l_file_fd(lua_State *L, int idx);

/* stream.c, tcp.c */
/* Push host, port from getpeername/getsockname on fd (or nil, msg, code). */
int l_push_sockname(lua_State *L, int fd, int (*get)(int, struct sockaddr *, socklen_t *));
/* Push a stream on fd (closed if fd < 0); a Unix stream (fd passing,
 * peercred) when is_unix. */
void l_stream_push(lua_State *L, l_runtime *rt, int fd, int is_unix);
/* Give fd to the closed stream (pushed with fd -1) at idx; allocates
 * nothing, so an fd taken from the kernel or a queue after the push can
 * never be lost to a failed allocation. */
void l_stream_attach(lua_State *L, int idx, l_runtime *rt, int fd, int is_unix);
/* Connect a new stream to sa from task t: pushes it and suspends until
 * the connect ends (returns it, or nil, msg, code). */
int l_stream_connect(lua_State *L, l_task *t, const struct sockaddr *sa, socklen_t len,
                     int is_unix);
/* The fd of the stream, listener or UDP socket at idx, or -1 if it is
 * none of them (raises if it is closed). */
int l_stream_fd(lua_State *L, int idx);
/* Whether a task is inside a write (or the connect) on the stream at idx. */
int l_stream_writing(lua_State *L, int idx);
/* Connection limits (listener.c): the stream at idx was accepted under a
 * max_connections limit; the stream at idx, so counted, has closed. */
void l_stream_set_counted(lua_State *L, int idx);
void l_listener_conn_closed(lua_State *L, int stream_idx);
/* Push a listener bound to sa (path: its socket file, removed at close),
 * or nil, msg, code; push a listener adopting fd (or nil, msg, code). */
int l_listener_new(lua_State *L, const struct sockaddr *sa, socklen_t len, int backlog,
                   int reuseaddr, int reuseport, const char *path);
/* opts.max_connections of the options table at opts (absent: 0, none;
 * raises naming fname when it is not a count); set it on the listener on
 * top. */
int l_listener_max_option(lua_State *L, int opts, const char *fname);
void l_listener_set_max(lua_State *L, int max);
int l_listener_adopt(lua_State *L, int fd, int is_unix);
/* Push a UDP socket adopting fd of family (or nil, msg, code). */
int l_udp_adopt(lua_State *L, int fd, int family);
int l_listener_fd(lua_State *L, int idx);
int l_udp_fd(lua_State *L, int idx);
/* unix.c: push the path of a Unix socket address ("@name" when abstract,
 * "" unnamed); 1. */
struct sockaddr_un;
int l_push_unix_path(lua_State *L, const struct sockaddr_un *sa, socklen_t len);



#endif
