/*
 * engine/mpi/ckpt.h -- what a checkpointed pwalk-mpi scan leaves on disk
 * besides the outputs' parts: one journal per rank and generation parity
 * ("PATH.g1.rank-0003", written by the library's pwalk_remote_checkpoint())
 * and, written by rank 0 only once every rank's journal is durable, the
 * manifest at PATH itself, which says which generation is the complete
 * set.  The journals alternate between two parities so that a crash in the
 * middle of a checkpoint leaves the previous generation's set intact: the
 * manifest still names it.  Kept apart from the MPI code so the names, the
 * manifest and the durations are tested without MPI.
 */
#ifndef PWALK_MPI_CKPT_H
#define PWALK_MPI_CKPT_H

#include <stddef.h>
#include <stdint.h>

/* The manifest's "format" value. */
#define CKPT_FORMAT "pwalk-mpi-checkpoint"

typedef struct ckpt_manifest {
    uint64_t generation;        /* checkpoints written so far, >= 1       */
    int ranks;                  /* ranks that wrote that generation        */
    int64_t started;            /* the scan's first start (epoch seconds)  */
    char version[64];           /* the writer's pwalk_version()            */
    /* the sessions so far, (start, end) epoch seconds each, oldest first:
     * the running one ends at the checkpoint (summary.json's session
     * times when rank 0 merges the ranks' partials) */
    int64_t *sessions;          /* 2 * session_count; malloc'ed by read    */
    size_t session_count;
} ckpt_manifest;

/* The most sessions a manifest holds (a scan resumed that often is not). */
#define CKPT_MAX_SESSIONS 100000

/* The journal of rank `rank` for generation `generation`:
 * "PATH.g<generation % 2>.rank-<rank, 4 digits>".  0, or -1 (too long). */
int ckpt_rank_path(const char *path, uint64_t generation, int rank, char *out, size_t outlen);

/* The old ranks whose journals rank `rank` of a job of `ranks` continues
 * when the checkpoint was written by `old_ranks`: rank, rank + ranks, ...
 * below old_ranks (none when rank >= old_ranks: that rank starts empty and
 * gets work from the others).  Fills out[0..cap-1]; returns how many. */
size_t ckpt_rank_share(int rank, int ranks, int old_ranks, int *out, size_t cap);

/* Write the manifest at path atomically and durably (common/outfile: a
 * temporary beside it, fsync, rename, fsync of the directory); outputs
 * (the sinks' unsharded outputs, n of them) are listed for people.
 * Returns 0, or -1 with "checkpoint 'PATH': ..." in err. */
int ckpt_write_manifest(const char *path, int mode, const ckpt_manifest *m,
                        const char *const *outputs, size_t n, char *err, size_t errlen);

/* Read and check a manifest: "checkpoint 'PATH': <strerror>", "checkpoint
 * 'PATH': not a pwalk-mpi checkpoint manifest" (also for a pwalk-engine
 * journal, or values out of range).  Returns 0 (*m filled; free it with
 * ckpt_manifest_free()) or -1 (*m empty). */
int ckpt_read_manifest(const char *path, ckpt_manifest *m, char *err, size_t errlen);
void ckpt_manifest_free(ckpt_manifest *m);

/* Remove both parities' journals of ranks from..to-1 (missing is fine). */
void ckpt_remove_journals(const char *path, int from, int to);

#endif
