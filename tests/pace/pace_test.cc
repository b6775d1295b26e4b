// The pacing of a walk (engine/pace.h, issue 18): the concurrency
// controller as a pure function of what a walk measured, and the token
// bucket's spacing.  Nothing here depends on how fast this machine is.
#include <gtest/gtest.h>

#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <vector>

extern "C" {
#include "engine/pace.h"
}

namespace {

double Now() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

// A filesystem with a fixed latency that serves `capacity` requests at
// once: the rate the workers get and the latency they see at `limit`.
pace_sample Slow(unsigned limit, double latency_ms, unsigned capacity = 100000,
                 double cpu_share = 0.05) {
    double inflight = limit < capacity ? limit : capacity;
    // past the capacity requests queue: latency grows with the excess
    double lat = latency_ms * (limit > capacity ? double(limit) / capacity : 1.0);
    pace_sample s{};
    s.seconds = 0.1;
    s.ops = uint64_t(inflight / (latency_ms / 1000.0) * s.seconds);
    s.latency_ns = lat * 1e6;
    s.latency_samples = 100;
    s.cpu_share = cpu_share;
    s.backlog = 1;
    return s;
}

unsigned Periods(pace_ctl *c, int periods, double latency_ms, unsigned capacity = 100000) {
    for (int i = 0; i < periods; i++) {
        pace_sample s = Slow(c->limit, latency_ms, capacity);
        pace_ctl_step(c, &s);
    }
    return c->limit;
}

TEST(PaceCtl, GrowsFastOnASlowFilesystemUpToTheCeiling) {
    pace_ctl c;
    pace_ctl_init(&c, 2, 2, 256);
    EXPECT_EQ(c.limit, 2u);
    // slow start: x4 a period while the CPUs idle and the rate follows
    pace_sample s = Slow(2, 1.0);
    EXPECT_EQ(pace_ctl_step(&c, &s), 8u);
    EXPECT_EQ(Periods(&c, 10, 1.0), 256u);  // within ten periods (a second)
    EXPECT_EQ(Periods(&c, 10, 1.0), 256u);  // and never past the ceiling
}

TEST(PaceCtl, StopsWhereTheServerSaturates) {
    pace_ctl c;
    pace_ctl_init(&c, 2, 2, 1024);
    // 64 requests at once, then each more queues: latency climbs
    unsigned l = Periods(&c, 60, 1.0, 64);
    EXPECT_GE(l, 32u);
    EXPECT_LE(l, 128u);  // at most 2x the baseline latency: 128 in flight
}

TEST(PaceCtl, DoesNotGrowWhenCpuBound) {
    pace_ctl c;
    pace_ctl_init(&c, 2, 2, 256);
    for (int i = 0; i < 20; i++) {
        pace_sample s = Slow(c.limit, 0.002, 100000, 0.95);  // warm cache: busy CPUs
        pace_ctl_step(&c, &s);
    }
    EXPECT_EQ(c.limit, 2u);
}

TEST(PaceCtl, DoesNotGrowWithoutWaitingWork) {
    pace_ctl c;
    pace_ctl_init(&c, 2, 2, 256);
    for (int i = 0; i < 20; i++) {
        pace_sample s = Slow(c.limit, 1.0);
        s.backlog = 0;  // a chain of single directories: nothing to share
        pace_ctl_step(&c, &s);
    }
    EXPECT_EQ(c.limit, 2u);
}

TEST(PaceCtl, StopsGrowingWhenMoreWorkersBringNoMoreOperations) {
    pace_ctl c;
    pace_ctl_init(&c, 2, 2, 256);
    // a rate limit elsewhere (scan.max_ops): 500 ops/s whatever the count
    for (int i = 0; i < 30; i++) {
        pace_sample s = Slow(c.limit, 1.0);
        s.ops = 50;
        pace_ctl_step(&c, &s);
    }
    EXPECT_LE(c.limit, 12u);  // 2 -> 8 is the first probe; more never paid
}

TEST(PaceCtl, BacksOffWhenLatencyClimbsAndRecovers) {
    pace_ctl c;
    pace_ctl_init(&c, 16, 1, 16);  // scan.adaptive with 16 threads
    EXPECT_EQ(Periods(&c, 5, 1.0), 16u);
    // another job hammers the server: 5x the latency
    pace_sample s = Slow(16, 5.0);
    unsigned after = pace_ctl_step(&c, &s);
    EXPECT_LT(after, 16u);
    unsigned low = Periods(&c, 10, 5.0);
    EXPECT_EQ(low, 1u);  // gives way down to the floor while it lasts
    // the other job ends: back to the configured count
    EXPECT_EQ(Periods(&c, 30, 1.0), 16u);
}

TEST(PaceCtl, NeverBelowTheFloor) {
    pace_ctl c;
    pace_ctl_init(&c, 4, 4, 256);  // threads: auto without scan.adaptive
    EXPECT_EQ(Periods(&c, 20, 1.0), 256u);
    EXPECT_EQ(Periods(&c, 40, 50.0), 4u);
}

TEST(PaceCtl, TooFewSamplesChangeNothing) {
    pace_ctl c;
    pace_ctl_init(&c, 2, 1, 256);
    pace_sample s = Slow(2, 1.0);
    s.latency_samples = PACE_MIN_SAMPLES - 1;
    EXPECT_EQ(pace_ctl_step(&c, &s), 2u);
    EXPECT_EQ(c.baseline_ns, 0.0);
}

TEST(PaceCtl, InitClamps) {
    pace_ctl c;
    pace_ctl_init(&c, 0, 0, 0);
    EXPECT_EQ(c.limit, 1u);
    pace_ctl_init(&c, 500, 2, 256);
    EXPECT_EQ(c.limit, 256u);
    pace_ctl_init(&c, 1, 8, 4);
    EXPECT_EQ(c.floor, 4u);
    EXPECT_EQ(c.limit, 4u);
}

// ---- the token bucket ---------------------------------------------------------

struct Taker {
    pace_bucket *b;
    int n;
    std::vector<double> *times;
    pthread_mutex_t *lock;
};

void *TakeMany(void *arg) {
    auto *t = static_cast<Taker *>(arg);
    for (int i = 0; i < t->n; i++) {
        EXPECT_EQ(pace_bucket_take(t->b, 1, nullptr), 1);
        double now = Now();
        pthread_mutex_lock(t->lock);
        t->times->push_back(now);
        pthread_mutex_unlock(t->lock);
    }
    return nullptr;
}

TEST(PaceBucket, SpreadsOperationsOverTimeAcrossThreads) {
    // 8 threads take 400 tokens at 1000/s: at least 0.375 s (400 less the
    // 20 ms burst and the first), and no 100 ms stretch holds many more than
    // 100 + burst
    pace_bucket b;
    pace_bucket_init(&b, 1000);
    std::vector<double> times;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    std::vector<pthread_t> th(8);
    std::vector<Taker> args(8, Taker{&b, 50, &times, &lock});
    double t0 = Now();
    for (int i = 0; i < 8; i++) pthread_create(&th[i], nullptr, TakeMany, &args[i]);
    for (auto &t : th) pthread_join(t, nullptr);
    double took = Now() - t0;
    EXPECT_GE(took, 0.375);
    std::sort(times.begin(), times.end());
    ASSERT_EQ(times.size(), 400u);
    for (size_t i = 0, j = 0; i < times.size(); i++) {
        while (times[i] - times[j] > 0.1) j++;
        // 100 + the 20 ms burst; a thread descheduled between its take and
        // its clock reading may bunch a few more (a per-second burst would
        // put all 400 in the first 20 ms)
        EXPECT_LE(i - j + 1, 160u) << "at " << times[i] - t0;
    }
}

TEST(PaceBucket, MultipleTokensCostMore) {
    pace_bucket b;
    pace_bucket_init(&b, 100);  // under 50/s there is no burst; here 20 ms
    double t0 = Now();
    for (int i = 0; i < 10; i++) pace_bucket_take(&b, 3, nullptr);  // 30 tokens
    EXPECT_GE(Now() - t0, 0.245);  // 30 slots 10 ms apart, less the 20 ms burst
}

TEST(PaceBucket, StopEndsTheWait) {
    pace_bucket b;
    pace_bucket_init(&b, 1);
    int stop = 0;
    EXPECT_EQ(pace_bucket_take(&b, 1, &stop), 1);  // the first is due now
    stop = 1;
    double t0 = Now();
    EXPECT_EQ(pace_bucket_take(&b, 5, &stop), 0);  // due in 5 s: not waited for
    EXPECT_LT(Now() - t0, 1.0);
}

}  // namespace
