/*
 * pwalk/walk_iterator.h -- a scan's entries in your own process: the
 * consumer's side of the walk-iterator plugin.
 *
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * A program that wants every entry of a scan as a struct (not a file to
 * parse) adds a sink of plugin "walk-iterator" to its scan and attaches a
 * pwalk_iter_consumer to that sink before running it:
 *
 *     pwalk_iter_consumer c = {sizeof c, PWALK_ITER_VERSION, me, my_ready, my_release};
 *     pwalk_scan_add_sink(s, "entries", "walk-iterator", err, sizeof err);
 *     pwalk_scan_attach(s, "entries", &c, err, sizeof err);  (pwalk/sys/attach.h)
 *     pwalk_scan_run(s);             on a thread of its own: see below
 *
 * The plugin's create() calls c.ready(c.ctx, it, ops) once, on the thread
 * running the scan, before the walk.  From then on the consumer (any one
 * thread) takes the entries with ops->next(it, ...) until it returns
 * PWALK_ITER_END, or leaves early with ops->done(it).
 *
 * The queue.  The walk's worker threads copy each entry (all the report's
 * columns, the path's bytes) into a bounded queue.  When it holds
 * `capacity` entries (a sink option, default 65536) or `max_kib` KiB of
 * them, the workers WAIT: the scan runs as fast as the consumer reads, and
 * memory stays bounded however slow that is (at most capacity entries,
 * the batch the consumer holds included, plus one unflushed batch of
 * `batch` entries per worker).  A waiting worker still gives up when the
 * scan is stopped (pwalk_scan_stop(), another sink failing), so a stopped
 * scan never hangs on a consumer that stopped reading.
 *
 * Threads and ownership.
 *  - The plugin's destroy() (the scan's thread, at the end of
 *    pwalk_scan_run()) calls c.release(c.ctx) and frees the queue when it
 *    returns; the engine may unload the plugin right after.  release()
 *    must therefore block until the consumer has RETURNED from its last
 *    call into it/ops -- the next() that gave END, or done() -- and will
 *    make no other (a flag the consumer sets in its own memory after that
 *    call, and a wait for it).  So pwalk_scan_run() does not return before
 *    the consumer is through: read on another thread than the one running
 *    the scan (the usual shape: run the scan on a thread you start,
 *    consume on yours), and once ready() was called always end with END or
 *    done().
 *  - Entries returned by next() are owned by the queue and valid until the
 *    consumer's next call of next() or done(); copy what you keep.  They
 *    count against `capacity` until then.
 *  - After END or done(), it and ops must not be used again.
 *  - ready() must not block: store it and ops, wake your consumer,
 *    return.  A consumer that is gone already (it closed before the scan
 *    reached create()) calls ops->done(it) right there (and is then
 *    through, for release()).
 *  - Entries arrive in no particular order (parallel traversal), a
 *    directory's own entry after the entries read from it, as in the
 *    report.  An entry the walk could not lstat has no entry: it reaches
 *    the scan's error callback (pwalk.h) instead.
 *
 * End.  next() returns END once the walk is over and every entry was
 * taken, whether the scan completed or not: pwalk_scan_run()'s status (on
 * the scan's thread) says which.  A consumer that calls done() early makes
 * the plugin stop the scan (PWALK_STOP): pwalk_scan_run() then returns
 * PWALK_FAILED, "scan stopped by a sink", and the scan's other sinks, if
 * any, publish nothing.
 *
 * Versions.  The plugin refuses (configuration error, exit status 2) a
 * consumer whose version is not PWALK_ITER_VERSION; a change to these
 * structs changes that number.  Without a consumer attached (pwalk-engine
 * -c with a walk-iterator sink), the plugin refuses to start, naming the
 * sink.
 */
#ifndef PWALK_WALK_ITERATOR_H
#define PWALK_WALK_ITERATOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PWALK_ITER_VERSION 1

/* One entry: one row of the report (plugins/csv/FORMAT.md), not escaped. */
typedef struct pwalk_iter_entry {
    const char *path;       /* path_len bytes, NUL-terminated, any byte but
                               NUL: the root as given, then /name per level */
    uint32_t path_len;
    uint32_t name_offset;   /* path + name_offset: the entry's own name    */
    uint32_t ext_offset;    /* path + ext_offset: fileExtension (ext_len
                               bytes; the report's rule, 0 bytes for
                               directories and roots)                      */
    uint32_t ext_len;
    uint32_t flags;         /* PWALK_ENTRY_ROOT, PWALK_ENTRY_UNREADABLE
                               (pwalk/plugin.h's values)                    */
    int32_t depth;          /* directory-depth: a root -1, its entries 0   */
    uint64_t ino;           /* inode                                       */
    uint64_t parent_ino;    /* parent-inode (0 for a root)                 */
    uint32_t uid;
    uint32_t gid;
    uint32_t mode;          /* st_mode, type bits included                 */
    uint32_t reserved0;
    int64_t size;           /* st_size                                     */
    uint64_t dev;           /* st_dev as the kernel's dev_t number         */
    int64_t blocks;         /* st_blocks (512-byte units)                  */
    uint64_t nlink;
    int64_t atime_sec;
    int64_t mtime_sec;
    int64_t ctime_sec;
    uint32_t atime_nsec;
    uint32_t mtime_nsec;
    uint32_t ctime_nsec;
    uint32_t reserved1;
    int64_t fcount;         /* pw_fcount: directories' entries read, else -1 */
    int64_t dirsum;         /* pw_dirsum: directories' sum of st_size, else 0 */
} pwalk_iter_entry;

/* The queue of one walk-iterator sink; owned by the plugin. */
typedef struct pwalk_iter pwalk_iter;

/* next()'s results */
#define PWALK_ITER_ENTRIES 0    /* *entries[0 .. *count) (count >= 1)       */
#define PWALK_ITER_TIMEOUT 1    /* nothing within timeout_ms; call again    */
#define PWALK_ITER_END 2        /* the walk is over and everything was taken */

typedef struct pwalk_iter_stats {
    uint64_t entries;       /* entries queued so far                      */
    uint64_t taken;         /* entries handed to the consumer             */
    uint64_t dropped;       /* entries queued but never taken (done())    */
    uint64_t waits;         /* times a worker waited for room             */
    uint64_t capacity;      /* the capacity option                        */
    uint64_t high_water;    /* most entries held at once (queue + the
                               consumer's batch): never above capacity    */
    uint64_t high_water_bytes;  /* most bytes held at once                */
} pwalk_iter_stats;

typedef struct pwalk_iter_ops {
    uint32_t struct_size;   /* sizeof(pwalk_iter_ops) of the plugin       */
    uint32_t version;       /* PWALK_ITER_VERSION                         */
    /* The next batch of entries, waiting up to timeout_ms for one (-1:
     * until there is one or the end).  Releases the previous batch.
     * Returns PWALK_ITER_ENTRIES, _TIMEOUT or _END.  Consumer thread. */
    int (*next)(pwalk_iter *it, const pwalk_iter_entry **entries, size_t *count,
                int timeout_ms);
    /* The consumer leaves early: queued entries are dropped, waiting
     * workers return and the scan ends (status 3, see End).  Consumer thread;
     * no call on it after this. */
    void (*done)(pwalk_iter *it);
    /* Counters so far; any thread while it is valid. */
    void (*stats)(pwalk_iter *it, pwalk_iter_stats *out);
} pwalk_iter_ops;

/* What the embedder attaches to the sink (its memory; it must stay valid
 * until pwalk_scan_run() returned). */
typedef struct pwalk_iter_consumer {
    uint32_t struct_size;   /* sizeof(pwalk_iter_consumer)                */
    uint32_t version;       /* PWALK_ITER_VERSION                         */
    void *ctx;              /* passed to ready() and release()            */
    /* From create(), the scan's thread: the queue is ready. */
    void (*ready)(void *ctx, pwalk_iter *it, const pwalk_iter_ops *ops);
    /* From destroy(), the scan's thread, only after ready(): return once
     * the consumer is out of the plugin's code for good (see above). */
    void (*release)(void *ctx);
} pwalk_iter_consumer;

#ifdef __cplusplus
}
#endif

#endif
