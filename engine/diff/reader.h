/*
 * reader.h -- a report file's bytes, decompressed: plain, zstd (frames one
 * after another), gzip (concatenated members) or lz4 (frames), told apart
 * by the first bytes of the file, never by its name.  Damage is reported
 * as one line naming the file and the compressed byte offset.
 */
#ifndef PWALK_DIFF_READER_H
#define PWALK_DIFF_READER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum drd_kind { DRD_PLAIN, DRD_ZSTD, DRD_GZIP, DRD_LZ4 } drd_kind;

typedef struct drd drd;

/* Open path and recognise its compression.  NULL with "PATH: reason" in
 * err when it cannot be opened or read. */
drd *drd_open(const char *path, char *err, size_t errlen);

drd_kind drd_get_kind(const drd *r);
const char *drd_kind_name(drd_kind k);

/* 1 when a plain file's first non-blank byte is '{' (an MPI manifest). */
int drd_is_json(const drd *r);

/* Up to cap decompressed bytes into buf.  Returns the count, 0 at the end
 * of the data, -1 with "PATH: corrupt zstd data at compressed byte N: ..."
 * or "PATH: truncated gzip data: the file ends inside a member (compressed
 * byte N)" (or a read error) in err. */
long drd_read(drd *r, char *buf, size_t cap, char *err, size_t errlen);

/* Compressed bytes consumed so far (the file offset). */
uint64_t drd_offset(const drd *r);

void drd_close(drd *r);

#ifdef __cplusplus
}
#endif

#endif
