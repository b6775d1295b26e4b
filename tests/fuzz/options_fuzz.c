/*
 * options_fuzz.c -- sink option binding (engine/options.c) with any values
 * against a fixed plugin schema that has every option type, bounded and
 * half-bounded ranges, and defaults of every kind.
 *
 * Input: a sequence of records   FLAGS LEN VALUE[LEN]
 *   FLAGS bits 0-3  which key: 0..7 a declared option, 8..15 the value's
 *                   first bytes up to ':' are an arbitrary key;
 *         bit 4     the value is a YAML sequence: items split at ','
 *         bit 5     came from --set (mark line 0) rather than the file
 *         bit 6     the value is given as an empty sequence
 *   values are cut at the first NUL (YAML and argv cannot carry one).
 * Properties: no crash/leak/UB; a failure leaves *out NULL and a one-line
 * message; when bound, every getter returns exactly what a reference
 * reading of the same input says; when the reference finds every record
 * valid, the bind must succeed.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/config.h"
#include "engine/options.h"
#include "tests/fuzz/fuzz_check.h"

enum { N_SPECS = 8 };

static const pwalk_option_spec specs[N_SPECS] = {
    {"path", PWALK_OPT_STRING, 0, "-", NULL, "output file"},
    {"header", PWALK_OPT_BOOL, 0, "true", NULL, "header line"},
    {"level", PWALK_OPT_INT, 0, "3", "1..19", "bounded int"},
    {"offset", PWALK_OPT_INT, 0, NULL, "-5..", "half-bounded int, no default"},
    {"limit", PWALK_OPT_INT, 0, "-9223372036854775808", NULL, "any int64"},
    {"escape", PWALK_OPT_ENUM, 0, "lossless", "lossless|dey|a|", "enum with an empty choice"},
    {"fields", PWALK_OPT_STRING_LIST, 0, "[path, 'size', \"mode\"]", NULL, "list default"},
    {"tags", PWALK_OPT_STRING_LIST, 0, NULL, NULL, "list, no default"},
};

/* What the reference expects for one declared option. */
typedef struct expect {
    int set;            /* a record gave it         */
    int valid;          /* the reference accepts it */
    int is_list;
    char *scalar;
    char **items;
    size_t item_count;
} expect;

/* A decimal in int64 and in [lo, hi] (has_lo/has_hi), compared as text. */
static int ref_int(const char *s, int has_lo, int64_t lo, int has_hi, int64_t hi, int64_t *out)
{
    size_t n = strlen(s), i = 0;
    int neg = 0;
    if (n && (s[0] == '+' || s[0] == '-'))
        neg = s[i++] == '-';
    if (i == n)
        return 0;
    for (size_t k = i; k < n; k++)
        if (s[k] < '0' || s[k] > '9')
            return 0;
    while (i + 1 < n && s[i] == '0')
        i++;
    const char *digits = s + i;
    size_t dn = n - i;
    const char *limit = neg ? "9223372036854775808" : "9223372036854775807";
    if (dn > 19 || (dn == 19 && strcmp(digits, limit) > 0))
        return 0;
    uint64_t u = 0;
    for (size_t k = 0; k < dn; k++)
        u = u * 10 + (uint64_t)(digits[k] - '0');
    int64_t v = neg ? (int64_t)(0 - u) : (int64_t)u;
    if ((has_lo && v < lo) || (has_hi && v > hi))
        return 0;
    *out = v;
    return 1;
}

static int ref_bool(const char *s, int *out)
{
    static const char *const w[] = {"true", "false", "yes", "no", "on", "off"};
    for (size_t i = 0; i < 6; i++) {
        if (strlen(s) != strlen(w[i]))
            continue;
        size_t k = 0;
        while (s[k] && ((s[k] | 0x20) == w[i][k]) && ((s[k] >= 'A' && s[k] <= 'Z') ||
                                                        (s[k] >= 'a' && s[k] <= 'z')))
            k++;
        if (!s[k]) {
            *out = (i % 2) == 0;
            return 1;
        }
    }
    return 0;
}

static int ref_enum(const char *choices, const char *s)
{
    size_t n = strlen(s);
    for (const char *p = choices;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && memcmp(p, s, n) == 0)
            return 1;
        if (!bar)
            return 0;
        p = bar + 1;
    }
}

static void ref_range(const pwalk_option_spec *sp, int *has_lo, int64_t *lo, int *has_hi,
                      int64_t *hi)
{
    *has_lo = *has_hi = 0;
    if (!sp->choices)
        return;
    const char *dots = strstr(sp->choices, "..");
    char left[32] = "";
    memcpy(left, sp->choices, (size_t)(dots - sp->choices));
    if (*left)
        *has_lo = ref_int(left, 0, 0, 0, 0, lo);
    if (dots[2])
        *has_hi = ref_int(dots + 2, 0, 0, 0, 0, hi);
}

static int ref_valid_scalar(const pwalk_option_spec *sp, const char *s)
{
    int b, has_lo, has_hi;
    int64_t v, lo = 0, hi = 0;
    switch (sp->type) {
    case PWALK_OPT_STRING: return 1;
    case PWALK_OPT_BOOL: return ref_bool(s, &b);
    case PWALK_OPT_INT:
        ref_range(sp, &has_lo, &lo, &has_hi, &hi);
        return ref_int(s, has_lo, lo, has_hi, hi, &v);
    case PWALK_OPT_ENUM: return ref_enum(sp->choices, s);
    default: return 1;
    }
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Check one bound option against what the reference expects. */
static void check_value(const pwalk_options *o, const pwalk_option_spec *sp, const expect *e)
{
    const char *name = sp->name;
    const char *str;
    int b;
    int64_t v;
    size_t count;
    /* what the value should be: the record's, else the default */
    const char *scalar = e->set ? e->scalar : sp->default_value;
    int have = e->set || sp->default_value;

    switch (sp->type) {
    case PWALK_OPT_STRING:
    case PWALK_OPT_ENUM: {
        int rc = options_get_string(o, name, &str);
        FUZZ_CHECK(rc == (have ? 0 : -2), "'%s': get_string %d", name, rc);
        if (rc == 0)
            FUZZ_CHECK(strcmp(str, scalar) == 0, "'%s' = '%s', expected '%s'", name, str, scalar);
        FUZZ_CHECK(options_get_int(o, name, &v) == -1, "'%s' read as int", name);
        break;
    }
    case PWALK_OPT_BOOL: {
        int rc = options_get_bool(o, name, &b);
        FUZZ_CHECK(rc == (have ? 0 : -2), "'%s': get_bool %d", name, rc);
        int want;
        if (rc == 0)
            FUZZ_CHECK(ref_bool(scalar, &want) && want == b, "'%s' = %d from '%s'", name, b,
                       scalar);
        FUZZ_CHECK(options_get_string(o, name, &str) == -1, "'%s' read as string", name);
        break;
    }
    case PWALK_OPT_INT: {
        int rc = options_get_int(o, name, &v);
        FUZZ_CHECK(rc == (have ? 0 : -2), "'%s': get_int %d", name, rc);
        int has_lo, has_hi;
        int64_t lo = 0, hi = 0, want = 0;
        ref_range(sp, &has_lo, &lo, &has_hi, &hi);
        if (rc == 0)
            FUZZ_CHECK(ref_int(scalar, has_lo, lo, has_hi, hi, &want) && want == v,
                       "'%s' = %lld from '%s'", name, (long long)v, scalar);
        break;
    }
    case PWALK_OPT_STRING_LIST: {
        int rc = options_get_list_count(o, name, &count);
        FUZZ_CHECK(rc == (have ? 0 : -2), "'%s': get_list_count %d", name, rc);
        if (rc != 0)
            break;
        if (e->set) {
            size_t want = e->is_list ? e->item_count : 1;
            FUZZ_CHECK(count == want, "'%s' has %zu items, expected %zu", name, count, want);
            for (size_t i = 0; i < count; i++) {
                FUZZ_CHECK(options_get_list_item(o, name, i, &str) == 0, "'%s'[%zu]", name, i);
                const char *w = e->is_list ? e->items[i] : e->scalar;
                FUZZ_CHECK(strcmp(str, w) == 0, "'%s'[%zu] = '%s', expected '%s'", name, i,
                           str, w);
            }
        }
        FUZZ_CHECK(options_get_list_item(o, name, count, &str) == -1, "'%s' past its end",
                   name);
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    cfg_option opts[64];
    expect ex[N_SPECS];
    size_t n = 0;
    int all_valid = 1;
    memset(ex, 0, sizeof ex);

    while (size >= 2 && n < 64) {
        unsigned flags = data[0];
        size_t len = data[1];
        data += 2;
        size -= 2;
        if (len > size)
            len = size;
        const char *val = (const char *)data;
        size_t vlen = strnlen(val, len);
        data += len;
        size -= len;

        cfg_option *o = &opts[n++];
        memset(o, 0, sizeof *o);
        unsigned which = flags & 15;
        if (which < N_SPECS) {
            o->key = dupn(specs[which].name, strlen(specs[which].name));
        } else {
            const char *colon = memchr(val, ':', vlen);
            size_t kl = colon ? (size_t)(colon - val) : vlen;
            o->key = dupn(val, kl);
            val += colon ? kl + 1 : kl;
            vlen -= colon ? kl + 1 : kl;
        }
        o->is_list = (flags & 0x50) != 0;
        int line = (flags & 0x20) ? 0 : (int)n + 3;
        o->mark = (cfg_mark){line, line ? 12 : 0};
        o->key_mark = (cfg_mark){line, line ? 5 : 0};
        if (!o->is_list) {
            o->scalar = dupn(val, vlen);
        } else if (!(flags & 0x40)) {
            size_t items = 1;
            for (size_t i = 0; i < vlen; i++)
                items += val[i] == ',';
            o->items = calloc(items, sizeof *o->items);
            const char *p = val;
            for (size_t i = 0; i < items; i++) {
                const char *c = memchr(p, ',', (size_t)(val + vlen - p));
                size_t l = c ? (size_t)(c - p) : (size_t)(val + vlen - p);
                o->items[i] = dupn(p, l);
                p = c ? c + 1 : val + vlen;
            }
            o->item_count = items;
        }

        /* the reference's view of this record */
        size_t k = 0;
        while (k < N_SPECS && strcmp(specs[k].name, o->key) != 0)
            k++;
        if (k == N_SPECS || ex[k].set) {
            all_valid = 0;  /* unknown key, or a key set twice */
            continue;
        }
        expect *e = &ex[k];
        e->set = 1;
        e->is_list = o->is_list;
        e->scalar = o->scalar;
        e->items = o->items;
        e->item_count = o->item_count;
        if (specs[k].type == PWALK_OPT_STRING_LIST)
            e->valid = 1;
        else
            e->valid = !o->is_list && ref_valid_scalar(&specs[k], o->scalar);
        all_valid &= e->valid;
    }

    pwalk_plugin plugin;
    memset(&plugin, 0, sizeof plugin);
    plugin.struct_size = sizeof plugin;
    plugin.abi_major = PWALK_ABI_MAJOR;
    plugin.abi_minor = PWALK_ABI_MINOR;
    plugin.threading = PWALK_THREADING_PER_WORKER;
    plugin.name = "fuzzsink";
    plugin.option_count = N_SPECS;
    plugin.options = specs;

    cfg_sink sink;
    memset(&sink, 0, sizeof sink);
    sink.name = "out";
    sink.plugin = "fuzzsink";
    sink.options = opts;
    sink.option_count = n;
    sink.mark = (cfg_mark){2, 3};

    char err[512];
    memset(err, 'X', sizeof err);
    pwalk_options *bound = (pwalk_options *)1;
    int rc = options_bind(&plugin, &sink, "fuzz.yaml", &bound, err, sizeof err);
    if (rc != 0) {
        FUZZ_CHECK(rc == -1, "options_bind returned %d", rc);
        FUZZ_CHECK(bound == NULL, "a failed bind left *out set");
        fuzz_check_message(err, sizeof err);
        FUZZ_CHECK(strstr(err, "sink 'out'") != NULL, "message does not name the sink: %s",
                   err);
        FUZZ_CHECK(!all_valid, "valid options refused: %s", err);
    } else {
        FUZZ_CHECK(all_valid, "invalid options accepted");
        for (size_t k = 0; k < N_SPECS; k++)
            check_value(bound, &specs[k], &ex[k]);
        const char *s;
        FUZZ_CHECK(options_get_string(bound, "no-such-option", &s) == -1, "unknown option read");
        FUZZ_CHECK(options_get_string(bound, NULL, &s) == -1, "NULL name read");
        if (!devnull)
            devnull = fopen("/dev/null", "w");
        if (devnull)
            options_describe(&plugin, "fuzz.so", devnull);
    }
    options_free(bound);

    for (size_t i = 0; i < n; i++) {
        free(opts[i].key);
        free(opts[i].scalar);
        for (size_t j = 0; j < opts[i].item_count; j++)
            free(opts[i].items[j]);
        free(opts[i].items);
    }
    return 0;
}
