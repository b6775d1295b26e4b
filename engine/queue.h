/*
 * queue.h -- the work pool: one deque per worker, owners pop newest-first
 * (depth-first, so open directory fds stay few), idle workers steal
 * oldest-first from the others (the oldest items are the biggest subtrees).
 *
 * Termination is exact: `outstanding` counts items pushed and not yet
 * finished; an item that pushes children does so before it is finished, so
 * the count reaches zero only when the whole tree is done.
 */
#ifndef PWALK_ENGINE_QUEUE_H
#define PWALK_ENGINE_QUEUE_H

#include <stddef.h>

/* Opaque: the counters are C11 atomics, which C++ callers (the tests)
 * cannot see through. */
typedef struct wq_pool wq_pool;

/* A pool for worker_count workers; NULL if out of memory. */
wq_pool *wq_create(size_t worker_count);
void wq_free(wq_pool *pool);

/* Counters: items pushed and not yet done; items sitting in deques; items
 * taken from another worker's deque. */
size_t wq_outstanding(wq_pool *pool);
size_t wq_queued(wq_pool *pool);
size_t wq_steals(wq_pool *pool);


/* Only the first n workers exist (the others are not started yet): idle
 * workers look for work in their deques only.  Default: all of them. */
void wq_set_span(wq_pool *pool, size_t n);

/* Add an item to worker w's deque.  Returns 0, or -1 if out of memory. */
int wq_push(wq_pool *pool, size_t w, void *item);

/* Next item for worker w: its own newest, else another worker's oldest;
 * blocks while others still work.  NULL when everything is done or the pool
 * is stopping. */
void *wq_pop(wq_pool *pool, size_t w);

/* Non-blocking: the next item without waiting, or NULL. */
void *wq_try_pop(wq_pool *pool, size_t w);

/* Mark one popped item finished. */
void wq_done(wq_pool *pool);

/* Make every wq_pop() return NULL; items left are drained with
 * wq_drain(). */
void wq_stop(wq_pool *pool);

/* Keep the pool open while it is empty: wq_pop() waits instead of
 * returning NULL until the hold is released with wq_done().  A walk shared
 * with other processes holds its pool until they are all out of work. */
void wq_hold(wq_pool *pool);

/* Take the oldest item of the fullest deque, as a thief would (to hand it
 * to another process); NULL when nothing is queued.  The item stays
 * outstanding: the caller ends it with wq_done(). */
void *wq_take_oldest(wq_pool *pool);

/* Remove any item still queued (after the workers exited); returns it or
 * NULL when empty. */
void *wq_drain(wq_pool *pool);

#endif
