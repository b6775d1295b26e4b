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

int report_checkpoint(report *r, unsigned char **state, size_t *len, char *err, size_t errlen)
{
    (void)r;
    *state = NULL;
    *len = 0;
    snprintf(err, errlen, "error file checkpoint: not implemented");
    return -1;
}

int report_open_resume(report **out, const char *errors_path, int mode,
                       const unsigned char *const *states, const size_t *lens, size_t n,
                       char *err, size_t errlen)
{
    (void)states;
    (void)lens;
    (void)n;
    if (report_open(out, NULL, mode, err, errlen) != 0)
        return -1;
    snprintf(err, errlen, "cannot resume '%s': not implemented",
             errors_path ? errors_path : "(no error file)");
    return -1;
}

void report_keep(report *r)
{
    (void)r;
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
