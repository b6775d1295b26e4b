/*
 * report.h -- what the user sees of a scan besides the sinks' outputs: the
 * live progress line, the end-of-scan summary on stderr, and the error file
 * (CSV: path,errno,error,operation), written atomically like every output.
 */
#ifndef PWALK_ENGINE_REPORT_H
#define PWALK_ENGINE_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sinks.h"
#include "walk.h"

typedef struct report report;

/* errors_path NULL: no error file; mode: scan.mode (-1: 0600 as root, else
 * 0666 less the umask).  Returns 0, or -1 with a message naming the file
 * (the caller exits 2: nothing was written). */
int report_open(report **out, const char *errors_path, int mode, char *err, size_t errlen);

/* The error hook for the walk and the sinks (thread-safe). */
sinks_error_hook report_error_hook(report *r);

/* Error records of kind PWALK_ERROR_FAILED (exit status 1). */
uint64_t report_error_count(report *r);
/* Records of kinds VANISHED and REPLACED: entries that changed while the
 * scan ran (exit status 1 only in a strict scan). */
uint64_t report_vanished_count(report *r);

/* The error file's fd while it is open (for sinks_own_fd: the walk leaves
 * it out), or -1 (no error file, or stdout). */
int report_output_fd(report *r);

/* The live progress line (a walk_options.progress callback); r is the ctx. */
void report_progress(void *r, const walk_stats *now, uint64_t queued);
/* Erase the progress line if one was drawn. */
void report_progress_end(report *r);

/* Write out what is buffered, before any sink commits: a failing error
 * file must fail the scan before a report is published.  Returns 0 or -1
 * with a message. */
int report_prepare(report *r, char *err, size_t errlen);

/* Commit (ok != 0) or abandon the error file.  Returns 0 or -1 + message. */
int report_finish(report *r, int ok, char *err, size_t errlen);

/* The one-line summary and the first few errors. */
void report_summary(report *r, const walk_stats *st, const sink_set *sinks, FILE *out);

void report_free(report *r);

#endif
