/*
 * render.c -- the summary's finalized aggregate as a Prometheus text
 * exposition (format 0.0.4; plugins/prometheus/README.md lists the
 * families).  Every family is a gauge with HELP and TYPE lines; help texts
 * never vary, so that node_exporter can merge the files of several scans
 * (told apart by their constant labels) into one family.
 *
 * Cardinality: per kind (users, groups, top-level directories) the top_k
 * largest by bytes keep their own series, the rest are summed into ONE
 * series labelled `other` plus rest="true" (a real top-level directory
 * named "other" then stays a different series).
 */
#define _GNU_SOURCE /* qsort_r */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/lossless.h"
#include "prom.h"

/* ---- options ---------------------------------------------------------------- */

static int prom_name_char(char ch, int first, int colon)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || (colon && ch == ':'))
        return 1;
    return !first && ch >= '0' && ch <= '9';
}

int prom_check_prefix(const char *prefix, char *err, size_t errlen)
{
    for (size_t i = 0; prefix[i]; i++)
        if (!prom_name_char(prefix[i], i == 0, 1)) {
            snprintf(err, errlen,
                     "prefix: '%s' is not the start of a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)",
                     prefix);
            return -1;
        }
    return 0;
}

/* Label names the sink sets itself. */
static const char *const prom_reserved[] = {"uid",  "user", "gid",           "group",
                                             "top", "rest", "mtime_age_days", "version"};

int prom_parse_label(prom_conf *c, const char *item, char *err, size_t errlen)
{
    const char *eq = strchr(item, '=');
    size_t n = eq ? (size_t)(eq - item) : 0;
    for (size_t i = 0; i < n; i++)
        if (!prom_name_char(item[i], i == 0, 0))
            n = 0;
    if (n == 0 || (n >= 2 && item[0] == '_' && item[1] == '_')) {
        snprintf(err, errlen,
                 "labels: '%s' is not NAME=VALUE with NAME a label name ([a-zA-Z_][a-zA-Z0-9_]*, "
                 "not starting with __)",
                 item);
        return -1;
    }
    for (size_t i = 0; i < sizeof prom_reserved / sizeof prom_reserved[0]; i++)
        if (strlen(prom_reserved[i]) == n && memcmp(prom_reserved[i], item, n) == 0) {
            snprintf(err, errlen, "labels: '%s': the sink sets the label '%s' itself", item,
                     prom_reserved[i]);
            return -1;
        }
    for (size_t i = 0; i < c->label_count; i++)
        if (strlen(c->label_names[i]) == n && memcmp(c->label_names[i], item, n) == 0) {
            snprintf(err, errlen, "labels: '%s': label '%.*s' given twice", item, (int)n, item);
            return -1;
        }
    if (c->label_count == PROM_LABELS_MAX) {
        snprintf(err, errlen, "labels: '%s': at most %d labels", item, PROM_LABELS_MAX);
        return -1;
    }
    char *name = strndup(item, n);
    if (!name) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->label_names[c->label_count] = name;
    c->label_values[c->label_count++] = eq + 1;
    return 0;
}

/* ---- one sample line -------------------------------------------------------- */

void prom_label_value(FILE *out, const char *s, size_t len, int lossless)
{
    char stack[1024], *buf = stack;
    if (lossless) {
        size_t need = LOSSLESS_ESCAPED_MAX(len);
        if (need > sizeof stack && !(buf = malloc(need)))
            buf = stack, len = lossless_piece(s, len, sizeof stack / 5); /* truncated, valid */
        len = lossless_escape(buf, s, len, LOSSLESS_BARE);
        s = buf;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\' || s[i] == '"')
            fputc('\\', out), fputc(s[i], out);
        else if (s[i] == '\n')
            fputs("\\n", out);
        else
            fputc(s[i], out);
    }
    if (buf != stack)
        free(buf);
}

typedef struct prom_line {
    FILE *o;
    int n; /* labels written */
} prom_line;

static void prom_label(prom_line *l, const char *name, const char *v, size_t len, int lossless)
{
    fputc(l->n++ ? ',' : '{', l->o);
    fputs(name, l->o);
    fputs("=\"", l->o);
    prom_label_value(l->o, v, len, lossless);
    fputc('"', l->o);
}

/* The metric name and the constant labels. */
static void prom_begin(prom_line *l, FILE *o, const prom_conf *pc, const char *name)
{
    l->o = o;
    l->n = 0;
    fputs(pc->prefix, o);
    fputs(name, o);
    for (size_t i = 0; i < pc->label_count; i++)
        prom_label(l, pc->label_names[i], pc->label_values[i], strlen(pc->label_values[i]), 0);
}

static void prom_end(prom_line *l, const char *value)
{
    fprintf(l->o, "%s %s\n", l->n ? "}" : "", value);
}

static void prom_end_u64(prom_line *l, uint64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%" PRIu64, v);
    prom_end(l, num);
}

static void prom_head(FILE *o, const prom_conf *pc, const char *name, const char *help)
{
    fprintf(o, "# HELP %s%s %s\n# TYPE %s%s gauge\n", pc->prefix, name, help, pc->prefix, name);
}

/* ---- users, groups, top-level directories ------------------------------------ */

enum { PROM_USER, PROM_GROUP, PROM_TOP, PROM_KINDS };

/* One user, group or top-level directory (or the rest of them). */
typedef struct prom_ent {
    size_t src;                 /* index in r->users / r->groups / a->tops */
    uint64_t sums[4];           /* files, dirs, bytes, allocated           */
    uint64_t *age;              /* bytes per mtime bucket                  */
} prom_ent;

typedef struct prom_kind {
    int kind;
    const summ_result *r;
    const summ_agg *a;
    size_t count;
    prom_ent *ents;             /* sorted: bytes desc, then by key         */
    size_t kept;                /* ents[0..kept) have their own series     */
    prom_ent rest;              /* the others summed (when kept < count)   */
} prom_kind;

enum { PROM_FILES, PROM_DIRS, PROM_BYTES, PROM_ALLOC };

static int prom_ent_cmp(const void *x, const void *y, void *ctx)
{
    const prom_ent *p = x, *q = y;
    const prom_kind *k = ctx;
    if (p->sums[PROM_BYTES] != q->sums[PROM_BYTES])
        return p->sums[PROM_BYTES] > q->sums[PROM_BYTES] ? -1 : 1;
    if (k->kind != PROM_TOP) /* users/groups are sorted by id */
        return p->src < q->src ? -1 : p->src > q->src;
    uint32_t pl = k->a->top_lens[p->src], ql = k->a->top_lens[q->src];
    int c = memcmp(k->a->tops[p->src], k->a->tops[q->src], pl < ql ? pl : ql);
    return c ? c : (pl < ql ? -1 : pl > ql);
}

/* The index of id in owners (sorted by id); count if absent. */
static size_t prom_owner_at(const summ_owner *owners, size_t count, uint32_t id)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (owners[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < count && owners[lo].id == id ? lo : count;
}

/* The bucket's index in {0} U age_days. */
static size_t prom_bucket_index(const summ_conf *c, int32_t age)
{
    size_t b = 0;
    while (b < c->age_count && c->age_days[b] <= age)
        b++;
    return b;
}

/* The entity of cell x in k (count when none). */
static size_t prom_cell_ent(const prom_kind *k, const summ_cell *x)
{
    if (k->kind == PROM_USER)
        return prom_owner_at(k->r->users, k->r->user_count, x->key.uid);
    if (k->kind == PROM_GROUP)
        return prom_owner_at(k->r->groups, k->r->group_count, x->key.gid);
    return x->key.top < k->count ? x->key.top : k->count;
}

/* Fill k's entities from the owners / cells, rank them, sum the rest. */
static int prom_kind_build(prom_kind *k, const summ_conf *c, uint64_t *ages, int64_t top_k)
{
    size_t nb = c->age_count + 1;
    for (size_t i = 0; i < k->count; i++) {
        prom_ent *e = &k->ents[i];
        e->src = i;
        e->age = ages + i * nb;
        if (k->kind != PROM_TOP) {
            const summ_owner *o = k->kind == PROM_USER ? &k->r->users[i] : &k->r->groups[i];
            uint64_t s[4] = {o->files, o->dirs, o->bytes, o->allocated};
            memcpy(e->sums, s, sizeof s);
        }
    }
    for (size_t i = 0; i < k->r->cell_count; i++) {
        const summ_cell *x = k->r->cells[i];
        size_t at = prom_cell_ent(k, x);
        if (at == k->count)
            continue;
        prom_ent *e = &k->ents[at];
        e->age[prom_bucket_index(c, x->key.mtime_age)] += x->bytes;
        if (k->kind == PROM_TOP) {
            e->sums[PROM_FILES] += x->files;
            e->sums[PROM_DIRS] += x->dirs;
            e->sums[PROM_BYTES] += x->bytes;
            e->sums[PROM_ALLOC] += x->allocated;
        }
    }
    qsort_r(k->ents, k->count, sizeof *k->ents, prom_ent_cmp, k);
    k->kept = k->count < (size_t)top_k ? k->count : (size_t)top_k;
    k->rest.age = ages + k->count * nb;
    for (size_t i = k->kept; i < k->count; i++) {
        for (int f = 0; f < 4; f++)
            k->rest.sums[f] += k->ents[i].sums[f];
        for (size_t b = 0; b < nb; b++)
            k->rest.age[b] += k->ents[i].age[b];
    }
    return 0;
}

static const char *const prom_kind_names[PROM_KINDS] = {"user", "group", "topdir"};
static const char *const prom_kind_what[PROM_KINDS] = {
    "owned by the user (label user: its name, empty for a uid without an account)",
    "owned by the group (label group: its name, empty for a gid without one)",
    "in the top-level directory (label top: the name below a root; . for the roots "
    "themselves and the files directly in them)"};

/* The labels naming entity e of k (rest: the "other" series). */
static void prom_ent_labels(prom_line *l, const prom_kind *k, const prom_ent *e)
{
    char id[16];
    if (e == &k->rest) {
        if (k->kind == PROM_TOP) {
            prom_label(l, "top", "other", 5, 0);
        } else {
            prom_label(l, k->kind == PROM_USER ? "uid" : "gid", "other", 5, 0);
            prom_label(l, k->kind == PROM_USER ? "user" : "group", "other", 5, 0);
        }
        prom_label(l, "rest", "true", 4, 0);
        return;
    }
    if (k->kind == PROM_TOP) {
        prom_label(l, "top", k->a->tops[e->src], k->a->top_lens[e->src], 1);
        return;
    }
    int user = k->kind == PROM_USER;
    const summ_owner *o = user ? &k->r->users[e->src] : &k->r->groups[e->src];
    const char *name = (user ? k->r->user_names : k->r->group_names)[e->src];
    snprintf(id, sizeof id, "%" PRIu32, o->id);
    prom_label(l, user ? "uid" : "gid", id, strlen(id), 0);
    prom_label(l, user ? "user" : "group", name ? name : "", name ? strlen(name) : 0, 1);
}

/* Each entity of k (kept ones, then the rest), one sample of sums[field]. */
static void prom_kind_family(FILE *o, const prom_conf *pc, const prom_kind *k, int field,
                             const char *suffix, const char *what)
{
    char name[64], help[512];
    snprintf(name, sizeof name, "%s_%s", prom_kind_names[k->kind], suffix);
    snprintf(help, sizeof help, "%s %s; past the top K by bytes summed in one series "
             "labelled other with rest=\"true\".", what, prom_kind_what[k->kind]);
    prom_head(o, pc, name, help);
    for (size_t i = 0; i <= k->kept; i++) {
        const prom_ent *e = i < k->kept ? &k->ents[i] : &k->rest;
        if (i == k->kept && k->kept == k->count)
            break;
        prom_line l;
        prom_begin(&l, o, pc, name);
        prom_ent_labels(&l, k, e);
        prom_end_u64(&l, e->sums[field]);
    }
}

static void prom_age_label(prom_line *l, const summ_conf *c, size_t b)
{
    char days[16];
    snprintf(days, sizeof days, "%d", b ? (int)c->age_days[b - 1] : 0);
    prom_label(l, "mtime_age_days", days, strlen(days), 0);
}

#define PROM_AGE_HELP                                                                           \
    "Bytes (sum of st_size) whose mtime is mtime_age_days or more days before the scan's "     \
    "start and less than the next bucket's (the last bucket: no upper bound)"

static void prom_kind_ages(FILE *o, const prom_conf *pc, const summ_conf *c, const prom_kind *k)
{
    char name[64], help[768];
    snprintf(name, sizeof name, "%s_mtime_age_bytes", prom_kind_names[k->kind]);
    snprintf(help, sizeof help, "%s, %s; past the top K by bytes summed in one series labelled "
             "other with rest=\"true\".", PROM_AGE_HELP, prom_kind_what[k->kind]);
    prom_head(o, pc, name, help);
    for (size_t i = 0; i <= k->kept; i++) {
        const prom_ent *e = i < k->kept ? &k->ents[i] : &k->rest;
        if (i == k->kept && k->kept == k->count)
            break;
        for (size_t b = 0; b <= c->age_count; b++) {
            prom_line l;
            prom_begin(&l, o, pc, name);
            prom_ent_labels(&l, k, e);
            prom_age_label(&l, c, b);
            prom_end_u64(&l, e->age[b]);
        }
    }
}

static void prom_kind_write(FILE *o, const prom_conf *pc, const summ_conf *c, const prom_kind *k)
{
    prom_kind_family(o, pc, k, PROM_BYTES, "bytes",
                     "Bytes (sum of st_size, directories included)");
    prom_kind_family(o, pc, k, PROM_ALLOC, "allocated_bytes",
                     "Bytes allocated on disk (sum of st_blocks x 512)");
    prom_kind_family(o, pc, k, PROM_FILES, "files", "Non-directories");
    prom_kind_family(o, pc, k, PROM_DIRS, "dirs", "Directories");
    prom_kind_ages(o, pc, c, k);
}

/* ---- the scan ------------------------------------------------------------------ */

static void prom_one(FILE *o, const prom_conf *pc, const char *name, const char *help,
                     const char *value)
{
    prom_line l;
    prom_head(o, pc, name, help);
    prom_begin(&l, o, pc, name);
    prom_end(&l, value);
}

static void prom_one_u64(FILE *o, const prom_conf *pc, const char *name, const char *help,
                         uint64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%" PRIu64, v);
    prom_one(o, pc, name, help, num);
}

static void prom_totals(FILE *o, const prom_conf *pc, const summ_conf *c, const summ_result *r)
{
    prom_one_u64(o, pc, "bytes", "Bytes (sum of st_size) of every entry of the scan, "
                 "directories included, a hard-linked file once.", r->total.bytes);
    prom_one_u64(o, pc, "allocated_bytes", "Bytes allocated on disk (sum of st_blocks x 512) "
                 "of every entry of the scan, a hard-linked file once.", r->total.allocated);
    prom_one_u64(o, pc, "files", "Non-directories in the scan, a hard-linked file once.",
                 r->total.files);
    prom_one_u64(o, pc, "dirs", "Directories in the scan.", r->total.dirs);
    uint64_t age[SUMM_AGE_MAX + 1] = {0};
    for (size_t i = 0; i < r->cell_count; i++)
        age[prom_bucket_index(c, r->cells[i]->key.mtime_age)] += r->cells[i]->bytes;
    prom_head(o, pc, "mtime_age_bytes", PROM_AGE_HELP ", over the whole scan.");
    for (size_t b = 0; b <= c->age_count; b++) {
        prom_line l;
        prom_begin(&l, o, pc, "mtime_age_bytes");
        prom_age_label(&l, c, b);
        prom_end_u64(&l, age[b]);
    }
}

static void prom_scan_facts(FILE *o, const prom_conf *pc, const prom_scan *s)
{
    char num[48];
    prom_one_u64(o, pc, "scan_start_timestamp_seconds",
                 "When the scan started (Unix time).", (uint64_t)s->start_sec);
    prom_one_u64(o, pc, "scan_completion_timestamp_seconds",
                 "When the scan's walk ended (Unix time); the file is replaced only by a "
                 "complete scan, so alert when this gets old.", (uint64_t)s->end_sec);
    snprintf(num, sizeof num, "%.3f", s->duration);
    prom_one(o, pc, "scan_duration_seconds",
             "How long the scan took (a resumed scan: its sessions' time summed).", num);
    prom_one_u64(o, pc, "scan_sessions",
                 "Sessions the scan ran in: more than 1 when it was suspended or died at a "
                 "checkpoint and was resumed.", s->sessions ? s->sessions : 1);
    prom_one(o, pc, "scan_complete", "1: the scan completed (a scan that did not complete "
             "writes no file; the previous one stays).", "1");
    if (s->have_counts) {
        prom_one_u64(o, pc, "scan_entries", "Entries the walk reported.", s->entries);
        prom_one_u64(o, pc, "scan_errors", "Entries that could not be read.", s->errors);
        prom_one_u64(o, pc, "scan_filtered", "Entries left out of the walk (excluded, "
                     "snapshots, other filesystems, the scan's own outputs).", s->filtered);
        snprintf(num, sizeof num, "%.1f",
                 s->duration > 0 ? (double)s->entries / s->duration : (double)s->entries);
        prom_one(o, pc, "scan_entries_per_second", "Entries per second over the scan.", num);
    }
    prom_line l;
    prom_head(o, pc, "scan_info", "Always 1; label version: the pwalk version that scanned.");
    prom_begin(&l, o, pc, "scan_info");
    const char *v = s->version ? s->version : "unknown";
    prom_label(&l, "version", v, strlen(v), 1);
    prom_end(&l, "1");
}

int prom_render(FILE *out, const prom_conf *pc, const summ_conf *sc, const summ_result *r,
                const summ_agg *a, const prom_scan *s)
{
    size_t counts[PROM_KINDS] = {r->user_count, r->group_count, a->top_count};
    size_t nb = sc->age_count + 1;
    prom_kind kinds[PROM_KINDS];
    int rc = 0;
    memset(kinds, 0, sizeof kinds);
    prom_scan_facts(out, pc, s);
    prom_totals(out, pc, sc, r);
    for (int t = 0; t < PROM_KINDS && rc == 0; t++) {
        prom_kind *k = &kinds[t];
        k->kind = t;
        k->r = r;
        k->a = a;
        k->count = counts[t];
        k->ents = calloc(k->count + 1, sizeof *k->ents);
        uint64_t *ages = calloc((k->count + 1) * nb, sizeof *ages);
        if (!k->ents || !ages) {
            free(ages);
            rc = -1;
            break;
        }
        prom_kind_build(k, sc, ages, pc->top_k);
        prom_kind_write(out, pc, sc, k);
        free(ages);
    }
    for (int t = 0; t < PROM_KINDS; t++)
        free(kinds[t].ents);
    return rc;
}
