/*
 * walk.c -- the parallel tree walk.
 *
 * Work items are directories to read (WALK_ITEM_DIR) and chunks of names
 * from a big directory to stat (WALK_ITEM_CHUNK).  Each directory that is
 * being walked is a refcounted walk_node (alive while any child node is,
 * for the path and parent inode) holding its open fd.  The fd is needed
 * only while the directory's own names are stat'ed and their rows flushed
 * and until every subdirectory has openat() itself through it; fd_users
 * counts exactly those, and the fd is closed when it reaches zero.  So a
 * 5000-level chain holds a handful of fds, not 5000.  Directory rows
 * therefore carry parent_fd -1 (their self_fd is what acts on them).
 *
 * Rows are collected per worker and handed to the sink after each item,
 * before anything they point to (paths, parent fds) is released.
 */
#define _GNU_SOURCE
#include "walk.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "common/grow.h"
#include "pace.h"
#include "queue.h"

#define WALK_DEFAULT_CHUNK 1024
#define WALK_MIN_CHUNK 16
#define WALK_DENTS_BUFFER (128 * 1024)

/* The scan's stop request (walk_options.stop), or none. */
static int walk_stop_asked(const walk_options *opt)
{
    return opt->stop && walk_stop_requested(opt->stop);
}

typedef struct walk_node {
    atomic_int refs;            /* own + one per live child node          */
    atomic_int fd_users;        /* reading + children not yet opened      */
    atomic_int pending;         /* reader + chunks not yet finished       */
    struct walk_node *parent;   /* NULL for roots                         */
    int fd;                     /* -1 until opened / when unreadable      */
    int unreadable;
    char *path;                 /* display path, NUL-terminated           */
    size_t path_len;
    size_t name_offset;
    int depth;                  /* row depth: root -1                     */
    int level;                  /* levels below the root: root 0          */
    uint64_t root_dev;
    uint64_t parent_ino;        /* 0 for roots                            */
    uint64_t expect_dev;        /* st_dev the opened directory must have  */
    uint64_t root_ino;          /* of its root, to re-check on import     */
    uint32_t root_index;        /* which of walk_options.roots            */
    int is_root;
    int imported;               /* came from another process: no parent
                                   node; opened from its root (remote)   */
    struct stat st;             /* what lstat said when it was found      */
    atomic_llong fcount;
    atomic_llong dirsum;
} walk_node;

enum walk_item_kind { WALK_ITEM_DIR = 1, WALK_ITEM_CHUNK };

typedef struct walk_item {
    enum walk_item_kind kind;
    walk_node *node;
    /* CHUNK: names packed NUL-terminated */
    char *names;
    size_t names_len;
    size_t count;
} walk_item;

/* Counters one worker owns; published with relaxed atomics so the progress
 * line can read them while the walk runs. */
typedef struct walk_counters {
    atomic_ullong entries, rows, errors, dirs, stat_errors, read_errors;
    atomic_ullong vanished;
    atomic_ullong filtered[FILTER_REASON_COUNT];
    /* for the controller (adapt): operations, and the sampled ones'
     * latency; one writer each, published with relaxed stores */
    atomic_ullong ops, lat_ns, lat_n;
    char pad[64];
} walk_counters;

typedef struct walk_run walk_run;

typedef struct walk_worker {
    walk_run *run;
    size_t index;
    pthread_t thread;
    /* the batch: entries whose path is an offset into arena until flush */
    pwalk_entry *batch;
    size_t batch_count, batch_cap;
    char *arena;
    size_t arena_len, arena_cap;
    /* nodes whose reference is dropped after the next flush */
    walk_node **release;
    size_t release_count, release_cap;
    char *dents;
    walk_counters *ctr;
    int failed;                 /* out of memory */
    /* the controller's measurements, published into ctr */
    uint64_t ops, lat_ns, lat_n;
    unsigned seq;
} walk_worker;

struct walk_run {
    const walk_options *opt;
    const walk_sink *sink;
    wq_pool *pool;
    walk_worker *workers;
    walk_counters *counters;
    /* names per chunk: opt->chunk_names, or with the controller running
     * what ~20 ms of stats take at the measured latency (a directory of
     * 90 names at 2 ms a stat is 180 ms for one worker, the walk's tail
     * on a slow filesystem; in chunks of 16, six workers share it) */
    atomic_size_t chunk_names;
    atomic_int sink_stopped;
    atomic_int out_of_memory;
    atomic_int running;
    atomic_size_t next_import;  /* round-robin worker for imported items */
    int held;                   /* remote: the pool is held open          */
    size_t worker_count;
    /* opt->own sorted by (ino, dev): under pwalk-mpi every rank's outputs
     * are in it (a few per rank and sink), and every non-directory entry
     * is looked up */
    walk_file_id *own;
    size_t own_count;
    pthread_mutex_t done_lock;
    pthread_cond_t done_cond;
    /* pacing (pace.h): workers at index >= limit wait at the gate; the
     * calling thread moves limit and starts workers up to it */
    int measure;                /* opt->adapt: count ops, sample latency  */
    int stat_slow;              /* measure, bucket_on or opt->lazy_stat   */
    int bucket_on;              /* opt->max_ops                           */
    pace_bucket bucket;
    atomic_uint limit;
    size_t started;             /* threads created (the calling thread's) */
    unsigned peak;
    atomic_int finishing;       /* the pool ended: parked workers leave   */
    pthread_mutex_t gate_lock;
    pthread_cond_t gate_cond;
    /* lazy_stat: statx refused (its errno), statx used */
    atomic_int statx_refused;
    atomic_int statx_used;
    atomic_int ioprio_errno;
    int noatime_all;            /* root: O_NOATIME on every directory     */
    uid_t euid;
    /* cuts (walk.h "Cuts"): while pausing, workers park directories here
     * instead of reading them; parked items stay outstanding, so the pool
     * neither ends nor hands them to anyone */
    atomic_int pausing;
    pthread_mutex_t park_lock;
    walk_item **parked;
    size_t parked_count, parked_cap;
    int suspended;              /* ended at a checkpoint                  */
    int cut_failed;             /* a checkpoint could not be written      */
    char cut_err[512];
};

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static void count_add(atomic_ullong *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static int walk_should_stop(walk_run *run)
{
    return walk_stop_asked(run->opt) ||
           atomic_load_explicit(&run->sink_stopped, memory_order_relaxed) ||
           atomic_load_explicit(&run->out_of_memory, memory_order_relaxed);
}

/* ---- pacing: tokens, latency samples, the stat call ----------------------- */

static uint64_t walk_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Before a metadata call worth `tokens` operations (a directory open is a
 * lookup and an open on the server): wait for them under scan.max_ops;
 * returns a clock reading for one call in 8 when the controller needs
 * latencies, else 0.  Both checks are one predictable branch when off. */
static inline uint64_t op_begin(walk_worker *w, unsigned tokens)
{
    walk_run *run = w->run;
    if (run->bucket_on)
        pace_bucket_take(&run->bucket, tokens, run->opt->stop);
    if (!run->measure || (++w->seq & 7) != 0)
        return 0;
    return walk_now_ns();
}

static inline void op_end(walk_worker *w, uint64_t t0, unsigned ops)
{
    if (!w->run->measure)
        return;
    w->ops += ops;
    atomic_store_explicit(&w->ctr->ops, w->ops, memory_order_relaxed);
    if (t0) {
        w->lat_ns += walk_now_ns() - t0;
        w->lat_n++;
        atomic_store_explicit(&w->ctr->lat_ns, w->lat_ns, memory_order_relaxed);
        atomic_store_explicit(&w->ctr->lat_n, w->lat_n, memory_order_relaxed);
    }
}

static void stat_from_statx(struct stat *st, const struct statx *x)
{
    memset(st, 0, sizeof *st);
    st->st_dev = makedev(x->stx_dev_major, x->stx_dev_minor);
    st->st_ino = (ino_t)x->stx_ino;
    st->st_mode = (mode_t)x->stx_mode;
    st->st_nlink = (nlink_t)x->stx_nlink;
    st->st_uid = (uid_t)x->stx_uid;
    st->st_gid = (gid_t)x->stx_gid;
    st->st_rdev = makedev(x->stx_rdev_major, x->stx_rdev_minor);
    st->st_size = (off_t)x->stx_size;
    st->st_blksize = (blksize_t)x->stx_blksize;
    st->st_blocks = (blkcnt_t)x->stx_blocks;
    st->st_atim.tv_sec = x->stx_atime.tv_sec;
    st->st_atim.tv_nsec = x->stx_atime.tv_nsec;
    st->st_mtim.tv_sec = x->stx_mtime.tv_sec;
    st->st_mtim.tv_nsec = x->stx_mtime.tv_nsec;
    st->st_ctim.tv_sec = x->stx_ctime.tv_sec;
    st->st_ctim.tv_nsec = x->stx_ctime.tv_nsec;
}

/* statx(AT_STATX_DONT_SYNC) of name in dir, into st: 0, -1 with errno,
 * or 1 when the kernel or filesystem refuses the flag (EINVAL, ENOSYS):
 * the walk then uses fstatat for the rest of it.  Out of line: its 256-byte
 * struct statx would make every paced stat's frame big. */
static __attribute__((noinline)) int walk_statx(walk_run *run, int dir, const char *name,
                                                 struct stat *st)
{
    struct statx x;
    if (statx(dir, name, AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &x) ==
        0) {
        stat_from_statx(st, &x);
        if (!atomic_load_explicit(&run->statx_used, memory_order_relaxed))
            atomic_store(&run->statx_used, 1);
        return 0;
    }
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    int none = 0;
    atomic_compare_exchange_strong(&run->statx_refused, &none, errno);
    return 1;
}

/* lstat of name in dir, paced and timed (op_begin/op_end leave errno
 * alone: the clock and the bucket's sleep do not set it), and with
 * lazy_stat statx(AT_STATX_DONT_SYNC) -- a network filesystem may answer
 * from what the client has instead of asking the server. */
static __attribute__((noinline)) int walk_lstat_slow(walk_worker *w, int dir, const char *name,
                                                     struct stat *st)
{
    walk_run *run = w->run;
    uint64_t t0 = op_begin(w, 1);
    int rc = 1;
    if (run->opt->lazy_stat && !atomic_load_explicit(&run->statx_refused, memory_order_relaxed))
        rc = walk_statx(run, dir, name, st);
    if (rc > 0)
        rc = fstatat(dir, name, st, AT_SYMLINK_NOFOLLOW);
    op_end(w, t0, 1);
    return rc;
}

/* The plain fstatat unless the walk paces or lazy_stat asks for statx:
 * the warm-cache hot path stays one call. */
static inline int walk_lstat(walk_worker *w, int dir, const char *name, struct stat *st)
{
    if (!w->run->stat_slow)
        return fstatat(dir, name, st, AT_SYMLINK_NOFOLLOW);
    return walk_lstat_slow(w, dir, name, st);
}

size_t walk_root_display_len(const char *root)
{
    size_t len = strlen(root);
    while (len > 1 && root[len - 1] == '/')
        len--;
    return len;
}

/* ---- nodes --------------------------------------------------------------- */

/* One reason to keep n's fd open is gone. */
static void node_fd_release(walk_node *n)
{
    if (atomic_fetch_sub(&n->fd_users, 1) == 1 && n->fd >= 0) {
        close(n->fd);
        n->fd = -1;
    }
}

static void node_release(walk_node *n)
{
    while (n && atomic_fetch_sub(&n->refs, 1) == 1) {
        walk_node *parent = n->parent;
        if (n->fd >= 0)
            close(n->fd);
        free(n->path);
        free(n);
        n = parent;
    }
}

static walk_node *node_new(walk_node *parent, const char *path, size_t path_len,
                           size_t name_offset, const struct stat *st)
{
    walk_node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->path = malloc(path_len + 1);
    if (!n->path) {
        free(n);
        return NULL;
    }
    memcpy(n->path, path, path_len);
    n->path[path_len] = '\0';
    n->path_len = path_len;
    n->name_offset = name_offset;
    n->st = *st;
    n->expect_dev = (uint64_t)st->st_dev;
    n->fd = -1;
    atomic_init(&n->refs, 1);
    atomic_init(&n->fd_users, 1);
    atomic_init(&n->pending, 1);
    atomic_init(&n->fcount, 0);
    atomic_init(&n->dirsum, 0);
    if (parent) {
        atomic_fetch_add(&parent->refs, 1);
        atomic_fetch_add(&parent->fd_users, 1);
        n->parent = parent;
        n->depth = parent->depth + 1;
        n->level = parent->level + 1;
        n->root_dev = parent->root_dev;
        n->root_index = parent->root_index;
        n->root_ino = parent->root_ino;
        n->parent_ino = (uint64_t)parent->st.st_ino;
    } else {
        n->depth = -1;
        n->level = 0;
        n->root_dev = (uint64_t)st->st_dev;
        n->root_ino = (uint64_t)st->st_ino;
        n->is_root = 1;
    }
    return n;
}

/* ---- the per-worker batch ------------------------------------------------- */

static void worker_oom(walk_worker *w)
{
    w->failed = 1;
    atomic_store(&w->run->out_of_memory, 1);
}

static void fill_stat(pwalk_entry *e, const struct stat *st)
{
    e->mode = (uint32_t)st->st_mode;
    e->uid = (uint32_t)st->st_uid;
    e->gid = (uint32_t)st->st_gid;
    e->ino = (uint64_t)st->st_ino;
    e->dev = (uint64_t)st->st_dev;
    e->nlink = (uint64_t)st->st_nlink;
    e->size = (int64_t)st->st_size;
    e->blocks = (int64_t)st->st_blocks;
    e->atime_sec = (int64_t)st->st_atim.tv_sec;
    e->mtime_sec = (int64_t)st->st_mtim.tv_sec;
    e->ctime_sec = (int64_t)st->st_ctim.tv_sec;
    e->atime_nsec = (uint32_t)st->st_atim.tv_nsec;
    e->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
    e->ctime_nsec = (uint32_t)st->st_ctim.tv_nsec;
}

/* Append a row whose path is dir_path + "/" + name (or path alone when
 * name is NULL).  Returns the entry (path not yet valid) or NULL. */
static pwalk_entry *batch_add(walk_worker *w, const char *dir_path, size_t dir_len,
                              const char *name, size_t name_len)
{
    int sep = name && !(dir_len > 0 && dir_path[dir_len - 1] == '/');
    size_t len = dir_len + (size_t)sep + (name ? name_len : 0);
    if (grow_array((void **)&w->batch, &w->batch_cap, w->batch_count + 1, sizeof *w->batch) ||
        grow_array((void **)&w->arena, &w->arena_cap, w->arena_len + len + 1, 1)) {
        worker_oom(w);
        return NULL;
    }
    char *p = w->arena + w->arena_len;
    memcpy(p, dir_path, dir_len);
    if (sep)
        p[dir_len] = '/';
    if (name)
        memcpy(p + dir_len + sep, name, name_len);
    p[len] = '\0';

    pwalk_entry *e = &w->batch[w->batch_count++];
    memset(e, 0, sizeof *e);
    e->struct_size = sizeof *e;
    e->path = (const char *)(uintptr_t)w->arena_len;   /* fixed at flush */
    e->path_len = (uint32_t)len;
    e->name_offset = name ? (uint32_t)(dir_len + (size_t)sep) : 0;
    w->arena_len += len + 1;
    return e;
}

static void defer_release(walk_worker *w, walk_node *n)
{
    if (grow_array((void **)&w->release, &w->release_cap, w->release_count + 1,
                   sizeof *w->release)) {
        /* Cannot defer: keep the node (a leak beats a use-after-free). */
        worker_oom(w);
        return;
    }
    w->release[w->release_count++] = n;
}

static void batch_flush(walk_worker *w)
{
    walk_run *run = w->run;
    if (w->batch_count) {
        for (size_t i = 0; i < w->batch_count; i++) {
            pwalk_entry *e = &w->batch[i];
            e->path = w->arena + (uintptr_t)e->path;
            e->name = e->path + e->name_offset;
        }
        if (!atomic_load_explicit(&run->sink_stopped, memory_order_relaxed)) {
            if (run->sink->rows(run->sink->ctx, w->index, w->batch, w->batch_count))
                atomic_store(&run->sink_stopped, 1);
            else
                count_add(&w->ctr->rows, w->batch_count);
        }
        w->batch_count = 0;
        w->arena_len = 0;
    }
    for (size_t i = 0; i < w->release_count; i++) {
        node_fd_release(w->release[i]);
        node_release(w->release[i]);
    }
    w->release_count = 0;
}

/* One error record of `kind` (PWALK_ERROR_*). */
static void report_record(walk_worker *w, const char *dir_path, size_t dir_len,
                          const char *name, int err, const char *operation, uint32_t kind)
{
    char small[512];
    size_t name_len = name ? strlen(name) : 0;
    int sep = name && !(dir_len > 0 && dir_path[dir_len - 1] == '/');
    size_t len = dir_len + (size_t)sep + name_len;
    char *p = len < sizeof small ? small : malloc(len + 1);
    if (!p) {
        worker_oom(w);
        return;
    }
    memcpy(p, dir_path, dir_len);
    if (sep)
        p[dir_len] = '/';
    if (name)
        memcpy(p + dir_len + sep, name, name_len);
    p[len] = '\0';
    pwalk_error e = {sizeof e, err, p, (uint32_t)len, kind, operation};
    count_add(kind == PWALK_ERROR_FAILED ? &w->ctr->errors : &w->ctr->vanished, 1);
    w->run->sink->error(w->run->sink->ctx, w->index, &e);
    if (p != small)
        free(p);
}

/* A failed call on an entry the walk listed.  ENOENT there always means the
 * name is gone since it was listed (every call is relative to an open
 * directory fd, and no symlink is followed): on a live filesystem that is
 * a change, not an error. */
static void report_error(walk_worker *w, const char *dir_path, size_t dir_len,
                         const char *name, int err, const char *operation)
{
    report_record(w, dir_path, dir_len, name, err, operation,
                  err == ENOENT ? PWALK_ERROR_VANISHED : PWALK_ERROR_FAILED);
}

static int own_cmp(const void *a, const void *b)
{
    const walk_file_id *x = a, *y = b;
    if (x->ino != y->ino)
        return x->ino < y->ino ? -1 : 1;
    return x->dev < y->dev ? -1 : x->dev > y->dev;
}

/* Is st one of the files this scan writes itself? */
static int walk_is_own(const walk_run *run, const struct stat *st)
{
    walk_file_id key = {.dev = (uint64_t)st->st_dev, .ino = (uint64_t)st->st_ino};
    return bsearch(&key, run->own, run->own_count, sizeof key, own_cmp) != NULL;
}

/* ---- directories ---------------------------------------------------------- */

int walk_own_name(const char *base, const char *name)
{
    size_t bl = strlen(base);
    if (strcmp(name, base) == 0)
        return 1;
    if (name[0] == '.' && strncmp(name + 1, base, bl) == 0 && strstr(name + 1 + bl, ".pwalk-tmp-"))
        return 1;
    if (strncmp(name, base, bl) == 0 && strncmp(name + bl, ".g", 2) == 0 &&
        strstr(name + bl, ".rank-"))
        return 1;
    return 0;
}

/* The directory's own row, once all its names were handled.  The node's own
 * reference is dropped after the row was flushed. */
static void node_finish(walk_worker *w, walk_node *n)
{
    pwalk_entry *e = batch_add(w, n->path, n->path_len, NULL, 0);
    if (e) {
        e->name_offset = (uint32_t)n->name_offset;
        fill_stat(e, &n->st);
        e->depth = n->depth;
        e->parent_ino = n->parent_ino;
        e->parent_fd = -1; /* the parent's fd may be closed by now */
        e->self_fd = n->unreadable ? -1 : n->fd;
        e->root_dev = n->root_dev;
        if (n->is_root)
            e->flags |= PWALK_ENTRY_ROOT;
        if (n->unreadable) {
            e->flags |= PWALK_ENTRY_UNREADABLE;
            e->fcount = -1;
            e->dirsum = 0;
        } else {
            e->fcount = atomic_load(&n->fcount);
            e->dirsum = atomic_load(&n->dirsum);
        }
        count_add(&w->ctr->dirs, 1);
    }
    defer_release(w, n);
}

static int push_item(walk_worker *w, walk_item *it)
{
    if (wq_push(w->run->pool, w->index, it)) {
        worker_oom(w);
        return -1;
    }
    return 0;
}

/* pw_dirsum saturates at INT64_MAX instead of wrapping negative: sparse
 * files and many hard links can sum past 2^63 (sizes are never negative). */
static long long dirsum_sat(long long a, long long b)
{
    long long r;
    return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

static void dirsum_add(atomic_llong *sum, long long part)
{
    long long old = atomic_load(sum);
    while (!atomic_compare_exchange_weak(sum, &old, dirsum_sat(old, part)))
        ;
}

/* Why the entry `name` of d gets no row, as far as its lstat tells
 * before its path is built: on another device (one_file_system), a
 * snapshot directory, past the depth limit. */
static enum filter_reason early_filter(const walk_options *opt, const walk_node *d,
                                       const char *name, const struct stat *st, int level)
{
    int is_dir = S_ISDIR(st->st_mode);
    if (opt->one_file_system && (uint64_t)st->st_dev != d->root_dev)
        return FILTER_OTHER_DEVICE;
    if (is_dir && filter_is_snapshot(&opt->filters, name))
        return FILTER_SNAPSHOT;
    if (filter_depth_stops(&opt->filters, level, is_dir))
        return FILTER_DEPTH;
    return FILTER_NONE;
}

/* The directory whose row e was just added to the batch becomes a node
 * queued for reading instead: its row comes when it has been read.  -1:
 * out of memory (or the queue refused it), the chunk stops there. */
static int queue_child_dir(walk_worker *w, walk_node *d, const pwalk_entry *e,
                           const struct stat *st)
{
    size_t plen = e->path_len, noff = e->name_offset;
    const char *full = w->arena + (uintptr_t)e->path;
    walk_node *child = node_new(d, full, plen, noff, st);
    w->batch_count--;
    w->arena_len = (uintptr_t)e->path;
    walk_item *it = child ? calloc(1, sizeof *it) : NULL;
    if (!it) {
        if (child) {
            node_fd_release(d);
            node_release(child);
        }
        worker_oom(w);
        return -1;
    }
    it->kind = WALK_ITEM_DIR;
    it->node = child;
    if (push_item(w, it)) {
        free(it);
        node_fd_release(d);
        node_release(child);
        return -1;
    }
    return 0;
}

/* The row of a non-directory entry of d. */
static void fill_child_row(pwalk_entry *e, const walk_node *d, const struct stat *st)
{
    fill_stat(e, st);
    e->depth = d->depth + 1;
    e->parent_ino = (uint64_t)d->st.st_ino;
    e->parent_fd = d->fd;
    e->root_dev = d->root_dev;
    e->self_fd = -1;
    e->fcount = -1;
    e->dirsum = 0;
}

/* stat every name of a chunk relative to the directory's fd */
static void process_names(walk_worker *w, walk_node *d, const char *names, size_t count)
{
    const walk_options *opt = w->run->opt;
    const filter_rules *rules = &opt->filters;
    int level = d->level + 1;
    long long sum = 0;
    const char *name = names;

    /* the journal's directory (a checkpoint kept inside the tree) */
    int journal_dir = opt->own_name && (uint64_t)d->st.st_ino == opt->own_dir.ino &&
                      (uint64_t)d->st.st_dev == opt->own_dir.dev;

    for (size_t i = 0; i < count; i++, name += strlen(name) + 1) {
        size_t name_len = strlen(name);
        struct stat st;
        if (walk_lstat(w, d->fd, name, &st) != 0) {
            count_add(&w->ctr->stat_errors, 1);
            report_error(w, d->path, d->path_len, name, errno, "lstat");
            continue;
        }
        if (!S_ISDIR(st.st_mode) && ((w->run->own_count && walk_is_own(w->run, &st)) ||
                                     (journal_dir && walk_own_name(opt->own_name, name)))) {
            /* an output of this scan (a temporary report in the tree): no
             * row, and its size, our own unfinished writing, stays out of
             * pw_dirsum; its name still counts in pw_fcount */
            count_add(&w->ctr->filtered[FILTER_OWN_OUTPUT], 1);
            continue;
        }
        if (!(opt->one_file_system && (uint64_t)st.st_dev != d->root_dev))
            sum = dirsum_sat(sum, (long long)st.st_size);
        enum filter_reason why = early_filter(opt, d, name, &st, level);

        pwalk_entry *e = NULL;
        if (why == FILTER_NONE) {
            e = batch_add(w, d->path, d->path_len, name, name_len);
            if (!e)
                return;
            if (rules->exclude_count) {
                const char *full = w->arena + (uintptr_t)e->path;
                if (filter_is_excluded(rules, full, full + e->name_offset))
                    why = FILTER_EXCLUDE;
            }
        }
        if (why != FILTER_NONE) {
            if (e) { /* drop the row just added */
                w->batch_count--;
                w->arena_len = (uintptr_t)e->path;
            }
            count_add(&w->ctr->filtered[why], 1);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (queue_child_dir(w, d, e, &st) != 0)
                return;
            continue;
        }
        fill_child_row(e, d, &st);
    }
    dirsum_add(&d->dirsum, sum);
}

/* A part of the directory's work is done; the last part emits its row. */
static void node_part_done(walk_worker *w, walk_node *d)
{
    if (atomic_fetch_sub(&d->pending, 1) == 1)
        node_finish(w, d);
}

/* Reading a directory sets its atime (strictatime, or relatime once a
 * day): a scan must not change what it reads, so O_NOATIME wherever it is
 * allowed -- as root everywhere, else on our own directories; asking for
 * it on another user's would cost a refused open (a round trip) each. */
static int open_one(int base, const char *name, int noatime)
{
    int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | (noatime ? O_NOATIME : 0);
    int fd = openat(base, name, flags);
    if (fd < 0 && errno == EPERM && noatime) /* O_NOATIME needs ownership */
        fd = openat(base, name, flags & ~O_NOATIME);
    return fd;
}

/* A root is followed when it is a symlink, as find -H does ("/home ->
 * /gpfs/home" is walked); open_dir() then checks it is the directory
 * root_stat() saw.  Below the roots nothing is followed (open_one). */
static int open_root(const char *root)
{
    int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOATIME;
    int fd = open(root, flags);
    if (fd < 0 && errno == EPERM) /* O_NOATIME needs ownership */
        fd = open(root, flags & ~O_NOATIME);
    return fd;
}

static int open_imported(walk_run *run, walk_node *n, int *replaced);

/* An imported directory (another rank's, or a resumed scan's pending one)
 * is reopened from its root one component at a time: a lookup and an open
 * each, charged to scan.max_ops like every other request (uncharged, a
 * shared walk ran over its budget), not sampled for latency (several
 * round trips in one). */
static void charge_import(walk_worker *w, const walk_node *n)
{
    walk_run *run = w->run;
    const char *p = n->path + walk_root_display_len(run->opt->roots[n->root_index]);
    unsigned ops = 2; /* the root */
    for (; *p; p++)
        if (p[0] != '/' && (p == n->path || p[-1] == '/'))
            ops += 2;
    if (run->bucket_on)
        pace_bucket_take(&run->bucket, ops, run->opt->stop);
    if (run->measure) {
        w->ops += ops;
        atomic_store_explicit(&w->ctr->ops, w->ops, memory_order_relaxed);
    }
}

static int open_dir(walk_worker *w, walk_node *n)
{
    int fd, replaced = 0;
    if (n->imported) {
        charge_import(w, n);
        fd = open_imported(w->run, n, &replaced);
    } else {
        /* A root is opened as the user spelled it ("link/", "link"), not by
         * its trimmed display name. */
        int noatime = w->run->noatime_all || n->st.st_uid == w->run->euid;
        uint64_t t0 = op_begin(w, 2);
        fd = n->parent ? open_one(n->parent->fd, n->path + n->name_offset, noatime)
                       : open_root(w->run->opt->roots[n->root_index]);
        op_end(w, t0, 2); /* leaves errno alone */
    }
    int open_errno = errno;
    if (n->parent)
        node_fd_release(n->parent);
    if (fd < 0) {
        /* The walk saw a directory here: gone (ENOENT) is vanished; no
         * longer a directory (ENOTDIR) or now a symlink (ELOOP, O_NOFOLLOW)
         * is replaced.  Both are changes of a live tree, not errors. */
        int e = open_errno;
        uint32_t kind = PWALK_ERROR_FAILED;
        if (replaced || e == ENOTDIR || e == ELOOP)
            kind = PWALK_ERROR_REPLACED;
        else if (e == ENOENT)
            kind = PWALK_ERROR_VANISHED;
        count_add(&w->ctr->read_errors, 1);
        report_record(w, n->path, n->path_len, NULL, replaced ? 0 : e, "opendir", kind);
        return -1;
    }
    struct stat now;
    uint64_t t0 = op_begin(w, 1);
    int frc = fstat(fd, &now);
    op_end(w, t0, 1);
    if (frc != 0) {
        int e = errno;
        close(fd);
        count_add(&w->ctr->read_errors, 1);
        report_error(w, n->path, n->path_len, NULL, e, "fstat");
        return -1;
    }
    if (now.st_ino != n->st.st_ino || (uint64_t)now.st_dev != n->expect_dev) {
        /* another directory under that name since the walk's lstat: not
         * the one that was listed, so it is not read (its own entries are
         * not what the parent's listing promised) */
        close(fd);
        count_add(&w->ctr->read_errors, 1);
        report_record(w, n->path, n->path_len, NULL, 0, "opendir", PWALK_ERROR_REPLACED);
        return -1;
    }
    n->fd = fd;
    return 0;
}

/* Hand a chunk of n's names to whoever is idle; on success the chunk owns
 * names.  -1: out of memory (names still the caller's). */
static int push_chunk(walk_worker *w, walk_node *n, char *names, size_t names_len,
                      size_t count)
{
    walk_item *it = calloc(1, sizeof *it);
    if (!it) {
        worker_oom(w);
        return -1;
    }
    it->kind = WALK_ITEM_CHUNK;
    it->node = n;
    it->names = names;
    it->names_len = names_len;
    it->count = count;
    atomic_fetch_add(&n->pending, 1);
    if (push_item(w, it)) {
        atomic_fetch_sub(&n->pending, 1);
        free(it);
        return -1;
    }
    return 0;
}

static void process_dir(walk_worker *w, walk_node *n)
{
    walk_run *run = w->run;
    if (open_dir(w, n) != 0) {
        n->unreadable = 1;
        node_part_done(w, n);
        batch_flush(w);
        return;
    }

    char *names = NULL;
    size_t names_len = 0, names_cap = 0, count = 0, total = 0;
    size_t chunk = atomic_load_explicit(&run->chunk_names, memory_order_relaxed);
    for (;;) {
        uint64_t t0 = op_begin(w, 1);
        long got = syscall(SYS_getdents64, n->fd, w->dents, WALK_DENTS_BUFFER);
        op_end(w, t0, 1);
        if (got == 0)
            break;
        if (got < 0) {
            if (errno == EINTR)
                continue;
            count_add(&w->ctr->read_errors, 1);
            report_error(w, n->path, n->path_len, NULL, errno, "getdents");
            /* what was read is still delivered, but a count of part of a
             * directory would pass for the whole: its row says -1 */
            n->unreadable = 1;
            break;
        }
        for (long off = 0; off < got;) {
            struct linux_dirent64 *de = (struct linux_dirent64 *)(w->dents + off);
            off += de->d_reclen;
            const char *nm = de->d_name;
            if (nm[0] == '.' && (nm[1] == '\0' || (nm[1] == '.' && nm[2] == '\0')))
                continue;
            size_t l = strlen(nm) + 1;
            if (grow_array((void **)&names, &names_cap, names_len + l, 1)) {
                worker_oom(w);
                goto out;
            }
            memcpy(names + names_len, nm, l);
            names_len += l;
            count++;
            total++;
            if (count == chunk) {
                if (push_chunk(w, n, names, names_len, count) != 0)
                    goto out;
                names = NULL;
                names_len = names_cap = count = 0;
            }
        }
        if (walk_should_stop(run))
            break;
    }
    atomic_fetch_add(&n->fcount, (long long)total);
    count_add(&w->ctr->entries, total);
    if (count)
        process_names(w, n, names, count);
out:
    free(names);
    batch_flush(w);
    node_part_done(w, n);
    batch_flush(w);
}

static void process_chunk(walk_worker *w, walk_item *it)
{
    process_names(w, it->node, it->names, it->count);
    batch_flush(w);
    node_part_done(w, it->node);
    batch_flush(w);
}

/* Free an item that will not be processed (the walk is stopping). */
static void discard_item(walk_item *it)
{
    walk_node *n = it->node;
    if (it->kind == WALK_ITEM_CHUNK) {
        if (atomic_fetch_sub(&n->pending, 1) == 1) {
            node_fd_release(n);
            node_release(n);
        }
        free(it->names);
    } else {
        /* never opened: it no longer needs its parent's fd */
        if (n->parent)
            node_fd_release(n->parent);
        node_release(n);
    }
    free(it);
}

/* scan.io_priority: idle -- this thread's I/O waits for everyone else's
 * (the idle class needs no privilege; the first failure is kept for the
 * summary). */
static void worker_io_idle(walk_worker *w)
{
    enum { WHO_PROCESS = 1, CLASS_IDLE = 3, CLASS_SHIFT = 13 };
    if (syscall(SYS_ioprio_set, WHO_PROCESS, (int)syscall(SYS_gettid),
                CLASS_IDLE << CLASS_SHIFT) != 0) {
        int none = 0;
        atomic_compare_exchange_strong(&w->run->ioprio_errno, &none, errno);
    }
}

/* The next item, or NULL when the walk is over.  A worker above the
 * controller's limit waits at the gate first (its queued items are
 * stolen by the running ones meanwhile). */
static walk_item *worker_next(walk_worker *w)
{
    walk_run *run = w->run;
    if (run->measure && w->index >= atomic_load_explicit(&run->limit, memory_order_relaxed)) {
        pthread_mutex_lock(&run->gate_lock);
        while (w->index >= atomic_load(&run->limit) && !atomic_load(&run->finishing))
            pthread_cond_wait(&run->gate_cond, &run->gate_lock);
        pthread_mutex_unlock(&run->gate_lock);
        if (atomic_load(&run->finishing))
            return NULL;
    }
    walk_item *it = wq_pop(run->pool, w->index);
    if (!it && run->measure) {
        /* the pool ended: every worker waiting at the gate leaves too */
        pthread_mutex_lock(&run->gate_lock);
        atomic_store(&run->finishing, 1);
        pthread_cond_broadcast(&run->gate_cond);
        pthread_mutex_unlock(&run->gate_lock);
    }
    return it;
}

/* A cut is being made: keep the directory for after it (or for the
 * journal).  0 when it cannot be kept (out of memory): read it then, a
 * cut only needs every directory done or pending. */
static int walk_park(walk_run *run, walk_item *it)
{
    pthread_mutex_lock(&run->park_lock);
    /* the cut may have ended since the worker looked */
    int ok = atomic_load(&run->pausing) &&
             !grow_array((void **)&run->parked, &run->parked_cap, run->parked_count + 1,
                         sizeof *run->parked);
    if (ok)
        run->parked[run->parked_count++] = it;
    pthread_mutex_unlock(&run->park_lock);
    return ok;
}

static void *worker_main(void *arg)
{
    walk_worker *w = arg;
    walk_run *run = w->run;
    walk_item *it;
    if (run->opt->io_idle)
        worker_io_idle(w);
    while ((it = worker_next(w)) != NULL) {
        if (it->kind == WALK_ITEM_DIR && !it->node->is_root &&
            atomic_load_explicit(&run->pausing, memory_order_relaxed) && walk_park(run, it))
            continue;
        if (walk_should_stop(run)) {
            discard_item(it);
            wq_done(run->pool);
            wq_stop(run->pool);
            break;
        }
        if (it->kind == WALK_ITEM_DIR)
            process_dir(w, it->node);
        else
            process_chunk(w, it);
        free(it->kind == WALK_ITEM_CHUNK ? it->names : NULL);
        free(it);
        wq_done(run->pool);
        if (walk_should_stop(run))
            wq_stop(run->pool);
    }
    pthread_mutex_lock(&run->done_lock);
    atomic_fetch_sub(&run->running, 1);
    pthread_cond_broadcast(&run->done_cond);
    pthread_mutex_unlock(&run->done_lock);
    return NULL;
}

/* ---- walks shared between processes (walk.h; the records: remote.c) ------ */

/* Re-open an imported directory from its root, one component at a time,
 * never through a symlink.  The caller (open_dir) checks st_ino and
 * expect_dev on the result.  *replaced is set when the root itself is
 * another directory than the sender's. */
static int open_imported(walk_run *run, walk_node *n, int *replaced)
{
    const char *root = run->opt->roots[n->root_index];
    int fd = open_root(root);
    if (fd < 0)
        return -1;
    struct stat rst;
    if (fstat(fd, &rst) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if ((uint64_t)rst.st_ino != n->root_ino) {
        close(fd);
        *replaced = 1;
        return -1;
    }
    /* Another node may number the same filesystem differently: entries on
     * the root's filesystem must be on this process's root's, others on
     * the device the sender saw. */
    if ((uint64_t)n->st.st_dev == n->root_dev)
        n->expect_dev = (uint64_t)rst.st_dev;
    n->root_dev = (uint64_t)rst.st_dev;

    size_t rl = walk_root_display_len(root);
    const char *rel = n->path + rl;
    if (*rel == '/')
        rel++;
    char *copy = strdup(rel);
    if (!copy) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    char *save = NULL;
    for (char *comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
        int next = open_one(fd, comp, 1);
        int e = errno;
        close(fd);
        if (next < 0) {
            free(copy);
            errno = e;
            return -1;
        }
        fd = next;
    }
    free(copy);
    return fd;
}

int walk_remote_idle(walk_run *run)
{
    /* the hold is the one outstanding item left when nothing else is */
    return wq_outstanding(run->pool) == 1 && wq_queued(run->pool) == 0;
}

size_t walk_remote_queued(walk_run *run) { return wq_queued(run->pool); }

void walk_remote_end(walk_run *run)
{
    if (run->held) {
        run->held = 0;
        wq_done(run->pool);
    }
}

long walk_remote_take(walk_run *run, size_t max, int (*take)(void *ctx, const walk_dir *dir),
                      void *ctx)
{
    /* Chunks of a big directory need its open fd: they stay here.  So do
     * roots not yet read (a busy or slow start leaves them queued when the
     * first request comes): a record names a directory strictly below its
     * root, and a root's row is the seeding walk's.  Both are set aside
     * while looking and queued again afterwards. */
    walk_item *kept[64];
    size_t nkept = 0;
    long taken = 0;
    int failed = 0;
    while ((size_t)taken < max && nkept < 64) {
        walk_item *it = wq_take_oldest(run->pool);
        if (!it)
            break;
        if (it->kind != WALK_ITEM_DIR || it->node->is_root) {
            kept[nkept++] = it;
            continue;
        }
        const walk_node *n = it->node;
        walk_dir d = {n->path,     n->path_len, n->root_index, n->depth,
                      n->parent_ino, n->root_dev, n->root_ino,   n->st};
        if (take(ctx, &d) != 0) {
            kept[nkept++] = it;
            failed = 1;
            break;
        }
        discard_item(it);
        wq_done(run->pool);
        taken++;
    }
    for (size_t i = 0; i < nkept; i++) {
        /* push counts it again, done ends the take */
        if (wq_push(run->pool, i % (run->started ? run->started : 1), kept[i]) != 0) {
            discard_item(kept[i]);
            atomic_store(&run->out_of_memory, 1);
        }
        wq_done(run->pool);
    }
    return failed ? -1 : taken;
}

int walk_remote_add(walk_run *run, const walk_dir *d)
{
    const char *slash = memrchr(d->path, '/', d->path_len);
    size_t name_offset = slash ? (size_t)(slash - d->path) + 1 : 0;
    walk_node *n = node_new(NULL, d->path, d->path_len, name_offset, &d->st);
    walk_item *it = n ? calloc(1, sizeof *it) : NULL;
    if (!it) {
        node_release(n);
        atomic_store(&run->out_of_memory, 1);
        return -1;
    }
    n->is_root = 0;
    n->imported = 1;
    n->depth = d->depth;
    n->level = d->depth + 1;
    n->parent_ino = d->parent_ino;
    n->root_index = d->root_index;
    n->root_dev = d->root_dev;
    n->root_ino = d->root_ino;
    it->kind = WALK_ITEM_DIR;
    it->node = n;
    size_t w = atomic_fetch_add(&run->next_import, 1) % (run->started ? run->started : 1);
    if (wq_push(run->pool, w, it) != 0) {
        node_release(n);
        free(it);
        atomic_store(&run->out_of_memory, 1);
        return -1;
    }
    return 0;
}

char *const *walk_remote_roots(walk_run *run, size_t *count)
{
    *count = run->opt->root_count;
    return run->opt->roots;
}

/* ---- cuts (walk.h "Cuts") -------------------------------------------------- */

static void sum_stats(walk_run *run, walk_stats *s, size_t n);
static double now_seconds(void);

static size_t walk_parked(walk_run *run)
{
    pthread_mutex_lock(&run->park_lock);
    size_t n = run->parked_count;
    pthread_mutex_unlock(&run->park_lock);
    return n;
}

/* Pause and wait until every directory is done or parked: 0 at the cut, 1
 * when the walk ended or is stopping first.  Parked items stay
 * outstanding, so the cut is there when nothing else is (parked is read
 * first: a worker parking meanwhile only makes the counts differ). */
static int walk_reach_cut(walk_run *run)
{
    atomic_store(&run->pausing, 1);
    for (;;) {
        if (atomic_load(&run->running) == 0 || walk_should_stop(run) ||
            atomic_load(&run->out_of_memory))
            return 1;
        size_t parked = walk_parked(run);
        size_t base = parked + (size_t)run->held;
        if (wq_outstanding(run->pool) == base)
            return base == 0 ? 1 : 0; /* nothing at all: the walk is complete */
        struct timespec pause = {0, 200000};
        nanosleep(&pause, NULL);
    }
}

/* End the cut: the parked directories go back to the queues (keep) or
 * are freed unread (a suspension: they are in the journal). */
static void walk_unpark(walk_run *run, int keep)
{
    pthread_mutex_lock(&run->park_lock);
    walk_item **items = run->parked;
    size_t n = run->parked_count;
    run->parked = NULL;
    run->parked_count = run->parked_cap = 0;
    atomic_store(&run->pausing, 0);
    pthread_mutex_unlock(&run->park_lock);
    for (size_t i = 0; i < n; i++) {
        if (!keep) {
            discard_item(items[i]);
        } else if (wq_push(run->pool, i % (run->started ? run->started : 1), items[i]) != 0) {
            discard_item(items[i]);
            atomic_store(&run->out_of_memory, 1);
        }
        wq_done(run->pool); /* a push counted it again */
    }
    free(items);
}

int walk_checkpoint_now(walk_run *run, int suspend, char *err, size_t errlen)
{
    if (!run->opt->checkpoint) {
        snprintf(err, errlen, "this scan has no checkpoint (scan.checkpoint)");
        return -1;
    }
    if (walk_reach_cut(run) != 0) {
        walk_unpark(run, 1);
        return 1;
    }
    if (run->opt->checkpoint(run->opt->checkpoint_ctx, run, suspend, err, errlen) != 0) {
        snprintf(run->cut_err, sizeof run->cut_err, "%s", err);
        run->cut_failed = 1;
        walk_unpark(run, 1);
        wq_stop(run->pool);
        return -1;
    }
    if (suspend) {
        run->suspended = 1;
        walk_unpark(run, 0);
        wq_stop(run->pool);
    } else {
        walk_unpark(run, 1);
    }
    return 0;
}

int walk_cut_dirs(walk_run *run, int (*each)(void *ctx, const walk_dir *d), void *ctx)
{
    for (size_t i = 0; i < run->parked_count; i++) {
        const walk_node *n = run->parked[i]->node;
        walk_dir d = {n->path,       n->path_len,  n->root_index, n->depth,
                      n->parent_ino, n->root_dev, n->root_ino,   n->st};
        int rc = each(ctx, &d);
        if (rc != 0)
            return rc;
    }
    return 0;
}

void walk_cut_stats(walk_run *run, walk_stats *now) { sum_stats(run, now, run->worker_count); }

void *walk_checkpoint_ctx(walk_run *run)
{
    return run->opt->checkpoint ? run->opt->checkpoint_ctx : NULL;
}

/* The timer's cuts in an ordinary walk: every checkpoint_every_ms, and the
 * last one when a suspension is asked for or the time limit is reached. */
static void walk_timed_cut(walk_run *run, double t0, double *next_cut)
{
    const walk_options *opt = run->opt;
    double now = now_seconds();
    int suspend = (opt->suspend && walk_stop_requested(opt->suspend)) ||
                  (opt->time_limit_ms && now - t0 >= (double)opt->time_limit_ms / 1000.0);
    if (!suspend && !(opt->checkpoint_every_ms && now >= *next_cut))
        return;
    char err[512];
    walk_checkpoint_now(run, suspend, err, sizeof err); /* a failure is in run */
    *next_cut = now_seconds() + (double)opt->checkpoint_every_ms / 1000.0;
}

/* ---- the whole walk -------------------------------------------------------- */

int walk_check_roots(char *const *roots, size_t count, char *err, size_t errlen)
{
    for (size_t i = 0; i < count; i++) {
        struct stat st;
        if (roots[i][0] == '\0') {
            snprintf(err, errlen, "'': empty root path");
            return -1;
        }
        if (lstat(roots[i], &st) != 0) {
            snprintf(err, errlen, "%s: %s", roots[i], strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* ---- roots: followed when symlinks, each entry once ------------------------ */

/* A root is stat-ed following a symlink (find -H); a dangling or looping
 * link is the link itself, one row as before.  Running as root, a link owned
 * by another user is not followed either ("link/" included): its owner could
 * point it at any tree (/etc) for a root scan, or a repair, to walk. */
static int root_stat(const char *root, struct stat *st)
{
    if (geteuid() == 0) {
        char *name = strndup(root, walk_root_display_len(root));
        struct stat l;
        int is_link = name && lstat(name, &l) == 0 && S_ISLNK(l.st_mode);
        free(name);
        if (is_link && l.st_uid != 0) {
            *st = l;
            return 0;
        }
    }
    if (stat(root, st) == 0)
        return 0;
    if (errno != ENOENT && errno != ELOOP)
        return -1;
    return lstat(root, st);
}

typedef struct root_key {
    uint64_t dev, ino;
    size_t root;
} root_key;

static int root_key_cmp(const void *pa, const void *pb)
{
    const root_key *a = pa, *b = pb;
    if (a->dev != b->dev)
        return a->dev < b->dev ? -1 : 1;
    if (a->ino != b->ino)
        return a->ino < b->ino ? -1 : 1;
    return a->root < b->root ? -1 : a->root > b->root;
}

/* The first directory root (by index) that is st, other than `self`. */
static long root_key_find(const root_key *keys, size_t n, const struct stat *st, size_t self)
{
    root_key want = {(uint64_t)st->st_dev, (uint64_t)st->st_ino, 0};
    size_t lo = 0, hi = n;
    while (lo < hi) { /* first key >= (dev, ino, 0) */
        size_t mid = lo + (hi - lo) / 2;
        if (root_key_cmp(&keys[mid], &want) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < n && keys[lo].dev == want.dev && keys[lo].ino == want.ino; lo++)
        if (keys[lo].root != self)
            return (long)keys[lo].root;
    return -1;
}

/* Which directory root holds root `i`'s entry: the nearest of the directory
 * `fd` and those above it (by "..", i.e. where the entry really is, not how
 * it was spelled) that is a root.  -1: none.  Closes fd. */
static long root_outer(int fd, const root_key *keys, size_t n, size_t self,
                       const struct stat *self_st)
{
    long found = -1;
    for (int steps = 0; found < 0 && steps < 65536; steps++) {
        struct stat here, up;
        if (fstat(fd, &here) != 0)
            break;
        /* "/" is its own parent: a root "/" is not inside itself */
        if (here.st_dev != self_st->st_dev || here.st_ino != self_st->st_ino)
            found = root_key_find(keys, n, &here, self);
        int upfd = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (upfd < 0)
            break;
        close(fd);
        fd = upfd;
        if (fstat(fd, &up) != 0 || (up.st_dev == here.st_dev && up.st_ino == here.st_ino))
            break; /* "/" */
    }
    close(fd);
    return found;
}

/* The directory a root's entry is in: the root's parent for a directory
 * (opened through the root, so a symlinked root counts where its target
 * is), else the directory part of the path as given. */
static int root_parent_fd(const char *root, const struct stat *st)
{
    if (S_ISDIR(st->st_mode)) {
        int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct stat now;
        if (fd < 0)
            return -1;
        int up = -1;
        if (fstat(fd, &now) == 0 && now.st_ino == st->st_ino && now.st_dev == st->st_dev)
            up = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        close(fd);
        return up;
    }
    size_t len = walk_root_display_len(root);
    while (len > 0 && root[len - 1] != '/')
        len--;
    while (len > 1 && root[len - 1] == '/')
        len--;
    char *dir = len ? strndup(root, len) : strdup(".");
    if (!dir)
        return -1;
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    return fd;
}

/* Two non-directory roots with one inode: the same entry (not two hard
 * links, which are a row each) when they have one name in one directory. */
static int root_same_entry(const char *a, const struct stat *sa, const char *b,
                           const struct stat *sb)
{
    size_t la = walk_root_display_len(a), lb = walk_root_display_len(b);
    size_t na = la, nb = lb;
    while (na > 0 && a[na - 1] != '/')
        na--;
    while (nb > 0 && b[nb - 1] != '/')
        nb--;
    if (la - na != lb - nb || memcmp(a + na, b + nb, la - na) != 0)
        return 0;
    int fa = root_parent_fd(a, sa), fb = root_parent_fd(b, sb);
    struct stat pa, pb;
    int same = fa >= 0 && fb >= 0 && fstat(fa, &pa) == 0 && fstat(fb, &pb) == 0 &&
               pa.st_dev == pb.st_dev && pa.st_ino == pb.st_ino;
    if (fa >= 0)
        close(fa);
    if (fb >= 0)
        close(fb);
    return same;
}

/* skip[i] = 1 for roots whose entries another root's walk already gives:
 * the same directory given again (the first is kept), the same path again,
 * or an entry inside a directory root (found by dev/inode going up with
 * "..", so "/etc /etc/ssl" and "/home /gpfs/home/u" with /home -> /gpfs/home
 * are each entry once).  A root is only left out when following the
 * containing roots ends at one that is walked.  Best effort: a root that
 * cannot be checked is walked.  Returns NULL when nothing is skipped. */
static unsigned char *roots_covered(char *const *roots, size_t count)
{
    if (count < 2)
        return NULL;
    struct stat *st = calloc(count, sizeof *st);
    root_key *keys = calloc(count, sizeof *keys);
    long *outer = calloc(count, sizeof *outer);
    unsigned char *ok = calloc(count, 1), *skip = calloc(count, 1);
    size_t nkeys = 0, nskip = 0;
    if (!st || !keys || !outer || !ok || !skip)
        goto out;
    for (size_t i = 0; i < count; i++) {
        ok[i] = root_stat(roots[i], &st[i]) == 0;
        if (ok[i] && S_ISDIR(st[i].st_mode))
            keys[nkeys++] = (root_key){(uint64_t)st[i].st_dev, (uint64_t)st[i].st_ino, i};
    }
    qsort(keys, nkeys, sizeof *keys, root_key_cmp);
    for (size_t i = 0; i < count; i++) {
        outer[i] = -1;
        if (!ok[i])
            continue;
        long same = S_ISDIR(st[i].st_mode) ? root_key_find(keys, nkeys, &st[i], i) : -1;
        if (same >= 0 && (size_t)same < i) {
            outer[i] = same; /* the same directory, given earlier */
            continue;
        }
        for (size_t j = 0; j < i && !S_ISDIR(st[i].st_mode) && outer[i] < 0; j++)
            if (ok[j] && st[j].st_dev == st[i].st_dev && st[j].st_ino == st[i].st_ino &&
                root_same_entry(roots[j], &st[j], roots[i], &st[i]))
                outer[i] = (long)j; /* the same file again ("f ./f") */
        int fd = outer[i] < 0 ? root_parent_fd(roots[i], &st[i]) : -1;
        if (fd >= 0)
            outer[i] = root_outer(fd, keys, nkeys, i, &st[i]);
    }
    for (size_t i = 0; i < count; i++) {
        /* left out only if the chain of holders ends (no cycle through
         * bind mounts) at a root that is walked */
        long at = outer[i];
        size_t steps = 0;
        while (at >= 0 && (size_t)at != i && steps++ < count && outer[at] >= 0)
            at = outer[at];
        skip[i] = at >= 0 && (size_t)at != i && outer[at] < 0;
        nskip += skip[i];
    }
out:
    free(st);
    free(keys);
    free(outer);
    free(ok);
    if (nskip == 0) {
        free(skip);
        skip = NULL;
    }
    return skip;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void sum_stats(walk_run *run, walk_stats *s, size_t n)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < n; i++) {
        walk_counters *c = &run->counters[i];
        s->entries += atomic_load_explicit(&c->entries, memory_order_relaxed);
        s->rows += atomic_load_explicit(&c->rows, memory_order_relaxed);
        s->errors += atomic_load_explicit(&c->errors, memory_order_relaxed);
        s->dirs += atomic_load_explicit(&c->dirs, memory_order_relaxed);
        s->stat_errors += atomic_load_explicit(&c->stat_errors, memory_order_relaxed);
        s->read_errors += atomic_load_explicit(&c->read_errors, memory_order_relaxed);
        s->vanished += atomic_load_explicit(&c->vanished, memory_order_relaxed);
        for (int r = 0; r < FILTER_REASON_COUNT; r++)
            s->filtered[r] += atomic_load_explicit(&c->filtered[r], memory_order_relaxed);
        s->ops += atomic_load_explicit(&c->ops, memory_order_relaxed);
    }
    s->steals = wq_steals(run->pool);
    s->threads_now = atomic_load(&run->limit);
    s->threads_peak = run->peak;
    s->statx_used = atomic_load(&run->statx_used);
    s->statx_refused = atomic_load(&run->statx_refused);
    s->ioprio_errno = atomic_load(&run->ioprio_errno);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Roots that are not directories are a single row each, emitted by
 * worker 0 before the walk starts. */
static int emit_root_file(walk_run *run, const char *root, const struct stat *st)
{
    walk_worker *w = &run->workers[0];
    size_t len = walk_root_display_len(root);
    pwalk_entry *e = batch_add(w, root, len, NULL, 0);
    if (!e)
        return -1;
    fill_stat(e, st);
    e->flags = PWALK_ENTRY_ROOT;
    e->root_dev = (uint64_t)st->st_dev;
    e->depth = -1;
    e->parent_fd = -1;
    e->self_fd = -1;
    e->fcount = -1;
    e->dirsum = 0;
    count_add(&w->ctr->entries, 1);
    batch_flush(w);
    return 0;
}

/* The workers, their counters and their getdents buffers. */
static int walk_run_alloc(walk_run *run, size_t n)
{
    run->workers = calloc(n, sizeof *run->workers);
    run->counters = aligned_alloc(64, ((n * sizeof(walk_counters) + 63) / 64) * 64);
    if (!run->workers || !run->counters)
        return -1;
    memset(run->counters, 0, n * sizeof(walk_counters));
    if (run->opt->own_count) {
        run->own = malloc(run->opt->own_count * sizeof *run->own);
        if (!run->own)
            return -1;
        memcpy(run->own, run->opt->own, run->opt->own_count * sizeof *run->own);
        qsort(run->own, run->opt->own_count, sizeof *run->own, own_cmp);
        run->own_count = run->opt->own_count;
    }
    for (size_t i = 0; i < n; i++) {
        run->workers[i].run = run;
        run->workers[i].index = i;
        run->workers[i].ctr = &run->counters[i];
    }
    /* worker 0's buffer now (a non-directory root is its row before any
     * thread runs); the others' when their thread starts */
    run->workers[0].dents = malloc(WALK_DENTS_BUFFER);
    return run->workers[0].dents ? 0 : -1;
}

/* Root r, a directory, as the first item of worker r % n's queue. */
static int walk_seed_dir(walk_run *run, size_t r, const struct stat *st)
{
    const char *root = run->opt->roots[r];
    walk_node *node = node_new(NULL, root, walk_root_display_len(root), 0, st);
    if (node)
        node->root_index = (uint32_t)r;
    walk_item *it = node ? calloc(1, sizeof *it) : NULL;
    if (!it) {
        node_release(node);
        return -1;
    }
    count_add(&run->counters[0].entries, 1);
    it->kind = WALK_ITEM_DIR;
    it->node = node;
    if (wq_push(run->pool, r % atomic_load(&run->limit), it) != 0) {
        node_release(node);
        free(it);
        return -1;
    }
    return 0;
}

/* The roots this process starts from: in a shared walk only the seeding
 * process starts from them.  *covered (freed by the caller) marks the
 * roots another root's walk gives.  -1: out of memory. */
static int walk_seed_roots(walk_run *run, unsigned char **covered)
{
    const walk_options *opt = run->opt;
    size_t seeded_roots = opt->remote && !opt->remote->seed ? 0 : opt->root_count;
    *covered = seeded_roots ? roots_covered(opt->roots, seeded_roots) : NULL;
    for (size_t r = 0; r < seeded_roots; r++) {
        const char *root = opt->roots[r];
        struct stat st;
        if (*covered && (*covered)[r])
            continue; /* another root's walk gives its entries */
        if (root_stat(root, &st) != 0) {
            /* vanished since walk_check_roots: an error, not a stop */
            count_add(&run->counters[0].entries, 1);
            count_add(&run->counters[0].stat_errors, 1);
            report_error(&run->workers[0], root, walk_root_display_len(root), NULL, errno,
                         "lstat");
            continue;
        }
        if (S_ISDIR(st.st_mode) ? walk_seed_dir(run, r, &st) != 0
                                : emit_root_file(run, root, &st) != 0)
            return -1;
    }
    return 0;
}

/* Start worker threads until n exist (the calling thread only); fewer
 * when the system refuses more: fewer threads is slower, not wrong. */
static void walk_grow_workers(walk_run *run, size_t n)
{
    while (run->started < n && !atomic_load(&run->finishing)) {
        walk_worker *w = &run->workers[run->started];
        if (!w->dents && !(w->dents = malloc(WALK_DENTS_BUFFER)))
            break;
        /* its deque is searched by the others from its first item on */
        wq_set_span(run->pool, run->started + 1);
        atomic_fetch_add(&run->running, 1);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            atomic_fetch_sub(&run->running, 1);
            wq_set_span(run->pool, run->started ? run->started : 1);
            break;
        }
        run->started++;
    }
    if (run->started > run->peak)
        run->peak = (unsigned)run->started;
}

/* Starts the workers that run at first (a shared walk's pool held open
 * first); returns how many started. */
static size_t walk_start_workers(walk_run *run)
{
    if (run->opt->remote) {
        wq_hold(run->pool);
        run->held = 1;
    }
    walk_grow_workers(run, atomic_load(&run->limit));
    if (run->started < atomic_load(&run->limit))
        atomic_store(&run->limit, (unsigned)(run->started ? run->started : 1));
    return run->started;
}

/* The controller's view of the walk between two of its periods. */
typedef struct walk_pacer {
    pace_ctl ctl;
    double at;                  /* when the period began                  */
    double cpu;                 /* process CPU seconds then               */
    uint64_t ops, lat_ns, lat_n;
    unsigned cpus;
} walk_pacer;

static double process_cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void walk_pacer_init(walk_run *run, walk_pacer *p)
{
    const walk_options *opt = run->opt;
    memset(p, 0, sizeof *p);
    pace_ctl_init(&p->ctl, atomic_load(&run->limit), (unsigned)opt->min_threads,
                  (unsigned)run->worker_count);
    cpu_set_t set;
    p->cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? (unsigned)CPU_COUNT(&set) : 1;
    if (p->cpus < 1)
        p->cpus = 1;
    p->at = now_seconds();
    p->cpu = process_cpu_seconds();
}

/* The controller moved the limit: wake the workers it lets run, start
 * the ones that do not exist yet. */
static void walk_set_limit(walk_run *run, unsigned limit)
{
    pthread_mutex_lock(&run->gate_lock);
    atomic_store(&run->limit, limit);
    pthread_cond_broadcast(&run->gate_cond);
    pthread_mutex_unlock(&run->gate_lock);
    walk_grow_workers(run, limit);
    if (run->started < limit && run->started > 0)
        atomic_store(&run->limit, (unsigned)run->started);
}

/* One control period: what the workers measured in, a new limit out. */
static void walk_pace_step(walk_run *run, walk_pacer *p)
{
    uint64_t ops = 0, lat_ns = 0, lat_n = 0;
    for (size_t i = 0; i < run->started; i++) {
        ops += atomic_load_explicit(&run->counters[i].ops, memory_order_relaxed);
        lat_ns += atomic_load_explicit(&run->counters[i].lat_ns, memory_order_relaxed);
        lat_n += atomic_load_explicit(&run->counters[i].lat_n, memory_order_relaxed);
    }
    if (lat_n - p->lat_n < PACE_MIN_SAMPLES)
        return; /* the period goes on until there is enough to judge */
    double now = now_seconds(), cpu = process_cpu_seconds();
    pace_sample s = {
        .seconds = now - p->at,
        .ops = ops - p->ops,
        .latency_ns = lat_n > p->lat_n ? (double)(lat_ns - p->lat_ns) / (double)(lat_n - p->lat_n)
                                       : 0,
        .latency_samples = lat_n - p->lat_n,
        .cpu_share = now > p->at ? (cpu - p->cpu) / ((now - p->at) * p->cpus) : 0,
        .backlog = wq_queued(run->pool) > 0,
    };
    p->at = now;
    p->cpu = cpu;
    p->ops = ops;
    p->lat_ns = lat_ns;
    p->lat_n = lat_n;
    if (!run->opt->chunk_names && s.latency_ns > 0) {
        double names = 20e6 / s.latency_ns;
        atomic_store(&run->chunk_names,
                     names < WALK_MIN_CHUNK       ? (size_t)WALK_MIN_CHUNK
                     : names > WALK_DEFAULT_CHUNK ? (size_t)WALK_DEFAULT_CHUNK
                                                  : (size_t)names);
    }
    unsigned before = atomic_load(&run->limit);
    unsigned next = pace_ctl_step(&p->ctl, &s);
    if (next == before || atomic_load(&run->finishing))
        return;
    walk_set_limit(run, next);
    p->ctl.limit = atomic_load(&run->limit);
    if (run->opt->log && run->opt->log_changes) {
        char line[160];
        snprintf(line, sizeof line,
                 "walk: threads %u -> %u (latency %.2f ms, baseline %.2f ms, %.0f ops/s)",
                 before, p->ctl.limit, s.latency_ns / 1e6, p->ctl.baseline_ns / 1e6,
                 s.seconds > 0 ? (double)s.ops / s.seconds : 0.0);
        run->opt->log(run->opt->log_ctx, line);
    }
}

/* The calling thread while the workers run: draws progress, runs the
 * remote ticks and the controller, stops the pool when asked to or out of
 * memory. */
static void walk_supervise(walk_run *run, double t0)
{
    const walk_options *opt = run->opt;
    const walk_remote *remote = opt->remote;
    long tick_ns = remote    ? (long)(remote->tick_ms ? remote->tick_ms : 5) * 1000000L
                   : run->measure ? 25000000L
                                  : 1000000000L;
    /* an ordinary walk cuts by itself: a suspension is seen within 0.1 s */
    int timed_cuts = opt->checkpoint && !remote;
    if (timed_cuts && tick_ns > 100000000L)
        tick_ns = 100000000L;
    if (timed_cuts && opt->checkpoint_every_ms &&
        (unsigned long long)tick_ns > opt->checkpoint_every_ms * 1000000ULL)
        tick_ns = (long)(opt->checkpoint_every_ms * 1000000ULL);
    double next_cut = opt->checkpoint_at_start
                          ? 0
                          : now_seconds() + (double)opt->checkpoint_every_ms / 1000.0;
    double next_progress = now_seconds() + 1.0;
    double next_pace = now_seconds() + PACE_PERIOD_MS / 2 / 1000.0;
    walk_pacer pacer;
    if (run->measure)
        walk_pacer_init(run, &pacer);
    if (timed_cuts && opt->checkpoint_at_start)
        walk_timed_cut(run, t0, &next_cut);
    pthread_mutex_lock(&run->done_lock);
    while (atomic_load(&run->running) > 0) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_nsec += tick_ns;
        deadline.tv_sec += deadline.tv_nsec / 1000000000L;
        deadline.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&run->done_cond, &run->done_lock, &deadline);
        if (atomic_load(&run->running) == 0)
            break;
        pthread_mutex_unlock(&run->done_lock);
        if (remote && run->held)
            remote->tick(remote->ctx, run);
        if (run->measure && now_seconds() >= next_pace) {
            walk_pace_step(run, &pacer);
            /* slow start looks twice as often: at 1 ms a round trip,
             * every period at the cores' count costs what a period at
             * 100 workers would have done in 2 ms */
            next_pace = now_seconds() + (pacer.ctl.slow_start ? PACE_PERIOD_MS / 2
                                                               : PACE_PERIOD_MS) / 1000.0;
        }
        if (opt->progress && now_seconds() >= next_progress) {
            walk_stats now;
            sum_stats(run, &now, run->worker_count);
            now.seconds = now_seconds() - t0;
            opt->progress(opt->progress_ctx, &now, wq_queued(run->pool));
            next_progress = now_seconds() + 1.0;
        }
        if (timed_cuts)
            walk_timed_cut(run, t0, &next_cut);
        if (walk_stop_asked(opt) || atomic_load(&run->out_of_memory))
            wq_stop(run->pool);
        pthread_mutex_lock(&run->done_lock);
    }
    pthread_mutex_unlock(&run->done_lock);
}

/* After the workers are joined: how the walk ended (0 whole, 1 stopped,
 * -1 out of memory), with the reason in err. */
static int walk_outcome(walk_run *run, char *err, size_t errlen)
{
    if (atomic_load(&run->out_of_memory)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (run->cut_failed) {
        snprintf(err, errlen, "%s", run->cut_err);
        return -1;
    }
    if (run->suspended && !walk_stop_asked(run->opt) && !atomic_load(&run->sink_stopped)) {
        snprintf(err, errlen, "suspended");
        return 2;
    }
    if (atomic_load(&run->sink_stopped) || walk_stop_asked(run->opt)) {
        snprintf(err, errlen, "%s",
                 atomic_load(&run->sink_stopped) ? "stopped by a sink" : "interrupted");
        return 1;
    }
    return 0;
}

/* What walk_execute allocated, as far as it got. */
static void walk_run_free(walk_run *run)
{
    if (run->workers) {
        for (size_t i = 0; i < run->worker_count; i++) {
            walk_worker *w = &run->workers[i];
            for (size_t k = 0; k < w->release_count; k++) {
                node_fd_release(w->release[k]);
                node_release(w->release[k]);
            }
            free(w->batch);
            free(w->arena);
            free(w->release);
            free(w->dents);
        }
    }
    free(run->workers);
    free(run->counters);
    free(run->own);
    free(run->parked); /* a cut ends with none: its items are the pool's */
    pthread_mutex_destroy(&run->park_lock);
    wq_free(run->pool);
    pthread_mutex_destroy(&run->done_lock);
    pthread_cond_destroy(&run->done_cond);
    pthread_mutex_destroy(&run->gate_lock);
    pthread_cond_destroy(&run->gate_cond);
}

/* Pacing from the options: how many workers run at first, whether the
 * controller runs, the token bucket, who may ask for O_NOATIME. */
static void walk_pace_setup(walk_run *run)
{
    const walk_options *opt = run->opt;
    size_t first = run->worker_count;
    run->measure = opt->adapt != 0;
    if (run->measure && opt->start_threads >= 1 && opt->start_threads < first)
        first = opt->start_threads;
    atomic_init(&run->limit, (unsigned)first);
    if (opt->max_ops) {
        pace_bucket_init(&run->bucket, opt->max_ops);
        run->bucket_on = 1;
    }
    run->stat_slow = run->measure || run->bucket_on || opt->lazy_stat;
    run->euid = geteuid();
    run->noatime_all = run->euid == 0;
}

int walk_execute(const walk_options *opt, const walk_sink *sink, walk_stats *stats,
                 char *err, size_t errlen)
{
    size_t n = opt->threads ? opt->threads : 1;
    walk_run run;
    memset(&run, 0, sizeof run);
    run.opt = opt;
    run.sink = sink;
    atomic_init(&run.chunk_names, opt->chunk_names ? opt->chunk_names : WALK_DEFAULT_CHUNK);
    run.worker_count = n;
    pthread_mutex_init(&run.done_lock, NULL);
    pthread_cond_init(&run.done_cond, NULL);
    pthread_mutex_init(&run.gate_lock, NULL);
    pthread_cond_init(&run.gate_cond, NULL);
    pthread_mutex_init(&run.park_lock, NULL);
    walk_pace_setup(&run);
    memset(stats, 0, sizeof *stats);
    double t0 = now_seconds();
    int rc = 0;
    unsigned char *covered = NULL; /* roots another root's walk gives */

    raise_fd_limit();
    run.pool = wq_create(n);
    if (!run.pool) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    wq_set_span(run.pool, atomic_load(&run.limit));
    if (walk_run_alloc(&run, n) != 0 ||
        (!opt->resume && walk_seed_roots(&run, &covered) != 0)) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
        goto out;
    }
    if (opt->resume && opt->resume(opt->resume_ctx, &run, err, errlen) != 0) {
        rc = -1;
        goto out;
    }

    size_t started = walk_start_workers(&run);
    if (started == 0) {
        snprintf(err, errlen, "cannot start worker threads: %s", strerror(errno));
        wq_stop(run.pool);
        rc = -1;
    }
    if ((opt->progress || opt->remote || run.measure || opt->checkpoint) && started)
        walk_supervise(&run, t0);
    /* the controller may have started more since */
    for (size_t i = 0; i < run.started; i++)
        pthread_join(run.workers[i].thread, NULL);

    /* Whatever a stop left queued is freed without being processed. */
    walk_item *left;
    while ((left = wq_drain(run.pool)) != NULL)
        discard_item(left);
    if (rc == 0)
        rc = walk_outcome(&run, err, errlen);
out:
    if (run.counters)
        sum_stats(&run, stats, run.workers ? n : 0);
    stats->seconds = now_seconds() - t0;
    free(covered);
    walk_run_free(&run);
    return rc;
}
