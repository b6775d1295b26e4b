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
} walk_stats;

/* Check the roots before anything is written: each must lstat.  Returns 0
 * or -1 with "ROOT: strerror" in err. */
int walk_check_roots(char *const *roots, size_t count, char *err, size_t errlen);

/* Run a whole walk; blocks until done.  Returns 0 when the walk finished,
 * 1 when it was stopped (a sink asked, or walk_request_stop()), -1 when it
 * failed (out of memory, no threads); err says which. */
int walk_execute(const walk_options *opt, const walk_sink *sink, walk_stats *stats,
                 char *err, size_t errlen);

/* Ask the running walk to stop soon; async-signal-safe.  The request
 * stays until walk_clear_stop(), so one that arrives before the walk starts
 * is not lost. */
void walk_request_stop(void);
int walk_stop_requested(void);
void walk_clear_stop(void);

/* ---- Walks shared between processes ------------------------------------
 *
 * pwalk-mpi runs one walk per rank over the same roots.  Only the ranks
 * that were given the roots start with work (remote->seed); directories
 * then move between ranks as records: the directory's display path, which
 * root it is under, and the lstat the sending walk made of it.  The
 * receiving walk re-opens it from its root one component at a time
 * (O_NOFOLLOW, never through a symlink) and checks st_ino/st_dev against
 * what the sender saw before reading it; a directory replaced in between
 * is an error record, as in a local walk.
 *
 * With remote set, running out of local work does not end the walk: the
 * walk ends when tick() calls walk_remote_end() (or on a stop).  tick()
 * runs on the thread that called walk_execute(), every tick_ms, and is the
 * only place the walk_remote_* functions may be called from.  Directory
 * rows carry only their own entries' counts, so a directory can be
 * finished on another rank than its parent without changing any row.
 */
typedef struct walk_run walk_run;

typedef struct walk_remote {
    void *ctx;
    unsigned tick_ms;           /* 0: 5 ms                                 */
    int seed;                   /* push the roots (rank 0 only)            */
    void (*tick)(void *ctx, walk_run *run);
} walk_remote;

/* The wire format of a directory moving between walks: this header, the
 * display path (path_len bytes, no NUL), zeros up to a multiple of 8.
 * Both ends are the same build on the same architecture (one MPI job). */
typedef struct walk_record {
    uint32_t size;              /* the whole record, padded               */
    uint32_t root_index;
    uint32_t path_len;
    int32_t depth;
    uint64_t parent_ino;
    uint64_t root_dev;
    uint64_t root_ino;
    struct stat st;             /* the sender's lstat of the directory    */
} walk_record;

#define WALK_RECORD_ALIGN 8

static inline size_t walk_record_size(size_t path_len)
{
    return (sizeof(walk_record) + path_len + WALK_RECORD_ALIGN - 1) &
           ~(size_t)(WALK_RECORD_ALIGN - 1);
}

/* No local work left: nothing queued, nothing being processed. */
int walk_remote_idle(walk_run *run);
/* Directories waiting in this walk's queues. */
size_t walk_remote_queued(walk_run *run);
/* Take up to max queued directories (oldest, i.e. biggest subtrees, first)
 * out of this walk and append their records to *buf (realloc'ed; *len
 * grows).  Returns how many were taken (0: none could be), -1 when out of
 * memory. */
long walk_remote_export(walk_run *run, size_t max, char **buf, size_t *len);
/* Queue the directories in records exported by another walk.  Returns the
 * number queued, or -1 with a message when walk_remote_check() refuses the
 * records (nothing is queued then). */
long walk_remote_import(walk_run *run, const char *buf, size_t len, char *err, size_t errlen);
/* Check records from another process before any is used: each one whole
 * (size = walk_record_size(path_len), inside len), a directory, under a
 * known root, its path that root's display path, '/' (none after "/"),
 * then one or more components that are neither empty, "." nor ".." and
 * hold no NUL -- so re-opening it one component at a time can only go
 * down from the root.  Returns the number of records, or -1 with a
 * message naming the byte offset of the first bad one. */
long walk_remote_check(char *const *roots, size_t root_count, const char *buf, size_t len,
                       char *err, size_t errlen);

/* Every process is out of work: let this walk finish. */
void walk_remote_end(walk_run *run);

/* The root as it appears in rows: trailing slashes removed, except "/". */
size_t walk_root_display_len(const char *root);

#endif
