/*
 * emit.h -- ncdu's JSON export (format 1.2) written from records in key
 * order (spill.h): the output stream (plain or zstd) and the nesting.
 */
#ifndef NCDU_EMIT_H
#define NCDU_EMIT_H

#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#include "common/outfile.h"
#include "spill.h"

/* Bytes to an outfile, a buffer at a time, through zstd or not. */
typedef struct ncdu_out {
    outfile *f;
    ZSTD_CCtx *z;             /* NULL: plain                            */
    char *buf;
    size_t used;
    char *zout;
    size_t zcap;
    int failed;
    char *err;
    size_t errlen;
} ncdu_out;

int ncdu_out_init(ncdu_out *o, outfile *f, int zstd, char *err, size_t errlen);
int ncdu_out_put(ncdu_out *o, const char *s, size_t n);
/* The last buffer and, with zstd, the end of the frame. */
int ncdu_out_end(ncdu_out *o);
void ncdu_out_free(ncdu_out *o);

/* The directories open around the record being written. */
typedef struct ncdu_level {
    size_t key_off, key_len;  /* in ncdu_tree.keys                      */
    uint64_t dev;
} ncdu_level;

typedef struct ncdu_tree {
    ncdu_out *o;
    char *keys;
    size_t keys_used, keys_cap;
    ncdu_level *lv;
    size_t depth, lv_cap;
    uint64_t written;         /* records written                        */
} ncdu_tree;

/* "[1,2,{metadata}," */
int ncdu_tree_begin(ncdu_tree *t, ncdu_out *o, const char *progver, int64_t timestamp);
/* One record; the first must be the root (its name: root_name). */
int ncdu_tree_add(ncdu_tree *t, const ncdu_rec *r, const char *key, const char *root_name);
/* Closes every open directory and the top-level array. */
int ncdu_tree_end(ncdu_tree *t);
void ncdu_tree_free(ncdu_tree *t);

/* A name as ncdu writes it: \n \r \b \t \f \\ \" escaped, other bytes
 * below 0x20 and 0x7f as \u00XX, every other byte (invalid UTF-8 too) as
 * is -- ncdu reads strings as bytes, and a \u00XX of a byte >= 0x80 would
 * come back as two UTF-8 bytes. */
int ncdu_put_string(ncdu_out *o, const char *s, size_t n);

#endif
