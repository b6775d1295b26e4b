/*
 * report.c -- the error file, and the tallies of error records the summary
 * (summary.c) is made from.
 *
 * Error records arrive from any worker; they are rare next to rows, so one
 * mutex guards the counters, the kept examples and the error file buffer.
 */
#define _GNU_SOURCE
#include "report.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/ckstate.h"
#include "common/csvrow.h"
#include "common/outfile.h"

#define REPORT_EXAMPLES 10
#define REPORT_KINDS 32
#define REPORT_BUFFER (256 * 1024)

typedef struct report_example {
    char *path;
    int error_number;
    char operation[32];
} report_example;

struct report {
    pthread_mutex_t lock;
    uint64_t errors;            /* kind PWALK_ERROR_FAILED only */
    uint64_t vanished;          /* VANISHED and REPLACED        */
    uint64_t replaced;
    struct {
        int error_number;
        uint64_t count;
    } kinds[REPORT_KINDS];
    size_t kind_count;
    report_example examples[REPORT_EXAMPLES];
    size_t example_count;

    int has_file;
    outfile file;
    char *buf;
    size_t buf_len;
    int file_failed;
    char file_error[512];
};

/* kind (added after operation, so readers of the first four columns or by
 * column name keep working): error | vanished | replaced */
static const char report_errors_header[] = "path,errno,error,operation,kind\n";

static const char *report_kind_name(uint32_t kind)
{
    return kind == PWALK_ERROR_VANISHED   ? "vanished"
           : kind == PWALK_ERROR_REPLACED ? "replaced"
                                          : "error";
}

/* errno 0 comes only with a directory that opened but was another one */
static const char *report_message(int error_number)
{
    return error_number ? strerror(error_number) : "replaced by another directory";
}

int report_open(report **out, const char *errors_path, int mode, char *err, size_t errlen)
{
    report *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&r->lock, NULL);
    *out = r;
    if (!errors_path)
        return 0;
    r->buf = malloc(REPORT_BUFFER);
    if (!r->buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (outfile_open_mode(&r->file, errors_path, mode, err, errlen) != 0)
        return -1;
    r->has_file = 1;
    memcpy(r->buf, report_errors_header, sizeof report_errors_header - 1);
    r->buf_len = sizeof report_errors_header - 1;
    return 0;
}

static void report_flush_locked(report *r)
{
    if (r->buf_len && !r->file_failed &&
        outfile_write(&r->file, r->buf, r->buf_len, r->file_error, sizeof r->file_error) != 0)
        r->file_failed = 1;
    r->buf_len = 0;
}

/* "ESCAPED-PATH",errno,"message","operation",kind */
static void report_file_line(report *r, const char *path, size_t len, int error_number,
                             const char *operation, uint32_t kind)
{
    const char *msg = report_message(error_number);
    size_t need = 4 * len + strlen(msg) * 2 + strlen(operation) * 4 + 80;
    if (r->buf_len + need > REPORT_BUFFER)
        report_flush_locked(r);
    char *line = r->buf_len + need > REPORT_BUFFER ? malloc(need) : r->buf + r->buf_len;
    if (!line) {
        r->file_failed = 1;
        snprintf(r->file_error, sizeof r->file_error, "out of memory");
        return;
    }
    size_t n = 0;
    int dropped = 0;
    line[n++] = '"';
    n += csvrow_escape(line + n, path, len, CSVROW_ESCAPE_LOSSLESS, &dropped);
    n += (size_t)sprintf(line + n, "\",%d,\"", error_number);
    n += csvrow_escape(line + n, msg, strlen(msg), CSVROW_ESCAPE_LOSSLESS, &dropped);
    line[n++] = '"';
    line[n++] = ',';
    line[n++] = '"';
    n += csvrow_escape(line + n, operation, strlen(operation), CSVROW_ESCAPE_LOSSLESS,
                       &dropped);
    line[n++] = '"';
    n += (size_t)sprintf(line + n, ",%s\n", report_kind_name(kind));
    if (line == r->buf + r->buf_len) {
        r->buf_len += n;
    } else {
        if (!r->file_failed &&
            outfile_write(&r->file, line, n, r->file_error, sizeof r->file_error) != 0)
            r->file_failed = 1;
        free(line);
    }
}

/* Entries that changed under the scan: counted, written to the error file,
 * not shown on stderr as errors. */
static void report_record_vanished(report *r, const char *path, size_t len, int error_number,
                                   const char *operation, uint32_t kind)
{
    pthread_mutex_lock(&r->lock);
    r->vanished++;
    r->replaced += kind == PWALK_ERROR_REPLACED;
    if (r->has_file)
        report_file_line(r, path, len, error_number, operation, kind);
    pthread_mutex_unlock(&r->lock);
}

static void report_record(void *ctx, const char *path, size_t len, int error_number,
                          const char *operation, uint32_t kind)
{
    report *r = ctx;
    if (!operation)
        operation = "";
    if (kind == PWALK_ERROR_VANISHED || kind == PWALK_ERROR_REPLACED) {
        report_record_vanished(r, path, len, error_number, operation, kind);
        return;
    }
    pthread_mutex_lock(&r->lock);
    r->errors++;
    size_t k = 0;
    while (k < r->kind_count && r->kinds[k].error_number != error_number)
        k++;
    if (k == r->kind_count && k < REPORT_KINDS) {
        r->kinds[k].error_number = error_number;
        r->kind_count++;
    }
    if (k < REPORT_KINDS)
        r->kinds[k].count++;
    if (r->example_count < REPORT_EXAMPLES) {
        report_example *ex = &r->examples[r->example_count];
        ex->path = strndup(path, len);
        if (ex->path) {
            ex->error_number = error_number;
            snprintf(ex->operation, sizeof ex->operation, "%s", operation);
            r->example_count++;
        }
    }
    if (r->has_file)
        report_file_line(r, path, len, error_number, operation, PWALK_ERROR_FAILED);
    pthread_mutex_unlock(&r->lock);
}

sinks_error_hook report_error_hook(report *r)
{
    sinks_error_hook h = {r, report_record, NULL};
    return h;
}

uint64_t report_error_count(report *r)
{
    pthread_mutex_lock(&r->lock);
    uint64_t n = r->errors;
    pthread_mutex_unlock(&r->lock);
    return n;
}

uint64_t report_vanished_count(report *r)
{
    pthread_mutex_lock(&r->lock);
    uint64_t n = r->vanished;
    pthread_mutex_unlock(&r->lock);
    return n;
}

int report_output_fd(report *r)
{
    return r->has_file && !r->file.is_stdout ? r->file.fd : -1;
}

int report_prepare(report *r, char *err, size_t errlen)
{
    if (!r->has_file)
        return 0;
    pthread_mutex_lock(&r->lock);
    report_flush_locked(r);
    int failed = r->file_failed;
    if (failed)
        snprintf(err, errlen, "%s", r->file_error);
    /* its directory replaced: fail before any sink publishes */
    else if (outfile_check(&r->file, err, errlen) != 0)
        failed = 1;
    pthread_mutex_unlock(&r->lock);
    return failed ? -1 : 0;
}

int report_finish(report *r, int ok, char *err, size_t errlen)
{
    if (!r->has_file)
        return 0;
    r->has_file = 0;
    pthread_mutex_lock(&r->lock);
    report_flush_locked(r);
    pthread_mutex_unlock(&r->lock);
    if (!ok || r->file_failed) {
        outfile_abort(&r->file);
        if (ok) {
            snprintf(err, errlen, "%s", r->file_error);
            return -1;
        }
        return 0;
    }
    if (outfile_commit(&r->file, err, errlen) != 0) {
        outfile_abort(&r->file);
        return -1;
    }
    return 0;
}

size_t report_errno_kinds(report *r) { return r->kind_count; }

void report_errno_kind(report *r, size_t i, int *error_number, uint64_t *count)
{
    *error_number = r->kinds[i].error_number;
    *count = r->kinds[i].count;
}

uint64_t report_replaced_count(report *r)
{
    pthread_mutex_lock(&r->lock);
    uint64_t n = r->replaced;
    pthread_mutex_unlock(&r->lock);
    return n;
}

size_t report_example_count(report *r) { return r->example_count; }

const char *report_example_at(report *r, size_t i, int *error_number, const char **operation)
{
    *error_number = r->examples[i].error_number;
    *operation = r->examples[i].operation;
    return r->examples[i].path;
}

/* ---- checkpoints ----------------------------------------------------------
 *
 * The state: whether there is an error file, its part's name and length
 * (and header length: what a part joined after another skips), the parts
 * it absorbed in earlier sessions, then every counter, so that the summary
 * of a resumed scan counts every session's records. */

#define REPORT_STATE_MAGIC 0x6b437265u /* "erCk" */
#define REPORT_STATE_VERSION 1u

typedef struct report_state {
    uint32_t has_file;
    uint64_t length, header_len;
    char *part;
    char **absorbed;
    uint32_t absorbed_count;
    report counts;      /* errors .. examples only */
} report_state;

static void report_state_free(report_state *st)
{
    free(st->part);
    for (uint32_t i = 0; i < st->absorbed_count; i++)
        free(st->absorbed[i]);
    free(st->absorbed);
    for (size_t i = 0; i < st->counts.example_count; i++)
        free(st->counts.examples[i].path);
    memset(st, 0, sizeof *st);
}

static void report_state_counters(ckstate_out *o, const report *r)
{
    ckstate_u64(o, r->errors);
    ckstate_u64(o, r->vanished);
    ckstate_u64(o, r->replaced);
    ckstate_u32(o, (uint32_t)r->kind_count);
    for (size_t k = 0; k < r->kind_count; k++) {
        ckstate_u32(o, (uint32_t)r->kinds[k].error_number);
        ckstate_u64(o, r->kinds[k].count);
    }
    ckstate_u32(o, (uint32_t)r->example_count);
    for (size_t i = 0; i < r->example_count; i++) {
        ckstate_str(o, r->examples[i].path);
        ckstate_u32(o, (uint32_t)r->examples[i].error_number);
        ckstate_str(o, r->examples[i].operation);
    }
}

int report_checkpoint(report *r, unsigned char **state, size_t *len, char *err, size_t errlen)
{
    *state = NULL;
    *len = 0;
    unsigned long long length = 0;
    ckstate_out o = {0};
    pthread_mutex_lock(&r->lock);
    int failed = 0;
    if (r->has_file) {
        report_flush_locked(r);
        failed = r->file_failed;
        if (failed)
            snprintf(err, errlen, "%s", r->file_error);
        else if (outfile_sync(&r->file, &length, err, errlen) != 0)
            failed = 1;
    }
    ckstate_u32(&o, REPORT_STATE_MAGIC);
    ckstate_u32(&o, REPORT_STATE_VERSION);
    ckstate_u32(&o, (uint32_t)r->has_file);
    if (r->has_file) {
        ckstate_u64(&o, length);
        ckstate_u64(&o, sizeof report_errors_header - 1);
        ckstate_str(&o, r->file.tmp_name ? r->file.tmp_name : "");
        ckstate_u32(&o, (uint32_t)r->file.part_count);
        for (size_t i = 0; i < r->file.part_count; i++)
            ckstate_str(&o, r->file.parts[i]);
    }
    report_state_counters(&o, r);
    pthread_mutex_unlock(&r->lock);
    if (!failed && o.failed) {
        snprintf(err, errlen, "error file checkpoint: out of memory");
        failed = 1;
    }
    if (failed) {
        free(o.buf);
        return -1;
    }
    *state = o.buf;
    *len = o.len;
    return 0;
}

/* The file fields of a state (after has_file); 0 or -1. */
static int report_state_file(ckstate_in *in, report_state *st)
{
    st->length = ckstate_get_u64(in);
    st->header_len = ckstate_get_u64(in);
    st->part = ckstate_get_str(in);
    uint32_t n = ckstate_get_u32(in);
    if (in->bad || n > in->left / 4 || st->header_len > st->length)
        return -1;
    st->absorbed = calloc(n ? n : 1, sizeof *st->absorbed);
    for (uint32_t i = 0; st->absorbed && i < n && !in->bad; i++) {
        st->absorbed[i] = ckstate_get_str(in);
        st->absorbed_count = i + 1;
    }
    return st->absorbed && !in->bad ? 0 : -1;
}

/* The counters of a state; 0 or -1. */
static int report_state_counts(ckstate_in *in, report *c)
{
    c->errors = ckstate_get_u64(in);
    c->vanished = ckstate_get_u64(in);
    c->replaced = ckstate_get_u64(in);
    uint32_t kinds = ckstate_get_u32(in);
    if (in->bad || kinds > REPORT_KINDS)
        return -1;
    for (uint32_t k = 0; k < kinds; k++) {
        c->kinds[k].error_number = (int)ckstate_get_u32(in);
        c->kinds[k].count = ckstate_get_u64(in);
    }
    c->kind_count = kinds;
    uint32_t examples = ckstate_get_u32(in);
    if (in->bad || examples > REPORT_EXAMPLES)
        return -1;
    for (uint32_t i = 0; i < examples && !in->bad; i++) {
        report_example *ex = &c->examples[i];
        ex->path = ckstate_get_str(in);
        c->example_count = ex->path ? i + 1 : i;
        ex->error_number = (int)ckstate_get_u32(in);
        char *op = ckstate_get_str(in);
        if (op)
            snprintf(ex->operation, sizeof ex->operation, "%s", op);
        free(op);
    }
    return in->bad || in->left ? -1 : 0;
}

static int report_state_decode(const unsigned char *bytes, size_t len, report_state *st)
{
    ckstate_in in = {bytes, len, 0};
    memset(st, 0, sizeof *st);
    if (ckstate_get_u32(&in) != REPORT_STATE_MAGIC ||
        ckstate_get_u32(&in) != REPORT_STATE_VERSION)
        return -1;
    st->has_file = ckstate_get_u32(&in);
    if (in.bad || st->has_file > 1 || (st->has_file && report_state_file(&in, st) != 0) ||
        report_state_counts(&in, &st->counts) != 0) {
        report_state_free(st);
        return -1;
    }
    return 0;
}

/* Add a state's counters to r's (kinds merged by errno, examples up to
 * the limit, in the order of the states). */
static void report_add_counts(report *r, report *c)
{
    r->errors += c->errors;
    r->vanished += c->vanished;
    r->replaced += c->replaced;
    for (size_t i = 0; i < c->kind_count; i++) {
        size_t k = 0;
        while (k < r->kind_count && r->kinds[k].error_number != c->kinds[i].error_number)
            k++;
        if (k == r->kind_count && k < REPORT_KINDS)
            r->kinds[r->kind_count++].error_number = c->kinds[i].error_number;
        if (k < REPORT_KINDS)
            r->kinds[k].count += c->kinds[i].count;
    }
    for (size_t i = 0; i < c->example_count && r->example_count < REPORT_EXAMPLES; i++) {
        r->examples[r->example_count++] = c->examples[i];
        c->examples[i].path = NULL; /* moved */
    }
}

/* State i's file: the first continues its part, the others' records after
 * their header are appended.  0 or -1 + message. */
static int report_resume_file(report *r, const char *errors_path, size_t i,
                              const report_state *st, char *err, size_t errlen)
{
    if (!st->has_file) {
        snprintf(err, errlen, "cannot resume '%s': the checkpoint has no error file",
                 errors_path);
        return -1;
    }
    int rc = i == 0 ? outfile_resume(&r->file, errors_path, st->part, st->length, err, errlen)
                    : outfile_append_part(&r->file, st->part, st->header_len, st->length, err,
                                          errlen);
    if (rc != 0)
        return -1;
    r->has_file = 1;
    for (uint32_t k = 0; k < st->absorbed_count; k++)
        if (outfile_adopt_part(&r->file, st->absorbed[k]) != 0) {
            snprintf(err, errlen, "cannot resume '%s': bad part name in its state", errors_path);
            return -1;
        }
    return 0;
}

int report_open_resume(report **out, const char *errors_path, int mode,
                       const unsigned char *const *states, const size_t *lens, size_t n,
                       char *err, size_t errlen)
{
    if (report_open(out, NULL, mode, err, errlen) != 0)
        return -1;
    report *r = *out;
    const char *shown = errors_path ? errors_path : "the error records";
    if (errors_path && !(r->buf = malloc(REPORT_BUFFER))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        report_state st;
        if (report_state_decode(states[i], lens[i], &st) != 0) {
            snprintf(err, errlen,
                     "cannot resume '%s': checkpoint state %zu of %zu is not one of this "
                     "error file (version %u)",
                     shown, i + 1, n, REPORT_STATE_VERSION);
            return -1;
        }
        int rc = errors_path ? report_resume_file(r, errors_path, i, &st, err, errlen) : 0;
        if (rc == 0)
            report_add_counts(r, &st.counts);
        report_state_free(&st);
        if (rc != 0) {
            report_keep(r); /* refused: report_free() must not remove the part */
            return -1;
        }
    }
    return 0;
}

void report_keep(report *r)
{
    if (!r->has_file)
        return;
    /* nothing arrived after the last checkpoint: the part is as described */
    r->has_file = 0;
    r->buf_len = 0;
    outfile_keep(&r->file);
}

void report_free(report *r)
{
    if (!r)
        return;
    if (r->has_file)
        outfile_abort(&r->file);
    for (size_t i = 0; i < r->example_count; i++)
        free(r->examples[i].path);
    free(r->buf);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
