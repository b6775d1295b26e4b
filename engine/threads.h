/*
 * threads.h -- how many workers `threads: auto` means.
 */
#ifndef PWALK_ENGINE_THREADS_H
#define PWALK_ENGINE_THREADS_H

#include <stddef.h>

#define THREADS_MAX 4096

/* Parse a SLURM CPU count such as "8", "4(x2)" or "16,8(x2)" (the first
 * node's count).  Returns the count (>= 1) or -1 if the text is not one. */
int threads_parse_slurm(const char *value);

/* The automatic worker count: SLURM_CPUS_PER_TASK, else SLURM_CPUS_ON_NODE,
 * else the CPUs in this process's affinity mask.  A SLURM variable that is
 * set but not a count is an error: returns -1 and names it in err.
 * *source is set to where the count came from. */
int threads_auto(const char **source, char *err, size_t errlen);

#endif
