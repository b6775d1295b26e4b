/*
 * load.c -- reading one side of a diff into a sorter; see load.h.
 */
#define _GNU_SOURCE
#include "load.h"

#include "common/grow.h"
#include "manifest.h"
#include "reader.h"
#include "row.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DLOAD_CHUNK (1024 * 1024)
#define DLOAD_RUN_MAX ((size_t)64 << 20)

/* Whole lines of one file, parsed by a worker. */
typedef struct dload_chunk {
    struct dload_chunk *next;
    char *data;
    size_t len;
    uint64_t line;              /* the number of its first line */
    const char *file;
    int esc;
} dload_chunk;

typedef struct dload_worker {
    struct dload_ctx *ctx;
    pthread_t tid;
    int started;
    dsort_buf buf;
    uint64_t rows;
    char **roots;
    size_t *root_lens;
    size_t root_count, root_cap, len_cap;
    uint64_t *devs;
    size_t dev_count, dev_cap;
} dload_worker;

typedef struct dload_ctx {
    const dload_opts *o;
    dside *side;
    pthread_mutex_t lock;
    pthread_cond_t more, room;
    dload_chunk *head, *tail;
    size_t queued;
    int done;                   /* no more chunks will come */
    int status;                 /* the first failure: DLOAD_* */
    char err[1024];
} dload_ctx;

static void dload_fail(dload_ctx *c, int status, const char *msg)
{
    pthread_mutex_lock(&c->lock);
    if (!c->status) {
        c->status = status;
        snprintf(c->err, sizeof c->err, "%s", msg);
    }
    pthread_cond_broadcast(&c->room);
    pthread_mutex_unlock(&c->lock);
}

static int dload_failed(dload_ctx *c)
{
    pthread_mutex_lock(&c->lock);
    int s = c->status;
    pthread_mutex_unlock(&c->lock);
    return s;
}

/* ---- workers ---------------------------------------------------------------- */

static int dload_note_root(dload_worker *w, const drow *r)
{
    for (size_t i = 0; i < w->root_count; i++)
        if (w->root_lens[i] == r->path_len && !memcmp(w->roots[i], DROW_PATH(r), r->path_len))
            return 0;
    char *p = malloc(r->path_len + 1);
    if (!p || grow_array((void **)&w->roots, &w->root_cap, w->root_count + 1, sizeof(char *)) ||
        grow_array((void **)&w->root_lens, &w->len_cap, w->root_count + 1, sizeof(size_t))) {
        free(p);
        return -1;
    }
    memcpy(p, DROW_PATH(r), r->path_len);
    p[r->path_len] = '\0'; /* names hold no NUL */
    w->roots[w->root_count] = p;
    w->root_lens[w->root_count++] = r->path_len;
    return 0;
}

static int dload_note_dev(dload_worker *w, uint64_t dev)
{
    for (size_t i = w->dev_count; i-- > 0;)
        if (w->devs[i] == dev)
            return 0;
    if (grow_array((void **)&w->devs, &w->dev_cap, w->dev_count + 1, sizeof *w->devs))
        return -1;
    w->devs[w->dev_count++] = dev;
    return 0;
}

/* One line into the worker's sorter. */
static int dload_line(dload_worker *w, const dload_chunk *k, const char *line, size_t len,
                      uint64_t no)
{
    char err[512], msg[1024];
    void *rec = dsort_buf_reserve(&w->buf, sizeof(drow) + len, err, sizeof err);
    if (!rec) {
        dload_fail(w->ctx, DLOAD_FAILED, err);
        return -1;
    }
    long n = drow_parse(line, len, k->esc, rec, err, sizeof err);
    if (n < 0) {
        snprintf(msg, sizeof msg, "%s: line %llu: %s", k->file, (unsigned long long)no, err);
        dload_fail(w->ctx, DLOAD_BAD_INPUT, msg);
        return -1;
    }
    dsort_buf_commit(&w->buf, (size_t)n);
    w->rows++;
    const drow *r = rec;
    if ((r->depth == -1 && dload_note_root(w, r) != 0) ||
        ((!w->dev_count || w->devs[w->dev_count - 1] != r->dev) && dload_note_dev(w, r->dev))) {
        dload_fail(w->ctx, DLOAD_FAILED, "out of memory");
        return -1;
    }
    return 0;
}

static void dload_parse_chunk(dload_worker *w, const dload_chunk *k)
{
    const char *p = k->data, *end = k->data + k->len;
    uint64_t no = k->line;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t len = (size_t)(le - p);
        /* blank lines, and pwalk's header again (reports concatenated
         * with cat), are no rows */
        int skip = !len || (len == 1 && *p == '\r') || drow_check_header(p, len) == 0;
        if (!skip && dload_line(w, k, p, len, no) != 0)
            return;
        p = le + 1;
        no++;
    }
}

static dload_chunk *dload_pop(dload_ctx *c)
{
    pthread_mutex_lock(&c->lock);
    while (!c->head && !c->done && !c->status)
        pthread_cond_wait(&c->more, &c->lock);
    dload_chunk *k = c->status ? NULL : c->head;
    if (k) {
        c->head = k->next;
        if (!c->head)
            c->tail = NULL;
        c->queued--;
        pthread_cond_signal(&c->room);
    }
    pthread_mutex_unlock(&c->lock);
    return k;
}

static void *dload_worker_main(void *arg)
{
    dload_worker *w = arg;
    dload_ctx *c = w->ctx;
    dload_chunk *k;
    while ((k = dload_pop(c))) {
        if (!(c->o->stop && *c->o->stop))
            dload_parse_chunk(w, k);
        free(k->data);
        free(k);
    }
    char err[512];
    if (dload_failed(c) || (c->o->stop && *c->o->stop))
        dsort_buf_discard(&w->buf);
    else if (dsort_buf_finish(&w->buf, 1, err, sizeof err) != 0)
        dload_fail(c, DLOAD_FAILED, err);
    return NULL;
}

/* ---- the reading thread ------------------------------------------------------ */

/* Hand a chunk to the workers (waiting while the queue is full).  Takes
 * data; -1 when the load failed meanwhile. */
static int dload_push(dload_ctx *c, char *data, size_t len, uint64_t line, const char *file,
                      int esc)
{
    dload_chunk *k = malloc(sizeof *k);
    if (!k) {
        free(data);
        dload_fail(c, DLOAD_FAILED, "out of memory");
        return -1;
    }
    *k = (dload_chunk){NULL, data, len, line, file, esc};
    pthread_mutex_lock(&c->lock);
    while (c->queued >= (size_t)c->o->threads * 2 && !c->status)
        pthread_cond_wait(&c->room, &c->lock);
    int failed = c->status;
    if (!failed) {
        if (c->tail)
            c->tail->next = k;
        else
            c->head = k;
        c->tail = k;
        c->queued++;
        pthread_cond_signal(&c->more);
    }
    pthread_mutex_unlock(&c->lock);
    if (failed) {
        free(data);
        free(k);
    }
    return failed ? -1 : 0;
}

/* What reading one file keeps between chunks. */
typedef struct dload_file {
    const char *path;
    uint64_t line;          /* the number of the next line */
    int esc;                /* DROW_ESC_AUTO until a line decides */
    int first;              /* the first line is still to come */
} dload_file;

/* The header, when the file starts with one: checked and cut off. */
static int dload_header(dload_ctx *c, dload_file *f, char **p, size_t *len)
{
    f->first = 0;
    const char *nl = memchr(*p, '\n', *len);
    size_t n = nl ? (size_t)(nl - *p) : *len;
    if (!drow_is_header(*p, n))
        return 0;
    if (drow_check_header(*p, n) != 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s: line 1: the columns are not pwalk's (the header is not "
                 "inode,parent-inode,directory-depth,\"filename\",...,pw_fcount,pw_dirsum)",
                 f->path);
        dload_fail(c, DLOAD_BAD_INPUT, msg);
        return -1;
    }
    size_t skip = nl ? n + 1 : n;
    *p += skip;
    *len -= skip;
    f->line++;
    return 0;
}

/* The escaping, decided at the first line holding a backslash. */
static void dload_detect(dload_file *f, const char *p, size_t len)
{
    const char *b = memchr(p, '\\', len);
    if (!b)
        return;
    const char *s = b;
    while (s > p && s[-1] != '\n')
        s--;
    const char *e = memchr(b, '\n', len - (size_t)(b - p));
    f->esc = drow_line_escape(s, (size_t)((e ? e : p + len) - s));
}

/* Whole lines data[0..len) to the workers. */
static int dload_lines(dload_ctx *c, dload_file *f, char *data, size_t len)
{
    char *p = data;
    if (f->first && dload_header(c, f, &p, &len) != 0) {
        free(data);
        return -1;
    }
    if (!len) {
        free(data);
        return 0;
    }
    if (f->esc == DROW_ESC_AUTO)
        dload_detect(f, p, len);
    uint64_t line = f->line;
    for (const char *q = p; (q = memchr(q, '\n', len - (size_t)(q - p))); q++)
        f->line++;
    if (p != data)
        memmove(data, p, len);
    return dload_push(c, data, len, line, f->path, f->esc);
}

/* Read one report file to the workers, cut at line ends. */
static int dload_file_read(dload_ctx *c, const char *path)
{
    char err[1024];
    drd *r = drd_open(path, err, sizeof err);
    if (!r)
        return dload_fail(c, DLOAD_BAD_INPUT, err), -1;
    if (drd_is_json(r)) {
        snprintf(err, sizeof err, "%s: a manifest where a report was expected", path);
        drd_close(r);
        return dload_fail(c, DLOAD_BAD_INPUT, err), -1;
    }
    dload_file f = {path, 1, c->o->escape, 1};
    size_t cap = DLOAD_CHUNK, fill = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : -1;
    while (rc == 0) {
        if ((c->o->stop && *c->o->stop) || dload_failed(c)) {
            rc = -1;
            break;
        }
        if (fill == cap) {
            char *nb = cap < (SIZE_MAX >> 2) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                rc = -1;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        long n = drd_read(r, buf + fill, cap - fill, err, sizeof err);
        if (n < 0) {
            dload_fail(c, DLOAD_BAD_INPUT, err);
            rc = -1;
            break;
        }
        if (n == 0) { /* the end: a last line without '\n' is still a line */
            rc = fill ? dload_lines(c, &f, buf, fill) : (free(buf), 0);
            buf = NULL;
            break;
        }
        fill += (size_t)n;
        char *nl = memrchr(buf, '\n', fill);
        if (!nl || fill < cap / 2)
            continue;
        size_t whole = (size_t)(nl - buf) + 1, rest = fill - whole;
        char *next = malloc(cap);
        if (!next) {
            rc = -1;
            break;
        }
        memcpy(next, nl + 1, rest);
        rc = dload_lines(c, &f, buf, whole);
        buf = next;
        fill = rest;
    }
    free(buf);
    drd_close(r);
    if (rc != 0 && !dload_failed(c) && !(c->o->stop && *c->o->stop))
        dload_fail(c, DLOAD_FAILED, "out of memory");
    return rc;
}

/* The files of arg: itself, or the shards its manifest lists. */
static int dload_inputs(dside *side, const char *arg, char *err, size_t errlen)
{
    drd *r = drd_open(arg, err, errlen);
    if (!r)
        return DLOAD_BAD_INPUT;
    int json = drd_is_json(r);
    drd_close(r);
    if (!json) {
        side->inputs = malloc(sizeof(char *));
        if (!side->inputs || !(side->inputs[0] = strdup(arg)))
            return snprintf(err, errlen, "out of memory"), DLOAD_FAILED;
        side->input_count = 1;
        return 0;
    }
    dman m;
    if (dman_read(arg, &m, err, errlen) != 0)
        return DLOAD_BAD_INPUT;
    side->inputs = m.shards;
    side->input_count = m.shard_count;
    side->started = m.started;
    side->has_started = m.has_started;
    return 0;
}

static int dload_cmp_root(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    return strcmp(*x, *y);
}

static int dload_cmp_dev(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The workers' roots and st_devs into the side, each once, sorted. */
static int dload_gather(dside *side, dload_worker *ws, int n)
{
    size_t root_cap = 0, len_cap = 0, dev_cap = 0;
    for (int i = 0; i < n; i++) {
        dload_worker *w = &ws[i];
        side->rows += w->rows;
        for (size_t k = 0; k < w->root_count; k++) {
            size_t j = 0;
            while (j < side->root_count && strcmp(side->roots[j], w->roots[k]))
                j++;
            if (j < side->root_count) {
                free(w->roots[k]);
                continue;
            }
            if (grow_array((void **)&side->roots, &root_cap, j + 1, sizeof(char *)) ||
                grow_array((void **)&side->root_lens, &len_cap, j + 1, sizeof(size_t)))
                return -1;
            side->roots[side->root_count++] = w->roots[k];
        }
        w->root_count = 0;
        if (grow_array((void **)&side->devs, &dev_cap, side->dev_count + w->dev_count, 8))
            return -1;
        if (w->dev_count)
            memcpy(side->devs + side->dev_count, w->devs, w->dev_count * 8);
        side->dev_count += w->dev_count;
    }
    qsort(side->roots, side->root_count, sizeof(char *), dload_cmp_root);
    for (size_t i = 0; i < side->root_count; i++)
        side->root_lens[i] = strlen(side->roots[i]);
    qsort(side->devs, side->dev_count, 8, dload_cmp_dev);
    size_t k = 0;
    for (size_t i = 0; i < side->dev_count; i++)
        if (!k || side->devs[k - 1] != side->devs[i])
            side->devs[k++] = side->devs[i];
    side->dev_count = k;
    return 0;
}

static void dload_worker_free(dload_worker *w)
{
    for (size_t i = 0; i < w->root_count; i++)
        free(w->roots[i]);
    free(w->roots);
    free(w->root_lens);
    free(w->devs);
}

/* A worker's run: its share of the memory, but no more than
 * DLOAD_RUN_MAX, so that sorting stays in cache-sized pieces and a full
 * buffer is sorted and spilled while the other workers parse on. */
static size_t dload_run_size(const dload_opts *o)
{
    size_t share = o->memory / (size_t)o->threads;
    return share < DLOAD_RUN_MAX ? share : DLOAD_RUN_MAX;
}

size_t dload_buffers(const dload_opts *o)
{
    return dload_run_size(o) * (size_t)o->threads;
}

/* Start the workers, read every input, wait for them. */
static int dload_run(dload_ctx *c, dload_worker *ws)
{
    const dload_opts *o = c->o;
    int started = 0;
    size_t run = dload_run_size(o);
    for (int i = 0; i < o->threads; i++) {
        ws[i].ctx = c;
        if (dsort_buf_init(&ws[i].buf, &c->side->sort, run) != 0 ||
            pthread_create(&ws[i].tid, NULL, dload_worker_main, &ws[i]) != 0) {
            dsort_buf_discard(&ws[i].buf);
            dload_fail(c, DLOAD_FAILED, "cannot start the worker threads");
            break;
        }
        ws[i].started = 1;
        started++;
    }
    for (size_t i = 0; started == o->threads && i < c->side->input_count; i++)
        if (dload_file_read(c, c->side->inputs[i]) != 0)
            break;
    pthread_mutex_lock(&c->lock);
    c->done = 1;
    pthread_cond_broadcast(&c->more);
    pthread_mutex_unlock(&c->lock);
    for (int i = 0; i < o->threads; i++)
        if (ws[i].started)
            pthread_join(ws[i].tid, NULL);
    while (c->head) { /* left by a failure */
        dload_chunk *k = c->head;
        c->head = k->next;
        free(k->data);
        free(k);
    }
    return started;
}

int dload_side(dside *side, const char *arg, dsort_cmp cmp, dsort_key key, const dload_opts *o,
               char *err, size_t errlen)
{
    memset(side, 0, sizeof *side);
    side->arg = arg;
    if (dsort_init_key(&side->sort, cmp, key, o->tmpdir) != 0)
        return snprintf(err, errlen, "out of memory"), DLOAD_FAILED;
    dsort_set_hold(&side->sort, o->hold);
    int rc = dload_inputs(side, arg, err, errlen);
    if (rc)
        return rc;
    dload_ctx c = {.o = o, .side = side};
    dload_worker *ws = calloc((size_t)o->threads, sizeof *ws);
    if (!ws || pthread_mutex_init(&c.lock, NULL) || pthread_cond_init(&c.more, NULL) ||
        pthread_cond_init(&c.room, NULL)) {
        free(ws);
        return snprintf(err, errlen, "out of memory"), DLOAD_FAILED;
    }
    dload_run(&c, ws);
    if (!c.status && dload_gather(side, ws, o->threads) != 0)
        dload_fail(&c, DLOAD_FAILED, "out of memory");
    for (int i = 0; i < o->threads; i++)
        dload_worker_free(&ws[i]);
    free(ws);
    pthread_cond_destroy(&c.more);
    pthread_cond_destroy(&c.room);
    pthread_mutex_destroy(&c.lock);
    if (o->stop && *o->stop)
        return 128 + (int)*o->stop;
    if (c.status)
        snprintf(err, errlen, "%s", c.err);
    return c.status;
}

void dside_free(dside *side)
{
    for (size_t i = 0; i < side->input_count; i++)
        free(side->inputs[i]);
    free(side->inputs);
    for (size_t i = 0; i < side->root_count; i++)
        free(side->roots[i]);
    free(side->roots);
    free(side->root_lens);
    free(side->devs);
    dsort_free(&side->sort);
    memset(side, 0, sizeof *side);
}

int dside_share_dev(const dside *a, const dside *b)
{
    size_t i = 0, j = 0;
    while (i < a->dev_count && j < b->dev_count) {
        if (a->devs[i] == b->devs[j])
            return 1;
        if (a->devs[i] < b->devs[j])
            i++;
        else
            j++;
    }
    return 0;
}
