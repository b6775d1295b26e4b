/*
 * csv-gzip -- the pwalk CSV report compressed with gzip (zlib), readable
 * by `gzip -d`, zcat and DuckDB.  Each worker buffer is one gzip member;
 * concatenated members are one valid gzip stream (RFC 1952).
 */
#include "csvsink.h"

static const pwalk_option_spec csv_gzip_options[] = {
    CSVSINK_OPTION_PATH("scan.csv.gz"),
    CSVSINK_OPTION_HEADER,
    CSVSINK_OPTION_ESCAPE,
    CSVSINK_OPTION_BUFFER,
    {"level", PWALK_OPT_INT, 0, "1", "1..9",
     "gzip level; 1 is the fastest and still several times smaller"},
};

static const csvsink_kind csv_gzip_kind = {&codec_gzip, "scan.csv.gz"};

static int csv_gzip_create(const pwalk_host *host, pwalk_host_ctx *ctx,
                           const pwalk_options *opts, void **instance)
{
    return csvsink_create(&csv_gzip_kind, host, ctx, opts, instance);
}

static const pwalk_plugin csv_gzip_plugin = {
    .struct_size = sizeof(pwalk_plugin),
    .abi_major = PWALK_ABI_MAJOR,
    .abi_minor = PWALK_ABI_MINOR,
    .threading = PWALK_THREADING_PER_WORKER,
    .option_count = sizeof csv_gzip_options / sizeof csv_gzip_options[0],
    .name = "csv-gzip",
    .version = "1.0",
    .description = "pwalk CSV compressed with gzip (one member per worker buffer)",
    .options = csv_gzip_options,
    .create = csv_gzip_create,
    .thread_open = csvsink_thread_open,
    .consume = csvsink_consume,
    .thread_close = csvsink_thread_close,
    .finish = csvsink_finish,
    .destroy = csvsink_destroy,
};

const pwalk_plugin *pwalk_plugin_entry_v1(void);
PWALK_PLUGIN_EXPORT const pwalk_plugin *pwalk_plugin_entry_v1(void) { return &csv_gzip_plugin; }
