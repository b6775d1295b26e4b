/*
 * lossless.h -- pwalk's lossless text: the one escape and the one unescape
 * behind every file pwalk writes that carries a file name -- the csv
 * reports, the error file, the repair log, the MPI manifest
 * (plugins/csv/FORMAT.md, escape: lossless).
 *
 * A name is bytes; the text is valid UTF-8 that gives the bytes back:
 *   a backslash                            -> two backslashes
 *   bytes 0x00-0x1F and 0x7F, and every byte that is not part of a
 *   well-formed UTF-8 sequence (RFC 3629: no overlong forms, no
 *   surrogates, nothing past U+10FFFF)    -> \xHH, lowercase hex
 *   everything else, multi-byte UTF-8 too  -> as it is
 * so DuckDB and strict JSON readers accept the file and a name spelling
 * \xff stays apart from a name holding the byte 0xff.  Every writer uses
 * this one implementation: were two to disagree on what "valid" means, a
 * name would be kept raw in one file and escaped in the other and joins
 * between them would miss.  python/pwalk/_text.py is the Python reader of
 * the same text, checked against the same vectors (tests/lossless/).
 *
 * The text then goes inside the quoting of its file (lossless_quote); the
 * quoting is applied in the same pass, so callers never escape twice.
 *
 * Neutral code (//common): depends on nothing of the engine or the plugins,
 * linked statically into both.
 */
#ifndef PWALK_COMMON_LOSSLESS_H
#define PWALK_COMMON_LOSSLESS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The quoting around the lossless text. */
typedef enum lossless_quote {
    LOSSLESS_BARE, /* none: '"' as it is (a log line on stdout)          */
    LOSSLESS_CSV,  /* inside a "..." CSV field: '"' doubled (RFC 4180)   */
    LOSSLESS_JSON  /* inside a "..." JSON string: '"' -> \" and every
                    * backslash of the text doubled (0xff -> \\xff)    */
} lossless_quote;

/* The most bytes lossless_escape() writes for len input bytes, any quote
 * (JSON's \\xHH is five for one). */
#define LOSSLESS_ESCAPED_MAX(len) (5 * (size_t)(len))

/* Write len bytes of in as lossless text quoted per q into out (at least
 * LOSSLESS_ESCAPED_MAX(len) bytes; 4 * len are enough for BARE and CSV).
 * No NUL is added.  Returns the bytes written.  Thread-safe, no state;
 * runs once per text field of every csv row, so plain ASCII goes by in
 * runs. */
size_t lossless_escape(char *out, const char *in, size_t len, lossless_quote q);

/* How many of in's len bytes to escape first when escaping through a
 * fixed buffer: at most max (max >= 4), all of them if len <= max, and
 * never in the middle of a UTF-8 sequence, so that escaping in pieces
 * writes exactly what escaping the whole would. */
size_t lossless_piece(const char *in, size_t len, size_t max);

/* Undo lossless_escape(): len bytes of in (without the outer quotes) back
 * to the name's bytes in out (at least len bytes; never more is written).
 * q is LOSSLESS_BARE or LOSSLESS_CSV (CSV: "" is one '"', a lone '"' is
 * malformed); JSON text is decoded by a JSON reader first, then BARE.
 * Hex digits may be of either case.  Returns the bytes written, or -1 for
 * text lossless_escape() cannot have written: a backslash followed by
 * anything but a backslash or x and two hex digits, or an unsupported q. */
long lossless_unescape(const char *in, size_t len, char *out, lossless_quote q);

#ifdef __cplusplus
}
#endif

#endif
