/*
 * walk.h -- the parallel tree walk.  Workers read directories relative to
 * their parent's fd (openat + getdents64 + fstatat, never following a
 * symlink), so path length is unlimited; big directories are cut into
 * chunks of names that any worker can stat.  Every entry read from a
 * directory becomes exactly one row, one error record, or one filtered
 * count.
 */
#ifndef PWALK_ENGINE_WALK_H
#define PWALK_ENGINE_WALK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "filter.h"
#include "pwalk/plugin.h"

struct walk_stats;
struct walk_remote;
struct walk_run;

/* A file by identity (st_dev, st_ino), as fstat reports it. */
typedef struct walk_file_id {
    uint64_t dev;
    uint64_t ino;
} walk_file_id;

typedef struct walk_options {
    char *const *roots;
    size_t root_count;
    size_t threads;             /* >= 1 */
    int one_file_system;
    filter_rules filters;
    size_t chunk_names;         /* names per stat chunk; 0 = default */
    /* Called about once a second on the calling thread while the walk
     * runs (optional). */
    void (*progress)(void *ctx, const struct walk_stats *now, uint64_t queued);
    void *progress_ctx;
    /* Set for a walk shared with other processes (pwalk-mpi); NULL for an
     * ordinary walk.  See "Walks shared between processes" below. */
    const struct walk_remote *remote;
    /* Files the scan itself writes (reports, the error file, a change
     * log): a non-directory with one of these identities is left out
     * (filtered, FILTER_OWN_OUTPUT).  Checked only when own_count != 0. */
    const walk_file_id *own;
    size_t own_count;
    /* The scan's stop request (walk_request_stop() below); NULL: none. */
    const int *stop;
    /* How hard the walk presses the filesystem (pace.h).  With adapt 0,
     * all `threads` workers run (a fixed count).  With adapt set, `threads`
     * is the most that may run; start_threads run at first and the
     * controller moves the count between min_threads and threads from the
     * latency and rate it measures (threads: auto, scan.adaptive). */
    int adapt;
    size_t start_threads;
    size_t min_threads;
    uint64_t max_ops;           /* metadata operations per second; 0: any */
    int lazy_stat;              /* statx(AT_STATX_DONT_SYNC), else fstatat */
    int io_idle;                /* workers in the idle I/O class           */
    /* A line about the walk itself (the controller's changes, with adapt
     * and log_changes), on the calling thread; optional. */
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
    int log_changes;
    /* Checkpoints (see "Cuts" below); NULL: none.  Called on the calling
     * thread at a cut: every directory is done or pending, no worker is
     * inside a sink.  Non-zero fails the walk (err says why). */
    int (*checkpoint)(void *ctx, struct walk_run *run, int suspend, char *err, size_t errlen);
    void *checkpoint_ctx;
    unsigned long long checkpoint_every_ms; /* 0: only when suspending     */
    unsigned long long time_limit_ms;       /* suspend after this; 0: none */
    /* A fresh scan's first cut as soon as the roots are read, not one
     * interval later: from then on a journal names the outputs' parts, so
     * a session killed early leaves nothing that no resume would take. */
    int checkpoint_at_start;
    const int *suspend;         /* set: cut, checkpoint, end suspended     */
    /* A resumed walk: instead of the roots, queue what resume() queues
     * (the journal's pending directories, remote.c's records).  Called
     * once before the workers start; non-zero fails the walk. */
    int (*resume)(void *ctx, struct walk_run *run, char *err, size_t errlen);
    void *resume_ctx;
    /* The journal's files, left out like own outputs when the journal is
     * inside the tree: in the directory own_dir, the name own_name and the
     * names derived from it (walk_own_name()).  NULL: none. */
    const char *own_name;
    walk_file_id own_dir;
} walk_options;

/* Where the walk delivers its results.  Both are called on worker threads,
 * concurrently for different workers, never concurrently for one worker. */
typedef struct walk_sink {
    void *ctx;
    /* A batch of rows; non-zero stops the walk. */
    int (*rows)(void *ctx, size_t worker, const pwalk_entry *entries, size_t count);
    /* One entry that could not be read, or that vanished (err->kind). */
    void (*error)(void *ctx, size_t worker, const pwalk_error *err);
} walk_sink;

/* Counters, summed over workers at the end (and readable while running for
 * the progress line).  When the walk completes:
 *     entries == rows + stat_errors + sum(filtered)
 * (a sink's own refusals are counted by the sink layer, not here). */
typedef struct walk_stats {
    uint64_t entries;           /* names read from directories, plus roots */
    uint64_t rows;
    uint64_t errors;            /* error records of kind PWALK_ERROR_FAILED */
    uint64_t vanished;          /* records of kind VANISHED or REPLACED:
                                   changed since listed, not errors        */
    uint64_t stat_errors;       /* entries whose lstat failed (vanished
                                   ones included): no row                  */
    uint64_t read_errors;       /* directories that could not be read: they
                                   still have a row (pw_fcount -1)         */
    uint64_t dirs;              /* directory rows                          */
    uint64_t filtered[FILTER_REASON_COUNT];
    uint64_t steals;
    double seconds;
    /* Workers running now (the controller's limit) and the most that ran
     * at once; metadata operations (counted with adapt only). */
    unsigned threads_now, threads_peak;
    uint64_t ops;
    /* lazy_stat: 1 when statx(AT_STATX_DONT_SYNC) was used, or the errno
     * (EINVAL, ENOSYS) that made the walk fall back to fstatat. */
    int statx_used;
    int statx_refused;
    /* io_idle: 0, or the errno of the first ioprio_set() that failed. */
    int ioprio_errno;
} walk_stats;

/* Is name one of the journal's files in its directory: BASE itself, its
 * temporaries ".BASE.pwalk-tmp-*" and a pwalk-mpi job's per-rank journals
 * "BASE.g<N>.rank-<R>" (and their temporaries)? */
int walk_own_name(const char *base, const char *name);

/* Check the roots before anything is written: each must lstat.  Returns 0
 * or -1 with "ROOT: strerror" in err. */
int walk_check_roots(char *const *roots, size_t count, char *err, size_t errlen);

/* Run a whole walk; blocks until done.  Returns 0 when the walk finished,
 * 1 when it was stopped (a sink asked, or *opt->stop was set), 2 when it
 * was suspended at a checkpoint, -1 when it failed (out of memory, no
 * threads, a checkpoint that could not be written); err says which. */
int walk_execute(const walk_options *opt, const walk_sink *sink, walk_stats *stats,
                 char *err, size_t errlen);

/* A scan's stop request (walk_options.stop) is a plain int its owner sets
 * with lock-free atomics: async-signal-safe, and per scan, so stopping one
 * scan stops no other.  A request made before the walk starts is kept. */
static inline void walk_request_stop(int *flag)
{
    __atomic_store_n(flag, 1, __ATOMIC_RELAXED);
}
static inline int walk_stop_requested(const int *flag)
{
    return __atomic_load_n(flag, __ATOMIC_RELAXED);
}

/* ---- Walks shared between processes ------------------------------------
 *
 * pwalk-mpi runs one walk per rank over the same roots.  Only the ranks
 * that were given the roots start with work (remote->seed); directories
 * then move between ranks as records (remote.h): the directory's display
 * path, which root it is under, and the lstat the sending walk made of it.  The
 * receiving walk re-opens it from its root one component at a time
 * (O_NOFOLLOW, never through a symlink) and checks st_ino/st_dev against
 * what the sender saw before reading it; a directory replaced in between
 * is an error record, as in a local walk.
 *
 * With remote set, running out of local work does not end the walk: the
 * walk ends when tick() calls walk_remote_end() (or on a stop).  tick()
 * runs on the thread that called walk_execute(), every tick_ms, and is the
 * only place the walk_remote_* functions (and remote.h's) may be called
 * from.  Directory rows carry only their own entries' counts, so a
 * directory can be finished on another rank than its parent without
 * changing any row.
 */
typedef struct walk_run walk_run;

typedef struct walk_remote {
    void *ctx;
    unsigned tick_ms;           /* 0: 5 ms                                 */
    int seed;                   /* push the roots (rank 0 only)            */
    void (*tick)(void *ctx, walk_run *run);
} walk_remote;

/* A directory as it leaves one walk and enters another: what the
 * receiving walk needs to re-open it from its root and to check that it is
 * the directory the sender listed.  How it travels is remote.h's business
 * (the records pwalk-mpi's ranks exchange). */
typedef struct walk_dir {
    const char *path;           /* display path, path_len bytes            */
    size_t path_len;
    uint32_t root_index;        /* which of walk_options.roots             */
    int32_t depth;              /* its row's depth                         */
    uint64_t parent_ino;
    uint64_t root_dev;          /* its root's st_dev and st_ino, as the    */
    uint64_t root_ino;          /* sender saw them                         */
    struct stat st;             /* the sender's lstat of the directory     */
} walk_dir;

/* ---- Cuts (checkpoints) ----------------------------------------------------
 *
 * A cut pauses the walk so that every directory is either DONE (all its
 * rows and errors, its own row included, went to the sink) or PENDING
 * (queued, nothing of it emitted): workers stop starting directories and
 * park them, while the directories being read and their stat chunks
 * finish.  Roots are read even then (a record names a directory strictly
 * below its root).  At the cut opt->checkpoint runs; then the parked
 * directories are queued again, or with suspend discarded and the walk
 * ends (walk_execute returns 2).  The timer (checkpoint_every_ms,
 * time_limit_ms) and opt->suspend drive cuts in an ordinary walk; a
 * shared walk's driver calls walk_checkpoint_now() from its tick. */

/* Cut now (the calling thread, inside tick for a shared walk).  Returns 0
 * (checkpointed; with suspend the walk is ending), 1 when the walk
 * completed or stopped before a cut could be made (nothing written), -1
 * when the checkpoint failed (the walk is stopping; err says why). */
int walk_checkpoint_now(walk_run *run, int suspend, char *err, size_t errlen);

/* At a cut, for opt->checkpoint: each pending directory as a record, and
 * this walk's counters so far.  Returns 0, or the first non-zero each()
 * returned. */
/* opt->checkpoint_ctx of the running walk (a shared walk's driver hook
 * reaches the scan's journal through it). */
void *walk_checkpoint_ctx(walk_run *run);
int walk_cut_dirs(walk_run *run, int (*each)(void *ctx, const walk_dir *d), void *ctx);
void walk_cut_stats(walk_run *run, walk_stats *now);

/* No local work left: nothing queued, nothing being processed. */
int walk_remote_idle(walk_run *run);
/* Directories waiting in this walk's queues. */
size_t walk_remote_queued(walk_run *run);
/* Take up to max queued directories (oldest, i.e. biggest subtrees, first)
 * out of this walk, calling take() for each; d and its path are valid only
 * during the call.  Roots not yet read stay (a record names a directory
 * below its root), as do the chunks of a directory being read.  A directory whose take() fails stays queued and ends
 * the taking.  Returns how many were taken, -1 when a take() failed. */
long walk_remote_take(walk_run *run, size_t max, int (*take)(void *ctx, const walk_dir *d),
                      void *ctx);
/* Queue a directory another walk took (copied): a worker re-opens it from
 * its root one component at a time (O_NOFOLLOW) and reads it only if root
 * and directory are the ones the sender saw.  The caller has checked that
 * d's path lies strictly below root root_index (remote_check()).  Returns
 * 0, or -1 when out of memory (the walk then fails). */
int walk_remote_add(walk_run *run, const walk_dir *d);
/* This walk's roots (walk_options.roots), for checking what arrives. */
char *const *walk_remote_roots(walk_run *run, size_t *count);

/* Every process is out of work: let this walk finish. */
void walk_remote_end(walk_run *run);

/* The root as it appears in rows: trailing slashes removed, except "/". */
size_t walk_root_display_len(const char *root);

#endif
