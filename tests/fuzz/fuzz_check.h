/*
 * fuzz_check.h -- what the fuzz entry functions share.
 *
 * Each tests/fuzz/<target>_fuzz.c defines LLVMFuzzerTestOneInput.  The same
 * file is built twice: by scripts/fuzz.sh with clang -fsanitize=fuzzer (the
 * fuzzer), and by Bazel into a GoogleTest that replays the kept corpus and
 * every crash found (tests/fuzz/BUILD).  A broken property must therefore
 * stop both builds the same way: abort(), which libFuzzer records as a crash
 * and which fails the replay test, after printing which property broke.
 */
#ifndef PWALK_FUZZ_CHECK_H
#define PWALK_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef __cplusplus
}
#endif

#define FUZZ_CHECK(cond, ...)                                                  \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: property broken: %s: ", __FILE__,          \
                    __LINE__, #cond);                                          \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* An error message must be exactly one line, NUL-terminated inside its
 * buffer, and free of control bytes (no newline, no terminal escapes): the
 * CLI prints it as "pwalk-engine: MESSAGE" and scripts grep for it. */
static inline void fuzz_check_message(const char *err, size_t errlen)
{
    size_t n = strnlen(err, errlen);
    FUZZ_CHECK(n < errlen, "message not NUL-terminated within %zu bytes", errlen);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)err[i];
        FUZZ_CHECK(c >= 0x20 && c != 0x7f, "byte 0x%02x at %zu of message '%s'", c, i, err);
    }
}

/* A strict UTF-8 check (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF), the rule DuckDB applies when it reads a report. Returns
 * the offset of the first bad byte, or len when all is valid. */
static inline size_t fuzz_utf8_valid_prefix(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t need;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            need = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            need = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return i;
        }
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += need + 1;
    }
    return len;
}

#endif
