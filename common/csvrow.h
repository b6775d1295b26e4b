/*
 * csvrow.h -- the pwalk CSV row format (plugins/csv/FORMAT.md), shared
 * by the csv, csv-zstd, csv-gzip and csv-lz4 plugins.  A static library linked
 * into each plugin, not an engine service: plugins link no engine symbols.
 *
 * Formatting is by hand (no printf): it runs once per row on every worker.
 */
#ifndef PWALK_CSVROW_H
#define PWALK_CSVROW_H

#include <stddef.h>
#include <stdint.h>

#include "pwalk/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CSVROW_ESCAPE_LOSSLESS 0 /* default: every name round-trips, UTF-8 */
#define CSVROW_ESCAPE_DEY 1      /* pwalk's bytes: control bytes deleted   */

/* The header line, with its trailing newline. */
extern const char csvrow_header[];
extern const size_t csvrow_header_len;

/* Parse "lossless" / "dey"; returns the mode or -1. */
int csvrow_escape_mode(const char *name);

/* An upper bound on the bytes csvrow_format() writes for e. */
size_t csvrow_max_len(const pwalk_entry *e);

/* Write e's row, newline included, into out (at least csvrow_max_len(e)
 * bytes).  Returns the bytes written.  *dropped is set non-zero when escape
 * mode dey deleted control bytes from the name (the caller reports it). */
size_t csvrow_format(char *out, const pwalk_entry *e, int mode, int *dropped);

/* One quoted field's content, len bytes of in into out (at least 4*len
 * bytes), per mode: lossless -- common/lossless.h's text with '"' doubled
 * (lossless_escape(..., LOSSLESS_CSV); lossless_unescape(...,
 * LOSSLESS_CSV) gives the bytes back); dey -- '"' doubled, bytes < 0x20
 * deleted (*dropped set), the rest raw.  Returns bytes written. */
size_t csvrow_escape(char *out, const char *in, size_t len, int mode, int *dropped);

/* The extension rule: for non-directories, the bytes after the last '.' of
 * name when that dot is not name[0]; directories and roots: none.  Sets
 * *ext and *ext_len (ext_len 0 when none). */
void csvrow_extension(const char *name, size_t name_len, int is_dir_or_root,
                      const char **ext, size_t *ext_len);

#ifdef __cplusplus
}
#endif

#endif
