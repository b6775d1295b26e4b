/*
 * human.h -- a count or rate in few characters: 1234 -> "1234",
 * 12345 -> "12.3k", 1234567 -> "1.23M".
 *
 * One rule for the library's end-of-scan summary and pwalk-engine's live
 * progress line, which show the same numbers side by side.  Header-only,
 * like outname.h: the driver links nothing but libpwalk's public API.
 */
#ifndef PWALK_COMMON_HUMAN_H
#define PWALK_COMMON_HUMAN_H

#include <stdio.h>

static inline void human_number(char *out, size_t len, double v)
{
    if (v >= 1e9)
        snprintf(out, len, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(out, len, "%.2fM", v / 1e6);
    else if (v >= 1e4)
        snprintf(out, len, "%.1fk", v / 1e3);
    else
        snprintf(out, len, "%.0f", v);
}

#endif
