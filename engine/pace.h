/*
 * pace.h -- how hard the walk presses the filesystem: a token bucket that
 * caps metadata operations per second (scan.max_ops), and the controller
 * that picks how many workers run (threads: auto, scan.adaptive).
 *
 * On a network filesystem (Lustre, GPFS, NFS) every stat is a round trip of
 * 100 us to several ms, and the rate is concurrency / latency: the walk
 * needs many more operations in flight than it has cores.  The controller
 * grows the number of running workers while that pays (throughput grows
 * and the per-operation latency stays flat) and shrinks it when the
 * latency climbs (the server is saturated, or busy with someone else) --
 * additive/multiplicative, as TCP does with a congestion window.  It is a
 * pure function of what the walk measured, so it is tested without
 * threads or a filesystem.
 */
#ifndef PWALK_ENGINE_PACE_H
#define PWALK_ENGINE_PACE_H

#include <stdint.h>

/* ---- the token bucket -------------------------------------------------------
 *
 * Virtual scheduling (GCRA): one shared "next free slot" time; an operation
 * takes the slot and sleeps until it, so operations are spread evenly
 * instead of bursting at each second's start.  At most rate * t + burst
 * operations start in any interval t (burst = 20 ms worth, none below
 * 50/s). */
typedef struct pace_bucket {
    uint64_t interval_ns;       /* 1e9 / rate                              */
    uint64_t burst_ns;          /* how early before its slot one may start */
    uint64_t next_ns;           /* the theoretical arrival time (CLOCK_
                                   MONOTONIC); __atomic builtins only, so
                                   that C++ tests can include this      */
} pace_bucket;

/* A bucket for rate operations per second (rate >= 1). */
void pace_bucket_init(pace_bucket *b, uint64_t rate);

/* Take `tokens` operations' worth, sleeping until they are due.  Returns
 * early (0) when *stop becomes non-zero (checked every 100 ms while
 * waiting); 1 when the tokens were taken. */
int pace_bucket_take(pace_bucket *b, unsigned tokens, const int *stop);

/* ---- the concurrency controller -------------------------------------------- */

/* Latency above this many times its baseline shrinks the workers
 * (scan.adaptive's k); at or below PACE_GROW_RATIO they may grow. */
#define PACE_BACKOFF_RATIO 2.0
#define PACE_GROW_RATIO 1.5
/* Growth stops while the process uses this share of its CPUs: the walk is
 * then bound by its own work, not by waiting (a warm local disk). */
#define PACE_CPU_BUSY 0.8
/* ... and while less than this share of the running workers has an
 * operation in flight (rate x latency / workers). */
#define PACE_BUSY_SHARE 0.5
/* The control period, and the default ceiling of threads: auto. */
#define PACE_PERIOD_MS 100
/* Fewer sampled latencies than this and a period goes on. */
#define PACE_MIN_SAMPLES 8
#define PACE_DEFAULT_MAX_THREADS 256

/* What the walk measured over one period. */
typedef struct pace_sample {
    double seconds;             /* length of the period                    */
    uint64_t ops;               /* metadata operations completed           */
    double latency_ns;          /* mean of the sampled operations          */
    uint64_t latency_samples;
    double cpu_share;           /* process CPU time / (seconds * cpus)     */
    int backlog;                /* work was waiting for a worker           */
} pace_sample;

typedef struct pace_ctl {
    unsigned limit;             /* workers allowed to run now              */
    unsigned floor, ceiling;
    double baseline_ns;         /* lowest latency seen (drifts up slowly)  */
    int slow_start;             /* doubling until growth stops paying      */
    unsigned hold;              /* periods to wait before growing again    */
} pace_ctl;

/* start workers to begin with, never fewer than floor or more than
 * ceiling (floor <= start <= ceiling). */
void pace_ctl_init(pace_ctl *c, unsigned start, unsigned floor, unsigned ceiling);

/* One period's measurements in; the limit for the next period out. */
unsigned pace_ctl_step(pace_ctl *c, const pace_sample *s);

#endif
