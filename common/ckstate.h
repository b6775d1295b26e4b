/*
 * ckstate.h -- the bytes of a checkpoint state (issue 19): what a sink or
 * the error file hands the journal to be resumed from.  Fields are written
 * in the host's byte order (a journal is resumed on the same kind of
 * machine; the journal's own header says which) and read back with every
 * length checked against what is left, since a journal is a file anyone
 * may have edited.
 *
 * Neutral code, header-only like grow.h: the csv* plugins' states
 * (plugins/csv_common) and the engine's error file (engine/report.c).
 */
#ifndef PWALK_COMMON_CKSTATE_H
#define PWALK_COMMON_CKSTATE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"

typedef struct ckstate_out {
    unsigned char *buf;     /* malloc'ed; the caller frees it */
    size_t len, cap;
    int failed;             /* out of memory: the state is unusable */
} ckstate_out;

static inline void ckstate_put(ckstate_out *o, const void *p, size_t n)
{
    void *buf = o->buf;
    if (o->failed || grow_array(&buf, &o->cap, o->len + n, 1) != 0) {
        o->failed = 1;
        return;
    }
    o->buf = buf;
    if (n)
        memcpy(o->buf + o->len, p, n);
    o->len += n;
}

static inline void ckstate_u32(ckstate_out *o, uint32_t v) { ckstate_put(o, &v, sizeof v); }
static inline void ckstate_u64(ckstate_out *o, uint64_t v) { ckstate_put(o, &v, sizeof v); }

/* A string as its u32 length and bytes (no NUL). */
static inline void ckstate_str(ckstate_out *o, const char *s)
{
    size_t n = strlen(s);
    ckstate_u32(o, (uint32_t)n);
    ckstate_put(o, s, n);
}

typedef struct ckstate_in {
    const unsigned char *p;
    size_t left;
    int bad;                /* ran past the end (or a bad string): sticky */
} ckstate_in;

static inline void ckstate_get(ckstate_in *in, void *out, size_t n)
{
    if (in->bad || n > in->left) {
        in->bad = 1;
        memset(out, 0, n);
        return;
    }
    memcpy(out, in->p, n);
    in->p += n;
    in->left -= n;
}

static inline uint32_t ckstate_get_u32(ckstate_in *in)
{
    uint32_t v;
    ckstate_get(in, &v, sizeof v);
    return v;
}

static inline uint64_t ckstate_get_u64(ckstate_in *in)
{
    uint64_t v;
    ckstate_get(in, &v, sizeof v);
    return v;
}

/* A string of ckstate_str, malloc'ed and NUL-terminated; NULL (and bad set)
 * when it runs past the end, holds a NUL, or memory is out. */
static inline char *ckstate_get_str(ckstate_in *in)
{
    uint32_t n = ckstate_get_u32(in);
    if (in->bad || n > in->left || memchr(in->p, '\0', n)) {
        in->bad = 1;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        in->bad = 1;
        return NULL;
    }
    memcpy(s, in->p, n);
    s[n] = '\0';
    in->p += n;
    in->left -= n;
    return s;
}

#endif
