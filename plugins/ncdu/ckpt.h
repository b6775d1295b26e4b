/*
 * ckpt.h -- the ncdu sink's checkpoints (plugin ABI 1.4).
 *
 * The export is written only at prepare(), from the sorted runs the
 * workers spilled to their unnamed temporary files (spill.h), which die
 * with the process.  So at a checkpoint every worker's buffer is spilled as
 * a run and every run is appended to the export's own temporary
 * (".NAME.pwalk-tmp-XXXXXX", opened by create() and left out of the walk,
 * empty otherwise until prepare()), which is then fsync'ed; the workers go
 * on with empty files.  The state names that temporary, its length and the
 * runs in it.  A resumed create() reopens it (outfile_resume: cut back to
 * the length, as what was appended after the checkpoint comes again) and
 * appends other ranks' when it continues several (outfile_append_part);
 * prepare() merges the saved runs with the workers' new ones and writes the
 * export into a second temporary of the same path (made by create(), so
 * it is left out of the walk and named in every state: a session killed
 * while writing it leaves nothing the next one does not continue), the
 * one finish(0) publishes; the first goes then (both are kept only by
 * finish(PWALK_SUSPENDED)).
 *
 * State: "PWNCDUC1", u32 version (1), u32 name_len, name, u32
 * final_len, final (the second temporary's name), u64 length,
 * u32 root_len, root (the root entry's path when a session listed it,
 * else empty), u64 run_count, runs (u64 offset, u64 length, inside the
 * temporary), u32 part_count, parts (u32 len, name: other temporaries
 * already appended, removed with this one).  Integers little-endian.
 */
#ifndef NCDU_CKPT_H
#define NCDU_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "common/outfile.h"
#include "spill.h"

typedef struct ncdu_ckpt {
    uint64_t *runs;        /* pairs: offset, length in the temporary     */
    size_t run_count, run_cap;
    char *root;            /* the root's path an earlier session listed  */
    char *final_name;      /* the export's temporary the first state named */
} ncdu_ckpt;

/* A checkpoint: spills[0..n-1] (NULL entries skipped; their workers idle)
 * spilled, their runs appended to part and dropped from the spills (their
 * files emptied), part fsync'ed; *state (malloc'ed, *len bytes) describes
 * it; root: the root entry's path when a worker listed it (or NULL).
 * 0, or -1 with a message. */
int ncdu_ckpt_save(ncdu_ckpt *c, outfile *part, const outfile *final, ncdu_spill *const *spills,
                   size_t n, const char *root, unsigned char **state, size_t *len, char *err,
                   size_t errlen);

/* create() of a resumed scan: open part on path continuing states[0]'s
 * temporary, append the others' (n > 1), and take every state's runs and
 * root into c; the first state's export temporary into c->final_name, the
 * others' adopted by part (removed with it).  0, or -1 with a one-line message (part then needs no
 * abort when nothing was opened: *opened says). */
int ncdu_ckpt_resume(ncdu_ckpt *c, outfile *part, int *opened, const char *path,
                     const void *const *states, const size_t *lens, size_t n, char *err,
                     size_t errlen);

/* The saved runs as ncdu_run's on fd (a read-only fd of the temporary),
 * appended to *runs (grown; *count updated).  0, or -1 out of memory. */
int ncdu_ckpt_runs(const ncdu_ckpt *c, int fd, ncdu_run **runs, size_t *count);

void ncdu_ckpt_free(ncdu_ckpt *c);

#endif
