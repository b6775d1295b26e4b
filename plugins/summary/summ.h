/*
 * summ.h -- the summary sink's modules, private to plugins/summary:
 *   fold.c      an entry into a worker's aggregate (the hot path)
 *   finalize.c  hard links, recursive totals, sorting, owner names
 *   sink.c      what every sink over the aggregate shares (options, facts,
 *               the per-worker lifecycle)
 *   tables.c    the CSV tables (plain or zstd) and summary.json
 *   digest.c    the human digest through host->log
 *   summary.c   the plugin: options, lifecycle, outputs
 * FORMAT.md is what they produce.
 */
#ifndef PWALK_SUMMARY_SUMM_H
#define PWALK_SUMMARY_SUMM_H

#include <stddef.h>
#include <stdint.h>

#include "agg.h"
#include "common/outfile.h"
#include "pwalk/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SUMM_AGE_MAX 32 /* age_days values accepted */

/* What the tables depend on besides the entries. */
typedef struct summ_conf {
    int64_t start_sec;              /* ages are measured from here      */
    int32_t age_days[SUMM_AGE_MAX]; /* strictly increasing, > 0         */
    size_t age_count;
    int64_t top_n;                  /* rows per ranking in top.csv      */
    int compress;                   /* 0 none, 1 zstd                   */
} summ_conf;

/* Parse age_days values (decimal integers > 0, strictly increasing).  0,
 * or -1 with a message naming the offending value. */
int summ_parse_ages(summ_conf *c, const char *const *values, size_t count, char *err,
                    size_t errlen);

/* ---- fold.c ---- */

/* One entry as the aggregate sees it (a pwalk_entry or a summ_link). */
typedef struct summ_item {
    uint32_t uid, gid;
    int is_dir;
    int64_t size, blocks, atime, mtime, ctime;
} summ_item;

/* The last owner and cell summ_account() found: siblings mostly share
 * them, so most entries skip the hash lookups.  Indexes (element + 1, 0 =
 * none), which stay valid as the arrays grow; pointers would not. */
typedef struct summ_cache {
    uint32_t uid, gid;
    size_t user, group, cell;
    summ_cell_key key;
} summ_cache;

/* A worker's state: its aggregate and the last-parent cache. */
typedef struct summ_worker {
    summ_agg agg;
    const summ_conf *conf;
    summ_dir *last_dir;         /* the parent of the previous file      */
    uint32_t last_top;          /* its files' top (UINT32_MAX: unknown) */
    summ_cache cache;
    struct summ_worker *next, *prev; /* the instance's open workers   */
} summ_worker;

/* An instance's open workers (sink.c: thread_open links one in,
 * thread_close unlinks it; main thread only): what a checkpoint absorbs
 * while they are idle. */
typedef struct summ_workers {
    summ_worker *head;
} summ_workers;

/* An empty aggregate and cache on conf c (next/prev untouched). */
void summ_worker_init(summ_worker *w, const summ_conf *c);
/* Fold one entry in.  0, or -1 when out of memory. */
int summ_fold(summ_worker *w, const pwalk_entry *e);

/* The bucket lower bound (days) of time t. */
int32_t summ_bucket(const summ_conf *c, int64_t t);
/* The size class index of st_size. */
uint32_t summ_size_class(int64_t size);
/* Add it to s (a directory's direct sums). */
void summ_sums_item(summ_sums *s, const summ_conf *c, const summ_item *it);
/* Add it to its user, group and cube cell (top: an index in a->tops),
 * looked up through cache (zeroed before first use with a; NULL: none).
 * 0, or -1 when out of memory. */
int summ_account(summ_agg *a, const summ_conf *c, const summ_item *it, uint32_t top,
                 summ_cache *cache);
/* The top name of an entry: the depth-0 component of path, "." for a root
 * and for non-directories at depth 0. */
void summ_top_of(const char *path, size_t len, int32_t depth, int is_dir, const char **top,
                 size_t *top_len);
/* The parent directory's path length of an entry below a root. */
size_t summ_parent_len(const char *path, uint32_t name_offset);

/* ---- sink.c: shared by the sinks over the aggregate (summary, prometheus) ---- */

/* The age_days option (its default when unset) into c: 0, or -1 with a
 * message naming the value. */
int summ_read_age_days(const pwalk_host *h, const pwalk_options *opts, summ_conf *c, char *err,
                       size_t errlen);
/* The engine's scan facts (ABI 1.3) into *facts, a pwalk_scan_facts: 1,
 * or 0 when the engine has none (facts then zeroed; before 1.3 untouched). */
int summ_scan_facts(const pwalk_host *h, pwalk_host_ctx *ctx, void *facts);
/* The bodies of thread_open (a summ_worker on conf c, linked into ws:
 * keep c until the worker is closed), consume (fold every entry) and
 * thread_close (unlink it, absorb its aggregate into `into`, free it):
 * PWALK_OK, or an error code after host->set_error. */
int summ_sink_thread_open(const pwalk_host *h, pwalk_host_ctx *ctx, const summ_conf *c,
                          summ_workers *ws, void **tstate);
int summ_sink_consume(const pwalk_host *h, pwalk_host_ctx *ctx, void *tstate,
                      const pwalk_entry *entries, size_t count);
int summ_sink_thread_close(const pwalk_host *h, pwalk_host_ctx *ctx, summ_agg *into,
                           summ_workers *ws, void *tstate);
/* The body of checkpoint() (ABI 1.4; the walk paused, every worker idle):
 * absorb every open worker's aggregate into `into` (the workers go on
 * empty), then host->checkpoint_save() one state: the names of the
 * temporaries of outs[0..n-1] (and the parts they adopted) followed by
 * `into` and c as a partial (partial.h; FORMAT.md "Checkpoints").  The
 * aggregate lives in the journal only: the temporaries hold nothing before
 * prepare(); the names let the resumed scan continue them (summ_sink_open)
 * and remove the others at the end.  PWALK_OK, or an error code after
 * host->set_error. */
int summ_sink_checkpoint(const pwalk_host *h, pwalk_host_ctx *ctx, summ_agg *into,
                         summ_workers *ws, const summ_conf *c, outfile *const *outs,
                         size_t n);

/* The earlier sessions' temporaries a resumed create() found in its states. */
typedef struct summ_leftovers {
    char **names;
    size_t count;
    int journaled;  /* resumed or checkpointed: the instance's temporaries
                       are named in a journal, finish(PWALK_SUSPENDED)
                       keeps them for the next session to continue */
} summ_leftovers;

/* In create() of a walking instance (worker_count > 0), before any output
 * is opened: merge every state the engine gives back
 * (host->checkpoint_count(), 0 for a fresh scan) into `into`, c->start_sec
 * becoming the states' (the scan's first start: the ages keep one origin
 * across sessions), so the tables come out as an uninterrupted scan's; the
 * temporaries they name into *left.  PWALK_OK, or PWALK_ERR_CONFIG after
 * set_error for a state that does not decode. */
int summ_sink_resume(const pwalk_host *h, pwalk_host_ctx *ctx, summ_agg *into, summ_conf *c,
                     summ_leftovers *left);
/* Open o on path with mode (outfile_open_mode): continuing the temporary
 * of path an earlier session left (named in left, taken out of it; cut
 * back to nothing), so a resumed session makes no new name that a kill
 * before its first checkpoint would leave behind; else a new temporary.
 * 0, or -1 with outfile's message. */
int summ_sink_open(outfile *o, const char *path, int mode, summ_leftovers *left, char *err,
                   size_t errlen);
/* Once the outputs are open: o removes left's temporaries with its own
 * (outfile_adopt_part: at commit or abort; a name no longer there is
 * fine).  left is emptied.  PWALK_OK or PWALK_ERR_NOMEM after set_error. */
int summ_sink_adopt(const pwalk_host *h, pwalk_host_ctx *ctx, outfile *o,
                    summ_leftovers *left);
void summ_leftovers_free(summ_leftovers *left);

/* ---- finalize.c ---- */

typedef struct summ_result {
    summ_dir **dirs;            /* every directory, sorted by path; its
                                   direct sums made recursive totals
                                   (SUMM_TOT)                           */
    size_t dir_count;
    summ_owner *users;          /* sorted by uid (copies)               */
    char **user_names;          /* NULL: no account (orphan)            */
    size_t user_count;
    summ_owner *groups;         /* sorted by gid                        */
    char **group_names;
    size_t group_count;
    const summ_cell **cells;    /* sorted by every key column           */
    size_t cell_count;
    summ_sums total;            /* the whole scan (files, dirs, bytes,
                                   allocated): the sum over users       */
    size_t *rank[3];            /* top.csv: dirs indexes by bytes, files,
                                   stale_bytes (non-zero only)          */
    size_t rank_count[3];
} summ_result;

/* The recursive totals of r->dirs[i]. */
#define SUMM_TOT(r, i) ((r)->dirs[i]->direct)

/* Attribute hard links into a, then build r from a (r points into a: keep
 * a until r is freed).  Each directory's direct sums become its recursive
 * totals in place (no second array per directory): a is final after this,
 * not to be merged or finalized again.  0, or -1 when out of memory. */
int summ_finalize(summ_agg *a, const summ_conf *c, summ_result *r);
void summ_result_free(summ_result *r);

/* ---- tables.c ---- */

enum { SUMM_T_DIRS, SUMM_T_USERS, SUMM_T_GROUPS, SUMM_T_USAGE, SUMM_T_TOP, SUMM_T_JSON,
       SUMM_T_COUNT };
extern const char *const summ_table_names[SUMM_T_COUNT]; /* "dirs", ..., "summary" */

/* The scan's facts for summary.json; unknown counts are -1 (null). */
typedef struct summ_facts {
    const char *version;
    const char *hostname;
    const char *const *roots;
    size_t root_count;
    int64_t threads, ranks;
    int64_t start_sec, end_sec;
    int64_t entries, errors, filtered;
    /* the sessions the scan ran in (ABI 1.4; else one: own_session) */
    size_t session_count;
    const pwalk_session *sessions;
    pwalk_session own_session;
} summ_facts;

/* (sink.c) The facts of a sink over the aggregate: the engine's (ABI 1.3),
 * else what the sink knows itself -- its hostname, workers and start, and
 * as roots the directories of res seen as roots, in a malloc'ed *own_roots
 * the caller frees after use (NULL when the engine gave the roots). */
void summ_sink_facts(const pwalk_host *h, pwalk_host_ctx *ctx, const char *hostname,
                     uint32_t workers, int64_t start_sec, const summ_result *res,
                     summ_facts *f, const char ***own_roots);

/* The output files: outs[t] opened on DIR/<name>.csv[.zst] / summary.json. */
typedef struct summ_outputs {
    outfile outs[SUMM_T_COUNT];
    int opened[SUMM_T_COUNT];
    uint64_t rows[SUMM_T_COUNT];
} summ_outputs;

/* The file name of table t ("dirs.csv.zst" with compress). */
const char *summ_table_file(int t, int compress);
/* Write every table and summary.json into o's (open) files.  0, or -1
 * with a message. */
int summ_write_tables(summ_outputs *o, const summ_result *r, const summ_agg *a,
                      const summ_conf *c, const summ_facts *f, char *err, size_t errlen);

/* ---- digest.c ---- */

/* The digest, one host->log line at a time. */
void summ_digest(const pwalk_host *host, pwalk_host_ctx *ctx, const summ_result *r,
                 const summ_agg *a, const summ_conf *c);

#ifdef __cplusplus
}
#endif

#endif
