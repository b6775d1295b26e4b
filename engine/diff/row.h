/*
 * row.h -- one row of a pwalk report (plugins/csv/FORMAT.md) as pwalk-diff
 * keeps it: the columns a diff needs, packed with the path's bytes right
 * behind them, so that a row is one contiguous record the external sorter
 * can move, spill and compare without pointers.
 */
#ifndef PWALK_DIFF_ROW_H
#define PWALK_DIFF_ROW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 64 bytes, then path_len bytes of path (the name's real bytes, unescaped). */
typedef struct drow {
    uint64_t dev, ino;
    int64_t size, mtime, ctime;
    uint32_t uid, gid, mode;
    int32_t depth;     /* the report's: -1 for a root */
    uint32_t path_len;
    uint32_t reserved;
} drow;

#define DROW_PATH(r) ((const char *)(r) + sizeof(drow))

/* The escaping of a report's names (FORMAT.md, "Escaping"). */
enum { DROW_ESC_AUTO = 0, DROW_ESC_LOSSLESS = 1, DROW_ESC_DEY = 2 };

/* 1 when line (len bytes, no newline) is a header line: it starts like
 * pwalk's header ("inode,"). */
int drow_is_header(const char *line, size_t len);

/* 0 when the header line is exactly pwalk's, else -1. */
int drow_check_header(const char *line, size_t len);

/* The escaping a line's bytes prove: DROW_ESC_LOSSLESS when the line is
 * text lossless_escape() can have written (valid UTF-8, no control byte,
 * every backslash followed by a backslash or xHH), else DROW_ESC_DEY.  Only
 * asked for lines holding a backslash: without one both read the same. */
int drow_line_escape(const char *line, size_t len);

/* Parse one report line (len bytes, no newline) per esc into out, which
 * has room for sizeof(drow) + len bytes.  Returns the record's size
 * (sizeof(drow) + path_len), or -1 with what is wrong in err (without the
 * file and line: the caller knows them). */
long drow_parse(const char *line, size_t len, int esc, void *out, char *err, size_t errlen);

/* find(1)'s letter for the type bits of mode: f d l p s c b, '?' other. */
char drow_type_char(uint32_t mode);

#ifdef __cplusplus
}
#endif

#endif
