/*
 * engine/mpi/shard.h -- what a scan split over MPI ranks leaves on disk: one output
 * file per rank and sink ("shards": scan.part-0003.csv.zst) and, written
 * last by rank 0, a manifest that says the set is complete.  No manifest
 * means the shards are not a report.  Kept apart from the MPI code so the
 * names and the manifest are tested without MPI.
 */
#ifndef PWALK_MPI_SHARD_H
#define PWALK_MPI_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "common/outfile.h"
#include "pwalk/pwalk.h"

#define SHARD_MAX_SINKS 64

/* path with ".part-NNNN" put before its first ".csv" (scan.csv.zst ->
 * scan.part-0003.csv.zst), or appended when the file name has none; "*"
 * for rank -1 gives the glob of every shard (scan.part-*.csv.zst).  Returns
 * 0, or -1 when out does not hold it. */
int shard_name(const char *path, int rank, char *out, size_t outlen);

/* The manifest beside the first sink's output: <dir>/<stem>.manifest.json,
 * stem being the file name up to ".csv" (or up to its first '.'). */
int shard_manifest_path(const char *path, char *out, size_t outlen);

/* What one rank reports when its part of the scan is done. */
typedef struct shard_rank_result {
    int32_t status;             /* PWALK_* status of that rank            */
    int32_t sink_count;
    double seconds;
    uint64_t entries, rows, errors, dirs, filtered;
    uint64_t sink_rows[SHARD_MAX_SINKS];
    char choices[128];          /* the rank's walk choices as its summary
                                   line says them (", stat: statx ..."), or "" */
} shard_rank_result;

typedef struct shard_manifest {
    const pwalk_scan *scan;         /* roots, scan options, sinks        */
    char *const *sink_paths;        /* each sink's path before sharding  */
    const char *errors_path;        /* scan.errors before sharding, or NULL */
    int ranks;
    const shard_rank_result *results;   /* one per rank                  */
    size_t threads;                 /* per rank                          */
    double seconds;
    int64_t started;                /* Unix time                         */
    const int *merged;              /* per sink: one output merged from
                                       the ranks' partials (plugin ABI 1.3)
                                       rather than shards; NULL: none     */
} shard_manifest;

/* Write the manifest (JSON) into f and commit it (fsync, rename into place
 * relative to the directory f opened).  f is opened by the caller with
 * outfile_open_mode() before the scan -- the manifest's name is checked and
 * its directory opened then, like every output's -- and is released either
 * way.  Shard paths in it are absolute.  Returns 0, or -1 with a message
 * naming the file. */
int shard_write_manifest(outfile *f, const shard_manifest *m, char *err, size_t errlen);

#endif
