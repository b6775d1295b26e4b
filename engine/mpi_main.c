/*
 * mpi_main.c -- pwalk-mpi: one scan spread over the ranks of an MPI job.
 *
 *   mpirun -np 4 pwalk-mpi -c PIPELINE.yaml [--set K=V] [-t N] [PATH ...]
 *
 * Every rank runs the ordinary threaded walk and the pipeline's sinks, each
 * sink writing its own shard (scan.part-0003.csv.zst).  Rank 0 starts with
 * the roots; directories move between ranks as records (remote.h; walk.h,
 * "Walks shared between processes").
 *
 * Load balancing and termination: rank 0's main thread is the manager.
 * Every rank reports (idle, work messages sent, work messages received) to
 * it whenever one of the three changes.  For each idle rank the manager
 * asks one busy rank to give it work (GIVE); the donor sends half of its
 * queued directories (WORK) or says it has none (NOWORK).  The scan is over
 * when every rank's last report says idle and the sent and received counts
 * add up: no WORK message is in flight, so no rank can become busy again.
 * Rank 0 then sends DONE; every walk ends and commits its shards.
 *
 * Only the main thread of each rank calls MPI (MPI_THREAD_FUNNELED): the
 * walk calls tick() on it every few milliseconds.
 *
 * After the walk the ranks gather their results at rank 0, which writes the
 * manifest last, only when every rank committed its shards.  A rank that
 * fails after the scan started (an output error, a signal) aborts the whole
 * job: no manifest, non-zero exit.  Usage errors found before the scan
 * (bad YAML, unknown plugin, a mutating plugin) end every rank with exit 2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <mpi.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/outname.h"
#include "config.h"
#include "pipeline.h"
#include "remote.h"
#include "shard.h"
#include "sinks.h"
#include "threads.h"
#include "walk.h"

enum mpi_tag { TAG_STATUS = 1, TAG_WORK, TAG_GIVE, TAG_NOWORK, TAG_DONE };

/* Most directories one GIVE hands over: enough to keep a rank busy for a
 * while, few enough that a skewed tree is not moved wholesale. */
#define COORD_GIVE_MAX 256
/* How long a donor that had nothing to give is not asked again (s). */
#define COORD_DRY_SECONDS 0.01

static const char usage_text[] =
    "Usage: mpirun -np N pwalk-mpi -c PIPELINE.yaml [OPTIONS] [PATH ...]\n"
    "\n"
    "Scans the trees under PATH (or scan.roots) with every rank of the MPI job;\n"
    "each rank runs the pipeline's sinks and writes its own shard of each output\n"
    "(scan.csv.zst -> scan.part-0003.csv.zst).  Rank 0 writes the manifest\n"
    "(scan.manifest.json beside the first sink's output) last and prints its\n"
    "path on stdout; without a manifest the shards are incomplete.\n"
    "\n"
    "  -c, --config FILE       the pipeline (required); PATHs replace scan.roots\n"
    "      --set SINK.KEY=VAL  set a sink option (or scan.KEY=VAL); repeatable\n"
    "  -t, --threads N         worker threads per rank\n"
    "      --manifest FILE     where the manifest goes\n"
    "  -q, --quiet             no summary line on success\n"
    "  -h, --help              this text\n"
    "\n"
    "Exit status: 0 complete; 1 complete but some entries could not be read;\n"
    "2 bad usage or configuration (nothing written); 3 or a rank's abort status:\n"
    "the scan did not complete (no manifest); 128+N stopped by signal N.\n";

/* ---- the coordinator --------------------------------------------------------- */

typedef struct pending_send {
    MPI_Request request;
    void *buf;
} pending_send;

typedef struct coord {
    int rank, size;
    walk_run *run;
    int done;
    /* this rank's counters and what it last told the manager */
    unsigned long long sent, recvd;
    int last_idle;
    unsigned long long last_sent, last_recvd;
    pending_send *pending;
    size_t pending_count, pending_cap;
    /* rank 0 only: the last report of every rank */
    int *idle;
    unsigned long long *sent_by, *recvd_by;
    int *donor_for;     /* the rank asked to give to this idle rank, or -1 */
    double *dry_until;
    int next_donor;
    unsigned long long moves;  /* WORK messages, for the summary */
} coord;

static double now_seconds(void) { return MPI_Wtime(); }

static void coord_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void coord_fail(const char *fmt, ...)
{
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pwalk-mpi: rank %d: ", rank);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    MPI_Abort(MPI_COMM_WORLD, PIPELINE_FAILED);
    exit(PIPELINE_FAILED);
}

/* Send without blocking; buf (malloc'ed) is freed once MPI is done with it. */
static void coord_send(coord *c, int to, int tag, void *buf, int len)
{
    if (c->pending_count == c->pending_cap) {
        size_t cap = c->pending_cap ? c->pending_cap * 2 : 16;
        pending_send *p = realloc(c->pending, cap * sizeof *p);
        if (!p)
            coord_fail("out of memory");
        c->pending = p;
        c->pending_cap = cap;
    }
    pending_send *ps = &c->pending[c->pending_count++];
    ps->buf = buf;
    MPI_Isend(buf, len, MPI_BYTE, to, tag, MPI_COMM_WORLD, &ps->request);
}

static void coord_send_small(coord *c, int to, int tag, const void *data, int len)
{
    void *buf = malloc(len ? (size_t)len : 1);
    if (!buf)
        coord_fail("out of memory");
    if (len)
        memcpy(buf, data, (size_t)len);
    coord_send(c, to, tag, buf, len);
}

static void coord_reap_sends(coord *c)
{
    size_t kept = 0;
    for (size_t i = 0; i < c->pending_count; i++) {
        int flag = 0;
        MPI_Test(&c->pending[i].request, &flag, MPI_STATUS_IGNORE);
        if (flag)
            free(c->pending[i].buf);
        else
            c->pending[kept++] = c->pending[i];
    }
    c->pending_count = kept;
}

/* Rank 0: a report from rank r (or from itself). */
static void manager_report(coord *c, int r, int idle, unsigned long long sent,
                           unsigned long long recvd)
{
    if (!idle || recvd != c->recvd_by[r])
        c->donor_for[r] = -1;  /* it got work, or the asked donor is done */
    c->idle[r] = idle;
    c->sent_by[r] = sent;
    c->recvd_by[r] = recvd;
}

static void manager_nowork(coord *c, int donor, int target)
{
    if (c->donor_for[target] == donor)
        c->donor_for[target] = -1;
    c->dry_until[donor] = now_seconds() + COORD_DRY_SECONDS;
}

/* Hand half of the queued directories to target. */
static void coord_give(coord *c, int target)
{
    if (c->done || target == c->rank)
        return;
    size_t max = walk_remote_queued(c->run) / 2;
    if (max < 1)
        max = 1;
    if (max > COORD_GIVE_MAX)
        max = COORD_GIVE_MAX;
    char *buf = NULL;
    size_t len = 0;
    long n = remote_export(c->run, max, &buf, &len);
    if (n < 0)
        coord_fail("out of memory while handing work to rank %d", target);
    if (n > 0) {
        if (len > INT_MAX)
            coord_fail("work message too large (%zu bytes)", len);
        coord_send(c, target, TAG_WORK, buf, (int)len);
        c->sent++;
        return;
    }
    free(buf);
    if (c->rank == 0)
        manager_nowork(c, 0, target);
    else
        coord_send_small(c, 0, TAG_NOWORK, &target, sizeof target);
}

static void coord_end(coord *c)
{
    c->done = 1;
    walk_remote_end(c->run);
}

static void manager_step(coord *c)
{
    int all_idle = 1;
    unsigned long long sent = 0, recvd = 0;
    for (int r = 0; r < c->size; r++) {
        all_idle &= c->idle[r];
        sent += c->sent_by[r];
        recvd += c->recvd_by[r];
    }
    if (all_idle && sent == recvd) {
        for (int r = 1; r < c->size; r++)
            coord_send_small(c, r, TAG_DONE, NULL, 0);
        c->moves = sent;
        coord_end(c);
        return;
    }
    double now = now_seconds();
    for (int i = 0; i < c->size; i++) {
        if (!c->idle[i] || c->donor_for[i] >= 0)
            continue;
        int donor = -1;
        for (int k = 0; k < c->size; k++) {
            int j = (c->next_donor + k) % c->size;
            if (j != i && !c->idle[j] && c->dry_until[j] <= now) {
                donor = j;
                break;
            }
        }
        if (donor < 0)
            return;  /* nobody has work to spare right now */
        c->next_donor = (donor + 1) % c->size;
        c->donor_for[i] = donor;
        if (donor == 0)
            coord_give(c, i);
        else
            coord_send_small(c, donor, TAG_GIVE, &i, sizeof i);
    }
}

/* The next message addressed to this rank, if one has arrived (malloc'ed;
 * the caller frees it); NULL when there is none. */
static char *coord_try_recv(int *from, int *tag, int *len)
{
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
    if (!flag)
        return NULL;
    MPI_Get_count(&st, MPI_BYTE, len);
    char *buf = malloc(*len ? (size_t)*len : 1);
    if (!buf)
        coord_fail("out of memory");
    MPI_Recv(buf, *len, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    *from = st.MPI_SOURCE;
    *tag = st.MPI_TAG;
    return buf;
}

static void coord_receive(coord *c)
{
    int from, tag, len;
    char *buf;
    while ((buf = coord_try_recv(&from, &tag, &len)) != NULL) {
        if (tag == TAG_WORK) {
            char err[512];
            c->recvd++;
            if (!c->done && remote_import(c->run, buf, (size_t)len, err, sizeof err) < 0)
                coord_fail("work from rank %d: %s", from, err);
        } else if (tag == TAG_GIVE && len == (int)sizeof(int)) {
            int target;
            memcpy(&target, buf, sizeof target);
            if (target >= 0 && target < c->size)
                coord_give(c, target);
        } else if (tag == TAG_NOWORK && c->rank == 0 && len == (int)sizeof(int)) {
            int target;
            memcpy(&target, buf, sizeof target);
            if (target >= 0 && target < c->size)
                manager_nowork(c, from, target);
        } else if (tag == TAG_STATUS && c->rank == 0 &&
                   len == (int)(3 * sizeof(unsigned long long))) {
            unsigned long long v[3];
            memcpy(v, buf, sizeof v);
            manager_report(c, from, (int)v[0], v[1], v[2]);
        } else if (tag == TAG_DONE) {
            coord_end(c);
        }
        free(buf);
        if (c->done)
            return;
    }
}

/* Called by the walk on this rank's main thread every few milliseconds. */
static void coord_tick(void *ctx, walk_run *run)
{
    coord *c = ctx;
    c->run = run;
    coord_reap_sends(c);
    if (c->done)
        return;
    coord_receive(c);
    if (c->done)
        return;
    int idle = walk_remote_idle(run);
    if (idle != c->last_idle || c->sent != c->last_sent || c->recvd != c->last_recvd) {
        c->last_idle = idle;
        c->last_sent = c->sent;
        c->last_recvd = c->recvd;
        if (c->rank == 0) {
            manager_report(c, 0, idle, c->sent, c->recvd);
        } else {
            unsigned long long v[3] = {(unsigned long long)idle, c->sent, c->recvd};
            coord_send_small(c, 0, TAG_STATUS, v, sizeof v);
        }
    }
    if (c->rank == 0)
        manager_step(c);
}

static int coord_init(coord *c, int rank, int size)
{
    memset(c, 0, sizeof *c);
    c->rank = rank;
    c->size = size;
    c->last_idle = -1;
    if (rank != 0)
        return 0;
    c->idle = calloc((size_t)size, sizeof *c->idle);
    c->sent_by = calloc((size_t)size, sizeof *c->sent_by);
    c->recvd_by = calloc((size_t)size, sizeof *c->recvd_by);
    c->donor_for = calloc((size_t)size, sizeof *c->donor_for);
    c->dry_until = calloc((size_t)size, sizeof *c->dry_until);
    if (!c->idle || !c->sent_by || !c->recvd_by || !c->donor_for || !c->dry_until)
        return -1;
    for (int r = 0; r < size; r++)
        c->donor_for[r] = -1;  /* every rank is busy until it says otherwise */
    return 0;
}

/* After the walk: finish our sends and swallow what was still addressed to
 * us (a late GIVE or report), so MPI_Finalize finds nothing pending. */
static void coord_drain(coord *c)
{
    MPI_Request barrier;
    MPI_Ibarrier(MPI_COMM_WORLD, &barrier);
    for (;;) {
        int from, tag, len;
        char *late = coord_try_recv(&from, &tag, &len);
        if (late) {
            free(late);
            continue;
        }
        coord_reap_sends(c);
        int done = 0;
        MPI_Test(&barrier, &done, MPI_STATUS_IGNORE);
        if (done && c->pending_count == 0)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static void coord_free(coord *c)
{
    free(c->pending);
    free(c->idle);
    free(c->sent_by);
    free(c->recvd_by);
    free(c->donor_for);
    free(c->dry_until);
}

/* ---- set-up ------------------------------------------------------------------ */

typedef struct mpi_cli {
    const char *config;
    char **sets;
    size_t set_count;
    long threads;
    const char *manifest;
    int quiet;
} mpi_cli;

enum { OPT_SET = 256, OPT_MANIFEST };

/* Parse the command line; -1 with a message on bad usage, 1 for --help. */
static int parse_cli(int argc, char **argv, mpi_cli *c, char *err, size_t errlen)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, OPT_SET},
        {"threads", required_argument, NULL, 't'},
        {"manifest", required_argument, NULL, OPT_MANIFEST},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":c:t:qh", longs, NULL)) != -1) {
        switch (opt) {
        case 'c':
            c->config = optarg;
            break;
        case OPT_SET: {
            char **grown = realloc(c->sets, (c->set_count + 1) * sizeof *grown);
            if (!grown) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            c->sets = grown;
            c->sets[c->set_count++] = optarg;
            break;
        }
        case 't': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || v < 1 || v > THREADS_MAX) {
                snprintf(err, errlen, "--threads: '%s' is not a number from 1 to %d", optarg,
                         THREADS_MAX);
                return -1;
            }
            c->threads = v;
            break;
        }
        case OPT_MANIFEST:
            c->manifest = optarg;
            break;
        case 'q':
            c->quiet = 1;
            break;
        case 'h':
            return 1;
        case ':':
            snprintf(err, errlen, "option '%s' needs a value (see --help)", argv[optind - 1]);
            return -1;
        default:
            snprintf(err, errlen, "unknown option '%s' (see --help)", argv[optind - 1]);
            return -1;
        }
    }
    if (!c->config) {
        snprintf(err, errlen, "-c PIPELINE.yaml is required (see --help)");
        return -1;
    }
    return 0;
}

static int set_sink_path(cfg_sink *s, const char *path, char *err, size_t errlen)
{
    if (cfg_sink_set(s, "path", path) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static const char *sink_option(const cfg_sink *s, const char *key)
{
    for (size_t i = 0; i < s->option_count; i++)
        if (strcmp(s->options[i].key, key) == 0 && !s->options[i].is_list)
            return s->options[i].scalar;
    return NULL;
}

/* Everything that can be wrong before the scan: the config, the sinks
 * (none may change the filesystem; each must write a file), the shard and
 * manifest names.  Fills sink_paths (unsharded) and rewrites each sink's
 * path and scan.errors to this rank's shard. */
static int prepare(int argc, char **argv, int rank, cfg_pipeline *p, char ***sink_paths,
                   char **errors_path, char *manifest, size_t manifest_len, mpi_cli *c,
                   char *err, size_t errlen)
{
    cfg_init_defaults(p);
    int rc = parse_cli(argc, argv, c, err, errlen);
    if (rc != 0)
        return rc;
    cfg_free(p);  /* cfg_load_file() overwrites without freeing */
    if (cfg_load_file(c->config, p, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < c->set_count; i++)
        if (cfg_apply_set(p, c->sets[i], err, errlen) != 0)
            return -1;
    if (optind < argc && cfg_set_roots(p, argv + optind, (size_t)(argc - optind)) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (c->threads)
        p->scan.threads = (int)c->threads;
    if (p->scan.root_count == 0) {
        snprintf(err, errlen, "%s: no paths to scan: give PATH arguments or scan.roots",
                 p->source);
        return -1;
    }
    if (p->sink_count == 0 || p->sink_count > SHARD_MAX_SINKS) {
        snprintf(err, errlen, "%s: pwalk-mpi needs 1 to %d sinks", p->source, SHARD_MAX_SINKS);
        return -1;
    }
    *sink_paths = calloc(p->sink_count, sizeof **sink_paths);
    if (!*sink_paths) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < p->sink_count; i++) {
        cfg_sink *s = &p->sinks[i];
        int mutates = 0, declared = 0;
        char *def = NULL;
        if (sinks_probe(p, i, "path", &mutates, &declared, &def, err, errlen) != 0)
            return -1;
        if (mutates) {
            free(def);
            snprintf(err, errlen,
                     "%s: sink '%s': plugin '%s' changes the filesystem; repairs run on "
                     "one node (pwalk-engine), not under pwalk-mpi",
                     p->source, s->name, s->plugin);
            return -1;
        }
        const char *path = sink_option(s, "path");
        if (!path)
            path = def;
        if (!declared || !path) {
            free(def);
            snprintf(err, errlen,
                     "%s: sink '%s': plugin '%s' has no 'path' option; pwalk-mpi gives "
                     "each rank its own output file through it",
                     p->source, s->name, s->plugin);
            return -1;
        }
        if (strcmp(path, "-") == 0) {
            free(def);
            snprintf(err, errlen,
                     "%s: sink '%s': path '-' (standard output) cannot be split into one "
                     "shard per rank; give a file name",
                     p->source, s->name);
            return -1;
        }
        /* shards and the manifest are named after the file the sink will
         * write: csv-zstd completes "out/scan.csv" to "out/scan.csv.zst" */
        (*sink_paths)[i] = outname_written(path, def);
        free(def);
        char shard[PATH_MAX + 32];
        if (!(*sink_paths)[i] || shard_name((*sink_paths)[i], rank, shard, sizeof shard) != 0) {
            snprintf(err, errlen, "%s: sink '%s': path too long", p->source, s->name);
            return -1;
        }
        if (set_sink_path(s, shard, err, errlen) != 0)
            return -1;
    }
    if (p->scan.errors_path) {
        char shard[PATH_MAX + 32];
        *errors_path = strdup(p->scan.errors_path);
        if (!*errors_path || shard_name(*errors_path, rank, shard, sizeof shard) != 0) {
            snprintf(err, errlen, "%s: scan.errors: path too long", p->source);
            return -1;
        }
        free(p->scan.errors_path);
        p->scan.errors_path = strdup(shard);
        if (!p->scan.errors_path) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    const char *m = c->manifest;
    if (m) {
        if (strlen(m) >= manifest_len) {
            snprintf(err, errlen, "--manifest: path too long");
            return -1;
        }
        strcpy(manifest, m);
    } else if (shard_manifest_path((*sink_paths)[0], manifest, manifest_len) != 0) {
        snprintf(err, errlen, "%s: manifest path too long", p->source);
        return -1;
    }
    return 0;
}

/* Remove path's shards numbered >= ranks (scan.part-0007.csv.zst). */
static void remove_extra_shards(const char *path, int ranks)
{
    char pattern[PATH_MAX + 32];
    if (shard_name(path, -1, pattern, sizeof pattern) != 0)
        return;
    glob_t g;
    if (glob(pattern, GLOB_NOSORT, NULL, &g) != 0)
        return;
    const char *star = strchr(pattern, '*');
    size_t head = (size_t)(star - pattern);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *m = g.gl_pathv[i];
        char *end;
        long n = strtol(m + head, &end, 10);
        if (end > m + head && end - (m + head) >= 4 && n >= ranks && strcmp(end, star + 1) == 0)
            unlink(m);
    }
    globfree(&g);
}

static int remove_stale(const cfg_pipeline *p, char *const *sink_paths, const char *errors_path,
                        const char *manifest, int ranks, char *err, size_t errlen)
{
    if (unlink(manifest) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot remove the manifest of an earlier scan, %.1900s: %s", manifest,
                 strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < p->sink_count; i++)
        remove_extra_shards(sink_paths[i], ranks);
    if (errors_path)
        remove_extra_shards(errors_path, ranks);
    return 0;
}

static void on_signal(int sig) { pipeline_signal(sig); }

int main(int argc, char **argv)
{
    int provided = 0;
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "pwalk-mpi: MPI_Init_thread failed\n");
        return PIPELINE_FAILED;
    }
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    cfg_pipeline p;
    mpi_cli cli;
    memset(&cli, 0, sizeof cli);
    char **sink_paths = NULL, *errors_path = NULL;
    char manifest[PATH_MAX];
    char err[2048] = "";
    int rc = prepare(argc, argv, rank, &p, &sink_paths, &errors_path, manifest, sizeof manifest,
                     &cli, err, sizeof err);
    /* A manifest left by an earlier scan would vouch for this one's shards
     * before they are complete, and shards of ranks this job does not have
     * would join the glob: both go before anything is written (the
     * agreement below keeps every rank from writing until then). */
    if (rc == 0 && rank == 0)
        rc = remove_stale(&p, sink_paths, errors_path, manifest, size, err, sizeof err);
    /* The manifest is an output like the shards: its directory is opened
     * and its temporary created now, its name checked before any rank
     * walks, and it is renamed at the end relative to that directory. */
    outfile mf;
    int mf_open = 0;
    if (rc == 0 && rank == 0) {
        if (outfile_open_mode(&mf, manifest, p.scan.mode, err, sizeof err) != 0)
            rc = -1;
        else
            mf_open = 1;
    }
    /* Every rank checks the same inputs; they agree to go on or not, and the
     * lowest failing rank says why. */
    int bad = rc == 0 ? size : rank, first_bad = size;
    MPI_Allreduce(&bad, &first_bad, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first_bad < size || rc != 0) {
        if (rc == 1 && rank == 0)
            fputs(usage_text, stdout);
        else if (rank == first_bad && rc != 0)
            fprintf(stderr, "pwalk-mpi: %s\n", err);
        if (mf_open)
            outfile_abort(&mf);
        cfg_free(&p);
        MPI_Finalize();
        return rc == 1 ? 0 : PIPELINE_USAGE;
    }
    if (provided < MPI_THREAD_FUNNELED) {
        if (rank == 0)
            fprintf(stderr, "pwalk-mpi: this MPI cannot be used from a threaded program "
                            "(MPI_THREAD_FUNNELED not provided)\n");
        if (mf_open)
            outfile_abort(&mf);
        MPI_Finalize();
        return PIPELINE_FAILED;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    coord c;
    if (coord_init(&c, rank, size) != 0)
        coord_fail("out of memory");
    walk_remote remote = {&c, 5, rank == 0, coord_tick};
    pipeline_run_options o;
    memset(&o, 0, sizeof o);
    o.quiet = 1;
    o.remote = &remote;
    if (mf_open) { /* the manifest's temporary is not a row of the scan */
        o.own_fds = &mf.fd;
        o.own_fd_count = 1;
    }
    time_t started = time(NULL);
    double t0 = now_seconds();
    pipeline_result r;
    int status = pipeline_run(&p, &o, &r);
    if (status != PIPELINE_OK && status != PIPELINE_PARTIAL) {
        /* the others may be waiting for this rank's work: end the job */
        fprintf(stderr, "pwalk-mpi: rank %d: %s\n", rank,
                r.message[0] ? r.message : "scan failed");
        if (mf_open)
            outfile_abort(&mf);
        MPI_Abort(MPI_COMM_WORLD, status);
        return status;
    }
    coord_drain(&c);

    shard_rank_result mine;
    memset(&mine, 0, sizeof mine);
    mine.status = status;
    mine.sink_count = (int32_t)r.sink_count;
    mine.seconds = now_seconds() - t0;
    mine.entries = r.stats.entries;
    mine.rows = r.stats.rows;
    mine.errors = r.errors;
    mine.dirs = r.stats.dirs;
    for (int k = 0; k < FILTER_REASON_COUNT; k++)
        mine.filtered += r.stats.filtered[k];
    for (size_t i = 0; i < r.sink_count && i < SHARD_MAX_SINKS; i++)
        mine.sink_rows[i] = r.sink_rows[i];
    shard_rank_result *all = rank == 0 ? calloc((size_t)size, sizeof *all) : NULL;
    if (rank == 0 && !all)
        coord_fail("out of memory");
    MPI_Gather(&mine, sizeof mine, MPI_BYTE, all, sizeof mine, MPI_BYTE, 0, MPI_COMM_WORLD);

    int exit_status = status;
    if (rank == 0) {
        shard_manifest m = {&p, sink_paths, errors_path, size, all,
                            p.scan.threads > 0 ? (size_t)p.scan.threads : 0,
                            now_seconds() - t0, (int64_t)started};
        uint64_t entries = 0, rows = 0, errors = 0;
        for (int k = 0; k < size; k++) {
            entries += all[k].entries;
            rows += all[k].rows;
            errors += all[k].errors;
            if (all[k].status == PIPELINE_PARTIAL)
                exit_status = PIPELINE_PARTIAL;
        }
        mf_open = 0; /* released by shard_write_manifest() either way */
        if (shard_write_manifest(&mf, &m, err, sizeof err) != 0) {
            fprintf(stderr, "pwalk-mpi: manifest: %s; the shards are not a complete report\n",
                    err);
            exit_status = PIPELINE_FAILED;
        } else {
            /* stdout carries one line, the manifest's path, for scripts
             * (and the Python package) to find the report by */
            printf("%s\n", manifest);
            fflush(stdout);
        }
        if (exit_status != PIPELINE_FAILED && (!cli.quiet || exit_status != PIPELINE_OK)) {
            double secs = now_seconds() - t0;
            fprintf(stderr,
                    "pwalk-mpi: %d ranks: %llu entries, %llu rows, %llu errors in %.2f s "
                    "(%.0f rows/s, %llu work moves); manifest %s\n",
                    size, (unsigned long long)entries, (unsigned long long)rows,
                    (unsigned long long)errors, secs, secs > 0 ? (double)rows / secs : 0.0,
                    c.moves, manifest);
        }
    }
    free(all);
    coord_free(&c);
    for (size_t i = 0; sink_paths && i < p.sink_count; i++)
        free(sink_paths[i]);
    free(sink_paths);
    free(errors_path);
    cfg_free(&p);
    free(cli.sets);
    MPI_Finalize();
    return exit_status;
}
