// The work pool: order, stealing, exact termination under concurrency.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <set>
#include <thread>
#include <vector>

extern "C" {
#include "engine/queue.h"
}

namespace {

void *item(uintptr_t v) { return reinterpret_cast<void *>(v); }
uintptr_t value(void *p) { return reinterpret_cast<uintptr_t>(p); }

TEST(Queue, OwnerPopsNewestFirst) {
    wq_pool *pool = wq_create(2);
    ASSERT_NE(pool, nullptr);
    for (uintptr_t i = 1; i <= 3; i++) ASSERT_EQ(wq_push(pool, 0, item(i)), 0);
    EXPECT_EQ(value(wq_try_pop(pool, 0)), 3u);
    EXPECT_EQ(value(wq_try_pop(pool, 0)), 2u);
    EXPECT_EQ(value(wq_try_pop(pool, 0)), 1u);
    EXPECT_EQ(wq_try_pop(pool, 0), nullptr);
    for (int i = 0; i < 3; i++) wq_done(pool);
    EXPECT_EQ(wq_outstanding(pool), 0u);
    wq_free(pool);
}

TEST(Queue, ThiefTakesOldestAndCountsSteal) {
    wq_pool *pool = wq_create(2);
    ASSERT_NE(pool, nullptr);
    for (uintptr_t i = 1; i <= 3; i++) ASSERT_EQ(wq_push(pool, 0, item(i)), 0);
    EXPECT_EQ(value(wq_try_pop(pool, 1)), 1u);  // worker 1 has nothing: steals
    EXPECT_EQ(wq_steals(pool), 1u);
    EXPECT_EQ(value(wq_try_pop(pool, 0)), 3u);
    EXPECT_EQ(value(wq_try_pop(pool, 1)), 2u);
    for (int i = 0; i < 3; i++) wq_done(pool);
    wq_free(pool);
}

TEST(Queue, GrowsPastInitialCapacity) {
    wq_pool *pool = wq_create(1);
    ASSERT_NE(pool, nullptr);
    const uintptr_t n = 100000;
    for (uintptr_t i = 1; i <= n; i++) ASSERT_EQ(wq_push(pool, 0, item(i)), 0);
    EXPECT_EQ(wq_queued(pool), n);
    for (uintptr_t i = n; i >= 1; i--) {
        ASSERT_EQ(value(wq_try_pop(pool, 0)), i);
        wq_done(pool);
    }
    wq_free(pool);
}

// A synthetic tree: item v has children 4v+1..4v+4 while v < limit.  Every
// node must be processed exactly once and wq_pop must return NULL to every
// worker exactly when the tree is done.
void RunTree(size_t workers, uintptr_t limit, std::vector<std::atomic<int>> &seen,
             std::atomic<size_t> &per_worker_nonzero) {
    wq_pool *pool = wq_create(workers);
    ASSERT_NE(pool, nullptr);
    ASSERT_EQ(wq_push(pool, 0, item(1)), 0);  // values are 1-based
    std::vector<std::thread> threads;
    for (size_t w = 0; w < workers; w++) {
        threads.emplace_back([&, w] {
            size_t mine = 0;
            void *it;
            while ((it = wq_pop(pool, w)) != nullptr) {
                uintptr_t v = value(it) - 1;
                seen[v]++;
                mine++;
                // some work per item, so the others have time to steal
                for (volatile int k = 0; k < 3000; k = k + 1) {
                }
                if (v < limit)
                    for (uintptr_t c = 1; c <= 4; c++) wq_push(pool, w, item(4 * v + c + 1));
                wq_done(pool);
            }
            if (mine) per_worker_nonzero++;
        });
    }
    for (auto &t : threads) t.join();
    EXPECT_EQ(wq_outstanding(pool), 0u);
    EXPECT_EQ(wq_queued(pool), 0u);
    wq_free(pool);
}

TEST(Queue, EveryItemOnceAndExactTermination) {
    for (size_t workers : {1, 2, 4, 8}) {
        const uintptr_t limit = 5000;
        const size_t total = 4 * limit + 1;
        std::vector<std::atomic<int>> seen(total);
        std::atomic<size_t> busy{0};
        RunTree(workers, limit, seen, busy);
        for (size_t i = 0; i < total; i++) ASSERT_EQ(seen[i].load(), 1) << "item " << i;
        if (workers > 1) {
            EXPECT_GE(busy.load(), 2u) << "no stealing with " << workers;
        }
    }
}

TEST(Queue, StopWakesIdleWorkersAndDrainReturnsTheRest) {
    wq_pool *pool = wq_create(3);
    ASSERT_NE(pool, nullptr);
    ASSERT_EQ(wq_push(pool, 0, item(1)), 0);
    void *first = wq_pop(pool, 0);  // outstanding stays 1: others must wait
    ASSERT_EQ(value(first), 1u);
    std::atomic<int> returned{0};
    std::thread a([&] { if (!wq_pop(pool, 1)) returned++; });
    std::thread b([&] { if (!wq_pop(pool, 2)) returned++; });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(returned.load(), 0);  // still waiting for worker 0's children
    ASSERT_EQ(wq_push(pool, 0, item(7)), 0);
    // one idle worker may take item 7 before the stop; stop then wakes all
    wq_stop(pool);
    a.join();
    b.join();
    void *rest = wq_drain(pool);
    EXPECT_TRUE(returned.load() == 2 ? value(rest) == 7u : rest == nullptr);
    wq_free(pool);
}

}  // namespace
