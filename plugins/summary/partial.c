/*
 * partial.c -- a rank's summary aggregate to a file and back (partial.h).
 *
 * Layout (every integer little-endian, sizes in bytes):
 *
 *   header   "PWSUMPRT" (8), version u32, reserved u32, start_sec i64,
 *            age_count u32, age_days i32 x age_count
 *   counts   dirs, users, groups, tops, cells, links: u64 each
 *   loose    sums (below)
 *   dirs     path_len u32, flags u32, depth i32, uid u32, gid u32, dev u64,
 *            ino u64, direct sums, path bytes
 *   users,   id u32, files u64, dirs u64, bytes u64, allocated u64,
 *   groups   newest_mtime i64, oldest_atime i64
 *   tops     len u32, bytes
 *   cells    uid u32, gid u32, top u32 (index in tops), mtime_age i32,
 *            atime_age i32, ctime_age i32, size_class u32, files u64,
 *            dirs u64, bytes u64, allocated u64
 *   links    dev u64, ino u64, path_len u32, name_offset u32, depth i32,
 *            uid u32, gid u32, size i64, blocks i64, atime i64, mtime i64,
 *            ctime i64, path bytes
 *   trailer  "PWSUMEND" (8), FNV-1a 64 of every byte before the trailer
 *
 *   sums     files, dirs, bytes, allocated, stale_bytes u64,
 *            newest_mtime, newest_atime, oldest_mtime i64
 *
 * Explicit little-endian fields rather than the structs: the structs hold
 * pointers and padding, and a partial written on one node is read on
 * another.
 */
#define _GNU_SOURCE
#include "partial.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/grow.h"

#define PART_MAGIC "PWSUMPRT"
#define PART_END "PWSUMEND"
#define PART_MAGIC_LEN 8
#define PART_TRAILER_LEN (PART_MAGIC_LEN + 8)
#define PART_BUF (256 * 1024)
/* Smallest record of each kind, for checking a count against the bytes
 * left before anything is allocated for it. */
#define PART_DIR_MIN (4 * 5 + 8 * 2 + 8 * 8)
#define PART_OWNER_MIN (4 + 8 * 6)
#define PART_TOP_MIN 4
#define PART_CELL_MIN (4 * 7 + 8 * 4)
#define PART_LINK_MIN (8 * 2 + 4 * 5 + 8 * 5)

static uint64_t part_fnv(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}
#define PART_FNV_INIT 1469598103934665603ULL

/* ---- writing --------------------------------------------------------------- */

typedef struct part_writer {
    outfile *o;                 /* NULL: into mem (a checkpoint's state) */
    unsigned char *mem;
    size_t mem_len, mem_cap;
    unsigned char *buf;
    size_t len;
    uint64_t hash;
    int failed;
    char *err;
    size_t errlen;
} part_writer;

static void pw_flush(part_writer *w)
{
    if (w->failed || w->len == 0)
        return;
    w->hash = part_fnv(w->hash, w->buf, w->len);
    if (!w->o) {
        if (grow_array((void **)&w->mem, &w->mem_cap, w->mem_len + w->len, 1) != 0) {
            snprintf(w->err, w->errlen, "summary checkpoint state: out of memory");
            w->failed = 1;
        } else {
            memcpy(w->mem + w->mem_len, w->buf, w->len);
            w->mem_len += w->len;
        }
    } else if (outfile_write(w->o, w->buf, w->len, w->err, w->errlen) != 0) {
        w->failed = 1;
    }
    w->len = 0;
}

static void pw_bytes(part_writer *w, const void *p, size_t n)
{
    const unsigned char *s = p;
    while (n && !w->failed) {
        if (w->len == PART_BUF)
            pw_flush(w);
        size_t k = PART_BUF - w->len < n ? PART_BUF - w->len : n;
        memcpy(w->buf + w->len, s, k);
        w->len += k;
        s += k;
        n -= k;
    }
}

static void pw_u64(part_writer *w, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    pw_bytes(w, b, 8);
}

static void pw_u32(part_writer *w, uint32_t v)
{
    unsigned char b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    pw_bytes(w, b, 4);
}

static void pw_i64(part_writer *w, int64_t v) { pw_u64(w, (uint64_t)v); }
static void pw_i32(part_writer *w, int32_t v) { pw_u32(w, (uint32_t)v); }

static void pw_sums(part_writer *w, const summ_sums *s)
{
    pw_u64(w, s->files);
    pw_u64(w, s->dirs);
    pw_u64(w, s->bytes);
    pw_u64(w, s->allocated);
    pw_u64(w, s->stale_bytes);
    pw_i64(w, s->newest_mtime);
    pw_i64(w, s->newest_atime);
    pw_i64(w, s->oldest_mtime);
}

static void pw_owner(part_writer *w, const summ_owner *o)
{
    pw_u32(w, o->id);
    pw_u64(w, o->files);
    pw_u64(w, o->dirs);
    pw_u64(w, o->bytes);
    pw_u64(w, o->allocated);
    pw_i64(w, o->newest_mtime);
    pw_i64(w, o->oldest_atime);
}

static void pw_header(part_writer *w, const summ_agg *a, const summ_conf *c)
{
    pw_bytes(w, PART_MAGIC, PART_MAGIC_LEN);
    pw_u32(w, SUMM_PARTIAL_VERSION);
    pw_u32(w, 0);
    pw_i64(w, c->start_sec);
    pw_u32(w, (uint32_t)c->age_count);
    for (size_t i = 0; i < c->age_count; i++)
        pw_i32(w, c->age_days[i]);
    pw_u64(w, a->dir_count);
    pw_u64(w, a->user_count);
    pw_u64(w, a->group_count);
    pw_u64(w, a->top_count);
    pw_u64(w, a->cell_count);
    pw_u64(w, a->link_count);
    pw_sums(w, &a->loose);
}

static void pw_dirs(part_writer *w, const summ_agg *a)
{
    for (size_t i = 0; i < a->dir_count; i++) {
        const summ_dir *d = a->dirs[i];
        pw_u32(w, d->path_len);
        pw_u32(w, d->flags);
        pw_i32(w, d->depth);
        pw_u32(w, d->uid);
        pw_u32(w, d->gid);
        pw_u64(w, d->dev);
        pw_u64(w, d->ino);
        pw_sums(w, &d->direct);
        pw_bytes(w, d->path, d->path_len);
    }
}

static void pw_cells(part_writer *w, const summ_agg *a)
{
    for (size_t i = 0; i < a->top_count; i++) {
        pw_u32(w, a->top_lens[i]);
        pw_bytes(w, a->tops[i], a->top_lens[i]);
    }
    for (size_t i = 0; i < a->cell_count; i++) {
        const summ_cell *c = &a->cells[i];
        pw_u32(w, c->key.uid);
        pw_u32(w, c->key.gid);
        pw_u32(w, c->key.top);
        pw_i32(w, c->key.mtime_age);
        pw_i32(w, c->key.atime_age);
        pw_i32(w, c->key.ctime_age);
        pw_u32(w, c->key.size_class);
        pw_u64(w, c->files);
        pw_u64(w, c->dirs);
        pw_u64(w, c->bytes);
        pw_u64(w, c->allocated);
    }
}

static void pw_links(part_writer *w, const summ_agg *a)
{
    for (size_t i = 0; i < a->link_count; i++) {
        const summ_link *l = &a->links[i];
        pw_u64(w, l->dev);
        pw_u64(w, l->ino);
        pw_u32(w, l->path_len);
        pw_u32(w, l->name_offset);
        pw_i32(w, l->depth);
        pw_u32(w, l->uid);
        pw_u32(w, l->gid);
        pw_i64(w, l->size);
        pw_i64(w, l->blocks);
        pw_i64(w, l->atime);
        pw_i64(w, l->mtime);
        pw_i64(w, l->ctime);
        pw_bytes(w, l->path, l->path_len);
    }
}

/* Everything, header to trailer, into w. */
static void pw_all(part_writer *w, const summ_agg *a, const summ_conf *c)
{
    pw_header(w, a, c);
    pw_dirs(w, a);
    for (size_t i = 0; i < a->user_count; i++)
        pw_owner(w, &a->users[i]);
    for (size_t i = 0; i < a->group_count; i++)
        pw_owner(w, &a->groups[i]);
    pw_cells(w, a);
    pw_links(w, a);
    pw_flush(w);
    /* the trailer is not part of its own checksum */
    uint64_t sum = w->hash;
    pw_bytes(w, PART_END, PART_MAGIC_LEN);
    pw_u64(w, sum);
    pw_flush(w);
}

int summ_partial_write(outfile *o, const summ_agg *a, const summ_conf *c, char *err,
                       size_t errlen)
{
    part_writer w = {o, NULL, 0, 0, malloc(PART_BUF), 0, PART_FNV_INIT, 0, err, errlen};
    if (!w.buf) {
        snprintf(err, errlen, "summary partial '%s': out of memory", o->final_path);
        return -1;
    }
    pw_all(&w, a, c);
    free(w.buf);
    return w.failed ? -1 : 0;
}

int summ_partial_encode(const summ_agg *a, const summ_conf *c, unsigned char **out,
                        size_t *len, char *err, size_t errlen)
{
    part_writer w = {NULL, NULL, 0, 0, malloc(PART_BUF), 0, PART_FNV_INIT, 0, err, errlen};
    *out = NULL;
    *len = 0;
    if (!w.buf) {
        snprintf(err, errlen, "summary checkpoint state: out of memory");
        return -1;
    }
    pw_all(&w, a, c);
    free(w.buf);
    if (w.failed) {
        free(w.mem);
        return -1;
    }
    *out = w.mem;
    *len = w.mem_len;
    return 0;
}

/* ---- reading --------------------------------------------------------------- */

typedef struct part_reader {
    const unsigned char *p;
    size_t len, at;             /* the records end at len (trailer excluded) */
    int short_read;             /* a field ran past len                      */
} part_reader;

static const unsigned char *pr_take(part_reader *r, size_t n)
{
    if (r->short_read || n > r->len - r->at) {
        r->short_read = 1;
        return NULL;
    }
    const unsigned char *q = r->p + r->at;
    r->at += n;
    return q;
}

static uint64_t pr_u64(part_reader *r)
{
    const unsigned char *q = pr_take(r, 8);
    uint64_t v = 0;
    for (int i = 0; q && i < 8; i++)
        v |= (uint64_t)q[i] << (8 * i);
    return v;
}

static uint32_t pr_u32(part_reader *r)
{
    const unsigned char *q = pr_take(r, 4);
    uint32_t v = 0;
    for (int i = 0; q && i < 4; i++)
        v |= (uint32_t)q[i] << (8 * i);
    return v;
}

static int64_t pr_i64(part_reader *r) { return (int64_t)pr_u64(r); }
static int32_t pr_i32(part_reader *r) { return (int32_t)pr_u32(r); }

static void pr_sums(part_reader *r, summ_sums *s)
{
    s->files = pr_u64(r);
    s->dirs = pr_u64(r);
    s->bytes = pr_u64(r);
    s->allocated = pr_u64(r);
    s->stale_bytes = pr_u64(r);
    s->newest_mtime = pr_i64(r);
    s->newest_atime = pr_i64(r);
    s->oldest_mtime = pr_i64(r);
}

/* What a partial holds before its records. */
typedef struct part_head {
    uint32_t version;
    int64_t start_sec;
    uint32_t age_count;
    int32_t ages[SUMM_AGE_MAX];
    uint64_t dirs, users, groups, tops, cells, links;
} part_head;

/* A count of records of at least min bytes each that the rest can hold. */
static int pr_count_ok(const part_reader *r, uint64_t count, size_t min)
{
    return count <= (r->len - r->at) / min;
}

/* what: "summary partial 'PATH'" or "summary checkpoint state N". */
static int pr_fail(char *err, size_t errlen, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int pr_fail(char *err, size_t errlen, const char *what, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s: %s", what, why);
    return -1;
}

/* The whole file in memory (a partial grows with directories only). */
static unsigned char *pr_slurp(const char *path, const char *what, size_t *len, char *err,
                                size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        pr_fail(err, errlen, what, "cannot open: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        pr_fail(err, errlen, what, "not a regular file");
        return NULL;
    }
    size_t n = (size_t)st.st_size, got = 0;
    unsigned char *buf = malloc(n ? n : 1);
    while (buf && got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k <= 0) {
            pr_fail(err, errlen, what, "read failed: %s", k < 0 ? strerror(errno) : "file shrank");
            free(buf);
            close(fd);
            return NULL;
        }
        got += (size_t)k;
    }
    close(fd);
    if (!buf)
        pr_fail(err, errlen, what, "out of memory");
    *len = n;
    return buf;
}

/* Magic, version and trailer checksum: is this a whole partial of ours? */
static int pr_frame(part_reader *r, const char *what, char *err, size_t errlen)
{
    size_t min = PART_MAGIC_LEN + 4 + PART_TRAILER_LEN;
    if (r->len < PART_MAGIC_LEN || memcmp(r->p, PART_MAGIC, PART_MAGIC_LEN) != 0)
        return pr_fail(err, errlen, what,
                       "not a pwalk summary partial (no '" PART_MAGIC "' at its start)");
    if (r->len < min)
        return pr_fail(err, errlen, what, "truncated (%zu bytes)", r->len);
    r->at = PART_MAGIC_LEN;
    uint32_t version = pr_u32(r);
    if (version != SUMM_PARTIAL_VERSION)
        return pr_fail(err, errlen, what,
                       "format version %u, this pwalk reads version %u (ranks of another "
                       "pwalk build?)",
                       version, SUMM_PARTIAL_VERSION);
    const unsigned char *t = r->p + r->len - PART_TRAILER_LEN;
    if (memcmp(t, PART_END, PART_MAGIC_LEN) != 0)
        return pr_fail(err, errlen, what, "truncated or corrupt (no end marker; %zu bytes)",
                       r->len);
    uint64_t want = 0;
    for (int i = 0; i < 8; i++)
        want |= (uint64_t)t[PART_MAGIC_LEN + i] << (8 * i);
    uint64_t got = part_fnv(PART_FNV_INIT, r->p, r->len - PART_TRAILER_LEN);
    if (got != want)
        return pr_fail(err, errlen, what, "corrupt (checksum %016llx, expected %016llx)",
                       (unsigned long long)got, (unsigned long long)want);
    r->len -= PART_TRAILER_LEN;
    return 0;
}

/* The header after the version: conf and counts, checked against c. */
static int pr_head(part_reader *r, part_head *h, const summ_conf *c, const char *what,
                   char *err, size_t errlen)
{
    (void)pr_u32(r); /* reserved */
    h->start_sec = pr_i64(r);
    h->age_count = pr_u32(r);
    if (h->age_count > SUMM_AGE_MAX)
        return pr_fail(err, errlen, what, "corrupt (%u age_days values)", h->age_count);
    for (uint32_t i = 0; i < h->age_count; i++)
        h->ages[i] = pr_i32(r);
    uint64_t *counts[] = {&h->dirs, &h->users, &h->groups, &h->tops, &h->cells, &h->links};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        *counts[i] = pr_u64(r);
    if (r->short_read)
        return pr_fail(err, errlen, what, "truncated header");
    if (h->start_sec != c->start_sec)
        return pr_fail(err, errlen, what,
                       "written for a scan started at %lld, this merge's started at %lld",
                       (long long)h->start_sec, (long long)c->start_sec);
    int same = h->age_count == c->age_count;
    for (uint32_t i = 0; same && i < h->age_count; i++)
        same = h->ages[i] == c->age_days[i];
    if (!same)
        return pr_fail(err, errlen, what, "its age_days differ from this sink's age_days");
    return 0;
}

static int pr_dirs(part_reader *r, const part_head *h, summ_agg *t)
{
    if (!pr_count_ok(r, h->dirs, PART_DIR_MIN))
        return -1;
    for (uint64_t i = 0; i < h->dirs; i++) {
        summ_dir d;
        memset(&d, 0, sizeof d);
        d.path_len = pr_u32(r);
        d.flags = pr_u32(r);
        d.depth = pr_i32(r);
        d.uid = pr_u32(r);
        d.gid = pr_u32(r);
        d.dev = pr_u64(r);
        d.ino = pr_u64(r);
        pr_sums(r, &d.direct);
        const char *path = (const char *)pr_take(r, d.path_len);
        if (!path || d.path_len == 0 || memchr(path, '\0', d.path_len) || d.depth < -1)
            return -1;
        summ_dir *n = summ_agg_dir(t, path, d.path_len, summ_hash(path, d.path_len), d.depth);
        if (!n)
            return -2;
        n->flags |= d.flags;
        n->depth = d.depth;
        n->uid = d.uid;
        n->gid = d.gid;
        n->dev = d.dev;
        n->ino = d.ino;
        summ_sums_add(&n->direct, &d.direct);
    }
    return 0;
}

static int pr_owners(part_reader *r, uint64_t count, summ_agg *t, int groups)
{
    if (!pr_count_ok(r, count, PART_OWNER_MIN))
        return -1;
    for (uint64_t i = 0; i < count; i++) {
        summ_owner o;
        o.id = pr_u32(r);
        o.reserved0 = 0;
        o.files = pr_u64(r);
        o.dirs = pr_u64(r);
        o.bytes = pr_u64(r);
        o.allocated = pr_u64(r);
        o.newest_mtime = pr_i64(r);
        o.oldest_atime = pr_i64(r);
        if (r->short_read)
            return -1;
        summ_owner *n = groups ? summ_agg_group(t, o.id) : summ_agg_user(t, o.id);
        if (!n)
            return -2;
        *n = o; /* one record per id in a partial */
    }
    return 0;
}

/* Top names; map[i] = the index of the partial's top i in t. */
static int pr_tops(part_reader *r, uint64_t count, summ_agg *t, uint32_t *map)
{
    if (!pr_count_ok(r, count, PART_TOP_MIN))
        return -1;
    for (uint64_t i = 0; i < count; i++) {
        uint32_t len = pr_u32(r);
        const char *s = (const char *)pr_take(r, len);
        if (!s || len == 0 || memchr(s, '\0', len))
            return -1;
        if ((map[i] = summ_agg_top(t, s, len)) == UINT32_MAX)
            return -2;
    }
    return 0;
}

static int pr_cells(part_reader *r, const part_head *h, summ_agg *t, const uint32_t *map)
{
    if (!pr_count_ok(r, h->cells, PART_CELL_MIN))
        return -1;
    for (uint64_t i = 0; i < h->cells; i++) {
        summ_cell_key k;
        memset(&k, 0, sizeof k);
        k.uid = pr_u32(r);
        k.gid = pr_u32(r);
        k.top = pr_u32(r);
        k.mtime_age = pr_i32(r);
        k.atime_age = pr_i32(r);
        k.ctime_age = pr_i32(r);
        k.size_class = pr_u32(r);
        uint64_t files = pr_u64(r), dirs = pr_u64(r), bytes = pr_u64(r), alloc = pr_u64(r);
        if (r->short_read || k.top >= h->tops || k.size_class >= SUMM_SIZE_CLASSES)
            return -1;
        k.top = map[k.top];
        summ_cell *c = summ_agg_cell(t, &k);
        if (!c)
            return -2;
        c->files += files;
        c->dirs += dirs;
        c->bytes += bytes;
        c->allocated += alloc;
    }
    return 0;
}

static int pr_links(part_reader *r, const part_head *h, summ_agg *t)
{
    if (!pr_count_ok(r, h->links, PART_LINK_MIN))
        return -1;
    for (uint64_t i = 0; i < h->links; i++) {
        summ_link l;
        memset(&l, 0, sizeof l);
        l.dev = pr_u64(r);
        l.ino = pr_u64(r);
        l.path_len = pr_u32(r);
        l.name_offset = pr_u32(r);
        l.depth = pr_i32(r);
        l.uid = pr_u32(r);
        l.gid = pr_u32(r);
        l.size = pr_i64(r);
        l.blocks = pr_i64(r);
        l.atime = pr_i64(r);
        l.mtime = pr_i64(r);
        l.ctime = pr_i64(r);
        const char *path = (const char *)pr_take(r, l.path_len);
        if (!path || l.path_len == 0 || l.name_offset >= l.path_len || l.depth < 0 ||
            memchr(path, '\0', l.path_len))
            return -1;
        l.path = (char *)path; /* summ_agg_link() copies it */
        if (summ_agg_link(t, &l) != 0)
            return -2;
    }
    return 0;
}

/* The records into t.  0, -1 corrupt, -2 out of memory. */
static int pr_body(part_reader *r, const part_head *h, summ_agg *t)
{
    pr_sums(r, &t->loose);
    int rc = r->short_read ? -1 : pr_dirs(r, h, t);
    if (rc == 0)
        rc = pr_owners(r, h->users, t, 0);
    if (rc == 0)
        rc = pr_owners(r, h->groups, t, 1);
    if (rc == 0 && !pr_count_ok(r, h->tops, PART_TOP_MIN))
        rc = -1;
    uint32_t *map = rc == 0 ? malloc((h->tops ? h->tops : 1) * sizeof *map) : NULL;
    if (rc == 0 && !map)
        rc = -2;
    if (rc == 0)
        rc = pr_tops(r, h->tops, t, map);
    if (rc == 0)
        rc = pr_cells(r, h, t, map);
    free(map);
    if (rc == 0)
        rc = pr_links(r, h, t);
    if (rc == 0 && (r->short_read || r->at != r->len))
        rc = -1;
    return r->short_read && rc != -2 ? -1 : rc;
}

int summ_partial_decode(summ_agg *a, const summ_conf *c, const unsigned char *buf,
                        size_t len, const char *what, char *err, size_t errlen)
{
    part_reader r = {buf, len, 0, 0};
    part_head h;
    memset(&h, 0, sizeof h);
    int rc = pr_frame(&r, what, err, errlen);
    if (rc == 0)
        rc = pr_head(&r, &h, c, what, err, errlen);
    summ_agg t;
    summ_agg_init(&t);
    if (rc == 0) {
        size_t at = r.at;
        int body = pr_body(&r, &h, &t);
        if (body == -1)
            rc = pr_fail(err, errlen, what, "corrupt record (near byte %zu of %zu)",
                         r.at > at ? r.at : at, len);
        else if (body == -2 || summ_agg_merge(a, &t) != 0)
            rc = pr_fail(err, errlen, what, "out of memory");
    }
    summ_agg_free(&t);
    return rc;
}

int summ_partial_read(summ_agg *a, const summ_conf *c, const char *path, char *err,
                      size_t errlen)
{
    size_t wlen = strlen(path) + sizeof "summary partial ''";
    char *what = malloc(wlen);
    if (!what) {
        snprintf(err, errlen, "summary partial: out of memory");
        return -1;
    }
    snprintf(what, wlen, "summary partial '%s'", path);
    size_t len = 0;
    unsigned char *buf = pr_slurp(path, what, &len, err, errlen);
    int rc = buf ? summ_partial_decode(a, c, buf, len, what, err, errlen) : -1;
    free(buf);
    free(what);
    return rc;
}

int summ_partial_start(const unsigned char *buf, size_t len, int64_t *start_sec)
{
    if (len < PART_MAGIC_LEN + 16 || memcmp(buf, PART_MAGIC, PART_MAGIC_LEN) != 0)
        return -1;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)buf[PART_MAGIC_LEN + 8 + i] << (8 * i);
    *start_sec = (int64_t)v;
    return 0;
}

int summ_partial_merge(summ_agg *a, const summ_conf *c, const char *const *partials,
                       size_t count, char *err, size_t errlen)
{
    for (size_t i = 0; i < count; i++)
        if (summ_partial_read(a, c, partials[i], err, errlen) != 0)
            return -1;
    return 0;
}
