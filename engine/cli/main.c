/*
 * cli/main.c -- the pwalk-engine command line: a driver of libpwalk that
 * includes only the public headers (pwalk/pwalk.h; pwalk/plugin.h for the
 * ABI version it prints) and neutral common/ code (human.h, the summary's
 * number format for the progress line).  It draws the progress line and prints the
 * summary and messages; the library writes nothing itself.
 *
 *   pwalk-engine -c PIPELINE.yaml [PATH ...]     run a pipeline
 *   pwalk-engine [pwalk options] PATH ...        pwalk-compatible CSV on stdout
 *
 * Exit status: 0 complete (entries that vanished mid-scan are counted, not
 * errors); 1 complete, but some entries could not be read (or, --strict,
 * vanished); 2 bad usage, configuration or sink options (nothing written);
 * 3 the scan or an output failed (no output published); 75 suspended at a
 * checkpoint (SIGUSR1 or --time-limit: nothing published yet, resumable with
 * --resume); 128+N stopped by signal N.
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

#include "common/human.h"
#include "common/oneline.h"
#include "common/signals.h"
#include "pwalk/plugin.h"
#include "pwalk/pwalk.h"

#define PWALK_VERSION PWALK_VERSION_STRING
#define EXIT_USAGE PWALK_USAGE

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
    "      --max-ops N         at most N metadata operations per second (stat,\n"
    "                          open, getdents), spread evenly (scan.max_ops)\n"
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
    "      --checkpoint FILE   keep a journal in FILE so that the scan can be\n"
    "                          resumed (scan.checkpoint); SIGUSR1 then suspends it\n"
    "      --checkpoint-every DURATION\n"
    "                          checkpoint this often (default 5m; scan.checkpoint_every)\n"
    "      --time-limit DURATION\n"
    "                          suspend at a checkpoint after DURATION, e.g. 3h50m or\n"
    "                          03:50:00 (scan.time_limit)\n"
    "      --resume FILE       continue the scan FILE's journal describes (same\n"
    "                          pipeline and PATHs), checkpointing into FILE again\n"
    "  -q, --quiet             no progress line; no summary unless something failed\n"
    "      --describe PLUGIN   print a plugin's description and options\n"
    "  -h, --help              this text\n"
    "  -V, --version           the version\n"
    "\n"
    "Exit status: 0 complete (entries that vanished during the scan are counted,\n"
    "not errors); 1 complete but some entries could not be read (or, with\n"
    "--strict, vanished); 2 bad usage or configuration, nothing written; 3 the\n"
    "scan or an output failed, no output published; 75 suspended at a checkpoint,\n"
    "nothing published yet (continue with --resume); 128+N stopped by signal N\n"
    "(outputs not published).\n";

enum {
    OPT_SET = 256,
    OPT_HEADER,
    OPT_NOSNAP,
    OPT_EXCLUDE,
    OPT_ERRORS,
    OPT_DESCRIBE,
    OPT_STRICT,
    OPT_MAX_OPS,
    OPT_CHECKPOINT,
    OPT_CHECKPOINT_EVERY,
    OPT_TIME_LIMIT,
    OPT_RESUME,
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
    {"max-ops", required_argument, NULL, OPT_MAX_OPS},
    {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
    {"checkpoint-every", required_argument, NULL, OPT_CHECKPOINT_EVERY},
    {"time-limit", required_argument, NULL, OPT_TIME_LIMIT},
    {"resume", required_argument, NULL, OPT_RESUME},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

typedef struct cli {
    const char *config;
    char **sets;
    size_t set_count;
    long threads;       /* 0 = not given */
    const char *max_ops; /* NULL = not given (checked by the library) */
    long depth;         /* -1 = not given */
    const char *exclude_file;
    int header;
    int nosnap;
    int one_fs;
    const char *errors;
    int quiet;
    const char *describe;
    int strict;
    const char *checkpoint;         /* NULL = not given */
    const char *checkpoint_every;   /* checked by the library */
    const char *time_limit;
    const char *resume;
} cli;

/* The scan a signal stops, once there is one; a signal before that is
 * kept in cli_pending and passed on when the scan exists (a Ctrl-C during
 * set-up still ends in a clean exit).  A program's own state, not the
 * library's: the handler is the only writer besides main(). */
static pwalk_scan *volatile cli_scan;
static volatile sig_atomic_t cli_pending;
static volatile sig_atomic_t cli_pending_suspend;

static void on_stop_signal(int sig)
{
    pwalk_scan *s = cli_scan;
    if (s)
        pwalk_scan_stop(s, sig);
    else
        cli_pending = sig;
}

/* SIGUSR1 (SLURM's --signal=B:USR1@120): checkpoint and exit 75; without
 * a journal the library makes it a stop (128+10). */
static void on_suspend_signal(int sig)
{
    (void)sig;
    pwalk_scan *s = cli_scan;
    if (s)
        pwalk_scan_suspend(s);
    else
        cli_pending_suspend = 1;
}

/* Messages quote names from the command line and the pipeline, which may
 * hold any byte.  Those built here quote arguments with oneline_show(), as
 * the library does, because embedders (the fuzz target among them) read
 * them from err; this printing is the last guard. */
static void print_message(const char *msg) { oneline_print(stderr, "pwalk-engine", msg); }

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
static int read_exclude_file(pwalk_scan *s, const char *path, char *err, size_t errlen)
{
    char shown[1024];
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", oneline_show(shown, sizeof shown, path), strerror(errno));
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
        if (pwalk_scan_add_exclude(s, line) != 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "%s: %s", oneline_show(shown, sizeof shown, path), strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
}

/* pwalk's output: one csv sink writing Dey-escaped rows to stdout. */
static int build_compat_scan(pwalk_scan **out, const cli *c, char *err, size_t errlen)
{
    if (pwalk_scan_new(out) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pwalk_scan *s = *out;
    if (pwalk_scan_add_sink(s, "csv", "csv", err, errlen) != 0 ||
        pwalk_scan_set(s, c->nosnap ? "scan.skip_snapshots=true" : "scan.skip_snapshots=false",
                       err, errlen) != 0 ||
        pwalk_scan_set(s, "csv.path=-", err, errlen) != 0 ||
        pwalk_scan_set(s, c->header ? "csv.header=true" : "csv.header=false", err, errlen) !=
            0 ||
        pwalk_scan_set(s, "csv.escape=dey", err, errlen) != 0)
        return -1;
    return 0;
}

/* --checkpoint, --resume, --checkpoint-every, --time-limit (durations are
 * checked by the library, in apply_checkpoint). */
static int parse_checkpoint_option(cli *c, int opt, const char *arg)
{
    if ((opt == OPT_CHECKPOINT || opt == OPT_RESUME) && !arg[0])
        return fail_usage("%s: empty file name",
                          opt == OPT_CHECKPOINT ? "--checkpoint" : "--resume");
    if (opt == OPT_CHECKPOINT)
        c->checkpoint = arg;
    else if (opt == OPT_RESUME)
        c->resume = arg;
    else if (opt == OPT_CHECKPOINT_EVERY)
        c->checkpoint_every = arg;
    else
        c->time_limit = arg;
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
            if (parse_number(optarg, 1, PWALK_THREADS_MAX, &c->threads))
                return fail_usage("--threads: '%s' is not a number from 1 to %d", optarg,
                                  PWALK_THREADS_MAX);
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
        case OPT_MAX_OPS:
            c->max_ops = optarg;
            break;
        case OPT_CHECKPOINT:
        case OPT_RESUME:
        case OPT_CHECKPOINT_EVERY:
        case OPT_TIME_LIMIT:
            if (parse_checkpoint_option(c, opt, optarg) != 0)
                return EXIT_USAGE;
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

/* A scan setting from a command-line option ("max_depth", "7"). */
static int set_scan(pwalk_scan *s, const char *key, const char *value, char *err, size_t errlen)
{
    return pwalk_scan_set_value(s, "scan", 4, key, strlen(key), value, strlen(value), err,
                                errlen);
}

/* A duration option: the library checks the value; the message names the
 * option as it was given rather than the scan key behind it. */
static int set_duration(pwalk_scan *s, const char *option, const char *key, const char *value,
                        char *err, size_t errlen)
{
    char shown[256];
    if (set_scan(s, key, value, err, errlen) == 0)
        return 0;
    if (strcmp(err, "out of memory") != 0)
        snprintf(err, errlen,
                 "%s: '%s' is not a duration above zero, such as 90s, 5m, 3h50m, 1d12h, "
                 "500ms or [D-]HH:MM:SS",
                 option, oneline_show(shown, sizeof shown, value));
    return -1;
}

/* --checkpoint, --checkpoint-every, --time-limit, --resume. */
static int apply_checkpoint(pwalk_scan *s, const cli *c, char *err, size_t errlen)
{
    if (c->checkpoint && c->resume && strcmp(c->checkpoint, c->resume) != 0) {
        /* a resumed scan checkpoints into the journal it continues */
        char ckpt[900], resume[900];
        snprintf(err, errlen,
                 "--checkpoint '%s' and --resume '%s': a resumed scan keeps its "
                 "journal; leave --checkpoint out",
                 oneline_show(ckpt, sizeof ckpt, c->checkpoint),
                 oneline_show(resume, sizeof resume, c->resume));
        return -1;
    }
    if ((c->checkpoint && set_scan(s, "checkpoint", c->checkpoint, err, errlen) != 0) ||
        (c->checkpoint_every && set_duration(s, "--checkpoint-every", "checkpoint_every",
                                             c->checkpoint_every, err, errlen) != 0) ||
        (c->time_limit &&
         set_duration(s, "--time-limit", "time_limit", c->time_limit, err, errlen) != 0))
        return -1;
    if (c->resume && pwalk_scan_resume(s, &c->resume, 1, err, errlen) != 0)
        return -1;
    return 0;
}

/* Everything from the command line that changes the pipeline. */
static int apply_cli(pwalk_scan *s, const cli *c, char **roots, size_t root_count, char *err,
                     size_t errlen)
{
    char num[32];
    for (size_t i = 0; i < c->set_count; i++)
        if (pwalk_scan_set(s, c->sets[i], err, errlen) != 0)
            return -1;
    if (root_count && pwalk_scan_set_roots(s, (const char *const *)roots, root_count) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (c->threads && (snprintf(num, sizeof num, "%ld", c->threads),
                       set_scan(s, "threads", num, err, errlen) != 0))
        return -1;
    if (c->depth >= 0 && (snprintf(num, sizeof num, "%ld", c->depth),
                          set_scan(s, "max_depth", num, err, errlen) != 0))
        return -1;
    if ((c->one_fs && set_scan(s, "one_file_system", "true", err, errlen) != 0) ||
        (c->strict && set_scan(s, "strict", "true", err, errlen) != 0) ||
        (c->nosnap && set_scan(s, "skip_snapshots", "true", err, errlen) != 0) ||
        (c->errors && set_scan(s, "errors", c->errors, err, errlen) != 0) ||
        (c->max_ops && set_scan(s, "max_ops", c->max_ops, err, errlen) != 0))
        return -1;
    if (c->exclude_file && read_exclude_file(s, c->exclude_file, err, errlen) != 0)
        return -1;
    return apply_checkpoint(s, c, err, errlen);
}

static int describe(const cli *c)
{
    char err[2048];
    pwalk_scan *s = NULL;
    int rc = c->config ? pwalk_scan_from_file(&s, c->config, err, sizeof err) : pwalk_scan_new(&s);
    if (rc != 0)
        return fail_usage("%s", s || c->config ? err : "out of memory");
    char *text = pwalk_scan_describe(s, c->describe, err, sizeof err);
    pwalk_scan_free(s);
    if (!text)
        return fail_usage("%s", err);
    fputs(text, stdout);
    pwalk_free(text);
    return 0;
}

static void install_signals(void)
{
    static const int stops[] = {SIGINT, SIGTERM, SIGHUP}, suspends[] = {SIGUSR1};
    signals_handle(on_stop_signal, stops, 3);
    signals_handle(on_suspend_signal, suspends, 1);
    /* a closed stdout is a write error of the csv sink (exit 3), not a
     * silent death */
    signal(SIGPIPE, SIG_IGN);
}

/* The live progress line on a terminal (on_progress: the thread running
 * the scan, i.e. main's). */
static void draw_progress(void *ctx, const pwalk_progress *p)
{
    int *drawn = ctx;
    char entries[32], rate[32];
    /* short numbers, as in the summary: the line must fit a terminal */
    human_number(entries, sizeof entries, (double)p->entries);
    human_number(rate, sizeof rate, p->seconds > 0 ? (double)p->entries / p->seconds : 0);
    fprintf(stderr, "\rpwalk: %s entries, %s/s, %llu queued, %llu errors, %u threads\033[K",
            entries, rate, (unsigned long long)p->queued, (unsigned long long)p->errors,
            p->threads);
    fflush(stderr);
    *drawn = 1;
}

/* A sink's log line (any worker thread; one fprintf is one locked write). */
static void print_log(void *ctx, int level, const char *line)
{
    (void)ctx;
    (void)level;
    fprintf(stderr, "pwalk: %s\n", line);
}

static int run(pwalk_scan *s, const cli *c)
{
    /* pwalk's command line in a cron job or script: pwalk wrote nothing on
     * stderr when all went well, so neither does compatibility mode (the
     * summary still comes when something went wrong, and on a terminal) */
    int tty = isatty(STDERR_FILENO);
    int quiet = c->quiet || (!c->config && !tty);
    int drawn = 0;
    pwalk_callbacks cb = {
        .struct_size = sizeof cb,
        .ctx = &drawn,
        .on_progress = !c->quiet && tty ? draw_progress : NULL,
        .on_log = print_log,
    };
    pwalk_scan_set_callbacks(s, &cb);
    int status = pwalk_scan_run(s);
    if (drawn)
        fputs("\r\033[K", stderr);
    if (!quiet || status != PWALK_OK)
        fputs(pwalk_scan_summary(s), stderr);
    if (pwalk_scan_message(s)[0])
        print_message(pwalk_scan_message(s));
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
    pwalk_scan *s = NULL;
    int rc;
    if (c.config && c.header) {
        /* a pipeline can hold several sinks, or none that has a header:
         * guessing which one --header meant would be wrong half the time */
        free(c.sets);
        return fail_usage("--header is pwalk's option (no -c); with -c, set the sink's "
                          "option: --set SINK.header=true");
    }
    if (!c.config && (c.checkpoint || c.resume)) {
        /* found here, not at the first checkpoint minutes into the scan */
        free(c.sets);
        return fail_usage("%s needs -c PIPELINE with a file output: pwalk's CSV goes to "
                          "standard output, which another run cannot continue",
                          c.checkpoint ? "--checkpoint" : "--resume");
    }
    if (c.config)
        rc = pwalk_scan_from_file(&s, c.config, err, sizeof err);
    else
        rc = build_compat_scan(&s, &c, err, sizeof err);
    if (rc == 0)
        rc = apply_cli(s, &c, argv + optind, (size_t)(argc - optind), err, sizeof err);
    if (rc != 0) {
        pwalk_scan_free(s);
        free(c.sets);
        return fail_usage("%s", err);
    }

    cli_scan = s;
    if (cli_pending)
        pwalk_scan_stop(s, cli_pending);
    if (cli_pending_suspend)
        pwalk_scan_suspend(s);
    int status = run(s, &c);
    cli_scan = NULL;
    pwalk_scan_free(s);
    free(c.sets);
    return status;
}
