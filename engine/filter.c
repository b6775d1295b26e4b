/*
 * filter.c -- entry filters; see filter.h.
 */
#include "filter.h"

#include <fnmatch.h>
#include <string.h>

const char *filter_reason_name(enum filter_reason r)
{
    switch (r) {
    case FILTER_SNAPSHOT: return "snapshot";
    case FILTER_EXCLUDE: return "exclude";
    case FILTER_OTHER_DEVICE: return "other-filesystem";
    case FILTER_DEPTH: return "depth";
    case FILTER_OWN_OUTPUT: return "own-output";
    default: return "none";
    }
}

int filter_is_snapshot(const filter_rules *r, const char *name)
{
    if (!r->skip_snapshots)
        return 0;
    for (size_t i = 0; i < r->snapshot_name_count; i++)
        if (strcmp(r->snapshot_names[i], name) == 0)
            return 1;
    return 0;
}

static size_t trimmed_len(const char *s)
{
    size_t n = strlen(s);
    while (n > 1 && s[n - 1] == '/')
        n--;
    return n;
}

int filter_is_excluded(const filter_rules *r, const char *path, const char *name)
{
    for (size_t i = 0; i < r->exclude_count; i++) {
        const char *pat = r->excludes[i];
        if (strchr(pat, '/')) {
            size_t n = trimmed_len(pat);
            if (strncmp(pat, path, n) == 0 && path[n] == '\0')
                return 1;
            if (fnmatch(pat, path, 0) == 0)
                return 1;
        } else if (fnmatch(pat, name, 0) == 0) {
            return 1;
        }
    }
    return 0;
}

int filter_depth_stops(const filter_rules *r, int level, int is_dir)
{
    if (r->max_depth <= 0)
        return 0;
    /* level - 1 is the depth of the directory the entry was read from
     * (written so that max_depth INT_MAX cannot overflow) */
    if (level - 1 > r->max_depth)
        return 1;
    return is_dir && level - 1 == r->max_depth;
}
