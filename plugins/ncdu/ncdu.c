/*
 * ncdu.c -- the `ncdu` sink: the scan as ncdu's JSON export (format 1.2,
 * extended fields), so that `ncdu -f scan.json` browses a cluster's scan on
 * a laptop.  README.md here says what is written and why.
 *
 * The format nests (a directory holds its children) while the walk hands
 * out entries in no order across threads.  Memory stays bounded: each
 * worker turns its entries into records keyed by their path below the root
 * and spills sorted runs to its own temporary file (spill.c); prepare()
 * merges the runs, whose key order is the depth-first order of the tree,
 * and writes the nesting in one pass holding only the open directories
 * (emit.c).  Published atomically through common/outfile.
 *
 * Under pwalk-mpi with several ranks (plugin ABI 1.3) each rank writes its
 * records, merged in key order, as a partial at its shard name
 * (partial.c); rank 0's merge lifecycle (no workers) merges every rank's
 * partial the same way and writes the one export at the unsharded path.
 *
 * Checkpoints (ABI 1.4, ckpt.c): the runs so far are kept in the export's
 * temporary, which the resumed scan continues; prepare() then writes the
 * export into a second temporary of the same path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ckpt.h"
#include "common/outfile.h"
#include "emit.h"
#include "partial.h"
#include "pwalk/plugin.h"
#include "spill.h"

#define NCDU_VERSION "1.0"
#define NCDU_MIB (1024u * 1024u)

static const pwalk_option_spec ncdu_options[] = {
    {"path", PWALK_OPT_STRING, PWALK_OPTION_OUTPUT, NULL, NULL,
     "the export file (\"-\": stdout); browse it with `ncdu -f PATH`"},
    {"compress", PWALK_OPT_ENUM, 0, "none", "none|zstd",
     "zstd: one zstd frame (`zstdcat PATH | ncdu -f -`)"},
    {"tmpdir", PWALK_OPT_STRING, 0, "", NULL,
     "directory for the sort's temporary files (default: the export's directory)"},
    {"memory_mb", PWALK_OPT_INT, 0, "32", "1..1048576",
     "sort buffers of all workers together, in MiB (more spills to tmpdir)"},
};

/* One worker's records and, if it met it, the root's path. */
typedef struct ncdu_worker {
    ncdu_spill spill;
    char *key;            /* the mapped key being built               */
    size_t key_cap;
    char *root;           /* the root entry's path, when this worker had it */
} ncdu_worker;

enum { NCDU_TREE, NCDU_PARTIAL, NCDU_MERGED };

typedef struct ncdu_instance {
    const pwalk_host *host;
    int mode;             /* NCDU_TREE: one process writes the export */
    pwalk_host_ctx *ctx;
    const char *path;
    int zstd;
    char *tmpdir;
    size_t worker_cap;    /* sort buffer per worker                   */
    size_t memory;        /* memory_mb in bytes                       */
    char *cwd;            /* a relative root is shown below it        */
    char *err_root;       /* the root as given (facts): error paths   */
    const char *version;
    int64_t start_sec;
    outfile out;
    int out_open;
    ncdu_worker **workers;
    size_t worker_count;
    ncdu_run *parts;      /* NCDU_MERGED: every rank's records        */
    size_t part_count;
    char *part_root;      /* the root name a partial carried          */
    char *part_version;
    ncdu_ckpt ck;         /* runs saved at checkpoints, in out's file */
    outfile final;        /* the export (out holds the saved runs)    */
    int final_open;
    int saved_fd;         /* out's temporary, read back (-1: closed)  */
    int ck_active;        /* resumed, or checkpointed: out is a part  */
} ncdu_instance;

static int ncdu_fail(ncdu_instance *s, int rc, const char *msg)
{
    s->host->set_error(s->ctx, "%s", msg);
    return rc;
}

/* tmpdir: the option, else the export's directory (stdout: $TMPDIR). */
static char *ncdu_tmpdir_of(const char *opt, const char *path)
{
    if (opt && opt[0])
        return strdup(opt);
    if (strcmp(path, "-") == 0) {
        const char *t = getenv("TMPDIR");
        return strdup(t && t[0] ? t : "/tmp");
    }
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static int ncdu_options_read(ncdu_instance *s, const pwalk_options *opts)
{
    const pwalk_host *h = s->host;
    const char *compress = "none", *tmpdir = "";
    int64_t mb = 32;
    if (h->opt_string(opts, "path", &s->path) != 0 || !s->path || !s->path[0])
        return ncdu_fail(s, PWALK_ERR_CONFIG, "path: required, the export file to write");
    h->opt_string(opts, "compress", &compress);
    h->opt_string(opts, "tmpdir", &tmpdir);
    h->opt_int(opts, "memory_mb", &mb);
    s->zstd = strcmp(compress, "zstd") == 0;
    s->tmpdir = ncdu_tmpdir_of(tmpdir, s->path);
    if (!s->tmpdir)
        return ncdu_fail(s, PWALK_ERR_NOMEM, "out of memory");
    size_t workers = h->worker_count ? h->worker_count : 1;
    s->memory = (size_t)mb * NCDU_MIB;
    s->worker_cap = s->memory / workers;
    /* threads: auto may start up to 256 workers: memory_mb is shared among
     * them, down to runs of 64 KiB */
    if (s->worker_cap < NCDU_MIB / 16)
        s->worker_cap = NCDU_MIB / 16;
    /* a bad tmpdir fails now (exit 2), not in the middle of the walk */
    int fd = ncdu_tmpfile(s->tmpdir);
    if (fd < 0) {
        h->set_error(s->ctx, "tmpdir: cannot create a temporary file in '%s': %s", s->tmpdir,
                     strerror(errno));
        return PWALK_ERR_CONFIG;
    }
    close(fd);
    return PWALK_OK;
}

/* The scan's facts (1.3): its start, one root, and whether ranks split it. */
static int ncdu_facts_read(ncdu_instance *s)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    s->start_sec = (int64_t)now.tv_sec;
#if PWALK_ABI_MINOR >= 3
    pwalk_scan_facts f;
    memset(&f, 0, sizeof f);
    f.struct_size = sizeof f;
    if (!PWALK_HOST_HAS(s->host, scan_facts) || !s->host->scan_facts ||
        s->host->scan_facts(s->ctx, &f) != PWALK_OK)
        return PWALK_OK;
    s->start_sec = f.start_sec;
    s->version = f.version;
    /* several ranks: each writes a partial; the merge (no workers) the export */
    if (f.ranks > 1 || (f.flags & PWALK_FACTS_PARTIAL))
        s->mode = s->host->worker_count > 0 ? NCDU_PARTIAL : NCDU_MERGED;
    if (f.root_count > 1) {
        s->host->set_error(s->ctx, "ncdu's export holds one tree: %u roots given, give one "
                           "(or one scan per root)", f.root_count);
        return PWALK_ERR_CONFIG;
    }
    if (f.root_count == 1 && f.roots && f.roots[0] && !(s->err_root = strdup(f.roots[0])))
        return ncdu_fail(s, PWALK_ERR_NOMEM, "out of memory");
#endif
    return PWALK_OK;
}

/* A resumed scan (ABI 1.4): out continues the first state's temporary
 * with the saved runs (and the other states' appended); nothing when the
 * engine gives no state.  A bad state or part: PWALK_ERR_CONFIG (the
 * engine keeps the journal and the parts). */
static int ncdu_resume(ncdu_instance *s)
{
#if PWALK_ABI_MINOR >= 4
    const pwalk_host *h = s->host;
    size_t n = h->worker_count && PWALK_HOST_HAS(h, checkpoint_state) && h->checkpoint_count
                   ? h->checkpoint_count(s->ctx)
                   : 0;
    const void **states = n ? calloc(n, sizeof *states) : NULL;
    size_t *lens = n ? calloc(n, sizeof *lens) : NULL;
    if (n && (!states || !lens)) {
        free(states);
        free(lens);
        return ncdu_fail(s, PWALK_ERR_NOMEM, "out of memory");
    }
    char err[1024] = "";
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (h->checkpoint_state(s->ctx, i, &states[i], &lens[i]) != PWALK_OK) {
            snprintf(err, sizeof err, "ncdu checkpoint state %zu of %zu: not given", i + 1, n);
            rc = -1;
        }
    s->ck_active = n > 0;
    if (n && rc == 0)
        rc = ncdu_ckpt_resume(&s->ck, &s->out, &s->out_open, s->path, states, lens, n, err,
                              sizeof err);
    free(states);
    free(lens);
    if (rc != 0)
        return ncdu_fail(s, PWALK_ERR_CONFIG, err);
#else
    (void)s;
#endif
    return PWALK_OK;
}

/* The export's own temporary, beside out (which holds the runs saved at
 * checkpoints): made now so the walk leaves it out and every state names
 * it; a resumed scan continues the one the first state named. */
static int ncdu_open_final(ncdu_instance *s)
{
    char err[512];
    if (s->mode == NCDU_MERGED || s->out.is_stdout)
        return PWALK_OK; /* no checkpoint: prepare() writes into out */
    if (!s->ck.final_name ||
        outfile_resume(&s->final, s->path, s->ck.final_name, 0, err, sizeof err) != 0) {
        if (outfile_open(&s->final, s->path, err, sizeof err) != 0)
            return ncdu_fail(s, PWALK_ERR_IO, err);
    }
    s->final_open = 1;
    if (PWALK_HOST_HAS(s->host, own_output) &&
        s->host->own_output(s->ctx, s->final.fd) != PWALK_OK)
        return ncdu_fail(s, PWALK_ERR, "cannot leave the export out of the walk");
    return PWALK_OK;
}

static int ncdu_create(const pwalk_host *host, pwalk_host_ctx *ctx, const pwalk_options *opts,
                       void **instance)
{
    ncdu_instance *s = calloc(1, sizeof *s);
    if (!s) {
        host->set_error(ctx, "out of memory");
        return PWALK_ERR_NOMEM;
    }
    *instance = s;
    s->host = host;
    s->ctx = ctx;
    s->saved_fd = -1;
    int rc = ncdu_options_read(s, opts);
    if (rc == PWALK_OK)
        rc = ncdu_facts_read(s);
    if (rc != PWALK_OK)
        return rc;
    s->cwd = getcwd(NULL, 0); /* NULL: a relative root is shown as given */
    s->workers = calloc(host->worker_count ? host->worker_count : 1, sizeof *s->workers);
    if (!s->workers)
        return ncdu_fail(s, PWALK_ERR_NOMEM, "out of memory");
    if ((rc = ncdu_resume(s)) != PWALK_OK)
        return rc;
    char err[512];
    if (!s->out_open && outfile_open(&s->out, s->path, err, sizeof err) != 0)
        return ncdu_fail(s, PWALK_ERR_IO, err);
    s->out_open = 1;
    if (PWALK_HOST_HAS(host, own_output) && host->own_output(ctx, s->out.fd) != PWALK_OK)
        return ncdu_fail(s, PWALK_ERR, "cannot leave the export out of the walk");
    return ncdu_open_final(s);
}

static int ncdu_thread_open(void *instance, uint32_t worker, void **tstate)
{
    ncdu_instance *s = instance;
    if (worker >= (s->host->worker_count ? s->host->worker_count : 1)) {
        s->host->set_error(s->ctx, "worker %u beyond worker_count %u", worker,
                           s->host->worker_count);
        return PWALK_ERR;
    }
    ncdu_worker *w = calloc(1, sizeof *w);
    if (!w)
        return ncdu_fail(s, PWALK_ERR_NOMEM, "out of memory");
    char err[512];
    if (ncdu_spill_open(&w->spill, s->tmpdir, s->worker_cap, err, sizeof err) != 0) {
        free(w);
        return ncdu_fail(s, PWALK_ERR_IO, err);
    }
    s->workers[worker] = w;
    if (s->worker_count <= worker)
        s->worker_count = worker + 1;
    *tstate = w;
    /* the temporary is unlinked, but it is the scan's own writing anyway */
    if (PWALK_HOST_HAS(s->host, own_output))
        s->host->own_output(s->ctx, w->spill.fd);
    return PWALK_OK;
}

/* path[start..len) as a key: '/' as NUL, so the key order is the tree's
 * depth-first order (spill.h). */
static const char *ncdu_key_map(ncdu_worker *w, const char *path, size_t start, size_t len)
{
    size_t n = len - start;
    if (n > w->key_cap) {
        char *k = realloc(w->key, n);
        if (!k)
            return NULL;
        w->key = k;
        w->key_cap = n;
    }
    for (size_t i = 0; i < n; i++)
        w->key[i] = path[start + i] == '/' ? '\0' : path[start + i];
    return w->key ? w->key : "";
}

/* Where the part below the root starts: the entry's name, then one
 * component back per level of depth (the engine joins with one '/'). */
static size_t ncdu_below_root(const pwalk_entry *e)
{
    size_t pos = e->name_offset;
    for (int32_t d = e->depth; d > 0 && pos > 0; d--) {
        pos--; /* the '/' before this component */
        while (pos > 0 && e->path[pos - 1] != '/')
            pos--;
    }
    return pos;
}

static int ncdu_add_entry(ncdu_worker *w, const pwalk_entry *e, char *err, size_t errlen)
{
    ncdu_rec r = {0};
    r.flags = S_ISDIR(e->mode) ? NCDU_R_DIR : 0;
    if (e->flags & PWALK_ENTRY_UNREADABLE)
        r.flags |= NCDU_R_READ_ERROR;
    r.mode = e->mode;
    r.uid = e->uid;
    r.gid = e->gid;
    r.nlink = e->nlink;
    r.ino = e->ino;
    r.dev = e->dev;
    r.size = e->size;
    r.blocks = e->blocks;
    r.mtime = e->mtime_sec;
    const char *key = "";
    if (e->flags & PWALK_ENTRY_ROOT) {
        r.flags |= NCDU_R_ROOT | NCDU_R_DIR;
        if (!w->root && !(w->root = strdup(e->path))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    } else {
        size_t start = ncdu_below_root(e);
        key = ncdu_key_map(w, e->path, start, e->path_len);
        if (!key) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        r.key_len = (uint32_t)(e->path_len - start);
    }
    return ncdu_spill_add(&w->spill, &r, key, err, errlen);
}

static int ncdu_consume(void *instance, void *tstate, const pwalk_entry *entries, size_t count)
{
    ncdu_instance *s = instance;
    ncdu_worker *w = tstate;
    char err[512];
    for (size_t i = 0; i < count; i++)
        if (ncdu_add_entry(w, PWALK_ENTRY_AT(entries, i), err, sizeof err) != 0)
            return ncdu_fail(s, PWALK_ERR_IO, err);
    return PWALK_OK;
}

/* A name whose lstat failed: listed with "read_error", as ncdu does. */
static int ncdu_error(void *instance, void *tstate, const pwalk_error *pe)
{
    ncdu_instance *s = instance;
    ncdu_worker *w = tstate;
    if (!w || !s->err_root || !pe->operation || strcmp(pe->operation, "lstat") != 0)
        return PWALK_OK;
    if (PWALK_STRUCT_HAS(pe, pwalk_error, kind) && pe->kind != PWALK_ERROR_FAILED)
        return PWALK_OK; /* vanished or replaced: not there to list */
    size_t rlen = strlen(s->err_root);
    if (pe->path_len <= rlen || memcmp(pe->path, s->err_root, rlen) != 0)
        return PWALK_OK;
    if (pe->path[rlen] == '/')
        rlen++;
    ncdu_rec r = {0};
    r.flags = NCDU_R_READ_ERROR | NCDU_R_NO_STAT;
    const char *key = ncdu_key_map(w, pe->path, rlen, pe->path_len);
    char err[512];
    r.key_len = (uint32_t)(pe->path_len - rlen);
    if (!key || ncdu_spill_add(&w->spill, &r, key, err, sizeof err) != 0)
        return ncdu_fail(s, PWALK_ERR_IO, key ? err : "out of memory");
    return PWALK_OK;
}

static int ncdu_thread_close(void *instance, void *tstate)
{
    ncdu_instance *s = instance;
    ncdu_worker *w = tstate;
    char err[512];
    free(w->key);
    w->key = NULL;
    w->key_cap = 0;
    if (ncdu_spill_flush(&w->spill, err, sizeof err) != 0)
        return ncdu_fail(s, PWALK_ERR_IO, err);
    return PWALK_OK;
}

/* The root entry's path, when a worker of this process (or of a session
 * this one continues) listed it. */
static const char *ncdu_root_seen(const ncdu_instance *s)
{
    for (size_t i = 0; i < s->worker_count; i++)
        if (s->workers[i] && s->workers[i]->root)
            return s->workers[i]->root;
    return s->ck.root;
}

#if PWALK_ABI_MINOR >= 4
/* Every worker's runs into out's temporary, synced, and the state saved. */
static int ncdu_checkpoint(void *instance)
{
    ncdu_instance *s = instance;
    if (s->mode == NCDU_MERGED || !s->out_open)
        return ncdu_fail(s, PWALK_ERR, "checkpoint without a walk");
    if (s->out.is_stdout)
        return ncdu_fail(s, PWALK_ERR_CONFIG, "path: '-' (standard output) cannot be "
                                              "checkpointed; give a file");
    ncdu_spill **spills = calloc(s->worker_count ? s->worker_count : 1, sizeof *spills);
    if (!spills)
        return ncdu_fail(s, PWALK_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s->worker_count; i++)
        spills[i] = s->workers[i] ? &s->workers[i]->spill : NULL;
    unsigned char *state = NULL;
    size_t len = 0;
    char err[1024];
    int rc = ncdu_ckpt_save(&s->ck, &s->out, s->final_open ? &s->final : NULL, spills,
                            s->worker_count, ncdu_root_seen(s), &state, &len, err, sizeof err);
    free(spills);
    if (rc != 0)
        return ncdu_fail(s, PWALK_ERR_IO, err);
    s->ck_active = 1;
    rc = s->host->checkpoint_save(s->ctx, state, len);
    free(state);
    return rc == PWALK_OK ? PWALK_OK : ncdu_fail(s, rc, "cannot save the checkpoint state");
}
#endif

/* The root's name in the export: an absolute path (ncdu shows it as the
 * top directory), without trailing slashes. */
static char *ncdu_root_name(const ncdu_instance *s, const char *root)
{
    if (!root)
        root = s->err_root ? s->err_root : ".";
    size_t cl = root[0] != '/' && s->cwd ? strlen(s->cwd) : 0;
    size_t len = cl + 1 + strlen(root) + 1;
    char *name = malloc(len);
    if (!name)
        return NULL;
    if (cl && strcmp(root, ".") == 0)
        snprintf(name, len, "%s", s->cwd);
    else if (cl)
        snprintf(name, len, "%s%s%s", s->cwd, s->cwd[cl - 1] == '/' ? "" : "/", root);
    else
        snprintf(name, len, "%s", root);
    for (size_t n = strlen(name); n > 1 && name[n - 1] == '/'; n--)
        name[n - 1] = '\0';
    return name;
}

/* The workers' runs and those saved at checkpoints (read back from out's
 * temporary), merged. */
static ncdu_merge *ncdu_merge_saved(ncdu_instance *s, char *err, size_t errlen)
{
    size_t count = 0;
    ncdu_run *runs = NULL;
    for (size_t i = 0; i < s->worker_count; i++) {
        const ncdu_spill *sp = s->workers[i] ? &s->workers[i]->spill : NULL;
        for (size_t j = 0; sp && j < sp->run_count; j++) {
            ncdu_run *grown = realloc(runs, (count + 1) * sizeof *runs);
            if (!grown) {
                free(runs);
                snprintf(err, errlen, "out of memory");
                return NULL;
            }
            runs = grown;
            runs[count++] = (ncdu_run){sp->fd, sp->runs[2 * j], sp->runs[2 * j + 1]};
        }
    }
    if (s->saved_fd < 0)
        s->saved_fd = openat(s->out.dirfd, s->out.tmp_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    ncdu_merge *m = NULL;
    if (s->saved_fd < 0)
        snprintf(err, errlen, "cannot read back '%s' in '%s': %s", s->out.tmp_name,
                 s->out.dir_path, strerror(errno));
    else if (ncdu_ckpt_runs(&s->ck, s->saved_fd, &runs, &count) != 0)
        snprintf(err, errlen, "out of memory");
    else
        m = ncdu_merge_open_runs(runs, count, s->memory, s->tmpdir, err, errlen);
    free(runs);
    return m;
}

/* Every record in key order: this process's runs, or every rank's. */
static ncdu_merge *ncdu_merge_all(ncdu_instance *s, char *err, size_t errlen)
{
    size_t n = s->mode == NCDU_MERGED ? s->part_count : s->worker_count;
    ncdu_run *runs = NULL;
    ncdu_spill *spills = NULL;
    ncdu_merge *m = NULL;
    if (s->mode == NCDU_MERGED && (runs = malloc((n ? n : 1) * sizeof *runs))) {
        memcpy(runs, s->parts, n * sizeof *runs); /* the merge reuses the array */
        m = ncdu_merge_open_runs(runs, n, s->memory, s->tmpdir, err, errlen);
    } else if (s->mode != NCDU_MERGED && s->ck.run_count) {
        m = ncdu_merge_saved(s, err, errlen); /* the runs of earlier checkpoints too */
    } else if (s->mode != NCDU_MERGED && (spills = calloc(n ? n : 1, sizeof *spills))) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (s->workers[i])
                spills[k++] = s->workers[i]->spill; /* a shallow copy: runs and fd */
        m = ncdu_merge_open(spills, k, s->memory, s->tmpdir, err, errlen);
    } else {
        snprintf(err, errlen, "out of memory");
    }
    free(runs);
    free(spills);
    return m;
}

/* The merged records as nested JSON. */
static int ncdu_write_tree(ncdu_instance *s, ncdu_merge *m, ncdu_out *o, const char *root,
                           char *err, size_t errlen)
{
    ncdu_tree t;
    const char *version = s->version ? s->version : s->part_version;
    int rc = ncdu_tree_begin(&t, o, version, s->start_sec);
    const ncdu_rec *r;
    const char *key;
    int got = 0;
    while (rc == 0 && (got = ncdu_merge_next(m, &r, &key, err, errlen)) > 0) {
        rc = ncdu_tree_add(&t, r, key, root);
        if (rc == 0 && (t.written & 0xffff) == 0 && s->host->stop_requested(s->ctx)) {
            snprintf(err, errlen, "stopped");
            rc = -1;
        }
    }
    if (rc == 0 && got == 0)
        rc = ncdu_tree_end(&t);
    else if (got < 0)
        rc = -1;
    ncdu_tree_free(&t);
    return rc == 0 ? ncdu_out_end(o) : -1;
}

static int ncdu_write(ncdu_instance *s, ncdu_out *o, char *err, size_t errlen)
{
    const char *seen = ncdu_root_seen(s);
    char *root = s->mode == NCDU_MERGED ? strdup(s->part_root ? s->part_root : "")
                 : s->mode == NCDU_PARTIAL && !seen ? strdup("")
                                                    : ncdu_root_name(s, seen);
    ncdu_merge *m = root ? ncdu_merge_all(s, err, errlen) : NULL;
    int rc = -1;
    if (!root)
        snprintf(err, errlen, "out of memory");
    else if (m && s->mode == NCDU_PARTIAL)
        rc = ncdu_partial_write(o, m, root, s->version, err, errlen);
    else if (m)
        rc = ncdu_write_tree(s, m, o, root, err, errlen);
    ncdu_merge_close(m);
    free(root);
    return rc;
}

#if PWALK_ABI_MINOR >= 3
/* The merge lifecycle: every rank's partial, checked, kept open as a run. */
static int ncdu_merge_cb(void *instance, const char *const *partials, size_t count)
{
    ncdu_instance *s = instance;
    if (s->mode != NCDU_MERGED)
        return ncdu_fail(s, PWALK_ERR, "merge called on an instance that has workers");
    s->parts = calloc(count ? count : 1, sizeof *s->parts);
    if (!s->parts)
        return ncdu_fail(s, PWALK_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        char err[1024], *root, *version;
        ncdu_run run;
        if (ncdu_partial_open(partials[i], &run, &root, &version, err, sizeof err) != 0)
            return ncdu_fail(s, PWALK_ERR_IO, err);
        s->parts[s->part_count++] = run;
        if (root[0] && !s->part_root)
            s->part_root = root;
        else
            free(root);
        if (version[0] && !s->part_version)
            s->part_version = version;
        else
            free(version);
    }
    return PWALK_OK;
}
#endif

static int ncdu_prepare(void *instance)
{
    ncdu_instance *s = instance;
    if (!s || !s->out_open)
        return PWALK_OK;
    char err[1024] = "";
    /* the export goes to final; out holds the runs of checkpoints (and
     * is the export itself without final: stdout, the merge) */
    outfile *target = s->final_open ? &s->final : &s->out;
    int *target_open = s->final_open ? &s->final_open : &s->out_open;
    ncdu_out o;
    /* a partial is read back by the merge: never compressed */
    int rc = ncdu_out_init(&o, target, s->zstd && s->mode != NCDU_PARTIAL, err, sizeof err);
    if (rc == 0)
        rc = ncdu_write(s, &o, err, sizeof err);
    ncdu_out_free(&o);
    if (rc == 0 && outfile_prepare(target, err, sizeof err) != 0) {
        *target_open = 0; /* released by outfile_prepare */
        rc = -1;
    }
    return rc == 0 ? PWALK_OK : ncdu_fail(s, PWALK_ERR_IO, err);
}

static int ncdu_finish(void *instance, int32_t scan_status)
{
    ncdu_instance *s = instance;
    if (!s)
        return PWALK_OK;
    if (s->saved_fd >= 0)
        close(s->saved_fd);
    s->saved_fd = -1;
    int used_final = s->final_open, rc = PWALK_OK;
    if (scan_status == 0 && (s->final_open || s->out_open)) {
        char err[512];
        if (outfile_commit(used_final ? &s->final : &s->out, err, sizeof err) != 0)
            rc = ncdu_fail(s, PWALK_ERR_IO, err);
        *(used_final ? &s->final_open : &s->out_open) = 0;
    }
    int keep = 0;
#if PWALK_ABI_MINOR >= 4
    /* suspended: the saved runs (and final, empty) stay for the resumed scan */
    keep = scan_status == PWALK_SUSPENDED && s->ck_active;
#endif
    if (s->final_open)
        (keep ? outfile_keep : outfile_abort)(&s->final);
    s->final_open = 0;
    if (s->out_open)
        (keep ? outfile_keep : outfile_abort)(&s->out); /* else published, or abandoned */
    s->out_open = 0;
    return rc;
}

static void ncdu_destroy(void *instance)
{
    ncdu_instance *s = instance;
    if (!s)
        return;
    if (s->out_open)
        outfile_abort(&s->out);
    if (s->final_open)
        outfile_abort(&s->final);
    if (s->saved_fd >= 0)
        close(s->saved_fd);
    ncdu_ckpt_free(&s->ck);
    for (size_t i = 0; s->workers && i < s->worker_count; i++) {
        ncdu_worker *w = s->workers[i];
        if (!w)
            continue;
        ncdu_spill_free(&w->spill);
        free(w->key);
        free(w->root);
        free(w);
    }
    free(s->workers);
    for (size_t i = 0; i < s->part_count; i++)
        close(s->parts[i].fd);
    free(s->parts);
    free(s->part_root);
    free(s->part_version);
    free(s->tmpdir);
    free(s->cwd);
    free(s->err_root);
    free(s);
}

static const pwalk_plugin ncdu_plugin = {
    .struct_size = sizeof(pwalk_plugin),
    .abi_major = PWALK_ABI_MAJOR,
    .abi_minor = PWALK_ABI_MINOR,
    .flags = 0,
    .threading = PWALK_THREADING_PER_WORKER,
    .option_count = sizeof ncdu_options / sizeof ncdu_options[0],
    .name = "ncdu",
    .version = NCDU_VERSION,
    .description = "ncdu's JSON export (extended): browse the scan with `ncdu -f FILE`",
    .options = ncdu_options,
    .create = ncdu_create,
    .thread_open = ncdu_thread_open,
    .consume = ncdu_consume,
    .error = ncdu_error,
    .thread_close = ncdu_thread_close,
    .prepare = ncdu_prepare,
    .finish = ncdu_finish,
    .destroy = ncdu_destroy,
#if PWALK_ABI_MINOR >= 3
    .merge = ncdu_merge_cb,
#endif
#if PWALK_ABI_MINOR >= 4
    .checkpoint = ncdu_checkpoint,
#endif
};

PWALK_PLUGIN_EXPORT const pwalk_plugin *pwalk_plugin_entry_v1(void)
{
    return &ncdu_plugin;
}
