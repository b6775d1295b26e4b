/*
 * pipeline.h -- one complete scan: check the roots, load and start the
 * sinks, walk, commit or abandon every output, summarise.  The command line
 * (main.c) and the Python package call this same function, so a scan from
 * Python is the scan the CLI runs.
 */
#ifndef PWALK_ENGINE_PIPELINE_H
#define PWALK_ENGINE_PIPELINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "walk.h"

/* Exit statuses (also the CLI's). */
#define PIPELINE_OK 0
#define PIPELINE_PARTIAL 1  /* complete, but some entries could not be read */
#define PIPELINE_USAGE 2    /* bad config/options/roots: nothing written    */
#define PIPELINE_FAILED 3   /* the scan or an output failed: nothing published */
/* 128 + N: stopped by signal N (walk_request_stop() with pipeline_signal) */

typedef struct pipeline_run_options {
    int quiet;                  /* no summary unless something failed     */
    int progress;               /* draw the progress line on stderr       */
    FILE *summary;              /* where the summary goes (NULL: stderr)  */
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
} pipeline_result;

/* Record that signal sig stopped the scan (async-signal-safe); the result's
 * status becomes 128+sig.  A request made before pipeline_run() starts is
 * kept (a Ctrl-C during set-up still stops the scan); callers that run
 * several scans clear it first with pipeline_clear_signal(). */
void pipeline_signal(int sig);
void pipeline_clear_signal(void);

/* Run p.  Always fills *r; returns r->status. */
int pipeline_run(cfg_pipeline *p, const pipeline_run_options *o, pipeline_result *r);

#endif
