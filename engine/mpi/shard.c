/*
 * engine/mpi/shard.c -- shard file names and the manifest of a scan split
 * over MPI ranks; see shard.h.  The scan is read through the public API
 * (pwalk.h, pwalk/sys/remote.h for the settings pwalk.h has no getter for).
 */
#define _GNU_SOURCE
#include "shard.h"

#include "common/lossless.h"
#include "common/outname.h"
#include "pwalk/sys/remote.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int shard_name(const char *path, int rank, char *out, size_t outlen)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strstr(base, ".csv");
    size_t head = dot ? (size_t)(dot - path) : strlen(path);
    size_t at;
    /* no ".csv": before a compression suffix, which must stay last (a
     * compressing sink would add another: common/outname.h) */
    if (!dot && outname_compression(path, &at))
        head = at;
    char part[32];
    if (rank < 0)
        snprintf(part, sizeof part, ".part-*");
    else
        snprintf(part, sizeof part, ".part-%04d", rank);
    int n = snprintf(out, outlen, "%.*s%s%s", (int)head, path, part, path + head);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int shard_manifest_path(const char *path, char *out, size_t outlen)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *end = strstr(base, ".csv");
    if (!end)
        end = strchr(base, '.');
    if (!end || end == base)
        end = base + strlen(base);
    int n = snprintf(out, outlen, "%.*s.manifest.json", (int)(end - path), path);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* ---- JSON ------------------------------------------------------------------- */

/* A JSON string holding s as lossless text, the convention of the csv
 * reports (plugins/csv/FORMAT.md): \\ for a backslash, \xHH for a control byte or
 * a byte that is not part of valid UTF-8, everything else as it is; then
 * JSON's own escapes on top.  Names are bytes and JSON is UTF-8: decoding
 * the JSON and undoing the lossless escape (pwalk.unescape) gives back the
 * exact bytes.  Escaping bad bytes alone would not: a name spelling "\xff"
 * and a name holding the byte 0xff would read the same. */
static void json_string(FILE *f, const char *s)
{
    char buf[LOSSLESS_ESCAPED_MAX(256)];
    size_t left = strlen(s);
    fputc('"', f);
    while (left) {
        size_t n = lossless_piece(s, left, 256);
        fwrite(buf, 1, lossless_escape(buf, s, n, LOSSLESS_JSON), f);
        s += n;
        left -= n;
    }
    fputc('"', f);
}

static void json_string_list(FILE *f, const char *const *items, size_t n)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputs(", ", f);
        json_string(f, items[i]);
    }
    fputc(']', f);
}

/* The same for a list the scan hands out by index (roots, snapshot names). */
static void json_scan_list(FILE *f, const pwalk_scan *s, size_t n,
                           const char *(*item)(const pwalk_scan *, size_t))
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputs(", ", f);
        json_string(f, item(s, i));
    }
    fputc(']', f);
}

/* The directory of path made absolute (it exists: the shards are in it),
 * joined with name. */
static int absolute_in_dir(const char *path, const char *name_of, char *out, size_t outlen)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    char real[PATH_MAX];
    if (!realpath(dir, real))
        return -1;
    const char *base = strrchr(name_of, '/');
    base = base ? base + 1 : name_of;
    int n = snprintf(out, outlen, "%s%s%s", real, strcmp(real, "/") ? "/" : "", base);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* The absolute path of path's shard for rank (-1: the glob), or -1 with a
 * message naming path. */
static int shard_absolute(const char *path, int rank, char *out, size_t outlen, char *err,
                          size_t errlen)
{
    char name[PATH_MAX + 64];
    errno = 0;
    if (shard_name(path, rank, name, sizeof name) != 0 ||
        absolute_in_dir(path, name, out, outlen) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno ? errno : ENAMETOOLONG));
        return -1;
    }
    return 0;
}

/* What the scan was: when, which roots, the scan settings, the totals. */
static void write_head(FILE *f, const shard_manifest *m)
{
    const pwalk_scan *s = m->scan;
    pwalk_scan_settings st = {.struct_size = sizeof st};
    pwalk_scan_get_settings(s, &st);
    uint64_t entries = 0, rows = 0, errors = 0, dirs = 0, filtered = 0;
    for (int r = 0; r < m->ranks; r++) {
        entries += m->results[r].entries;
        rows += m->results[r].rows;
        errors += m->results[r].errors;
        dirs += m->results[r].dirs;
        filtered += m->results[r].filtered;
    }
    fprintf(f, "{\n  \"format\": \"pwalk-shards\",\n  \"version\": 1,\n  \"complete\": true,\n");
    fprintf(f, "  \"ranks\": %d,\n  \"threads_per_rank\": %zu,\n", m->ranks, m->threads);
    fprintf(f, "  \"started\": %lld,\n  \"seconds\": %.3f,\n", (long long)m->started,
            m->seconds);
    fputs("  \"config\": ", f);
    json_string(f, st.source);
    fputs(",\n  \"roots\": ", f);
    json_scan_list(f, s, pwalk_scan_root_count(s), pwalk_scan_root);
    fprintf(f, ",\n  \"scan\": {\"one_file_system\": %s, \"skip_snapshots\": %s, "
               "\"snapshot_names\": ",
            st.one_file_system ? "true" : "false", st.skip_snapshots ? "true" : "false");
    json_scan_list(f, s, pwalk_scan_snapshot_name_count(s), pwalk_scan_snapshot_name);
    fputs(", \"exclude\": ", f);
    json_string_list(f, st.excludes, st.exclude_count);
    fprintf(f, ", \"max_depth\": %d},\n", st.max_depth);
    fprintf(f, "  \"totals\": {\"entries\": %llu, \"rows\": %llu, \"errors\": %llu, "
               "\"dirs\": %llu, \"filtered\": %llu},\n",
            (unsigned long long)entries, (unsigned long long)rows, (unsigned long long)errors,
            (unsigned long long)dirs, (unsigned long long)filtered);
}

/* One sink: its glob and every rank's shard. */
static int write_sink(FILE *f, const shard_manifest *m, size_t i, char *err, size_t errlen)
{
    char abs[PATH_MAX + 64];
    uint64_t sink_total = 0;
    for (int r = 0; r < m->ranks; r++)
        sink_total += m->results[r].sink_rows[i];
    fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
    json_string(f, pwalk_scan_sink_name(m->scan, i));
    fputs(", \"plugin\": ", f);
    json_string(f, pwalk_scan_sink_plugin(m->scan, i));
    if (m->merged && m->merged[i]) {
        /* one output: every rank's partial merged into it (or one rank's) */
        if (absolute_in_dir(m->sink_paths[i], m->sink_paths[i], abs, sizeof abs) != 0) {
            snprintf(err, errlen, "%s: %s", m->sink_paths[i], strerror(errno));
            return -1;
        }
        fputs(", \"path\": ", f);
        json_string(f, abs);
        fprintf(f, ", \"merged\": true, \"partials\": %d, \"rows\": %llu}",
                m->ranks > 1 ? m->ranks : 0, (unsigned long long)sink_total);
        return 0;
    }
    if (shard_absolute(m->sink_paths[i], -1, abs, sizeof abs, err, errlen) != 0)
        return -1;
    fputs(", \"glob\": ", f);
    json_string(f, abs);
    fprintf(f, ", \"rows\": %llu, \"shards\": [", (unsigned long long)sink_total);
    for (int r = 0; r < m->ranks; r++) {
        if (shard_absolute(m->sink_paths[i], r, abs, sizeof abs, err, errlen) != 0)
            return -1;
        fprintf(f, "%s\n      {\"rank\": %d, \"path\": ", r ? "," : "", r);
        json_string(f, abs);
        fprintf(f, ", \"rows\": %llu, \"errors\": %llu}",
                (unsigned long long)m->results[r].sink_rows[i],
                (unsigned long long)m->results[r].errors);
    }
    fputs("]}", f);
    return 0;
}

/* Every rank's error file (null without scan.errors), every rank's counts. */
static int write_ranks(FILE *f, const shard_manifest *m, char *err, size_t errlen)
{
    char abs[PATH_MAX + 64];
    fputs("\n  ],\n  \"errors_files\": ", f);
    if (!m->errors_path) {
        fputs("null", f);
    } else {
        fputc('[', f);
        for (int r = 0; r < m->ranks; r++) {
            if (shard_absolute(m->errors_path, r, abs, sizeof abs, err, errlen) != 0)
                return -1;
            if (r)
                fputs(", ", f);
            json_string(f, abs);
        }
        fputc(']', f);
    }
    fputs(",\n  \"per_rank\": [", f);
    for (int r = 0; r < m->ranks; r++) {
        const shard_rank_result *x = &m->results[r];
        fprintf(f, "%s\n    {\"rank\": %d, \"status\": %d, \"entries\": %llu, \"rows\": %llu, "
                   "\"errors\": %llu, \"dirs\": %llu, \"filtered\": %llu, \"seconds\": %.3f}",
                r ? "," : "", r, x->status, (unsigned long long)x->entries,
                (unsigned long long)x->rows, (unsigned long long)x->errors,
                (unsigned long long)x->dirs, (unsigned long long)x->filtered, x->seconds);
    }
    fputs("\n  ]\n}\n", f);
    return 0;
}

static int write_body(FILE *f, const shard_manifest *m, char *err, size_t errlen)
{
    write_head(f, m);
    fputs("  \"sinks\": [", f);
    size_t n = pwalk_scan_sink_count(m->scan);
    for (size_t i = 0; i < n && i < SHARD_MAX_SINKS; i++)
        if (write_sink(f, m, i, err, errlen) != 0)
            return -1;
    return write_ranks(f, m, err, errlen);
}

int shard_write_manifest(outfile *f, const shard_manifest *m, char *err, size_t errlen)
{
    /* built in memory, then one outfile_write(): the file itself is only
     * ever touched through the outfile */
    char *body = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&body, &len);
    if (!mem) {
        snprintf(err, errlen, "%s: %s", f->final_path, strerror(errno));
        outfile_abort(f);
        return -1;
    }
    int rc = write_body(mem, m, err, errlen);
    if (fclose(mem) != 0 && rc == 0) {
        snprintf(err, errlen, "%s: %s", f->final_path, strerror(ENOMEM));
        rc = -1;
    }
    if (rc == 0 && (outfile_write(f, body, len, err, errlen) != 0 ||
                    outfile_commit(f, err, errlen) != 0))
        rc = -1;
    free(body);
    outfile_abort(f);
    return rc;
}
