/*
 * pwalk/sys/remote.h -- for drivers, not for ordinary embedders: one scan
 * shared by several processes, each running its own pwalk_scan over the
 * same roots (pwalk-mpi: one per MPI rank).  libgit2's include/git2/sys
 * split: hooks for those who build a new way of running pwalk on top of the
 * library, which an ordinary program never needs.
 *
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * ---------------------------------------------------------------------------
 * How a shared walk works
 *
 * Every process builds the same scan (pwalk.h) and gives it a pwalk_remote
 * hook with pwalk_scan_set_remote().  Only the processes with seed set
 * start from the roots; the others start with nothing.  Running out of
 * work does not end a shared walk: the library calls hook.tick on the
 * thread that called pwalk_scan_run(), every tick_ms, and the walk ends
 * when tick calls pwalk_remote_end() (or the scan is stopped).
 *
 * Inside tick the driver moves work between processes:
 *
 *   pwalk_remote_idle()    this process is out of work
 *   pwalk_remote_queued()  directories waiting here
 *   pwalk_remote_export()  take queued directories out of this walk as a
 *                          message of directory records (bytes)
 *   pwalk_remote_import()  queue the directories of a message another
 *                          process exported
 *
 * The driver carries messages however it likes (MPI here) and decides when
 * every process is done.  The pwalk_remote_* functions may be called only
 * from inside tick, with the walk it was given.
 *
 * What the library guarantees:
 *   - Every directory is read by exactly one process: exported directories
 *     are gone from the sender's walk.  Directory rows carry only their own
 *     entries' counts, so a directory finished by another process than its
 *     parent gives the same row; together the processes' outputs hold the
 *     rows one pwalk_scan_run() over the roots would.
 *   - A message is checked whole before anything in it is used
 *     (pwalk_remote_import() queues all of its records or none): each
 *     record complete, a directory, its path strictly below the root it
 *     names (no "", ".", ".." component).
 *   - The receiving process re-opens a directory from its own root, one
 *     component at a time, never through a symlink, and reads it only if
 *     its root is the root the sender walked (same inode) and the directory
 *     is the one the sender listed.  Anything else -- the tree changed, or
 *     a root path that names another directory on this node -- is an error
 *     record of kind PWALK_RECORD_REPLACED for that directory, as in a
 *     local walk; nothing outside the roots is read.
 *
 * Messages are in the library's native layout (struct stat included):
 * every process must run the same build on the same architecture.
 */
#ifndef PWALK_SYS_REMOTE_H
#define PWALK_SYS_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "pwalk/plugin.h"
#include "pwalk/pwalk.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A running shared walk, as tick sees it (valid only during the call). */
typedef struct pwalk_remote_walk pwalk_remote_walk;

/* The files a scan leaves out of its walk, as own_outputs sees them (valid
 * only during the call). */
typedef struct pwalk_remote_own pwalk_remote_own;

/* A file by identity: st_dev and st_ino as fstat() reports them. */
typedef struct pwalk_file_id {
    uint64_t dev;
    uint64_t ino;
} pwalk_file_id;

typedef struct pwalk_remote {
    /* sizeof(pwalk_remote) as the caller compiled it. */
    size_t struct_size;
    void *ctx;                  /* passed to tick                         */
    unsigned tick_ms;           /* how often tick runs; 0: every 5 ms     */
    int seed;                   /* this process starts from the roots     */
    /* On the thread that called pwalk_scan_run(), every tick_ms while the
     * walk runs; the only place the pwalk_remote_* functions may be
     * called.  Must return promptly: the walk's workers do not wait for
     * it, but its progress callbacks and stop checks do. */
    void (*tick)(void *ctx, pwalk_remote_walk *walk);
    /* Optional (NULL: none; also when struct_size ends before it).  Once
     * per run, on the thread that called pwalk_scan_run(), after this
     * process's scan created every file it writes (each sink's output
     * under its temporary name, the error file, pwalk_scan_own_fd()'s) and
     * before its walk reads anything or tick first runs.  The walk leaves
     * out the files in own (see "Files the processes write" below); the
     * driver reads them with pwalk_remote_own_files() and adds the other
     * processes' with pwalk_remote_own_add().  Return 0 to walk; non-zero
     * fails the scan (PWALK_FAILED, pwalk_scan_message() "own outputs:
     * " + err, nothing published).  own is valid only during the call. */
    int (*own_outputs)(void *ctx, pwalk_remote_own *own, char *err, size_t errlen);
} pwalk_remote;

/* Make s's next run a shared walk driven by r (copied; NULL: an ordinary
 * walk again).  Returns 0, or PWALK_USAGE when r->struct_size is too small
 * or tick is NULL.  Owner thread, before pwalk_scan_run(). */
int pwalk_scan_set_remote(pwalk_scan *s, const pwalk_remote *r, char *err, size_t errlen);

/* This process has no work: nothing queued, nothing being read. */
int pwalk_remote_idle(pwalk_remote_walk *walk);

/* Directories queued in this process, not yet being read. */
size_t pwalk_remote_queued(pwalk_remote_walk *walk);

/* Take up to max queued directories (oldest first: the biggest subtrees)
 * out of this walk and append their records to the message *buf, *len
 * bytes long (*buf is realloc()ed: start with NULL and 0, free it with
 * free()).  Directories being read stay, and so do roots not yet read: a
 * root is read by the process that was seeded with it.  Returns the number
 * taken (0: nothing could be), or -1 when out of memory (the walk then
 * fails). */
long pwalk_remote_export(pwalk_remote_walk *walk, size_t max, char **buf, size_t *len);

/* Queue the directories of a message another process's
 * pwalk_remote_export() made.  Returns how many were queued, or -1 with a
 * message naming the byte offset of the first bad record (nothing queued)
 * or "out of memory".  buf is not kept. */
long pwalk_remote_import(pwalk_remote_walk *walk, const char *buf, size_t len, char *err,
                         size_t errlen);

/* Every process is out of work: let this walk finish (its workers stop
 * waiting for imports, the outputs are committed). */
void pwalk_remote_end(pwalk_remote_walk *walk);

/* Checkpoint this process's part of the walk now into journal_path (a
 * file replaced atomically, see pwalk.h "Checkpoints"): no directory
 * starts, the ones being read finish (tick is blocked that long), every
 * sink's checkpoint() runs and the journal is written.  suspend != 0: the
 * walk then ends suspended and pwalk_scan_run() returns PWALK_INCOMPLETE.
 * In a shared walk the library never checkpoints by itself (no timer;
 * pwalk_scan_suspend() is the driver's to relay): the driver decides for
 * every process.  Directories in flight between processes are the
 * driver's too: call it only when no record this process exported is
 * unimported elsewhere and none is waiting to be imported here.  Only
 * from inside tick.  journal_path NULL: scan.checkpoint's (or the last
 * one given).  Returns 0, 1 when the walk was stopping before a cut could
 * be made (nothing written), or -1 with a message (the scan then fails). */
int pwalk_remote_checkpoint(pwalk_remote_walk *walk, const char *journal_path, int suspend,
                            char *err, size_t errlen);

/* ---- Files the processes write ---------------------------------------------
 *
 * A scan leaves its own outputs out of its walk (pwalk.h, pwalk_scan_own_fd();
 * counted as filtered "own-output"), but it knows only the files its own
 * process writes.  When the processes write into the tree they walk, each
 * lists the others' temporaries unless the driver tells it about them: in
 * own_outputs, every process hands its pwalk_remote_own_files() to the
 * others (pwalk-mpi: MPI_Allgather + MPI_Allgatherv) and adds theirs with
 * pwalk_remote_own_add(), all before any process walks.  Identities are
 * compared as given: on nodes where the filesystem has another st_dev the
 * driver translates the device (pwalk-mpi maps a root's st_dev on the
 * sender to the same root's here). */

/* The files this scan leaves out so far (its own, then those added); *count
 * set.  The array belongs to own and changes with pwalk_remote_own_add(). */
const pwalk_file_id *pwalk_remote_own_files(pwalk_remote_own *own, size_t *count);

/* Leave count more files out of this walk (copied).  Returns 0, or -1 when
 * out of memory (nothing added). */
int pwalk_remote_own_add(pwalk_remote_own *own, const pwalk_file_id *ids, size_t count);

/* ---- Setting up one output per process ------------------------------------- */

/* Sink i's plugin as a driver needs to know it before the run, found and
 * checked as pwalk_scan_check() does, then unloaded: *mutates is non-zero
 * when it changes the filesystem (PWALK_PLUGIN_MUTATES_FS; such a sink
 * should run once, not once per process); when it declares the option
 * named option, *declared is 1 and *default_value that option's default
 * (malloc()ed, free it with pwalk_free(); NULL when it has none).  Returns
 * 0, or PWALK_USAGE with a message naming the pipeline, the sink and the
 * plugin.  Owner thread. */
int pwalk_scan_sink_probe(const pwalk_scan *s, size_t i, const char *option, int *mutates,
                          int *declared, char **default_value, char *err, size_t errlen);

/* The scan settings a record of the scan states (pwalk-mpi's manifest)
 * that pwalk.h has no getter for.  Strings are owned by s (pwalk.h,
 * "Strings"). */
typedef struct pwalk_scan_settings {
    size_t struct_size;         /* sizeof(pwalk_scan_settings), set by the caller */
    const char *source;         /* the pipeline's file, or its source name */
    int one_file_system;        /* scan.one_file_system                   */
    int skip_snapshots;         /* scan.skip_snapshots                    */
    int max_depth;              /* scan.max_depth (0: unlimited)          */
    int threads;                /* scan.threads (0: automatic)            */
    int mode;                   /* scan.mode: the error file's permission
                                   bits, -1: 0600 as root, else 0666 less
                                   the umask (for the driver's own files) */
    const char *const *excludes; /* scan.exclude                          */
    size_t exclude_count;
    /* Added after exclude_count: filled only when struct_size covers it. */
    long long max_ops;          /* scan.max_ops (0: no limit); a driver
                                   sharing the scan between processes
                                   gives each its part (pwalk-mpi: N/ranks) */
} pwalk_scan_settings;

/* Fill *out (out->struct_size set by the caller).  Returns 0, or
 * PWALK_USAGE when out->struct_size is too small.  Owner thread. */
int pwalk_scan_get_settings(const pwalk_scan *s, pwalk_scan_settings *out);

/* ---- One result from every process's partial (plugin ABI 1.3) -------------
 *
 * A sink whose plugin has a merge callback (pwalk/plugin.h, "Merge
 * lifecycle") does not leave one output per process: with more than one
 * process, each one's instance writes a partial at its shard name, and one
 * process, once every process finished, merges them into the one output at
 * the unsharded name with pwalk_scan_merge_sink().  pwalk-mpi does this for
 * every such sink; a sink without merge keeps its shards. */

/* This process is rank `rank` of `ranks` sharing the scan; start_sec is
 * the start time every rank uses (epoch seconds, rank 0's; 0: this
 * process's own clock).  The plugins see them in host->scan_facts() (ABI
 * 1.3).  Returns 0, or PWALK_USAGE for a rank outside 0..ranks-1.  Owner
 * thread, before pwalk_scan_run(). */
int pwalk_scan_set_rank(pwalk_scan *s, int rank, int ranks, int64_t start_sec);

/* Merging sinks write partials (host->scan_facts() flags
 * PWALK_FACTS_PARTIAL) even when ranks is 1: a job keeping a journal may
 * resume with more ranks, so its outputs are always merged.  Owner
 * thread, before pwalk_scan_run().  Returns 0. */
int pwalk_scan_set_partial(pwalk_scan *s, int on);

/* Sink i's plugin, found and released again like pwalk_scan_sink_probe():
 * *merges is non-zero when it has a merge callback; *output is the name of
 * its first output option (declared PWALK_OPTION_OUTPUT; "path" or "log"
 * for a plugin of ABI 1.0/1.1), malloc()ed (free it with pwalk_free()), or
 * NULL when it declares none.  Returns 0, or PWALK_USAGE with a message.
 * Owner thread. */
int pwalk_scan_sink_merge_probe(const pwalk_scan *s, size_t i, int *merges, char **output,
                                char *err, size_t errlen);

/* Run sink i's merge lifecycle on the scan's current configuration (set
 * its output option back to the unsharded name first): only that sink is
 * loaded; create() (host->worker_count 0, host->scan_facts() giving *facts,
 * whose roots, version and hostname default to the scan's own, this
 * library's and this host's when NULL), merge(partials[0..count-1]),
 * prepare(), finish(0), destroy().  facts->struct_size must be set.  The
 * partials are only read; removing them is the caller's.  Log lines go to
 * the scan's on_log.  May run after pwalk_scan_run().  Returns 0, or
 * PWALK_USAGE (no such sink, its plugin cannot be loaded or has no merge
 * callback) or PWALK_FAILED (the merge, or publishing its output, failed:
 * nothing published) with "sink 'NAME': message".  Owner thread. */
int pwalk_scan_merge_sink(pwalk_scan *s, size_t i, const char *const *partials, size_t count,
                          const pwalk_scan_facts *facts, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
