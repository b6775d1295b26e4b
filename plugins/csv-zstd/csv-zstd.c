/*
 * csv-zstd -- the pwalk CSV report compressed with zstd (libzstd), readable
 * by `zstd -d` and by DuckDB (`SELECT ... FROM 'scan.csv.zst'`).  Every
 * frame carries a content checksum.
 */
#include "csvsink.h"

static const pwalk_option_spec csv_zstd_options[] = {
    CSVSINK_OPTION_PATH("scan.csv.zst"),
    CSVSINK_OPTION_HEADER,
    CSVSINK_OPTION_ESCAPE,
    CSVSINK_OPTION_BUFFER,
    {"level", PWALK_OPT_INT, 0, "1", "1..19",
     "zstd level; 1 keeps up with the walk on one core per worker"},
};

static const csvsink_kind csv_zstd_kind = {&codec_zstd, "scan.csv.zst"};

static int csv_zstd_create(const pwalk_host *host, pwalk_host_ctx *ctx,
                           const pwalk_options *opts, void **instance)
{
    return csvsink_create(&csv_zstd_kind, host, ctx, opts, instance);
}

static const pwalk_plugin csv_zstd_plugin = {
    .struct_size = sizeof(pwalk_plugin),
    .abi_major = PWALK_ABI_MAJOR,
    .abi_minor = PWALK_ABI_MINOR,
    .threading = PWALK_THREADING_PER_WORKER,
    .option_count = sizeof csv_zstd_options / sizeof csv_zstd_options[0],
    .name = "csv-zstd",
    .version = "1.0",
    .description = "pwalk CSV compressed with zstd (one checksummed frame per worker buffer)",
    .options = csv_zstd_options,
    .create = csv_zstd_create,
    .thread_open = csvsink_thread_open,
    .consume = csvsink_consume,
    .thread_close = csvsink_thread_close,
    .finish = csvsink_finish,
    .destroy = csvsink_destroy,
};

const pwalk_plugin *pwalk_plugin_entry_v1(void);
PWALK_PLUGIN_EXPORT const pwalk_plugin *pwalk_plugin_entry_v1(void) { return &csv_zstd_plugin; }
