// The bazel-built ncdu.so's checkpoints (plugin ABI 1.4, plugins/ncdu/ckpt.h)
// driven through the fake host: a scan suspended after a checkpoint (with
// entries consumed after it, which the resumed scan reads again, and bytes
// a crash left past the checkpoint's length) resumes into the export of one
// go; two ranks' states join into one; what is kept while suspended; and
// the refusals (a state that is not one, a part missing or shorter), each
// one line, the parts left as they were.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <regex>
#include <string>
#include <vector>

#include "pwalk/plugin.h"
#include "tests/harness/fakehost.h"
#include "tests/harness/files.h"

namespace {

using pwalk_plugin_entry_fn = const pwalk_plugin *(*)(void);

// /r with dirs d0..d3, each with files f0..f5, and a file at the top;
// every directory's own row after its entries, the root's last.
struct Ent {
    std::string path;
    int32_t depth;
    bool dir;
};

std::vector<Ent> Tree()
{
    std::vector<Ent> t;
    for (int d = 0; d < 4; d++) {
        std::string dir = "/r/d" + std::to_string(d);
        for (int f = 0; f < 6; f++)
            t.push_back({dir + "/f" + std::to_string(f), 1, false});
        t.push_back({dir, 0, true});
    }
    t.push_back({"/r/top", 0, false});
    t.push_back({"/r", -1, true});
    return t;
}

pwalk_entry ToEntry(const Ent &e, uint64_t ino)
{
    pwalk_entry p = harness::SyntheticEntry(e.path, e.depth, e.dir);
    p.uid = 1000;
    p.ino = ino;
    p.size = e.dir ? 4096 : (int64_t)(ino * 10);
    p.blocks = 8;
    p.mtime_sec = p.atime_sec = p.ctime_sec = 1700000000;
    return p;
}

class NcduCheckpoint : public ::testing::Test {
  protected:
    void SetUp() override
    {
        const char *srcdir = getenv("TEST_SRCDIR");
        ASSERT_NE(srcdir, nullptr) << "run under bazel test";
        std::string so = std::string(srcdir) + "/pwalk/plugins/ncdu/ncdu.so";
        handle_ = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
        ASSERT_NE(handle_, nullptr) << dlerror();
        auto entry =
            reinterpret_cast<pwalk_plugin_entry_fn>(dlsym(handle_, PWALK_PLUGIN_ENTRY_SYMBOL));
        ASSERT_NE(entry, nullptr) << dlerror();
        plugin_ = entry();
        ASSERT_NE(plugin_->checkpoint, nullptr);
        dir_ = harness::MakeTempDir("ncduckpt", "/tmp", 0700);
        path_ = dir_ + "/scan.json";
        opts_.strings["path"] = path_;
        opts_.strings["compress"] = "none";
        opts_.strings["tmpdir"] = "";
        opts_.ints["memory_mb"] = 1;
        host_ = harness::FakeHostTable(2);
    }
    void TearDown() override
    {
        harness::RemoveTree(dir_);
        if (handle_)
            dlclose(handle_);
    }

    void Context(pwalk_host_ctx *ctx, const std::vector<std::string> &states)
    {
        ctx->roots = {"/r"};
        ctx->resume_states = states;
    }

    // A session: create (resuming states), entries [from, to) of those i
    // with i % parts == part over two workers, a checkpoint at `to` (when
    // checkpoint), `lost` more entries after it, then suspend
    // (finish(PWALK_SUSPENDED)) or complete (prepare, finish(0)).  Returns
    // the state saved ("" if none); *error: create()'s message.
    std::string Session(const std::vector<std::string> &states, size_t from, size_t to,
                        bool complete, size_t lost = 0, std::string *error = nullptr,
                        size_t part = 0, size_t parts = 1)
    {
        const std::vector<Ent> tree = Tree();
        pwalk_host_ctx ctx;
        Context(&ctx, states);
        void *ts[2];
        void *inst = harness::StartSession(plugin_, &host_, &ctx, opts_.get(), ts, 2, error);
        if (!inst)
            return "";
        std::string state;
        for (size_t i = from; i < to + lost && i < tree.size(); i++) {
            if (i == to) {
                EXPECT_EQ(harness::Checkpoint(plugin_, inst, &ctx), PWALK_OK) << ctx.error();
                state = ctx.saved.back();
            }
            if (i % parts != part)
                continue;
            pwalk_entry e = ToEntry(tree[i], 100 + i);
            EXPECT_EQ(plugin_->consume(inst, ts[i % 2], &e, 1), PWALK_OK) << ctx.error();
        }
        if (!complete && state.empty()) {
            EXPECT_EQ(harness::Checkpoint(plugin_, inst, &ctx), PWALK_OK) << ctx.error();
            state = ctx.saved.back();
        }
        for (uint32_t w = 0; w < 2; w++)
            EXPECT_EQ(plugin_->thread_close(inst, ts[w]), PWALK_OK);
        if (complete) {
            EXPECT_EQ(plugin_->prepare(inst), PWALK_OK) << ctx.error();
            EXPECT_EQ(plugin_->finish(inst, 0), PWALK_OK) << ctx.error();
        } else {
            EXPECT_EQ(plugin_->finish(inst, PWALK_SUSPENDED), PWALK_OK);
        }
        plugin_->destroy(inst);
        return state;
    }

    std::string Export()
    {
        std::string text = harness::ReadFile(path_);
        return std::regex_replace(text, std::regex("\"timestamp\":[0-9]+"), "");
    }

    // The export of one go, then removed.
    std::string Reference()
    {
        Session({}, 0, Tree().size(), true);
        std::string ref = Export();
        EXPECT_NE(ref.find("\"name\":\"f5\""), std::string::npos) << ref;
        EXPECT_EQ(unlink(path_.c_str()), 0);
        return ref;
    }

    void *handle_ = nullptr;
    const pwalk_plugin *plugin_ = nullptr;
    pwalk_host host_;
    harness::FakeOptions opts_;
    std::string dir_, path_;
};

TEST_F(NcduCheckpoint, ResumedAtEveryCutTheExportIsTheOneOfOneGo)
{
    const std::string ref = Reference();
    const size_t n = Tree().size();
    for (size_t cut = 0; cut < n; cut += 3) {
        SCOPED_TRACE("cut " + std::to_string(cut));
        std::string state = Session({}, 0, cut, false, 4);
        ASSERT_EQ(state.compare(0, 8, "PWNCDUC1"), 0);
        // suspended: the runs' temporary and the export's, no final name
        std::vector<std::string> temps = harness::TempOutputs(dir_);
        EXPECT_EQ(temps.size(), 2u);
        EXPECT_EQ(harness::ListDir(dir_), temps);
        // a crash in the next checkpoint: bytes past the saved length
        for (const std::string &t : temps) {
            std::string p = dir_ + "/" + t;
            std::string data = harness::ReadFile(p);
            if (!data.empty())
                ASSERT_TRUE(harness::WriteFile(p, data + std::string(100, 'x')));
        }
        Session({state}, cut, n, true);
        EXPECT_EQ(Export(), ref);
        EXPECT_EQ(harness::ListDir(dir_), std::vector<std::string>{"scan.json"});
        ASSERT_EQ(unlink(path_.c_str()), 0);
    }
}

TEST_F(NcduCheckpoint, SeveralSessionsAndTwoRanksStatesJoin)
{
    const std::string ref = Reference();
    const size_t n = Tree().size();
    std::string s1 = Session({}, 0, 7, false);
    std::string s2 = Session({s1}, 7, 15, false, 2);
    Session({s2}, 15, n, true);
    EXPECT_EQ(Export(), ref);
    ASSERT_EQ(unlink(path_.c_str()), 0);
    // pwalk-mpi resumed with fewer ranks: one instance continues both
    std::string a = Session({}, 0, n, false, 0, nullptr, 0, 2);
    std::string b = Session({}, 0, n, false, 0, nullptr, 1, 2);
    EXPECT_EQ(harness::TempOutputs(dir_).size(), 4u);
    Session({a, b}, n, n, true);
    EXPECT_EQ(Export(), ref);
    EXPECT_EQ(harness::ListDir(dir_), std::vector<std::string>{"scan.json"});
}

TEST_F(NcduCheckpoint, ABadStateOrPartIsRefusedWithOneLineAndThePartsKept)
{
    std::string state = Session({}, 0, 10, false);
    std::vector<std::string> temps = harness::TempOutputs(dir_);
    ASSERT_EQ(temps.size(), 2u);
    std::string runs;  // the temporary holding the runs: the non-empty one
    for (const std::string &t : temps)
        if (!harness::ReadFile(dir_ + "/" + t).empty())
            runs = t;
    ASSERT_FALSE(runs.empty());
    const std::string bytes = harness::ReadFile(dir_ + "/" + runs);
    std::string error;
    EXPECT_EQ(Session({"garbage"}, 10, 30, true, 0, &error), "");
    EXPECT_EQ(error, "ncdu checkpoint state 1 of 1: not an ncdu checkpoint state");
    EXPECT_EQ(Session({state.substr(0, state.size() - 3)}, 10, 30, true, 0, &error), "");
    EXPECT_EQ(error, "ncdu checkpoint state 1 of 1: corrupt");
    ASSERT_TRUE(harness::WriteFile(dir_ + "/" + runs, bytes.substr(0, bytes.size() / 2)));
    EXPECT_EQ(Session({state}, 10, 30, true, 0, &error), "");
    EXPECT_NE(error.find("ncdu checkpoint state 1 of 1: cannot resume '" + path_ + "': part '" +
                         runs + "' is "),
              std::string::npos)
        << error;
    EXPECT_NE(error.find(", the checkpoint has " + std::to_string(bytes.size())),
              std::string::npos)
        << error;
    EXPECT_EQ(harness::ReadFile(dir_ + "/" + runs), bytes.substr(0, bytes.size() / 2));
    ASSERT_EQ(unlink((dir_ + "/" + runs).c_str()), 0);
    EXPECT_EQ(Session({state}, 10, 30, true, 0, &error), "");
    EXPECT_NE(error.find("part '" + runs + "': No such file or directory"), std::string::npos)
        << error;
    EXPECT_EQ(harness::TempOutputs(dir_).size(), 1u);  // the other one, untouched
}

}  // namespace
