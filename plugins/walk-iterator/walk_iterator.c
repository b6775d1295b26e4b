/*
 * walk-iterator -- hands a scan's entries to a consumer in the same process
 * (pwalk/walk_iterator.h: the consumer's side; Python's pwalk.scan()).
 *
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * Each worker copies its entries into a batch of its own (no lock per
 * entry); a full batch becomes one block in a bounded FIFO, one lock per
 * block.  A worker whose block does not fit waits for the consumer --
 * that wait is the backpressure -- and polls host->stop_requested() while
 * it does, so a stopped scan never waits for a consumer that stopped
 * reading.  The consumer takes one block at a time; it stays counted
 * until the consumer's next call, so what a slow consumer holds counts
 * too.
 *
 * The queue lives in the instance, and the consumer calls functions of
 * this .so: destroy() therefore asks the consumer's release() to wait
 * until it has returned from its last call (END, or done()) before freeing
 * the queue and letting the engine unload the plugin.  A flag set inside
 * next() or done() would not do: the consumer still runs this .so's code
 * on the way out of that call.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, pthread_cond_timedwait */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/csvrow.h"
#include "pwalk/plugin.h"
#include "pwalk/walk_iterator.h"

#define WI_WAIT_NS (50 * 1000 * 1000L) /* a waiting worker polls the stop flag */

/* One block: count entries and their paths, one allocation. */
typedef struct wi_block {
    struct wi_block *next;
    size_t count;
    size_t bytes;               /* the whole allocation, for the byte bound */
    pwalk_iter_entry entries[]; /* then the paths' bytes                    */
} wi_block;

struct pwalk_iter {
    pthread_mutex_t lock;
    pthread_cond_t readable;    /* consumer: a block, or the end            */
    pthread_cond_t writable;    /* workers: room, or the consumer left      */
    wi_block *head, *tail;
    wi_block *held;             /* the block the consumer reads now         */
    size_t entries, bytes;      /* queued + held                            */
    size_t capacity, max_bytes;
    int ended;                  /* no block will come any more              */
    int gone;                   /* the consumer took END or called done()   */
    pwalk_iter_stats st;
};

typedef struct wi_instance {
    const pwalk_host *host;
    pwalk_host_ctx *ctx;
    const pwalk_iter_consumer *consumer; /* set once ready() was called:
                                            destroy() calls its release() */
    size_t batch;               /* entries per block                        */
    size_t batch_bytes;         /* a block's path bytes before it is flushed */
    struct pwalk_iter q;
} wi_instance;

/* A worker's batch being filled: entries whose path is an offset into
 * bytes until the flush. */
typedef struct wi_tstate {
    pwalk_iter_entry *ents;
    size_t *offs;
    size_t count;
    char *bytes;
    size_t used, cap;
} wi_tstate;

static const pwalk_option_spec wi_options[] = {
    {"capacity", PWALK_OPT_INT, 0, "65536", "1..16777216",
     "entries the queue holds before the workers wait for the consumer"},
    {"max_kib", PWALK_OPT_INT, 0, "65536", "64..16777216",
     "KiB of entries (paths included) the queue holds before the workers wait"},
    {"batch", PWALK_OPT_INT, 0, "256", "1..65536",
     "entries a worker collects before queueing them (at most capacity)"},
};

/* ---- the queue --------------------------------------------------------------- */

static void wi_deadline(struct timespec *t, long ns)
{
    clock_gettime(CLOCK_REALTIME, t);
    t->tv_sec += ns / 1000000000L;
    t->tv_nsec += ns % 1000000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

static void wi_free_blocks(wi_block *b)
{
    while (b) {
        wi_block *next = b->next;
        free(b);
        b = next;
    }
}

/* Room for b: both bounds, or an empty queue (so a block over the byte
 * bound still gets through; batch <= capacity keeps the entry bound). */
static int wi_fits(const struct pwalk_iter *q, const wi_block *b)
{
    return q->entries == 0 ||
           (q->entries + b->count <= q->capacity && q->bytes + b->bytes <= q->max_bytes);
}

/* Queue b, waiting for room.  PWALK_OK, or PWALK_STOP when the scan is
 * stopping or the consumer left (b is freed then). */
static int wi_push(wi_instance *in, wi_block *b)
{
    struct pwalk_iter *q = &in->q;
    int waited = 0;
    pthread_mutex_lock(&q->lock);
    while (!q->gone && !wi_fits(q, b)) {
        if (in->host->stop_requested(in->ctx))
            break;
        if (!waited++)
            q->st.waits++;
        struct timespec t;
        wi_deadline(&t, WI_WAIT_NS);
        pthread_cond_timedwait(&q->writable, &q->lock, &t);
    }
    if (q->gone || !wi_fits(q, b)) {
        pthread_mutex_unlock(&q->lock);
        free(b);
        return PWALK_STOP;
    }
    b->next = NULL;
    if (q->tail)
        q->tail->next = b;
    else
        q->head = b;
    q->tail = b;
    q->entries += b->count;
    q->bytes += b->bytes;
    q->st.entries += b->count;
    if (q->entries > q->st.high_water)
        q->st.high_water = q->entries;
    if (q->bytes > q->st.high_water_bytes)
        q->st.high_water_bytes = q->bytes;
    pthread_cond_signal(&q->readable);
    pthread_mutex_unlock(&q->lock);
    return PWALK_OK;
}

/* The consumer's block is released: under the lock. */
static wi_block *wi_unhold(struct pwalk_iter *q)
{
    wi_block *b = q->held;
    if (b) {
        q->held = NULL;
        q->entries -= b->count;
        q->bytes -= b->bytes;
        pthread_cond_broadcast(&q->writable);
    }
    return b;
}

static int wi_next(pwalk_iter *q, const pwalk_iter_entry **entries, size_t *count,
                   int timeout_ms)
{
    struct timespec t;
    if (timeout_ms > 0)
        wi_deadline(&t, timeout_ms * 1000000L);
    pthread_mutex_lock(&q->lock);
    wi_block *old = wi_unhold(q);
    int rc = PWALK_ITER_TIMEOUT;
    while (!q->gone && !q->head && !q->ended && timeout_ms != 0) {
        if (timeout_ms < 0)
            pthread_cond_wait(&q->readable, &q->lock);
        else if (pthread_cond_timedwait(&q->readable, &q->lock, &t) == ETIMEDOUT)
            break;
    }
    if (q->head) {
        wi_block *b = q->head;
        q->head = b->next;
        if (!q->head)
            q->tail = NULL;
        q->held = b;
        q->st.taken += b->count;
        *entries = b->entries;
        *count = b->count;
        rc = PWALK_ITER_ENTRIES;
    } else if (q->ended || q->gone) {
        q->gone = 1;
        rc = PWALK_ITER_END;
    }
    pthread_mutex_unlock(&q->lock);
    free(old);
    if (rc != PWALK_ITER_ENTRIES) {
        *entries = NULL;
        *count = 0;
    }
    return rc;
}

static void wi_done(pwalk_iter *q)
{
    pthread_mutex_lock(&q->lock);
    wi_block *old = wi_unhold(q);
    wi_block *queued = q->head;
    for (wi_block *b = queued; b; b = b->next) {
        q->entries -= b->count;
        q->bytes -= b->bytes;
        q->st.dropped += b->count;
    }
    q->head = q->tail = NULL;
    q->gone = 1;
    pthread_cond_broadcast(&q->writable);
    pthread_mutex_unlock(&q->lock);
    free(old);
    wi_free_blocks(queued);
}

static void wi_stats(pwalk_iter *q, pwalk_iter_stats *out)
{
    pthread_mutex_lock(&q->lock);
    *out = q->st;
    pthread_mutex_unlock(&q->lock);
}

static const pwalk_iter_ops wi_ops = {
    sizeof(pwalk_iter_ops), PWALK_ITER_VERSION, wi_next, wi_done, wi_stats,
};

/* No block will come: wake the consumer. */
static void wi_end(struct pwalk_iter *q)
{
    pthread_mutex_lock(&q->lock);
    q->ended = 1;
    pthread_cond_broadcast(&q->readable);
    pthread_mutex_unlock(&q->lock);
}

/* ---- a worker's batch ---------------------------------------------------------- */

static int wi_reserve(wi_tstate *ts, size_t more)
{
    if (ts->used + more <= ts->cap)
        return 0;
    size_t cap = ts->cap ? ts->cap : 4096;
    while (cap < ts->used + more)
        cap *= 2;
    char *g = realloc(ts->bytes, cap);
    if (!g)
        return -1;
    ts->bytes = g;
    ts->cap = cap;
    return 0;
}

/* Copy the batch into one block and queue it. */
static int wi_flush(wi_instance *in, wi_tstate *ts)
{
    if (ts->count == 0)
        return PWALK_OK;
    size_t head = sizeof(wi_block) + ts->count * sizeof(pwalk_iter_entry);
    wi_block *b = malloc(head + ts->used);
    if (!b) {
        in->host->set_error(in->ctx, "out of memory queueing %zu entries", ts->count);
        return PWALK_ERR_NOMEM;
    }
    b->count = ts->count;
    b->bytes = head + ts->used;
    char *bytes = (char *)b + head;
    memcpy(bytes, ts->bytes, ts->used);
    memcpy(b->entries, ts->ents, ts->count * sizeof *ts->ents);
    for (size_t i = 0; i < ts->count; i++)
        b->entries[i].path = bytes + ts->offs[i];
    ts->count = 0;
    ts->used = 0;
    return wi_push(in, b);
}

static void wi_copy(pwalk_iter_entry *o, const pwalk_entry *e)
{
    o->path = NULL;
    o->path_len = e->path_len;
    o->name_offset = e->name_offset;
    const char *name = e->path + e->name_offset;
    const char *ext;
    size_t ext_len;
    csvrow_extension(name, e->path_len - e->name_offset,
                     S_ISDIR(e->mode) || (e->flags & PWALK_ENTRY_ROOT), &ext,
                     &ext_len);
    o->ext_offset = ext_len ? (uint32_t)(ext - e->path) : e->path_len;
    o->ext_len = (uint32_t)ext_len;
    o->flags = e->flags;
    o->depth = e->depth;
    o->ino = e->ino;
    o->parent_ino = e->parent_ino;
    o->uid = e->uid;
    o->gid = e->gid;
    o->mode = e->mode;
    o->reserved0 = 0;
    o->size = e->size;
    o->dev = e->dev;
    o->blocks = e->blocks;
    o->nlink = e->nlink;
    o->atime_sec = e->atime_sec;
    o->mtime_sec = e->mtime_sec;
    o->ctime_sec = e->ctime_sec;
    o->atime_nsec = e->atime_nsec;
    o->mtime_nsec = e->mtime_nsec;
    o->ctime_nsec = e->ctime_nsec;
    o->reserved1 = 0;
    o->fcount = e->fcount;
    o->dirsum = e->dirsum;
}

static int wi_consume(void *instance, void *tstate, const pwalk_entry *entries, size_t count)
{
    wi_instance *in = instance;
    wi_tstate *ts = tstate;
    for (size_t i = 0; i < count; i++) {
        const pwalk_entry *e = PWALK_ENTRY_AT(entries, i);
        if (wi_reserve(ts, (size_t)e->path_len + 1) != 0) {
            in->host->set_error(in->ctx, "out of memory copying a %u-byte path",
                                (unsigned)e->path_len);
            return PWALK_ERR_NOMEM;
        }
        ts->offs[ts->count] = ts->used;
        memcpy(ts->bytes + ts->used, e->path, e->path_len);
        ts->bytes[ts->used + e->path_len] = '\0';
        ts->used += (size_t)e->path_len + 1;
        wi_copy(&ts->ents[ts->count++], e);
        if (ts->count == in->batch || ts->used >= in->batch_bytes) {
            int rc = wi_flush(in, ts);
            if (rc != PWALK_OK)
                return rc;
        }
    }
    return PWALK_OK;
}

/* ---- the lifecycle ------------------------------------------------------------- */

static int wi_attached_consumer(const pwalk_host *host, pwalk_host_ctx *ctx,
                                const pwalk_iter_consumer **out)
{
    const pwalk_iter_consumer *c =
        PWALK_HOST_HAS(host, attachment) && host->attachment ? host->attachment(ctx) : NULL;
    if (!c) {
        host->set_error(ctx, "no consumer attached: walk-iterator hands the entries to the "
                             "program running the scan (pwalk_scan_attach(), Python's "
                             "pwalk.scan()), it writes no file");
        return PWALK_ERR_CONFIG;
    }
    if (c->struct_size < sizeof *c || c->version != PWALK_ITER_VERSION || !c->ready ||
        !c->release) {
        host->set_error(ctx, "the attached consumer is of walk_iterator.h version %u, this "
                             "plugin speaks version %u",
                        (unsigned)c->version, (unsigned)PWALK_ITER_VERSION);
        return PWALK_ERR_CONFIG;
    }
    *out = c;
    return PWALK_OK;
}

static int wi_create(const pwalk_host *host, pwalk_host_ctx *ctx, const pwalk_options *opts,
                     void **instance)
{
    const pwalk_iter_consumer *c;
    int rc = wi_attached_consumer(host, ctx, &c);
    if (rc != PWALK_OK)
        return rc;
    int64_t capacity, max_kib, batch;
    if (host->opt_int(opts, "capacity", &capacity) || host->opt_int(opts, "max_kib", &max_kib) ||
        host->opt_int(opts, "batch", &batch)) {
        host->set_error(ctx, "options capacity, max_kib and batch must be integers");
        return PWALK_ERR_CONFIG;
    }
    wi_instance *in = calloc(1, sizeof *in);
    if (!in)
        return PWALK_ERR_NOMEM;
    in->host = host;
    in->ctx = ctx;
    in->batch = (size_t)(batch < capacity ? batch : capacity);
    in->q.capacity = (size_t)capacity;
    in->q.max_bytes = (size_t)max_kib * 1024;
    /* a block's paths stay well under the byte bound, so several fit */
    in->batch_bytes = in->q.max_bytes / 8;
    in->q.st.capacity = (uint64_t)capacity;
    pthread_mutex_init(&in->q.lock, NULL);
    pthread_cond_init(&in->q.readable, NULL);
    pthread_cond_init(&in->q.writable, NULL);
    *instance = in;
    /* from here destroy() waits for the consumer to be through */
    in->consumer = c;
    c->ready(c->ctx, &in->q, &wi_ops);
    return PWALK_OK;
}

static int wi_thread_open(void *instance, uint32_t worker, void **tstate)
{
    (void)worker;
    wi_instance *in = instance;
    wi_tstate *ts = calloc(1, sizeof *ts);
    if (ts) {
        ts->ents = malloc(in->batch * sizeof *ts->ents);
        ts->offs = malloc(in->batch * sizeof *ts->offs);
    }
    if (!ts || !ts->ents || !ts->offs) {
        if (ts) {
            free(ts->ents);
            free(ts->offs);
        }
        free(ts);
        in->host->set_error(in->ctx, "out of memory for a worker's batch");
        return PWALK_ERR_NOMEM;
    }
    *tstate = ts;
    return PWALK_OK;
}

/* The worker's last batch goes to the queue (main thread, after the walk;
 * it may wait for the consumer like a worker does). */
static int wi_thread_close(void *instance, void *tstate)
{
    wi_instance *in = instance;
    wi_tstate *ts = tstate;
    int rc = wi_flush(in, ts);
    free(ts->ents);
    free(ts->offs);
    free(ts->bytes);
    free(ts);
    return rc == PWALK_STOP ? PWALK_OK : rc;
}

/* Nothing to commit: the consumer has had every entry, or gets the rest
 * before END.  The scan's status is pwalk_scan_run()'s to tell. */
static int wi_finish(void *instance, int32_t scan_status)
{
    (void)scan_status;
    if (instance) /* the engine finishes a sink whose create() failed too */
        wi_end(&((wi_instance *)instance)->q);
    return PWALK_OK;
}

static void wi_destroy(void *instance)
{
    wi_instance *in = instance;
    if (!in)
        return;
    struct pwalk_iter *q = &in->q;
    wi_end(q);
    if (in->consumer) /* blocks until the consumer is out for good */
        in->consumer->release(in->consumer->ctx);
    free(q->held);
    wi_free_blocks(q->head);
    pthread_cond_destroy(&q->writable);
    pthread_cond_destroy(&q->readable);
    pthread_mutex_destroy(&q->lock);
    free(in);
}

static const pwalk_plugin wi_plugin = {
    .struct_size = sizeof(pwalk_plugin),
    .abi_major = PWALK_ABI_MAJOR,
    .abi_minor = PWALK_ABI_MINOR,
    .flags = 0,
    .threading = PWALK_THREADING_PER_WORKER,
    .option_count = sizeof wi_options / sizeof wi_options[0],
    .name = "walk-iterator",
    .version = "1.0",
    .description = "every entry to a consumer in the same process, through a bounded queue "
                   "(pwalk/walk_iterator.h; Python's pwalk.scan())",
    .options = wi_options,
    .create = wi_create,
    .thread_open = wi_thread_open,
    .consume = wi_consume,
    .thread_close = wi_thread_close,
    .finish = wi_finish,
    .destroy = wi_destroy,
};

PWALK_PLUGIN_EXPORT const pwalk_plugin *pwalk_plugin_entry_v1(void);
PWALK_PLUGIN_EXPORT const pwalk_plugin *pwalk_plugin_entry_v1(void)
{
    return &wi_plugin;
}
