/*
 * slowfs -- a read-only FUSE passthrough that answers every metadata
 * operation late, to measure and test pwalk on a "network filesystem"
 * (issue 18).  See README.md here.
 *
 *   slowfs [--latency-us N] [--control FILE] [--counters FILE]
 *          [--max-threads N] [--die-with-parent] [--default-permissions]
 *          [--debug] SOURCE MOUNTPOINT
 *
 * - lookup, getattr, opendir and readdir each sleep the configured latency
 *   (clock_nanosleep: a waiting request holds no CPU) before they answer;
 *   readlink, open, read, statfs, releasedir answer at once.
 * - attr_timeout = entry_timeout = 0 on every reply and no negative entries:
 *   the kernel caches nothing, so every stat of a name reaches the daemon.
 * - the low-level API's multi-threaded loop with up to --max-threads
 *   (default 1024) workers, all kept idle-ready: concurrent requests wait
 *   concurrently, so N requests in flight take one latency, not N.
 * - every 100 ms one line goes to --counters: the end of the window (epoch
 *   ms), how many requests of each type ARRIVED in it, the most requests in
 *   flight at once during it, the latency in force, and the microseconds
 *   the requests answered in it spent in the daemon (busy_us: / 100000 = the
 *   mean number in flight).  The tests' oracle.
 * - --control FILE holds the latency in microseconds; it is re-read every
 *   100 ms (and its value is in the next counters line), so a test can raise
 *   the latency mid-scan.  Without it the latency is --latency-us for good.
 * - lookups (and readdirs) of one directory run in parallel, as a network
 *   filesystem's client sends them (see sfs_io_writev: libfuse 3.14.0 needs
 *   help for that).
 * - mounted ro,allow_other: nothing checks permissions but the daemon (root),
 *   so a path component costs one lookup, not a getattr of the directory
 *   first; --default-permissions makes the kernel check modes (and fetch the
 *   directory's attributes for it).  SIGTERM/SIGINT/SIGHUP (and,
 *   with --die-with-parent, the death of the process that started it)
 *   unmount (MNT_DETACH as root) and exit.
 *
 * Inodes are the source's own: replies carry the source's st_ino (and every
 * other stat field) unchanged, only st_dev is FUSE's.  The source is read
 * with O_NOATIME so a scan through the mount leaves its atimes alone.
 */
#define FUSE_USE_VERSION 312
#define _GNU_SOURCE
#include <fuse3/fuse_lowlevel.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum sfs_op {
    SFS_LOOKUP,
    SFS_GETATTR,
    SFS_OPENDIR,
    SFS_READDIR,
    SFS_RELEASEDIR,
    SFS_READLINK,
    SFS_OPEN,
    SFS_READ,
    SFS_STATFS,
    SFS_FORGET,
    SFS_NOPS
};

/* Column names of the counters file, in enum order. */
static const char *const sfs_op_names[SFS_NOPS] = {
    "lookup", "getattr", "opendir", "readdir", "releasedir",
    "readlink", "open", "read", "statfs", "forget",
};

#define SFS_BUCKETS (1u << 18)
#define SFS_TICK_NS 100000000L

/* An inode the kernel knows, by its path below the source (no fd: a tree
 * of more inodes than the fd limit allows must work too; a container may
 * not raise that limit).  The path is the last name it was looked up by,
 * so a rename in the source is followed at the next lookup. */
struct sfs_inode {
    struct sfs_inode *next; /* hash chain */
    char *path;             /* relative to the source; "." for the root; under the lock */
    dev_t dev;
    ino_t ino;
    uint64_t nlookup;       /* under the lock */
};

struct sfs_dir {
    DIR *dp;
    off_t offset;
    struct dirent *entry; /* read but not yet sent */
};

struct sfs {
    struct sfs_inode root;
    int rootfd;             /* O_PATH on the source: every path is relative to it */
    pthread_rwlock_t lock;  /* the inode table and the inodes' paths */
    struct sfs_inode **table;
    atomic_uint_fast64_t count[SFS_NOPS];
    atomic_long inflight, inflight_max;
    atomic_uint_fast64_t busy_ns; /* time answered requests spent here, this window */
    atomic_long latency_us;
    const char *control;
    int counters_fd;
    atomic_bool stop;
    atomic_uint_fast64_t init_unique; /* the INIT request's id ... */
    atomic_bool init_pending;         /* ... until its reply went out */
};

/* ---- requests: count, wait, answer ------------------------------------ */

static struct sfs *sfs_of(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

static int64_t sfs_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A request arrived: counted in this window, in flight until sfs_end(),
 * which is given what this returns (the arrival time). */
static int64_t sfs_begin(struct sfs *fs, enum sfs_op op)
{
    atomic_fetch_add_explicit(&fs->count[op], 1, memory_order_relaxed);
    long now = atomic_fetch_add(&fs->inflight, 1) + 1;
    long max = atomic_load(&fs->inflight_max);
    while (now > max && !atomic_compare_exchange_weak(&fs->inflight_max, &max, now))
        ;
    return sfs_now_ns();
}

/* Answered: its time in the daemon (the wait included) adds to busy_us,
 * so busy_us / window = the mean number in flight (Little's law) and
 * busy_us / requests = the latency a client saw, oversleeping included. */
static void sfs_end(struct sfs *fs, int64_t arrived)
{
    atomic_fetch_add_explicit(&fs->busy_ns, (uint_fast64_t)(sfs_now_ns() - arrived),
                              memory_order_relaxed);
    atomic_fetch_sub(&fs->inflight, 1);
}

/* The metadata server's answer time: sleeping, so waiting costs no CPU. */
static void sfs_wait(struct sfs *fs)
{
    long us = atomic_load_explicit(&fs->latency_us, memory_order_relaxed);
    if (us <= 0)
        return;
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
        ;
}

static struct sfs_inode *sfs_inode(struct sfs *fs, fuse_ino_t ino)
{
    return ino == FUSE_ROOT_ID ? &fs->root : (struct sfs_inode *)(uintptr_t)ino;
}

static size_t sfs_hash(dev_t dev, ino_t ino)
{
    uint64_t h = ((uint64_t)ino * 0x9E3779B97F4A7C15ull) ^ (uint64_t)dev;
    return (size_t)(h >> 20) & (SFS_BUCKETS - 1);
}

/* Copy the path of ino into buf (PATH_MAX).  0, or an errno. */
static int sfs_path(struct sfs *fs, fuse_ino_t ino, char *buf)
{
    struct sfs_inode *in = sfs_inode(fs, ino);
    pthread_rwlock_rdlock(&fs->lock);
    size_t n = strlen(in->path);
    if (n < PATH_MAX)
        memcpy(buf, in->path, n + 1);
    pthread_rwlock_unlock(&fs->lock);
    return n < PATH_MAX ? 0 : ENAMETOOLONG;
}

/* The inode for (dev, ino), one more lookup on it, known by path from now on. */
static struct sfs_inode *sfs_remember(struct sfs *fs, const char *path, const struct stat *st)
{
    if (st->st_dev == fs->root.dev && st->st_ino == fs->root.ino)
        return &fs->root; /* the root is never forgotten */
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    size_t b = sfs_hash(st->st_dev, st->st_ino);
    pthread_rwlock_wrlock(&fs->lock);
    struct sfs_inode *in = fs->table[b];
    while (in && (in->dev != st->st_dev || in->ino != st->st_ino))
        in = in->next;
    if (!in && (in = calloc(1, sizeof *in)) != NULL) {
        in->dev = st->st_dev;
        in->ino = st->st_ino;
        in->next = fs->table[b];
        fs->table[b] = in;
    }
    if (in) {
        char *old = in->path;
        in->path = copy;
        copy = old;
        in->nlookup++;
    }
    pthread_rwlock_unlock(&fs->lock);
    free(copy);
    return in;
}

static void sfs_forget_one(struct sfs *fs, fuse_ino_t ino, uint64_t n)
{
    struct sfs_inode *in = sfs_inode(fs, ino);
    if (in == &fs->root)
        return;
    pthread_rwlock_wrlock(&fs->lock);
    if (in->nlookup > n) {
        in->nlookup -= n;
        in = NULL;
    } else {
        struct sfs_inode **p = &fs->table[sfs_hash(in->dev, in->ino)];
        while (*p != in)
            p = &(*p)->next;
        *p = in->next;
    }
    pthread_rwlock_unlock(&fs->lock);
    if (in) {
        free(in->path);
        free(in);
    }
}

/* PARENT's path + "/" + name into buf (PATH_MAX).  0, or an errno. */
static int sfs_child(struct sfs *fs, fuse_ino_t parent, const char *name, char *buf)
{
    int err = sfs_path(fs, parent, buf);
    if (err)
        return err;
    size_t n = strcmp(buf, ".") == 0 ? 0 : strlen(buf);
    if (n + 1 + strlen(name) >= PATH_MAX)
        return ENAMETOOLONG;
    if (n)
        buf[n++] = '/';
    strcpy(buf + n, name);
    return 0;
}

static void sfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct sfs *fs = sfs_of(req);
    int64_t t0 = sfs_begin(fs, SFS_LOOKUP);
    sfs_wait(fs);
    struct fuse_entry_param e;
    memset(&e, 0, sizeof e);
    char path[PATH_MAX];
    int err = sfs_child(fs, parent, name, path);
    if (!err && fstatat(fs->rootfd, path, &e.attr, AT_SYMLINK_NOFOLLOW) != 0)
        err = errno;
    struct sfs_inode *in = err ? NULL : sfs_remember(fs, path, &e.attr);
    if (!err && !in)
        err = ENOMEM;
    if (err) {
        fuse_reply_err(req, err); /* no negative entry: nothing cached */
    } else {
        e.ino = in == &fs->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)in;
        e.attr_timeout = 0.0;
        e.entry_timeout = 0.0;
        fuse_reply_entry(req, &e);
    }
    sfs_end(fs, t0);
}

static void sfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)fi;
    struct sfs *fs = sfs_of(req);
    int64_t t0 = sfs_begin(fs, SFS_GETATTR);
    sfs_wait(fs);
    struct stat st;
    char path[PATH_MAX];
    int err = sfs_path(fs, ino, path);
    if (!err && fstatat(fs->rootfd, path, &st, AT_SYMLINK_NOFOLLOW) != 0)
        err = errno;
    if (err)
        fuse_reply_err(req, err);
    else
        fuse_reply_attr(req, &st, 0.0);
    sfs_end(fs, t0);
}

static void sfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
    struct sfs *fs = sfs_of(req);
    int64_t t0 = sfs_begin(fs, SFS_READLINK);
    char buf[PATH_MAX + 1], path[PATH_MAX];
    int err = sfs_path(fs, ino, path);
    ssize_t n = err ? -1 : readlinkat(fs->rootfd, path, buf, sizeof buf);
    if (n < 0 || n == (ssize_t)sizeof buf) {
        fuse_reply_err(req, err ? err : n < 0 ? errno : ENAMETOOLONG);
    } else {
        buf[n] = '\0';
        fuse_reply_readlink(req, buf);
    }
    sfs_end(fs, t0);
}

/* ---- directories -------------------------------------------------------- */

/* Open ino for reading, without touching its atime where allowed. */
static int sfs_reopen(struct sfs *fs, fuse_ino_t ino, int flags)
{
    char path[PATH_MAX];
    int err = sfs_path(fs, ino, path);
    if (err) {
        errno = err;
        return -1;
    }
    flags |= O_NOFOLLOW | O_CLOEXEC;
    int fd = openat(fs->rootfd, path, flags | O_NOATIME);
    if (fd < 0 && errno == EPERM)
        fd = openat(fs->rootfd, path, flags);
    return fd;
}

static void sfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct sfs *fs = sfs_of(req);
    int64_t t0 = sfs_begin(fs, SFS_OPENDIR);
    sfs_wait(fs);
    struct sfs_dir *d = calloc(1, sizeof *d);
    int fd = d ? sfs_reopen(fs, ino, O_RDONLY | O_DIRECTORY) : -1;
    int err = !d ? ENOMEM : fd < 0 ? errno : 0;
    if (!err && (d->dp = fdopendir(fd)) == NULL) {
        err = errno;
        close(fd);
    }
    if (err) {
        free(d);
        fuse_reply_err(req, err);
    } else {
        fi->fh = (uint64_t)(uintptr_t)d;
        fuse_reply_open(req, fi);
    }
    sfs_end(fs, t0);
}

/* Fill buf (size bytes) from d at offset; returns the bytes used or -errno. */
static long sfs_fill(fuse_req_t req, struct sfs_dir *d, char *buf, size_t size, off_t offset)
{
    if (offset != d->offset) {
        seekdir(d->dp, offset);
        d->entry = NULL;
        d->offset = offset;
    }
    size_t used = 0;
    for (;;) {
        if (!d->entry) {
            errno = 0;
            d->entry = readdir(d->dp);
            if (!d->entry)
                return errno && !used ? -errno : (long)used;
        }
        struct stat st;
        memset(&st, 0, sizeof st);
        st.st_ino = d->entry->d_ino;
        st.st_mode = (mode_t)d->entry->d_type << 12;
        off_t next = d->entry->d_off;
        size_t n = fuse_add_direntry(req, buf + used, size - used, d->entry->d_name, &st, next);
        if (n > size - used)
            return (long)used; /* sent next time */
        used += n;
        d->entry = NULL;
        d->offset = next;
    }
}

static void sfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
                        struct fuse_file_info *fi)
{
    (void)ino;
    struct sfs *fs = sfs_of(req);
    int64_t t0 = sfs_begin(fs, SFS_READDIR);
    sfs_wait(fs);
    char *buf = malloc(size);
    long n = buf ? sfs_fill(req, (struct sfs_dir *)(uintptr_t)fi->fh, buf, size, offset) : -ENOMEM;
    if (n < 0)
        fuse_reply_err(req, (int)-n);
    else
        fuse_reply_buf(req, buf, (size_t)n);
    free(buf);
    sfs_end(fs, t0);
}

static void sfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    struct sfs *fs = sfs_of(req);
    int64_t t0 = sfs_begin(fs, SFS_RELEASEDIR);
    struct sfs_dir *d = (struct sfs_dir *)(uintptr_t)fi->fh;
    closedir(d->dp);
    free(d);
    fuse_reply_err(req, 0);
    sfs_end(fs, t0);
}

/* ---- files (counted: a scan should never open one) ---------------------- */

static void sfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct sfs *fs = sfs_of(req);
    int64_t t0 = sfs_begin(fs, SFS_OPEN);
    if ((fi->flags & O_ACCMODE) != O_RDONLY) {
        fuse_reply_err(req, EROFS);
    } else {
        int fd = sfs_reopen(fs, ino, O_RDONLY);
        if (fd < 0) {
            fuse_reply_err(req, errno);
        } else {
            fi->fh = (uint64_t)fd;
            fuse_reply_open(req, fi);
        }
    }
    sfs_end(fs, t0);
}

static void sfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    (void)ino;
    struct sfs *fs = sfs_of(req);
    int64_t t0 = sfs_begin(fs, SFS_READ);
    char *buf = malloc(size ? size : 1);
    ssize_t n = buf ? pread((int)fi->fh, buf, size, off) : -1;
    if (n < 0)
        fuse_reply_err(req, buf ? errno : ENOMEM);
    else
        fuse_reply_buf(req, buf, (size_t)n);
    free(buf);
    sfs_end(fs, t0);
}

static void sfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    close((int)fi->fh);
    fuse_reply_err(req, 0);
}

static void sfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
    struct sfs *fs = sfs_of(req);
    int64_t t0 = sfs_begin(fs, SFS_STATFS);
    struct statvfs sv;
    (void)ino;
    if (fstatvfs(fs->rootfd, &sv) != 0)
        fuse_reply_err(req, errno);
    else
        fuse_reply_statfs(req, &sv);
    sfs_end(fs, t0);
}

static void sfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    struct sfs *fs = sfs_of(req);
    atomic_fetch_add_explicit(&fs->count[SFS_FORGET], 1, memory_order_relaxed);
    sfs_forget_one(fs, ino, nlookup);
    fuse_reply_none(req);
}

static void sfs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    struct sfs *fs = sfs_of(req);
    atomic_fetch_add_explicit(&fs->count[SFS_FORGET], count, memory_order_relaxed);
    for (size_t i = 0; i < count; i++)
        sfs_forget_one(fs, forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
}

static const struct fuse_lowlevel_ops sfs_ops = {
    .lookup = sfs_lookup,
    .forget = sfs_forget,
    .forget_multi = sfs_forget_multi,
    .getattr = sfs_getattr,
    .readlink = sfs_readlink,
    .opendir = sfs_opendir,
    .readdir = sfs_readdir,
    .releasedir = sfs_releasedir,
    .open = sfs_open,
    .read = sfs_read,
    .release = sfs_release,
    .statfs = sfs_statfs,
};

/* ---- parallel lookups: the INIT reply ------------------------------------
 * A network filesystem's client sends lookups and readdirs of one directory
 * in parallel; the kernel does so for FUSE only when INIT's reply carries
 * FUSE_PARALLEL_DIROPS, and libfuse 3.14.0 (Debian 12) never sets it
 * (upstream fixed that after 3.14.1: "Pass FUSE_PARALLEL_DIROPS to
 * kernel").  Without it every lookup in a directory waits for the one
 * before: a 100-entry directory at 1 ms would take 100 ms whatever the
 * client does.  So the session's I/O goes through these two hooks, which
 * note INIT's request id and add the flag to its reply (struct layouts of
 * <linux/fuse.h>: opcode at byte 4 and unique at 8 of fuse_in_header,
 * unique at 8 of fuse_out_header, flags at 12 of fuse_init_out). */
#define SFS_FUSE_INIT 26
#define SFS_PARALLEL_DIROPS (1u << 18)

static ssize_t sfs_io_read(int fd, void *buf, size_t len, void *userdata)
{
    struct sfs *fs = userdata;
    ssize_t n = read(fd, buf, len);
    uint32_t opcode;
    if (n >= 16 && (memcpy(&opcode, (char *)buf + 4, 4), opcode == SFS_FUSE_INIT)) {
        uint64_t unique;
        memcpy(&unique, (char *)buf + 8, 8);
        atomic_store(&fs->init_unique, unique);
        atomic_store(&fs->init_pending, 1);
    }
    return n;
}

static ssize_t sfs_io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
    struct sfs *fs = userdata;
    if (atomic_load(&fs->init_pending) && count >= 2 && iov[0].iov_len >= 16 &&
        iov[1].iov_len >= 16) {
        int32_t error;
        uint64_t unique;
        memcpy(&error, (char *)iov[0].iov_base + 4, 4);
        memcpy(&unique, (char *)iov[0].iov_base + 8, 8);
        if (error == 0 && unique == atomic_load(&fs->init_unique)) {
            uint32_t flags;
            memcpy(&flags, (char *)iov[1].iov_base + 12, 4);
            flags |= SFS_PARALLEL_DIROPS;
            memcpy((char *)iov[1].iov_base + 12, &flags, 4);
            atomic_store(&fs->init_pending, 0);
        }
    }
    return writev(fd, iov, count);
}

/* ---- the 100 ms clock: counters out, control in ------------------------- */

static void sfs_read_control(struct sfs *fs)
{
    if (!fs->control)
        return;
    int fd = open(fs->control, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return; /* not there (yet): keep the latency */
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    char *end;
    errno = 0;
    long us = strtol(buf, &end, 10);
    while (*end == ' ' || *end == '\n' || *end == '\t')
        end++;
    if (errno || end == buf || *end || us < 0 || us > 60000000L) {
        fprintf(stderr, "slowfs: %s: not a latency in microseconds (0..60000000): '%.20s'\n",
                fs->control, buf);
        return;
    }
    atomic_store(&fs->latency_us, us);
}

static void sfs_write_line(struct sfs *fs)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char line[512];
    int len = snprintf(line, sizeof line, "%lld",
                       (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    for (int i = 0; i < SFS_NOPS; i++)
        len += snprintf(line + len, sizeof line - (size_t)len, " %" PRIuFAST64,
                        atomic_exchange(&fs->count[i], 0));
    long max = atomic_exchange(&fs->inflight_max, atomic_load(&fs->inflight));
    uint_fast64_t busy_us = atomic_exchange(&fs->busy_ns, 0) / 1000;
    len += snprintf(line + len, sizeof line - (size_t)len, " %ld %ld %" PRIuFAST64 "\n", max,
                    atomic_load(&fs->latency_us), busy_us);
    if (write(fs->counters_fd, line, (size_t)len) != len)
        perror("slowfs: counters");
}

static void *sfs_clock(void *arg)
{
    struct sfs *fs = arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!atomic_load(&fs->stop)) {
        next.tv_nsec += SFS_TICK_NS;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
            ;
        sfs_read_control(fs); /* first: the line shows the latency of the next window */
        if (fs->counters_fd >= 0)
            sfs_write_line(fs);
    }
    return NULL;
}

static int sfs_open_counters(struct sfs *fs, const char *path)
{
    fs->counters_fd = -1;
    if (!path)
        return 0;
    fs->counters_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fs->counters_fd < 0) {
        fprintf(stderr, "slowfs: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char head[256] = "# epoch_ms";
    for (int i = 0; i < SFS_NOPS; i++) {
        strcat(head, " ");
        strcat(head, sfs_op_names[i]);
    }
    strcat(head, " inflight_max latency_us busy_us\n");
    if (write(fs->counters_fd, head, strlen(head)) < 0)
        return -1;
    return 0;
}

/* ---- main --------------------------------------------------------------- */

struct sfs_args {
    const char *source, *mountpoint, *control, *counters;
    long latency_us, max_threads;
    int debug, die_with_parent, default_permissions;
};

static int sfs_usage(void)
{
    fprintf(stderr, "usage: slowfs [--latency-us N] [--control FILE] [--counters FILE]\n"
                    "              [--max-threads N] [--die-with-parent] [--default-permissions]\n"
                    "              [--debug] SOURCE MOUNTPOINT\n");
    return 2;
}

static int sfs_number(const char *opt, const char *s, long max, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : -1;
    if (!s || errno || *end || v < 0 || v > max) {
        fprintf(stderr, "slowfs: %s: not a number in 0..%ld: '%s'\n", opt, max, s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

static int sfs_parse(int argc, char **argv, struct sfs_args *a)
{
    memset(a, 0, sizeof *a);
    a->max_threads = 1024;
    int pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = 0;
        if (!strcmp(o, "--latency-us"))
            r = sfs_number(o, v, 60000000L, &a->latency_us), i++;
        else if (!strcmp(o, "--max-threads"))
            r = sfs_number(o, v, 100000L, &a->max_threads), i++;
        else if (!strcmp(o, "--control") && v)
            a->control = v, i++;
        else if (!strcmp(o, "--counters") && v)
            a->counters = v, i++;
        else if (!strcmp(o, "--debug"))
            a->debug = 1;
        else if (!strcmp(o, "--die-with-parent"))
            a->die_with_parent = 1;
        else if (!strcmp(o, "--default-permissions"))
            a->default_permissions = 1;
        else if (o[0] == '-' || pos == 2)
            return sfs_usage();
        else if (pos++ == 0)
            a->source = o;
        else
            a->mountpoint = o;
        if (r)
            return 2;
    }
    if (pos != 2 || a->max_threads < 1)
        return sfs_usage();
    return 0;
}

/* One fd per open directory (and file): as many as the system allows. */
static void sfs_more_fds(void)
{
    struct rlimit rl = {1048576, 1048576};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int sfs_init_fs(struct sfs *fs, const struct sfs_args *a)
{
    memset(fs, 0, sizeof *fs);
    pthread_rwlock_init(&fs->lock, NULL);
    fs->table = calloc(SFS_BUCKETS, sizeof *fs->table);
    fs->rootfd = open(a->source, O_PATH | O_DIRECTORY | O_CLOEXEC);
    fs->root.path = ".";
    struct stat st;
    if (!fs->table || fs->rootfd < 0 || fstat(fs->rootfd, &st) != 0) {
        fprintf(stderr, "slowfs: %s: %s\n", a->source, strerror(errno));
        return -1;
    }
    fs->root.dev = st.st_dev;
    fs->root.ino = st.st_ino;
    fs->root.nlookup = 1;
    atomic_store(&fs->latency_us, a->latency_us);
    fs->control = a->control;
    sfs_read_control(fs);
    return sfs_open_counters(fs, a->counters);
}

/* Serve until unmounted or signalled, the clock ticking meanwhile. */
static int sfs_loop(struct sfs *fs, struct fuse_session *se, long max_threads)
{
    pthread_t clock;
    int clocked = pthread_create(&clock, NULL, sfs_clock, fs) == 0;
    struct fuse_loop_config *cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(cfg, (unsigned)max_threads);
    fuse_loop_cfg_set_idle_threads(cfg, (unsigned)max_threads);
    int rc = fuse_session_loop_mt(se, cfg) == 0 ? 0 : 3;
    fuse_loop_cfg_destroy(cfg);
    atomic_store(&fs->stop, 1);
    if (clocked)
        pthread_join(clock, NULL);
    return rc;
}

/* Mount, serve until unmounted or signalled, unmount.  0 or 3. */
static int sfs_serve(struct sfs *fs, const struct sfs_args *a)
{
    char opts[PATH_MAX + 128];
    snprintf(opts, sizeof opts, "fsname=slowfs:%s,subtype=slowfs,ro,allow_other%s", a->source,
             a->default_permissions ? ",default_permissions" : "");
    char *fargv[] = {"slowfs", "-o", opts, a->debug ? "-d" : NULL, NULL};
    struct fuse_args args = FUSE_ARGS_INIT(a->debug ? 4 : 3, fargv);
    struct fuse_session *se = fuse_session_new(&args, &sfs_ops, sizeof sfs_ops, fs);
    if (!se)
        return 3;
    int rc = 3;
    static const struct fuse_custom_io io = {.read = sfs_io_read, .writev = sfs_io_writev};
    if (fuse_set_signal_handlers(se) == 0) {
        if (fuse_session_mount(se, a->mountpoint) == 0) {
            if (fuse_session_custom_io(se, &io, fuse_session_fd(se)) == 0)
                rc = sfs_loop(fs, se, a->max_threads);
            fuse_session_unmount(se);
        }
        fuse_remove_signal_handlers(se);
    }
    fuse_session_destroy(se);
    return rc;
}

int main(int argc, char **argv)
{
    struct sfs_args a;
    int rc = sfs_parse(argc, argv, &a);
    if (rc)
        return rc;
    if (a.die_with_parent) {
        pid_t parent = getppid();
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            return 3; /* it died before we asked */
    }
    sfs_more_fds();
    /* the default 50 us of timer slack would add up to 50 us to every
     * wait; threads created later inherit this */
    prctl(PR_SET_TIMERSLACK, 1UL);
    struct sfs *fs = malloc(sizeof *fs); /* handed to every request; freed by exit */
    if (!fs || sfs_init_fs(fs, &a) != 0)
        return 2;
    return sfs_serve(fs, &a);
}
