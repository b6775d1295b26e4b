/*
 * journal.h -- a scan's checkpoint journal (issue 19): what a suspended or
 * crashed scan needs to continue where it stopped.  The lead assembles a
 * journal (pipeline lines, sessions, counters, every sink's and the error
 * file's saved state, the pending directories as remote_record's) at a cut
 * of the walk; this module only writes it atomically and durably, reads it
 * back refusing anything that is not exactly what was written, and checks
 * that a resume runs the same pwalk and the same pipeline.
 *
 * The file (all integers little endian, as the host: one machine writes and
 * resumes a scan; a big-endian host still reads its own journals):
 *   "PWALKCKP"  u32 format  u64 total length (the whole file)
 *   fields, each length-prefixed (see journal.c)
 *   u32 crc32 (zlib) of every byte before it
 * A reader trusts no length before checking it against the bytes left.
 */
#ifndef PWALK_ENGINE_JOURNAL_H
#define PWALK_ENGINE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "pwalk/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

#define JOURNAL_FORMAT 1

/* journal.flags: the walk completed and every sink prepared its output;
 * publishing began, and JOURNAL_PUBLISHED(flags) outputs are published:
 * the sinks in order, then the error file.  The journal outlived a crash
 * during the renames or before its own removal; the resume says which
 * (nothing is left to walk). */
#define JOURNAL_PUBLISHING 0x1u
#define JOURNAL_PUBLISHED(flags) ((flags) >> 8)
#define JOURNAL_PUBLISHED_SHIFT 8
#define JOURNAL_FLAGS_KNOWN 0xffffff01u

typedef struct journal_sink {
    char *name;
    char *plugin;
    uint64_t rows;
    unsigned char *state;
    size_t state_len;
} journal_sink;

typedef struct journal {
    char *version;                  /* writer's PWALK_VERSION_STRING                */
    uint64_t generation;            /* checkpoints written by the scan so far, 1..  */
    int32_t rank, ranks;            /* 0,0: not pwalk-mpi                           */
    uint32_t flags;                 /* JOURNAL_PUBLISHING | published << 8          */
    char **pipeline;                /* cfg_canonical() lines "key=value"            */
    size_t pipeline_count;
    pwalk_session *sessions;        /* plugin.h's pwalk_session                     */
    size_t session_count;
    uint64_t *counters;             /* the engine's order, opaque                   */
    size_t counter_count;
    journal_sink *sinks;
    size_t sink_count;
    unsigned char *errors_state;    /* NULL, 0: no error file                       */
    size_t errors_state_len;
    unsigned char *pending;         /* remote_record's back to back                 */
    size_t pending_len;
    uint64_t pending_count;
} journal;

/* Atomic + durable: create ".BASE.pwalk-tmp-XXXXXX" (O_EXCL, mode 0600,
 * O_NOFOLLOW|O_CLOEXEC) in PATH's directory (opened O_DIRECTORY once per
 * call, path as given), write everything, fsync, renameat over BASE, fsync
 * the directory.  A crash at any instant leaves the old or the new journal.
 * On failure the temporary is removed.  Returns 0 or -1, err
 * "checkpoint 'PATH': <what>: <strerror>". */
int journal_write(const char *path, const journal *j, char *err, size_t errlen);

/* Read and validate the whole file.  Refusals, one line each, nothing else
 * touched:
 *   "checkpoint 'PATH': <strerror>" (missing, unreadable),
 *   "checkpoint 'PATH': not a pwalk checkpoint journal",
 *   "checkpoint 'PATH': truncated (N of M bytes)",
 *   "checkpoint 'PATH': corrupt (checksum mismatch)" (also any length field
 *       that runs past the end, a count that cannot fit),
 *   "checkpoint 'PATH': journal format N, this pwalk reads format 1".
 * Returns 0 (out filled, free with journal_free) or -1 (out zeroed). */
int journal_read(const char *path, journal *out, char *err, size_t errlen);

/* The resume checks: version equal ("checkpoint 'PATH' was written by pwalk
 * V; this is pwalk W"), pipeline lines equal in order ("checkpoint 'PATH' is
 * of another pipeline: 'KEY' was 'A', now 'B'" / "... 'KEY' was not set, now
 * 'B'" / "... 'KEY' was 'A', now not set"; KEY is the part before the first
 * '=').  0 or -1. */
int journal_check(const char *path, const journal *j, const char *version,
                  char *const *pipeline, size_t count, char *err, size_t errlen);

/* Free everything journal_read() allocated and zero *j (NULL is fine). */
void journal_free(journal *j);

/* Remove PATH (completed or abandoned scan); ENOENT is fine.  Also removes
 * the temporaries ".BASE.pwalk-tmp-XXXXXX" that a journal_write() killed
 * mid-way left beside it (regular files of this user only).  0 or -1 +
 * message "checkpoint 'PATH': cannot remove: <strerror>". */
int journal_remove(const char *path, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
