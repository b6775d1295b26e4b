/*
 * csvsink.c -- see csvsink.h.
 *
 * Why one frame per worker buffer: a single compressing thread would cap the
 * whole scan at one core's compression speed (gzip -1 is slower than the
 * walk).  Frames are independent, so workers compress in parallel and the
 * only shared step is one write() per ~1 MiB of rows.
 */
#include "csvsink.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/outname.h"
#include "common/csvrow.h"
#include "common/outfile.h"

typedef struct csvsink {
    const csvsink_kind *kind;
    const pwalk_host *host;
    pwalk_host_ctx *ctx;
    outfile out;
    int opened;
    int committed;
    int escape;
    int level;
    int codec_workers;      /* the library's own threads per context */
    atomic_ullong dropped;  /* names escape: dey cut control bytes from  */
    atomic_int wrote;       /* a frame is in the output (csvsink_end_stream) */
    char *path;             /* the name written (csvsink_name)          */
    size_t buffer_size;
} csvsink;

typedef struct csvsink_worker {
    char *rows;             /* CSV lines not yet written            */
    size_t used;
    codec_stream *stream;   /* NULL for plain CSV                   */
    char *frame;            /* compressed output of one buffer      */
    size_t frame_cap;
} csvsink_worker;

/* Compress (or not) and append; one write per call keeps frames whole. */
static int csvsink_emit(csvsink *s, csvsink_worker *w, const char *data, size_t len)
{
    char err[512];
    if (len == 0)
        return PWALK_OK;
    if (!s->kind->codec) {
        if (outfile_write(&s->out, data, len, err, sizeof err) != 0) {
            s->host->set_error(s->ctx, "%s", err);
            return PWALK_ERR_IO;
        }
        return PWALK_OK;
    }
    size_t need = s->kind->codec->bound(w->stream, len);
    if (need > w->frame_cap) {
        char *grown = realloc(w->frame, need);
        if (!grown) {
            s->host->set_error(s->ctx, "out of memory");
            return PWALK_ERR_NOMEM;
        }
        w->frame = grown;
        w->frame_cap = need;
    }
    size_t n = s->kind->codec->frame(w->stream, data, len, w->frame, err, sizeof err);
    if (n == 0) {
        s->host->set_error(s->ctx, "%s", err);
        return PWALK_ERR;
    }
    if (outfile_write(&s->out, w->frame, n, err, sizeof err) != 0) {
        s->host->set_error(s->ctx, "%s", err);
        return PWALK_ERR_IO;
    }
    atomic_store(&s->wrote, 1);
    return PWALK_OK;
}

/* A compressed output that got no bytes at all (header: false and no rows,
 * as on an idle MPI rank's shard) still gets one frame of nothing: a 0-byte
 * file is no zstd, gzip or lz4 stream, and zstd -t, gzip -t and DuckDB
 * refuse it.  Runs after every worker has closed. */
static int csvsink_end_stream(csvsink *s)
{
    if (!s->kind->codec || atomic_load(&s->wrote))
        return PWALK_OK;
    char err[512];
    codec_stream *c = s->kind->codec->open(s->level, 0, err, sizeof err);
    if (!c) {
        s->host->set_error(s->ctx, "%s", err);
        return PWALK_ERR;
    }
    int rc = PWALK_OK;
    size_t cap = s->kind->codec->bound(c, 0);
    char *frame = malloc(cap);
    size_t n = frame ? s->kind->codec->frame(c, "", 0, frame, err, sizeof err) : 0;
    if (!frame) {
        s->host->set_error(s->ctx, "out of memory");
        rc = PWALK_ERR_NOMEM;
    } else if (n == 0) {
        s->host->set_error(s->ctx, "%s", err);
        rc = PWALK_ERR;
    } else if (outfile_write(&s->out, frame, n, err, sizeof err) != 0) {
        s->host->set_error(s->ctx, "%s", err);
        rc = PWALK_ERR_IO;
    } else {
        atomic_store(&s->wrote, 1);
    }
    free(frame);
    s->kind->codec->close(c);
    return rc;
}

static void csvsink_worker_free(const csvsink *s, csvsink_worker *w)
{
    if (!w)
        return;
    if (w->stream)
        s->kind->codec->close(w->stream);
    free(w->rows);
    free(w->frame);
    free(w);
}

static csvsink_worker *csvsink_worker_new(csvsink *s)
{
    csvsink_worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->rows = malloc(s->buffer_size);
    if (!w->rows) {
        free(w);
        return NULL;
    }
    if (s->kind->codec) {
        char err[256];
        w->stream = s->kind->codec->open(s->level, s->codec_workers, err, sizeof err);
        if (!w->stream) {
            s->host->set_error(s->ctx, "%s", err);
            csvsink_worker_free(s, w);
            return NULL;
        }
    }
    return w;
}

/* The file name to write, by common/outname.h's rule: a compressing sink
 * completes "scan.csv" to "scan.csv.zst"; a name whose compression suffix
 * contradicts the data is refused, naming the name it should have. */
static int csvsink_name(csvsink *s, const char **path)
{
    const csv_codec *codec = s->kind->codec;
    const char *suffix = codec ? strrchr(codec->extension, '.') : NULL;
    const char *found = NULL;
    int rc = outname_for(*path, codec ? codec->name : NULL, suffix, &s->path, &found);
    if (rc < 0) {
        s->host->set_error(s->ctx, "out of memory");
        return PWALK_ERR_NOMEM;
    }
    if (rc > 0 && codec)
        s->host->set_error(s->ctx,
                           "path '%s' ends in '%s', but this sink writes %s data: name it "
                           "'%s' (a name ending in .csv gets '%s' added)",
                           *path, found, codec->name, s->path, suffix);
    else if (rc > 0)
        s->host->set_error(s->ctx,
                           "path '%s' ends in '%s', but plugin csv writes plain CSV: name it "
                           "'%s', or use a compressing plugin (csv-zstd, csv-gzip, csv-lz4)",
                           *path, found, s->path);
    if (rc > 0)
        return PWALK_ERR_CONFIG;
    *path = s->path;
    return PWALK_OK;
}

int csvsink_create(const csvsink_kind *kind, const pwalk_host *host, pwalk_host_ctx *ctx,
                   const pwalk_options *opts, void **instance)
{
    csvsink *s = calloc(1, sizeof *s);
    if (!s) {
        host->set_error(ctx, "out of memory");
        return PWALK_ERR_NOMEM;
    }
    *instance = s;
    s->kind = kind;
    s->host = host;
    s->ctx = ctx;

    const char *path = kind->default_path, *escape = "lossless";
    int header = 1;
    int64_t buffer_kib = 1024, level = kind->codec ? kind->codec->level_default : 0;
    host->opt_string(opts, "path", &path);
    host->opt_bool(opts, "header", &header);
    host->opt_string(opts, "escape", &escape);
    host->opt_int(opts, "buffer_kib", &buffer_kib);
    int64_t workers = 0;
    if (kind->codec) {
        host->opt_int(opts, "level", &level);
        host->opt_int(opts, "workers", &workers); /* declared by csv-zstd only */
    }
    s->escape = csvrow_escape_mode(escape);
    if (s->escape < 0) {
        host->set_error(ctx, "escape: '%s' is not lossless or dey", escape);
        return PWALK_ERR_CONFIG;
    }
    if (kind->codec && (level < kind->codec->level_min || level > kind->codec->level_max)) {
        host->set_error(ctx, "level: %lld is outside %s's %d..%d", (long long)level,
                        kind->codec->name, kind->codec->level_min, kind->codec->level_max);
        return PWALK_ERR_CONFIG;
    }
    s->level = (int)level;
    s->codec_workers = (int)workers;
    s->buffer_size = (size_t)buffer_kib * 1024;
    int named = csvsink_name(s, &path);
    if (named != PWALK_OK)
        return named;

    const char *mode_text = NULL;
    int mode = OUTFILE_MODE_DEFAULT;
    host->opt_string(opts, "mode", &mode_text);
    if (mode_text && outfile_parse_mode(mode_text, &mode) != 0) {
        host->set_error(ctx, "mode: '%s' is not octal permission bits such as \"0640\"",
                        mode_text);
        return PWALK_ERR_CONFIG;
    }

    char err[512];
    if (outfile_open_mode(&s->out, path, mode, err, sizeof err) != 0) {
        host->set_error(ctx, "%s", err);
        return PWALK_ERR_IO;
    }
    s->opened = 1;
    /* a report inside the scanned tree must not list itself (ABI 1.2) */
    if (!s->out.is_stdout && PWALK_HOST_HAS(host, own_output) &&
        host->own_output(ctx, s->out.fd) != PWALK_OK)
        return PWALK_ERR;
    if (header) {
        /* its own frame, first in the file: the decompressed stream
         * starts with the header line */
        csvsink_worker *w = csvsink_worker_new(s);
        if (!w)
            return PWALK_ERR_NOMEM;
        int rc = csvsink_emit(s, w, csvrow_header, csvrow_header_len);
        csvsink_worker_free(s, w);
        if (rc != PWALK_OK)
            return rc;
    }
    return PWALK_OK;
}

int csvsink_thread_open(void *instance, uint32_t worker, void **tstate)
{
    csvsink *s = instance;
    (void)worker;
    *tstate = csvsink_worker_new(s);
    if (!*tstate) {
        s->host->set_error(s->ctx, "out of memory");
        return PWALK_ERR_NOMEM;
    }
    return PWALK_OK;
}

/* escape dey deletes control bytes, as pwalk did; say which name lost
 * them (escaped, so the message stays one line).  The first few by name, the
 * rest counted at the end: a tree of a million such names must not bury the
 * summary. */
#define CSVSINK_DROPPED_SHOWN 20
static void csvsink_report_dropped(csvsink *s, const pwalk_entry *e)
{
    if (atomic_fetch_add(&s->dropped, 1) >= CSVSINK_DROPPED_SHOWN)
        return;
    char *shown = malloc(4 * (size_t)e->path_len + 1);
    if (!shown)
        return;
    int ignored = 0;
    shown[csvrow_escape(shown, e->path, e->path_len, CSVROW_ESCAPE_LOSSLESS, &ignored)] = '\0';
    s->host->log(s->ctx, "control bytes removed from name: %s", shown);
    free(shown);
}

int csvsink_consume(void *instance, void *tstate, const pwalk_entry *entries, size_t count)
{
    csvsink *s = instance;
    csvsink_worker *w = tstate;
    for (size_t i = 0; i < count; i++) {
        const pwalk_entry *e = PWALK_ENTRY_AT(entries, i);
        size_t max = csvrow_max_len(e);
        if (w->used + max > s->buffer_size) {
            int rc = csvsink_emit(s, w, w->rows, w->used);
            w->used = 0;
            if (rc != PWALK_OK)
                return rc;
        }
        int dropped = 0;
        if (max > s->buffer_size) {
            /* a row longer than the buffer (a very deep path): alone */
            char *big = malloc(max);
            if (!big) {
                s->host->set_error(s->ctx, "out of memory");
                return PWALK_ERR_NOMEM;
            }
            size_t n = csvrow_format(big, e, s->escape, &dropped);
            int rc = csvsink_emit(s, w, big, n);
            free(big);
            if (rc != PWALK_OK)
                return rc;
        } else {
            w->used += csvrow_format(w->rows + w->used, e, s->escape, &dropped);
        }
        if (dropped)
            csvsink_report_dropped(s, e);
    }
    return PWALK_OK;
}

int csvsink_thread_close(void *instance, void *tstate)
{
    csvsink *s = instance;
    csvsink_worker *w = tstate;
    int rc = PWALK_OK;
    if (w && w->used)
        rc = csvsink_emit(s, w, w->rows, w->used);
    csvsink_worker_free(s, w);
    return rc;
}

/* The report is whole and on disk under its temporary name; the rename in
 * finish() is all that is left, so a failing sink elsewhere in the pipeline
 * can still keep this one from being published. */
int csvsink_prepare(void *instance)
{
    csvsink *s = instance;
    if (!s || !s->opened)
        return PWALK_OK;
    int rc = csvsink_end_stream(s);
    if (rc != PWALK_OK) {
        s->opened = 0;
        outfile_abort(&s->out);
        return rc;
    }
    char err[512];
    if (outfile_prepare(&s->out, err, sizeof err) != 0) {
        s->host->set_error(s->ctx, "%s", err);
        s->opened = 0;
        return PWALK_ERR_IO;
    }
    return PWALK_OK;
}

int csvsink_finish(void *instance, int32_t scan_status)
{
    csvsink *s = instance;
    unsigned long long dropped = s ? atomic_load(&s->dropped) : 0;
    if (dropped > CSVSINK_DROPPED_SHOWN)
        s->host->log(s->ctx, "control bytes removed from %llu names in all (the first %d shown)",
                     dropped, CSVSINK_DROPPED_SHOWN);
    if (!s || !s->opened)
        return PWALK_OK;
    if (scan_status != 0) {
        outfile_abort(&s->out);
        s->opened = 0;
        return PWALK_OK;
    }
    /* an engine without prepare() comes here directly */
    int rc = csvsink_end_stream(s);
    if (rc != PWALK_OK) {
        outfile_abort(&s->out);
        s->opened = 0;
        return rc;
    }
    char err[512];
    if (outfile_commit(&s->out, err, sizeof err) != 0) {
        s->host->set_error(s->ctx, "%s", err);
        outfile_abort(&s->out);
        s->opened = 0;
        return PWALK_ERR_IO;
    }
    s->opened = 0;
    s->committed = 1;
    return PWALK_OK;
}

void csvsink_destroy(void *instance)
{
    csvsink *s = instance;
    if (!s)
        return;
    if (s->opened)
        outfile_abort(&s->out);
    free(s->path);
    free(s);
}
