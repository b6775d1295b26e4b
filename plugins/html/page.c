/*
 * page.c -- the html sink's page: assets.h's head, the scan as one JSON
 * document inside <script type="application/json">, assets.h's tail.
 *
 * The JSON is the summary's finalized aggregate (the numbers of
 * summary.json and its tables) cut to what a page can hold: the directory
 * tree keeps, best first by bytes, the largest max_children subdirectories
 * of each directory down to max_depth levels and max_nodes directories in
 * all, so a tree of any size makes a page of a few MB at most.
 */
#define _GNU_SOURCE /* memrchr */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assets.h"
#include "common/lossless.h"
#include "page.h"

/* ---- a buffered writer over the outfile ---- */

typedef struct html_w {
    outfile *o;
    char buf[1 << 16];
    size_t len;
    char *scratch;          /* for escaping one string              */
    size_t scratch_cap;
    int failed;
    char *err;
    size_t errlen;
} html_w;

static void html_flush(html_w *w)
{
    if (!w->failed && w->len && outfile_write(w->o, w->buf, w->len, w->err, w->errlen) != 0)
        w->failed = 1;
    w->len = 0;
}

static void html_put(html_w *w, const char *s, size_t n)
{
    if (w->failed)
        return;
    if (w->len + n > sizeof w->buf) {
        html_flush(w);
        if (n > sizeof w->buf) { /* the constant parts: straight through */
            if (!w->failed && outfile_write(w->o, s, n, w->err, w->errlen) != 0)
                w->failed = 1;
            return;
        }
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

#define HTML_LIT(w, s) html_put(w, s, sizeof(s) - 1)
static void html_raw(html_w *w, const char *s) { html_put(w, s, strlen(s)); }

static void html_printf(html_w *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void html_printf(html_w *w, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        html_put(w, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

size_t html_json_string(char *out, const char *s, size_t len)
{
    /* lossless text first (at most 5 bytes an input byte) past the room
     * of the result (at most 6 an input byte, +2 quotes), then copied to
     * the start with the few \u escapes */
    char *text = out + 6 * len + 2;
    size_t tn = lossless_escape(text, s, len, LOSSLESS_JSON), n = 0;
    out[n++] = '"';
    for (size_t i = 0; i < tn; i++) {
        unsigned char ch = (unsigned char)text[i];
        const char *esc = ch == '<' ? "\\u003c" : ch == '>' ? "\\u003e" : ch == '&' ? "\\u0026"
                                                                                    : NULL;
        if (ch == 0xE2 && i + 2 < tn && (unsigned char)text[i + 1] == 0x80 &&
            ((unsigned char)text[i + 2] == 0xA8 || (unsigned char)text[i + 2] == 0xA9)) {
            esc = (unsigned char)text[i + 2] == 0xA8 ? "\\u2028" : "\\u2029";
            i += 2;
        }
        if (esc) {
            memcpy(out + n, esc, 6);
            n += 6;
        } else {
            out[n++] = (char)ch;
        }
    }
    out[n++] = '"';
    return n;
}

static void html_str(html_w *w, const char *s, size_t len)
{
    if (!s) {
        HTML_LIT(w, "null");
        return;
    }
    size_t need = HTML_JSON_MAX(len);
    if (need > w->scratch_cap) {
        char *p = realloc(w->scratch, need);
        if (!p) {
            w->failed = 1;
            snprintf(w->err, w->errlen, "out of memory writing the page");
            return;
        }
        w->scratch = p;
        w->scratch_cap = need;
    }
    html_put(w, w->scratch, html_json_string(w->scratch, s, len));
}

static void html_cstr(html_w *w, const char *s) { html_str(w, s, s ? strlen(s) : 0); }

/* A count or time; -1 (counts) or a NONE time is null. */
static void html_num(html_w *w, int64_t v, int known)
{
    if (known)
        html_printf(w, "%" PRId64, v);
    else
        HTML_LIT(w, "null");
}

/* ---- the scan's facts, totals, owners, ages, rankings ---- */

static void html_facts(html_w *w, const summ_facts *f, const summ_result *r)
{
    HTML_LIT(w, "\"facts\":{\"pwalk_version\":");
    html_cstr(w, f->version);
    HTML_LIT(w, ",\"hostname\":");
    html_cstr(w, f->hostname ? f->hostname : "");
    HTML_LIT(w, ",\"roots\":[");
    for (size_t i = 0; i < f->root_count; i++) {
        if (i)
            HTML_LIT(w, ",");
        html_cstr(w, f->roots[i]);
    }
    HTML_LIT(w, "],\"threads\":");
    html_num(w, f->threads, f->threads >= 0);
    HTML_LIT(w, ",\"ranks\":");
    html_num(w, f->ranks, f->ranks >= 0);
    HTML_LIT(w, ",\"start_time\":");
    html_num(w, f->start_sec, 1);
    HTML_LIT(w, ",\"end_time\":");
    html_num(w, f->end_sec, 1);
    HTML_LIT(w, ",\"entries\":");
    html_num(w, f->entries, f->entries >= 0);
    HTML_LIT(w, ",\"errors\":");
    html_num(w, f->errors, f->errors >= 0);
    HTML_LIT(w, ",\"filtered\":");
    html_num(w, f->filtered, f->filtered >= 0);
    HTML_LIT(w, ",\"sessions\":"); /* > 1: suspended or killed, and resumed */
    html_num(w, (int64_t)f->session_count, 1);
    html_printf(w,
                "},\n\"totals\":{\"files\":%" PRIu64 ",\"dirs\":%" PRIu64 ",\"bytes\":%" PRIu64
                ",\"allocated\":%" PRIu64 "},\n",
                r->total.files, r->total.dirs, r->total.bytes, r->total.allocated);
}

static void html_owners(html_w *w, const summ_result *r, int group)
{
    size_t n = group ? r->group_count : r->user_count;
    const summ_owner *o = group ? r->groups : r->users;
    char *const *names = group ? r->group_names : r->user_names;
    html_raw(w, group ? "\"groups\":[" : "\"users\":[");
    for (size_t i = 0; i < n; i++) {
        html_printf(w, "%s\n[%" PRIu32 ",", i ? "," : "", o[i].id);
        html_cstr(w, names[i]);
        html_printf(w, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64, o[i].files, o[i].dirs,
                    o[i].bytes, o[i].allocated);
        if (!group) {
            HTML_LIT(w, ",");
            html_num(w, o[i].newest_mtime, o[i].newest_mtime != SUMM_TIME_NONE_NEWEST);
            HTML_LIT(w, ",");
            html_num(w, o[i].oldest_atime, o[i].oldest_atime != SUMM_TIME_NONE_OLDEST);
        }
        HTML_LIT(w, "]");
    }
    HTML_LIT(w, "],\n");
}

/* The index of bucket lower bound age among 0, age_days... */
static size_t html_bucket_index(const summ_conf *c, int32_t age)
{
    for (size_t i = 0; i < c->age_count; i++)
        if (c->age_days[i] == age)
            return i + 1;
    return 0;
}

/* Per mtime and per atime bucket: [age, files, dirs, bytes] from the cube. */
static int html_ages(html_w *w, const summ_result *r, const summ_conf *c)
{
    size_t nb = c->age_count + 1;
    uint64_t *sums = calloc(2 * nb * 3, sizeof *sums);
    if (!sums)
        return -1;
    for (size_t i = 0; i < r->cell_count; i++) {
        const summ_cell *cell = r->cells[i];
        size_t b[2] = {html_bucket_index(c, cell->key.mtime_age),
                       html_bucket_index(c, cell->key.atime_age)};
        for (int k = 0; k < 2; k++) {
            uint64_t *s = sums + (k * nb + b[k]) * 3;
            s[0] += cell->files;
            s[1] += cell->dirs;
            s[2] += cell->bytes;
        }
    }
    HTML_LIT(w, "\"age_days\":[");
    for (size_t i = 0; i < c->age_count; i++)
        html_printf(w, "%s%" PRId32, i ? "," : "", c->age_days[i]);
    for (int k = 0; k < 2; k++) {
        html_raw(w, k ? "]," : "],\n\"ages\":{");
        html_raw(w, k ? "\"atime\":[" : "\"mtime\":[");
        for (size_t i = 0; i < nb; i++) {
            const uint64_t *s = sums + (k * nb + i) * 3;
            html_printf(w, "%s[%" PRId32 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "]", i ? "," : "",
                        i ? c->age_days[i - 1] : 0, s[0], s[1], s[2]);
        }
    }
    HTML_LIT(w, "]},\n");
    free(sums);
    return 0;
}

static void html_top(html_w *w, const summ_result *r)
{
    static const char *const by[3] = {"bytes", "files", "stale_bytes"};
    HTML_LIT(w, "\"top\":{");
    for (int k = 0; k < 3; k++) {
        html_printf(w, "%s\"%s\":[", k ? ",\n" : "", by[k]);
        for (size_t j = 0; j < r->rank_count[k]; j++) {
            size_t i = r->rank[k][j];
            const summ_sums *t = &SUMM_TOT(r, i);
            html_raw(w, j ? ",\n[" : "[");
            html_str(w, r->dirs[i]->path, r->dirs[i]->path_len);
            html_printf(w, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "]",
                        t->files, t->dirs, t->bytes, t->allocated, t->stale_bytes);
        }
        HTML_LIT(w, "]");
    }
    HTML_LIT(w, "},\n");
}

/* ---- the directory tree, cut to the limits ---- */

typedef struct html_tree {
    const summ_result *r;
    const html_limits *lim;
    size_t n;                   /* r->dir_count                         */
    size_t *kid_start;          /* n + 1 offsets into kids              */
    size_t *kids;               /* each directory's subdirectories,
                                   largest first (bytes, then path)     */
    size_t *tops;               /* directories without a parent: roots  */
    size_t top_count;
    uint32_t *level;            /* levels below its top                 */
    unsigned char *shown;       /* chosen for the page                  */
    size_t shown_count;
} html_tree;

/* memcmp order, a shorter prefix first (finalize.c's order of r->dirs). */
static int html_path_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : alen < blen ? -1 : alen > blen;
}

/* The parent of r->dirs[i] in r->dirs, or SIZE_MAX (a root, or a
 * directory whose parent was not reached). */
static size_t html_parent(const summ_result *r, size_t i)
{
    const summ_dir *d = r->dirs[i];
    if (d->depth < 0 || (d->flags & SUMM_DIR_ROOT))
        return SIZE_MAX;
    const char *slash = memrchr(d->path, '/', d->path_len);
    if (!slash)
        return SIZE_MAX;
    size_t plen = slash == d->path ? 1 : (size_t)(slash - d->path), lo = 0, hi = i;
    while (lo < hi) { /* a parent sorts before its children */
        size_t mid = lo + (hi - lo) / 2;
        int c = html_path_cmp(r->dirs[mid]->path, r->dirs[mid]->path_len, d->path, plen);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return SIZE_MAX;
}

/* a before b: more bytes, then the earlier path. */
static int html_before(const summ_result *r, size_t a, size_t b)
{
    uint64_t x = SUMM_TOT(r, a).bytes, y = SUMM_TOT(r, b).bytes;
    return x != y ? x > y : a < b;
}

static int html_kid_cmp(const void *x, const void *y, void *arg)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    return a == b ? 0 : html_before(arg, a, b) ? -1 : 1;
}

/* kids (CSR) and tops from each directory's parent. */
static int html_tree_links(html_tree *t)
{
    size_t n = t->n, *parent = malloc((n ? n : 1) * sizeof *parent);
    size_t *pos = malloc((n ? n : 1) * sizeof *pos);
    t->kid_start = calloc(n + 1, sizeof *t->kid_start);
    t->kids = malloc((n ? n : 1) * sizeof *t->kids);
    t->tops = malloc((n ? n : 1) * sizeof *t->tops);
    int rc = -1;
    if (!parent || !pos || !t->kid_start || !t->kids || !t->tops)
        goto out;
    for (size_t i = 0; i < n; i++) {
        parent[i] = html_parent(t->r, i);
        if (parent[i] == SIZE_MAX)
            t->tops[t->top_count++] = i;
        else
            t->kid_start[parent[i] + 1]++;
    }
    for (size_t i = 0; i < n; i++) {
        t->kid_start[i + 1] += t->kid_start[i];
        pos[i] = t->kid_start[i];
    }
    for (size_t i = 0; i < n; i++)
        if (parent[i] != SIZE_MAX)
            t->kids[pos[parent[i]]++] = i;
    for (size_t p = 0; p < n; p++)
        qsort_r(t->kids + t->kid_start[p], t->kid_start[p + 1] - t->kid_start[p],
                sizeof *t->kids, html_kid_cmp, (void *)t->r);
    qsort_r(t->tops, t->top_count, sizeof *t->tops, html_kid_cmp, (void *)t->r);
    rc = 0;
out:
    free(parent);
    free(pos);
    return rc;
}

/* A max-heap of directory indexes, html_before() first. */
static void html_heap_push(const summ_result *r, size_t *h, size_t *n, size_t v)
{
    size_t j = (*n)++;
    while (j > 0 && html_before(r, v, h[(j - 1) / 2])) {
        h[j] = h[(j - 1) / 2];
        j = (j - 1) / 2;
    }
    h[j] = v;
}

static size_t html_heap_pop(const summ_result *r, size_t *h, size_t *n)
{
    size_t top = h[0], v = h[--*n], j = 0;
    for (;;) {
        size_t c = 2 * j + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && html_before(r, h[c + 1], h[c]))
            c++;
        if (!html_before(r, h[c], v))
            break;
        h[j] = h[c];
        j = c;
    }
    if (*n)
        h[j] = v;
    return top;
}

/* Best first: the largest directory not yet shown whose parent is shown
 * (and that is among its parent's largest max_children), until max_nodes.
 * Siblings are taken largest first, so the shown ones are a prefix of each
 * directory's kids. */
static int html_tree_select(html_tree *t)
{
    size_t n = t->n, hn = 0;
    size_t *heap = malloc((n ? n : 1) * sizeof *heap);
    t->level = calloc(n ? n : 1, sizeof *t->level);
    t->shown = calloc(n ? n : 1, 1);
    if (!heap || !t->level || !t->shown) {
        free(heap);
        return -1;
    }
    for (size_t k = 0; k < t->top_count; k++)
        html_heap_push(t->r, heap, &hn, t->tops[k]);
    while (hn && t->shown_count < (size_t)t->lim->max_nodes) {
        size_t i = html_heap_pop(t->r, heap, &hn);
        t->shown[i] = 1;
        t->shown_count++;
        if (t->level[i] >= t->lim->max_depth)
            continue;
        size_t end = t->kid_start[i + 1], k = t->kid_start[i];
        for (int64_t m = 0; k < end && m < t->lim->max_children; k++, m++) {
            t->level[t->kids[k]] = t->level[i] + 1;
            html_heap_push(t->r, heap, &hn, t->kids[k]);
        }
    }
    free(heap);
    return 0;
}

/* One shown directory and its shown subdirectories:
 * {"n": name, "b": bytes, "f": files, "d": dirs, "o": subdirectories
 * left out, "c": [...]}; a top's name is its whole path. */
static void html_node(html_w *w, const html_tree *t, size_t i)
{
    const summ_dir *d = t->r->dirs[i];
    const summ_sums *s = &SUMM_TOT(t->r, i);
    const char *name = d->path;
    size_t len = d->path_len;
    const char *slash = memrchr(d->path, '/', d->path_len);
    if (t->level[i] > 0 && slash) {
        name = slash + 1;
        len = d->path_len - (size_t)(name - d->path);
    }
    HTML_LIT(w, "{\"n\":");
    html_str(w, name, len);
    size_t k = t->kid_start[i], end = t->kid_start[i + 1], shown = 0;
    while (k + shown < end && t->shown[t->kids[k + shown]])
        shown++;
    html_printf(w, ",\"b\":%" PRIu64 ",\"f\":%" PRIu64 ",\"d\":%" PRIu64 ",\"o\":%zu", s->bytes,
                s->files, s->dirs, end - k - shown);
    if (shown) {
        HTML_LIT(w, ",\"c\":[\n");
        for (size_t j = 0; j < shown; j++) {
            if (j)
                HTML_LIT(w, ",\n");
            html_node(w, t, t->kids[k + j]);
        }
        HTML_LIT(w, "]");
    }
    HTML_LIT(w, "}");
}

/* "tree": the limits, the counts and the root: the one top directory, or
 * a virtual node ("v": 1) over several. */
static void html_tree_json(html_w *w, const html_tree *t)
{
    const html_limits *l = t->lim;
    size_t shown_tops = 0;
    summ_sums sum;
    summ_sums_init(&sum);
    for (size_t k = 0; k < t->top_count; k++)
        if (t->shown[t->tops[k]]) {
            shown_tops++;
            summ_sums_add(&sum, &SUMM_TOT(t->r, t->tops[k]));
        }
    html_printf(w,
                "\"tree\":{\"max_children\":%" PRId64 ",\"max_depth\":%" PRId64
                ",\"max_nodes\":%" PRId64 ",\"dirs\":%zu,\"shown\":%zu,\"root\":",
                l->max_children, l->max_depth, l->max_nodes, t->n, t->shown_count);
    if (shown_tops == 0) {
        HTML_LIT(w, "null}");
        return;
    }
    if (shown_tops == 1) {
        html_node(w, t, t->tops[0]);
        HTML_LIT(w, "}");
        return;
    }
    html_printf(w, "{\"n\":\"\",\"v\":1,\"b\":%" PRIu64 ",\"f\":%" PRIu64 ",\"d\":%" PRIu64
                   ",\"o\":%zu,\"c\":[\n",
                sum.bytes, sum.files, sum.dirs + shown_tops, t->top_count - shown_tops);
    for (size_t k = 0, j = 0; k < t->top_count; k++)
        if (t->shown[t->tops[k]]) {
            if (j++)
                HTML_LIT(w, ",\n");
            html_node(w, t, t->tops[k]);
        }
    HTML_LIT(w, "]}}");
}

static void html_tree_free(html_tree *t)
{
    free(t->kid_start);
    free(t->kids);
    free(t->tops);
    free(t->level);
    free(t->shown);
}

static int html_data(html_w *w, const summ_result *r, const summ_conf *c, const summ_facts *f,
                     const html_limits *lim, const char *title)
{
    html_tree t = {r, lim, r->dir_count, NULL, NULL, NULL, 0, NULL, NULL, 0};
    int rc = -1;
    if (html_tree_links(&t) != 0 || html_tree_select(&t) != 0)
        goto out;
    HTML_LIT(w, "{\"format\":\"pwalk-html\",\"version\":1,\"title\":");
    html_cstr(w, title);
    HTML_LIT(w, ",\n");
    html_facts(w, f, r);
    html_owners(w, r, 0);
    html_owners(w, r, 1);
    if (html_ages(w, r, c) != 0)
        goto out;
    html_top(w, r);
    html_tree_json(w, &t);
    HTML_LIT(w, "}");
    rc = 0;
out:
    html_tree_free(&t);
    return rc;
}

int html_write_page(outfile *o, const summ_result *r, const summ_conf *c, const summ_facts *f,
                    const html_limits *lim, const char *title, char *err, size_t errlen)
{
    html_w *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory writing '%s'", o->final_path);
        return -1;
    }
    w->o = o;
    w->err = err;
    w->errlen = errlen;
    html_put(w, html_page_head, HTML_PAGE_HEAD_LEN);
    if (html_data(w, r, c, f, lim, title) != 0 && !w->failed) {
        w->failed = 1;
        snprintf(err, errlen, "out of memory writing '%s'", o->final_path);
    }
    html_put(w, html_page_tail, HTML_PAGE_TAIL_LEN);
    html_flush(w);
    int rc = w->failed ? -1 : 0;
    free(w->scratch);
    free(w);
    return rc;
}
