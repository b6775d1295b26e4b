/*
 * slurm_fuzz.c -- the SLURM CPU-count parser (engine/threads.c) against a
 * reference written from SLURM's documented format.
 *
 * SLURM_CPUS_ON_NODE / SLURM_CPUS_PER_TASK come from the environment of a
 * job, i.e. from outside; `threads: auto` trusts them, so a value must
 * either give a sane count or be refused (exit 2), never anything between.
 *
 * Grammar the reference accepts:   group ("," group)*
 *                                  group = COUNT [ "(x" REPEAT ")" ]
 * COUNT a decimal 1..1000000, REPEAT a decimal >= 1 (any size); the result
 * is the first COUNT, capped at THREADS_MAX.  A value is refused when any
 * part does not parse.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/threads.h"
#include "tests/fuzz/fuzz_check.h"

/* Digits at s (at least one); *end after them; *big when over max. */
static int ref_digits(const char *s, const char **end, unsigned long long max, int *big,
                      unsigned long long *value)
{
    const char *p = s;
    unsigned long long v = 0;
    *big = 0;
    while (*p >= '0' && *p <= '9') {
        if (v > max)
            *big = 1;
        else
            v = v * 10 + (unsigned long long)(*p - '0');
        p++;
    }
    if (v > max)
        *big = 1;
    *end = p;
    *value = v;
    return p != s;
}

static int ref_parse(const char *s)
{
    int first = -1;
    for (;;) {
        const char *end;
        int big;
        unsigned long long n;
        if (!ref_digits(s, &end, 1000000, &big, &n) || big || n < 1)
            return -1;
        if (first < 0)
            first = n > THREADS_MAX ? THREADS_MAX : (int)n;
        s = end;
        if (s[0] == '(') {
            unsigned long long rep;
            if (s[1] != 'x' || !ref_digits(s + 2, &end, ~0ull / 20, &big, &rep))
                return -1;
            if ((!big && rep < 1) || *end != ')')
                return -1;
            s = end + 1;
        }
        if (*s == '\0')
            return first;
        if (*s != ',')
            return -1;
        s++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an environment value is a C string: cut at the first NUL */
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    int got = threads_parse_slurm(s);
    int want = ref_parse(s);
    FUZZ_CHECK(got == -1 || (got >= 1 && got <= THREADS_MAX), "'%s' gave %d", s, got);
    FUZZ_CHECK(got == want, "'%s' gave %d, the reference %d", s, got, want);
    free(s);
    return 0;
}
