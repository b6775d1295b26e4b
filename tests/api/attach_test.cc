// A scan's entries in the embedder's own process: pwalk_scan_attach()
// (pwalk/sys/attach.h) hands a consumer to a walk-iterator sink
// (pwalk/walk_iterator.h), through the public API only, the scan on one
// thread and the consumer on another, as the header asks.
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "pwalk/pwalk.h"
#include "pwalk/sys/attach.h"
#include "pwalk/walk_iterator.h"
#include "tests/harness/harness.h"

namespace {

std::string Cwd()
{
    char buf[4096];
    return getcwd(buf, sizeof buf) ? buf : ".";
}

// dirs directories of `files` files each.
void MakeTree(const std::string &root, int dirs, int files)
{
    ASSERT_EQ(mkdir(root.c_str(), 0755), 0) << root;
    for (int d = 0; d < dirs; d++) {
        std::string dir = root + "/d" + std::to_string(d);
        ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
        for (int f = 0; f < files; f++)
            ASSERT_TRUE(harness::WriteFile(dir + "/f" + std::to_string(f) + ".txt",
                                           std::string((size_t)f, 'x')));
    }
}

// A scan of root with one walk-iterator sink named "it".
pwalk_scan *NewScan(const std::string &root, const std::string &options = "")
{
    std::string yaml = "version: 1\nscan:\n  roots: [\"" + root +
                       "\"]\n  threads: 2\nsinks:\n  - name: it\n    plugin: walk-iterator\n" +
                       options;
    pwalk_scan *s = nullptr;
    char err[2048] = "";
    EXPECT_EQ(pwalk_scan_from_string(&s, yaml.data(), yaml.size(), "test.yaml", err, sizeof err),
              0)
        << err;
    if (s)
        EXPECT_EQ(pwalk_scan_add_plugin_dir(s, (Cwd() + "/plugins").c_str()), 0);
    return s;
}

// The embedder's side: ready() stores the queue, release() waits until
// the consumer returned from its last call.
struct Consumer {
    pwalk_iter_consumer c = {sizeof(pwalk_iter_consumer), PWALK_ITER_VERSION, this, Ready,
                             Release};
    std::mutex m;
    std::condition_variable cv;
    pwalk_iter *it = nullptr;
    const pwalk_iter_ops *ops = nullptr;
    bool out = false, over = false;
    std::map<std::string, pwalk_iter_entry> entries;  // path -> entry (path not kept)
    pwalk_iter_stats stats = {};

    static void Ready(void *ctx, pwalk_iter *it, const pwalk_iter_ops *ops)
    {
        Consumer *self = static_cast<Consumer *>(ctx);
        std::lock_guard<std::mutex> g(self->m);
        self->it = it;
        self->ops = ops;
        self->cv.notify_all();
    }
    static void Release(void *ctx)
    {
        Consumer *self = static_cast<Consumer *>(ctx);
        std::unique_lock<std::mutex> g(self->m);
        self->cv.wait(g, [self] { return self->out; });
    }
    // The scan's thread is done (run returned): nothing will attach.
    void Over()
    {
        std::lock_guard<std::mutex> g(m);
        over = true;
        cv.notify_all();
    }
    // Wait for ready(); false when the run ended without it.
    bool WaitReady()
    {
        std::unique_lock<std::mutex> g(m);
        cv.wait(g, [this] { return it || over; });
        return it != nullptr;
    }
    void Out()
    {
        std::lock_guard<std::mutex> g(m);
        out = true;
        cv.notify_all();
    }
    // Take up to `limit` entries (all: -1), then END or done().
    void Consume(long limit = -1)
    {
        if (!WaitReady())
            return;
        for (;;) {
            const pwalk_iter_entry *e;
            size_t n;
            ops->stats(it, &stats);
            int rc = ops->next(it, &e, &n, -1);
            if (rc == PWALK_ITER_END)
                break;
            ASSERT_EQ(rc, PWALK_ITER_ENTRIES);
            for (size_t i = 0; i < n; i++) {
                std::string p(e[i].path, e[i].path_len);
                EXPECT_EQ(entries.count(p), 0u) << p;
                entries[p] = e[i];
            }
            if (limit >= 0 && (long)entries.size() >= limit) {
                ops->done(it);
                break;
            }
        }
        Out();
    }
};

// Run s on a thread of its own (the consumer reads on this one).
std::thread RunAsync(pwalk_scan *s, Consumer *c, int *status)
{
    return std::thread([s, c, status] {
        *status = pwalk_scan_run(s);
        c->Over();
    });
}

class Attach : public ::testing::Test {
  protected:
    void SetUp() override { dir_ = harness::MakeTempDir("attach"); }
    void TearDown() override { harness::RemoveTree(dir_); }
    std::string dir_;
};

TEST_F(Attach, RefusesASinkThatIsNotThere)
{
    pwalk_scan *s = NewScan(dir_);
    ASSERT_NE(s, nullptr);
    Consumer c;
    char err[512] = "";
    EXPECT_EQ(pwalk_scan_attach(s, "nope", &c.c, err, sizeof err), PWALK_USAGE);
    EXPECT_NE(strstr(err, "no sink named 'nope'"), nullptr) << err;
    EXPECT_EQ(pwalk_scan_attach(s, "it", &c.c, err, sizeof err), 0) << err;
    pwalk_scan_free(s);
}

// What pwalk-engine -c does with a walk-iterator sink: nobody to hand the
// entries to, so the sink refuses to start, a field naming it.
TEST_F(Attach, WithoutAConsumerTheSinkRefusesToStart)
{
    pwalk_scan *s = NewScan(dir_);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(pwalk_scan_run(s), PWALK_USAGE);
    ASSERT_NE(pwalk_scan_failed_sink(s), nullptr);
    EXPECT_STREQ(pwalk_scan_failed_sink(s), "it");
    ASSERT_NE(pwalk_scan_failed_message(s), nullptr);
    EXPECT_NE(strstr(pwalk_scan_failed_message(s), "no consumer attached"), nullptr)
        << pwalk_scan_failed_message(s);
    pwalk_scan_free(s);
}

// Every entry reaches the consumer, each once, with lstat's inode, through
// a queue of 8 that the workers wait on.
TEST_F(Attach, EveryEntryReachesTheConsumerThroughABoundedQueue)
{
    std::string root = dir_ + "/tree";
    MakeTree(root, 6, 50);
    pwalk_scan *s = NewScan(root, "    options: {capacity: 8, batch: 4}\n");
    ASSERT_NE(s, nullptr);
    Consumer c;
    char err[512] = "";
    ASSERT_EQ(pwalk_scan_attach(s, "it", &c.c, err, sizeof err), 0) << err;
    int status = -1;
    std::thread scan = RunAsync(s, &c, &status);
    c.Consume();
    scan.join();
    EXPECT_EQ(status, PWALK_OK) << pwalk_scan_message(s);
    EXPECT_EQ(c.entries.size(), 1u + 6 + 6 * 50);
    EXPECT_EQ(pwalk_scan_counter(s, PWALK_COUNT_ROWS), c.entries.size());
    EXPECT_EQ(pwalk_scan_sink_rows(s, 0), c.entries.size());
    for (auto &kv : c.entries) {
        struct stat st;
        ASSERT_EQ(lstat(kv.first.c_str(), &st), 0) << kv.first;
        EXPECT_EQ(kv.second.ino, (uint64_t)st.st_ino) << kv.first;
        EXPECT_EQ(kv.second.size, (int64_t)st.st_size) << kv.first;
        EXPECT_EQ(kv.second.mode, (uint32_t)st.st_mode) << kv.first;
    }
    EXPECT_EQ(c.entries.count(root), 1u);
    EXPECT_EQ(c.entries[root].depth, -1);
    EXPECT_LE(c.stats.high_water, 8u);
    EXPECT_EQ(c.stats.capacity, 8u);
    pwalk_scan_free(s);
}

// Two scans at once, each with its own consumer (nothing process-wide):
// each consumer gets exactly its own tree.
TEST_F(Attach, TwoScansEachFeedTheirOwnConsumer)
{
    std::string a = dir_ + "/a", b = dir_ + "/b";
    MakeTree(a, 3, 40);
    MakeTree(b, 5, 20);
    pwalk_scan *sa = NewScan(a, "    options: {capacity: 16}\n");
    pwalk_scan *sb = NewScan(b, "    options: {capacity: 16}\n");
    ASSERT_TRUE(sa && sb);
    Consumer ca, cb;
    char err[512] = "";
    ASSERT_EQ(pwalk_scan_attach(sa, "it", &ca.c, err, sizeof err), 0) << err;
    ASSERT_EQ(pwalk_scan_attach(sb, "it", &cb.c, err, sizeof err), 0) << err;
    int st_a = -1, st_b = -1;
    std::thread ra = RunAsync(sa, &ca, &st_a), rb = RunAsync(sb, &cb, &st_b);
    std::thread consume_b([&cb] { cb.Consume(); });
    ca.Consume();
    consume_b.join();
    ra.join();
    rb.join();
    EXPECT_EQ(st_a, PWALK_OK);
    EXPECT_EQ(st_b, PWALK_OK);
    EXPECT_EQ(ca.entries.size(), 1u + 3 + 3 * 40);
    EXPECT_EQ(cb.entries.size(), 1u + 5 + 5 * 20);
    for (auto &kv : ca.entries)
        EXPECT_EQ(kv.first.compare(0, a.size(), a), 0) << kv.first;
    for (auto &kv : cb.entries)
        EXPECT_EQ(kv.first.compare(0, b.size(), b), 0) << kv.first;
    pwalk_scan_free(sa);
    pwalk_scan_free(sb);
}

// A consumer that leaves early ends the scan: the run returns although
// the consumer never took the rest, far fewer rows were made, and the
// status says a sink stopped it (other sinks publish nothing).
TEST_F(Attach, DoneEndsTheScanEarly)
{
    std::string root = dir_ + "/tree";
    MakeTree(root, 10, 100);
    pwalk_scan *s = NewScan(root, "    options: {capacity: 4, batch: 1}\n");
    ASSERT_NE(s, nullptr);
    Consumer c;
    char err[512] = "";
    ASSERT_EQ(pwalk_scan_attach(s, "it", &c.c, err, sizeof err), 0) << err;
    int status = -1;
    std::thread scan = RunAsync(s, &c, &status);
    c.Consume(3);
    scan.join();
    EXPECT_GE(c.entries.size(), 3u);
    EXPECT_LT(pwalk_scan_sink_rows(s, 0), 1u + 10 + 10 * 100);
    EXPECT_EQ(status, PWALK_FAILED);
    EXPECT_NE(strstr(pwalk_scan_message(s), "stopped by a sink"), nullptr)
        << pwalk_scan_message(s);
    pwalk_scan_free(s);
}

// pwalk_scan_stop() while the workers wait on a consumer that stopped
// reading: the run still ends, and the consumer then gets END.
TEST_F(Attach, StopEndsAScanWhoseConsumerStoppedReading)
{
    std::string root = dir_ + "/tree";
    MakeTree(root, 10, 100);
    pwalk_scan *s = NewScan(root, "    options: {capacity: 4, batch: 1}\n");
    ASSERT_NE(s, nullptr);
    Consumer c;
    char err[512] = "";
    ASSERT_EQ(pwalk_scan_attach(s, "it", &c.c, err, sizeof err), 0) << err;
    int status = -1;
    std::thread scan = RunAsync(s, &c, &status);
    ASSERT_TRUE(c.WaitReady());
    for (;;) {  // until a worker waits for room
        pwalk_iter_stats st;
        c.ops->stats(c.it, &st);
        if (st.waits)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pwalk_scan_stop(s, 2);
    c.Consume();  // what was queued, then END (destroy() waits for it)
    scan.join();
    EXPECT_EQ(status, PWALK_SIGNALED + 2);
    EXPECT_LT(c.entries.size(), 1u + 10 + 10 * 100);
    pwalk_scan_free(s);
}

}  // namespace
