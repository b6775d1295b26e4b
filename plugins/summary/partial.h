/*
 * partial.h -- a summary sink's PARTIAL result, for a scan split over
 * pwalk-mpi ranks (plugin ABI 1.3, "Merge lifecycle" in pwalk/plugin.h).
 *
 * With ranks > 1 each rank's instance writes, instead of the tables, its
 * merged aggregate (agg.h: directories' direct sums, users, groups, cube
 * cells, top names, hard-link candidates, loose sums) and the conf its
 * cells were bucketed with, to one file at its shard name.  Rank 0's merge
 * instance reads every rank's partial back, checks it and folds it in with
 * summ_agg_merge(), then finalizes as if one process had walked: the
 * tables are byte-identical to a single process's.
 *
 * The format is private to this plugin and versioned (FORMAT.md,
 * "Partials"): a header (magic, version, conf), counts, the records, and a
 * trailer holding a checksum of everything before it.  Integers are
 * little-endian whatever the host.  A partial is checked whole before any of
 * it is used; every failure is one line naming the file.
 */
#ifndef PWALK_SUMMARY_PARTIAL_H
#define PWALK_SUMMARY_PARTIAL_H

#include <stddef.h>
#include <stdint.h>

#include "agg.h"
#include "common/outfile.h"
#include "summ.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The format version this build writes and the only one it reads. */
#define SUMM_PARTIAL_VERSION 1u

/* Write a (a rank's aggregate, after every thread_close()) and c into o,
 * an outfile the caller opened on the rank's output path (it prepares and
 * commits it like any output).  0, or -1 with a message naming the file. */
int summ_partial_write(outfile *o, const summ_agg *a, const summ_conf *c, char *err,
                       size_t errlen);

/* Read the partial at path, check it (magic, version, size, checksum,
 * every record in bounds) and that its age_days and start_sec are c's, and
 * merge it into a.  0, or -1 with "summary partial 'PATH': why" in err (a
 * is then unusable: discard it). */
int summ_partial_read(summ_agg *a, const summ_conf *c, const char *path, char *err,
                      size_t errlen);

/* The same bytes into a malloc'ed *out (*len bytes; the caller frees it):
 * a checkpoint's state (plugin ABI 1.4) is a partial held in the journal.
 * 0, or -1 with a message (out of memory). */
int summ_partial_encode(const summ_agg *a, const summ_conf *c, unsigned char **out,
                        size_t *len, char *err, size_t errlen);

/* summ_partial_read() of len bytes at buf; messages start with what
 * ("summary checkpoint state 2").  0, or -1 with a message. */
int summ_partial_decode(summ_agg *a, const summ_conf *c, const unsigned char *buf,
                        size_t len, const char *what, char *err, size_t errlen);

/* The start_sec a partial's header holds (not checked further: decode
 * does that).  0, or -1 when buf is no partial's start. */
int summ_partial_start(const unsigned char *buf, size_t len, int64_t *start_sec);

/* summ_partial_read() for each of partials[0..count-1], in order (the
 * merge callback's whole work). */
int summ_partial_merge(summ_agg *a, const summ_conf *c, const char *const *partials,
                       size_t count, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
