/*
 * csv_fuzz.c -- the report's escaping and row format (common/csvrow.c) on any name bytes.
 *
 * Input: byte 0 = flags (bit 0: the entry is a directory; bit 1: a root;
 * bits 2-7: where the entry's own name starts, as a fraction of the path),
 * the rest = the path's bytes (a real path holds no NUL, so NULs are
 * replaced by '/'; names in the path may hold any other byte).
 *
 * Properties:
 *  - lossless: the output holds no byte < 0x20 and no DEL, is valid UTF-8
 *    (DuckDB refuses anything else), fits the documented 4x bound, and
 *    lossless_unescape() gives back exactly the input bytes;
 *  - dey: the output is the input with bytes < 0x20 deleted and '"'
 *    doubled, never a byte < 0x20, and *dropped says whether it deleted;
 *  - lossless_unescape() on arbitrary bytes stays inside its len-byte output;
 *  - a formatted row fits csvrow_max_len(), is ONE line of 17 CSV fields,
 *    its filename field unescapes to the path and its extension field is
 *    the documented rule's.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/csvrow.h"
#include "common/lossless.h"
#include "tests/fuzz/fuzz_check.h"

static void check_lossless(const char *in, size_t len)
{
    char *out = malloc(4 * len + 1);
    int dropped = 0;
    size_t n = csvrow_escape(out, in, len, CSVROW_ESCAPE_LOSSLESS, &dropped);
    FUZZ_CHECK(n <= 4 * len, "lossless wrote %zu bytes for %zu", n, len);
    FUZZ_CHECK(!dropped, "lossless dropped bytes");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        FUZZ_CHECK(c >= 0x20 && c != 0x7f, "lossless emitted byte 0x%02x at %zu", c, i);
    }
    size_t bad = fuzz_utf8_valid_prefix((const unsigned char *)out, n);
    FUZZ_CHECK(bad == n, "lossless output not UTF-8 at offset %zu of %zu", bad, n);
    /* quotes only in pairs: the field can be wrapped in quotes as is */
    for (size_t i = 0; i < n; i++)
        if (out[i] == '"') {
            FUZZ_CHECK(i + 1 < n && out[i + 1] == '"', "lone quote at %zu", i);
            i++;
        }

    char *back = malloc(n ? n : 1);
    long m = lossless_unescape(out, n, back, LOSSLESS_CSV);
    FUZZ_CHECK(m >= 0, "unescape refused escape's own output");
    FUZZ_CHECK((size_t)m == len && memcmp(back, in, len) == 0,
               "round trip changed the bytes (%zu in, %ld back)", len, m);
    free(back);
    free(out);
}

static void check_dey(const char *in, size_t len)
{
    char *out = malloc(2 * len + 1); /* dey grows only by doubled quotes */
    char *want = malloc(2 * len + 1);
    size_t w = 0;
    int had_control = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x20)
            had_control = 1;
        else if (c == '"')
            want[w++] = '"', want[w++] = '"';
        else
            want[w++] = (char)c;
    }
    int dropped = 0;
    size_t n = csvrow_escape(out, in, len, CSVROW_ESCAPE_DEY, &dropped);
    FUZZ_CHECK(n == w && memcmp(out, want, n) == 0, "dey output differs from the rule");
    FUZZ_CHECK(!dropped == !had_control, "dropped=%d but control bytes present=%d", dropped,
               had_control);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((unsigned char)out[i] >= 0x20, "dey emitted 0x%02x", (unsigned char)out[i]);
    free(out);
    free(want);
}

static void check_unescape_any(const char *in, size_t len)
{
    char *out = malloc(len ? len : 1);
    long m = lossless_unescape(in, len, out, LOSSLESS_CSV);
    FUZZ_CHECK(m >= -1 && m <= (long)len, "unescape returned %ld for %zu bytes", m, len);
    free(out);
}

/* Split one CSV line (no trailing newline) into fields; quoted fields keep
 * their content with "" still doubled.  Returns the field count. */
static size_t split_csv(const char *s, size_t n, const char **f, size_t *fl, size_t max)
{
    size_t count = 0, i = 0;
    for (;;) {
        const char *start;
        size_t len;
        if (i < n && s[i] == '"') {
            start = s + ++i;
            while (i < n && !(s[i] == '"' && (i + 1 >= n || s[i + 1] != '"')))
                i += s[i] == '"' ? 2 : 1;
            FUZZ_CHECK(i < n, "unterminated quoted field");
            len = (size_t)(s + i - start);
            i++;
        } else {
            start = s + i;
            while (i < n && s[i] != ',')
                i++;
            len = (size_t)(s + i - start);
        }
        if (count < max) {
            f[count] = start;
            fl[count] = len;
        }
        count++;
        if (i >= n)
            return count;
        FUZZ_CHECK(s[i] == ',', "junk after a quoted field at %zu", i);
        i++;
    }
}

static void check_row(const char *path, size_t len, unsigned flags, int mode)
{
    pwalk_entry e;
    memset(&e, 0, sizeof e);
    e.struct_size = sizeof e;
    e.path = path;
    e.path_len = (uint32_t)len;
    e.name_offset = (uint32_t)(len * (flags >> 2) / 63);
    e.name = path + e.name_offset;
    e.flags = (flags & 2) ? PWALK_ENTRY_ROOT : 0;
    e.mode = (flags & 1) ? 040755 : 0100644;
    e.depth = (flags & 2) ? -1 : (int32_t)(flags >> 2);
    e.ino = UINT64_MAX;
    e.parent_ino = 0;
    e.size = INT64_MIN;
    e.blocks = INT64_MAX;
    e.atime_sec = -1;
    e.fcount = (flags & 1) ? 12345 : -1;
    e.dirsum = INT64_MIN + 1;

    size_t cap = csvrow_max_len(&e);
    char *row = malloc(cap);
    int dropped = 0;
    size_t n = csvrow_format(row, &e, mode, &dropped);
    FUZZ_CHECK(n <= cap && n > 0, "row of %zu bytes, bound %zu", n, cap);
    FUZZ_CHECK(row[n - 1] == '\n', "row does not end in a newline");
    FUZZ_CHECK(memchr(row, '\n', n - 1) == NULL, "row has a newline inside (mode %d)", mode);
    FUZZ_CHECK(memchr(row, '\r', n) == NULL, "row has a carriage return (mode %d)", mode);
    if (mode == CSVROW_ESCAPE_LOSSLESS) {
        size_t bad = fuzz_utf8_valid_prefix((const unsigned char *)row, n);
        FUZZ_CHECK(bad == n, "row not UTF-8 at %zu", bad);
    }

    const char *f[20];
    size_t fl[20];
    size_t nf = split_csv(row, n - 1, f, fl, 20);
    FUZZ_CHECK(nf == 17, "row has %zu fields", nf);

    if (mode == CSVROW_ESCAPE_LOSSLESS) {
        char *back = malloc(fl[3] ? fl[3] : 1);
        long m = lossless_unescape(f[3], fl[3], back, LOSSLESS_CSV);
        FUZZ_CHECK(m == (long)len && memcmp(back, path, len) == 0,
                   "filename field does not give back the path");
        free(back);

        /* the extension rule, independently */
        const char *name = path + e.name_offset;
        size_t nl = len - e.name_offset;
        size_t want_off = nl, want_len = 0;
        if (!((flags & 1) || (flags & 2)))
            for (size_t i = nl; i-- > 1;)
                if (name[i] == '.') {
                    want_off = i + 1;
                    want_len = nl - i - 1;
                    break;
                }
        back = malloc(fl[4] ? fl[4] : 1);
        m = lossless_unescape(f[4], fl[4], back, LOSSLESS_CSV);
        FUZZ_CHECK(m == (long)want_len && memcmp(back, name + want_off, want_len) == 0,
                   "extension field wrong");
        free(back);
    }
    free(row);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    const char *in = (const char *)data + 1;
    size_t len = size - 1;

    check_lossless(in, len);
    check_dey(in, len);
    check_unescape_any(in, len);

    /* a path: bytes as given, NUL impossible in a path */
    char *path = malloc(len + 1);
    memcpy(path, in, len);
    for (size_t i = 0; i < len; i++)
        if (path[i] == '\0')
            path[i] = '/';
    path[len] = '\0';
    check_row(path, len, flags, CSVROW_ESCAPE_LOSSLESS);
    check_row(path, len, flags, CSVROW_ESCAPE_DEY);
    free(path);
    return 0;
}
