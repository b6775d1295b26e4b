/*
 * lossless.h -- the one definition of "valid UTF-8" behind pwalk's lossless
 * text (../shared/notes/csv-format.md, escape: lossless).
 *
 * Every text pwalk writes that carries a file name -- the csv reports, the
 * repair log, the MPI manifest -- keeps valid UTF-8 as it is and writes any
 * other byte as \xHH, so that DuckDB and strict JSON readers accept the file
 * and the exact bytes come back.  Those writers must agree byte for byte on
 * what "valid" means, or a name would be kept raw in one file and escaped in
 * the other and joins between them would miss; so they share this function
 * instead of each carrying a copy.
 *
 * Header-only and static inline: the csv row formatter calls it in its hot
 * loop, and the plugins link no engine symbols.
 */
#ifndef PWALK_COMMON_LOSSLESS_H
#define PWALK_COMMON_LOSSLESS_H

#include <stddef.h>

/* Length of the well-formed UTF-8 sequence of two to four bytes at p, of
 * which at most `left` bytes may be read; 0 if there is none (ASCII bytes
 * included: callers decide about those, which differ per output).
 * RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF --
 * anything looser lets a name make a report invalid UTF-8 for DuckDB. */
static inline size_t lossless_utf8_len(const unsigned char *p, size_t left)
{
    unsigned char b = p[0];
    unsigned char lo = 0x80, hi = 0xBF; /* the allowed range of the 2nd byte */
    size_t n;
    if (b >= 0xC2 && b <= 0xDF) {
        n = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
        n = 3;
        if (b == 0xE0)
            lo = 0xA0; /* overlong below U+0800 */
        else if (b == 0xED)
            hi = 0x9F; /* U+D800..U+DFFF, surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 4;
        if (b == 0xF0)
            lo = 0x90; /* overlong below U+10000 */
        else if (b == 0xF4)
            hi = 0x8F; /* past U+10FFFF */
    } else {
        return 0;
    }
    if (left < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

#endif
