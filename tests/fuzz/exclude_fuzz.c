/*
 * exclude_fuzz.c -- the `--exclude FILE` reader (read_exclude_file in
 * engine/main.c) and the exclude matching it feeds (engine/filter.c).
 *
 * read_exclude_file() is static in main.c, so this file includes main.c
 * itself (with its main() renamed): the fuzzer must exercise the real
 * parser, not a copy of it that could drift.  The file's bytes reach it
 * through a memfd, as a file would.
 *
 * Properties: no crash/leak/UB; the patterns are exactly the reference's
 * (one per line, trailing CR/LF removed, empty lines and '#' comments
 * skipped; a C string ends at a NUL byte); an exclude pattern with '/'
 * excludes the path it names; matching any path against any pattern set is
 * safe.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <unistd.h>

/* main.c defines main(); the replay test and libFuzzer bring their own. */
#define main pwalk_engine_main
#include "engine/cli/main.c"
#include "engine/scan_impl.h"
#undef main

#include "tests/fuzz/fuzz_check.h"

static int memfd = -1;

/* The reference split of the file's lines. */
static size_t ref_patterns(const char *buf, size_t size, char ***out)
{
    char **v = NULL;
    size_t n = 0;
    const char *p = buf, *end = buf + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        const char *line = p;
        p += len;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0 || line[0] == '#')
            continue;
        v = realloc(v, (n + 1) * sizeof *v);
        v[n++] = strndup(line, strnlen(line, len));
    }
    *out = v;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memfd < 0)
        memfd = memfd_create("pwalk-exclude-fuzz", 0);
    if (memfd < 0 || ftruncate(memfd, 0) != 0 ||
        (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);

    pwalk_scan *s = NULL;
    if (pwalk_scan_new(&s) != 0)
        return 0;
    cfg_pipeline p = s->p; /* a view: s owns it */
    char err[256];
    int rc = read_exclude_file(s, path, err, sizeof err);
    p = s->p;
    if (rc != 0) {
        fuzz_check_message(err, sizeof err);
        pwalk_scan_free(s);
        return 0;
    }

    char **want;
    size_t nwant = ref_patterns((const char *)data, size, &want);
    FUZZ_CHECK(p.scan.exclude_count == nwant, "%zu patterns, the reference %zu",
               p.scan.exclude_count, nwant);
    for (size_t i = 0; i < nwant; i++)
        FUZZ_CHECK(strcmp(p.scan.excludes[i], want[i]) == 0, "pattern %zu '%s', expected '%s'",
                   i, p.scan.excludes[i], want[i]);

    filter_rules r;
    memset(&r, 0, sizeof r);
    r.excludes = p.scan.excludes;
    r.exclude_count = p.scan.exclude_count;
    for (size_t i = 0; i < nwant; i++) {
        const char *pat = want[i];
        size_t n = strlen(pat);
        if (strchr(pat, '/')) {
            /* "/data/scratch/" names the path "/data/scratch" */
            while (n > 1 && pat[n - 1] == '/')
                n--;
            char *exact = strndup(pat, n);
            const char *slash = strrchr(exact, '/');
            const char *name = slash && slash[1] ? slash + 1 : exact;
            FUZZ_CHECK(filter_is_excluded(&r, exact, name),
                       "pattern '%s' does not exclude '%s'", pat, exact);
            free(exact);
        } else {
            (void)filter_is_excluded(&r, "/some/dir", pat);
        }
    }
    (void)filter_is_excluded(&r, "/", "/");
    (void)filter_is_excluded(&r, "", "");

    for (size_t i = 0; i < nwant; i++)
        free(want[i]);
    free(want);
    pwalk_scan_free(s);
    return 0;
}
