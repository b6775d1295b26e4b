// The prometheus sink's lifecycle (plugins/prometheus/prometheus.c) through
// the fake host: the facts of an ABI 1.3 engine in the file, an older
// engine's table (no scan_facts: the count families left out), nothing
// published after finish(non-zero), and pwalk-mpi's path in-process -- two
// "ranks" writing partials, a merge instance (worker_count 0) publishing one
// file equal to a single process's; a scan suspended after a checkpoint and
// resumed from its state (ABI 1.4) writes the file of one go.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/harness/fakehost.h"
#include "tests/harness/files.h"

extern "C" const pwalk_plugin *pwalk_plugin_entry_v1(void);

namespace {

using harness::FakeOptions;

const int64_t kDay = 86400;
int64_t g_now;
int32_t g_ranks = 1;

struct Ent {
    std::string path;
    int32_t depth;
    bool dir;
    uint32_t uid;
    int64_t size;
    int64_t age;
};

std::vector<Ent> Tree()
{
    return {
        {"/r", -1, true, 0, 4096, 0},
        {"/r/a", 0, true, 4000100, 4096, 0},
        {"/r/a/f", 1, false, 4000100, 100, 10 * kDay},
        {"/r/a/g", 1, false, 4000101, 7000, 400 * kDay},
        {"/r/b", 0, true, 4000101, 4096, 0},
        {"/r/b/h", 1, false, 4000102, 50, 0},
        {"/r/x", 0, false, 4000100, 3, 0},
    };
}

pwalk_entry ToEntry(const Ent &e, uint64_t ino)
{
    pwalk_entry p = harness::SyntheticEntry(e.path, e.depth, e.dir);
    p.uid = e.uid;
    p.ino = ino;
    p.size = e.size;
    p.blocks = (e.size + 511) / 512;
    p.atime_sec = p.mtime_sec = p.ctime_sec = g_now - e.age;
    return p;
}

#if PWALK_ABI_MINOR >= 3
int Facts(pwalk_host_ctx *, pwalk_scan_facts *f)
{
    uint32_t size = f->struct_size;
    memset(f, 0, size);
    f->struct_size = size;
    f->thread_count = 2;
    f->ranks = g_ranks;
    f->start_sec = g_now;
    f->end_sec = g_now + 5;
    f->version = "9.9.9";
    f->entries = 7;
    f->errors = 1;
    f->filtered = 2;
    return PWALK_OK;
}
#endif

class PrometheusSink : public ::testing::Test {
  protected:
    void SetUp() override
    {
        g_now = (int64_t)time(nullptr);
        g_ranks = 1;
        path_ = tmp_.path() + "/disk.prom";
        opts_.strings["path"] = path_;
        host_ = harness::FakeHostTable(2);
#if PWALK_ABI_MINOR >= 3
        host_.scan_facts = Facts;
#endif
        plugin_ = pwalk_plugin_entry_v1();
    }

    // create, the entries i with i % parts == part on two workers, close,
    // prepare: the instance (destroy it), nullptr after a failure.
    void *Walk(const std::string &path, size_t part = 0, size_t parts = 1)
    {
        FakeOptions opts = opts_;
        opts.strings["path"] = path;
        void *inst = nullptr;
        if (plugin_->create(&host_, &ctx_, opts.get(), &inst) != PWALK_OK) {
            plugin_->finish(inst, 1);
            plugin_->destroy(inst);
            return nullptr;
        }
        void *ts[2];
        for (uint32_t w = 0; w < 2; w++)
            EXPECT_EQ(plugin_->thread_open(inst, w, &ts[w]), PWALK_OK);
        std::vector<Ent> tree = Tree();
        for (size_t i = 0; i < tree.size(); i++) {
            if (i % parts != part)
                continue;
            pwalk_entry e = ToEntry(tree[i], 100 + i);
            EXPECT_EQ(plugin_->consume(inst, ts[i % 2], &e, 1), PWALK_OK);
        }
        for (uint32_t w = 0; w < 2; w++)
            EXPECT_EQ(plugin_->thread_close(inst, ts[w]), PWALK_OK);
        EXPECT_EQ(plugin_->prepare(inst), PWALK_OK) << ctx_.error();
        return inst;
    }

    std::string Publish()
    {
        void *inst = Walk(path_);
        EXPECT_NE(inst, nullptr) << ctx_.error();
        EXPECT_EQ(plugin_->finish(inst, 0), PWALK_OK) << ctx_.error();
        plugin_->destroy(inst);
        return harness::ReadFile(path_);
    }

    harness::TempDir tmp_{"prometheus-unit"};
    std::string path_;
    FakeOptions opts_;
    pwalk_host host_;
    pwalk_host_ctx ctx_;
    const pwalk_plugin *plugin_ = nullptr;
};

bool Has(const std::string &text, const std::string &line)
{
    return text.find("\n" + line + "\n") != std::string::npos;
}

TEST_F(PrometheusSink, WritesTheFiguresAndTheEnginesFacts)
{
    opts_.ints["top"] = 2;
    std::string text = Publish();
    EXPECT_TRUE(Has(text, "pwalk_bytes 19441")) << text;  // 3 x 4096 + 100 + 7000 + 50 + 3
    EXPECT_TRUE(Has(text, "pwalk_files 4")) << text;
    EXPECT_TRUE(Has(text, "pwalk_dirs 3")) << text;
    EXPECT_TRUE(Has(text, "pwalk_scan_entries 7")) << text;
    EXPECT_TRUE(Has(text, "pwalk_scan_errors 1")) << text;
    EXPECT_TRUE(Has(text, "pwalk_scan_filtered 2")) << text;
    EXPECT_TRUE(Has(text, "pwalk_scan_start_timestamp_seconds " + std::to_string(g_now)));
    EXPECT_TRUE(Has(text, "pwalk_scan_completion_timestamp_seconds " + std::to_string(g_now + 5)));
    EXPECT_TRUE(Has(text, "pwalk_scan_info{version=\"9.9.9\"} 1")) << text;
    // users by bytes (no accounts: user ""): 4000101 (4096 + 7000), 4000100
    // (4096 + 100 + 3), then the rest
    EXPECT_TRUE(Has(text, "pwalk_user_bytes{uid=\"4000101\",user=\"\"} 11096")) << text;
    EXPECT_TRUE(Has(text, "pwalk_user_bytes{uid=\"4000100\",user=\"\"} 4199")) << text;
    EXPECT_TRUE(Has(text, "pwalk_user_bytes{uid=\"other\",user=\"other\",rest=\"true\"} 4146"))
        << text;  // uid 0's root (4096) and 4000102's 50
    EXPECT_TRUE(Has(text, "pwalk_topdir_bytes{top=\"a\"} 11196")) << text;
    EXPECT_TRUE(Has(text, "pwalk_topdir_mtime_age_bytes{top=\"a\",mtime_age_days=\"365\"} 7000"))
        << text;
    EXPECT_TRUE(Has(text, "pwalk_topdir_mtime_age_bytes{top=\"a\",mtime_age_days=\"7\"} 100"))
        << text;
    EXPECT_EQ(harness::ListDir(tmp_.path()), std::vector<std::string>{"disk.prom"});
    struct stat st;
    ASSERT_EQ(stat(path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(PrometheusSink, AnOlderEngineWithoutScanFactsLeavesTheCountsOut)
{
    harness::EndTableAt(&host_, 2);
    std::string text = Publish();
    EXPECT_TRUE(Has(text, "pwalk_bytes 19441")) << text;
    EXPECT_EQ(text.find("pwalk_scan_entries"), std::string::npos) << text;
    EXPECT_TRUE(Has(text, "pwalk_scan_info{version=\"unknown\"} 1")) << text;
    EXPECT_TRUE(Has(text, "pwalk_scan_complete 1")) << text;
}

TEST_F(PrometheusSink, AFailedScanPublishesNothing)
{
    void *inst = Walk(path_);
    ASSERT_NE(inst, nullptr) << ctx_.error();
    EXPECT_EQ(harness::TempOutputs(tmp_.path()).size(), 1u);  // prepared, not renamed
    EXPECT_EQ(plugin_->finish(inst, 3), PWALK_OK);
    plugin_->destroy(inst);
    EXPECT_TRUE(harness::ListDir(tmp_.path()).empty());
}

#if PWALK_ABI_MINOR >= 4
// Suspended after a checkpoint (with entries consumed after it, which the
// resumed scan reads again) and resumed in a new process: the file is the
// one of a scan in one go; meanwhile only its empty temporary.  The
// engine's sessions give scan_sessions and the summed duration.
TEST_F(PrometheusSink, ResumedFromACheckpointWritesTheFileOfOneGo)
{
    std::string one = Publish();
    ASSERT_EQ(unlink(path_.c_str()), 0);
    std::vector<Ent> tree = Tree();
    std::string state;
    {
        pwalk_host_ctx ctx;
        void *inst = nullptr;
        ASSERT_EQ(plugin_->create(&host_, &ctx, opts_.get(), &inst), PWALK_OK) << ctx.error();
        void *ts[2];
        for (uint32_t w = 0; w < 2; w++)
            ASSERT_EQ(plugin_->thread_open(inst, w, &ts[w]), PWALK_OK);
        for (size_t i = 0; i < 5; i++) {
            pwalk_entry e = ToEntry(tree[i], 100 + i);
            EXPECT_EQ(plugin_->consume(inst, ts[i % 2], &e, 1), PWALK_OK);
            if (i == 2) {
                ASSERT_EQ(harness::Checkpoint(plugin_, inst, &ctx), PWALK_OK) << ctx.error();
            }
        }
        for (uint32_t w = 0; w < 2; w++)
            EXPECT_EQ(plugin_->thread_close(inst, ts[w]), PWALK_OK);
        EXPECT_EQ(plugin_->finish(inst, PWALK_SUSPENDED), PWALK_OK);
        plugin_->destroy(inst);
        ASSERT_EQ(ctx.saved.size(), 1u);
        state = ctx.saved[0];
    }
    // the (empty) temporary kept for the next session, no .prom
    EXPECT_EQ(harness::ListDir(tmp_.path()), harness::TempOutputs(tmp_.path()));
    EXPECT_EQ(harness::TempOutputs(tmp_.path()).size(), 1u);
    host_.scan_facts = harness::FakeScanFacts;
    pwalk_host_ctx ctx;
    ctx.resume_states = {state};
    ctx.start_sec = g_now;
    ctx.end_sec = g_now + 5;
    ctx.version = "9.9.9";
    ctx.entries = 7, ctx.errors_count = 1, ctx.filtered = 2;
    ctx.sessions = {{g_now, g_now + 30}, {g_now + 100, 0}};
    void *inst = nullptr;
    ASSERT_EQ(plugin_->create(&host_, &ctx, opts_.get(), &inst), PWALK_OK) << ctx.error();
    void *ts = nullptr;
    ASSERT_EQ(plugin_->thread_open(inst, 0, &ts), PWALK_OK);
    for (size_t i = 3; i < tree.size(); i++) {
        pwalk_entry e = ToEntry(tree[i], 100 + i);
        EXPECT_EQ(plugin_->consume(inst, ts, &e, 1), PWALK_OK);
    }
    EXPECT_EQ(plugin_->thread_close(inst, ts), PWALK_OK);
    EXPECT_EQ(plugin_->prepare(inst), PWALK_OK) << ctx.error();
    EXPECT_EQ(plugin_->finish(inst, 0), PWALK_OK) << ctx.error();
    plugin_->destroy(inst);
    std::string text = harness::ReadFile(path_);
    auto figures = [](const std::string &t) {  // the tree's, not the scan's
        std::string out;
        for (size_t at = 0; at < t.size();) {
            size_t nl = t.find('\n', at);
            std::string line = t.substr(at, nl - at + 1);
            if (line.rfind("pwalk_scan_", 0) != 0 && line.find(" pwalk_scan_") == std::string::npos)
                out += line;
            at = nl + 1;
        }
        return out;
    };
    EXPECT_EQ(figures(text), figures(one));
    EXPECT_TRUE(Has(text, "pwalk_bytes 19441")) << text;
    EXPECT_TRUE(Has(text, "pwalk_scan_sessions 2")) << text;
    EXPECT_TRUE(Has(one, "pwalk_scan_sessions 1")) << one;
    EXPECT_NE(text.find("\npwalk_scan_duration_seconds 30."), std::string::npos) << text;
    EXPECT_EQ(harness::ListDir(tmp_.path()), std::vector<std::string>{"disk.prom"});
}
#endif

#if PWALK_ABI_MINOR >= 3
TEST_F(PrometheusSink, RanksPartialsMergeIntoTheFileOfOneProcess)
{
    std::string one = Publish();
    g_ranks = 2;
    std::vector<std::string> parts;
    for (size_t r = 0; r < 2; r++) {
        parts.push_back(path_ + ".part-000" + std::to_string(r));
        void *inst = Walk(parts.back(), r, 2);
        ASSERT_NE(inst, nullptr) << ctx_.error();
        ASSERT_EQ(plugin_->finish(inst, 0), PWALK_OK) << ctx_.error();
        plugin_->destroy(inst);
        EXPECT_EQ(harness::ReadFile(parts.back()).compare(0, 8, "PWSUMPRT"), 0);
    }
    // the merge lifecycle: no workers, the unsharded path
    std::string merged_path = tmp_.path() + "/merged.prom";
    host_.worker_count = 0;
    FakeOptions opts = opts_;
    opts.strings["path"] = merged_path;
    void *inst = nullptr;
    ASSERT_EQ(plugin_->create(&host_, &ctx_, opts.get(), &inst), PWALK_OK) << ctx_.error();
    std::vector<const char *> ptrs = {parts[0].c_str(), parts[1].c_str()};
    ASSERT_EQ(plugin_->merge(inst, ptrs.data(), ptrs.size()), PWALK_OK) << ctx_.error();
    ASSERT_EQ(plugin_->prepare(inst), PWALK_OK) << ctx_.error();
    ASSERT_EQ(plugin_->finish(inst, 0), PWALK_OK) << ctx_.error();
    plugin_->destroy(inst);
    std::string merged = harness::ReadFile(merged_path);
    // equal but for the duration (the merge: end - start, 5 s) and the rate
    auto strip = [](const std::string &t) {
        std::string out;
        size_t at = 0;
        while (at < t.size()) {
            size_t nl = t.find('\n', at);
            std::string line = t.substr(at, nl - at + 1);
            if (line.rfind("pwalk_scan_duration_seconds ", 0) != 0 &&
                line.rfind("pwalk_scan_entries_per_second ", 0) != 0)
                out += line;
            at = nl + 1;
        }
        return out;
    };
    EXPECT_EQ(strip(merged), strip(one));
    EXPECT_TRUE(Has(merged, "pwalk_scan_duration_seconds 5.000")) << merged;
    EXPECT_TRUE(Has(merged, "pwalk_scan_entries_per_second 1.4")) << merged;
}
#endif

}  // namespace
