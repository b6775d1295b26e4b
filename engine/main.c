/*
 * main.c -- the pwalk-engine command line.
 *
 *   pwalk-engine -c PIPELINE.yaml [PATH ...]     run a pipeline
 *   pwalk-engine [pwalk options] PATH ...        pwalk-compatible CSV on stdout
 *
 * Exit status: 0 complete (entries that vanished mid-scan are counted, not
 * errors); 1 complete, but some entries could not be read (or, --strict,
 * vanished); 2 bad usage, configuration or sink options (nothing written);
 * 3 the scan or an output failed (no output published); 128+N stopped by
 * signal N.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "pipeline.h"
#include "sinks.h"
#include "threads.h"
#include "walk.h"

#ifndef PWALK_VERSION
#define PWALK_VERSION "0.1.0"
#endif

#define EXIT_USAGE PIPELINE_USAGE

static const char usage_text[] =
    "Usage: pwalk-engine -c PIPELINE.yaml [OPTIONS] [PATH ...]\n"
    "       pwalk-engine [--header] [--NoSnap] [-x] [--depth N] [--exclude FILE]\n"
    "                    [--threads N] PATH ...\n"
    "\n"
    "Walks the trees under PATH with a pool of threads and hands every entry to the\n"
    "sinks of a pipeline (see configs/).  Without -c it writes John Dey's pwalk CSV\n"
    "to stdout (escape: dey, no header), as pwalk did.\n"
    "\n"
    "  -c, --config FILE       run the pipeline in FILE; PATHs replace scan.roots\n"
    "      --set SINK.KEY=VAL  set a sink option (or scan.KEY=VAL); repeatable\n"
    "  -t, --threads N         worker threads (default: SLURM allocation, else the\n"
    "                          CPUs this process may use)\n"
    "      --maxthreads N      the same (pwalk's name)\n"
    "  -d, --depth N           read directories down to N levels below a root, as\n"
    "                          pwalk's --depth N (0 = no limit)\n"
    "      --exclude FILE      leave out the paths/globs listed in FILE, one per line\n"
    "      --header            write the CSV header line (compatibility mode)\n"
    "      --NoSnap            skip .snapshot directories (compatibility mode; a\n"
    "                          pipeline skips them unless skip_snapshots: false)\n"
    "  -x, --one-file-system   stay on each root's filesystem\n"
    "      --errors FILE       write entries that could not be read to FILE (CSV)\n"
    "      --strict            entries that vanished during the scan make the exit\n"
    "                          status 1, like entries that could not be read\n"
    "  -q, --quiet             no progress line; no summary unless something failed\n"
    "      --describe PLUGIN   print a plugin's description and options\n"
    "  -h, --help              this text\n"
    "  -V, --version           the version\n"
    "\n"
    "Exit status: 0 complete (entries that vanished during the scan are counted,\n"
    "not errors); 1 complete but some entries could not be read (or, with\n"
    "--strict, vanished); 2 bad usage or configuration, nothing written; 3 the\n"
    "scan or an output failed, no output published; 128+N stopped by signal N\n"
    "(outputs not published).\n";

enum {
    OPT_SET = 256,
    OPT_HEADER,
    OPT_NOSNAP,
    OPT_EXCLUDE,
    OPT_ERRORS,
    OPT_DESCRIBE,
    OPT_STRICT,
};

static const struct option long_options[] = {
    {"config", required_argument, NULL, 'c'},
    {"set", required_argument, NULL, OPT_SET},
    {"threads", required_argument, NULL, 't'},
    {"maxthreads", required_argument, NULL, 't'},
    {"depth", required_argument, NULL, 'd'},
    {"exclude", required_argument, NULL, OPT_EXCLUDE},
    {"header", no_argument, NULL, OPT_HEADER},
    {"NoSnap", no_argument, NULL, OPT_NOSNAP},
    {"one-file-system", no_argument, NULL, 'x'},
    {"errors", required_argument, NULL, OPT_ERRORS},
    {"quiet", no_argument, NULL, 'q'},
    {"describe", required_argument, NULL, OPT_DESCRIBE},
    {"strict", no_argument, NULL, OPT_STRICT},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

typedef struct cli {
    const char *config;
    char **sets;
    size_t set_count;
    long threads;       /* 0 = not given */
    long depth;         /* -1 = not given */
    const char *exclude_file;
    int header;
    int nosnap;
    int one_fs;
    const char *errors;
    int quiet;
    const char *describe;
    int strict;
} cli;

static void on_stop_signal(int sig) { pipeline_signal(sig); }

/* Messages quote names from the command line and the pipeline, which may
 * hold any byte: control bytes are shown as \xHH so a message stays one
 * line and cannot drive the terminal. */
static void print_message(const char *msg)
{
    fputs("pwalk-engine: ", stderr);
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            fprintf(stderr, "\\x%02x", *p);
        else
            fputc(*p, stderr);
    }
    fputc('\n', stderr);
}

static int fail_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail_usage(const char *fmt, ...)
{
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    print_message(msg);
    return EXIT_USAGE;
}

/* A whole decimal number in [lo, hi], or -1. */
static int parse_number(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* pwalk's exclude file: one path or glob per line; blank lines and lines
 * starting with '#' are ignored. */
static int read_exclude_file(cfg_pipeline *p, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        char **grown = realloc(p->scan.excludes, (p->scan.exclude_count + 1) * sizeof *grown);
        char *copy = strdup(line);
        if (!grown || !copy) {
            free(copy);
            if (grown)
                p->scan.excludes = grown;
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
        p->scan.excludes = grown;
        p->scan.excludes[p->scan.exclude_count++] = copy;
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
}

static int build_compat_pipeline(cfg_pipeline *p, const cli *c, char *err, size_t errlen)
{
    cfg_init_defaults(p);
    char *source = strdup("<command line>");
    if (source) {
        free(p->source);
        p->source = source;
    }
    p->scan.skip_snapshots = c->nosnap;
    cfg_sink *s = cfg_add_sink(p, "csv", "csv");
    if (!source || !s || cfg_sink_set(s, "path", "-") ||
        cfg_sink_set(s, "header", c->header ? "true" : "false") ||
        cfg_sink_set(s, "escape", "dey")) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int parse_cli(int argc, char **argv, cli *c, int *exit_now)
{
    int opt;
    *exit_now = -1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":c:t:d:xqhV", long_options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            c->config = optarg;
            break;
        case OPT_SET: {
            char **grown = realloc(c->sets, (c->set_count + 1) * sizeof *grown);
            if (!grown)
                return fail_usage("out of memory");
            c->sets = grown;
            c->sets[c->set_count++] = optarg;
            break;
        }
        case 't':
            if (parse_number(optarg, 1, THREADS_MAX, &c->threads))
                return fail_usage("--threads: '%s' is not a number from 1 to %d", optarg,
                                  THREADS_MAX);
            break;
        case 'd':
            if (parse_number(optarg, 0, INT_MAX, &c->depth))
                return fail_usage("--depth: '%s' is not a number >= 0", optarg);
            break;
        case OPT_EXCLUDE:
            c->exclude_file = optarg;
            break;
        case OPT_HEADER:
            c->header = 1;
            break;
        case OPT_NOSNAP:
            c->nosnap = 1;
            break;
        case 'x':
            c->one_fs = 1;
            break;
        case OPT_ERRORS:
            c->errors = optarg;
            break;
        case 'q':
            c->quiet = 1;
            break;
        case OPT_DESCRIBE:
            c->describe = optarg;
            break;
        case OPT_STRICT:
            c->strict = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            *exit_now = 0;
            return 0;
        case 'V':
            printf("pwalk-engine %s (plugin ABI %d.%d)\n", PWALK_VERSION, PWALK_ABI_MAJOR,
                   PWALK_ABI_MINOR);
            *exit_now = 0;
            return 0;
        case ':':
            return fail_usage("option '%s' needs a value (see --help)", argv[optind - 1]);
        default:
            return fail_usage("unknown option '%s' (see --help)", argv[optind - 1]);
        }
    }
    return 0;
}

/* Everything from the command line that changes the pipeline. */
static int apply_cli(cfg_pipeline *p, const cli *c, char **roots, size_t root_count, char *err,
                     size_t errlen)
{
    for (size_t i = 0; i < c->set_count; i++)
        if (cfg_apply_set(p, c->sets[i], err, errlen) != 0)
            return -1;
    if (root_count && cfg_set_roots(p, roots, root_count) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (c->threads)
        p->scan.threads = (int)c->threads;
    if (c->depth >= 0)
        p->scan.max_depth = (int)c->depth;
    if (c->one_fs)
        p->scan.one_file_system = 1;
    if (c->strict)
        p->scan.strict = 1;
    if (c->nosnap)
        p->scan.skip_snapshots = 1;
    if (c->errors) {
        free(p->scan.errors_path);
        p->scan.errors_path = strdup(c->errors);
        if (!p->scan.errors_path) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    if (c->exclude_file && read_exclude_file(p, c->exclude_file, err, errlen) != 0)
        return -1;
    return 0;
}

static int describe(const cli *c)
{
    char err[2048];
    cfg_pipeline p;
    if (!c->config)
        cfg_init_defaults(&p);
    else if (cfg_load_file(c->config, &p, err, sizeof err) != 0) {
        cfg_free(&p);
        return fail_usage("%s", err);
    }
    int rc = sinks_describe(c->describe, p.plugin_path, p.plugin_path_count, err, sizeof err);
    cfg_free(&p);
    return rc ? fail_usage("%s", err) : 0;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    /* a closed stdout is a write error of the csv sink (exit 3), not a
     * silent death */
    signal(SIGPIPE, SIG_IGN);
}

static int run(cfg_pipeline *p, const cli *c)
{
    pipeline_run_options o;
    memset(&o, 0, sizeof o);
    /* pwalk's command line in a cron job or script: pwalk wrote nothing on
     * stderr when all went well, so neither does compatibility mode (the
     * summary still comes when something went wrong, and on a terminal) */
    int tty = isatty(STDERR_FILENO);
    o.quiet = c->quiet || (!c->config && !tty);
    o.progress = !c->quiet && tty;
    pipeline_result r;
    int status = pipeline_run(p, &o, &r);
    if (r.message[0])
        print_message(r.message);
    return status;
}

int main(int argc, char **argv)
{
    /* first: a signal during set-up must also end in a clean exit */
    install_signals();
    cli c;
    memset(&c, 0, sizeof c);
    c.depth = -1;
    int exit_now;
    if (parse_cli(argc, argv, &c, &exit_now) != 0) {
        free(c.sets);
        fputs("Try 'pwalk-engine --help'.\n", stderr);
        return EXIT_USAGE;
    }
    if (exit_now >= 0) {
        free(c.sets);
        return exit_now;
    }
    if (c.describe) {
        int rc = describe(&c);
        free(c.sets);
        return rc;
    }

    char err[2048];
    cfg_pipeline p;
    int rc;
    if (c.config && c.header) {
        /* a pipeline can hold several sinks, or none that has a header:
         * guessing which one --header meant would be wrong half the time */
        free(c.sets);
        return fail_usage("--header is pwalk's option (no -c); with -c, set the sink's "
                          "option: --set SINK.header=true");
    }
    if (c.config)
        rc = cfg_load_file(c.config, &p, err, sizeof err);
    else
        rc = build_compat_pipeline(&p, &c, err, sizeof err);
    if (rc == 0)
        rc = apply_cli(&p, &c, argv + optind, (size_t)(argc - optind), err, sizeof err);
    if (rc != 0) {
        cfg_free(&p);
        free(c.sets);
        return fail_usage("%s", err);
    }

    int status = run(&p, &c);
    cfg_free(&p);
    free(c.sets);
    return status;
}
