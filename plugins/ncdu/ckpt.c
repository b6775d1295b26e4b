/*
 * ckpt.c -- the ncdu sink's checkpoints: the workers' sorted runs kept in
 * the export's temporary, and the state that names them (ckpt.h).
 */
#define _GNU_SOURCE
#include "ckpt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/grow.h"

#define CK_MAGIC "PWNCDUC1"
#define CK_VERSION 1u
#define CK_COPY_BUF (256u * 1024u)

static int ck_add_run(ncdu_ckpt *c, uint64_t off, uint64_t len)
{
    if (grow_array((void **)&c->runs, &c->run_cap, 2 * (c->run_count + 1), sizeof *c->runs))
        return -1;
    c->runs[2 * c->run_count] = off;
    c->runs[2 * c->run_count + 1] = len;
    c->run_count++;
    return 0;
}

/* Bytes [off, off + len) of fd appended to part. */
static int ck_copy(outfile *part, int fd, uint64_t off, uint64_t len, char *buf, char *err,
                   size_t errlen)
{
    while (len) {
        size_t want = len < CK_COPY_BUF ? (size_t)len : CK_COPY_BUF;
        ssize_t got = pread(fd, buf, want, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            snprintf(err, errlen, "cannot read a temporary sort file: %s",
                     got < 0 ? strerror(errno) : "it shrank");
            return -1;
        }
        if (outfile_write(part, buf, (size_t)got, err, errlen) != 0)
            return -1;
        off += (uint64_t)got;
        len -= (uint64_t)got;
    }
    return 0;
}

/* Every run of s appended to part (and listed in c), s emptied. */
static int ck_take_spill(ncdu_ckpt *c, outfile *part, ncdu_spill *s, char *buf, char *err,
                         size_t errlen)
{
    if (ncdu_spill_flush(s, err, errlen) != 0)
        return -1;
    for (size_t j = 0; j < s->run_count; j++) {
        uint64_t at = part->written, len = s->runs[2 * j + 1];
        if (ck_copy(part, s->fd, s->runs[2 * j], len, buf, err, errlen) != 0)
            return -1;
        if (ck_add_run(c, at, len) != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    /* the runs live in part now: the worker's file starts over */
    s->run_count = 0;
    s->file_len = 0;
    if (ftruncate(s->fd, 0) != 0) {
        snprintf(err, errlen, "cannot empty a temporary sort file: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- the state's bytes ----------------------------------------------------- */

typedef struct ck_buf {
    unsigned char *p;
    size_t len, cap;
    int failed;
} ck_buf;

static void cb_bytes(ck_buf *b, const void *d, size_t n)
{
    if (n == 0) /* d may be NULL then (an empty name): memcpy must not see it */
        return;
    if (b->failed || grow_array((void **)&b->p, &b->cap, b->len + n, 1) != 0) {
        b->failed = 1;
        return;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void cb_u64(ck_buf *b, uint64_t v, int bytes)
{
    unsigned char x[8];
    for (int i = 0; i < bytes; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    cb_bytes(b, x, (size_t)bytes);
}

static void cb_str(ck_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    cb_u64(b, n, 4);
    cb_bytes(b, s, n);
}

static unsigned char *ck_pack(const ncdu_ckpt *c, const outfile *part, const outfile *final,
                              unsigned long long length, const char *root, size_t *len)
{
    ck_buf b = {NULL, 0, 0, 0};
    cb_bytes(&b, CK_MAGIC, 8);
    cb_u64(&b, CK_VERSION, 4);
    cb_str(&b, part->tmp_name);
    cb_str(&b, final ? final->tmp_name : NULL);
    cb_u64(&b, length, 8);
    cb_str(&b, root);
    cb_u64(&b, c->run_count, 8);
    for (size_t i = 0; i < 2 * c->run_count; i++)
        cb_u64(&b, c->runs[i], 8);
    cb_u64(&b, part->part_count, 4);
    for (size_t i = 0; i < part->part_count; i++)
        cb_str(&b, part->parts[i]);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

int ncdu_ckpt_save(ncdu_ckpt *c, outfile *part, const outfile *final, ncdu_spill *const *spills,
                   size_t n, const char *root, unsigned char **state, size_t *len, char *err,
                   size_t errlen)
{
    char *buf = malloc(CK_COPY_BUF);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (spills[i])
            rc = ck_take_spill(c, part, spills[i], buf, err, errlen);
    free(buf);
    unsigned long long length = 0;
    if (rc != 0 || outfile_sync(part, &length, err, errlen) != 0)
        return -1;
    if (root && !c->root && !(c->root = strdup(root))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!(*state = ck_pack(c, part, final, length, c->root, len))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* ---- reading a state back -------------------------------------------------- */

typedef struct ck_rd {
    const unsigned char *p;
    size_t len, at;
    int bad;
} ck_rd;

static uint64_t cr_u64(ck_rd *r, int bytes)
{
    uint64_t v = 0;
    if (r->bad || r->len - r->at < (size_t)bytes) {
        r->bad = 1;
        return 0;
    }
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)r->p[r->at + (size_t)i] << (8 * i);
    r->at += (size_t)bytes;
    return v;
}

/* A length-prefixed string, malloc'ed; NULL (r->bad) when it runs past
 * the end or holds a NUL, or out of memory. */
static char *cr_str(ck_rd *r)
{
    uint64_t n = cr_u64(r, 4);
    if (r->bad || n > r->len - r->at || memchr(r->p + r->at, '\0', (size_t)n)) {
        r->bad = 1;
        return NULL;
    }
    char *s = strndup((const char *)r->p + r->at, (size_t)n);
    r->at += (size_t)n;
    if (!s)
        r->bad = 1;
    return s;
}

/* One state into c: its temporary continued by part (first) or appended
 * to it; its runs (moved by where its bytes landed), root and parts.
 * NULL, or why it is refused (err holds outfile's message when "").  */
static const char *ck_take_state(ncdu_ckpt *c, outfile *part, int *opened, const char *path,
                                 ck_rd *r, char *err, size_t errlen)
{
    if (r->len < 12 || memcmp(r->p, CK_MAGIC, 8) != 0)
        return "not an ncdu checkpoint state";
    r->at = 8;
    if (cr_u64(r, 4) != CK_VERSION)
        return "an ncdu checkpoint state of another format version";
    char *name = cr_str(r), *final = cr_str(r);
    uint64_t length = cr_u64(r, 8), base = *opened ? part->written : 0;
    char *root = cr_str(r);
    uint64_t runs = cr_u64(r, 8);
    const char *why = r->bad || !outfile_is_part_name(name) || runs > (r->len - r->at) / 16
                          ? "corrupt"
                          : NULL;
    if (!why && final && final[0] && !outfile_is_part_name(final))
        why = "corrupt";
    if (!why && !*opened) { /* the first: continued, cut back to its length */
        if (outfile_resume(part, path, name, length, err, errlen) != 0) {
            why = "";
        } else {
            *opened = 1;
            c->final_name = final && final[0] ? final : NULL;
            final = c->final_name ? NULL : final;
        }
    } else if (!why && final && final[0] && outfile_adopt_part(part, final) != 0) {
        why = "out of memory";
    } else if (!why && outfile_append_part(part, name, 0, length, err, errlen) != 0) {
        why = ""; /* another rank's: its bytes after ours, at base */
    }
    for (uint64_t i = 0; !why && i < runs; i++) {
        uint64_t off = cr_u64(r, 8), len = cr_u64(r, 8);
        if (off > length || len > length - off)
            why = "corrupt (a run past the temporary's length)";
        else if (ck_add_run(c, base + off, len) != 0)
            why = "out of memory";
    }
    if (!why && root && root[0] && !c->root) {
        c->root = root;
        root = NULL;
    }
    for (uint64_t i = 0, k = cr_u64(r, 4); !why && i < k; i++) {
        char *p = cr_str(r);
        if (!p || outfile_adopt_part(part, p) != 0)
            why = "corrupt (a name that is no pwalk temporary's)";
        free(p);
    }
    if (!why && (r->bad || r->at != r->len))
        why = "corrupt";
    free(name);
    free(final);
    free(root);
    return why;
}

int ncdu_ckpt_resume(ncdu_ckpt *c, outfile *part, int *opened, const char *path,
                     const void *const *states, const size_t *lens, size_t n, char *err,
                     size_t errlen)
{
    *opened = 0;
    for (size_t i = 0; i < n; i++) {
        ck_rd r = {states[i], lens[i], 0, 0};
        char why_io[768] = "";
        const char *why = ck_take_state(c, part, opened, path, &r, why_io, sizeof why_io);
        if (why) {
            snprintf(err, errlen, "ncdu checkpoint state %zu of %zu: %s", i + 1, n,
                     why[0] ? why : why_io);
            return -1;
        }
    }
    return 0;
}

int ncdu_ckpt_runs(const ncdu_ckpt *c, int fd, ncdu_run **runs, size_t *count)
{
    ncdu_run *grown = realloc(*runs, (*count + c->run_count + 1) * sizeof *grown);
    if (!grown)
        return -1;
    *runs = grown;
    for (size_t i = 0; i < c->run_count; i++)
        grown[(*count)++] = (ncdu_run){fd, c->runs[2 * i], c->runs[2 * i + 1]};
    return 0;
}

void ncdu_ckpt_free(ncdu_ckpt *c)
{
    free(c->runs);
    free(c->root);
    free(c->final_name);
    memset(c, 0, sizeof *c);
}
