/*
 * codec.h -- the compressors behind csv-zstd, csv-gzip and csv-lz4.
 *
 * Each worker compresses its own full buffer of CSV lines into one
 * independent frame (a zstd frame with a content checksum, a gzip member,
 * an lz4 frame) and appends it to the shared output file in one write.
 * Concatenated frames/members are valid streams for zstd -d, gzip -d,
 * lz4 -d and DuckDB, so compression scales with the workers instead of
 * funnelling every row through one compressing thread.
 */
#ifndef PWALK_CSV_CODEC_H
#define PWALK_CSV_CODEC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct codec_stream codec_stream;

typedef struct csv_codec {
    const char *name;           /* "zstd", "gzip", "lz4"             */
    const char *extension;      /* ".csv.zst", ...                   */
    int level_min, level_max, level_default;
    /* A per-worker context; NULL with a message in err.  workers > 0 asks
     * the library for that many compressing threads of its own behind this
     * context (only zstd has them; the others are given 0). */
    codec_stream *(*open)(int level, int workers, char *err, size_t errlen);
    /* The most frame() can write for len input bytes. */
    size_t (*bound)(codec_stream *s, size_t len);
    /* Compress in[0..len) as one whole frame into out (at least
     * bound(len) bytes).  Returns the bytes written, or 0 with a message. */
    size_t (*frame)(codec_stream *s, const void *in, size_t len, void *out, char *err,
                    size_t errlen);
    void (*close)(codec_stream *s);
} csv_codec;

extern const csv_codec codec_zstd;
extern const csv_codec codec_gzip;
extern const csv_codec codec_lz4;

#ifdef __cplusplus
}
#endif

#endif
