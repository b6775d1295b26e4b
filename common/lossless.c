/*
 * lossless.c -- see lossless.h.  The escape runs for both text fields of
 * every csv row on every worker: runs of plain bytes are found first and
 * copied with one memcpy, and nothing here calls printf.
 */
#include "common/lossless.h"

#include <string.h>

static const char lossless_hex[] = "0123456789abcdef";

/* Length of the well-formed UTF-8 sequence of two to four bytes at p, of
 * which at most `left` bytes may be read; 0 if there is none (ASCII bytes
 * included).  RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF -- anything looser lets a name make a report invalid UTF-8 for
 * DuckDB. */
static size_t lossless_utf8_len(const unsigned char *p, size_t left)
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

/* Bytes every quoting copies as they are: printable ASCII but '"' and '\'.
 * Paths are nearly all such bytes. */
static int lossless_is_plain(unsigned char b)
{
    return b >= 0x20 && b < 0x7F && b != '"' && b != '\\';
}

/* One byte that is not plain, or the UTF-8 sequence it starts, at p (left
 * bytes readable); returns how many input bytes it took. */
static size_t lossless_escape_one(char **op, const unsigned char *p, size_t left,
                                  lossless_quote q)
{
    char *o = *op;
    unsigned char b = p[0];
    size_t n = 1;
    if (b == '"') {
        if (q == LOSSLESS_JSON)
            *o++ = '\\';
        else if (q == LOSSLESS_CSV)
            *o++ = '"';
        *o++ = '"';
    } else if (b == '\\') {
        *o++ = '\\';
        *o++ = '\\';
        if (q == LOSSLESS_JSON) {
            *o++ = '\\';
            *o++ = '\\';
        }
    } else if (b >= 0x80 && (n = lossless_utf8_len(p, left)) != 0) {
        memcpy(o, p, n);
        o += n;
    } else {
        n = 1;
        *o++ = '\\';
        if (q == LOSSLESS_JSON)
            *o++ = '\\';
        *o++ = 'x';
        *o++ = lossless_hex[b >> 4];
        *o++ = lossless_hex[b & 15];
    }
    *op = o;
    return n;
}

size_t lossless_escape(char *out, const char *in, size_t len, lossless_quote q)
{
    const unsigned char *p = (const unsigned char *)in;
    char *o = out;
    size_t i = 0;
    while (i < len) {
        size_t run = i;
        while (run < len && lossless_is_plain(p[run]))
            run++;
        if (run > i) {
            memcpy(o, p + i, run - i);
            o += run - i;
            i = run;
            if (i == len)
                break;
        }
        i += lossless_escape_one(&o, p + i, len - i, q);
    }
    return (size_t)(o - out);
}

size_t lossless_piece(const char *in, size_t len, size_t max)
{
    const unsigned char *p = (const unsigned char *)in;
    if (len <= max)
        return len;
    /* A cut before a byte that is no continuation byte (10xxxxxx) splits
     * nothing.  Nor does one before four continuation bytes in a row: a
     * well-formed sequence has at most three. */
    for (size_t k = max; k > max - 4; k--)
        if ((p[k] & 0xC0) != 0x80)
            return k;
    return max;
}

static int lossless_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long lossless_unescape(const char *in, size_t len, char *out, lossless_quote q)
{
    char *o = out;
    if (q != LOSSLESS_BARE && q != LOSSLESS_CSV)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '"' && q == LOSSLESS_CSV) {
            if (i + 1 >= len || in[i + 1] != '"')
                return -1;
            *o++ = '"';
            i++;
        } else if (c == '\\') {
            if (i + 1 < len && in[i + 1] == '\\') {
                *o++ = '\\';
                i++;
            } else if (i + 3 < len && in[i + 1] == 'x' && lossless_hexval(in[i + 2]) >= 0 &&
                       lossless_hexval(in[i + 3]) >= 0) {
                *o++ = (char)(lossless_hexval(in[i + 2]) * 16 + lossless_hexval(in[i + 3]));
                i += 3;
            } else {
                return -1;
            }
        } else {
            *o++ = c;
        }
    }
    return (long)(o - out);
}
