/*
 * sink.c -- what every sink built on the summary's aggregate does the
 * same way (summary.c, plugins/prometheus; plugins/html can use it too):
 * the age_days option, the engine's scan facts, and the per-worker
 * lifecycle (a summ_worker per thread, entries folded in, absorbed into
 * the instance's aggregate at thread_close()).  One copy, so the sinks of
 * one walk cannot drift apart in how they read an option or fold an entry.
 */
#include <stdlib.h>
#include <string.h>

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
