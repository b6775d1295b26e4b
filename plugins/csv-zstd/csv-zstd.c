/*
 * csv-zstd -- the pwalk CSV report compressed with zstd (libzstd), readable
 * by `zstd -d` and by DuckDB (`SELECT ... FROM 'scan.csv.zst'`).  Every
 * frame carries a content checksum.
 */
#include "csvsink.h"

static const pwalk_option_spec csv_zstd_options[] = {
    CSVSINK_OPTION_PATH("scan.csv.zst"),
    CSVSINK_OPTION_MODE,
    CSVSINK_OPTION_HEADER,
    CSVSINK_OPTION_ESCAPE,
    CSVSINK_OPTION_BUFFER,
    {"level", PWALK_OPT_INT, 0, "1", "1..19",
     "zstd level; 1 keeps up with the walk on one core per worker"},
    {"workers", PWALK_OPT_INT, 0, "0", "0..64",
     "libzstd's own compressing threads behind each pwalk worker (0: the worker "
     "compresses its own frames, already one compressor per walking thread)"},
};

static const csvsink_kind csv_zstd_kind = {&codec_zstd, "scan.csv.zst"};

CSVSINK_PLUGIN(csv_zstd, "csv-zstd",
               "pwalk CSV compressed with zstd (one checksummed frame per worker buffer)")
