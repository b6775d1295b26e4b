/*
 * csv -- John Dey's pwalk CSV report (../shared/notes/csv-format.md),
 * uncompressed.  Rows are collected per worker and written a buffer at a
 * time, so lines never interleave and no lock is taken per row.
 */
#include "csvsink.h"

static const pwalk_option_spec csv_options[] = {
    CSVSINK_OPTION_PATH("scan.csv"),
    CSVSINK_OPTION_HEADER,
    CSVSINK_OPTION_ESCAPE,
    CSVSINK_OPTION_BUFFER,
};

static const csvsink_kind csv_kind = {NULL, "scan.csv"};

static int csv_create(const pwalk_host *host, pwalk_host_ctx *ctx, const pwalk_options *opts,
                      void **instance)
{
    return csvsink_create(&csv_kind, host, ctx, opts, instance);
}

static const pwalk_plugin csv_plugin = {
    .struct_size = sizeof(pwalk_plugin),
    .abi_major = PWALK_ABI_MAJOR,
    .abi_minor = PWALK_ABI_MINOR,
    .threading = PWALK_THREADING_PER_WORKER,
    .option_count = sizeof csv_options / sizeof csv_options[0],
    .name = "csv",
    .version = "1.0",
    .description = "pwalk CSV report (lossless escaping by default; escape: dey for pwalk's bytes)",
    .options = csv_options,
    .create = csv_create,
    .thread_open = csvsink_thread_open,
    .consume = csvsink_consume,
    .thread_close = csvsink_thread_close,
    .finish = csvsink_finish,
    .destroy = csvsink_destroy,
};

const pwalk_plugin *pwalk_plugin_entry_v1(void);
PWALK_PLUGIN_EXPORT const pwalk_plugin *pwalk_plugin_entry_v1(void) { return &csv_plugin; }
