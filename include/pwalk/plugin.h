/*
 * pwalk/plugin.h -- the one header a pwalk output plugin ("sink") needs.
 *
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * A plugin is a shared object that exports ONE function:
 *
 *     const pwalk_plugin *pwalk_plugin_entry_v1(void);
 *
 * The "_v1" is the ABI major version.  An incompatible change to this header
 * renames that function, so an engine never calls into a plugin whose structs
 * it would misread; dlsym() is only guaranteed for functions, which is why the
 * version lives in a function name and not in a data symbol.  Compatible
 * additions bump PWALK_ABI_MINOR and append fields at the END of structs;
 * every struct that crosses the boundary begins with its own size, so each
 * side can tell which fields the other knows about.
 *
 * The plugin links no engine symbols: everything the engine offers reaches it
 * through the pwalk_host table of function pointers, so the same .so loads in
 * `pwalk-engine`, in `pwalk-mpi` and in the Python package.
 *
 * Lifecycle (one sink = one configured instance of a plugin):
 *
 *     dlopen + pwalk_plugin_entry_v1()       engine checks size, major, minor,
 *          |                                 name; validates the YAML options
 *          v                                 against plugin->options[]
 *     create(host, ctx, &instance)           main thread, once per sink; open
 *          |                                 outputs, host->own_output() (1.2)
 *          v                                 each one inside the scanned tree
 *     thread_open(instance, w, &tstate)      once per worker w = 0..n-1, on the
 *          |                                 main thread, before the walk
 *          v
 *     consume(instance, tstate, entries, n)  worker threads, many times
 *     error(instance, tstate, err)           (optional) worker threads
 *          |
 *          v
 *     thread_close(instance, tstate)         main thread, after the walk, for
 *          |                                 every tstate that was opened
 *          v
 *     prepare(instance)        (1.1)         main thread, only when the scan
 *          |                                 completed: make the output whole
 *          |                                 and durable, not yet published
 *          v
 *     finish(instance, scan_status)          main thread: commit (status 0) or
 *          |                                 abandon (status != 0) the output
 *          v
 *     destroy(instance)                      main thread, always, also when
 *                                            create() or any step failed
 *                                            (instance may then be NULL)
 *
 * Merge lifecycle (1.3, only for a plugin with a merge callback): when a
 * scan is split over several processes (pwalk-mpi, scan_facts.ranks > 1),
 * each rank's instance runs the lifecycle above but writes a PARTIAL result
 * (its own private, versioned format) at the output path it was given,
 * which the driver has renamed per rank (the shard name).  After every rank
 * finished, ONE process runs a second lifecycle of the same sink, with the
 * unsharded options and no walk:
 *
 *     create(host, ctx, &instance)           main thread; scan_facts() gives
 *          |                                 the whole scan's facts (ranks
 *          v                                 > 1, summed counts, rank 0)
 *     merge(instance, partials, count)       main thread, once: read every
 *          |                                 rank's partial (paths borrowed)
 *          v
 *     prepare(instance) -> finish(instance, 0 or non-zero) -> destroy()
 *
 * No thread_open/consume/thread_close in between, and host->worker_count
 * is 0 (in a rank's scan it is >= 1): that is how create() tells the merge
 * instance (write the final output at the unsharded path) from a rank's
 * (write a partial).  The partials belong to
 * the driver: it removes them after a successful finish(0), keeps them on
 * failure.  A plugin without merge keeps one output per rank (shards).
 *
 * Checkpoint lifecycle (1.4, only for a plugin with a checkpoint
 * callback; a scan with scan.checkpoint refuses, exit status 2, a sink
 * whose plugin has none).  The scan keeps a journal so that it can stop
 * (SIGUSR1, --time-limit) or die (SIGKILL, a node crash) and be resumed
 * later by another process, as many times as needed:
 *
 *     create()                     a fresh scan: host->checkpoint_count()
 *          |                       is 0.  A resumed one: count >= 1, and
 *          |                       create() continues from the states
 *          |                       host->checkpoint_state() gives (reopen
 *          |                       the parts they name, cut them back to
 *          |                       the saved length) instead of starting
 *          v                       new outputs
 *     thread_open() ... consume()
 *          |
 *          |  the walk is paused: no consume()/error() runs, none starts
 *          v  until checkpoint() returned
 *     checkpoint(instance)         main thread, every checkpoint_every and
 *          |                       once more before a suspension: make
 *          |                       everything consumed so far durable
 *          |                       (flush every tstate, fsync) and describe
 *          |                       it in ONE host->checkpoint_save() call;
 *          v                       then the walk goes on (or stops)
 *     consume() ... checkpoint() ... (repeated)
 *          |
 *          +-- walk complete:  thread_close() -> prepare() -> finish(0 or
 *          |                   non-zero) -> destroy(), as always
 *          +-- suspended:      thread_close() -> finish(PWALK_SUSPENDED)
 *                              -> destroy(): keep the parts the last
 *                              checkpoint() described, exactly as they
 *                              are; write nothing more to them, publish
 *                              nothing, remove nothing they need
 *
 * The saved state is the plugin's own bytes (version them), kept in the
 * journal; the engine gives them back to the create() of the resumed
 * scan.  count > 1 happens when a pwalk-mpi job resumes with fewer ranks:
 * one rank continues several ranks' states, and joins them (compressed
 * frames and gzip members concatenate) or merges them (a summary).  Data
 * written after the last checkpoint() is what a crash loses: the resumed
 * scan reads those directories again, so it must be cut off, never kept.
 * finish(non-zero other than PWALK_SUSPENDED) abandons as always: remove
 * the parts too.  A resumed scan that fails before its walk starts (a bad
 * option, a missing part) gets finish(PWALK_SUSPENDED), so the journal
 * stays usable.
 *
 * A failed create() is still followed by finish(instance, non-zero) and
 * destroy(instance), with instance as create() left it: NULL unless it
 * stored one before failing.  So finish() and destroy() must accept NULL,
 * and create() may leave a half-made instance for them to clean up.
 *
 * Errors: every int-returning callback returns PWALK_OK (0) or a negative
 * PWALK_ERR_* code for a failure of the whole sink (the scan stops, exit
 * status 3, the sink named as the failed one).  consume() may also return
 * PWALK_STOP to end the scan early: the walk stops, no sink counts as
 * failed, but the scan is incomplete, so it ends with status 3 (PWALK_FAILED,
 * "scan stopped by a sink") and no sink publishes its output (finish() gets
 * a non-zero status).  Other callbacks have no use for PWALK_STOP.  Put the
 * message in host->set_error(ctx, ...) first: the engine prints it prefixed
 * with the sink's name.  A problem with ONE entry (a file the sink could not
 * act on) is not a sink failure: report it with host->entry_error() and go on.
 *
 * Outputs inside the scanned tree (1.2): a sink that writes a file under a
 * root (a report in ".") registers the file's fd with host->own_output()
 * right after creating it, so the walk leaves it out.  As for every service
 * added after 1.0, check PWALK_HOST_HAS(host, own_output) before the call
 * (a host table of 1.1 ends before it).  And declare every option whose
 * value is a file the sink writes with PWALK_OPTION_OUTPUT (1.2), so the
 * engine can refuse two outputs on one file before anything is opened.
 *
 * Ownership: whoever allocates frees.  Entries, strings and option values
 * passed to the plugin are borrowed for the duration of the call only; copy
 * what you keep.  Two exceptions (1.3), both the engine's: the hostname,
 * version and roots host->scan_facts() hands out stay valid until
 * destroy(); the partial files merge() is given belong to the driver, which
 * removes them once finish(0) published the merged output.  The plugin owns instance and tstate and frees them in
 * thread_close() / destroy().
 *
 * This header is self-contained C99 and C++: it needs only <stddef.h> and
 * <stdint.h>, and boundary structs use fixed-width types only (no time_t,
 * off_t, struct stat, bool or enum, whose sizes vary between compilers).
 */
#ifndef PWALK_PLUGIN_H
#define PWALK_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PWALK_ABI_MAJOR 1
#define PWALK_ABI_MINOR 4 /* 1.1: pwalk_host.prune, pwalk_plugin.prepare;
                            1.2: pwalk_host.own_output, pwalk_error.kind,
                            pwalk_host.attachment,
                            pwalk_option_spec.flags (PWALK_OPTION_OUTPUT);
                            1.3: pwalk_scan_facts, pwalk_host.scan_facts,
                            pwalk_plugin.merge;
                            1.4: pwalk_plugin.checkpoint,
                            pwalk_host.checkpoint_save/_count/_state,
                            pwalk_scan_facts.sessions, finish()'s
                            PWALK_SUSPENDED */

/* The exported entry point's name, for the loader and for plugin authors. */
#define PWALK_PLUGIN_ENTRY_SYMBOL "pwalk_plugin_entry_v1"

#if defined(__GNUC__)
#define PWALK_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define PWALK_PLUGIN_EXPORT
#endif

/* ---- Return codes ------------------------------------------------------ */
#define PWALK_OK 0
#define PWALK_STOP 1            /* consume(): end the scan early (status 3,
                                   no output published, no sink failed) */
#define PWALK_ERR -1            /* generic failure of the sink            */
#define PWALK_ERR_NOMEM -2      /* out of memory                          */
#define PWALK_ERR_IO -3         /* write/rename/fsync failed (disk full)  */
#define PWALK_ERR_CONFIG -4     /* an option value the plugin rejects     */

/* finish()'s scan_status when the scan was suspended at a checkpoint (1.4):
 * keep what the last checkpoint() described, publish nothing.  The same
 * number as the command line's exit status for it (PWALK_INCOMPLETE in
 * pwalk/pwalk.h, sysexits' EX_TEMPFAIL). */
#define PWALK_SUSPENDED 75

/* ---- One directory entry (one CSV row) ---------------------------------- */

/* pwalk_entry.flags */
#define PWALK_ENTRY_ROOT 0x1u       /* a root given to the scan           */
#define PWALK_ENTRY_UNREADABLE 0x2u /* a directory that could not be read:
                                       fcount = -1, dirsum = 0           */

typedef struct pwalk_entry {
    uint32_t struct_size;   /* sizeof(pwalk_entry) of the engine          */
    uint32_t flags;         /* PWALK_ENTRY_*                              */

    /* Full path as raw bytes (NUL-terminated; may contain any byte but NUL,
     * may be longer than PATH_MAX).  path + name_offset is the entry's own
     * name (for a root: the root as given). */
    const char *path;
    uint32_t path_len;
    uint32_t name_offset;

    /* Where the entry is, for plugins that act on it without re-resolving
     * a path string: for a non-directory, parent_fd is an open directory fd
     * of the containing directory and name is the entry's name in it; for a
     * directory that was read, self_fd is its own fd, opened with
     * O_NOFOLLOW|O_DIRECTORY and checked against st_dev/st_ino (else -1).
     * Directory rows and roots have parent_fd -1: the engine closes a
     * directory's fd once its names are read, so a 5000-level tree does not
     * hold 5000 fds.  Both fds belong to the engine and are valid only
     * during the call. */
    const char *name;
    int32_t parent_fd;
    int32_t self_fd;

    int32_t depth;          /* root -1, its entries 0, ...                */
    uint32_t mode;          /* st_mode, type bits included                */
    uint32_t uid;
    uint32_t gid;
    uint64_t ino;
    uint64_t parent_ino;    /* 0 for roots                                */
    uint64_t dev;           /* st_dev as the kernel's dev_t number        */
    uint64_t nlink;
    int64_t size;
    int64_t blocks;         /* st_blocks (512-byte units)                 */
    int64_t atime_sec;
    int64_t mtime_sec;
    int64_t ctime_sec;
    uint32_t atime_nsec;
    uint32_t mtime_nsec;
    uint32_t ctime_nsec;
    uint32_t reserved0;
    int64_t fcount;         /* directories: entries read; others -1       */
    int64_t dirsum;         /* directories: sum of entries' st_size       */
    uint64_t root_dev;      /* st_dev of the root this entry was found
                               under (one_file_system and repair compare
                               against it)                                */
} pwalk_entry;

/* consume() receives an ARRAY of entries whose element size is the
 * engine's sizeof(pwalk_entry), given in every entry's struct_size.  A
 * later minor version may append fields, so a plugin must step through the
 * array with this macro, never with entries[i]:
 *
 *     for (size_t i = 0; i < count; i++) {
 *         const pwalk_entry *e = PWALK_ENTRY_AT(entries, i);
 *         ...
 *     }
 *
 * (The loader refuses plugins built for a newer minor than the engine's,
 * so the engine's entries are never smaller than the plugin's struct.) */
#define PWALK_ENTRY_AT(entries, i)                                             \
    ((const pwalk_entry *)(const void *)((const char *)(entries) +           \
                                         (size_t)(i) * (entries)->struct_size))

/* ---- One entry that could not be read ----------------------------------- */

/* pwalk_error.kind (1.2; an engine of 1.0/1.1 passes 0 there, which was
 * reserved0).  On a live filesystem names disappear between the directory
 * listing and lstat/open: that is a change, not a failure, and does not
 * make the exit status 1 unless the scan is strict. */
#define PWALK_ERROR_FAILED 0u   /* the entry exists and could not be read */
#define PWALK_ERROR_VANISHED 1u /* gone since it was listed (ENOENT)      */
#define PWALK_ERROR_REPLACED 2u /* a directory replaced since it was
                                   listed (another inode, or no longer a
                                   directory); error_number 0 when the
                                   open itself succeeded                 */

typedef struct pwalk_error {
    uint32_t struct_size;
    int32_t error_number;   /* errno value (0: see PWALK_ERROR_REPLACED)  */
    const char *path;       /* raw bytes, NUL-terminated                  */
    uint32_t path_len;
    uint32_t kind;          /* PWALK_ERROR_* (1.2; was reserved0)         */
    const char *operation;  /* "lstat", "opendir", "getdents", ...        */
} pwalk_error;

/* ---- Options a plugin declares ------------------------------------------ */

/* pwalk_option_spec.type */
#define PWALK_OPT_STRING 1u
#define PWALK_OPT_BOOL 2u
#define PWALK_OPT_INT 3u
#define PWALK_OPT_ENUM 4u        /* a string from choices                 */
#define PWALK_OPT_STRING_LIST 5u /* YAML sequence of strings              */

/* pwalk_option_spec.flags (1.2; the field was reserved0 before, so an
 * engine reads it only from a plugin whose abi_minor is 2 or more) */
#define PWALK_OPTION_OUTPUT 0x1u /* the value names a file this plugin
                                    writes (a STRING option): the engine
                                    refuses a pipeline where two outputs,
                                    or an output and the scan's error
                                    file, are one file.  "-" (stdout) and
                                    "" are no file.  A plugin of ABI 1.0 or
                                    1.1 has no flags: its options named
                                    "path" and "log" are taken as outputs */

typedef struct pwalk_option_spec {
    const char *name;
    uint32_t type;              /* PWALK_OPT_*                            */
    uint32_t flags;             /* PWALK_OPTION_* (1.2; was reserved0)    */
    const char *default_value;  /* as YAML text; NULL = no default        */
    const char *choices;        /* ENUM: "a|b|c"; INT: "min..max" or NULL */
    const char *help;           /* one line, for --describe               */
} pwalk_option_spec;

/* Opaque handles the engine passes back to its own services. */
typedef struct pwalk_host_ctx pwalk_host_ctx;
typedef struct pwalk_options pwalk_options;

/* ---- Facts about the scan (1.3) ------------------------------------------ */

/* pwalk_scan_facts.flags (1.4; an engine of 1.3 passes 0 there).
 * PARTIAL: this process's merging sinks write a partial even though ranks
 * is 1 -- a pwalk-mpi job that keeps a journal, whose resumed sessions may
 * run with more ranks and then merge this one's work as a partial. */
#define PWALK_FACTS_PARTIAL 0x1u

/* One process's part of a scan's time (1.4): epoch seconds. */
typedef struct pwalk_session {
    int64_t start_sec;
    int64_t end_sec;
} pwalk_session;

/* Filled by host->scan_facts().  The caller sets struct_size to its own
 * sizeof(pwalk_scan_facts) first; the engine fills only the fields that fit
 * and sets struct_size to what it wrote (the smaller of the two), so a
 * plugin built against a later minor checks PWALK_STRUCT_HAS(&facts,
 * pwalk_scan_facts, field).  Strings and the roots array belong to the
 * engine and stay valid until destroy(). */
typedef struct pwalk_scan_facts {
    uint32_t struct_size;       /* caller sets sizeof before the call     */
    uint32_t thread_count;      /* walk threads of this process: the ones
                                   the sinks are started for (threads:
                                   auto: scan.max_threads), from prepare()
                                   on the most that ran at once           */
    int32_t rank, ranks;        /* 0,1 unless the scan is split over MPI
                                   ranks (pwalk-mpi); the merge lifecycle
                                   runs with rank 0 and ranks > 1         */
    int64_t start_sec;          /* scan start, epoch seconds (CLOCK_REALTIME;
                                   under MPI rank 0's, shared by all)    */
    int64_t end_sec;            /* 0 until the walk ended                 */
    const char *hostname;       /* gethostname() of this process          */
    const char *version;        /* pwalk's version string                 */
    const char *const *roots;   /* the roots as given, root_count of them */
    uint32_t root_count;
    uint32_t flags;             /* PWALK_FACTS_* (1.4; was reserved0)     */
    uint64_t entries, errors, filtered;  /* this process's counts (merge:
                                   every rank's summed); 0 during the walk,
                                   final from prepare() on                */
    /* 1.4: the sessions the scan ran in, oldest first: 1 for a scan that
     * ran in one go, more after it was suspended or died and was resumed.
     * The last is the running one (its end_sec 0 until the walk ended); a
     * session that died ends at its last checkpoint.  Counts above cover
     * every session. */
    uint32_t session_count;
    uint32_t reserved1;
    const pwalk_session *sessions;
} pwalk_scan_facts;


/* ---- Services the engine offers a plugin -------------------------------- */
typedef struct pwalk_host {
    uint32_t struct_size;
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t worker_count;      /* workers that will call consume(); 0 in
                                   a merge lifecycle (1.3)                */

    /* The validated options of this sink.  Values of declared options that
     * the YAML did not set come from default_value.  Getters return 0 on
     * success, negative if the option is unknown or has no value.
     * Strings stay valid until destroy(). */
    int (*opt_string)(const pwalk_options *opts, const char *name,
                      const char **value);
    int (*opt_bool)(const pwalk_options *opts, const char *name,
                    int *value);
    int (*opt_int)(const pwalk_options *opts, const char *name,
                   int64_t *value);
    int (*opt_list_count)(const pwalk_options *opts, const char *name,
                          size_t *count);
    int (*opt_list_item)(const pwalk_options *opts, const char *name,
                         size_t index, const char **value);

    /* The message for the failure being returned; thread-safe. */
    void (*set_error)(pwalk_host_ctx *ctx, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;
    /* An informational or warning line on stderr, prefixed with the sink's
     * name; thread-safe. */
    void (*log)(pwalk_host_ctx *ctx, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;
    /* One entry the sink could not handle: counted in the scan's errors,
     * written to the error file, exit status 1.  Thread-safe. */
    void (*entry_error)(pwalk_host_ctx *ctx, const char *path,
                        int error_number, const char *operation);
    /* Non-zero once the scan is being stopped (signal, another sink
     * failed); long-running callbacks may poll it.  Thread-safe. */
    int (*stop_requested)(pwalk_host_ctx *ctx);
    /* The sink's configured name ("inventory"). */
    const char *(*sink_name)(pwalk_host_ctx *ctx);

    /* ---- ABI 1.1 ----  (check host->struct_size before use: an engine
     * of ABI 1.0 passes a table that ends above.) */

    /* From create() only, main thread.  The walk does not descend into
     * entries matching `pattern` (scan.exclude's rules: with a '/' the full
     * path, an exact path or a glob; without, the entry's name): they reach
     * no sink of this walk and are counted as filtered (exclude).  For a
     * sink that must not even see a subtree (repair-action's exclude), not
     * to hide rows from itself.  The engine copies the pattern.  Returns 0,
     * or a negative PWALK_ERR_* (out of memory; called after create()). */
    int (*prune)(pwalk_host_ctx *ctx, const char *pattern);

    /* ---- ABI 1.2 ----  (check PWALK_HOST_HAS(host, own_output): an engine
     * of ABI 1.0 or 1.1 passes a table that ends above.) */

    /* From create() or thread_open() only, main thread: "fd is a file this
     * sink writes; leave it out of the walk".  An output written inside
     * the scanned tree (a temporary name the engine cannot guess) would
     * otherwise be listed as it grows.  The engine fstat()s fd and leaves
     * out the file with that st_dev/st_ino (counted as filtered, reason
     * own-output; its name still counts in its directory's pw_fcount, its
     * size not in pw_dirsum).  Only regular files are recorded (stdout on
     * a pipe or terminal is ignored).  The set is the scan's own, so
     * concurrent scans in one process do not see each other's.  Returns 0,
     * or a negative PWALK_ERR_* (fstat failed, out of memory, called after
     * the walk started). */
    int (*own_output)(pwalk_host_ctx *ctx, int fd);

    /* (1.2, check PWALK_HOST_HAS(host, attachment).)  The pointer the
     * program running the scan attached to this sink with
     * pwalk_scan_attach() (pwalk/sys/attach.h), or NULL.  It is how an
     * in-process consumer meets its sink: the walk-iterator plugin finds
     * its pwalk_iter_consumer (pwalk/walk_iterator.h) here.  What it
     * points to is a contract between that plugin and its embedder; the
     * engine neither reads nor frees it.  Any thread. */
    void *(*attachment)(pwalk_host_ctx *ctx);

    /* ---- ABI 1.3 ----  (check PWALK_HOST_HAS(host, scan_facts).) */

    /* Main thread, any time from create() to destroy(): fill *out (set
     * out->struct_size first) with the scan's facts; entries, errors,
     * filtered and end_sec are final from prepare() on.  Returns 0, or a
     * negative PWALK_ERR_* (out is NULL or struct_size is too small to hold
     * thread_count). */
    int (*scan_facts)(pwalk_host_ctx *ctx, pwalk_scan_facts *out);

    /* ---- ABI 1.4 ----  (check PWALK_HOST_HAS(host, checkpoint_state);
     * see "Checkpoint lifecycle" above) */

    /* From checkpoint() only, main thread, once per call: the state that
     * lets a resumed create() continue from here (len bytes, copied).
     * Returns 0, or a negative PWALK_ERR_* (out of memory, not inside
     * checkpoint()). */
    int (*checkpoint_save)(pwalk_host_ctx *ctx, const void *state, size_t len);
    /* From create() on, main thread: how many saved states this sink
     * continues (0: a fresh scan). */
    size_t (*checkpoint_count)(pwalk_host_ctx *ctx);
    /* State i < checkpoint_count(): *state, *len (the engine's, valid
     * until destroy()).  Returns 0, or PWALK_ERR for a bad index. */
    int (*checkpoint_state)(pwalk_host_ctx *ctx, size_t i, const void **state, size_t *len);
} pwalk_host;

/* Does the struct at ptr (of type `type`, starting with struct_size) reach
 * member `field`?  Fields appended in a later minor are absent from a
 * struct built against an earlier one. */
#define PWALK_STRUCT_HAS(ptr, type, field) \
    ((ptr)->struct_size >= offsetof(type, field) + sizeof((ptr)->field))
/* The engine's host table, as the plugin sees it. */
#define PWALK_HOST_HAS(host, field) PWALK_STRUCT_HAS(host, pwalk_host, field)

/* ---- The plugin's description -------------------------------------------- */

/* pwalk_plugin.threading: how consume()/error() may be called. */
#define PWALK_THREADING_PER_WORKER 1u /* concurrently, each worker with its
                                         own tstate (one zstd context per
                                         thread is this mode)            */
#define PWALK_THREADING_SERIAL 2u     /* the engine holds a lock around
                                         every call: never concurrent     */

/* pwalk_plugin.flags */
#define PWALK_PLUGIN_MUTATES_FS 0x1u  /* changes the filesystem: a pipeline
                                         must say allow_mutation: true    */

typedef struct pwalk_plugin {
    uint32_t struct_size;       /* sizeof(pwalk_plugin) when built        */
    uint32_t abi_major;         /* PWALK_ABI_MAJOR when built             */
    uint32_t abi_minor;         /* PWALK_ABI_MINOR when built             */
    uint32_t flags;             /* PWALK_PLUGIN_*                         */
    uint32_t threading;         /* PWALK_THREADING_*                      */
    uint32_t option_count;
    const char *name;           /* must equal the name in the pipeline    */
    const char *version;        /* the plugin's own version string        */
    const char *description;    /* one line                               */
    const pwalk_option_spec *options;

    /* Main thread.  Read options, open outputs (under temporary names),
     * fail early on bad options (return PWALK_ERR_CONFIG: exit status 2).
     * Required. */
    int (*create)(const pwalk_host *host, pwalk_host_ctx *ctx,
                  const pwalk_options *opts, void **instance);
    /* Main thread, once per worker before the walk.  Optional (NULL: the
     * tstate passed to consume() is NULL). */
    int (*thread_open)(void *instance, uint32_t worker, void **tstate);
    /* Worker threads.  entries[0..count-1] are borrowed for this call; a
     * directory's own entry comes after the entries read from it.
     * Required. */
    int (*consume)(void *instance, void *tstate,
                   const pwalk_entry *entries, size_t count);
    /* Worker threads: an entry that could not be read.  Optional. */
    int (*error)(void *instance, void *tstate, const pwalk_error *err);
    /* Main thread, after the walk, for every opened tstate: flush and free
     * it.  Optional. */
    int (*thread_close)(void *instance, void *tstate);
    /* Main thread: scan_status 0 = the scan completed (commit the output,
     * e.g. rename the temporary file); non-zero = it failed or was
     * interrupted (remove temporary files, never publish).  Optional. */
    int (*finish)(void *instance, int32_t scan_status);
    /* Main thread, always last; instance may be NULL (a create() that
     * failed before storing one).  Optional. */
    void (*destroy)(void *instance);

    /* ---- ABI 1.1 ---- (the engine reads it only when struct_size says
     * the plugin has it) */

    /* Main thread, after every thread_close() and before ANY sink's
     * finish(0): do everything that can fail (flush, compress the tail,
     * fsync the temporary file) but do not publish.  Every sink prepares
     * first; if one fails, every sink gets finish(non-zero), so one failing
     * output never leaves the others published.  finish(0) is then only
     * the rename.  Optional (NULL: finish(0) does all of it, and a failure
     * there cannot take back the outputs committed before it). */
    int (*prepare)(void *instance);

    /* ---- ABI 1.3 ---- (read only when struct_size says the plugin has it;
     * see "Merge lifecycle" above) */

    /* Main thread, once, between create() and prepare() of a merge
     * lifecycle (no walk): combine partials[0..count-1], the files every
     * rank's instance wrote, into this instance's result, as if one process
     * had walked.  Paths are borrowed; do not remove them.  A partial that
     * is missing, truncated or of another format version is a failure
     * (set_error naming the file, PWALK_ERR_IO or PWALK_ERR_CONFIG).
     * Optional (NULL: under MPI each rank's output stays a shard). */
    int (*merge)(void *instance, const char *const *partials, size_t count);

    /* ---- ABI 1.4 ---- (read only when struct_size says the plugin has it;
     * see "Checkpoint lifecycle" above) */

    /* Main thread, while the walk is paused (every tstate idle: the plugin
     * may flush them): make every entry and error consumed so far durable
     * and call host->checkpoint_save() once with the state to resume
     * from.  A failure fails the scan (exit 3, nothing published).
     * Optional (NULL: the plugin cannot be used with scan.checkpoint). */
    int (*checkpoint)(void *instance);
} pwalk_plugin;

/* The one symbol a plugin exports. */
typedef const pwalk_plugin *(*pwalk_plugin_entry_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PWALK_PLUGIN_H */
