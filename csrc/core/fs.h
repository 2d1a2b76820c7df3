/* fs.h: file-system operations that never block the loop. Each is one
 * request: on io_uring, an op of the ring where the kernel has it (see
 * corio_fs_native); otherwise a job on the worker pool (workers.h), as on
 * the epoll backend. Either way the result comes back through the
 * backend's wait, on the loop's thread.
 *
 * A request is malloc'd and carries its own paths and buffer, so that a
 * request its owner gave up (a cancelled task) can finish in the kernel
 * or on a worker and be freed there. */
#ifndef CORIO_FS_H
#define CORIO_FS_H
#include <stddef.h>
#include <stdint.h>
#include "backend.h"
#include "workers.h"

struct corio_loop;

enum corio_fs_kind {
    CORIO_FS_OPEN,      /* path, flags, mode -> res = fd (O_CLOEXEC); a
                           directory is -EISDIR */
    CORIO_FS_CLOSE,     /* fd */
    CORIO_FS_READ,      /* fd, len, off (-1: the file position) -> res bytes at buf */
    CORIO_FS_WRITE,     /* fd, the len bytes at buf, off (-1: the file position) -> res bytes */
    CORIO_FS_FSYNC,     /* fd */
    CORIO_FS_STAT,      /* path -> st */
    CORIO_FS_LSTAT,     /* path -> st, of a link itself */
    CORIO_FS_FSTAT,     /* fd -> st */
    CORIO_FS_RENAME,    /* path -> path2 */
    CORIO_FS_UNLINK,    /* path */
    CORIO_FS_RMDIR,     /* path */
    CORIO_FS_MKDIR,     /* path, mode */
    CORIO_FS_SYMLINK,   /* a link at path2 to path */
    CORIO_FS_READLINK,  /* path -> res bytes at buf */
    CORIO_FS_CHMOD,     /* path, mode */
    CORIO_FS_READDIR,   /* path -> res names at buf, each ending in NUL, without . and .. */
    CORIO_FS_READFILE,  /* path -> res bytes at buf: open, read to the end, close,
                           in one job (a directory is -EISDIR) */
    CORIO_FS_KINDS
};

typedef struct corio_stat {
    uint64_t size, ino, dev, nlink;
    uint32_t mode, uid, gid;
    int64_t atime_ns, mtime_ns, ctime_ns;
} corio_stat;

typedef struct corio_fsreq corio_fsreq;
struct corio_fsreq {
    corio_job job;            /* the pool's (first) */
    corio_file_op fop;        /* the ring's */
    uint8_t kind;             /* enum corio_fs_kind */
    uint8_t on_ring;          /* submitted as an op (else a job) */
    int fd, flags;
    unsigned mode;
    int64_t off;
    size_t len;               /* READ: at most; WRITE: bytes at buf */
    char *buf;                /* freed with the request */
    int64_t res;              /* >= 0, or -errno */
    corio_stat st;
    /* Once, on the loop's thread with cancelled 0 and the results in
     * place; with cancelled 1 (the owner gave it up, or the loop closed)
     * possibly on a worker: then it must only free the request. */
    void (*done)(corio_fsreq *r, int cancelled);
    void *owner;              /* the owner's */
    struct corio_loop *loop;  /* whose ring runs it */
    char *path, *path2;       /* in the request's own allocation */
    char paths[];
};

/* A request of kind for path and path2 (either may be NULL), or NULL
 * when out of memory. */
corio_fsreq *corio_fs_new(int kind, const char *path, const char *path2);

/* Room for len bytes at r->buf (READ), or a copy of the len bytes at p
 * (WRITE): 0 or -ENOMEM. */
int corio_fs_buffer(corio_fsreq *r, const void *p, size_t len);

/* Start r: 0, or -errno (r is still the caller's). */
int corio_fs_submit(struct corio_loop *l, corio_fsreq *r);

/* Give r up: its done(r, 1) comes now or when the kernel or the worker is
 * through with it. */
void corio_fs_cancel(corio_fsreq *r);

/* Free r (after its done, or if it was never submitted). */
void corio_fs_free(corio_fsreq *r);

/* Whether the loop's backend runs requests of kind as its own ops. */
int corio_fs_native(struct corio_loop *l, int kind);

#endif
