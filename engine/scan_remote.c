/*
 * scan_remote.c -- include/pwalk/sys/remote.h: a scan shared between
 * processes (pwalk-mpi's ranks), over the walk's hook (walk.h, "Walks
 * shared between processes") and the directory records (remote.c).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "pwalk/sys/remote.h"
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
    s->remote_ctx = r->ctx;
    s->remote_hook = (walk_remote){s, r->tick_ms, r->seed != 0, scan_remote_tick};
    s->remote = &s->remote_hook;
    return 0;
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
    return 0;
}
