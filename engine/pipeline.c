/*
 * pipeline.c -- one complete scan, shared by the CLI and the Python package.
 *
 * Order matters for "nothing half-written": every check that can fail on
 * bad input (roots, thread count, plugins, options, output paths opened
 * under temporary names) runs before the walk; outputs are committed only
 * when the walk completed and every sink is healthy.
 */
#define _GNU_SOURCE
#include "pipeline.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "sinks.h"
#include "threads.h"

static volatile sig_atomic_t pipeline_stop_signal;

void pipeline_signal(int sig)
{
    pipeline_stop_signal = sig;
    walk_request_stop();
}

static int result_fail(pipeline_result *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int result_fail(pipeline_result *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    r->status = status;
    return status;
}

/* Error records go to the report and to the caller's hook. */
typedef struct error_tee {
    sinks_error_hook report;
    const pipeline_run_options *o;
} error_tee;

static void tee_record(void *ctx, const char *path, size_t len, int error_number,
                       const char *operation, uint32_t kind)
{
    error_tee *t = ctx;
    t->report.record(t->report.ctx, path, len, error_number, operation, kind);
    if (t->o->on_error)
        t->o->on_error(t->o->on_error_ctx, path, len, error_number, operation, kind);
}

/* The walk leaves out what this scan writes: the sinks' outputs (they said
 * so with own_output()), the error file, and the caller's own files. */
static int own_outputs(sink_set *sinks, report *rep, const pipeline_run_options *o,
                       walk_options *wo, char *err, size_t errlen)
{
    int fd = report_output_fd(rep);
    if (fd >= 0 && sinks_own_fd(sinks, fd, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < o->own_fd_count; i++)
        if (sinks_own_fd(sinks, o->own_fds[i], err, errlen) != 0)
            return -1;
    wo->own = sinks_own_files(sinks, &wo->own_count);
    return 0;
}

void pipeline_clear_signal(void)
{
    pipeline_stop_signal = 0;
    walk_clear_stop();
}

int pipeline_run(cfg_pipeline *p, const pipeline_run_options *o, pipeline_result *r)
{
    static const pipeline_run_options defaults;
    char err[2048];
    if (!o)
        o = &defaults;
    memset(r, 0, sizeof *r);

    if (p->scan.root_count == 0)
        return result_fail(r, PIPELINE_USAGE,
                           "%s: no paths to scan: give PATH arguments or scan.roots", p->source);
    if (walk_check_roots(p->scan.roots, p->scan.root_count, err, sizeof err) != 0)
        return result_fail(r, PIPELINE_USAGE, "%s", err);

    size_t threads = (size_t)p->scan.threads;
    if (threads == 0) {
        const char *from;
        int n = threads_auto(&from, err, sizeof err);
        if (n < 0)
            return result_fail(r, PIPELINE_USAGE, "%s", err);
        threads = (size_t)n;
    }

    sink_set *sinks = NULL;
    report *rep = NULL;
    if (sinks_load_with(p, o->builtin_plugins, o->builtin_plugin_count, &sinks, err,
                        sizeof err) != 0) {
        sinks_free(sinks);
        return result_fail(r, PIPELINE_USAGE, "%s", err);
    }
    if (report_open(&rep, p->scan.errors_path, p->scan.mode, err, sizeof err) != 0) {
        report_free(rep);
        sinks_free(sinks);
        return result_fail(r, PIPELINE_USAGE, "errors file: %s", err);
    }
    error_tee tee = {report_error_hook(rep), o};
    sinks_error_hook hook = {&tee, tee_record};
    if (sinks_start(sinks, threads, &hook, err, sizeof err) != 0) {
        char ignored[256];
        sinks_finish(sinks, PIPELINE_USAGE, ignored, sizeof ignored);
        report_finish(rep, 0, ignored, sizeof ignored);
        sinks_free(sinks);
        report_free(rep);
        return result_fail(r, PIPELINE_USAGE, "%s", err);
    }

    walk_options wo;
    memset(&wo, 0, sizeof wo);
    wo.roots = p->scan.roots;
    wo.root_count = p->scan.root_count;
    wo.threads = threads;
    wo.one_file_system = p->scan.one_file_system;
    wo.filters.skip_snapshots = p->scan.skip_snapshots;
    wo.filters.snapshot_names = p->scan.snapshot_names;
    wo.filters.snapshot_name_count = p->scan.snapshot_name_count;
    /* scan.exclude, then what sinks pruned in create() */
    size_t prune_count = 0;
    char *const *prunes = sinks_prunes(sinks, &prune_count);
    char **excludes = NULL;
    if (prune_count) {
        excludes = calloc(p->scan.exclude_count + prune_count, sizeof *excludes);
        if (!excludes) {
            char ignored[256];
            sinks_finish(sinks, PIPELINE_USAGE, ignored, sizeof ignored);
            report_finish(rep, 0, ignored, sizeof ignored);
            sinks_free(sinks);
            report_free(rep);
            return result_fail(r, PIPELINE_FAILED, "out of memory");
        }
        for (size_t i = 0; i < p->scan.exclude_count; i++)
            excludes[i] = p->scan.excludes[i];
        for (size_t i = 0; i < prune_count; i++)
            excludes[p->scan.exclude_count + i] = prunes[i];
        wo.filters.excludes = excludes;
    } else {
        wo.filters.excludes = p->scan.excludes;
    }
    wo.filters.exclude_count = p->scan.exclude_count + prune_count;
    wo.filters.max_depth = p->scan.max_depth;
    if (o->progress) {
        wo.progress = report_progress;
        wo.progress_ctx = rep;
    }
    wo.remote = o->remote;
    if (own_outputs(sinks, rep, o, &wo, err, sizeof err) != 0) {
        char ignored[256];
        free(excludes);
        sinks_finish(sinks, PIPELINE_FAILED, ignored, sizeof ignored);
        report_finish(rep, 0, ignored, sizeof ignored);
        sinks_free(sinks);
        report_free(rep);
        return result_fail(r, PIPELINE_FAILED, "errors file: %s", err);
    }
    walk_sink ws = sinks_walk_sink(sinks);
    char walk_err[256] = "";
    int wrc = walk_execute(&wo, &ws, &r->stats, walk_err, sizeof walk_err);
    free(excludes); /* the strings belong to the config and the sinks */
    report_progress_end(rep);

    int status;
    if (pipeline_stop_signal) {
        status = 128 + pipeline_stop_signal;
        snprintf(r->message, sizeof r->message,
                 "interrupted by signal %d (%s); no output published", (int)pipeline_stop_signal,
                 strsignal(pipeline_stop_signal));
    } else if (sinks_failed(sinks, err, sizeof err)) {
        status = PIPELINE_FAILED;
        snprintf(r->message, sizeof r->message, "%.1900s; no output published", err);
    } else if (wrc != 0) {
        status = PIPELINE_FAILED;
        snprintf(r->message, sizeof r->message, "scan %s; no output published", walk_err);
    } else {
        status = PIPELINE_OK;
    }

    if (status == PIPELINE_OK && report_prepare(rep, err, sizeof err) != 0) {
        status = PIPELINE_FAILED;
        snprintf(r->message, sizeof r->message, "errors file: %.1900s; no output published",
                 err);
    }
    if (sinks_finish(sinks, status, err, sizeof err) != 0 && status == PIPELINE_OK) {
        status = PIPELINE_FAILED;
        snprintf(r->message, sizeof r->message, "%s", err);
    }
    if (report_finish(rep, status == PIPELINE_OK, err, sizeof err) != 0 &&
        status == PIPELINE_OK) {
        status = PIPELINE_FAILED;
        snprintf(r->message, sizeof r->message, "errors file: %.1900s", err);
    }
    r->errors = report_error_count(rep);
    r->vanished = report_vanished_count(rep);
    /* entries that vanished are normal on a live filesystem; a strict scan
     * (scan.strict, --strict) still counts them against the exit status */
    if (status == PIPELINE_OK && (r->errors > 0 || (p->scan.strict && r->vanished > 0)))
        status = PIPELINE_PARTIAL;
    r->status = status;
    r->sink_count = sinks_count(sinks);
    for (size_t i = 0; i < r->sink_count && i < 64; i++)
        r->sink_rows[i] = sinks_rows(sinks, i);

    if (!o->quiet || status != PIPELINE_OK)
        report_summary(rep, &r->stats, sinks, o->summary ? o->summary : stderr);
    sinks_free(sinks);
    report_free(rep);
    return status;
}
