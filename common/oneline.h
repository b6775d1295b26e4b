/*
 * oneline.h -- a message as one clean line: control bytes and DEL shown as
 * \xHH.
 *
 * Messages quote paths and arguments, which may hold any byte.  A newline
 * would split a message that scripts grep for, and an escape sequence would
 * drive the terminal; \xHH keeps the bytes readable and the line whole.  One
 * rule for the drivers (pwalk-engine, pwalk-diff, pwalk-mpi), both when they
 * quote an argument into a message and when they print one.  Header-only,
 * like human.h: the drivers link nothing but libpwalk's public API.
 */
#ifndef PWALK_COMMON_ONELINE_H
#define PWALK_COMMON_ONELINE_H

#include <stdio.h>

/* in as one line into out (cap > 0 bytes, NUL-terminated): whole characters
 * only, so a long argument is cut short rather than cut inside a \xHH. */
static inline const char *oneline_show(char *out, size_t cap, const char *in)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        int control = *p < 0x20 || *p == 0x7f;
        if (n + (control ? 4 : 1) >= cap)
            break;
        if (control)
            n += (size_t)snprintf(out + n, cap - n, "\\x%02x", *p);
        else
            out[n++] = (char)*p;
    }
    out[n] = '\0';
    return out;
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
