/*
 * out.h -- what pwalk-diff writes: changes.csv, by_user.csv, by_group.csv,
 * by_dir.csv (optionally .csv.zst) and diff.json in the output directory,
 * each through common/outfile (a temporary name, renamed when complete;
 * diff.json last), and the short answer on stdout.  Formats: README.md.
 */
#ifndef PWALK_DIFF_OUT_H
#define PWALK_DIFF_OUT_H

#include <stdio.h>

#include "agg.h"
#include "common/outfile.h"
#include "load.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One output file: buffered, zstd-compressed when asked. */
typedef struct dout_file {
    outfile f;
    int open;
    void *z;                    /* ZSTD_CCtx, NULL: plain */
    char *buf;
    size_t n, cap;
    unsigned long long rows;
    char name[32];              /* the file's name in the directory */
} dout_file;

enum { DOUT_CHANGES, DOUT_BY_USER, DOUT_BY_GROUP, DOUT_BY_DIR, DOUT_JSON, DOUT_FILES };

/* The resolved names of the used uids/gids, in dagg_ids_sorted() order. */
typedef struct dout_names {
    const dagg_id **ids;
    char **names;               /* NULL entries: no such account */
    size_t n;
} dout_names;

typedef struct dout {
    dout_file files[DOUT_FILES];
    int zstd;
} dout;

/* What diff.json and the answer say about the run. */
typedef struct dout_info {
    const dside *old, *nw;
    int match;                  /* DJOIN_INODE or DJOIN_PATH */
    int zstd;
} dout_info;

/* Create the temporaries of every file in dir (created 0755 if missing).
 * 0, or -1 with a message naming the file in err (nothing is left). */
int dout_open(dout *o, const char *dir, int zstd, char *err, size_t errlen);

/* Header lines of the CSV files. */
int dout_headers(dout *o, char *err, size_t errlen);

/* One changes.csv row. */
int dout_change(dout *o, const dchg *c, char *err, size_t errlen);

int dout_names_get(dout_names *nm, const dagg_idtab *t, int groups);
void dout_names_free(dout_names *nm);

/* by_user.csv, by_group.csv, by_dir.csv. */
int dout_tables(dout *o, const dagg *a, const dout_names *users, const dout_names *groups,
                char *err, size_t errlen);

/* diff.json. */
int dout_json(dout *o, const dout_info *info, const dagg *a, char *err, size_t errlen);

/* Finish every file, rename the tables into place, then diff.json. */
int dout_publish(dout *o, char *err, size_t errlen);

/* Remove every temporary; idempotent. */
void dout_abort(dout *o);

/* The answer for people. */
void dout_answer(FILE *f, const dout_info *info, const dagg *a, const dout_names *users);

#ifdef __cplusplus
}
#endif

#endif
