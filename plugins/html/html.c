/*
 * html.c -- the `html` sink: one self-contained page (README.md) drawn
 * from the same aggregate as the summary sink (plugins/summary: fold.c,
 * finalize.c), so its numbers are summary.json's and the tables'.
 *
 * Lifecycle: create() reads the options and opens the page's temporary
 * (a bad path fails before the walk); workers fold entries into their own
 * aggregate (no locks); thread_close() merges them; prepare() finalizes
 * and writes the whole page, fsynced under its temporary name; finish(0)
 * renames it into place (common/outfile), finish(non-zero) removes it.
 *
 * Under pwalk-mpi with several ranks each rank writes its aggregate as the
 * summary's partial (plugins/summary/partial.c) at the shard name of `path`
 * it was given, and one merge lifecycle (create -> merge -> prepare ->
 * finish, no workers) reads them all and writes the one page of the whole
 * scan, as the summary sink does.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "page.h"
#include "summ.h"
#if PWALK_ABI_MINOR >= 3
#include "partial.h"
#define HTML_MERGE 1
#else
#define HTML_MERGE 0
#endif

static const pwalk_option_spec html_options[] = {
    {"path", PWALK_OPT_STRING, PWALK_OPTION_OUTPUT, NULL, NULL,
     "the .html file to write (its directory must exist)"},
    {"title", PWALK_OPT_STRING, 0, NULL, NULL,
     "the page's heading (default \"pwalk report\")"},
    {"max_children", PWALK_OPT_INT, 0, "50", "1..100000",
     "largest subdirectories the page keeps per directory"},
    {"max_depth", PWALK_OPT_INT, 0, "8", "1..64", "levels below a root the page keeps"},
    {"max_nodes", PWALK_OPT_INT, 0, "10000", "1..1000000",
     "directories the page keeps in all (largest first)"},
    {"top", PWALK_OPT_INT, 0, "20", "1..10000",
     "directories listed per ranking (bytes, files, stale_bytes)"},
    {"age_days", PWALK_OPT_STRING_LIST, 0, "[7, 30, 90, 365, 730, 1095]", NULL,
     "age histogram bucket lower bounds in days (ints > 0, strictly increasing)"},
    {"mode", PWALK_OPT_STRING, 0, NULL, NULL,
     "permission bits of the page, octal (\"0644\"); default 0600 as root, else 0666 - umask"},
};

typedef struct html_instance {
    const pwalk_host *host;
    pwalk_host_ctx *ctx;
    summ_conf conf;
    html_limits lim;
    const char *path, *title;   /* options (borrowed until destroy)   */
    uint32_t workers;
    int partial;                /* a rank of several: out is its partial */
    outfile out;
    int out_open;
    int prepared;
    summ_workers open_workers;  /* the open ones (checkpoint absorbs)  */
    summ_leftovers left;        /* earlier sessions' temporaries       */
    summ_agg agg;               /* every worker's, merged             */
    summ_result res;
    int have_res;
    char hostname[256];
} html_instance;

static int html_ages_read(html_instance *s, const pwalk_options *opts)
{
    char err[256];
    if (summ_read_age_days(s->host, opts, &s->conf, err, sizeof err) != 0) {
        s->host->set_error(s->ctx, "%s", err);
        return PWALK_ERR_CONFIG;
    }
    return PWALK_OK;
}

static int html_options_read(html_instance *s, const pwalk_options *opts, int *mode)
{
    const pwalk_host *h = s->host;
    const char *mode_text = NULL;
    s->lim = (html_limits){50, 8, 10000};
    s->conf.top_n = 20;
    if (h->opt_string(opts, "path", &s->path) != 0 || !s->path || !s->path[0]) {
        h->set_error(s->ctx, "path: required, the .html file to write");
        return PWALK_ERR_CONFIG;
    }
    if (h->opt_string(opts, "title", &s->title) != 0)
        s->title = NULL;
    h->opt_int(opts, "max_children", &s->lim.max_children);
    h->opt_int(opts, "max_depth", &s->lim.max_depth);
    h->opt_int(opts, "max_nodes", &s->lim.max_nodes);
    h->opt_int(opts, "top", &s->conf.top_n);
    h->opt_string(opts, "mode", &mode_text);
    *mode = OUTFILE_MODE_DEFAULT;
    if (mode_text && outfile_parse_mode(mode_text, mode) != 0) {
        h->set_error(s->ctx, "mode: '%s' is not octal permission bits such as \"0644\"",
                     mode_text);
        return PWALK_ERR_CONFIG;
    }
    return html_ages_read(s, opts);
}

static int html_create(const pwalk_host *host, pwalk_host_ctx *ctx, const pwalk_options *opts,
                       void **instance)
{
    html_instance *s = calloc(1, sizeof *s);
    if (!s) {
        host->set_error(ctx, "out of memory");
        return PWALK_ERR_NOMEM;
    }
    *instance = s;
    s->host = host;
    s->ctx = ctx;
    s->workers = host->worker_count;
    summ_agg_init(&s->agg);
    int mode;
    int rc = html_options_read(s, opts, &mode);
    if (rc != PWALK_OK)
        return rc;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    s->conf.start_sec = (int64_t)now.tv_sec;
    if (gethostname(s->hostname, sizeof s->hostname - 1) != 0)
        s->hostname[0] = '\0';
#if PWALK_ABI_MINOR >= 3
    pwalk_scan_facts f;
    if (summ_scan_facts(host, ctx, &f)) {
        s->conf.start_sec = f.start_sec; /* the ages of summary.json's */
        /* the merge lifecycle (no workers) writes the page; a rank of
         * several its partial, at the shard name `path` now holds */
        s->partial = HTML_MERGE && (f.ranks > 1 || (f.flags & PWALK_FACTS_PARTIAL)) &&
                     host->worker_count > 0;
    }
#endif
    /* a resumed scan: the saved states (and the first start) back first */
    if ((rc = summ_sink_resume(host, ctx, &s->agg, &s->conf, &s->left)) != PWALK_OK)
        return rc;
    char err[512];
    if (summ_sink_open(&s->out, s->path, mode, &s->left, err, sizeof err) != 0) {
        host->set_error(ctx, "%s", err);
        return PWALK_ERR_IO;
    }
    s->out_open = 1;
    if (PWALK_HOST_HAS(host, own_output) && host->own_output(ctx, s->out.fd) != PWALK_OK)
        return PWALK_ERR;
    if ((rc = summ_sink_adopt(host, ctx, &s->out, &s->left)) != PWALK_OK)
        return rc;
    return PWALK_OK;
}

static int html_thread_open(void *instance, uint32_t worker, void **tstate)
{
    html_instance *s = instance;
    (void)worker;
    return summ_sink_thread_open(s->host, s->ctx, &s->conf, &s->open_workers, tstate);
}

static int html_consume(void *instance, void *tstate, const pwalk_entry *entries, size_t count)
{
    html_instance *s = instance;
    return summ_sink_consume(s->host, s->ctx, tstate, entries, count);
}

static int html_thread_close(void *instance, void *tstate)
{
    html_instance *s = instance;
    return summ_sink_thread_close(s->host, s->ctx, &s->agg, &s->open_workers, tstate);
}

/* The summary's checkpoint (plugins/summary/sink.c): the aggregate as the
 * state, in memory; the output's temporary holds nothing before prepare()
 * and goes at finish(PWALK_SUSPENDED) like at any non-zero status. */
static int html_checkpoint(void *instance)
{
    html_instance *s = instance;
    outfile *outs[1] = {&s->out};
    s->left.journaled = 1;
    return summ_sink_checkpoint(s->host, s->ctx, &s->agg, &s->open_workers, &s->conf, outs,
                                s->out_open ? 1 : 0);
}

#if HTML_MERGE
static int html_merge(void *instance, const char *const *partials, size_t count)
{
    html_instance *s = instance;
    char err[1024];
    if (s->partial) { /* a rank's instance: no merge lifecycle */
        s->host->set_error(s->ctx, "merge called on a rank's instance (it has workers)");
        return PWALK_ERR;
    }
    if (summ_partial_merge(&s->agg, &s->conf, partials, count, err, sizeof err) != 0) {
        s->host->set_error(s->ctx, "%s", err);
        return PWALK_ERR_IO;
    }
    return PWALK_OK;
}

/* A rank's aggregate into its partial (read back by html_merge). */
static int html_write_partial(html_instance *s, char *err, size_t errlen)
{
    return summ_partial_write(&s->out, &s->agg, &s->conf, err, errlen);
}
#else
static int html_write_partial(html_instance *s, char *err, size_t errlen)
{
    (void)s;
    snprintf(err, errlen, "built without pwalk-mpi partials (plugin ABI < 1.3)");
    return -1;
}
#endif

/* The page (or a rank's partial), fsynced; nothing is published yet. */
static int html_prepare(void *instance)
{
    html_instance *s = instance;
    if (!s)
        return PWALK_OK;
    char err[512];
    if (s->partial) {
        int bad = html_write_partial(s, err, sizeof err) != 0;
        if (!bad && outfile_prepare(&s->out, err, sizeof err) != 0) {
            s->out_open = 0; /* released by outfile_prepare */
            bad = 1;
        }
        if (bad) {
            s->host->set_error(s->ctx, "%s", err);
            return PWALK_ERR_IO;
        }
        s->prepared = 1;
        return PWALK_OK;
    }
    s->have_res = 1;
    if (summ_finalize(&s->agg, &s->conf, &s->res) != 0) {
        s->host->set_error(s->ctx, "out of memory finishing the page");
        return PWALK_ERR_NOMEM;
    }
    summ_facts f;
    const char **own_roots;
    summ_sink_facts(s->host, s->ctx, s->hostname, s->workers, s->conf.start_sec, &s->res, &f,
                    &own_roots);
    int rc = html_write_page(&s->out, &s->res, &s->conf, &f, &s->lim, s->title, err, sizeof err);
    free(own_roots);
    if (rc == 0 && outfile_prepare(&s->out, err, sizeof err) != 0) {
        s->out_open = 0; /* released by outfile_prepare */
        rc = -1;
    }
    if (rc != 0) {
        s->host->set_error(s->ctx, "%s", err);
        return PWALK_ERR_IO;
    }
    s->prepared = 1;
    return PWALK_OK;
}

static int html_finish(void *instance, int32_t scan_status)
{
    html_instance *s = instance;
    if (!s || !s->out_open)
        return PWALK_OK;
    if (scan_status != 0 || !s->prepared) {
        if (scan_status == PWALK_SUSPENDED && s->left.journaled)
            outfile_keep(&s->out); /* empty: the next session continues it */
        else
            outfile_abort(&s->out);
        s->out_open = 0;
        return PWALK_OK;
    }
    char err[512];
    s->out_open = 0;
    if (outfile_commit(&s->out, err, sizeof err) != 0) {
        s->host->set_error(s->ctx, "%s", err);
        return PWALK_ERR_IO;
    }
    return PWALK_OK;
}

static void html_destroy(void *instance)
{
    html_instance *s = instance;
    if (!s)
        return;
    if (s->out_open)
        outfile_abort(&s->out);
    if (s->have_res)
        summ_result_free(&s->res);
    summ_agg_free(&s->agg);
    summ_leftovers_free(&s->left);
    free(s);
}

static const pwalk_plugin html_plugin = {
    .struct_size = sizeof(pwalk_plugin),
    .abi_major = PWALK_ABI_MAJOR,
    .abi_minor = PWALK_ABI_MINOR,
    .flags = 0,
    .threading = PWALK_THREADING_PER_WORKER,
    .option_count = sizeof html_options / sizeof html_options[0],
    .name = "html",
    .version = "1.0",
    .description = "one self-contained HTML page: directory treemap, users and groups, "
                   "ages, top directories (the summary's numbers)",
    .options = html_options,
    .create = html_create,
    .thread_open = html_thread_open,
    .consume = html_consume,
    .error = NULL,
    .thread_close = html_thread_close,
    .finish = html_finish,
    .destroy = html_destroy,
    .prepare = html_prepare,
#if HTML_MERGE
    .merge = html_merge,
#endif
#if PWALK_ABI_MINOR >= 4
    .checkpoint = html_checkpoint,
#endif
};

PWALK_PLUGIN_EXPORT const pwalk_plugin *pwalk_plugin_entry_v1(void);

PWALK_PLUGIN_EXPORT const pwalk_plugin *pwalk_plugin_entry_v1(void)
{
    return &html_plugin;
}
