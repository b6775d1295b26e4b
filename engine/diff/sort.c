/*
 * sort.c -- the external sort of pwalk-diff; see sort.h.
 *
 * A record in a writer's arena is an 8-byte header (its length) and the
 * record, 8-aligned, so records can be read in place as structs.  A run on
 * disk is one zstd frame of the same bytes (header, record, zeroed padding),
 * so the merge too reads records in place; written by the writer's thread
 * with its own compression context, read back with pread() at the run's
 * offset: several runs share one file.
 */
#define _GNU_SOURCE
#include "sort.h"

#include "common/grow.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define DSORT_HDR 8
#define DSORT_ALIGN(n) (((n) + 7) & ~(size_t)7)
#define DSORT_STAGE (256 * 1024)
/* zstd's fast levels: runs are written and read once, on the critical
 * path; a third of the bytes is all they need to save */
#define DSORT_LEVEL (-3)
/* records prefetched ahead in a run kept in memory */
#define DSORT_AHEAD 8
#define DSORT_LEN(rec) (*(const uint32_t *)((const char *)(rec) - DSORT_HDR))

struct dsort_run {
    int fd;                 /* -1: in memory */
    uint64_t off, len;      /* the frame in fd */
    uint64_t count;
    dsort_ent *recs;        /* in memory: sorted index of the records in arena */
    char *arena;
};

int dsort_init(dsort *s, dsort_cmp cmp, const char *tmpdir)
{
    return dsort_init_key(s, cmp, NULL, tmpdir);
}

int dsort_init_key(dsort *s, dsort_cmp cmp, dsort_key key, const char *tmpdir)
{
    memset(s, 0, sizeof *s);
    s->cmp = cmp;
    s->key = key;
    s->tmpdir = tmpdir;
    return pthread_mutex_init(&s->lock, NULL) == 0 ? 0 : -1;
}

void dsort_set_hold(dsort *s, size_t bytes)
{
    s->hold = bytes;
}

void dsort_free(dsort *s)
{
    for (size_t i = 0; i < s->run_count; i++) {
        dsort_run *r = &s->runs[i];
        free(r->recs);
        free(r->arena);
    }
    for (size_t i = 0; i < s->fd_count; i++)
        close(s->fds[i]);
    free(s->fds);
    free(s->runs);
    pthread_mutex_destroy(&s->lock);
    memset(s, 0, sizeof *s);
}

/* An unlinked file in the temporary directory: gone whatever happens;
 * the sorter closes it. */
static int dsort_tmpfile(dsort *s, char *err, size_t errlen)
{
    const char *dir = s->tmpdir;
    int fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        char path[4096];
        snprintf(path, sizeof path, "%s/.pwalk-diff-run-XXXXXX", dir);
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0)
            unlink(path);
    }
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a spill file in '%s': %s", dir, strerror(errno));
        return -1;
    }
    pthread_mutex_lock(&s->lock);
    int rc = grow_array((void **)&s->fds, &s->fd_cap, s->fd_count + 1, sizeof *s->fds);
    if (rc == 0)
        s->fds[s->fd_count++] = fd;
    pthread_mutex_unlock(&s->lock);
    if (rc != 0) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return fd;
}

static int dsort_add_run(dsort *s, const dsort_run *r)
{
    pthread_mutex_lock(&s->lock);
    int rc = grow_array((void **)&s->runs, &s->run_cap, s->run_count + 1, sizeof *s->runs);
    if (rc == 0) {
        s->runs[s->run_count++] = *r;
        s->records += r->count;
        if (r->fd >= 0) {
            s->spilled = 1;
            s->spill_bytes += r->len;
        } /* a run kept in memory reserved its bytes in held already */
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int dsort_qcmp(const void *a, const void *b, void *ctx)
{
    const dsort_ent *x = a, *y = b;
    if (x->key[0] != y->key[0])
        return x->key[0] < y->key[0] ? -1 : 1;
    if (x->key[1] != y->key[1])
        return x->key[1] < y->key[1] ? -1 : 1;
    dsort_cmp cmp = (dsort_cmp)ctx;
    return cmp(x->rec, y->rec);
}

/* Byte k of an entry's key, least significant first: key[1]'s 8 bytes,
 * then key[0]'s. */
#define DSORT_KEY_BYTE(e, k) \
    ((unsigned)((k) < 8 ? (e)->key[1] >> (8 * (k)) : (e)->key[0] >> (8 * ((k) - 8))) & 0xff)

/* One stable counting pass on key byte k from a into t. */
static void dsort_radix_pass(const dsort_ent *a, dsort_ent *t, size_t n, int k)
{
    size_t count[256] = {0};
    for (size_t i = 0; i < n; i++)
        count[DSORT_KEY_BYTE(&a[i], k)]++;
    size_t at = 0;
    for (int b = 0; b < 256; b++) {
        size_t c = count[b];
        count[b] = at;
        at += c;
    }
    for (size_t i = 0; i < n; i++)
        t[count[DSORT_KEY_BYTE(&a[i], k)]++] = a[i];
}

/* Sorting the index: a radix sort on the key bytes that differ at all
 * ((dev, ino): st_dev is mostly one value, inodes a few bytes), then the
 * comparator over each group of equal keys.  qsort_r (whose callback per
 * compare was a tenth of the CPU) when more than 4 bytes vary (paths). */
static void dsort_sort(dsort_ent *a, size_t n, dsort_cmp cmp)
{
    uint64_t d0 = 0, d1 = 0;
    for (size_t i = 1; i < n; i++) {
        d0 |= a[i].key[0] ^ a[0].key[0];
        d1 |= a[i].key[1] ^ a[0].key[1];
    }
    int bytes[16], nb = 0;
    for (int k = 0; k < 16; k++)
        if ((k < 8 ? d1 >> (8 * k) : d0 >> (8 * (k - 8))) & 0xff)
            bytes[nb++] = k;
    dsort_ent *t = n >= 1024 && nb <= 4 ? malloc(n * sizeof *a) : NULL;
    if (!t) {
        qsort_r(a, n, sizeof *a, dsort_qcmp, (void *)cmp);
        return;
    }
    dsort_ent *from = a, *to = t;
    for (int i = 0; i < nb; i++) {
        dsort_radix_pass(from, to, n, bytes[i]);
        dsort_ent *x = from;
        from = to;
        to = x;
    }
    if (from != a)
        memcpy(a, from, n * sizeof *a);
    free(t);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && a[j].key[0] == a[i].key[0] && a[j].key[1] == a[i].key[1];)
            j++;
        if (j - i > 1)
            qsort_r(a + i, j - i, sizeof *a, dsort_qcmp, (void *)cmp);
    }
}

static int dsort_pwrite(int fd, const void *p, size_t n, uint64_t *at, const char *dir,
                        char *err, size_t errlen)
{
    const char *q = p;
    while (n) {
        ssize_t k = pwrite(fd, q, n, (off_t)*at);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            snprintf(err, errlen, "cannot write a spill file in '%s': %s", dir,
                     strerror(k < 0 ? errno : ENOSPC));
            return -1;
        }
        q += k;
        n -= (size_t)k;
        *at += (uint64_t)k;
    }
    return 0;
}

/* Compress what is staged (end: finish the frame) and write it. */
static int dsort_flush(ZSTD_CCtx *cc, const char *stage, size_t n, int end, int fd, uint64_t *at,
                       const char *dir, char *err, size_t errlen)
{
    char out[64 * 1024];
    ZSTD_inBuffer in = {stage, n, 0};
    size_t left;
    do {
        ZSTD_outBuffer o = {out, sizeof out, 0};
        left = ZSTD_compressStream2(cc, &o, &in, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left)) {
            snprintf(err, errlen, "zstd compression of a spill run failed: %s",
                     ZSTD_getErrorName(left));
            return -1;
        }
        if (dsort_pwrite(fd, out, o.pos, at, dir, err, errlen) != 0)
            return -1;
    } while (in.pos < in.size || (end && left != 0));
    return 0;
}

/* Write n sorted records as one run at the end of fd. */
static int dsort_write_run(dsort *s, ZSTD_CCtx *cc, int fd, uint64_t *end, const dsort_ent *recs,
                           size_t n, dsort_run *run, char *err, size_t errlen)
{
    char *stage = malloc(DSORT_STAGE);
    if (!stage) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    uint64_t start = *end;
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        /* as in the arena: header and record, 8-aligned, so that the merge
         * reads records in place */
        const char *p = recs[i].rec - DSORT_HDR;
        size_t len = DSORT_HDR + DSORT_ALIGN((size_t)DSORT_LEN(recs[i].rec));
        if (k + len > DSORT_STAGE && k) {
            rc = dsort_flush(cc, stage, k, 0, fd, end, s->tmpdir, err, errlen);
            k = 0;
        }
        if (len > DSORT_STAGE) {
            rc = rc ? rc : dsort_flush(cc, p, len, 0, fd, end, s->tmpdir, err, errlen);
            continue;
        }
        memcpy(stage + k, p, len);
        k += len;
    }
    if (rc == 0)
        rc = dsort_flush(cc, stage, k, 1, fd, end, s->tmpdir, err, errlen);
    free(stage);
    *run = (dsort_run){.fd = fd, .off = start, .len = *end - start, .count = n};
    return rc;
}

static ZSTD_CCtx *dsort_cctx(void)
{
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    if (cc) {
        /* a fast level and a small window: runs are read back many at once,
         * each decoder holding one window */
        ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, DSORT_LEVEL);
        ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, 17);
    }
    return cc;
}

int dsort_buf_init(dsort_buf *b, dsort *s, size_t budget)
{
    memset(b, 0, sizeof *b);
    b->s = s;
    b->fd = -1;
    b->cap = budget;
    b->arena = malloc(budget);
    return b->arena ? 0 : -1;
}

/* Sort the buffer and write it as a run to this writer's file. */
static int dsort_buf_spill(dsort_buf *b, char *err, size_t errlen)
{
    dsort *s = b->s;
    if (b->fd < 0 && (b->fd = dsort_tmpfile(s, err, errlen)) < 0)
        return -1;
    if (!b->cctx && !(b->cctx = dsort_cctx())) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    dsort_sort(b->recs, b->n, s->cmp);
    dsort_run run;
    if (dsort_write_run(s, b->cctx, b->fd, &b->file_end, b->recs, b->n, &run, err, errlen) ||
        dsort_add_run(s, &run)) {
        if (!*err)
            snprintf(err, errlen, "out of memory");
        return -1;
    }
    b->used = 0;
    b->n = 0;
    return 0;
}

static int dsort_buf_run(dsort_buf *b, int final, char *err, size_t errlen);

void *dsort_buf_reserve(dsort_buf *b, size_t len, char *err, size_t errlen)
{
    size_t need = DSORT_HDR + DSORT_ALIGN(len);
    if (b->used + need + (b->n + 1) * sizeof(dsort_ent) > b->cap && b->n &&
        dsort_buf_run(b, 0, err, errlen) != 0)
        return NULL;
    if (b->used + need > b->cap) { /* one record bigger than the budget */
        char *a = realloc(b->arena, b->used + need);
        if (!a) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        b->arena = a;
        b->cap = b->used + need;
    }
    if (grow_array((void **)&b->recs, &b->rec_cap, b->n + 1, sizeof *b->recs) != 0) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return b->arena + b->used + DSORT_HDR;
}

void dsort_buf_commit(dsort_buf *b, size_t len)
{
    char *rec = b->arena + b->used + DSORT_HDR;
    uint32_t *hdr = (uint32_t *)(rec - DSORT_HDR);
    hdr[0] = (uint32_t)len;
    hdr[1] = 0;
    memset(rec + len, 0, DSORT_ALIGN(len) - len); /* spilled as is: no stray bytes */
    dsort_ent *e = &b->recs[b->n++];
    e->rec = rec;
    e->key[0] = e->key[1] = 0;
    if (b->s->key)
        b->s->key(rec, e->key);
    b->used += DSORT_HDR + DSORT_ALIGN(len);
}

static void dsort_buf_release(dsort_buf *b)
{
    free(b->arena);
    free(b->recs);
    ZSTD_freeCCtx(b->cctx);
    b->arena = NULL;
    b->recs = NULL;
    b->cctx = NULL;
}

/* A run kept in memory gives back the arena's unused tail (address
 * space counts against ulimit -v, and the budget was reserved whole). */
static void dsort_buf_shrink(dsort_buf *b)
{
    uintptr_t old = (uintptr_t)b->arena;
    char *a = realloc(b->arena, b->used ? b->used : 1);
    if (!a)
        return; /* the bigger block stays: still valid */
    if ((uintptr_t)a != old) /* moved: the index follows by offset */
        for (size_t i = 0; i < b->n; i++)
            b->recs[i].rec = a + ((uintptr_t)b->recs[i].rec - old);
    b->arena = a;
    b->cap = b->used;
}

void dsort_buf_discard(dsort_buf *b)
{
    dsort_buf_release(b);
}

/* Whether a sorted buffer of bytes may stay in memory; if so its bytes
 * are counted in held from now on. */
static int dsort_hold(dsort *s, size_t bytes)
{
    pthread_mutex_lock(&s->lock);
    int keep = s->held + bytes <= s->hold;
    if (keep)
        s->held += bytes;
    pthread_mutex_unlock(&s->lock);
    return keep;
}

/* The buffer becomes a run: kept in memory while the sorter's hold allows
 * (no compression, no file), else spilled.  A kept buffer hands its arena
 * to the run; unless final, the writer gets a new one. */
static int dsort_buf_run(dsort_buf *b, int final, char *err, size_t errlen)
{
    dsort *s = b->s;
    if (!dsort_hold(s, b->used + b->n * sizeof(dsort_ent)))
        return dsort_buf_spill(b, err, errlen);
    dsort_sort(b->recs, b->n, s->cmp);
    dsort_buf_shrink(b);
    /* in memory: len is the arena's bytes, for the accounting */
    dsort_run run = {.fd = -1, .len = b->used, .count = b->n, .recs = b->recs, .arena = b->arena};
    if (dsort_add_run(s, &run) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    b->recs = NULL;
    b->arena = NULL;
    b->rec_cap = b->used = b->n = 0;
    if (!final && !(b->arena = malloc(b->cap))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int dsort_buf_finish(dsort_buf *b, int keep, char *err, size_t errlen)
{
    int rc = 0;
    if (b->n)
        rc = keep ? dsort_buf_run(b, 1, err, errlen) : dsort_buf_spill(b, err, errlen);
    dsort_buf_release(b);
    return rc;
}

int dsort_spill_held(dsort *s, char *err, size_t errlen)
{
    int fd = -1;
    uint64_t end = 0;
    ZSTD_CCtx *cc = NULL;
    for (size_t i = 0; i < s->run_count; i++) {
        dsort_run *r = &s->runs[i];
        if (r->fd >= 0)
            continue;
        if (fd < 0 && (fd = dsort_tmpfile(s, err, errlen)) < 0)
            return -1;
        if (!cc && !(cc = dsort_cctx())) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        dsort_run out;
        size_t held = (size_t)r->count * sizeof(dsort_ent) + r->len;
        if (dsort_write_run(s, cc, fd, &end, r->recs, r->count, &out, err, errlen) != 0) {
            ZSTD_freeCCtx(cc);
            return -1;
        }
        free(r->recs);
        free(r->arena);
        *r = out;
        s->held -= held;
        s->spilled = 1;
        s->spill_bytes += out.len;
    }
    ZSTD_freeCCtx(cc);
    return 0;
}

/* ---- merging -------------------------------------------------------------- */

/* One run being read: in memory (an index into recs) or a zstd frame in a
 * file, decompressed a window at a time into out[], where the current
 * record is read in place (it stays put until this source steps on). */
typedef struct dsort_src {
    const dsort_run *run;
    size_t next;                /* memory: the next record's index */
    const void *cur;            /* the current record, NULL at the end */
    ZSTD_DCtx *d;
    unsigned char in[64 * 1024];
    size_t in_pos, in_len;
    uint64_t file_pos, file_end;
    char *out;
    size_t out_pos, out_len, out_cap;
} dsort_src;

/* A heap entry: a source and its current record's key prefix, so that
 * most compares are two integers beside each other, not two records. */
typedef struct dsort_hent {
    uint64_t key[2];
    size_t src;
} dsort_hent;

struct dsort_merge {
    dsort *s;
    dsort_src *src;
    size_t nsrc;
    dsort_hent *heap;           /* smallest record first */
    size_t heap_n;
    size_t last;                /* the source the last record came from */
    int started, failed;
};

/* At least want decompressed bytes at out[out_pos..]: 1, 0 at the end of
 * the run, -1 on an error. */
static int dsort_src_need(dsort_src *c, size_t want, char *err, size_t errlen)
{
    while (c->out_len - c->out_pos < want) {
        if (c->out_len > c->out_pos)
            memmove(c->out, c->out + c->out_pos, c->out_len - c->out_pos);
        c->out_len -= c->out_pos;
        c->out_pos = 0;
        if (grow_array((void **)&c->out, &c->out_cap, want + 128 * 1024, 1) != 0)
            return snprintf(err, errlen, "out of memory"), -1;
        if (c->in_pos == c->in_len && c->file_pos < c->file_end) {
            size_t n = sizeof c->in;
            if (n > c->file_end - c->file_pos)
                n = (size_t)(c->file_end - c->file_pos);
            ssize_t k = pread(c->run->fd, c->in, n, (off_t)c->file_pos);
            if (k <= 0)
                return snprintf(err, errlen, "cannot read a spill file: %s",
                                k < 0 ? strerror(errno) : "it is shorter than written"), -1;
            c->file_pos += (uint64_t)k;
            c->in_pos = 0;
            c->in_len = (size_t)k;
        }
        ZSTD_inBuffer in = {c->in, c->in_len, c->in_pos};
        ZSTD_outBuffer out = {c->out, c->out_cap, c->out_len};
        size_t rc = ZSTD_decompressStream(c->d, &out, &in);
        if (ZSTD_isError(rc))
            return snprintf(err, errlen, "a spill file is damaged: %s", ZSTD_getErrorName(rc)), -1;
        c->in_pos = in.pos;
        int progress = out.pos > c->out_len;
        c->out_len = out.pos;
        if (!progress && c->in_pos == c->in_len && c->file_pos >= c->file_end)
            return c->out_len - c->out_pos >= want;
    }
    return 1;
}

/* Step a source to its next record. */
static int dsort_src_step(dsort_src *c, char *err, size_t errlen)
{
    if (c->run->fd < 0) {
        /* the index is sorted, the records are where they were read: ask
         * for the ones a few steps ahead now, they are cache misses */
        if (c->next + DSORT_AHEAD < c->run->count)
            __builtin_prefetch(c->run->recs[c->next + DSORT_AHEAD].rec);
        c->cur = c->next < c->run->count ? c->run->recs[c->next++].rec : NULL;
        return 0;
    }
    int rc = dsort_src_need(c, DSORT_HDR, err, errlen);
    if (rc <= 0) {
        c->cur = NULL;
        return rc;
    }
    /* out[] is malloc'ed and out_pos a multiple of 8: aligned in place */
    size_t len = DSORT_HDR + DSORT_ALIGN((size_t)*(const uint32_t *)(c->out + c->out_pos));
    if ((rc = dsort_src_need(c, len, err, errlen)) <= 0) {
        c->cur = NULL;
        return rc < 0 ? -1 : (snprintf(err, errlen, "a spill file ends inside a record"), -1);
    }
    c->cur = c->out + c->out_pos + DSORT_HDR;
    c->out_pos += len;
    return 0;
}

/* The key prefix first (it never contradicts the comparator), the records
 * only on equal keys, then the source: a fixed order for equal records. */
static int dsort_heap_less(const dsort_merge *m, const dsort_hent *a, const dsort_hent *b)
{
    if (a->key[0] != b->key[0])
        return a->key[0] < b->key[0];
    if (a->key[1] != b->key[1])
        return a->key[1] < b->key[1];
    int c = m->s->cmp(m->src[a->src].cur, m->src[b->src].cur);
    return c < 0 || (c == 0 && a->src < b->src);
}

static void dsort_heap_down(dsort_merge *m, size_t i)
{
    dsort_hent *h = m->heap;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, k = i;
        if (l < m->heap_n && dsort_heap_less(m, &h[l], &h[k]))
            k = l;
        if (r < m->heap_n && dsort_heap_less(m, &h[r], &h[k]))
            k = r;
        if (k == i)
            return;
        dsort_hent t = h[i];
        h[i] = h[k];
        h[k] = t;
        i = k;
    }
}

/* The heap entry of source i at its current record. */
static void dsort_hent_set(const dsort_merge *m, dsort_hent *h, size_t i)
{
    const dsort_src *c = &m->src[i];
    h->src = i;
    h->key[0] = h->key[1] = 0;
    if (c->run->fd < 0) /* the run's index has it: no touching the record */
        memcpy(h->key, c->run->recs[c->next - 1].key, sizeof h->key);
    else if (m->s->key)
        m->s->key(c->cur, h->key);
}

static int dsort_src_open(dsort_src *c, const dsort_run *run, char *err, size_t errlen)
{
    c->run = run;
    if (run->fd >= 0) {
        c->d = ZSTD_createDCtx();
        if (!c->d)
            return snprintf(err, errlen, "out of memory"), -1;
        c->file_pos = run->off;
        c->file_end = run->off + run->len;
    }
    return dsort_src_step(c, err, errlen);
}

dsort_merge *dsort_merge_open(dsort *s, char *err, size_t errlen)
{
    dsort_merge *m = calloc(1, sizeof *m);
    if (!m || !(m->src = calloc(s->run_count + 1, sizeof *m->src)) ||
        !(m->heap = calloc(s->run_count + 1, sizeof *m->heap))) {
        snprintf(err, errlen, "out of memory");
        dsort_merge_close(m);
        return NULL;
    }
    m->s = s;
    for (size_t i = 0; i < s->run_count; i++) {
        if (dsort_src_open(&m->src[m->nsrc], &s->runs[i], err, errlen) != 0) {
            m->nsrc++;
            dsort_merge_close(m);
            return NULL;
        }
        if (m->src[m->nsrc].cur)
            dsort_hent_set(m, &m->heap[m->heap_n++], m->nsrc);
        m->nsrc++;
    }
    for (size_t i = m->heap_n; i-- > 0;)
        dsort_heap_down(m, i);
    return m;
}

const void *dsort_merge_next(dsort_merge *m, char *err, size_t errlen)
{
    if (m->failed)
        return NULL;
    if (m->started && m->heap_n) {
        dsort_src *c = &m->src[m->heap[0].src];
        if (dsort_src_step(c, err, errlen) != 0) {
            m->failed = 1;
            return NULL;
        }
        if (!c->cur)
            m->heap[0] = m->heap[--m->heap_n];
        else
            dsort_hent_set(m, &m->heap[0], m->heap[0].src);
        dsort_heap_down(m, 0);
    }
    m->started = 1;
    return m->heap_n ? m->src[m->heap[0].src].cur : NULL;
}

int dsort_merge_failed(const dsort_merge *m)
{
    return m->failed;
}

void dsort_merge_close(dsort_merge *m)
{
    if (!m)
        return;
    for (size_t i = 0; m->src && i < m->nsrc; i++) {
        ZSTD_freeDCtx(m->src[i].d);
        free(m->src[i].out);
    }
    free(m->src);
    free(m->heap);
    free(m);
}
