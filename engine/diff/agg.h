/*
 * agg.h -- the per-user, per-group, per-directory and total figures of a
 * diff, added up change by change as the join produces them (README.md:
 * by_user.csv, by_group.csv, by_dir.csv).  Held in memory: one entry per
 * uid, per gid and per directory within --depth.
 */
#ifndef PWALK_DIFF_AGG_H
#define PWALK_DIFF_AGG_H

#include <stddef.h>
#include <stdint.h>

#include "join.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dagg_cnt {
    int64_t files_added, files_removed, bytes_added, bytes_removed;
} dagg_cnt;

typedef struct dagg_id {
    uint32_t id;
    uint32_t used;
    dagg_cnt c;
} dagg_id;

typedef struct dagg_dir {
    char *path;                 /* NULL: a free slot */
    size_t len;
    uint64_t hash;
    int32_t depth;
    int64_t net_bytes, net_files;
} dagg_dir;

typedef struct dagg_idtab {
    dagg_id *slots;
    size_t cap, n;
} dagg_idtab;

typedef struct dagg {
    dagg_idtab users, groups;
    dagg_dir *dirs;
    size_t dir_cap, dir_n;
    int depth;                  /* --depth: rows for report depth <= depth - 1 */
    dagg_cnt total;
    uint64_t kinds[DCHG_KINDS];
    uint64_t suspects;
    uint64_t changes;
} dagg;

void dagg_init(dagg *a, int depth);
void dagg_free(dagg *a);

/* Count one change.  0, or -1 when out of memory. */
int dagg_add(dagg *a, const dchg *c);

/* The used entries sorted by id (users or groups), or the directories
 * sorted by path: a malloc'ed array of pointers into the tables (free()
 * it), *n set; NULL when out of memory (or none: *n 0). */
const dagg_id **dagg_ids_sorted(const dagg_idtab *t, size_t *n);
const dagg_dir **dagg_dirs_sorted(const dagg *a, size_t *n);

#ifdef __cplusplus
}
#endif

#endif
