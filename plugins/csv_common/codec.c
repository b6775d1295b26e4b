/*
 * codec.c -- zstd, gzip and lz4 frames, each from the library made for it
 * (libzstd, zlib, liblz4's frame API).  See codec.h for why every buffer
 * becomes its own frame.
 */
#include "codec.h"

#include <lz4frame.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

/* ---- zstd ----------------------------------------------------------------- */

static codec_stream *zstd_open(int level, int workers, char *err, size_t errlen)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    if (!c) {
        snprintf(err, errlen, "zstd: out of memory");
        return NULL;
    }
    size_t rc = ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
    if (!ZSTD_isError(rc))
        rc = ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    /* Fails on a libzstd built without threads: say so rather than
     * silently compress on the walking thread. */
    if (!ZSTD_isError(rc) && workers > 0)
        rc = ZSTD_CCtx_setParameter(c, ZSTD_c_nbWorkers, workers);
    if (ZSTD_isError(rc)) {
        snprintf(err, errlen, "zstd: %s", ZSTD_getErrorName(rc));
        ZSTD_freeCCtx(c);
        return NULL;
    }
    return (codec_stream *)c;
}

static size_t zstd_bound(codec_stream *s, size_t len)
{
    (void)s;
    return ZSTD_compressBound(len);
}

static size_t zstd_frame(codec_stream *s, const void *in, size_t len, void *out, char *err,
                         size_t errlen)
{
    size_t n = ZSTD_compress2((ZSTD_CCtx *)s, out, ZSTD_compressBound(len), in, len);
    if (ZSTD_isError(n)) {
        snprintf(err, errlen, "zstd: %s", ZSTD_getErrorName(n));
        return 0;
    }
    return n;
}

static void zstd_close(codec_stream *s) { ZSTD_freeCCtx((ZSTD_CCtx *)s); }

const csv_codec codec_zstd = {"zstd", ".csv.zst", 1, 19, 1,
                              zstd_open, zstd_bound, zstd_frame, zstd_close};

/* ---- gzip ----------------------------------------------------------------- */

static codec_stream *gzip_open(int level, int workers, char *err, size_t errlen)
{
    (void)workers; /* zlib has no threads of its own */
    z_stream *z = calloc(1, sizeof *z);
    if (!z) {
        snprintf(err, errlen, "gzip: out of memory");
        return NULL;
    }
    /* 15 + 16: a gzip wrapper (header and CRC-32), not raw zlib */
    int rc = deflateInit2(z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) {
        snprintf(err, errlen, "gzip: deflateInit2 failed (%d)", rc);
        free(z);
        return NULL;
    }
    return (codec_stream *)z;
}

static size_t gzip_bound(codec_stream *s, size_t len)
{
    return deflateBound((z_stream *)s, len) + 64;
}

static size_t gzip_frame(codec_stream *s, const void *in, size_t len, void *out, char *err,
                         size_t errlen)
{
    z_stream *z = (z_stream *)s;
    size_t cap = gzip_bound(s, len);
    z->next_in = (Bytef *)(uintptr_t)in;
    z->avail_in = (uInt)len;
    z->next_out = out;
    z->avail_out = (uInt)cap;
    int rc = deflate(z, Z_FINISH);
    size_t n = cap - z->avail_out;
    deflateReset(z); /* the next buffer is a new gzip member */
    if (rc != Z_STREAM_END) {
        snprintf(err, errlen, "gzip: deflate failed (%d)", rc);
        return 0;
    }
    return n;
}

static void gzip_close(codec_stream *s)
{
    deflateEnd((z_stream *)s);
    free(s);
}

const csv_codec codec_gzip = {"gzip", ".csv.gz", 1, 9, 1,
                              gzip_open, gzip_bound, gzip_frame, gzip_close};

/* ---- lz4 ------------------------------------------------------------------ */

typedef struct lz4_stream {
    LZ4F_cctx *cctx;
    LZ4F_preferences_t prefs;
} lz4_stream;

static codec_stream *lz4_open(int level, int workers, char *err, size_t errlen)
{
    (void)workers; /* liblz4 has no threads of its own */
    lz4_stream *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "lz4: out of memory");
        return NULL;
    }
    LZ4F_errorCode_t rc = LZ4F_createCompressionContext(&l->cctx, LZ4F_VERSION);
    if (LZ4F_isError(rc)) {
        snprintf(err, errlen, "lz4: %s", LZ4F_getErrorName(rc));
        free(l);
        return NULL;
    }
    l->prefs.compressionLevel = level;
    l->prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    l->prefs.frameInfo.blockSizeID = LZ4F_max4MB;
    return (codec_stream *)l;
}

static size_t lz4_bound(codec_stream *s, size_t len)
{
    lz4_stream *l = (lz4_stream *)s;
    return LZ4F_compressBound(len, &l->prefs) + LZ4F_HEADER_SIZE_MAX + 16;
}

static size_t lz4_frame(codec_stream *s, const void *in, size_t len, void *out, char *err,
                        size_t errlen)
{
    lz4_stream *l = (lz4_stream *)s;
    size_t cap = lz4_bound(s, len);
    char *o = out;
    size_t n = LZ4F_compressBegin(l->cctx, o, cap, &l->prefs);
    if (LZ4F_isError(n))
        goto fail;
    size_t m = LZ4F_compressUpdate(l->cctx, o + n, cap - n, in, len, NULL);
    if (LZ4F_isError(m)) {
        n = m;
        goto fail;
    }
    n += m;
    m = LZ4F_compressEnd(l->cctx, o + n, cap - n, NULL);
    if (LZ4F_isError(m)) {
        n = m;
        goto fail;
    }
    return n + m;
fail:
    snprintf(err, errlen, "lz4: %s", LZ4F_getErrorName(n));
    return 0;
}

static void lz4_close(codec_stream *s)
{
    lz4_stream *l = (lz4_stream *)s;
    LZ4F_freeCompressionContext(l->cctx);
    free(l);
}

const csv_codec codec_lz4 = {"lz4", ".csv.lz4", 0, 12, 0,
                             lz4_open, lz4_bound, lz4_frame, lz4_close};
