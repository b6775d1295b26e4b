/*
 * pipe.h -- a sorter's merged records read ahead by a thread of their own:
 * the merge (decompressing the spilled runs, the heap) runs beside the
 * join, which then only takes records out of filled batches.  Each side of
 * a diff has one, so both merges and the join use three cores' worth of
 * work on two.
 */
#ifndef PWALK_DIFF_PIPE_H
#define PWALK_DIFF_PIPE_H

#include <stddef.h>

#include "sort.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dpipe dpipe;

/* Merge s's runs; threaded: on a thread of its own (else in the caller,
 * record by record).  NULL with err when out of memory or the merge
 * cannot start. */
dpipe *dpipe_open(dsort *s, int threaded, char *err, size_t errlen);

/* The next record (valid until the next call), NULL at the end or on an
 * error (dpipe_failed() then, err says why). */
const void *dpipe_next(dpipe *p, char *err, size_t errlen);
int dpipe_failed(const dpipe *p);

/* Stop the thread (if it still runs) and free everything. */
void dpipe_close(dpipe *p);

#ifdef __cplusplus
}
#endif

#endif
