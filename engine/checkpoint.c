/*
 * checkpoint.c -- see checkpoint.h.
 *
 * Why the journal holds the pending directories and not the done ones: a
 * done set grows with the tree (hundreds of millions of paths), the pending
 * set is the walk's frontier (thousands).  A directory is done exactly when
 * its rows are in the sinks' durable parts, which the cut guarantees; so
 * "pending at the cut" is the whole of what is left to do.
 */
#define _GNU_SOURCE
#include "checkpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "pwalk/pwalk.h"
#include "remote.h"

/* The journal's counters, in this order: walk_stats' totals. */
enum {
    CKPT_ENTRIES,
    CKPT_ROWS,
    CKPT_ERRORS,
    CKPT_VANISHED,
    CKPT_STAT_ERRORS,
    CKPT_READ_ERRORS,
    CKPT_DIRS,
    CKPT_FILTERED, /* FILTER_REASON_COUNT of them */
    CKPT_COUNTERS = CKPT_FILTERED + FILTER_REASON_COUNT
};

struct ckpt {
    char *path;                 /* the journal the cuts write             */
    int resumed;
    int publishing;             /* a journal of a scan that was publishing */
    size_t published;           /* ... and how far it got (sinks, errors) */
    journal *journals;          /* the ones continued                     */
    size_t journal_count;
    char **pipeline;            /* cfg_canonical() of this run            */
    size_t pipeline_count;
    const cfg_pipeline *p;
    pwalk_session *sessions;    /* the earlier ones, then this one        */
    size_t session_count;
    uint64_t generation;
    int rank, ranks;
    uint64_t counted[CKPT_COUNTERS]; /* by the earlier sessions          */
    uint64_t final[CKPT_COUNTERS];   /* the whole scan's (ckpt_set_final) */
    /* what a resumed sink i continues: journals' states [i * jc, +jc) */
    const void **sink_states;
    size_t *sink_lens;
    const unsigned char **error_states;
    size_t *error_lens;
    /* the cut's inputs */
    sink_set *sinks;
    report *rep;
    walk_file_id dir;           /* the journal's directory, its base name */
    char *base;
    int dir_known;
    char *pending;              /* the last cut's records (reused)        */
    size_t pending_len;
    uint64_t pending_count;
    int on_disk;                /* a journal of this scan is there        */
    int cut_failed, kept;       /* ckpt_cut_failed(), ckpt_keep()         */
};

static void ckpt_counters_of(const walk_stats *s, uint64_t *c)
{
    c[CKPT_ENTRIES] = s->entries;
    c[CKPT_ROWS] = s->rows;
    c[CKPT_ERRORS] = s->errors;
    c[CKPT_VANISHED] = s->vanished;
    c[CKPT_STAT_ERRORS] = s->stat_errors;
    c[CKPT_READ_ERRORS] = s->read_errors;
    c[CKPT_DIRS] = s->dirs;
    for (int i = 0; i < FILTER_REASON_COUNT; i++)
        c[CKPT_FILTERED + i] = s->filtered[i];
}

void ckpt_add_counted(const ckpt *c, walk_stats *s)
{
    if (!c)
        return;
    const uint64_t *k = c->counted;
    s->entries += k[CKPT_ENTRIES];
    s->rows += k[CKPT_ROWS];
    s->errors += k[CKPT_ERRORS];
    s->vanished += k[CKPT_VANISHED];
    s->stat_errors += k[CKPT_STAT_ERRORS];
    s->read_errors += k[CKPT_READ_ERRORS];
    s->dirs += k[CKPT_DIRS];
    for (int i = 0; i < FILTER_REASON_COUNT; i++)
        s->filtered[i] += k[CKPT_FILTERED + i];
}

/* A fresh scan must not overwrite a journal someone meant to resume. */
static int ckpt_fresh(ckpt *c, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(c->path, &st) == 0) {
        snprintf(err, errlen,
                 "checkpoint '%s' exists: continue that scan with --resume %s, or remove it",
                 c->path, c->path);
        return -1;
    }
    if (errno != ENOENT) {
        snprintf(err, errlen, "checkpoint '%s': %s", c->path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Lines a pwalk-mpi driver makes per rank: the error file and the sinks'
 * options (their output paths are renamed per rank); a sink's plugin is
 * the same in every rank. */
static int ckpt_rank_line(const char *line)
{
    if (strncmp(line, "scan.errors=", 12) == 0)
        return 1;
    if (strncmp(line, "sink.", 5) != 0)
        return 0;
    const char *eq = strchr(line, '=');
    size_t klen = eq ? (size_t)(eq - line) : strlen(line);
    return !(klen >= 7 && memcmp(line + klen - 7, ".plugin", 7) == 0);
}

static size_t ckpt_shared_lines(char *const *in, size_t n, char **out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!ckpt_rank_line(in[i]))
            out[m++] = in[i];
    return m;
}

/* The first journal is this rank's own: the whole pipeline must match.
 * The others (a job resumed with fewer ranks absorbs other ranks'
 * journals) match but for the per-rank lines. */
static int ckpt_check(const ckpt *c, size_t k, const char *path, const journal *j, char *err,
                      size_t errlen)
{
    if (k == 0)
        return journal_check(path, j, PWALK_VERSION_STRING, c->pipeline, c->pipeline_count,
                             err, errlen);
    char **mine = calloc(c->pipeline_count + 1, sizeof *mine);
    char **theirs = calloc(j->pipeline_count + 1, sizeof *theirs);
    int rc = -1;
    if (!mine || !theirs) {
        snprintf(err, errlen, "out of memory");
    } else {
        journal shared = *j;
        shared.pipeline = theirs;
        shared.pipeline_count = ckpt_shared_lines(j->pipeline, j->pipeline_count, theirs);
        rc = journal_check(path, &shared, PWALK_VERSION_STRING, mine,
                           ckpt_shared_lines(c->pipeline, c->pipeline_count, mine), err,
                           errlen);
    }
    free(mine);
    free(theirs);
    return rc;
}

/* Read and check every journal; sum what they counted. */
static int ckpt_read_all(ckpt *c, const ckpt_setup *su, char *err, size_t errlen)
{
    c->journals = calloc(su->resume_count, sizeof *c->journals);
    if (!c->journals) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t k = 0; k < su->resume_count; k++) {
        const char *path = su->resume[k];
        journal *j = &c->journals[k];
        if (journal_read(path, j, err, errlen) != 0)
            return -1;
        c->journal_count = k + 1;
        if (ckpt_check(c, k, path, j, err, errlen) != 0)
            return -1;
        if (j->counter_count != CKPT_COUNTERS) {
            snprintf(err, errlen, "checkpoint '%s': corrupt (%zu counters, expected %d)", path,
                     j->counter_count, (int)CKPT_COUNTERS);
            return -1;
        }
        for (size_t i = 0; i < CKPT_COUNTERS; i++)
            c->counted[i] += j->counters[i];
        if (j->generation > c->generation)
            c->generation = j->generation;
        if (k == 0 && (j->flags & JOURNAL_PUBLISHING)) {
            c->publishing = 1;
            c->published = JOURNAL_PUBLISHED(j->flags);
        }
    }
    return 0;
}

/* The first journal's sessions, then this one. */
static int ckpt_sessions_init(ckpt *c, int64_t start_sec)
{
    size_t before = c->journal_count ? c->journals[0].session_count : 0;
    c->sessions = calloc(before + 1, sizeof *c->sessions);
    if (!c->sessions)
        return -1;
    if (before)
        memcpy(c->sessions, c->journals[0].sessions, before * sizeof *c->sessions);
    c->sessions[before].start_sec = start_sec ? start_sec : (int64_t)time(NULL);
    c->session_count = before + 1;
    return 0;
}

/* Where the journal lives, so that a walk of a tree holding it leaves its
 * files out (walk.h own_name).  A directory that does not stat is the
 * journal write's problem, reported there. */
static void ckpt_locate(ckpt *c)
{
    const char *slash = strrchr(c->path, '/');
    char *dir = slash ? strndup(c->path, slash == c->path ? 1 : (size_t)(slash - c->path))
                      : strdup(".");
    c->base = strdup(slash ? slash + 1 : c->path);
    struct stat st;
    if (dir && c->base && c->base[0] && stat(dir, &st) == 0) {
        c->dir.dev = (uint64_t)st.st_dev;
        c->dir.ino = (uint64_t)st.st_ino;
        c->dir_known = 1;
    }
    free(dir);
}

int ckpt_open(ckpt **out, const ckpt_setup *su, char *err, size_t errlen)
{
    *out = NULL;
    const char *path = su->resume_count ? su->resume[0] : su->p->scan.checkpoint;
    if (!path)
        return 0;
    ckpt *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path))) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *out = c;
    c->p = su->p;
    c->rank = su->rank;
    c->ranks = su->ranks;
    c->resumed = su->resume_count > 0;
    c->on_disk = c->resumed;
    char *cwd = getcwd(NULL, 0); /* NULL (removed, too long): not recorded */
    int rc = cfg_canonical(su->p, cwd, &c->pipeline, &c->pipeline_count);
    free(cwd);
    if (rc != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!c->resumed ? ckpt_fresh(c, err, errlen) != 0 : ckpt_read_all(c, su, err, errlen) != 0)
        return -1;
    if (ckpt_sessions_init(c, su->start_sec) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ckpt_locate(c);
    return 0;
}

const char *ckpt_path(const ckpt *c) { return c->path; }

void ckpt_set_path(ckpt *c, const char *path)
{
    char *copy = strdup(path);
    if (copy) {
        free(c->path);
        c->path = copy;
    }
}

int ckpt_resumed(const ckpt *c) { return c && c->resumed; }

int ckpt_completed(const ckpt *c) { return c && c->publishing; }

size_t ckpt_published(const ckpt *c) { return c ? c->published : 0; }

void ckpt_set_final(ckpt *c, const walk_stats *st, uint64_t errors, uint64_t vanished)
{
    if (!c)
        return;
    ckpt_counters_of(st, c->final);
    c->final[CKPT_ERRORS] = errors;
    c->final[CKPT_VANISHED] = vanished;
}

uint64_t ckpt_pending(const ckpt *c) { return c ? c->pending_count : 0; }

const pwalk_session *ckpt_sessions(const ckpt *c, size_t *count)
{
    *count = c ? c->session_count : 0;
    return c ? c->sessions : NULL;
}

/* Every journal names this pipeline's sinks in its order (the pipeline
 * lines were compared already: this is the journal's own consistency). */
static int ckpt_same_sinks(const ckpt *c, const sink_set *sinks, char *err, size_t errlen)
{
    for (size_t k = 0; k < c->journal_count; k++) {
        const journal *j = &c->journals[k];
        int same = j->sink_count == sinks_count(sinks);
        for (size_t i = 0; same && i < j->sink_count; i++)
            same = strcmp(j->sinks[i].name, sinks_name(sinks, i)) == 0;
        if (!same) {
            snprintf(err, errlen, "checkpoint '%s': corrupt (its sinks are not the pipeline's)",
                     k == 0 ? c->path : "(one of the journals)");
            return -1;
        }
    }
    return 0;
}

int ckpt_bind_sinks(ckpt *c, sink_set *sinks, char *err, size_t errlen)
{
    if (!c)
        return 0;
    c->sinks = sinks;
    if (sinks_can_checkpoint(sinks, err, errlen) != 0)
        return -1;
    if (!c->resumed)
        return 0;
    if (ckpt_same_sinks(c, sinks, err, errlen) != 0)
        return -1;
    size_t n = sinks_count(sinks), jc = c->journal_count;
    c->sink_states = calloc(n * jc + 1, sizeof *c->sink_states);
    c->sink_lens = calloc(n * jc + 1, sizeof *c->sink_lens);
    c->error_states = calloc(jc, sizeof *c->error_states);
    c->error_lens = calloc(jc, sizeof *c->error_lens);
    if (!c->sink_states || !c->sink_lens || !c->error_states || !c->error_lens) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t rows = 0;
        for (size_t k = 0; k < jc; k++) {
            c->sink_states[i * jc + k] = c->journals[k].sinks[i].state;
            c->sink_lens[i * jc + k] = c->journals[k].sinks[i].state_len;
            rows += c->journals[k].sinks[i].rows;
        }
        sinks_set_resume(sinks, i, c->sink_states + i * jc, c->sink_lens + i * jc, jc, rows);
    }
    for (size_t k = 0; k < jc; k++) {
        c->error_states[k] = c->journals[k].errors_state;
        c->error_lens[k] = c->journals[k].errors_state_len;
    }
    return 0;
}

size_t ckpt_errors_states(const ckpt *c, const unsigned char *const **states,
                          const size_t **lens)
{
    if (!c || !c->resumed)
        return 0;
    *states = c->error_states;
    *lens = c->error_lens;
    return c->journal_count;
}

/* walk_cut_dirs()'s callback: one pending directory's record. */
static int ckpt_add_dir(void *ctx, const walk_dir *d)
{
    ckpt *c = ctx;
    if (remote_encode(d, &c->pending, &c->pending_len) != 0)
        return -1;
    c->pending_count++;
    return 0;
}

/* The journal of this cut (its arrays borrowed from c, the sinks, rs). */
static void ckpt_fill(ckpt *c, journal *j, journal_sink *js, uint64_t *counters,
                     unsigned char *es, size_t el)
{
    memset(j, 0, sizeof *j);
    j->version = (char *)PWALK_VERSION_STRING;
    j->generation = ++c->generation;
    j->rank = c->rank;
    j->ranks = c->ranks;
    j->pipeline = c->pipeline;
    j->pipeline_count = c->pipeline_count;
    c->sessions[c->session_count - 1].end_sec = (int64_t)time(NULL);
    j->sessions = c->sessions;
    j->session_count = c->session_count;
    j->counters = counters;
    j->counter_count = CKPT_COUNTERS;
    size_t n = sinks_count(c->sinks);
    for (size_t i = 0; i < n; i++) {
        const unsigned char *state;
        js[i].name = (char *)sinks_name(c->sinks, i);
        js[i].plugin = c->p->sinks[i].plugin;
        js[i].rows = sinks_rows(c->sinks, i);
        sinks_saved_state(c->sinks, i, &state, &js[i].state_len);
        js[i].state = (unsigned char *)state;
    }
    j->sinks = js;
    j->sink_count = n;
    j->errors_state = es;
    j->errors_state_len = el;
    j->pending = (unsigned char *)c->pending;
    j->pending_len = c->pending_len;
    j->pending_count = c->pending_count;
}

/* Write the journal of c's state with these counters, the error file's
 * state (es, el) and flags: the one assembly of a cut's journal and of
 * publication's marks. */
static int ckpt_write(ckpt *c, uint64_t *counters, unsigned char *es, size_t el, uint32_t flags,
                      char *err, size_t errlen)
{
    size_t n = sinks_count(c->sinks);
    journal_sink *js = calloc(n ? n : 1, sizeof *js);
    if (!js) {
        snprintf(err, errlen, "checkpoint '%s': out of memory", c->path);
        return -1;
    }
    journal j;
    ckpt_fill(c, &j, js, counters, es, el);
    j.flags = flags;
    int rc = journal_write(c->path, &j, err, errlen);
    free(js);
    return rc;
}

/* The walk is at a cut (walk.h): make every output durable and write the
 * journal that continues from here. */
static int ckpt_cut(void *ctx, walk_run *run, int suspend, char *err, size_t errlen)
{
    ckpt *c = ctx;
    (void)suspend; /* the same journal either way: only the walk's end differs */
    c->cut_failed = 1; /* until the journal is written */
    if (sinks_checkpoint(c->sinks, err, errlen) != 0)
        return -1;
    unsigned char *es = NULL;
    size_t el = 0;
    if (report_checkpoint(c->rep, &es, &el, err, errlen) != 0)
        return -1;
    c->pending_len = 0;
    c->pending_count = 0;
    int rc = walk_cut_dirs(run, ckpt_add_dir, c);
    if (rc != 0) {
        snprintf(err, errlen, "checkpoint '%s': out of memory", c->path);
    } else {
        walk_stats now;
        uint64_t counters[CKPT_COUNTERS];
        walk_cut_stats(run, &now);
        ckpt_add_counted(c, &now);
        ckpt_counters_of(&now, counters);
        rc = ckpt_write(c, counters, es, el, 0, err, errlen);
    }
    free(es);
    if (rc == 0) {
        c->on_disk = 1;
        c->cut_failed = 0;
    }
    return rc;
}

/* Publication's progress in the journal (sinks.h's publish hook): 0 once
 * every output is whole and durable, then one more per output published,
 * so that a crash during the renames or before the journal's removal
 * leaves a journal the resume can tell about, instead of one whose parts
 * are gone. */
static int ckpt_publishing(void *ctx, size_t published, char *err, size_t errlen)
{
    ckpt *c = ctx;
    c->pending_len = 0;
    c->pending_count = 0;
    return ckpt_write(c, c->final, NULL, 0,
                      JOURNAL_PUBLISHING | (uint32_t)(published << JOURNAL_PUBLISHED_SHIFT), err,
                      errlen);
}

/* A resumed walk starts from the journals' pending directories. */
static int ckpt_resume_walk(void *ctx, walk_run *run, char *err, size_t errlen)
{
    ckpt *c = ctx;
    for (size_t k = 0; k < c->journal_count; k++) {
        const journal *j = &c->journals[k];
        char why[512] = "";
        long n = j->pending_len ? remote_import(run, (const char *)j->pending, j->pending_len,
                                                why, sizeof why)
                                : 0;
        if (n >= 0 && (uint64_t)n != j->pending_count)
            snprintf(why, sizeof why, "%ld directory records, the journal counts %llu", n,
                     (unsigned long long)j->pending_count);
        if (why[0]) {
            snprintf(err, errlen, "checkpoint '%s': corrupt pending directories: %s",
                     k == 0 ? c->path : "(one of the journals)", why);
            return -1;
        }
    }
    return 0;
}

void ckpt_walk_options(ckpt *c, sink_set *sinks, report *rep, const cfg_pipeline *p,
                       walk_options *wo)
{
    if (!c)
        return;
    c->sinks = sinks;
    c->rep = rep;
    sinks_set_publish_hook(sinks, ckpt_publishing, c);
    wo->checkpoint = ckpt_cut;
    wo->checkpoint_ctx = c;
    wo->checkpoint_every_ms = (unsigned long long)p->scan.checkpoint_every_ms;
    wo->time_limit_ms = (unsigned long long)p->scan.time_limit_ms;
    wo->checkpoint_at_start = !c->resumed; /* a resumed scan's journal exists */
    if (c->dir_known) {
        wo->own_name = c->base;
        wo->own_dir = c->dir;
    }
    if (c->resumed) {
        wo->resume = ckpt_resume_walk;
        wo->resume_ctx = c;
    }
}

void ckpt_errors_published(ckpt *c)
{
    char ignored[512];
    if (c && c->sinks)
        ckpt_publishing(c, sinks_count(c->sinks) + 1, ignored, sizeof ignored);
}

int ckpt_cut_failed(const ckpt *c) { return c && c->cut_failed; }

int ckpt_keep(ckpt *c)
{
    if (!c || !c->on_disk)
        return 0;
    c->kept = 1;
    return 1;
}

void ckpt_end(ckpt *c, int status)
{
    if (!c || c->kept || status == PWALK_INCOMPLETE || status == PWALK_USAGE)
        return; /* suspended, kept, or refused before anything changed */
    char ignored[512];
    journal_remove(c->path, ignored, sizeof ignored);
}

void ckpt_free(ckpt *c)
{
    if (!c)
        return;
    for (size_t k = 0; k < c->journal_count; k++)
        journal_free(&c->journals[k]);
    free(c->journals);
    cfg_canonical_free(c->pipeline, c->pipeline_count);
    free(c->sessions);
    free(c->sink_states);
    free(c->sink_lens);
    free(c->error_states);
    free(c->error_lens);
    free(c->pending);
    free(c->base);
    free(c->path);
    free(c);
}
