/*
 * prom.h -- the `prometheus` sink's text: the summary's finalized
 * aggregate (plugins/summary, summ.h) as a Prometheus text exposition
 * (format 0.0.4, what node_exporter's textfile collector reads).
 * README.md here lists every metric family it writes.
 */
#ifndef PWALK_PROMETHEUS_PROM_H
#define PWALK_PROMETHEUS_PROM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "summ.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PROM_LABELS_MAX 16 /* constant labels accepted */

/* What the text depends on besides the aggregate. */
typedef struct prom_conf {
    const char *prefix;                     /* metric name prefix ("pwalk_") */
    const char *label_names[PROM_LABELS_MAX];
    const char *label_values[PROM_LABELS_MAX];
    size_t label_count;                     /* constant labels, on every series */
    int64_t top_k;                          /* users/groups/tops kept apart */
} prom_conf;

/* The scan's facts; have_counts 0: entries/errors/filtered unknown (an
 * engine older than ABI 1.3), their families are left out. */
typedef struct prom_scan {
    const char *version;                    /* NULL: unknown */
    int64_t start_sec, end_sec;
    double duration;                        /* seconds */
    int have_counts;
    uint64_t entries, errors, filtered;
    uint32_t sessions;                      /* 1 unless resumed (0: 1) */
} prom_scan;

/* Check prefix and "name=value" constant labels into c (names as the
 * exposition format allows, not reserved, not repeated).  0, or -1 with a
 * one-line message naming the option and the value. */
int prom_check_prefix(const char *prefix, char *err, size_t errlen);
int prom_parse_label(prom_conf *c, const char *item, char *err, size_t errlen);

/* A label value as the exposition format takes it: the lossless text of
 * the bytes (common/lossless.h: valid UTF-8, a backslash doubled, control
 * and invalid bytes as \xHH), then backslash, double quote and newline
 * escaped.  lossless 0: only the exposition escaping (constant labels). */
void prom_label_value(FILE *out, const char *s, size_t len, int lossless);

/* Write the whole exposition of r (finalized from a with sc) to out.
 * 0, or -1 when out of memory. */
int prom_render(FILE *out, const prom_conf *pc, const summ_conf *sc, const summ_result *r,
                const summ_agg *a, const prom_scan *s);

#ifdef __cplusplus
}
#endif

#endif
