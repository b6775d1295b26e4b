/*
 * report.h -- the error records of a scan: counted by kind and errno (for
 * the summary, summary.h) and written to the error file (CSV:
 * path,errno,error,operation,kind), atomically like every output.
 */
#ifndef PWALK_ENGINE_REPORT_H
#define PWALK_ENGINE_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sinks.h"
#include "walk.h"

#ifdef __cplusplus
extern "C" {
#endif

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

/* Write out what is buffered, before any sink commits: a failing error
 * file must fail the scan before a report is published.  Returns 0 or -1
 * with a message. */
int report_prepare(report *r, char *err, size_t errlen);

/* Commit (ok != 0) or abandon the error file.  Returns 0 or -1 + message. */
int report_finish(report *r, int ok, char *err, size_t errlen);

/* For the summary (summary.c), once the walk ended: records of kind
 * REPLACED; the distinct errno values of FAILED records (up to 32, in order
 * of first appearance) and their counts; the first few FAILED records
 * (path NUL-terminated, owned by r). */
uint64_t report_replaced_count(report *r);
size_t report_errno_kinds(report *r);
void report_errno_kind(report *r, size_t i, int *error_number, uint64_t *count);
size_t report_example_count(report *r);
const char *report_example_at(report *r, size_t i, int *error_number, const char **operation);

/* ---- Checkpoints (issue 19) ---- */

/* At a checkpoint (the walk paused, no record arriving): write out what is
 * buffered, make the error file's temporary durable (fdatasync) and return
 * a malloc'ed state (*state, *len; the caller frees it) for the journal:
 * the part's name and length and every counter above (errors, vanished,
 * replaced, errno kinds, the examples), so that a resumed scan's counts
 * cover every session.  No error file: the state holds the counters only.
 * Returns 0, or -1 with a message naming the file. */
int report_checkpoint(report *r, unsigned char **state, size_t *len, char *err, size_t errlen);

/* A resumed scan's report: as report_open, but continuing states[0]'s part
 * (reopened in errors_path's directory and cut back to the saved length;
 * header not written again) with its counters; states[1..n-1] (a pwalk-mpi
 * job resumed with fewer ranks) are added: their counters summed, their
 * parts' records appended and the parts removed once the error file is
 * committed (or abandoned).  n >= 1.  Returns 0, or -1 with a message
 * (bad state, a part missing or shorter than the checkpoint said: the
 * caller exits 2, the parts untouched). */
int report_open_resume(report **out, const char *errors_path, int mode,
                       const unsigned char *const *states, const size_t *lens, size_t n,
                       char *err, size_t errlen);

/* Suspended: close the error file, keep its part (and any part a resumed
 * report was to absorb) for the next resume. */
void report_keep(report *r);

void report_free(report *r);

#ifdef __cplusplus
}
#endif

#endif
