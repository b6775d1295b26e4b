/*
 * pipeline.h -- one complete scan: check the roots, load and start the
 * sinks, walk, commit or abandon every output, summarise.  Pipeline
 * assembly exists once, here; pwalk_scan_run() (scan.c, the public API) is
 * its one caller, and every driver goes through that.
 */
#ifndef PWALK_ENGINE_PIPELINE_H
#define PWALK_ENGINE_PIPELINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "pwalk/pwalk.h"
#include "walk.h"

/* Exit statuses (also the CLI's). */
#define PIPELINE_OK 0
#define PIPELINE_PARTIAL 1  /* complete, but some entries could not be read */
#define PIPELINE_USAGE 2    /* bad config/options/roots: nothing written    */
#define PIPELINE_FAILED 3   /* the scan or an output failed: nothing published */
#define PIPELINE_INCOMPLETE 75 /* suspended at a checkpoint: parts and journal kept */
/* 128 + N: stopped by signal N (o->stop set, N in o->stop_signal) */

typedef struct pipeline_run_options {
    /* The scan's stop request and the signal recorded with it (both
     * required: a pwalk_scan's own, pwalk_scan_stop() sets them). */
    int *stop;
    const int *stop_signal;
    /* About once a second on the calling thread (optional). */
    void (*on_progress)(void *ctx, const walk_stats *now, uint64_t queued);
    void *on_progress_ctx;
    /* A sink's log line, "sink 'NAME': TEXT" (any thread; NULL: dropped). */
    void (*on_log)(void *ctx, const char *line);
    void *on_log_ctx;
    /* Every error record as it happens (optional; any thread); kind is
     * PWALK_ERROR_* (vanished and replaced entries come here too). */
    void (*on_error)(void *ctx, const char *path, size_t path_len, int error_number,
                     const char *operation, uint32_t kind);
    void *on_error_ctx;
    /* Plugins the caller provides in process, by name, before the search
     * path is consulted (the Python package's walk-iterator). */
    const struct pwalk_plugin *const *builtin_plugins;
    size_t builtin_plugin_count;
    /* A walk shared with other processes (pwalk-mpi); NULL normally. */
    const walk_remote *remote;
    /* Files the caller writes besides the sinks' and the error file
     * (pwalk-mpi's manifest), left out of the walk like them. */
    const int *own_fds;
    size_t own_fd_count;
    /* The same, identified by the caller (pwalk_scan_own_fd()). */
    const walk_file_id *own_ids;
    size_t own_id_count;
    /* Optional: once every output exists (sinks started, error file open)
     * and before the walk, on the calling thread: own (own_count) is what
     * the walk leaves out so far; the hook may leave out more by returning
     * them in *more (malloc'ed, *more_count long, freed by the pipeline).
     * Non-zero: the scan fails (status 3, "own outputs: " + err). */
    int (*on_own)(void *ctx, const walk_file_id *own, size_t own_count, walk_file_id **more,
                  size_t *more_count, char *err, size_t errlen);
    void *on_own_ctx;
    /* The scan split over processes (pwalk/sys/remote.h,
     * pwalk_scan_set_rank()): this one's rank of ranks and the start time
     * they share, for host->scan_facts() (ABI 1.3).  ranks 0: one process,
     * start_sec 0: the time the sinks are created. */
    int rank, ranks;
    int64_t start_sec;
    /* Checkpoints (pwalk.h): the suspension request (pwalk_scan_suspend();
     * NULL: none) and the journals a resumed run continues (none: a fresh
     * scan, which checkpoints when scan.checkpoint is set). */
    const int *suspend;
    const char *const *resume;
    size_t resume_count;
    int partial;                /* pwalk_scan_set_partial(): facts flag    */
} pipeline_run_options;

typedef struct pipeline_result {
    int status;                 /* PIPELINE_* or 128+N                    */
    char message[2048];         /* one line: why it is not 0 (or "")      */
    walk_stats stats;
    uint64_t errors;            /* error records, walk's and sinks'       */
    uint64_t vanished;          /* entries gone or replaced mid-scan: not
                                   errors unless scan.strict              */
    size_t sink_count;
    uint64_t *sink_rows;        /* rows per sink (malloc'ed; the caller
                                   frees it), NULL when out of memory     */
    uint64_t replaced;          /* of vanished, directories replaced      */
    char *summary;              /* the summary text (malloc'ed) or NULL   */
    /* What failed, as fields: PWALK_FAIL_*; the sink (index, its own
     * message) for FAIL_PLUGIN/FAIL_SINK; the root and errno for FAIL_ROOT
     * (failed_path points into the pipeline's roots). */
    int failure;
    int has_failed_sink;
    size_t failed_sink;
    char failed_message[1024];
    const char *failed_path;
    int failed_errno;
} pipeline_result;

/* What can be checked without writing anything: roots, thread count,
 * plugins and sink options (status 2 with r->message and r->failure). */
int pipeline_check(cfg_pipeline *p, const pipeline_run_options *o, pipeline_result *r);

/* Run p.  Always fills *r; returns r->status.  The caller frees
 * r->summary and r->sink_rows. */
int pipeline_run(cfg_pipeline *p, const pipeline_run_options *o, pipeline_result *r);

#endif
