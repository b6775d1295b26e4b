// pwalk/sys/remote.h as a driver uses it, without MPI: two scans in one
// process share one walk through the public hooks (the tick, export,
// import, end), each writing its own report, and together the two reports
// hold every entry of the tree exactly once, each row matching lstat.  Also
// what the hook refuses, the sink probe and the settings pwalk-mpi's
// manifest states.  Includes only public headers and links libpwalk.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pwalk/plugin.h"
#include "pwalk/pwalk.h"
#include "pwalk/sys/builtin.h"
#include "pwalk/sys/remote.h"
#include "tests/harness/harness.h"

namespace {

std::string Cwd() {
    char buf[4096];
    return getcwd(buf, sizeof buf) ? buf : ".";
}

// ---- gate: a built-in sink that holds scan A's only worker at its first
// rows until A's tick has handed directories to B (so B gets work however
// fast the machine: no timing involved) ------------------------------------

struct Gate {
    std::mutex lock;
    std::condition_variable cv;
    bool open = false;
};
Gate gate;

int GateCreate(const pwalk_host *, pwalk_host_ctx *, const pwalk_options *, void **instance) {
    *instance = &gate;
    return PWALK_OK;
}
int GateThreadOpen(void *, uint32_t, void **tstate) {
    *tstate = nullptr;
    return PWALK_OK;
}
int GateConsume(void *, void *, const pwalk_entry *, size_t) {
    std::unique_lock<std::mutex> g(gate.lock);
    // bounded: a broken hand-over shows as a failed expectation, not a hang
    gate.cv.wait_for(g, std::chrono::seconds(60), [] { return gate.open; });
    return PWALK_OK;
}
int GateThreadClose(void *, void *) { return PWALK_OK; }
int GateFinish(void *, int32_t) { return PWALK_OK; }

// Every field named: the struct is the ABI, C++ wants them all in order.
const pwalk_plugin gate_plugin = {
    .struct_size = sizeof(pwalk_plugin),
    .abi_major = PWALK_ABI_MAJOR,
    .abi_minor = PWALK_ABI_MINOR,
    .flags = 0,
    .threading = PWALK_THREADING_PER_WORKER,
    .option_count = 0,
    .name = "gate",
    .version = "test",
    .description = "holds the first rows until the test opens it",
    .options = nullptr,
    .create = GateCreate,
    .thread_open = GateThreadOpen,
    .consume = GateConsume,
    .error = nullptr,
    .thread_close = GateThreadClose,
    .finish = GateFinish,
    .destroy = nullptr,
    .prepare = nullptr,
};

// ---- the driver: two scans, one mailbox, exact termination -------------------
//
// What pwalk-mpi's coordinator does over MPI, in one process: a side that
// is out of work says so; the other hands it half of its queued
// directories; the walk is over when both are idle and no message is in
// flight (a message is counted from export until import, and a side's
// idle flag is updated under the same lock as the count).

struct Shared {
    std::mutex lock;
    std::deque<std::string> inbox[2];
    bool idle[2] = {false, false};
    int in_flight = 0;
    bool done = false;
    long moved[2] = {0, 0};   // directories each side handed over
    long imported[2] = {0, 0};
    std::string problem;      // an import refused, or out of memory
};

struct Side {
    Shared *shared;
    int me;
};

void Tick(void *ctx, pwalk_remote_walk *walk) {
    Side *side = static_cast<Side *>(ctx);
    Shared *sh = side->shared;
    int me = side->me, other = 1 - me;
    std::deque<std::string> mail;
    {
        std::lock_guard<std::mutex> g(sh->lock);
        mail.swap(sh->inbox[me]);
    }
    long got = 0;
    for (auto &m : mail) {
        char err[256] = "";
        long n = pwalk_remote_import(walk, m.data(), m.size(), err, sizeof err);
        if (n < 0) {
            std::lock_guard<std::mutex> g(sh->lock);
            sh->problem = err;
        }
        got += n > 0 ? n : 0;
    }
    bool other_idle;
    {
        std::lock_guard<std::mutex> g(sh->lock);
        sh->in_flight -= (int)mail.size();
        sh->imported[me] += got;
        sh->idle[me] = pwalk_remote_idle(walk) != 0;
        if (sh->idle[0] && sh->idle[1] && sh->in_flight == 0) sh->done = true;
        if (sh->done) {
            pwalk_remote_end(walk);
            return;
        }
        other_idle = sh->idle[other] && sh->inbox[other].empty();
    }
    size_t queued = pwalk_remote_queued(walk);
    if (!other_idle || queued == 0) return;
    char *buf = nullptr;
    size_t len = 0;
    long n = pwalk_remote_export(walk, queued / 2 ? queued / 2 : 1, &buf, &len);
    std::lock_guard<std::mutex> g(sh->lock);
    if (n < 0) sh->problem = "out of memory exporting";
    if (n > 0) {
        sh->inbox[other].emplace_back(buf, len);
        sh->in_flight++;
        sh->idle[other] = false;  // it has work coming
        sh->moved[me] += n;
        std::lock_guard<std::mutex> gg(gate.lock);
        gate.open = true;
        gate.cv.notify_all();
    }
    free(buf);
}

class RemoteApi : public ::testing::Test {
  protected:
    void SetUp() override {
        root_ = dir_ / "root";
        ASSERT_EQ(mkdir(root_.c_str(), 0755), 0);
        ASSERT_TRUE(harness::WriteFile(root_ + "/top", "abc"));
        for (int d = 0; d < 20; d++) {
            std::string dir = root_ + "/d" + std::to_string(d);
            ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
            ASSERT_EQ(mkdir((dir + "/sub").c_str(), 0755), 0);
            for (int f = 0; f < 5; f++)
                ASSERT_TRUE(harness::WriteFile(dir + "/sub/f" + std::to_string(f),
                                               std::string((size_t)f, 'x')));
        }
    }

    // A scan of root_ with one worker writing a lossless report to out.
    pwalk_scan *NewScan(const std::string &out, bool gated) {
        std::string yaml = "version: 1\nscan:\n  roots: [\"" + root_ +
                           "\"]\n  threads: 1\nsinks:\n"
                           "  - name: report\n    plugin: csv\n    options:\n"
                           "      path: \"" + out + "\"\n      escape: lossless\n";
        if (gated) yaml += "  - name: gate\n    plugin: gate\n";
        pwalk_scan *s = nullptr;
        char err[2048] = "";
        EXPECT_EQ(pwalk_scan_from_string(&s, yaml.data(), yaml.size(), "test.yaml", err,
                                         sizeof err),
                  0)
            << err;
        if (!s) return nullptr;
        EXPECT_EQ(pwalk_scan_add_plugin_dir(s, (Cwd() + "/plugins").c_str()), 0);
        if (gated) {
            EXPECT_EQ(pwalk_scan_add_builtin_plugin(s, &gate_plugin), 0);
        }
        return s;
    }

    harness::TempDir dir_{"remote-api"};
    std::string root_;
};

TEST_F(RemoteApi, TwoScansShareOneWalkAndTogetherReportEveryEntryOnce) {
    gate.open = false;
    Shared shared;
    Side sides[2] = {{&shared, 0}, {&shared, 1}};
    std::string out[2] = {dir_ / "a.csv", dir_ / "b.csv"};
    pwalk_scan *scan[2] = {NewScan(out[0], true), NewScan(out[1], false)};
    ASSERT_TRUE(scan[0] && scan[1]);
    for (int i = 0; i < 2; i++) {
        pwalk_remote hook = {sizeof hook, &sides[i], 1, i == 0, Tick, nullptr};
        char err[256] = "";
        ASSERT_EQ(pwalk_scan_set_remote(scan[i], &hook, err, sizeof err), 0) << err;
    }
    int status[2] = {-1, -1};
    std::thread b([&] { status[1] = pwalk_scan_run(scan[1]); });
    status[0] = pwalk_scan_run(scan[0]);
    b.join();
    EXPECT_EQ(status[0], PWALK_OK) << pwalk_scan_message(scan[0]);
    EXPECT_EQ(status[1], PWALK_OK) << pwalk_scan_message(scan[1]);
    EXPECT_EQ(shared.problem, "");
    EXPECT_GT(shared.moved[0], 0);  // A handed directories to B ...
    EXPECT_EQ(shared.imported[1], shared.moved[0]);
    EXPECT_EQ(shared.imported[0], shared.moved[1]);
    EXPECT_GT(pwalk_scan_counter(scan[1], PWALK_COUNT_ROWS), 0u);  // ... which B read

    // the two reports: every entry of the tree exactly once, matching lstat
    std::map<std::string, harness::Expect> model;
    harness::Model(root_, std::vector<std::string>{}, &model);
    std::map<std::string, int> seen;
    uint64_t rows = 0;
    for (int i = 0; i < 2; i++) {
        harness::Csv csv = harness::ReadCsv(out[i], harness::kColumns);
        ASSERT_TRUE(csv.ok) << out[i] << ": " << csv.problem;
        EXPECT_EQ(csv.rows.size(), pwalk_scan_counter(scan[i], PWALK_COUNT_ROWS)) << out[i];
        for (auto &row : csv.rows) {
            std::string path = harness::Unescape(row[harness::kFilename]);
            seen[path]++;
            auto it = model.find(path);
            if (it == model.end()) {
                ADD_FAILURE() << out[i] << ": row for " << path << ", not in the tree";
                continue;
            }
            EXPECT_EQ(harness::CheckRow(row, it->second, path), "") << out[i];
        }
        rows += csv.rows.size();
    }
    for (auto &kv : model) EXPECT_EQ(seen[kv.first], 1) << kv.first;
    EXPECT_EQ(rows, model.size());
    pwalk_scan_free(scan[0]);
    pwalk_scan_free(scan[1]);
}

// ---- own_outputs: each side hands its files to the other before walking
// (what pwalk-mpi does with MPI_Allgather), so neither lists the other's
// report written inside the tree ------------------------------------------------

struct OwnExchange {
    std::mutex lock;
    std::condition_variable cv;
    std::vector<pwalk_file_id> ids[2];
    bool posted[2] = {false, false};
    int calls[2] = {0, 0};
};

struct OwnSide {
    Side side;  // first: the tick's ctx is the same pointer
    OwnExchange *ex;
};

int ExchangeOwn(void *ctx, pwalk_remote_own *own, char *err, size_t errlen) {
    OwnSide *o = static_cast<OwnSide *>(ctx);
    int me = o->side.me;
    size_t n = 0;
    const pwalk_file_id *ids = pwalk_remote_own_files(own, &n);
    std::unique_lock<std::mutex> g(o->ex->lock);
    o->ex->calls[me]++;
    o->ex->ids[me].assign(ids, ids + n);
    o->ex->posted[me] = true;
    o->ex->cv.notify_all();
    // bounded: a hook that is not called on both sides fails, not hangs
    if (!o->ex->cv.wait_for(g, std::chrono::seconds(60), [&] { return o->ex->posted[1 - me]; })) {
        snprintf(err, errlen, "side %d never posted its files", 1 - me);
        return -1;
    }
    auto &theirs = o->ex->ids[1 - me];
    return pwalk_remote_own_add(own, theirs.data(), theirs.size());
}

TEST_F(RemoteApi, OwnOutputsOfBothScansAreLeftOutOfTheSharedWalk) {
    gate.open = false;
    std::string outdir = root_ + "/out";
    ASSERT_EQ(mkdir(outdir.c_str(), 0755), 0);
    ASSERT_TRUE(harness::WriteFile(outdir + "/keep", "12345"));
    Shared shared;
    OwnExchange ex;
    OwnSide sides[2] = {{{&shared, 0}, &ex}, {{&shared, 1}, &ex}};
    std::string out[2] = {outdir + "/a.csv", outdir + "/b.csv"};
    pwalk_scan *scan[2] = {NewScan(out[0], true), NewScan(out[1], false)};
    ASSERT_TRUE(scan[0] && scan[1]);
    for (int i = 0; i < 2; i++) {
        pwalk_remote hook = {sizeof hook, &sides[i], 1, i == 0, Tick, ExchangeOwn};
        char err[256] = "";
        ASSERT_EQ(pwalk_scan_set_remote(scan[i], &hook, err, sizeof err), 0) << err;
    }
    int status[2] = {-1, -1};
    time_t started = time(nullptr);
    std::thread b([&] { status[1] = pwalk_scan_run(scan[1]); });
    status[0] = pwalk_scan_run(scan[0]);
    b.join();
    ASSERT_EQ(status[0], PWALK_OK) << pwalk_scan_message(scan[0]);
    ASSERT_EQ(status[1], PWALK_OK) << pwalk_scan_message(scan[1]);
    EXPECT_EQ(shared.problem, "");
    EXPECT_EQ(ex.calls[0], 1);
    EXPECT_EQ(ex.calls[1], 1);
    // each side's own set: its report's temporary (identity kept by the rename)
    struct stat st[2];
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(lstat(out[i].c_str(), &st[i]), 0);
        ASSERT_EQ(ex.ids[i].size(), 1u);
        EXPECT_EQ(ex.ids[i][0].dev, (uint64_t)st[i].st_dev);
        EXPECT_EQ(ex.ids[i][0].ino, (uint64_t)st[i].st_ino);
    }
    std::map<std::string, harness::Expect> model;
    harness::Model(root_, std::vector<std::string>{}, &model);
    model.erase(out[0]);
    model.erase(out[1]);
    model[outdir].dirsum -= st[0].st_size + st[1].st_size;  // left out, sizes too
    std::map<std::string, int> seen;
    for (int i = 0; i < 2; i++) {
        harness::Csv csv = harness::ReadCsv(out[i], harness::kColumns);
        ASSERT_TRUE(csv.ok) << out[i] << ": " << csv.problem;
        for (auto &row : csv.rows) {
            std::string path = harness::Unescape(row[harness::kFilename]);
            seen[path]++;
            EXPECT_EQ(path.find(".pwalk-tmp-"), std::string::npos) << out[i] << ": " << path;
            auto it = model.find(path);
            if (it == model.end()) {
                ADD_FAILURE() << out[i] << ": row for " << path << ", not in the tree";
                continue;
            }
            harness::Expect want = it->second;
            if (path == outdir) {
                // the reports were renamed into out/ after its row was read:
                // its row has the times of before that, within the scans
                for (int col : {harness::kMtime, harness::kCtime}) {
                    long long t = std::stoll(row[col]);
                    EXPECT_TRUE(t >= started && t <= want.st.st_ctime) << path << ": " << t;
                }
                want.st.st_mtime = std::stoll(row[harness::kMtime]);
                want.st.st_ctime = std::stoll(row[harness::kCtime]);
            }
            EXPECT_EQ(harness::CheckRow(row, want, path), "") << out[i];
        }
    }
    for (auto &kv : model) EXPECT_EQ(seen[kv.first], 1) << kv.first;
    // whichever side listed out/ left both reports out, counted as filtered
    EXPECT_EQ(pwalk_scan_counter(scan[0], PWALK_COUNT_FILTERED_OWN_OUTPUT) +
                  pwalk_scan_counter(scan[1], PWALK_COUNT_FILTERED_OWN_OUTPUT),
              2u);
    pwalk_scan_free(scan[0]);
    pwalk_scan_free(scan[1]);
}

int RefuseOwn(void *ctx, pwalk_remote_own *, char *err, size_t errlen) {
    ++*static_cast<int *>(ctx);
    snprintf(err, errlen, "no exchange today");
    return -1;
}

void SoloTick(void *, pwalk_remote_walk *walk) {
    if (pwalk_remote_idle(walk)) pwalk_remote_end(walk);
}

TEST_F(RemoteApi, AFailingOwnOutputsHookFailsTheScanBeforeTheWalkAndAnOlderLayoutHasNone) {
    std::string out = dir_ / "x.csv";
    int calls = 0;
    for (bool older : {false, true}) {
        pwalk_scan *s = NewScan(out, false);
        ASSERT_NE(s, nullptr);
        pwalk_remote hook = {sizeof hook, &calls, 1, 1, SoloTick, RefuseOwn};
        if (older) hook.struct_size = offsetof(pwalk_remote, own_outputs);
        char err[256] = "";
        ASSERT_EQ(pwalk_scan_set_remote(s, &hook, err, sizeof err), 0) << err;
        int status = pwalk_scan_run(s);
        if (!older) {
            EXPECT_EQ(status, PWALK_FAILED);
            EXPECT_STREQ(pwalk_scan_message(s), "own outputs: no exchange today");
            EXPECT_EQ(calls, 1);
            EXPECT_EQ(pwalk_scan_counter(s, PWALK_COUNT_ENTRIES), 0u);  // nothing walked
            EXPECT_NE(access(out.c_str(), F_OK), 0);                     // nothing published
            EXPECT_EQ(harness::ListDir(dir_.path()), std::vector<std::string>{"root"});
        } else {
            EXPECT_EQ(status, PWALK_OK) << pwalk_scan_message(s);
            EXPECT_EQ(calls, 1);  // not called: the caller's struct has no such field
            EXPECT_EQ(access(out.c_str(), F_OK), 0);
        }
        pwalk_scan_free(s);
    }
}

TEST_F(RemoteApi, TheHookIsRefusedWithoutATickOrFromAnOlderLayout) {
    pwalk_scan *s = NewScan(dir_ / "x.csv", false);
    ASSERT_NE(s, nullptr);
    char err[256] = "";
    pwalk_remote none = {sizeof none, nullptr, 0, 1, nullptr, nullptr};
    EXPECT_EQ(pwalk_scan_set_remote(s, &none, err, sizeof err), PWALK_USAGE);
    EXPECT_STREQ(err, "pwalk_scan_set_remote: no tick function");
    pwalk_remote small = {sizeof(size_t), nullptr, 0, 1, Tick, nullptr};
    EXPECT_EQ(pwalk_scan_set_remote(s, &small, err, sizeof err), PWALK_USAGE);
    EXPECT_STREQ(err, "pwalk_scan_set_remote: struct_size too small for this library");
    EXPECT_EQ(pwalk_scan_set_remote(s, nullptr, err, sizeof err), 0);  // an ordinary walk
    pwalk_scan_free(s);
}

TEST_F(RemoteApi, SinkProbeSaysWhatADriverNeedsToShardOutputs) {
    std::string yaml = "version: 1\nsinks:\n"
                       "  - {name: r, plugin: csv}\n"
                       "  - {name: fix, plugin: repair-action, options: {dry_run: true}}\n"
                       "  - {name: gone, plugin: no-such-plugin}\n";
    pwalk_scan *s = nullptr;
    char err[2048] = "";
    ASSERT_EQ(pwalk_scan_from_string(&s, yaml.data(), yaml.size(), "p.yaml", err, sizeof err),
              0)
        << err;
    ASSERT_EQ(pwalk_scan_add_plugin_dir(s, (Cwd() + "/plugins").c_str()), 0);
    int mutates = -1, declared = -1;
    char *def = nullptr;
    ASSERT_EQ(pwalk_scan_sink_probe(s, 0, "path", &mutates, &declared, &def, err, sizeof err),
              0)
        << err;
    EXPECT_EQ(mutates, 0);
    EXPECT_EQ(declared, 1);
    ASSERT_NE(def, nullptr);  // the csv sink's default output
    EXPECT_GT(strlen(def), 0u);
    pwalk_free(def);
    ASSERT_EQ(pwalk_scan_sink_probe(s, 1, "path", &mutates, &declared, &def, err, sizeof err),
              0)
        << err;
    EXPECT_EQ(mutates, 1);  // repair-action changes the filesystem
    EXPECT_EQ(declared, 0);
    EXPECT_EQ(def, nullptr);
    EXPECT_EQ(pwalk_scan_sink_probe(s, 2, "path", &mutates, &declared, &def, err, sizeof err),
              PWALK_USAGE);
    EXPECT_NE(std::string(err).find("p.yaml: sink 'gone': "), std::string::npos) << err;
    EXPECT_NE(std::string(err).find("no-such-plugin"), std::string::npos) << err;
    EXPECT_EQ(pwalk_scan_sink_probe(s, 3, "path", &mutates, &declared, &def, err, sizeof err),
              PWALK_USAGE);
    EXPECT_STREQ(err, "p.yaml: no sink 3 (3 sinks)");
    pwalk_scan_free(s);
}

TEST_F(RemoteApi, SettingsAreTheScansAsSet) {
    std::string yaml = "version: 1\nscan: {one_file_system: true, max_depth: 4, "
                       "exclude: ['/a/*.tmp'], threads: 3, mode: '0640'}\n"
                       "sinks:\n  - {name: r, plugin: csv}\n";
    pwalk_scan *s = nullptr;
    char err[2048] = "";
    ASSERT_EQ(pwalk_scan_from_string(&s, yaml.data(), yaml.size(), "p.yaml", err, sizeof err),
              0)
        << err;
    ASSERT_EQ(pwalk_scan_add_exclude(s, "/b"), 0);
    pwalk_scan_settings st = {};
    st.struct_size = sizeof st;
    ASSERT_EQ(pwalk_scan_get_settings(s, &st), 0);
    EXPECT_STREQ(st.source, "p.yaml");
    EXPECT_EQ(st.one_file_system, 1);
    EXPECT_EQ(st.max_depth, 4);
    EXPECT_EQ(st.threads, 3);
    EXPECT_EQ(st.mode, 0640);
    ASSERT_EQ(st.exclude_count, 2u);
    EXPECT_STREQ(st.excludes[0], "/a/*.tmp");
    EXPECT_STREQ(st.excludes[1], "/b");
    pwalk_scan_settings small = {};
    small.struct_size = sizeof(size_t);
    EXPECT_EQ(pwalk_scan_get_settings(s, &small), PWALK_USAGE);
    pwalk_scan_free(s);
}

}  // namespace
