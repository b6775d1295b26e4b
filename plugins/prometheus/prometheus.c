/*
 * prometheus.c -- the `prometheus` sink: the summary's aggregates
 * (plugins/summary: per user, group and top-level directory) and the
 * scan's facts as a Prometheus textfile for node_exporter (README.md here).
 *
 * Lifecycle as the summary sink's: create() reads the options and opens
 * the temporary (".NAME.pwalk-tmp-XXXXXX": never a *.prom name, so
 * node_exporter's textfile collector cannot read a half-written file);
 * workers fold entries into their own aggregate (fold.c, no locks);
 * thread_close() merges them; prepare() finalizes (finalize.c), writes the
 * text and fsyncs; finish(0) renames it into place; finish(non-zero)
 * removes it, so a failed scan leaves the previous file as it was.
 *
 * Under pwalk-mpi (scan_facts.ranks > 1) each rank writes its aggregate as
 * the summary's partial (plugins/summary/partial.c) at the path it was
 * given (NAME.prom.part-0003: no *.prom either), and one merge lifecycle on
 * rank 0 (host->worker_count 0) reads every rank's and writes the metrics
 * as if one process had walked -- exactly as the summary sink does.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/outfile.h"
#include "partial.h"
#include "prom.h"

#if PWALK_ABI_MINOR >= 3
#define PROM_MERGE 1
#else
#define PROM_MERGE 0
#endif

static const pwalk_option_spec prom_options[] = {
    {"path", PWALK_OPT_STRING, PWALK_OPTION_OUTPUT, NULL, NULL,
     "the .prom file (in node_exporter's --collector.textfile.directory)"},
    {"top", PWALK_OPT_INT, 0, "20", "1..100000",
     "users, groups and top-level directories with their own series (largest by bytes); "
     "the rest summed as other"},
    {"prefix", PWALK_OPT_STRING, 0, "pwalk_", NULL, "metric name prefix"},
    {"labels", PWALK_OPT_STRING_LIST, 0, "[]", NULL,
     "NAME=VALUE labels on every series (e.g. [fs=home]): tells scans in one directory apart"},
    {"age_days", PWALK_OPT_STRING_LIST, 0, "[7, 30, 90, 365, 730, 1095]", NULL,
     "mtime age bucket lower bounds in days (ints > 0, strictly increasing)"},
    {"mode", PWALK_OPT_STRING, 0, "0644", NULL,
     "permission bits of the file (node_exporter runs as another user)"},
};

typedef struct prom_instance {
    const pwalk_host *host;
    pwalk_host_ctx *ctx;
    summ_conf conf;
    prom_conf pc;
    outfile out;
    int open;
    int partial;                /* a pwalk-mpi rank: out is its partial */
    int merging;                /* the merge lifecycle (no walk)        */
    int prepared;
    struct timespec t0;         /* create(): before the walk            */
    summ_workers open_workers;  /* the open ones (checkpoint absorbs)  */
    summ_leftovers left;        /* earlier sessions' temporaries       */
    summ_agg agg;               /* every worker's, merged               */
    summ_result res;
    int have_res;
} prom_instance;

static int prom_fail(prom_instance *p, int rc, const char *msg)
{
    p->host->set_error(p->ctx, "%s", msg);
    return rc;
}

static int prom_read_lists(prom_instance *p, const pwalk_options *opts, char *err, size_t n)
{
    const pwalk_host *h = p->host;
    size_t count = 0;
    if (summ_read_age_days(h, opts, &p->conf, err, n) != 0)
        return -1;
    if (h->opt_list_count(opts, "labels", &count) != 0)
        count = 0;
    for (size_t i = 0; i < count; i++) {
        const char *item = "";
        h->opt_list_item(opts, "labels", i, &item);
        if (prom_parse_label(&p->pc, item ? item : "", err, n) != 0)
            return -1;
    }
    return 0;
}

static int prom_options_read(prom_instance *p, const pwalk_options *opts, const char **path,
                             int *mode)
{
    const pwalk_host *h = p->host;
    const char *mode_text = "0644";
    char err[512];
    p->pc.prefix = "pwalk_";
    p->pc.top_k = 20;
    if (h->opt_string(opts, "path", path) != 0 || !*path || !**path)
        return prom_fail(p, PWALK_ERR_CONFIG, "path: required, the .prom file to write");
    h->opt_int(opts, "top", &p->pc.top_k);
    h->opt_string(opts, "prefix", &p->pc.prefix);
    h->opt_string(opts, "mode", &mode_text);
    if (mode_text && outfile_parse_mode(mode_text, mode) != 0) {
        snprintf(err, sizeof err, "mode: '%s' is not octal permission bits such as \"0644\"",
                 mode_text);
        return prom_fail(p, PWALK_ERR_CONFIG, err);
    }
    if (prom_check_prefix(p->pc.prefix, err, sizeof err) != 0 ||
        prom_read_lists(p, opts, err, sizeof err) != 0)
        return prom_fail(p, PWALK_ERR_CONFIG, err);
    p->conf.top_n = 1; /* the summary's own rankings (top.csv) are not used */
    return PWALK_OK;
}

static int prom_create(const pwalk_host *host, pwalk_host_ctx *ctx, const pwalk_options *opts,
                       void **instance)
{
    prom_instance *p = calloc(1, sizeof *p);
    if (!p) {
        host->set_error(ctx, "out of memory");
        return PWALK_ERR_NOMEM;
    }
    *instance = p;
    p->host = host;
    p->ctx = ctx;
    summ_agg_init(&p->agg);
    clock_gettime(CLOCK_MONOTONIC, &p->t0);
    const char *path = NULL;
    int mode = 0644;
    int rc = prom_options_read(p, opts, &path, &mode);
    if (rc != PWALK_OK)
        return rc;
    p->conf.start_sec = (int64_t)time(NULL);
#if PWALK_ABI_MINOR >= 3
    pwalk_scan_facts f;
    if (summ_scan_facts(host, ctx, &f)) {
        p->conf.start_sec = f.start_sec;
        /* a rank of several writes its partial at `path` (its shard name);
         * the merge lifecycle (no workers) and a lone process the metrics */
        int split = f.ranks > 1 || (f.flags & PWALK_FACTS_PARTIAL);
        p->partial = split && host->worker_count > 0;
        p->merging = split && host->worker_count == 0;
    }
#endif
    /* a resumed scan: the saved states (and the first start) back first */
    if ((rc = summ_sink_resume(host, ctx, &p->agg, &p->conf, &p->left)) != PWALK_OK)
        return rc;
    char err[512];
    if (summ_sink_open(&p->out, path, p->partial ? OUTFILE_MODE_DEFAULT : mode, &p->left, err,
                          sizeof err) != 0)
        return prom_fail(p, PWALK_ERR_IO, err);
    p->open = 1;
    if (PWALK_HOST_HAS(host, own_output) && host->own_output(ctx, p->out.fd) != PWALK_OK)
        return PWALK_ERR;
    if ((rc = summ_sink_adopt(host, ctx, &p->out, &p->left)) != PWALK_OK)
        return rc;
    size_t len = strlen(path);
    if (!p->partial && strcmp(path, "-") != 0 &&
        (len < 5 || strcmp(path + len - 5, ".prom") != 0))
        host->log(ctx, "path '%s' does not end in .prom: node_exporter's textfile collector "
                       "reads only *.prom files", path);
    return PWALK_OK;
}

/* The workers: the summary's (plugins/summary/sink.c). */
static int prom_thread_open(void *instance, uint32_t worker, void **tstate)
{
    prom_instance *p = instance;
    (void)worker;
    return summ_sink_thread_open(p->host, p->ctx, &p->conf, &p->open_workers, tstate);
}

static int prom_consume(void *instance, void *tstate, const pwalk_entry *entries, size_t count)
{
    prom_instance *p = instance;
    return summ_sink_consume(p->host, p->ctx, tstate, entries, count);
}

static int prom_thread_close(void *instance, void *tstate)
{
    prom_instance *p = instance;
    return summ_sink_thread_close(p->host, p->ctx, &p->agg, &p->open_workers, tstate);
}

/* The summary's checkpoint (plugins/summary/sink.c): the aggregate as the
 * state, in memory; the output's temporary holds nothing before prepare()
 * and goes at finish(PWALK_SUSPENDED) like at any non-zero status. */
static int prom_checkpoint(void *instance)
{
    prom_instance *p = instance;
    outfile *outs[1] = {&p->out};
    p->left.journaled = 1;
    return summ_sink_checkpoint(p->host, p->ctx, &p->agg, &p->open_workers, &p->conf, outs,
                                p->open ? 1 : 0);
}

#if PROM_MERGE
static int prom_merge(void *instance, const char *const *partials, size_t count)
{
    prom_instance *p = instance;
    char err[1024];
    if (!p->merging)
        return prom_fail(p, PWALK_ERR, "merge called on a rank's instance (it has workers)");
    if (summ_partial_merge(&p->agg, &p->conf, partials, count, err, sizeof err) != 0)
        return prom_fail(p, PWALK_ERR_IO, err);
    return PWALK_OK;
}
#endif

/* The scan's facts: the engine's (ABI 1.3), else the sink's own clock. */
static void prom_facts(const prom_instance *p, prom_scan *s)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    memset(s, 0, sizeof *s);
    s->sessions = 1;
    s->start_sec = p->conf.start_sec;
    s->end_sec = (int64_t)time(NULL);
    s->duration = (double)(t1.tv_sec - p->t0.tv_sec) + (t1.tv_nsec - p->t0.tv_nsec) / 1e9;
#if PWALK_ABI_MINOR >= 3
    pwalk_scan_facts f;
    if (summ_scan_facts(p->host, p->ctx, &f)) {
        s->version = f.version;
        if (f.end_sec)
            s->end_sec = f.end_sec;
        s->have_counts = 1;
        s->entries = f.entries;
        s->errors = f.errors;
        s->filtered = f.filtered;
        if (p->merging) /* no walk here: the ranks' scan, whole seconds */
            s->duration = (double)(s->end_sec - s->start_sec);
#if PWALK_ABI_MINOR >= 4
        if (PWALK_STRUCT_HAS(&f, pwalk_scan_facts, sessions) && f.sessions &&
            f.session_count > 1) {
            /* resumed: the earlier sessions' time too, not the pauses */
            s->sessions = f.session_count;
            for (uint32_t i = 0; i + 1 < f.session_count; i++)
                s->duration += (double)(f.sessions[i].end_sec - f.sessions[i].start_sec);
        }
#endif
    }
#endif
}

/* Finalize, write the text and fsync it; nothing is published yet. */
static int prom_prepare(void *instance)
{
    prom_instance *p = instance;
    if (!p || !p->open)
        return PWALK_OK;
    char err[512];
    if (p->partial) {
        if (summ_partial_write(&p->out, &p->agg, &p->conf, err, sizeof err) != 0 ||
            outfile_prepare(&p->out, err, sizeof err) != 0) {
            outfile_abort(&p->out);
            p->open = 0;
            return prom_fail(p, PWALK_ERR_IO, err);
        }
        p->prepared = 1;
        return PWALK_OK;
    }
    p->have_res = 1;
    if (summ_finalize(&p->agg, &p->conf, &p->res) != 0)
        return prom_fail(p, PWALK_ERR_NOMEM, "out of memory finishing the metrics");
    prom_scan s;
    prom_facts(p, &s);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    int bad = !mem || prom_render(mem, &p->pc, &p->conf, &p->res, &p->agg, &s) != 0;
    if (mem && fclose(mem) != 0)
        bad = 1;
    if (bad) {
        free(text);
        return prom_fail(p, PWALK_ERR_NOMEM, "out of memory writing the metrics");
    }
    int rc = outfile_write(&p->out, text, len, err, sizeof err);
    free(text);
    if (rc == 0)
        rc = outfile_prepare(&p->out, err, sizeof err);
    if (rc != 0) {
        outfile_abort(&p->out);
        p->open = 0;
        return prom_fail(p, PWALK_ERR_IO, err);
    }
    p->prepared = 1;
    return PWALK_OK;
}

static int prom_finish(void *instance, int32_t scan_status)
{
    prom_instance *p = instance;
    if (!p || !p->open)
        return PWALK_OK;
    p->open = 0;
    if (scan_status == PWALK_SUSPENDED && p->left.journaled) {
        outfile_keep(&p->out); /* empty: the next session continues it */
        return PWALK_OK;
    }
    if (scan_status != 0 || !p->prepared) {
        outfile_abort(&p->out); /* the previous file, if any, stays */
        return PWALK_OK;
    }
    char err[512];
    if (outfile_commit(&p->out, err, sizeof err) != 0)
        return prom_fail(p, PWALK_ERR_IO, err);
    return PWALK_OK;
}

static void prom_destroy(void *instance)
{
    prom_instance *p = instance;
    if (!p)
        return;
    if (p->open)
        outfile_abort(&p->out);
    for (size_t i = 0; i < p->pc.label_count; i++)
        free((char *)p->pc.label_names[i]);
    if (p->have_res)
        summ_result_free(&p->res);
    summ_agg_free(&p->agg);
    summ_leftovers_free(&p->left);
    free(p);
}

static const pwalk_plugin prom_plugin = {
    .struct_size = sizeof(pwalk_plugin),
    .abi_major = PWALK_ABI_MAJOR,
    .abi_minor = PWALK_ABI_MINOR,
    .flags = 0,
    .threading = PWALK_THREADING_PER_WORKER,
    .option_count = sizeof prom_options / sizeof prom_options[0],
    .name = "prometheus",
    .version = "1.0",
    .description = "bytes, files and mtime ages per user, group and top-level directory and "
                   "the scan's facts, as a node_exporter textfile (.prom)",
    .options = prom_options,
    .create = prom_create,
    .thread_open = prom_thread_open,
    .consume = prom_consume,
    .error = NULL,
    .thread_close = prom_thread_close,
    .finish = prom_finish,
    .destroy = prom_destroy,
    .prepare = prom_prepare,
#if PROM_MERGE
    .merge = prom_merge,
#endif
#if PWALK_ABI_MINOR >= 4
    .checkpoint = prom_checkpoint,
#endif
};

PWALK_PLUGIN_EXPORT const pwalk_plugin *pwalk_plugin_entry_v1(void);

PWALK_PLUGIN_EXPORT const pwalk_plugin *pwalk_plugin_entry_v1(void)
{
    return &prom_plugin;
}
