/*
 * filter.h -- which entries a scan leaves out: snapshot directories,
 * excluded paths and globs, other filesystems, the depth limit.
 * A filtered entry gets no row and is not descended, but still counts in its
 * parent's pw_fcount (plugins/csv/FORMAT.md).
 */
#ifndef PWALK_ENGINE_FILTER_H
#define PWALK_ENGINE_FILTER_H

#include <stddef.h>

typedef struct filter_rules {
    int skip_snapshots;
    char *const *snapshot_names;
    size_t snapshot_name_count;
    char *const *excludes;      /* exact paths or fnmatch(3) globs */
    size_t exclude_count;
    int max_depth;              /* 0 = unlimited */
} filter_rules;

/* Why an entry was left out (index into the walk's filter counters). */
enum filter_reason {
    FILTER_NONE = 0,
    FILTER_SNAPSHOT,
    FILTER_EXCLUDE,
    FILTER_OTHER_DEVICE,
    FILTER_DEPTH,
    FILTER_OWN_OUTPUT,          /* a file this scan writes (walk_options.own) */
    FILTER_REASON_COUNT
};

const char *filter_reason_name(enum filter_reason r);

/* Is `name` (a directory) a snapshot directory to skip? */
int filter_is_snapshot(const filter_rules *r, const char *name);

/* Does an exclude pattern match?  A pattern with a '/' is matched against
 * the full path (an exact path, or a glob where '*' may cross '/'); one
 * without is matched against the entry's name alone. */
int filter_is_excluded(const filter_rules *r, const char *path, const char *name);

/* Depth limit, pwalk's --depth N exactly (checked side by side with pwalk
 * 3.0.0): directories down to N levels below the root are read, so every
 * entry down to level N+1 is reached; the directories AT level N+1 are not
 * opened and, as in pwalk, get no row (filtered, still counted in their
 * parent).  `level` is how many levels below its root an entry is (a root's
 * entries are level 1; row depth = level - 1). */
int filter_depth_stops(const filter_rules *r, int level, int is_dir);

#endif
