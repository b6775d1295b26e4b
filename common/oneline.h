/*
 * oneline.h -- a message as one clean line: control bytes and DEL shown as
 * \xHH.
 *
 * Messages quote paths and arguments, which may hold any byte.  A newline
 * would split a message that scripts grep for, and an escape sequence would
 * drive the terminal; \xHH keeps the bytes readable and the line whole.  One
 * rule for the library's messages (the loader's, the journal's) and the
 * drivers' (pwalk-engine, pwalk-diff, pwalk-mpi), both when they quote an
 * argument into a message and when they print one.  Header-only, like
 * human.h: the drivers link nothing but libpwalk's public API.
 */
#ifndef PWALK_COMMON_ONELINE_H
#define PWALK_COMMON_ONELINE_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* n bytes of in as one line into out (cap > 0 bytes, NUL-terminated), at
 * most max of them; cut short (at max, or where out is full) it ends in
 * "...".  Whole characters only: nothing is cut inside a \xHH. */
static inline const char *oneline_show_n(char *out, size_t cap, const char *in, size_t n,
                                         size_t max)
{
    size_t o = 0, i = 0;
    for (; i < n && i < max; i++) {
        unsigned char c = (unsigned char)in[i];
        int control = c < 0x20 || c == 0x7f;
        if (o + (control ? 4 : 1) + 3 >= cap) /* room for "..." and the NUL */
            break;
        if (control)
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    if (i < n && o + 3 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

/* A string as one line into out (see oneline_show_n). */
static inline const char *oneline_show(char *out, size_t cap, const char *in)
{
    return oneline_show_n(out, cap, in, strlen(in), (size_t)-1);
}

/* A message into err (errlen bytes; nothing when err is NULL or errlen 0),
 * formatted and then shown as one line: for messages whose arguments (a
 * dlerror(), a file name) may hold any byte.  Longer than 4095 bytes before
 * showing, it is cut. */
static inline void oneline_vformat(char *err, size_t errlen, const char *fmt, va_list ap)
{
    char raw[4096];
    if (!err || errlen == 0)
        return;
    vsnprintf(raw, sizeof raw, fmt, ap);
    oneline_show(err, errlen, raw);
}

static inline void oneline_format(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void oneline_format(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    oneline_vformat(err, errlen, fmt, ap);
    va_end(ap);
}

/* "PREFIX: MESSAGE\n" on f, the message shown as one line, whatever its
 * length. */
static inline void oneline_print(FILE *f, const char *prefix, const char *msg)
{
    fprintf(f, "%s: ", prefix);
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
    fputc('\n', f);
}

#endif
