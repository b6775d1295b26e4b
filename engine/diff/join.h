/*
 * join.h -- matching OLD's rows with NEW's and classifying the changes.
 * Both sides come out of their sorters in the same order: by (st_dev,
 * inode, type, path) when matched by inode, by (path, type, st_dev, inode)
 * when matched by path; the join walks them once, a group of rows with
 * the same identity at a time.
 */
#ifndef PWALK_DIFF_JOIN_H
#define PWALK_DIFF_JOIN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "pipe.h"
#include "row.h"
#include "sort.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Alphabetical, the order of changes.csv's second key. */
enum { DCHG_ADDED, DCHG_MODIFIED, DCHG_REMOVED, DCHG_RENAMED, DCHG_RENAMED_MODIFIED,
       DCHG_KINDS };
enum { DCHG_SUSPECT_NONE, DCHG_SUSPECT_TYPE, DCHG_SUSPECT_CTIME };
enum { DJOIN_INODE, DJOIN_PATH };

/* One change: NEW's row (has_new) and OLD's (has_old), then NEW's path
 * bytes and OLD's. */
typedef struct dchg {
    uint8_t kind, suspect, has_new, has_old;
    uint8_t count_bytes;        /* this change carries its inode's bytes (hard links) */
    uint8_t reserved[3];
    drow nw, od;
} dchg;

#define DCHG_NEW_PATH(c) ((const char *)(c) + sizeof(dchg))
#define DCHG_OLD_PATH(c) (DCHG_NEW_PATH(c) + (c)->nw.path_len)
/* The path a change sorts by: NEW's, OLD's for a removal. */
#define DCHG_PATH(c) ((c)->has_new ? DCHG_NEW_PATH(c) : DCHG_OLD_PATH(c))
#define DCHG_PATH_LEN(c) ((c)->has_new ? (c)->nw.path_len : (c)->od.path_len)

const char *dchg_kind_name(int kind);
const char *dchg_suspect_name(int suspect);

/* Sorter orders of drow records and of dchg records. */
int djoin_cmp_inode(const void *a, const void *b);
int djoin_cmp_path(const void *a, const void *b);
int djoin_cmp_change(const void *a, const void *b);
/* Their key prefixes (sort.h): (st_dev, inode), or a path's first 16 bytes. */
void djoin_key_inode(const void *rec, uint64_t key[2]);
void djoin_key_path(const void *rec, uint64_t key[2]);
void djoin_key_change(const void *rec, uint64_t key[2]);

/* Receives each change (len bytes at c, valid during the call): 0, or -1
 * to stop the join (the callback keeps its own message). */
typedef int (*djoin_emit)(void *ctx, const dchg *c, size_t len);

/* Join the merged rows of old and new (sorted by mode's comparator).
 * 0, or -1: err says why (a spill file failed), or the callback stopped. */
int djoin_run(dpipe *old, dpipe *nw, int mode, djoin_emit emit, void *ctx,
              const volatile sig_atomic_t *stop, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
