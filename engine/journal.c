/*
 * journal.c -- a scan's checkpoint journal (journal.h).
 *
 * Layout, every integer little endian:
 *   header   "PWALKCKP"  u32 format  u32 flags  u64 total length
 *            (flags: JOURNAL_PUBLISHING, published << 8; bits 1-7 are
 *            refused as corrupt)
 *   str      version                     (str/blob = u64 length + bytes)
 *   u64      generation
 *   u32 u32  rank, ranks (two's complement)
 *   u64 n    pipeline lines: str each
 *   u64 n    sessions: u64 start, u64 end (two's complement) each
 *   u64 n    counters: u64 each
 *   u64 n    sinks: str name, str plugin, u64 rows, blob state each
 *   blob     the error file's state (empty: no error file)
 *   u64      pending count
 *   blob     pending remote_record's
 *   u32      crc32 (zlib) of every byte before it
 * Strings hold no NUL (they are C strings on both sides).  The writer
 * streams (the pending list of a big tree is large, and a checkpoint every
 * few seconds must not copy it); the reader reads the whole file, checks
 * magic, format, length and checksum, then parses with every length checked
 * against the bytes left before it is used.
 */
#define _GNU_SOURCE
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/oneline.h"
#include "common/outfile.h"

#define JOURNAL_MAGIC "PWALKCKP"
#define JOURNAL_HEADER 24u          /* magic, format, reserved, total */
#define JOURNAL_TRAILER 4u          /* crc32 */
#define JOURNAL_WBUF 65536u

/* ---- little endian ------------------------------------------------------ */

static void journal_le(unsigned char *out, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++, v >>= 8)
        out[i] = (unsigned char)v;
}

static uint64_t journal_from_le(const unsigned char *in, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i > 0; i--)
        v = (v << 8) | in[i - 1];
    return v;
}

/* zlib's crc32 takes a uInt length: big blobs go in pieces. */
static uLong journal_crc(uLong crc, const unsigned char *p, size_t n)
{
    while (n > 0) {
        uInt piece = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, piece);
        p += piece;
        n -= piece;
    }
    return crc;
}

/* ---- the size, computed before a byte is written ------------------------ */

static int journal_add(uint64_t *total, uint64_t n)
{
    if (n > UINT64_MAX - *total)
        return -1;
    *total += n;
    return 0;
}

static size_t journal_strlen(const char *s)
{
    return s ? strlen(s) : 0;
}

static int journal_size_sinks(const journal *j, uint64_t *total)
{
    for (size_t i = 0; i < j->sink_count; i++) {
        const journal_sink *s = &j->sinks[i];
        if (s->state_len > 0 && !s->state)
            return -1;
        if (journal_add(total, 32) || journal_add(total, journal_strlen(s->name)) ||
            journal_add(total, journal_strlen(s->plugin)) || journal_add(total, s->state_len))
            return -1;
    }
    return 0;
}

/* The whole file's length, or -1 (EINVAL) when an array or blob that has a
 * length has no bytes, or the sum does not fit. */
static int journal_size(const journal *j, uint64_t *total)
{
    *total = JOURNAL_HEADER + JOURNAL_TRAILER;
    if ((j->pipeline_count && !j->pipeline) || (j->session_count && !j->sessions) ||
        (j->counter_count && !j->counters) || (j->sink_count && !j->sinks) ||
        (j->errors_state_len && !j->errors_state) || (j->pending_len && !j->pending))
        return -1;
    if (journal_add(total, 8 + journal_strlen(j->version) + 8 + 8 + 8 + 8 + 8 + 8 + 8 + 8 + 8))
        return -1;
    for (size_t i = 0; i < j->pipeline_count; i++)
        if (journal_add(total, 8) || journal_add(total, journal_strlen(j->pipeline[i])))
            return -1;
    if (j->session_count > UINT64_MAX / 16 || journal_add(total, (uint64_t)j->session_count * 16))
        return -1;
    if (j->counter_count > UINT64_MAX / 8 || journal_add(total, (uint64_t)j->counter_count * 8))
        return -1;
    if (journal_size_sinks(j, total) != 0)
        return -1;
    if (journal_add(total, j->errors_state_len) || journal_add(total, j->pending_len))
        return -1;
    return 0;
}

/* ---- writing ------------------------------------------------------------ */

typedef struct journal_out {
    outfile *f;                 /* the one atomic writer (common/outfile) */
    int failed;                 /* the first write failed: sticky         */
    char err[1024];             /* ... and why                            */
    uLong crc;
    size_t used;
    unsigned char buf[JOURNAL_WBUF];
} journal_out;

static void journal_write_out(journal_out *o, const unsigned char *p, size_t n)
{
    if (!o->failed && n > 0 && outfile_write(o->f, p, n, o->err, sizeof o->err) != 0)
        o->failed = 1;
}

static void journal_flush(journal_out *o)
{
    journal_write_out(o, o->buf, o->used);
    o->used = 0;
}

/* Bytes into the file and the checksum; a blob bigger than the buffer
 * goes straight to the file. */
static void journal_put(journal_out *o, const void *data, size_t n)
{
    const unsigned char *p = data;
    if (o->failed || n == 0)
        return;
    o->crc = journal_crc(o->crc, p, n);
    if (n > sizeof o->buf - o->used) {
        journal_flush(o);
        if (n >= sizeof o->buf) {
            journal_write_out(o, p, n);
            return;
        }
    }
    memcpy(o->buf + o->used, p, n);
    o->used += n;
}

static void journal_put_u(journal_out *o, uint64_t v, size_t n)
{
    unsigned char b[8];
    journal_le(b, v, n);
    journal_put(o, b, n);
}

static void journal_put_blob(journal_out *o, const void *p, size_t n)
{
    journal_put_u(o, n, 8);
    journal_put(o, p, n);
}

static void journal_put_str(journal_out *o, const char *s)
{
    journal_put_blob(o, s ? s : "", journal_strlen(s));
}

/* Everything after the header, then the checksum; 0 or -1 (o->err). */
static int journal_put_all(journal_out *o, const journal *j, uint64_t total)
{
    journal_put(o, JOURNAL_MAGIC, 8);
    journal_put_u(o, JOURNAL_FORMAT, 4);
    journal_put_u(o, j->flags, 4);
    journal_put_u(o, total, 8);
    journal_put_str(o, j->version);
    journal_put_u(o, j->generation, 8);
    journal_put_u(o, (uint32_t)j->rank, 4);
    journal_put_u(o, (uint32_t)j->ranks, 4);
    journal_put_u(o, j->pipeline_count, 8);
    for (size_t i = 0; i < j->pipeline_count; i++)
        journal_put_str(o, j->pipeline[i]);
    journal_put_u(o, j->session_count, 8);
    for (size_t i = 0; i < j->session_count; i++) {
        journal_put_u(o, (uint64_t)j->sessions[i].start_sec, 8);
        journal_put_u(o, (uint64_t)j->sessions[i].end_sec, 8);
    }
    journal_put_u(o, j->counter_count, 8);
    for (size_t i = 0; i < j->counter_count; i++)
        journal_put_u(o, j->counters[i], 8);
    journal_put_u(o, j->sink_count, 8);
    for (size_t i = 0; i < j->sink_count; i++) {
        journal_put_str(o, j->sinks[i].name);
        journal_put_str(o, j->sinks[i].plugin);
        journal_put_u(o, j->sinks[i].rows, 8);
        journal_put_blob(o, j->sinks[i].state, j->sinks[i].state_len);
    }
    journal_put_blob(o, j->errors_state, j->errors_state_len);
    journal_put_u(o, j->pending_count, 8);
    journal_put_blob(o, j->pending, j->pending_len);
    uLong crc = o->crc;
    journal_put_u(o, crc, 4);
    journal_flush(o);
    return o->failed ? -1 : 0;
}

/* Why through common/outfile: it is the project's one atomic writer --
 * ".BASE.pwalk-tmp-XXXXXX" made with O_EXCL | O_NOFOLLOW beside the final
 * name in a directory opened once, written, fdatasync'ed, closed (a
 * failed write-back shows there), renamed over BASE, the directory
 * synced; removed on any failure.  A crash at any instant leaves the old
 * journal or the new one. */
int journal_write(const char *path, const journal *j, char *err, size_t errlen)
{
    uint64_t total;
    if (journal_size(j, &total) != 0) {
        oneline_format(err, errlen, "checkpoint '%s': cannot write: %s", path, strerror(EINVAL));
        return -1;
    }
    outfile f;
    journal_out *o = calloc(1, sizeof *o);
    if (!o) {
        oneline_format(err, errlen, "checkpoint '%s': %s", path, strerror(ENOMEM));
        return -1;
    }
    int rc = -1;
    if (outfile_open_mode(&f, path, 0600, o->err, sizeof o->err) == 0) {
        o->f = &f;
        o->crc = crc32(0L, Z_NULL, 0);
        if (journal_put_all(o, j, total) != 0) /* o->err says why */
            outfile_abort(&f);
        else
            rc = outfile_commit(&f, o->err, sizeof o->err);
    }
    if (rc != 0)
        oneline_format(err, errlen, "checkpoint journal: %s", o->err);
    free(o);
    return rc;
}

/* PATH's directory as given ("." when none) and the name in it. */
static int journal_split(const char *path, char **dir, char **base)
{
    const char *slash = strrchr(path, '/');
    *dir = !slash ? strdup(".") : slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
    *base = strdup(slash ? slash + 1 : path);
    if (!*dir || !*base) {
        free(*dir);
        free(*base);
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

/* ---- reading ------------------------------------------------------------ */

typedef struct journal_in {
    const unsigned char *p;
    size_t left;
    int bad;                    /* a length ran past the end: sticky      */
} journal_in;

static uint64_t journal_get_u(journal_in *in, size_t n)
{
    if (in->bad || in->left < n) {
        in->bad = 1;
        return 0;
    }
    uint64_t v = journal_from_le(in->p, n);
    in->p += n;
    in->left -= n;
    return v;
}

/* A blob's bytes, copied (NULL when empty or bad). */
static unsigned char *journal_get_blob(journal_in *in, size_t *len)
{
    uint64_t n = journal_get_u(in, 8);
    *len = 0;
    if (in->bad || n == 0)
        return NULL;
    if (n > in->left) {
        in->bad = 1;
        return NULL;
    }
    unsigned char *b = malloc((size_t)n);
    if (!b) {
        in->bad = 1;
        return NULL;
    }
    memcpy(b, in->p, (size_t)n);
    in->p += n;
    in->left -= (size_t)n;
    *len = (size_t)n;
    return b;
}

/* A string: length-checked, no NUL inside, NUL-terminated copy. */
static char *journal_get_str(journal_in *in)
{
    uint64_t n = journal_get_u(in, 8);
    if (in->bad || n > in->left || memchr(in->p, '\0', (size_t)n)) {
        in->bad = 1;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        in->bad = 1;
        return NULL;
    }
    memcpy(s, in->p, (size_t)n);
    s[n] = '\0';
    in->p += n;
    in->left -= (size_t)n;
    return s;
}

/* A count of elements each at least min_size bytes on the wire, and an
 * array of elem_size for them (NULL when 0).  A count that the bytes left
 * cannot hold is refused before anything is allocated. */
static void *journal_get_array(journal_in *in, size_t min_size, size_t elem_size,
                               size_t *count)
{
    uint64_t n = journal_get_u(in, 8);
    *count = 0;
    if (in->bad || n == 0)
        return NULL;
    if (n > in->left / min_size || n > SIZE_MAX / elem_size) {
        in->bad = 1;
        return NULL;
    }
    void *a = calloc((size_t)n, elem_size);
    if (!a) {
        in->bad = 1;
        return NULL;
    }
    *count = (size_t)n;
    return a;
}

static void journal_get_lists(journal_in *in, journal *j)
{
    j->pipeline = journal_get_array(in, 8, sizeof *j->pipeline, &j->pipeline_count);
    for (size_t i = 0; i < j->pipeline_count && !in->bad; i++)
        j->pipeline[i] = journal_get_str(in);
    if (!in->bad)
        j->sessions = journal_get_array(in, 16, sizeof *j->sessions, &j->session_count);
    for (size_t i = 0; i < j->session_count && !in->bad; i++) {
        j->sessions[i].start_sec = (int64_t)journal_get_u(in, 8);
        j->sessions[i].end_sec = (int64_t)journal_get_u(in, 8);
    }
    if (!in->bad)
        j->counters = journal_get_array(in, 8, sizeof *j->counters, &j->counter_count);
    for (size_t i = 0; i < j->counter_count && !in->bad; i++)
        j->counters[i] = journal_get_u(in, 8);
    if (!in->bad)
        j->sinks = journal_get_array(in, 32, sizeof *j->sinks, &j->sink_count);
    for (size_t i = 0; i < j->sink_count && !in->bad; i++) {
        journal_sink *s = &j->sinks[i];
        s->name = journal_get_str(in);
        s->plugin = journal_get_str(in);
        s->rows = journal_get_u(in, 8);
        s->state = journal_get_blob(in, &s->state_len);
    }
}

/* The fields between header and checksum; 0, or -1 (j partly filled). */
static int journal_parse(const unsigned char *body, size_t len, journal *j)
{
    journal_in in = {body, len, 0};
    j->version = journal_get_str(&in);
    j->generation = journal_get_u(&in, 8);
    j->rank = (int32_t)(uint32_t)journal_get_u(&in, 4);
    j->ranks = (int32_t)(uint32_t)journal_get_u(&in, 4);
    journal_get_lists(&in, j);
    j->errors_state = journal_get_blob(&in, &j->errors_state_len);
    j->pending_count = journal_get_u(&in, 8);
    j->pending = journal_get_blob(&in, &j->pending_len);
    return in.bad || in.left != 0 ? -1 : 0;
}

/* The whole file into memory (*buf malloc'ed), reading to its end whatever
 * fstat said.  0, or -1 with errno (EINVAL: not a regular file). */
static int journal_slurp(int fd, unsigned char **buf, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    if (!S_ISREG(st.st_mode)) {
        errno = EINVAL;
        return -1;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    if ((off_t)(cap - 1) != st.st_size || cap == 0) {
        errno = EFBIG;
        return -1;
    }
    unsigned char *b = malloc(cap);
    for (;;) {
        if (!b)
            return errno = ENOMEM, -1;
        if (n == cap) {
            unsigned char *g = cap <= SIZE_MAX / 2 ? realloc(b, cap * 2) : NULL;
            if (!g)
                free(b);
            b = g;
            cap *= 2;
            continue;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int saved = errno;
            free(b);
            errno = saved;
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *buf = b;
    *len = n;
    return 0;
}

/* Magic, format, length, checksum, then the fields: the refusal's text
 * (after "checkpoint 'PATH': ") into why, or 0. */
static int journal_decode(const unsigned char *b, size_t n, journal *out, char *why,
                          size_t whylen)
{
    if (n < JOURNAL_HEADER || memcmp(b, JOURNAL_MAGIC, 8) != 0) {
        snprintf(why, whylen, "not a pwalk checkpoint journal");
        return -1;
    }
    uint64_t format = journal_from_le(b + 8, 4);
    if (format != JOURNAL_FORMAT) {
        snprintf(why, whylen, "journal format %llu, this pwalk reads format %d",
                 (unsigned long long)format, JOURNAL_FORMAT);
        return -1;
    }
    uint64_t total = journal_from_le(b + 16, 8);
    if (total > n) {
        snprintf(why, whylen, "truncated (%zu of %llu bytes)", n, (unsigned long long)total);
        return -1;
    }
    snprintf(why, whylen, "corrupt (checksum mismatch)");
    if (total != n || n < JOURNAL_HEADER + JOURNAL_TRAILER ||
        (journal_from_le(b + 12, 4) & ~(uint64_t)JOURNAL_FLAGS_KNOWN) != 0)
        return -1;
    uLong crc = journal_crc(crc32(0L, Z_NULL, 0), b, n - JOURNAL_TRAILER);
    if (journal_from_le(b + n - JOURNAL_TRAILER, 4) != (crc & 0xffffffffu))
        return -1;
    if (journal_parse(b + JOURNAL_HEADER, n - JOURNAL_HEADER - JOURNAL_TRAILER, out) != 0) {
        journal_free(out);
        return -1;
    }
    out->flags = (uint32_t)journal_from_le(b + 12, 4);
    return 0;
}

int journal_read(const char *path, journal *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    unsigned char *buf = NULL;
    size_t len = 0;
    if (fd < 0 || journal_slurp(fd, &buf, &len) != 0) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        if (saved == EINVAL)
            oneline_format(err, errlen, "checkpoint '%s': not a pwalk checkpoint journal", path);
        else
            oneline_format(err, errlen, "checkpoint '%s': %s", path, strerror(saved));
        return -1;
    }
    close(fd);
    char why[128];
    int rc = journal_decode(buf, len, out, why, sizeof why);
    free(buf);
    if (rc != 0)
        oneline_format(err, errlen, "checkpoint '%s': %s", path, why);
    return rc;
}

/* ---- the resume checks -------------------------------------------------- */

static size_t journal_key_len(const char *line)
{
    const char *eq = strchr(line, '=');
    return eq ? (size_t)(eq - line) : strlen(line);
}

static const char *journal_value(const char *line)
{
    const char *eq = strchr(line, '=');
    return eq ? eq + 1 : "";
}

/* Whether a line with line's key is among lines[from..count). */
static int journal_has_key(const char *line, char *const *lines, size_t from, size_t count)
{
    size_t k = journal_key_len(line);
    for (size_t i = from; i < count; i++)
        if (journal_key_len(lines[i]) == k && memcmp(lines[i], line, k) == 0)
            return 1;
    return 0;
}

/* The first difference between old (the journal's) and now, at old[i] and
 * now[i] (either may be past its end): the same key with another value, a
 * line added (old's key comes later in now), or a line gone. */
static void journal_pipeline_diff(const char *path, char *const *old, size_t on,
                                  char *const *now, size_t nn, size_t i, char *err,
                                  size_t errlen)
{
    const char *o = i < on ? old[i] : NULL, *n = i < nn ? now[i] : NULL;
    if (o && n && journal_key_len(o) == journal_key_len(n) &&
        memcmp(o, n, journal_key_len(o)) == 0)
        oneline_format(err, errlen,
                       "checkpoint '%s' is of another pipeline: '%.*s' was '%s', now '%s'", path,
                       (int)journal_key_len(o), o, journal_value(o), journal_value(n));
    else if (n && (!o || journal_has_key(o, now, i + 1, nn)))
        oneline_format(err, errlen,
                       "checkpoint '%s' is of another pipeline: '%.*s' was not set, now '%s'",
                       path, (int)journal_key_len(n), n, journal_value(n));
    else
        oneline_format(err, errlen,
                       "checkpoint '%s' is of another pipeline: '%.*s' was '%s', now not set",
                       path, (int)journal_key_len(o), o, journal_value(o));
}

int journal_check(const char *path, const journal *j, const char *version,
                  char *const *pipeline, size_t count, char *err, size_t errlen)
{
    const char *was = j->version ? j->version : "";
    if (strcmp(was, version ? version : "") != 0) {
        oneline_format(err, errlen, "checkpoint '%s' was written by pwalk %s; this is pwalk %s",
                       path, was, version ? version : "");
        return -1;
    }
    size_t i = 0;
    while (i < j->pipeline_count && i < count && strcmp(j->pipeline[i], pipeline[i]) == 0)
        i++;
    if (i == j->pipeline_count && i == count)
        return 0;
    journal_pipeline_diff(path, j->pipeline, j->pipeline_count, pipeline, count, i, err, errlen);
    return -1;
}

void journal_free(journal *j)
{
    if (!j)
        return;
    free(j->version);
    for (size_t i = 0; i < j->pipeline_count; i++)
        free(j->pipeline[i]);
    free(j->pipeline);
    free(j->sessions);
    free(j->counters);
    for (size_t i = 0; i < j->sink_count; i++) {
        free(j->sinks[i].name);
        free(j->sinks[i].plugin);
        free(j->sinks[i].state);
    }
    free(j->sinks);
    free(j->errors_state);
    free(j->pending);
    memset(j, 0, sizeof *j);
}

/* The temporaries a killed journal_write() left beside PATH: regular files
 * of ours only (a name someone else planted is theirs).  Best effort. */
static void journal_remove_tmps(const char *path)
{
    char *dir, *base;
    if (journal_split(path, &dir, &base) != 0)
        return;
    int dfd = base[0] ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d && dfd >= 0)
        close(dfd);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        struct stat st;
        if (outfile_is_tmp_of(e->d_name, base) &&
            fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            st.st_uid == geteuid())
            unlinkat(dfd, e->d_name, 0);
    }
    if (d)
        closedir(d);
    free(dir);
    free(base);
}

int journal_remove(const char *path, char *err, size_t errlen)
{
    journal_remove_tmps(path);
    if (unlink(path) == 0 || errno == ENOENT)
        return 0;
    oneline_format(err, errlen, "checkpoint '%s': cannot remove: %s", path, strerror(errno));
    return -1;
}
