// Cuts of a walk (walk.h "Cuts", the checkpoints of issue 19) without
// sinks or journal files: at a cut every directory is done (all its rows
// delivered) or pending (nothing of it delivered).  So the rows delivered
// before a cut plus the rows of a second walk that starts from the cut's
// pending directories are exactly the rows of one whole walk: none twice,
// none missing -- for periodic cuts at many moments and for a suspension.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "engine/remote.h"
}

#include "tests/harness/files.h"

namespace {

struct Capture {
    std::mutex lock;
    std::map<std::string, pwalk_entry> rows;
    std::vector<std::string> duplicates;
    int slow_us = 0;  // per batch: spreads the walk over many cuts
};

int CaptureRows(void *ctx, size_t, const pwalk_entry *entries, size_t count) {
    auto *c = static_cast<Capture *>(ctx);
    if (c->slow_us) std::this_thread::sleep_for(std::chrono::microseconds(c->slow_us));
    std::lock_guard<std::mutex> g(c->lock);
    for (size_t i = 0; i < count; i++) {
        pwalk_entry e = entries[i];
        std::string path(e.path, e.path_len);
        e.path = e.name = nullptr;
        e.parent_fd = e.self_fd = -1;
        if (!c->rows.emplace(path, e).second) c->duplicates.push_back(path);
    }
    return 0;
}

void IgnoreError(void *, size_t, const pwalk_error *) {}

// What one cut saw: the rows delivered so far, the pending records, the
// walk's counters.
struct Cut {
    std::set<std::string> rows;
    std::string pending;
    size_t pending_count = 0;
    walk_stats stats{};
};

struct Cutter {
    Capture *capture;
    int keep_at = -1;      // which cut to keep (-1: none)
    int suspend_at = -1;   // the cut that suspends (sets the flag)
    int cuts = 0;
    int suspended_cuts = 0;
    int suspend_flag = 0;
    Cut kept;
};

int AddRecord(void *ctx, const walk_dir *d) {
    auto *cut = static_cast<Cut *>(ctx);
    char *buf = nullptr;
    size_t len = 0;
    if (remote_encode(d, &buf, &len) != 0) return -1;
    cut->pending.append(buf, len);
    cut->pending_count++;
    free(buf);
    return 0;
}

int OnCut(void *ctx, walk_run *run, int suspend, char *, size_t) {
    auto *k = static_cast<Cutter *>(ctx);
    if (suspend) k->suspended_cuts++;
    if (k->cuts == k->keep_at || suspend) {
        Cut c;
        {
            std::lock_guard<std::mutex> g(k->capture->lock);
            for (auto &r : k->capture->rows) c.rows.insert(r.first);
        }
        if (walk_cut_dirs(run, AddRecord, &c) != 0) return -1;
        walk_cut_stats(run, &c.stats);
        k->kept = std::move(c);
    }
    if (++k->cuts == k->suspend_at) k->suspend_flag = 1;
    return 0;
}

struct Resumer {
    std::string records;
    long imported = -2;
};

int ResumeFrom(void *ctx, walk_run *run, char *err, size_t errlen) {
    auto *r = static_cast<Resumer *>(ctx);
    r->imported = remote_import(run, r->records.data(), r->records.size(), err, errlen);
    return r->imported < 0 ? -1 : 0;
}

class Cuts : public ::testing::Test {
  protected:
    void SetUp() override {
        base_ = harness::MakeTempDir("cuts", "/tmp", 0700);
        root_ = base_ + "/root";
        ASSERT_EQ(mkdir(root_.c_str(), 0755), 0);
        // 40 x (5 files + 4 subdirectories of 3 files) and one directory of
        // 600 names, read in chunks of 16 that other workers stat
        for (int i = 0; i < 40; i++) {
            std::string d = root_ + "/d" + std::to_string(i);
            ASSERT_EQ(mkdir(d.c_str(), 0755), 0);
            for (int f = 0; f < 5; f++) File(d + "/f" + std::to_string(f));
            for (int s = 0; s < 4; s++) {
                std::string sd = d + "/s" + std::to_string(s);
                ASSERT_EQ(mkdir(sd.c_str(), 0755), 0);
                for (int f = 0; f < 3; f++) File(sd + "/g" + std::to_string(f));
            }
        }
        std::string big = root_ + "/big";
        ASSERT_EQ(mkdir(big.c_str(), 0755), 0);
        for (int f = 0; f < 600; f++) File(big + "/n" + std::to_string(f));
    }
    void TearDown() override { harness::RemoveTree(base_); }
    static void File(const std::string &path) {
        int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
        ASSERT_GE(fd, 0) << path;
        close(fd);
    }

    int Walk(Capture &c, walk_stats &stats, Cutter *cutter, Resumer *resumer) {
        char *roots[] = {const_cast<char *>(root_.c_str())};
        walk_options o{};
        o.roots = roots;
        o.root_count = 1;
        o.threads = 3;
        o.chunk_names = 16;
        if (cutter) {
            o.checkpoint = OnCut;
            o.checkpoint_ctx = cutter;
            o.checkpoint_every_ms = 1;
            o.suspend = &cutter->suspend_flag;
        }
        if (resumer) {
            o.resume = ResumeFrom;
            o.resume_ctx = resumer;
        }
        walk_sink s{&c, CaptureRows, IgnoreError};
        char err[256] = "";
        int rc = walk_execute(&o, &s, &stats, err, sizeof err);
        err_ = err;
        return rc;
    }

    // Rows before the cut + rows of a walk from its pending directories.
    void ExpectWholeAfterResume(const Cut &cut, const Capture &whole, const walk_stats &ws) {
        Capture rest;
        walk_stats rs;
        Resumer r{cut.pending};
        ASSERT_EQ(Walk(rest, rs, nullptr, &r), 0) << err_;
        EXPECT_EQ(r.imported, (long)cut.pending_count);
        EXPECT_TRUE(rest.duplicates.empty());
        for (auto &p : rest.rows)
            EXPECT_EQ(cut.rows.count(p.first), 0u) << "delivered twice: " << p.first;
        EXPECT_EQ(cut.rows.size() + rest.rows.size(), whole.rows.size());
        for (auto &p : whole.rows)
            EXPECT_TRUE(cut.rows.count(p.first) || rest.rows.count(p.first))
                << "lost: " << p.first;
        // rows resumed directories give are the ones the whole walk gave
        for (auto &p : rest.rows) {
            auto w = whole.rows.find(p.first);
            ASSERT_NE(w, whole.rows.end());
            EXPECT_EQ(p.second.ino, w->second.ino) << p.first;
            EXPECT_EQ(p.second.depth, w->second.depth) << p.first;
            EXPECT_EQ(p.second.fcount, w->second.fcount) << p.first;
            EXPECT_EQ(p.second.dirsum, w->second.dirsum) << p.first;
            EXPECT_EQ(p.second.parent_ino, w->second.parent_ino) << p.first;
        }
        EXPECT_EQ(cut.stats.entries + rs.entries, ws.entries);
        EXPECT_EQ(cut.stats.rows + rs.rows, ws.rows);
        EXPECT_EQ(cut.stats.dirs + rs.dirs, ws.dirs);
    }

    std::string base_, root_, err_;
};

TEST_F(Cuts, RowsBeforeACutPlusAResumeFromItAreTheWholeWalk) {
    Capture whole;
    walk_stats ws;
    ASSERT_EQ(Walk(whole, ws, nullptr, nullptr), 0) << err_;
    ASSERT_TRUE(whole.duplicates.empty());
    ASSERT_EQ(whole.rows.size(), 1u + 40u * (1 + 5 + 4 * 4) + 601u);

    std::mt19937 rng(19);
    int kept_mid_walk = 0;
    for (int round = 0; round < 8; round++) {
        Capture c;
        c.slow_us = 300;
        Cutter k{&c};
        k.keep_at = (int)(rng() % 12);
        walk_stats s;
        ASSERT_EQ(Walk(c, s, &k, nullptr), 0) << err_;
        // periodic cuts do not disturb the walk
        EXPECT_TRUE(c.duplicates.empty());
        EXPECT_EQ(c.rows.size(), whole.rows.size());
        EXPECT_EQ(s.entries, ws.entries);
        if (k.cuts <= k.keep_at) continue;  // the walk ended first
        kept_mid_walk += k.kept.pending_count > 0;
        SCOPED_TRACE("cut " + std::to_string(k.keep_at) + " of " + std::to_string(k.cuts));
        ExpectWholeAfterResume(k.kept, whole, ws);
    }
    EXPECT_GT(kept_mid_walk, 0) << "no cut fell inside the walk";
}

TEST_F(Cuts, SuspensionEndsTheWalkAtACutThatResumes) {
    Capture whole;
    walk_stats ws;
    ASSERT_EQ(Walk(whole, ws, nullptr, nullptr), 0) << err_;
    int suspended = 0;
    for (int at : {1, 3, 6}) {
        Capture c;
        c.slow_us = 300;
        Cutter k{&c};
        k.suspend_at = at;
        walk_stats s;
        int rc = Walk(c, s, &k, nullptr);
        if (rc == 0) continue;  // completed before the suspension
        ASSERT_EQ(rc, 2) << err_;
        suspended++;
        EXPECT_EQ(err_, "suspended");
        EXPECT_EQ(k.suspended_cuts, 1);
        // nothing after the suspending cut was delivered
        EXPECT_EQ(c.rows.size(), k.kept.rows.size());
        EXPECT_GT(k.kept.pending_count, 0u);
        SCOPED_TRACE("suspended at cut " + std::to_string(at));
        ExpectWholeAfterResume(k.kept, whole, ws);
    }
    EXPECT_GT(suspended, 0) << "every walk ended before its suspension";
}

// A resumed walk checks its records like an import: a directory replaced
// since the cut is an error record, not a read of whatever is there now.
TEST_F(Cuts, ResumeRefusesRecordsOutsideTheRoots) {
    Capture c;
    walk_stats s;
    remote_record r;
    memset(&r, 0, sizeof r);
    std::string path = "/etc";
    r.size = (uint32_t)remote_record_size(path.size());
    r.path_len = (uint32_t)path.size();
    r.st.st_mode = S_IFDIR | 0755;
    std::string rec(reinterpret_cast<const char *>(&r), sizeof r);
    rec += path;
    rec.resize(r.size, '\0');
    Resumer bad{rec};
    EXPECT_EQ(Walk(c, s, nullptr, &bad), -1);
    EXPECT_EQ(err_, "directory record at byte 0 is not a directory below root 0");
    EXPECT_TRUE(c.rows.empty());
}

}  // namespace

namespace {

// A journal kept inside the scanned tree is left out by name in its own
// directory: the journal, its temporaries, pwalk-mpi's per-rank journals.
TEST(JournalNames, TheJournalsFilesAndNothingElse) {
    for (const char *own : {"scan.ckpt", ".scan.ckpt.pwalk-tmp-Ab12Cd", "scan.ckpt.g0.rank-3",
                            "scan.ckpt.g1.rank-12", ".scan.ckpt.g1.rank-0.pwalk-tmp-xyz"})
        EXPECT_TRUE(walk_own_name("scan.ckpt", own)) << own;
    for (const char *other : {"scan.ckpt.old", "scan.ckp", "xscan.ckpt", ".scan.ckpt",
                              "scan.ckpt.g0", ".scan.ckpt.swp", "scan.ckptg0.rank-1"})
        EXPECT_FALSE(walk_own_name("scan.ckpt", other)) << other;
}

}  // namespace
