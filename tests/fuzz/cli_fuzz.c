/*
 * cli_fuzz.c -- the command line (parse_cli and apply_cli in engine/cli/main.c)
 * on any argument vector: getopt_long with unknown, repeated and missing
 * options, numbers of every shape for --threads/--depth, --set assignments.
 *
 * Like exclude_fuzz.c this includes main.c to reach its static functions.
 * Input: the arguments, separated by NUL bytes (argv strings cannot hold
 * one).  --exclude and -c name files, which are not opened here (the
 * exclude and config targets fuzz those readers).
 *
 * Properties: no crash/leak/UB; a refused command line has exit status 2;
 * an accepted one has --threads in 1..PWALK_THREADS_MAX and --depth >= 0, equal
 * to what strtol's documented syntax gives (blanks, sign, decimal digits,
 * nothing after), and applying it to the compat pipeline leaves that
 * pipeline consistent.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>

#define main pwalk_engine_main
#include "engine/cli/main.c"
#include "engine/scan_impl.h"
#undef main

#include "tests/fuzz/fuzz_check.h"

/* strtol's syntax, written out: [blanks][+-]digits, in lo..hi exactly. */
static int ref_number(const char *s, long lo, long hi, long *out)
{
    while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        s++;
    int neg = 0;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if (*s < '0' || *s > '9')
        return 0;
    while (*s == '0' && s[1] >= '0' && s[1] <= '9')
        s++;
    long v = 0;
    size_t digits = 0;
    for (; *s >= '0' && *s <= '9'; s++, digits++)
        if (digits < 12)
            v = v * 10 + (*s - '0');
    if (*s != '\0' || digits >= 12)
        return 0;
    if (neg)
        v = -v;
    if (v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

/* The value of the last -t/--threads/--maxthreads (or -d/--depth) option
 * in argv as getopt_long sees it: short forms may be glued ("-t4"), long
 * ones may use '=' or be abbreviated; only the plain spellings are checked
 * here, the rest are only required not to break the invariants. */
static const char *last_value(int argc, char **argv, char s, const char *const *longs)
{
    const char *v = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        int is = argv[i][0] == '-' && argv[i][1] == s && argv[i][2] == '\0';
        for (const char *const *l = longs; *l; l++)
            is |= strcmp(argv[i], *l) == 0;
        if (is && i + 1 < argc)
            v = argv[++i];
    }
    return v;
}

static int plain_spellings_only(int argc, char **argv)
{
    /* any other argument that starts with '-' could be a glued or
     * abbreviated form of the options checked, or take the next argument
     * as its value: then the reference does not know which value counts */
    static const char *const plain[] = {"-t", "--threads", "--maxthreads", "-d", "--depth"};
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-')
            continue;
        int known = 0;
        for (size_t k = 0; k < sizeof plain / sizeof plain[0]; k++)
            if (strcmp(argv[i], plain[k]) == 0)
                known = 1;
        if (!known)
            return 0;
        i++; /* its value */
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* argv from the NUL-separated input, argv[0] first */
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    int argc = 1;
    for (size_t i = 0; i < size; i++)
        argc += buf[i] == '\0';
    argc++;
    char **argv = calloc((size_t)argc + 1, sizeof *argv);
    argv[0] = "pwalk-engine";
    int k = 1;
    for (char *p = buf; k < argc; k++) {
        argv[k] = p;
        p += strlen(p) + 1;
    }
    argv[argc] = NULL;

    /* usage messages and --help go to /dev/null, not the fuzzer's log */
    static int devnull = -1;
    if (devnull < 0)
        devnull = open("/dev/null", O_WRONLY);
    int saved_out = dup(1), saved_err = dup(2);
    fflush(stdout);
    fflush(stderr);
    dup2(devnull, 1);
    dup2(devnull, 2);

    cli c;
    memset(&c, 0, sizeof c);
    c.depth = -1;
    int exit_now = -1;
    optind = 0; /* GNU getopt: start over */
    int rc = parse_cli(argc, argv, &c, &exit_now);

    pwalk_scan *s = NULL;
    int applied = -1, built = 0;
    char err[2048];
    err[0] = '\0';
    if (rc == 0 && exit_now < 0 && !c.exclude_file) {
        built = 1;
        applied = build_compat_scan(&s, &c, err, sizeof err);
        if (applied == 0)
            applied = apply_cli(s, &c, argv + optind, (size_t)(argc - optind), err, sizeof err);
    }
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);

    FUZZ_CHECK(rc == 0 || rc == EXIT_USAGE, "parse_cli returned %d", rc);
    if (rc == 0 && exit_now < 0) {
        FUZZ_CHECK(c.threads == 0 || (c.threads >= 1 && c.threads <= PWALK_THREADS_MAX),
                   "threads %ld accepted", c.threads);
        FUZZ_CHECK(c.depth >= -1, "depth %ld accepted", c.depth);
    }
    if (plain_spellings_only(argc, argv)) {
        static const char *const tl[] = {"--threads", "--maxthreads", NULL};
        static const char *const dl[] = {"--depth", NULL};
        const char *tv = last_value(argc, argv, 't', tl);
        const char *dv = last_value(argc, argv, 'd', dl);
        long want;
        if (rc == 0 && exit_now < 0) {
            if (tv)
                FUZZ_CHECK(ref_number(tv, 1, PWALK_THREADS_MAX, &want) && want == c.threads,
                           "--threads '%s' gave %ld", tv, c.threads);
            if (dv)
                FUZZ_CHECK(ref_number(dv, 0, INT_MAX, &want) && want == c.depth,
                           "--depth '%s' gave %ld", dv, c.depth);
        }
    }
    if (built && s) {
        const cfg_pipeline p = s->p;
        if (applied != 0)
            fuzz_check_message(err, sizeof err);
        else {
            FUZZ_CHECK(p.scan.threads >= 0 && p.scan.threads <= PWALK_THREADS_MAX, "threads %d",
                       p.scan.threads);
            FUZZ_CHECK(p.scan.max_depth >= 0, "max_depth %d", p.scan.max_depth);
            FUZZ_CHECK(p.sink_count == 1, "%zu sinks", p.sink_count);
        }
        pwalk_scan_free(s);
    }
    free(c.sets);
    free(argv);
    free(buf);
    return 0;
}
