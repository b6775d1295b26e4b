/*
 * queue.c -- per-worker deques with stealing; see queue.h.
 *
 * A mutex per deque is enough: items are directories or chunks of ~1000
 * names, so a worker touches its deque a few thousand times a second, far
 * from where a lock-free deque would pay for its subtlety.
 */
#include "queue.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

typedef struct wq_deque {
    pthread_mutex_t lock;
    void **items;       /* ring buffer */
    size_t head;        /* oldest      */
    size_t count;
    size_t capacity;
} wq_deque;

struct wq_pool {
    size_t worker_count;
    wq_deque *deques;
    pthread_mutex_t idle_lock;
    pthread_cond_t idle_cond;
    atomic_size_t queued;       /* items sitting in deques          */
    atomic_size_t outstanding;  /* pushed and not yet wq_done()     */
    atomic_size_t idle;         /* workers waiting for work         */
    atomic_int stopping;
    atomic_size_t steals;       /* items taken from another worker  */
    atomic_size_t span;         /* deques of started workers        */
};


static int deque_grow(wq_deque *d)
{
    size_t cap = d->capacity ? d->capacity * 2 : 64;
    void **items = malloc(cap * sizeof *items);
    if (!items)
        return -1;
    for (size_t i = 0; i < d->count; i++)
        items[i] = d->items[(d->head + i) % d->capacity];
    free(d->items);
    d->items = items;
    d->head = 0;
    d->capacity = cap;
    return 0;
}

static int wq_init(wq_pool *pool, size_t worker_count)
{
    pool->worker_count = worker_count;
    pool->deques = calloc(worker_count, sizeof *pool->deques);
    if (!pool->deques)
        return -1;
    for (size_t i = 0; i < worker_count; i++)
        pthread_mutex_init(&pool->deques[i].lock, NULL);
    pthread_mutex_init(&pool->idle_lock, NULL);
    pthread_cond_init(&pool->idle_cond, NULL);
    atomic_init(&pool->queued, 0);
    atomic_init(&pool->outstanding, 0);
    atomic_init(&pool->idle, 0);
    atomic_init(&pool->stopping, 0);
    atomic_init(&pool->steals, 0);
    atomic_init(&pool->span, worker_count);
    return 0;
}

static void wq_destroy(wq_pool *pool)
{
    for (size_t i = 0; i < pool->worker_count; i++) {
        pthread_mutex_destroy(&pool->deques[i].lock);
        free(pool->deques[i].items);
    }
    free(pool->deques);
    pool->deques = NULL;
    pthread_mutex_destroy(&pool->idle_lock);
    pthread_cond_destroy(&pool->idle_cond);
}

int wq_push(wq_pool *pool, size_t w, void *item)
{
    wq_deque *d = &pool->deques[w];
    pthread_mutex_lock(&d->lock);
    if (d->count == d->capacity && deque_grow(d) != 0) {
        pthread_mutex_unlock(&d->lock);
        return -1;
    }
    d->items[(d->head + d->count) % d->capacity] = item;
    d->count++;
    pthread_mutex_unlock(&d->lock);

    atomic_fetch_add(&pool->outstanding, 1);
    /* queued is raised before idle is read: a worker about to sleep either
     * sees the item or is seen here and woken (both are seq_cst). */
    atomic_fetch_add(&pool->queued, 1);
    if (atomic_load(&pool->idle) > 0) {
        pthread_mutex_lock(&pool->idle_lock);
        pthread_cond_signal(&pool->idle_cond);
        pthread_mutex_unlock(&pool->idle_lock);
    }
    return 0;
}

static void *deque_take_newest(wq_deque *d)
{
    void *item = NULL;
    pthread_mutex_lock(&d->lock);
    if (d->count) {
        d->count--;
        item = d->items[(d->head + d->count) % d->capacity];
    }
    pthread_mutex_unlock(&d->lock);
    return item;
}

static void *deque_take_oldest(wq_deque *d)
{
    void *item = NULL;
    pthread_mutex_lock(&d->lock);
    if (d->count) {
        item = d->items[d->head];
        d->head = (d->head + 1) % d->capacity;
        d->count--;
    }
    pthread_mutex_unlock(&d->lock);
    return item;
}

void *wq_try_pop(wq_pool *pool, size_t w)
{
    if (atomic_load(&pool->stopping))
        return NULL;
    void *item = deque_take_newest(&pool->deques[w]);
    size_t span = atomic_load_explicit(&pool->span, memory_order_relaxed);
    for (size_t i = 1; !item && i < span; i++) {
        if (atomic_load(&pool->queued) == 0)
            break;
        item = deque_take_oldest(&pool->deques[(w + i) % span]);
        if (item)
            atomic_fetch_add_explicit(&pool->steals, 1, memory_order_relaxed);
    }
    if (item)
        atomic_fetch_sub(&pool->queued, 1);
    return item;
}

void *wq_pop(wq_pool *pool, size_t w)
{
    for (;;) {
        void *item = wq_try_pop(pool, w);
        if (item)
            return item;
        pthread_mutex_lock(&pool->idle_lock);
        atomic_fetch_add(&pool->idle, 1);
        while (!atomic_load(&pool->stopping) && atomic_load(&pool->queued) == 0 &&
               atomic_load(&pool->outstanding) > 0)
            pthread_cond_wait(&pool->idle_cond, &pool->idle_lock);
        atomic_fetch_sub(&pool->idle, 1);
        int finished = atomic_load(&pool->stopping) || atomic_load(&pool->outstanding) == 0;
        pthread_mutex_unlock(&pool->idle_lock);
        if (finished && atomic_load(&pool->queued) == 0)
            return NULL;
        if (atomic_load(&pool->stopping))
            return NULL;
    }
}

void wq_done(wq_pool *pool)
{
    if (atomic_fetch_sub(&pool->outstanding, 1) == 1) {
        pthread_mutex_lock(&pool->idle_lock);
        pthread_cond_broadcast(&pool->idle_cond);
        pthread_mutex_unlock(&pool->idle_lock);
    }
}

void wq_stop(wq_pool *pool)
{
    atomic_store(&pool->stopping, 1);
    pthread_mutex_lock(&pool->idle_lock);
    pthread_cond_broadcast(&pool->idle_cond);
    pthread_mutex_unlock(&pool->idle_lock);
}

void wq_hold(wq_pool *pool)
{
    atomic_fetch_add(&pool->outstanding, 1);
}

void *wq_take_oldest(wq_pool *pool)
{
    size_t best = 0, best_count = 0;
    for (size_t i = 0; i < pool->worker_count; i++) {
        /* a racy read is fine: it only picks which deque to try */
        pthread_mutex_lock(&pool->deques[i].lock);
        size_t c = pool->deques[i].count;
        pthread_mutex_unlock(&pool->deques[i].lock);
        if (c > best_count) {
            best = i;
            best_count = c;
        }
    }
    if (!best_count)
        return NULL;
    void *item = deque_take_oldest(&pool->deques[best]);
    if (item)
        atomic_fetch_sub(&pool->queued, 1);
    return item;
}

void *wq_drain(wq_pool *pool)
{
    for (size_t i = 0; i < pool->worker_count; i++) {
        void *item = deque_take_oldest(&pool->deques[i]);
        if (item) {
            atomic_fetch_sub(&pool->queued, 1);
            return item;
        }
    }
    return NULL;
}

wq_pool *wq_create(size_t worker_count)
{
    wq_pool *pool = calloc(1, sizeof *pool);
    if (pool && wq_init(pool, worker_count) != 0) {
        free(pool);
        return NULL;
    }
    return pool;
}

void wq_free(wq_pool *pool)
{
    if (!pool)
        return;
    wq_destroy(pool);
    free(pool);
}

void wq_set_span(wq_pool *pool, size_t n)
{
    if (n >= 1 && n <= pool->worker_count)
        atomic_store(&pool->span, n);
}

size_t wq_outstanding(wq_pool *pool) { return atomic_load(&pool->outstanding); }
size_t wq_queued(wq_pool *pool) { return atomic_load(&pool->queued); }
size_t wq_steals(wq_pool *pool) { return atomic_load(&pool->steals); }
