/*
 * join.c -- matching and classification; see join.h and README.md
 * (changes.csv, "Inode reuse", "Hard links").
 */
#define _GNU_SOURCE
#include "join.h"

#include "common/grow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *dchg_kind_name(int kind)
{
    static const char *const names[DCHG_KINDS] = {"added", "modified", "removed", "renamed",
                                                  "renamed+modified"};
    return kind >= 0 && kind < DCHG_KINDS ? names[kind] : "?";
}

const char *dchg_suspect_name(int suspect)
{
    return suspect == DCHG_SUSPECT_TYPE ? "type" : suspect == DCHG_SUSPECT_CTIME ? "ctime" : "";
}

/* memcmp order, a prefix before what continues it. */
static int djoin_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : an < bn ? -1 : an > bn;
}

#define DJOIN_CMP(x, y)                                                                     \
    do {                                                                                    \
        if ((x) != (y))                                                                     \
            return (x) < (y) ? -1 : 1;                                                      \
    } while (0)

static int djoin_identity(const drow *a, const drow *b)
{
    DJOIN_CMP(a->dev, b->dev);
    DJOIN_CMP(a->ino, b->ino);
    return 0;
}

int djoin_cmp_inode(const void *x, const void *y)
{
    const drow *a = x, *b = y;
    int c = djoin_identity(a, b);
    if (c)
        return c;
    DJOIN_CMP(a->mode & S_IFMT, b->mode & S_IFMT);
    c = djoin_bytes(DROW_PATH(a), a->path_len, DROW_PATH(b), b->path_len);
    /* ties (the same row twice) in a fixed order whatever thread read them */
    return c ? c : memcmp(a, b, sizeof *a);
}

int djoin_cmp_path(const void *x, const void *y)
{
    const drow *a = x, *b = y;
    int c = djoin_bytes(DROW_PATH(a), a->path_len, DROW_PATH(b), b->path_len);
    if (c)
        return c;
    DJOIN_CMP(a->mode & S_IFMT, b->mode & S_IFMT);
    c = djoin_identity(a, b);
    return c ? c : memcmp(a, b, sizeof *a);
}

int djoin_cmp_change(const void *x, const void *y)
{
    const dchg *a = x, *b = y;
    int c = djoin_bytes(DCHG_PATH(a), DCHG_PATH_LEN(a), DCHG_PATH(b), DCHG_PATH_LEN(b));
    if (c)
        return c;
    DJOIN_CMP(a->kind, b->kind);
    c = djoin_bytes(DCHG_OLD_PATH(a), a->od.path_len, DCHG_OLD_PATH(b), b->od.path_len);
    if (c)
        return c;
    DJOIN_CMP(a->nw.ino, b->nw.ino);
    return memcmp(a, b, sizeof *a); /* zeroed padding: djoin_change() */
}

void djoin_key_inode(const void *rec, uint64_t key[2])
{
    const drow *r = rec;
    key[0] = r->dev;
    key[1] = r->ino;
}

/* The first 16 bytes of a path, big-endian, zero-padded: names hold no NUL,
 * so a shorter path sorts first as memcmp has it. */
static void djoin_key_bytes(const char *p, size_t n, uint64_t key[2])
{
    unsigned char b[16] = {0};
    memcpy(b, p, n < 16 ? n : 16);
    key[0] = key[1] = 0;
    for (int i = 0; i < 8; i++) {
        key[0] = key[0] << 8 | b[i];
        key[1] = key[1] << 8 | b[8 + i];
    }
}

void djoin_key_path(const void *rec, uint64_t key[2])
{
    const drow *r = rec;
    djoin_key_bytes(DROW_PATH(r), r->path_len, key);
}

void djoin_key_change(const void *rec, uint64_t key[2])
{
    const dchg *c = rec;
    djoin_key_bytes(DCHG_PATH(c), DCHG_PATH_LEN(c), key);
}

/* One side's rows of the current group, copied out of the merge. */
typedef struct djoin_group {
    char *buf;
    size_t used, cap;
    size_t *offs;
    size_t n, offs_cap;
} djoin_group;

#define DJOIN_ROW(g, i) ((const drow *)((g)->buf + (g)->offs[i]))

static int djoin_group_add(djoin_group *g, const drow *r)
{
    size_t len = (sizeof *r + r->path_len + 7) & ~(size_t)7;
    if (grow_array((void **)&g->buf, &g->cap, g->used + len, 1) ||
        grow_array((void **)&g->offs, &g->offs_cap, g->n + 1, sizeof *g->offs))
        return -1;
    memcpy(g->buf + g->used, r, sizeof *r + r->path_len);
    g->offs[g->n++] = g->used;
    g->used += len;
    return 0;
}

/* What the join passes around for one group. */
typedef struct djoin_ctx {
    int mode;
    djoin_emit emit;
    void *ctx;
    char *buf;                  /* the change being built */
    size_t cap;
    int bytes_counted;          /* in this group and type */
} djoin_ctx;

static int djoin_modified(const drow *o, const drow *n)
{
    return o->size != n->size || o->mtime != n->mtime || o->uid != n->uid || o->gid != n->gid ||
           o->mode != n->mode;
}

/* Build and hand over the change of o (may be NULL) and n (may be NULL). */
static int djoin_change(djoin_ctx *j, const drow *o, const drow *n, int suspect, int count)
{
    size_t len = sizeof(dchg) + (n ? n->path_len : 0) + (o ? o->path_len : 0);
    if (grow_array((void **)&j->buf, &j->cap, len, 1) != 0)
        return -1;
    dchg *c = (dchg *)j->buf;
    memset(c, 0, sizeof *c);
    c->has_new = n != NULL;
    c->has_old = o != NULL;
    c->count_bytes = (uint8_t)count;
    c->suspect = (uint8_t)suspect;
    if (n) {
        c->nw = *n;
        memcpy(j->buf + sizeof *c, DROW_PATH(n), n->path_len);
    }
    if (o) {
        c->od = *o;
        memcpy(j->buf + sizeof *c + c->nw.path_len, DROW_PATH(o), o->path_len);
    }
    if (!o)
        c->kind = DCHG_ADDED;
    else if (!n)
        c->kind = DCHG_REMOVED;
    else {
        int same = o->path_len == n->path_len && !memcmp(DROW_PATH(o), DROW_PATH(n), o->path_len);
        int mod = djoin_modified(o, n);
        if (same && !mod)
            return 0; /* unchanged */
        c->kind = same ? DCHG_MODIFIED : mod ? DCHG_RENAMED_MODIFIED : DCHG_RENAMED;
        if (!same && mod && j->mode == DJOIN_INODE && !S_ISDIR(n->mode) &&
            (o->size != n->size || o->mtime != n->mtime) && o->ctime != n->ctime)
            c->suspect = DCHG_SUSPECT_CTIME;
    }
    return j->emit(j->ctx, c, len);
}

/* Rows [oa, ob) of og and [na, nb) of ng: one identity and one type.
 * Inode matching pairs equal paths first, then the rest in path order
 * (renames); what is left is added or removed.  The inode's bytes are
 * counted at its first pair, or at its first name when one side has none. */
static int djoin_pair(djoin_ctx *j, const djoin_group *og, size_t oa, size_t ob,
                      const djoin_group *ng, size_t na, size_t nb, char *mo, char *mn)
{
    int inode = j->mode == DJOIN_INODE;
    int count = 1;
    memset(mo + oa, 0, ob - oa);
    memset(mn + na, 0, nb - na);
    for (size_t i = oa, k = na; inode && i < ob && k < nb;) {
        const drow *o = DJOIN_ROW(og, i), *n = DJOIN_ROW(ng, k);
        int c = djoin_bytes(DROW_PATH(o), o->path_len, DROW_PATH(n), n->path_len);
        if (c == 0) {
            if (djoin_change(j, o, n, 0, count) != 0)
                return -1;
            count = 0;
            mo[i++] = mn[k++] = 1;
        } else if (c < 0)
            i++;
        else
            k++;
    }
    size_t i = oa, k = na;
    for (;;) {
        while (i < ob && mo[i])
            i++;
        while (k < nb && mn[k])
            k++;
        if (i == ob || k == nb)
            break;
        if (djoin_change(j, DJOIN_ROW(og, i), DJOIN_ROW(ng, k), 0, count || !inode) != 0)
            return -1;
        count = 0;
        mo[i] = mn[k] = 1;
    }
    /* the inode on one side only: its first name carries its bytes; else a
     * name more or less for an inode that stays: no bytes */
    int lone = oa == ob || na == nb, first = 1;
    int suspect = inode && lone && (oa == ob ? og->n : ng->n) ? DCHG_SUSPECT_TYPE : 0;
    for (; i < ob; i++) {
        if (mo[i])
            continue;
        if (djoin_change(j, DJOIN_ROW(og, i), NULL, suspect, !inode || (lone && first)))
            return -1;
        first = 0;
    }
    for (; k < nb; k++) {
        if (mn[k])
            continue;
        if (djoin_change(j, NULL, DJOIN_ROW(ng, k), suspect, !inode || (lone && first)))
            return -1;
        first = 0;
    }
    return 0;
}

/* A group: both sides' rows of one identity, split by type. */
static int djoin_group_do(djoin_ctx *j, const djoin_group *og, const djoin_group *ng,
                          char **marks, size_t *mcap)
{
    if (grow_array((void **)marks, mcap, og->n + ng->n + 1, 1) != 0)
        return -1;
    char *mo = *marks, *mn = *marks + og->n;
    size_t oa = 0, na = 0;
    while (oa < og->n || na < ng->n) {
        uint32_t to = oa < og->n ? DJOIN_ROW(og, oa)->mode & S_IFMT : UINT32_MAX;
        uint32_t tn = na < ng->n ? DJOIN_ROW(ng, na)->mode & S_IFMT : UINT32_MAX;
        uint32_t t = to < tn ? to : tn;
        size_t ob = oa, nb = na;
        while (ob < og->n && (DJOIN_ROW(og, ob)->mode & S_IFMT) == t)
            ob++;
        while (nb < ng->n && (DJOIN_ROW(ng, nb)->mode & S_IFMT) == t)
            nb++;
        if (djoin_pair(j, og, oa, ob, ng, na, nb, mo, mn) != 0)
            return -1;
        oa = ob;
        na = nb;
    }
    return 0;
}

/* Same identity: (st_dev, inode) or the path. */
static int djoin_same(int mode, const drow *a, const drow *b)
{
    if (mode == DJOIN_INODE)
        return a->dev == b->dev && a->ino == b->ino;
    return a->path_len == b->path_len && !memcmp(DROW_PATH(a), DROW_PATH(b), a->path_len);
}

static int djoin_key_cmp(int mode, const drow *a, const drow *b)
{
    if (mode == DJOIN_INODE)
        return djoin_identity(a, b);
    return djoin_bytes(DROW_PATH(a), a->path_len, DROW_PATH(b), b->path_len);
}

/* Move the rows of side m with the identity of key into g; key NULL: of
 * the current row (then the group's first row is the key: *cur moves on). */
static int djoin_take(dpipe *m, const drow **cur, const drow *key, int mode,
                      djoin_group *g, char *err, size_t errlen)
{
    while (*cur && (!g->n && !key ? 1 : djoin_same(mode, *cur, key ? key : DJOIN_ROW(g, 0)))) {
        if (djoin_group_add(g, *cur) != 0)
            return snprintf(err, errlen, "out of memory"), -1;
        *cur = dpipe_next(m, err, errlen);
    }
    return *cur || !dpipe_failed(m) ? 0 : -1;
}

/* The next group: the side whose row comes first gives the identity. */
static int djoin_next_group(dpipe *old, dpipe *nw, const drow **o, const drow **n,
                            int mode, djoin_group *og, djoin_group *ng, char *err, size_t errlen)
{
    og->used = og->n = ng->used = ng->n = 0;
    if (*o && (!*n || djoin_key_cmp(mode, *o, *n) <= 0))
        return djoin_take(old, o, NULL, mode, og, err, errlen) ||
               djoin_take(nw, n, DJOIN_ROW(og, 0), mode, ng, err, errlen);
    return djoin_take(nw, n, NULL, mode, ng, err, errlen) ||
           djoin_take(old, o, DJOIN_ROW(ng, 0), mode, og, err, errlen);
}

int djoin_run(dpipe *old, dpipe *nw, int mode, djoin_emit emit, void *ctx,
              const volatile sig_atomic_t *stop, char *err, size_t errlen)
{
    djoin_ctx j = {.mode = mode, .emit = emit, .ctx = ctx};
    djoin_group og = {0}, ng = {0};
    char *marks = NULL;
    size_t mcap = 0;
    int rc = 0;
    const drow *o = dpipe_next(old, err, errlen), *n = dpipe_next(nw, err, errlen);
    if ((!o && dpipe_failed(old)) || (!n && dpipe_failed(nw)))
        rc = -1;
    while (rc == 0 && (o || n)) {
        if (stop && *stop) {
            rc = -1;
            break;
        }
        if (djoin_next_group(old, nw, &o, &n, mode, &og, &ng, err, errlen) ||
            djoin_group_do(&j, &og, &ng, &marks, &mcap))
            rc = -1;
    }
    free(og.buf), free(og.offs), free(ng.buf), free(ng.offs);
    free(marks);
    free(j.buf);
    return rc;
}
