/*
 * options.c -- a sink's options checked against its plugin's schema; see
 * options.h.
 *
 * Values are parsed once here, so a plugin's getters never meet a bad value
 * in the middle of a scan, and every mistake in a pipeline is reported with
 * its file position before anything is created.  Names and values are
 * copied: the bound set must outlive the parsed pipeline, and must not lean
 * on the plugin's memory either.
 */
#include "options.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/oneline.h"

typedef struct options_value {
    char *name;
    uint32_t type;
    int has_value;
    char *string;     /* STRING, ENUM  */
    int boolean;      /* BOOL          */
    int64_t integer;  /* INT           */
    char **items;     /* STRING_LIST   */
    size_t item_count;
} options_value;

struct pwalk_options {
    options_value *values; /* in the plugin's declaration order */
    size_t count;
};

/* What a message is about: a position in the pipeline file, the --set
 * command line (a mark with line 0), or the plugin's own default (no
 * mark), which is the plugin author's mistake and not the user's. */
typedef struct options_where {
    const char *source;
    const cfg_mark *mark;
    const char *sink;
    const char *plugin;
    int schema;                /* no mark: the declaration itself is bad */
} options_where;

/* An unparsed value: a YAML scalar or sequence, or a default. */
typedef struct options_raw {
    int is_list;
    const char *scalar;
    char *const *items;
    size_t item_count;
} options_raw;

static char *options_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static char *options_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static void options_fail(char *err, size_t errlen, const options_where *w, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5)));

static void options_fail(char *err, size_t errlen, const options_where *w, const char *fmt,
                         ...)
{
    if (!err || errlen == 0)
        return;
    int n;
    if (!w->mark)
        n = snprintf(err, errlen, "plugin '%s' (sink '%s'): %s: ", w->plugin, w->sink,
                     w->schema ? "bad option declaration" : "bad default");
    else if (w->mark->line == 0)
        n = snprintf(err, errlen, "--set: sink '%s': ", w->sink);
    else
        n = snprintf(err, errlen, "%s:%d:%d: sink '%s': ", w->source, w->mark->line,
                     w->mark->column, w->sink);
    if (n < 0 || (size_t)n >= errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static const char *options_type_name(uint32_t type)
{
    switch (type) {
    case PWALK_OPT_STRING: return "string";
    case PWALK_OPT_BOOL: return "bool";
    case PWALK_OPT_INT: return "int";
    case PWALK_OPT_ENUM: return "enum";
    case PWALK_OPT_STRING_LIST: return "string list";
    default: return "unknown";
    }
}

/* strcasecmp() follows the locale; YAML's booleans are ASCII words. */
static int options_ascii_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

static int options_parse_bool(const char *s, int *out)
{
    static const char *const words[] = {"true", "false", "yes", "no", "on", "off"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (options_ascii_ieq(s, words[i])) {
            *out = (i % 2) == 0;
            return 0;
        }
    }
    return -1;
}

/* 0, -1 not a decimal integer, -2 outside int64_t.  strtoll() alone would
 * also take leading blanks, hex with base 0, and trailing junk. */
static int options_parse_int(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    if (len && (s[0] == '-' || s[0] == '+'))
        i = 1;
    if (i == len)
        return -1;
    for (size_t j = i; j < len; j++)
        if (s[j] < '0' || s[j] > '9')
            return -1;
    /* leading zeros carry no value: "+000...0372" is 372 */
    size_t digits = i;
    while (digits + 1 < len && s[digits] == '0')
        digits++;
    char buf[32];
    size_t sign = i, ndigits = len - digits;
    if (sign + ndigits >= sizeof buf)
        return -2;
    memcpy(buf, s, sign);
    memcpy(buf + sign, s + digits, ndigits);
    buf[sign + ndigits] = '\0';
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno == ERANGE)
        return -2;
    *out = (int64_t)v;
    return 0;
}

/* "min..max", either side may be empty (unbounded).  -1 if malformed. */
static int options_parse_range(const char *r, int *has_min, int64_t *min, int *has_max,
                               int64_t *max)
{
    const char *dots = strstr(r, "..");
    if (!dots)
        return -1;
    size_t left = (size_t)(dots - r);
    const char *right = dots + 2;
    *has_min = left > 0;
    *has_max = *right != '\0';
    if (*has_min && options_parse_int(r, left, min) != 0)
        return -1;
    if (*has_max && options_parse_int(right, strlen(right), max) != 0)
        return -1;
    return 0;
}

static int options_enum_has(const char *choices, const char *s)
{
    size_t n = strlen(s);
    const char *p = choices;
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && memcmp(p, s, n) == 0)
            return 1;
        if (!bar)
            return 0;
        p = bar + 1;
    }
}

static void options_value_clear(options_value *v)
{
    free(v->string);
    for (size_t i = 0; i < v->item_count; i++)
        free(v->items[i]);
    free(v->items);
    v->string = NULL;
    v->items = NULL;
    v->item_count = 0;
    v->has_value = 0;
}

/* A STRING_LIST value: a sequence, or a scalar as a list of one. */
static int options_set_list(const options_raw *raw, options_value *v)
{
    size_t n = raw->is_list ? raw->item_count : 1;
    char **items = n ? calloc(n, sizeof *items) : NULL;
    if (n && !items)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *s = raw->is_list ? raw->items[i] : raw->scalar;
        items[i] = options_strdup(s ? s : "");
        if (!items[i]) {
            for (size_t j = 0; j < i; j++)
                free(items[j]);
            free(items);
            return -1;
        }
    }
    v->items = items;
    v->item_count = n;
    return 0;
}

/* A mistake in the plugin's declaration: reported without the pipeline's
 * position, as the plugin author's. */
static options_where options_schema_where(const options_where *w)
{
    options_where pw = *w;
    pw.mark = NULL;
    pw.schema = 1;
    return pw;
}

/* An INT value s, within the declared "min..max" if any. */
static int options_set_int(const pwalk_option_spec *spec, const char *s, const options_where *w,
                           options_value *v, char *err, size_t errlen)
{
    char q[160];
    const char *k = spec->name;
    int rc = options_parse_int(s, strlen(s), &v->integer);
    if (rc == -1) {
        options_fail(err, errlen, w, "option '%s' must be a decimal integer, got '%s'", k,
                     oneline_show(q, sizeof q, s));
        return -1;
    }
    if (rc == -2) {
        options_fail(err, errlen, w, "option '%s' is outside the 64-bit integer range, got '%s'",
                     k, oneline_show(q, sizeof q, s));
        return -1;
    }
    if (!spec->choices || !*spec->choices)
        return 0;
    int has_min, has_max;
    int64_t min = 0, max = 0;
    if (options_parse_range(spec->choices, &has_min, &min, &has_max, &max) != 0) {
        options_where pw = options_schema_where(w);
        options_fail(err, errlen, &pw, "option '%s' declares range '%s', not min..max", k,
                     oneline_show(q, sizeof q, spec->choices));
        return -1;
    }
    if ((has_min && v->integer < min) || (has_max && v->integer > max)) {
        options_fail(err, errlen, w, "option '%s' must be in %s, got '%s'", k, spec->choices, s);
        return -1;
    }
    return 0;
}

/* Parse raw into v per spec.  Returns 0, -1 with a message. */
static int options_set(const pwalk_option_spec *spec, const options_raw *raw,
                       const options_where *w, options_value *v, char *err, size_t errlen)
{
    char q[160];
    const char *k = spec->name;

    if (spec->type == PWALK_OPT_STRING_LIST) {
        if (options_set_list(raw, v) != 0)
            goto nomem;
        v->has_value = 1;
        return 0;
    }

    if (raw->is_list) {
        options_fail(err, errlen, w, "option '%s' takes a single %s value, got a list", k,
                     options_type_name(spec->type));
        return -1;
    }
    const char *s = raw->scalar ? raw->scalar : "";

    switch (spec->type) {
    case PWALK_OPT_BOOL:
        if (options_parse_bool(s, &v->boolean) != 0) {
            options_fail(err, errlen, w,
                         "option '%s' must be true or false (or yes/no, on/off), got '%s'", k,
                         oneline_show(q, sizeof q, s));
            return -1;
        }
        break;
    case PWALK_OPT_INT:
        if (options_set_int(spec, s, w, v, err, errlen) != 0)
            return -1;
        break;
    case PWALK_OPT_ENUM:
        if (!spec->choices || !options_enum_has(spec->choices, s)) {
            options_fail(err, errlen, w, "option '%s' must be one of %s, got '%s'", k,
                         spec->choices ? spec->choices : "(none declared)",
                         oneline_show(q, sizeof q, s));
            return -1;
        }
        v->string = options_strdup(s);
        if (!v->string)
            goto nomem;
        break;
    case PWALK_OPT_STRING:
        v->string = options_strdup(s);
        if (!v->string)
            goto nomem;
        break;
    default: {
        options_where pw = options_schema_where(w);
        options_fail(err, errlen, &pw, "option '%s' has unknown type %u", k, spec->type);
        return -1;
    }
    }
    v->has_value = 1;
    return 0;

nomem:
    options_fail(err, errlen, w, "option '%s': out of memory", k);
    return -1;
}

static char *options_trim_unquote(const char *s, size_t len)
{
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len >= 2 && (s[0] == '"' || s[0] == '\'') && s[len - 1] == s[0]) {
        s++;
        len -= 2;
    }
    return options_strndup(s, len);
}

/* A list default is YAML text too: a flow sequence "[a, b]" (items may be
 * quoted, no escapes, no commas inside items) or a single scalar. */
static int options_split_flow(const char *text, char ***items, size_t *count)
{
    size_t len = strlen(text);
    const char *body = text + 1;
    size_t blen = len - 2;
    *items = NULL;
    *count = 0;
    size_t k = 0;
    while (k < blen && (body[k] == ' ' || body[k] == '\t'))
        k++;
    if (k == blen)
        return 0;
    size_t n = 1;
    for (size_t i = 0; i < blen; i++)
        n += body[i] == ',';
    char **v = calloc(n, sizeof *v);
    if (!v)
        return -1;
    const char *p = body;
    for (size_t i = 0; i < n; i++) {
        const char *comma = memchr(p, ',', (size_t)(body + blen - p));
        size_t l = comma ? (size_t)(comma - p) : (size_t)(body + blen - p);
        v[i] = options_trim_unquote(p, l);
        if (!v[i]) {
            for (size_t j = 0; j < i; j++)
                free(v[j]);
            free(v);
            return -1;
        }
        p = comma ? comma + 1 : body + blen;
    }
    *items = v;
    *count = n;
    return 0;
}

static int options_set_default(const pwalk_option_spec *spec, const options_where *w,
                               options_value *v, char *err, size_t errlen)
{
    const char *d = spec->default_value;
    size_t dlen = strlen(d);
    if (spec->type == PWALK_OPT_STRING_LIST && dlen >= 2 && d[0] == '[' && d[dlen - 1] == ']') {
        char **items;
        size_t n;
        if (options_split_flow(d, &items, &n) != 0) {
            options_fail(err, errlen, w, "option '%s': out of memory", spec->name);
            return -1;
        }
        options_raw raw = {1, NULL, items, n};
        int rc = options_set(spec, &raw, w, v, err, errlen);
        for (size_t i = 0; i < n; i++)
            free(items[i]);
        free(items);
        return rc;
    }
    options_raw raw = {0, d, NULL, 0};
    return options_set(spec, &raw, w, v, err, errlen);
}

static void options_known_list(const pwalk_plugin *plugin, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; plugin->options && i < plugin->option_count && o < cap; i++) {
        int n = snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", plugin->options[i].name);
        if (n < 0)
            break;
        o += (size_t)n;
    }
}

int options_bind(const pwalk_plugin *plugin, const cfg_sink *sink, const char *source,
                 pwalk_options **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *plugin_name = plugin->name ? plugin->name : "?";
    options_where w = {source ? source : "<pipeline>", NULL,
                       sink->name ? sink->name : "?", plugin_name, 0};

    pwalk_options *o = calloc(1, sizeof *o);
    if (!o)
        goto nomem;
    /* The loader refuses a count without a table; a caller that skipped it
     * gets "no options" rather than a crash. */
    size_t declared = plugin->options ? plugin->option_count : 0;
    if (declared) {
        o->values = calloc(declared, sizeof *o->values);
        if (!o->values)
            goto nomem;
    }
    o->count = declared;
    for (size_t i = 0; i < o->count; i++) {
        o->values[i].type = plugin->options[i].type;
        o->values[i].name = options_strdup(plugin->options[i].name);
        if (!o->values[i].name)
            goto nomem;
    }

    /* has_value doubles as "already set": a key twice in one mapping is a
     * mistake (a --set on top of the YAML replaces, in config.c). */
    for (size_t j = 0; j < sink->option_count; j++) {
        const cfg_option *c = &sink->options[j];
        const char *key = c->key ? c->key : "";
        size_t i = 0;
        while (i < o->count && strcmp(o->values[i].name, key) != 0)
            i++;
        w.mark = c->mark.line == 0 ? &c->mark : c->key_mark.line ? &c->key_mark : &c->mark;
        if (i == o->count) {
            char q[160];
            if (o->count == 0) {
                options_fail(err, errlen, &w,
                             "unknown option '%s' for plugin '%s' (it takes no options)",
                             oneline_show(q, sizeof q, key), plugin_name);
            } else {
                char known[512];
                options_known_list(plugin, known, sizeof known);
                options_fail(err, errlen, &w,
                             "unknown option '%s' for plugin '%s' (known: %s)",
                             oneline_show(q, sizeof q, key), plugin_name, known);
            }
            goto fail;
        }
        if (o->values[i].has_value) {
            options_fail(err, errlen, &w, "option '%s' is set twice", key);
            goto fail;
        }
        w.mark = &c->mark;
        options_raw raw = {c->is_list, c->scalar, c->items, c->item_count};
        if (options_set(&plugin->options[i], &raw, &w, &o->values[i], err, errlen) != 0)
            goto fail;
    }

    w.mark = NULL;
    for (size_t i = 0; i < o->count; i++) {
        if (o->values[i].has_value || !plugin->options[i].default_value)
            continue;
        if (options_set_default(&plugin->options[i], &w, &o->values[i], err, errlen) != 0)
            goto fail;
    }
    *out = o;
    return 0;

nomem:
    if (err && errlen)
        snprintf(err, errlen, "sink '%s': out of memory", w.sink);
fail:
    options_free(o);
    return -1;
}

void options_free(pwalk_options *opts)
{
    if (!opts)
        return;
    for (size_t i = 0; i < opts->count; i++) {
        options_value_clear(&opts->values[i]);
        free(opts->values[i].name);
    }
    free(opts->values);
    free(opts);
}

/* The value of a declared option of one of the accepted types: 0 and *v,
 * -1 unknown or other type, -2 no value. */
static int options_lookup(const pwalk_options *o, const char *name, uint32_t type,
                          uint32_t also, const options_value **v)
{
    if (!o || !name)
        return -1;
    for (size_t i = 0; i < o->count; i++) {
        if (strcmp(o->values[i].name, name) != 0)
            continue;
        if (o->values[i].type != type && o->values[i].type != also)
            return -1;
        if (!o->values[i].has_value)
            return -2;
        *v = &o->values[i];
        return 0;
    }
    return -1;
}

int options_get_string(const pwalk_options *o, const char *name, const char **value)
{
    const options_value *v;
    int rc = options_lookup(o, name, PWALK_OPT_STRING, PWALK_OPT_ENUM, &v);
    if (rc == 0)
        *value = v->string;
    return rc;
}

int options_get_bool(const pwalk_options *o, const char *name, int *value)
{
    const options_value *v;
    int rc = options_lookup(o, name, PWALK_OPT_BOOL, PWALK_OPT_BOOL, &v);
    if (rc == 0)
        *value = v->boolean;
    return rc;
}

int options_get_int(const pwalk_options *o, const char *name, int64_t *value)
{
    const options_value *v;
    int rc = options_lookup(o, name, PWALK_OPT_INT, PWALK_OPT_INT, &v);
    if (rc == 0)
        *value = v->integer;
    return rc;
}

int options_get_list_count(const pwalk_options *o, const char *name, size_t *count)
{
    const options_value *v;
    int rc = options_lookup(o, name, PWALK_OPT_STRING_LIST, PWALK_OPT_STRING_LIST, &v);
    if (rc == 0)
        *count = v->item_count;
    return rc;
}

int options_get_list_item(const pwalk_options *o, const char *name, size_t index,
                          const char **value)
{
    const options_value *v;
    int rc = options_lookup(o, name, PWALK_OPT_STRING_LIST, PWALK_OPT_STRING_LIST, &v);
    if (rc != 0)
        return rc;
    if (index >= v->item_count)
        return -1;
    *value = v->items[index];
    return 0;
}

static const char *options_threading_text(uint32_t t)
{
    switch (t) {
    case PWALK_THREADING_PER_WORKER:
        return "per-worker (one state per worker thread; calls run concurrently)";
    case PWALK_THREADING_SERIAL:
        return "serial (the engine never calls it concurrently)";
    default:
        return "unknown";
    }
}

/* "int 1..64", "enum a|b|c", "string", "output file": the type column of
 * --describe (an output is a string naming a file the plugin writes). */
static void options_type_column(const pwalk_plugin *p, const pwalk_option_spec *s, char *buf,
                                size_t cap)
{
    if ((s->type == PWALK_OPT_INT || s->type == PWALK_OPT_ENUM) && s->choices && *s->choices)
        snprintf(buf, cap, "%s %s", options_type_name(s->type), s->choices);
    else if (options_is_output(p, s))
        snprintf(buf, cap, "output file");
    else
        snprintf(buf, cap, "%s", options_type_name(s->type));
}

static void options_default_column(const pwalk_option_spec *s, char *buf, size_t cap)
{
    if (s->default_value)
        snprintf(buf, cap, "default \"%s\"", s->default_value);
    else
        snprintf(buf, cap, "no default");
}

void options_describe(const pwalk_plugin *plugin, const char *path, FILE *out)
{
    fprintf(out, "plugin:      %s\n", plugin->name ? plugin->name : "(unnamed)");
    fprintf(out, "version:     %s\n", plugin->version ? plugin->version : "(none)");
    if (path)
        fprintf(out, "file:        %s\n", path);
    fprintf(out, "description: %s\n", plugin->description ? plugin->description : "(none)");
    fprintf(out, "abi:         %u.%u\n", plugin->abi_major, plugin->abi_minor);
    fprintf(out, "threading:   %s\n", options_threading_text(plugin->threading));
    if (plugin->flags & PWALK_PLUGIN_MUTATES_FS)
        fprintf(out, "WARNING:     mutates the filesystem "
                     "(a pipeline must set allow_mutation: true)\n");
    if (plugin->option_count == 0 || !plugin->options) {
        fprintf(out, "options:     none\n");
        return;
    }

    /* Aligned columns: administrators scan this table by eye. */
    int wn = 0, wt = 0, wd = 0;
    char t[256], d[256];
    for (uint32_t i = 0; i < plugin->option_count; i++) {
        const pwalk_option_spec *s = &plugin->options[i];
        options_type_column(plugin, s, t, sizeof t);
        options_default_column(s, d, sizeof d);
        int n = (int)strlen(s->name ? s->name : "?");
        wn = n > wn ? n : wn;
        wt = (int)strlen(t) > wt ? (int)strlen(t) : wt;
        wd = (int)strlen(d) > wd ? (int)strlen(d) : wd;
    }
    fprintf(out, "options:\n");
    for (uint32_t i = 0; i < plugin->option_count; i++) {
        const pwalk_option_spec *s = &plugin->options[i];
        options_type_column(plugin, s, t, sizeof t);
        options_default_column(s, d, sizeof d);
        fprintf(out, "  %-*s  %-*s  %-*s  %s\n", wn, s->name ? s->name : "?", wt, t, wd, d,
                s->help ? s->help : "");
    }
}

int options_is_output(const pwalk_plugin *plugin, const pwalk_option_spec *spec)
{
    if (spec->type != PWALK_OPT_STRING || !spec->name)
        return 0;
    if (plugin->abi_minor >= 2)
        return (spec->flags & PWALK_OPTION_OUTPUT) != 0;
    return strcmp(spec->name, "path") == 0 || strcmp(spec->name, "log") == 0;
}
