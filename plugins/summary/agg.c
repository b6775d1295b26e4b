/*
 * agg.c -- the summary's aggregate: its hash indexes and summ_agg_merge()
 * (see agg.h).  One open-addressing index per table, the elements in a
 * growing array beside it, so a lookup costs one hash and a probe or two.
 */
#include "agg.h"

#include <stdlib.h>
#include <string.h>

#include "common/grow.h"

const int64_t summ_size_class_min[SUMM_SIZE_CLASSES] = {
    0, 1, 4096, 65536, 1048576, 16777216, 268435456, 4294967296LL, 68719476736LL,
    1099511627776LL};

enum { SUMM_IX_DIR, SUMM_IX_USER, SUMM_IX_GROUP, SUMM_IX_CELL, SUMM_IX_TOP };

/* murmur3's finalizer: every input bit reaches the low bits the index
 * uses */
static uint64_t summ_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* Eight bytes at a time (paths are long; byte-wise FNV was a visible part
 * of a directory-heavy walk), the tail and the length folded in last. */
uint64_t summ_hash(const char *s, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    uint64_t tail = 0;
    for (size_t k = 0; i + k < len; k++)
        tail |= (uint64_t)(unsigned char)s[i + k] << (8 * k);
    return summ_mix(h ^ tail);
}

static uint64_t summ_cell_hash(const summ_cell_key *k)
{
    uint64_t h = summ_mix(((uint64_t)k->uid << 32) | k->gid);
    h = summ_mix(h ^ (((uint64_t)k->top << 32) | (uint32_t)k->mtime_age));
    h = summ_mix(h ^ (((uint64_t)(uint32_t)k->atime_age << 32) | (uint32_t)k->ctime_age));
    return summ_mix(h ^ k->size_class);
}

static int summ_cell_key_eq(const summ_cell_key *x, const summ_cell_key *y)
{
    return x->uid == y->uid && x->gid == y->gid && x->top == y->top &&
           x->mtime_age == y->mtime_age && x->atime_age == y->atime_age &&
           x->ctime_age == y->ctime_age && x->size_class == y->size_class;
}

static uint64_t summ_elem_hash(const summ_agg *a, int kind, size_t i)
{
    switch (kind) {
    case SUMM_IX_DIR: return a->dirs[i]->hash;
    case SUMM_IX_USER: return summ_mix(a->users[i].id);
    case SUMM_IX_GROUP: return summ_mix(a->groups[i].id);
    case SUMM_IX_CELL: return summ_cell_hash(&a->cells[i].key);
    default: return summ_hash(a->tops[i], a->top_lens[i]);
    }
}

/* key: DIR and TOP a string of len bytes, USER/GROUP a uint32_t id, CELL a
 * summ_cell_key. */
static int summ_elem_eq(const summ_agg *a, int kind, size_t i, const void *key, size_t len)
{
    switch (kind) {
    case SUMM_IX_DIR:
        return a->dirs[i]->path_len == len && memcmp(a->dirs[i]->path, key, len) == 0;
    case SUMM_IX_USER: return a->users[i].id == *(const uint32_t *)key;
    case SUMM_IX_GROUP: return a->groups[i].id == *(const uint32_t *)key;
    case SUMM_IX_CELL: return summ_cell_key_eq(&a->cells[i].key, key);
    default: return a->top_lens[i] == len && memcmp(a->tops[i], key, len) == 0;
    }
}

/* The element's index, or SIZE_MAX with *slot where it would go. */
static size_t summ_index_find(const summ_agg *a, const summ_index *ix, int kind, uint64_t h,
                              const void *key, size_t len, size_t *slot)
{
    if (ix->cap == 0) {
        *slot = SIZE_MAX;
        return SIZE_MAX;
    }
    size_t mask = ix->cap - 1;
    for (size_t s = (size_t)h & mask;; s = (s + 1) & mask) {
        uint32_t v = ix->slots[s];
        if (v == 0) {
            *slot = s;
            return SIZE_MAX;
        }
        if (summ_elem_eq(a, kind, v - 1, key, len))
            return v - 1;
    }
}

/* Room for count + 1 elements at a load of at most one half. */
static int summ_index_reserve(const summ_agg *a, summ_index *ix, int kind, size_t count)
{
    if ((count + 1) * 2 <= ix->cap)
        return 0;
    size_t cap = ix->cap ? ix->cap * 2 : 64;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (!slots || count >= UINT32_MAX - 1) {
        free(slots);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        size_t s = (size_t)summ_elem_hash(a, kind, i) & (cap - 1);
        while (slots[s])
            s = (s + 1) & (cap - 1);
        slots[s] = (uint32_t)(i + 1);
    }
    free(ix->slots);
    ix->slots = slots;
    ix->cap = cap;
    return 0;
}

/* Find key, or make room for it: returns the index found, or SIZE_MAX with
 * *slot the free slot for a new element (after the index was grown), or
 * SIZE_MAX with *slot SIZE_MAX when out of memory. */
static size_t summ_lookup(summ_agg *a, summ_index *ix, int kind, size_t count, uint64_t h,
                          const void *key, size_t len, size_t *slot)
{
    size_t i = summ_index_find(a, ix, kind, h, key, len, slot);
    if (i != SIZE_MAX)
        return i;
    if (summ_index_reserve(a, ix, kind, count) != 0) {
        *slot = SIZE_MAX;
        return SIZE_MAX;
    }
    summ_index_find(a, ix, kind, h, key, len, slot);
    return SIZE_MAX;
}

void summ_sums_init(summ_sums *s)
{
    memset(s, 0, sizeof *s);
    s->newest_mtime = SUMM_TIME_NONE_NEWEST;
    s->newest_atime = SUMM_TIME_NONE_NEWEST;
    s->oldest_mtime = SUMM_TIME_NONE_OLDEST;
}

void summ_sums_add(summ_sums *into, const summ_sums *from)
{
    into->files += from->files;
    into->dirs += from->dirs;
    into->bytes += from->bytes;
    into->allocated += from->allocated;
    into->stale_bytes += from->stale_bytes;
    if (from->newest_mtime > into->newest_mtime)
        into->newest_mtime = from->newest_mtime;
    if (from->newest_atime > into->newest_atime)
        into->newest_atime = from->newest_atime;
    if (from->oldest_mtime < into->oldest_mtime)
        into->oldest_mtime = from->oldest_mtime;
}

void summ_agg_init(summ_agg *a)
{
    memset(a, 0, sizeof *a);
    summ_sums_init(&a->loose);
}

void summ_agg_free(summ_agg *a)
{
    for (size_t i = 0; i < a->dir_count; i++)
        free(a->dirs[i]);
    for (size_t i = 0; i < a->top_count; i++)
        free(a->tops[i]);
    for (size_t i = 0; i < a->link_count; i++)
        free(a->links[i].path);
    free(a->dirs);
    free(a->users);
    free(a->groups);
    free(a->cells);
    free(a->tops);
    free(a->top_lens);
    free(a->links);
    free(a->dir_index.slots);
    free(a->user_index.slots);
    free(a->group_index.slots);
    free(a->cell_index.slots);
    free(a->top_index.slots);
    summ_agg_init(a);
}

summ_dir *summ_agg_dir(summ_agg *a, const char *path, size_t len, uint64_t hash, int32_t depth)
{
    size_t slot;
    size_t i = summ_lookup(a, &a->dir_index, SUMM_IX_DIR, a->dir_count, hash, path, len, &slot);
    if (i != SIZE_MAX)
        return a->dirs[i];
    if (slot == SIZE_MAX || len > UINT32_MAX ||
        grow_array((void **)&a->dirs, &a->dir_cap, a->dir_count + 1, sizeof *a->dirs) != 0)
        return NULL;
    summ_dir *d = calloc(1, sizeof *d + len + 1);
    if (!d)
        return NULL;
    d->hash = hash;
    d->path_len = (uint32_t)len;
    d->depth = depth;
    summ_sums_init(&d->direct);
    memcpy(d->path, path, len);
    a->dirs[a->dir_count++] = d;
    a->dir_index.slots[slot] = (uint32_t)a->dir_count;
    return d;
}

static summ_owner *summ_owner_get(summ_agg *a, int kind, uint32_t id)
{
    int user = kind == SUMM_IX_USER;
    summ_owner **arr = user ? &a->users : &a->groups;
    size_t *count = user ? &a->user_count : &a->group_count;
    size_t *cap = user ? &a->user_cap : &a->group_cap;
    summ_index *ix = user ? &a->user_index : &a->group_index;
    size_t slot;
    size_t i = summ_lookup(a, ix, kind, *count, summ_mix(id), &id, sizeof id, &slot);
    if (i != SIZE_MAX)
        return &(*arr)[i];
    if (slot == SIZE_MAX || grow_array((void **)arr, cap, *count + 1, sizeof **arr) != 0)
        return NULL;
    summ_owner *o = &(*arr)[(*count)++];
    memset(o, 0, sizeof *o);
    o->id = id;
    o->newest_mtime = SUMM_TIME_NONE_NEWEST;
    o->oldest_atime = SUMM_TIME_NONE_OLDEST;
    ix->slots[slot] = (uint32_t)*count;
    return o;
}

summ_owner *summ_agg_user(summ_agg *a, uint32_t uid)
{
    return summ_owner_get(a, SUMM_IX_USER, uid);
}

summ_owner *summ_agg_group(summ_agg *a, uint32_t gid)
{
    return summ_owner_get(a, SUMM_IX_GROUP, gid);
}

uint32_t summ_agg_top(summ_agg *a, const char *s, size_t len)
{
    size_t slot;
    size_t i = summ_lookup(a, &a->top_index, SUMM_IX_TOP, a->top_count, summ_hash(s, len), s,
                           len, &slot);
    if (i != SIZE_MAX)
        return (uint32_t)i;
    /* both arrays double alike from 64: top_cap is the capacity of each
     * (top_lens grown first, so a failure never leaves it the smaller) */
    size_t lens_cap = a->top_cap;
    if (slot == SIZE_MAX || len > UINT32_MAX ||
        grow_array((void **)&a->top_lens, &lens_cap, a->top_count + 1, sizeof *a->top_lens) ||
        grow_array((void **)&a->tops, &a->top_cap, a->top_count + 1, sizeof *a->tops) != 0)
        return UINT32_MAX;
    char *copy = malloc(len + 1);
    if (!copy)
        return UINT32_MAX;
    memcpy(copy, s, len);
    copy[len] = '\0';
    a->tops[a->top_count] = copy;
    a->top_lens[a->top_count] = (uint32_t)len;
    a->top_count++;
    a->top_index.slots[slot] = (uint32_t)a->top_count;
    return (uint32_t)(a->top_count - 1);
}

summ_cell *summ_agg_cell(summ_agg *a, const summ_cell_key *k)
{
    size_t slot;
    size_t i = summ_lookup(a, &a->cell_index, SUMM_IX_CELL, a->cell_count, summ_cell_hash(k), k,
                           sizeof *k, &slot);
    if (i != SIZE_MAX)
        return &a->cells[i];
    if (slot == SIZE_MAX ||
        grow_array((void **)&a->cells, &a->cell_cap, a->cell_count + 1, sizeof *a->cells) != 0)
        return NULL;
    summ_cell *c = &a->cells[a->cell_count++];
    memset(c, 0, sizeof *c);
    c->key = *k;
    a->cell_index.slots[slot] = (uint32_t)a->cell_count;
    return c;
}

int summ_agg_link(summ_agg *a, const summ_link *l)
{
    if (grow_array((void **)&a->links, &a->link_cap, a->link_count + 1, sizeof *a->links) != 0)
        return -1;
    char *copy = malloc((size_t)l->path_len + 1);
    if (!copy)
        return -1;
    memcpy(copy, l->path, l->path_len);
    copy[l->path_len] = '\0';
    summ_link *n = &a->links[a->link_count++];
    *n = *l;
    n->path = copy;
    return 0;
}

/* f's figures into d, the same directory's record in another aggregate. */
static void summ_dir_add(summ_dir *d, const summ_dir *f)
{
    summ_sums_add(&d->direct, &f->direct);
    if ((f->flags & SUMM_DIR_SELF) && !(d->flags & SUMM_DIR_SELF)) {
        d->flags |= f->flags;
        d->depth = f->depth;
        d->uid = f->uid;
        d->gid = f->gid;
        d->dev = f->dev;
        d->ino = f->ino;
    }
}

static int summ_merge_dirs(summ_agg *into, const summ_agg *from)
{
    for (size_t i = 0; i < from->dir_count; i++) {
        const summ_dir *f = from->dirs[i];
        summ_dir *d = summ_agg_dir(into, f->path, f->path_len, f->hash, f->depth);
        if (!d)
            return -1;
        summ_dir_add(d, f);
    }
    return 0;
}

/* summ_merge_dirs(), taking from's records instead of copying them: one
 * copy of each directory at any time, however many workers saw it. */
static int summ_absorb_dirs(summ_agg *into, summ_agg *from)
{
    for (size_t i = 0; i < from->dir_count; i++) {
        summ_dir *f = from->dirs[i], *d;
        size_t slot;
        size_t at = summ_lookup(into, &into->dir_index, SUMM_IX_DIR, into->dir_count, f->hash,
                                f->path, f->path_len, &slot);
        if (at != SIZE_MAX) {
            d = into->dirs[at];
            summ_dir_add(d, f);
            free(f);
        } else if (slot == SIZE_MAX || grow_array((void **)&into->dirs, &into->dir_cap,
                                                  into->dir_count + 1, sizeof *into->dirs)) {
            return -1;
        } else {
            into->dirs[into->dir_count++] = f;
            into->dir_index.slots[slot] = (uint32_t)into->dir_count;
        }
        from->dirs[i] = NULL; /* into's now (or freed) */
    }
    return 0;
}

static void summ_owner_add(summ_owner *into, const summ_owner *from)
{
    into->files += from->files;
    into->dirs += from->dirs;
    into->bytes += from->bytes;
    into->allocated += from->allocated;
    if (from->newest_mtime > into->newest_mtime)
        into->newest_mtime = from->newest_mtime;
    if (from->oldest_atime < into->oldest_atime)
        into->oldest_atime = from->oldest_atime;
}

static int summ_merge_owners(summ_agg *into, const summ_agg *from)
{
    for (size_t i = 0; i < from->user_count; i++) {
        summ_owner *o = summ_agg_user(into, from->users[i].id);
        if (!o)
            return -1;
        summ_owner_add(o, &from->users[i]);
    }
    for (size_t i = 0; i < from->group_count; i++) {
        summ_owner *o = summ_agg_group(into, from->groups[i].id);
        if (!o)
            return -1;
        summ_owner_add(o, &from->groups[i]);
    }
    return 0;
}

static int summ_merge_cells(summ_agg *into, const summ_agg *from)
{
    uint32_t *map = from->top_count ? malloc(from->top_count * sizeof *map) : NULL;
    if (from->top_count && !map)
        return -1;
    for (size_t t = 0; t < from->top_count; t++) {
        map[t] = summ_agg_top(into, from->tops[t], from->top_lens[t]);
        if (map[t] == UINT32_MAX) {
            free(map);
            return -1;
        }
    }
    for (size_t i = 0; i < from->cell_count; i++) {
        const summ_cell *f = &from->cells[i];
        summ_cell_key k = f->key;
        k.top = map[k.top];
        summ_cell *c = summ_agg_cell(into, &k);
        if (!c) {
            free(map);
            return -1;
        }
        c->files += f->files;
        c->dirs += f->dirs;
        c->bytes += f->bytes;
        c->allocated += f->allocated;
    }
    free(map);
    return 0;
}

int summ_agg_absorb(summ_agg *into, summ_agg *from)
{
    if (into->dir_count == 0 && into->user_count == 0 && into->group_count == 0 &&
        into->cell_count == 0 && into->top_count == 0 && into->link_count == 0 &&
        into->loose.files == 0 && into->loose.bytes == 0) {
        summ_agg empty = *into; /* nothing in it yet: take from as it is */
        *into = *from;
        *from = empty;
        summ_agg_free(from);
        return 0;
    }
    int rc = summ_absorb_dirs(into, from) != 0 || summ_merge_owners(into, from) != 0 ||
                     summ_merge_cells(into, from) != 0
                 ? -1
                 : 0;
    for (size_t i = 0; rc == 0 && i < from->link_count; i++) {
        if (grow_array((void **)&into->links, &into->link_cap, into->link_count + 1,
                       sizeof *into->links) != 0) {
            rc = -1;
            break;
        }
        into->links[into->link_count++] = from->links[i];
        from->links[i].path = NULL; /* into's now */
    }
    if (rc == 0)
        summ_sums_add(&into->loose, &from->loose);
    summ_agg_free(from); /* what was taken is NULL there */
    return rc;
}

int summ_agg_merge(summ_agg *into, const summ_agg *from)
{
    if (summ_merge_dirs(into, from) != 0 || summ_merge_owners(into, from) != 0 ||
        summ_merge_cells(into, from) != 0)
        return -1;
    for (size_t i = 0; i < from->link_count; i++)
        if (summ_agg_link(into, &from->links[i]) != 0)
            return -1;
    summ_sums_add(&into->loose, &from->loose);
    return 0;
}
