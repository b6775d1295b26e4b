/*
 * pipe.c -- merged records read ahead on a thread; see pipe.h.
 *
 * The thread copies records (with the sorter's 8-byte header, 8-aligned)
 * into batches of DPIPE_BATCH bytes; DPIPE_BATCHES batches go round
 * between it (filling) and the reader (emptying), so memory stays fixed.
 */
#define _GNU_SOURCE
#include "pipe.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DPIPE_BATCH (1024 * 1024)
#define DPIPE_BATCHES 4
#define DPIPE_HDR 8
#define DPIPE_ALIGN(n) (((n) + 7) & ~(size_t)7)

typedef struct dpipe_batch {
    char *buf;
    size_t used, cap, pos;
} dpipe_batch;

struct dpipe {
    dsort_merge *m;
    int threaded;
    pthread_t tid;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    dpipe_batch batches[DPIPE_BATCHES];
    int full[DPIPE_BATCHES];    /* ring of filled batches, in order */
    int free_[DPIPE_BATCHES];   /* batches the thread may fill */
    size_t full_head, full_n, free_n;
    int done, cancel, failed;
    dpipe_batch *cur;           /* the reader's batch */
    char err[512];
};

/* The thread: a free batch to fill, or NULL when told to stop. */
static dpipe_batch *dpipe_take_free(dpipe *p)
{
    pthread_mutex_lock(&p->lock);
    while (!p->free_n && !p->cancel)
        pthread_cond_wait(&p->cond, &p->lock);
    dpipe_batch *b = p->cancel ? NULL : &p->batches[p->free_[--p->free_n]];
    pthread_mutex_unlock(&p->lock);
    if (b)
        b->used = b->pos = 0;
    return b;
}

static void dpipe_put_full(dpipe *p, dpipe_batch *b)
{
    pthread_mutex_lock(&p->lock);
    p->full[(p->full_head + p->full_n++) % DPIPE_BATCHES] = (int)(b - p->batches);
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static void dpipe_finish(dpipe *p, int failed, const char *err)
{
    pthread_mutex_lock(&p->lock);
    p->done = 1;
    p->failed = failed;
    if (failed)
        snprintf(p->err, sizeof p->err, "%s", err);
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

/* Copy rec (with its header) into *b, handing full batches over. */
static int dpipe_copy(dpipe *p, dpipe_batch **b, const void *rec)
{
    const char *h = (const char *)rec - DPIPE_HDR;
    size_t need = DPIPE_HDR + DPIPE_ALIGN((size_t)*(const uint32_t *)h);
    if (*b && (*b)->used + need > (*b)->cap) {
        dpipe_put_full(p, *b);
        *b = NULL;
    }
    if (!*b && !(*b = dpipe_take_free(p)))
        return 1; /* stopped */
    if (need > (*b)->cap) { /* a record bigger than a batch: this batch grows */
        char *nb = realloc((*b)->buf, need);
        if (!nb)
            return -1;
        (*b)->buf = nb;
        (*b)->cap = need;
    }
    memcpy((*b)->buf + (*b)->used, h, need);
    (*b)->used += need;
    return 0;
}

static void *dpipe_main(void *arg)
{
    dpipe *p = arg;
    char err[512] = "";
    dpipe_batch *b = NULL;
    const void *rec;
    int rc = 0;
    while (rc == 0 && (rec = dsort_merge_next(p->m, err, sizeof err)))
        rc = dpipe_copy(p, &b, rec);
    if (rc < 0)
        snprintf(err, sizeof err, "out of memory");
    if (b && rc == 0)
        dpipe_put_full(p, b);
    dpipe_finish(p, rc < 0 || dsort_merge_failed(p->m), err);
    return NULL;
}

dpipe *dpipe_open(dsort *s, int threaded, char *err, size_t errlen)
{
    dpipe *p = calloc(1, sizeof *p);
    if (!p || !(p->m = dsort_merge_open(s, err, errlen))) {
        if (p && !*err)
            snprintf(err, errlen, "out of memory");
        free(p);
        return NULL;
    }
    p->threaded = threaded;
    if (!threaded)
        return p;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    for (int i = 0; i < DPIPE_BATCHES; i++) {
        if (!(p->batches[i].buf = malloc(DPIPE_BATCH))) {
            dpipe_close(p);
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        p->batches[i].cap = DPIPE_BATCH;
        p->free_[p->free_n++] = i;
    }
    if (pthread_create(&p->tid, NULL, dpipe_main, p) != 0) {
        dpipe_close(p);
        snprintf(err, errlen, "cannot start a merge thread");
        return NULL;
    }
    p->started = 1;
    return p;
}

/* The reader: its batch is used up; give it back, take the next. */
static dpipe_batch *dpipe_next_batch(dpipe *p)
{
    pthread_mutex_lock(&p->lock);
    if (p->cur) {
        p->free_[p->free_n++] = (int)(p->cur - p->batches);
        pthread_cond_broadcast(&p->cond);
    }
    while (!p->full_n && !p->done)
        pthread_cond_wait(&p->cond, &p->lock);
    dpipe_batch *b = NULL;
    if (p->full_n) {
        b = &p->batches[p->full[p->full_head]];
        p->full_head = (p->full_head + 1) % DPIPE_BATCHES;
        p->full_n--;
    }
    pthread_mutex_unlock(&p->lock);
    return b;
}

const void *dpipe_next(dpipe *p, char *err, size_t errlen)
{
    if (!p->threaded)
        return dsort_merge_next(p->m, err, errlen);
    if (!p->cur || p->cur->pos >= p->cur->used) {
        p->cur = dpipe_next_batch(p);
        if (!p->cur) {
            if (p->failed)
                snprintf(err, errlen, "%s", p->err);
            return NULL;
        }
    }
    const char *h = p->cur->buf + p->cur->pos;
    p->cur->pos += DPIPE_HDR + DPIPE_ALIGN((size_t)*(const uint32_t *)h);
    return h + DPIPE_HDR;
}

int dpipe_failed(const dpipe *p)
{
    if (!p->threaded)
        return dsort_merge_failed(p->m);
    dpipe *q = (dpipe *)p; /* the lock only: the answer does not change p */
    pthread_mutex_lock(&q->lock);
    int failed = q->done && q->failed;
    pthread_mutex_unlock(&q->lock);
    return failed;
}

void dpipe_close(dpipe *p)
{
    if (!p)
        return;
    if (p->threaded) {
        pthread_mutex_lock(&p->lock);
        p->cancel = 1;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        if (p->started)
            pthread_join(p->tid, NULL);
        for (int i = 0; i < DPIPE_BATCHES; i++)
            free(p->batches[i].buf);
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
    }
    dsort_merge_close(p->m);
    free(p);
}
