/*
 * sinks.h -- the configured sinks of one pipeline, fed by one walk.
 *
 * sinks_load() finds and vets every plugin and checks every option before
 * anything is created, so a bad pipeline fails with nothing written.
 * sinks_start() runs create() and thread_open(); the walk_sink it returns
 * fans each batch out to every sink (SERIAL plugins under a lock);
 * sinks_finish() closes the per-worker states and commits or abandons the
 * outputs; sinks_free() always runs last.
 */
#ifndef PWALK_ENGINE_SINKS_H
#define PWALK_ENGINE_SINKS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "walk.h"

typedef struct sink_set sink_set;

/* Where error records go besides the sinks (the engine's error report).
 * kind is PWALK_ERROR_* (a sink's entry_error() is always FAILED). */
typedef struct sinks_error_hook {
    void *ctx;
    void (*record)(void *ctx, const char *path, size_t path_len, int error_number,
                   const char *operation, uint32_t kind);
    /* A sink's host->log() line, "sink 'NAME': TEXT" (any thread; NULL:
     * dropped -- the library never writes stderr itself). */
    void (*log)(void *ctx, const char *line);
} sinks_error_hook;

/* Load the pipeline's plugins and bind their options; refuse a plugin that
 * mutates the filesystem unless the pipeline allows it.  Returns 0, or -1
 * with a one-line message (the caller exits 2). */
int sinks_load(const cfg_pipeline *p, sink_set **out, char *err, size_t errlen);

/* The same, with plugins the caller provides in process: a sink whose
 * plugin name equals builtins[i]->name uses it without searching or
 * dlopen (it is still checked like a loaded one). */
int sinks_load_with(const cfg_pipeline *p, const pwalk_plugin *const *builtins,
                    size_t builtin_count, sink_set **out, char *err, size_t errlen);

/* The scan's stop request: a sink failing during the walk sets it (so the
 * walk of this scan, and no other, stops), host->stop_requested() reads
 * it.  Call before sinks_start(). */
void sinks_set_stop(sink_set *s, int *stop);

/* The first sink that failed (loading, create, the walk, commit): its
 * index and its message without the "sink 'NAME': " prefix (owned by the
 * set).  Returns 0 when no sink failed.  The set may be the one a failed
 * sinks_load() left. */
int sinks_failure(const sink_set *s, size_t *index, const char **message);

/* Number of sinks and their names/plugins, for the summary. */
size_t sinks_count(const sink_set *s);
const char *sinks_name(const sink_set *s, size_t i);

/* The facts host->scan_facts() (ABI 1.3) hands the sinks, before
 * sinks_start(): strings and roots are borrowed (they must outlive the
 * set); a NULL hostname/version, a 0 start_sec and ranks < 1 are filled in
 * (gethostname(), "", now, rank 0 of 1).  Without a
 * call the set knows only the thread count. */
void sinks_set_facts(sink_set *s, const pwalk_scan_facts *f);
/* The walk ended: its end time and final counts, before sinks_finish()
 * (so prepare() sees them); threads, when not 0, replaces the thread count
 * with the most workers that ran at once (threads: auto starts the sinks
 * for scan.max_threads, which is not what an admin wants to read). */
void sinks_set_final(sink_set *s, int64_t end_sec, uint64_t entries, uint64_t errors,
                     uint64_t filtered, uint32_t threads);

/* create() every sink, then thread_open() for each of `workers` workers.
 * Returns 0, or -1 with "sink 'NAME': message" in err. */
int sinks_start(sink_set *s, size_t workers, const sinks_error_hook *hook, char *err,
                size_t errlen);

/* Files the scan writes itself, for walk_options.own: those the sinks
 * passed to host->own_output() (ABI 1.2), plus any the engine adds with
 * sinks_own_fd() (its error file).  Owned by the set. */
const walk_file_id *sinks_own_files(const sink_set *s, size_t *count);
/* Add the file open on fd (ignored unless a regular file).  Returns 0, or
 * -1 with a message. */
int sinks_own_fd(sink_set *s, int fd, char *err, size_t errlen);
/* The same by identity (a file the caller identified earlier). */
int sinks_own_id(sink_set *s, walk_file_id id, char *err, size_t errlen);

/* Patterns the sinks passed to host->prune() in create(): the walk adds
 * them to scan.exclude.  Owned by the set. */
char *const *sinks_prunes(const sink_set *s, size_t *count);

/* The walk's view of the sinks. */
walk_sink sinks_walk_sink(sink_set *s);

/* Did a sink fail during the walk?  (Its message is in err.) */
int sinks_failed(const sink_set *s, char *err, size_t errlen);

/* Rows a sink accepted. */
uint64_t sinks_rows(const sink_set *s, size_t i);

/* thread_close() every opened state, then finish(scan_status) every sink
 * (status 0 commits outputs).  Returns 0, or -1 with the first failure in
 * err; after a failure the remaining sinks are finished with a non-zero
 * status so they publish nothing. */
int sinks_finish(sink_set *s, int scan_status, char *err, size_t errlen);

/* destroy() every sink, unload plugins, free everything.  NULL is fine. */
void sinks_free(sink_set *s);

/* ---- checkpoints (ABI 1.4, pipeline.c's checkpoint.c) ------------------- */

/* Every sink's plugin has checkpoint(); else -1 with "sink 'NAME': plugin
 * 'P' cannot checkpoint; ..." in err. */
int sinks_can_checkpoint(const sink_set *s, char *err, size_t errlen);
/* Before sinks_start(): sink i continues the saved states (borrowed until
 * sinks_free(); host->checkpoint_count/_state) and the rows counted so far. */
void sinks_set_resume(sink_set *s, size_t i, const void *const *states, const size_t *lens,
                      size_t count, uint64_t rows);
/* At a cut (no consume() running): every sink's checkpoint(), each saving
 * exactly one state.  0, or -1 with "sink 'NAME': ..." (the sink failed). */
int sinks_checkpoint(sink_set *s, char *err, size_t errlen);
/* Called by sinks_finish(0) with published 0 once every sink prepared,
 * before the first publishes (non-zero abandons them all: status 3, err),
 * then with i + 1 after sink i published (its result ignored). */
void sinks_set_publish_hook(sink_set *s,
                            int (*hook)(void *ctx, size_t published, char *err, size_t errlen),
                            void *ctx);
/* The state sink i saved at the last sinks_checkpoint() (the set's). */
void sinks_saved_state(const sink_set *s, size_t i, const unsigned char **state, size_t *len);
/* The plugin's own name (pwalk_plugin.name) of sink i. */
const char *sinks_plugin_name(const sink_set *s, size_t i);

/* Load the plugin of sink i and release it again, reporting whether it
 * changes the filesystem and how it declares option `option`: *declared 0
 * when it has no such option, *default_value its default (malloc'ed) or
 * NULL.  pwalk-mpi uses it to give every rank its own output file before
 * the scan.  Returns 0, or -1 with a message. */
int sinks_probe(const cfg_pipeline *p, size_t i, const char *option, int *mutates,
                int *declared, char **default_value, char *err, size_t errlen);

/* Sink i's plugin (loaded and released again): *merges non-zero when it has
 * a merge callback (ABI 1.3), *output the name of its first output option
 * (PWALK_OPTION_OUTPUT; "path"/"log" for ABI 1.0/1.1), malloc'ed, or NULL.
 * Returns 0, or -1 with a message. */
int sinks_probe_merge(const cfg_pipeline *p, size_t i, int *merges, char **output, char *err,
                      size_t errlen);

/* The merge lifecycle of sink i (pwalk/plugin.h, "Merge lifecycle"): only
 * that sink loaded, create() with no workers and *facts, merge(partials),
 * prepare(), finish(0), destroy().  Returns 0, or with "sink 'NAME':
 * message" in err (nothing published) -2 when the plugin cannot be loaded
 * or has no merge callback, -1 when the merge or its output failed. */
int sinks_merge(const cfg_pipeline *p, size_t i, const pwalk_plugin *const *builtins,
                size_t builtin_count, const pwalk_scan_facts *facts,
                const char *const *partials, size_t count, const sinks_error_hook *hook,
                char *err, size_t errlen);

/* Load one plugin by name and print its description to out (--describe). */
int sinks_describe(const char *plugin, char *const *dirs, size_t ndirs, FILE *out, char *err,
                   size_t errlen);

#endif
