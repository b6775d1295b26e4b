/*
 * spill.c -- sorted runs on disk and their k-way merge (spill.h).
 */
#define _GNU_SOURCE
#include "spill.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NCDU_READ_BUF (64u * 1024u) /* per run being merged              */
#define NCDU_WRITE_BUF (256u * 1024u)
#define NCDU_ALIGN(n) (((n) + 7u) & ~(size_t)7u)

int ncdu_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    /* n == 0 with a NULL key (the root's empty key) is legal here, but
     * memcmp's arguments must be valid pointers even then */
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

int ncdu_tmpfile(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    /* a filesystem without O_TMPFILE: a name, unlinked at once */
    size_t len = strlen(dir) + 32;
    char *name = malloc(len);
    if (!name) {
        errno = ENOMEM;
        return -1;
    }
    snprintf(name, len, "%s/.pwalk-ncdu-XXXXXX", dir);
    fd = mkostemp(name, O_CLOEXEC);
    if (fd >= 0)
        unlink(name);
    int saved = errno;
    free(name);
    errno = saved;
    return fd;
}

int ncdu_spill_open(ncdu_spill *s, const char *dir, size_t cap, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->fd = ncdu_tmpfile(dir);
    if (s->fd < 0) {
        snprintf(err, errlen, "tmpdir: cannot create a temporary file in '%s': %s", dir,
                 strerror(errno));
        return -1;
    }
    s->cap = cap;
    return 0;
}

/* ---- writing runs ---------------------------------------------------------- */

static int spill_pwrite(int fd, const char *buf, size_t len, uint64_t *off)
{
    while (len) {
        ssize_t w = pwrite(fd, buf, len, (off_t)*off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        len -= (size_t)w;
        *off += (uint64_t)w;
    }
    return 0;
}

/* Buffered appends to a temporary file. */
typedef struct spill_out {
    int fd;
    uint64_t off;
    char *buf;
    size_t used;
} spill_out;

static int out_put(spill_out *o, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        if (o->used == NCDU_WRITE_BUF) {
            if (spill_pwrite(o->fd, o->buf, o->used, &o->off) != 0)
                return -1;
            o->used = 0;
        }
        size_t n = NCDU_WRITE_BUF - o->used < len ? NCDU_WRITE_BUF - o->used : len;
        memcpy(o->buf + o->used, p, n);
        o->used += n;
        p += n;
        len -= n;
    }
    return 0;
}

static int out_end(spill_out *o)
{
    int rc = spill_pwrite(o->fd, o->buf, o->used, &o->off);
    o->used = 0;
    return rc;
}

static int offs_cmp(const void *x, const void *y, void *arg)
{
    const char *arena = arg;
    const ncdu_rec *a = (const ncdu_rec *)(const void *)(arena + *(const size_t *)x);
    const ncdu_rec *b = (const ncdu_rec *)(const void *)(arena + *(const size_t *)y);
    return ncdu_key_cmp((const char *)(a + 1), a->key_len, (const char *)(b + 1), b->key_len);
}

static int run_add(ncdu_spill *s, uint64_t off, uint64_t len)
{
    if (s->run_count == s->run_cap) {
        size_t cap = s->run_cap ? s->run_cap * 2 : 16;
        uint64_t *r = realloc(s->runs, cap * 2 * sizeof *r);
        if (!r)
            return -1;
        s->runs = r;
        s->run_cap = cap;
    }
    s->runs[2 * s->run_count] = off;
    s->runs[2 * s->run_count + 1] = len;
    s->run_count++;
    return 0;
}

/* The buffer, sorted, as one more run at the end of the file. */
static int spill_run(ncdu_spill *s, char *err, size_t errlen)
{
    if (!s->count)
        return 0;
    qsort_r(s->offs, s->count, sizeof *s->offs, offs_cmp, s->arena);
    spill_out o = {s->fd, s->file_len, malloc(NCDU_WRITE_BUF), 0};
    int rc = o.buf ? 0 : -1;
    for (size_t i = 0; i < s->count && rc == 0; i++) {
        const ncdu_rec *r = (const ncdu_rec *)(const void *)(s->arena + s->offs[i]);
        rc = out_put(&o, r, sizeof *r + r->key_len);
    }
    if (rc == 0)
        rc = out_end(&o);
    free(o.buf);
    if (rc == 0)
        rc = run_add(s, s->file_len, o.off - s->file_len);
    if (rc != 0) {
        snprintf(err, errlen, "cannot write a temporary sort file: %s",
                 errno ? strerror(errno) : "out of memory");
        return -1;
    }
    s->file_len = o.off;
    s->count = 0;
    s->used = 0;
    return 0;
}

/* Room for a record of need bytes and one more offset (the buffer is
 * allocated at the first record, and after each flush). */
static int spill_room(ncdu_spill *s, size_t need)
{
    if (need > s->cap) { /* one huge path: a buffer of its size */
        char *a = realloc(s->arena, need);
        if (!a)
            return -1;
        s->arena = a;
        s->cap = need;
    } else if (!s->arena && !(s->arena = malloc(s->cap))) {
        return -1;
    }
    if (s->count == s->offs_cap) {
        size_t cap = s->offs_cap ? s->offs_cap * 2 : 4096;
        size_t *o = realloc(s->offs, cap * sizeof *o);
        if (!o)
            return -1;
        s->offs = o;
        s->offs_cap = cap;
    }
    return 0;
}

int ncdu_spill_add(ncdu_spill *s, const ncdu_rec *r, const char *key, char *err,
                   size_t errlen)
{
    size_t need = NCDU_ALIGN(sizeof *r + r->key_len);
    /* the offsets count against the same budget as the records */
    if (s->count && s->used + need + (s->count + 1) * sizeof *s->offs > s->cap &&
        spill_run(s, err, errlen) != 0)
        return -1;
    if (spill_room(s, need) != 0) {
        snprintf(err, errlen, "out of memory (sort buffer of %zu bytes)", s->cap);
        return -1;
    }
    char *at = s->arena + s->used;
    memcpy(at, r, sizeof *r);
    memcpy(at + sizeof *r, key, r->key_len);
    s->offs[s->count++] = s->used;
    s->used += need;
    return 0;
}

int ncdu_spill_flush(ncdu_spill *s, char *err, size_t errlen)
{
    int rc = spill_run(s, err, errlen);
    free(s->arena);
    free(s->offs);
    s->arena = NULL;
    s->offs = NULL;
    s->offs_cap = 0;
    return rc;
}

void ncdu_spill_free(ncdu_spill *s)
{
    free(s->arena);
    free(s->offs);
    free(s->runs);
    if (s->fd >= 0)
        close(s->fd);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

/* ---- reading runs back ----------------------------------------------------- */

typedef struct ncdu_reader {
    ncdu_run run;
    uint64_t pos;          /* next byte of the run to read into buf    */
    char *buf;
    size_t have, at;       /* bytes in buf, the next one to take       */
    ncdu_rec rec;
    char *key;
    size_t key_cap;
} ncdu_reader;

struct ncdu_merge {
    ncdu_reader *rd;
    size_t nrd;
    ncdu_reader **heap;
    size_t heap_n;
    ncdu_reader *last;     /* returned last: advanced by the next call */
    int *owned;            /* temporaries of earlier passes            */
    size_t owned_n;
};

/* n bytes of the run into dst: 1, 0 at the run's end, -1 on error. */
static int reader_take(ncdu_reader *r, void *dst, size_t n)
{
    char *d = dst;
    while (n) {
        if (r->at == r->have) {
            uint64_t left = r->run.len - r->pos;
            if (!left)
                return 0;
            size_t want = left < NCDU_READ_BUF ? (size_t)left : NCDU_READ_BUF;
            ssize_t got = pread(r->run.fd, r->buf, want, (off_t)(r->run.off + r->pos));
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                if (got == 0)
                    errno = EIO; /* shorter than written: truncated */
                return -1;
            }
            r->pos += (uint64_t)got;
            r->have = (size_t)got;
            r->at = 0;
        }
        size_t k = r->have - r->at < n ? r->have - r->at : n;
        memcpy(d, r->buf + r->at, k);
        r->at += k;
        d += k;
        n -= k;
    }
    return 1;
}

/* The reader's next record: 1, 0 at the end, -1 on error. */
static int reader_next(ncdu_reader *r)
{
    int got = reader_take(r, &r->rec, sizeof r->rec);
    if (got <= 0)
        return got;
    uint64_t left = r->run.len - r->pos + (r->have - r->at); /* unread bytes of the run */
    if (r->rec.key_len > left) { /* a corrupt length: never allocate it */
        errno = EIO;
        return -1;
    }
    if (r->rec.key_len > r->key_cap) {
        char *k = realloc(r->key, r->rec.key_len);
        if (!k) {
            errno = ENOMEM;
            return -1;
        }
        r->key = k;
        r->key_cap = r->rec.key_len;
    }
    got = reader_take(r, r->key, r->rec.key_len);
    if (got == 0)
        errno = EIO;
    return got == 1 ? 1 : -1;
}

static int reader_less(const ncdu_reader *a, const ncdu_reader *b)
{
    return ncdu_key_cmp(a->key, a->rec.key_len, b->key, b->rec.key_len) < 0;
}

static void heap_down(ncdu_merge *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, best = i;
        if (l < m->heap_n && reader_less(m->heap[l], m->heap[best]))
            best = l;
        if (l + 1 < m->heap_n && reader_less(m->heap[l + 1], m->heap[best]))
            best = l + 1;
        if (best == i)
            return;
        ncdu_reader *t = m->heap[i];
        m->heap[i] = m->heap[best];
        m->heap[best] = t;
        i = best;
    }
}

void ncdu_merge_close(ncdu_merge *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nrd; i++) {
        free(m->rd[i].buf);
        free(m->rd[i].key);
    }
    for (size_t i = 0; i < m->owned_n; i++)
        close(m->owned[i]);
    free(m->owned);
    free(m->rd);
    free(m->heap);
    free(m);
}

/* A merge over runs[0..n-1] (n <= the fan-in), primed. */
static ncdu_merge *merge_runs(const ncdu_run *runs, size_t n, char *err, size_t errlen)
{
    ncdu_merge *m = calloc(1, sizeof *m);
    if (m) {
        m->rd = calloc(n ? n : 1, sizeof *m->rd);
        m->heap = calloc(n ? n : 1, sizeof *m->heap);
    }
    if (!m || !m->rd || !m->heap) {
        ncdu_merge_close(m);
        snprintf(err, errlen, "out of memory (merging %zu runs)", n);
        return NULL;
    }
    m->nrd = n;
    for (size_t i = 0; i < n; i++) {
        ncdu_reader *r = &m->rd[i];
        r->run = runs[i];
        r->buf = malloc(NCDU_READ_BUF);
        int got = r->buf ? reader_next(r) : (errno = ENOMEM, -1);
        if (got < 0) {
            snprintf(err, errlen, "cannot read a temporary sort file: %s", strerror(errno));
            ncdu_merge_close(m);
            return NULL;
        }
        if (got)
            m->heap[m->heap_n++] = r;
    }
    for (size_t i = m->heap_n; i-- > 0;)
        heap_down(m, i);
    return m;
}

int ncdu_merge_next(ncdu_merge *m, const ncdu_rec **r, const char **key, char *err,
                    size_t errlen)
{
    if (m->last) {
        int got = reader_next(m->last);
        if (got < 0) {
            snprintf(err, errlen, "cannot read a temporary sort file: %s", strerror(errno));
            return -1;
        }
        if (!got)
            m->heap[0] = m->heap[--m->heap_n];
        heap_down(m, 0);
        m->last = NULL;
    }
    if (!m->heap_n)
        return 0;
    m->last = m->heap[0];
    *r = &m->last->rec;
    *key = m->last->key;
    return 1;
}

/* runs[0..n-1] merged into one run appended to the temporary fd. */
static int merge_into(const ncdu_run *runs, size_t n, int fd, uint64_t *end, ncdu_run *out,
                      char *err, size_t errlen)
{
    ncdu_merge *m = merge_runs(runs, n, err, errlen);
    if (!m)
        return -1;
    spill_out o = {fd, *end, malloc(NCDU_WRITE_BUF), 0};
    const ncdu_rec *r;
    const char *key;
    int got, rc = o.buf ? 0 : -1;
    while (rc == 0 && (got = ncdu_merge_next(m, &r, &key, err, errlen)) > 0)
        rc = out_put(&o, r, sizeof *r) || out_put(&o, key, r->key_len) ? -1 : 0;
    if (rc == 0 && got < 0)
        rc = -2;
    if (rc == 0)
        rc = out_end(&o);
    free(o.buf);
    ncdu_merge_close(m);
    if (rc == -1)
        snprintf(err, errlen, "cannot write a temporary sort file: %s",
                 errno ? strerror(errno) : "out of memory");
    if (rc)
        return -1;
    *out = (ncdu_run){fd, *end, o.off - *end};
    *end = o.off;
    return 0;
}

/* One pass: groups of fanin runs merged into one each, in a new
 * temporary.  Returns its fd, or -1. */
static int merge_pass(ncdu_run *runs, size_t *n, size_t fanin, const char *dir, char *err,
                      size_t errlen)
{
    int fd = ncdu_tmpfile(dir);
    if (fd < 0) {
        snprintf(err, errlen, "tmpdir: cannot create a temporary file in '%s': %s", dir,
                 strerror(errno));
        return -1;
    }
    uint64_t end = 0;
    size_t out = 0;
    for (size_t i = 0; i < *n; i += fanin) {
        size_t k = *n - i < fanin ? *n - i : fanin;
        ncdu_run merged;
        if (merge_into(runs + i, k, fd, &end, &merged, err, errlen) != 0) {
            close(fd);
            return -1;
        }
        runs[out++] = merged; /* out <= i: never overwrites an unread group */
    }
    *n = out;
    return fd;
}

static ncdu_run *runs_collect(ncdu_spill *spills, size_t n, size_t *count)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += spills[i].run_count;
    ncdu_run *runs = malloc((total ? total : 1) * sizeof *runs);
    if (!runs)
        return NULL;
    *count = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < spills[i].run_count; j++)
            runs[(*count)++] = (ncdu_run){spills[i].fd, spills[i].runs[2 * j],
                                          spills[i].runs[2 * j + 1]};
    return runs;
}

ncdu_merge *ncdu_merge_open_runs(ncdu_run *runs, size_t count, size_t memory, const char *dir,
                                 char *err, size_t errlen)
{
    /* the sort buffers are freed by now: their budget reads the runs */
    size_t fanin = memory / NCDU_READ_BUF, owned_n = 0;
    fanin = fanin < 16 ? 16 : fanin > 4096 ? 4096 : fanin;
    int owned = -1;
    while (count > fanin) {
        int fd = merge_pass(runs, &count, fanin, dir, err, errlen);
        if (fd < 0) {
            if (owned >= 0)
                close(owned);
            return NULL;
        }
        /* the runs now all live in the new file: the last pass's can go */
        if (owned >= 0)
            close(owned);
        owned = fd;
    }
    ncdu_merge *m = merge_runs(runs, count, err, errlen);
    int *o = m && owned >= 0 ? malloc(sizeof *o) : NULL;
    if (!m || (owned >= 0 && !o)) {
        if (m && !o)
            snprintf(err, errlen, "out of memory (merging the sorted runs)");
        ncdu_merge_close(m);
        if (owned >= 0)
            close(owned);
        return NULL;
    }
    if (o) {
        o[0] = owned;
        owned_n = 1;
    }
    m->owned = o;
    m->owned_n = owned_n;
    return m;
}

ncdu_merge *ncdu_merge_open(ncdu_spill *spills, size_t n, size_t memory, const char *dir,
                            char *err, size_t errlen)
{
    size_t count = 0;
    ncdu_run *runs = runs_collect(spills, n, &count);
    if (!runs) {
        snprintf(err, errlen, "out of memory (listing the sorted runs)");
        return NULL;
    }
    ncdu_merge *m = ncdu_merge_open_runs(runs, count, memory, dir, err, errlen);
    free(runs);
    return m;
}
