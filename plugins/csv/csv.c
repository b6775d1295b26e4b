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

CSVSINK_PLUGIN(csv, "csv",
               "pwalk CSV report (lossless escaping by default; escape: dey for pwalk's bytes)")
