/*
 * manifest.h -- the MPI manifest of pwalk-mpi (engine/mpi/shard.c) as an
 * input of pwalk-diff: the shards of its first csv* sink and the scan's
 * start time.  JSON is read with libyaml (JSON is YAML's flow style; the
 * manifest's strings hold only \" and \\ escapes, lossless text inside).
 */
#ifndef PWALK_DIFF_MANIFEST_H
#define PWALK_DIFF_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dman {
    char **shards;          /* paths, NUL-terminated bytes */
    size_t shard_count;
    int64_t started;
    int has_started;
} dman;

/* 0, or -1 with "PATH: reason" in err (not JSON, not a complete pwalk
 * manifest, no csv sink). */
int dman_read(const char *path, dman *m, char *err, size_t errlen);
void dman_free(dman *m);

#ifdef __cplusplus
}
#endif

#endif
