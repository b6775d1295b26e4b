/*
 * summary.h -- the end-of-scan summary as text (what pwalk-engine prints on
 * stderr, pwalk_scan_summary()): one line of counts, then the first few
 * errors.  The library keeps it as a string; only drivers print it.
 */
#ifndef PWALK_ENGINE_SUMMARY_H
#define PWALK_ENGINE_SUMMARY_H

#include "report.h"
#include "sinks.h"
#include "walk.h"

/* The summary of a finished scan, malloc'ed (NUL-terminated), or NULL when
 * out of memory. */
/* sessions > 1 (a resumed scan): st counts every session, and the rate is
 * this session's (session_entries in st->seconds). */
char *summary_text(report *r, const walk_stats *st, const sink_set *sinks, size_t sessions,
                   uint64_t session_entries);

#endif
