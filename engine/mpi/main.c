/*
 * engine/mpi/main.c -- pwalk-mpi: one scan spread over the ranks of an MPI
 * job.  A driver: it links libpwalk and includes only the public headers
 * (pwalk/pwalk.h, and pwalk/sys/remote.h for the shared walk).
 *
 *   mpirun -np 4 pwalk-mpi -c PIPELINE.yaml [--set K=V] [-t N] [PATH ...]
 *
 * Every rank runs the ordinary threaded walk and the pipeline's sinks, each
 * sink writing its own shard (scan.part-0003.csv.zst).  Rank 0 starts with
 * the roots; directories move between ranks as records (pwalk/sys/remote.h:
 * this file decides who gives work to whom and when everyone is done; the
 * library exports, checks and imports the records).
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
 * library calls the hook's tick on it every few milliseconds.
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/oneline.h"
#include "common/outfile.h"
#include "common/outname.h"
#include "common/signals.h"
#include "engine/mpi/ckpt.h"
#include "engine/mpi/shard.h"
#include "pwalk/pwalk.h"
#include "pwalk/sys/remote.h"

enum mpi_tag {
    TAG_STATUS = 1, TAG_WORK, TAG_GIVE, TAG_NOWORK, TAG_DONE,
    /* checkpoints: rank 0 asks every rank to stop exporting (CKPT), each
     * says so with its counts (FROZEN), rank 0 says go once no record is
     * in flight (GO); a rank that got SIGUSR1 tells rank 0 (SUSPEND) */
    TAG_CKPT, TAG_FROZEN, TAG_GO, TAG_SUSPEND,
};

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
    "(scan.csv.zst -> scan.part-0003.csv.zst); a sink that merges (the summary)\n"
    "writes a partial per rank that rank 0 merges into one output.  Rank 0 writes\n"
    "the manifest (scan.manifest.json beside the first sink's output) last and\n"
    "prints its path on stdout; without a manifest the shards are incomplete.\n"
    "\n"
    "  -c, --config FILE       the pipeline (required); PATHs replace scan.roots\n"
    "      --set SINK.KEY=VAL  set a sink option (or scan.KEY=VAL); repeatable\n"
    "  -t, --threads N         worker threads per rank\n"
    "      --max-ops N         at most N metadata operations per second, all ranks\n"
    "                          together (each rank N/ranks; scan.max_ops)\n"
    "      --manifest FILE     where the manifest goes\n"
    "      --checkpoint FILE   keep a checkpoint (FILE, and one journal per rank\n"
    "                          beside it) so that the scan can be resumed\n"
    "      --checkpoint-every DUR  how often (default 5m; 90s, 3h50m, HH:MM:SS)\n"
    "      --time-limit DUR    suspend at a checkpoint after DUR (also SIGUSR1 to\n"
    "                          any rank); every rank exits 75\n"
    "      --resume FILE       continue a suspended or killed scan, with any number\n"
    "                          of ranks, checkpointing into FILE again\n"
    "  -q, --quiet             no summary line on success\n"
    "  -h, --help              this text\n"
    "\n"
    "Exit status: 0 complete; 1 complete but some entries could not be read;\n"
    "2 bad usage or configuration (nothing written); 3 or a rank's abort status:\n"
    "the scan did not complete (no manifest); 75 suspended at a checkpoint\n"
    "(resume it); 128+N stopped by signal N.\n";

/* ---- the coordinator --------------------------------------------------------- */

typedef struct pending_send {
    MPI_Request request;
    void *buf;
} pending_send;

/* Checkpoints of the shared walk (--checkpoint / --resume), rank 0 deciding
 * for all: the manifest at path names the last complete generation of the
 * ranks' journals (engine/mpi/ckpt.h). */
typedef struct ckpt_plan {
    const char *path;           /* NULL: no checkpoints                   */
    long long every_ms;         /* periodic checkpoints                   */
    long long limit_ms;         /* suspend after this long (0: never)     */
    int mode;                   /* the manifest's permission bits         */
    int64_t started;            /* the scan's first start, every session  */
    uint64_t generation;        /* the last complete one (0: none yet)    */
    int old_ranks;              /* ranks of the resumed checkpoint (0)    */
    char *const *outputs;       /* the sinks' unsharded outputs           */
    size_t output_count;
    pwalk_session *sessions;    /* the earlier ones, then this one        */
    size_t session_count;
} ckpt_plan;

typedef struct coord {
    int rank, size;
    ckpt_plan *plan;
    int frozen;                 /* a checkpoint is coming: export nothing */
    int suspended;              /* the walk ended at a checkpoint         */
    int suspend_relayed;        /* this rank's SIGUSR1 went to rank 0     */
    /* rank 0 only: the checkpoint being coordinated */
    int ckpt_active, ckpt_suspend, suspend_wanted;
    int *frozen_by;
    double next_ckpt, limit_at; /* MPI_Wtime() of the next one, the limit */
    const pwalk_scan *scan;     /* its roots, for exchange_own()          */
    pwalk_remote_walk *run;
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
    MPI_Abort(MPI_COMM_WORLD, PWALK_FAILED);
    exit(PWALK_FAILED);
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
    size_t max = pwalk_remote_queued(c->run) / 2;
    if (max < 1)
        max = 1;
    if (max > COORD_GIVE_MAX)
        max = COORD_GIVE_MAX;
    char *buf = NULL;
    size_t len = 0;
    /* frozen for a checkpoint: the records must stay where they are */
    long n = c->frozen ? 0 : pwalk_remote_export(c->run, max, &buf, &len);
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
    pwalk_remote_end(c->run);
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

/* ---- checkpoints ---------------------------------------------------------------- */

/* SIGUSR1 arrived (SLURM's --signal=B:USR1@120 signals every rank; one is
 * enough): the driver's second piece of process state, read by tick. */
static volatile sig_atomic_t mpi_suspend_signal;

/* TAG_CKPT (rank 0: its own decision): export nothing from now on and say
 * how many WORK messages this rank sent and received, so that rank 0 can
 * tell when every record in flight has been imported. */
static void ckpt_freeze(coord *c)
{
    unsigned long long v[3] = {(unsigned long long)pwalk_remote_idle(c->run), c->sent,
                               c->recvd};
    c->frozen = 1;
    if (c->rank != 0) {
        coord_send_small(c, 0, TAG_FROZEN, v, sizeof v);
        return;
    }
    manager_report(c, 0, (int)v[0], v[1], v[2]);
    c->frozen_by[0] = 1;
}

/* Rank 0, every rank's journal of generation durable: the manifest names
 * that generation (written last, atomically: until it is renamed into
 * place it names the previous one, whose journals have the other parity
 * and are intact). */
static void ckpt_commit(coord *c, uint64_t generation)
{
    ckpt_plan *p = c->plan;
    ckpt_manifest man = {.generation = generation, .ranks = c->size, .started = p->started};
    snprintf(man.version, sizeof man.version, "%s", pwalk_version());
    /* this session ends here if the job dies before the next checkpoint */
    p->sessions[p->session_count - 1].end_sec = (int64_t)time(NULL);
    man.sessions = malloc(p->session_count * 2 * sizeof *man.sessions);
    if (!man.sessions)
        coord_fail("out of memory");
    for (size_t i = 0; i < p->session_count; i++) {
        man.sessions[2 * i] = p->sessions[i].start_sec;
        man.sessions[2 * i + 1] = p->sessions[i].end_sec;
    }
    man.session_count = p->session_count;
    char err[2048];
    int rc = ckpt_write_manifest(p->path, p->mode, &man, (const char *const *)p->outputs,
                                 p->output_count, err, sizeof err);
    free(man.sessions);
    if (rc != 0)
        coord_fail("%s", err);
    /* resumed with fewer ranks: the old ranks' journals are named no more */
    if (p->old_ranks > c->size)
        ckpt_remove_journals(p->path, c->size, p->old_ranks);
    p->old_ranks = 0;
    c->ckpt_active = 0;
    c->next_ckpt = now_seconds() + (double)p->every_ms / 1000.0;
}

/* Every rank, on TAG_GO (rank 0: as it sends it).  No record is in flight
 * and none will be exported, so this rank's part is a cut of the walk:
 * the library pauses it, checkpoints the sinks and writes the journal;
 * once every rank did, rank 0 commits the generation. */
static void ckpt_run(coord *c, uint64_t generation, int suspend)
{
    ckpt_plan *p = c->plan;
    char path[PATH_MAX + 64], err[2048];
    if (ckpt_rank_path(p->path, generation, c->rank, path, sizeof path) != 0)
        coord_fail("checkpoint '%s': path too long", p->path);
    err[0] = '\0';
    int rc = pwalk_remote_checkpoint(c->run, path, suspend, err, sizeof err);
    if (rc < 0)
        coord_fail("%s", err[0] ? err : "checkpoint failed");
    if (rc > 0) { /* this walk is stopping (a signal): its rank aborts the job */
        c->done = 1;
        return;
    }
    /* a rank that failed aborted the job: past this, every journal is in */
    MPI_Barrier(MPI_COMM_WORLD);
    if (c->rank == 0)
        ckpt_commit(c, generation);
    p->generation = generation;
    c->frozen = 0;
    if (suspend) {
        c->suspended = 1;
        c->done = 1;
    }
}

/* Rank 0, every tick: start a checkpoint when one is due (the timer, a
 * SIGUSR1 on any rank, the time limit); once every rank froze and every
 * WORK message sent was received (and so imported), tell every rank to
 * write it, suspending when a suspension was asked for meanwhile. */
static void ckpt_manage(coord *c)
{
    double now = now_seconds();
    int suspend = c->suspend_wanted || (c->limit_at > 0 && now >= c->limit_at);
    if (!c->ckpt_active) {
        if (!suspend && now < c->next_ckpt)
            return;
        c->ckpt_active = 1;
        c->ckpt_suspend = 0;
        memset(c->frozen_by, 0, (size_t)c->size * sizeof *c->frozen_by);
        for (int r = 1; r < c->size; r++)
            coord_send_small(c, r, TAG_CKPT, NULL, 0);
        ckpt_freeze(c);
    }
    c->ckpt_suspend |= suspend;
    unsigned long long sent = 0, recvd = 0;
    for (int r = 0; r < c->size; r++) {
        if (!c->frozen_by[r])
            return;
        sent += c->sent_by[r];
        recvd += c->recvd_by[r];
    }
    if (sent != recvd)
        return;
    uint64_t go[2] = {c->plan->generation + 1, (uint64_t)c->ckpt_suspend};
    for (int r = 1; r < c->size; r++)
        coord_send_small(c, r, TAG_GO, go, sizeof go);
    ckpt_run(c, go[0], (int)go[1]);
}

/* A SIGUSR1 seen here goes to rank 0, once. */
static void ckpt_relay_signal(coord *c)
{
    if (!mpi_suspend_signal || c->suspend_relayed)
        return;
    c->suspend_relayed = 1;
    if (c->rank == 0)
        c->suspend_wanted = 1;
    else
        coord_send_small(c, 0, TAG_SUSPEND, NULL, 0);
}

/* The checkpoint messages (coord_receive()); 0 when tag is none of them. */
static int ckpt_receive(coord *c, int from, int tag, const char *buf, int len)
{
    if (tag == TAG_CKPT && c->rank != 0) {
        ckpt_freeze(c);
    } else if (tag == TAG_FROZEN && c->rank == 0 &&
               len == (int)(3 * sizeof(unsigned long long))) {
        unsigned long long v[3];
        memcpy(v, buf, sizeof v);
        manager_report(c, from, (int)v[0], v[1], v[2]);
        c->frozen_by[from] = 1;
    } else if (tag == TAG_GO && c->rank != 0 && len == (int)(2 * sizeof(uint64_t))) {
        uint64_t go[2];
        memcpy(go, buf, sizeof go);
        ckpt_run(c, go[0], go[1] != 0);
    } else if (tag == TAG_SUSPEND && c->rank == 0) {
        c->suspend_wanted = 1;
    } else {
        return 0;
    }
    return 1;
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
            if (!c->done && pwalk_remote_import(c->run, buf, (size_t)len, err, sizeof err) < 0)
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
        } else if (!c->done) {
            ckpt_receive(c, from, tag, buf, len);
        }
        free(buf);
        if (c->done)
            return;
    }
}

/* Called by the walk on this rank's main thread every few milliseconds. */
static void coord_tick(void *ctx, pwalk_remote_walk *run)
{
    coord *c = ctx;
    c->run = run;
    coord_reap_sends(c);
    if (c->done)
        return;
    coord_receive(c);
    if (c->done)
        return;
    if (c->plan->path)
        ckpt_relay_signal(c);
    int idle = pwalk_remote_idle(run);
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
    if (c->rank != 0)
        return;
    if (!c->ckpt_active) /* no work moves while a checkpoint is coordinated */
        manager_step(c);
    if (!c->done && c->plan->path)
        ckpt_manage(c);
}

/* ---- every rank's outputs out of every rank's walk ------------------------------ */

/* Each rank's st_dev of each root (0: does not stat), all ranks' in rank
 * order: on another node a shared filesystem may have another st_dev. */
static uint64_t *root_devs(const coord *c, size_t *nroots)
{
    size_t n = pwalk_scan_root_count(c->scan);
    uint64_t *mine = calloc(n ? n : 1, sizeof *mine);
    uint64_t *all = calloc((n ? n : 1) * (size_t)c->size, sizeof *all);
    if (!mine || !all || n > INT_MAX)
        coord_fail("out of memory");
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(pwalk_scan_root(c->scan, i), &st) == 0)
            mine[i] = (uint64_t)st.st_dev;
    }
    MPI_Allgather(mine, (int)n, MPI_UINT64_T, all, (int)n, MPI_UINT64_T, MPI_COMM_WORLD);
    free(mine);
    *nroots = n;
    return all;
}

/* Every rank's own files as (dev, ino) pairs, all ranks' in rank order;
 * counts[k] and displs[k] in uint64s. */
static uint64_t *gather_own(const coord *c, pwalk_remote_own *own, int *counts, int *displs)
{
    size_t n;
    const pwalk_file_id *ids = pwalk_remote_own_files(own, &n);
    if (n > INT_MAX / 2 / (size_t)c->size)
        coord_fail("too many own output files (%zu)", n);
    uint64_t *mine = malloc((n ? n : 1) * 2 * sizeof *mine);
    if (!mine)
        coord_fail("out of memory");
    for (size_t i = 0; i < n; i++) {
        mine[2 * i] = ids[i].dev;
        mine[2 * i + 1] = ids[i].ino;
    }
    int count = (int)(2 * n);
    MPI_Allgather(&count, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
    long total = 0;
    for (int k = 0; k < c->size; k++) {
        displs[k] = (int)total;
        total += counts[k];
        if (counts[k] < 0 || total > INT_MAX)
            coord_fail("too many own output files");
    }
    uint64_t *all = malloc((total ? (size_t)total : 1) * sizeof *all);
    if (!all)
        coord_fail("out of memory");
    MPI_Allgatherv(mine, count, MPI_UINT64_T, all, counts, displs, MPI_UINT64_T,
                   MPI_COMM_WORLD);
    free(mine);
    return all;
}

/* own_outputs (pwalk/sys/remote.h): the ranks may write into the tree they
 * walk, and a rank knows only its own files, so after every rank created
 * its outputs (the library calls this before walking; collective) each
 * hands its files to the others.  A device is translated through the roots
 * (sender's st_dev of root i -> ours) for nodes that number it otherwise. */
static int exchange_own(void *ctx, pwalk_remote_own *own, char *err, size_t errlen)
{
    coord *c = ctx;
    int *counts = calloc((size_t)c->size, sizeof *counts);
    int *displs = calloc((size_t)c->size, sizeof *displs);
    if (!counts || !displs)
        coord_fail("out of memory");
    size_t nroots;
    uint64_t *devs = root_devs(c, &nroots);
    uint64_t *all = gather_own(c, own, counts, displs);
    const uint64_t *here = devs + (size_t)c->rank * nroots;
    int rc = 0;
    for (int k = 0; k < c->size && rc == 0; k++) {
        const uint64_t *there = devs + (size_t)k * nroots;
        for (int i = 0; k != c->rank && i < counts[k] && rc == 0; i += 2) {
            pwalk_file_id id = {all[displs[k] + i], all[displs[k] + i + 1]};
            for (size_t r = 0; r < nroots; r++)
                if (there[r] && there[r] == id.dev && here[r]) {
                    id.dev = here[r];
                    break;
                }
            if (pwalk_remote_own_add(own, &id, 1) != 0) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
            }
        }
    }
    free(all);
    free(devs);
    free(counts);
    free(displs);
    return rc;
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
    c->frozen_by = calloc((size_t)size, sizeof *c->frozen_by);
    if (!c->idle || !c->sent_by || !c->recvd_by || !c->donor_for || !c->dry_until ||
        !c->frozen_by)
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
    free(c->frozen_by);
}

/* ---- set-up ------------------------------------------------------------------ */

typedef struct mpi_cli {
    const char *config;
    char **sets;
    size_t set_count;
    const char *threads;        /* -t, checked to be a positive number    */
    const char *max_ops;        /* --max-ops, checked by the library      */
    const char *manifest;
    int quiet;
    /* checkpoints: taken by the driver, not the library (rank 0 decides
     * for every rank), so scan.checkpoint* given with --set land here */
    const char *checkpoint;     /* --checkpoint, scan.checkpoint          */
    const char *every;          /* --checkpoint-every                     */
    const char *time_limit;     /* --time-limit                           */
    const char *resume;         /* --resume                               */
} mpi_cli;

enum {
    OPT_SET = 256, OPT_MANIFEST, OPT_MAX_OPS, OPT_CHECKPOINT, OPT_EVERY, OPT_TIME_LIMIT,
    OPT_RESUME,
};

/* --set scan.checkpoint=..., scan.checkpoint_every=..., scan.time_limit=...:
 * the driver's, as the flags.  1 when value is one of them. */
static int cli_checkpoint_set(mpi_cli *c, const char *value)
{
    static const char *const keys[] = {"scan.checkpoint=", "scan.checkpoint_every=",
                                       "scan.time_limit="};
    const char **slots[] = {&c->checkpoint, &c->every, &c->time_limit};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        if (strncmp(value, keys[k], strlen(keys[k])) == 0) {
            *slots[k] = value + strlen(keys[k]);
            return 1;
        }
    return 0;
}

static int cli_add_set(mpi_cli *c, char *value, char *err, size_t errlen)
{
    if (cli_checkpoint_set(c, value))
        return 0;
    char **grown = realloc(c->sets, (c->set_count + 1) * sizeof *grown);
    if (!grown) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->sets = grown;
    c->sets[c->set_count++] = value;
    return 0;
}

/* -t N: a positive number here; its upper bound is scan.threads's, checked
 * by the library when it is set. */
static int cli_threads(mpi_cli *c, const char *value, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || *end || end == value || v < 1 || v > INT_MAX) {
        snprintf(err, errlen, "--threads: '%s' is not a number of threads (1 or more)", value);
        return -1;
    }
    c->threads = value;
    return 0;
}

/* Parse the command line; -1 with a message on bad usage, 1 for --help. */
static int parse_cli(int argc, char **argv, mpi_cli *c, char *err, size_t errlen)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, OPT_SET},
        {"threads", required_argument, NULL, 't'},
        {"manifest", required_argument, NULL, OPT_MANIFEST},
        {"max-ops", required_argument, NULL, OPT_MAX_OPS},
        {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
        {"checkpoint-every", required_argument, NULL, OPT_EVERY},
        {"time-limit", required_argument, NULL, OPT_TIME_LIMIT},
        {"resume", required_argument, NULL, OPT_RESUME},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt, rc = 0;
    opterr = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, ":c:t:qh", longs, NULL)) != -1) {
        switch (opt) {
        case 'c': c->config = optarg; break;
        case OPT_SET: rc = cli_add_set(c, optarg, err, errlen); break;
        case 't': rc = cli_threads(c, optarg, err, errlen); break;
        case OPT_MANIFEST: c->manifest = optarg; break;
        case OPT_MAX_OPS: c->max_ops = optarg; break;
        case OPT_CHECKPOINT: c->checkpoint = optarg; break;
        case OPT_EVERY: c->every = optarg; break;
        case OPT_TIME_LIMIT: c->time_limit = optarg; break;
        case OPT_RESUME: c->resume = optarg; break;
        case 'q': c->quiet = 1; break;
        case 'h': return 1;
        case ':':
            snprintf(err, errlen, "option '%s' needs a value (see --help)", argv[optind - 1]);
            return -1;
        default:
            snprintf(err, errlen, "unknown option '%s' (see --help)", argv[optind - 1]);
            return -1;
        }
    }
    if (rc == 0 && !c->config) {
        snprintf(err, errlen, "-c PIPELINE.yaml is required (see --help)");
        return -1;
    }
    return rc;
}

/* What the set-up leaves for the run and the manifest. */
typedef struct mpi_setup {
    pwalk_scan *scan;
    pwalk_scan_settings settings;
    char **sink_paths;          /* each sink's output, before sharding    */
    int *merges;                /* the sink's plugin merges partials (ABI
                                   1.3): one output, not a shard per rank */
    char **outputs;             /* the option naming each sink's output   */
    int ranks;
    char *errors_path;          /* scan.errors before sharding, or NULL   */
    char manifest[PATH_MAX];
    ckpt_plan plan;             /* checkpoints (plan.path NULL: none)     */
    int partials;               /* merging sinks write partials even with
                                   one rank: a checkpointed scan may be
                                   resumed with another number of ranks,
                                   and its sinks' options must not change */
    char **journals;            /* this rank's old journals (--resume)    */
    size_t journal_count;
} mpi_setup;

static int set_value(pwalk_scan *s, const char *target, const char *key, const char *value,
                     char *err, size_t errlen)
{
    return pwalk_scan_set_value(s, target, strlen(target), key, strlen(key), value,
                                strlen(value), err, errlen) != 0 ? -1 : 0;
}

/* The pipeline with the command line applied. */
static int load_scan(int argc, char **argv, const mpi_cli *c, mpi_setup *m, char *err,
                     size_t errlen)
{
    if (pwalk_scan_from_file(&m->scan, c->config, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < c->set_count; i++)
        if (pwalk_scan_set(m->scan, c->sets[i], err, errlen) != 0)
            return -1;
    if (optind < argc && pwalk_scan_set_roots(m->scan, (const char *const *)argv + optind,
                                              (size_t)(argc - optind)) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (c->threads && set_value(m->scan, "scan", "threads", c->threads, err, errlen) != 0)
        return -1;
    if (c->max_ops && set_value(m->scan, "scan", "max_ops", c->max_ops, err, errlen) != 0)
        return -1;
    m->settings.struct_size = sizeof m->settings;
    pwalk_scan_get_settings(m->scan, &m->settings);
    const char *src = m->settings.source;
    if (pwalk_scan_root_count(m->scan) == 0) {
        snprintf(err, errlen, "%s: no paths to scan: give PATH arguments or scan.roots", src);
        return -1;
    }
    size_t n = pwalk_scan_sink_count(m->scan);
    if (n == 0 || n > SHARD_MAX_SINKS) {
        snprintf(err, errlen, "%s: pwalk-mpi needs 1 to %d sinks", src, SHARD_MAX_SINKS);
        return -1;
    }
    m->sink_paths = calloc(n, sizeof *m->sink_paths);
    m->merges = calloc(n, sizeof *m->merges);
    m->outputs = calloc(n, sizeof *m->outputs);
    if (!m->sink_paths || !m->merges || !m->outputs) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Why sink i cannot have one output per rank, or NULL when it can. */
static const char *sink_unshardable(int mutates, int declared, const char *path)
{
    if (mutates)
        return "changes the filesystem; repairs run on one node (pwalk-engine), not under "
               "pwalk-mpi";
    if (!declared || !path)
        return "has no 'path' option; pwalk-mpi gives each rank its own output file "
               "through it";
    if (strcmp(path, "-") == 0)
        return "writes to path '-' (standard output), which cannot be split into one shard "
               "per rank; give a file name";
    return NULL;
}

/* Which option names sink i's output: "path", or for a plugin that merges
 * partials (ABI 1.3, the summary's "dir") its first output option. */
static int sink_output_option(mpi_setup *m, size_t i, char *err, size_t errlen)
{
    char *output = NULL;
    if (pwalk_scan_sink_merge_probe(m->scan, i, &m->merges[i], &output, err, errlen) != 0)
        return -1;
    m->outputs[i] = strdup(m->merges[i] && output ? output : "path");
    pwalk_free(output);
    if (!m->outputs[i]) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Point sink i at this rank's shard of its output; keep the unsharded
 * name (as the sink will write it: csv-zstd completes "out/scan.csv" to
 * "out/scan.csv.zst") for the shard globs and the manifest.  A sink that
 * merges gets its shard name only when there are several ranks: there it
 * writes a partial, which rank 0 merges into the unsharded output. */
static int shard_sink(mpi_setup *m, size_t i, int rank, char *err, size_t errlen)
{
    pwalk_scan *s = m->scan;
    const char *name = pwalk_scan_sink_name(s, i);
    int mutates = 0, declared = 0;
    char *def = NULL;
    if (sink_output_option(m, i, err, errlen) != 0 ||
        pwalk_scan_sink_probe(s, i, m->outputs[i], &mutates, &declared, &def, err, errlen) != 0)
        return -1;
    const char *path = pwalk_scan_sink_option(s, i, m->outputs[i]);
    if (!path)
        path = def;
    const char *why = sink_unshardable(mutates, declared, path);
    if (why) {
        snprintf(err, errlen, "%s: sink '%s': plugin '%s' %s", m->settings.source, name,
                 pwalk_scan_sink_plugin(s, i), why);
        pwalk_free(def);
        return -1;
    }
    m->sink_paths[i] = outname_written(path, def);
    pwalk_free(def);
    char shard[PATH_MAX + 32];
    if (!m->sink_paths[i] || shard_name(m->sink_paths[i], rank, shard, sizeof shard) != 0) {
        snprintf(err, errlen, "%s: sink '%s': path too long", m->settings.source, name);
        return -1;
    }
    if (m->merges[i] && m->ranks < 2 && !m->partials)
        return 0;
    return set_value(s, name, m->outputs[i], shard, err, errlen);
}

/* scan.errors: one error file per rank, like the sinks' shards. */
static int shard_errors(mpi_setup *m, int rank, char *err, size_t errlen)
{
    const char *e = pwalk_scan_errors_path(m->scan);
    if (!e)
        return 0;
    char shard[PATH_MAX + 32];
    m->errors_path = strdup(e);
    if (!m->errors_path || shard_name(m->errors_path, rank, shard, sizeof shard) != 0) {
        snprintf(err, errlen, "%s: scan.errors: path too long", m->settings.source);
        return -1;
    }
    return set_value(m->scan, "scan", "errors", shard, err, errlen);
}

/* scan.max_ops is the budget of the whole job: each rank gets its share,
 * N/ranks (at least 1).  A static split keeps every rank's bucket local
 * (no messages per operation); the coordinator keeps the ranks busy alike,
 * so the sum stays near N until the last directories. */
static int share_max_ops(mpi_setup *m, char *err, size_t errlen)
{
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (m->settings.max_ops <= 0 || size <= 1)
        return 0;
    long long per = m->settings.max_ops / size;
    char num[32];
    snprintf(num, sizeof num, "%lld", per > 0 ? per : 1);
    return set_value(m->scan, "scan", "max_ops", num, err, errlen);
}

/* This rank's scan keeps a journal (the library checkpoints only a scan
 * with scan.checkpoint set; each pwalk_remote_checkpoint() names the
 * generation's file): its first one, cleared of a journal an abandoned or
 * crashed job may have left under that rank's names (no manifest names
 * them: the caller checked). */
static int rank_journal(mpi_setup *m, int rank, uint64_t generation, char *err, size_t errlen)
{
    char path[PATH_MAX + 64];
    if (ckpt_rank_path(m->plan.path, generation, rank, path, sizeof path) != 0) {
        snprintf(err, errlen, "checkpoint '%.1500s': path too long", m->plan.path);
        return -1;
    }
    ckpt_remove_journals(m->plan.path, rank, rank + 1);
    return set_value(m->scan, "scan", "checkpoint", path, err, errlen);
}

/* --resume: the manifest names the generation and the ranks that wrote
 * it; this rank continues old ranks rank, rank + ranks, ... (none when the
 * job grew: it starts empty and gets work from the others).  The journals
 * themselves are checked by the library before anything is written. */
static int resume_journals(mpi_setup *m, int rank, char *err, size_t errlen)
{
    ckpt_plan *p = &m->plan;
    ckpt_manifest man;
    if (ckpt_read_manifest(p->path, &man, err, errlen) != 0)
        return -1;
    if (strcmp(man.version, pwalk_version()) != 0) {
        snprintf(err, errlen, "checkpoint '%s' was written by pwalk %s; this is pwalk %s",
                 p->path, man.version, pwalk_version());
        return -1;
    }
    p->generation = man.generation;
    p->started = man.started;
    p->old_ranks = man.ranks;
    /* the earlier sessions, and room for this one */
    p->sessions = calloc(man.session_count + 1, sizeof *p->sessions);
    for (size_t i = 0; p->sessions && i < man.session_count; i++) {
        p->sessions[i].start_sec = man.sessions[2 * i];
        p->sessions[i].end_sec = man.sessions[2 * i + 1];
    }
    p->session_count = p->sessions ? man.session_count : 0;
    ckpt_manifest_free(&man);
    int *old = calloc((size_t)p->old_ranks, sizeof *old);
    size_t n = old ? ckpt_rank_share(rank, m->ranks, p->old_ranks, old, (size_t)p->old_ranks)
                   : 0;
    m->journals = calloc(n ? n : 1, sizeof *m->journals);
    int rc = old && m->journals && p->sessions ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        m->journals[i] = malloc(PATH_MAX + 64);
        if (!m->journals[i])
            rc = -1;
        else
            m->journal_count++;
        if (rc == 0 && ckpt_rank_path(p->path, p->generation, old[i], m->journals[i],
                                      PATH_MAX + 64) != 0)
            rc = -1;
    }
    free(old);
    if (rc != 0) {
        snprintf(err, errlen, "checkpoint '%s': out of memory or path too long", p->path);
        return -1;
    }
    if (n == 0) /* the job grew: this rank starts empty, journaling anew */
        return rank_journal(m, rank, p->generation + 1, err, errlen);
    return pwalk_scan_resume(m->scan, (const char *const *)m->journals, n, err, errlen) != 0
               ? -1
               : 0;
}

/* A duration flag's value (or the default), said with the flag on error. */
static int checkpoint_duration(const char *flag, const char *text, long long *ms, char *err,
                               size_t errlen)
{
    if (!text || pwalk_parse_duration(text, ms) == 0)
        return 0;
    snprintf(err, errlen,
             "%s: '%s' is not a duration (e.g. 90s, 5m, 3h50m, 1d12h, 500ms, HH:MM:SS, "
             "D-HH:MM:SS; more than 0)",
             flag, text);
    return -1;
}

/* The checkpoint flags: the durations, then either a fresh checkpoint
 * (its file must not hold a suspended scan) or the manifest to resume. */
static int prepare_checkpoint(const mpi_cli *c, mpi_setup *m, int rank, char *err,
                              size_t errlen)
{
    ckpt_plan *p = &m->plan;
    p->every_ms = 300000; /* pwalk-engine's scan.checkpoint_every default, 5m */
    if (checkpoint_duration("--checkpoint-every", c->every, &p->every_ms, err, errlen) != 0 ||
        checkpoint_duration("--time-limit", c->time_limit, &p->limit_ms, err, errlen) != 0)
        return -1;
    if (c->resume && c->checkpoint && strcmp(c->resume, c->checkpoint) != 0) {
        snprintf(err, errlen, "--resume %.900s goes on checkpointing into that file; "
                              "--checkpoint names another (%.900s)", c->resume, c->checkpoint);
        return -1;
    }
    p->path = c->resume ? c->resume : c->checkpoint;
    if (!p->path) {
        if (!c->time_limit)
            return 0;
        snprintf(err, errlen, "--time-limit needs --checkpoint FILE: a suspended scan "
                              "is resumed from it");
        return -1;
    }
    if (!*p->path) {
        snprintf(err, errlen, "--checkpoint: empty file name");
        return -1;
    }
    p->mode = m->settings.mode;
    p->outputs = m->sink_paths;
    p->output_count = pwalk_scan_sink_count(m->scan);
    struct stat st;
    if (c->resume)
        return resume_journals(m, rank, err, errlen);
    if (lstat(p->path, &st) == 0) {
        snprintf(err, errlen, "checkpoint '%.1500s' exists: a suspended scan waits in it; "
                              "continue it with --resume, or remove it", p->path);
        return -1;
    }
    return rank_journal(m, rank, 1, err, errlen);
}

/* Everything that can be wrong before the scan: the command line, the
 * config, the sinks (none may change the filesystem; each must write a
 * file), the shard and manifest names.  Each sink's path and scan.errors
 * are rewritten to this rank's shard. */
static int prepare(int argc, char **argv, int rank, mpi_cli *c, mpi_setup *m, char *err,
                   size_t errlen)
{
    int rc = parse_cli(argc, argv, c, err, errlen);
    if (rc != 0)
        return rc;
    if (load_scan(argc, argv, c, m, err, errlen) != 0)
        return -1;
    m->partials = c->checkpoint || c->resume;
    for (size_t i = 0; i < pwalk_scan_sink_count(m->scan); i++)
        if (shard_sink(m, i, rank, err, errlen) != 0)
            return -1;
    if (shard_errors(m, rank, err, errlen) != 0 || share_max_ops(m, err, errlen) != 0 ||
        prepare_checkpoint(c, m, rank, err, errlen) != 0)
        return -1;
    if (c->manifest) {
        if (strlen(c->manifest) >= sizeof m->manifest) {
            snprintf(err, errlen, "--manifest: path too long");
            return -1;
        }
        strcpy(m->manifest, c->manifest);
    } else if (shard_manifest_path(m->sink_paths[0], m->manifest, sizeof m->manifest) != 0) {
        snprintf(err, errlen, "%s: manifest path too long", m->settings.source);
        return -1;
    }
    return 0;
}

static void setup_free(mpi_setup *m, mpi_cli *c)
{
    size_t n = m->scan ? pwalk_scan_sink_count(m->scan) : 0;
    for (size_t i = 0; m->sink_paths && i < n; i++)
        free(m->sink_paths[i]);
    for (size_t i = 0; m->outputs && i < n; i++)
        free(m->outputs[i]);
    free(m->sink_paths);
    free(m->merges);
    free(m->outputs);
    free(m->errors_path);
    for (size_t i = 0; i < m->journal_count; i++)
        free(m->journals[i]);
    free(m->journals);
    free(m->plan.sessions);
    pwalk_scan_free(m->scan);
    free(c->sets);
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

/* A manifest left by an earlier scan would vouch for this one's shards
 * before they are complete, and shards of ranks this job does not have
 * would join the glob: both go before anything is written. */
static int remove_stale(const mpi_setup *m, int ranks, char *err, size_t errlen)
{
    if (unlink(m->manifest) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot remove the manifest of an earlier scan, %.1900s: %s",
                 m->manifest, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < pwalk_scan_sink_count(m->scan); i++)
        remove_extra_shards(m->sink_paths[i], ranks);
    if (m->errors_path)
        remove_extra_shards(m->errors_path, ranks);
    return 0;
}

/* ---- the run ------------------------------------------------------------------ */

/* The scan a signal stops: a driver's one piece of process state, set
 * before the handlers are installed (pwalk_scan_stop() is
 * async-signal-safe). */
static pwalk_scan *volatile mpi_signal_scan;

static void on_signal(int sig)
{
    if (mpi_signal_scan)
        pwalk_scan_stop(mpi_signal_scan, sig);
}

/* SIGUSR1 with checkpoints: a suspension, relayed to rank 0 by tick. */
static void on_suspend(int sig)
{
    (void)sig;
    mpi_suspend_signal = 1;
}

/* This session, after the manifest's earlier ones (rank 0 records them in
 * every manifest and gives them to the merged summary). */
static int start_session(ckpt_plan *p, int64_t started, int64_t now)
{
    p->started = started;
    if (!p->sessions && !(p->sessions = calloc(1, sizeof *p->sessions)))
        return -1;
    p->sessions[p->session_count].start_sec = now;
    p->sessions[p->session_count].end_sec = 0;
    p->session_count++;
    return 0;
}

/* One start time for every rank: the summary's ages are measured from it,
 * and the ranks' partials must agree on it to be merged; a resumed scan
 * keeps its first session's (the manifest's).  Returns it. */
static int64_t start_times(mpi_setup *m, int rank, int size)
{
    int64_t session_start = (int64_t)time(NULL);
    MPI_Bcast(&session_start, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
    int64_t started = m->plan.generation ? m->plan.started : session_start;
    if (m->plan.path && start_session(&m->plan, started, session_start) != 0)
        coord_fail("out of memory");
    /* a rank continuing journals starts a new session (the library takes
     * the ages' origin from the journals' first); one starting empty has
     * no earlier session and takes the scan's first start directly */
    int64_t start_here = m->journal_count ? session_start : started;
    if (pwalk_scan_set_rank(m->scan, rank, size, start_here) != 0)
        coord_fail("rank %d of %d", rank, size);
    pwalk_scan_set_partial(m->scan, m->partials);
    return started;
}

/* SIGUSR1 kept from the first instruction on: SLURM (or mpirun forwarding
 * it) may signal a rank still setting up, whose default action would kill
 * it. */
static void catch_suspend_early(void)
{
    static const int suspends[] = {SIGUSR1};
    signals_handle(on_suspend, suspends, 1);
}

/* SIGINT/SIGTERM abandon the scan.  SIGUSR1 suspends it at a checkpoint;
 * without --checkpoint it stops it like SIGTERM (pwalk-engine's rule),
 * also when it came during the set-up. */
static void install_signals(pwalk_scan *s, int checkpoints)
{
    static const int stops[] = {SIGINT, SIGTERM}, suspends[] = {SIGUSR1};
    mpi_signal_scan = s;
    signals_handle(on_signal, stops, 2);
    if (checkpoints)
        return; /* on_suspend stays */
    signals_handle(on_signal, suspends, 1);
    if (mpi_suspend_signal)
        pwalk_scan_stop(s, SIGUSR1);
}

/* A sink's log line (any thread): said on stderr, naming the rank. */
static void on_log(void *ctx, int level, const char *line)
{
    (void)level;
    fprintf(stderr, "pwalk-mpi: rank %d: %s\n", *(const int *)ctx, line);
}

/* The library's summary line's walk choices (", stat: ...", ", io_priority
 * idle refused (...)"): which stat call a rank took is up to its node's
 * kernel and filesystem, so each rank reports its own. */
static void rank_choices(const char *line, char *out, size_t cap)
{
    const char *a = strstr(line, ", stat: ");
    const char *b = strstr(line, ", io_priority idle refused");
    const char *from = a && (!b || a < b) ? a : b;
    out[0] = '\0';
    if (from)
        snprintf(out, cap, "%.*s", (int)strcspn(from, ";\n"), from);
}

/* This rank's part of the scan, as the manifest records it. */
static void rank_result(const pwalk_scan *s, int status, double seconds, shard_rank_result *r)
{
    memset(r, 0, sizeof *r);
    r->status = status;
    r->sink_count = (int32_t)pwalk_scan_sink_count(s);
    r->seconds = seconds;
    r->entries = pwalk_scan_counter(s, PWALK_COUNT_ENTRIES);
    r->rows = pwalk_scan_counter(s, PWALK_COUNT_ROWS);
    r->errors = pwalk_scan_counter(s, PWALK_COUNT_ERRORS);
    r->dirs = pwalk_scan_counter(s, PWALK_COUNT_DIRS);
    r->filtered = pwalk_scan_counter(s, PWALK_COUNT_FILTERED);
    for (size_t i = 0; i < (size_t)r->sink_count && i < SHARD_MAX_SINKS; i++)
        r->sink_rows[i] = pwalk_scan_sink_rows(s, i);
    rank_choices(pwalk_scan_summary(s), r->choices, sizeof r->choices);
}

/* SIGTERM/SIGINT abandon a checkpointed scan as they do any scan.  The
 * first rank to stop aborts the job, which may kill the others before
 * they clean up, so each removes it all: the manifest first (no manifest
 * names journals that are gone), then every rank's journals. */
static void abandon_checkpoint(const ckpt_plan *p, int size)
{
    unlink(p->path);
    ckpt_remove_journals(p->path, 0, p->old_ranks > size ? p->old_ranks : size);
}

/* Run this rank's walk as part of the shared one.  Returns the scan's
 * status; a rank that fails aborts the whole job (the others may be
 * waiting for its work), so only 0, 1 and PWALK_INCOMPLETE (every rank
 * suspended at a checkpoint) return. */
static int run_rank(mpi_setup *m, coord *c, int rank, outfile *mf)
{
    char err[1024];
    /* a resumed job starts from the journals' pending directories */
    int seed = rank == 0 && m->plan.generation == 0;
    pwalk_remote remote = {sizeof remote, c, 5, seed, coord_tick, exchange_own};
    c->scan = m->scan;
    pwalk_callbacks cb = {.struct_size = sizeof cb, .ctx = &c->rank, .on_log = on_log};
    if (pwalk_scan_set_remote(m->scan, &remote, err, sizeof err) != 0 ||
        pwalk_scan_set_callbacks(m->scan, &cb) != 0 ||
        (mf && pwalk_scan_own_fd(m->scan, mf->fd, err, sizeof err) != 0))
        coord_fail("%s", err);  /* the manifest's temporary is not a row */
    /* a fresh job's first checkpoint at once (after its roots are read):
     * from then on a manifest names every rank's parts */
    c->next_ckpt =
        now_seconds() + (m->plan.generation == 0 ? 0.0 : (double)m->plan.every_ms / 1000.0);
    c->limit_at = m->plan.limit_ms ? now_seconds() + (double)m->plan.limit_ms / 1000.0 : 0;
    int status = pwalk_scan_run(m->scan);
    if (status == PWALK_INCOMPLETE && c->suspended)
        return status;
    if (status != PWALK_OK && status != PWALK_PARTIAL) {
        const char *why = pwalk_scan_message(m->scan);
        fprintf(stderr, "pwalk-mpi: rank %d: %s\n", rank, why[0] ? why : "scan failed");
        if (mf)
            outfile_abort(mf);
        if (m->plan.path && status > PWALK_SIGNALED) /* abandoned: nothing to resume */
            abandon_checkpoint(&m->plan, c->size);
        MPI_Abort(MPI_COMM_WORLD, status);
        exit(status);
    }
    return status;
}

/* The facts of the whole scan for a merge lifecycle (rank 0, every rank's
 * counts added). */
static void merge_facts(mpi_setup *m, int size, const shard_rank_result *all,
                        int64_t started, pwalk_scan_facts *f)
{
    memset(f, 0, sizeof *f);
    f->struct_size = sizeof *f;
    int threads = m->settings.threads;
    if (threads <= 0) /* automatic: what each rank started with */
        threads = pwalk_auto_threads(NULL, NULL, 0);
    f->thread_count = threads > 0 ? (uint32_t)threads : 0;
    f->rank = 0;
    f->ranks = size;
    f->start_sec = started;
    f->end_sec = (int64_t)time(NULL);
    for (int k = 0; k < size; k++) {
        f->entries += all[k].entries;
        f->errors += all[k].errors;
        f->filtered += all[k].filtered;
    }
    if (m->plan.session_count) { /* a checkpointed scan: every session's times */
        m->plan.sessions[m->plan.session_count - 1].end_sec = f->end_sec;
        f->session_count = (uint32_t)m->plan.session_count;
        f->sessions = m->plan.sessions;
    }
}

/* Sink i's partials, one per rank, at the rank's shard names. */
static char **partial_paths(const mpi_setup *m, size_t i, int size)
{
    char **p = calloc((size_t)size, sizeof *p);
    for (int r = 0; p && r < size; r++) {
        char name[PATH_MAX + 32];
        if (shard_name(m->sink_paths[i], r, name, sizeof name) != 0 || !(p[r] = strdup(name)))
            coord_fail("sink '%s': partial path too long", pwalk_scan_sink_name(m->scan, i));
    }
    if (!p)
        coord_fail("out of memory");
    return p;
}

/* Rank 0, every rank done: each sink whose plugin merges (ABI 1.3) runs
 * its merge lifecycle over every rank's partial, writing the one output at
 * the unsharded name; the partials go once it is published, and stay when
 * the merge fails (the job then fails: no manifest).  0, or -1 (said). */
static int merge_sinks(mpi_setup *m, int size, const shard_rank_result *all, int64_t started)
{
    if (size < 2 && !m->partials)
        return 0; /* one rank wrote the output itself */
    pwalk_scan_facts facts;
    merge_facts(m, size, all, started, &facts);
    for (size_t i = 0; i < pwalk_scan_sink_count(m->scan); i++) {
        if (!m->merges[i])
            continue;
        const char *name = pwalk_scan_sink_name(m->scan, i);
        char err[2048];
        char **parts = partial_paths(m, i, size);
        int rc = set_value(m->scan, name, m->outputs[i], m->sink_paths[i], err, sizeof err);
        if (rc == 0 && pwalk_scan_merge_sink(m->scan, i, (const char *const *)parts,
                                             (size_t)size, &facts, err, sizeof err) != 0)
            rc = -1;
        if (rc != 0)
            fprintf(stderr, "pwalk-mpi: merging the ranks' partials: %s; the partials are "
                            "kept, no manifest written\n", err);
        for (int r = 0; r < size; r++) {
            if (rc == 0 && unlink(parts[r]) != 0 && errno != ENOENT)
                fprintf(stderr, "pwalk-mpi: cannot remove partial %s: %s\n", parts[r],
                        strerror(errno));
            free(parts[r]);
        }
        free(parts);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* The ranks' walk choices on the summary line: once when every rank that
 * made one (stat'ed anything) made the same, else each rank's (a node
 * whose kernel refused statx). */
static void print_choices(const shard_rank_result *all, int size)
{
    const int w = (int)sizeof all[0].choices;
    const char *first = NULL;
    int same = 1;
    for (int k = 0; k < size; k++) {
        if (all[k].choices[0] == '\0')
            continue;
        if (!first)
            first = all[k].choices;
        same = same && strncmp(all[k].choices, first, (size_t)w) == 0;
    }
    if (first && same) {
        fprintf(stderr, "%.*s", w, first);
        return;
    }
    for (int k = 0; first && k < size; k++)
        if (all[k].choices[0] != '\0')
            fprintf(stderr, "%.*s (rank %d)", w, all[k].choices, k);
}

/* Rank 0, every rank suspended at the checkpoint the manifest names:
 * nothing is published (no shards manifest); say how to go on. */
static void suspended_job(const mpi_setup *m, int size, outfile *mf)
{
    outfile_abort(mf);
    fprintf(stderr,
            "pwalk-mpi: %d ranks: suspended at checkpoint %llu, incomplete; continue with "
            "--resume %s (any number of ranks)\n",
            size, (unsigned long long)m->plan.generation, m->plan.path);
}

/* Rank 0, the scan complete and its outputs published: the checkpoint
 * has nothing left to resume (the manifest goes first: no manifest ever
 * names journals that are gone). */
static void complete_checkpoint(const ckpt_plan *p, int size)
{
    if (unlink(p->path) != 0 && errno != ENOENT)
        fprintf(stderr, "pwalk-mpi: cannot remove checkpoint %s: %s\n", p->path,
                strerror(errno));
    ckpt_remove_journals(p->path, 0, p->old_ranks > size ? p->old_ranks : size);
}

/* Rank 0, every rank's result in: the manifest last, then the summary.
 * Returns the job's exit status. */
static int finish_job(mpi_setup *m, coord *c, int size, const shard_rank_result *all,
                      outfile *mf, int status, const mpi_cli *cli, double t0, int64_t started)
{
    char err[2048];
    if (merge_sinks(m, size, all, started) != 0) {
        outfile_abort(mf);
        return PWALK_FAILED;
    }
    shard_manifest man = {m->scan, m->sink_paths, m->errors_path, size, all,
                          m->settings.threads > 0 ? (size_t)m->settings.threads : 0,
                          MPI_Wtime() - t0, started, m->merges};
    uint64_t entries = 0, rows = 0, errors = 0;
    for (int k = 0; k < size; k++) {
        entries += all[k].entries;
        rows += all[k].rows;
        errors += all[k].errors;
        if (all[k].status == PWALK_PARTIAL)
            status = PWALK_PARTIAL;
    }
    if (shard_write_manifest(mf, &man, err, sizeof err) != 0) {
        fprintf(stderr, "pwalk-mpi: manifest: %s; the shards are not a complete report\n",
                err);
        return PWALK_FAILED;
    }
    if (m->plan.path)
        complete_checkpoint(&m->plan, size);
    /* stdout carries one line, the manifest's path, for scripts (and the
     * Python package) to find the report by */
    printf("%s\n", m->manifest);
    fflush(stdout);
    if (!cli->quiet || status != PWALK_OK) {
        double secs = MPI_Wtime() - t0;
        fprintf(stderr,
                "pwalk-mpi: %d ranks: %llu entries, %llu rows, %llu errors in %.2f s "
                "(%.0f rows/s, %llu work moves)",
                size, (unsigned long long)entries, (unsigned long long)rows,
                (unsigned long long)errors, secs, secs > 0 ? (double)rows / secs : 0.0,
                c->moves);
        print_choices(all, size);
        fprintf(stderr, "; manifest %s\n", m->manifest);
    }
    return status;
}

/* Ranks must see the same tree at the same path: a root that names another
 * directory here than on rank 0 (a node-local /scratch, another mount)
 * would make every directory handed to this rank an error record of kind
 * replaced -- a report with holes and exit 0.  So before any rank walks,
 * each directory root's inode is compared with rank 0's (st_dev may differ
 * between nodes; the library's re-open check allows for that too).
 * Collective: every rank calls it with the same roots. */
static int same_roots(const mpi_setup *m, int rank, char *err, size_t errlen)
{
    size_t n = pwalk_scan_root_count(m->scan);
    unsigned long long *ino = calloc(n ? n : 1, sizeof *ino);
    unsigned long long *ref = calloc(n ? n : 1, sizeof *ref);
    if (!ino || !ref)
        coord_fail("out of memory");
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(pwalk_scan_root(m->scan, i), &st) == 0 && S_ISDIR(st.st_mode))
            ino[i] = (unsigned long long)st.st_ino;
    }
    memcpy(ref, ino, n * sizeof *ref);
    MPI_Bcast(ref, (int)n, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (ref[i] == 0 || ino[i] == ref[i])
            continue; /* not a directory on rank 0: nothing below it moves */
        snprintf(err, errlen,
                 "rank %d: root '%s' is another directory here than on rank 0 (inode %llu, "
                 "rank 0: %llu); every rank must see the tree at the same path",
                 rank, pwalk_scan_root(m->scan, i), ino[i], ref[i]);
        rc = -1;
    }
    free(ino);
    free(ref);
    return rc;
}

/* Every rank checked the same inputs; they agree to go on or not, and the
 * lowest failing rank says why.  Returns 0 to go on, else the exit status
 * (everything released). */
static int agree(int rc, int rank, int size, const char *err, mpi_setup *m, mpi_cli *cli,
                 outfile *mf)
{
    int bad = rc == 0 ? size : rank, first_bad = size;
    MPI_Allreduce(&bad, &first_bad, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first_bad == size && rc == 0)
        return 0;
    if (rc == 1 && rank == 0)
        fputs(usage_text, stdout);
    else if (rank == first_bad && rc != 0)
        oneline_print(stderr, "pwalk-mpi", err); /* it quotes arguments as given */
    if (mf)
        outfile_abort(mf);
    setup_free(m, cli);
    MPI_Finalize();
    return rc == 1 ? 0 : PWALK_USAGE;
}

int main(int argc, char **argv)
{
    catch_suspend_early();
    int provided = 0;
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "pwalk-mpi: MPI_Init_thread failed\n");
        return PWALK_FAILED;
    }
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    mpi_cli cli;
    mpi_setup m;
    memset(&cli, 0, sizeof cli);
    memset(&m, 0, sizeof m);
    m.ranks = size;
    char err[2048] = "";
    int rc = prepare(argc, argv, rank, &cli, &m, err, sizeof err);
    if (rc == 0 && rank == 0)
        rc = remove_stale(&m, size, err, sizeof err);
    /* The manifest is an output like the shards: its directory is opened
     * and its temporary created now, its name checked before any rank
     * walks, and it is renamed at the end relative to that directory. */
    outfile mf, *mfp = NULL;
    if (rc == 0 && rank == 0) {
        if (outfile_open_mode(&mf, m.manifest, m.settings.mode, err, sizeof err) != 0)
            rc = -1;
        else
            mfp = &mf;
    }
    int status = agree(rc, rank, size, err, &m, &cli, mfp);
    if (status == 0 && rc == 0) { /* a second round: the roots are the same tree */
        rc = same_roots(&m, rank, err, sizeof err);
        status = agree(rc, rank, size, err, &m, &cli, mfp);
    }
    if (status != 0 || rc != 0)
        return status;
    if (provided < MPI_THREAD_FUNNELED) {
        if (rank == 0)
            fprintf(stderr, "pwalk-mpi: this MPI cannot be used from a threaded program "
                            "(MPI_THREAD_FUNNELED not provided)\n");
        if (mfp)
            outfile_abort(mfp);
        MPI_Finalize();
        return PWALK_FAILED;
    }
    install_signals(m.scan, m.plan.path != NULL);

    coord c;
    if (coord_init(&c, rank, size) != 0)
        coord_fail("out of memory");
    c.plan = &m.plan;
    int64_t started = start_times(&m, rank, size);
    double t0 = now_seconds();
    status = run_rank(&m, &c, rank, mfp);
    coord_drain(&c);

    shard_rank_result mine;
    rank_result(m.scan, status, now_seconds() - t0, &mine);
    shard_rank_result *all = rank == 0 ? calloc((size_t)size, sizeof *all) : NULL;
    if (rank == 0 && !all)
        coord_fail("out of memory");
    MPI_Gather(&mine, sizeof mine, MPI_BYTE, all, sizeof mine, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (rank == 0 && status == PWALK_INCOMPLETE)
        suspended_job(&m, size, mfp);
    else if (rank == 0) /* releases the manifest's outfile either way */
        status = finish_job(&m, &c, size, all, mfp, status, &cli, t0, started);
    free(all);
    coord_free(&c);
    mpi_signal_scan = NULL;
    setup_free(&m, &cli);
    MPI_Finalize();
    return status;
}
