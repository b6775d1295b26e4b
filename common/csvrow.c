/*
 * csvrow.c -- one pwalk CSV row (plugins/csv/FORMAT.md), formatted
 * by hand: this runs for every entry on every worker, and a printf call per
 * field is where other walkers lose half their speed.
 */
#include "common/csvrow.h"

#include <string.h>

#include "common/lossless.h"

const char csvrow_header[] =
    "inode,parent-inode,directory-depth,\"filename\",\"fileExtension\",UID,GID,st_size,"
    "st_dev,st_blocks,st_nlink,\"st_mode\",st_atime,st_mtime,st_ctime,pw_fcount,pw_dirsum\n";
const size_t csvrow_header_len = sizeof csvrow_header - 1;

int csvrow_escape_mode(const char *name)
{
    if (name && strcmp(name, "lossless") == 0)
        return CSVROW_ESCAPE_LOSSLESS;
    if (name && strcmp(name, "dey") == 0)
        return CSVROW_ESCAPE_DEY;
    return -1;
}

/* 17 columns of at most 20 digits and a sign, quotes and commas: far less
 * than 512; the two text fields grow at most 4x (\xHH per byte). */
size_t csvrow_max_len(const pwalk_entry *e)
{
    return 8 * (size_t)e->path_len + 512;
}

/* "00".."99": two digits per division halves the divisions (most fields
 * here are 6-10 digits long). */
static const char csvrow_digit_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static char *csvrow_u64(char *o, uint64_t v)
{
    char t[20];
    int n = 20;
    while (v >= 100) {
        const char *d = csvrow_digit_pairs + 2 * (v % 100);
        v /= 100;
        t[--n] = d[1];
        t[--n] = d[0];
    }
    if (v >= 10) {
        t[--n] = csvrow_digit_pairs[2 * v + 1];
        t[--n] = csvrow_digit_pairs[2 * v];
    } else {
        t[--n] = (char)('0' + v);
    }
    memcpy(o, t + n, (size_t)(20 - n));
    return o + (20 - n);
}

static char *csvrow_i64(char *o, int64_t v)
{
    if (v < 0) {
        *o++ = '-';
        return csvrow_u64(o, (uint64_t)0 - (uint64_t)v);
    }
    return csvrow_u64(o, (uint64_t)v);
}

/* escape: dey -- pwalk's bytes: '"' doubled, bytes below 0x20 deleted
 * (*dropped set), everything else raw.  Not lossless text: the report's
 * other mode only. */
static size_t csvrow_escape_dey(char *out, const char *in, size_t len, int *dropped)
{
    const unsigned char *p = (const unsigned char *)in;
    char *o = out;
    size_t i = 0;
    while (i < len) {
        size_t run = i;
        while (run < len && p[run] >= 0x20 && p[run] != '"')
            run++;
        memcpy(o, p + i, run - i);
        o += run - i;
        if (run == len)
            break;
        if (p[run] == '"') {
            *o++ = '"';
            *o++ = '"';
        } else {
            *dropped = 1;
        }
        i = run + 1;
    }
    return (size_t)(o - out);
}

size_t csvrow_escape(char *out, const char *in, size_t len, int mode, int *dropped)
{
    if (mode == CSVROW_ESCAPE_DEY)
        return csvrow_escape_dey(out, in, len, dropped);
    return lossless_escape(out, in, len, LOSSLESS_CSV);
}

void csvrow_extension(const char *name, size_t name_len, int is_dir_or_root, const char **ext,
                      size_t *ext_len)
{
    *ext = name + name_len;
    *ext_len = 0;
    if (is_dir_or_root)
        return;
    for (size_t i = name_len; i > 1; i--) {
        if (name[i - 1] == '.') {
            *ext = name + i;
            *ext_len = name_len - i;
            return;
        }
    }
}

size_t csvrow_format(char *out, const pwalk_entry *e, int mode, int *dropped)
{
    char *o = out;
    const char *name = e->path + e->name_offset;
    size_t name_len = e->path_len - e->name_offset;
    int dir_or_root = (e->mode & 0170000) == 0040000 || (e->flags & PWALK_ENTRY_ROOT);
    const char *ext;
    size_t ext_len;
    csvrow_extension(name, name_len, dir_or_root, &ext, &ext_len);

    o = csvrow_u64(o, e->ino);
    *o++ = ',';
    o = csvrow_u64(o, e->parent_ino);
    *o++ = ',';
    o = csvrow_i64(o, e->depth);
    *o++ = ',';
    *o++ = '"';
    o += csvrow_escape(o, e->path, e->path_len, mode, dropped);
    *o++ = '"';
    *o++ = ',';
    *o++ = '"';
    o += csvrow_escape(o, ext, ext_len, mode, dropped);
    *o++ = '"';
    *o++ = ',';
    o = csvrow_u64(o, e->uid);
    *o++ = ',';
    o = csvrow_u64(o, e->gid);
    *o++ = ',';
    o = csvrow_i64(o, e->size);
    *o++ = ',';
    o = csvrow_u64(o, e->dev);
    *o++ = ',';
    o = csvrow_i64(o, e->blocks);
    *o++ = ',';
    o = csvrow_u64(o, e->nlink);
    *o++ = ',';
    *o++ = '"';
    for (int shift = 18; shift >= 0; shift -= 3) /* %07o */
        *o++ = (char)('0' + ((e->mode >> shift) & 7));
    *o++ = '"';
    *o++ = ',';
    o = csvrow_i64(o, e->atime_sec);
    *o++ = ',';
    o = csvrow_i64(o, e->mtime_sec);
    *o++ = ',';
    o = csvrow_i64(o, e->ctime_sec);
    *o++ = ',';
    o = csvrow_i64(o, e->fcount);
    *o++ = ',';
    o = csvrow_i64(o, e->dirsum);
    *o++ = '\n';
    return (size_t)(o - out);
}
