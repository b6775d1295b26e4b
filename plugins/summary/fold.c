/*
 * fold.c -- one entry into a worker's aggregate: the summary's hot path.
 *
 * A file is added at once to its parent directory's direct sums, its user,
 * its group and its cube cell, and forgotten; only directories (and the
 * links of hard-linked files, which finalize.c attributes once) are kept.
 * The engine hands a directory's entries over together, so the parent is
 * looked up once per run of siblings (the last-parent cache), not per file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "summ.h"

int summ_parse_ages(summ_conf *c, const char *const *values, size_t count, char *err,
                    size_t errlen)
{
    if (count == 0 || count > SUMM_AGE_MAX) {
        snprintf(err, errlen, "age_days: %zu values given; give 1 to %d", count, SUMM_AGE_MAX);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(values[i], &end, 10);
        if (errno || end == values[i] || *end || v <= 0 || v > 1000000) {
            snprintf(err, errlen, "age_days: '%s' is not a whole number of days in 1..1000000",
                     values[i]);
            return -1;
        }
        if (i && v <= c->age_days[i - 1]) {
            snprintf(err, errlen,
                     "age_days: '%s' is not greater than the value before it (%d); the "
                     "buckets must be strictly increasing",
                     values[i], (int)c->age_days[i - 1]);
            return -1;
        }
        c->age_days[i] = (int32_t)v;
    }
    c->age_count = count;
    return 0;
}

int32_t summ_bucket(const summ_conf *c, int64_t t)
{
    int64_t age = c->start_sec > t ? (c->start_sec - t) / 86400 : 0;
    int32_t b = 0;
    for (size_t i = 0; i < c->age_count && c->age_days[i] <= age; i++)
        b = c->age_days[i];
    return b;
}

uint32_t summ_size_class(int64_t size)
{
    uint32_t k = 0;
    while (k + 1 < SUMM_SIZE_CLASSES && size >= summ_size_class_min[k + 1])
        k++;
    return k;
}

static int summ_is_stale(const summ_conf *c, int64_t mtime)
{
    return c->age_count && summ_bucket(c, mtime) >= c->age_days[c->age_count - 1];
}

void summ_sums_item(summ_sums *s, const summ_conf *c, const summ_item *it)
{
    uint64_t size = it->size > 0 ? (uint64_t)it->size : 0;
    if (it->is_dir)
        ; /* a directory is not one of its own `dirs`: finalize counts it in its parent */
    else
        s->files++;
    s->bytes += size;
    s->allocated += it->blocks > 0 ? (uint64_t)it->blocks * 512u : 0;
    if (summ_is_stale(c, it->mtime))
        s->stale_bytes += size;
    if (it->mtime > s->newest_mtime)
        s->newest_mtime = it->mtime;
    if (it->atime > s->newest_atime)
        s->newest_atime = it->atime;
    if (it->mtime < s->oldest_mtime)
        s->oldest_mtime = it->mtime;
}

static void summ_owner_item(summ_owner *o, const summ_item *it, uint64_t size, uint64_t alloc)
{
    o->files += !it->is_dir;
    o->dirs += !!it->is_dir;
    o->bytes += size;
    o->allocated += alloc;
    if (it->mtime > o->newest_mtime)
        o->newest_mtime = it->mtime;
    if (it->atime < o->oldest_atime)
        o->oldest_atime = it->atime;
}

static int summ_key_eq(const summ_cell_key *x, const summ_cell_key *y)
{
    return x->uid == y->uid && x->gid == y->gid && x->top == y->top &&
           x->mtime_age == y->mtime_age && x->atime_age == y->atime_age &&
           x->ctime_age == y->ctime_age && x->size_class == y->size_class;
}

/* The owners and cell of it, through the cache. */
static int summ_targets(summ_agg *a, const summ_cell_key *k, summ_cache *cache,
                        summ_owner **u, summ_owner **g, summ_cell **cell)
{
    summ_cache none = {0};
    if (!cache)
        cache = &none;
    if (!cache->user || cache->uid != k->uid) {
        *u = summ_agg_user(a, k->uid);
        cache->user = *u ? (size_t)(*u - a->users) + 1 : 0;
        cache->uid = k->uid;
    }
    if (!cache->group || cache->gid != k->gid) {
        *g = summ_agg_group(a, k->gid);
        cache->group = *g ? (size_t)(*g - a->groups) + 1 : 0;
        cache->gid = k->gid;
    }
    if (!cache->cell || !summ_key_eq(&cache->key, k)) {
        *cell = summ_agg_cell(a, k);
        cache->cell = *cell ? (size_t)(*cell - a->cells) + 1 : 0;
        cache->key = *k;
    }
    if (!cache->user || !cache->group || !cache->cell)
        return -1;
    *u = &a->users[cache->user - 1];
    *g = &a->groups[cache->group - 1];
    *cell = &a->cells[cache->cell - 1];
    return 0;
}

int summ_account(summ_agg *a, const summ_conf *c, const summ_item *it, uint32_t top,
                 summ_cache *cache)
{
    uint64_t size = it->size > 0 ? (uint64_t)it->size : 0;
    uint64_t alloc = it->blocks > 0 ? (uint64_t)it->blocks * 512u : 0;
    summ_cell_key k = {it->uid, it->gid, top, summ_bucket(c, it->mtime),
                       summ_bucket(c, it->atime), summ_bucket(c, it->ctime),
                       summ_size_class(it->size)};
    summ_owner *u, *g;
    summ_cell *cell;
    if (summ_targets(a, &k, cache, &u, &g, &cell) != 0)
        return -1;
    summ_owner_item(u, it, size, alloc);
    summ_owner_item(g, it, size, alloc);
    cell->files += !it->is_dir;
    cell->dirs += !!it->is_dir;
    cell->bytes += size;
    cell->allocated += alloc;
    return 0;
}

void summ_top_of(const char *path, size_t len, int32_t depth, int is_dir, const char **top,
                 size_t *top_len)
{
    if (depth < 0 || (depth == 0 && !is_dir)) {
        *top = ".";
        *top_len = 1;
        return;
    }
    size_t end = len;
    for (int32_t k = 0; k < depth && end > 0; k++) {
        while (end > 0 && path[end - 1] != '/')
            end--;
        if (end > 0)
            end--; /* the '/' before the stripped name */
    }
    size_t start = end;
    while (start > 0 && path[start - 1] != '/')
        start--;
    *top = path + start;
    *top_len = end - start;
}

size_t summ_parent_len(const char *path, uint32_t name_offset)
{
    /* "/a/b" -> "/a"; "/a" -> "/" (a root of "/" ends in its slash) */
    size_t n = name_offset;
    if (n > 1 && path[n - 1] == '/')
        n--;
    return n;
}

void summ_worker_init(summ_worker *w, const summ_conf *c)
{
    summ_agg_init(&w->agg);
    w->conf = c;
    w->last_dir = NULL;
    w->last_top = UINT32_MAX;
    memset(&w->cache, 0, sizeof w->cache);
}

static summ_item summ_item_of(const pwalk_entry *e, int is_dir)
{
    summ_item it = {e->uid,       e->gid,       is_dir,      e->size,
                    e->blocks,    e->atime_sec, e->mtime_sec, e->ctime_sec};
    return it;
}

static uint32_t summ_top_id(summ_agg *a, const pwalk_entry *e, int is_dir)
{
    const char *top;
    size_t len;
    summ_top_of(e->path, e->path_len, e->depth, is_dir, &top, &len);
    return summ_agg_top(a, top, len);
}

/* A directory's own entry: its node's own stats, and it counts as a dir. */
static int summ_fold_dir(summ_worker *w, const pwalk_entry *e, const summ_item *it)
{
    summ_dir *d = summ_agg_dir(&w->agg, e->path, e->path_len, summ_hash(e->path, e->path_len),
                               e->depth);
    uint32_t top = summ_top_id(&w->agg, e, 1);
    if (!d || top == UINT32_MAX)
        return -1;
    d->flags |= SUMM_DIR_SELF;
    if (e->flags & PWALK_ENTRY_UNREADABLE)
        d->flags |= SUMM_DIR_UNREADABLE;
    if (e->flags & PWALK_ENTRY_ROOT)
        d->flags |= SUMM_DIR_ROOT;
    d->depth = e->depth;
    d->uid = e->uid;
    d->gid = e->gid;
    d->dev = e->dev;
    d->ino = e->ino;
    summ_sums_item(&d->direct, w->conf, it);
    return summ_account(&w->agg, w->conf, it, top, &w->cache);
}

/* The parent directory of a file, through the last-parent cache. */
static summ_dir *summ_parent(summ_worker *w, const pwalk_entry *e)
{
    size_t plen = summ_parent_len(e->path, e->name_offset);
    summ_dir *d = w->last_dir;
    if (d && d->path_len == plen && memcmp(d->path, e->path, plen) == 0)
        return d;
    d = summ_agg_dir(&w->agg, e->path, plen, summ_hash(e->path, plen), e->depth - 1);
    if (d) {
        w->last_dir = d;
        w->last_top = summ_top_id(&w->agg, e, 0);
        if (w->last_top == UINT32_MAX)
            return NULL;
    }
    return d;
}

static int summ_fold_link(summ_worker *w, const pwalk_entry *e)
{
    summ_link l = {e->dev,   e->ino,      (char *)(uintptr_t)e->path, e->path_len,
                   e->name_offset,       e->depth,  e->uid,   e->gid, 0,
                   e->size,  e->blocks,   e->atime_sec, e->mtime_sec, e->ctime_sec};
    return summ_agg_link(&w->agg, &l);
}

int summ_fold(summ_worker *w, const pwalk_entry *e)
{
    int is_dir = S_ISDIR((mode_t)e->mode);
    summ_item it = summ_item_of(e, is_dir);
    if (is_dir)
        return summ_fold_dir(w, e, &it);
    if (e->depth < 0) { /* a file given as a root: no directory to count in */
        uint32_t top = summ_agg_top(&w->agg, ".", 1);
        summ_sums_item(&w->agg.loose, w->conf, &it);
        return top == UINT32_MAX ? -1 : summ_account(&w->agg, w->conf, &it, top, &w->cache);
    }
    if (e->nlink > 1)
        return summ_fold_link(w, e);
    summ_dir *d = summ_parent(w, e);
    if (!d)
        return -1;
    summ_sums_item(&d->direct, w->conf, &it);
    return summ_account(&w->agg, w->conf, &it, w->last_top, &w->cache);
}
