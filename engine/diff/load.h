/*
 * load.h -- one side of a diff (OLD or NEW) read into an external sorter:
 * the calling thread reads and decompresses the report(s) and cuts the
 * text into chunks of whole lines; worker threads parse the chunks into
 * drow records and sort and spill them (sort.h).  Also gathered: the
 * scan's roots (rows of depth -1) and its st_dev values.
 */
#ifndef PWALK_DIFF_LOAD_H
#define PWALK_DIFF_LOAD_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "sort.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dload_opts {
    int threads;                        /* >= 1 */
    size_t memory;                      /* bytes of records in memory at once */
    size_t hold;                        /* bytes of sorted runs kept in memory, the rest
                                         * spilled (dsort_set_hold) */
    int escape;                         /* DROW_ESC_AUTO, _LOSSLESS, _DEY */
    const volatile sig_atomic_t *stop;  /* non-zero: a signal asks to stop */
    const char *tmpdir;
} dload_opts;

typedef struct dside {
    const char *arg;            /* the argument as given */
    char **inputs;              /* the report files read (shards of a manifest) */
    size_t input_count;
    int64_t started;            /* from a manifest */
    int has_started;
    uint64_t rows;
    char **roots;               /* distinct root paths, sorted (bytes) */
    size_t *root_lens;
    size_t root_count;
    uint64_t *devs;             /* distinct st_dev, ascending */
    size_t dev_count;
    dsort sort;
} dside;

/* Statuses, as pwalk-diff exits with them. */
#define DLOAD_BAD_INPUT 2
#define DLOAD_FAILED 3

/* Read arg (a report or an MPI manifest) into side, sorted by cmp (key:
 * its key prefix, sort.h).
 * Returns 0, DLOAD_BAD_INPUT (a message naming the file and where in
 * err), DLOAD_FAILED (spill files), or 128+N when *stop became N. */
int dload_side(dside *side, const char *arg, dsort_cmp cmp, dsort_key key, const dload_opts *o,
               char *err, size_t errlen);

void dside_free(dside *side);

/* The bytes of the workers' buffers: threads runs of their share of
 * memory, each at most 64 MiB. */
size_t dload_buffers(const dload_opts *o);

/* 1 when the two sides have an st_dev in common. */
int dside_share_dev(const dside *a, const dside *b);

#ifdef __cplusplus
}
#endif

#endif
