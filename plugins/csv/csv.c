/*
 * csv -- John Dey's pwalk CSV report (plugins/csv/FORMAT.md),
 * uncompressed.  Rows are collected per worker and written a buffer at a
 * time, so lines never interleave and no lock is taken per row.  The body
 * (buffers, flushing, atomic output file) is csvsink.c, shared with the
 * compressing variants.
 */
#include "csvsink.h"

static const pwalk_option_spec csv_options[] = {
    CSVSINK_OPTION_PATH("scan.csv"),
    CSVSINK_OPTION_MODE,
    CSVSINK_OPTION_HEADER,
    CSVSINK_OPTION_ESCAPE,
    /* plain CSV has no per-frame overhead, so buffers smaller than the
     * compressing plugins' 64 KiB floor cost nothing but write() calls */
    {"buffer_kib", PWALK_OPT_INT, 0, "1024", "4..65536",
     "rows each worker collects before writing them with one write()"},
};

static const csvsink_kind csv_kind = {NULL, "scan.csv"};

CSVSINK_PLUGIN(csv, "csv",
               "pwalk CSV report (lossless escaping by default; escape: dey for pwalk's bytes)")
