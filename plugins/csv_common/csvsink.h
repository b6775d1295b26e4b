/*
 * csvsink.h -- the body shared by the compressing csv plugins (csv-zstd,
 * csv-gzip, csv-lz4): per-worker row buffers, each full buffer compressed by
 * its worker into one frame and appended to the shared output file, which
 * is renamed into place only when the scan completed.
 *
 * A plugin is its option table, a csvsink_kind, and thin callbacks that
 * forward here (see plugins/csv-zstd/csv-zstd.c).
 */
#ifndef PWALK_CSVSINK_H
#define PWALK_CSVSINK_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "pwalk/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct csvsink_kind {
    const csv_codec *codec;     /* NULL: plain CSV                     */
    const char *default_path;   /* used when the path option is unset  */
} csvsink_kind;

/* Options every csv* plugin declares: path, mode, header, escape, buffer_kib,
 * and (with a codec) level.  The plugin copies these into its own table. */
#define CSVSINK_OPTION_PATH(def)                                                        \
    {"path", PWALK_OPT_STRING, PWALK_OPTION_OUTPUT, def, NULL,                          \
     "output file (\"-\" = stdout); written as .NAME.pwalk-tmp-XXXXXX, renamed at the end; " \
     "a compressing plugin adds its suffix (.zst, .gz, .lz4) to a name ending in .csv"}
#define CSVSINK_OPTION_MODE                                                             \
    {"mode", PWALK_OPT_STRING, 0, NULL, NULL,                                           \
     "permissions, octal (\"0640\"); unset: 0600 when run as root, else 0666 less the umask"}
#define CSVSINK_OPTION_HEADER                                                           \
    {"header", PWALK_OPT_BOOL, 0, "true", NULL,                                         \
     "first line is the column header (the first line of the decompressed stream)"}
#define CSVSINK_OPTION_ESCAPE                                                           \
    {"escape", PWALK_OPT_ENUM, 0, "lossless", "lossless|dey",                           \
     "lossless: names round-trip, valid UTF-8; dey: pwalk's bytes, control bytes dropped"}
#define CSVSINK_OPTION_BUFFER                                                           \
    {"buffer_kib", PWALK_OPT_INT, 0, "1024", "64..65536",                               \
     "rows each worker collects before compressing and writing them as one frame"}

/* The plugin description and exported entry point of a csv* plugin whose
 * option table is IDENT_options and whose kind is IDENT_kind: the four
 * plugins differ only in those, their name and their description. */
#define CSVSINK_PLUGIN(ident, plugin_name, plugin_description)                          \
    static int ident##_create(const pwalk_host *host, pwalk_host_ctx *ctx,              \
                              const pwalk_options *opts, void **instance)               \
    {                                                                                   \
        return csvsink_create(&ident##_kind, host, ctx, opts, instance);                \
    }                                                                                   \
    static const pwalk_plugin ident##_plugin = {                                        \
        sizeof(pwalk_plugin), PWALK_ABI_MAJOR, PWALK_ABI_MINOR, 0,                      \
        PWALK_THREADING_PER_WORKER,                                                     \
        sizeof ident##_options / sizeof ident##_options[0], plugin_name, "1.0",          \
        plugin_description, ident##_options, ident##_create, csvsink_thread_open,       \
        csvsink_consume, NULL, csvsink_thread_close, csvsink_finish, csvsink_destroy,   \
        csvsink_prepare, NULL, csvsink_checkpoint};                                     \
    const pwalk_plugin *pwalk_plugin_entry_v1(void);                                    \
    PWALK_PLUGIN_EXPORT const pwalk_plugin *pwalk_plugin_entry_v1(void)                 \
    {                                                                                   \
        return &ident##_plugin;                                                         \
    }

int csvsink_create(const csvsink_kind *kind, const pwalk_host *host, pwalk_host_ctx *ctx,
                   const pwalk_options *opts, void **instance);
int csvsink_thread_open(void *instance, uint32_t worker, void **tstate);
int csvsink_consume(void *instance, void *tstate, const pwalk_entry *entries, size_t count);
int csvsink_thread_close(void *instance, void *tstate);
int csvsink_prepare(void *instance);
/* ABI 1.4: flush every worker, sync, save the part's name and length.
 * create() continues the saved part(s) when the host gives states. */
int csvsink_checkpoint(void *instance);
int csvsink_finish(void *instance, int32_t scan_status);
void csvsink_destroy(void *instance);

#ifdef __cplusplus
}
#endif

#endif
