/*
 * digest.c -- the summary for a human at the end of the scan (print: true,
 * or auto on a terminal): the totals, the top 10 users and directories by
 * bytes, and bytes per mtime age bucket drawn as text bars.  Each line goes
 * through host->log, like every line a sink prints.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/lossless.h"
#include "summ.h"

#define SUMM_DIGEST_ROWS 10
#define SUMM_BAR_WIDTH 40

static const char *summ_human_bytes(uint64_t b, char *buf, size_t cap)
{
    static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (b < 1024) {
        snprintf(buf, cap, "%" PRIu64 " B", b);
        return buf;
    }
    double v = (double)b;
    int u = -1;
    while (v >= 1024.0 && u < 5) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, cap, "%.1f %s", v, unit[u]);
    return buf;
}

static int summ_user_cmp(const void *x, const void *y)
{
    const summ_owner *a = *(const summ_owner *const *)x, *b = *(const summ_owner *const *)y;
    if (a->bytes != b->bytes)
        return a->bytes > b->bytes ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static void summ_digest_users(const pwalk_host *host, pwalk_host_ctx *ctx, const summ_result *r)
{
    const summ_owner **by = malloc((r->user_count ? r->user_count : 1) * sizeof *by);
    if (!by)
        return;
    for (size_t i = 0; i < r->user_count; i++)
        by[i] = &r->users[i];
    qsort(by, r->user_count, sizeof *by, summ_user_cmp);
    host->log(ctx, "top users by bytes:");
    for (size_t i = 0; i < r->user_count && i < SUMM_DIGEST_ROWS; i++) {
        size_t k = (size_t)(by[i] - r->users);
        const char *name = r->user_names[k];
        char b[32], num[16];
        snprintf(num, sizeof num, "%" PRIu32, by[i]->id);
        host->log(ctx, "  %-16s %12s  %10" PRIu64 " files", name ? name : num,
                  summ_human_bytes(by[i]->bytes, b, sizeof b), by[i]->files);
    }
    free(by);
}

static void summ_digest_dirs(const pwalk_host *host, pwalk_host_ctx *ctx, const summ_result *r)
{
    host->log(ctx, "largest directories:");
    for (size_t j = 0; j < r->rank_count[0] && j < SUMM_DIGEST_ROWS; j++) {
        size_t i = r->rank[0][j];
        const summ_dir *d = r->dirs[i];
        char *shown = malloc(LOSSLESS_ESCAPED_MAX(d->path_len) + 1);
        if (!shown)
            return;
        shown[lossless_escape(shown, d->path, d->path_len, LOSSLESS_BARE)] = '\0';
        char b[32];
        host->log(ctx, "  %12s  %10" PRIu64 " files  %s",
                  summ_human_bytes(SUMM_TOT(r, i).bytes, b, sizeof b), SUMM_TOT(r, i).files, shown);
        free(shown);
    }
}

static void summ_digest_ages(const pwalk_host *host, pwalk_host_ctx *ctx, const summ_result *r,
                             const summ_conf *c)
{
    uint64_t bytes[SUMM_AGE_MAX + 1] = {0}, most = 0;
    for (size_t i = 0; i < r->cell_count; i++) {
        size_t k = 0;
        while (k < c->age_count && c->age_days[k] <= r->cells[i]->key.mtime_age)
            k++;
        bytes[k] += r->cells[i]->bytes;
    }
    for (size_t k = 0; k <= c->age_count; k++)
        if (bytes[k] > most)
            most = bytes[k];
    host->log(ctx, "bytes by age of last modification:");
    for (size_t k = 0; k <= c->age_count; k++) {
        char label[48], b[32], bar[SUMM_BAR_WIDTH + 1];
        if (k == 0)
            snprintf(label, sizeof label, "< %d days", (int)c->age_days[0]);
        else if (k == c->age_count)
            snprintf(label, sizeof label, ">= %d days", (int)c->age_days[k - 1]);
        else
            snprintf(label, sizeof label, "%d-%d days", (int)c->age_days[k - 1],
                     (int)c->age_days[k] - 1);
        size_t n = most ? (size_t)((double)bytes[k] / (double)most * SUMM_BAR_WIDTH + 0.5) : 0;
        if (n == 0 && bytes[k])
            n = 1; /* some bytes: a visible bar */
        memset(bar, '#', n);
        bar[n] = '\0';
        host->log(ctx, "  %-16s %12s  %s", label, summ_human_bytes(bytes[k], b, sizeof b), bar);
    }
}

void summ_digest(const pwalk_host *host, pwalk_host_ctx *ctx, const summ_result *r,
                 const summ_agg *a, const summ_conf *c)
{
    (void)a;
    char b[32], al[32];
    host->log(ctx, "%" PRIu64 " files, %" PRIu64 " directories, %s (%s allocated)",
              r->total.files, r->total.dirs, summ_human_bytes(r->total.bytes, b, sizeof b),
              summ_human_bytes(r->total.allocated, al, sizeof al));
    summ_digest_users(host, ctx, r);
    summ_digest_dirs(host, ctx, r);
    summ_digest_ages(host, ctx, r, c);
}
