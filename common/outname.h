/*
 * outname.h -- what an output file's name says about its compression.
 *
 * One rule, kept in one place because two parties must agree on it: the
 * csv sinks (which refuse a name that contradicts what they write, and
 * complete one that leaves the compression out) and pwalk-mpi (which names
 * each rank's shard, and the manifest's list of shards, after the file the
 * sink will really write).  The rule:
 *   - a compressing sink adds its suffix to a name ending in ".csv", as
 *     zstd and gzip name their outputs: "scan.csv" -> "scan.csv.zst", so
 *     that swapping csv for csv-zstd is a one-word change;
 *   - a name ending in another compressor's suffix is refused, and so is a
 *     compression suffix on plain CSV: the data would not be what the
 *     name says, and readers (DuckDB) go by the name;
 *   - any other name is kept as given ("scan.csv.zst", "report.data").
 * "-" (standard output) has no name to check.
 * Header-only, like lossless.h: plugins link no engine code.
 */
#ifndef PWALK_COMMON_OUTNAME_H
#define PWALK_COMMON_OUTNAME_H

#include <stdlib.h>
#include <string.h>

typedef struct outname_suffix {
    const char *suffix; /* ".zst"                          */
    const char *codec;  /* "zstd": csv_codec.name's spelling */
} outname_suffix;

static inline int outname_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        if (x != *b)
            return 0;
    }
    return *a == *b;
}

/* The compression suffix ending path's file name (".ZST" too), with the
 * offset where it starts in *at; or NULL.  A name that is only the suffix
 * (".gz") is a hidden file's name, not a compressed one. */
static inline const outname_suffix *outname_compression(const char *path, size_t *at)
{
    static const outname_suffix outname_suffixes[] = {
        {".zst", "zstd"}, {".zstd", "zstd"}, {".gz", "gzip"}, {".lz4", "lz4"},
        {".bz2", "bzip2"}, {".xz", "xz"},
    };
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t n = strlen(base);
    for (size_t i = 0; i < sizeof outname_suffixes / sizeof outname_suffixes[0]; i++) {
        size_t k = strlen(outname_suffixes[i].suffix);
        if (n > k && outname_ieq(base + n - k, outname_suffixes[i].suffix)) {
            *at = (size_t)(base - path) + n - k;
            return &outname_suffixes[i];
        }
    }
    return NULL;
}

static inline char *outname_join(const char *head, size_t head_len, const char *tail)
{
    size_t t = tail ? strlen(tail) : 0;
    char *s = malloc(head_len + t + 1);
    if (s) {
        memcpy(s, head, head_len);
        if (t)
            memcpy(s + head_len, tail, t);
        s[head_len + t] = '\0';
    }
    return s;
}

/* The name a sink writing `codec` data ("zstd", with suffix ".zst"; both
 * NULL for plain CSV) gives to path.  0: *out is that name.  1: path
 * contradicts the codec (*found is the suffix it ends in) and *out is the
 * name it should have, for the message.  -1: out of memory.  *out is
 * malloc'd either way. */
static inline int outname_for(const char *path, const char *codec, const char *suffix,
                              char **out, const char **found)
{
    size_t at = 0;
    const outname_suffix *has = strcmp(path, "-") == 0 ? NULL : outname_compression(path, &at);
    int rc = 0;
    *found = has ? has->suffix : NULL;
    size_t n = strlen(path);
    if (has && !(codec && strcmp(has->codec, codec) == 0)) {
        *out = outname_join(path, at, suffix); /* the name it should have */
        rc = 1;
    } else if (!has && codec && n > 4 && outname_ieq(path + n - 4, ".csv") &&
               path[n - 5] != '/') {
        *out = outname_join(path, n, suffix);  /* scan.csv -> scan.csv.zst */
    } else {
        *out = outname_join(path, n, NULL);    /* as it is */
    }
    return *out ? rc : -1;
}

/* The name a sink will write for path, judged from its plugin's default
 * path: a plugin whose default ends in a compression suffix ("scan.csv.zst")
 * adds that suffix by the rule above.  For the engine and pwalk-mpi, which
 * do not know a plugin's codec.  A name the sink will refuse is returned as
 * it is.  malloc'd; NULL when out of memory. */
static inline char *outname_written(const char *path, const char *default_path)
{
    size_t at;
    const outname_suffix *d = default_path ? outname_compression(default_path, &at) : NULL;
    char *out;
    const char *found;
    int rc = outname_for(path, d ? d->codec : NULL, d ? d->suffix : NULL, &out, &found);
    if (rc > 0) {
        free(out);
        out = outname_join(path, strlen(path), NULL);
    }
    return rc < 0 ? NULL : out;
}

#endif
