/*
 * spill.h -- the ncdu sink's bounded-memory sort: every entry becomes a
 * compact record keyed by its path below the root, with '/' written as a
 * NUL byte.  Sorted by that key (memcmp, shorter prefix first), records come
 * out in depth-first pre-order: a directory before everything under it,
 * everything under it together.  So the nested JSON is written in one
 * streaming pass over a k-way merge of sorted runs, holding only the open
 * directories, never the tree.
 *
 * Each worker fills its own buffer (no locks); when full it is sorted and
 * appended as one run to the worker's temporary file (O_TMPFILE, or a
 * mkstemp name unlinked at once: nothing is left behind by a crash).
 */
#ifndef NCDU_SPILL_H
#define NCDU_SPILL_H

#include <stddef.h>
#include <stdint.h>

#define NCDU_R_DIR 0x1u        /* a directory: opens a JSON array          */
#define NCDU_R_ROOT 0x2u       /* the scan's root (key "")                 */
#define NCDU_R_READ_ERROR 0x4u /* unreadable directory, or lstat failed    */
#define NCDU_R_NO_STAT 0x8u    /* lstat failed: no fields but the name     */

/* The fixed part of a record; key_len bytes of key follow it. */
typedef struct ncdu_rec {
    uint32_t key_len;
    uint32_t flags;            /* NCDU_R_*                                 */
    uint32_t mode, uid, gid;
    uint32_t reserved0;
    uint64_t nlink, ino, dev;
    int64_t size, blocks, mtime;
} ncdu_rec;

/* One worker's buffer and the runs it spilled. */
typedef struct ncdu_spill {
    int fd;                    /* the temporary file, -1 until opened      */
    char *arena;               /* records, 8-byte aligned                  */
    size_t used, cap;
    size_t *offs;              /* where each record starts in arena        */
    size_t count, offs_cap;
    uint64_t file_len;
    uint64_t *runs;            /* pairs: offset, length                    */
    size_t run_count, run_cap;
} ncdu_spill;

/* Open the worker's temporary file in dir with a buffer of cap bytes.
 * 0, or -1 with a line in err naming dir. */
int ncdu_spill_open(ncdu_spill *s, const char *dir, size_t cap, char *err, size_t errlen);

/* Add one record (key bytes already mapped); spills a run when full.
 * 0 or -1 with err. */
int ncdu_spill_add(ncdu_spill *s, const ncdu_rec *r, const char *key, char *err,
                   size_t errlen);

/* Spill what is buffered as a last run and free the buffer. */
int ncdu_spill_flush(ncdu_spill *s, char *err, size_t errlen);

void ncdu_spill_free(ncdu_spill *s);

/* A temporary file in dir, unlinked (O_TMPFILE or mkstemp + unlink).
 * Returns the fd, or -1 with errno set. */
int ncdu_tmpfile(const char *dir);

/* The merge: every run of every spill, read back in key order. */
typedef struct ncdu_merge ncdu_merge;

/* A sorted run: len bytes of records at off in fd. */
typedef struct ncdu_run {
    int fd;
    uint64_t off, len;
} ncdu_run;

/* runs[0..count-1] as ncdu_merge_open() merges them (the array is reused
 * by the merge passes; the fds stay the caller's).  NULL with err. */
ncdu_merge *ncdu_merge_open_runs(ncdu_run *runs, size_t count, size_t memory, const char *dir,
                                 char *err, size_t errlen);

/* Runs of spills[0..n-1], read with a 64 KiB buffer each: as many at once
 * as memory bytes allow (16..4096); with more runs than that, groups are
 * merged first, in passes, into temporaries in dir.  NULL with err. */
ncdu_merge *ncdu_merge_open(ncdu_spill *spills, size_t n, size_t memory, const char *dir,
                            char *err, size_t errlen);

/* The next record in key order: 1 (r and *key set, valid until the next
 * call), 0 at the end, -1 with err on a read failure. */
int ncdu_merge_next(ncdu_merge *m, const ncdu_rec **r, const char **key, char *err,
                    size_t errlen);

void ncdu_merge_close(ncdu_merge *m);

/* Key order: memcmp, then the shorter first. */
int ncdu_key_cmp(const char *a, size_t alen, const char *b, size_t blen);

#endif
