/*
 * emit.c -- ncdu's JSON export written from records in depth-first order.
 *
 * The numbers respect what ncdu 1.18's importer accepts (it stops at the
 * first value out of range): no negative numbers (mtime before 1970 is
 * written as 0), asize/dsize at most INT64_MAX, uid/gid at most INT32_MAX,
 * nlink at most UINT32_MAX.  Fields that are 0 and optional (asize, dsize)
 * are left out, as ncdu does.
 */
#define _GNU_SOURCE
#include "emit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NCDU_OUT_BUF (256u * 1024u)

int ncdu_out_init(ncdu_out *o, outfile *f, int zstd, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->f = f;
    o->err = err;
    o->errlen = errlen;
    o->buf = malloc(NCDU_OUT_BUF);
    if (o->buf && zstd) {
        o->z = ZSTD_createCCtx();
        o->zcap = ZSTD_CStreamOutSize();
        o->zout = malloc(o->zcap);
        if (o->z && (ZSTD_isError(ZSTD_CCtx_setParameter(o->z, ZSTD_c_compressionLevel, 3)) ||
                     ZSTD_isError(ZSTD_CCtx_setParameter(o->z, ZSTD_c_checksumFlag, 1)))) {
            snprintf(err, errlen, "zstd: cannot set up the compressor");
            return -1;
        }
    }
    if (!o->buf || (zstd && (!o->z || !o->zout))) {
        snprintf(err, errlen, "out of memory (output buffers)");
        return -1;
    }
    return 0;
}

static int out_zstd(ncdu_out *o, const char *data, size_t len, ZSTD_EndDirective end)
{
    ZSTD_inBuffer in = {data, len, 0};
    for (;;) {
        ZSTD_outBuffer zo = {o->zout, o->zcap, 0};
        size_t left = ZSTD_compressStream2(o->z, &zo, &in, end);
        if (ZSTD_isError(left)) {
            snprintf(o->err, o->errlen, "zstd: %s", ZSTD_getErrorName(left));
            return -1;
        }
        if (zo.pos && outfile_write(o->f, o->zout, zo.pos, o->err, o->errlen) != 0)
            return -1;
        if (end == ZSTD_e_end ? left == 0 : in.pos == in.size)
            return 0;
    }
}

static int out_flush(ncdu_out *o, ZSTD_EndDirective end)
{
    int rc;
    if (o->z)
        rc = out_zstd(o, o->buf, o->used, end);
    else
        rc = o->used ? outfile_write(o->f, o->buf, o->used, o->err, o->errlen) : 0;
    o->used = 0;
    if (rc)
        o->failed = 1;
    return rc;
}

int ncdu_out_put(ncdu_out *o, const char *s, size_t n)
{
    while (n) {
        if (o->failed)
            return -1;
        if (o->used == NCDU_OUT_BUF && out_flush(o, ZSTD_e_continue) != 0)
            return -1;
        size_t k = NCDU_OUT_BUF - o->used < n ? NCDU_OUT_BUF - o->used : n;
        memcpy(o->buf + o->used, s, k);
        o->used += k;
        s += k;
        n -= k;
    }
    return o->failed ? -1 : 0;
}

int ncdu_out_end(ncdu_out *o)
{
    return o->failed ? -1 : out_flush(o, ZSTD_e_end);
}

void ncdu_out_free(ncdu_out *o)
{
    ZSTD_freeCCtx(o->z);
    free(o->zout);
    free(o->buf);
    o->z = NULL;
    o->zout = o->buf = NULL;
}

/* ---- JSON pieces ----------------------------------------------------------- */

int ncdu_put_string(ncdu_out *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char esc[8];
    size_t run = 0; /* bytes copied as they are, written in one piece */
    int rc = ncdu_out_put(o, "\"", 1);
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        size_t rlen = 2;
        switch (c) {
        case '\n': rep = "\\n"; break;
        case '\r': rep = "\\r"; break;
        case '\b': rep = "\\b"; break;
        case '\t': rep = "\\t"; break;
        case '\f': rep = "\\f"; break;
        case '\\': rep = "\\\\"; break;
        case '"': rep = "\\\""; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                rep = esc;
                rlen = 6;
            }
        }
        if (!rep) {
            run++;
            continue;
        }
        rc = ncdu_out_put(o, s + i - run, run) || ncdu_out_put(o, rep, rlen) ? -1 : 0;
        run = 0;
    }
    if (rc == 0)
        rc = ncdu_out_put(o, s + n - run, run);
    return rc == 0 ? ncdu_out_put(o, "\"", 1) : -1;
}

static int put_num(ncdu_out *o, const char *field, uint64_t v)
{
    char b[64];
    int n = snprintf(b, sizeof b, ",\"%s\":%" PRIu64, field, v);
    return ncdu_out_put(o, b, (size_t)n);
}

static uint64_t clamp_pos(int64_t v)
{
    return v < 0 ? 0 : (uint64_t)v;
}

/* asize, dsize: st_blocks counts 512-byte units; the product saturates */
static int put_sizes(ncdu_out *o, const ncdu_rec *r)
{
    uint64_t asize = clamp_pos(r->size), blocks = clamp_pos(r->blocks);
    uint64_t dsize = blocks > (uint64_t)INT64_MAX / 512 ? (uint64_t)INT64_MAX : blocks * 512;
    int rc = 0;
    if (asize)
        rc = put_num(o, "asize", asize);
    if (dsize && rc == 0)
        rc = put_num(o, "dsize", dsize);
    return rc;
}

/* The info object of r ("{...}"), name already chosen. */
static int put_info(ncdu_out *o, const ncdu_rec *r, const char *name, size_t name_len,
                    int with_dev)
{
    int rc = ncdu_out_put(o, "{\"name\":", 8) || ncdu_put_string(o, name, name_len) ? -1 : 0;
    if (rc == 0 && !(r->flags & NCDU_R_NO_STAT)) {
        int dir = (r->flags & NCDU_R_DIR) != 0;
        rc = put_sizes(o, r);
        if (rc == 0 && with_dev)
            rc = put_num(o, "dev", r->dev);
        if (rc == 0)
            rc = put_num(o, "uid", r->uid > INT32_MAX ? INT32_MAX : r->uid) ||
                 put_num(o, "gid", r->gid > INT32_MAX ? INT32_MAX : r->gid) ||
                 put_num(o, "mode", r->mode & 0xffffu) ||
                 put_num(o, "mtime", clamp_pos(r->mtime)) ? -1 : 0;
        if (rc == 0 && !dir && r->nlink > 1)
            rc = put_num(o, "ino", r->ino) || ncdu_out_put(o, ",\"hlnkc\":true", 13) ||
                 put_num(o, "nlink", r->nlink > UINT32_MAX ? UINT32_MAX : r->nlink) ? -1 : 0;
        if (rc == 0 && !dir && !S_ISREG(r->mode))
            rc = ncdu_out_put(o, ",\"notreg\":true", 14);
    }
    if (rc == 0 && (r->flags & NCDU_R_READ_ERROR))
        rc = ncdu_out_put(o, ",\"read_error\":true", 18);
    return rc == 0 ? ncdu_out_put(o, "}", 1) : -1;
}

/* ---- the nesting ----------------------------------------------------------- */

int ncdu_tree_begin(ncdu_tree *t, ncdu_out *o, const char *progver, int64_t timestamp)
{
    memset(t, 0, sizeof *t);
    t->o = o;
    char b[64];
    int n = snprintf(b, sizeof b, ",\"timestamp\":%" PRIu64 "},\n", clamp_pos(timestamp));
    const char *v = progver ? progver : "unknown";
    static const char head[] = "[1,2,{\"progname\":\"pwalk\",\"progver\":";
    return ncdu_out_put(o, head, sizeof head - 1) || ncdu_put_string(o, v, strlen(v)) ||
           ncdu_out_put(o, b, (size_t)n) ? -1 : 0;
}

/* Is the open directory lv an ancestor of key? */
static int is_ancestor(const ncdu_tree *t, const ncdu_level *lv, const char *key, size_t len)
{
    if (lv->key_len == 0) /* the root */
        return 1;
    return len > lv->key_len && key[lv->key_len] == '\0' &&
           memcmp(t->keys + lv->key_off, key, lv->key_len) == 0;
}

static int tree_push(ncdu_tree *t, const char *key, size_t len, uint64_t dev)
{
    if (t->depth == t->lv_cap) {
        size_t cap = t->lv_cap ? t->lv_cap * 2 : 64;
        ncdu_level *l = realloc(t->lv, cap * sizeof *l);
        if (!l)
            return -1;
        t->lv = l;
        t->lv_cap = cap;
    }
    if (t->keys_used + len > t->keys_cap) {
        size_t cap = t->keys_cap ? t->keys_cap * 2 : 4096;
        while (cap < t->keys_used + len)
            cap *= 2;
        char *k = realloc(t->keys, cap);
        if (!k)
            return -1;
        t->keys = k;
        t->keys_cap = cap;
    }
    if (len) /* an empty key before any was stored: t->keys is still NULL */
        memcpy(t->keys + t->keys_used, key, len);
    t->lv[t->depth++] = (ncdu_level){t->keys_used, len, dev};
    t->keys_used += len;
    return 0;
}

static int tree_pop(ncdu_tree *t)
{
    t->depth--;
    t->keys_used = t->lv[t->depth].key_off;
    return ncdu_out_put(t->o, "]", 1);
}

int ncdu_tree_add(ncdu_tree *t, const ncdu_rec *r, const char *key, const char *root_name)
{
    if (t->written == 0) {
        if (!(r->flags & NCDU_R_ROOT)) {
            snprintf(t->o->err, t->o->errlen, "the scan's root directory was not listed");
            return -1;
        }
        t->written++;
        return ncdu_out_put(t->o, "[", 1) ||
               put_info(t->o, r, root_name, strlen(root_name), 1) ||
               tree_push(t, "", 0, r->dev) ? -1 : 0;
    }
    if (r->flags & NCDU_R_ROOT) {
        snprintf(t->o->err, t->o->errlen,
                 "more than one root: ncdu's format holds one tree (one root per scan)");
        return -1;
    }
    while (t->depth > 1 && !is_ancestor(t, &t->lv[t->depth - 1], key, r->key_len))
        if (tree_pop(t) != 0)
            return -1;
    const char *name = memrchr(key, '\0', r->key_len);
    name = name ? name + 1 : key;
    size_t name_len = r->key_len - (size_t)(name - key);
    uint64_t parent_dev = t->lv[t->depth - 1].dev;
    int dir = (r->flags & NCDU_R_DIR) != 0;
    int rc = ncdu_out_put(t->o, dir ? ",\n[" : ",\n", dir ? 3 : 2) ||
             put_info(t->o, r, name, name_len,
                      !(r->flags & NCDU_R_NO_STAT) && r->dev != parent_dev) ? -1 : 0;
    if (rc == 0 && dir)
        rc = tree_push(t, key, r->key_len, r->dev);
    t->written++;
    if (rc && !t->o->failed)
        snprintf(t->o->err, t->o->errlen, "out of memory (%zu open directories)", t->depth);
    return rc;
}

int ncdu_tree_end(ncdu_tree *t)
{
    if (t->written == 0) {
        snprintf(t->o->err, t->o->errlen, "the scan's root directory was not listed");
        return -1;
    }
    while (t->depth)
        if (tree_pop(t) != 0)
            return -1;
    return ncdu_out_put(t->o, "]\n", 2);
}

void ncdu_tree_free(ncdu_tree *t)
{
    free(t->keys);
    free(t->lv);
    t->keys = NULL;
    t->lv = NULL;
}
