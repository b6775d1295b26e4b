/*
 * summary.c -- the `summary` sink: recursive directory totals, users,
 * groups, a usage cube and the top directories, written at the end of the
 * walk into a directory of tables (FORMAT.md says what is in each).
 *
 * Lifecycle: create() reads the options and opens the six temporaries in
 * DIR (so a bad DIR fails before the walk); workers fold entries into their
 * own aggregate (fold.c, no locks); thread_close() merges them; prepare()
 * finalizes (finalize.c), writes every table and fsyncs (tables.c);
 * finish(0) renames them into place, summary.json LAST, so its presence
 * means the set is complete; finish(non-zero) removes them all.
 *
 * Under pwalk-mpi (scan_facts.ranks > 1) each rank writes its aggregate as
 * a partial (partial.c) at the path it was given instead, and one merge
 * lifecycle (create -> merge -> prepare -> finish) reads every rank's and
 * writes the tables as if one process had walked.  The two are told apart
 * by host->worker_count: 0 in the merge lifecycle (no walk), >= 1 in a
 * rank's scan (plugin.h, "Merge lifecycle").
 *
 * Checkpoints (ABI 1.4): checkpoint() absorbs the idle workers' aggregates
 * and saves the instance's as a partial in memory (the journal keeps it);
 * a resumed create() merges the saved states back before the walk, so the
 * tables are an uninterrupted scan's, byte for byte.  No file of this sink
 * outlives a suspension: the temporaries hold nothing until prepare().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "summ.h"
#if SUMM_HAVE_PARTIAL
#include "partial.h"
#endif

#if PWALK_ABI_MINOR >= 3 && SUMM_HAVE_PARTIAL
#define SUMM_MERGE 1
#else
#define SUMM_MERGE 0
#endif

static const pwalk_option_spec summ_options[] = {
    {"dir", PWALK_OPT_STRING, PWALK_OPTION_OUTPUT, NULL, NULL,
     "directory of the tables (created 0755 if missing; its parent must exist)"},
    {"compress", PWALK_OPT_ENUM, 0, "none", "none|zstd",
     "zstd: the CSV tables as .csv.zst (one zstd frame each); summary.json stays plain"},
    {"top", PWALK_OPT_INT, 0, "20", "1..1000000",
     "directories listed in top.csv per ranking (bytes, files, stale_bytes)"},
    {"age_days", PWALK_OPT_STRING_LIST, 0, "[7, 30, 90, 365, 730, 1095]", NULL,
     "age bucket lower bounds in days (ints > 0, strictly increasing)"},
    {"print", PWALK_OPT_ENUM, 0, "auto", "auto|true|false",
     "a digest (top users, directories, ages) at the end; auto: when stderr is a terminal"},
};

enum { SUMM_TABLES, SUMM_PARTIAL };

typedef struct summ_instance {
    const pwalk_host *host;
    pwalk_host_ctx *ctx;
    summ_conf conf;
    const char *dir;            /* the option (borrowed until destroy) */
    int print;
    int mode;                   /* SUMM_TABLES or SUMM_PARTIAL         */
    int made_dir;               /* create() made DIR: removed again when
                                   nothing is published (still empty)  */
    int published;              /* finish(0) renamed everything        */
    uint32_t workers;
    summ_outputs out;           /* the tables (SUMM_TABLES, MERGING)   */
    outfile partial;            /* SUMM_PARTIAL                        */
    int partial_open;
    int prepared;
    summ_agg agg;               /* every worker's, merged              */
    summ_workers open_workers;  /* the open ones (checkpoint absorbs)  */
    summ_leftovers left;        /* earlier sessions' temporaries       */
    summ_result res;
    int have_res;
    char hostname[256];
} summ_instance;

static int summ_options_read(summ_instance *s, const pwalk_options *opts)
{
    const pwalk_host *h = s->host;
    const char *compress = "none", *print = "auto";
    s->dir = NULL;
    s->conf.top_n = 20;
    if (h->opt_string(opts, "dir", &s->dir) != 0 || !s->dir || !s->dir[0]) {
        h->set_error(s->ctx, "dir: required, the directory to write the tables in");
        return PWALK_ERR_CONFIG;
    }
    h->opt_string(opts, "compress", &compress);
    h->opt_int(opts, "top", &s->conf.top_n);
    h->opt_string(opts, "print", &print);
    s->conf.compress = strcmp(compress, "zstd") == 0;
    s->print = strcmp(print, "auto") == 0 ? isatty(2) : strcmp(print, "true") == 0;
    char err[256];
    if (summ_read_age_days(h, opts, &s->conf, err, sizeof err) != 0) {
        h->set_error(s->ctx, "%s", err);
        return PWALK_ERR_CONFIG;
    }
    return PWALK_OK;
}

/* DIR itself: created 0755 when missing (not its parents). */
static int summ_make_dir(summ_instance *s)
{
    struct stat st;
    if (mkdir(s->dir, 0755) == 0) {
        s->made_dir = 1;
        if (chmod(s->dir, 0755) == 0) /* the umask aside: readable like the reports' dirs */
            return PWALK_OK;
    } else if (errno == EEXIST && stat(s->dir, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return PWALK_OK;
        errno = ENOTDIR;
    }
    s->host->set_error(s->ctx, "dir: cannot create '%s': %s%s", s->dir, strerror(errno),
                       errno == ENOENT ? " (its parent must exist)" : "");
    return PWALK_ERR_IO;
}

/* The six temporaries in DIR, each left out of the walk. */
static int summ_open_tables(summ_instance *s)
{
    int rc = summ_make_dir(s);
    for (int t = 0; t < SUMM_T_COUNT && rc == PWALK_OK; t++) {
        const char *name = summ_table_file(t, s->conf.compress);
        size_t len = strlen(s->dir) + strlen(name) + 2;
        char *path = malloc(len), err[512];
        if (!path) {
            s->host->set_error(s->ctx, "out of memory");
            return PWALK_ERR_NOMEM;
        }
        snprintf(path, len, "%s/%s", s->dir, name);
        int bad = summ_sink_open(&s->out.outs[t], path, OUTFILE_MODE_DEFAULT, &s->left, err,
                                 sizeof err);
        free(path);
        if (bad) {
            s->host->set_error(s->ctx, "%s", err);
            return PWALK_ERR_IO;
        }
        s->out.opened[t] = 1;
        if (PWALK_HOST_HAS(s->host, own_output) &&
            s->host->own_output(s->ctx, s->out.outs[t].fd) != PWALK_OK)
            rc = PWALK_ERR;
    }
    return rc;
}

/* A rank's partial, at the path it was given (the shard name of DIR). */
static int summ_open_partial(summ_instance *s)
{
    char err[512];
    if (summ_sink_open(&s->partial, s->dir, OUTFILE_MODE_DEFAULT, &s->left, err, sizeof err) !=
        0) {
        s->host->set_error(s->ctx, "%s", err);
        return PWALK_ERR_IO;
    }
    s->partial_open = 1;
    s->mode = SUMM_PARTIAL;
    if (PWALK_HOST_HAS(s->host, own_output) &&
        s->host->own_output(s->ctx, s->partial.fd) != PWALK_OK)
        return PWALK_ERR;
    return PWALK_OK;
}

static int summ_create(const pwalk_host *host, pwalk_host_ctx *ctx, const pwalk_options *opts,
                       void **instance)
{
    summ_instance *s = calloc(1, sizeof *s);
    if (!s) {
        host->set_error(ctx, "out of memory");
        return PWALK_ERR_NOMEM;
    }
    *instance = s;
    s->host = host;
    s->ctx = ctx;
    s->workers = host->worker_count;
    summ_agg_init(&s->agg);
    int rc = summ_options_read(s, opts);
    if (rc != PWALK_OK)
        return rc;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    s->conf.start_sec = (int64_t)now.tv_sec;
    if (gethostname(s->hostname, sizeof s->hostname - 1) != 0)
        s->hostname[0] = '\0';
    int split = 0; /* a rank of pwalk-mpi: a partial, merged later */
#if PWALK_ABI_MINOR >= 3
    pwalk_scan_facts f;
    if (summ_scan_facts(s->host, s->ctx, &f)) {
        s->conf.start_sec = f.start_sec;
        split = f.ranks > 1 || (f.flags & PWALK_FACTS_PARTIAL);
    }
#endif
    /* a resumed scan: every saved state back into the aggregate (and the
     * first session's start_sec) before the walk; nothing opened yet */
    if ((rc = summ_sink_resume(host, ctx, &s->agg, &s->conf, &s->left)) != PWALK_OK)
        return rc;
    /* a rank of several writes its partial at `dir` (its shard name); the
     * merge lifecycle (no workers) and a lone process write the tables */
    if (SUMM_MERGE && split && host->worker_count > 0)
        rc = summ_open_partial(s);
    else
        rc = summ_open_tables(s);
    /* what a crashed session left goes with this one's temporaries */
    if (rc == PWALK_OK)
        rc = summ_sink_adopt(host, ctx, s->partial_open ? &s->partial : &s->out.outs[0],
                             &s->left);
    return rc;
}

/* The workers: sink.c (the same for every sink over the aggregate). */
static int summ_thread_open(void *instance, uint32_t worker, void **tstate)
{
    summ_instance *s = instance;
    (void)worker;
    return summ_sink_thread_open(s->host, s->ctx, &s->conf, &s->open_workers, tstate);
}

static int summ_consume(void *instance, void *tstate, const pwalk_entry *entries, size_t count)
{
    summ_instance *s = instance;
    return summ_sink_consume(s->host, s->ctx, tstate, entries, count);
}

static int summ_thread_close(void *instance, void *tstate)
{
    summ_instance *s = instance;
    return summ_sink_thread_close(s->host, s->ctx, &s->agg, &s->open_workers, tstate);
}

/* Everything consumed so far as the state (sink.c), in the journal: the
 * tables' temporaries hold nothing before prepare(); a suspended scan's
 * finish(PWALK_SUSPENDED) keeps them, empty, for the next session. */
static int summ_checkpoint(void *instance)
{
    summ_instance *s = instance;
    s->left.journaled = 1;
    outfile *outs[SUMM_T_COUNT + 1];
    size_t n = 0;
    for (int t = 0; t < SUMM_T_COUNT; t++)
        if (s->out.opened[t])
            outs[n++] = &s->out.outs[t];
    if (s->partial_open)
        outs[n++] = &s->partial;
    return summ_sink_checkpoint(s->host, s->ctx, &s->agg, &s->open_workers, &s->conf, outs, n);
}

#if SUMM_MERGE
static int summ_merge(void *instance, const char *const *partials, size_t count)
{
    summ_instance *s = instance;
    if (s->mode != SUMM_TABLES) { /* a rank's instance: no merge lifecycle */
        s->host->set_error(s->ctx, "merge called on a rank's instance (it has workers)");
        return PWALK_ERR;
    }
    char err[1024];
    if (summ_partial_merge(&s->agg, &s->conf, partials, count, err, sizeof err) != 0) {
        s->host->set_error(s->ctx, "%s", err);
        return PWALK_ERR_IO;
    }
    return PWALK_OK;
}
#endif

static int summ_prepare_partial(summ_instance *s)
{
    char err[512];
    if (!s->partial_open && summ_open_partial(s) != PWALK_OK)
        return PWALK_ERR_IO;
#if SUMM_MERGE
    if (summ_partial_write(&s->partial, &s->agg, &s->conf, err, sizeof err) != 0) {
        s->host->set_error(s->ctx, "%s", err);
        return PWALK_ERR_IO;
    }
#endif
    if (outfile_prepare(&s->partial, err, sizeof err) != 0) {
        s->partial_open = 0; /* released by outfile_prepare */
        s->host->set_error(s->ctx, "%s", err);
        return PWALK_ERR_IO;
    }
    s->prepared = 1;
    return PWALK_OK;
}

/* Finalize, write every table and fsync them; nothing is published yet. */
static int summ_prepare(void *instance)
{
    summ_instance *s = instance;
    if (!s)
        return PWALK_OK;
    if (s->mode == SUMM_PARTIAL)
        return summ_prepare_partial(s);
    if (summ_finalize(&s->agg, &s->conf, &s->res) != 0) {
        s->have_res = 1;
        s->host->set_error(s->ctx, "out of memory finishing the summary");
        return PWALK_ERR_NOMEM;
    }
    s->have_res = 1;
    summ_facts f;
    const char **own_roots;
    summ_sink_facts(s->host, s->ctx, s->hostname, s->workers, s->conf.start_sec, &s->res, &f,
                    &own_roots);
    char err[512];
    int rc = summ_write_tables(&s->out, &s->res, &s->agg, &s->conf, &f, err, sizeof err);
    free(own_roots);
    for (int t = 0; t < SUMM_T_COUNT && rc == 0; t++) {
        rc = outfile_prepare(&s->out.outs[t], err, sizeof err);
        if (rc)
            s->out.opened[t] = 0; /* released, its temporary gone */
    }
    if (rc != 0) {
        s->host->set_error(s->ctx, "%s", err);
        return PWALK_ERR_IO;
    }
    s->prepared = 1;
    return PWALK_OK;
}

static void summ_abort_all(summ_instance *s)
{
    for (int t = 0; t < SUMM_T_COUNT; t++)
        if (s->out.opened[t]) {
            outfile_abort(&s->out.outs[t]);
            s->out.opened[t] = 0;
        }
    if (s->partial_open) {
        outfile_abort(&s->partial);
        s->partial_open = 0;
    }
}

static void summ_keep_all(summ_instance *s)
{
    for (int t = 0; t < SUMM_T_COUNT; t++)
        if (s->out.opened[t]) {
            outfile_keep(&s->out.outs[t]);
            s->out.opened[t] = 0;
        }
    if (s->partial_open) {
        outfile_keep(&s->partial);
        s->partial_open = 0;
    }
}

static int summ_commit(summ_instance *s, outfile *f, int *opened)
{
    char err[512];
    *opened = 0;
    if (outfile_commit(f, err, sizeof err) != 0) {
        s->host->set_error(s->ctx, "%s", err);
        return PWALK_ERR_IO;
    }
    return PWALK_OK;
}

/* Publish: the tables first, summary.json last (its presence says the set
 * is complete).  Any failure abandons what is left, summary.json with it. */
static int summ_finish(void *instance, int32_t scan_status)
{
    summ_instance *s = instance;
    if (!s)
        return PWALK_OK;
    if (scan_status == PWALK_SUSPENDED && s->left.journaled) {
        summ_keep_all(s); /* empty: the next session continues them */
        return PWALK_OK;
    }
    if (scan_status != 0 || !s->prepared) {
        summ_abort_all(s);
        return PWALK_OK;
    }
    int rc = PWALK_OK;
    if (s->partial_open)
        rc = summ_commit(s, &s->partial, &s->partial_open);
    /* an earlier run's summary.json must not vouch for a set this run
     * replaces only in part (a rename failing half-way) */
    outfile *json = &s->out.outs[SUMM_T_JSON];
    if (s->out.opened[SUMM_T_JSON] && unlinkat(json->dirfd, json->base, 0) != 0 &&
        errno != ENOENT) {
        s->host->set_error(s->ctx, "cannot replace '%s': %s", json->final_path, strerror(errno));
        rc = PWALK_ERR_IO;
    }
    for (int t = 0; t < SUMM_T_COUNT && rc == PWALK_OK; t++)
        if (s->out.opened[t])
            rc = summ_commit(s, &s->out.outs[t], &s->out.opened[t]);
    summ_abort_all(s);
    s->published = rc == PWALK_OK;
    if (rc == PWALK_OK && s->print && s->have_res && s->mode != SUMM_PARTIAL)
        summ_digest(s->host, s->ctx, &s->res, &s->agg, &s->conf);
    return rc;
}

static void summ_destroy(void *instance)
{
    summ_instance *s = instance;
    if (!s)
        return;
    summ_abort_all(s);
    /* nothing published: a DIR this instance made goes too (exit 2 or 3
     * means nothing was written); rmdir refuses one that is not empty */
    if (s->made_dir && !s->published)
        (void)rmdir(s->dir);
    if (s->have_res)
        summ_result_free(&s->res);
    summ_agg_free(&s->agg);
    summ_leftovers_free(&s->left);
    free(s);
}

static const pwalk_plugin summ_plugin = {
    .struct_size = sizeof(pwalk_plugin),
    .abi_major = PWALK_ABI_MAJOR,
    .abi_minor = PWALK_ABI_MINOR,
    .flags = 0,
    .threading = PWALK_THREADING_PER_WORKER,
    .option_count = sizeof summ_options / sizeof summ_options[0],
    .name = "summary",
    .version = "1.0",
    .description = "recursive directory totals, users, groups, a usage cube and the top "
                   "directories, as tables in a directory",
    .options = summ_options,
    .create = summ_create,
    .thread_open = summ_thread_open,
    .consume = summ_consume,
    .error = NULL,
    .thread_close = summ_thread_close,
    .finish = summ_finish,
    .destroy = summ_destroy,
    .prepare = summ_prepare,
#if SUMM_MERGE
    .merge = summ_merge,
#endif
#if PWALK_ABI_MINOR >= 4
    .checkpoint = summ_checkpoint,
#endif
};

PWALK_PLUGIN_EXPORT const pwalk_plugin *pwalk_plugin_entry_v1(void);

PWALK_PLUGIN_EXPORT const pwalk_plugin *pwalk_plugin_entry_v1(void)
{
    return &summ_plugin;
}
