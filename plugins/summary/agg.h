/*
 * agg.h -- the summary sink's in-memory aggregate (plugins/summary/FORMAT.md
 * says what the tables made from it mean).
 *
 * One summ_agg per worker while the walk runs (no locks: consume() folds
 * each entry into its own worker's aggregate), merged into the instance's
 * at thread_close() with summ_agg_merge(); pwalk-mpi merges the ranks'
 * partials (partial.c serializes exactly the fields below) the same way.
 * Everything here grows with DIRECTORIES (one summ_dir each), with distinct
 * (uid, gid, top, buckets, size class) cells, with distinct uids/gids, and
 * with the links of hard-linked non-directories -- never with plain files,
 * which are folded into their parent's summ_dir, their owner's summ_owner
 * and their cube cell as they are consumed.
 *
 * Nothing here is final: recursive totals, hard-link attribution and
 * sorting happen once, in finalize.c, on the merged aggregate.
 */
#ifndef PWALK_SUMMARY_AGG_H
#define PWALK_SUMMARY_AGG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "No time seen yet" for the newest_* / oldest_* fields: merging takes the
 * max/min, so an empty sum never wins. */
#define SUMM_TIME_NONE_NEWEST INT64_MIN
#define SUMM_TIME_NONE_OLDEST INT64_MAX

/* What entries add up to.  Used for a directory's direct part (while
 * aggregating) and for its recursive totals (finalize.c). */
typedef struct summ_sums {
    uint64_t files;         /* non-directories                          */
    uint64_t dirs;          /* directories (direct part: always 0, a
                               directory's own entry does not count itself;
                               finalize adds each child directory)      */
    uint64_t bytes;         /* sum of st_size (directories included)    */
    uint64_t allocated;     /* sum of st_blocks * 512                   */
    uint64_t stale_bytes;   /* st_size of entries whose mtime age in days
                               is >= the last age_days value            */
    int64_t newest_mtime;   /* max mtime, SUMM_TIME_NONE_NEWEST if none */
    int64_t newest_atime;   /* max atime, SUMM_TIME_NONE_NEWEST if none */
    int64_t oldest_mtime;   /* min mtime, SUMM_TIME_NONE_OLDEST if none */
} summ_sums;

/* summ_dir.flags */
#define SUMM_DIR_SELF 0x1u        /* the directory's own entry was consumed:
                                     depth/dev/ino/uid/gid below are valid */
#define SUMM_DIR_UNREADABLE 0x2u  /* its own entry had PWALK_ENTRY_UNREADABLE */
#define SUMM_DIR_ROOT 0x4u        /* its own entry had PWALK_ENTRY_ROOT      */

/* One directory, keyed by its full path (raw bytes, as in the report).
 * Created by its own entry or by the first non-directory found in it,
 * whichever comes first. */
typedef struct summ_dir {
    uint64_t hash;          /* summ_hash(path, path_len), cached        */
    uint32_t path_len;      /* bytes of path, without the NUL           */
    uint32_t flags;         /* SUMM_DIR_*                               */
    int32_t depth;          /* as in the report: root -1; known also
                               before SELF (the child's depth - 1)      */
    uint32_t uid, gid;      /* its own st_uid/st_gid (SELF only)        */
    uint32_t reserved0;
    uint64_t dev, ino;      /* its own st_dev/st_ino (SELF only)        */
    summ_sums direct;       /* itself (once SELF) + every non-directory
                               directly in it that is not a hard-link
                               candidate; no subdirectory's part        */
    char path[];            /* path_len bytes + NUL                     */
} summ_dir;

/* Per uid (users.csv) or per gid (groups.csv). */
typedef struct summ_owner {
    uint32_t id;            /* uid or gid                               */
    uint32_t reserved0;
    uint64_t files, dirs;   /* non-directories / directories owned      */
    uint64_t bytes;         /* sum of st_size                           */
    uint64_t allocated;     /* sum of st_blocks * 512                   */
    int64_t newest_mtime;   /* max mtime (SUMM_TIME_NONE_NEWEST)        */
    int64_t oldest_atime;   /* min atime (SUMM_TIME_NONE_OLDEST)        */
} summ_owner;

/* A cube cell's key (usage.csv).  Ages are the bucket's lower bound in
 * days (0 or one of age_days), not an index, so partials merge by value. */
typedef struct summ_cell_key {
    uint32_t uid, gid;
    uint32_t top;           /* index into summ_agg.tops (per aggregate:
                               summ_agg_merge re-interns it)            */
    int32_t mtime_age;      /* bucket lower bound, days                 */
    int32_t atime_age;
    int32_t ctime_age;
    uint32_t size_class;    /* index into summ_size_class_min[]         */
} summ_cell_key;

typedef struct summ_cell {
    summ_cell_key key;
    uint32_t reserved0;
    uint64_t files, dirs, bytes, allocated;
} summ_cell;

/* The lower bounds of the size classes, SUMM_SIZE_CLASSES of them: 0,
 * 1, 4096, then x16 up to 1 TiB. */
#define SUMM_SIZE_CLASSES 10
extern const int64_t summ_size_class_min[SUMM_SIZE_CLASSES];

/* A hard-linked non-directory (nlink > 1): one per LINK seen, kept until
 * finalize picks, per (dev, ino), the link whose path sorts first
 * (memcmp, shorter prefix first) and attributes it there once. */
typedef struct summ_link {
    uint64_t dev, ino;
    char *path;             /* malloc'd copy, path_len bytes + NUL      */
    uint32_t path_len;
    uint32_t name_offset;   /* as in pwalk_entry: the parent is the path
                               before it (its trailing '/' dropped)     */
    int32_t depth;          /* >= 0: a root is never a candidate        */
    uint32_t uid, gid;
    uint32_t reserved0;
    int64_t size;           /* st_size                                  */
    int64_t blocks;         /* st_blocks (512-byte units)               */
    int64_t atime, mtime, ctime;
} summ_link;

/* An open-addressing index over one of the arrays below: slot values are
 * element index + 1 (0 = empty). */
typedef struct summ_index {
    uint32_t *slots;
    size_t cap;             /* power of two, or 0                       */
} summ_index;

/* Interned top names (the depth-0 component; "." for the root's own
 * entries).  tops[i] is a malloc'd NUL-terminated copy; top_lens[i] its
 * length (names may hold any byte but '/' and NUL). */
typedef struct summ_agg {
    summ_dir **dirs;        /* every directory, in no order             */
    size_t dir_count, dir_cap;
    summ_index dir_index;

    summ_owner *users;      /* per uid, in no order                     */
    size_t user_count, user_cap;
    summ_index user_index;
    summ_owner *groups;     /* per gid, in no order                     */
    size_t group_count, group_cap;
    summ_index group_index;

    summ_cell *cells;       /* the cube, in no order                    */
    size_t cell_count, cell_cap;
    summ_index cell_index;

    char **tops;
    uint32_t *top_lens;
    size_t top_count, top_cap;
    summ_index top_index;

    summ_link *links;       /* hard-link candidates, in no order        */
    size_t link_count, link_cap;

    /* Non-directory roots (a file given as a root): they have no directory
     * to count in, but count in users, groups and the cube. */
    summ_sums loose;
} summ_agg;

/* The directory key's hash (of the path's bytes; not stored anywhere). */
uint64_t summ_hash(const char *s, size_t len);

/* An empty aggregate (all zero is one too; this also sets loose's times). */
void summ_agg_init(summ_agg *a);
/* Free everything; a is empty (init'ed) again. */
void summ_agg_free(summ_agg *a);

/* An empty summ_sums (times at their NONE values). */
void summ_sums_init(summ_sums *s);
/* into += from (counts added, newest max, oldest min). */
void summ_sums_add(summ_sums *into, const summ_sums *from);

/* The directory at path (found or created with direct sums empty, flags 0
 * and the given depth); NULL when out of memory. */
summ_dir *summ_agg_dir(summ_agg *a, const char *path, size_t len, uint64_t hash, int32_t depth);
/* The owner record of uid / gid (found or created, zeroed); NULL: no memory. */
summ_owner *summ_agg_user(summ_agg *a, uint32_t uid);
summ_owner *summ_agg_group(summ_agg *a, uint32_t gid);
/* The index of top name s in a->tops (interned on first use); UINT32_MAX
 * when out of memory. */
uint32_t summ_agg_top(summ_agg *a, const char *s, size_t len);
/* The cell of key k (found or created with zero counts); NULL: no memory. */
summ_cell *summ_agg_cell(summ_agg *a, const summ_cell_key *k);
/* Append a candidate; l->path is copied.  0, or -1 when out of memory. */
int summ_agg_link(summ_agg *a, const summ_link *l);

/* Fold everything of from into into (from is left as it was): directories
 * by path (direct sums added; own stats taken from whichever has SELF),
 * owners by id, cells by key (tops re-interned by name), links appended,
 * loose added.  The result does not depend on the order of merges.
 * 0, or -1 when out of memory (into then holds part of from: discard it). */
int summ_agg_merge(summ_agg *into, const summ_agg *from);

/* summ_agg_merge(), then summ_agg_free(from), but taking from's directory
 * records and link paths instead of copying them (and all of from when
 * into is still empty): a worker's aggregate at thread_close() costs no
 * second copy.  0, or -1 when out of memory (from is freed either way). */
int summ_agg_absorb(summ_agg *into, summ_agg *from);

#ifdef __cplusplus
}
#endif

#endif
