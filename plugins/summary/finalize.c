/*
 * finalize.c -- the merged aggregate into the tables' rows: hard links
 * attributed once, recursive totals, every table sorted so that the same
 * tree gives the same bytes whatever the threads or ranks did, owner names.
 */
#define _GNU_SOURCE /* qsort_r */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "summ.h"

/* memcmp order, a shorter prefix first: the order of every path column. */
static int summ_path_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static int summ_link_cmp(const void *x, const void *y)
{
    const summ_link *a = x, *b = y;
    if (a->dev != b->dev)
        return a->dev < b->dev ? -1 : 1;
    if (a->ino != b->ino)
        return a->ino < b->ino ? -1 : 1;
    return summ_path_cmp(a->path, a->path_len, b->path, b->path_len);
}

/* One hard-linked inode at its first link: counted as a plain file of
 * that link's directory. */
static int summ_link_attribute(summ_agg *a, const summ_conf *c, const summ_link *l)
{
    summ_item it = {l->uid, l->gid, 0, l->size, l->blocks, l->atime, l->mtime, l->ctime};
    size_t plen = summ_parent_len(l->path, l->name_offset);
    summ_dir *d = summ_agg_dir(a, l->path, plen, summ_hash(l->path, plen), l->depth - 1);
    const char *top;
    size_t top_len;
    summ_top_of(l->path, l->path_len, l->depth, 0, &top, &top_len);
    uint32_t t = summ_agg_top(a, top, top_len);
    if (!d || t == UINT32_MAX)
        return -1;
    summ_sums_item(&d->direct, c, &it);
    return summ_account(a, c, &it, t, NULL);
}

static int summ_links(summ_agg *a, const summ_conf *c)
{
    if (a->link_count == 0)
        return 0;
    qsort(a->links, a->link_count, sizeof *a->links, summ_link_cmp);
    for (size_t i = 0; i < a->link_count; i++) {
        const summ_link *l = &a->links[i];
        if (i && l->dev == l[-1].dev && l->ino == l[-1].ino)
            continue; /* a later link: nothing anywhere */
        if (summ_link_attribute(a, c, l) != 0)
            return -1;
    }
    /* attributed: the candidates are spent (a second finalize adds nothing) */
    for (size_t i = 0; i < a->link_count; i++)
        free(a->links[i].path);
    a->link_count = 0;
    return 0;
}

static int summ_dir_cmp(const void *x, const void *y)
{
    const summ_dir *a = *(summ_dir *const *)x, *b = *(summ_dir *const *)y;
    return summ_path_cmp(a->path, a->path_len, b->path, b->path_len);
}

/* The index of the directory at path[0..len) in the sorted array, or
 * SIZE_MAX. */
static size_t summ_dir_find(summ_dir **dirs, size_t n, const char *path, size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = summ_path_cmp(dirs[mid]->path, dirs[mid]->path_len, path, len);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return SIZE_MAX;
}

/* Recursive totals: every descendant of a directory sorts after it (its
 * path is a prefix of theirs), so walking the sorted array backwards adds
 * each directory into its parent only once its whole subtree is in it. */
static void summ_totals(summ_result *r)
{
    for (size_t i = r->dir_count; i-- > 0;) {
        const summ_dir *d = r->dirs[i];
        if (d->depth < 0 || (d->flags & SUMM_DIR_ROOT))
            continue;
        const char *slash = memrchr(d->path, '/', d->path_len);
        if (!slash)
            continue;
        size_t plen = slash == d->path ? 1 : (size_t)(slash - d->path);
        size_t p = summ_dir_find(r->dirs, i, d->path, plen);
        if (p == SIZE_MAX)
            continue;
        summ_sums_add(&SUMM_TOT(r, p), &SUMM_TOT(r, i));
        SUMM_TOT(r, p).dirs++; /* d itself */
    }
}

static int summ_owner_cmp(const void *x, const void *y)
{
    const summ_owner *a = x, *b = y;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int summ_cmp_i32(int64_t a, int64_t b) { return a < b ? -1 : a > b; }

static int summ_cell_cmp(const void *x, const void *y, void *arg)
{
    const summ_agg *a = arg;
    const summ_cell_key *p = &(*(const summ_cell *const *)x)->key;
    const summ_cell_key *q = &(*(const summ_cell *const *)y)->key;
    int c = summ_cmp_i32(p->uid, q->uid);
    if (!c)
        c = summ_cmp_i32(p->gid, q->gid);
    if (!c && p->top != q->top)
        c = summ_path_cmp(a->tops[p->top], a->top_lens[p->top], a->tops[q->top],
                          a->top_lens[q->top]);
    if (!c)
        c = summ_cmp_i32(p->mtime_age, q->mtime_age);
    if (!c)
        c = summ_cmp_i32(p->atime_age, q->atime_age);
    if (!c)
        c = summ_cmp_i32(p->ctime_age, q->ctime_age);
    return c ? c : summ_cmp_i32(p->size_class, q->size_class);
}

/* The name of uid (group: gid), resolved once: NSS may be LDAP, slow. *name
 * NULL when there is no such account.  0, or -1 when out of memory. */
static int summ_name(uint32_t id, int group, char **name)
{
    long hint = sysconf(group ? _SC_GETGR_R_SIZE_MAX : _SC_GETPW_R_SIZE_MAX);
    size_t cap = hint > 0 ? (size_t)hint : 1024;
    *name = NULL;
    for (;;) {
        char *buf = malloc(cap);
        if (!buf)
            return -1;
        struct passwd pw, *pr = NULL;
        struct group gr, *gres = NULL;
        int rc = group ? getgrgid_r((gid_t)id, &gr, buf, cap, &gres)
                       : getpwuid_r((uid_t)id, &pw, buf, cap, &pr);
        const char *found = group ? (gres ? gres->gr_name : NULL) : (pr ? pr->pw_name : NULL);
        if (rc == 0 && found)
            *name = strdup(found);
        free(buf);
        if (rc == ERANGE && cap < (1u << 24)) {
            cap *= 2;
            continue;
        }
        return rc == 0 && found && !*name ? -1 : 0;
    }
}

static int summ_owners(summ_owner **out, char ***names, size_t *count, const summ_owner *in,
                       size_t n, int group)
{
    *count = n;
    *out = malloc((n ? n : 1) * sizeof **out);
    *names = calloc(n ? n : 1, sizeof **names);
    if (!*out || !*names)
        return -1;
    if (n)
        memcpy(*out, in, n * sizeof *in);
    qsort(*out, n, sizeof **out, summ_owner_cmp);
    for (size_t i = 0; i < n; i++)
        if (summ_name((*out)[i].id, group, &(*names)[i]) != 0)
            return -1;
    return 0;
}

typedef struct summ_rank_ctx {
    const summ_result *r;
    int by; /* 0 bytes, 1 files, 2 stale_bytes */
} summ_rank_ctx;

static uint64_t summ_rank_value(const summ_result *r, int by, size_t i)
{
    const summ_sums *t = &SUMM_TOT(r, i);
    return by == 0 ? t->bytes : by == 1 ? t->files : t->stale_bytes;
}

/* Larger value first, ties by path (the dirs array is in path order). */
static int summ_rank_cmp(const void *x, const void *y, void *arg)
{
    const summ_rank_ctx *k = arg;
    size_t i = *(const size_t *)x, j = *(const size_t *)y;
    uint64_t a = summ_rank_value(k->r, k->by, i), b = summ_rank_value(k->r, k->by, j);
    if (a != b)
        return a > b ? -1 : 1;
    return i < j ? -1 : i > j;
}

static void summ_heap_swap(size_t *h, size_t a, size_t b)
{
    size_t t = h[a];
    h[a] = h[b];
    h[b] = t;
}

/* heap[j] moved down to its place: every parent ranks after (is worse
 * than) its children, so heap[0] is the worst one kept. */
static void summ_heap_down(size_t *heap, size_t n, size_t j, summ_rank_ctx *k)
{
    for (;;) {
        size_t worst = j, l = 2 * j + 1, r = l + 1;
        if (l < n && summ_rank_cmp(&heap[l], &heap[worst], k) > 0)
            worst = l;
        if (r < n && summ_rank_cmp(&heap[r], &heap[worst], k) > 0)
            worst = r;
        if (worst == j)
            return;
        summ_heap_swap(heap, j, worst);
        j = worst;
    }
}

/* The `keep` best directories with a non-zero value, best first: a heap
 * of them while scanning, so the cost is n log keep, not n log n. */
static size_t summ_rank_best(size_t *heap, size_t keep, summ_rank_ctx *k)
{
    size_t n = 0;
    for (size_t i = 0; i < k->r->dir_count; i++) {
        if (!summ_rank_value(k->r, k->by, i))
            continue;
        if (n < keep) {
            size_t j = n++;
            heap[j] = i;
            while (j > 0 && summ_rank_cmp(&heap[(j - 1) / 2], &heap[j], k) < 0) {
                summ_heap_swap(heap, j, (j - 1) / 2);
                j = (j - 1) / 2;
            }
        } else if (summ_rank_cmp(&i, &heap[0], k) < 0) {
            heap[0] = i;
            summ_heap_down(heap, n, 0, k);
        }
    }
    qsort_r(heap, n, sizeof *heap, summ_rank_cmp, k);
    return n;
}

/* top.csv's rankings (and the digest's 10 largest). */
static int summ_rankings(summ_result *r, int64_t top_n)
{
    size_t keep = top_n > 10 ? (size_t)top_n : 10;
    if (keep > r->dir_count)
        keep = r->dir_count;
    for (int by = 0; by < 3; by++) {
        size_t *idx = malloc((keep ? keep : 1) * sizeof *idx);
        if (!idx)
            return -1;
        summ_rank_ctx k = {r, by};
        r->rank[by] = idx;
        r->rank_count[by] = summ_rank_best(idx, keep, &k);
    }
    return 0;
}

static int summ_cells_sorted(summ_result *r, summ_agg *a)
{
    r->cell_count = a->cell_count;
    r->cells = malloc((a->cell_count ? a->cell_count : 1) * sizeof *r->cells);
    if (!r->cells)
        return -1;
    for (size_t i = 0; i < a->cell_count; i++)
        r->cells[i] = &a->cells[i];
    qsort_r(r->cells, r->cell_count, sizeof *r->cells, summ_cell_cmp, a);
    return 0;
}

int summ_finalize(summ_agg *a, const summ_conf *c, summ_result *r)
{
    memset(r, 0, sizeof *r);
    summ_sums_init(&r->total);
    if (summ_links(a, c) != 0)
        return -1;
    r->dir_count = a->dir_count;
    r->dirs = malloc((a->dir_count ? a->dir_count : 1) * sizeof *r->dirs);
    if (!r->dirs)
        return -1;
    if (a->dir_count)
        memcpy(r->dirs, a->dirs, a->dir_count * sizeof *a->dirs);
    qsort(r->dirs, r->dir_count, sizeof *r->dirs, summ_dir_cmp);
    summ_totals(r);
    if (summ_owners(&r->users, &r->user_names, &r->user_count, a->users, a->user_count, 0) ||
        summ_owners(&r->groups, &r->group_names, &r->group_count, a->groups, a->group_count,
                    1) ||
        summ_cells_sorted(r, a) != 0 || summ_rankings(r, c->top_n) != 0)
        return -1;
    for (size_t i = 0; i < r->user_count; i++) {
        r->total.files += r->users[i].files;
        r->total.dirs += r->users[i].dirs;
        r->total.bytes += r->users[i].bytes;
        r->total.allocated += r->users[i].allocated;
    }
    return 0;
}

void summ_result_free(summ_result *r)
{
    for (size_t i = 0; r->user_names && i < r->user_count; i++)
        free(r->user_names[i]);
    for (size_t i = 0; r->group_names && i < r->group_count; i++)
        free(r->group_names[i]);
    free(r->user_names);
    free(r->group_names);
    free(r->users);
    free(r->groups);
    free(r->dirs);
    free(r->cells);
    for (int k = 0; k < 3; k++)
        free(r->rank[k]);
    memset(r, 0, sizeof *r);
}
