/*
 * oswalk_readahead.c -- see oswalk_readahead.h.
 *
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * Every directory the consumer may ask for is a node.  A node is created
 * "speculated" when its parent's listing names it as a subdirectory the
 * consumer would descend into (os.walk's rule: a directory, and not a
 * symlink unless following links); it is then in the hash (found by path)
 * and in the read-ahead queue.
 *
 * The queue is kept in the consumer's depth-first order, so readers read
 * what is needed soonest: a reader takes the first PENDING node from the
 * head and leaves it in place as a placeholder while reading; when done,
 * the node's own subdirectories are inserted where it stood, which is
 * exactly where they belong in a preorder walk.  (A stack would do this for
 * one reader only; with two, a sibling finishing later would push its
 * children ahead of the first one's.)
 *
 * One mutex guards the structure.  It is taken a few times per directory,
 * never per name, and never while a directory is read.
 */
#define _GNU_SOURCE
#include "oswalk_readahead.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/grow.h"

/* getdents64 buffer per reading thread: big enough that a typical
 * directory is one system call, small enough to keep per thread. */
#define WA_DENTS (64 * 1024)
#define WA_POLL_NS (50 * 1000 * 1000L)

enum { WA_PENDING = 1, WA_READING, WA_READ };

struct wa_node {
    /* Under w->lock.  References: hash, queue, the parent's children
     * array, the consumer (while it holds the node). */
    int refs;
    int state;
    unsigned in_hash : 1, in_queue : 1, claimed : 1, cancelled : 1;
    uint8_t entry_flags;        /* this directory's flags in its parent   */
    uint64_t hash;
    wa_node *hnext;
    wa_node *qprev, *qnext;     /* read-ahead queue; qnext also chains
                                   dead nodes while freeing               */
    wa_node *aprev, *anext;     /* every live node, for wa_destroy        */
    wa_node *tnext;             /* wa_cancel's work list                   */
    wa_node **children;         /* speculated subdirectories (refs)       */
    size_t nchildren;

    /* The listing: written only by the thread reading the node (state
     * READING), read only by the consumer once it holds it. */
    int error;
    size_t count, ndirs;
    void *block;                /* lens | flags | names, one allocation   */
    size_t bytes;               /* what it counts in the read-ahead buffer */
    const uint32_t *lens;
    const uint8_t *flags;
    const char *names;

    size_t path_len;
    size_t name_off;
    char path[];                /* NUL-terminated                          */
};

/* What one reading thread reuses from directory to directory. */
typedef struct wa_scratch {
    char *dents;
    char *names;
    size_t names_len, names_cap;
    uint32_t *lens;
    uint8_t *flags;
    size_t count, cap;
    char *path;                 /* directory/name, for stat() of links    */
    size_t path_cap;
} wa_scratch;

struct wa_walker {
    wa_options opt;
    pthread_mutex_t lock;
    pthread_cond_t work_cv;     /* readers: work, room, or stop           */
    pthread_cond_t done_cv;     /* consumer: a listing was finished       */
    int stop;
    /* Who is asleep, so wake-ups are only sent to someone: a futex system
     * call per directory would cost as much as reading a small one. */
    unsigned idle;              /* readers waiting on work_cv             */
    wa_node *wanted;            /* what the consumer waits for, or NULL   */

    wa_node **buckets;
    size_t nbuckets, hcount;
    wa_node *qhead, *qtail;
    wa_node *all;

    size_t buffered_bytes, buffered_dirs;
    wa_stats stats;

    pthread_t *threads;
    unsigned nthreads;
    wa_scratch *scratch;        /* one per reader                         */
    wa_scratch consumer;
};

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* ---- helpers ---------------------------------------------------------------- */

static uint64_t wa_hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a: short keys, no deps */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static void scratch_free(wa_scratch *s)
{
    free(s->dents);
    free(s->names);
    free(s->lens);
    free(s->flags);
    free(s->path);
    memset(s, 0, sizeof *s);
}

static int scratch_init(wa_scratch *s)
{
    memset(s, 0, sizeof *s);
    s->dents = malloc(WA_DENTS);
    return s->dents ? 0 : -1;
}

/* ---- nodes -------------------------------------------------------------------- */

static wa_node *node_new(const char *dir, size_t dir_len, int sep, const char *name,
                         size_t name_len)
{
    size_t len = dir_len + (size_t)sep + name_len;
    wa_node *n = calloc(1, sizeof *n + len + 1);
    if (!n)
        return NULL;
    memcpy(n->path, dir, dir_len);
    if (sep)
        n->path[dir_len] = '/';
    if (name)
        memcpy(n->path + dir_len + sep, name, name_len);
    n->path[len] = '\0';
    n->path_len = len;
    n->name_off = name ? dir_len + (size_t)sep : 0;
    n->hash = wa_hash(n->path, len);
    return n;
}

static void all_link(wa_walker *w, wa_node *n)
{
    n->aprev = NULL;
    n->anext = w->all;
    if (w->all)
        w->all->aprev = n;
    w->all = n;
}

static void all_unlink(wa_walker *w, wa_node *n)
{
    if (n->aprev)
        n->aprev->anext = n->anext;
    else
        w->all = n->anext;
    if (n->anext)
        n->anext->aprev = n->aprev;
}

/* Drop one reference; free what is no longer referenced.  Iterative: a
 * freed node releases its children, and a chain of them may be long. */
static void node_unref(wa_walker *w, wa_node *n)
{
    wa_node *dead = NULL;
    if (--n->refs == 0) {
        n->qnext = NULL;
        dead = n;
    }
    while (dead) {
        wa_node *d = dead;
        dead = d->qnext;
        for (size_t i = 0; i < d->nchildren; i++) {
            wa_node *c = d->children[i];
            if (--c->refs == 0) {
                c->qnext = dead;
                dead = c;
            }
        }
        all_unlink(w, d);
        free(d->children);
        free(d->block);
        free(d);
    }
}

/* ---- hash (path -> speculated node) ----------------------------------------- */

static int hash_grow(wa_walker *w)
{
    size_t nb = w->nbuckets ? w->nbuckets * 2 : 1024;
    wa_node **b = calloc(nb, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < w->nbuckets; i++) {
        wa_node *n = w->buckets[i];
        while (n) {
            wa_node *next = n->hnext;
            size_t k = (size_t)n->hash & (nb - 1);
            n->hnext = b[k];
            b[k] = n;
            n = next;
        }
    }
    free(w->buckets);
    w->buckets = b;
    w->nbuckets = nb;
    return 0;
}

static wa_node *hash_find(wa_walker *w, const char *path, size_t len, uint64_t h)
{
    if (!w->nbuckets)
        return NULL;
    for (wa_node *n = w->buckets[(size_t)h & (w->nbuckets - 1)]; n; n = n->hnext)
        if (n->hash == h && n->path_len == len && memcmp(n->path, path, len) == 0)
            return n;
    return NULL;
}

/* Caller has made room (hash_grow) when needed. */
static void hash_insert(wa_walker *w, wa_node *n)
{
    size_t k = (size_t)n->hash & (w->nbuckets - 1);
    n->hnext = w->buckets[k];
    w->buckets[k] = n;
    n->in_hash = 1;
    n->refs++;
    w->hcount++;
}

/* Leaves the hash's reference to the caller. */
static void hash_remove(wa_walker *w, wa_node *n)
{
    wa_node **pp = &w->buckets[(size_t)n->hash & (w->nbuckets - 1)];
    while (*pp != n)
        pp = &(*pp)->hnext;
    *pp = n->hnext;
    n->hnext = NULL;
    n->in_hash = 0;
    w->hcount--;
    if (n->state == WA_READ) {
        w->buffered_bytes -= n->bytes;
        w->buffered_dirs--;
    }
}

/* ---- the read-ahead queue (depth-first order) ------------------------------ */

/* Insert x after pos (pos NULL: at the head).  Takes a reference. */
static void q_insert_after(wa_walker *w, wa_node *pos, wa_node *x)
{
    x->qprev = pos;
    x->qnext = pos ? pos->qnext : w->qhead;
    if (x->qnext)
        x->qnext->qprev = x;
    else
        w->qtail = x;
    if (pos)
        pos->qnext = x;
    else
        w->qhead = x;
    x->in_queue = 1;
    x->refs++;
}

/* Leaves the queue's reference to the caller. */
static void q_unlink(wa_walker *w, wa_node *x)
{
    if (x->qprev)
        x->qprev->qnext = x->qnext;
    else
        w->qhead = x->qnext;
    if (x->qnext)
        x->qnext->qprev = x->qprev;
    else
        w->qtail = x->qprev;
    x->qprev = x->qnext = NULL;
    x->in_queue = 0;
}

/* ---- reading one directory as os.scandir() does ------------------------------ */

/* The stat()s os.scandir's DirEntry would make for this name: only for
 * symlinks (is_dir() follows them) and unknown types.  By full path, as
 * DirEntry does for a scandir(path), so the same names fail the same way
 * (ENAMETOOLONG past PATH_MAX). */
static uint8_t wa_classify(wa_scratch *s, const wa_node *dir, int sep, const char *name,
                           size_t len, unsigned char type)
{
    if (type == DT_DIR)
        return WA_DIR;
    if (type != DT_LNK && type != DT_UNKNOWN)
        return 0;
    if (grow_array((void **)&s->path, &s->path_cap, dir->path_len + 2 + len, 1) != 0)
        return type == DT_LNK ? WA_LINK : 0;
    memcpy(s->path, dir->path, dir->path_len);
    if (sep)
        s->path[dir->path_len] = '/';
    memcpy(s->path + dir->path_len + sep, name, len + 1);
    struct stat st;
    uint8_t fl = 0;
    if (type == DT_UNKNOWN) {
        if (lstat(s->path, &st) != 0)
            return 0;
        if (!S_ISLNK(st.st_mode))
            return S_ISDIR(st.st_mode) ? WA_DIR : 0;
    }
    fl = WA_LINK;
    if (stat(s->path, &st) == 0 && S_ISDIR(st.st_mode))
        fl |= WA_DIR;
    return fl;
}

static int wa_skipped(const wa_walker *w, const char *name)
{
    for (size_t i = 0; i < w->opt.skip_dir_count; i++)
        if (strcmp(w->opt.skip_dirs[i], name) == 0)
            return 1;
    return 0;
}

static uint8_t wa_ascii(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80)
            return 0;
    return WA_ASCII;
}

/* One entry read from n's directory into the scratch listing, or left
 * out ("." and "..", a skipped directory).  0, or ENOMEM. */
static int wa_add_entry(wa_walker *w, wa_scratch *s, const wa_node *n, int sep, const char *nm,
                        unsigned char type, size_t *ndirs)
{
    if (nm[0] == '.' && (nm[1] == '\0' || (nm[1] == '.' && nm[2] == '\0')))
        return 0;
    size_t len = strlen(nm);
    uint8_t fl = wa_classify(s, n, sep, nm, len, type);
    if ((fl & WA_DIR) && w->opt.skip_dir_count && wa_skipped(w, nm))
        return 0;
    size_t cap = s->cap;
    if (grow_array((void **)&s->names, &s->names_cap, s->names_len + len + 1, 1) ||
        grow_array((void **)&s->lens, &cap, s->count + 1, sizeof *s->lens) ||
        grow_array((void **)&s->flags, &s->cap, s->count + 1, 1))
        return ENOMEM;
    memcpy(s->names + s->names_len, nm, len + 1);
    s->names_len += len + 1;
    s->lens[s->count] = (uint32_t)len;
    s->flags[s->count] = (uint8_t)(fl | wa_ascii(nm, len));
    s->count++;
    if (fl & WA_DIR)
        (*ndirs)++;
    return 0;
}

/* Read n's directory into the scratch listing.  0, or the errno
 * opendir/readdir would have failed with. */
static int wa_list(wa_walker *w, wa_scratch *s, const wa_node *n, int sep, size_t *ndirs)
{
    int err = 0;
    /* glibc's opendir() flags: O_NONBLOCK keeps a FIFO from blocking
     * (O_DIRECTORY already refuses it) */
    int fd = open(n->path, O_RDONLY | O_NONBLOCK | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    for (;;) {
        long got = syscall(SYS_getdents64, fd, s->dents, WA_DENTS);
        if (got == 0)
            break;
        if (got < 0) {
            if (errno == EINTR)
                continue;
            /* glibc's readdir reads a directory deleted under it as
             * ended, not failed; keep what was read, as os.scandir does */
            if (errno != ENOENT)
                err = errno;
            break;
        }
        for (long off = 0; off < got && !err;) {
            struct linux_dirent64 *de = (struct linux_dirent64 *)(void *)(s->dents + off);
            off += de->d_reclen;
            if (de->d_ino == 0) /* glibc 2.36's readdir skips these */
                continue;
            err = wa_add_entry(w, s, n, sep, de->d_name, de->d_type, ndirs);
        }
        if (err)
            break;
    }
    close(fd);
    return err;
}

/* The scratch listing copied into n's own block, and the unlinked nodes
 * of the subdirectories a walk of n descends into, in listing order.
 * Out of memory: n->error = ENOMEM, nothing kept. */
static void wa_keep_listing(wa_walker *w, wa_scratch *s, wa_node *n, int sep, size_t ndirs)
{
    size_t c = s->count;
    char *block = malloc(c * sizeof(uint32_t) + c + s->names_len + 1);
    size_t nchild = 0;
    for (size_t i = 0; i < c; i++)
        if ((s->flags[i] & WA_DIR) && (w->opt.followlinks || !(s->flags[i] & WA_LINK)))
            nchild++;
    wa_node **children = nchild ? calloc(nchild, sizeof *children) : NULL;
    if (!block || (nchild && !children)) {
        free(block);
        free(children);
        n->error = ENOMEM;
        return;
    }
    if (c) { /* an empty directory has no scratch arrays yet */
        memcpy(block, s->lens, c * sizeof(uint32_t));
        memcpy(block + c * sizeof(uint32_t), s->flags, c);
        memcpy(block + c * sizeof(uint32_t) + c, s->names, s->names_len);
    }
    n->block = block;
    n->lens = (const uint32_t *)(void *)block;
    n->flags = (const uint8_t *)block + c * sizeof(uint32_t);
    n->names = block + c * sizeof(uint32_t) + c;
    n->count = c;
    n->ndirs = ndirs;
    n->bytes += c * sizeof(uint32_t) + c + s->names_len;

    const char *nm = n->names;
    size_t k = 0;
    for (size_t i = 0; i < c; nm += n->lens[i] + 1, i++) {
        if (!((n->flags[i] & WA_DIR) && (w->opt.followlinks || !(n->flags[i] & WA_LINK))))
            continue;
        wa_node *ch = node_new(n->path, n->path_len, sep, nm, n->lens[i]);
        if (!ch)
            break; /* fewer read-ahead candidates; the consumer reads them */
        ch->entry_flags = n->flags[i];
        ch->refs = 1; /* the children array */
        ch->state = WA_PENDING;
        children[k++] = ch;
        n->bytes += sizeof *ch + ch->path_len;
    }
    n->children = children;
    n->nchildren = k;
}

/* Read n (state READING, so no other thread touches its listing) into its
 * listing and build, unlinked, the nodes of its subdirectories.  No lock is
 * held.  Failures become n->error, as opendir/readdir failures would. */
static void wa_read(wa_walker *w, wa_scratch *s, wa_node *n)
{
    s->count = 0;
    s->names_len = 0;
    size_t ndirs = 0;
    int sep = n->path_len > 0 && n->path[n->path_len - 1] != '/';
    int err = wa_list(w, s, n, sep, &ndirs);
    n->error = err;
    n->count = n->ndirs = 0;
    n->bytes = sizeof *n;
    if (!err)
        wa_keep_listing(w, s, n, sep, ndirs);
}

/* The first queued directory nobody reads yet (the queue holds only
 * PENDING nodes and at most one READING placeholder per reading thread). */
static wa_node *wa_next_pending(wa_walker *w)
{
    for (wa_node *n = w->qhead; n; n = n->qnext)
        if (n->state == WA_PENDING)
            return n;
    return NULL;
}

/* New work or room for k readers: wake at most k sleeping ones, and none
 * when there is nothing for them to take. */
static void wa_wake_readers(wa_walker *w, size_t k)
{
    if (!w->idle || !k || !wa_next_pending(w))
        return;
    if (k >= w->idle) {
        if (w->idle)
            pthread_cond_broadcast(&w->work_cv);
        return;
    }
    while (k--)
        pthread_cond_signal(&w->work_cv);
}

/* Under the lock, after wa_read(): publish n's listing and queue its
 * subdirectories where n stood (or at the head for a node the consumer
 * read that was never queued: it is where the consumer is). */
static void wa_finish(wa_walker *w, wa_node *n, int by_reader)
{
    n->state = WA_READ;
    if (n->cancelled) {
        for (size_t i = 0; i < n->nchildren; i++)
            free(n->children[i]);
        free(n->children);
        n->children = NULL;
        n->nchildren = 0;
        free(n->block);
        n->block = NULL;
        if (n->in_queue) {
            q_unlink(w, n);
            node_unref(w, n);
        }
        return;
    }
    if (by_reader)
        w->stats.read_ahead++;
    else
        w->stats.read_inline++;
    wa_node *prev = n->in_queue ? n : NULL;
    for (size_t i = 0; i < n->nchildren; i++) {
        wa_node *ch = n->children[i];
        all_link(w, ch);
        if (w->hcount + 1 > w->nbuckets)
            hash_grow(w); /* on failure the chains just get longer */
        hash_insert(w, ch);
        q_insert_after(w, prev, ch);
        prev = ch;
    }
    if (n->in_queue) {
        q_unlink(w, n);
        node_unref(w, n);
    }
    if (n->in_hash) {
        w->buffered_bytes += n->bytes;
        w->buffered_dirs++;
        if (w->buffered_bytes > w->stats.peak_bytes)
            w->stats.peak_bytes = w->buffered_bytes;
        if (w->buffered_dirs > w->stats.peak_dirs)
            w->stats.peak_dirs = w->buffered_dirs;
    }
    wa_wake_readers(w, n->nchildren);
}

/* ---- cancelling read-ahead under pruned directories ------------------------- */

/* Cancel c and everything read ahead below it.  Iterative (a speculated
 * chain can be deep); every work-list entry holds a reference. */
static void wa_cancel(wa_walker *w, wa_node *c)
{
    c->refs++;
    c->tnext = NULL;
    wa_node *todo = c;
    while (todo) {
        wa_node *x = todo;
        todo = x->tnext;
        if (!x->claimed && !x->cancelled) {
            x->cancelled = 1;
            w->stats.cancelled++;
            if (x->in_hash) {
                hash_remove(w, x);
                node_unref(w, x);
            }
            if (x->state == WA_PENDING && x->in_queue) {
                q_unlink(w, x);
                node_unref(w, x);
            }
            /* READING: the reader sees cancelled and discards its result */
            if (x->state == WA_READ) {
                free(x->block);
                x->block = NULL;
                for (size_t i = 0; i < x->nchildren; i++) {
                    /* the array's reference moves to the work list */
                    x->children[i]->tnext = todo;
                    todo = x->children[i];
                }
                free(x->children);
                x->children = NULL;
                x->nchildren = 0;
            }
        }
        node_unref(w, x);
    }
}

/* ---- readers ------------------------------------------------------------------ */

typedef struct wa_reader_arg {
    wa_walker *w;
    unsigned index;
} wa_reader_arg;

static int wa_over_limit(const wa_walker *w)
{
    return w->buffered_bytes >= w->opt.max_bytes || w->buffered_dirs >= w->opt.max_dirs;
}

static void *wa_reader_main(void *arg)
{
    wa_walker *w = ((wa_reader_arg *)arg)->w;
    wa_scratch *s = &w->scratch[((wa_reader_arg *)arg)->index];
    free(arg);
    pthread_mutex_lock(&w->lock);
    for (;;) {
        wa_node *n = NULL;
        while (!w->stop && (wa_over_limit(w) || !(n = wa_next_pending(w)))) {
            w->idle++;
            pthread_cond_wait(&w->work_cv, &w->lock);
            w->idle--;
        }
        if (w->stop)
            break;
        n->state = WA_READING;
        n->refs++;
        pthread_mutex_unlock(&w->lock);
        wa_read(w, s, n);
        pthread_mutex_lock(&w->lock);
        wa_finish(w, n, 1);
        if (w->wanted == n)
            pthread_cond_signal(&w->done_cv);
        node_unref(w, n);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* ---- the consumer's side -------------------------------------------------------- */

int wa_create(const wa_options *o, wa_walker **out)
{
    *out = NULL;
    wa_walker *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    w->opt = *o;
    if (!w->opt.max_bytes)
        w->opt.max_bytes = 1;
    if (!w->opt.max_dirs)
        w->opt.max_dirs = 1;
    /* Adaptive: the lock is held for a few pointer updates, so a brief
     * spin beats a futex sleep and wake-up (which, in a VM, cost about as
     * much as listing a small directory). */
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&w->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    pthread_cond_init(&w->work_cv, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->done_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (scratch_init(&w->consumer) != 0 || hash_grow(w) != 0)
        goto fail;
    if (o->readers) {
        w->threads = calloc(o->readers, sizeof *w->threads);
        w->scratch = calloc(o->readers, sizeof *w->scratch);
        if (!w->threads || !w->scratch)
            goto fail;
    }
    /* Readers block every signal: a signal meant for the process (Ctrl-C)
     * then lands on the consumer's thread, where Python handles it, and
     * never interrupts a reader's system call. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (unsigned i = 0; i < o->readers; i++) {
        wa_reader_arg *a = malloc(sizeof *a);
        if (!a || scratch_init(&w->scratch[i]) != 0) {
            free(a);
            break;
        }
        a->w = w;
        a->index = i;
        if (pthread_create(&w->threads[i], NULL, wa_reader_main, a) != 0) {
            free(a);
            break; /* fewer readers: slower, not wrong */
        }
        w->nthreads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    w->stats.readers = w->nthreads;
    *out = w;
    return 0;
fail:
    wa_destroy(w);
    errno = ENOMEM;
    return -1;
}

/* Under w->lock: the consumer reads the next queued directory itself (1),
 * or there is none within the limits (0). */
static int wa_read_one_here(wa_walker *w)
{
    wa_node *h = wa_over_limit(w) ? NULL : wa_next_pending(w);
    if (!h)
        return 0;
    h->state = WA_READING;
    h->refs++;
    pthread_mutex_unlock(&w->lock);
    wa_read(w, &w->consumer, h);
    pthread_mutex_lock(&w->lock);
    wa_finish(w, h, 1);
    node_unref(w, h);
    return 1;
}

/* Under w->lock: wait for n, which a reader thread is reading.  0 once it
 * is read; -1 when poll(ctx) asked to stop first (n is then given up: its
 * reader discards it).  The lock is held again on return. */
static int wa_await(wa_walker *w, wa_node *n, wa_poll_fn poll, void *ctx)
{
    w->stats.waited++;
    w->wanted = n;
    struct timespec last;
    clock_gettime(CLOCK_MONOTONIC, &last);
    while (n->state == WA_READING) {
        /* Rather than sleep until the reader is done, read the next
         * queued directory here: the consumer works as one more reader,
         * and no wake-up is needed if the wanted one is done by then. */
        if (!wa_read_one_here(w)) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            t.tv_nsec += WA_POLL_NS;
            if (t.tv_nsec >= 1000000000L) {
                t.tv_sec++;
                t.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&w->done_cv, &w->lock, &t);
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long ns = (long long)(now.tv_sec - last.tv_sec) * 1000000000LL +
                       (now.tv_nsec - last.tv_nsec);
        if (n->state == WA_READING && poll && ns >= WA_POLL_NS) {
            last = now;
            pthread_mutex_unlock(&w->lock);
            int stop = poll(ctx);
            pthread_mutex_lock(&w->lock);
            if (stop && n->state == WA_READING) {
                w->wanted = NULL;
                n->cancelled = 1; /* its reader discards it */
                node_unref(w, n);
                return -1;
            }
        }
    }
    w->wanted = NULL;
    return 0;
}

wa_node *wa_take(wa_walker *w, const char *path, size_t len, wa_poll_fn poll, void *ctx)
{
    uint64_t h = wa_hash(path, len);
    pthread_mutex_lock(&w->lock);
    wa_node *n = hash_find(w, path, len, h);
    if (n) {
        hash_remove(w, n); /* its reference becomes the consumer's */
        n->claimed = 1;
        if (n->state == WA_READ)
            wa_wake_readers(w, 1); /* room in the buffer */
        if (n->state == WA_READING) {
            if (wa_await(w, n, poll, ctx) != 0) {
                pthread_mutex_unlock(&w->lock);
                errno = EINTR;
                return NULL;
            }
        } else if (n->state == WA_PENDING) {
            /* queued, nobody on it: read it here rather than wait */
            n->state = WA_READING;
            pthread_mutex_unlock(&w->lock);
            wa_read(w, &w->consumer, n);
            pthread_mutex_lock(&w->lock);
            wa_finish(w, n, 0);
        }
    } else {
        n = node_new(path, len, 0, NULL, 0);
        if (!n) {
            pthread_mutex_unlock(&w->lock);
            errno = ENOMEM;
            return NULL;
        }
        n->refs = 1;
        n->claimed = 1;
        n->state = WA_READING;
        all_link(w, n);
        pthread_mutex_unlock(&w->lock);
        wa_read(w, &w->consumer, n);
        pthread_mutex_lock(&w->lock);
        wa_finish(w, n, 0);
    }
    pthread_mutex_unlock(&w->lock);
    return n;
}

void wa_listing_of(const wa_node *n, wa_listing *out)
{
    out->error = n->error;
    out->count = n->block ? n->count : 0;
    out->ndirs = n->block ? n->ndirs : 0;
    out->names = n->names;
    out->lens = n->lens;
    out->flags = n->flags;
}

void wa_drop_listing(wa_walker *w, wa_node *n)
{
    (void)w; /* the consumer holds n: no other thread reads its listing */
    free(n->block);
    n->block = NULL;
    n->names = NULL;
    n->lens = NULL;
    n->flags = NULL;
}

int wa_prune(wa_walker *w, wa_node *n, const char *const *names, const size_t *lens,
             size_t count)
{
    /* an open-addressing set of the kept names -> their position */
    size_t cap = 16;
    while (cap < count * 2)
        cap *= 2;
    size_t *slot = malloc(cap * sizeof *slot);
    wa_node **order = calloc(count ? count : 1, sizeof *order);
    if (!slot || !order) {
        free(slot);
        free(order);
        return -1;
    }
    for (size_t i = 0; i < cap; i++)
        slot[i] = (size_t)-1;
    for (size_t i = 0; i < count; i++) {
        size_t k = (size_t)wa_hash(names[i], lens[i]) & (cap - 1);
        while (slot[k] != (size_t)-1) {
            size_t j = slot[k];
            if (lens[j] == lens[i] && memcmp(names[j], names[i], lens[i]) == 0)
                break; /* a repeated name: the first position counts */
            k = (k + 1) & (cap - 1);
        }
        if (slot[k] == (size_t)-1)
            slot[k] = i;
    }

    pthread_mutex_lock(&w->lock);
    size_t last = 0;
    int reordered = 0;
    for (size_t c = 0; c < n->nchildren; c++) {
        wa_node *ch = n->children[c];
        if (ch->claimed || ch->cancelled)
            continue;
        const char *nm = ch->path + ch->name_off;
        size_t nl = ch->path_len - ch->name_off;
        size_t k = (size_t)wa_hash(nm, nl) & (cap - 1);
        size_t pos = (size_t)-1;
        while (slot[k] != (size_t)-1) {
            size_t j = slot[k];
            if (lens[j] == nl && memcmp(names[j], nm, nl) == 0) {
                pos = j;
                break;
            }
            k = (k + 1) & (cap - 1);
        }
        if (pos == (size_t)-1 || order[pos]) {
            wa_cancel(w, ch);
            continue;
        }
        order[pos] = ch;
        if (pos < last)
            reordered = 1;
        last = pos;
    }
    if (reordered) {
        /* the consumer visits n's subdirectories next, in this order:
         * queue the waiting ones at the head so they are read first */
        wa_node *prev = NULL;
        for (size_t i = 0; i < count; i++) {
            wa_node *ch = order[i];
            if (!ch || !ch->in_queue || ch->state != WA_PENDING)
                continue;
            ch->refs++;
            q_unlink(w, ch);
            node_unref(w, ch);
            q_insert_after(w, prev, ch);
            node_unref(w, ch);
            prev = ch;
        }
    }
    wa_wake_readers(w, w->idle); /* cancelling made room */
    pthread_mutex_unlock(&w->lock);
    free(slot);
    free(order);
    return 0;
}

int wa_is_known_dir(wa_walker *w, const char *path, size_t len)
{
    uint64_t h = wa_hash(path, len);
    pthread_mutex_lock(&w->lock);
    wa_node *n = hash_find(w, path, len, h);
    int known = n && !(n->entry_flags & WA_LINK);
    pthread_mutex_unlock(&w->lock);
    return known;
}

void wa_release(wa_walker *w, wa_node *n)
{
    pthread_mutex_lock(&w->lock);
    wa_node **children = n->children;
    size_t count = n->nchildren;
    n->children = NULL;
    n->nchildren = 0;
    for (size_t i = 0; i < count; i++)
        node_unref(w, children[i]);
    free(children);
    node_unref(w, n);
    pthread_mutex_unlock(&w->lock);
}

void wa_destroy(wa_walker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_broadcast(&w->work_cv);
    pthread_mutex_unlock(&w->lock);
    for (unsigned i = 0; i < w->nthreads; i++)
        pthread_join(w->threads[i], NULL);
    /* every node, whoever held it */
    wa_node *n = w->all;
    while (n) {
        wa_node *next = n->anext;
        free(n->children);
        free(n->block);
        free(n);
        n = next;
    }
    if (w->scratch)
        for (unsigned i = 0; i < w->opt.readers; i++)
            scratch_free(&w->scratch[i]);
    scratch_free(&w->consumer);
    free(w->scratch);
    free(w->threads);
    free(w->buckets);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->work_cv);
    pthread_cond_destroy(&w->done_cv);
    free(w);
}

void wa_get_stats(wa_walker *w, wa_stats *s)
{
    pthread_mutex_lock(&w->lock);
    *s = w->stats;
    pthread_mutex_unlock(&w->lock);
}
