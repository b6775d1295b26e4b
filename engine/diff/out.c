/*
 * out.c -- the output files and the answer; see out.h and README.md.
 * Rows are formatted by hand: changes.csv may have as many rows as the
 * scans.
 */
#define _GNU_SOURCE
#include "out.h"

#include "common/lossless.h"
#include "row.h"
#include "size.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define DOUT_BUF (1024 * 1024)

static const char *const dout_bases[DOUT_FILES] = {"changes.csv", "by_user.csv", "by_group.csv",
                                                   "by_dir.csv", "diff.json"};

/* ---- one buffered, maybe compressed file --------------------------------------- */

static int dout_emit(dout_file *t, const char *p, size_t n, int end, char *err, size_t errlen)
{
    if (!t->z)
        return n ? outfile_write(&t->f, p, n, err, errlen) : 0;
    char out[128 * 1024];
    ZSTD_inBuffer in = {p, n, 0};
    size_t left;
    do {
        ZSTD_outBuffer o = {out, sizeof out, 0};
        left = ZSTD_compressStream2(t->z, &o, &in, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left)) {
            snprintf(err, errlen, "%s: zstd compression failed: %s", t->f.final_path,
                     ZSTD_getErrorName(left));
            return -1;
        }
        if (o.pos && outfile_write(&t->f, out, o.pos, err, errlen) != 0)
            return -1;
    } while (in.pos < in.size || (end && left != 0));
    return 0;
}

static int dout_flush(dout_file *t, int end, char *err, size_t errlen)
{
    int rc = dout_emit(t, t->buf, t->n, end, err, errlen);
    t->n = 0;
    return rc;
}

/* Room for need more bytes in the buffer. */
static char *dout_room(dout_file *t, size_t need, char *err, size_t errlen)
{
    if (t->n + need > t->cap) {
        if (dout_flush(t, 0, err, errlen) != 0)
            return NULL;
        if (need > t->cap) {
            char *b = realloc(t->buf, need);
            if (!b) {
                snprintf(err, errlen, "out of memory");
                return NULL;
            }
            t->buf = b;
            t->cap = need;
        }
    }
    return t->buf + t->n;
}

static int dout_put(dout_file *t, const char *s, size_t n, char *err, size_t errlen)
{
    char *p = dout_room(t, n, err, errlen);
    if (!p)
        return -1;
    memcpy(p, s, n);
    t->n += n;
    return 0;
}

static int dout_file_open(dout_file *t, const char *dir, int i, int zstd, char *err,
                          size_t errlen)
{
    char path[PATH_MAX + 64];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s%s", dout_bases[i], zstd ? ".zst" : "");
    snprintf(path, sizeof path, "%s/%s", dir, t->name);
    if (!(t->buf = malloc(DOUT_BUF))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    t->cap = DOUT_BUF;
    if (zstd && !(t->z = ZSTD_createCCtx())) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (outfile_open(&t->f, path, err, errlen) != 0)
        return -1;
    t->open = 1;
    return 0;
}

static void dout_file_free(dout_file *t)
{
    if (t->open)
        outfile_abort(&t->f);
    t->open = 0;
    ZSTD_freeCCtx(t->z);
    t->z = NULL;
    free(t->buf);
    t->buf = NULL;
}

int dout_open(dout *o, const char *dir, int zstd, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->zstd = zstd;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create '%s': %s", dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < DOUT_FILES; i++) {
        if (dout_file_open(&o->files[i], dir, i, zstd && i != DOUT_JSON, err, errlen) != 0) {
            dout_abort(o);
            return -1;
        }
    }
    return 0;
}

void dout_abort(dout *o)
{
    for (int i = 0; i < DOUT_FILES; i++)
        dout_file_free(&o->files[i]);
}

int dout_publish(dout *o, char *err, size_t errlen)
{
    for (int i = 0; i < DOUT_FILES; i++) {
        dout_file *t = &o->files[i];
        if (dout_flush(t, 1, err, errlen) != 0 || outfile_prepare(&t->f, err, errlen) != 0) {
            dout_abort(o); /* outfile_abort() is safe after a failed prepare */
            return -1;
        }
    }
    for (int i = 0; i < DOUT_FILES; i++) { /* diff.json is the last */
        dout_file *t = &o->files[i];
        if (outfile_commit(&t->f, err, errlen) != 0) {
            dout_abort(o);
            return -1;
        }
    }
    dout_abort(o); /* frees the buffers; nothing is open any more */
    return 0;
}

/* ---- rows ------------------------------------------------------------------------ */

static char *dout_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10));
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *dout_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return dout_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return dout_u64(p, (uint64_t)v);
}

static char *dout_path(char *p, const char *s, size_t n)
{
    *p++ = '"';
    p += lossless_escape(p, s, n, LOSSLESS_CSV);
    *p++ = '"';
    return p;
}

static char *dout_mode(char *p, uint32_t mode)
{
    *p++ = '"';
    for (int shift = 18; shift >= 0; shift -= 3)
        *p++ = (char)('0' + ((mode >> shift) & 7));
    *p++ = '"';
    return p;
}

/* ",value" of a row's side, or "," when that side is absent. */
#define DOUT_FIELD(p, has, expr)                                                            \
    do {                                                                                    \
        *(p)++ = ',';                                                                       \
        if (has)                                                                            \
            (p) = (expr);                                                                   \
    } while (0)

int dout_change(dout *o, const dchg *c, char *err, size_t errlen)
{
    dout_file *t = &o->files[DOUT_CHANGES];
    size_t need = 4 * ((size_t)c->nw.path_len + c->od.path_len) + 512;
    char *p = dout_room(t, need, err, errlen), *start = p;
    if (!p)
        return -1;
    int n = c->has_new, od = c->has_old;
    const drow *r = n ? &c->nw : &c->od;
    const char *k = dchg_kind_name(c->kind);
    size_t kl = strlen(k);
    memcpy(p, k, kl);
    p += kl;
    *p++ = ',';
    p = dout_path(p, DCHG_PATH(c), DCHG_PATH_LEN(c));
    DOUT_FIELD(p, od && c->kind != DCHG_MODIFIED, dout_path(p, DCHG_OLD_PATH(c), c->od.path_len));
    *p++ = ',';
    *p++ = drow_type_char(r->mode);
    DOUT_FIELD(p, n, dout_u64(p, c->nw.uid));
    DOUT_FIELD(p, od, dout_u64(p, c->od.uid));
    DOUT_FIELD(p, n, dout_u64(p, c->nw.gid));
    DOUT_FIELD(p, od, dout_u64(p, c->od.gid));
    DOUT_FIELD(p, n, dout_i64(p, c->nw.size));
    DOUT_FIELD(p, od, dout_i64(p, c->od.size));
    DOUT_FIELD(p, 1, dout_i64(p, (n ? c->nw.size : 0) - (od ? c->od.size : 0)));
    DOUT_FIELD(p, n, dout_i64(p, c->nw.mtime));
    DOUT_FIELD(p, od, dout_i64(p, c->od.mtime));
    DOUT_FIELD(p, n, dout_mode(p, c->nw.mode));
    DOUT_FIELD(p, od, dout_mode(p, c->od.mode));
    DOUT_FIELD(p, 1, dout_u64(p, r->ino));
    *p++ = ',';
    const char *sus = dchg_suspect_name(c->suspect);
    memcpy(p, sus, strlen(sus));
    p += strlen(sus);
    *p++ = '\n';
    t->n += (size_t)(p - start);
    t->rows++;
    return 0;
}

int dout_headers(dout *o, char *err, size_t errlen)
{
    static const char *const heads[DOUT_JSON] = {
        "change,path,old_path,type,uid,old_uid,gid,old_gid,size,old_size,delta,mtime,"
        "old_mtime,mode,old_mode,inode,suspect\n",
        "uid,user,files_added,files_removed,bytes_added,bytes_removed,net_bytes,net_files\n",
        "gid,group,files_added,files_removed,bytes_added,bytes_removed,net_bytes,net_files\n",
        "path,depth,net_bytes,net_files\n"};
    for (int i = 0; i < DOUT_JSON; i++)
        if (dout_put(&o->files[i], heads[i], strlen(heads[i]), err, errlen) != 0)
            return -1;
    return 0;
}

/* ---- names, tables ----------------------------------------------------------------- */

/* The account name of id, malloc'ed, or NULL when there is none. */
static char *dout_lookup(uint32_t id, int groups)
{
    size_t cap = 16384;
    for (int tries = 0; tries < 8; tries++, cap *= 2) {
        char *buf = malloc(cap), *name = NULL;
        if (!buf)
            return NULL;
        int rc;
        if (groups) {
            struct group g, *res = NULL;
            rc = getgrgid_r((gid_t)id, &g, buf, cap, &res);
            if (rc == 0 && res)
                name = strdup(g.gr_name);
        } else {
            struct passwd pw, *res = NULL;
            rc = getpwuid_r((uid_t)id, &pw, buf, cap, &res);
            if (rc == 0 && res)
                name = strdup(pw.pw_name);
        }
        free(buf);
        if (rc != ERANGE)
            return name;
    }
    return NULL;
}

int dout_names_get(dout_names *nm, const dagg_idtab *t, int groups)
{
    memset(nm, 0, sizeof *nm);
    nm->ids = dagg_ids_sorted(t, &nm->n);
    if (!nm->ids || !(nm->names = calloc(nm->n + 1, sizeof(char *))))
        return -1;
    for (size_t i = 0; i < nm->n; i++)
        nm->names[i] = dout_lookup(nm->ids[i]->id, groups);
    return 0;
}

void dout_names_free(dout_names *nm)
{
    for (size_t i = 0; nm->names && i < nm->n; i++)
        free(nm->names[i]);
    free(nm->names);
    free(nm->ids);
    memset(nm, 0, sizeof *nm);
}

static int dout_owner_rows(dout_file *t, const dout_names *nm, char *err, size_t errlen)
{
    for (size_t i = 0; i < nm->n; i++) {
        const dagg_cnt *c = &nm->ids[i]->c;
        const char *name = nm->names[i];
        size_t nl = name ? strlen(name) : 0;
        char *p = dout_room(t, 4 * nl + 256, err, errlen), *start = p;
        if (!p)
            return -1;
        p = dout_u64(p, nm->ids[i]->id);
        *p++ = ',';
        if (name)
            p = dout_path(p, name, nl);
        DOUT_FIELD(p, 1, dout_i64(p, c->files_added));
        DOUT_FIELD(p, 1, dout_i64(p, c->files_removed));
        DOUT_FIELD(p, 1, dout_i64(p, c->bytes_added));
        DOUT_FIELD(p, 1, dout_i64(p, c->bytes_removed));
        DOUT_FIELD(p, 1, dout_i64(p, c->bytes_added - c->bytes_removed));
        DOUT_FIELD(p, 1, dout_i64(p, c->files_added - c->files_removed));
        *p++ = '\n';
        t->n += (size_t)(p - start);
        t->rows++;
    }
    return 0;
}

int dout_tables(dout *o, const dagg *a, const dout_names *users, const dout_names *groups,
                char *err, size_t errlen)
{
    if (dout_owner_rows(&o->files[DOUT_BY_USER], users, err, errlen) ||
        dout_owner_rows(&o->files[DOUT_BY_GROUP], groups, err, errlen))
        return -1;
    size_t n;
    const dagg_dir **v = dagg_dirs_sorted(a, &n);
    if (!v)
        return snprintf(err, errlen, "out of memory"), -1;
    dout_file *t = &o->files[DOUT_BY_DIR];
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *p = dout_room(t, 4 * v[i]->len + 128, err, errlen), *start = p;
        if (!p) {
            rc = -1;
            break;
        }
        p = dout_path(p, v[i]->path, v[i]->len);
        DOUT_FIELD(p, 1, dout_i64(p, v[i]->depth));
        DOUT_FIELD(p, 1, dout_i64(p, v[i]->net_bytes));
        DOUT_FIELD(p, 1, dout_i64(p, v[i]->net_files));
        *p++ = '\n';
        t->n += (size_t)(p - start);
        t->rows++;
    }
    free(v);
    return rc;
}

/* ---- diff.json ------------------------------------------------------------------------ */

static void dout_json_str(FILE *f, const char *s, size_t n)
{
    char buf[LOSSLESS_ESCAPED_MAX(256)];
    fputc('"', f);
    while (n) {
        size_t k = lossless_piece(s, n, 256);
        fwrite(buf, 1, lossless_escape(buf, s, k, LOSSLESS_JSON), f);
        s += k;
        n -= k;
    }
    fputc('"', f);
}

static void dout_json_side(FILE *f, const char *key, const dside *s)
{
    fprintf(f, "  \"%s\": {\"inputs\": [", key);
    for (size_t i = 0; i < s->input_count; i++) {
        fputs(i ? ", " : "", f);
        dout_json_str(f, s->inputs[i], strlen(s->inputs[i]));
    }
    fputs("], \"roots\": [", f);
    for (size_t i = 0; i < s->root_count; i++) {
        fputs(i ? ", " : "", f);
        dout_json_str(f, s->roots[i], s->root_lens[i]);
    }
    fprintf(f, "], \"rows\": %llu, \"started\": ", (unsigned long long)s->rows);
    if (s->has_started)
        fprintf(f, "%lld},\n", (long long)s->started);
    else
        fputs("null},\n", f);
}

static void dout_json_body(FILE *f, const dout *o, const dout_info *info, const dagg *a)
{
    fprintf(f, "{\n  \"format\": \"pwalk-diff\",\n  \"version\": 1,\n  \"complete\": true,\n"
               "  \"match\": \"%s\",\n",
            info->match == DJOIN_INODE ? "inode" : "path");
    dout_json_side(f, "old", info->old);
    dout_json_side(f, "new", info->nw);
    fputs("  \"changes\": {", f);
    for (int k = 0; k < DCHG_KINDS; k++)
        fprintf(f, "\"%s\": %llu, ", dchg_kind_name(k), (unsigned long long)a->kinds[k]);
    fprintf(f, "\"suspect\": %llu},\n", (unsigned long long)a->suspects);
    const dagg_cnt *t = &a->total;
    fprintf(f, "  \"totals\": {\"files_added\": %lld, \"files_removed\": %lld, "
               "\"bytes_added\": %lld, \"bytes_removed\": %lld, \"net_bytes\": %lld, "
               "\"net_files\": %lld},\n",
            (long long)t->files_added, (long long)t->files_removed, (long long)t->bytes_added,
            (long long)t->bytes_removed, (long long)(t->bytes_added - t->bytes_removed),
            (long long)(t->files_added - t->files_removed));
    fprintf(f, "  \"compress\": \"%s\",\n  \"tables\": {", o->zstd ? "zstd" : "none");
    static const char *const keys[DOUT_JSON] = {"changes", "by_user", "by_group", "by_dir"};
    for (int i = 0; i < DOUT_JSON; i++)
        fprintf(f, "%s\"%s\": {\"file\": \"%s\", \"rows\": %llu}", i ? ", " : "", keys[i],
                o->files[i].name, o->files[i].rows);
    fputs("}\n}\n", f);
}

int dout_json(dout *o, const dout_info *info, const dagg *a, char *err, size_t errlen)
{
    char *body = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&body, &len);
    if (!mem)
        return snprintf(err, errlen, "out of memory"), -1;
    dout_json_body(mem, o, info, a);
    if (fclose(mem) != 0) {
        free(body);
        return snprintf(err, errlen, "out of memory"), -1;
    }
    int rc = dout_put(&o->files[DOUT_JSON], body, len, err, errlen);
    free(body);
    return rc;
}

/* ---- the answer -------------------------------------------------------------------------- */

static void dout_text(FILE *f, const char *s, size_t n)
{
    char buf[LOSSLESS_ESCAPED_MAX(256)];
    while (n) {
        size_t k = lossless_piece(s, n, 256);
        fwrite(buf, 1, lossless_escape(buf, s, k, LOSSLESS_BARE), f);
        s += k;
        n -= k;
    }
}

/* Indexes of the (at most) 10 largest positive values of net[], largest first, ties in
 * index order (ids and paths are sorted already). */
static size_t dout_top10(const int64_t *net, size_t n, size_t *top)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (net[i] <= 0)
            continue;
        size_t j = k < 10 ? k++ : 10;
        while (j > 0 && net[top[j - 1]] < net[i]) {
            if (j < 10)
                top[j] = top[j - 1];
            j--;
        }
        if (j < 10)
            top[j] = i;
    }
    return k;
}

static void dout_answer_users(FILE *f, const dout_names *users)
{
    int64_t *net = calloc(users->n + 1, sizeof *net);
    size_t top[10];
    if (!net)
        return;
    for (size_t i = 0; i < users->n; i++)
        net[i] = users->ids[i]->c.bytes_added - users->ids[i]->c.bytes_removed;
    size_t k = dout_top10(net, users->n, top);
    fprintf(f, "top users by growth:%s\n", k ? "" : " none");
    for (size_t i = 0; i < k; i++) {
        const dagg_id *u = users->ids[top[i]];
        char h[64];
        dsize_human(h, sizeof h, net[top[i]], 1);
        fprintf(f, "  %12s  %+lld files  ", h,
                (long long)(u->c.files_added - u->c.files_removed));
        if (users->names[top[i]])
            dout_text(f, users->names[top[i]], strlen(users->names[top[i]]));
        fprintf(f, " (%u)\n", u->id);
    }
    free(net);
}

static void dout_answer_dirs(FILE *f, const dagg *a)
{
    size_t n, top[10];
    const dagg_dir **v = dagg_dirs_sorted(a, &n);
    int64_t *net = calloc(n + 1, sizeof *net);
    if (v && net) {
        for (size_t i = 0; i < n; i++)
            net[i] = v[i]->depth >= 0 ? v[i]->net_bytes : 0;
        size_t k = dout_top10(net, n, top);
        fprintf(f, "top directories by growth:%s\n", k ? "" : " none");
        for (size_t i = 0; i < k; i++) {
            char h[64];
            dsize_human(h, sizeof h, net[top[i]], 1);
            fprintf(f, "  %12s  %+lld files  ", h, (long long)v[top[i]]->net_files);
            dout_text(f, v[top[i]]->path, v[top[i]]->len);
            fputc('\n', f);
        }
    }
    free(net);
    free(v);
}

void dout_answer(FILE *f, const dout_info *info, const dagg *a, const dout_names *users)
{
    const dagg_cnt *t = &a->total;
    char net[64], add[64], rem[64];
    fputs("pwalk-diff: ", f);
    dout_text(f, info->old->arg, strlen(info->old->arg));
    fputs(" -> ", f);
    dout_text(f, info->nw->arg, strlen(info->nw->arg));
    fprintf(f, " (matched by %s)\n", info->match == DJOIN_INODE ? "inode" : "path");
    if (!a->changes) {
        fputs("no changes\n", f);
        return;
    }
    dsize_human(net, sizeof net, t->bytes_added - t->bytes_removed, 1);
    dsize_human(add, sizeof add, t->bytes_added, 0);
    dsize_human(rem, sizeof rem, t->bytes_removed, 0);
    fprintf(f, "net growth: %s (%s added, %s removed)\n", net, add, rem);
    fprintf(f, "files: %lld added, %lld removed (net %+lld); %llu modified, %llu renamed\n",
            (long long)t->files_added, (long long)t->files_removed,
            (long long)(t->files_added - t->files_removed),
            (unsigned long long)a->kinds[DCHG_MODIFIED],
            (unsigned long long)(a->kinds[DCHG_RENAMED] + a->kinds[DCHG_RENAMED_MODIFIED]));
    dout_answer_users(f, users);
    dout_answer_dirs(f, a);
}
