/*
 * sink.c -- what every sink built on the summary's aggregate does the
 * same way (summary.c, plugins/prometheus, plugins/html):
 * the age_days option, the engine's scan facts (and the fallback facts
 * summary.json shows without them), and the per-worker
 * lifecycle (a summ_worker per thread, entries folded in, absorbed into
 * the instance's aggregate at thread_close()).  One copy, so the sinks of
 * one walk cannot drift apart in how they read an option or fold an entry.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "partial.h"
#include "summ.h"

int summ_read_age_days(const pwalk_host *h, const pwalk_options *opts, summ_conf *c, char *err,
                       size_t errlen)
{
    static const char *const defaults[] = {"7", "30", "90", "365", "730", "1095"};
    const char *vals[SUMM_AGE_MAX + 1];
    size_t n = 0;
    if (h->opt_list_count(opts, "age_days", &n) != 0) {
        n = sizeof defaults / sizeof defaults[0];
        memcpy(vals, defaults, sizeof defaults);
    } else {
        /* past SUMM_AGE_MAX only the count matters: summ_parse_ages refuses it */
        for (size_t i = 0; i < n && i <= SUMM_AGE_MAX; i++)
            if (h->opt_list_item(opts, "age_days", i, &vals[i]) != 0)
                vals[i] = "";
    }
    return summ_parse_ages(c, vals, n, err, errlen);
}

int summ_scan_facts(const pwalk_host *h, pwalk_host_ctx *ctx, void *facts)
{
#if PWALK_ABI_MINOR >= 3
    pwalk_scan_facts *f = facts;
    memset(f, 0, sizeof *f);
    f->struct_size = sizeof *f;
    if (PWALK_HOST_HAS(h, scan_facts) && h->scan_facts && h->scan_facts(ctx, f) == PWALK_OK)
        return 1;
#else
    (void)h;
    (void)ctx;
    (void)facts;
#endif
    return 0;
}

int summ_sink_thread_open(const pwalk_host *h, pwalk_host_ctx *ctx, const summ_conf *c,
                          summ_workers *ws, void **tstate)
{
    summ_worker *w = malloc(sizeof *w);
    if (!w) {
        h->set_error(ctx, "out of memory");
        return PWALK_ERR_NOMEM;
    }
    summ_worker_init(w, c);
    w->prev = NULL;
    w->next = ws->head;
    if (ws->head)
        ws->head->prev = w;
    ws->head = w;
    *tstate = w;
    return PWALK_OK;
}

int summ_sink_consume(const pwalk_host *h, pwalk_host_ctx *ctx, void *tstate,
                      const pwalk_entry *entries, size_t count)
{
    summ_worker *w = tstate;
    for (size_t i = 0; i < count; i++) {
        if (summ_fold(w, PWALK_ENTRY_AT(entries, i)) != 0) {
            h->set_error(ctx, "out of memory (%zu directories so far)", w->agg.dir_count);
            return PWALK_ERR_NOMEM;
        }
    }
    return PWALK_OK;
}

int summ_sink_thread_close(const pwalk_host *h, pwalk_host_ctx *ctx, summ_agg *into,
                           summ_workers *ws, void *tstate)
{
    summ_worker *w = tstate;
    if (!w)
        return PWALK_OK;
    if (w->prev)
        w->prev->next = w->next;
    else if (ws->head == w)
        ws->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    int rc = summ_agg_absorb(into, &w->agg);
    free(w);
    if (rc != 0) {
        h->set_error(ctx, "out of memory merging the workers' aggregates");
        return PWALK_ERR_NOMEM;
    }
    return PWALK_OK;
}

/* ---- checkpoints (ABI 1.4) ----
 *
 * A state: "PWSUMCKP", version u32, count u32, count temporaries' names
 * (length u32, bytes), then the aggregate as a partial (partial.c, which
 * has its own magic, version and checksum).  Little-endian. */
#define SUMM_CKPT_MAGIC "PWSUMCKP"
#define SUMM_CKPT_VERSION 1u
#define SUMM_CKPT_HEAD 16

static void summ_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t summ_get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The names of outs' temporaries and of the parts they adopted, written at
 * p unless NULL.  Returns their bytes; *count the names. */
static size_t summ_ckpt_names(outfile *const *outs, size_t n, unsigned char *p,
                              uint32_t *count)
{
    size_t bytes = 0;
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        const outfile *o = outs[i];
        for (size_t k = 0; o && k <= o->part_count; k++) {
            const char *name = k < o->part_count ? o->parts[k] : o->tmp_name;
            if (!name)
                continue;
            size_t len = strlen(name);
            if (p) {
                summ_put32(p + bytes, (uint32_t)len);
                memcpy(p + bytes + 4, name, len);
            }
            bytes += 4 + len;
            ++*count;
        }
    }
    return bytes;
}

/* The state: header, names, then the partial's plen bytes. */
static unsigned char *summ_ckpt_pack(outfile *const *outs, size_t n, const unsigned char *part,
                                     size_t plen, size_t *len)
{
    uint32_t count;
    size_t names = summ_ckpt_names(outs, n, NULL, &count);
    unsigned char *buf = malloc(SUMM_CKPT_HEAD + names + plen);
    if (!buf)
        return NULL;
    memcpy(buf, SUMM_CKPT_MAGIC, 8);
    summ_put32(buf + 8, SUMM_CKPT_VERSION);
    summ_put32(buf + 12, count);
    summ_ckpt_names(outs, n, buf + SUMM_CKPT_HEAD, &count);
    memcpy(buf + SUMM_CKPT_HEAD + names, part, plen);
    *len = SUMM_CKPT_HEAD + names + plen;
    return buf;
}

int summ_sink_checkpoint(const pwalk_host *h, pwalk_host_ctx *ctx, summ_agg *into,
                         summ_workers *ws, const summ_conf *c, outfile *const *outs,
                         size_t n)
{
#if PWALK_ABI_MINOR >= 4
    for (summ_worker *w = ws->head; w; w = w->next) {
        int rc = summ_agg_absorb(into, &w->agg); /* frees w->agg either way */
        summ_worker_init(w, w->conf);
        if (rc != 0) {
            h->set_error(ctx, "out of memory merging the workers' aggregates");
            return PWALK_ERR_NOMEM;
        }
    }
    unsigned char *part = NULL, *state = NULL;
    size_t plen = 0, len = 0;
    char err[256];
    if (summ_partial_encode(into, c, &part, &plen, err, sizeof err) != 0) {
        h->set_error(ctx, "%s", err);
        return PWALK_ERR_NOMEM;
    }
    state = summ_ckpt_pack(outs, n, part, plen, &len);
    free(part);
    if (!state) {
        h->set_error(ctx, "out of memory making the checkpoint state");
        return PWALK_ERR_NOMEM;
    }
    int rc = PWALK_HOST_HAS(h, checkpoint_save) && h->checkpoint_save
                 ? h->checkpoint_save(ctx, state, len)
                 : PWALK_ERR;
    free(state);
    if (rc != PWALK_OK)
        h->set_error(ctx, "cannot save the checkpoint state (%zu bytes)", len);
    return rc;
#else
    (void)into, (void)ws, (void)c, (void)outs, (void)n;
    h->set_error(ctx, "built without checkpoints (plugin ABI < 1.4)");
    return PWALK_ERR;
#endif
}

void summ_leftovers_free(summ_leftovers *left)
{
    for (size_t i = 0; i < left->count; i++)
        free(left->names[i]);
    free(left->names);
    left->names = NULL;
    left->count = 0; /* journaled stays */
}

/* The names of a state into left, *part its partial.  0, or a message. */
static const char *summ_ckpt_unpack(const unsigned char *st, size_t len, summ_leftovers *left,
                                    const unsigned char **part, size_t *plen)
{
    if (len < SUMM_CKPT_HEAD || memcmp(st, SUMM_CKPT_MAGIC, 8) != 0)
        return "not a summary checkpoint state";
    if (summ_get32(st + 8) != SUMM_CKPT_VERSION)
        return "a summary checkpoint state of another format version";
    uint32_t count = summ_get32(st + 12);
    size_t at = SUMM_CKPT_HEAD;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t n = len - at >= 4 ? summ_get32(st + at) : UINT32_MAX;
        if (n == UINT32_MAX || n > len - at - 4 || memchr(st + at + 4, '\0', n))
            return "corrupt (a temporary's name runs past the end)";
        char *name = malloc((size_t)n + 1);
        char **grown = realloc(left->names, (left->count + 1) * sizeof *grown);
        if (grown)
            left->names = grown;
        if (!name || !grown) {
            free(name);
            return "out of memory";
        }
        memcpy(name, st + at + 4, n);
        name[n] = '\0';
        left->names[left->count++] = name;
        if (!outfile_is_part_name(name))
            return "corrupt (a name that is no pwalk temporary's)";
        at += 4 + (size_t)n;
    }
    *part = st + at;
    *plen = len - at;
    return NULL;
}

int summ_sink_resume(const pwalk_host *h, pwalk_host_ctx *ctx, summ_agg *into, summ_conf *c,
                     summ_leftovers *left)
{
#if PWALK_ABI_MINOR >= 4
    /* the merge lifecycle (no workers) reads the ranks' partials, which
     * hold their restored states already */
    if (h->worker_count == 0 || !PWALK_HOST_HAS(h, checkpoint_state) || !h->checkpoint_count ||
        !h->checkpoint_state)
        return PWALK_OK;
    size_t n = h->checkpoint_count(ctx);
    left->journaled |= n > 0;
    for (size_t i = 0; i < n; i++) {
        const void *state = NULL;
        const unsigned char *part = NULL;
        size_t len = 0, plen = 0;
        char what[96], err[512];
        snprintf(what, sizeof what, "summary checkpoint state %zu of %zu", i + 1, n);
        const char *why = h->checkpoint_state(ctx, i, &state, &len) != PWALK_OK || !state
                              ? "not given by the engine"
                              : summ_ckpt_unpack(state, len, left, &part, &plen);
        if (why) {
            h->set_error(ctx, "%s: %s", what, why);
            return PWALK_ERR_CONFIG;
        }
        if (i == 0) /* the scan's first start, the origin of every age */
            (void)summ_partial_start(part, plen, &c->start_sec);
        if (summ_partial_decode(into, c, part, plen, what, err, sizeof err) != 0) {
            h->set_error(ctx, "%s", err);
            return PWALK_ERR_CONFIG;
        }
    }
#else
    (void)h, (void)ctx, (void)into, (void)c, (void)left;
#endif
    return PWALK_OK;
}

/* Is name a temporary outfile made for path? */
static int summ_temp_of(const char *name, const char *path)
{
    const char *slash = strrchr(path, '/');
    return outfile_is_tmp_of(name, slash ? slash + 1 : path);
}

int summ_sink_open(outfile *o, const char *path, int mode, summ_leftovers *left, char *err,
                   size_t errlen)
{
    for (size_t i = 0; strcmp(path, "-") != 0 && i < left->count; i++) {
        if (!summ_temp_of(left->names[i], path) ||
            outfile_resume(o, path, left->names[i], 0, err, errlen) != 0)
            continue; /* gone (removed by hand): a new one below */
        free(left->names[i]);
        left->names[i] = left->names[--left->count];
        return 0;
    }
    return outfile_open_mode(o, path, mode, err, errlen);
}

int summ_sink_adopt(const pwalk_host *h, pwalk_host_ctx *ctx, outfile *o, summ_leftovers *left)
{
    int rc = PWALK_OK;
    for (size_t i = 0; i < left->count && rc == PWALK_OK; i++)
        if (strcmp(left->names[i], o->tmp_name ? o->tmp_name : "") != 0 &&
            outfile_adopt_part(o, left->names[i]) != 0) {
            h->set_error(ctx, "out of memory");
            rc = PWALK_ERR_NOMEM;
        }
    summ_leftovers_free(left);
    return rc;
}

/* The roots when the engine gives no facts: the directories seen as roots. */
static const char **summ_roots_seen(const summ_result *res, size_t *count)
{
    const char **roots = malloc((res->dir_count ? res->dir_count : 1) * sizeof *roots);
    *count = 0;
    for (size_t i = 0; roots && i < res->dir_count; i++)
        if (res->dirs[i]->flags & SUMM_DIR_ROOT)
            roots[(*count)++] = res->dirs[i]->path;
    return roots;
}

void summ_sink_facts(const pwalk_host *h, pwalk_host_ctx *ctx, const char *hostname,
                     uint32_t workers, int64_t start_sec, const summ_result *res,
                     summ_facts *f, const char ***own_roots)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    summ_facts d = {NULL, hostname, NULL, 0, workers, 1, start_sec, (int64_t)now.tv_sec,
                    -1, -1, -1, 1, NULL, {start_sec, (int64_t)now.tv_sec}};
    *f = d;
    f->sessions = &f->own_session;
    *own_roots = NULL;
#if PWALK_ABI_MINOR >= 3
    pwalk_scan_facts e;
    if (summ_scan_facts(h, ctx, &e)) {
        f->version = e.version;
        f->hostname = e.hostname ? e.hostname : hostname;
        f->roots = e.roots;
        f->root_count = e.root_count;
        f->threads = e.thread_count;
        f->ranks = e.ranks;
        if (e.end_sec)
            f->end_sec = e.end_sec;
        f->own_session.end_sec = f->end_sec;
#if PWALK_ABI_MINOR >= 4
        if (PWALK_STRUCT_HAS(&e, pwalk_scan_facts, sessions) && e.session_count && e.sessions) {
            f->session_count = e.session_count;
            f->sessions = e.sessions;
        }
#endif
        f->entries = (int64_t)e.entries;
        f->errors = (int64_t)e.errors;
        f->filtered = (int64_t)e.filtered;
        return;
    }
#endif
    *own_roots = summ_roots_seen(res, &f->root_count);
    f->roots = *own_roots;
}
