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
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
                          void **tstate)
{
    summ_worker *w = malloc(sizeof *w);
    if (!w) {
        h->set_error(ctx, "out of memory");
        return PWALK_ERR_NOMEM;
    }
    summ_worker_init(w, c);
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
                           void *tstate)
{
    summ_worker *w = tstate;
    if (!w)
        return PWALK_OK;
    int rc = summ_agg_absorb(into, &w->agg);
    free(w);
    if (rc != 0) {
        h->set_error(ctx, "out of memory merging the workers' aggregates");
        return PWALK_ERR_NOMEM;
    }
    return PWALK_OK;
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
                    -1, -1, -1};
    *f = d;
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
        f->entries = (int64_t)e.entries;
        f->errors = (int64_t)e.errors;
        f->filtered = (int64_t)e.filtered;
        return;
    }
#endif
    *own_roots = summ_roots_seen(res, &f->root_count);
    f->roots = *own_roots;
}
