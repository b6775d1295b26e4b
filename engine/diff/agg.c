/*
 * agg.c -- the figures of a diff; see agg.h.  Bytes count only where the
 * join says a change carries its inode's bytes (count_bytes), so a hard
 * link's names add up to the inode's size once.
 */
#define _GNU_SOURCE
#include "agg.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void dagg_init(dagg *a, int depth)
{
    memset(a, 0, sizeof *a);
    a->depth = depth;
}

void dagg_free(dagg *a)
{
    free(a->users.slots);
    free(a->groups.slots);
    for (size_t i = 0; i < a->dir_cap; i++)
        free(a->dirs[i].path);
    free(a->dirs);
    memset(a, 0, sizeof *a);
}

static size_t dagg_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (size_t)h;
}

static int dagg_id_grow(dagg_idtab *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    dagg_id *s = calloc(cap, sizeof *s);
    if (!s)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].used)
            continue;
        size_t k = dagg_mix(t->slots[i].id) & (cap - 1);
        while (s[k].used)
            k = (k + 1) & (cap - 1);
        s[k] = t->slots[i];
    }
    free(t->slots);
    t->slots = s;
    t->cap = cap;
    return 0;
}

/* id's counters; room was made by the caller (pointers stay valid). */
static dagg_cnt *dagg_id_get(dagg_idtab *t, uint32_t id)
{
    size_t k = dagg_mix(id) & (t->cap - 1);
    while (t->slots[k].used && t->slots[k].id != id)
        k = (k + 1) & (t->cap - 1);
    if (!t->slots[k].used) {
        t->slots[k].used = 1;
        t->slots[k].id = id;
        t->n++;
    }
    return &t->slots[k].c;
}

/* What one change means for an owner (user, group, or the total: then
 * same is set whenever both rows exist). */
static void dagg_owner(dagg_cnt *oc, dagg_cnt *nc, int same, const dchg *c, int64_t osz,
                       int64_t nsz)
{
    if (same) {
        int64_t d = nsz - osz;
        if (d > 0)
            nc->bytes_added += d;
        else
            nc->bytes_removed -= d;
        return;
    }
    if (oc) {
        oc->files_removed += !S_ISDIR(c->od.mode);
        oc->bytes_removed += osz;
    }
    if (nc) {
        nc->files_added += !S_ISDIR(c->nw.mode);
        nc->bytes_added += nsz;
    }
}

static int dagg_owners(dagg_idtab *t, const dchg *c, int by_gid, int64_t osz, int64_t nsz)
{
    uint32_t oid = by_gid ? c->od.gid : c->od.uid, nid = by_gid ? c->nw.gid : c->nw.uid;
    dagg_cnt *oc = NULL, *nc = NULL;
    if ((t->n + 2) * 2 > t->cap && dagg_id_grow(t) != 0)
        return -1;
    if (c->has_old)
        oc = dagg_id_get(t, oid);
    if (c->has_new)
        nc = dagg_id_get(t, nid);
    dagg_owner(oc, nc, c->has_old && c->has_new && oid == nid, c, osz, nsz);
    return 0;
}

/* ---- directories -------------------------------------------------------------- */

static uint64_t dagg_hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

static int dagg_dir_grow(dagg *a)
{
    size_t cap = a->dir_cap ? a->dir_cap * 2 : 256;
    dagg_dir *d = calloc(cap, sizeof *d);
    if (!d)
        return -1;
    for (size_t i = 0; i < a->dir_cap; i++) {
        if (!a->dirs[i].path)
            continue;
        size_t k = dagg_mix(a->dirs[i].hash) & (cap - 1);
        while (d[k].path)
            k = (k + 1) & (cap - 1);
        d[k] = a->dirs[i];
    }
    free(a->dirs);
    a->dirs = d;
    a->dir_cap = cap;
    return 0;
}

static int dagg_dir_add(dagg *a, const char *p, size_t n, int32_t depth, int64_t bytes,
                        int64_t files)
{
    if ((a->dir_n + 1) * 2 > a->dir_cap && dagg_dir_grow(a) != 0)
        return -1;
    uint64_t h = dagg_hash(p, n);
    size_t k = dagg_mix(h) & (a->dir_cap - 1);
    dagg_dir *d;
    while ((d = &a->dirs[k])->path && !(d->hash == h && d->len == n && !memcmp(d->path, p, n)))
        k = (k + 1) & (a->dir_cap - 1);
    if (!d->path) {
        if (!(d->path = malloc(n ? n : 1)))
            return -1;
        memcpy(d->path, p, n);
        d->len = n;
        d->hash = h;
        d->depth = depth;
        a->dir_n++;
    }
    d->net_bytes += bytes;
    d->net_files += files;
    return 0;
}

/* The entry at path (report depth depth) counts in every directory above
 * it, and in itself when it is a directory, down to the --depth limit.
 * The root is the path less its last depth + 1 components. */
static int dagg_dirs(dagg *a, const char *p, size_t n, int32_t depth, int is_dir, int64_t bytes,
                     int64_t files)
{
    size_t root = n;
    for (int32_t k = 0; k <= depth; k++) {
        const char *s = memrchr(p, '/', root);
        if (!s)
            return 0; /* not below a root as its depth says: nowhere to count */
        root = (size_t)(s - p);
    }
    int32_t last = depth < a->depth - 1 ? depth : a->depth - 1; /* deepest row to touch */
    if (depth >= 0 || is_dir)
        if (dagg_dir_add(a, p, root ? root : 1, -1, bytes, files) != 0)
            return -1;
    size_t end = root;
    for (int32_t lvl = 0; lvl <= last; lvl++) {
        const char *s = end + 1 < n ? memchr(p + end + 1, '/', n - end - 1) : NULL;
        end = s ? (size_t)(s - p) : n;
        if ((lvl < depth || is_dir) && dagg_dir_add(a, p, end, lvl, bytes, files) != 0)
            return -1;
    }
    return 0;
}

int dagg_add(dagg *a, const dchg *c)
{
    a->changes++;
    a->kinds[c->kind]++;
    a->suspects += c->suspect != DCHG_SUSPECT_NONE;
    int64_t osz = c->has_old && c->count_bytes ? c->od.size : 0;
    int64_t nsz = c->has_new && c->count_bytes ? c->nw.size : 0;
    dagg_owner(c->has_old ? &a->total : NULL, c->has_new ? &a->total : NULL,
               c->has_old && c->has_new, c, osz, nsz);
    if (dagg_owners(&a->users, c, 0, osz, nsz) || dagg_owners(&a->groups, c, 1, osz, nsz))
        return -1;
    int of = c->has_old && !S_ISDIR(c->od.mode), nf = c->has_new && !S_ISDIR(c->nw.mode);
    if (c->kind == DCHG_MODIFIED)
        return dagg_dirs(a, DCHG_NEW_PATH(c), c->nw.path_len, c->nw.depth, !nf, nsz - osz, 0);
    if (c->has_old && dagg_dirs(a, DCHG_OLD_PATH(c), c->od.path_len, c->od.depth, !of, -osz, -of))
        return -1;
    if (c->has_new && dagg_dirs(a, DCHG_NEW_PATH(c), c->nw.path_len, c->nw.depth, !nf, nsz, nf))
        return -1;
    return 0;
}

static int dagg_cmp_id(const void *x, const void *y)
{
    const dagg_id *a = *(const dagg_id *const *)x, *b = *(const dagg_id *const *)y;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int dagg_cmp_dir(const void *x, const void *y)
{
    const dagg_dir *a = *(const dagg_dir *const *)x, *b = *(const dagg_dir *const *)y;
    int c = memcmp(a->path, b->path, a->len < b->len ? a->len : b->len);
    return c ? c : a->len < b->len ? -1 : a->len > b->len;
}

const dagg_id **dagg_ids_sorted(const dagg_idtab *t, size_t *n)
{
    *n = 0;
    const dagg_id **v = malloc((t->n + 1) * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].used)
            v[(*n)++] = &t->slots[i];
    qsort(v, *n, sizeof *v, dagg_cmp_id);
    return v;
}

const dagg_dir **dagg_dirs_sorted(const dagg *a, size_t *n)
{
    *n = 0;
    const dagg_dir **v = malloc((a->dir_n + 1) * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < a->dir_cap; i++)
        if (a->dirs[i].path)
            v[(*n)++] = &a->dirs[i];
    qsort(v, *n, sizeof *v, dagg_cmp_dir);
    return v;
}
