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
#include <time.h>
#include <unistd.h>

#include <errno.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "report.h"
#include "sinks.h"
#include "summary.h"
#include "threads.h"

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
    for (size_t i = 0; i < o->own_id_count; i++)
        if (sinks_own_id(sinks, o->own_ids[i], err, errlen) != 0)
            return -1;
    wo->own = sinks_own_files(sinks, &wo->own_count);
    return 0;
}

/* The caller's files of other processes (pwalk-mpi's other ranks), known
 * only now that every output of this one exists: left out as well. */
static int own_hook(sink_set *sinks, const pipeline_run_options *o, walk_options *wo,
                    char *err, size_t errlen)
{
    walk_file_id *more = NULL;
    size_t more_count = 0;
    int rc = 0;
    if (o->on_own(o->on_own_ctx, wo->own, wo->own_count, &more, &more_count, err, errlen))
        rc = -1;
    for (size_t i = 0; rc == 0 && i < more_count; i++)
        rc = sinks_own_id(sinks, more[i], err, errlen);
    free(more);
    wo->own = sinks_own_files(sinks, &wo->own_count);
    return rc;
}

/* What a run holds between its steps. */
typedef struct pipeline_state {
    cfg_pipeline *p;
    const pipeline_run_options *o;
    pipeline_result *r;
    int *stop;
    const int *stop_signal;
    size_t threads;             /* workers the walk may have (sinks' count) */
    size_t start_threads;       /* threads: auto / scan.adaptive: at first */
    size_t min_threads;         /* ... and at least                        */
    sink_set *sinks;
    report *rep;
    error_tee tee;
    char **excludes;            /* scan.exclude + the sinks' prunes */
    ckpt *ckpt;                 /* scan.checkpoint or a resume; else NULL */
    int ckpt_kept;              /* failed, the journal kept (ckpt_keep)    */
    uint64_t session_entries;   /* this session's part of the counts      */
} pipeline_state;

static int fail_at(pipeline_result *r, int failure, int status, const char *msg)
{
    r->failure = failure;
    return result_fail(r, status, "%s", msg);
}

/* threads: auto -- start at the cores, grow up to scan.max_threads while
 * that pays (a slow filesystem), never below the cores unless
 * scan.adaptive asks to give way (pace.h). */
static void pipeline_auto_threads(pipeline_state *ps, size_t cores)
{
    size_t most = (size_t)ps->p->scan.max_threads;
    if (most < 1)
        most = 1;
    ps->start_threads = cores < most ? cores : most;
    ps->min_threads = ps->p->scan.adaptive ? 1 : ps->start_threads;
    ps->threads = most;
}

/* Roots and the thread count: what can be wrong before anything is loaded. */
static int pipeline_check_scan(pipeline_state *ps)
{
    cfg_pipeline *p = ps->p;
    pipeline_result *r = ps->r;
    char err[2048];
    if (p->scan.root_count == 0) {
        r->failure = PWALK_FAIL_CONFIG;
        return result_fail(r, PIPELINE_USAGE,
                           "%s: no paths to scan: give PATH arguments or scan.roots", p->source);
    }
    if (walk_check_roots(p->scan.roots, p->scan.root_count, err, sizeof err) != 0) {
        for (size_t i = 0; i < p->scan.root_count && !r->failed_path; i++) {
            struct stat st;
            if (lstat(p->scan.roots[i], &st) != 0) {
                r->failed_path = p->scan.roots[i];
                r->failed_errno = errno;
            }
        }
        return fail_at(r, PWALK_FAIL_ROOT, PIPELINE_USAGE, err);
    }
    ps->threads = (size_t)p->scan.threads;
    if (ps->threads == 0) {
        const char *from;
        int n = threads_auto(&from, err, sizeof err);
        if (n < 0)
            return fail_at(r, PWALK_FAIL_CONFIG, PIPELINE_USAGE, err);
        pipeline_auto_threads(ps, (size_t)n);
    } else {
        /* a fixed count; scan.adaptive may run fewer while latency is high */
        ps->start_threads = ps->threads;
        ps->min_threads = p->scan.adaptive ? 1 : ps->threads;
    }
    return 0;
}

/* The failed sink, as fields (the message stays the whole line). */
static void note_sink_failure(pipeline_state *ps, int failure)
{
    size_t i;
    const char *msg;
    if (ps->r->failure == PWALK_FAIL_NONE)
        ps->r->failure = failure;
    if (ps->r->has_failed_sink || !sinks_failure(ps->sinks, &i, &msg))
        return;
    ps->r->has_failed_sink = 1;
    ps->r->failed_sink = i;
    snprintf(ps->r->failed_message, sizeof ps->r->failed_message, "%s", msg);
}

static void tee_log(void *ctx, const char *line)
{
    error_tee *t = ctx;
    if (t->o->on_log)
        t->o->on_log(t->o->on_log_ctx, line);
}

/* The error file: a new one, or a resumed scan's part continued. */
static int pipeline_open_report(pipeline_state *ps, char *err, size_t errlen)
{
    const unsigned char *const *states;
    const size_t *lens;
    size_t n = ckpt_errors_states(ps->ckpt, &states, &lens);
    if (n)
        return report_open_resume(&ps->rep, ps->p->scan.errors_path, ps->p->scan.mode, states,
                                  lens, n, err, errlen);
    return report_open(&ps->rep, ps->p->scan.errors_path, ps->p->scan.mode, err, errlen);
}

/* Load the plugins, open the error file, create the sinks' outputs. */
static int pipeline_open(pipeline_state *ps)
{
    const pipeline_run_options *o = ps->o;
    char err[2048];
    if (sinks_load_with(ps->p, o->builtin_plugins, o->builtin_plugin_count, &ps->sinks, err,
                        sizeof err) != 0) {
        note_sink_failure(ps, PWALK_FAIL_PLUGIN);
        return result_fail(ps->r, PIPELINE_USAGE, "%s", err);
    }
    sinks_set_stop(ps->sinks, ps->stop);
    if (ckpt_bind_sinks(ps->ckpt, ps->sinks, err, sizeof err) != 0)
        return fail_at(ps->r, PWALK_FAIL_CHECKPOINT, PIPELINE_USAGE, err);
    if (pipeline_open_report(ps, err, sizeof err) != 0) {
        ps->r->failure = PWALK_FAIL_ERRORS_FILE;
        return result_fail(ps->r, PIPELINE_USAGE, "errors file: %s", err);
    }
    ps->tee.report = report_error_hook(ps->rep);
    ps->tee.o = o;
    sinks_error_hook hook = {&ps->tee, tee_record, tee_log};
    pwalk_scan_facts facts = {
        .thread_count = (uint32_t)ps->threads,
        .rank = o->rank,
        .ranks = o->ranks,
        .flags = o->partial ? PWALK_FACTS_PARTIAL : 0u,
        .start_sec = o->start_sec,
        .version = PWALK_VERSION_STRING,
        .roots = (const char *const *)ps->p->scan.roots,
        .root_count = (uint32_t)ps->p->scan.root_count,
    };
    size_t sessions;
    facts.sessions = ckpt_sessions(ps->ckpt, &sessions);
    facts.session_count = (uint32_t)sessions;
    /* one scan, one start: ages (summary's buckets) count from the first
     * session's, whenever a later one runs */
    if (facts.sessions && (sessions > 1 || !facts.start_sec))
        facts.start_sec = facts.sessions[0].start_sec;
    sinks_set_facts(ps->sinks, &facts);
    if (sinks_start(ps->sinks, ps->threads, &hook, err, sizeof err) != 0) {
        char ignored[256];
        /* a resumed scan refused here keeps its parts: the journal stays usable */
        int resumed = ckpt_resumed(ps->ckpt);
        sinks_finish(ps->sinks, resumed ? PWALK_SUSPENDED : PIPELINE_USAGE, ignored,
                     sizeof ignored);
        if (resumed)
            report_keep(ps->rep);
        else
            report_finish(ps->rep, 0, ignored, sizeof ignored);
        note_sink_failure(ps, PWALK_FAIL_SINK);
        return result_fail(ps->r, PIPELINE_USAGE, "%s", err);
    }
    return 0;
}

/* The walk's own lines (scan.adaptive's changes) go where sinks' go. */
static void pipeline_walk_log(void *ctx, const char *line)
{
    tee_log(ctx, line);
}

/* The walk's options from scan: and what the sinks asked for. */
static int pipeline_walk_options(pipeline_state *ps, walk_options *wo)
{
    cfg_pipeline *p = ps->p;
    char err[2048];
    memset(wo, 0, sizeof *wo);
    wo->roots = p->scan.roots;
    wo->root_count = p->scan.root_count;
    wo->threads = ps->threads;
    wo->one_file_system = p->scan.one_file_system;
    wo->filters.skip_snapshots = p->scan.skip_snapshots;
    wo->filters.snapshot_names = p->scan.snapshot_names;
    wo->filters.snapshot_name_count = p->scan.snapshot_name_count;
    /* scan.exclude, then what sinks pruned in create() */
    size_t prune_count = 0;
    char *const *prunes = sinks_prunes(ps->sinks, &prune_count);
    wo->filters.excludes = p->scan.excludes;
    if (prune_count) {
        ps->excludes = calloc(p->scan.exclude_count + prune_count, sizeof *ps->excludes);
        if (!ps->excludes)
            return fail_at(ps->r, PWALK_FAIL_WALK, PIPELINE_FAILED, "out of memory");
        for (size_t i = 0; i < p->scan.exclude_count; i++)
            ps->excludes[i] = p->scan.excludes[i];
        for (size_t i = 0; i < prune_count; i++)
            ps->excludes[p->scan.exclude_count + i] = prunes[i];
        wo->filters.excludes = ps->excludes;
    }
    wo->filters.exclude_count = p->scan.exclude_count + prune_count;
    wo->filters.max_depth = p->scan.max_depth;
    wo->progress = ps->o->on_progress;
    wo->progress_ctx = ps->o->on_progress_ctx;
    wo->remote = ps->o->remote;
    wo->stop = ps->stop;
    wo->adapt = p->scan.threads == 0 || p->scan.adaptive;
    wo->start_threads = ps->start_threads;
    wo->min_threads = ps->min_threads;
    wo->max_ops = p->scan.max_ops > 0 ? (uint64_t)p->scan.max_ops : 0;
    wo->lazy_stat = p->scan.lazy_stat;
    wo->io_idle = p->scan.io_idle;
    wo->log = pipeline_walk_log;
    wo->log_ctx = &ps->tee;
    wo->log_changes = p->scan.adaptive;
    wo->suspend = ps->o->suspend;
    ckpt_walk_options(ps->ckpt, ps->sinks, ps->rep, p, wo);
    if (own_outputs(ps->sinks, ps->rep, ps->o, wo, err, sizeof err) != 0) {
        ps->r->failure = PWALK_FAIL_ERRORS_FILE;
        return result_fail(ps->r, PIPELINE_FAILED, "errors file: %s", err);
    }
    if (ps->o->on_own && own_hook(ps->sinks, ps->o, wo, err, sizeof err) != 0) {
        ps->r->failure = PWALK_FAIL_WALK;
        return result_fail(ps->r, PIPELINE_FAILED, "own outputs: %.1900s", err);
    }
    return 0;
}

/* A sink or a cut failed: the scan's message, and whether the journal an
 * earlier cut or session wrote is kept for --resume (ckpt_keep). */
static void pipeline_failed_message(pipeline_state *ps, const char *why)
{
    pipeline_result *r = ps->r;
    ps->ckpt_kept = ckpt_keep(ps->ckpt);
    if (!ps->ckpt_kept)
        snprintf(r->message, sizeof r->message, "%.1900s; no output published", why);
    else
        snprintf(r->message, sizeof r->message,
                 "%.1200s; no output published; the last checkpoint and its parts are kept: "
                 "once the cause is mended, continue with --resume %.600s",
                 why, ckpt_path(ps->ckpt));
}

/* Why the walk ended: a stop, a sink, the walk itself, or it completed. */
static int pipeline_walk_outcome(pipeline_state *ps, int wrc, const char *walk_err)
{
    pipeline_result *r = ps->r;
    char err[2048];
    int sig = ps->stop_signal ? __atomic_load_n(ps->stop_signal, __ATOMIC_RELAXED) : 0;
    if (sig) {
        r->failure = PWALK_FAIL_SIGNAL;
        snprintf(r->message, sizeof r->message,
                 "interrupted by signal %d (%s); no output published", sig, strsignal(sig));
        return 128 + sig;
    }
    if (sinks_failed(ps->sinks, err, sizeof err)) {
        note_sink_failure(ps, PWALK_FAIL_SINK);
        pipeline_failed_message(ps, err);
        return PIPELINE_FAILED;
    }
    if (wrc == 2) {
        r->failure = PWALK_FAIL_SUSPENDED;
        snprintf(r->message, sizeof r->message,
                 "suspended at checkpoint '%.900s' (%llu directories to go); no output "
                 "published yet: continue with --resume %.900s",
                 ckpt_path(ps->ckpt), (unsigned long long)ckpt_pending(ps->ckpt),
                 ckpt_path(ps->ckpt));
        return PIPELINE_INCOMPLETE;
    }
    if (wrc != 0 && ckpt_cut_failed(ps->ckpt)) {
        r->failure = PWALK_FAIL_CHECKPOINT;
        snprintf(err, sizeof err, "scan %s", walk_err);
        pipeline_failed_message(ps, err);
        return PIPELINE_FAILED;
    }
    if (wrc != 0) {
        r->failure = strncmp(walk_err, "checkpoint", 10) == 0 ? PWALK_FAIL_CHECKPOINT
                                                                : PWALK_FAIL_WALK;
        snprintf(r->message, sizeof r->message, "scan %s; no output published", walk_err);
        return PIPELINE_FAILED;
    }
    return PIPELINE_OK;
}

/* Commit every output (status 0) or abandon them all. */
static int pipeline_commit(pipeline_state *ps, int status)
{
    pipeline_result *r = ps->r;
    char err[2048];
    if (ps->ckpt_kept) { /* as if suspended at that checkpoint */
        sinks_finish(ps->sinks, PWALK_SUSPENDED, err, sizeof err);
        report_keep(ps->rep);
        return status;
    }
    if (status == PIPELINE_OK && report_prepare(ps->rep, err, sizeof err) != 0) {
        status = PIPELINE_FAILED;
        r->failure = PWALK_FAIL_ERRORS_FILE;
        snprintf(r->message, sizeof r->message, "errors file: %.1900s; no output published",
                 err);
    }
    if (sinks_finish(ps->sinks, status, err, sizeof err) != 0 && status == PIPELINE_OK) {
        status = PIPELINE_FAILED;
        note_sink_failure(ps, PWALK_FAIL_SINK);
        snprintf(r->message, sizeof r->message, "%s", err);
    }
    if (status == PIPELINE_INCOMPLETE) {
        report_keep(ps->rep);
        return status;
    }
    if (report_finish(ps->rep, status == PIPELINE_OK, err, sizeof err) != 0 &&
        status == PIPELINE_OK) {
        status = PIPELINE_FAILED;
        r->failure = PWALK_FAIL_ERRORS_FILE;
        snprintf(r->message, sizeof r->message, "errors file: %.1900s", err);
    } else if (status == PIPELINE_OK) {
        ckpt_errors_published(ps->ckpt);
    }
    return status;
}

/* Counters, the status a complete scan earns, the summary. */
static void pipeline_results(pipeline_state *ps, int status)
{
    pipeline_result *r = ps->r;
    r->errors = report_error_count(ps->rep);
    r->vanished = report_vanished_count(ps->rep);
    r->replaced = report_replaced_count(ps->rep);
    /* entries that vanished are normal on a live filesystem; a strict scan
     * (scan.strict, --strict) still counts them against the exit status */
    if (status == PIPELINE_OK &&
        (r->errors > 0 || (ps->p->scan.strict && r->vanished > 0)))
        status = PIPELINE_PARTIAL;
    r->status = status;
    r->sink_count = sinks_count(ps->sinks);
    r->sink_rows = calloc(r->sink_count ? r->sink_count : 1, sizeof *r->sink_rows);
    for (size_t i = 0; r->sink_rows && i < r->sink_count; i++)
        r->sink_rows[i] = sinks_rows(ps->sinks, i);
    size_t sessions;
    ckpt_sessions(ps->ckpt, &sessions);
    r->summary = summary_text(ps->rep, &r->stats, ps->sinks, sessions, ps->session_entries);
}

/* The walk ended: host->scan_facts() reports its end and final counts
 * from prepare() on (the counts pwalk_scan_counter() gives). */
static void pipeline_final_facts(pipeline_state *ps)
{
    uint64_t filtered = 0;
    for (int i = 1; i < FILTER_REASON_COUNT; i++)
        filtered += ps->r->stats.filtered[i];
    sinks_set_final(ps->sinks, (int64_t)time(NULL), ps->r->stats.entries,
                    report_error_count(ps->rep), filtered, ps->r->stats.threads_peak);
}

/* scan.checkpoint / a resume: the journal read and checked before
 * anything is written (status 2 and nothing touched when refused). */
static int pipeline_open_checkpoint(pipeline_state *ps)
{
    const pipeline_run_options *o = ps->o;
    char err[2048];
    if (ps->p->scan.time_limit_ms && !ps->p->scan.checkpoint && !o->resume_count)
        return fail_at(ps->r, PWALK_FAIL_CONFIG, PIPELINE_USAGE,
                       "scan.time_limit needs scan.checkpoint (--checkpoint FILE): a scan "
                       "stopped at its limit is continued from its journal");
    if ((ps->p->scan.checkpoint || o->resume_count) && ps->p->scan.errors_path &&
        strcmp(ps->p->scan.errors_path, "-") == 0)
        return fail_at(ps->r, PWALK_FAIL_CHECKPOINT, PIPELINE_USAGE,
                       "scan.errors '-' (stdout) cannot be checkpointed; write it to a file");
    ckpt_setup su = {ps->p, o->resume, o->resume_count, o->rank, o->ranks, o->start_sec};
    if (ckpt_open(&ps->ckpt, &su, err, sizeof err) != 0)
        return fail_at(ps->r, PWALK_FAIL_CHECKPOINT, PIPELINE_USAGE, err);
    return 0;
}

/* What a publication that stopped after `published` outputs left out:
 * the first such output, for the refusal. */
static void pipeline_unpublished(pipeline_state *ps, size_t published, char *out, size_t len)
{
    if (published < ps->p->sink_count)
        snprintf(out, len, "sink '%s' and %zu more output(s)", ps->p->sinks[published].name,
                 ps->p->sink_count - published);
    else
        snprintf(out, len, "the error file");
}

/* The journal is of a scan that stopped while it published its outputs
 * (its walk was complete).  All of them out: the journal only outlived
 * it, and goes.  Some not: they are whole but under their temporary
 * names, which only their sinks know -- refused, saying so. */
static int pipeline_already_done(pipeline_state *ps)
{
    size_t done = ckpt_published(ps->ckpt);
    if (done < ps->p->sink_count + (ps->p->scan.errors_path ? 1 : 0)) {
        char left[512];
        pipeline_unpublished(ps, done, left, sizeof left);
        snprintf(ps->r->message, sizeof ps->r->message,
                 "checkpoint '%.900s': its scan completed but stopped while publishing: %s "
                 "not published (left as .NAME.pwalk-tmp-* temporaries); remove the journal "
                 "and those, and scan again",
                 ckpt_path(ps->ckpt), left);
        ps->r->failure = PWALK_FAIL_CHECKPOINT;
        ps->r->status = PIPELINE_USAGE;
        return PIPELINE_USAGE;
    }
    if (asprintf(&ps->r->summary,
                 "pwalk: checkpoint '%s': its scan completed and published its outputs; "
                 "nothing to resume, the journal is removed\n",
                 ckpt_path(ps->ckpt)) < 0) {
        ps->r->summary = NULL;
        return fail_at(ps->r, PWALK_FAIL_WALK, PIPELINE_FAILED, "out of memory");
    }
    pipeline_result *r = ps->r;
    r->sink_count = ps->p->sink_count;
    r->sink_rows = calloc(r->sink_count ? r->sink_count : 1, sizeof *r->sink_rows);
    /* the status that scan earned, from the counts it marked final */
    ckpt_add_counted(ps->ckpt, &r->stats);
    r->errors = r->stats.errors;
    r->vanished = r->stats.vanished;
    r->status = r->errors > 0 || (ps->p->scan.strict && r->vanished > 0) ? PIPELINE_PARTIAL
                                                                           : PIPELINE_OK;
    return r->status;
}

static int pipeline_fail_started(pipeline_state *ps, int status)
{
    char ignored[256];
    sinks_finish(ps->sinks, status, ignored, sizeof ignored);
    report_finish(ps->rep, 0, ignored, sizeof ignored);
    return ps->r->status;
}

int pipeline_check(cfg_pipeline *p, const pipeline_run_options *o, pipeline_result *r)
{
    static const pipeline_run_options defaults;
    if (!o)
        o = &defaults;
    memset(r, 0, sizeof *r);
    pipeline_state ps = {.p = p, .o = o, .r = r};
    int status = pipeline_check_scan(&ps);
    char err[2048];
    /* the journals too: a driver of many processes refuses a bad one once */
    if (status == 0)
        status = pipeline_open_checkpoint(&ps);
    if (status == 0 && sinks_load_with(p, o->builtin_plugins, o->builtin_plugin_count,
                                       &ps.sinks, err, sizeof err) != 0) {
        note_sink_failure(&ps, PWALK_FAIL_PLUGIN);
        status = result_fail(r, PIPELINE_USAGE, "%s", err);
    }
    if (status == 0 && ps.ckpt && sinks_can_checkpoint(ps.sinks, err, sizeof err) != 0)
        status = fail_at(r, PWALK_FAIL_CHECKPOINT, PIPELINE_USAGE, err);
    sinks_free(ps.sinks);
    ckpt_free(ps.ckpt);
    return status;
}

int pipeline_run(cfg_pipeline *p, const pipeline_run_options *o, pipeline_result *r)
{
    static const pipeline_run_options defaults;
    if (!o)
        o = &defaults;
    memset(r, 0, sizeof *r);
    pipeline_state ps = {.p = p, .o = o, .r = r, .stop = o->stop, .stop_signal = o->stop_signal};
    int status = pipeline_check_scan(&ps);
    if (status == 0)
        status = pipeline_open_checkpoint(&ps);
    if (status == 0 && ckpt_completed(ps.ckpt))
        status = pipeline_already_done(&ps); /* 0 or 1, r->summary set */
    else if (status == 0)
        status = pipeline_open(&ps);
    walk_options wo;
    int walk = status == 0 && !ckpt_completed(ps.ckpt);
    if (walk && pipeline_walk_options(&ps, &wo) != 0)
        status = pipeline_fail_started(&ps, PIPELINE_FAILED);
    if (walk && status == 0) {
        walk_sink ws = sinks_walk_sink(ps.sinks);
        char walk_err[256] = "";
        int wrc = walk_execute(&wo, &ws, &r->stats, walk_err, sizeof walk_err);
        ps.session_entries = r->stats.entries;
        ckpt_add_counted(ps.ckpt, &r->stats);
        ckpt_set_final(ps.ckpt, &r->stats, report_error_count(ps.rep),
                       report_vanished_count(ps.rep));
        pipeline_final_facts(&ps);
        status = pipeline_commit(&ps, pipeline_walk_outcome(&ps, wrc, walk_err));
        pipeline_results(&ps, status);
        status = r->status;
    }
    free(ps.excludes); /* the strings belong to the config and the sinks */
    sinks_free(ps.sinks);
    report_free(ps.rep);
    ckpt_end(ps.ckpt, status);
    ckpt_free(ps.ckpt);
    return status;
}
