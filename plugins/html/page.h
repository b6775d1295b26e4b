/*
 * page.h -- the html sink's page: the constant parts (assets.h, made at
 * build time from page.html, report.css, report.js and Debian's d3) around
 * the scan's data as one JSON document (README.md says what it holds).
 */
#ifndef PWALK_HTML_PAGE_H
#define PWALK_HTML_PAGE_H

#include <stddef.h>
#include <stdint.h>

#include "common/outfile.h"
#include "summ.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How much of the directory tree the page holds. */
typedef struct html_limits {
    int64_t max_children;   /* largest subdirectories kept per directory */
    int64_t max_depth;      /* levels below a root                       */
    int64_t max_nodes;      /* directories in the whole tree             */
} html_limits;

/* Write the whole page into o (open).  r is the finalized aggregate (r and
 * c as the summary sink's finalize.c leaves them), f the scan's facts
 * (unknown counts -1), title NULL or the page's title.  0, or -1 with a
 * message in err. */
int html_write_page(outfile *o, const summ_result *r, const summ_conf *c, const summ_facts *f,
                    const html_limits *lim, const char *title, char *err, size_t errlen);

/* The JSON string of len bytes of s, quotes included, into out (at least
 * HTML_JSON_MAX(len) bytes, of which the result uses at most 6 * len + 2;
 * the rest is room for the intermediate text): lossless text (common/lossless.h) with '<',
 * '>', '&', U+2028 and U+2029 as \u escapes, so that it can stand inside a
 * <script> element and in any JavaScript source.  Returns the bytes
 * written (no NUL). */
#define HTML_JSON_MAX(len) (11 * (size_t)(len) + 2)
size_t html_json_string(char *out, const char *s, size_t len);

#ifdef __cplusplus
}
#endif

#endif
