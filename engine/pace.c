/*
 * pace.c -- the token bucket and the concurrency controller; see pace.h.
 */
#define _GNU_SOURCE
#include "pace.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static uint64_t pace_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the token bucket -------------------------------------------------------- */

void pace_bucket_init(pace_bucket *b, uint64_t rate)
{
    if (rate < 1)
        rate = 1;
    b->interval_ns = 1000000000ull / rate;
    if (b->interval_ns == 0)
        b->interval_ns = 1;
    /* 20 ms of operations may start at once: a 1 s window then holds at
     * most rate * 1.02 + 1 operations; below 50/s none may, each waits its
     * own slot */
    b->burst_ns = b->interval_ns < 20000000ull ? 20000000ull : 0;
    b->next_ns = 0;
}

static void pace_sleep_until(uint64_t when_ns)
{
    struct timespec ts = {(time_t)(when_ns / 1000000000ull), (long)(when_ns % 1000000000ull)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

int pace_bucket_take(pace_bucket *b, unsigned tokens, const int *stop)
{
    uint64_t now = pace_now_ns();
    uint64_t cost = b->interval_ns * (tokens ? tokens : 1);
    uint64_t tat = __atomic_load_n(&b->next_ns, __ATOMIC_RELAXED);
    uint64_t start;
    for (;;) {
        /* GCRA: may start burst_ns before the theoretical arrival time;
         * the slot is reserved before sleeping, so waiting threads queue
         * up in order instead of retrying */
        start = tat > now + b->burst_ns ? tat - b->burst_ns : now;
        uint64_t next = (tat > start ? tat : start) + cost;
        if (__atomic_compare_exchange_n(&b->next_ns, &tat, next, 1, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            break;
    }
    while (start > now) {
        if (stop && __atomic_load_n(stop, __ATOMIC_RELAXED))
            return 0;
        pace_sleep_until(start - now > 100000000ull ? now + 100000000ull : start);
        now = pace_now_ns();
    }
    return 1;
}

/* ---- the concurrency controller ---------------------------------------------- */

void pace_ctl_init(pace_ctl *c, unsigned start, unsigned floor, unsigned ceiling)
{
    memset(c, 0, sizeof *c);
    if (ceiling < 1)
        ceiling = 1;
    if (floor < 1)
        floor = 1;
    if (floor > ceiling)
        floor = ceiling;
    if (start < floor)
        start = floor;
    if (start > ceiling)
        start = ceiling;
    c->limit = start;
    c->floor = floor;
    c->ceiling = ceiling;
    c->slow_start = 1;
}

/* The lowest latency seen is the filesystem unloaded.  At the floor,
 * where the walk cannot give way any further, it creeps up 1% a period
 * while the latency stays above it: a filesystem that became slower for
 * good (not by our load) is, after a while, its new normal. */
static double pace_latency_ratio(pace_ctl *c, double lat)
{
    if (c->baseline_ns <= 0 || lat < c->baseline_ns)
        c->baseline_ns = lat;
    else if (c->limit <= c->floor && c->baseline_ns * 1.01 < lat)
        c->baseline_ns *= 1.01;
    return c->baseline_ns > 0 ? lat / c->baseline_ns : 1.0;
}

static unsigned pace_clamp(const pace_ctl *c, double v)
{
    if (v < c->floor)
        return c->floor;
    if (v > c->ceiling)
        return c->ceiling;
    return (unsigned)v;
}

/* Little's law: operations in flight = rate x latency.  Its share of the
 * running workers says whether they wait on the filesystem (near 1: more
 * workers would have more in flight) or on something else -- the CPU,
 * the queue, scan.max_ops's bucket -- where more would only idle. */
static double pace_busy_share(const pace_ctl *c, const pace_sample *s, double rate)
{
    return rate * (s->latency_ns / 1e9) / (double)c->limit;
}

unsigned pace_ctl_step(pace_ctl *c, const pace_sample *s)
{
    if (s->seconds <= 0 || s->latency_samples < PACE_MIN_SAMPLES)
        return c->limit; /* too little seen to judge */
    double rate = (double)s->ops / s->seconds;
    double ratio = pace_latency_ratio(c, s->latency_ns);
    if (ratio > PACE_BACKOFF_RATIO) {
        /* the server is saturated or busy: give it room, quickly */
        c->limit = pace_clamp(c, ratio > 2 * PACE_BACKOFF_RATIO ? c->limit / 2.0
                                                                : c->limit * 0.75);
        c->slow_start = 0;
        c->hold = 2;
        return c->limit;
    }
    if (c->hold) {
        c->hold--;
        return c->limit;
    }
    if (ratio > PACE_GROW_RATIO || !s->backlog || s->cpu_share >= PACE_CPU_BUSY ||
        pace_busy_share(c, s, rate) < PACE_BUSY_SHARE || c->limit >= c->ceiling)
        return c->limit;
    if (ratio > 1.3)
        c->slow_start = 0; /* the latency starts to feel the load */
    /* slow start: x4 while the CPUs are mostly idle (the workers wait on
     * the filesystem: at 1 ms a round trip, 2 workers use ~5% of a core),
     * else x2; then x1.5 while the latency is flat, x1.25 as it rises */
    double next;
    if (c->slow_start)
        next = c->limit * (s->cpu_share < 0.3 ? 4.0 : 2.0);
    else
        next = c->limit * (ratio < 1.3 ? 1.5 : 1.25);
    if (next < c->limit + 1.0)
        next = c->limit + 1.0; /* 1 x 1.5 is still 1 */
    c->limit = pace_clamp(c, next);
    return c->limit;
}
