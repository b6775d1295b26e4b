/*
 * tables.c -- the summary's files: five CSV tables (plain, or one zstd frame
 * each through libzstd's streaming API) and summary.json, written into the
 * temporaries summary.c opened (common/outfile), rows in the order
 * finalize.c sorted them.  Columns and rules: FORMAT.md.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/lossless.h"
#include "summ.h"

const char *const summ_table_names[SUMM_T_COUNT] = {"dirs",  "users", "groups",
                                                    "usage", "top",   "summary"};

const char *summ_table_file(int t, int compress)
{
    static const char *const plain[SUMM_T_COUNT] = {
        "dirs.csv", "users.csv", "groups.csv", "usage.csv", "top.csv", "summary.json"};
    static const char *const zst[SUMM_T_COUNT] = {"dirs.csv.zst",  "users.csv.zst",
                                                  "groups.csv.zst", "usage.csv.zst",
                                                  "top.csv.zst",   "summary.json"};
    return compress ? zst[t] : plain[t];
}

#define SUMM_W_BUF (256u * 1024u)

/* One table being written: lines gathered in buf, compressed (or not) and
 * appended to the outfile a buffer at a time. */
typedef struct summ_w {
    outfile *f;
    ZSTD_CCtx *z;       /* NULL: plain                                 */
    char *buf;          /* SUMM_W_BUF bytes of lines                   */
    size_t used;
    char *zout;         /* compressed bytes, ZSTD_CStreamOutSize()     */
    size_t zcap;
    char *line;         /* the line being formatted (grows)            */
    size_t line_cap;
    char *err;
    size_t errlen;
    int failed;
} summ_w;

static int summ_w_zstd(summ_w *w, const char *data, size_t len, ZSTD_EndDirective end)
{
    ZSTD_inBuffer in = {data, len, 0};
    for (;;) {
        ZSTD_outBuffer out = {w->zout, w->zcap, 0};
        size_t left = ZSTD_compressStream2(w->z, &out, &in, end);
        if (ZSTD_isError(left)) {
            snprintf(w->err, w->errlen, "zstd: %s", ZSTD_getErrorName(left));
            return -1;
        }
        if (out.pos && outfile_write(w->f, w->zout, out.pos, w->err, w->errlen) != 0)
            return -1;
        if (end == ZSTD_e_end ? left == 0 : in.pos == in.size)
            return 0;
    }
}

static int summ_w_flush(summ_w *w, ZSTD_EndDirective end)
{
    int rc = 0;
    if (w->z)
        rc = summ_w_zstd(w, w->buf, w->used, end);
    else if (w->used)
        rc = outfile_write(w->f, w->buf, w->used, w->err, w->errlen);
    w->used = 0;
    if (rc)
        w->failed = 1;
    return rc;
}

static int summ_w_put(summ_w *w, const char *s, size_t len)
{
    if (w->failed)
        return -1;
    if (w->used + len > SUMM_W_BUF && summ_w_flush(w, ZSTD_e_continue) != 0)
        return -1;
    if (len > SUMM_W_BUF) { /* a line longer than the buffer: on its own */
        char *keep = w->buf;
        w->buf = (char *)(uintptr_t)s;
        w->used = len;
        int rc = summ_w_flush(w, ZSTD_e_continue);
        w->buf = keep;
        return rc;
    }
    memcpy(w->buf + w->used, s, len);
    w->used += len;
    return 0;
}

static int summ_w_printf(summ_w *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int summ_w_printf(summ_w *w, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof small) {
        snprintf(w->err, w->errlen, "internal: a summary line did not fit");
        w->failed = 1;
        return -1;
    }
    return summ_w_put(w, small, (size_t)n);
}

/* A quoted lossless text field (q: LOSSLESS_CSV or LOSSLESS_JSON), as the
 * report writes its names. */
static int summ_w_text(summ_w *w, const char *s, size_t len, lossless_quote q)
{
    size_t need = LOSSLESS_ESCAPED_MAX(len) + 2;
    if (need > w->line_cap) {
        char *p = realloc(w->line, need);
        if (!p) {
            snprintf(w->err, w->errlen, "out of memory");
            w->failed = 1;
            return -1;
        }
        w->line = p;
        w->line_cap = need;
    }
    size_t n = 0;
    w->line[n++] = '"';
    n += lossless_escape(w->line + n, s, len, q);
    w->line[n++] = '"';
    return summ_w_put(w, w->line, n);
}

static int summ_w_open(summ_w *w, outfile *f, int compress, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    w->f = f;
    w->err = err;
    w->errlen = errlen;
    w->buf = malloc(SUMM_W_BUF);
    if (w->buf && compress) {
        w->z = ZSTD_createCCtx();
        w->zcap = ZSTD_CStreamOutSize();
        w->zout = malloc(w->zcap);
        if (w->z && (ZSTD_isError(ZSTD_CCtx_setParameter(w->z, ZSTD_c_compressionLevel, 3)) ||
                     ZSTD_isError(ZSTD_CCtx_setParameter(w->z, ZSTD_c_checksumFlag, 1)))) {
            snprintf(err, errlen, "zstd: cannot set the compression level");
            return -1;
        }
    }
    if (!w->buf || (compress && (!w->z || !w->zout))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* End the table (the zstd frame's epilogue) and free w.  0 or -1. */
static int summ_w_close(summ_w *w, int ok)
{
    int rc = ok && !w->failed ? summ_w_flush(w, ZSTD_e_end) : -1;
    ZSTD_freeCCtx(w->z);
    free(w->zout);
    free(w->buf);
    free(w->line);
    return rc;
}

/* ",N" (the comma unless first): by hand, as csvrow does -- vsnprintf was
 * most of the time spent writing a 100k-directory dirs.csv. */
static void summ_w_u64(summ_w *w, uint64_t v, int comma)
{
    char tmp[24], out[24];
    size_t n = 0, k = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (comma)
        out[k++] = ',';
    while (n)
        out[k++] = tmp[--n];
    summ_w_put(w, out, k);
}

static void summ_w_i64(summ_w *w, int64_t v, int comma)
{
    if (v >= 0) {
        summ_w_u64(w, (uint64_t)v, comma);
        return;
    }
    summ_w_put(w, comma ? ",-" : "-", comma ? 2 : 1);
    summ_w_u64(w, (uint64_t)0 - (uint64_t)v, 0);
}

/* ",T", or "," alone when no time was seen (NULL in DuckDB). */
static void summ_w_time(summ_w *w, int64_t t, int64_t none)
{
    if (t == none)
        summ_w_put(w, ",", 1);
    else
        summ_w_i64(w, t, 1);
}

static void summ_time(char *out, size_t cap, int64_t t, int64_t none)
{
    if (t == none)
        out[0] = '\0'; /* no time seen: an empty field (NULL in DuckDB) */
    else
        snprintf(out, cap, "%" PRId64, t);
}

static int summ_dirs_table(summ_w *w, const summ_result *r, uint64_t *rows)
{
    summ_w_printf(w, "path,depth,dev,inode,uid,gid,files,dirs,bytes,allocated,"
                     "newest_mtime,newest_atime,oldest_mtime,stale_bytes\n");
    for (size_t i = 0; i < r->dir_count && !w->failed; i++) {
        const summ_dir *d = r->dirs[i];
        const summ_sums *t = &SUMM_TOT(r, i);
        if (!(d->flags & SUMM_DIR_SELF))
            continue; /* never reached itself (cannot happen in a complete scan) */
        summ_w_text(w, d->path, d->path_len, LOSSLESS_CSV);
        summ_w_i64(w, d->depth, 1);
        const uint64_t ids[] = {d->dev, d->ino, d->uid, d->gid, t->files, t->dirs, t->bytes,
                                t->allocated};
        for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++)
            summ_w_u64(w, ids[k], 1);
        summ_w_time(w, t->newest_mtime, SUMM_TIME_NONE_NEWEST);
        summ_w_time(w, t->newest_atime, SUMM_TIME_NONE_NEWEST);
        summ_w_time(w, t->oldest_mtime, SUMM_TIME_NONE_OLDEST);
        summ_w_u64(w, t->stale_bytes, 1);
        summ_w_put(w, "\n", 1);
        ++*rows;
    }
    return w->failed ? -1 : 0;
}

static int summ_owner_table(summ_w *w, const summ_result *r, int group, uint64_t *rows)
{
    const summ_owner *o = group ? r->groups : r->users;
    char *const *names = group ? r->group_names : r->user_names;
    size_t n = group ? r->group_count : r->user_count;
    summ_w_printf(w, group ? "gid,group,files,dirs,bytes,allocated,orphan\n"
                           : "uid,user,files,dirs,bytes,allocated,newest_mtime,"
                             "oldest_atime,orphan\n");
    for (size_t i = 0; i < n && !w->failed; i++) {
        const char *name = names[i] ? names[i] : "";
        summ_w_printf(w, "%" PRIu32 ",", o[i].id);
        summ_w_text(w, name, strlen(name), LOSSLESS_CSV);
        summ_w_printf(w, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64, o[i].files,
                      o[i].dirs, o[i].bytes, o[i].allocated);
        if (!group) {
            char nm[24], oa[24];
            summ_time(nm, sizeof nm, o[i].newest_mtime, SUMM_TIME_NONE_NEWEST);
            summ_time(oa, sizeof oa, o[i].oldest_atime, SUMM_TIME_NONE_OLDEST);
            summ_w_printf(w, ",%s,%s", nm, oa);
        }
        summ_w_printf(w, ",%s\n", names[i] ? "false" : "true");
        ++*rows;
    }
    return w->failed ? -1 : 0;
}

static int summ_usage_table(summ_w *w, const summ_result *r, const summ_agg *a, uint64_t *rows)
{
    summ_w_printf(w, "uid,gid,top,mtime_age_days,atime_age_days,ctime_age_days,size_min,"
                     "files,dirs,bytes,allocated\n");
    for (size_t i = 0; i < r->cell_count && !w->failed; i++) {
        const summ_cell *c = r->cells[i];
        summ_w_u64(w, c->key.uid, 0);
        summ_w_u64(w, c->key.gid, 1);
        summ_w_put(w, ",", 1);
        summ_w_text(w, a->tops[c->key.top], a->top_lens[c->key.top], LOSSLESS_CSV);
        const int64_t key[] = {c->key.mtime_age, c->key.atime_age, c->key.ctime_age,
                               summ_size_class_min[c->key.size_class]};
        for (size_t k = 0; k < sizeof key / sizeof key[0]; k++)
            summ_w_i64(w, key[k], 1);
        const uint64_t sums[] = {c->files, c->dirs, c->bytes, c->allocated};
        for (size_t k = 0; k < sizeof sums / sizeof sums[0]; k++)
            summ_w_u64(w, sums[k], 1);
        summ_w_put(w, "\n", 1);
        ++*rows;
    }
    return w->failed ? -1 : 0;
}

static int summ_top_table(summ_w *w, const summ_result *r, const summ_conf *c, uint64_t *rows)
{
    static const char *const by[3] = {"bytes", "files", "stale_bytes"};
    summ_w_printf(w, "ranked_by,rank,path,files,dirs,bytes,allocated,stale_bytes\n");
    for (int k = 0; k < 3; k++) {
        for (size_t j = 0; j < r->rank_count[k] && (int64_t)j < c->top_n && !w->failed; j++) {
            size_t i = r->rank[k][j];
            const summ_sums *t = &SUMM_TOT(r, i);
            summ_w_printf(w, "%s,%zu,", by[k], j + 1);
            summ_w_text(w, r->dirs[i]->path, r->dirs[i]->path_len, LOSSLESS_CSV);
            summ_w_printf(w, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n",
                          t->files, t->dirs, t->bytes, t->allocated, t->stale_bytes);
            ++*rows;
        }
    }
    return w->failed ? -1 : 0;
}

static void summ_json_count(summ_w *w, const char *key, int64_t v, const char *after)
{
    if (v < 0)
        summ_w_printf(w, "  \"%s\": null,%s", key, after);
    else
        summ_w_printf(w, "  \"%s\": %" PRId64 ",%s", key, v, after);
}

static void summ_json_head(summ_w *w, const summ_facts *f)
{
    summ_w_printf(w, "{\n  \"format\": \"pwalk-summary\",\n  \"version\": 1,\n"
                     "  \"complete\": true,\n  \"pwalk_version\": ");
    if (f->version) /* an engine of ABI < 1.3 does not say */
        summ_w_text(w, f->version, strlen(f->version), LOSSLESS_JSON);
    else
        summ_w_printf(w, "null");
    summ_w_printf(w, ",\n  \"hostname\": ");
    summ_w_text(w, f->hostname, strlen(f->hostname), LOSSLESS_JSON);
    summ_w_printf(w, ",\n  \"roots\": [");
    for (size_t i = 0; i < f->root_count; i++) {
        summ_w_printf(w, "%s", i ? ", " : "");
        summ_w_text(w, f->roots[i], strlen(f->roots[i]), LOSSLESS_JSON);
    }
    summ_w_printf(w, "],\n");
    summ_json_count(w, "threads", f->threads, "\n");
    summ_json_count(w, "ranks", f->ranks, "\n");
    summ_json_count(w, "start_time", f->start_sec, "\n");
    summ_json_count(w, "end_time", f->end_sec, "\n");
    /* more than one after a suspended or dead scan was resumed (ABI 1.4);
     * a session still running at prepare() ends now (end_time) */
    summ_w_printf(w, "  \"sessions\": %zu,\n  \"session_times\": [", f->session_count);
    for (size_t i = 0; i < f->session_count; i++) {
        int64_t end = f->sessions[i].end_sec ? f->sessions[i].end_sec : f->end_sec;
        summ_w_printf(w, "%s{\"start\": %" PRId64 ", \"end\": %" PRId64 "}", i ? ", " : "",
                      f->sessions[i].start_sec, end);
    }
    summ_w_printf(w, "],\n");
    summ_json_count(w, "entries", f->entries, "\n");
    summ_json_count(w, "errors", f->errors, "\n");
    summ_json_count(w, "filtered", f->filtered, "\n");
}

static int summ_json(summ_w *w, const summ_outputs *o, const summ_result *r,
                     const summ_conf *c, const summ_facts *f)
{
    summ_json_head(w, f);
    summ_w_printf(w,
                  "  \"totals\": {\"files\": %" PRIu64 ", \"dirs\": %" PRIu64
                  ", \"bytes\": %" PRIu64 ", \"allocated\": %" PRIu64 "},\n  \"age_days\": [",
                  r->total.files, r->total.dirs, r->total.bytes, r->total.allocated);
    for (size_t i = 0; i < c->age_count; i++)
        summ_w_printf(w, "%s%" PRId32, i ? ", " : "", c->age_days[i]);
    summ_w_printf(w, "],\n  \"size_classes\": [");
    for (int i = 0; i < SUMM_SIZE_CLASSES; i++)
        summ_w_printf(w, "%s%" PRId64, i ? ", " : "", summ_size_class_min[i]);
    summ_w_printf(w, "],\n  \"compress\": \"%s\",\n  \"tables\": {\n",
                  c->compress ? "zstd" : "none");
    for (int t = 0; t < SUMM_T_JSON; t++)
        summ_w_printf(w, "    \"%s\": {\"file\": \"%s\", \"rows\": %" PRIu64 "}%s\n",
                      summ_table_names[t], summ_table_file(t, c->compress), o->rows[t],
                      t + 1 < SUMM_T_JSON ? "," : "");
    summ_w_printf(w, "  }\n}\n");
    return w->failed ? -1 : 0;
}

static int summ_table(summ_outputs *o, int t, const summ_result *r, const summ_agg *a,
                      const summ_conf *c, const summ_facts *f, char *err, size_t errlen)
{
    summ_w w;
    int compress = t == SUMM_T_JSON ? 0 : c->compress;
    if (summ_w_open(&w, &o->outs[t], compress, err, errlen) != 0) {
        summ_w_close(&w, 0);
        return -1;
    }
    uint64_t *rows = &o->rows[t];
    *rows = 0;
    int rc = t == SUMM_T_DIRS     ? summ_dirs_table(&w, r, rows)
             : t == SUMM_T_USERS  ? summ_owner_table(&w, r, 0, rows)
             : t == SUMM_T_GROUPS ? summ_owner_table(&w, r, 1, rows)
             : t == SUMM_T_USAGE  ? summ_usage_table(&w, r, a, rows)
             : t == SUMM_T_TOP    ? summ_top_table(&w, r, c, rows)
                                  : summ_json(&w, o, r, c, f);
    return summ_w_close(&w, rc == 0);
}

int summ_write_tables(summ_outputs *o, const summ_result *r, const summ_agg *a,
                      const summ_conf *c, const summ_facts *f, char *err, size_t errlen)
{
    for (int t = 0; t < SUMM_T_COUNT; t++)
        if (summ_table(o, t, r, a, c, f, err, errlen) != 0)
            return -1;
    return 0;
}
