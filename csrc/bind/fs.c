/* fs.c: the file primitives under lua/corio/fs.lua. Each call is one
 * request of core fs.c that the calling task waits for like a read on a
 * socket (cancellable, timeable); the Lua side builds files (buffering,
 * positions, lines) and the whole-file helpers on them.
 *
 *   fs_open(path, flags, mode) -> handle        fs_close(h) -> true
 *   fs_read(h, n, off) -> bytes ("" at the end)  fs_write(h, data, off) -> n
 *   fs_fsync(h), fs_fstat(h), fs_stat(path), fs_lstat(path) -> table
 *   fs_rename(a, b), fs_unlink(p), fs_rmdir(p), fs_mkdir(p, mode),
 *   fs_symlink(target, link), fs_chmod(p, mode) -> true
 *   fs_readlink(p) -> string, fs_readdir(p) -> array of names,
 *   fs_readfile(p) -> the whole file (one job: open, read, close)
 *
 * off -1 means the file position. Failures: nil, msg, CODE. A handle owns
 * its fd: closed by fs_close, or by the GC. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "bind.h"

#define HANDLE_MT "corio.FileHandle"
#define REQ_MT "corio.FsRequest"

typedef struct l_fh {
    int fd;               /* -1 once closed */
    int busy;             /* a request on it is under way */
} l_fh;

/* The waiting task's hold on its request (on its stack): the request is
 * the core's until done, the box's after (freed by the continuation, or
 * by __gc if the task unwound first). */
typedef struct l_fsbox {
    corio_fsreq *r;
    l_task *t;
    l_fh *fh;             /* the handle it works on, if any */
    int owned;
} l_fsbox;

static void box_free(l_fsbox *box)
{
    corio_fsreq *r = box->r;
    if (box->owned && r->kind == CORIO_FS_OPEN && r->res >= 0)
        close((int)r->res);   /* opened, but no handle came to hold it */
    if (box->owned)
        corio_fs_free(r);
    box->r = NULL, box->owned = 0;
}

static int box_gc(lua_State *L)
{
    box_free(lua_touserdata(L, 1));
    return 0;
}

static void req_done(corio_fsreq *r, int cancelled)
{
    if (cancelled) {
        corio_fs_free(r);
        return;
    }
    l_fsbox *box = r->owner;
    box->owned = 1;
    l_task_wake(box->t);
}

/* A cancel or deadline: give the request up and wake the task. */
static void req_interrupt(corio_loop *l, corio_task *t)
{
    l_fsbox *box = t->wait_obj;
    corio_fsreq *r = box->r;
    box->r = NULL;
    if (box->fh)
        box->fh->busy = 0;
    corio_fs_cancel(r);
    corio_task_wake(l, t);
}

static const corio_wait_ops fs_wait = { "file", req_interrupt, 1 };

static l_fh *check_handle(lua_State *L, int idx)
{
    l_fh *fh = luaL_checkudata(L, idx, HANDLE_MT);
    if (fh->busy)
        luaL_error(L, "file is in use by another task");
    return fh;
}

static const char *check_path(lua_State *L, int idx, const char *fname)
{
    size_t len;
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_error(L, "%s: bad argument #%d (path string expected, got %s)", fname, idx,
                   luaL_typename(L, idx));
    const char *p = lua_tolstring(L, idx, &len);
    if (strlen(p) != len)
        luaL_error(L, "%s: bad argument #%d (path contains a NUL byte)", fname, idx);
    return p;
}

/* ---- results ---- */

static const char *type_name(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return "file";
    case S_IFDIR: return "directory";
    case S_IFLNK: return "link";
    case S_IFSOCK: return "socket";
    case S_IFIFO: return "fifo";
    case S_IFCHR: return "char";
    case S_IFBLK: return "block";
    default: return "unknown";
    }
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static void set_time(lua_State *L, const char *k, int64_t ns)
{
    lua_pushnumber(L, (lua_Number)ns / 1e9);
    lua_setfield(L, -2, k);
}

static int push_stat(lua_State *L, const corio_stat *st)
{
    lua_createtable(L, 0, 12);
    set_int(L, "size", (lua_Integer)st->size);
    set_int(L, "mode", (lua_Integer)(st->mode & 07777));
    lua_pushstring(L, type_name(st->mode));
    lua_setfield(L, -2, "type");
    set_time(L, "mtime", st->mtime_ns);
    set_time(L, "atime", st->atime_ns);
    set_time(L, "ctime", st->ctime_ns);
    set_int(L, "ino", (lua_Integer)st->ino);
    set_int(L, "dev", (lua_Integer)st->dev);
    set_int(L, "nlink", (lua_Integer)st->nlink);
    set_int(L, "uid", st->uid);
    set_int(L, "gid", st->gid);
    return 1;
}

static int push_names(lua_State *L, const char *buf, int64_t count)
{
    lua_createtable(L, (int)(count < 1 << 20 ? count : 1 << 20), 0);
    const char *p = buf;
    for (int64_t i = 1; i <= count; i++) {
        size_t n = strlen(p);
        lua_pushlstring(L, p, n);
        lua_rawseti(L, -2, i);
        p += n + 1;
    }
    return 1;
}

/* The results of a finished request r (res >= 0). */
static int push_result(lua_State *L, corio_fsreq *r)
{
    switch (r->kind) {
    case CORIO_FS_READ: case CORIO_FS_READLINK: case CORIO_FS_READFILE:
        lua_pushlstring(L, r->buf, (size_t)r->res);
        return 1;
    case CORIO_FS_WRITE:
        lua_pushinteger(L, (lua_Integer)r->res);
        return 1;
    case CORIO_FS_STAT: case CORIO_FS_LSTAT: case CORIO_FS_FSTAT:
        return push_stat(L, &r->st);
    case CORIO_FS_READDIR:
        return push_names(L, r->buf, r->res);
    default:
        lua_pushboolean(L, 1);
        return 1;
    }
}

static int fs_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    l_fsbox *box = lua_touserdata(L, (int)ctx);
    if (box->fh && box->r)
        box->fh->busy = 0;
    l_resumed(L, l_rt(L)->current);   /* raises if interrupted (the box's __gc frees) */
    corio_fsreq *r = box->r;
    if (r->res < 0) {
        int err = (int)r->res;
        box_free(box);
        return l_fail(L, err);
    }
    if (r->kind == CORIO_FS_OPEN) {
        /* the fd stays the box's until the handle exists to hold it */
        l_fh *fh = lua_newuserdatauv(L, sizeof *fh, 0);
        fh->fd = -1, fh->busy = 0;
        luaL_setmetatable(L, HANDLE_MT);
        fh->fd = (int)r->res;
        r->res = -1;
        box_free(box);
        return 1;
    }
    int n = push_result(L, r);
    box_free(box);
    return n;
}

/* Submit r (for handle fh, or NULL) and wait for it from the current task. */
static int wait_for(lua_State *L, l_task *t, corio_fsreq *r, l_fh *fh)
{
    l_fsbox *box = lua_newuserdatauv(L, sizeof *box, 0);
    memset(box, 0, sizeof *box);
    luaL_setmetatable(L, REQ_MT);
    r->owner = box;
    r->done = req_done;
    int rc = corio_fs_submit(&t->rt->loop, r);
    if (rc < 0) {
        corio_fs_free(r);
        return l_fail(L, rc);
    }
    box->r = r, box->t = t, box->fh = fh;
    if (fh)
        fh->busy = 1;
    return l_suspend(L, t, &fs_wait, box, lua_gettop(L), fs_k);
}

/* A new request, raising "not enough memory" if there is none. */
static corio_fsreq *new_req(lua_State *L, int kind, const char *p1, const char *p2)
{
    corio_fsreq *r = corio_fs_new(kind, p1, p2);
    if (!r)
        luaL_error(L, "not enough memory");
    return r;
}

/* ---- the primitives ---- */

static int l_fs_open(lua_State *L)
{
    const char *path = check_path(L, 1, "corio.fs.open");
    int flags = (int)luaL_checkinteger(L, 2);
    unsigned mode = (unsigned)luaL_checkinteger(L, 3);
    l_task *t = l_enter(L, "corio.fs.open");
    corio_fsreq *r = new_req(L, CORIO_FS_OPEN, path, NULL);
    r->flags = flags, r->mode = mode;
    return wait_for(L, t, r, NULL);
}

/* fs_read(h, n, off), fs_write(h, data, off) */
static int l_fs_rw(lua_State *L, int kind, const char *fname)
{
    l_fh *fh = check_handle(L, 1);
    size_t len = 0;
    const char *data = NULL;
    if (kind == CORIO_FS_WRITE)
        data = luaL_checklstring(L, 2, &len);
    else
        len = (size_t)luaL_checkinteger(L, 2);
    lua_Integer off = luaL_checkinteger(L, 3);
    l_task *t = l_enter(L, fname);
    if (fh->fd < 0)
        return l_closed(L, "file");
    corio_fsreq *r = new_req(L, kind, NULL, NULL);
    r->fd = fh->fd, r->off = off < 0 ? -1 : off;
    if (corio_fs_buffer(r, data, len) < 0) {
        corio_fs_free(r);
        return luaL_error(L, "not enough memory");
    }
    return wait_for(L, t, r, fh);
}

static int l_fs_read(lua_State *L) { return l_fs_rw(L, CORIO_FS_READ, "file:read"); }
static int l_fs_write(lua_State *L) { return l_fs_rw(L, CORIO_FS_WRITE, "file:write"); }

/* fs_fsync(h), fs_fstat(h), fs_close(h) */
static int l_fs_on_fd(lua_State *L, int kind, const char *fname)
{
    l_fh *fh = check_handle(L, 1);
    l_task *t = l_enter(L, fname);
    if (fh->fd < 0)
        return l_closed(L, "file");
    corio_fsreq *r = new_req(L, kind, NULL, NULL);
    r->fd = fh->fd;
    if (kind == CORIO_FS_CLOSE) {
        fh->fd = -1;   /* the request owns it now */
        fh = NULL;
    }
    return wait_for(L, t, r, fh);
}

static int l_fs_fsync(lua_State *L) { return l_fs_on_fd(L, CORIO_FS_FSYNC, "file:sync"); }
static int l_fs_fstat(lua_State *L) { return l_fs_on_fd(L, CORIO_FS_FSTAT, "file:stat"); }
static int l_fs_close(lua_State *L) { return l_fs_on_fd(L, CORIO_FS_CLOSE, "file:close"); }

/* The calls on paths: fname, kind, paths, mode argument (0: none). */
static int on_path(lua_State *L, const char *fname, int kind, int npaths, int mode_arg)
{
    const char *p1 = check_path(L, 1, fname);
    const char *p2 = npaths > 1 ? check_path(L, 2, fname) : NULL;
    unsigned mode = mode_arg ? (unsigned)luaL_checkinteger(L, mode_arg) : 0;
    l_task *t = l_enter(L, fname);
    corio_fsreq *r = new_req(L, kind, p1, p2);
    r->mode = mode;
    return wait_for(L, t, r, NULL);
}

static int l_fs_stat(lua_State *L) { return on_path(L, "corio.fs.stat", CORIO_FS_STAT, 1, 0); }
static int l_fs_lstat(lua_State *L) { return on_path(L, "corio.fs.lstat", CORIO_FS_LSTAT, 1, 0); }
static int l_fs_rename(lua_State *L) { return on_path(L, "corio.fs.rename", CORIO_FS_RENAME, 2, 0); }
static int l_fs_unlink(lua_State *L) { return on_path(L, "corio.fs.unlink", CORIO_FS_UNLINK, 1, 0); }
static int l_fs_rmdir(lua_State *L) { return on_path(L, "corio.fs.rmdir", CORIO_FS_RMDIR, 1, 0); }
static int l_fs_mkdir(lua_State *L) { return on_path(L, "corio.fs.mkdir", CORIO_FS_MKDIR, 1, 2); }
static int l_fs_symlink(lua_State *L) { return on_path(L, "corio.fs.symlink", CORIO_FS_SYMLINK, 2, 0); }
static int l_fs_readlink(lua_State *L) { return on_path(L, "corio.fs.readlink", CORIO_FS_READLINK, 1, 0); }
static int l_fs_chmod(lua_State *L) { return on_path(L, "corio.fs.chmod", CORIO_FS_CHMOD, 1, 2); }
static int l_fs_readdir(lua_State *L) { return on_path(L, "corio.fs.readdir", CORIO_FS_READDIR, 1, 0); }
static int l_fs_readfile(lua_State *L) { return on_path(L, "corio.fs.readfile", CORIO_FS_READFILE, 1, 0); }

/* ---- handles ---- */

static int handle_gc(lua_State *L)
{
    l_fh *fh = lua_touserdata(L, 1);
    if (fh->fd >= 0)
        close(fh->fd);   /* a regular file's close does not wait on the disk */
    fh->fd = -1;
    return 0;
}

/* fs_fd(h): the fd, or nil once closed. */
static int l_fs_fd(lua_State *L)
{
    l_fh *fh = luaL_checkudata(L, 1, HANDLE_MT);
    if (fh->fd < 0)
        return 0;
    lua_pushinteger(L, fh->fd);
    return 1;
}

/* fs_close_now(h): close the fd on the spot (for __close and the GC). */
static int l_fs_close_now(lua_State *L)
{
    l_fh *fh = luaL_checkudata(L, 1, HANDLE_MT);
    if (fh->busy)
        return luaL_error(L, "file is in use by another task");
    handle_gc(L);
    return 0;
}

/* fs_flags(): the open(2) flags the Lua side combines. */
static int l_fs_flags(lua_State *L)
{
    lua_createtable(L, 0, 7);
    set_int(L, "RDONLY", O_RDONLY);
    set_int(L, "WRONLY", O_WRONLY);
    set_int(L, "RDWR", O_RDWR);
    set_int(L, "CREAT", O_CREAT);
    set_int(L, "TRUNC", O_TRUNC);
    set_int(L, "APPEND", O_APPEND);
    set_int(L, "EXCL", O_EXCL);
    return 1;
}

int l_file_fd(lua_State *L, int idx)
{
    l_fh *fh = luaL_testudata(L, idx, HANDLE_MT);
    return fh ? fh->fd : -2;
}

static void fs_open_module(lua_State *L)
{
    luaL_newmetatable(L, HANDLE_MT);
    lua_pushcfunction(L, handle_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    luaL_newmetatable(L, REQ_MT);
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
}

static const luaL_Reg fs_funcs[] = {
    {"fs_open", l_fs_open},       {"fs_read", l_fs_read},       {"fs_write", l_fs_write},
    {"fs_fsync", l_fs_fsync},     {"fs_fstat", l_fs_fstat},     {"fs_close", l_fs_close},
    {"fs_stat", l_fs_stat},       {"fs_lstat", l_fs_lstat},     {"fs_rename", l_fs_rename},
    {"fs_unlink", l_fs_unlink},   {"fs_rmdir", l_fs_rmdir},     {"fs_mkdir", l_fs_mkdir},
    {"fs_symlink", l_fs_symlink}, {"fs_readlink", l_fs_readlink}, {"fs_chmod", l_fs_chmod},
    {"fs_readdir", l_fs_readdir}, {"fs_fd", l_fs_fd},       {"fs_close_now", l_fs_close_now},
    {"fs_flags", l_fs_flags},     {"fs_readfile", l_fs_readfile},
    {NULL, NULL},
};

const l_module l_fs_module = { fs_open_module, fs_funcs };
