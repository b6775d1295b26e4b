/*
 * diff/main.c -- pwalk-diff: what changed between two pwalk scans.
 *
 *   pwalk-diff OLD NEW [-o DIR] [OPTIONS]
 *
 * Reads both reports into external sorters (load.c, sort.c), joins them
 * (join.c), adds up the figures (agg.c) and writes the outputs (out.c);
 * README.md here is the reference of the CLI, files and statuses.
 *
 * Exit status: 0 done; 1 done, but the net growth exceeds
 * --fail-if-growth; 2 bad usage or bad input (nothing written); 3 an
 * output or the spill files failed (nothing published); 128+N stopped by
 * signal N (nothing published, spill files gone).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/oneline.h"
#include "common/signals.h"
#include "pwalk/pwalk.h" /* PWALK_VERSION_STRING */

#include "agg.h"
#include "join.h"
#include "load.h"
#include "out.h"
#include "row.h"
#include "size.h"

#define DIFF_VERSION PWALK_VERSION_STRING
#define DIFF_USAGE 2
#define DIFF_FAILED 3

static const char diff_usage_text[] =
    "Usage: pwalk-diff OLD NEW [-o DIR] [OPTIONS]\n"
    "\n"
    "Compares two pwalk reports (csv, .csv.zst, .csv.gz, .csv.lz4, lossless or dey\n"
    "escaping, with or without header) or MPI manifests: what was added, removed,\n"
    "modified, renamed; who grew and where.\n"
    "\n"
    "  -o, --output DIR         write changes.csv, by_user.csv, by_group.csv,\n"
    "                           by_dir.csv and diff.json into DIR\n"
    "      --match MODE         auto (default), inode or path\n"
    "      --depth N            by_dir.csv down to N levels below each root (3)\n"
    "      --compress MODE      none (default) or zstd (the .csv files as .csv.zst)\n"
    "      --memory SIZE        memory for sorting (default 1G)\n"
    "      --tmpdir DIR         where sorted runs are spilled (default $TMPDIR, /tmp)\n"
    "      --threads N          parsing and sorting threads (default: the CPUs)\n"
    "      --escape MODE        auto (default), lossless or dey\n"
    "      --fail-if-growth SIZE  exit 1 when the net growth exceeds SIZE\n"
    "      --roots-differ       allow scans of different roots\n"
    "  -q, --quiet              no answer on stdout\n"
    "  -h, --help               this text\n"
    "  -V, --version            the version\n"
    "\n"
    "SIZE: a number with an optional K, M, G, T or P (powers of 1024): 64M, 10T.\n"
    "Exit status: 0 done; 1 done, but the net growth exceeds --fail-if-growth;\n"
    "2 bad usage or bad input, nothing written; 3 an output or the spill files\n"
    "failed, nothing published; 128+N stopped by signal N.\n";

enum {
    OPT_MATCH = 256,
    OPT_DEPTH,
    OPT_COMPRESS,
    OPT_MEMORY,
    OPT_TMPDIR,
    OPT_THREADS,
    OPT_ESCAPE,
    OPT_FAIL_GROWTH,
    OPT_ROOTS_DIFFER,
};

static const struct option diff_options[] = {
    {"output", required_argument, NULL, 'o'},
    {"match", required_argument, NULL, OPT_MATCH},
    {"depth", required_argument, NULL, OPT_DEPTH},
    {"compress", required_argument, NULL, OPT_COMPRESS},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"tmpdir", required_argument, NULL, OPT_TMPDIR},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"escape", required_argument, NULL, OPT_ESCAPE},
    {"fail-if-growth", required_argument, NULL, OPT_FAIL_GROWTH},
    {"roots-differ", no_argument, NULL, OPT_ROOTS_DIFFER},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

enum { MATCH_AUTO = -1 };

typedef struct diff_cli {
    const char *old_path, *new_path, *out_dir, *tmpdir;
    int match;                  /* MATCH_AUTO, DJOIN_INODE, DJOIN_PATH */
    int depth;
    int zstd;
    uint64_t memory;
    int threads;
    int escape;
    int has_limit;
    uint64_t growth_limit;
    int roots_differ;
    int quiet;
} diff_cli;

/* The signal that asks to stop (0: none).  A program's own state: the
 * handler is its only writer; every phase polls it. */
static volatile sig_atomic_t diff_stop;

static void diff_on_signal(int sig)
{
    diff_stop = sig;
}

/* One line on stderr; control bytes as \xHH so it stays one line. */
static int diff_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int diff_fail(int status, const char *fmt, ...)
{
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    oneline_print(stderr, "pwalk-diff", msg);
    return status;
}

static int diff_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int diff_word(const char *opt, const char *v, const char *const *words, int *out)
{
    for (int i = 0; words[i]; i++)
        if (strcmp(v, words[i]) == 0)
            return *out = i, 0;
    return diff_fail(DIFF_USAGE, "%s: '%s' is not one of its values (see --help)", opt, v);
}

static int diff_int(const char *opt, const char *v, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi)
        return diff_fail(DIFF_USAGE, "%s: '%s' is not a whole number from %ld to %ld", opt, v,
                         lo, hi);
    *out = (int)n;
    return 0;
}

static int diff_size(const char *opt, const char *v, uint64_t *out)
{
    if (dsize_parse(v, out) != 0)
        return diff_fail(DIFF_USAGE, "%s: '%s' is not a size (a number with an optional "
                                     "K, M, G, T or P: 64M, 10T)", opt, v);
    return 0;
}

/* One option (not a positional argument); 0, -1 (exit 0 done), or a status. */
static int diff_option(diff_cli *c, int opt, const char *v)
{
    static const char *const matches[] = {"inode", "path", "auto", NULL};
    static const char *const compress[] = {"none", "zstd", NULL};
    static const char *const escapes[] = {"auto", "lossless", "dey", NULL};
    switch (opt) {
    case 'o': c->out_dir = v; return 0;
    case OPT_MATCH: {
        int rc = diff_word("--match", v, matches, &c->match);
        if (c->match == 2)
            c->match = MATCH_AUTO;
        return rc;
    }
    case OPT_DEPTH: return diff_int("--depth", v, 0, 1 << 20, &c->depth);
    case OPT_COMPRESS: return diff_word("--compress", v, compress, &c->zstd);
    case OPT_MEMORY: return diff_size("--memory", v, &c->memory);
    case OPT_TMPDIR: c->tmpdir = v; return 0;
    case OPT_THREADS: return diff_int("--threads", v, 1, 256, &c->threads);
    case OPT_ESCAPE: return diff_word("--escape", v, escapes, &c->escape);
    case OPT_FAIL_GROWTH: c->has_limit = 1; return diff_size("--fail-if-growth", v, &c->growth_limit);
    case OPT_ROOTS_DIFFER: c->roots_differ = 1; return 0;
    case 'q': c->quiet = 1; return 0;
    case 'h': fputs(diff_usage_text, stdout); return -1;
    case 'V': printf("pwalk-diff %s\n", DIFF_VERSION); return -1;
    default: return diff_fail(DIFF_USAGE, "unknown option (see --help)");
    }
}

/* A directory that must exist (the temporary directory). */
static int diff_check_dir(const char *opt, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return diff_fail(DIFF_USAGE, "%s '%s': %s", opt, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return diff_fail(DIFF_USAGE, "%s '%s': not a directory", opt, dir);
    return 0;
}

/* -o DIR: a directory, or missing with an existing parent. */
static int diff_check_out(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0 : diff_fail(DIFF_USAGE, "-o '%s': not a directory", dir);
    if (errno != ENOENT)
        return diff_fail(DIFF_USAGE, "-o '%s': %s", dir, strerror(errno));
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", dir);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/')
        parent[--n] = '\0';
    char *slash = strrchr(parent, '/');
    if (!slash)
        return 0;
    if (slash == parent)
        slash[1] = '\0';
    else
        *slash = '\0';
    return diff_check_dir("-o: the parent directory", parent);
}

static int diff_parse(diff_cli *c, int argc, char **argv)
{
    const char *env = getenv("TMPDIR");
    *c = (diff_cli){.match = MATCH_AUTO, .depth = 3, .memory = 1ULL << 30,
                    .tmpdir = env && *env ? env : "/tmp", .threads = diff_cpus()};
    int opt, rc;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":o:qhV", diff_options, NULL)) != -1) {
        if (opt == '?')
            return diff_fail(DIFF_USAGE, "unknown option '%s' (see --help)", argv[optind - 1]);
        if (opt == ':')
            return diff_fail(DIFF_USAGE, "option '%s' needs a value", argv[optind - 1]);
        if ((rc = diff_option(c, opt, optarg)) != 0)
            return rc;
    }
    if (argc - optind != 2)
        return diff_fail(DIFF_USAGE, "two reports are needed, OLD and NEW (see --help)");
    c->old_path = argv[optind];
    c->new_path = argv[optind + 1];
    if (c->memory < (16ULL << 20))
        return diff_fail(DIFF_USAGE, "--memory: at least 16M");
    if (c->memory > SIZE_MAX / 2)
        return diff_fail(DIFF_USAGE, "--memory: too large");
    if (c->threads > 64)
        c->threads = 64;
    if ((rc = diff_check_dir("--tmpdir", c->tmpdir)) != 0)
        return rc;
    return c->out_dir ? diff_check_out(c->out_dir) : 0;
}

/* ---- the phases --------------------------------------------------------------- */

typedef struct diff_run {
    const diff_cli *cli;
    dside old, nw;
    int match;
    dagg agg;
    dsort changes;              /* sorted by path, for changes.csv */
    dsort_buf change_buf;
    int keep_changes;           /* -o given: changes are sorted and written */
    char err[4096];
} diff_run;

static int diff_stopped(void)
{
    return diff_stop ? 128 + (int)diff_stop : 0;
}

/* Read both sides; sorted runs stay in memory within --memory, OLD's in
 * half of it. */
static int diff_load(diff_run *r)
{
    const diff_cli *c = r->cli;
    int by_path = r->match == DJOIN_PATH;
    dsort_cmp cmp = by_path ? djoin_cmp_path : djoin_cmp_inode;
    dsort_key key = by_path ? djoin_key_path : djoin_key_inode;
    dload_opts o = {.threads = c->threads, .memory = (size_t)c->memory,
                    .escape = c->escape, .stop = &diff_stop, .tmpdir = c->tmpdir};
    /* OLD keeps runs in memory within half of --memory (less its buffers),
     * NEW within what is left: the workers spill the rest as they go */
    size_t buffers = dload_buffers(&o), half = o.memory / 2;
    o.hold = half > buffers ? half - buffers : 0;
    int rc = dload_side(&r->old, c->old_path, cmp, key, &o, r->err, sizeof r->err);
    if (rc)
        return rc;
    o.memory = (size_t)c->memory - r->old.sort.held;
    buffers = dload_buffers(&o);
    o.hold = o.memory > buffers ? o.memory - buffers : 0;
    rc = dload_side(&r->nw, c->new_path, cmp, key, &o, r->err, sizeof r->err);
    if (rc)
        return rc;
    return diff_stopped();
}

/* The two scans must be of the same roots, unless --roots-differ. */
static int diff_check_roots(diff_run *r)
{
    const dside *a = &r->old, *b = &r->nw;
    if (r->cli->roots_differ)
        return 0;
    size_t i = 0;
    while (i < a->root_count && i < b->root_count && strcmp(a->roots[i], b->roots[i]) == 0)
        i++;
    if (i == a->root_count && i == b->root_count)
        return 0;
    if (i < a->root_count)
        return diff_fail(DIFF_USAGE, "the scans are of different roots: '%s' is a root of %s "
                         "only (--roots-differ compares them anyway)", a->roots[i],
                         a->arg);
    return diff_fail(DIFF_USAGE, "the scans are of different roots: '%s' is a root of %s only "
                     "(--roots-differ compares them anyway)", b->roots[i], b->arg);
}

/* A single-writer sorter (the re-sort by path, the changes) with half of
 * --memory: runs of at most 64 MiB, kept in memory within that half. */
static int diff_sorter(dsort *s, dsort_cmp cmp, dsort_key key, dsort_buf *b, const diff_cli *c)
{
    size_t half = (size_t)c->memory / 2, run = half < (64u << 20) ? half : (64u << 20);
    if (dsort_init_key(s, cmp, key, c->tmpdir) != 0)
        return -1;
    dsort_set_hold(s, half - run);
    return dsort_buf_init(b, s, run);
}

/* Sort a side again, by path (auto match found no st_dev in common). */
static int diff_resort(diff_run *r, dside *s)
{
    dsort by_path;
    dsort_buf b;
    if (diff_sorter(&by_path, djoin_cmp_path, djoin_key_path, &b, r->cli) != 0)
        return snprintf(r->err, sizeof r->err, "out of memory"), DIFF_FAILED;
    dsort_merge *m = dsort_merge_open(&s->sort, r->err, sizeof r->err);
    const drow *row;
    int rc = m ? 0 : DIFF_FAILED;
    while (rc == 0 && (row = dsort_merge_next(m, r->err, sizeof r->err))) {
        size_t len = sizeof *row + row->path_len;
        void *p = dsort_buf_reserve(&b, len, r->err, sizeof r->err);
        if (!p)
            rc = DIFF_FAILED;
        else {
            memcpy(p, row, len);
            dsort_buf_commit(&b, len);
        }
        if (rc == 0 && diff_stop)
            rc = diff_stopped();
    }
    if (m && dsort_merge_failed(m))
        rc = DIFF_FAILED;
    dsort_merge_close(m);
    if (rc == 0 && dsort_buf_finish(&b, 1, r->err, sizeof r->err) != 0)
        rc = DIFF_FAILED;
    if (rc != 0) {
        dsort_buf_discard(&b);
        dsort_free(&by_path);
        return rc;
    }
    dsort_free(&s->sort);
    s->sort = by_path;
    return 0;
}

static int diff_on_change(void *ctx, const dchg *c, size_t len)
{
    diff_run *r = ctx;
    if (dagg_add(&r->agg, c) != 0)
        return snprintf(r->err, sizeof r->err, "out of memory"), -1;
    if (!r->keep_changes)
        return 0;
    void *p = dsort_buf_reserve(&r->change_buf, len, r->err, sizeof r->err);
    if (!p)
        return -1;
    memcpy(p, c, len);
    dsort_buf_commit(&r->change_buf, len);
    return 0;
}

static int diff_join(diff_run *r)
{
    int rc = 0;
    /* each side merged on a thread of its own, the join on this one */
    int threaded = r->cli->threads > 1;
    dpipe *mo = dpipe_open(&r->old.sort, threaded, r->err, sizeof r->err);
    dpipe *mn = mo ? dpipe_open(&r->nw.sort, threaded, r->err, sizeof r->err) : NULL;
    if (!mn || djoin_run(mo, mn, r->match, diff_on_change, r, &diff_stop, r->err,
                         sizeof r->err) != 0)
        rc = DIFF_FAILED;
    dpipe_close(mo);
    dpipe_close(mn);
    if (rc == 0 && r->keep_changes &&
        dsort_buf_finish(&r->change_buf, 1, r->err, sizeof r->err) != 0)
        rc = DIFF_FAILED;
    return diff_stopped() ? diff_stopped() : rc;
}

/* Write every output into -o DIR and publish them (diff.json last). */
static int diff_write(diff_run *r, const dout_info *info, const dout_names *users,
                      const dout_names *groups)
{
    dout o;
    if (dout_open(&o, r->cli->out_dir, r->cli->zstd, r->err, sizeof r->err) != 0)
        return DIFF_FAILED;
    int rc = dout_headers(&o, r->err, sizeof r->err) ? DIFF_FAILED : 0;
    dsort_merge *m = rc ? NULL : dsort_merge_open(&r->changes, r->err, sizeof r->err);
    if (!m)
        rc = DIFF_FAILED;
    const dchg *c;
    while (rc == 0 && (c = dsort_merge_next(m, r->err, sizeof r->err))) {
        if (dout_change(&o, c, r->err, sizeof r->err) != 0)
            rc = DIFF_FAILED;
        else if (diff_stop)
            rc = diff_stopped();
    }
    if (m && dsort_merge_failed(m))
        rc = DIFF_FAILED;
    dsort_merge_close(m);
    if (rc == 0 && (dout_tables(&o, &r->agg, users, groups, r->err, sizeof r->err) ||
                    dout_json(&o, info, &r->agg, r->err, sizeof r->err)))
        rc = DIFF_FAILED;
    if (rc == 0 && diff_stop)
        rc = diff_stopped();
    if (rc == 0 && dout_publish(&o, r->err, sizeof r->err) != 0)
        rc = DIFF_FAILED;
    if (rc != 0)
        dout_abort(&o);
    return rc;
}

/* Outputs, the answer, and the status --fail-if-growth asks for. */
static int diff_finish(diff_run *r)
{
    dout_info info = {&r->old, &r->nw, r->match, r->cli->zstd};
    dout_names users, groups;
    int rc = 0;
    if (dout_names_get(&users, &r->agg.users, 0) || dout_names_get(&groups, &r->agg.groups, 1)) {
        snprintf(r->err, sizeof r->err, "out of memory");
        rc = DIFF_FAILED;
    }
    if (rc == 0 && r->cli->out_dir)
        rc = diff_write(r, &info, &users, &groups);
    if (rc == 0 && !r->cli->quiet) {
        dout_answer(stdout, &info, &r->agg, &users);
        if (fflush(stdout) != 0) {
            snprintf(r->err, sizeof r->err, "writing to stdout: %s", strerror(errno));
            rc = DIFF_FAILED;
        }
    }
    dout_names_free(&users);
    dout_names_free(&groups);
    int64_t net = r->agg.total.bytes_added - r->agg.total.bytes_removed;
    if (rc == 0 && r->cli->has_limit && net > 0 && (uint64_t)net > r->cli->growth_limit)
        rc = 1;
    return rc;
}

static int diff_main(diff_run *r)
{
    const diff_cli *c = r->cli;
    r->match = c->match == MATCH_AUTO ? DJOIN_INODE : c->match;
    int rc = diff_load(r);
    if (rc == 0)
        rc = diff_check_roots(r);
    if (rc == 0 && c->match == MATCH_AUTO && !dside_share_dev(&r->old, &r->nw) &&
        (r->old.rows || r->nw.rows)) {
        r->match = DJOIN_PATH;
        rc = diff_resort(r, &r->old);
        rc = rc ? rc : diff_resort(r, &r->nw);
    }
    if (rc == 0 && (r->keep_changes ? diff_sorter(&r->changes, djoin_cmp_change, djoin_key_change,
                                                  &r->change_buf, c)
                                    : dsort_init(&r->changes, djoin_cmp_change, c->tmpdir))) {
        snprintf(r->err, sizeof r->err, "out of memory");
        rc = DIFF_FAILED;
    }
    if (rc == 0)
        rc = diff_join(r);
    if (rc == 0)
        rc = diff_finish(r);
    return rc;
}

static void diff_signals(void)
{
    static const int stops[] = {SIGINT, SIGTERM, SIGHUP};
    signals_handle(diff_on_signal, stops, 3);
    signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
    diff_cli cli;
    int rc = diff_parse(&cli, argc, argv);
    if (rc)
        return rc < 0 ? 0 : rc;
    /* few malloc arenas: their address space counts against ulimit -v,
     * and the big buffers are allocated once per thread anyway */
    mallopt(M_ARENA_MAX, 2);
    diff_signals();
    diff_run *r = calloc(1, sizeof *r);
    if (!r)
        return diff_fail(DIFF_FAILED, "out of memory");
    r->cli = &cli;
    r->keep_changes = cli.out_dir != NULL;
    dagg_init(&r->agg, cli.depth);
    rc = diff_main(r);
    if (rc >= 2 && rc < 128 && r->err[0])
        diff_fail(rc, "%s", r->err);
    dsort_buf_discard(&r->change_buf);
    dsort_free(&r->changes);
    dside_free(&r->old);
    dside_free(&r->nw);
    dagg_free(&r->agg);
    free(r);
    return rc; /* 128+N after signal N, as pwalk-engine exits */
}
