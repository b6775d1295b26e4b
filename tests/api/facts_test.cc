// Plugin ABI 1.3 through the library, as a plugin and a driver see it:
// host->scan_facts() in a real scan (what the plugin is told at create()
// and from prepare() on), pwalk_scan_set_rank() (pwalk/sys/remote.h), and
// the merge lifecycle pwalk_scan_merge_sink() runs (create with no worker,
// merge, prepare, finish, destroy) -- with in-process plugins
// (pwalk/sys/builtin.h) whose callbacks record what they were given.
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "pwalk/plugin.h"
#include "pwalk/pwalk.h"
#include "pwalk/sys/attach.h"
#include "pwalk/sys/builtin.h"
#include "pwalk/sys/remote.h"
#include "tests/harness/harness.h"

namespace {

// What the plugin saw, through pwalk_scan_attach().
struct Seen {
    std::vector<std::string> calls;  // callback names in order
    uint32_t worker_count = 99;
    pwalk_scan_facts at_create = {};
    pwalk_scan_facts at_prepare = {};
    std::vector<std::string> roots_at_create;
    std::string hostname, version;
    std::vector<std::string> partials;
    int finish_status = -1;
    int merge_rc = PWALK_OK;
};

struct Inst {
    const pwalk_host *host;
    pwalk_host_ctx *ctx;
    Seen *seen;
};

pwalk_scan_facts Facts(const pwalk_host *host, pwalk_host_ctx *ctx)
{
    pwalk_scan_facts f = {};
    f.struct_size = sizeof f;
    EXPECT_TRUE(PWALK_HOST_HAS(host, scan_facts));
    EXPECT_EQ(host->scan_facts(ctx, &f), PWALK_OK);
    return f;
}

int Create(const pwalk_host *host, pwalk_host_ctx *ctx, const pwalk_options *, void **instance)
{
    Seen *seen = static_cast<Seen *>(host->attachment(ctx));
    *instance = new Inst{host, ctx, seen};
    seen->calls.push_back("create");
    seen->worker_count = host->worker_count;
    seen->at_create = Facts(host, ctx);
    const pwalk_scan_facts &f = seen->at_create;
    for (uint32_t i = 0; i < f.root_count; i++)
        seen->roots_at_create.push_back(f.roots[i]);
    seen->hostname = f.hostname ? f.hostname : "(null)";
    seen->version = f.version ? f.version : "(null)";
    return PWALK_OK;
}

int ThreadOpen(void *instance, uint32_t, void **tstate)
{
    Inst *in = static_cast<Inst *>(instance);
    if (in->seen->calls.back() != "thread_open")
        in->seen->calls.push_back("thread_open");
    *tstate = nullptr;
    return PWALK_OK;
}

int Consume(void *, void *, const pwalk_entry *, size_t) { return PWALK_OK; }

int Prepare(void *instance)
{
    Inst *in = static_cast<Inst *>(instance);
    in->seen->calls.push_back("prepare");
    in->seen->at_prepare = Facts(in->host, in->ctx);
    return PWALK_OK;
}

int Finish(void *instance, int32_t status)
{
    Inst *in = static_cast<Inst *>(instance);
    in->seen->calls.push_back("finish");
    in->seen->finish_status = status;
    return PWALK_OK;
}

void Destroy(void *instance)
{
    Inst *in = static_cast<Inst *>(instance);
    if (!in)
        return;
    in->seen->calls.push_back("destroy");
    delete in;
}

int Merge(void *instance, const char *const *partials, size_t count)
{
    Inst *in = static_cast<Inst *>(instance);
    in->seen->calls.push_back("merge");
    for (size_t i = 0; i < count; i++)
        in->seen->partials.push_back(partials[i]);
    if (in->seen->merge_rc != PWALK_OK)
        in->host->set_error(in->ctx, "partial '%s' is corrupt", partials[0]);
    return in->seen->merge_rc;
}

const pwalk_option_spec kOptions[] = {
    {"dir", PWALK_OPT_STRING, PWALK_OPTION_OUTPUT, "out", nullptr, "where"},
};

pwalk_plugin MakePlugin(const char *name, bool with_merge)
{
    pwalk_plugin p = {};
    p.struct_size = sizeof p;
    p.abi_major = PWALK_ABI_MAJOR;
    p.abi_minor = PWALK_ABI_MINOR;
    p.threading = PWALK_THREADING_PER_WORKER;
    p.option_count = 1;
    p.name = name;
    p.version = "test";
    p.description = "records what ABI 1.3 tells it";
    p.options = kOptions;
    p.create = Create;
    p.thread_open = ThreadOpen;
    p.consume = Consume;
    p.prepare = Prepare;
    p.finish = Finish;
    p.destroy = Destroy;
    p.merge = with_merge ? Merge : nullptr;
    return p;
}

class Facts13 : public ::testing::Test {
  protected:
    void SetUp() override
    {
        root_ = tmp_ / "tree";
        ASSERT_EQ(mkdir(root_.c_str(), 0755), 0);
        for (const char *d : {"/a", "/b", "/skip"})
            ASSERT_EQ(mkdir((root_ + d).c_str(), 0755), 0);
        for (const char *f : {"/a/1", "/a/2", "/b/3", "/skip/4", "/5"})
            ASSERT_TRUE(harness::WriteFile(root_ + f, "x"));
    }
    void TearDown() override { pwalk_scan_free(s_); }

    // A scan of root_ with one sink of `plugin` (built in) attached to seen_.
    void NewScan(const pwalk_plugin *plugin, const std::string &extra = "")
    {
        std::string yaml = "version: 1\nscan:\n  roots: [\"" + root_ +
                           "\"]\n  threads: 3\n  exclude: [skip]\n" + extra +
                           "sinks:\n  - name: rec\n    plugin: " + plugin->name + "\n";
        char err[2048] = "";
        ASSERT_EQ(pwalk_scan_from_string(&s_, yaml.data(), yaml.size(), "facts.yaml", err,
                                         sizeof err),
                  0)
            << err;
        ASSERT_EQ(pwalk_scan_add_builtin_plugin(s_, plugin), 0);
        ASSERT_EQ(pwalk_scan_attach(s_, "rec", &seen_, err, sizeof err), 0) << err;
    }

    harness::TempDir tmp_{"facts"};
    std::string root_;
    pwalk_scan *s_ = nullptr;
    Seen seen_;
};

std::string HostName()
{
    char h[256] = "";
    gethostname(h, sizeof h - 1);
    return h;
}

// create() gets the scan's facts, counts still 0; prepare() the final
// counts, the ones pwalk_scan_counter() reports, and the end time.
TEST_F(Facts13, RealScanFacts)
{
    pwalk_plugin p = MakePlugin("facts13", true);
    NewScan(&p);
    int64_t before = (int64_t)time(nullptr);
    ASSERT_EQ(pwalk_scan_run(s_), PWALK_OK) << pwalk_scan_message(s_);
    int64_t after = (int64_t)time(nullptr);

    const pwalk_scan_facts &c = seen_.at_create;
    EXPECT_EQ(c.struct_size, sizeof(pwalk_scan_facts));
    EXPECT_EQ(c.thread_count, 3u);
    EXPECT_EQ(c.rank, 0);
    EXPECT_EQ(c.ranks, 1);
    EXPECT_GE(c.start_sec, before);
    EXPECT_LE(c.start_sec, after);
    EXPECT_EQ(c.end_sec, 0);
    EXPECT_EQ(c.entries, 0u);
    EXPECT_EQ(seen_.roots_at_create, std::vector<std::string>{root_});
    EXPECT_EQ(seen_.hostname, HostName());
    EXPECT_EQ(seen_.version, pwalk_version());
    EXPECT_EQ(seen_.worker_count, 3u);

    const pwalk_scan_facts &f = seen_.at_prepare;
    EXPECT_EQ(f.start_sec, c.start_sec);
    EXPECT_GE(f.end_sec, f.start_sec);
    EXPECT_LE(f.end_sec, after);
    // root, a, b, skip, 1, 2, 3, 5: skip is seen (and filtered), 4 is not
    EXPECT_EQ(f.entries, pwalk_scan_counter(s_, PWALK_COUNT_ENTRIES));
    EXPECT_EQ(f.entries, 8u);
    EXPECT_EQ(f.filtered, pwalk_scan_counter(s_, PWALK_COUNT_FILTERED));
    EXPECT_EQ(f.filtered, 1u);
    EXPECT_EQ(f.errors, 0u);
    EXPECT_EQ(seen_.calls, (std::vector<std::string>{"create", "thread_open", "prepare",
                                                     "finish", "destroy"}));
}

// pwalk_scan_set_rank(): a driver's rank, rank count and shared start time.
TEST_F(Facts13, RankFromTheDriver)
{
    pwalk_plugin p = MakePlugin("facts13", true);
    NewScan(&p);
    EXPECT_EQ(pwalk_scan_set_rank(s_, 3, 3, 1000), PWALK_USAGE);
    EXPECT_EQ(pwalk_scan_set_rank(s_, 0, 0, 1000), PWALK_USAGE);
    ASSERT_EQ(pwalk_scan_set_rank(s_, 1, 3, 1234567890), 0);
    ASSERT_EQ(pwalk_scan_run(s_), PWALK_OK) << pwalk_scan_message(s_);
    EXPECT_EQ(seen_.at_create.rank, 1);
    EXPECT_EQ(seen_.at_create.ranks, 3);
    EXPECT_EQ(seen_.at_create.start_sec, 1234567890);
    EXPECT_EQ(seen_.at_prepare.ranks, 3);
}

// The merge lifecycle: only create (no worker), merge, prepare, finish(0),
// destroy; the driver's facts, the scan's roots when it gives none.
TEST_F(Facts13, MergeLifecycle)
{
    pwalk_plugin p = MakePlugin("facts13", true);
    NewScan(&p);
    char err[2048] = "";
    pwalk_scan_facts f = {};
    f.struct_size = sizeof f;
    f.thread_count = 5;
    f.ranks = 4;
    f.start_sec = 1000;
    f.end_sec = 2000;
    f.entries = 42;
    f.errors = 1;
    f.filtered = 3;
    const char *parts[] = {"p0", "p1", "p2", "p3"};
    ASSERT_EQ(pwalk_scan_merge_sink(s_, 0, parts, 4, &f, err, sizeof err), 0) << err;
    EXPECT_EQ(seen_.calls, (std::vector<std::string>{"create", "merge", "prepare", "finish",
                                                     "destroy"}));
    EXPECT_EQ(seen_.worker_count, 0u);
    EXPECT_EQ(seen_.finish_status, 0);
    EXPECT_EQ(seen_.partials, (std::vector<std::string>{"p0", "p1", "p2", "p3"}));
    const pwalk_scan_facts &c = seen_.at_create;
    EXPECT_EQ(c.thread_count, 5u);
    EXPECT_EQ(c.rank, 0);
    EXPECT_EQ(c.ranks, 4);
    EXPECT_EQ(c.start_sec, 1000);
    EXPECT_EQ(c.end_sec, 2000);
    EXPECT_EQ(c.entries, 42u);
    EXPECT_EQ(c.errors, 1u);
    EXPECT_EQ(c.filtered, 3u);
    EXPECT_EQ(seen_.roots_at_create, std::vector<std::string>{root_});
    EXPECT_EQ(seen_.hostname, HostName());
    EXPECT_EQ(seen_.version, pwalk_version());
}

// A failing merge publishes nothing: finish gets a non-zero status, the
// message is the plugin's, the status PWALK_FAILED.
TEST_F(Facts13, MergeFails)
{
    pwalk_plugin p = MakePlugin("facts13", true);
    NewScan(&p);
    seen_.merge_rc = PWALK_ERR_IO;
    char err[2048] = "";
    pwalk_scan_facts f = {};
    f.struct_size = sizeof f;
    const char *parts[] = {"p0"};
    EXPECT_EQ(pwalk_scan_merge_sink(s_, 0, parts, 1, &f, err, sizeof err), PWALK_FAILED);
    EXPECT_STREQ(err, "sink 'rec': partial 'p0' is corrupt");
    EXPECT_EQ(seen_.calls, (std::vector<std::string>{"create", "merge", "finish", "destroy"}));
    EXPECT_NE(seen_.finish_status, 0);
}

// No merge callback -- or a plugin of ABI 1.2, whose struct ends before
// merge whatever follows it in memory -- cannot be merged: a usage error
// before create().
TEST_F(Facts13, MergeNeedsTheCallback)
{
    pwalk_plugin none = MakePlugin("facts13", false);
    NewScan(&none);
    char err[2048] = "";
    const char *parts[] = {"p0"};
    EXPECT_EQ(pwalk_scan_merge_sink(s_, 0, parts, 1, nullptr, err, sizeof err), PWALK_USAGE);
    EXPECT_STREQ(err, "sink 'rec': plugin 'facts13' cannot merge partial outputs (it has no "
                      "merge callback, ABI 1.3)");
    EXPECT_TRUE(seen_.calls.empty());
    EXPECT_EQ(pwalk_scan_merge_sink(s_, 1, parts, 1, nullptr, err, sizeof err), PWALK_USAGE);
}

TEST_F(Facts13, OldPluginIsNeverAskedToMerge)
{
    pwalk_plugin old = MakePlugin("facts12", true);  // merge set, but...
    old.struct_size = offsetof(pwalk_plugin, merge);  // ...built against 1.2
    old.abi_minor = 2;
    NewScan(&old);
    char err[2048] = "";
    const char *parts[] = {"p0"};
    EXPECT_EQ(pwalk_scan_merge_sink(s_, 0, parts, 1, nullptr, err, sizeof err), PWALK_USAGE);
    EXPECT_NE(strstr(err, "cannot merge"), nullptr) << err;
    EXPECT_TRUE(seen_.calls.empty());
    // and it still runs a scan as before
    ASSERT_EQ(pwalk_scan_run(s_), PWALK_OK) << pwalk_scan_message(s_);
    EXPECT_EQ(seen_.calls.front(), "create");
    EXPECT_EQ(seen_.at_prepare.entries, 8u);
}

}  // namespace
