/*
 * scan_remote.c -- include/pwalk/sys/remote.h: a scan shared between
 * processes (pwalk-mpi's ranks), over the walk's hook (walk.h, "Walks
 * shared between processes") and the directory records (remote.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pwalk/sys/remote.h"
#include "checkpoint.h"
#include "remote.h"
#include "scan_impl.h"
#include "sinks.h"

/* The driver's handle on a running walk is the walk itself, under the
 * public name (both are opaque; only this file converts). */
static walk_run *scan_remote_run(pwalk_remote_walk *walk) { return (walk_run *)walk; }

static void scan_remote_tick(void *ctx, walk_run *run)
{
    pwalk_scan *s = ctx;
    s->remote_tick(s->remote_ctx, (pwalk_remote_walk *)run);
}

int pwalk_scan_set_remote(pwalk_scan *s, const pwalk_remote *r, char *err, size_t errlen)
{
    if (!r) {
        s->remote = NULL;
        return 0;
    }
    if (r->struct_size < offsetof(pwalk_remote, tick) + sizeof r->tick || !r->tick) {
        snprintf(err, errlen, "pwalk_scan_set_remote: %s",
                 r->tick ? "struct_size too small for this library" : "no tick function");
        return PWALK_USAGE;
    }
    s->remote_tick = r->tick;
    s->remote_own = r->struct_size >= offsetof(pwalk_remote, own_outputs) + sizeof r->own_outputs
                        ? r->own_outputs
                        : NULL;
    s->remote_ctx = r->ctx;
    s->remote_hook = (walk_remote){s, r->tick_ms, r->seed != 0, scan_remote_tick};
    s->remote = &s->remote_hook;
    return 0;
}

/* own_outputs's view of the pipeline's own files: what it had (copied to
 * the public type) and what the driver added, handed back as `more`. */
struct pwalk_remote_own {
    pwalk_file_id *ids;
    size_t count;
    size_t base;                /* ids[0..base) were the pipeline's */
};

const pwalk_file_id *pwalk_remote_own_files(pwalk_remote_own *own, size_t *count)
{
    *count = own->count;
    return own->ids;
}

int pwalk_remote_own_add(pwalk_remote_own *own, const pwalk_file_id *ids, size_t count)
{
    if (count == 0)
        return 0;
    if (count > SIZE_MAX / sizeof *ids - own->count)
        return -1;
    pwalk_file_id *grown = realloc(own->ids, (own->count + count) * sizeof *grown);
    if (!grown)
        return -1;
    memcpy(grown + own->count, ids, count * sizeof *ids);
    own->ids = grown;
    own->count += count;
    return 0;
}

/* pipeline_run_options.on_own: the driver's own_outputs over the public
 * type; what it added goes back to the pipeline as more. */
static int scan_remote_own(void *ctx, const walk_file_id *had, size_t had_count,
                           walk_file_id **more, size_t *more_count, char *err, size_t errlen)
{
    pwalk_scan *s = ctx;
    pwalk_remote_own own = {calloc(had_count ? had_count : 1, sizeof *own.ids), had_count,
                            had_count};
    if (!own.ids) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < had_count; i++)
        own.ids[i] = (pwalk_file_id){had[i].dev, had[i].ino};
    int rc = s->remote_own(s->remote_ctx, &own, err, errlen) != 0 ? -1 : 0;
    size_t n = own.count - own.base;
    *more = rc == 0 && n ? malloc(n * sizeof **more) : NULL;
    if (rc == 0 && n && !*more) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        (*more)[i] = (walk_file_id){own.ids[own.base + i].dev, own.ids[own.base + i].ino};
    *more_count = rc == 0 ? n : 0;
    free(own.ids);
    return rc;
}

void scan_remote_options(pwalk_scan *s, pipeline_run_options *o)
{
    o->remote = s->remote;
    if (s->remote && s->remote_own) {
        o->on_own = scan_remote_own;
        o->on_own_ctx = s;
    }
    o->rank = s->rank;
    o->ranks = s->ranks;
    o->start_sec = s->start_sec;
}

int pwalk_remote_idle(pwalk_remote_walk *walk) { return walk_remote_idle(scan_remote_run(walk)); }

size_t pwalk_remote_queued(pwalk_remote_walk *walk)
{
    return walk_remote_queued(scan_remote_run(walk));
}

long pwalk_remote_export(pwalk_remote_walk *walk, size_t max, char **buf, size_t *len)
{
    return remote_export(scan_remote_run(walk), max, buf, len);
}

long pwalk_remote_import(pwalk_remote_walk *walk, const char *buf, size_t len, char *err,
                         size_t errlen)
{
    return remote_import(scan_remote_run(walk), buf, len, err, errlen);
}

void pwalk_remote_end(pwalk_remote_walk *walk) { walk_remote_end(scan_remote_run(walk)); }

int pwalk_scan_sink_probe(const pwalk_scan *s, size_t i, const char *option, int *mutates,
                          int *declared, char **default_value, char *err, size_t errlen)
{
    *mutates = *declared = 0;
    *default_value = NULL;
    if (i >= s->p.sink_count) {
        snprintf(err, errlen, "%s: no sink %zu (%zu sinks)", s->p.source, i, s->p.sink_count);
        return PWALK_USAGE;
    }
    if (sinks_probe(&s->p, i, option, mutates, declared, default_value, err, errlen) != 0)
        return PWALK_USAGE;
    return 0;
}

int pwalk_scan_get_settings(const pwalk_scan *s, pwalk_scan_settings *out)
{
    if (out->struct_size < offsetof(pwalk_scan_settings, exclude_count) +
                               sizeof out->exclude_count)
        return PWALK_USAGE;
    const cfg_scan *sc = &s->p.scan;
    out->source = s->p.source;
    out->one_file_system = sc->one_file_system;
    out->skip_snapshots = sc->skip_snapshots;
    out->max_depth = sc->max_depth;
    out->threads = sc->threads;
    out->mode = sc->mode;
    out->excludes = (const char *const *)sc->excludes;
    out->exclude_count = sc->exclude_count;
    if (out->struct_size >= offsetof(pwalk_scan_settings, max_ops) + sizeof out->max_ops)
        out->max_ops = sc->max_ops;
    return 0;
}

/* ---- merging partial outputs (plugin ABI 1.3) ------------------------------ */

int pwalk_scan_set_rank(pwalk_scan *s, int rank, int ranks, int64_t start_sec)
{
    if (ranks < 1 || rank < 0 || rank >= ranks)
        return PWALK_USAGE;
    s->rank = rank;
    s->ranks = ranks;
    s->start_sec = start_sec;
    return 0;
}

int pwalk_scan_set_partial(pwalk_scan *s, int on)
{
    s->partial = on != 0;
    return 0;
}

int pwalk_scan_sink_merge_probe(const pwalk_scan *s, size_t i, int *merges, char **output,
                                char *err, size_t errlen)
{
    *merges = 0;
    *output = NULL;
    if (i >= s->p.sink_count) {
        snprintf(err, errlen, "%s: no sink %zu (%zu sinks)", s->p.source, i, s->p.sink_count);
        return PWALK_USAGE;
    }
    return sinks_probe_merge(&s->p, i, merges, output, err, errlen) != 0 ? PWALK_USAGE : 0;
}

/* A sink's log line during the merge goes where the scan's go. */
static void scan_merge_log(void *ctx, const char *line)
{
    pwalk_scan *s = ctx;
    if (s->cb.on_log)
        s->cb.on_log(s->cb.ctx, PWALK_LOG_INFO, line);
}

int pwalk_scan_merge_sink(pwalk_scan *s, size_t i, const char *const *partials, size_t count,
                          const pwalk_scan_facts *facts, char *err, size_t errlen)
{
    if (i >= s->p.sink_count) {
        snprintf(err, errlen, "%s: no sink %zu (%zu sinks)", s->p.source, i, s->p.sink_count);
        return PWALK_USAGE;
    }
    pwalk_scan_facts f;
    memset(&f, 0, sizeof f);
    if (facts) {
        size_t n = facts->struct_size < sizeof f ? facts->struct_size : sizeof f;
        memcpy(&f, facts, n);
    }
    if (!f.roots) {
        f.roots = (const char *const *)s->p.scan.roots;
        f.root_count = (uint32_t)s->p.scan.root_count;
    }
    if (!f.version)
        f.version = PWALK_VERSION_STRING;
    if (!f.thread_count && s->p.scan.threads > 0)
        f.thread_count = (uint32_t)s->p.scan.threads;
    sinks_error_hook hook = {s, NULL, scan_merge_log};
    char msg[2048];
    int rc = sinks_merge(&s->p, i, s->builtins, s->builtin_count, &f, partials, count, &hook,
                         msg, sizeof msg);
    if (rc != 0)
        snprintf(err, errlen, "%s", msg);
    return rc == 0 ? 0 : rc == -2 ? PWALK_USAGE : PWALK_FAILED;
}

int pwalk_remote_checkpoint(pwalk_remote_walk *walk, const char *journal_path, int suspend,
                            char *err, size_t errlen)
{
    walk_run *run = scan_remote_run(walk);
    ckpt *c = walk_checkpoint_ctx(run);
    if (!c) {
        snprintf(err, errlen, "this scan keeps no journal (scan.checkpoint is not set)");
        return -1;
    }
    if (journal_path)
        ckpt_set_path(c, journal_path);
    int rc = walk_checkpoint_now(run, suspend, err, errlen);
    return rc < 0 ? -1 : rc;
}
