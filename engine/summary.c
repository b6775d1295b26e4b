/*
 * summary.c -- the end-of-scan summary, formatted into memory.
 *
 * The text is what pwalk-engine always printed (tests compare it), so the
 * format strings are unchanged; only the destination moved from stderr to a
 * string the scan keeps.
 */
#define _GNU_SOURCE
#include "summary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/csvrow.h"
#include "common/human.h"

/* " (EACCES 3, ENOENT 1)" after the error count */
static void summary_errnos(report *r, FILE *out)
{
    size_t kinds = report_errno_kinds(r);
    if (!kinds)
        return;
    fputs(" (", out);
    for (size_t k = 0; k < kinds; k++) {
        int e;
        uint64_t n;
        report_errno_kind(r, k, &e, &n);
        fprintf(out, "%s%s %llu", k ? ", " : "",
                strerrorname_np(e) ? strerrorname_np(e) : "E?", (unsigned long long)n);
    }
    fputs(")", out);
}

static void summary_filtered(const walk_stats *st, FILE *out)
{
    uint64_t filtered = 0;
    for (int i = 1; i < FILTER_REASON_COUNT; i++)
        filtered += st->filtered[i];
    fprintf(out, ", %llu filtered", (unsigned long long)filtered);
    if (!filtered)
        return;
    const char *sep = " (";
    for (int i = 1; i < FILTER_REASON_COUNT; i++)
        if (st->filtered[i]) {
            fprintf(out, "%s%s %llu", sep, filter_reason_name((enum filter_reason)i),
                    (unsigned long long)st->filtered[i]);
            sep = ", ";
        }
    fputs(")", out);
}

/* How entries were stat'ed, when scan.lazy_stat asked for statx (only
 * then: the usual line stays as it was), and an idle I/O class the kernel
 * refused. */
static void summary_walk_choices(const walk_stats *st, FILE *out)
{
    if (st->statx_refused)
        fprintf(out, ", stat: fstatat (statx AT_STATX_DONT_SYNC refused: %s)",
                strerrorname_np(st->statx_refused) ? strerrorname_np(st->statx_refused)
                                                   : "E?");
    else if (st->statx_used)
        fputs(", stat: statx AT_STATX_DONT_SYNC", out);
    if (st->ioprio_errno)
        fprintf(out, ", io_priority idle refused (%s)",
                strerrorname_np(st->ioprio_errno) ? strerrorname_np(st->ioprio_errno) : "E?");
}

/* The first errors, names escaped (they may hold control bytes). */
static void summary_examples(report *r, FILE *out)
{
    size_t shown = report_example_count(r);
    for (size_t i = 0; i < shown; i++) {
        int e;
        const char *op;
        const char *path = report_example_at(r, i, &e, &op);
        size_t len = strlen(path);
        char *esc = malloc(4 * len + 1);
        int dropped = 0;
        if (esc) {
            esc[csvrow_escape(esc, path, len, CSVROW_ESCAPE_LOSSLESS, &dropped)] = '\0';
            fprintf(out, "pwalk: %s: %s (%s)\n", esc, strerror(e), op);
            free(esc);
        }
    }
    uint64_t errors = report_error_count(r);
    if (errors > shown)
        fprintf(out, "pwalk: ... and %llu more errors\n",
                (unsigned long long)(errors - shown));
}

char *summary_text(report *r, const walk_stats *st, const sink_set *sinks, size_t sessions,
                   uint64_t session_entries)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return NULL;
    char rate[32];
    if (sessions <= 1)
        session_entries = st->entries;
    human_number(rate, sizeof rate,
                 st->seconds > 0 ? (double)session_entries / st->seconds : 0);
    if (sessions > 1)
        fprintf(out, "pwalk: %llu entries in %zu sessions (this one %llu in %.2f s, %s/s): "
                     "%llu rows, %llu errors",
                (unsigned long long)st->entries, sessions, (unsigned long long)session_entries,
                st->seconds, rate, (unsigned long long)st->rows,
                (unsigned long long)report_error_count(r));
    else
        fprintf(out, "pwalk: %llu entries in %.2f s (%s/s): %llu rows, %llu errors",
                (unsigned long long)st->entries, st->seconds, rate,
                (unsigned long long)st->rows, (unsigned long long)report_error_count(r));
    summary_errnos(r, out);
    uint64_t vanished = report_vanished_count(r), replaced = report_replaced_count(r);
    if (vanished) { /* only then: the usual line stays as it was */
        fprintf(out, ", %llu vanished", (unsigned long long)vanished);
        if (replaced)
            fprintf(out, " (gone %llu, replaced %llu)",
                    (unsigned long long)(vanished - replaced), (unsigned long long)replaced);
    }
    summary_filtered(st, out);
    summary_walk_choices(st, out);
    for (size_t i = 0; i < sinks_count(sinks); i++)
        fprintf(out, "; sink '%s': %llu rows", sinks_name(sinks, i),
                (unsigned long long)sinks_rows(sinks, i));
    fputc('\n', out);
    summary_examples(r, out);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
