/*
 * csv-lz4 -- the pwalk CSV report compressed with lz4 (liblz4 frame format),
 * readable by `lz4 -d` (DuckDB cannot read lz4 CSV).  Every frame
 * carries a content checksum; for sites where CPU is scarcest.
 */
#include "csvsink.h"

static const pwalk_option_spec csv_lz4_options[] = {
    CSVSINK_OPTION_PATH("scan.csv.lz4"),
    CSVSINK_OPTION_MODE,
    CSVSINK_OPTION_HEADER,
    CSVSINK_OPTION_ESCAPE,
    CSVSINK_OPTION_BUFFER,
    {"level", PWALK_OPT_INT, 0, "0", "0..12",
     "lz4 level: 0-2 fast mode, 3-12 high compression (much slower)"},
};

static const csvsink_kind csv_lz4_kind = {&codec_lz4, "scan.csv.lz4"};

CSVSINK_PLUGIN(csv_lz4, "csv-lz4",
               "pwalk CSV compressed with lz4 (one checksummed frame per worker buffer)")
