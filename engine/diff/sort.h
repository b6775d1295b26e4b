/*
 * sort.h -- pwalk-diff's external sort: records (any bytes, each knowing
 * its own order through a comparator) are gathered in memory by one or
 * more writers (one per worker thread), sorted when a writer's share of
 * the memory is full, and spilled as a zstd-compressed run to an unlinked
 * file under the temporary directory (O_TMPFILE: the kernel removes it on
 * any exit, kill -9 included); the runs are then read back merged.
 */
#ifndef PWALK_DIFF_SORT_H
#define PWALK_DIFF_SORT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* <0, 0, >0 as a sorts before, with, after b (record bytes, no length). */
typedef int (*dsort_cmp)(const void *a, const void *b);

/* A record's sort key prefix: two numbers whose order (key[0], then
 * key[1], unsigned) never contradicts the comparator's; records with equal
 * keys are compared in full.  Sorting then touches the records only for
 * ties: the index is sorted in place, without a cache miss per compare. */
typedef void (*dsort_key)(const void *rec, uint64_t key[2]);

/* An index entry of a writer's buffer (and of a run kept in memory). */
typedef struct dsort_ent {
    uint64_t key[2];
    char *rec;
} dsort_ent;

typedef struct dsort_run dsort_run;

typedef struct dsort {
    dsort_cmp cmp;
    dsort_key key;              /* NULL: keys are 0, the comparator decides */
    const char *tmpdir;
    pthread_mutex_t lock;       /* runs[] and the counters, between writers */
    dsort_run *runs;
    size_t run_count, run_cap;
    int spilled;                /* some run went to a file */
    uint64_t records;
    uint64_t spill_bytes;       /* compressed bytes written */
    size_t held;                /* bytes of runs kept in memory */
    size_t hold;                /* at most this many (dsort_set_hold; default 0) */
    int *fds;                   /* the spill files, closed by dsort_free() */
    size_t fd_count, fd_cap;
} dsort;

/* One writer's buffer: a fixed arena of records and their index. */
typedef struct dsort_buf {
    dsort *s;
    char *arena;
    size_t used, cap;
    dsort_ent *recs;
    size_t n, rec_cap;
    int fd;                     /* this writer's spill file, -1 until needed */
    uint64_t file_end;
    void *cctx;                 /* ZSTD_CCtx */
} dsort_buf;

int dsort_init(dsort *s, dsort_cmp cmp, const char *tmpdir);
/* The same with a key prefix function (key may be NULL). */
int dsort_init_key(dsort *s, dsort_cmp cmp, dsort_key key, const char *tmpdir);
/* How many bytes of sorted runs may stay in memory rather than being
 * spilled (the writers' buffers not included).  0 by default: every run
 * is spilled. */
void dsort_set_hold(dsort *s, size_t bytes);

/* Frees the runs (memory and files). */
void dsort_free(dsort *s);

/* A writer whose runs hold at most budget bytes (records, their index
 * and alignment all count).  0 or -1 (out of memory). */
int dsort_buf_init(dsort_buf *b, dsort *s, size_t budget);

/* Room for a record of len bytes: a pointer to write it to, after which
 * dsort_buf_commit(b, len) adds it (len may shrink to what was written).
 * A full buffer first becomes a sorted run: kept in memory while the
 * sorter's hold allows, else spilled.  NULL with a message
 * ("cannot write a spill file in 'DIR': reason") in err. */
void *dsort_buf_reserve(dsort_buf *b, size_t len, char *err, size_t errlen);
void dsort_buf_commit(dsort_buf *b, size_t len);

/* The writer is done: its records sorted become a run, kept in memory
 * (keep != 0 and the hold allows) or spilled.
 * The buffer is released either way.  0 or -1 with err. */
int dsort_buf_finish(dsort_buf *b, int keep, char *err, size_t errlen);

/* Drop a writer's records (the load failed). */
void dsort_buf_discard(dsort_buf *b);

/* Spill every run still held in memory (to free that memory). */
int dsort_spill_held(dsort *s, char *err, size_t errlen);

/* Reading every record of every run in order. */
typedef struct dsort_merge dsort_merge;
dsort_merge *dsort_merge_open(dsort *s, char *err, size_t errlen);
/* The next record (valid until the next call), NULL at the end or on an
 * error (then dsort_merge_failed() is non-zero and err says why). */
const void *dsort_merge_next(dsort_merge *m, char *err, size_t errlen);
int dsort_merge_failed(const dsort_merge *m);
void dsort_merge_close(dsort_merge *m);

#ifdef __cplusplus
}
#endif

#endif
