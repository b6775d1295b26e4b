/*
 * checkpoint.h -- a scan's journal (scan.checkpoint, pwalk.h "Checkpoints"):
 * what a resumed run continues from, and what each cut of the walk
 * (walk.h "Cuts") writes.  The file format is journal.h's; this module
 * fills it from the walk, the sinks and the error file, and hands a
 * resumed run its pieces back: every sink's saved states, the error
 * file's, the counters so far, the sessions, the pending directories.
 *
 * Several journals are continued at once when a pwalk-mpi job resumes with
 * fewer ranks: their pending directories are queued together, their
 * counters summed, and each sink continues all of its saved states.
 */
#ifndef PWALK_ENGINE_CHECKPOINT_H
#define PWALK_ENGINE_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "pwalk/plugin.h"
#include "report.h"
#include "sinks.h"
#include "walk.h"

typedef struct ckpt ckpt;

typedef struct ckpt_setup {
    const cfg_pipeline *p;
    const char *const *resume;  /* journals to continue; NULL: a fresh scan */
    size_t resume_count;
    int rank, ranks;            /* pwalk-mpi's, else 0, 0                   */
    int64_t start_sec;          /* this session's start                     */
} ckpt_setup;

/* Before anything is written.  No scan.checkpoint and nothing to resume:
 * *out NULL and 0.  A fresh scan: its journal must not exist yet (a
 * forgotten --resume would otherwise start over and replace it).  A
 * resumed one: every journal read and checked (format, pwalk version,
 * pipeline).  Returns 0, or -1 with one line naming the journal. */
int ckpt_open(ckpt **out, const ckpt_setup *setup, char *err, size_t errlen);

/* The journal the cuts write (a shared walk's driver names one per cut:
 * ckpt_set_path()). */
const char *ckpt_path(const ckpt *c);
void ckpt_set_path(ckpt *c, const char *path);

/* A resumed scan (the sinks get finish(PWALK_SUSPENDED) if it fails before
 * its walk, so that the journal stays usable). */
int ckpt_resumed(const ckpt *c);

/* The journal (a resume) is of a scan that completed: its walk ended,
 * every output was whole and being published when the process stopped;
 * ckpt_published() of them were (the sinks in order, then the error
 * file).  Nothing is left to walk. */
int ckpt_completed(const ckpt *c);
size_t ckpt_published(const ckpt *c);

/* The error file was published (after every sink): the journal says all
 * is out, only its own removal is left. */
void ckpt_errors_published(ckpt *c);

/* The whole scan's counts, for the journal marked complete before the
 * outputs are published (errors and vanished: the error file's, sinks'
 * records included), which a resume of it reports (ckpt_add_counted). */
void ckpt_set_final(ckpt *c, const walk_stats *st, uint64_t errors, uint64_t vanished);

/* After the sinks are loaded, before they start: every sink can
 * checkpoint, the journals name the same sinks, and each sink is given its
 * saved states and rows.  0 or -1 + message. */
int ckpt_bind_sinks(ckpt *c, sink_set *sinks, char *err, size_t errlen);

/* The error file's saved states (one per journal; n 0 for a fresh scan). */
size_t ckpt_errors_states(const ckpt *c, const unsigned char *const **states,
                          const size_t **lens);

/* The sessions so far, this one last (for host->scan_facts()). */
const pwalk_session *ckpt_sessions(const ckpt *c, size_t *count);

/* Add what the earlier sessions counted to this session's walk counters. */
void ckpt_add_counted(const ckpt *c, walk_stats *stats);

/* Hook the cuts and the resume into the walk's options: sinks and rep are
 * what a cut checkpoints. */
void ckpt_walk_options(ckpt *c, sink_set *sinks, report *rep, const cfg_pipeline *p,
                       walk_options *wo);

/* Directories the last cut left pending (for the suspension's message). */
uint64_t ckpt_pending(const ckpt *c);

/* A cut failed (a sink's checkpoint(), the error file's sync or the
 * journal's write: a full disk, most often). */
int ckpt_cut_failed(const ckpt *c);

/* The scan is failing (a sink, or a cut): keep the journal an earlier cut
 * or session wrote, and with it every part it names, for --resume.  That
 * journal describes a consistent state -- the one a SIGKILL right after it
 * would leave -- so a failure that is the disk's, not the scan's, does not
 * cost the scan its hours.  Returns 1 when there is such a journal (the
 * caller then finishes the sinks as suspended), 0 when none was written
 * yet (the scan is abandoned as without checkpoints). */
int ckpt_keep(ckpt *c);

/* The scan ended with status: completed (0, 1) or abandoned (2, 3, 128+N)
 * -- the journal is removed; suspended (PWALK_INCOMPLETE) or kept
 * (ckpt_keep) -- it stays. */
void ckpt_end(ckpt *c, int status);

void ckpt_free(ckpt *c);

#endif
