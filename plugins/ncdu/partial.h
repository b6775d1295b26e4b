/*
 * partial.h -- a pwalk-mpi rank's part of the export (plugin ABI 1.3
 * merge): the rank's records, already in key order, between a header
 * naming the root (when this rank listed it) and a trailer that says the
 * file is whole.  Private to this plugin, versioned by its magic:
 *
 *   "PWNCDUP1"  u32 root_len  u32 version_len  root  version
 *   records (spill.h's ncdu_rec + key, back to back)
 *   u64 record_count  u64 record_bytes  "PWNCDUE1"
 *
 * Integers in the machine's byte order: the ranks of one job and the merge
 * run the same build.
 */
#ifndef NCDU_PARTIAL_H
#define NCDU_PARTIAL_H

#include "common/outfile.h"
#include "emit.h"
#include "spill.h"

/* Every record of m into o (an outfile of the rank's shard); root: the
 * export's root name when this rank listed the root, else "".  0, or -1
 * with err. */
int ncdu_partial_write(ncdu_out *o, ncdu_merge *m, const char *root, const char *version,
                       char *err, size_t errlen);

/* Open and check the partial at path: *run its records (run->fd is the
 * caller's to close), *root and *version malloc'ed (root "" when that rank
 * had no root).  0, or -1 with "ncdu partial 'PATH': why" in err. */
int ncdu_partial_open(const char *path, ncdu_run *run, char **root, char **version, char *err,
                      size_t errlen);

#endif
