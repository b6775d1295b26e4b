/*
 * pipeline.h -- one complete scan: check the roots, load and start the
 * sinks, walk, commit or abandon every output, summarise.  Pipeline
 * assembly exists once, here: pwalk_scan_run() (scan.c, the public API)
 * runs it, and so do, until they move to pwalk.h, pwalk-mpi and the Python
 * extension through pipeline_run().
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
/* 128 + N: stopped by signal N (walk_request_stop() with pipeline_signal) */

typedef struct pipeline_run_options {
    int quiet;                  /* no summary unless something failed     */
    int progress;               /* ignored (the CLI draws it: on_progress) */
    FILE *summary;              /* where the summary goes (NULL: stderr)  */
    /* Per scan (pwalk_scan): the stop request and the signal recorded with
     * it.  NULL: the process-wide ones of pipeline_signal(), for callers
     * from before pwalk.h. */
    int *stop;
    const int *stop_signal;
    /* keep_summary: the summary goes to r->summary (malloc'ed, the caller
     * frees it), nothing is printed, quiet and summary are ignored. */
    int keep_summary;
    /* About once a second on the calling thread (optional). */
    void (*on_progress)(void *ctx, const walk_stats *now, uint64_t queued);
    void *on_progress_ctx;
    /* A sink's log line, "sink 'NAME': TEXT" (any thread).  NULL and no
     * stop given: printed on stderr as before; NULL with stop: dropped. */
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
} pipeline_run_options;

typedef struct pipeline_result {
    int status;                 /* PIPELINE_* or 128+N                    */
    char message[2048];         /* one line: why it is not 0 (or "")      */
    walk_stats stats;
    uint64_t errors;            /* error records, walk's and sinks'       */
    uint64_t vanished;          /* entries gone or replaced mid-scan: not
                                   errors unless scan.strict              */
    size_t sink_count;
    uint64_t sink_rows[64];     /* rows per sink (first 64 sinks)         */
    uint64_t replaced;          /* of vanished, directories replaced      */
    char *summary;              /* with keep_summary: the summary text    */
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

/* Record that signal sig stopped the scan (async-signal-safe); the result's
 * status becomes 128+sig.  A request made before pipeline_run() starts is
 * kept (a Ctrl-C during set-up still stops the scan); callers that run
 * several scans clear it first with pipeline_clear_signal(). */
void pipeline_signal(int sig);
void pipeline_clear_signal(void);

/* What can be checked without writing anything: roots, thread count,
 * plugins and sink options (status 2 with r->message and r->failure). */
int pipeline_check(cfg_pipeline *p, const pipeline_run_options *o, pipeline_result *r);

/* Run p.  Always fills *r; returns r->status.  With o->keep_summary the
 * caller frees r->summary. */
int pipeline_run(cfg_pipeline *p, const pipeline_run_options *o, pipeline_result *r);

#endif
