/*
 * sinks.c -- one walk feeding every configured sink.
 *
 * The walk calls sink_rows() on its worker threads.  PER_WORKER plugins get
 * the batch with that worker's own state and no lock; SERIAL plugins get it
 * under their sink's mutex.  A failing sink stops the walk; its message (set
 * with host->set_error) is kept for the end-of-scan report.
 */
#define _GNU_SOURCE
#include "sinks.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/oneline.h"
#include "common/outname.h"
#include "loader.h"
#include "options.h"

#define SINK_MESSAGE_MAX 1024

/* What a plugin's host services see as pwalk_host_ctx. */
struct pwalk_host_ctx {
    sink_set *set;
    size_t index;
};

typedef struct sink {
    struct pwalk_host_ctx host_ctx;
    char *name;
    loader_plugin loaded;
    pwalk_options *options;
    void *instance;
    int created;            /* create() ran (destroy() is due either way) */
    void **tstates;
    size_t tstate_count;    /* opened so far                               */
    pthread_mutex_t serial_lock;
    atomic_ullong rows;
    atomic_int failed;
    pthread_mutex_t message_lock;
    char message[SINK_MESSAGE_MAX];
    int finished;
    void *attachment;       /* the embedder's, for host->attachment()      */
    /* checkpoints (ABI 1.4): the states a resumed create() continues
     * (borrowed from the caller until sinks_free()), and the one the last
     * checkpoint() saved */
    const void *const *resume_states;
    const size_t *resume_lens;
    size_t resume_count;
    unsigned char *saved;
    size_t saved_len;
    int saving;             /* inside checkpoint(): checkpoint_save() allowed */
    int saved_calls;
} sink;

struct sink_set {
    sink *sinks;
    size_t count;
    size_t workers;
    sinks_error_hook hook;
    atomic_int failed;      /* some sink failed during the walk */
    pwalk_host host;        /* what this run's plugins see (its worker_count);
                               per set, so concurrent runs never share it */
    int creating;           /* create() calls are running: prune() allowed */
    char **prunes;          /* patterns the sinks asked the walk to skip    */
    size_t prune_count;
    int starting;           /* create()/thread_open() running: own_output() */
    walk_file_id *own;      /* files this scan writes (own_output())        */
    size_t own_count;
    int *stop;              /* the scan's stop request (sinks_set_stop())   */
    int fail_known;         /* the first sink that failed, for the caller  */
    size_t fail_index;
    char fail_message[SINK_MESSAGE_MAX];
    pwalk_scan_facts facts; /* host->scan_facts() (ABI 1.3): sinks_set_facts() */
    char hostname[256];
    pwalk_session *sessions; /* facts.sessions (1.4): the set's own copy    */
    /* publication's progress (checkpoint.c keeps it in its journal):
     * (0) once every sink prepared, before the first finish(0); (i + 1)
     * after sink i published */
    int (*publish_hook)(void *ctx, size_t published, char *err, size_t errlen);
    void *publish_ctx;
};

/* Remember the first failure of sink i; message is "...sink 'NAME': TEXT"
 * (the part after that prefix is kept, the caller's field). */
static void sink_note_failure(sink_set *set, size_t i, const char *message)
{
    if (set->fail_known)
        return;
    char prefix[SINK_MESSAGE_MAX];
    snprintf(prefix, sizeof prefix, "sink '%s': ", set->sinks[i].name ? set->sinks[i].name : "");
    const char *at = strstr(message, prefix);
    snprintf(set->fail_message, sizeof set->fail_message, "%s",
             at ? at + strlen(prefix) : message);
    set->fail_index = i;
    set->fail_known = 1;
}

/* ---- host services --------------------------------------------------------- */

static void host_set_error(pwalk_host_ctx *ctx, const char *fmt, ...)
{
    sink *s = &ctx->set->sinks[ctx->index];
    pthread_mutex_lock(&s->message_lock);
    if (s->message[0] == '\0') { /* the first failure is the cause */
        va_list ap; /* one line, whatever the plugin wrote */
        va_start(ap, fmt);
        oneline_vformat(s->message, sizeof s->message, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&s->message_lock);
}

static void host_log(pwalk_host_ctx *ctx, const char *fmt, ...)
{
    sink *s = &ctx->set->sinks[ctx->index];
    char line[SINK_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    const sinks_error_hook *h = &ctx->set->hook;
    if (h->log) { /* the library never writes stderr itself */
        char full[SINK_MESSAGE_MAX + 256];
        snprintf(full, sizeof full, "sink '%s': %s", s->name, line);
        h->log(h->ctx, full);
    }
}

static void host_entry_error(pwalk_host_ctx *ctx, const char *path, int error_number,
                             const char *operation)
{
    sink_set *set = ctx->set;
    if (set->hook.record)
        set->hook.record(set->hook.ctx, path, strlen(path), error_number, operation,
                         PWALK_ERROR_FAILED);
}

static int host_stop_requested(pwalk_host_ctx *ctx)
{
    const sink_set *set = ctx->set;
    return (set->stop && walk_stop_requested(set->stop)) || atomic_load(&set->failed);
}

static const char *host_sink_name(pwalk_host_ctx *ctx)
{
    return ctx->set->sinks[ctx->index].name;
}

static int host_prune(pwalk_host_ctx *ctx, const char *pattern)
{
    sink_set *set = ctx->set;
    sink *s = &set->sinks[ctx->index];
    if (!set->creating) {
        host_set_error(ctx, "prune() is only allowed in create()");
        return PWALK_ERR;
    }
    if (!pattern || !*pattern) {
        host_set_error(ctx, "prune(): an empty pattern");
        return PWALK_ERR_CONFIG;
    }
    char **grown = realloc(set->prunes, (set->prune_count + 1) * sizeof *grown);
    if (!grown)
        return PWALK_ERR_NOMEM;
    set->prunes = grown;
    if (!(set->prunes[set->prune_count] = strdup(pattern)))
        return PWALK_ERR_NOMEM;
    set->prune_count++;
    /* it hides the subtree from every sink of the walk: say so (through
     * the scan's on_log: the library never writes stderr itself) */
    if (set->hook.log) {
        char line[SINK_MESSAGE_MAX + 256];
        snprintf(line, sizeof line,
                 "sink '%s': the walk does not descend into '%s' (for every sink)", s->name,
                 pattern);
        set->hook.log(set->hook.ctx, line);
    }
    return PWALK_OK;
}

int sinks_own_fd(sink_set *set, int fd, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "fd %d: %s", fd, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode))
        return 0; /* stdout on a pipe or terminal: nothing a walk could list */
    return sinks_own_id(set, (walk_file_id){(uint64_t)st.st_dev, (uint64_t)st.st_ino}, err,
                        errlen);
}

int sinks_own_id(sink_set *set, walk_file_id id, char *err, size_t errlen)
{
    walk_file_id *grown = realloc(set->own, (set->own_count + 1) * sizeof *grown);
    if (!grown) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    set->own = grown;
    set->own[set->own_count++] = id;
    return 0;
}

static int host_own_output(pwalk_host_ctx *ctx, int fd)
{
    sink_set *set = ctx->set;
    if (!set->starting) {
        /* the walk reads the set without a lock */
        host_set_error(ctx, "own_output() is only allowed in create() and thread_open()");
        return PWALK_ERR;
    }
    char err[256];
    if (sinks_own_fd(set, fd, err, sizeof err) != 0) {
        host_set_error(ctx, "own_output(): %s", err);
        return errno == ENOMEM ? PWALK_ERR_NOMEM : PWALK_ERR;
    }
    return PWALK_OK;
}

/* The pointer the embedder attached to this sink (pwalk/sys/attach.h). */
static void *host_attachment(pwalk_host_ctx *ctx)
{
    return ctx->set->sinks[ctx->index].attachment;
}

/* ABI 1.3: what the pipeline told the set (sinks_set_facts/_final), as
 * much of it as the caller's struct holds. */
static int host_scan_facts(pwalk_host_ctx *ctx, pwalk_scan_facts *out)
{
    if (!out || out->struct_size < offsetof(pwalk_scan_facts, thread_count) +
                                       sizeof out->thread_count) {
        host_set_error(ctx, "scan_facts(): no struct, or struct_size %u too small",
                       out ? out->struct_size : 0u);
        return PWALK_ERR;
    }
    pwalk_scan_facts f = ctx->set->facts;
    size_t n = out->struct_size < sizeof f ? out->struct_size : sizeof f;
    f.struct_size = (uint32_t)n;
    memcpy(out, &f, n);
    return PWALK_OK;
}

/* The sessions the facts name (1.4): the caller's (a resumed scan's
 * earlier ones and this one) or this one alone, copied so that the end of
 * this one can be set. */
static void sinks_copy_sessions(sink_set *set, const pwalk_scan_facts *f)
{
    size_t n = f->session_count ? f->session_count : 1;
    free(set->sessions);
    set->sessions = calloc(n, sizeof *set->sessions);
    if (!set->sessions) {
        set->facts.session_count = 0;
        set->facts.sessions = NULL;
        return;
    }
    if (f->session_count && f->sessions)
        memcpy(set->sessions, f->sessions, n * sizeof *set->sessions);
    else
        set->sessions[0].start_sec = set->facts.start_sec;
    set->facts.session_count = (uint32_t)n;
    set->facts.sessions = set->sessions;
}

void sinks_set_facts(sink_set *set, const pwalk_scan_facts *f)
{
    set->facts = *f;
    set->facts.struct_size = sizeof set->facts;
    if (!f->hostname) {
        if (gethostname(set->hostname, sizeof set->hostname - 1) != 0)
            set->hostname[0] = '\0';
        set->facts.hostname = set->hostname;
    }
    if (!f->version)
        set->facts.version = "";
    if (!f->start_sec)
        set->facts.start_sec = (int64_t)time(NULL);
    if (f->ranks < 1) {
        set->facts.rank = 0;
        set->facts.ranks = 1;
    }
    sinks_copy_sessions(set, f);
}

void sinks_set_final(sink_set *set, int64_t end_sec, uint64_t entries, uint64_t errors,
                     uint64_t filtered, uint32_t threads)
{
    if (threads)
        set->facts.thread_count = threads;
    set->facts.end_sec = end_sec;
    if (set->facts.session_count)
        set->sessions[set->facts.session_count - 1].end_sec = end_sec;
    set->facts.entries = entries;
    set->facts.errors = errors;
    set->facts.filtered = filtered;
}

/* ---- checkpoints (ABI 1.4) ----------------------------------------------- */

static void sink_message(sink *s, int rc, const char *step, char *err, size_t errlen);

static int host_checkpoint_save(pwalk_host_ctx *ctx, const void *state, size_t len)
{
    sink *s = &ctx->set->sinks[ctx->index];
    if (!s->saving) {
        host_set_error(ctx, "checkpoint_save() called outside checkpoint()");
        return PWALK_ERR;
    }
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy) {
        host_set_error(ctx, "out of memory");
        return PWALK_ERR_NOMEM;
    }
    if (len)
        memcpy(copy, state, len);
    free(s->saved);
    s->saved = copy;
    s->saved_len = len;
    s->saved_calls++;
    return PWALK_OK;
}

static size_t host_checkpoint_count(pwalk_host_ctx *ctx)
{
    return ctx->set->sinks[ctx->index].resume_count;
}

static int host_checkpoint_state(pwalk_host_ctx *ctx, size_t i, const void **state, size_t *len)
{
    const sink *s = &ctx->set->sinks[ctx->index];
    if (i >= s->resume_count || !state || !len)
        return PWALK_ERR;
    *state = s->resume_states[i];
    *len = s->resume_lens[i];
    return PWALK_OK;
}

/* An output on stdout cannot be cut back and continued by another process. */
static int sink_output_on_stdout(const sink *s, const char **option)
{
    const pwalk_plugin *pl = s->loaded.plugin;
    for (uint32_t k = 0; pl->options && k < pl->option_count; k++) {
        const char *path = NULL;
        if (options_is_output(pl, &pl->options[k]) &&
            options_get_string(s->options, pl->options[k].name, &path) == 0 && path &&
            strcmp(path, "-") == 0) {
            *option = pl->options[k].name;
            return 1;
        }
    }
    return 0;
}

int sinks_can_checkpoint(const sink_set *set, char *err, size_t errlen)
{
    for (size_t i = 0; i < set->count; i++) {
        const pwalk_plugin *pl = set->sinks[i].loaded.plugin;
        const char *option;
        if (!PWALK_STRUCT_HAS(pl, pwalk_plugin, checkpoint) || !pl->checkpoint) {
            snprintf(err, errlen,
                     "sink '%s': plugin '%s' cannot checkpoint; remove scan.checkpoint or "
                     "this sink",
                     set->sinks[i].name, pl->name);
            return -1;
        }
        if (sink_output_on_stdout(&set->sinks[i], &option)) {
            snprintf(err, errlen,
                     "sink '%s': %s '-' (stdout) cannot be checkpointed; write it to a file",
                     set->sinks[i].name, option);
            return -1;
        }
    }
    return 0;
}

void sinks_set_resume(sink_set *set, size_t i, const void *const *states, const size_t *lens,
                      size_t count, uint64_t rows)
{
    sink *s = &set->sinks[i];
    s->resume_states = states;
    s->resume_lens = lens;
    s->resume_count = count;
    atomic_store(&s->rows, rows);
}

int sinks_checkpoint(sink_set *set, char *err, size_t errlen)
{
    for (size_t i = 0; i < set->count; i++) {
        sink *s = &set->sinks[i];
        s->saving = 1;
        s->saved_calls = 0;
        int rc = s->loaded.plugin->checkpoint(s->instance);
        s->saving = 0;
        if (rc != PWALK_OK) {
            sink_message(s, rc, "checkpoint", err, errlen);
            atomic_store(&s->failed, rc < 0 ? rc : PWALK_ERR);
            return -1;
        }
        if (s->saved_calls != 1) {
            snprintf(err, errlen, "sink '%s': checkpoint() saved %d states, not one", s->name,
                     s->saved_calls);
            sink_note_failure(set, i, err);
            return -1;
        }
    }
    return 0;
}

void sinks_set_publish_hook(sink_set *set,
                            int (*hook)(void *ctx, size_t published, char *err, size_t errlen),
                            void *ctx)
{
    set->publish_hook = hook;
    set->publish_ctx = ctx;
}

void sinks_saved_state(const sink_set *set, size_t i, const unsigned char **state, size_t *len)
{
    *state = set->sinks[i].saved;
    *len = set->sinks[i].saved_len;
}

const char *sinks_plugin_name(const sink_set *set, size_t i)
{
    return set->sinks[i].loaded.plugin->name;
}

static const pwalk_host sink_host = {
    .struct_size = sizeof(pwalk_host),
    .abi_major = PWALK_ABI_MAJOR,
    .abi_minor = PWALK_ABI_MINOR,
    .worker_count = 0, /* set per sink set: see sinks_start() */
    .opt_string = options_get_string,
    .opt_bool = options_get_bool,
    .opt_int = options_get_int,
    .opt_list_count = options_get_list_count,
    .opt_list_item = options_get_list_item,
    .set_error = host_set_error,
    .log = host_log,
    .entry_error = host_entry_error,
    .stop_requested = host_stop_requested,
    .sink_name = host_sink_name,
    .prune = host_prune,
    .own_output = host_own_output,
    .attachment = host_attachment,
    .scan_facts = host_scan_facts,
    .checkpoint_save = host_checkpoint_save,
    .checkpoint_count = host_checkpoint_count,
    .checkpoint_state = host_checkpoint_state,
};


/* ---- loading ------------------------------------------------------------- */

/* Where an output will land, for comparing two: the real path of its
 * directory and its name.  A directory that does not exist yet is left as
 * written (opening the output fails on it later, with its own message). */
static char *output_key(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir)
        return NULL;
    char *real = realpath(dir, NULL);
    char *key = NULL;
    if (asprintf(&key, "%s/%s", real ? real : dir, slash ? slash + 1 : path) < 0)
        key = NULL;
    free(real);
    free(dir);
    return key;
}

/* Two sinks (or a sink and the error file) writing one file would publish
 * whichever renamed last and silently lose the other: refuse it before
 * anything is opened.  The outputs are the options the plugin declares with
 * PWALK_OPTION_OUTPUT (for a plugin of ABI 1.0/1.1: those named "path" and
 * "log", options_is_output()).  A name is compared as the sink will write
 * it: a csv-* sink, whose default ends in ".zst", writes "r.csv" as
 * "r.csv.zst" (common/outname.h), so those two are one file. */
static int check_output_paths(const cfg_pipeline *p, sink_set *set, char *err, size_t errlen)
{
    size_t n = 0, cap = 1;
    for (size_t i = 0; i < set->count; i++)
        cap += set->sinks[i].loaded.plugin->option_count;
    char **keys = calloc(cap, sizeof *keys);
    size_t *owner = calloc(cap, sizeof *owner); /* sink index; count = the error file */
    int rc = 0;
    if (!keys || !owner) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
        goto out;
    }
    if (p->scan.errors_path && strcmp(p->scan.errors_path, "-") != 0) {
        if (!(keys[n] = output_key(p->scan.errors_path))) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
            goto out;
        }
        owner[n++] = set->count;
    }
    for (size_t i = 0; i < set->count && rc == 0; i++) {
        const pwalk_plugin *pl = set->sinks[i].loaded.plugin;
        for (uint32_t k = 0; pl->options && k < pl->option_count; k++) {
            const pwalk_option_spec *spec = &pl->options[k];
            const char *path = NULL;
            if (!options_is_output(pl, spec) ||
                options_get_string(set->sinks[i].options, spec->name, &path) != 0 ||
                !path || !*path || strcmp(path, "-") == 0)
                continue;
            char *written = outname_written(path, spec->default_value);
            char *key = written ? output_key(written) : NULL;
            free(written);
            if (!key) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
                break;
            }
            for (size_t j = 0; j < n; j++) {
                if (strcmp(keys[j], key) != 0)
                    continue;
                const cfg_sink *cs = &p->sinks[i];
                if (owner[j] == set->count)
                    snprintf(err, errlen,
                             "%s:%d:%d: sink '%s': %s '%s' is also the scan's errors file",
                             p->source, cs->mark.line, cs->mark.column, cs->name,
                             spec->name, path);
                else
                    snprintf(err, errlen,
                             "%s:%d:%d: sink '%s': %s '%s' is also an output of sink '%s'",
                             p->source, cs->mark.line, cs->mark.column, cs->name,
                             spec->name, path, set->sinks[owner[j]].name);
                rc = -1;
                break;
            }
            if (rc != 0) {
                free(key);
                break;
            }
            keys[n] = key;
            owner[n++] = i;
        }
    }
out:
    for (size_t j = 0; j < n; j++)
        free(keys[j]);
    free(keys);
    free(owner);
    return rc;
}

/* plugin_path entries are relative to the pipeline file's directory */
static char **resolve_plugin_dirs(const cfg_pipeline *p)
{
    char **dirs = calloc(p->plugin_path_count + 1, sizeof *dirs);
    if (!dirs)
        return NULL;
    const char *slash = p->source ? strrchr(p->source, '/') : NULL;
    int from_file = p->source && strcmp(p->source, "<built-in>") != 0;
    for (size_t i = 0; i < p->plugin_path_count; i++) {
        const char *d = p->plugin_path[i];
        if (d[0] == '/' || !from_file || !slash)
            dirs[i] = strdup(d);
        else if (asprintf(&dirs[i], "%.*s/%s", (int)(slash - p->source), p->source, d) < 0)
            dirs[i] = NULL;
        if (!dirs[i]) {
            for (size_t k = 0; k < i; k++)
                free(dirs[k]);
            free(dirs);
            return NULL;
        }
    }
    return dirs;
}

static void free_dirs(char **dirs, size_t n)
{
    if (!dirs)
        return;
    for (size_t i = 0; i < n; i++)
        free(dirs[i]);
    free(dirs);
}

/* A relative `plugin:` path is relative to the pipeline file, like
 * plugin_path (loader_plugin_relative). */
static int open_sink_plugin(const cfg_pipeline *p, const char *plugin, char *const *dirs,
                            loader_plugin *out, char *err, size_t errlen)
{
    char *name = loader_plugin_relative(plugin, p->source);
    if (!name) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = loader_open(name, dirs, p->plugin_path_count, out, err, errlen);
    free(name);
    return rc;
}

int sinks_load(const cfg_pipeline *p, sink_set **out, char *err, size_t errlen)
{
    return sinks_load_with(p, NULL, 0, out, err, errlen);
}

static const pwalk_plugin *find_builtin(const char *name, const pwalk_plugin *const *builtins,
                                        size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (builtins[i] && strcmp(builtins[i]->name, name) == 0)
            return builtins[i];
    return NULL;
}

int sinks_load_with(const cfg_pipeline *p, const pwalk_plugin *const *builtins,
                    size_t builtin_count, sink_set **out, char *err, size_t errlen)
{
    *out = NULL;
    sink_set *set = calloc(1, sizeof *set);
    char **dirs = resolve_plugin_dirs(p);
    if (!set || !dirs || !(set->sinks = calloc(p->sink_count ? p->sink_count : 1,
                                               sizeof *set->sinks))) {
        free(set);
        free_dirs(dirs, p->plugin_path_count);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *out = set;
    for (size_t i = 0; i < p->sink_count; i++) {
        const cfg_sink *cs = &p->sinks[i];
        sink *s = &set->sinks[i];
        set->count = i + 1;
        s->host_ctx.set = set;
        s->host_ctx.index = i;
        s->attachment = cs->attachment;
        pthread_mutex_init(&s->serial_lock, NULL);
        pthread_mutex_init(&s->message_lock, NULL);
        s->name = strdup(cs->name);
        if (!s->name) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        char lerr[1024];
        const pwalk_plugin *builtin = find_builtin(cs->plugin, builtins, builtin_count);
        if (builtin) {
            s->loaded.plugin = builtin;
            s->loaded.path = strdup("<built-in>");
        } else if (open_sink_plugin(p, cs->plugin, dirs, &s->loaded, lerr, sizeof lerr) != 0) {
            if (cs->mark.line > 0)
                snprintf(err, errlen, "%s:%d:%d: sink '%s': %s", p->source, cs->mark.line,
                         cs->mark.column, cs->name, lerr);
            else
                snprintf(err, errlen, "sink '%s': %s", cs->name, lerr);
            goto fail;
        }
        const pwalk_plugin *pl = s->loaded.plugin;
        if ((pl->flags & PWALK_PLUGIN_MUTATES_FS) && !p->allow_mutation) {
            snprintf(err, errlen,
                     "%s:%d:%d: sink '%s': plugin '%s' changes the filesystem; the pipeline "
                     "must say 'allow_mutation: true' to run it",
                     p->source, cs->mark.line, cs->mark.column, cs->name, pl->name);
            goto fail;
        }
        if (options_bind(pl, cs, p->source, &s->options, err, errlen) != 0)
            goto fail;
    }
    if (check_output_paths(p, set, err, errlen) != 0)
        goto fail;
    free_dirs(dirs, p->plugin_path_count);
    return 0;
fail:
    /* the sink the message names (a clash of outputs names the second) */
    for (size_t i = 0; i < set->count && !set->fail_known; i++) {
        char prefix[SINK_MESSAGE_MAX];
        snprintf(prefix, sizeof prefix, "sink '%s': ", set->sinks[i].name ? set->sinks[i].name : "");
        if (set->sinks[i].name && strstr(err, prefix))
            sink_note_failure(set, i, err);
    }
    free_dirs(dirs, p->plugin_path_count);
    return -1;
}

size_t sinks_count(const sink_set *s) { return s ? s->count : 0; }

void sinks_set_stop(sink_set *s, int *stop) { s->stop = stop; }

int sinks_failure(const sink_set *s, size_t *index, const char **message)
{
    if (!s || !s->fail_known)
        return 0;
    *index = s->fail_index;
    *message = s->fail_message;
    return 1;
}
const char *sinks_name(const sink_set *s, size_t i) { return s->sinks[i].name; }
uint64_t sinks_rows(const sink_set *s, size_t i) { return atomic_load(&s->sinks[i].rows); }

/* "sink 'NAME': message" for a failed callback */
static void sink_message(sink *s, int rc, const char *step, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->message_lock);
    if (s->message[0])
        snprintf(err, errlen, "sink '%s': %s", s->name, s->message);
    else
        snprintf(err, errlen, "sink '%s': %s failed (code %d)", s->name, step, rc);
    pthread_mutex_unlock(&s->message_lock);
    sink_note_failure(s->host_ctx.set, s->host_ctx.index, err);
}

static int sinks_start_each(sink_set *set, size_t workers, char *err, size_t errlen)
{
    for (size_t i = 0; i < set->count; i++) {
        sink *s = &set->sinks[i];
        const pwalk_plugin *pl = s->loaded.plugin;
        s->created = 1;
        set->creating = 1;
        int rc = pl->create(&set->host, &s->host_ctx, s->options, &s->instance);
        set->creating = 0;
        if (rc != PWALK_OK) {
            sink_message(s, rc, "create", err, errlen);
            return -1;
        }
        s->tstates = calloc(workers ? workers : 1, sizeof *s->tstates);
        if (!s->tstates) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (size_t w = 0; w < workers; w++) {
            if (pl->thread_open) {
                rc = pl->thread_open(s->instance, (uint32_t)w, &s->tstates[w]);
                if (rc != PWALK_OK) {
                    sink_message(s, rc, "thread_open", err, errlen);
                    return -1;
                }
            }
            s->tstate_count = w + 1;
        }
    }
    return 0;
}

int sinks_start(sink_set *set, size_t workers, const sinks_error_hook *hook, char *err,
                size_t errlen)
{
    set->workers = workers;
    if (hook)
        set->hook = *hook;
    set->host = sink_host;
    set->host.worker_count = (uint32_t)workers;
    if (!set->facts.struct_size) { /* a caller that set no facts: this much is known */
        pwalk_scan_facts f = {.thread_count = (uint32_t)workers};
        sinks_set_facts(set, &f);
    }
    set->starting = 1;
    int rc = sinks_start_each(set, workers, err, errlen);
    set->starting = 0;
    return rc;
}

/* ---- the fan-out ------------------------------------------------------------- */

static int sink_rows(void *ctx, size_t worker, const pwalk_entry *entries, size_t count)
{
    sink_set *set = ctx;
    for (size_t i = 0; i < set->count; i++) {
        sink *s = &set->sinks[i];
        const pwalk_plugin *pl = s->loaded.plugin;
        int serial = pl->threading == PWALK_THREADING_SERIAL;
        if (serial)
            pthread_mutex_lock(&s->serial_lock);
        int rc = pl->consume(s->instance, s->tstates[worker], entries, count);
        if (serial)
            pthread_mutex_unlock(&s->serial_lock);
        if (rc == PWALK_OK) {
            atomic_fetch_add_explicit(&s->rows, count, memory_order_relaxed);
            continue;
        }
        if (rc != PWALK_STOP) {
            atomic_store(&s->failed, rc);
            atomic_store(&set->failed, 1);
        }
        return 1;
    }
    return 0;
}

static void sink_error(void *ctx, size_t worker, const pwalk_error *e)
{
    sink_set *set = ctx;
    if (set->hook.record)
        set->hook.record(set->hook.ctx, e->path, e->path_len, e->error_number, e->operation,
                         e->kind);
    for (size_t i = 0; i < set->count; i++) {
        sink *s = &set->sinks[i];
        const pwalk_plugin *pl = s->loaded.plugin;
        if (!pl->error)
            continue;
        int serial = pl->threading == PWALK_THREADING_SERIAL;
        if (serial)
            pthread_mutex_lock(&s->serial_lock);
        int rc = pl->error(s->instance, s->tstates[worker], e);
        if (serial)
            pthread_mutex_unlock(&s->serial_lock);
        if (rc < 0) {
            atomic_store(&s->failed, rc);
            atomic_store(&set->failed, 1);
            if (set->stop) /* this scan's walk only */
                walk_request_stop(set->stop);
        }
    }
}

walk_sink sinks_walk_sink(sink_set *s)
{
    walk_sink ws = {s, sink_rows, sink_error};
    return ws;
}

int sinks_failed(const sink_set *set, char *err, size_t errlen)
{
    for (size_t i = 0; i < set->count; i++) {
        sink *s = &set->sinks[i];
        int rc = atomic_load(&s->failed);
        if (rc) {
            sink_message(s, rc, "consume", err, errlen);
            return 1;
        }
    }
    return 0;
}

int sinks_finish(sink_set *set, int scan_status, char *err, size_t errlen)
{
    int status = scan_status;
    int result = 0;
    for (size_t i = 0; i < set->count; i++) {
        sink *s = &set->sinks[i];
        const pwalk_plugin *pl = s->loaded.plugin;
        for (size_t w = 0; w < s->tstate_count; w++) {
            int rc = pl->thread_close ? pl->thread_close(s->instance, s->tstates[w]) : 0;
            if (rc < 0 && result == 0) {
                sink_message(s, rc, "thread_close", err, errlen);
                result = -1;
            }
        }
        s->tstate_count = 0;
    }
    if (result)
        status = status ? status : 3;
    /* two phases: nobody publishes until everybody could */
    for (size_t i = 0; i < set->count && status == 0; i++) {
        sink *s = &set->sinks[i];
        const pwalk_plugin *pl = s->loaded.plugin;
        if (!s->created || s->finished || !PWALK_STRUCT_HAS(pl, pwalk_plugin, prepare) ||
            !pl->prepare)
            continue;
        int rc = pl->prepare(s->instance);
        if (rc < 0) {
            sink_message(s, rc, "prepare", err, errlen);
            result = -1;
            status = 3;
        }
    }
    if (status == 0 && set->publish_hook &&
        set->publish_hook(set->publish_ctx, 0, err, errlen) != 0) {
        result = -1;
        status = 3;
    }
    for (size_t i = 0; i < set->count; i++) {
        sink *s = &set->sinks[i];
        const pwalk_plugin *pl = s->loaded.plugin;
        if (!s->created || s->finished)
            continue;
        s->finished = 1;
        int rc = pl->finish ? pl->finish(s->instance, status) : 0;
        if (rc < 0 && result == 0) {
            sink_message(s, rc, "finish", err, errlen);
            result = -1;
            status = 3; /* the sinks after this one publish nothing */
        }
        char ignored[256]; /* published is published: a journal not updated
                              only makes a resume refuse, naming this sink */
        if (status == 0 && set->publish_hook)
            set->publish_hook(set->publish_ctx, i + 1, ignored, sizeof ignored);
    }
    return result;
}

void sinks_free(sink_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++) {
        sink *s = &set->sinks[i];
        const pwalk_plugin *pl = s->loaded.plugin;
        if (pl) {
            for (size_t w = 0; w < s->tstate_count; w++)
                if (pl->thread_close)
                    pl->thread_close(s->instance, s->tstates[w]);
            if (s->created && !s->finished && pl->finish)
                pl->finish(s->instance, 3);
            if (s->created && pl->destroy)
                pl->destroy(s->instance);
        }
        free(s->tstates);
        options_free(s->options);
        loader_close(&s->loaded);
        pthread_mutex_destroy(&s->serial_lock);
        pthread_mutex_destroy(&s->message_lock);
        free(s->name);
        free(s->saved);
    }
    free(set->sessions);
    for (size_t i = 0; i < set->prune_count; i++)
        free(set->prunes[i]);
    free(set->prunes);
    free(set->own);
    free(set->sinks);
    free(set);
}

const walk_file_id *sinks_own_files(const sink_set *set, size_t *count)
{
    *count = set->own_count;
    return set->own;
}

char *const *sinks_prunes(const sink_set *set, size_t *count)
{
    *count = set->prune_count;
    return set->prunes;
}

int sinks_describe(const char *plugin, char *const *dirs, size_t ndirs, FILE *out, char *err,
                   size_t errlen)
{
    loader_plugin lp;
    memset(&lp, 0, sizeof lp);
    if (loader_open(plugin, dirs, ndirs, &lp, err, errlen) != 0)
        return -1;
    options_describe(lp.plugin, lp.path, out);
    loader_close(&lp);
    return 0;
}

int sinks_probe(const cfg_pipeline *p, size_t i, const char *option, int *mutates,
                int *declared, char **default_value, char *err, size_t errlen)
{
    *mutates = 0;
    *declared = 0;
    *default_value = NULL;
    const cfg_sink *cs = &p->sinks[i];
    char **dirs = resolve_plugin_dirs(p);
    if (!dirs) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    loader_plugin lp;
    memset(&lp, 0, sizeof lp);
    char lerr[1024];
    int rc = open_sink_plugin(p, cs->plugin, dirs, &lp, lerr, sizeof lerr);
    free_dirs(dirs, p->plugin_path_count);
    if (rc != 0) {
        snprintf(err, errlen, "%s: sink '%s': %s", p->source, cs->name, lerr);
        return -1;
    }
    *mutates = (lp.plugin->flags & PWALK_PLUGIN_MUTATES_FS) != 0;
    for (uint32_t k = 0; k < lp.plugin->option_count; k++) {
        const pwalk_option_spec *o = &lp.plugin->options[k];
        if (strcmp(o->name, option) == 0) {
            *declared = 1;
            if (o->default_value && !(*default_value = strdup(o->default_value))) {
                loader_close(&lp);
                snprintf(err, errlen, "out of memory");
                return -1;
            }
        }
    }
    loader_close(&lp);
    return 0;
}

/* ---- merging partial outputs (ABI 1.3) ------------------------------------ */

/* The first option of pl that names a file it writes, or NULL. */
static const char *sinks_output_option(const pwalk_plugin *pl)
{
    for (uint32_t k = 0; pl->options && k < pl->option_count; k++)
        if (options_is_output(pl, &pl->options[k]))
            return pl->options[k].name;
    return NULL;
}

int sinks_probe_merge(const cfg_pipeline *p, size_t i, int *merges, char **output, char *err,
                      size_t errlen)
{
    *merges = 0;
    *output = NULL;
    char **dirs = resolve_plugin_dirs(p);
    if (!dirs) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    loader_plugin lp;
    memset(&lp, 0, sizeof lp);
    char lerr[1024];
    int rc = open_sink_plugin(p, p->sinks[i].plugin, dirs, &lp, lerr, sizeof lerr);
    free_dirs(dirs, p->plugin_path_count);
    if (rc != 0) {
        snprintf(err, errlen, "%s: sink '%s': %s", p->source, p->sinks[i].name, lerr);
        return -1;
    }
    const pwalk_plugin *pl = lp.plugin;
    *merges = PWALK_STRUCT_HAS(pl, pwalk_plugin, merge) && pl->merge;
    const char *name = sinks_output_option(pl);
    if (name && !(*output = strdup(name))) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    loader_close(&lp);
    return rc;
}

/* create() ran: merge(), then prepare() and finish() through sinks_finish(). */
static int sinks_merge_run(sink_set *set, const char *const *partials, size_t count,
                           char *err, size_t errlen)
{
    sink *s = &set->sinks[0];
    const pwalk_plugin *pl = s->loaded.plugin;
    int rc = pl->merge(s->instance, partials, count);
    if (rc < 0) {
        sink_message(s, rc, "merge", err, errlen);
        char ignored[256];
        sinks_finish(set, 3, ignored, sizeof ignored);
        return -1;
    }
    return sinks_finish(set, 0, err, errlen);
}

int sinks_merge(const cfg_pipeline *p, size_t i, const pwalk_plugin *const *builtins,
                size_t builtin_count, const pwalk_scan_facts *facts,
                const char *const *partials, size_t count, const sinks_error_hook *hook,
                char *err, size_t errlen)
{
    /* a pipeline of that one sink and no error file: nothing else is
     * loaded, created or checked against it */
    cfg_pipeline one = *p;
    one.sinks = &p->sinks[i];
    one.sink_count = 1;
    one.scan.errors_path = NULL;
    sink_set *set = NULL;
    int rc = sinks_load_with(&one, builtins, builtin_count, &set, err, errlen) != 0 ? -2 : 0;
    if (rc == 0) {
        const pwalk_plugin *pl = set->sinks[0].loaded.plugin;
        if (!PWALK_STRUCT_HAS(pl, pwalk_plugin, merge) || !pl->merge) {
            snprintf(err, errlen,
                     "sink '%s': plugin '%s' cannot merge partial outputs (it has no merge "
                     "callback, ABI 1.3)",
                     p->sinks[i].name, pl->name);
            rc = -2;
        }
    }
    if (rc == 0) {
        sinks_set_facts(set, facts);
        /* no walk: no worker, so create() knows it is a merge instance */
        if (sinks_start(set, 0, hook, err, errlen) != 0) {
            char ignored[256];
            sinks_finish(set, 3, ignored, sizeof ignored);
            rc = -1;
        }
    }
    if (rc == 0)
        rc = sinks_merge_run(set, partials, count, err, errlen);
    sinks_free(set);
    return rc;
}
