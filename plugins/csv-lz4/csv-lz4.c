/*
 * csv-lz4 -- the pwalk CSV report compressed with lz4 (liblz4 frame format),
 * readable by `lz4 -d` (DuckDB cannot read lz4 CSV).  Every frame
 * carries a content checksum; for sites where CPU is scarcest.
 */
#include "csvsink.h"

static const pwalk_option_spec csv_lz4_options[] = {
    CSVSINK_OPTION_PATH("scan.csv.lz4"),
    CSVSINK_OPTION_HEADER,
    CSVSINK_OPTION_ESCAPE,
    CSVSINK_OPTION_BUFFER,
    {"level", PWALK_OPT_INT, 0, "0", "0..12",
     "lz4 level: 0-2 fast mode, 3-12 high compression (much slower)"},
};

static const csvsink_kind csv_lz4_kind = {&codec_lz4, "scan.csv.lz4"};

static int csv_lz4_create(const pwalk_host *host, pwalk_host_ctx *ctx,
                           const pwalk_options *opts, void **instance)
{
    return csvsink_create(&csv_lz4_kind, host, ctx, opts, instance);
}

static const pwalk_plugin csv_lz4_plugin = {
    .struct_size = sizeof(pwalk_plugin),
    .abi_major = PWALK_ABI_MAJOR,
    .abi_minor = PWALK_ABI_MINOR,
    .threading = PWALK_THREADING_PER_WORKER,
    .option_count = sizeof csv_lz4_options / sizeof csv_lz4_options[0],
    .name = "csv-lz4",
    .version = "1.0",
    .description = "pwalk CSV compressed with lz4 (one checksummed frame per worker buffer)",
    .options = csv_lz4_options,
    .create = csv_lz4_create,
    .thread_open = csvsink_thread_open,
    .consume = csvsink_consume,
    .thread_close = csvsink_thread_close,
    .finish = csvsink_finish,
    .destroy = csvsink_destroy,
};

const pwalk_plugin *pwalk_plugin_entry_v1(void);
PWALK_PLUGIN_EXPORT const pwalk_plugin *pwalk_plugin_entry_v1(void) { return &csv_lz4_plugin; }
