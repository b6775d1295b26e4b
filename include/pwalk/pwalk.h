/*
 * pwalk/pwalk.h -- libpwalk, the public embedding API: run a pwalk scan
 * (a YAML pipeline: what to walk, which sinks receive the entries) inside
 * your own program.  pwalk-engine, pwalk-mpi and the Python package are
 * built on this header and nothing else.
 *
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * ---------------------------------------------------------------------------
 * Life of a scan
 *
 *     pwalk_scan_from_file()     \
 *     pwalk_scan_from_string()    >  a handle holding one pipeline
 *     pwalk_scan_new()           /   (+ pwalk_scan_add_sink())
 *          |
 *     pwalk_scan_set(), pwalk_scan_set_roots(), pwalk_scan_own_fd(),
 *     pwalk_scan_set_callbacks(), ...           (configure; any order)
 *          |
 *     pwalk_scan_run()     blocks until the walk ended and every output was
 *          |               committed or abandoned; returns the status
 *     pwalk_scan_status(), pwalk_scan_counter(), pwalk_scan_sink_rows(),
 *     pwalk_scan_summary(), pwalk_scan_failed_sink(), ...   (results)
 *          |
 *     pwalk_scan_free()
 *
 * pwalk_scan_stop() may be called at any time from any thread, including a
 * signal handler.
 *
 * Threads.  A handle is used by one thread at a time (the "owner"), except
 * pwalk_scan_stop(), which any thread may call at any time, and the
 * callbacks, which run on the threads documented with them.  Different
 * handles are independent: any number of scans may run concurrently in one
 * process, each on its own thread; a scan that fails or is stopped affects
 * no other.  The library keeps no process-wide mutable state.
 *
 * Output.  The library never writes to stdout or stderr by itself.  The
 * summary is a string (pwalk_scan_summary()), progress and log lines reach
 * you through callbacks.  (A sink whose output is configured as `path: -`
 * writes its report to stdout: that is the sink doing what it was told.)
 *
 * Strings.  Every `const char *` argument is a NUL-terminated byte string,
 * copied by the callee before it returns: the caller keeps ownership.
 * Paths are bytes, not text: any byte but NUL is allowed.  Every
 * `const char *` a function returns is owned by the handle and stays valid
 * until the next call that changes the handle (pwalk_scan_set*, _run) or
 * pwalk_scan_free(), unless stated otherwise.
 *
 * Errors.  Functions that can fail return 0 or a status, and write a
 * one-line message naming the file, key or value at fault into
 * err[errlen] (truncated, always NUL-terminated when errlen > 0; err may be
 * NULL when errlen is 0).  Statuses are the command line's exit statuses
 * (README "Exit status"), PWALK_OK .. PWALK_SIGNALED below.
 */
#ifndef PWALK_PWALK_H
#define PWALK_PWALK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PWALK_VERSION_MAJOR 0
#define PWALK_VERSION_MINOR 1
#define PWALK_VERSION_PATCH 0
#define PWALK_VERSION_STRING "0.1.0"
#define PWALK_VERSION_NUMBER \
    (PWALK_VERSION_MAJOR * 10000 + PWALK_VERSION_MINOR * 100 + PWALK_VERSION_PATCH)

/* Statuses (pwalk_scan_run()'s return value, and the CLI's exit status). */
#define PWALK_OK 0          /* complete; entries that vanished are counted    */
#define PWALK_PARTIAL 1     /* complete, but some entries could not be read
                               (or, scan.strict, vanished)                     */
#define PWALK_USAGE 2       /* bad configuration, option, root or plugin:
                               nothing was written                             */
#define PWALK_FAILED 3      /* the scan or an output failed: nothing published */
#define PWALK_INCOMPLETE 75 /* suspended at a checkpoint (pwalk_scan_suspend(),
                               scan.time_limit): nothing published yet, the
                               journal and the outputs' parts kept; resume
                               with pwalk_scan_resume() (sysexits'
                               EX_TEMPFAIL: try again later)                  */
#define PWALK_SIGNALED 128  /* 128 + N: stopped by pwalk_scan_stop(s, N)      */

/* The most worker threads a scan may have (scan.threads). */
#define PWALK_THREADS_MAX 4096

/* The library's version ("0.1.0"), for a program linked against a shared
 * libpwalk.  Any thread. */
const char *pwalk_version(void);
/* PWALK_VERSION_NUMBER of the library. */
unsigned pwalk_version_number(void);

typedef struct pwalk_scan pwalk_scan;

/* ---- Building a scan ----------------------------------------------------- */

/* Load the pipeline in the YAML file at path.  On success *out is a new
 * handle (free it with pwalk_scan_free()) and 0 is returned.  On failure
 * *out is NULL and PWALK_USAGE is returned with a message such as
 * "audit.yaml:3:5: unknown key 'foo' in 'scan'" (or "out of memory").
 * Plugins are not loaded yet: a missing plugin or a bad sink option is
 * reported by pwalk_scan_run() (or pwalk_scan_check()). */
int pwalk_scan_from_file(pwalk_scan **out, const char *path, char *err, size_t errlen);

/* The same from YAML text (len bytes; NUL not needed).  source_name names
 * the pipeline in messages ("<python>", "job.yaml"); NULL: "<string>". */
int pwalk_scan_from_string(pwalk_scan **out, const char *yaml, size_t len,
                           const char *source_name, char *err, size_t errlen);

/* A scan with every default and no sinks (source name "<command line>").
 * Returns 0, or PWALK_FAILED with *out NULL when out of memory. */
int pwalk_scan_new(pwalk_scan **out);

/* Append a sink named name using plugin (a plugin name, or a path ending
 * in .so), with no options yet (set them with pwalk_scan_set()).  Returns
 * 0, or PWALK_USAGE when the name is taken or invalid. */
int pwalk_scan_add_sink(pwalk_scan *s, const char *name, const char *plugin, char *err,
                        size_t errlen);

/* Apply one assignment, exactly as the command line's --set does:
 *     "SINK.OPTION=VALUE"   a sink option (checked against the plugin's
 *                           schema when the plugin is loaded)
 *     "scan.KEY=VALUE"      a scan setting, e.g. "scan.threads=4",
 *                           "scan.errors=/tmp/err.csv", "scan.strict=true"
 * The value is everything after the first '=' (it may hold any byte but
 * NUL).  Returns 0, or PWALK_USAGE with a message naming the key. */
int pwalk_scan_set(pwalk_scan *s, const char *assignment, char *err, size_t errlen);

/* The same with the parts given apart, as counted bytes (no NUL needed,
 * none allowed): target is a sink's name or "scan".  For values that are
 * not text (a non-UTF-8 path from Python's bytes). */
int pwalk_scan_set_value(pwalk_scan *s, const char *target, size_t target_len,
                         const char *key, size_t key_len, const char *value,
                         size_t value_len, char *err, size_t errlen);

/* Replace scan.roots with roots[0..n) (copied).  Returns 0, or PWALK_FAILED
 * when out of memory.  The roots are checked by pwalk_scan_run(). */
int pwalk_scan_set_roots(pwalk_scan *s, const char *const *roots, size_t n);

/* Add an exclude pattern to scan.exclude (an exact path or an fnmatch(3)
 * glob, as in the YAML).  Returns 0 or PWALK_FAILED (out of memory). */
int pwalk_scan_add_exclude(pwalk_scan *s, const char *pattern);

/* Append a directory to the plugin search path (after the pipeline's own
 * plugin_path).  Returns 0 or PWALK_FAILED (out of memory). */
int pwalk_scan_add_plugin_dir(pwalk_scan *s, const char *dir);

/* The file open on fd is written by the caller while the scan runs (a
 * manifest, a log): the walk leaves it out, as it leaves out the sinks'
 * own outputs (counted as filtered "own-output").  The file is identified
 * now (fstat); fd is not kept.  Returns 0, or PWALK_USAGE when fd is not
 * open (a non-regular file is accepted and ignored). */
int pwalk_scan_own_fd(pwalk_scan *s, int fd, char *err, size_t errlen);

/* ---- Callbacks ------------------------------------------------------------ */

/* Kinds of error records (the same values as the plugin ABI's
 * PWALK_ERROR_* in pwalk/plugin.h). */
#define PWALK_RECORD_FAILED 0u    /* the entry exists and could not be read   */
#define PWALK_RECORD_VANISHED 1u  /* gone since it was listed                 */
#define PWALK_RECORD_REPLACED 2u  /* a directory replaced by another one
                                     between listing and reading (errno 0)    */

/* Log levels of on_log. */
#define PWALK_LOG_INFO 0
#define PWALK_LOG_WARNING 1

/* A snapshot of a running scan, for on_progress. */
typedef struct pwalk_progress {
    uint64_t entries;       /* names read so far, plus roots              */
    uint64_t rows;
    uint64_t dirs;
    uint64_t errors;        /* error records of kind FAILED               */
    uint64_t vanished;      /* records of kind VANISHED or REPLACED       */
    uint64_t queued;        /* directories waiting to be read             */
    double seconds;         /* since the walk started                     */
    /* Worker threads running now: scan.threads, or what threads: auto and
     * scan.adaptive have chosen (they move it with the filesystem's
     * latency).  Added in 0.1 after the fields above; read it only from a
     * library that has it. */
    uint32_t threads;
} pwalk_progress;

typedef struct pwalk_callbacks {
    /* sizeof(pwalk_callbacks) as the caller compiled it: fields added to
     * the end in later versions are NULL for older callers. */
    size_t struct_size;
    void *ctx;              /* passed to every callback                   */

    /* One error record: an entry that could not be read (kind FAILED), or
     * that vanished / was replaced while the scan ran.  path is path_len
     * bytes, NOT NUL-terminated, any byte; operation names the system
     * call ("lstat", "opendir", ...).  Called on the walk's worker threads,
     * CONCURRENTLY for different entries: it must be thread-safe and fast
     * (it holds a worker).  The pointers are valid only during the call. */
    void (*on_error)(void *ctx, const char *path, size_t path_len, int error_number,
                     const char *operation, unsigned kind);

    /* About once a second while the walk runs, on the thread that called
     * pwalk_scan_run().  *p is valid only during the call. */
    void (*on_progress)(void *ctx, const pwalk_progress *p);

    /* A line a sink logged (host->log()), already prefixed with
     * "sink 'NAME': ", no newline.  Any thread, possibly concurrently.
     * Without on_log, log lines are dropped. */
    void (*on_log)(void *ctx, int level, const char *line);
} pwalk_callbacks;

/* Use cb's callbacks for the next pwalk_scan_run() (copied; NULL removes
 * them).  Returns 0, or PWALK_USAGE when cb->struct_size is too small. */
int pwalk_scan_set_callbacks(pwalk_scan *s, const pwalk_callbacks *cb);

/* ---- Running -------------------------------------------------------------- */

/* Check what can be checked without writing anything: roots, thread
 * count, plugins (found, loaded, ABI-checked) and every sink option.
 * Returns 0, or PWALK_USAGE with the reason in pwalk_scan_message() and
 * pwalk_scan_failure() (CONFIG, ROOT or PLUGIN).  Optional: pwalk_scan_run()
 * does the same first.  Owner thread. */
int pwalk_scan_check(pwalk_scan *s);

/* Run the scan: check (as above), create the sinks' outputs under
 * temporary names, walk every root, then commit every output (status 0
 * or 1) or abandon them all.  Blocks until done; the walk uses
 * scan.threads worker threads of its own.  Returns the status
 * (PWALK_OK .. PWALK_FAILED, or PWALK_SIGNALED + N); the same value is in
 * pwalk_scan_status() afterwards, and the results below are filled in.
 * A handle runs once: a second call returns PWALK_USAGE.  Owner thread. */
int pwalk_scan_run(pwalk_scan *s);

/* Ask scan s to stop as soon as it can, recording signal number sig
 * (1..127; 0 counts as SIGINT's 2): pwalk_scan_run() then returns
 * PWALK_SIGNALED + sig and publishes no output.  A request made before
 * pwalk_scan_run() starts is kept (the run stops at once).  Any thread, at
 * any time while s is not freed; async-signal-safe (lock-free atomics
 * only), so a signal handler may call it.  Stops only s. */
void pwalk_scan_stop(pwalk_scan *s, int sig);

/* ---- Checkpoints ----------------------------------------------------------
 *
 * With scan.checkpoint set (a file), the scan keeps a journal of what is
 * done: the directories still to read, the counters, and each sink's state
 * (how far its output's part is durable).  The journal is replaced
 * atomically and fsync'ed once the roots are read, then every
 * scan.checkpoint_every (default 5m), so a SIGKILL or a crash loses at
 * most that interval and writes no entry twice.
 * Every sink's plugin must support checkpoints (ABI 1.4), else the scan is
 * refused (status 2).  When the scan completes and publishes, the journal
 * is removed; when it is abandoned (pwalk_scan_stop(), a failure of the
 * walk), the journal and the parts are removed too.  When a sink or a
 * checkpoint fails (status 3, PWALK_FAIL_SINK or _CHECKPOINT: a full disk,
 * most often) after a journal was written, that journal and the parts it
 * names are kept, and the message ends "continue with --resume FILE": the
 * scan resumes from that checkpoint once the cause is mended. */

/* A duration as scan.checkpoint_every and scan.time_limit take it: "90"
 * (seconds), "90s", "5m", "3h50m", "1d12h", "1h30m15s", "500ms", or SLURM's
 * "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM", "D-HH:MM:SS"; above zero.  For a
 * driver's own options (pwalk-mpi's).  Returns 0 with *ms set, or -1.  Any
 * thread. */
int pwalk_parse_duration(const char *text, long long *ms);

/* Stop taking directories, let the ones being read finish, checkpoint and
 * return PWALK_INCOMPLETE from pwalk_scan_run() (outputs not published,
 * parts and journal kept).  Without scan.checkpoint it is
 * pwalk_scan_stop(s, SIGUSR1).  Any thread, async-signal-safe; a request
 * made before the run is kept. */
void pwalk_scan_suspend(pwalk_scan *s);

/* The next pwalk_scan_run() continues the scan the journal(s) describe,
 * and keeps checkpointing into journals[0] (a pwalk-mpi driver gives one
 * rank several journals when the job resumes with fewer ranks).  Checked
 * by pwalk_scan_run() before anything is written: a journal that is
 * missing, truncated, corrupt, of another format or pwalk version, or of
 * another pipeline (a changed sink, option, root or scan setting, or the
 * working directory when a root or an output path is relative; threads
 * and pacing may change) fails the run with PWALK_USAGE, failure
 * PWALK_FAIL_CHECKPOINT, and a one-line message naming the journal and
 * what differs; nothing is written and the parts are left untouched.
 * Returns 0, or PWALK_USAGE (n is 0) / PWALK_FAILED (out of memory). */
int pwalk_scan_resume(pwalk_scan *s, const char *const *journals, size_t n, char *err,
                      size_t errlen);

/* ---- Results (owner thread, after pwalk_scan_run() or _check()) ---------- */

/* The status pwalk_scan_run() returned (-1 before it ran). */
int pwalk_scan_status(const pwalk_scan *s);

/* Why the status is not 0, in one line ("" when it is 0), e.g.
 * "sink 'report': /out/x.csv: No space left on device; no output published". */
const char *pwalk_scan_message(const pwalk_scan *s);

/* What failed, as a field (no need to parse the message). */
typedef enum pwalk_failure {
    PWALK_FAIL_NONE = 0,
    PWALK_FAIL_CONFIG,      /* the pipeline or a setting (status 2)           */
    PWALK_FAIL_ROOT,        /* a root does not lstat (status 2; see _errno)   */
    PWALK_FAIL_PLUGIN,      /* a plugin not found/refused, or a bad sink
                               option (status 2; see _failed_sink)            */
    PWALK_FAIL_SINK,        /* a sink failed creating, writing or committing
                               its output (status 2 at create, else 3)        */
    PWALK_FAIL_ERRORS_FILE, /* the error file (scan.errors) could not be
                               opened (2) or written (3)                      */
    PWALK_FAIL_WALK,        /* the walk itself failed (out of memory, no
                               threads) (status 3)                            */
    PWALK_FAIL_SIGNAL,      /* pwalk_scan_stop() (status 128+N)               */
    PWALK_FAIL_CHECKPOINT,  /* a journal refused (2) or not written (3)       */
    PWALK_FAIL_SUSPENDED,   /* suspended at a checkpoint (status 75)          */
} pwalk_failure;
pwalk_failure pwalk_scan_failure(const pwalk_scan *s);

/* The name of the sink that failed (FAIL_PLUGIN, FAIL_SINK), else NULL. */
const char *pwalk_scan_failed_sink(const pwalk_scan *s);
/* That sink's own message, without the "sink 'NAME': " prefix, else NULL. */
const char *pwalk_scan_failed_message(const pwalk_scan *s);
/* FAIL_ROOT: the root and its lstat errno; else NULL and 0. */
const char *pwalk_scan_failed_path(const pwalk_scan *s);
int pwalk_scan_failed_errno(const pwalk_scan *s);

/* Counters of the finished scan (0 before it ran).  At the end:
 *     ENTRIES == ROWS + STAT_ERRORS + FILTERED                            */
typedef enum pwalk_counter {
    PWALK_COUNT_ENTRIES = 0,    /* names read from directories, plus roots  */
    PWALK_COUNT_ROWS,           /* rows handed to the sinks                 */
    PWALK_COUNT_DIRS,           /* directory rows                           */
    PWALK_COUNT_ERRORS,         /* error records of kind FAILED (walk's and
                                   sinks' entry_error())                    */
    PWALK_COUNT_VANISHED,       /* records of kinds VANISHED and REPLACED   */
    PWALK_COUNT_REPLACED,       /* of those, REPLACED                       */
    PWALK_COUNT_WALK_ERRORS,    /* of ERRORS, the walk's own                */
    PWALK_COUNT_STAT_ERRORS,    /* entries whose lstat failed: no row       */
    PWALK_COUNT_READ_ERRORS,    /* directories that could not be read       */
    PWALK_COUNT_FILTERED,       /* entries left out, all reasons            */
    PWALK_COUNT_FILTERED_SNAPSHOT,
    PWALK_COUNT_FILTERED_EXCLUDE,
    PWALK_COUNT_FILTERED_OTHER_FILESYSTEM,
    PWALK_COUNT_FILTERED_DEPTH,
    PWALK_COUNT_FILTERED_OWN_OUTPUT,
    PWALK_COUNT_MAX             /* not a counter; new ones go before it     */
} pwalk_counter;
uint64_t pwalk_scan_counter(const pwalk_scan *s, pwalk_counter which);
/* The counter's short name: "entries", ..., and for the filter reasons the
 * names the summary uses ("snapshot", "exclude", "other-filesystem",
 * "depth", "own-output").  NULL for an unknown value.  Any thread. */
const char *pwalk_counter_name(pwalk_counter which);
/* Seconds the walk took. */
double pwalk_scan_seconds(const pwalk_scan *s);

/* The summary the command line prints at the end, one or more lines each
 * ending in '\n' ("pwalk: 12 entries in 0.01 s (...): 12 rows, 0 errors,
 * 0 filtered; sink 'report': 12 rows\n" and the first errors); "" before
 * the scan ran. */
const char *pwalk_scan_summary(const pwalk_scan *s);

/* The sinks of the pipeline (valid before the run too), in pipeline
 * order: name, plugin as configured, a scalar option's value as
 * configured (NULL when unset or a list), and rows accepted by the run. */
size_t pwalk_scan_sink_count(const pwalk_scan *s);
const char *pwalk_scan_sink_name(const pwalk_scan *s, size_t i);
const char *pwalk_scan_sink_plugin(const pwalk_scan *s, size_t i);
const char *pwalk_scan_sink_option(const pwalk_scan *s, size_t i, const char *key);
uint64_t pwalk_scan_sink_rows(const pwalk_scan *s, size_t i);
/* The options as configured, by index: key, and either a scalar value
 * (*items NULL) or a list (value NULL, *items its item_count strings). */
size_t pwalk_scan_sink_option_count(const pwalk_scan *s, size_t i);
const char *pwalk_scan_sink_option_at(const pwalk_scan *s, size_t i, size_t k,
                                      const char **value, const char *const **items,
                                      size_t *item_count);

/* scan.errors (the error file's path) or NULL; the roots as configured;
 * the snapshot directory names (scan.snapshot_names). */
const char *pwalk_scan_errors_path(const pwalk_scan *s);
size_t pwalk_scan_root_count(const pwalk_scan *s);
const char *pwalk_scan_root(const pwalk_scan *s, size_t i);
size_t pwalk_scan_snapshot_name_count(const pwalk_scan *s);
const char *pwalk_scan_snapshot_name(const pwalk_scan *s, size_t i);

/* Free s and everything it owns.  s must not be running (pwalk_scan_stop()
 * it and wait for pwalk_scan_run() to return).  NULL is fine. */
void pwalk_scan_free(pwalk_scan *s);

/* ---- Plugins and the machine ---------------------------------------------- */

/* A plugin's description and options (what --describe prints), found on
 * s's plugin path (the pipeline's plugin_path, $PWALK_PLUGIN_PATH, the
 * built-in directory).  Returns text allocated with malloc (free it with
 * pwalk_free()), or NULL with a message in err (plugin not found or
 * refused).  Owner thread of s; s is not changed. */
char *pwalk_scan_describe(const pwalk_scan *s, const char *plugin, char *err, size_t errlen);

/* Free memory the library allocated for the caller. */
void pwalk_free(void *p);

/* The thread count a scan with scan.threads 0 uses: the SLURM allocation,
 * else the CPUs this process may run on.  *from (may be NULL) names the
 * source ("SLURM_CPUS_PER_TASK", "sched_getaffinity", ...).  Returns the
 * count, or -1 with a message.  Any thread. */
int pwalk_auto_threads(const char **from, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
