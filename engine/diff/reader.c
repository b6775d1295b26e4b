/*
 * reader.c -- decompressing report reader; see reader.h.  One library per
 * format (libzstd streaming, zlib inflate, liblz4 frame API): each checks
 * its own checksums, and each stops at a frame or member boundary, so the
 * end of the file inside one is "truncated", never silently short.
 */
#define _GNU_SOURCE
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <lz4frame.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define DRD_IN_SIZE (128 * 1024)

struct drd {
    char *path;
    int fd;
    drd_kind kind;
    int json;
    int eof;            /* read() returned 0 */
    int in_frame;       /* inside a frame/member: the end here is truncation */
    uint64_t offset;    /* file bytes read into in[] so far */
    unsigned char *in;
    size_t in_pos, in_len;
    ZSTD_DCtx *zs;
    z_stream gz;
    int gz_ready;
    LZ4F_dctx *lz;
};

drd_kind drd_get_kind(const drd *r)
{
    return r->kind;
}

const char *drd_kind_name(drd_kind k)
{
    static const char *const names[] = {"plain", "zstd", "gzip", "lz4"};
    return names[k];
}

int drd_is_json(const drd *r)
{
    return r->json;
}

uint64_t drd_offset(const drd *r)
{
    return r->offset - (r->in_len - r->in_pos);
}

/* More file bytes into in[] when it is used up; 0 at the end of the file. */
static int drd_fill(drd *r, char *err, size_t errlen)
{
    if (r->in_pos < r->in_len)
        return 1;
    if (r->eof)
        return 0;
    ssize_t n;
    do
        n = read(r->fd, r->in, DRD_IN_SIZE);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        snprintf(err, errlen, "%s: read failed: %s", r->path, strerror(errno));
        return -1;
    }
    r->in_pos = 0;
    r->in_len = (size_t)n;
    r->offset += (uint64_t)n;
    if (n == 0)
        r->eof = 1;
    return n > 0;
}

static void drd_detect(drd *r)
{
    const unsigned char *p = r->in;
    size_t n = r->in_len;
    if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
        r->kind = DRD_ZSTD;
    else if (n >= 4 && (p[0] & 0xf0) == 0x50 && p[1] == 0x2a && p[2] == 0x4d && p[3] == 0x18)
        r->kind = DRD_ZSTD; /* a skippable frame first */
    else if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        r->kind = DRD_GZIP;
    else if (n >= 4 && p[0] == 0x04 && p[1] == 0x22 && p[2] == 0x4d && p[3] == 0x18)
        r->kind = DRD_LZ4;
    else {
        r->kind = DRD_PLAIN;
        size_t i = 0;
        while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
            i++;
        r->json = i < n && p[i] == '{';
    }
}

static int drd_init_codec(drd *r)
{
    switch (r->kind) {
    case DRD_ZSTD:
        r->zs = ZSTD_createDCtx();
        return r->zs ? 0 : -1;
    case DRD_GZIP:
        if (inflateInit2(&r->gz, 15 + 16) != Z_OK)
            return -1;
        r->gz_ready = 1;
        return 0;
    case DRD_LZ4:
        return LZ4F_isError(LZ4F_createDecompressionContext(&r->lz, LZ4F_VERSION)) ? -1 : 0;
    default:
        return 0;
    }
}

drd *drd_open(const char *path, char *err, size_t errlen)
{
    drd *r = calloc(1, sizeof *r);
    if (r)
        r->fd = -1;
    if (!r || !(r->path = strdup(path)) || !(r->in = malloc(DRD_IN_SIZE))) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (drd_fill(r, err, errlen) < 0)
        goto fail;
    drd_detect(r);
    if (drd_init_codec(r) != 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    return r;
fail:
    drd_close(r);
    return NULL;
}

void drd_close(drd *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    ZSTD_freeDCtx(r->zs);
    if (r->gz_ready)
        inflateEnd(&r->gz);
    if (r->lz)
        LZ4F_freeDecompressionContext(r->lz);
    free(r->in);
    free(r->path);
    free(r);
}

static long drd_corrupt(drd *r, const char *what, const char *why, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: corrupt %s data at compressed byte %llu: %s", r->path, what,
             (unsigned long long)drd_offset(r), why);
    return -1;
}

static long drd_truncated(drd *r, const char *what, const char *unit, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: truncated %s data: the file ends inside a %s (compressed byte %llu)",
             r->path, what, unit, (unsigned long long)r->offset);
    return -1;
}

/* Each codec is called while the file has bytes or the codec may still
 * hold output (inside a frame); the end of the file inside a frame with
 * nothing more coming out is truncation. */
static long drd_read_zstd(drd *r, char *buf, size_t cap, char *err, size_t errlen)
{
    ZSTD_outBuffer out = {buf, cap, 0};
    for (;;) {
        int more = drd_fill(r, err, errlen);
        if (more < 0)
            return -1;
        if (!more && !r->in_frame)
            return 0;
        ZSTD_inBuffer in = {r->in, r->in_len, r->in_pos};
        size_t rc = ZSTD_decompressStream(r->zs, &out, &in);
        r->in_pos = in.pos;
        if (ZSTD_isError(rc))
            return drd_corrupt(r, "zstd", ZSTD_getErrorName(rc), err, errlen);
        r->in_frame = rc != 0;
        if (out.pos)
            return (long)out.pos;
        if (!more)
            return r->in_frame ? drd_truncated(r, "zstd", "frame", err, errlen) : 0;
    }
}

static long drd_read_gzip(drd *r, char *buf, size_t cap, char *err, size_t errlen)
{
    unsigned want = (unsigned)(cap > (1u << 30) ? (1u << 30) : cap);
    for (;;) {
        int more = drd_fill(r, err, errlen);
        if (more < 0)
            return -1;
        if (!more && !r->in_frame)
            return 0;
        if (!r->in_frame && inflateReset(&r->gz) != Z_OK)
            return drd_corrupt(r, "gzip", "inflateReset failed", err, errlen);
        r->in_frame = 1;
        r->gz.next_in = r->in + r->in_pos;
        r->gz.avail_in = (unsigned)(r->in_len - r->in_pos);
        r->gz.next_out = (unsigned char *)buf;
        r->gz.avail_out = want;
        int rc = inflate(&r->gz, Z_NO_FLUSH);
        r->in_pos = r->in_len - r->gz.avail_in;
        if (rc == Z_STREAM_END)
            r->in_frame = 0; /* the next member, if any, starts after it */
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            return drd_corrupt(r, "gzip", r->gz.msg ? r->gz.msg : zError(rc), err, errlen);
        if (r->gz.avail_out != want)
            return (long)(want - r->gz.avail_out);
        if (!more)
            return r->in_frame ? drd_truncated(r, "gzip", "member", err, errlen) : 0;
    }
}

static long drd_read_lz4(drd *r, char *buf, size_t cap, char *err, size_t errlen)
{
    for (;;) {
        int more = drd_fill(r, err, errlen);
        if (more < 0)
            return -1;
        if (!more && !r->in_frame)
            return 0;
        size_t out_n = cap, in_n = r->in_len - r->in_pos;
        size_t rc = LZ4F_decompress(r->lz, buf, &out_n, r->in + r->in_pos, &in_n, NULL);
        r->in_pos += in_n;
        if (LZ4F_isError(rc))
            return drd_corrupt(r, "lz4", LZ4F_getErrorName(rc), err, errlen);
        r->in_frame = rc != 0;
        if (out_n)
            return (long)out_n;
        if (!more)
            return r->in_frame ? drd_truncated(r, "lz4", "frame", err, errlen) : 0;
    }
}

long drd_read(drd *r, char *buf, size_t cap, char *err, size_t errlen)
{
    switch (r->kind) {
    case DRD_ZSTD:
        return drd_read_zstd(r, buf, cap, err, errlen);
    case DRD_GZIP:
        return drd_read_gzip(r, buf, cap, err, errlen);
    case DRD_LZ4:
        return drd_read_lz4(r, buf, cap, err, errlen);
    default:
        break;
    }
    int more = drd_fill(r, err, errlen);
    if (more <= 0)
        return more;
    size_t n = r->in_len - r->in_pos;
    if (n > cap)
        n = cap;
    memcpy(buf, r->in + r->in_pos, n);
    r->in_pos += n;
    return (long)n;
}
