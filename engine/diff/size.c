/*
 * size.c -- SIZE arguments and human byte counts; see size.h.
 */
#include "size.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int dsize_parse(const char *text, uint64_t *out)
{
    const char *p = text;
    uint64_t v = 0;
    if (!isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    static const char units[] = "KMGTP";
    int shift = 0;
    if (*p) {
        const char *u = strchr(units, toupper((unsigned char)*p));
        if (u) {
            shift = 10 * (int)(u - units + 1);
            p++;
            if (*p == 'i' || *p == 'I')
                p++;
        }
        if (*p == 'B' || *p == 'b')
            p++;
        if (*p)
            return -1;
    }
    if (shift && v > (UINT64_MAX >> shift))
        return -1;
    *out = v << shift;
    return 0;
}

void dsize_human(char *out, size_t len, int64_t bytes, int signed_)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    const char *sign = bytes < 0 ? "-" : signed_ ? "+" : "";
    uint64_t mag = bytes < 0 ? (uint64_t)0 - (uint64_t)bytes : (uint64_t)bytes;
    if (mag < 1024) {
        snprintf(out, len, "%s%llu B", sign, (unsigned long long)mag);
        return;
    }
    double v = (double)mag;
    int u = 0;
    while (v >= 1024 && u < 6) {
        v /= 1024;
        u++;
    }
    snprintf(out, len, "%s%.2f %s", sign, v, units[u]);
}
