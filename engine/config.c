/*
 * config.c -- loading the YAML pipeline (schema version 1) with libyaml's
 * document API, and the command-line edits applied on top of it (--set,
 * PATH arguments, the pwalk-compatible built-in pipeline).
 *
 * The whole document is composed first and then walked along the schema,
 * never generically: the schema's depth is fixed, so aliases that form a
 * cycle (libyaml allows `&a [*a]`) cannot make the walk recurse.
 *
 * Scalars are handled by (pointer, length) throughout because YAML escapes
 * can produce any byte; only NUL is refused, since every string ends up as a
 * C string.  Values echoed in messages are escaped and shortened so that an
 * error always stays on one line.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "common/lossless.h"
#include "common/oneline.h"
#include "common/outfile.h"

#define CFG_THREADS_MAX 4096
#define CFG_MAX_OPS 1000000000
/* A pipeline is a few hundred bytes; anything this big is a wrong path
 * (or /dev/zero), and reading it whole would only exhaust memory. */
#define CFG_FILE_MAX ((size_t)1 << 20)
/* The schema nests 5 levels (top, sinks, a sink, options, a list).  The
 * caps keep every load far under a second: libyaml's scanner does work
 * proportional to the open flow collections for every token (200k nested
 * '[' took ~60 s to refuse), and the duplicate-key and duplicate-sink
 * checks are quadratic in the values of one mapping or list. */
#define CFG_DEPTH_MAX 64
#define CFG_NODES_MAX 10000
#define CFG_KEYS_MAX 256
/* Echoed values longer than this are cut, to keep messages readable. */
#define CFG_SHOW_MAX 80

/* Everything an error message needs, for YAML loads and --set alike. */
typedef struct cfg_ctx {
    const char *source;     /* file name for "FILE:L:C: " prefixes   */
    const char *set_arg;    /* non-NULL: messages say "--set 'ARG': " */
    yaml_document_t *doc;
    char *err;
    size_t errlen;
    size_t items;           /* list items copied so far (cfg_count_items) */
} cfg_ctx;

static const char *const cfg_top_keys[] = {"version", "allow_mutation", "scan", "plugin_path",
                                           "sinks"};
static const char *const cfg_scan_keys[] = {"roots",          "threads",        "one_file_system",
                                            "skip_snapshots", "snapshot_names", "exclude",
                                            "max_depth",      "errors",         "mode",
                                            "strict",         "max_threads",    "max_ops",
                                            "adaptive",       "lazy_stat",      "io_priority",
                                            "checkpoint",     "checkpoint_every", "time_limit"};
static const char *const cfg_sink_keys[] = {"name", "plugin", "options"};

enum { CFG_K_ROOTS, CFG_K_THREADS, CFG_K_ONE_FS, CFG_K_SKIP_SNAP, CFG_K_SNAP_NAMES,
       CFG_K_EXCLUDE, CFG_K_MAX_DEPTH, CFG_K_ERRORS, CFG_K_MODE, CFG_K_STRICT,
       CFG_K_MAX_THREADS, CFG_K_MAX_OPS, CFG_K_ADAPTIVE, CFG_K_LAZY_STAT, CFG_K_IO_PRIORITY,
       CFG_K_CHECKPOINT, CFG_K_CHECKPOINT_EVERY, CFG_K_TIME_LIMIT };

#define CFG_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- small helpers -------------------------------------------------------- */

static char *cfg_dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *cfg_dup(const char *s)
{
    return cfg_dupn(s, strlen(s));
}

static int cfg_lower(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

/* ASCII-only and length-bounded: the C library's versions depend on the
 * locale and stop at NUL. */
static int cfg_ieq(const char *s, size_t n, const char *word)
{
    size_t wn = strlen(word);
    if (n != wn)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (cfg_lower((unsigned char)s[i]) != word[i])
            return 0;
    return 1;
}

static int cfg_eq(const char *s, size_t n, const char *word)
{
    return n == strlen(word) && memcmp(s, word, n) == 0;
}

static void cfg_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Append a copy of s; the capacity is implicit (the next power of two at or
 * above n), so lists grow geometrically without a separate field. */
static int cfg_strv_push(char ***v, size_t *n, const char *s, size_t len)
{
    if ((*n & (*n - 1)) == 0) {
        size_t cap = *n ? *n * 2 : 1;
        char **grown = realloc(*v, cap * sizeof *grown);
        if (!grown)
            return -1;
        *v = grown;
    }
    char *copy = cfg_dupn(s, len);
    if (!copy)
        return -1;
    (*v)[(*n)++] = copy;
    return 0;
}

static void cfg_option_clear(cfg_option *o)
{
    free(o->key);
    free(o->scalar);
    cfg_strv_free(o->items, o->item_count);
    memset(o, 0, sizeof *o);
}

static void cfg_sink_clear(cfg_sink *s)
{
    free(s->name);
    free(s->plugin);
    for (size_t i = 0; i < s->option_count; i++)
        cfg_option_clear(&s->options[i]);
    free(s->options);
    memset(s, 0, sizeof *s);
}

/* Room for CFG_SHOW_MAX bytes escaped plus the ellipsis (CFG_ESC_CAP), and
 * that within quotes (CFG_SHOW_CAP). */
#define CFG_ESC_CAP (CFG_SHOW_MAX * 4 + 4)
#define CFG_SHOW_CAP (CFG_ESC_CAP + 4)

/* ---- errors ---------------------------------------------------------------- */

/* Every message is "FILE:L:C: text", "FILE: text" (no mark) or, for --set,
 * "--set 'ARG': text".  Always returns -1 so callers can `return cfg_fail()`. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int cfg_fail(cfg_ctx *c, const yaml_mark_t *at, const char *fmt, ...);

static int cfg_fail(cfg_ctx *c, const yaml_mark_t *at, const char *fmt, ...)
{
    if (!c->err || c->errlen == 0)
        return -1;
    char who[1024];
    int n;
    if (c->set_arg) {
        oneline_show_n(who, sizeof who, c->set_arg, strlen(c->set_arg), 200);
        n = snprintf(c->err, c->errlen, "--set '%s': ", who);
    } else {
        const char *src = c->source ? c->source : "<string>";
        oneline_show_n(who, sizeof who, src, strlen(src), sizeof who);
        if (at)
            n = snprintf(c->err, c->errlen, "%s:%lu:%lu: ", who, (unsigned long)at->line + 1,
                         (unsigned long)at->column + 1);
        else
            n = snprintf(c->err, c->errlen, "%s: ", who);
    }
    if (n >= 0 && (size_t)n < c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int cfg_oom(cfg_ctx *c)
{
    return cfg_fail(c, NULL, "out of memory");
}

/* ---- nodes ----------------------------------------------------------------- */

#define CFG_AT(node) (&(node)->start_mark)

static yaml_node_t *cfg_node(cfg_ctx *c, int index)
{
    return yaml_document_get_node(c->doc, index);
}

static const char *cfg_sval(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static size_t cfg_slen(const yaml_node_t *n)
{
    return n->data.scalar.length;
}

/* YAML's null: an empty value, "~" or "null", when not quoted. */
static int cfg_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *v = cfg_sval(n);
    size_t len = cfg_slen(n);
    return len == 0 || cfg_eq(v, len, "~") || cfg_eq(v, len, "null") ||
           cfg_eq(v, len, "Null") || cfg_eq(v, len, "NULL");
}

/* How a value appears after "not " in a message. */
static void cfg_show(char *dst, size_t cap, const yaml_node_t *n, const char *v, size_t len)
{
    if (!v && n && n->type == YAML_SEQUENCE_NODE) {
        snprintf(dst, cap, "a list");
    } else if (!v && n && n->type == YAML_MAPPING_NODE) {
        snprintf(dst, cap, "a mapping");
    } else if (!v && n) {
        v = cfg_sval(n);
        len = cfg_slen(n);
    }
    if (v) {
        char esc[CFG_ESC_CAP];
        oneline_show_n(esc, sizeof esc, v, len, CFG_SHOW_MAX);
        snprintf(dst, cap, "'%s'", esc);
    }
}

static const char *cfg_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "a single value";
    }
}

/* ---- scalar values (shared by YAML and --set) ------------------------------ */

/* Decimal with an optional sign and nothing else: strtol would accept
 * leading blanks and stop quietly at garbage. */
static int cfg_parse_int(const char *s, size_t n, long long lo, long long hi, long long *out)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i == n)
        return -1;
    unsigned long long v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned long long d = (unsigned long long)(s[i] - '0');
        /* checked before multiplying: a wrapped value could look small */
        if (v > ((unsigned long long)INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    long long r = neg ? -(long long)v : (long long)v;
    if (r < lo || r > hi)
        return -1;
    *out = r;
    return 0;
}

static int cfg_parse_bool(const char *s, size_t n, int *out)
{
    if (cfg_ieq(s, n, "true") || cfg_ieq(s, n, "yes") || cfg_ieq(s, n, "on")) {
        *out = 1;
        return 0;
    }
    if (cfg_ieq(s, n, "false") || cfg_ieq(s, n, "no") || cfg_ieq(s, n, "off")) {
        *out = 0;
        return 0;
    }
    return -1;
}

/* A scan setting's value refused at its place: "WHY, not VALUE" (the value
 * as cfg_show() shows it). */
static int cfg_refuse(cfg_ctx *c, const yaml_node_t *at, const char *v, size_t n,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int cfg_refuse(cfg_ctx *c, const yaml_node_t *at, const char *v, size_t n,
                      const char *fmt, ...)
{
    char why[512], shown[CFG_SHOW_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    cfg_show(shown, sizeof shown, at, v, n);
    return cfg_fail(c, at ? CFG_AT(at) : NULL, "%s, not %s", why, shown);
}

/* In the helpers below, v == NULL means the YAML value was not a scalar;
 * `at` gives the mark (NULL under --set) and the kind for the message. */

static int cfg_get_bool(cfg_ctx *c, const yaml_node_t *at, const char *key, const char *v,
                        size_t n, int *out)
{
    if (v && cfg_parse_bool(v, n, out) == 0)
        return 0;
    return cfg_refuse(c, at, v, n, "'%s' must be true or false (or yes/no, on/off)", key);
}

static int cfg_get_threads(cfg_ctx *c, const yaml_node_t *at, const char *v, size_t n, int *out)
{
    long long t;
    if (v && cfg_ieq(v, n, "auto")) {
        *out = 0;
        return 0;
    }
    if (v && cfg_parse_int(v, n, 1, CFG_THREADS_MAX, &t) == 0) {
        *out = (int)t;
        return 0;
    }
    return cfg_refuse(c, at, v, n, "'scan.threads' must be 'auto' or an integer 1..%d",
                      CFG_THREADS_MAX);
}

/* scan.max_threads: the most workers threads: auto (and scan.adaptive)
 * may grow to. */
static int cfg_get_max_threads(cfg_ctx *c, const yaml_node_t *at, const char *v, size_t n,
                               int *out)
{
    long long t;
    if (v && cfg_parse_int(v, n, 1, CFG_THREADS_MAX, &t) == 0) {
        *out = (int)t;
        return 0;
    }
    return cfg_refuse(c, at, v, n, "'scan.max_threads' must be an integer 1..%d",
                      CFG_THREADS_MAX);
}

/* scan.max_ops: metadata operations per second, 0 for no limit. */
static int cfg_get_max_ops(cfg_ctx *c, const yaml_node_t *at, const char *v, size_t n,
                           long long *out)
{
    if (v && cfg_parse_int(v, n, 0, CFG_MAX_OPS, out) == 0)
        return 0;
    return cfg_refuse(c, at, v, n,
                      "'scan.max_ops' must be an integer 0..%d (operations per second, 0 = no "
                      "limit)",
                      CFG_MAX_OPS);
}

/* scan.io_priority: normal, or idle (the idle I/O class). */
static int cfg_get_io_priority(cfg_ctx *c, const yaml_node_t *at, const char *v, size_t n,
                               int *out)
{
    if (v && (cfg_ieq(v, n, "normal") || cfg_ieq(v, n, "idle"))) {
        *out = cfg_ieq(v, n, "idle");
        return 0;
    }
    return cfg_refuse(c, at, v, n, "'scan.io_priority' must be normal or idle");
}

static int cfg_get_depth(cfg_ctx *c, const yaml_node_t *at, const char *v, size_t n, int *out)
{
    long long d;
    if (v && cfg_parse_int(v, n, 0, INT32_MAX, &d) == 0) {
        *out = (int)d;
        return 0;
    }
    return cfg_refuse(c, at, v, n,
                      "'scan.max_depth' must be an integer >= 0 (0 = unlimited)");
}

/* scan.mode: octal permission bits of the error file and the MPI manifest,
 * "0640" or "640", at most 0777 (the rule of outfile_parse_mode(), which
 * the sinks' mode option uses; config.c links nothing of the writer). */
static int cfg_get_mode(cfg_ctx *c, const yaml_node_t *at, const char *v, size_t n, int *out)
{
    if (v && ((at && cfg_is_null(at)) || (!at && n == 0))) {
        *out = -1; /* the default: 0600 as root, else 0666 less the umask */
        return 0;
    }
    /* the sinks' `mode:` rule, from the writer that applies it */
    char text[5];
    if (v && n < sizeof text && !memchr(v, '\0', n)) {
        memcpy(text, v, n);
        text[n] = '\0';
        if (outfile_parse_mode(text, out) == 0)
            return 0;
    }
    return cfg_refuse(c, at, v, n,
                      "'scan.mode' must be octal permission bits such as \"0640\"");
}

static int cfg_check_nul(cfg_ctx *c, const yaml_node_t *at, const char *what, const char *v,
                         size_t n)
{
    if (memchr(v, '\0', n))
        return cfg_fail(c, at ? CFG_AT(at) : NULL, "%s contains a NUL byte", what);
    return 0;
}

/* scan.checkpoint_every, scan.time_limit: a duration (cfg_parse_duration);
 * time_limit may be null (or an empty --set value): no limit. */
static int cfg_get_duration(cfg_ctx *c, const yaml_node_t *at, const char *key, int nullable,
                            const char *v, size_t n, long long *out)
{
    if (nullable && v && ((at && cfg_is_null(at)) || (!at && n == 0))) {
        *out = 0;
        return 0;
    }
    char text[64];
    if (v && n < sizeof text && !memchr(v, '\0', n)) {
        memcpy(text, v, n);
        text[n] = '\0';
        if (cfg_parse_duration(text, out) == 0)
            return 0;
    }
    return cfg_refuse(c, at, v, n,
                      "'%s' must be a duration above zero such as 90s, 5m, 3h50m, 1d12h, "
                      "500ms or [D-]HH:MM:SS",
                      key);
}

/* scan.checkpoint, scan.errors: a file name, null (or an empty --set
 * value) for none. */
static int cfg_get_path(cfg_ctx *c, const yaml_node_t *at, const char *key, const char *none,
                        const char *v, size_t n, char **out)
{
    if (!v)
        return cfg_fail(c, CFG_AT(at), "'%s' must be a file name, not %s", key, cfg_kind(at));
    if ((at && cfg_is_null(at)) || (!at && n == 0)) {
        free(*out);
        *out = NULL;
        return 0;
    }
    char label[64];
    snprintf(label, sizeof label, "'%s'", key);
    if (n == 0)
        return cfg_fail(c, at ? CFG_AT(at) : NULL, "%s is empty (leave it out for %s)", label,
                        none);
    if (cfg_check_nul(c, at, label, v, n))
        return -1;
    char *copy = cfg_dupn(v, n);
    if (!copy)
        return cfg_oom(c);
    free(*out);
    *out = copy;
    return 0;
}

/* ---- mappings -------------------------------------------------------------- */

static void cfg_join(char *dst, size_t cap, const char *const *words, size_t count)
{
    size_t o = 0;
    dst[0] = '\0';
    for (size_t i = 0; i < count && o < cap; i++) {
        int n = snprintf(dst + o, cap - o, "%s%s", i ? ", " : "", words[i]);
        if (n < 0)
            break;
        o += (size_t)n;
    }
}

/* Keys must be scalars, unique, and (when `known` is given) from the schema.
 * `pre`/`post` place the location in the message: "sink 2: unknown key 'x'"
 * reads better than a suffix, "unknown key 'x' in 'scan'" the other way. */
static int cfg_check_keys(cfg_ctx *c, const yaml_node_t *map, const char *pre, const char *post,
                          const char *const *known, size_t known_count)
{
    if (map->data.mapping.pairs.top - map->data.mapping.pairs.start > CFG_KEYS_MAX)
        return cfg_fail(c, CFG_AT(map), "%smore than %d keys%s (the limit for a pipeline)", pre,
                        CFG_KEYS_MAX, post);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = cfg_node(c, p->key);
        if (k->type != YAML_SCALAR_NODE)
            return cfg_fail(c, CFG_AT(k), "%skeys must be plain names, not %s%s", pre,
                            cfg_kind(k), post);
        char shown[CFG_SHOW_CAP];
        oneline_show_n(shown, sizeof shown, cfg_sval(k), cfg_slen(k), CFG_SHOW_MAX);
        if (known) {
            size_t i = 0;
            while (i < known_count && !cfg_eq(cfg_sval(k), cfg_slen(k), known[i]))
                i++;
            if (i == known_count) {
                char list[512];
                cfg_join(list, sizeof list, known, known_count);
                return cfg_fail(c, CFG_AT(k), "%sunknown key '%s'%s (known: %s)", pre, shown,
                                post, list);
            }
        } else if (cfg_slen(k) == 0) {
            return cfg_fail(c, CFG_AT(k), "%sempty key%s", pre, post);
        }
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            const yaml_node_t *prev = cfg_node(c, q->key);
            if (cfg_slen(prev) == cfg_slen(k) &&
                memcmp(cfg_sval(prev), cfg_sval(k), cfg_slen(k)) == 0)
                return cfg_fail(c, CFG_AT(k), "%sduplicate key '%s'%s (first at line %lu)", pre,
                                shown, post, (unsigned long)prev->start_mark.line + 1);
        }
    }
    return 0;
}

/* The value of `key` in a mapping already checked by cfg_check_keys. */
static yaml_node_t *cfg_lookup(cfg_ctx *c, const yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = cfg_node(c, p->key);
        if (k->type == YAML_SCALAR_NODE && cfg_eq(cfg_sval(k), cfg_slen(k), key))
            return cfg_node(c, p->value);
    }
    return NULL;
}

/* ---- lists of strings ------------------------------------------------------ */

/* An alias copies the whole list it names, so a small file of aliases to one
 * long list could make millions of copies: copies count against the cap on
 * values too. */
static int cfg_count_items(cfg_ctx *c, const yaml_node_t *at, size_t n)
{
    c->items += n;
    if (c->items <= CFG_NODES_MAX)
        return 0;
    return cfg_fail(c, CFG_AT(at),
                    "more than %d list items, counting each alias's copy (the limit for a "
                    "pipeline)",
                    CFG_NODES_MAX);
}

/* A list item (or the single value standing for a one-item list). */
static int cfg_list_item(cfg_ctx *c, const char *what, size_t index, const yaml_node_t *n,
                         char ***v, size_t *count)
{
    if (n->type != YAML_SCALAR_NODE)
        return cfg_fail(c, CFG_AT(n), "'%s' item %zu must be a string, not %s", what, index,
                        cfg_kind(n));
    if (cfg_is_null(n) || cfg_slen(n) == 0)
        return cfg_fail(c, CFG_AT(n), "'%s' item %zu is empty", what, index);
    char label[128];
    snprintf(label, sizeof label, "'%s' item %zu", what, index);
    if (cfg_check_nul(c, n, label, cfg_sval(n), cfg_slen(n)))
        return -1;
    if (cfg_strv_push(v, count, cfg_sval(n), cfg_slen(n)))
        return cfg_oom(c);
    return 0;
}

/* A list of non-empty strings: a sequence, a single string, or null/absent
 * for none.  On success the old list is freed and replaced. */
static int cfg_node_strlist(cfg_ctx *c, const char *what, const yaml_node_t *n, char ***list,
                            size_t *count)
{
    char **v = NULL;
    size_t k = 0;
    int rc = 0;
    if (n->type == YAML_MAPPING_NODE) {
        rc = cfg_fail(c, CFG_AT(n), "'%s' must be a list of strings, not a mapping", what);
    } else if (n->type == YAML_SCALAR_NODE) {
        if (!cfg_is_null(n))
            rc = cfg_list_item(c, what, 1, n, &v, &k);
    } else {
        size_t i = 1;
        rc = cfg_count_items(
            c, n, (size_t)(n->data.sequence.items.top - n->data.sequence.items.start));
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             rc == 0 && it < n->data.sequence.items.top; it++, i++)
            rc = cfg_list_item(c, what, i, cfg_node(c, *it), &v, &k);
    }
    if (rc) {
        cfg_strv_free(v, k);
        return -1;
    }
    cfg_strv_free(*list, *count);
    *list = v;
    *count = k;
    return 0;
}

/* --set's form of a list: comma-separated, empty value = empty list. */
static int cfg_split_strlist(cfg_ctx *c, const char *what, const char *s, char ***list,
                             size_t *count)
{
    char **v = NULL;
    size_t k = 0;
    if (*s) {
        for (size_t index = 1;; index++) {
            const char *comma = strchr(s, ',');
            size_t n = comma ? (size_t)(comma - s) : strlen(s);
            if (n == 0) {
                cfg_strv_free(v, k);
                return cfg_fail(c, NULL, "'%s' item %zu is empty", what, index);
            }
            if (cfg_strv_push(&v, &k, s, n)) {
                cfg_strv_free(v, k);
                return cfg_oom(c);
            }
            if (!comma)
                break;
            s = comma + 1;
        }
    }
    cfg_strv_free(*list, *count);
    *list = v;
    *count = k;
    return 0;
}

/* ---- scan ------------------------------------------------------------------ */

static int cfg_scan_key(const char *k, size_t n)
{
    for (size_t i = 0; i < CFG_COUNT(cfg_scan_keys); i++)
        if (cfg_eq(k, n, cfg_scan_keys[i]))
            return (int)i;
    return -1;
}

/* Where a list-valued scan key lives. */
static int cfg_scan_list_ref(cfg_scan *s, int key, char ****list, size_t **count)
{
    switch (key) {
    case CFG_K_ROOTS:
        *list = &s->roots;
        *count = &s->root_count;
        return 1;
    case CFG_K_SNAP_NAMES:
        *list = &s->snapshot_names;
        *count = &s->snapshot_name_count;
        return 1;
    case CFG_K_EXCLUDE:
        *list = &s->excludes;
        *count = &s->exclude_count;
        return 1;
    default:
        return 0;
    }
}

/* A scalar scan key from YAML (at = the value node, v == NULL when it is
 * not a scalar) or from --set (at == NULL). */
static int cfg_scan_scalar(cfg_ctx *c, cfg_scan *s, int key, const yaml_node_t *at,
                           const char *v, size_t n)
{
    switch (key) {
    case CFG_K_THREADS:
        return cfg_get_threads(c, at, v, n, &s->threads);
    case CFG_K_ONE_FS:
        return cfg_get_bool(c, at, "scan.one_file_system", v, n, &s->one_file_system);
    case CFG_K_SKIP_SNAP:
        return cfg_get_bool(c, at, "scan.skip_snapshots", v, n, &s->skip_snapshots);
    case CFG_K_STRICT:
        return cfg_get_bool(c, at, "scan.strict", v, n, &s->strict);
    case CFG_K_MAX_DEPTH:
        return cfg_get_depth(c, at, v, n, &s->max_depth);
    case CFG_K_MODE:
        return cfg_get_mode(c, at, v, n, &s->mode);
    case CFG_K_MAX_THREADS:
        return cfg_get_max_threads(c, at, v, n, &s->max_threads);
    case CFG_K_MAX_OPS:
        return cfg_get_max_ops(c, at, v, n, &s->max_ops);
    case CFG_K_ADAPTIVE:
        return cfg_get_bool(c, at, "scan.adaptive", v, n, &s->adaptive);
    case CFG_K_LAZY_STAT:
        return cfg_get_bool(c, at, "scan.lazy_stat", v, n, &s->lazy_stat);
    case CFG_K_IO_PRIORITY:
        return cfg_get_io_priority(c, at, v, n, &s->io_idle);
    case CFG_K_CHECKPOINT_EVERY:
        return cfg_get_duration(c, at, "scan.checkpoint_every", 0, v, n,
                                &s->checkpoint_every_ms);
    case CFG_K_TIME_LIMIT:
        return cfg_get_duration(c, at, "scan.time_limit", 1, v, n, &s->time_limit_ms);
    case CFG_K_CHECKPOINT:
        return cfg_get_path(c, at, "scan.checkpoint", "no checkpoints", v, n, &s->checkpoint);
    case CFG_K_ERRORS:
        /* null (or an empty --set value) means "no error file" */
        return cfg_get_path(c, at, "scan.errors", "no error file", v, n, &s->errors_path);
    default:
        return -1;
    }
}

static int cfg_load_scan(cfg_ctx *c, const yaml_node_t *n, cfg_scan *s)
{
    if (cfg_is_null(n))
        return 0;
    if (n->type != YAML_MAPPING_NODE) {
        char shown[CFG_SHOW_CAP];
        cfg_show(shown, sizeof shown, n, NULL, 0);
        return cfg_fail(c, CFG_AT(n), "'scan' must be a mapping (roots, threads, ...), not %s",
                        shown);
    }
    if (cfg_check_keys(c, n, "", " in 'scan'", cfg_scan_keys, CFG_COUNT(cfg_scan_keys)))
        return -1;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = cfg_node(c, p->key);
        const yaml_node_t *v = cfg_node(c, p->value);
        int key = cfg_scan_key(cfg_sval(k), cfg_slen(k));
        char ***list;
        size_t *count;
        if (cfg_scan_list_ref(s, key, &list, &count)) {
            char what[64];
            snprintf(what, sizeof what, "scan.%s", cfg_scan_keys[key]);
            if (cfg_node_strlist(c, what, v, list, count))
                return -1;
        } else {
            int scalar = v->type == YAML_SCALAR_NODE;
            if (cfg_scan_scalar(c, s, key, v, scalar ? cfg_sval(v) : NULL,
                                scalar ? cfg_slen(v) : 0))
                return -1;
        }
    }
    return 0;
}

/* ---- sinks ----------------------------------------------------------------- */

static void cfg_mark_of(cfg_mark *m, const yaml_node_t *n)
{
    m->line = (int)n->start_mark.line + 1;
    m->column = (int)n->start_mark.column + 1;
}

/* A required-or-optional string inside sink N. */
static int cfg_sink_string(cfg_ctx *c, size_t index, const char *key, const yaml_node_t *n,
                           char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return cfg_fail(c, CFG_AT(n), "sink %zu: '%s' must be a string, not %s", index, key,
                        cfg_kind(n));
    if (cfg_is_null(n) || cfg_slen(n) == 0)
        return cfg_fail(c, CFG_AT(n), "sink %zu: '%s' is empty", index, key);
    char label[64];
    snprintf(label, sizeof label, "sink %zu: '%s'", index, key);
    if (cfg_check_nul(c, n, label, cfg_sval(n), cfg_slen(n)))
        return -1;
    if (!(*out = cfg_dupn(cfg_sval(n), cfg_slen(n))))
        return cfg_oom(c);
    return 0;
}

/* YAML reads ~, null and nothing at all as null, an easy surprise. */
#define CFG_NULL_HINT " (~, null or nothing): quote it ('~') for the text"

static int cfg_load_option(cfg_ctx *c, const char *sink, const yaml_node_t *k,
                           const yaml_node_t *v, cfg_option *o)
{
    char key[CFG_SHOW_CAP];
    oneline_show_n(key, sizeof key, cfg_sval(k), cfg_slen(k), CFG_SHOW_MAX);
    char label[2 * CFG_SHOW_CAP + 64];
    snprintf(label, sizeof label, "sink '%s': option '%s'", sink, key);
    if (cfg_check_nul(c, k, label, cfg_sval(k), cfg_slen(k)))
        return -1;
    cfg_mark_of(&o->key_mark, k);
    cfg_mark_of(&o->mark, v);
    if (!(o->key = cfg_dupn(cfg_sval(k), cfg_slen(k))))
        return cfg_oom(c);
    if (v->type == YAML_SCALAR_NODE) {
        /* no option type has a null (path: ~ would otherwise create a file
         * named '~'); an option left out takes its default instead */
        if (cfg_is_null(v))
            return cfg_fail(c, CFG_AT(v),
                            "%s must be a value, not null%s, or leave the key out for its "
                            "default",
                            label, CFG_NULL_HINT);
        if (cfg_check_nul(c, v, label, cfg_sval(v), cfg_slen(v)))
            return -1;
        if (!(o->scalar = cfg_dupn(cfg_sval(v), cfg_slen(v))))
            return cfg_oom(c);
        return 0;
    }
    if (v->type == YAML_MAPPING_NODE)
        return cfg_fail(c, CFG_AT(v),
                        "%s must be a single value or a list of values, not a mapping", label);
    o->is_list = 1;
    /* the key's mark: the list itself may be an alias's, far above */
    if (cfg_count_items(c, k,
                        (size_t)(v->data.sequence.items.top - v->data.sequence.items.start)))
        return -1;
    size_t i = 1;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++, i++) {
        const yaml_node_t *item = cfg_node(c, *it);
        if (item->type != YAML_SCALAR_NODE)
            return cfg_fail(c, CFG_AT(item), "%s: item %zu must be a single value, not %s",
                            label, i, cfg_kind(item));
        if (cfg_is_null(item))
            return cfg_fail(c, CFG_AT(item), "%s: item %zu must be a value, not null%s", label,
                            i, CFG_NULL_HINT);
        char item_label[sizeof label + 32];
        snprintf(item_label, sizeof item_label, "%s: item %zu", label, i);
        if (cfg_check_nul(c, item, item_label, cfg_sval(item), cfg_slen(item)))
            return -1;
        if (cfg_strv_push(&o->items, &o->item_count, cfg_sval(item), cfg_slen(item)))
            return cfg_oom(c);
    }
    return 0;
}

static int cfg_load_options(cfg_ctx *c, const yaml_node_t *n, cfg_sink *s)
{
    char sink[CFG_SHOW_CAP];
    oneline_show_n(sink, sizeof sink, s->name, strlen(s->name), CFG_SHOW_MAX);
    if (cfg_is_null(n))
        return 0;
    if (n->type != YAML_MAPPING_NODE) {
        char shown[CFG_SHOW_CAP];
        cfg_show(shown, sizeof shown, n, NULL, 0);
        return cfg_fail(c, CFG_AT(n), "sink '%s': 'options' must be a mapping, not %s", sink,
                        shown);
    }
    char pre[CFG_SHOW_CAP + 16];
    snprintf(pre, sizeof pre, "sink '%s': ", sink);
    if (cfg_check_keys(c, n, pre, " in 'options'", NULL, 0))
        return -1;
    size_t pairs = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (pairs == 0)
        return 0;
    if (!(s->options = calloc(pairs, sizeof *s->options)))
        return cfg_oom(c);
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        /* counted before loading so a failure half-way is still freed */
        cfg_option *o = &s->options[s->option_count++];
        if (cfg_load_option(c, sink, cfg_node(c, p->key), cfg_node(c, p->value), o))
            return -1;
    }
    return 0;
}

static cfg_sink *cfg_append_sink(cfg_pipeline *p)
{
    cfg_sink *grown = realloc(p->sinks, (p->sink_count + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    p->sinks = grown;
    cfg_sink *s = &p->sinks[p->sink_count++];
    memset(s, 0, sizeof *s);
    return s;
}

static int cfg_load_sink(cfg_ctx *c, size_t index, const yaml_node_t *n, cfg_pipeline *p)
{
    if (n->type != YAML_MAPPING_NODE) {
        char shown[CFG_SHOW_CAP];
        cfg_show(shown, sizeof shown, n, NULL, 0);
        return cfg_fail(c, CFG_AT(n), "sink %zu must be a mapping (name, plugin, options), not %s",
                        index, shown);
    }
    char pre[32];
    snprintf(pre, sizeof pre, "sink %zu: ", index);
    if (cfg_check_keys(c, n, pre, "", cfg_sink_keys, CFG_COUNT(cfg_sink_keys)))
        return -1;
    const yaml_node_t *plugin = cfg_lookup(c, n, "plugin");
    const yaml_node_t *name = cfg_lookup(c, n, "name");
    const yaml_node_t *options = cfg_lookup(c, n, "options");
    if (!plugin)
        return cfg_fail(c, CFG_AT(n), "sink %zu: missing required key 'plugin'", index);

    cfg_sink *s = cfg_append_sink(p);
    if (!s)
        return cfg_oom(c);
    cfg_mark_of(&s->mark, n);
    if (cfg_sink_string(c, index, "plugin", plugin, &s->plugin))
        return -1;
    if (name) {
        if (cfg_sink_string(c, index, "name", name, &s->name))
            return -1;
    } else if (!(s->name = cfg_dup(s->plugin))) {
        return cfg_oom(c);
    }

    const yaml_node_t *name_at = name ? name : plugin;
    char shown[CFG_SHOW_CAP];
    oneline_show_n(shown, sizeof shown, s->name, strlen(s->name), CFG_SHOW_MAX);
    /* "scan.KEY=VALUE" must stay unambiguous for --set */
    if (strcmp(s->name, "scan") == 0)
        return cfg_fail(c, CFG_AT(name_at),
                        "sink %zu: the name 'scan' is reserved (--set scan.KEY=VALUE sets scan "
                        "keys); give the sink another 'name'",
                        index);
    for (size_t i = 0; i + 1 < p->sink_count; i++)
        if (strcmp(p->sinks[i].name, s->name) == 0)
            return name ? cfg_fail(c, CFG_AT(name), "duplicate sink name '%s'", shown)
                        : cfg_fail(c, CFG_AT(plugin),
                                   "duplicate sink name '%s' (a sink's name defaults to its "
                                   "plugin; give each sink its own 'name')",
                                   shown);
    return options ? cfg_load_options(c, options, s) : 0;
}

static int cfg_load_sinks(cfg_ctx *c, const yaml_node_t *n, cfg_pipeline *p)
{
    int empty_list = n->type == YAML_SEQUENCE_NODE &&
                     n->data.sequence.items.start == n->data.sequence.items.top;
    if (cfg_is_null(n) || empty_list)
        return cfg_fail(c, CFG_AT(n), "'sinks' must list at least one sink");
    if (n->type != YAML_SEQUENCE_NODE) {
        char shown[CFG_SHOW_CAP];
        cfg_show(shown, sizeof shown, n, NULL, 0);
        return cfg_fail(c, CFG_AT(n), "'sinks' must be a list, not %s", shown);
    }
    size_t i = 1;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++, i++)
        if (cfg_load_sink(c, i, cfg_node(c, *it), p))
            return -1;
    return 0;
}

/* ---- the document ---------------------------------------------------------- */

static int cfg_load_version(cfg_ctx *c, const yaml_node_t *root, cfg_pipeline *p)
{
    const yaml_node_t *v = NULL;
    /* found by hand: the version decides how the rest is read, so it is
     * checked before any key-name complaint about a newer schema */
    for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < root->data.mapping.pairs.top;
         q++) {
        const yaml_node_t *k = cfg_node(c, q->key);
        if (k->type == YAML_SCALAR_NODE && cfg_eq(cfg_sval(k), cfg_slen(k), "version")) {
            v = cfg_node(c, q->value);
            break;
        }
    }
    if (!v)
        return cfg_fail(c, CFG_AT(root),
                        "missing required key 'version' (this pwalk reads version 1)");
    long long ver;
    if (v->type == YAML_SCALAR_NODE && cfg_parse_int(cfg_sval(v), cfg_slen(v), 1, 1, &ver) == 0) {
        p->version = 1;
        return 0;
    }
    char shown[CFG_SHOW_CAP];
    cfg_show(shown, sizeof shown, v, NULL, 0);
    if (v->type == YAML_SCALAR_NODE)
        return cfg_fail(c, CFG_AT(v), "unsupported version %s (this pwalk reads version 1)",
                        shown);
    return cfg_fail(c, CFG_AT(v), "'version' must be 1, not %s", shown);
}

static int cfg_load_root(cfg_ctx *c, const yaml_node_t *root, cfg_pipeline *p)
{
    if (root->type != YAML_MAPPING_NODE) {
        char shown[CFG_SHOW_CAP];
        cfg_show(shown, sizeof shown, root, NULL, 0);
        return cfg_fail(c, CFG_AT(root),
                        "a pipeline must be a mapping (version, scan, sinks, ...), not %s", shown);
    }
    if (cfg_load_version(c, root, p))
        return -1;
    if (cfg_check_keys(c, root, "", " at the top level", cfg_top_keys, CFG_COUNT(cfg_top_keys)))
        return -1;
    int have_sinks = 0;
    for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < root->data.mapping.pairs.top;
         q++) {
        const yaml_node_t *k = cfg_node(c, q->key);
        const yaml_node_t *v = cfg_node(c, q->value);
        const char *key = cfg_sval(k);
        size_t klen = cfg_slen(k);
        int rc = 0;
        if (cfg_eq(key, klen, "allow_mutation")) {
            int scalar = v->type == YAML_SCALAR_NODE;
            rc = cfg_get_bool(c, v, "allow_mutation", scalar ? cfg_sval(v) : NULL,
                              scalar ? cfg_slen(v) : 0, &p->allow_mutation);
        } else if (cfg_eq(key, klen, "scan")) {
            rc = cfg_load_scan(c, v, &p->scan);
        } else if (cfg_eq(key, klen, "plugin_path")) {
            rc = cfg_node_strlist(c, "plugin_path", v, &p->plugin_path, &p->plugin_path_count);
        } else if (cfg_eq(key, klen, "sinks")) {
            have_sinks = 1;
            rc = cfg_load_sinks(c, v, p);
        }
        if (rc)
            return -1;
    }
    if (!have_sinks)
        return cfg_fail(c, NULL, "'sinks' must list at least one sink");
    return 0;
}

/* libyaml's reader errors carry a byte offset but no line and column. */
static void cfg_mark_from_offset(const char *text, size_t len, size_t offset, yaml_mark_t *m)
{
    memset(m, 0, sizeof *m);
    if (offset > len)
        offset = len;
    for (size_t i = 0; i < offset; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '\n' || (ch == '\r' && (i + 1 >= len || text[i + 1] != '\n'))) {
            m->line++;
            m->column = 0;
        } else if ((ch & 0xc0) != 0x80) {
            m->column++;    /* libyaml counts characters, not bytes */
        }
    }
}

static int cfg_yaml_error(cfg_ctx *c, const yaml_parser_t *y, const char *text, size_t len)
{
    if (y->error == YAML_MEMORY_ERROR)
        return cfg_oom(c);
    const char *problem = y->problem ? y->problem : "invalid YAML";
    if (y->error == YAML_READER_ERROR) {
        yaml_mark_t m;
        cfg_mark_from_offset(text, len, y->problem_offset, &m);
        if (y->problem_value >= 0)
            return cfg_fail(c, &m, "%s (byte 0x%02x)", problem, (unsigned)y->problem_value);
        return cfg_fail(c, &m, "%s", problem);
    }
    if (y->context)
        return cfg_fail(c, &y->problem_mark, "%s (%s at %lu:%lu)", problem,
                        y->context, (unsigned long)y->context_mark.line + 1,
                        (unsigned long)y->context_mark.column + 1);
    return cfg_fail(c, &y->problem_mark, "%s", problem);
}

/* Counts levels and values on libyaml's event stream and stops at the first
 * one past the caps, before a document is composed: while the nesting stays
 * shallow, every event costs little.  A syntax error ends this pass quietly;
 * the load that follows stops at the same place and reports it. */
static int cfg_check_size(cfg_ctx *c, const char *text, size_t len)
{
    yaml_parser_t y;
    if (!yaml_parser_initialize(&y))
        return cfg_oom(c);
    yaml_parser_set_input_string(&y, (const unsigned char *)text, len);
    size_t depth = 0, nodes = 0;
    int rc = 0;
    for (;;) {
        yaml_event_t e;
        if (!yaml_parser_parse(&y, &e))
            break;
        yaml_event_type_t t = e.type;
        yaml_mark_t at = e.start_mark;
        yaml_event_delete(&e);
        if (t == YAML_STREAM_END_EVENT)
            break;
        if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
            depth--;
            continue;
        }
        if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT)
            depth++;
        else if (t != YAML_SCALAR_EVENT && t != YAML_ALIAS_EVENT)
            continue;
        if (depth > CFG_DEPTH_MAX) {
            rc = cfg_fail(c, &at, "nested deeper than %d levels (the limit for a pipeline)",
                          CFG_DEPTH_MAX);
            break;
        }
        if (++nodes > CFG_NODES_MAX) {
            rc = cfg_fail(c, &at, "more than %d values (the limit for a pipeline)",
                          CFG_NODES_MAX);
            break;
        }
    }
    yaml_parser_delete(&y);
    return rc;
}

/* ---- public API -------------------------------------------------------------- */

void cfg_init_defaults(cfg_pipeline *out)
{
    memset(out, 0, sizeof *out);
    out->version = 1;
    out->scan.threads = 0;
    out->scan.max_threads = CFG_DEFAULT_MAX_THREADS;
    out->scan.skip_snapshots = 1;
    out->scan.mode = -1;
    out->scan.checkpoint_every_ms = CFG_DEFAULT_CHECKPOINT_EVERY_MS;
    out->source = cfg_dup("<built-in>");
    /* on allocation failure the list stays empty; callers detect that
     * through the NULL source */
    if (cfg_strv_push(&out->scan.snapshot_names, &out->scan.snapshot_name_count, ".snapshot",
                      9) != 0) {
        cfg_strv_free(out->scan.snapshot_names, out->scan.snapshot_name_count);
        out->scan.snapshot_names = NULL;
        out->scan.snapshot_name_count = 0;
    }
}

void cfg_free(cfg_pipeline *p)
{
    if (!p)
        return;
    free(p->source);
    cfg_strv_free(p->scan.roots, p->scan.root_count);
    cfg_strv_free(p->scan.snapshot_names, p->scan.snapshot_name_count);
    cfg_strv_free(p->scan.excludes, p->scan.exclude_count);
    free(p->scan.errors_path);
    free(p->scan.checkpoint);
    cfg_strv_free(p->plugin_path, p->plugin_path_count);
    for (size_t i = 0; i < p->sink_count; i++)
        cfg_sink_clear(&p->sinks[i]);
    free(p->sinks);
    /* zeroed, so a second cfg_free is harmless */
    memset(p, 0, sizeof *p);
}

int cfg_load_string(const char *text, size_t len, const char *name, cfg_pipeline *out,
                    char *err, size_t errlen)
{
    /* *out is an output only: main() passes an uninitialised struct */
    cfg_init_defaults(out);
    cfg_ctx c = {.source = name ? name : "<string>", .err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = '\0';
    if (!out->source)
        return cfg_oom(&c);
    free(out->source);
    if (!(out->source = cfg_dup(c.source)))
        return cfg_oom(&c);

    if (text && len > CFG_FILE_MAX) {
        cfg_fail(&c, NULL, "too large for a pipeline (over %zu MiB)", CFG_FILE_MAX >> 20);
        cfg_free(out);
        cfg_init_defaults(out);
        return -1;
    }
    if (cfg_check_size(&c, text ? text : "", text ? len : 0) != 0) {
        cfg_free(out);
        cfg_init_defaults(out);
        return -1;
    }
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    if (!yaml_parser_initialize(&parser))
        return cfg_oom(&c);
    yaml_parser_set_input_string(&parser, (const unsigned char *)(text ? text : ""),
                                 text ? len : 0);
    int rc;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = cfg_yaml_error(&c, &parser, text, len);
    } else {
        c.doc = &doc;
        const yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root || cfg_is_null(root)) {
            rc = cfg_fail(&c, NULL,
                          "empty pipeline (expected 'version: 1' and a list of 'sinks')");
        } else if (!yaml_parser_load(&parser, &extra)) {
            /* a broken second document is still broken input */
            rc = cfg_yaml_error(&c, &parser, text, len);
        } else {
            const yaml_node_t *more = yaml_document_get_root_node(&extra);
            if (more) {
                c.doc = &extra;
                rc = cfg_fail(&c, CFG_AT(more),
                              "a second YAML document ('---'); a pipeline is one document");
                c.doc = &doc;
            } else {
                rc = cfg_load_root(&c, root, out);
            }
            yaml_document_delete(&extra);
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    if (rc) {
        cfg_free(out);
        cfg_init_defaults(out);
        return -1;
    }
    return 0;
}

int cfg_load_file(const char *path, cfg_pipeline *out, char *err, size_t errlen)
{
    cfg_ctx c = {.source = path, .err = err, .errlen = errlen};
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        cfg_init_defaults(out);
        return cfg_fail(&c, NULL, "%s", strerror(e));
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int e = 0;
    for (;;) {
        if (len == cap) {
            if (cap > CFG_FILE_MAX) {
                e = EFBIG;
                break;
            }
            /* one byte past the cap tells a file of exactly the cap */
            size_t ncap = cap ? cap * 2 : 4096;
            if (ncap > CFG_FILE_MAX)
                ncap = CFG_FILE_MAX + 1;
            char *grown = realloc(buf, ncap);
            if (!grown) {
                e = ENOMEM;
                break;
            }
            buf = grown;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                e = errno ? errno : EIO;
            break;
        }
    }
    fclose(f);
    if (e) {
        free(buf);
        cfg_init_defaults(out);
        if (e == EFBIG)
            return cfg_fail(&c, NULL, "too large for a pipeline (over %zu MiB)",
                            CFG_FILE_MAX >> 20);
        return cfg_fail(&c, NULL, "%s", strerror(e));
    }
    int rc = cfg_load_string(buf, len, path, out, err, errlen);
    free(buf);
    return rc;
}

int cfg_set_roots(cfg_pipeline *p, char *const *roots, size_t count)
{
    char **v = NULL;
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        if (!roots[i] || cfg_strv_push(&v, &n, roots[i], strlen(roots[i]))) {
            cfg_strv_free(v, n);
            return -1;
        }
    cfg_strv_free(p->scan.roots, p->scan.root_count);
    p->scan.roots = v;
    p->scan.root_count = n;
    return 0;
}

cfg_sink *cfg_add_sink(cfg_pipeline *p, const char *name, const char *plugin)
{
    if (!p || !plugin)
        return NULL;
    char *pl = cfg_dup(plugin);
    char *nm = cfg_dup(name ? name : plugin);
    cfg_sink *s = pl && nm ? cfg_append_sink(p) : NULL;
    if (!s) {
        free(pl);
        free(nm);
        return NULL;
    }
    s->plugin = pl;
    s->name = nm;
    return s;
}

int cfg_sink_set(cfg_sink *s, const char *key, const char *value)
{
    if (!s || !key || !value)
        return -1;
    char *scalar = cfg_dup(value);
    if (!scalar)
        return -1;
    for (size_t i = 0; i < s->option_count; i++) {
        cfg_option *o = &s->options[i];
        if (strcmp(o->key, key) == 0) {
            free(o->scalar);
            cfg_strv_free(o->items, o->item_count);
            o->items = NULL;
            o->item_count = 0;
            o->is_list = 0;
            o->scalar = scalar;
            o->mark = (cfg_mark){0, 0};
            o->key_mark = (cfg_mark){0, 0};
            return 0;
        }
    }
    char *k = cfg_dup(key);
    cfg_option *grown = k ? realloc(s->options, (s->option_count + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(k);
        free(scalar);
        return -1;
    }
    s->options = grown;
    cfg_option *o = &s->options[s->option_count++];
    memset(o, 0, sizeof *o);
    o->key = k;
    o->scalar = scalar;
    return 0;
}

static int cfg_set_scan(cfg_ctx *c, cfg_scan *s, const char *key, size_t klen, const char *value)
{
    int k = cfg_scan_key(key, klen);
    if (k < 0) {
        char shown[CFG_SHOW_CAP], list[512];
        oneline_show_n(shown, sizeof shown, key, klen, CFG_SHOW_MAX);
        cfg_join(list, sizeof list, cfg_scan_keys, CFG_COUNT(cfg_scan_keys));
        return cfg_fail(c, NULL, "unknown key '%s' in 'scan' (known: %s)", shown, list);
    }
    char ***list;
    size_t *count;
    if (cfg_scan_list_ref(s, k, &list, &count)) {
        char what[64];
        snprintf(what, sizeof what, "scan.%s", cfg_scan_keys[k]);
        return cfg_split_strlist(c, what, value, list, count);
    }
    return cfg_scan_scalar(c, s, k, NULL, value, strlen(value));
}

int cfg_apply_set(cfg_pipeline *p, const char *assignment, char *err, size_t errlen)
{
    cfg_ctx c = {.source = p ? p->source : NULL, .set_arg = assignment ? assignment : "",
                 .err = err, .errlen = errlen};
    if (!p || !assignment)
        return cfg_fail(&c, NULL, "nothing to set");
    const char *eq = strchr(assignment, '=');
    if (!eq)
        return cfg_fail(&c, NULL, "missing '=' (expected SINK.OPTION=VALUE or scan.KEY=VALUE)");
    size_t klen = (size_t)(eq - assignment);
    const char *dot = memchr(assignment, '.', klen);
    if (!dot)
        return cfg_fail(&c, NULL, "missing '.' (expected SINK.OPTION=VALUE or scan.KEY=VALUE)");
    const char *value = eq + 1;
    if (dot - assignment == 4 && memcmp(assignment, "scan", 4) == 0)
        return cfg_set_scan(&c, &p->scan, dot + 1, (size_t)(eq - dot - 1), value);

    /* the longest matching name wins: a plugin path used as a name has dots */
    cfg_sink *s = NULL;
    size_t best = 0;
    for (size_t i = 0; i < p->sink_count; i++) {
        size_t n = strlen(p->sinks[i].name);
        if (n < klen && assignment[n] == '.' && memcmp(assignment, p->sinks[i].name, n) == 0 &&
            (!s || n > best)) {
            s = &p->sinks[i];
            best = n;
        }
    }
    if (!s) {
        char shown[CFG_SHOW_CAP], names[512];
        size_t o = 0;
        oneline_show_n(shown, sizeof shown, assignment, (size_t)(dot - assignment), CFG_SHOW_MAX);
        names[0] = '\0';
        for (size_t i = 0; i < p->sink_count && o < sizeof names; i++) {
            char one[CFG_SHOW_CAP];
            oneline_show_n(one, sizeof one, p->sinks[i].name, strlen(p->sinks[i].name),
                           CFG_SHOW_MAX);
            int n = snprintf(names + o, sizeof names - o, "%s%s", i ? ", " : "", one);
            if (n < 0)
                break;
            o += (size_t)n;
        }
        return cfg_fail(&c, NULL, "no sink named '%s' (sinks: %s)", shown,
                        p->sink_count ? names : "none");
    }
    const char *opt = assignment + best + 1;
    if (opt == eq)
        return cfg_fail(&c, NULL, "empty option name (expected SINK.OPTION=VALUE)");
    char *key = cfg_dupn(opt, (size_t)(eq - opt));
    int rc = key ? cfg_sink_set(s, key, value) : -1;
    free(key);
    return rc ? cfg_oom(&c) : 0;
}

/* ---- durations ----------------------------------------------------------- */

/* Far above any scan (about 146 000 years) and far below overflow, so sums
 * of checked terms cannot wrap. */
#define CFG_DURATION_MAX_MS (INT64_MAX / 2)

/* An unsigned decimal of 1..max_digits digits; the end, or NULL. */
static const char *cfg_dur_number(const char *s, int max_digits, long long *v)
{
    long long x = 0;
    int digits = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (++digits > max_digits)
            return NULL;
        x = x * 10 + (*s - '0');
    }
    if (digits == 0)
        return NULL;
    *v = x;
    return s;
}

/* *total += v * unit, refusing anything past CFG_DURATION_MAX_MS. */
static int cfg_dur_add(long long *total, long long v, long long unit)
{
    if (v > (CFG_DURATION_MAX_MS - *total) / unit)
        return -1;
    *total += v * unit;
    return 0;
}

/* "90", "90s", "5m", "3h50m", "1d12h", "1h30m15s", "500ms": numbers with
 * units, each unit at most once and from the largest down (so "5m3h",
 * likely a typo, is refused); a bare number is seconds. */
static int cfg_dur_units(const char *t, long long *ms)
{
    static const struct { const char *name; long long ms; } units[] = {
        {"d", 86400000LL}, {"h", 3600000LL}, {"ms", 1LL}, {"m", 60000LL}, {"s", 1000LL}};
    /* the order units must come in ("ms" is tried before "m") */
    static const int rank[] = {0, 1, 4, 2, 3};
    long long total = 0, v;
    int last = -1;
    const char *e = cfg_dur_number(t, 15, &v);
    if (e && *e == '\0')
        return cfg_dur_add(ms, v, 1000) ? -1 : 0;
    while (*t) {
        if (!(e = cfg_dur_number(t, 15, &v)))
            return -1;
        size_t u = 0;
        while (u < CFG_COUNT(units) && strncmp(e, units[u].name, strlen(units[u].name)) != 0)
            u++;
        if (u == CFG_COUNT(units) || rank[u] <= last || cfg_dur_add(&total, v, units[u].ms))
            return -1;
        last = rank[u];
        t = e + strlen(units[u].name);
    }
    *ms = total;
    return 0;
}

/* SLURM's --time forms: "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM",
 * "D-HH:MM:SS" (fields after the first: two digits at most, below 60; the
 * hours after a day count below 24). */
static int cfg_dur_clock(const char *t, long long *ms)
{
    long long f[3], days = 0, total = 0;
    size_t nf = 0;
    const char *dash = strchr(t, '-');
    if (dash) {
        if (cfg_dur_number(t, 15, &days) != dash)
            return -1;
        t = dash + 1;
    }
    for (;;) {
        const char *e = cfg_dur_number(t, dash || nf ? 2 : 15, &f[nf]);
        if (!e || (nf && f[nf] >= 60) || (dash && !nf && f[0] >= 24))
            return -1;
        nf++;
        if (*e == '\0')
            break;
        if (*e != ':' || nf == 3)
            return -1;
        t = e + 1;
    }
    /* the unit of the first field: hours after "D-" or in H:M:S, else minutes */
    long long unit = dash || nf == 3 ? 3600000LL : 60000LL;
    if (!dash && nf < 2)
        return -1;
    if (cfg_dur_add(&total, days, 86400000LL))
        return -1;
    for (size_t i = 0; i < nf; i++, unit /= 60)
        if (cfg_dur_add(&total, f[i], unit))
            return -1;
    *ms = total;
    return 0;
}

int cfg_parse_duration(const char *text, long long *ms)
{
    long long v = 0;
    if (!text || !*text)
        return -1;
    int rc = strpbrk(text, ":-") ? cfg_dur_clock(text, &v) : cfg_dur_units(text, &v);
    if (rc || v <= 0)
        return -1;
    *ms = v;
    return 0;
}

/* ---- the canonical pipeline (checkpoint journals) --------------------------- */

typedef struct cfg_canon {
    char **lines;
    size_t count;
    char *buf;          /* the line being built */
    size_t len, cap;
    int oom;
} cfg_canon;

static void cfg_canon_raw(cfg_canon *c, const char *s, size_t n)
{
    if (c->oom)
        return;
    if (c->len + n + 1 > c->cap) {
        size_t cap = (c->len + n + 1) * 2;
        char *grown = realloc(c->buf, cap);
        if (!grown) {
            c->oom = 1;
            return;
        }
        c->buf = grown;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, s, n);
    c->len += n;
    c->buf[c->len] = '\0';
}

/* Lossless text of s (a path may hold '\n' or any byte).  In a key, '='
 * becomes \x3d too: the journal's checks split a line at its first '='
 * (and the text of a literal "\x3d" is "\\x3d", so nothing collides). */
static void cfg_canon_text(cfg_canon *c, const char *s, int key)
{
    while (*s && !c->oom) {
        size_t n = key ? strcspn(s, "=") : strlen(s);
        if (n) {
            char *out = malloc(LOSSLESS_ESCAPED_MAX(n) + 1);
            if (!out) {
                c->oom = 1;
                return;
            }
            cfg_canon_raw(c, out, lossless_escape(out, s, n, LOSSLESS_BARE));
            free(out);
            s += n;
        }
        if (*s == '=') {
            cfg_canon_raw(c, "\\x3d", 4);
            s++;
        }
    }
}

/* Ends the line being built: "KEY=VALUE" with KEY = prefix + name (escaped)
 * + suffix, e.g. "sink." + "report" + ".plugin". */
static void cfg_canon_line(cfg_canon *c, const char *prefix, const char *name,
                           const char *suffix, const char *value, int escape_value)
{
    c->len = 0;
    cfg_canon_raw(c, prefix, strlen(prefix));
    if (name)
        cfg_canon_text(c, name, 1);
    cfg_canon_raw(c, suffix, strlen(suffix));
    cfg_canon_raw(c, "=", 1);
    if (escape_value)
        cfg_canon_text(c, value, 0);
    else
        cfg_canon_raw(c, value, strlen(value));
    if (!c->oom && cfg_strv_push(&c->lines, &c->count, c->buf, c->len))
        c->oom = 1;
}

static void cfg_canon_list(cfg_canon *c, const char *prefix, const char *name,
                           const char *key, char *const *items, size_t n)
{
    char suffix[CFG_SHOW_CAP + 32];
    for (size_t i = 0; i < n; i++) {
        snprintf(suffix, sizeof suffix, "%s[%zu]", key, i);
        cfg_canon_line(c, prefix, name, suffix, items[i], 1);
    }
}

static const char *cfg_canon_bool(int v)
{
    return v ? "true" : "false";
}

static void cfg_canon_scan(cfg_canon *c, const cfg_pipeline *p)
{
    const cfg_scan *s = &p->scan;
    char num[32];
    snprintf(num, sizeof num, "%d", p->version);
    cfg_canon_line(c, "version", NULL, "", num, 0);
    cfg_canon_line(c, "allow_mutation", NULL, "", cfg_canon_bool(p->allow_mutation), 0);
    cfg_canon_list(c, "scan.", NULL, "roots", s->roots, s->root_count);
    cfg_canon_line(c, "scan.one_file_system", NULL, "", cfg_canon_bool(s->one_file_system), 0);
    cfg_canon_line(c, "scan.strict", NULL, "", cfg_canon_bool(s->strict), 0);
    cfg_canon_line(c, "scan.skip_snapshots", NULL, "", cfg_canon_bool(s->skip_snapshots), 0);
    cfg_canon_list(c, "scan.", NULL, "snapshot_names", s->snapshot_names,
                   s->snapshot_name_count);
    cfg_canon_list(c, "scan.", NULL, "exclude", s->excludes, s->exclude_count);
    snprintf(num, sizeof num, "%d", s->max_depth);
    cfg_canon_line(c, "scan.max_depth", NULL, "", num, 0);
    /* unset values have no line: "'scan.errors' was not set, now ..." */
    if (s->errors_path)
        cfg_canon_line(c, "scan.errors", NULL, "", s->errors_path, 1);
    if (s->mode >= 0) {
        snprintf(num, sizeof num, "%04o", (unsigned)s->mode);
        cfg_canon_line(c, "scan.mode", NULL, "", num, 0);
    }
}

static int cfg_canon_option_cmp(const void *a, const void *b)
{
    const cfg_option *x = *(const cfg_option *const *)a, *y = *(const cfg_option *const *)b;
    return strcmp(x->key, y->key);
}

/* "sink.NAME.plugin=..." then each option, sorted by name: options are a
 * mapping, so the order they were written in says nothing. */
static void cfg_canon_sink(cfg_canon *c, const cfg_sink *s)
{
    cfg_canon_line(c, "sink.", s->name, ".plugin", s->plugin, 1);
    if (s->option_count == 0 || c->oom)
        return;
    const cfg_option **sorted = malloc(s->option_count * sizeof *sorted);
    if (!sorted) {
        c->oom = 1;
        return;
    }
    for (size_t i = 0; i < s->option_count; i++)
        sorted[i] = &s->options[i];
    qsort(sorted, s->option_count, sizeof *sorted, cfg_canon_option_cmp);
    /* "sink.NAME." escaped once, then each option's key (also escaped) */
    c->len = 0;
    cfg_canon_raw(c, "sink.", 5);
    cfg_canon_text(c, s->name, 1);
    cfg_canon_raw(c, ".", 1);
    char *prefix = c->oom ? NULL : cfg_dupn(c->buf, c->len);
    if (!prefix)
        c->oom = 1;
    for (size_t i = 0; i < s->option_count && !c->oom; i++) {
        const cfg_option *o = sorted[i];
        if (!o->is_list)
            cfg_canon_line(c, prefix, o->key, "", o->scalar ? o->scalar : "", 1);
        else if (o->item_count == 0)
            cfg_canon_line(c, prefix, o->key, "[]", "", 0);
        else
            cfg_canon_list(c, prefix, o->key, "", o->items, o->item_count);
    }
    free(prefix);
    free(sorted);
}

static int cfg_relative(const char *path)
{
    return path && path[0] && path[0] != '/' && strcmp(path, "-") != 0;
}

/* A root, scan.errors, a plugin's .so or a sink's path/dir option (the
 * output options of pwalk's plugins) given relative to the working
 * directory. */
static int cfg_names_relative_paths(const cfg_pipeline *p)
{
    for (size_t i = 0; i < p->scan.root_count; i++)
        if (cfg_relative(p->scan.roots[i]))
            return 1;
    if (cfg_relative(p->scan.errors_path))
        return 1;
    for (size_t i = 0; i < p->sink_count; i++) {
        const cfg_sink *s = &p->sinks[i];
        if (strchr(s->plugin, '/') && cfg_relative(s->plugin))
            return 1;
        for (size_t k = 0; k < s->option_count; k++) {
            const cfg_option *o = &s->options[k];
            if (!o->is_list && (strcmp(o->key, "path") == 0 || strcmp(o->key, "dir") == 0) &&
                cfg_relative(o->scalar))
                return 1;
        }
    }
    return 0;
}

int cfg_canonical(const cfg_pipeline *p, const char *cwd, char ***lines, size_t *count)
{
    cfg_canon c = {0};
    cfg_canon_scan(&c, p);
    for (size_t i = 0; i < p->sink_count && !c.oom; i++)
        cfg_canon_sink(&c, &p->sinks[i]);
    if (cwd && cfg_names_relative_paths(p))
        cfg_canon_line(&c, "working_directory", NULL, "", cwd, 1);
    free(c.buf);
    if (c.oom) {
        cfg_strv_free(c.lines, c.count);
        *lines = NULL;
        *count = 0;
        return -1;
    }
    *lines = c.lines;
    *count = c.count;
    return 0;
}

void cfg_canonical_free(char **lines, size_t count)
{
    cfg_strv_free(lines, count);
}
