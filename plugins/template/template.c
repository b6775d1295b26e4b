/*
 * template.c -- a complete, small pwalk sink to copy when writing your own.
 *
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * What it does: counts entries and bytes per file type while the walk runs,
 * and when the scan completes writes a summary such as
 *
 *     regular files 1520, bytes 73400320
 *     directories 88, bytes 360448
 *     symlinks 4, bytes 112
 *     ...
 *
 * to the file named by the option `path` ("-", the default, is stdout).
 *
 * How to read it: the numbered steps below are the order in which you
 * would write a plugin, and each one says which rule of pwalk/plugin.h it
 * shows:
 *
 *     1. declare the options (an output file flagged PWALK_OPTION_OUTPUT)
 *     2. the state: one instance per sink, one tstate per worker
 *     3. create():       read options, create the output, own_output()
 *     4. thread_open():  a state per worker
 *     5. consume():      the hot path, no locks
 *     6. error():        an entry the walk could not read
 *     7. thread_close(): fold a worker's state in
 *     8. prepare():      everything that can fail (write, flush, fsync)
 *     9. finish():       publish (only the rename) or abandon
 *    10. destroy():      free, remove an unpublished temporary
 *    11. describe the plugin, export the one entry point
 *
 * To start your own, copy this file, rename `template` everywhere (the
 * plugin name must equal the file's base name and the name used in the
 * pipeline), and replace the counting with your work.  README.md here
 * walks through it: copy, rename, build (Bazel or a plain cc), load, test.
 *
 * The only include from pwalk is <pwalk/plugin.h>: a plugin links no engine
 * symbols, everything the engine offers arrives through `host`.  Services
 * and callbacks added after ABI 1.0 are marked with the minor that added
 * them; each use of a host service checks PWALK_HOST_HAS() first.
 */
#define _POSIX_C_SOURCE 200809L /* openat, renameat, fdopen, fsync */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pwalk/plugin.h"

/* ---- 1. Declare your options --------------------------------------------
 *
 * The engine checks the pipeline's YAML against this table before create()
 * runs (wrong type, unknown key, value outside an enum: all reported with
 * file:line:column), fills in defaults, and prints it for
 * `pwalk-engine --describe template`.  So create() never has to validate a
 * type, only what the table cannot express (here: an empty path).
 * Defaults are written as YAML text.
 *
 * An option whose value is a file you write gets PWALK_OPTION_OUTPUT
 * (ABI 1.2): the engine then refuses a pipeline in which two sinks, or a
 * sink and the scan's error file, would write the same file -- whatever
 * the option is called.
 */
static const pwalk_option_spec template_options[] = {
    {"path", PWALK_OPT_STRING, PWALK_OPTION_OUTPUT, "-", NULL,
     "where to write the summary; \"-\" is standard output"},
    {"units", PWALK_OPT_ENUM, 0, "bytes", "bytes|human",
     "print byte counts exactly, or rounded with KiB/MiB/GiB/TiB"},
};

/* ---- 2. Your state ---------------------------------------------------------
 *
 * Two kinds: one `instance` per configured sink (created by create(), freed
 * by destroy()), and one `tstate` per worker thread (thread_open() /
 * thread_close()).  With PWALK_THREADING_PER_WORKER, consume() runs on many
 * threads at once but each with its own tstate, so counting into the
 * tstate needs no lock and no atomics: the cheapest correct design.
 */
enum { T_REG, T_DIR, T_LNK, T_FIFO, T_SOCK, T_CHR, T_BLK, T_OTHER, T_COUNT };

static const char *const template_type_names[T_COUNT] = {
    "regular files", "directories", "symlinks", "fifos",
    "sockets", "character devices", "block devices", "other"};

typedef struct template_counts {
    uint64_t entries[T_COUNT];
    uint64_t bytes[T_COUNT];
    uint64_t unreadable_dirs;   /* directories the walk could not list */
    uint64_t errors;            /* entries reported through error()    */
} template_counts;

typedef struct template_instance {
    const pwalk_host *host;     /* borrowed: valid until destroy()      */
    pwalk_host_ctx *ctx;
    int human;
    int to_stdout;
    char *final_path;           /* where the summary is published       */
    char *tmp_path;             /* written here first (a name in dirfd)  */
    int prepared;               /* prepare() wrote it all and fsynced it */
    const char *final_name;     /* renamed to this name in dirfd         */
    char *dir_path;             /* the directory as given                */
    int dirfd;                  /* ... opened once, in create()          */
    dev_t dir_dev;
    ino_t dir_ino;
    FILE *out;
    template_counts total;      /* summed at thread_close()             */
} template_instance;

typedef struct template_tstate {
    template_counts counts;
} template_tstate;

static int template_type_of(uint32_t mode)
{
    mode_t m = (mode_t)mode; /* st_mode bits, type included */
    if (S_ISREG(m)) return T_REG;
    if (S_ISDIR(m)) return T_DIR;
    if (S_ISLNK(m)) return T_LNK;
    if (S_ISFIFO(m)) return T_FIFO;
    if (S_ISSOCK(m)) return T_SOCK;
    if (S_ISCHR(m)) return T_CHR;
    if (S_ISBLK(m)) return T_BLK;
    return T_OTHER;
}

/* The output file, created and renamed through its directory: the directory
 * is opened once, here, and the temporary created in it with O_EXCL and
 * O_NOFOLLOW (a name planted there is never opened).  A path string would
 * be resolved again at the rename: a user who can write a directory on the
 * path could swap it for a symlink during the scan, and a root scan's
 * rename would replace a file in someone else's directory.
 *
 * The temporary is named .NAME.pwalk-tmp-XXXXXX, as every file pwalk
 * writes, so one cleanup rule (README, "Outputs") covers a killed scan's
 * leftovers.  Its mode: 0600 from a root scan, whose totals cover
 * directories other users cannot read; otherwise 0666 less the umask, as
 * any program creating a file.  Returns the fd, or -1 with errno. */
static int template_create_tmp(template_instance *t)
{
    const char *path = t->final_path, *slash = strrchr(path, '/');
    t->final_name = slash ? slash + 1 : path;
    t->dir_path = !slash ? strdup(".")
                         : strndup(path, slash == path ? 1 : (size_t)(slash - path));
    static const char alnum[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char *name = malloc(strlen(t->final_name) + sizeof "..pwalk-tmp-XXXXXX");
    struct stat st;
    int fd = -1;
    errno = ENOMEM;
    if (t->dir_path && name && (t->dirfd = open(t->dir_path, O_RDONLY | O_DIRECTORY |
                                                                   O_CLOEXEC)) >= 0 &&
        fstat(t->dirfd, &st) == 0) {
        t->dir_dev = st.st_dev;
        t->dir_ino = st.st_ino;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        unsigned x = (unsigned)now.tv_nsec ^ ((unsigned)getpid() << 12);
        size_t n = (size_t)sprintf(name, ".%s.pwalk-tmp-XXXXXX", t->final_name);
        for (int attempt = 0; attempt < 100; attempt++) {
            for (size_t i = n - 6; i < n; i++) { /* a guessed name only costs a retry */
                x = x * 1103515245u + 12345u;
                name[i] = alnum[(x >> 16) % (sizeof alnum - 1)];
            }
            fd = openat(t->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        geteuid() == 0 ? 0600 : 0666);
            if (fd >= 0 || errno != EEXIST)
                break;
        }
    }
    if (fd >= 0)
        t->tmp_path = name; /* ours now: destroy() removes it */
    else
        free(name);
    return fd;
}

/* ---- 3. create(): read options, open the output, fail early ---------------
 *
 * Runs once on the main thread before the walk.  Anything that can go
 * wrong with the configuration should go wrong HERE, not after an hour of
 * scanning: return PWALK_ERR_CONFIG for a bad option value (exit status 2),
 * another PWALK_ERR_* for other failures, always after host->set_error().
 *
 * Output that others will read is written under a temporary name in the
 * target's directory and only renamed into place by finish(0), so a failed
 * or interrupted scan never leaves a complete-looking summary behind.
 * Tell the engine about the file at once (host->own_output, ABI 1.2): a
 * summary written inside the scanned tree is then not counted in itself.
 */
static int template_create(const pwalk_host *host, pwalk_host_ctx *ctx,
                           const pwalk_options *opts, void **instance)
{
    template_instance *t = calloc(1, sizeof *t);
    if (!t) {
        host->set_error(ctx, "out of memory");
        return PWALK_ERR_NOMEM;
    }
    /* Set *instance at once: destroy() is called even when create() fails,
     * and frees whatever was set up so far. */
    *instance = t;
    t->host = host;
    t->ctx = ctx;
    t->dirfd = -1;

    /* The engine has validated and defaulted both options, so the getters
     * cannot fail here; the strings they return are borrowed until
     * destroy(), but copying what you keep is the habit to have. */
    const char *path = "-";
    const char *units = "bytes";
    host->opt_string(opts, "path", &path);
    host->opt_string(opts, "units", &units);
    t->human = strcmp(units, "human") == 0;

    if (path[0] == '\0') {
        host->set_error(ctx, "option 'path' is empty; use \"-\" for standard output");
        return PWALK_ERR_CONFIG;
    }
    if (strcmp(path, "-") == 0) {
        t->to_stdout = 1;
        t->out = stdout;
        return PWALK_OK;
    }

    t->final_path = strdup(path);
    if (!t->final_path) {
        host->set_error(ctx, "out of memory");
        return PWALK_ERR_NOMEM;
    }
    int fd = template_create_tmp(t);
    if (fd < 0) {
        /* name the file the user asked for, not the temporary */
        host->set_error(ctx, "cannot create a temporary file beside %s: %s", path,
                        strerror(errno));
        return PWALK_ERR_IO;
    }
    /* A summary written inside the scanned tree must not count itself:
     * tell the engine this file is ours, so the walk leaves it out.  A
     * service added after ABI 1.0 is used only after checking that the
     * engine's table has it (PWALK_HOST_HAS); own_output failing is out of
     * memory or a bad fd, a failure of the sink (it set the message). */
    if (PWALK_HOST_HAS(host, own_output) && host->own_output(ctx, fd) != PWALK_OK) {
        close(fd);
        return PWALK_ERR;
    }
    t->out = fdopen(fd, "w");
    if (!t->out) {
        host->set_error(ctx, "cannot open %s: %s", t->tmp_path, strerror(errno));
        close(fd);
        return PWALK_ERR_IO;
    }
    return PWALK_OK;
}

/* ---- 4. thread_open(): one state per worker --------------------------------
 *
 * Main thread, once for each worker 0..host->worker_count-1, before the
 * walk starts.  Allocating here (not lazily in consume()) keeps consume()
 * free of allocation failures and of any shared state.
 */
static int template_thread_open(void *instance, uint32_t worker, void **tstate)
{
    template_instance *t = instance;
    template_tstate *ts = calloc(1, sizeof *ts);
    if (!ts) {
        t->host->set_error(t->ctx, "out of memory for worker %" PRIu32, worker);
        return PWALK_ERR_NOMEM;
    }
    *tstate = ts;
    return PWALK_OK;
}

/* ---- 5. consume(): the hot path --------------------------------------------
 *
 * Worker threads, concurrently, each with its own tstate.  entries[] and
 * everything they point to are borrowed for this call only: copy what you
 * keep.  Keep it cheap; it runs for every entry of the scan.  Return
 * PWALK_STOP to end the scan early: no sink counts as failed, but the scan
 * is incomplete, so it ends with status 3 and nothing is published.
 */
static int template_consume(void *instance, void *tstate, const pwalk_entry *entries,
                            size_t count)
{
    (void)instance;
    template_counts *c = &((template_tstate *)tstate)->counts;
    for (size_t i = 0; i < count; i++) {
        const pwalk_entry *e = PWALK_ENTRY_AT(entries, i); /* never entries[i] */
        int type = template_type_of(e->mode);
        c->entries[type]++;
        if (e->size > 0)
            c->bytes[type] += (uint64_t)e->size;
        if (e->flags & PWALK_ENTRY_UNREADABLE)
            c->unreadable_dirs++;
    }
    return PWALK_OK;
}

/* ---- 6. error(): an entry the walk could not read (optional) -------------
 *
 * The engine already counts and reports these; a sink implements error()
 * only if its output should mention them too.  Not a failure of the sink:
 * return PWALK_OK and go on.  err->kind (ABI 1.2; 0 from older engines)
 * tells a real error from an entry that vanished or a directory that was
 * replaced while the scan ran, which is normal on a live filesystem.
 */
static int template_error(void *instance, void *tstate, const pwalk_error *err)
{
    (void)instance;
    if (err->kind == PWALK_ERROR_FAILED)
        ((template_tstate *)tstate)->counts.errors++;
    return PWALK_OK;
}

/* ---- 7. thread_close(): fold the worker's state in, free it ---------------
 *
 * Main thread, after the walk, once for every tstate that was opened, one
 * at a time: adding into the instance needs no lock here either.
 */
static int template_thread_close(void *instance, void *tstate)
{
    template_instance *t = instance;
    template_tstate *ts = tstate;
    if (!ts)
        return PWALK_OK;
    for (int k = 0; k < T_COUNT; k++) {
        t->total.entries[k] += ts->counts.entries[k];
        t->total.bytes[k] += ts->counts.bytes[k];
    }
    t->total.unreadable_dirs += ts->counts.unreadable_dirs;
    t->total.errors += ts->counts.errors;
    free(ts);
    return PWALK_OK;
}

static const char *template_bytes(const template_instance *t, uint64_t b, char *buf,
                                  size_t cap)
{
    static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (!t->human || b < 1024) {
        snprintf(buf, cap, "%" PRIu64, b);
        return buf;
    }
    double v = (double)b;
    int u = -1;
    while (v >= 1024.0 && u < 5) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, cap, "%.1f %s", v, unit[u]);
    return buf;
}

static int template_write_summary(template_instance *t)
{
    uint64_t n = 0, b = 0;
    char buf[32];
    for (int k = 0; k < T_COUNT; k++) {
        n += t->total.entries[k];
        b += t->total.bytes[k];
        fprintf(t->out, "%s %" PRIu64 ", bytes %s\n", template_type_names[k],
                t->total.entries[k], template_bytes(t, t->total.bytes[k], buf, sizeof buf));
    }
    fprintf(t->out, "unreadable directories %" PRIu64 "\n", t->total.unreadable_dirs);
    fprintf(t->out, "errors %" PRIu64 "\n", t->total.errors);
    fprintf(t->out, "total entries %" PRIu64 ", bytes %s\n", n,
            template_bytes(t, b, buf, sizeof buf));
    return fflush(t->out) == 0 && !ferror(t->out) ? 0 : -1;
}

/* ---- 8. prepare(): everything that can fail, nothing published (1.1) ------
 *
 * Main thread, after every thread_close(), only when the scan completed.
 * Write the summary, flush it, fsync it, check that the output directory
 * is still the one opened in create() -- everything of the commit that can
 * fail -- but publish nothing.  The engine prepares every sink before it
 * lets any of them publish: if one fails here, all get finish(non-zero),
 * so one failing output never leaves the others published.  A full disk
 * shows up here at the latest: check every write, or a truncated summary
 * would be published as if complete.
 */
static int template_prepare(void *instance)
{
    template_instance *t = instance;
    if (template_write_summary(t) != 0) {
        t->host->set_error(t->ctx, "cannot write the summary to %s: %s",
                           t->to_stdout ? "standard output" : t->tmp_path, strerror(errno));
        return PWALK_ERR_IO;
    }
    if (t->to_stdout)
        return PWALK_OK;
    FILE *f = t->out;
    t->out = NULL;
    int bad = fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad) {
        t->host->set_error(t->ctx, "cannot write %s: %s", t->final_path, strerror(errno));
        return PWALK_ERR_IO;
    }
    /* The rename will go through dirfd, so it cannot land elsewhere; but if
     * the path no longer leads to that directory, someone swapped it and
     * the summary would be published where nobody looks: fail instead. */
    struct stat st;
    if (stat(t->dir_path, &st) != 0 || st.st_dev != t->dir_dev || st.st_ino != t->dir_ino) {
        t->host->set_error(t->ctx,
                           "cannot publish %s: output directory '%s' was replaced during the "
                           "scan",
                           t->final_path, t->dir_path);
        return PWALK_ERR_IO;
    }
    t->prepared = 1;
    return PWALK_OK;
}

/* ---- 9. finish(): publish or abandon ----------------------------------------
 *
 * Main thread, last before destroy().  scan_status 0: every sink prepared,
 * so publish -- here only the rename, the one step left.  Non-zero: the
 * scan failed, was interrupted, or a sink's prepare() failed: publish
 * nothing (destroy() removes the temporary).
 */
static int template_finish(void *instance, int32_t scan_status)
{
    template_instance *t = instance;
    if (scan_status != 0) {
        if (!t->to_stdout)
            t->host->log(t->ctx, "scan did not complete; %s not written", t->final_path);
        return PWALK_OK;
    }
    if (t->to_stdout)
        return PWALK_OK;
    if (!t->prepared) { /* an engine always prepares first; a test host might not */
        t->host->set_error(t->ctx, "finish(0) without a successful prepare(): %s not written",
                           t->final_path);
        return PWALK_ERR;
    }
    if (renameat(t->dirfd, t->tmp_path, t->dirfd, t->final_name) != 0) {
        t->host->set_error(t->ctx, "cannot publish %s: %s", t->final_path, strerror(errno));
        return PWALK_ERR_IO;
    }
    free(t->tmp_path);
    t->tmp_path = NULL; /* published: destroy() must not remove it */
    t->host->log(t->ctx, "summary written to %s", t->final_path);
    return PWALK_OK;
}

/* ---- 10. destroy(): always last, also after failures ---------------------
 *
 * instance may be NULL (create() failed before setting it) or half set up:
 * free exactly what exists.  A temporary file still here means the output
 * was never published, so it goes.
 */
static void template_destroy(void *instance)
{
    template_instance *t = instance;
    if (!t)
        return;
    if (t->out && !t->to_stdout)
        fclose(t->out);
    if (t->tmp_path)
        unlinkat(t->dirfd, t->tmp_path, 0);
    if (t->dirfd >= 0)
        close(t->dirfd);
    free(t->tmp_path);
    free(t->dir_path);
    free(t->final_path);
    free(t);
}

/* ---- 11. Describe the plugin and export the one entry point ---------------
 *
 * struct_size, abi_major and abi_minor come from the header you compile
 * against: the engine uses them to refuse a plugin built for an ABI it
 * does not speak.  `name` must match the pipeline's `plugin:` value and the
 * file name (template.so).  Set PWALK_PLUGIN_MUTATES_FS in flags if your
 * plugin changes the filesystem; pipelines must then opt in.  `prepare`
 * (ABI 1.1) is the last member: struct_size tells the engine it is there.
 */
static const pwalk_plugin template_plugin = {
    .struct_size = sizeof(pwalk_plugin),
    .abi_major = PWALK_ABI_MAJOR,
    .abi_minor = PWALK_ABI_MINOR,
    .flags = 0,
    .threading = PWALK_THREADING_PER_WORKER,
    .option_count = sizeof template_options / sizeof template_options[0],
    .name = "template",
    .version = "1.0.0",
    .description = "counts entries and bytes per file type; writes a summary at the end",
    .options = template_options,
    .create = template_create,
    .thread_open = template_thread_open,
    .consume = template_consume,
    .error = template_error,
    .thread_close = template_thread_close,
    .finish = template_finish,
    .destroy = template_destroy,
    .prepare = template_prepare,
};

/* The only exported symbol (build with -fvisibility=hidden and the version
 * script plugins/plugin.lds, so nothing else leaks, not even a symbol of a
 * static library linked in).  Its name carries the ABI major: a plugin built against a future
 * incompatible header exports another name and is refused cleanly.  The
 * prototype lets the compiler check the definition's type (and quiets
 * -Wmissing-prototypes). */
PWALK_PLUGIN_EXPORT const pwalk_plugin *pwalk_plugin_entry_v1(void);

PWALK_PLUGIN_EXPORT const pwalk_plugin *pwalk_plugin_entry_v1(void)
{
    return &template_plugin;
}
