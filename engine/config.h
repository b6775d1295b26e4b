/*
 * config.h -- the YAML pipeline: what to scan and which sinks receive it.
 * Engine-private.  Loading validates structure, key names and scalar types;
 * sink options are validated later against the plugin's declared schema
 * (options.h), once the plugin is loaded.
 */
#ifndef PWALK_ENGINE_CONFIG_H
#define PWALK_ENGINE_CONFIG_H

#include <stddef.h>

/* Where a node was in the YAML file (1-based), for error messages. */
typedef struct cfg_mark {
    int line;
    int column;
} cfg_mark;

/* One sink option as written in YAML: a scalar or a sequence of scalars. */
typedef struct cfg_option {
    char *key;
    int is_list;
    char *scalar;       /* when !is_list */
    char **items;       /* when is_list  */
    size_t item_count;
    cfg_mark mark;      /* of the value  */
    cfg_mark key_mark;
} cfg_option;

typedef struct cfg_sink {
    char *name;         /* the sink's name, unique in the pipeline   */
    char *plugin;       /* plugin name, or a path ending in .so      */
    cfg_option *options;
    size_t option_count;
    cfg_mark mark;
    void *attachment;   /* not from YAML: pwalk_scan_attach()'s pointer,
                           host->attachment() (pwalk/sys/attach.h)    */
} cfg_sink;

typedef struct cfg_scan {
    char **roots;
    size_t root_count;
    int threads;                /* 0 = auto                          */
    int one_file_system;
    int strict;                 /* vanished entries make exit status 1 */
    int skip_snapshots;
    char **snapshot_names;      /* default: [".snapshot"]            */
    size_t snapshot_name_count;
    char **excludes;            /* paths and shell globs             */
    size_t exclude_count;
    int max_depth;              /* 0 = unlimited                     */
    char *errors_path;          /* NULL = no error file              */
    int mode;                   /* error file, manifest: -1 = 0600 as root, else umask */
    int max_threads;            /* threads: auto grows up to this    */
    long long max_ops;          /* metadata ops/s, 0 = no limit      */
    int adaptive;               /* back off when latency climbs      */
    int lazy_stat;              /* statx(AT_STATX_DONT_SYNC)         */
    int io_idle;                /* io_priority: idle                 */
    char *checkpoint;           /* journal file, NULL = none         */
    long long checkpoint_every_ms; /* periodic checkpoints (5m)      */
    long long time_limit_ms;    /* suspend after this long, 0 = none */
} cfg_scan;

/* scan.checkpoint_every when not given: 5 minutes. */
#define CFG_DEFAULT_CHECKPOINT_EVERY_MS 300000LL

/* scan.max_threads when not given (pace.h's PACE_DEFAULT_MAX_THREADS). */
#define CFG_DEFAULT_MAX_THREADS 256

typedef struct cfg_pipeline {
    char *source;               /* file name, or "<built-in>"        */
    int version;
    int allow_mutation;
    cfg_scan scan;
    char **plugin_path;
    size_t plugin_path_count;
    cfg_sink *sinks;
    size_t sink_count;
} cfg_pipeline;

/* Fill *out with the defaults of every field (no roots, no sinks). */
void cfg_init_defaults(cfg_pipeline *out);

/* Parse and validate a pipeline file.  *out is output only (overwritten,
 * never freed first); after a failure it holds the defaults and must still
 * be cfg_free()d.  Returns 0, or -1 with a one-line message in err such as
 * "audit.yaml:3:5: unknown key 'foo' in 'scan'". */
int cfg_load_file(const char *path, cfg_pipeline *out, char *err, size_t errlen);

/* The same from a string (name is used in messages). */
int cfg_load_string(const char *text, size_t len, const char *name,
                    cfg_pipeline *out, char *err, size_t errlen);

/* Apply "SINK.OPTION=VALUE" (a sink option) or "scan.KEY=VALUE" (a scan
 * scalar such as scan.threads=4).  Returns 0 or -1 with a message. */
int cfg_apply_set(cfg_pipeline *p, const char *assignment, char *err, size_t errlen);

/* Replace scan.roots with the given paths (copied). */
int cfg_set_roots(cfg_pipeline *p, char *const *roots, size_t count);

/* Append a sink (copies strings); returns the new sink or NULL. */
cfg_sink *cfg_add_sink(cfg_pipeline *p, const char *name, const char *plugin);
/* Set a scalar option on a sink (copies; replaces an existing one). */
int cfg_sink_set(cfg_sink *s, const char *key, const char *value);

void cfg_free(cfg_pipeline *p);

/* A duration: "90" (seconds), "90s", "5m", "3h50m", "1d12h", "1h30m15s",
 * "500ms"; also SLURM's "MM:SS", "HH:MM:SS", "D-HH:MM:SS".  Must be > 0.
 * Returns 0 (*ms set) or -1 (*ms untouched). */
int cfg_parse_duration(const char *text, long long *ms);

/* The pipeline as "key=value" lines for a checkpoint journal: everything
 * that decides what the scan writes (version, allow_mutation, the scan
 * settings that select and report entries, every sink's plugin and
 * options), not the pacing (threads, max_ops, ...) nor where the journal
 * lives.  When a root, scan.errors, a plugin's .so or a sink's path/dir
 * option is a relative path, a last line "working_directory=CWD" (cwd not
 * NULL): the same words from another directory are another scan.  Values
 * are escaped (common/lossless) so each line is one line.  *lines is a
 * malloc'ed array of malloc'ed strings (cfg_canonical_free).  Returns 0,
 * or -1 (out of memory; *lines NULL, *count 0). */
int cfg_canonical(const cfg_pipeline *p, const char *cwd, char ***lines, size_t *count);
void cfg_canonical_free(char **lines, size_t count);

#endif
