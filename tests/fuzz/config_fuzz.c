/*
 * config_fuzz.c -- the YAML pipeline loader (engine/config.c) on any bytes.
 *
 * Input layout:  byte 0      picks the error buffer size (1..256 bytes, so
 *                            truncation paths run too; the buffer is
 *                            malloc'ed to that exact size, so a write past
 *                            it is an ASan report);
 *                bytes 1..   the YAML text, up to a line "#--set" after
 *                            which each line is a --set assignment.
 * Properties:    no crash, leak or UB; every failure has a message that is
 *                one line without control bytes; a loaded pipeline is
 *                internally consistent; a failed load leaves the defaults;
 *                --set of scan.threads / scan.max_depth accepts exactly the
 *                numbers a reference parser accepts, with the same value.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/config.h"
#include "tests/fuzz/fuzz_check.h"

static const char set_marker[] = "\n#--set\n";

/* Reference for cfg's integers: [+-]digits, value within lo..hi, exactly;
 * digits compared as text so no width can overflow.  Returns 1 and *out. */
static int ref_parse_int(const char *s, size_t n, long long lo, long long hi, long long *out)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i == n)
        return 0;
    for (size_t k = i; k < n; k++)
        if (s[k] < '0' || s[k] > '9')
            return 0;
    while (i + 1 < n && s[i] == '0')
        i++;
    if (n - i > 12)     /* every bound used here has at most 10 digits */
        return 0;
    long long v = 0;
    for (; i < n; i++)
        v = v * 10 + (s[i] - '0');
    if (neg)
        v = -v;
    if (v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

static int ieq(const char *s, size_t n, const char *w)
{
    if (strlen(w) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32) : s[i];
        if (c != w[i])
            return 0;
    }
    return 1;
}

static void check_strv(char **v, size_t n, const char *what)
{
    FUZZ_CHECK(n == 0 || v != NULL, "%s: %zu items but no array", what, n);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(v[i] != NULL, "%s[%zu] is NULL", what, i);
}

/* What a loaded pipeline promises its users (pipeline.c, options.c). */
static void check_pipeline(const cfg_pipeline *p)
{
    FUZZ_CHECK(p->source != NULL, "no source name");
    FUZZ_CHECK(p->version == 1, "version %d loaded", p->version);
    FUZZ_CHECK(p->scan.threads >= 0 && p->scan.threads <= 4096, "threads %d", p->scan.threads);
    FUZZ_CHECK(p->scan.max_depth >= 0, "max_depth %d", p->scan.max_depth);
    check_strv(p->scan.roots, p->scan.root_count, "roots");
    check_strv(p->scan.snapshot_names, p->scan.snapshot_name_count, "snapshot_names");
    check_strv(p->scan.excludes, p->scan.exclude_count, "excludes");
    check_strv(p->plugin_path, p->plugin_path_count, "plugin_path");
    FUZZ_CHECK(p->sink_count == 0 || p->sinks != NULL, "sinks array missing");
    for (size_t i = 0; i < p->sink_count; i++) {
        const cfg_sink *s = &p->sinks[i];
        FUZZ_CHECK(s->name && s->plugin, "sink %zu without name or plugin", i);
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(p->sinks[j].name, s->name) != 0, "two sinks named '%s'", s->name);
        for (size_t k = 0; k < s->option_count; k++) {
            const cfg_option *o = &s->options[k];
            FUZZ_CHECK(o->key != NULL, "sink '%s' option %zu without key", s->name, k);
            if (o->is_list)
                check_strv(o->items, o->item_count, o->key);
            else
                FUZZ_CHECK(o->scalar != NULL, "option '%s' without value", o->key);
        }
    }
}

static void check_defaults(const cfg_pipeline *p)
{
    FUZZ_CHECK(p->sink_count == 0 && p->scan.root_count == 0 && p->version == 1,
               "a failed load left %zu sinks / %zu roots", p->sink_count, p->scan.root_count);
}

/* --set scan.threads=V / scan.max_depth=V against the reference. */
static void check_set_number(const cfg_pipeline *p, const char *line, int rc)
{
    static const struct {
        const char *prefix;
        long long lo, hi;
        int allow_auto;
    } keys[] = {{"scan.threads=", 1, 4096, 1}, {"scan.max_depth=", 0, INT_MAX, 0}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        size_t pl = strlen(keys[i].prefix);
        if (strncmp(line, keys[i].prefix, pl) != 0)
            continue;
        const char *v = line + pl;
        size_t n = strlen(v);
        long long want = 0;
        int ok = ref_parse_int(v, n, keys[i].lo, keys[i].hi, &want);
        if (keys[i].allow_auto && ieq(v, n, "auto"))
            ok = 1, want = 0;
        FUZZ_CHECK((rc == 0) == ok, "--set '%s' %s but the reference %s it", line,
                   rc == 0 ? "accepted" : "refused", ok ? "accepts" : "refuses");
        if (rc == 0) {
            long long got = i == 0 ? p->scan.threads : p->scan.max_depth;
            FUZZ_CHECK(got == want, "--set '%s' gave %lld, expected %lld", line, got, want);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t errlen = (size_t)data[0] + 1;
    data++;
    size--;

    /* the YAML is handed over without a terminating NUL, as from a file */
    const char *text = (const char *)data;
    size_t yaml_len = size;
    const char *sets = NULL;
    size_t sets_len = 0;
    const char *m = memmem(text, size, set_marker, sizeof set_marker - 1);
    if (m) {
        yaml_len = (size_t)(m - text);
        sets = m + sizeof set_marker - 1;
        sets_len = size - (size_t)(sets - text);
    }
    char *yaml = malloc(yaml_len ? yaml_len : 1);
    char *err = malloc(errlen);
    if (!yaml || !err) {
        free(yaml);
        free(err);
        return 0;
    }
    memcpy(yaml, text, yaml_len);
    memset(err, 'X', errlen);

    cfg_pipeline p;
    int rc = cfg_load_string(yaml, yaml_len, "fuzz.yaml", &p, err, errlen);
    if (rc != 0) {
        FUZZ_CHECK(rc == -1, "cfg_load_string returned %d", rc);
        fuzz_check_message(err, errlen);
        FUZZ_CHECK(errlen < 16 || strncmp(err, "fuzz.yaml", errlen < 9 ? errlen - 1 : 9) == 0,
                   "message does not name the file: '%s'", err);
        check_defaults(&p);
    } else {
        check_pipeline(&p);
    }

    /* --set lines apply to whatever loaded (the defaults after a failure,
     * as the CLI never gets there; the functions must cope either way) */
    while (sets && sets_len) {
        const char *nl = memchr(sets, '\n', sets_len);
        size_t n = nl ? (size_t)(nl - sets) : sets_len;
        char *line = malloc(n + 1);
        if (!line)
            break;
        memcpy(line, sets, n);
        line[n] = '\0';
        if (strlen(line) == n) {    /* argv strings cannot hold NUL */
            memset(err, 'X', errlen);
            int src = cfg_apply_set(&p, line, err, errlen);
            if (src != 0)
                fuzz_check_message(err, errlen);
            check_set_number(&p, line, src);
            check_pipeline(&p);
        }
        free(line);
        sets += nl ? n + 1 : n;
        sets_len -= nl ? n + 1 : n;
    }

    cfg_free(&p);
    cfg_free(&p);   /* documented as harmless */
    free(yaml);
    free(err);
    return 0;
}
