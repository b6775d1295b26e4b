// The fake plugin host: every field of the ABI's table is filled, each
// service records what it was asked, and an older engine's table ends
// where that minor's did.
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "tests/harness/fakehost.h"

namespace harness {
namespace {

// All fields after worker_count are services (function pointers); a
// field of another kind added to the ABI needs its own check here.
TEST(FakeHost, FillsEveryField)
{
    pwalk_host h = FakeHostTable(3);
    EXPECT_EQ(h.struct_size, sizeof(pwalk_host));
    EXPECT_EQ(h.abi_major, (uint32_t)PWALK_ABI_MAJOR);
    EXPECT_EQ(h.abi_minor, (uint32_t)PWALK_ABI_MINOR);
    EXPECT_EQ(h.worker_count, 3u);
    for (size_t off = offsetof(pwalk_host, opt_string); off < sizeof h; off += sizeof(void *)) {
        void *p;
        memcpy(&p, reinterpret_cast<const char *>(&h) + off, sizeof p);
        EXPECT_NE(p, nullptr) << "pwalk_host field at offset " << off << " is not filled";
    }
    EXPECT_TRUE(PWALK_HOST_HAS(&h, prune));
    EXPECT_TRUE(PWALK_HOST_HAS(&h, own_output));
    EXPECT_TRUE(PWALK_HOST_HAS(&h, attachment));
    EXPECT_TRUE(PWALK_HOST_HAS(&h, scan_facts));
    EXPECT_TRUE(PWALK_HOST_HAS(&h, checkpoint_state));
}

// 1.4: a plugin whose checkpoint() saves what its instance points to.
struct SavingSink {
    const pwalk_host *host;
    pwalk_host_ctx *ctx;
    std::string state;
    int saves = 1;
};

int SavingCheckpoint(void *instance)
{
    SavingSink *s = static_cast<SavingSink *>(instance);
    for (int i = 0; i < s->saves; i++)
        if (s->host->checkpoint_save(s->ctx, s->state.data(), s->state.size()) != PWALK_OK)
            return PWALK_ERR;
    return PWALK_OK;
}

TEST(FakeHost, CheckpointServices)
{
    pwalk_host h = FakeHostTable();
    pwalk_host_ctx ctx;
    pwalk_plugin p = {};
    p.checkpoint = SavingCheckpoint;
    SavingSink sink{&h, &ctx, std::string("a\0b", 3)};
    EXPECT_EQ(h.checkpoint_count(&ctx), 0u) << "a fresh scan";
    EXPECT_EQ(h.checkpoint_save(&ctx, "x", 1), PWALK_ERR) << "outside checkpoint()";
    ASSERT_EQ(Checkpoint(&p, &sink, &ctx), PWALK_OK);
    EXPECT_EQ(ctx.saves_in_checkpoint, 1);
    sink.state = "second";
    sink.saves = 2;
    ASSERT_EQ(Checkpoint(&p, &sink, &ctx), PWALK_OK);
    EXPECT_EQ(ctx.saves_in_checkpoint, 2);
    ASSERT_EQ(ctx.saved.size(), 3u);
    EXPECT_EQ(ctx.saved[0], std::string("a\0b", 3));
    EXPECT_EQ(ctx.saved[2], "second");
    ctx.checkpoint_save_rc = PWALK_ERR_NOMEM;
    EXPECT_EQ(Checkpoint(&p, &sink, &ctx), PWALK_ERR);
    EXPECT_EQ(ctx.saved.size(), 3u);

    pwalk_host_ctx resumed;
    resumed.resume_states = {ctx.saved[0], ctx.saved[2]};
    ASSERT_EQ(h.checkpoint_count(&resumed), 2u);
    const void *st = nullptr;
    size_t len = 0;
    ASSERT_EQ(h.checkpoint_state(&resumed, 0, &st, &len), PWALK_OK);
    EXPECT_EQ(std::string(static_cast<const char *>(st), len), std::string("a\0b", 3));
    ASSERT_EQ(h.checkpoint_state(&resumed, 1, &st, &len), PWALK_OK);
    EXPECT_EQ(std::string(static_cast<const char *>(st), len), "second");
    EXPECT_EQ(h.checkpoint_state(&resumed, 2, &st, &len), PWALK_ERR);

    // scan_facts' sessions: one by default, else what the context holds
    pwalk_scan_facts f = {};
    f.struct_size = sizeof f;
    ASSERT_EQ(h.scan_facts(&resumed, &f), PWALK_OK);
    ASSERT_EQ(f.session_count, 1u);
    EXPECT_EQ(f.sessions[0].start_sec, resumed.start_sec);
    resumed.sessions = {{100, 200}, {300, 0}};
    ASSERT_EQ(h.scan_facts(&resumed, &f), PWALK_OK);
    ASSERT_EQ(f.session_count, 2u);
    EXPECT_EQ(f.sessions[1].start_sec, 300);
}

// 1.3: scan_facts() answers what the context holds, as much of it as the
// caller's struct holds (the engine's rule: a plugin built against a later
// minor passes a bigger one; the smallest accepted reaches thread_count).
TEST(FakeHost, ScanFacts)
{
    pwalk_host h = FakeHostTable();
    pwalk_host_ctx ctx;
    ctx.roots = {"/a", "/b"};
    ctx.ranks = 4;
    ctx.rank = 2;
    ctx.entries = 10;
    pwalk_scan_facts f = {};
    f.struct_size = sizeof f;
    ASSERT_EQ(h.scan_facts(&ctx, &f), PWALK_OK);
    EXPECT_EQ(f.struct_size, sizeof f);
    EXPECT_EQ(f.thread_count, 2u);
    EXPECT_EQ(f.rank, 2);
    EXPECT_EQ(f.ranks, 4);
    EXPECT_GT(f.start_sec, 0);
    EXPECT_EQ(f.end_sec, 0);
    EXPECT_STREQ(f.hostname, "fakehost");
    ASSERT_EQ(f.root_count, 2u);
    EXPECT_STREQ(f.roots[1], "/b");
    EXPECT_EQ(f.entries, 10u);
    // a smaller struct gets only what fits
    pwalk_scan_facts g = {};
    g.struct_size = offsetof(pwalk_scan_facts, hostname);
    ASSERT_EQ(h.scan_facts(&ctx, &g), PWALK_OK);
    EXPECT_EQ(g.struct_size, offsetof(pwalk_scan_facts, hostname));
    EXPECT_EQ(g.ranks, 4);
    EXPECT_EQ(g.hostname, nullptr);
    g.struct_size = 4;
    EXPECT_LT(h.scan_facts(&ctx, &g), 0);
    EXPECT_EQ(ctx.scan_facts_calls, 2);
}

TEST(FakeHost, ServicesRecordWhatTheyWereAsked)
{
    pwalk_host h = FakeHostTable();
    pwalk_host_ctx ctx;
    ctx.sink_name = "inventory";
    h.set_error(&ctx, "bad %s %d", "value", 7);
    h.log(&ctx, "note");
    h.entry_error(&ctx, "/r/x", 13, "lstat");
    EXPECT_EQ(h.prune(&ctx, "*.tmp"), PWALK_OK);
    EXPECT_STREQ(h.sink_name(&ctx), "inventory");
    EXPECT_EQ(h.stop_requested(&ctx), 0);
    EXPECT_EQ(h.attachment(&ctx), nullptr);
    int consumer = 0;
    ctx.attachment = &consumer;
    EXPECT_EQ(h.attachment(&ctx), &consumer);
    ctx.stop = 1;
    EXPECT_NE(h.stop_requested(&ctx), 0);
    ctx.prune_rc = PWALK_ERR_NOMEM;
    EXPECT_EQ(h.prune(&ctx, "no"), PWALK_ERR_NOMEM);
    char path[] = "/tmp/pwalk-fakehost-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(h.own_output(&ctx, fd), PWALK_OK);
    struct stat st;
    ASSERT_EQ(fstat(fd, &st), 0);
    close(fd);
    unlink(path);
    EXPECT_EQ(h.own_output(&ctx, fd), PWALK_ERR) << "a closed fd";

    EXPECT_EQ(ctx.errors, std::vector<std::string>{"bad value 7"});
    EXPECT_EQ(ctx.error(), "bad value 7");
    EXPECT_EQ(ctx.logs, std::vector<std::string>{"note"});
    ASSERT_EQ(ctx.entry_errors.size(), 1u);
    EXPECT_EQ(ctx.entry_errors[0].path, "/r/x");
    EXPECT_EQ(ctx.entry_errors[0].error_number, 13);
    EXPECT_EQ(ctx.entry_errors[0].operation, "lstat");
    EXPECT_EQ(ctx.prunes, std::vector<std::string>{"*.tmp"});
    ASSERT_EQ(ctx.own.size(), 1u);
    EXPECT_EQ(ctx.own[0], std::make_pair(st.st_dev, st.st_ino));
}

TEST(FakeHost, OptionGettersReadFakeOptions)
{
    pwalk_host h = FakeHostTable();
    FakeOptions o;
    o.strings["path"] = "/r/scan.csv";
    o.bools["header"] = 1;
    o.ints["level"] = -3;
    o.lists["exclude"] = {"a", "b"};
    const char *s = nullptr;
    int b = 0;
    int64_t i = 0;
    size_t n = 0;
    ASSERT_EQ(h.opt_string(o.get(), "path", &s), 0);
    EXPECT_STREQ(s, "/r/scan.csv");
    ASSERT_EQ(h.opt_bool(o.get(), "header", &b), 0);
    EXPECT_EQ(b, 1);
    ASSERT_EQ(h.opt_int(o.get(), "level", &i), 0);
    EXPECT_EQ(i, -3);
    ASSERT_EQ(h.opt_list_count(o.get(), "exclude", &n), 0);
    EXPECT_EQ(n, 2u);
    ASSERT_EQ(h.opt_list_item(o.get(), "exclude", 1, &s), 0);
    EXPECT_STREQ(s, "b");
    EXPECT_LT(h.opt_list_item(o.get(), "exclude", 2, &s), 0);
    EXPECT_LT(h.opt_string(o.get(), "missing", &s), 0);
    EXPECT_LT(h.opt_int(o.get(), "header", &i), 0) << "a bool is no int";
}

TEST(FakeHost, OlderEnginesTables)
{
    pwalk_host h = FakeHostTable();
    EndTableAt(&h, 3);
    EXPECT_TRUE(PWALK_HOST_HAS(&h, scan_facts));
    EXPECT_FALSE(PWALK_HOST_HAS(&h, checkpoint_save));
    EXPECT_EQ(h.checkpoint_state, nullptr);
    EndTableAt(&h, 2);
    EXPECT_EQ(h.abi_minor, 2u);
    EXPECT_TRUE(PWALK_HOST_HAS(&h, attachment));
    EXPECT_FALSE(PWALK_HOST_HAS(&h, scan_facts));
    EXPECT_EQ(h.scan_facts, nullptr);
    EndTableAt(&h, 1);
    EXPECT_EQ(h.abi_minor, 1u);
    EXPECT_TRUE(PWALK_HOST_HAS(&h, prune));
    EXPECT_FALSE(PWALK_HOST_HAS(&h, own_output));
    EXPECT_EQ(h.own_output, nullptr);
    EndTableAt(&h, 0);
    EXPECT_FALSE(PWALK_HOST_HAS(&h, prune));
    EXPECT_EQ(h.prune, nullptr);
    EXPECT_NE(h.sink_name, nullptr);
}

}  // namespace
}  // namespace harness
