/*
 * scan_impl.h -- what a pwalk_scan holds.  Library-private: scan.c and the
 * library's include/pwalk/sys/ hooks (driver-only: in-process plugins,
 * pwalk-mpi's shared walk) fill it; drivers see only pwalk.h.
 */
#ifndef PWALK_ENGINE_SCAN_IMPL_H
#define PWALK_ENGINE_SCAN_IMPL_H

#include "config.h"
#include "pipeline.h"
#include "pwalk/plugin.h"
#include "pwalk/pwalk.h"
#include "walk.h"

struct pwalk_remote_walk; /* pwalk/sys/remote.h */
struct pwalk_remote_own;

struct pwalk_scan {
    cfg_pipeline p;
    /* pwalk_scan_stop(): set from any thread or a signal handler with
     * lock-free atomics only; signal first, then the request. */
    int stop;
    int stop_signal;
    int suspend;                        /* pwalk_scan_suspend(): same rules */
    char **resume;                      /* pwalk_scan_resume()'s journals */
    size_t resume_count;
    pwalk_callbacks cb;
    const pwalk_plugin **builtins;      /* pwalk/sys/builtin.h */
    size_t builtin_count;
    walk_file_id *own;                  /* pwalk_scan_own_fd() */
    size_t own_count;
    const walk_remote *remote;          /* a walk shared between processes */
    /* pwalk/sys/remote.h (scan_remote.c): remote points at remote_hook,
     * whose tick calls the driver's tick with its ctx. */
    walk_remote remote_hook;
    void (*remote_tick)(void *ctx, struct pwalk_remote_walk *walk);
    int (*remote_own)(void *ctx, struct pwalk_remote_own *own, char *err, size_t errlen);
    void *remote_ctx;
    int rank, ranks;                    /* pwalk_scan_set_rank() (0,0: alone) */
    int partial;                        /* pwalk_scan_set_partial()          */
    int64_t start_sec;
    /* results */
    int ran;
    int checked;                        /* results of pwalk_scan_check() */
    pipeline_result r;
};

/* pipeline_run()'s options for s (callbacks, stop, own files, builtins). */
void scan_run_options(pwalk_scan *s, pipeline_run_options *o);

/* The shared walk's part of them (scan_remote.c): o->remote, o->on_own. */
void scan_remote_options(pwalk_scan *s, pipeline_run_options *o);

#endif
