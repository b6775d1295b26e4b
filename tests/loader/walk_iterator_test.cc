// The walk-iterator plugin (plugins/walk-iterator) driven the way the
// engine drives a sink -- loaded and vetted by the loader, options bound by
// options.c, a stand-in host filling every ABI field -- with a consumer on
// another thread, as pwalk/walk_iterator.h asks.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/harness/fakehost.h"

extern "C" {
#include "engine/loader.h"
#include "engine/options.h"
#include "pwalk/walk_iterator.h"
}

namespace {

// What ready() hands over; release() waits for Out(), which the consumer
// calls once it returned from END or done() (walk_iterator.h).
struct Consumer {
    pwalk_iter_consumer c = {sizeof(pwalk_iter_consumer), PWALK_ITER_VERSION, this, Ready,
                             Release};
    std::atomic<pwalk_iter *> it{nullptr};
    const pwalk_iter_ops *ops = nullptr;
    std::mutex m;
    std::condition_variable cv;
    bool out = false;
    std::atomic<int> released{0};
    static void Ready(void *ctx, pwalk_iter *it, const pwalk_iter_ops *ops)
    {
        Consumer *self = static_cast<Consumer *>(ctx);
        self->ops = ops;
        self->it.store(it);
    }
    static void Release(void *ctx)
    {
        Consumer *self = static_cast<Consumer *>(ctx);
        std::unique_lock<std::mutex> g(self->m);
        self->cv.wait(g, [self] { return self->out; });
        self->released++;
    }
    void Out()
    {
        std::lock_guard<std::mutex> g(m);
        out = true;
        cv.notify_all();
    }
    // Take everything until END, copying paths.
    std::vector<pwalk_iter_entry> all;
    std::vector<std::string> paths;
    void Drain(int sleep_ms_per_batch = 0)
    {
        for (;;) {
            const pwalk_iter_entry *e;
            size_t n;
            int rc = ops->next(it.load(), &e, &n, -1);
            if (rc == PWALK_ITER_END) {
                Out();
                return;
            }
            ASSERT_EQ(rc, PWALK_ITER_ENTRIES);
            for (size_t i = 0; i < n; i++) {
                all.push_back(e[i]);
                paths.emplace_back(e[i].path, e[i].path_len);
            }
            if (sleep_ms_per_batch)
                std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_per_batch));
        }
    }
};

// An engine entry at path (the name after the last '/').
struct Src {
    std::string path;
    pwalk_entry e = {};
    Src(const std::string &p, uint32_t mode, uint64_t ino, uint32_t flags = 0) : path(p)
    {
        e.struct_size = sizeof e;
        e.flags = flags;
        e.path = path.c_str();
        e.path_len = (uint32_t)path.size();
        size_t slash = path.rfind('/');
        e.name_offset = slash == std::string::npos ? 0 : (uint32_t)slash + 1;
        e.name = e.path + e.name_offset;
        e.parent_fd = -1;
        e.self_fd = -1;
        e.depth = flags & PWALK_ENTRY_ROOT ? -1 : 0;
        e.mode = mode;
        e.uid = 1001;
        e.gid = 1002;
        e.ino = ino;
        e.parent_ino = 7;
        e.dev = 0x803;
        e.nlink = 2;
        e.size = 12345;
        e.blocks = 24;
        e.atime_sec = 1700000001;
        e.mtime_sec = 1700000002;
        e.ctime_sec = 1700000003;
        e.atime_nsec = 11;
        e.mtime_nsec = 22;
        e.ctime_nsec = 33;
        e.fcount = S_ISDIR(mode) ? 3 : -1;
        e.dirsum = S_ISDIR(mode) ? 999 : 0;
        e.root_dev = 0x803;
    }
};

class WalkIterator : public ::testing::Test {
  protected:
    void SetUp() override
    {
        std::string path = std::string(getenv("TEST_SRCDIR")) +
                           "/pwalk/plugins/walk-iterator/walk-iterator.so";
        ASSERT_EQ(loader_open(path.c_str(), nullptr, 0, &lp_, err_, sizeof err_), 0) << err_;
        harness::SetOptionGetters(&host_, options_get_string, options_get_bool,
                                  options_get_int, options_get_list_count,
                                  options_get_list_item);
        ctx_.sink_name = "entries";
    }
    void TearDown() override
    {
        options_free(opts_);
        loader_close(&lp_);
    }

    int Bind(std::vector<std::pair<std::string, std::string>> kv)
    {
        std::vector<cfg_option> o(kv.size());
        for (size_t i = 0; i < kv.size(); i++) {
            o[i] = cfg_option{};
            o[i].key = &kv[i].first[0];
            o[i].scalar = &kv[i].second[0];
        }
        cfg_sink s = {};
        s.name = const_cast<char *>("entries");
        s.plugin = const_cast<char *>("walk-iterator");
        s.options = o.data();
        s.option_count = o.size();
        options_free(opts_);
        opts_ = nullptr;
        return options_bind(lp_.plugin, &s, "test.yaml", &opts_, err_, sizeof err_);
    }

    const pwalk_plugin *P() { return lp_.plugin; }

    loader_plugin lp_ = {};
    pwalk_options *opts_ = nullptr;
    pwalk_host host_ = harness::FakeHostTable();
    pwalk_host_ctx ctx_;
    char err_[1024] = {0};
};

TEST_F(WalkIterator, DeclaresItself)
{
    EXPECT_STREQ(P()->name, "walk-iterator");
    EXPECT_EQ(P()->threading, PWALK_THREADING_PER_WORKER);
    EXPECT_EQ(P()->flags & PWALK_PLUGIN_MUTATES_FS, 0u);
    for (uint32_t i = 0; i < P()->option_count; i++)
        EXPECT_FALSE(options_is_output(P(), &P()->options[i])) << P()->options[i].name;
}

// pwalk-engine -c with a walk-iterator sink: nobody to hand entries to.
TEST_F(WalkIterator, RefusesToStartWithoutAConsumer)
{
    ASSERT_EQ(Bind({}), 0) << err_;
    void *inst = nullptr;
    EXPECT_EQ(P()->create(&host_, &ctx_, opts_, &inst), PWALK_ERR_CONFIG);
    EXPECT_NE(ctx_.error().find("no consumer attached"), std::string::npos) << ctx_.error();
    P()->destroy(inst);

    // an engine whose host table ends before attachment (an older 1.2)
    host_.struct_size = offsetof(pwalk_host, attachment);
    Consumer c;
    ctx_.attachment = &c.c;
    ctx_.errors.clear();
    EXPECT_EQ(P()->create(&host_, &ctx_, opts_, &inst), PWALK_ERR_CONFIG);
    EXPECT_NE(ctx_.error().find("no consumer attached"), std::string::npos) << ctx_.error();
}

TEST_F(WalkIterator, RefusesAnotherConsumerVersion)
{
    ASSERT_EQ(Bind({}), 0) << err_;
    Consumer c;
    c.c.version = PWALK_ITER_VERSION + 1;
    ctx_.attachment = &c.c;
    void *inst = nullptr;
    EXPECT_EQ(P()->create(&host_, &ctx_, opts_, &inst), PWALK_ERR_CONFIG);
    EXPECT_NE(ctx_.error().find("version"), std::string::npos) << ctx_.error();
    EXPECT_EQ(c.it.load(), nullptr);  // ready() was not called
    P()->destroy(inst);
}

// Every column arrives, the path's bytes exactly (newline, invalid UTF-8,
// quotes), copied: the engine's buffers may change after consume().
TEST_F(WalkIterator, HandsOverEveryColumnAsCopies)
{
    ASSERT_EQ(Bind({{"batch", "2"}}), 0) << err_;
    Consumer c;
    ctx_.attachment = &c.c;
    void *inst = nullptr;
    ASSERT_EQ(P()->create(&host_, &ctx_, opts_, &inst), PWALK_OK) << ctx_.error();
    ASSERT_NE(c.it.load(), nullptr);
    void *ts = nullptr;
    ASSERT_EQ(P()->thread_open(inst, 0, &ts), PWALK_OK);

    std::vector<Src> src;
    src.reserve(5);  // Src points into its own string: no reallocation
    src.emplace_back("root/a\"b\n.txt", S_IFREG | 0644, 100);
    src.emplace_back(std::string("root/bad\xff\xfe.tar.gz"), S_IFREG | 0600, 101);
    src.emplace_back("root/.bashrc", S_IFREG | 0644, 102);
    src.emplace_back("root/sub.d", S_IFDIR | 0755, 103);
    src.emplace_back("root", S_IFDIR | 0755, 104, PWALK_ENTRY_ROOT);
    std::vector<pwalk_entry> arr;
    for (auto &s : src)
        arr.push_back(s.e);
    ASSERT_EQ(P()->consume(inst, ts, arr.data(), arr.size()), PWALK_OK);
    for (auto &s : src)  // the engine reuses its buffers
        std::fill(s.path.begin(), s.path.end(), 'X');
    ASSERT_EQ(P()->thread_close(inst, ts), PWALK_OK);
    ASSERT_EQ(P()->finish(inst, 0), PWALK_OK);

    std::thread consumer([&] { c.Drain(); });
    P()->destroy(inst);  // returns once the consumer took END
    consumer.join();

    std::vector<std::string> want = {"root/a\"b\n.txt", "root/bad\xff\xfe.tar.gz", "root/.bashrc",
                                     "root/sub.d", "root"};
    std::vector<std::string> want_ext = {"txt", "gz", "", "", ""};
    ASSERT_EQ(c.all.size(), want.size());
    for (size_t i = 0; i < want.size(); i++) {
        SCOPED_TRACE(i);
        const pwalk_iter_entry &e = c.all[i];
        EXPECT_EQ(c.paths[i], want[i]);
        EXPECT_EQ(e.name_offset, i == 4 ? 0u : 5u);
        EXPECT_EQ(std::string(want[i].c_str() + e.ext_offset, e.ext_len), want_ext[i]);
        EXPECT_EQ(e.ino, 100u + i);
        EXPECT_EQ(e.parent_ino, 7u);
        EXPECT_EQ(e.depth, i == 4 ? -1 : 0);
        EXPECT_EQ(e.flags, i == 4 ? PWALK_ENTRY_ROOT : 0u);
        EXPECT_EQ(e.uid, 1001u);
        EXPECT_EQ(e.gid, 1002u);
        EXPECT_EQ(e.mode, src[i].e.mode);
        EXPECT_EQ(e.size, 12345);
        EXPECT_EQ(e.dev, 0x803u);
        EXPECT_EQ(e.blocks, 24);
        EXPECT_EQ(e.nlink, 2u);
        EXPECT_EQ(e.atime_sec, 1700000001);
        EXPECT_EQ(e.mtime_sec, 1700000002);
        EXPECT_EQ(e.ctime_sec, 1700000003);
        EXPECT_EQ(e.atime_nsec, 11u);
        EXPECT_EQ(e.mtime_nsec, 22u);
        EXPECT_EQ(e.ctime_nsec, 33u);
        EXPECT_EQ(e.fcount, S_ISDIR(e.mode) ? 3 : -1);
        EXPECT_EQ(e.dirsum, S_ISDIR(e.mode) ? 999 : 0);
    }
}

// A slow consumer: two workers produce 2000 entries into a queue of 16;
// they wait (backpressure) instead of growing it, and nothing is lost.
TEST_F(WalkIterator, SlowConsumerBoundsTheQueue)
{
    ASSERT_EQ(Bind({{"capacity", "16"}, {"batch", "4"}}), 0) << err_;
    Consumer c;
    ctx_.attachment = &c.c;
    void *inst = nullptr;
    ASSERT_EQ(P()->create(&host_, &ctx_, opts_, &inst), PWALK_OK) << ctx_.error();
    void *ts[2];
    for (uint32_t w = 0; w < 2; w++)
        ASSERT_EQ(P()->thread_open(inst, w, &ts[w]), PWALK_OK);
    std::thread consumer([&] { c.Drain(1); });
    std::vector<std::thread> workers;
    for (int w = 0; w < 2; w++)
        workers.emplace_back([&, w] {
            for (int i = 0; i < 1000; i++) {
                Src s("w" + std::to_string(w) + "/f" + std::to_string(i), S_IFREG | 0644,
                      (uint64_t)(w * 1000 + i));
                ASSERT_EQ(P()->consume(inst, ts[w], &s.e, 1), PWALK_OK);
            }
        });
    for (auto &t : workers)
        t.join();
    for (uint32_t w = 0; w < 2; w++)
        ASSERT_EQ(P()->thread_close(inst, ts[w]), PWALK_OK);
    pwalk_iter_stats st;
    c.ops->stats(c.it.load(), &st);
    ASSERT_EQ(P()->finish(inst, 0), PWALK_OK);
    P()->destroy(inst);
    consumer.join();

    EXPECT_EQ(st.capacity, 16u);
    EXPECT_LE(st.high_water, 16u);
    EXPECT_GT(st.waits, 0u);  // the workers did wait for the consumer
    ASSERT_EQ(c.all.size(), 2000u);
    std::map<uint64_t, std::string> got;
    for (size_t i = 0; i < c.all.size(); i++)
        got[c.all[i].ino] = c.paths[i];
    ASSERT_EQ(got.size(), 2000u);
    EXPECT_EQ(got[1999], "w1/f999");
    // each worker's entries arrive in its own order
    uint64_t last[2] = {0, 1000};
    for (const auto &e : c.all) {
        int w = e.ino >= 1000;
        EXPECT_GE(e.ino, last[w]);
        last[w] = e.ino;
    }
}

// A consumer that stopped reading and a scan being stopped: the waiting
// worker gives up (PWALK_STOP, not an error) instead of hanging.
TEST_F(WalkIterator, AStoppedScanNeverWaitsForTheConsumer)
{
    ASSERT_EQ(Bind({{"capacity", "2"}, {"batch", "1"}}), 0) << err_;
    Consumer c;
    ctx_.attachment = &c.c;
    void *inst = nullptr;
    ASSERT_EQ(P()->create(&host_, &ctx_, opts_, &inst), PWALK_OK) << ctx_.error();
    void *ts;
    ASSERT_EQ(P()->thread_open(inst, 0, &ts), PWALK_OK);
    std::atomic<int> rc{-100};
    std::thread worker([&] {
        for (int i = 0; i < 10; i++) {
            Src s("f" + std::to_string(i), S_IFREG | 0644, (uint64_t)i);
            int r = P()->consume(inst, ts, &s.e, 1);
            if (r != PWALK_OK) {
                rc = r;
                return;
            }
        }
        rc = PWALK_OK;
    });
    // the queue fills (2 entries) and the worker waits
    for (int i = 0; i < 200; i++) {
        pwalk_iter_stats st;
        c.ops->stats(c.it.load(), &st);
        if (st.waits)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_EQ(rc.load(), -100);
    ctx_.stop = 1;
    worker.join();
    EXPECT_EQ(rc.load(), PWALK_STOP);
    EXPECT_EQ(P()->thread_close(inst, ts), PWALK_OK);
    EXPECT_EQ(P()->finish(inst, 130), PWALK_OK);
    // the consumer still gets what was queued, then END
    std::thread consumer([&] { c.Drain(); });
    P()->destroy(inst);
    consumer.join();
    EXPECT_EQ(c.all.size(), 2u);
}

// done(): the consumer leaves early; the waiting worker is released at
// once, the rest is dropped, and destroy() does not wait.
TEST_F(WalkIterator, DoneReleasesWorkersAndDropsTheRest)
{
    ASSERT_EQ(Bind({{"capacity", "3"}, {"batch", "1"}}), 0) << err_;
    Consumer c;
    ctx_.attachment = &c.c;
    void *inst = nullptr;
    ASSERT_EQ(P()->create(&host_, &ctx_, opts_, &inst), PWALK_OK) << ctx_.error();
    void *ts;
    ASSERT_EQ(P()->thread_open(inst, 0, &ts), PWALK_OK);
    std::atomic<int> rc{-100};
    std::thread worker([&] {
        for (int i = 0; i < 100; i++) {
            Src s("f" + std::to_string(i), S_IFREG | 0644, (uint64_t)i);
            int r = P()->consume(inst, ts, &s.e, 1);
            if (r != PWALK_OK) {
                rc = r;
                return;
            }
        }
        rc = PWALK_OK;
    });
    const pwalk_iter_entry *e;
    size_t n;
    ASSERT_EQ(c.ops->next(c.it.load(), &e, &n, -1), PWALK_ITER_ENTRIES);
    EXPECT_EQ(n, 1u);
    EXPECT_EQ(std::string(e->path), "f0");
    for (int i = 0; i < 200; i++) {  // until the worker waits for room
        pwalk_iter_stats st;
        c.ops->stats(c.it.load(), &st);
        if (st.waits)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pwalk_iter_stats st;
    c.ops->stats(c.it.load(), &st);
    c.ops->done(c.it.load());
    c.Out();
    worker.join();  // no stop request: done() alone releases it
    EXPECT_EQ(rc.load(), PWALK_STOP);
    EXPECT_LE(st.high_water, 3u);
    EXPECT_EQ(P()->thread_close(inst, ts), PWALK_OK);
    EXPECT_EQ(P()->finish(inst, 0), PWALK_OK);
    P()->destroy(inst);  // the consumer is through: no wait
    EXPECT_EQ(c.released.load(), 1);
}

// next() with a timeout returns TIMEOUT on an empty queue (the Python
// consumer polls for Ctrl-C that way); destroy() waits for the consumer to
// be through (release()), and only then frees the queue.
TEST_F(WalkIterator, NextTimesOutAndDestroyWaitsForTheConsumer)
{
    ASSERT_EQ(Bind({}), 0) << err_;
    Consumer c;
    ctx_.attachment = &c.c;
    void *inst = nullptr;
    ASSERT_EQ(P()->create(&host_, &ctx_, opts_, &inst), PWALK_OK) << ctx_.error();
    const pwalk_iter_entry *e;
    size_t n;
    EXPECT_EQ(c.ops->next(c.it.load(), &e, &n, 10), PWALK_ITER_TIMEOUT);
    EXPECT_EQ(c.ops->next(c.it.load(), &e, &n, 0), PWALK_ITER_TIMEOUT);
    EXPECT_EQ(P()->finish(inst, 0), PWALK_OK);
    std::atomic<bool> destroyed{false};
    std::thread engine([&] {
        P()->destroy(inst);
        destroyed = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(destroyed.load());  // the consumer has not taken END yet
    EXPECT_EQ(c.ops->next(c.it.load(), &e, &n, -1), PWALK_ITER_END);
    EXPECT_EQ(c.ops->next(c.it.load(), &e, &n, 0), PWALK_ITER_END);  // still valid
    EXPECT_FALSE(destroyed.load());  // ... until the consumer says it is out
    c.Out();
    engine.join();
    EXPECT_TRUE(destroyed.load());
    EXPECT_EQ(c.released.load(), 1);
}

}  // namespace
