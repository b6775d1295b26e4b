/*
 * scan.c -- the public embedding API (include/pwalk/pwalk.h) over the one
 * pipeline (pipeline.c).
 *
 * Everything a scan needs lives in its handle: the pipeline, the stop
 * request, the callbacks, the results.  Nothing here is process-wide, so
 * scans on different threads never meet; pwalk_scan_stop() touches only
 * two ints of one handle, with lock-free atomics, so a signal handler may
 * call it.
 */
#define _GNU_SOURCE
#include "scan_impl.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pwalk/sys/attach.h"
#include "pwalk/sys/builtin.h"
#include "sinks.h"
#include "threads.h"

_Static_assert(PWALK_RECORD_FAILED == PWALK_ERROR_FAILED &&
                   PWALK_RECORD_VANISHED == PWALK_ERROR_VANISHED &&
                   PWALK_RECORD_REPLACED == PWALK_ERROR_REPLACED,
               "pwalk.h's record kinds are the plugin ABI's");
_Static_assert(PWALK_THREADS_MAX == THREADS_MAX, "one limit");
_Static_assert(PWALK_USAGE == PIPELINE_USAGE && PWALK_FAILED == PIPELINE_FAILED &&
                   PWALK_PARTIAL == PIPELINE_PARTIAL,
               "pwalk.h's statuses are the pipeline's");

static int scan_fail(char *err, size_t errlen, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int scan_fail(char *err, size_t errlen, int status, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return status;
}

const char *pwalk_version(void) { return PWALK_VERSION_STRING; }
unsigned pwalk_version_number(void) { return PWALK_VERSION_NUMBER; }

/* ---- building ------------------------------------------------------------- */

static pwalk_scan *scan_alloc(void)
{
    pwalk_scan *s = calloc(1, sizeof *s);
    if (s)
        s->r.status = -1;
    return s;
}

int pwalk_scan_from_file(pwalk_scan **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    pwalk_scan *s = scan_alloc();
    if (!s)
        return scan_fail(err, errlen, PWALK_USAGE, "out of memory");
    char msg[2048];
    if (cfg_load_file(path, &s->p, msg, sizeof msg) != 0) {
        pwalk_scan_free(s);
        return scan_fail(err, errlen, PWALK_USAGE, "%s", msg);
    }
    *out = s;
    return 0;
}

int pwalk_scan_from_string(pwalk_scan **out, const char *yaml, size_t len,
                           const char *source_name, char *err, size_t errlen)
{
    *out = NULL;
    pwalk_scan *s = scan_alloc();
    if (!s)
        return scan_fail(err, errlen, PWALK_USAGE, "out of memory");
    char msg[2048];
    if (cfg_load_string(yaml, len, source_name ? source_name : "<string>", &s->p, msg,
                        sizeof msg) != 0) {
        pwalk_scan_free(s);
        return scan_fail(err, errlen, PWALK_USAGE, "%s", msg);
    }
    *out = s;
    return 0;
}

int pwalk_scan_new(pwalk_scan **out)
{
    *out = NULL;
    pwalk_scan *s = scan_alloc();
    if (!s)
        return PWALK_FAILED;
    cfg_init_defaults(&s->p);
    char *source = strdup("<command line>");
    if (!source || !s->p.source) {
        free(source);
        pwalk_scan_free(s);
        return PWALK_FAILED;
    }
    free(s->p.source);
    s->p.source = source;
    *out = s;
    return 0;
}

int pwalk_scan_add_sink(pwalk_scan *s, const char *name, const char *plugin, char *err,
                        size_t errlen)
{
    if (!name || !*name || !plugin || !*plugin)
        return scan_fail(err, errlen, PWALK_USAGE, "%s: a sink needs a name and a plugin",
                         s->p.source);
    for (size_t i = 0; i < s->p.sink_count; i++)
        if (strcmp(s->p.sinks[i].name, name) == 0)
            return scan_fail(err, errlen, PWALK_USAGE, "%s: two sinks named '%s'",
                             s->p.source, name);
    if (!cfg_add_sink(&s->p, name, plugin))
        return scan_fail(err, errlen, PWALK_FAILED, "out of memory");
    return 0;
}

int pwalk_scan_set(pwalk_scan *s, const char *assignment, char *err, size_t errlen)
{
    char msg[2048];
    if (cfg_apply_set(&s->p, assignment, msg, sizeof msg) != 0)
        return scan_fail(err, errlen, PWALK_USAGE, "%s", msg);
    return 0;
}

int pwalk_scan_set_value(pwalk_scan *s, const char *target, size_t target_len,
                         const char *key, size_t key_len, const char *value,
                         size_t value_len, char *err, size_t errlen)
{
    if (memchr(target, '\0', target_len) || memchr(key, '\0', key_len) ||
        memchr(value, '\0', value_len))
        return scan_fail(err, errlen, PWALK_USAGE, "%s: --set: embedded NUL byte",
                         s->p.source);
    if (memchr(target, '=', target_len) || memchr(key, '=', key_len))
        return scan_fail(err, errlen, PWALK_USAGE, "%s: --set: '=' in a sink or key name",
                         s->p.source);
    char *a = malloc(target_len + key_len + value_len + 3);
    if (!a)
        return scan_fail(err, errlen, PWALK_FAILED, "out of memory");
    memcpy(a, target, target_len);
    a[target_len] = '.';
    memcpy(a + target_len + 1, key, key_len);
    a[target_len + 1 + key_len] = '=';
    memcpy(a + target_len + key_len + 2, value, value_len);
    a[target_len + key_len + value_len + 2] = '\0';
    int rc = pwalk_scan_set(s, a, err, errlen);
    free(a);
    return rc;
}

int pwalk_scan_set_roots(pwalk_scan *s, const char *const *roots, size_t n)
{
    /* cfg copies the strings; its prototype predates const */
    return cfg_set_roots(&s->p, (char *const *)roots, n) == 0 ? 0 : PWALK_FAILED;
}

/* Append a copy of str to a string vector. */
static int scan_push(char ***v, size_t *n, const char *str)
{
    char *copy = strdup(str);
    char **grown = copy ? realloc(*v, (*n + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(copy);
        return PWALK_FAILED;
    }
    *v = grown;
    (*v)[(*n)++] = copy;
    return 0;
}

int pwalk_scan_add_exclude(pwalk_scan *s, const char *pattern)
{
    return scan_push(&s->p.scan.excludes, &s->p.scan.exclude_count, pattern);
}

int pwalk_scan_add_plugin_dir(pwalk_scan *s, const char *dir)
{
    return scan_push(&s->p.plugin_path, &s->p.plugin_path_count, dir);
}

int pwalk_scan_own_fd(pwalk_scan *s, int fd, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return scan_fail(err, errlen, PWALK_USAGE, "own file: fd %d: %s", fd, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return 0; /* a pipe or terminal: nothing a walk could list */
    walk_file_id *grown = realloc(s->own, (s->own_count + 1) * sizeof *grown);
    if (!grown)
        return scan_fail(err, errlen, PWALK_FAILED, "out of memory");
    s->own = grown;
    s->own[s->own_count++] = (walk_file_id){(uint64_t)st.st_dev, (uint64_t)st.st_ino};
    return 0;
}

int pwalk_scan_add_builtin_plugin(pwalk_scan *s, const pwalk_plugin *plugin)
{
    const pwalk_plugin **grown = realloc(s->builtins, (s->builtin_count + 1) * sizeof *grown);
    if (!grown)
        return PWALK_FAILED;
    s->builtins = grown;
    s->builtins[s->builtin_count++] = plugin;
    return 0;
}

/* pwalk/sys/attach.h: the pointer rides on the sink's configuration, so
 * the loaded sink finds it whenever the pipeline is loaded (check or run). */
int pwalk_scan_attach(pwalk_scan *s, const char *sink, void *ptr, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->p.sink_count; i++)
        if (strcmp(s->p.sinks[i].name, sink) == 0) {
            s->p.sinks[i].attachment = ptr;
            return 0;
        }
    if (errlen)
        snprintf(err, errlen, "%s: no sink named '%s' to attach to", s->p.source, sink);
    return PWALK_USAGE;
}

int pwalk_scan_set_callbacks(pwalk_scan *s, const pwalk_callbacks *cb)
{
    memset(&s->cb, 0, sizeof s->cb);
    if (!cb)
        return 0;
    if (cb->struct_size < offsetof(pwalk_callbacks, on_error) + sizeof cb->on_error)
        return PWALK_USAGE;
    size_t n = cb->struct_size < sizeof s->cb ? cb->struct_size : sizeof s->cb;
    memcpy(&s->cb, cb, n);
    s->cb.struct_size = sizeof s->cb;
    return 0;
}

/* ---- running -------------------------------------------------------------- */

static void scan_on_error(void *ctx, const char *path, size_t len, int error_number,
                          const char *operation, uint32_t kind)
{
    pwalk_scan *s = ctx;
    s->cb.on_error(s->cb.ctx, path, len, error_number, operation ? operation : "", kind);
}

static void scan_on_progress(void *ctx, const walk_stats *now, uint64_t queued)
{
    pwalk_scan *s = ctx;
    pwalk_progress p = {
        .entries = now->entries,
        .rows = now->rows,
        .dirs = now->dirs,
        .errors = now->errors,
        .vanished = now->vanished,
        .queued = queued,
        .seconds = now->seconds,
        .threads = now->threads_now,
    };
    s->cb.on_progress(s->cb.ctx, &p);
}

static void scan_on_log(void *ctx, const char *line)
{
    pwalk_scan *s = ctx;
    s->cb.on_log(s->cb.ctx, PWALK_LOG_INFO, line);
}

void scan_run_options(pwalk_scan *s, pipeline_run_options *o)
{
    memset(o, 0, sizeof *o);
    o->stop = &s->stop;
    o->stop_signal = &s->stop_signal;
    if (s->cb.on_error) {
        o->on_error = scan_on_error;
        o->on_error_ctx = s;
    }
    if (s->cb.on_progress) {
        o->on_progress = scan_on_progress;
        o->on_progress_ctx = s;
    }
    if (s->cb.on_log) {
        o->on_log = scan_on_log;
        o->on_log_ctx = s;
    }
    o->builtin_plugins = s->builtins;
    o->builtin_plugin_count = s->builtin_count;
    scan_remote_options(s, o);
    o->own_ids = s->own;
    o->own_id_count = s->own_count;
    o->suspend = &s->suspend;
    o->partial = s->partial;
    o->resume = (const char *const *)s->resume;
    o->resume_count = s->resume_count;
}

int pwalk_scan_check(pwalk_scan *s)
{
    if (s->ran)
        return PWALK_USAGE;
    pipeline_run_options o;
    scan_run_options(s, &o);
    s->checked = 1;
    return pipeline_check(&s->p, &o, &s->r);
}

int pwalk_scan_run(pwalk_scan *s)
{
    if (s->ran) {
        /* the results of the first run stay */
        return PWALK_USAGE;
    }
    s->ran = 1;
    s->checked = 0;
    pipeline_run_options o;
    scan_run_options(s, &o);
    return pipeline_run(&s->p, &o, &s->r);
}

void pwalk_scan_stop(pwalk_scan *s, int sig)
{
    if (sig <= 0 || sig > 127)
        sig = SIGINT;
    int none = 0;
    /* the first request names the signal; the flag the walk polls last */
    __atomic_compare_exchange_n(&s->stop_signal, &none, sig, 0, __ATOMIC_RELAXED,
                                __ATOMIC_RELAXED);
    walk_request_stop(&s->stop);
}

int pwalk_parse_duration(const char *text, long long *ms)
{
    return text && ms && cfg_parse_duration(text, ms) == 0 ? 0 : -1;
}

void pwalk_scan_suspend(pwalk_scan *s)
{
    /* without a journal there is nothing to resume from: a stop */
    if (!s->p.scan.checkpoint && !s->resume_count) {
        pwalk_scan_stop(s, SIGUSR1);
        return;
    }
    __atomic_store_n(&s->suspend, 1, __ATOMIC_RELAXED);
}

static void scan_free_resume(pwalk_scan *s)
{
    for (size_t i = 0; i < s->resume_count; i++)
        free(s->resume[i]);
    free(s->resume);
    s->resume = NULL;
    s->resume_count = 0;
}

int pwalk_scan_resume(pwalk_scan *s, const char *const *journals, size_t n, char *err,
                      size_t errlen)
{
    if (n == 0 || !journals)
        return scan_fail(err, errlen, PWALK_USAGE, "resume: no checkpoint journal given");
    char **copy = calloc(n, sizeof *copy);
    for (size_t i = 0; copy && i < n; i++) {
        if (!journals[i] || !journals[i][0]) {
            for (size_t k = 0; k < i; k++)
                free(copy[k]);
            free(copy);
            return scan_fail(err, errlen, PWALK_USAGE, "resume: empty checkpoint path");
        }
        if (!(copy[i] = strdup(journals[i]))) {
            for (size_t k = 0; k < i; k++)
                free(copy[k]);
            free(copy);
            copy = NULL;
        }
    }
    if (!copy)
        return scan_fail(err, errlen, PWALK_FAILED, "out of memory");
    scan_free_resume(s);
    s->resume = copy;
    s->resume_count = n;
    return 0;
}

/* ---- results -------------------------------------------------------------- */

/* Results of a run, or of a check (status and failure only). */
static int scan_has_results(const pwalk_scan *s) { return s->ran || s->checked; }

int pwalk_scan_status(const pwalk_scan *s) { return s->ran ? s->r.status : -1; }

const char *pwalk_scan_message(const pwalk_scan *s)
{
    return scan_has_results(s) ? s->r.message : "";
}

pwalk_failure pwalk_scan_failure(const pwalk_scan *s)
{
    return scan_has_results(s) ? (pwalk_failure)s->r.failure : PWALK_FAIL_NONE;
}

const char *pwalk_scan_failed_sink(const pwalk_scan *s)
{
    if (!scan_has_results(s) || !s->r.has_failed_sink || s->r.failed_sink >= s->p.sink_count)
        return NULL;
    return s->p.sinks[s->r.failed_sink].name;
}

const char *pwalk_scan_failed_message(const pwalk_scan *s)
{
    return pwalk_scan_failed_sink(s) ? s->r.failed_message : NULL;
}

const char *pwalk_scan_failed_path(const pwalk_scan *s)
{
    return scan_has_results(s) ? s->r.failed_path : NULL;
}

int pwalk_scan_failed_errno(const pwalk_scan *s)
{
    return scan_has_results(s) ? s->r.failed_errno : 0;
}

static const struct {
    const char *name;
    int filter;             /* enum filter_reason, or -1 */
} scan_counters[PWALK_COUNT_MAX] = {
    [PWALK_COUNT_ENTRIES] = {"entries", -1},
    [PWALK_COUNT_ROWS] = {"rows", -1},
    [PWALK_COUNT_DIRS] = {"dirs", -1},
    [PWALK_COUNT_ERRORS] = {"errors", -1},
    [PWALK_COUNT_VANISHED] = {"vanished", -1},
    [PWALK_COUNT_REPLACED] = {"replaced", -1},
    [PWALK_COUNT_WALK_ERRORS] = {"walk_errors", -1},
    [PWALK_COUNT_STAT_ERRORS] = {"stat_errors", -1},
    [PWALK_COUNT_READ_ERRORS] = {"read_errors", -1},
    [PWALK_COUNT_FILTERED] = {"filtered", -1},
    [PWALK_COUNT_FILTERED_SNAPSHOT] = {"snapshot", FILTER_SNAPSHOT},
    [PWALK_COUNT_FILTERED_EXCLUDE] = {"exclude", FILTER_EXCLUDE},
    [PWALK_COUNT_FILTERED_OTHER_FILESYSTEM] = {"other-filesystem", FILTER_OTHER_DEVICE},
    [PWALK_COUNT_FILTERED_DEPTH] = {"depth", FILTER_DEPTH},
    [PWALK_COUNT_FILTERED_OWN_OUTPUT] = {"own-output", FILTER_OWN_OUTPUT},
};

const char *pwalk_counter_name(pwalk_counter which)
{
    return (unsigned)which < PWALK_COUNT_MAX ? scan_counters[which].name : NULL;
}

uint64_t pwalk_scan_counter(const pwalk_scan *s, pwalk_counter which)
{
    if (!s->ran || (unsigned)which >= PWALK_COUNT_MAX)
        return 0;
    const pipeline_result *r = &s->r;
    if (scan_counters[which].filter >= 0)
        return r->stats.filtered[scan_counters[which].filter];
    uint64_t filtered = 0;
    switch (which) {
    case PWALK_COUNT_ENTRIES: return r->stats.entries;
    case PWALK_COUNT_ROWS: return r->stats.rows;
    case PWALK_COUNT_DIRS: return r->stats.dirs;
    case PWALK_COUNT_ERRORS: return r->errors;
    case PWALK_COUNT_VANISHED: return r->vanished;
    case PWALK_COUNT_REPLACED: return r->replaced;
    case PWALK_COUNT_WALK_ERRORS: return r->stats.errors;
    case PWALK_COUNT_STAT_ERRORS: return r->stats.stat_errors;
    case PWALK_COUNT_READ_ERRORS: return r->stats.read_errors;
    case PWALK_COUNT_FILTERED:
        for (int i = 1; i < FILTER_REASON_COUNT; i++)
            filtered += r->stats.filtered[i];
        return filtered;
    default: return 0;
    }
}

double pwalk_scan_seconds(const pwalk_scan *s) { return s->ran ? s->r.stats.seconds : 0; }

const char *pwalk_scan_summary(const pwalk_scan *s)
{
    return s->ran && s->r.summary ? s->r.summary : "";
}

size_t pwalk_scan_sink_count(const pwalk_scan *s) { return s->p.sink_count; }

const char *pwalk_scan_sink_name(const pwalk_scan *s, size_t i)
{
    return i < s->p.sink_count ? s->p.sinks[i].name : NULL;
}

const char *pwalk_scan_sink_plugin(const pwalk_scan *s, size_t i)
{
    return i < s->p.sink_count ? s->p.sinks[i].plugin : NULL;
}

const char *pwalk_scan_sink_option(const pwalk_scan *s, size_t i, const char *key)
{
    if (i >= s->p.sink_count)
        return NULL;
    const cfg_sink *cs = &s->p.sinks[i];
    for (size_t k = 0; k < cs->option_count; k++)
        if (strcmp(cs->options[k].key, key) == 0)
            return cs->options[k].is_list ? NULL : cs->options[k].scalar;
    return NULL;
}

uint64_t pwalk_scan_sink_rows(const pwalk_scan *s, size_t i)
{
    return s->ran && s->r.sink_rows && i < s->r.sink_count ? s->r.sink_rows[i] : 0;
}

size_t pwalk_scan_sink_option_count(const pwalk_scan *s, size_t i)
{
    return i < s->p.sink_count ? s->p.sinks[i].option_count : 0;
}

const char *pwalk_scan_sink_option_at(const pwalk_scan *s, size_t i, size_t k,
                                      const char **value, const char *const **items,
                                      size_t *item_count)
{
    if (i >= s->p.sink_count || k >= s->p.sinks[i].option_count)
        return NULL;
    const cfg_option *o = &s->p.sinks[i].options[k];
    if (value)
        *value = o->is_list ? NULL : o->scalar;
    if (items)
        *items = o->is_list ? (const char *const *)o->items : NULL;
    if (item_count)
        *item_count = o->is_list ? o->item_count : 0;
    return o->key;
}

const char *pwalk_scan_errors_path(const pwalk_scan *s) { return s->p.scan.errors_path; }
size_t pwalk_scan_root_count(const pwalk_scan *s) { return s->p.scan.root_count; }

const char *pwalk_scan_root(const pwalk_scan *s, size_t i)
{
    return i < s->p.scan.root_count ? s->p.scan.roots[i] : NULL;
}

size_t pwalk_scan_snapshot_name_count(const pwalk_scan *s)
{
    return s->p.scan.snapshot_name_count;
}

const char *pwalk_scan_snapshot_name(const pwalk_scan *s, size_t i)
{
    return i < s->p.scan.snapshot_name_count ? s->p.scan.snapshot_names[i] : NULL;
}

void pwalk_scan_free(pwalk_scan *s)
{
    if (!s)
        return;
    cfg_free(&s->p);
    free(s->r.summary);
    free(s->r.sink_rows);
    free(s->builtins);
    free(s->own);
    scan_free_resume(s);
    free(s);
}

/* ---- plugins and the machine ---------------------------------------------- */

char *pwalk_scan_describe(const pwalk_scan *s, const char *plugin, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) {
        scan_fail(err, errlen, 0, "out of memory");
        return NULL;
    }
    char msg[2048];
    int rc = sinks_describe(plugin, s->p.plugin_path, s->p.plugin_path_count, out, msg,
                            sizeof msg);
    if (fclose(out) != 0 && rc == 0) {
        rc = -1;
        snprintf(msg, sizeof msg, "out of memory");
    }
    if (rc != 0) {
        free(text);
        scan_fail(err, errlen, 0, "%s", msg);
        return NULL;
    }
    return text;
}

void pwalk_free(void *p) { free(p); }

int pwalk_auto_threads(const char **from, char *err, size_t errlen)
{
    const char *source = "";
    char msg[512];
    int n = threads_auto(&source, msg, sizeof msg);
    if (from)
        *from = source;
    if (n < 0)
        scan_fail(err, errlen, 0, "%s", msg);
    return n;
}
