/*
 * embed.c -- an embedding program, as a site would write one, built by
 * install_test.sh against an installed prefix alone:
 *
 *     cc -o embed embed.c $(pkg-config --cflags --libs pwalk)
 *
 *     embed ROOT CSV [PLUGINDIR]
 *                           scan ROOT with a pipeline given as a YAML
 *                           string, one csv sink writing CSV; PLUGINDIR
 *                           is added to the plugin path (linked with
 *                           libpwalk.a, the library is part of this
 *                           program and looks beside it only)
 *
 * It prints what the test checks, one "key: value" per line: the library's
 * version, the file the csv plugin was loaded from (the installed library
 * finds PREFIX/lib/pwalk/plugins relative to itself, this program living
 * elsewhere), the status, entries and the csv sink's rows.  Exit status:
 * the scan's (pwalk_scan_run()), or 2 when the handle cannot be built.
 */
#include <pwalk/pwalk.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Names the library uses inside (walk.c, config.c, common/lossless.c): if
 * libpwalk.so exported them, these definitions in the executable would take
 * their place in the library's own calls and the scan would abort here.
 * The version script (engine/libpwalk.lds) keeps them private. */
void walk_execute(void);
void cfg_free(void);
void lossless_escape(void);
void walk_execute(void) { fputs("embed: walk_execute interposed\n", stderr); abort(); }
void cfg_free(void) { fputs("embed: cfg_free interposed\n", stderr); abort(); }
void lossless_escape(void) { fputs("embed: lossless_escape interposed\n", stderr); abort(); }

static void embed_log(void *ctx, int level, const char *line)
{
    (void)ctx;
    fprintf(stderr, "embed: log %d: %s\n", level, line);
}

/* The "file:" line of the csv plugin's description: where it came from. */
static void embed_print_plugin_file(const pwalk_scan *s)
{
    char err[512];
    char *desc = pwalk_scan_describe(s, "csv", err, sizeof err);
    if (!desc) {
        printf("csv-plugin: none (%s)\n", err);
        return;
    }
    for (char *line = strtok(desc, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "file:", 5) == 0) {
            const char *p = line + 5;
            p += strspn(p, " ");
            printf("csv-plugin: %s\n", p);
        }
    }
    pwalk_free(desc);
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: embed ROOT CSV [PLUGINDIR]\n");
        return 2;
    }
    char yaml[8192];
    int n = snprintf(yaml, sizeof yaml,
                     "version: 1\n"
                     "scan:\n"
                     "  roots: ['%s']\n"
                     "  threads: 2\n"
                     "sinks:\n"
                     "  - name: report\n"
                     "    plugin: csv\n"
                     "    options: {path: '%s'}\n",
                     argv[1], argv[2]);
    if (n < 0 || (size_t)n >= sizeof yaml || strchr(argv[1], '\'') || strchr(argv[2], '\'')) {
        fprintf(stderr, "embed: paths too long or quoted\n");
        return 2;
    }
    printf("version: %s %s\n", pwalk_version(),
           pwalk_version_number() == PWALK_VERSION_NUMBER ? "matches" : "differs");

    char err[512];
    pwalk_scan *s = NULL;
    if (pwalk_scan_from_string(&s, yaml, (size_t)n, "<embed>", err, sizeof err) != 0) {
        fprintf(stderr, "embed: %s\n", err);
        return 2;
    }
    pwalk_callbacks cb = {.struct_size = sizeof cb, .on_log = embed_log};
    pwalk_scan_set_callbacks(s, &cb);
    if (argc == 4 && pwalk_scan_add_plugin_dir(s, argv[3]) != 0) {
        fprintf(stderr, "embed: out of memory\n");
        return 2;
    }
    embed_print_plugin_file(s);

    int status = pwalk_scan_run(s);
    printf("status: %d\n", status);
    printf("entries: %llu\n", (unsigned long long)pwalk_scan_counter(s, PWALK_COUNT_ENTRIES));
    printf("rows: %llu\n", (unsigned long long)pwalk_scan_sink_rows(s, 0));
    if (status != 0)
        fprintf(stderr, "embed: %s\n", pwalk_scan_message(s));
    pwalk_scan_free(s);
    return status;
}
