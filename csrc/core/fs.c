/* fs.c: the file requests of fs.h, as ring ops where the backend has
 * them, else as jobs on the worker pool. */
#define _GNU_SOURCE   /* statx */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "fs.h"
#include "loop.h"

/* The backend op of each request kind, or -1: no ring op does it. */
static int op_kind(int kind)
{
    switch (kind) {
    case CORIO_FS_OPEN: return CORIO_OP_OPENAT;
    case CORIO_FS_CLOSE: return CORIO_OP_CLOSE;
    case CORIO_FS_READ: return CORIO_OP_READ;
    case CORIO_FS_WRITE: return CORIO_OP_WRITE;
    case CORIO_FS_FSYNC: return CORIO_OP_FSYNC;
    case CORIO_FS_STAT: case CORIO_FS_LSTAT: case CORIO_FS_FSTAT: return CORIO_OP_STATX;
    case CORIO_FS_RENAME: return CORIO_OP_RENAMEAT;
    case CORIO_FS_UNLINK: case CORIO_FS_RMDIR: return CORIO_OP_UNLINKAT;
    case CORIO_FS_MKDIR: return CORIO_OP_MKDIRAT;
    default: return -1;
    }
}

int corio_fs_native(corio_loop *l, int kind)
{
    int k = op_kind(kind);
    return k >= 0 && l->be->vt->supports && l->be->vt->supports(l->be, k);
}

corio_fsreq *corio_fs_new(int kind, const char *path, const char *path2)
{
    size_t n1 = path ? strlen(path) + 1 : 0, n2 = path2 ? strlen(path2) + 1 : 0;
    corio_fsreq *r = malloc(sizeof *r + n1 + n2);
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    r->kind = (uint8_t)kind;
    r->fd = -1;
    r->off = -1;
    r->res = -ECANCELED;   /* until it runs */
    if (path)
        r->path = memcpy(r->paths, path, n1);
    if (path2)
        r->path2 = memcpy(r->paths + n1, path2, n2);
    return r;
}

int corio_fs_buffer(corio_fsreq *r, const void *p, size_t len)
{
    free(r->buf);
    r->buf = malloc(len ? len : 1);
    if (!r->buf)
        return -ENOMEM;
    if (p)
        memcpy(r->buf, p, len);
    r->len = len;
    return 0;
}

void corio_fs_free(corio_fsreq *r)
{
    if (r) {
        free(r->buf);
        free(r);
    }
}

static void from_stat(corio_stat *st, const struct stat *s)
{
    st->size = (uint64_t)s->st_size, st->ino = s->st_ino, st->dev = s->st_dev;
    st->nlink = s->st_nlink, st->mode = s->st_mode, st->uid = s->st_uid, st->gid = s->st_gid;
    st->atime_ns = (int64_t)s->st_atim.tv_sec * 1000000000 + s->st_atim.tv_nsec;
    st->mtime_ns = (int64_t)s->st_mtim.tv_sec * 1000000000 + s->st_mtim.tv_nsec;
    st->ctime_ns = (int64_t)s->st_ctim.tv_sec * 1000000000 + s->st_ctim.tv_nsec;
}

static void from_statx(corio_stat *st, const struct statx *x)
{
    st->size = x->stx_size, st->ino = x->stx_ino;
    st->dev = makedev(x->stx_dev_major, x->stx_dev_minor);
    st->nlink = x->stx_nlink, st->mode = x->stx_mode, st->uid = x->stx_uid, st->gid = x->stx_gid;
    st->atime_ns = x->stx_atime.tv_sec * 1000000000 + x->stx_atime.tv_nsec;
    st->mtime_ns = x->stx_mtime.tv_sec * 1000000000 + x->stx_mtime.tv_nsec;
    st->ctime_ns = x->stx_ctime.tv_sec * 1000000000 + x->stx_ctime.tv_nsec;
}

/* A freshly opened fd that is a directory is closed: -EISDIR, as files
 * are all corio.fs.open makes. */
static int64_t not_a_dir(int fd)
{
    struct stat s;
    if (fstat(fd, &s) == 0 && S_ISDIR(s.st_mode)) {
        close(fd);
        return -EISDIR;
    }
    return fd;
}

/* ---- on a worker ---- */

static int64_t rw(corio_fsreq *r)
{
    ssize_t n;
    do {
        if (r->kind == CORIO_FS_READ)
            n = r->off < 0 ? read(r->fd, r->buf, r->len) : pread(r->fd, r->buf, r->len, r->off);
        else
            n = r->off < 0 ? write(r->fd, r->buf, r->len) : pwrite(r->fd, r->buf, r->len, r->off);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

/* The names of the directory at path into r->buf, each ending in NUL. */
static int64_t list_dir(corio_fsreq *r)
{
    DIR *d = opendir(r->path);
    if (!d)
        return -errno;
    size_t used = 0, cap = 0;
    int64_t count = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        size_t n = strlen(e->d_name) + 1;
        if (used + n > cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            while (ncap < used + n)
                ncap *= 2;
            char *p = realloc(r->buf, ncap);
            if (!p) {
                closedir(d);
                return -ENOMEM;
            }
            r->buf = p, cap = ncap;
        }
        memcpy(r->buf + used, e->d_name, n);
        used += n, count++;
    }
    int err = errno;
    closedir(d);
    r->len = used;
    return err ? -err : count;
}

/* The whole file at path into r->buf. */
static int64_t read_file(corio_fsreq *r)
{
    int fd = open(r->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat s;
    int64_t res = fstat(fd, &s) < 0 ? -errno : S_ISDIR(s.st_mode) ? -EISDIR : 0;
    /* the size is a hint: /proc files say 0, a file may grow meanwhile */
    size_t cap = res == 0 && s.st_size > 0 ? (size_t)s.st_size + 1 : 4096, used = 0;
    while (res == 0) {
        if (used == cap) {
            if (cap > (size_t)INT_MAX) {
                res = -EFBIG;
                break;
            }
            cap *= 2;
        }
        if (!r->buf || used == 0 || cap != r->len) {
            char *p = realloc(r->buf, cap);
            if (!p) {
                res = -ENOMEM;
                break;
            }
            r->buf = p, r->len = cap;
        }
        ssize_t n = read(fd, r->buf + used, cap - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            res = -errno;
        else if (n == 0)
            break;
        else if ((used += (size_t)n) < cap && S_ISREG(s.st_mode))
            break;   /* a regular file reads short only at its end: no read for the 0 */
    }
    close(fd);
    return res < 0 ? res : (int64_t)used;
}

static int64_t run_now(corio_fsreq *r)
{
    struct stat s;
    int rc = 0;
    switch (r->kind) {
    case CORIO_FS_OPEN:
        rc = open(r->path, r->flags | O_CLOEXEC, r->mode);
        return rc < 0 ? -errno : not_a_dir(rc);
    case CORIO_FS_CLOSE: rc = close(r->fd); break;
    case CORIO_FS_READ: case CORIO_FS_WRITE: return rw(r);
    case CORIO_FS_FSYNC: rc = fsync(r->fd); break;
    case CORIO_FS_STAT: case CORIO_FS_LSTAT: case CORIO_FS_FSTAT:
        rc = r->kind == CORIO_FS_STAT ? stat(r->path, &s)
           : r->kind == CORIO_FS_LSTAT ? lstat(r->path, &s) : fstat(r->fd, &s);
        if (rc == 0)
            from_stat(&r->st, &s);
        break;
    case CORIO_FS_RENAME: rc = rename(r->path, r->path2); break;
    case CORIO_FS_UNLINK: rc = unlink(r->path); break;
    case CORIO_FS_RMDIR: rc = rmdir(r->path); break;
    case CORIO_FS_MKDIR: rc = mkdir(r->path, r->mode); break;
    case CORIO_FS_SYMLINK: rc = symlink(r->path, r->path2); break;
    case CORIO_FS_CHMOD: rc = chmod(r->path, r->mode); break;
    case CORIO_FS_READLINK: {
        ssize_t n = readlink(r->path, r->buf, r->len);
        return n < 0 ? -errno : n;
    }
    case CORIO_FS_READDIR: return list_dir(r);
    case CORIO_FS_READFILE: return read_file(r);
    default: return -EINVAL;
    }
    return rc < 0 ? -errno : 0;
}

static void job_work(corio_job *j)
{
    corio_fsreq *r = (corio_fsreq *)j;
    r->res = run_now(r);
}

static void job_done(corio_job *j, int cancelled)
{
    corio_fsreq *r = (corio_fsreq *)j;
    if (cancelled && r->kind == CORIO_FS_OPEN && r->res >= 0)
        close((int)r->res);   /* opened for an owner that is gone */
    r->done(r, cancelled);
}

/* ---- on the ring ---- */

static void op_done(corio_op *op, int res, const void *data, unsigned flags)
{
    (void)data, (void)flags;
    corio_fsreq *r = corio_container_of(op, corio_fsreq, fop.op);
    if (r->on_ring == 2) {   /* given up: the kernel is through with it now */
        if (r->kind == CORIO_FS_OPEN && res >= 0)
            close(res);
        r->done(r, 1);
        return;
    }
    r->res = res;
    if (res >= 0 && r->kind == CORIO_FS_OPEN)
        r->res = not_a_dir(res);
    else if (res >= 0 && op->kind == CORIO_OP_STATX)
        from_statx(&r->st, r->fop.buf);
    r->done(r, 0);
}

static int ring_submit(corio_loop *l, corio_fsreq *r)
{
    corio_file_op *f = &r->fop;
    memset(f, 0, sizeof *f);
    f->op.kind = (uint8_t)op_kind(r->kind);
    f->op.fd = r->fd;
    f->op.cb = op_done;
    f->path = r->path, f->path2 = r->path2;
    f->flags = r->flags, f->mode = r->mode, f->off = r->off;
    f->buf = r->buf, f->len = (unsigned)r->len;
    switch (r->kind) {
    case CORIO_FS_OPEN: f->flags |= O_CLOEXEC; break;
    case CORIO_FS_RMDIR: f->flags = AT_REMOVEDIR; break;
    case CORIO_FS_STAT: case CORIO_FS_LSTAT: case CORIO_FS_FSTAT:
        if (corio_fs_buffer(r, NULL, sizeof(struct statx)) < 0)
            return -ENOMEM;
        f->buf = r->buf, f->len = 0;
        f->flags = r->kind == CORIO_FS_LSTAT ? AT_SYMLINK_NOFOLLOW
                 : r->kind == CORIO_FS_FSTAT ? AT_EMPTY_PATH : 0;
        if (r->kind == CORIO_FS_FSTAT)
            f->path = "";
        break;
    }
    int rc = l->be->vt->submit(l->be, &f->op);
    if (rc == 0)
        r->on_ring = 1, r->loop = l;
    return rc;
}

/* ---- the owner's side ---- */

int corio_fs_submit(corio_loop *l, corio_fsreq *r)
{
    if (r->kind >= CORIO_FS_KINDS || !r->done)
        return -EINVAL;
    if ((r->kind == CORIO_FS_READ || r->kind == CORIO_FS_READLINK) && !r->buf) {
        size_t len = r->kind == CORIO_FS_READLINK ? PATH_MAX : r->len;
        if (corio_fs_buffer(r, NULL, len) < 0)
            return -ENOMEM;
    }
    if (r->len > INT_MAX)   /* one request moves at most 2 GiB, like read(2) */
        r->len = INT_MAX;
    if (corio_fs_native(l, r->kind)) {
        int rc = ring_submit(l, r);
        if (rc != -EOPNOTSUPP)
            return rc;
    }
    r->job.work = job_work;
    r->job.done = job_done;
    r->job.cls = CORIO_JOB_FILES;
    return corio_job_submit(l, &r->job);
}

void corio_fs_cancel(corio_fsreq *r)
{
    if (!r->on_ring) {
        corio_job_cancel(&r->job);
        return;
    }
    /* Ask the kernel to stop it (a blocked open of a fifo stops; a read of
     * a regular file runs to its end); the final callback frees it. */
    r->on_ring = 2;
    r->loop->be->vt->cancel(r->loop->be, &r->fop.op);
}
