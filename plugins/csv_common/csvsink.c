/*
 * csvsink.c -- see csvsink.h.
 *
 * Why one frame per worker buffer: a single compressing thread would cap the
 * whole scan at one core's compression speed (gzip -1 is slower than the
 * walk).  Frames are independent, so workers compress in parallel and the
 * only shared step is one write() per ~1 MiB of rows.
 */
#define _GNU_SOURCE
#include "csvsink.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ckstate.h"
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
    unsigned long long header_len; /* bytes of the header (its frame)   */
    struct csvsink_worker **workers; /* open tstates, for checkpoint()  */
    size_t worker_count, worker_cap;
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

/* ---- checkpoints (ABI 1.4) ----------------------------------------------
 *
 * The state is the temporary's name and length at the checkpoint, the
 * length of its header (what a part joined after another skips), the
 * dropped-names count, and the parts it absorbed in earlier sessions
 * (removed once the output is published).  Everything else comes from the
 * options, which a resume must not change (the journal checks them). */

#define CSVSINK_STATE_MAGIC 0x6b437363u /* "csCk" */
#define CSVSINK_STATE_VERSION 1u

typedef struct csvsink_state {
    char *part;
    uint64_t length, header_len, dropped;
    uint32_t wrote;
    char **absorbed;
    uint32_t absorbed_count;
} csvsink_state;

static void csvsink_state_free(csvsink_state *st)
{
    free(st->part);
    for (uint32_t i = 0; i < st->absorbed_count; i++)
        free(st->absorbed[i]);
    free(st->absorbed);
    memset(st, 0, sizeof *st);
}

/* 0, or -1 when the bytes are no state of this version (or memory ran
 * out: the journal is bad either way for this sink). */
static int csvsink_state_decode(const void *bytes, size_t len, csvsink_state *st)
{
    ckstate_in in = {bytes, len, 0};
    memset(st, 0, sizeof *st);
    if (ckstate_get_u32(&in) != CSVSINK_STATE_MAGIC ||
        ckstate_get_u32(&in) != CSVSINK_STATE_VERSION)
        return -1;
    st->wrote = ckstate_get_u32(&in);
    st->length = ckstate_get_u64(&in);
    st->header_len = ckstate_get_u64(&in);
    st->dropped = ckstate_get_u64(&in);
    st->part = ckstate_get_str(&in);
    uint32_t n = ckstate_get_u32(&in);
    if (!in.bad && n <= in.left / 4)
        st->absorbed = calloc(n ? n : 1, sizeof *st->absorbed);
    for (uint32_t i = 0; st->absorbed && i < n && !in.bad; i++) {
        st->absorbed[i] = ckstate_get_str(&in);
        st->absorbed_count = i + 1;
    }
    if (in.bad || in.left || !st->absorbed || st->header_len > st->length) {
        csvsink_state_free(st);
        return -1;
    }
    return 0;
}

static int csvsink_state_save(csvsink *s, unsigned long long length)
{
    ckstate_out o = {0};
    ckstate_u32(&o, CSVSINK_STATE_MAGIC);
    ckstate_u32(&o, CSVSINK_STATE_VERSION);
    ckstate_u32(&o, (uint32_t)atomic_load(&s->wrote));
    ckstate_u64(&o, length);
    ckstate_u64(&o, s->header_len);
    ckstate_u64(&o, atomic_load(&s->dropped));
    ckstate_str(&o, s->out.tmp_name);
    ckstate_u32(&o, (uint32_t)s->out.part_count);
    for (size_t i = 0; i < s->out.part_count; i++)
        ckstate_str(&o, s->out.parts[i]);
    int rc = o.failed ? PWALK_ERR_NOMEM : s->host->checkpoint_save(s->ctx, o.buf, o.len);
    free(o.buf);
    if (rc != PWALK_OK)
        s->host->set_error(s->ctx, "checkpoint of '%s': cannot save its state (code %d)",
                           s->path, rc);
    return rc;
}

/* Main thread, the walk paused: every worker's rows out as their frame,
 * the file durable, its name and length saved. */
int csvsink_checkpoint(void *instance)
{
    csvsink *s = instance;
    if (!s || !s->opened) {
        if (s)
            s->host->set_error(s->ctx, "checkpoint: the output is not open");
        return PWALK_ERR;
    }
    for (size_t i = 0; i < s->worker_count; i++) {
        csvsink_worker *w = s->workers[i];
        int rc = csvsink_emit(s, w, w->rows, w->used);
        w->used = 0;
        if (rc != PWALK_OK)
            return rc;
    }
    unsigned long long length = 0;
    char err[512];
    if (outfile_sync(&s->out, &length, err, sizeof err) != 0) {
        s->host->set_error(s->ctx, "%s", err);
        return PWALK_ERR_IO;
    }
    return csvsink_state_save(s, length);
}

/* State i applied: the first continues its part, the others' bytes after
 * their header are appended (a pwalk-mpi job resumed with fewer ranks). */
static int csvsink_resume_one(csvsink *s, const char *path, size_t i, const csvsink_state *st)
{
    char err[512];
    int rc = i == 0 ? outfile_resume(&s->out, path, st->part, st->length, err, sizeof err)
                    : outfile_append_part(&s->out, st->part, st->header_len, st->length, err,
                                          sizeof err);
    if (rc != 0) {
        s->host->set_error(s->ctx, "%s", err);
        return PWALK_ERR_IO;
    }
    if (i == 0) {
        s->opened = 1;
        s->header_len = st->header_len;
    }
    for (uint32_t k = 0; k < st->absorbed_count; k++)
        if (outfile_adopt_part(&s->out, st->absorbed[k]) != 0) {
            s->host->set_error(s->ctx, "cannot resume '%s': bad part name in its state", path);
            return PWALK_ERR_CONFIG;
        }
    atomic_fetch_add(&s->dropped, st->dropped);
    if (st->wrote)
        atomic_store(&s->wrote, 1);
    return PWALK_OK;
}

/* create() of a resumed scan: no header written again, no new file. */
static int csvsink_resume(csvsink *s, const char *path, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const void *bytes = NULL;
        size_t len = 0;
        csvsink_state st;
        if (s->host->checkpoint_state(s->ctx, i, &bytes, &len) != PWALK_OK ||
            csvsink_state_decode(bytes, len, &st) != 0) {
            s->host->set_error(s->ctx,
                               "cannot resume '%s': checkpoint state %zu of %zu is not one of "
                               "this csv sink (version %u)",
                               path, i + 1, count, CSVSINK_STATE_VERSION);
            return PWALK_ERR_CONFIG;
        }
        int rc = csvsink_resume_one(s, path, i, &st);
        csvsink_state_free(&st);
        if (rc != PWALK_OK)
            return rc;
    }
    if (PWALK_HOST_HAS(s->host, own_output) && s->host->own_output(s->ctx, s->out.fd) != PWALK_OK)
        return PWALK_ERR;
    /* parts absorbed but kept until the publish: not rows of the walk */
    for (size_t k = 0; k < s->out.part_count && PWALK_HOST_HAS(s->host, own_output); k++) {
        int fd = openat(s->out.dirfd, s->out.parts[k], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            (void)s->host->own_output(s->ctx, fd);
            close(fd);
        }
    }
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

    size_t resumed = PWALK_HOST_HAS(host, checkpoint_state) ? host->checkpoint_count(ctx) : 0;
    if (resumed)
        return csvsink_resume(s, path, resumed);
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
    /* what a joined part skips: its own header */
    s->header_len = s->out.written;
    return PWALK_OK;
}

int csvsink_thread_open(void *instance, uint32_t worker, void **tstate)
{
    csvsink *s = instance;
    (void)worker;
    csvsink_worker *w = csvsink_worker_new(s);
    void *list = s->workers;
    if (!w || grow_array(&list, &s->worker_cap, s->worker_count + 1, sizeof *s->workers) != 0) {
        csvsink_worker_free(s, w);
        s->host->set_error(s->ctx, "out of memory");
        return PWALK_ERR_NOMEM;
    }
    s->workers = list;
    s->workers[s->worker_count++] = w;
    *tstate = w;
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
    /* after the last checkpoint() before a suspension the walk consumed
     * nothing more: used is 0 and nothing is written past the state */
    if (w && w->used)
        rc = csvsink_emit(s, w, w->rows, w->used);
    for (size_t i = 0; i < s->worker_count; i++)
        if (s->workers[i] == w) {
            s->workers[i] = s->workers[--s->worker_count];
            break;
        }
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
    if (dropped > CSVSINK_DROPPED_SHOWN && scan_status != PWALK_SUSPENDED)
        s->host->log(s->ctx, "control bytes removed from %llu names in all (the first %d shown)",
                     dropped, CSVSINK_DROPPED_SHOWN);
    if (!s || !s->opened)
        return PWALK_OK;
    if (scan_status == PWALK_SUSPENDED) {
        /* the part (and the parts it absorbed) as the last checkpoint
         * described them: the journal's */
        outfile_keep(&s->out);
        s->opened = 0;
        return PWALK_OK;
    }
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
    for (size_t i = 0; i < s->worker_count; i++) /* thread_close() never came */
        csvsink_worker_free(s, s->workers[i]);
    free(s->workers);
    free(s->path);
    free(s);
}
