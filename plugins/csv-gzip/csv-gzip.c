/*
 * csv-gzip -- the pwalk CSV report compressed with gzip (zlib), readable
 * by `gzip -d`, zcat and DuckDB.  Each worker buffer is one gzip member;
 * concatenated members are one valid gzip stream (RFC 1952).
 */
#include "csvsink.h"

static const pwalk_option_spec csv_gzip_options[] = {
    CSVSINK_OPTION_PATH("scan.csv.gz"),
    CSVSINK_OPTION_MODE,
    CSVSINK_OPTION_HEADER,
    CSVSINK_OPTION_ESCAPE,
    CSVSINK_OPTION_BUFFER,
    {"level", PWALK_OPT_INT, 0, "1", "1..9",
     "gzip level; 1 is the fastest and still several times smaller"},
};

static const csvsink_kind csv_gzip_kind = {&codec_gzip, "scan.csv.gz"};

CSVSINK_PLUGIN(csv_gzip, "csv-gzip",
               "pwalk CSV compressed with gzip (one member per worker buffer)")
