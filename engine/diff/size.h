/*
 * size.h -- SIZE arguments of pwalk-diff (--memory, --fail-if-growth) and
 * byte counts for people.  pwalk had no size option before this tool, so
 * the rule is du's and sort -S's: a whole number and an optional K M G T P
 * (powers of 1024, either case, "KiB"/"KB"/"B" spellings accepted).
 */
#ifndef PWALK_DIFF_SIZE_H
#define PWALK_DIFF_SIZE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 0 and *out, or -1 when text is not a SIZE or overflows 64 bits. */
int dsize_parse(const char *text, uint64_t *out);

/* bytes as "1.50 GiB", "12 B", with a sign when signed_ is set
 * ("+1.50 GiB", "-3 B"). */
void dsize_human(char *out, size_t len, int64_t bytes, int signed_);

#ifdef __cplusplus
}
#endif

#endif
