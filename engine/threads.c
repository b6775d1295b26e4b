/*
 * threads.c -- the automatic worker count.
 *
 * Under SLURM the affinity mask is usually right too, but not when the job
 * step was started without binding; the SLURM variables say what the job
 * was granted, so they win.  A garbage value is refused instead of
 * silently falling back: a scan with the wrong thread count on a shared
 * node is the kind of surprise an administrator should hear about.
 */
#define _GNU_SOURCE
#include "threads.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int threads_parse_slurm(const char *value)
{
    if (!value || *value < '0' || *value > '9')
        return -1;
    errno = 0;
    char *end;
    long n = strtol(value, &end, 10);
    if (errno || n < 1 || n > 1000000)
        return -1;
    if (*end == '(') {
        /* "4(x2)": 4 CPUs on each of 2 nodes. */
        if (end[1] != 'x' || end[2] < '0' || end[2] > '9')
            return -1;
        char *rep_end;
        long rep = strtol(end + 2, &rep_end, 10);
        if (rep < 1 || *rep_end != ')')
            return -1;
        end = rep_end + 1;
    }
    if (*end == ',') {
        /* Heterogeneous nodes: "16,8(x2)"; the rest must parse too. */
        if (threads_parse_slurm(end + 1) < 0)
            return -1;
    } else if (*end != '\0') {
        return -1;
    }
    return n > THREADS_MAX ? THREADS_MAX : (int)n;
}

int threads_auto(const char **source, char *err, size_t errlen)
{
    static const char *const vars[] = {"SLURM_CPUS_PER_TASK", "SLURM_CPUS_ON_NODE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (!v || !*v)
            continue;
        int n = threads_parse_slurm(v);
        if (n < 0) {
            snprintf(err, errlen, "%s='%s' is not a CPU count (expected e.g. 8 or 4(x2))",
                     vars[i], v);
            return -1;
        }
        if (source)
            *source = vars[i];
        return n;
    }
    cpu_set_t set;
    int n = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = CPU_COUNT(&set);
    if (n < 1) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? (int)online : 1;
    }
    if (source)
        *source = "cpu affinity";
    return n > THREADS_MAX ? THREADS_MAX : n;
}
