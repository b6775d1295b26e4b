/*
 * ceiling -- the benchmark's baseline: the least honest work that produces a
 * pwalk-like row per entry (root included, so it writes as many rows as
 * `find ROOT | wc -l` prints lines).
 *
 * THREADS workers (the benchmark runs 2, and 1 for scaling) share one LIFO
 * stack of directories to read.  A queued directory is its parent's open fd
 * plus its name: the worker opens it with
 * openat(parentfd, name, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_NOATIME), reads it
 * with getdents64 into a 128 KiB buffer, fstatat(dirfd, name,
 * AT_SYMLINK_NOFOLLOW)s every name and appends one CSV line to a 1 MiB
 * per-thread buffer written with one write().  The line has the pwalk CSV
 * format's 17 columns (plugins/csv/FORMAT.md) -- the same bytes per row the csv sink
 * writes, formatted by hand -- but no escaping, and -1,0 where pwalk puts a
 * directory's file count and size sum: the job is writing that report, and
 * a ceiling writing half the bytes (as this one did until 2026-11-25: five
 * columns) measures a different job (tests/bench/NOTES.md).
 * No path is ever resolved component by component; the path string is only
 * output.  The flags are the engine's (O_NOATIME dropped where the kernel
 * refuses it with EPERM: not the owner), so the comparison is like for like.
 *
 * Open fds stay bounded: a directory's fd is reference-counted (one for its
 * reader, one per queued subdirectory) and closed as soon as its reader is
 * done and every subdirectory has opened itself through it, so only
 * directories with subdirectories still waiting hold an fd -- about the
 * depth of the tree times the number of threads on a LIFO stack.
 *
 * No escaping, no filters, no error records: a ceiling, not a tool.
 *
 * --chunk N (the slow-filesystem benchmark, tests/bench/slowfs_bench.py):
 * the reader of a directory stats none of its names itself but queues them
 * in chunks of N, which any thread takes (the directory's fd, reference-
 * counted, stays open until every chunk is done).  Where each stat waits a
 * network round trip, a big directory read by one thread is the walk's
 * tail; this is the bound for a walker that splits directories.
 *
 *   ceiling [--chunk N] THREADS ROOT OUTPUT   prints "N rows" (and "N errors" on stderr)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define OUT_BUF (1 << 20)
#define DENTS_BUF (1 << 17)

struct dent {
    unsigned long long ino;
    long long off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

/* An open directory shared by its reader and its queued subdirectories. */
struct dir {
    int fd;
    int refs; /* atomic */
};

/* A directory waiting to be opened: parent fd + name; path only for output. */
struct item {
    struct dir *parent; /* NULL: the root, opened by path; a chunk: the directory itself */
    unsigned long long ino; /* its own, the parent-inode of its entries */
    long depth;
    size_t name_off;    /* name = path + name_off */
    size_t path_len;
    char *names;        /* a chunk (--chunk): names to stat, NUL-terminated, packed */
    size_t nnames;
    char path[];
};

static size_t chunk; /* --chunk N: stat a directory's names in chunks of N, by any thread */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct item **stack;
static size_t depth, cap, busy;
static int out_fd;
static unsigned long long rows, errors;

static void dir_unref(struct dir *d)
{
    if (d && __atomic_sub_fetch(&d->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        close(d->fd);
        free(d);
    }
}

static void push(struct item *it)
{
    pthread_mutex_lock(&lock);
    if (depth == cap) {
        cap = cap ? cap * 2 : 1024;
        stack = realloc(stack, cap * sizeof *stack);
        if (!stack)
            abort();
    }
    stack[depth++] = it;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
}

static struct item *pop(void)
{
    pthread_mutex_lock(&lock);
    busy--;
    while (depth == 0 && busy > 0)
        pthread_cond_wait(&cond, &lock);
    struct item *it = NULL;
    if (depth) {
        it = stack[--depth];
        busy++;
    } else {
        pthread_cond_broadcast(&cond); /* everyone idle, nothing queued: done */
    }
    pthread_mutex_unlock(&lock);
    return it;
}

static char *fmt_u(char *o, unsigned long long v)
{
    char t[24];
    int n = 0;
    do
        t[n++] = (char)('0' + v % 10);
    while (v /= 10);
    while (n)
        *o++ = t[--n];
    return o;
}

struct out {
    char *buf;
    size_t used;
    unsigned long long rows;
};

static void flush(struct out *o)
{
    if (o->used && write(out_fd, o->buf, o->used) != (ssize_t)o->used) {
        perror("ceiling: write");
        exit(3);
    }
    o->used = 0;
}

static char *fmt_i(char *o, long long v)
{
    if (v < 0) {
        *o++ = '-';
        return fmt_u(o, 0ull - (unsigned long long)v);
    }
    return fmt_u(o, (unsigned long long)v);
}

/* One row of the pwalk CSV columns for DIR/NAME (or just DIR when name is
 * NULL): inode,parent-inode,directory-depth,"filename","fileExtension",UID,
 * GID,st_size,st_dev,st_blocks,st_nlink,"st_mode",st_atime,st_mtime,
 * st_ctime,pw_fcount,pw_dirsum. */
static void row(struct out *o, const struct stat *st, unsigned long long parent, long depth,
                const char *dir, size_t dlen, const char *name, size_t nlen)
{
    if (o->used + dlen + 2 * nlen + 400 > OUT_BUF)
        flush(o);
    char *p = o->buf + o->used;
    p = fmt_u(p, st->st_ino);
    *p++ = ',';
    p = fmt_u(p, parent);
    *p++ = ',';
    p = fmt_i(p, depth);
    *p++ = ',';
    *p++ = '"';
    memcpy(p, dir, dlen);
    p += dlen;
    if (name) {
        *p++ = '/';
        memcpy(p, name, nlen);
        p += nlen;
    }
    *p++ = '"';
    *p++ = ',';
    *p++ = '"';
    const char *dot = name && !S_ISDIR(st->st_mode) ? memrchr(name, '.', nlen) : NULL;
    if (dot && dot != name) {
        size_t elen = nlen - (size_t)(dot + 1 - name);
        memcpy(p, dot + 1, elen);
        p += elen;
    }
    *p++ = '"';
    *p++ = ',';
    p = fmt_u(p, st->st_uid);
    *p++ = ',';
    p = fmt_u(p, st->st_gid);
    *p++ = ',';
    p = fmt_i(p, st->st_size);
    *p++ = ',';
    p = fmt_u(p, st->st_dev);
    *p++ = ',';
    p = fmt_i(p, st->st_blocks);
    *p++ = ',';
    p = fmt_u(p, st->st_nlink);
    *p++ = ',';
    *p++ = '"';
    for (int shift = 18; shift >= 0; shift -= 3) /* 7 octal digits */
        *p++ = (char)('0' + ((st->st_mode >> shift) & 7));
    *p++ = '"';
    *p++ = ',';
    p = fmt_i(p, st->st_atime);
    *p++ = ',';
    p = fmt_i(p, st->st_mtime);
    *p++ = ',';
    p = fmt_i(p, st->st_ctime);
    memcpy(p, ",-1,0\n", 6);
    p += 6;
    o->used = (size_t)(p - o->buf);
    o->rows++;
}

static int open_dir(int base, const char *name)
{
    int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME;
    int fd = openat(base, name, flags);
    if (fd < 0 && errno == EPERM) /* O_NOATIME needs ownership (or CAP_FOWNER) */
        fd = openat(base, name, flags & ~O_NOATIME);
    return fd;
}

/* stat NAME in the directory `self` (item it), write its row, queue it
 * when it is a directory.  0, or -1 when the stat failed. */
static int stat_name(struct out *o, struct dir *self, const struct item *it, const char *name)
{
    struct stat st;
    if (fstatat(self->fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return -1;
    size_t nlen = strlen(name);
    row(o, &st, it->ino, it->depth, it->path, it->path_len, name, nlen);
    if (S_ISDIR(st.st_mode)) {
        struct item *sub = calloc(1, sizeof *sub + it->path_len + nlen + 2);
        if (!sub)
            abort();
        sub->parent = self;
        sub->ino = st.st_ino;
        sub->depth = it->depth + 1;
        sub->name_off = it->path_len + 1;
        sub->path_len = it->path_len + 1 + nlen;
        memcpy(sub->path, it->path, it->path_len);
        sub->path[it->path_len] = '/';
        memcpy(sub->path + it->path_len + 1, name, nlen + 1);
        __atomic_add_fetch(&self->refs, 1, __ATOMIC_RELAXED);
        push(sub);
    }
    return 0;
}

/* --chunk: queue the names gathered so far as one item any thread takes. */
static void push_chunk(struct dir *self, const struct item *it, char *names, size_t n)
{
    struct item *c = calloc(1, sizeof *c + it->path_len + 1);
    if (!c)
        abort();
    c->parent = self;
    c->ino = it->ino;
    c->depth = it->depth;
    c->path_len = it->path_len;
    memcpy(c->path, it->path, it->path_len + 1);
    c->names = names;
    c->nnames = n;
    __atomic_add_fetch(&self->refs, 1, __ATOMIC_RELAXED);
    push(c);
}

/* Read the directory `self`: every name stat-ed here, or with --chunk
 * handed out in chunks.  Returns the errors. */
static unsigned long long read_dir(struct out *o, struct dir *self, const struct item *it,
                                   char *dents)
{
    unsigned long long errs = 0;
    char *names = NULL;
    size_t used = 0, count = 0;
    long n;
    while ((n = syscall(SYS_getdents64, self->fd, dents, DENTS_BUF)) > 0) {
        for (long off = 0; off < n;) {
            struct dent *d = (struct dent *)(dents + off);
            off += d->reclen;
            if (d->name[0] == '.' && (!d->name[1] || (d->name[1] == '.' && !d->name[2])))
                continue;
            if (!chunk) {
                errs += stat_name(o, self, it, d->name) != 0;
                continue;
            }
            size_t len = strlen(d->name) + 1;
            if (!names && !(names = malloc(chunk * 256)))
                abort();
            memcpy(names + used, d->name, len);
            used += len;
            if (++count == chunk) {
                push_chunk(self, it, names, count);
                names = NULL;
                used = count = 0;
            }
        }
    }
    if (count)
        push_chunk(self, it, names, count);
    return errs + (n < 0);
}

static void *worker(void *arg)
{
    (void)arg;
    struct out o = {malloc(OUT_BUF), 0, 0};
    char *dents = malloc(DENTS_BUF);
    unsigned long long errs = 0;
    struct item *it;
    if (!o.buf || !dents)
        abort();
    while ((it = pop()) != NULL) {
        if (it->names) { /* a chunk: its directory is open, stat its names */
            const char *name = it->names;
            for (size_t i = 0; i < it->nnames; i++, name += strlen(name) + 1)
                errs += stat_name(&o, it->parent, it, name) != 0;
            dir_unref(it->parent);
            free(it->names);
            free(it);
            continue;
        }
        int fd = open_dir(it->parent ? it->parent->fd : AT_FDCWD, it->path + it->name_off);
        dir_unref(it->parent); /* opened (or failed): the parent's fd is not needed any more */
        if (fd < 0) {
            errs++;
        } else {
            struct dir *self = malloc(sizeof *self);
            if (!self)
                abort();
            self->fd = fd;
            self->refs = 1; /* the reader: this loop */
            errs += read_dir(&o, self, it, dents);
            dir_unref(self); /* the reader is done */
        }
        free(it);
    }
    flush(&o);
    __atomic_add_fetch(&rows, o.rows, __ATOMIC_RELAXED);
    __atomic_add_fetch(&errors, errs, __ATOMIC_RELAXED);
    free(o.buf);
    free(dents);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "--chunk") == 0) {
        chunk = (size_t)atol(argv[2]);
        if (chunk < 1 || chunk > 65536) {
            fprintf(stderr, "ceiling: --chunk must be 1..65536\n");
            return 2;
        }
        argc -= 2;
        argv += 2;
    }
    if (argc != 4) {
        fprintf(stderr, "usage: ceiling [--chunk N] THREADS ROOT OUTPUT\n");
        return 2;
    }
    int threads = atoi(argv[1]);
    const char *root = argv[2];
    if (threads < 1 || threads > 256) {
        fprintf(stderr, "ceiling: THREADS must be 1..256\n");
        return 2;
    }
    out_fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    struct stat st;
    if (out_fd < 0 || lstat(root, &st) != 0) {
        perror("ceiling");
        return 2;
    }
    /* Headroom for deep trees: one fd per directory with subdirectories queued. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    /* The root's own row, as find and pwalk write it. */
    size_t rlen = strlen(root);
    while (rlen > 1 && root[rlen - 1] == '/')
        rlen--;
    struct out o = {malloc(OUT_BUF), 0, 0};
    if (!o.buf)
        abort();
    row(&o, &st, 0, 0, root, rlen, NULL, 0);
    flush(&o);
    free(o.buf);
    rows = o.rows;

    if (S_ISDIR(st.st_mode)) {
        struct item *it = calloc(1, sizeof *it + rlen + 1);
        if (!it)
            abort();
        it->parent = NULL;
        it->ino = st.st_ino;
        it->depth = 0;
        it->name_off = 0;
        it->path_len = rlen;
        memcpy(it->path, root, rlen);
        it->path[rlen] = '\0';
        busy = (size_t)threads;
        push(it);
        pthread_t t[256];
        for (int i = 0; i < threads; i++)
            if (pthread_create(&t[i], NULL, worker, NULL) != 0) {
                perror("ceiling: pthread_create");
                return 2;
            }
        for (int i = 0; i < threads; i++)
            pthread_join(t[i], NULL);
    }
    if (close(out_fd) != 0) {
        perror("ceiling: close");
        return 3;
    }
    printf("%llu rows\n", rows);
    if (errors)
        fprintf(stderr, "%llu errors\n", errors);
    return errors ? 1 : 0;
}
