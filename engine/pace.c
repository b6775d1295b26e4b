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
    atomic_init(&b->next_ns, 0);
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
    unsigned long long tat = atomic_load_explicit(&b->next_ns, memory_order_relaxed);
    uint64_t start;
    for (;;) {
        /* GCRA: may start burst_ns before the theoretical arrival time;
         * the slot is reserved before sleeping, so waiting threads queue
         * up in order instead of retrying */
        start = tat > now + b->burst_ns ? tat - b->burst_ns : now;
        uint64_t next = (tat > start ? tat : start) + cost;
        if (atomic_compare_exchange_weak_explicit(&b->next_ns, &tat, next,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed))
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
    c->limit = c->last_limit = start;
    c->floor = floor;
    c->ceiling = ceiling;
    c->slow_start = 1;
}

/* The lowest latency seen is the filesystem unloaded; it creeps up 1% a
 * period while the latency stays above it, so a filesystem that became
 * slower for good is, after a while, its new normal. */
static double pace_latency_ratio(pace_ctl *c, double lat)
{
    if (c->baseline_ns <= 0 || lat < c->baseline_ns)
        c->baseline_ns = lat;
    else if (c->baseline_ns * 1.01 < lat)
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

/* The last growth paid when the rate grew by at least a quarter of the
 * workers' growth (doubling the workers: +25% operations/s). */
static int pace_growth_paid(const pace_ctl *c, double rate, unsigned prev_limit,
                            double prev_rate)
{
    if (prev_limit >= c->limit || prev_rate <= 0)
        return 1;
    double grew = (double)c->limit / (double)prev_limit - 1.0;
    return rate >= prev_rate * (1.0 + 0.25 * grew);
}

unsigned pace_ctl_step(pace_ctl *c, const pace_sample *s)
{
    if (s->seconds <= 0 || s->latency_samples < PACE_MIN_SAMPLES)
        return c->limit; /* too little seen to judge */
    double rate = (double)s->ops / s->seconds;
    double ratio = pace_latency_ratio(c, s->latency_ns);
    unsigned prev_limit = c->last_limit;
    double prev_rate = c->last_rate;
    c->last_limit = c->limit;
    c->last_rate = rate;
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
        c->limit >= c->ceiling)
        return c->limit;
    if (!pace_growth_paid(c, rate, prev_limit, prev_rate)) {
        /* more workers did not mean more operations: stay, look again
         * in a second */
        c->slow_start = 0;
        c->hold = 5;
        return c->limit;
    }
    /* slow start: x4 while the CPUs are mostly idle (the workers wait on
     * the filesystem: at 1 ms a round trip, 2 workers use ~5% of a core),
     * else x2; then +1/8 a period */
    double next = c->slow_start ? c->limit * (s->cpu_share < 0.3 ? 4.0 : 2.0)
                                : c->limit + (c->limit / 8 ? c->limit / 8 : 1);
    /* after a back-off, recover at least as fast as slow start's half */
    if (!c->slow_start && ratio < 1.2 && c->limit * 1.5 > next)
        next = c->limit * 1.5;
    c->limit = pace_clamp(c, next);
    return c->limit;
}
