/*
 * row.c -- parsing pwalk report lines into drow records; see row.h.
 * Runs once per row on every worker thread: by hand, no sscanf.
 */
#define _GNU_SOURCE
#include "row.h"

#include "common/csvrow.h"
#include "common/lossless.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define DROW_COLUMNS 17

int drow_is_header(const char *line, size_t len)
{
    return len >= 6 && memcmp(line, "inode,", 6) == 0;
}

int drow_check_header(const char *line, size_t len)
{
    size_t want = csvrow_header_len - 1; /* without its newline */
    if (len > 0 && line[len - 1] == '\r')
        len--;
    return len == want && memcmp(line, csvrow_header, want) == 0 ? 0 : -1;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629), 0 if none. */
static size_t drow_utf8_len(const unsigned char *p, size_t left)
{
    unsigned c = p[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else
        return 0;
    if (left < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

static int drow_is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int drow_line_escape(const char *line, size_t len)
{
    const unsigned char *p = (const unsigned char *)line;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        if (c < 0x20 || c == 0x7f)
            return DROW_ESC_DEY;
        if (c == '\\') {
            if (i + 1 < len && p[i + 1] == '\\')
                i += 2;
            else if (i + 3 < len && p[i + 1] == 'x' && drow_is_hex(p[i + 2]) &&
                     drow_is_hex(p[i + 3]))
                i += 4;
            else
                return DROW_ESC_DEY;
        } else if (c < 0x80) {
            i++;
        } else {
            size_t n = drow_utf8_len(p + i, len - i);
            if (!n)
                return DROW_ESC_DEY;
            i += n;
        }
    }
    return DROW_ESC_LOSSLESS;
}

char drow_type_char(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return 'f';
    case S_IFDIR: return 'd';
    case S_IFLNK: return 'l';
    case S_IFIFO: return 'p';
    case S_IFSOCK: return 's';
    case S_IFCHR: return 'c';
    case S_IFBLK: return 'b';
    default: return '?';
    }
}

/* A cursor over one line's fields. */
typedef struct drow_cur {
    const char *p, *end;
    int col;            /* the column being read, 1-based, for messages */
    char *err;
    size_t errlen;
} drow_cur;

static const char *const drow_names[DROW_COLUMNS] = {
    "inode", "parent-inode", "directory-depth", "filename", "fileExtension", "UID", "GID",
    "st_size", "st_dev", "st_blocks", "st_nlink", "st_mode", "st_atime", "st_mtime",
    "st_ctime", "pw_fcount", "pw_dirsum"};

static int drow_fail(drow_cur *c, const char *what)
{
    int col = c->col >= 1 && c->col <= DROW_COLUMNS ? c->col : DROW_COLUMNS;
    snprintf(c->err, c->errlen, "column %d (%s): %s", c->col, drow_names[col - 1], what);
    return -1;
}

/* The separator after a field: a comma, or the end after the last one. */
static int drow_next(drow_cur *c)
{
    if (c->col == DROW_COLUMNS) {
        if (c->p == c->end || (c->p + 1 == c->end && *c->p == '\r'))
            return 0;
        return drow_fail(c, "more than 17 columns: not a pwalk report");
    }
    if (c->p == c->end)
        return drow_fail(c, "the line ends here: fewer than 17 columns, not a pwalk report");
    if (*c->p != ',')
        return drow_fail(c, "unexpected character after the field");
    c->p++;
    c->col++;
    return 0;
}

/* A decimal integer field, optionally negative. */
static int drow_int(drow_cur *c, int64_t lo, uint64_t hi, int64_t *neg_out, uint64_t *out)
{
    int neg = c->p < c->end && *c->p == '-';
    const char *s = c->p + neg;
    uint64_t v = 0;
    const char *q = s;
    /* 19 digits cannot overflow: the check is for longer numbers only */
    const char *fast = c->end - s > 19 ? s + 19 : c->end;
    while (q < fast && (unsigned)(*q - '0') < 10)
        v = v * 10 + (unsigned)(*q++ - '0');
    while (q < c->end && *q >= '0' && *q <= '9') {
        unsigned d = (unsigned)(*q - '0');
        if (v > (UINT64_MAX - d) / 10)
            return drow_fail(c, "number out of range");
        v = v * 10 + d;
        q++;
    }
    if (q == s)
        return drow_fail(c, "not a number");
    if ((neg && (lo >= 0 || v > (uint64_t)(-(lo + 1)) + 1)) || (!neg && v > hi))
        return drow_fail(c, "number out of range");
    c->p = q;
    if (neg_out)
        *neg_out = neg ? (int64_t)(0 - v) : (int64_t)v;
    if (out)
        *out = v;
    return drow_next(c);
}

/* A number column pwalk-diff does not use: checked to be one, not read. */
static int drow_skip(drow_cur *c)
{
    const char *q = c->p + (c->p < c->end && *c->p == '-');
    const char *s = q;
    while (q < c->end && (unsigned)(*q - '0') < 10)
        q++;
    if (q == s || q - s > 20)
        return drow_fail(c, q == s ? "not a number" : "number out of range");
    c->p = q;
    return drow_next(c);
}

static int drow_i64(drow_cur *c, int64_t *out)
{
    return drow_int(c, INT64_MIN, INT64_MAX, out, NULL);
}

static int drow_u64(drow_cur *c, uint64_t *out)
{
    return drow_int(c, 0, UINT64_MAX, NULL, out);
}

static int drow_u32(drow_cur *c, uint32_t *out)
{
    uint64_t v;
    if (drow_int(c, 0, UINT32_MAX, NULL, &v) != 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* A quoted field: *s, *n the text between the quotes (still escaped). */
static int drow_quoted(drow_cur *c, const char **s, size_t *n)
{
    if (c->p == c->end || *c->p != '"')
        return drow_fail(c, "expected a quoted field");
    const char *q = c->p + 1;
    for (;;) {
        q = memchr(q, '"', (size_t)(c->end - q));
        if (!q)
            return drow_fail(c, "unterminated quoted field");
        if (q + 1 < c->end && q[1] == '"') {
            q += 2;
            continue;
        }
        break;
    }
    *s = c->p + 1;
    *n = (size_t)(q - *s);
    c->p = q + 1;
    return drow_next(c);
}

/* The path's bytes from its field text, per escaping: lossless text, or
 * dey's (only "" to undo). */
static long drow_unescape(drow_cur *c, const char *s, size_t n, int esc, char *out)
{
    if (!memchr(s, '\\', n) && !memchr(s, '"', n)) { /* most names: nothing to undo */
        memcpy(out, s, n);
        return (long)n;
    }
    if (esc != DROW_ESC_DEY) {
        long k = lossless_unescape(s, n, out, LOSSLESS_CSV);
        if (k < 0)
            drow_fail(c, "not lossless text (a backslash not followed by \\ or xHH)");
        return k;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        out[k++] = s[i];
        if (s[i] == '"')
            i++; /* "" is one quote: the scan of drow_quoted() saw the pair */
    }
    return (long)k;
}

/* The octal "st_mode" field. */
static int drow_mode(drow_cur *c, uint32_t *mode)
{
    const char *s;
    size_t n;
    int col = c->col;
    if (drow_quoted(c, &s, &n) != 0)
        return -1;
    uint32_t v = 0;
    c->col = col; /* drow_quoted() moved on to the next column */
    if (n == 0 || n > 11)
        return drow_fail(c, "not an octal mode");
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '7')
            return drow_fail(c, "not an octal mode");
        v = v * 8 + (uint32_t)(s[i] - '0');
    }
    *mode = v;
    c->col = col + 1;
    return 0;
}

long drow_parse(const char *line, size_t len, int esc, void *out, char *err, size_t errlen)
{
    drow_cur c = {line, line + len, 1, err, errlen};
    drow *r = out;
    int64_t depth;
    const char *name, *ext;
    size_t name_n, ext_n;
    memset(r, 0, sizeof *r);
    if (drow_u64(&c, &r->ino) || drow_skip(&c) || drow_i64(&c, &depth) ||
        drow_quoted(&c, &name, &name_n) || drow_quoted(&c, &ext, &ext_n) ||
        drow_u32(&c, &r->uid) || drow_u32(&c, &r->gid) || drow_i64(&c, &r->size) ||
        drow_u64(&c, &r->dev) || drow_skip(&c) || drow_skip(&c) || drow_mode(&c, &r->mode) ||
        drow_skip(&c) || drow_i64(&c, &r->mtime) || drow_i64(&c, &r->ctime) ||
        drow_skip(&c) || drow_skip(&c))
        return -1;
    if (depth < -1 || depth > INT32_MAX) {
        c.col = 3;
        return drow_fail(&c, "depth out of range");
    }
    r->depth = (int32_t)depth;
    c.col = 4;
    long k = drow_unescape(&c, name, name_n, esc, (char *)out + sizeof *r);
    if (k < 0)
        return -1;
    if (k == 0)
        return drow_fail(&c, "empty path");
    r->path_len = (uint32_t)k;
    return (long)(sizeof *r + (size_t)k);
}
