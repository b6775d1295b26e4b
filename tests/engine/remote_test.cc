// Directories handed between walks (engine/remote.h, pwalk-mpi's records),
// in process and without MPI: what one walk exports and another imports
// gives exactly the rows one walk alone gives; a record is checked before
// anything in it is used; the importing walk re-opens a directory from its
// root and reads it only if root and directory are the ones the sender saw.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

extern "C" {
#include "engine/remote.h"
}

#include "tests/harness/files.h"

namespace {

// Records from another rank: only whole records of directories strictly
// below a known root pass, so re-opening one from its root component by
// component can only go down.
std::string Record(uint32_t root_index, const std::string &path, mode_t mode = S_IFDIR | 0755) {
    remote_record r;
    memset(&r, 0, sizeof r);
    r.size = (uint32_t)remote_record_size(path.size());
    r.root_index = root_index;
    r.path_len = (uint32_t)path.size();
    r.st.st_mode = mode;
    std::string out(reinterpret_cast<const char *>(&r), sizeof r);
    out += path;
    out.resize(r.size, '\0');
    return out;
}

long Check(const std::string &buf, std::string *err = nullptr) {
    char data[] = "/data", slash[] = "/", rel[] = "rel/dir//";
    char *roots[] = {data, slash, rel};
    char msg[256] = "";
    long n = remote_check(roots, 3, buf.data(), buf.size(), msg, sizeof msg);
    if (err)
        *err = msg;
    return n;
}

TEST(RemoteCheck, RecordsBelowTheirRootPass) {
    EXPECT_EQ(Check(""), 0);
    EXPECT_EQ(Check(Record(0, "/data/a") + Record(1, "/etc") + Record(2, "rel/dir/x/y") +
                    Record(0, "/data/..a/.b/a..")),
              4);
}

TEST(RemoteCheck, PathsThatLeaveOrMissTheRootAreRefused) {
    const std::vector<std::pair<uint32_t, std::string>> refused = {
        {0, "/data"},       {0, "/data/"},   {0, "/database"}, {0, "/data/.."},
        {0, "/data/a/../../etc"}, {0, "/data/./a"}, {0, "/data//a"}, {0, "/data/a/"},
        {0, "/dat"},        {1, "/"},        {1, "//etc"},     {1, "/.."},
        {2, "rel/dir//x"},  {2, "rel/dirx"}, {2, "rel/dir"},
    };
    const size_t first = Record(0, "/data/ok").size();
    for (const auto &[root, path] : refused) {
        std::string err;
        EXPECT_EQ(Check(Record(0, "/data/ok") + Record(root, path), &err), -1) << path;
        EXPECT_EQ(err, "directory record at byte " + std::to_string(first) +
                           " is not a directory below root " + std::to_string(root))
            << path;
    }
    std::string with_nul("/data/a\0b", 9);
    EXPECT_EQ(Check(Record(0, with_nul)), -1);
}

TEST(RemoteCheck, MalformedRecordsAreRefusedWithTheirOffset) {
    std::string err;
    std::string good = Record(0, "/data/a");
    EXPECT_EQ(Check(good + good.substr(0, 10), &err), -1);
    EXPECT_EQ(err, "truncated directory record at byte " + std::to_string(good.size()));
    EXPECT_EQ(Check(good.substr(0, good.size() - 8), &err), -1);  // shorter than its size
    EXPECT_EQ(err, "malformed directory record at byte 0");
    std::string bad = good;
    bad[0] ^= 8;  // size no longer matches path_len
    EXPECT_EQ(Check(bad, &err), -1);
    EXPECT_EQ(err, "malformed directory record at byte 0");
    EXPECT_EQ(Check(Record(3, "/data/a"), &err), -1);
    EXPECT_EQ(err, "directory record at byte 0 names root 3 of 3");
    EXPECT_EQ(Check(Record(0, "/data/f", S_IFREG | 0644), &err), -1);
    EXPECT_EQ(err, "directory record at byte 0 is not a directory below root 0");
    EXPECT_EQ(Check(Record(0, "", S_IFDIR), &err), -1);
    EXPECT_EQ(err, "malformed directory record at byte 0");
}

// ---- two walks in one process, handing directories over -------------------

struct Capture {
    std::mutex lock;
    std::map<std::string, pwalk_entry> rows;  // path -> row (pointers and fds cleared)
    std::vector<std::string> duplicates;
    std::vector<std::tuple<std::string, std::string, uint32_t>> errors;  // path, op, kind
    // An exporting walk's workers wait before their first rows until its
    // tick has taken the queued directories: with one worker, every
    // subdirectory of the root is still queued then (no timing involved).
    std::mutex gate_lock;
    std::condition_variable gate;
    bool hold = false;
};

int CaptureRows(void *ctx, size_t, const pwalk_entry *entries, size_t count) {
    auto *c = static_cast<Capture *>(ctx);
    {
        std::unique_lock<std::mutex> g(c->gate_lock);
        // bounded: a broken export shows as a failed expectation, not a hang
        c->gate.wait_for(g, std::chrono::seconds(60), [c] { return !c->hold; });
    }
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

void CaptureError(void *ctx, size_t, const pwalk_error *e) {
    auto *c = static_cast<Capture *>(ctx);
    std::lock_guard<std::mutex> g(c->lock);
    c->errors.emplace_back(std::string(e->path, e->path_len), e->operation, e->kind);
}

// The exporting walk's tick: once `want` directories are queued, take them
// all as one message (what a rank sends on GIVE); end when out of work.
struct Exporter {
    Capture *capture;
    size_t want;
    long exported = -2;
    std::string message;
};

void ExportTick(void *ctx, walk_run *run) {
    auto *x = static_cast<Exporter *>(ctx);
    if (x->exported == -2 && walk_remote_queued(run) >= x->want) {
        char *buf = nullptr;
        size_t len = 0;
        x->exported = remote_export(run, x->want + 10, &buf, &len);
        x->message.assign(buf ? buf : "", len);
        free(buf);
        std::lock_guard<std::mutex> g(x->capture->gate_lock);
        x->capture->hold = false;
        x->capture->gate.notify_all();
    }
    if (walk_remote_idle(run)) walk_remote_end(run);
}

// The importing walk's tick: queue the message once (what a rank does on
// WORK); end when out of work.
struct Importer {
    std::string message;
    long imported = -2;
    std::string err;
};

void ImportTick(void *ctx, walk_run *run) {
    auto *m = static_cast<Importer *>(ctx);
    if (m->imported == -2) {
        char err[256] = "";
        m->imported = remote_import(run, m->message.data(), m->message.size(), err, sizeof err);
        m->err = err;
    }
    if (walk_remote_idle(run)) walk_remote_end(run);
}

class RemoteWalk : public ::testing::Test {
  protected:
    static constexpr int kDirs = 8;

    void SetUp() override {
        base_ = harness::MakeTempDir("remote", "/tmp", 0700);
        root_ = base_ + "/root";
        MakeTree(root_);
    }
    void TearDown() override { harness::RemoveTree(base_); }
    static void File(const std::string &path, off_t size) {
        int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
        ASSERT_GE(fd, 0) << path;
        ASSERT_EQ(ftruncate(fd, size), 0);
        close(fd);
    }
    // root/top, root/dN/{f, sub/g}: kDirs directories below the root, each
    // with a subtree of its own
    static void MakeTree(const std::string &root) {
        ASSERT_EQ(mkdir(root.c_str(), 0755), 0);
        File(root + "/top", 3);
        for (int i = 0; i < kDirs; i++) {
            std::string d = root + "/d" + std::to_string(i);
            ASSERT_EQ(mkdir(d.c_str(), 0755), 0);
            File(d + "/f", 100 + i);
            ASSERT_EQ(mkdir((d + "/sub").c_str(), 0755), 0);
            File(d + "/sub/g", 7 * i);
        }
    }

    // One walk over root_ with one worker; tick NULL: an ordinary walk.
    int Walk(Capture &c, walk_stats &stats, void (*tick)(void *, walk_run *) = nullptr,
             void *tick_ctx = nullptr, int seed = 1, std::vector<std::string> paths = {}) {
        if (paths.empty()) paths.push_back(root_);
        std::vector<char *> roots;
        for (auto &p : paths) roots.push_back(const_cast<char *>(p.c_str()));
        walk_options o{};
        o.roots = roots.data();
        o.root_count = roots.size();
        o.threads = 1;
        walk_remote remote{tick_ctx, 1, seed, tick};
        if (tick) o.remote = &remote;
        walk_sink s{&c, CaptureRows, CaptureError};
        char err[256] = "";
        int rc = walk_execute(&o, &s, &stats, err, sizeof err);
        err_ = err;
        return rc;
    }

    // Walk A (seeded) hands every subdirectory of the root to the message.
    void ExportAll(Capture &a, Exporter &x, walk_stats &stats) {
        a.hold = true;
        x.capture = &a;
        x.want = kDirs;
        ASSERT_EQ(Walk(a, stats, ExportTick, &x), 0) << err_;
        ASSERT_EQ(x.exported, kDirs);
    }

    std::string base_, root_, err_;
};

TEST_F(RemoteWalk, HandedOverDirectoriesGiveTheSameRows) {
    Capture alone;
    walk_stats alone_stats;
    ASSERT_EQ(Walk(alone, alone_stats), 0) << err_;
    ASSERT_EQ(alone.rows.size(), 2u + 4u * kDirs);

    Capture a, b;
    Exporter x;
    walk_stats sa, sb;
    ExportAll(a, x, sa);
    Importer m{x.message};
    ASSERT_EQ(Walk(b, sb, ImportTick, &m, /*seed=*/0), 0) << err_;
    EXPECT_EQ(m.imported, kDirs) << m.err;

    // A kept the root and its file; every handed-over subtree came from B
    EXPECT_EQ(a.rows.size(), 2u);
    EXPECT_EQ(a.rows.count(root_), 1u);
    EXPECT_EQ(a.rows.count(root_ + "/top"), 1u);
    EXPECT_EQ(b.rows.size(), 4u * kDirs);
    EXPECT_TRUE(a.duplicates.empty() && b.duplicates.empty());
    EXPECT_TRUE(a.errors.empty() && b.errors.empty());
    EXPECT_EQ(sa.entries + sb.entries, alone_stats.entries);
    EXPECT_EQ(sa.rows + sb.rows, alone_stats.rows);
    EXPECT_EQ(sa.dirs + sb.dirs, alone_stats.dirs);

    // ... and each row is the row the walk alone gives, field by field
    std::map<std::string, pwalk_entry> both = a.rows;
    both.insert(b.rows.begin(), b.rows.end());
    ASSERT_EQ(both.size(), alone.rows.size());
    for (const auto &[path, want] : alone.rows) {
        auto it = both.find(path);
        ASSERT_NE(it, both.end()) << "no row for " << path;
        const pwalk_entry &got = it->second;
        EXPECT_EQ(got.ino, want.ino) << path;
        EXPECT_EQ(got.dev, want.dev) << path;
        EXPECT_EQ(got.mode, want.mode) << path;
        EXPECT_EQ(got.size, want.size) << path;
        EXPECT_EQ(got.nlink, want.nlink) << path;
        EXPECT_EQ(got.depth, want.depth) << path;
        EXPECT_EQ(got.parent_ino, want.parent_ino) << path;
        EXPECT_EQ(got.root_dev, want.root_dev) << path;
        EXPECT_EQ(got.name_offset, want.name_offset) << path;
        EXPECT_EQ(got.flags, want.flags) << path;
        EXPECT_EQ(got.fcount, want.fcount) << path;
        EXPECT_EQ(got.dirsum, want.dirsum) << path;
        EXPECT_EQ(got.mtime_sec, want.mtime_sec) << path;
    }
}

// Between export and import the tree changes: a directory replaced by
// another one, one by a symlink to "/", and then the root itself.  The
// importing walk reads none of them (a replaced error record each, as in a
// local walk: the directory's row says it could not be read), and never
// follows the symlink.
TEST_F(RemoteWalk, ReplacedDirectoriesAndRootAreNotReadFromRecords) {
    Capture a, b;
    Exporter x;
    walk_stats sa, sb;
    ExportAll(a, x, sa);

    std::string d3 = root_ + "/d3", d5 = root_ + "/d5";
    ASSERT_EQ(mkdir((d3 + ".new").c_str(), 0755), 0);  // made while d3 exists: another inode
    File(d3 + ".new/intruder", 1);
    ASSERT_EQ(system(("rm -rf '" + d3 + "' '" + d5 + "'").c_str()), 0);
    ASSERT_EQ(rename((d3 + ".new").c_str(), d3.c_str()), 0);
    ASSERT_EQ(symlink("/", d5.c_str()), 0);

    Importer m{x.message};
    ASSERT_EQ(Walk(b, sb, ImportTick, &m, /*seed=*/0), 0) << err_;
    ASSERT_EQ(m.imported, kDirs) << m.err;
    // d3 and d5 keep the row of a directory that could not be read (as the
    // sender listed them, pw_fcount -1); nothing below them is a row
    EXPECT_EQ(b.rows.size(), 4u * (kDirs - 2) + 2u);
    for (const auto &[path, e] : b.rows) {
        if (path == d3 || path == d5) {
            EXPECT_EQ(e.flags & PWALK_ENTRY_UNREADABLE, PWALK_ENTRY_UNREADABLE) << path;
            EXPECT_EQ(e.fcount, -1) << path;
            continue;
        }
        EXPECT_NE(path.rfind(d3 + "/", 0), 0u) << path;
        EXPECT_NE(path.rfind(d5 + "/", 0), 0u) << path;
    }
    std::vector<std::tuple<std::string, std::string, uint32_t>> want = {
        {d3, "opendir", PWALK_ERROR_REPLACED}, {d5, "opendir", PWALK_ERROR_REPLACED}};
    std::sort(b.errors.begin(), b.errors.end());
    EXPECT_EQ(b.errors, want);

    // the root replaced (the old one renamed away, a new one with the same
    // names made in its place): nothing is read through any record
    ASSERT_EQ(rename(root_.c_str(), (base_ + "/old").c_str()), 0);
    MakeTree(root_);
    Capture c;
    walk_stats sc;
    Importer again{x.message};
    ASSERT_EQ(Walk(c, sc, ImportTick, &again, /*seed=*/0), 0) << err_;
    ASSERT_EQ(again.imported, kDirs) << again.err;
    ASSERT_EQ(c.rows.size(), (size_t)kDirs);  // each an unreadable directory's row
    for (const auto &[path, e] : c.rows) EXPECT_EQ(e.fcount, -1) << path;
    ASSERT_EQ(c.errors.size(), (size_t)kDirs);
    for (const auto &[path, op, kind] : c.errors) {
        EXPECT_EQ(op, "opendir") << path;
        EXPECT_EQ(kind, PWALK_ERROR_REPLACED) << path;
    }
}

// A root still queued when the first request comes stays with the seeding
// walk.  Here the only worker reads the second root first (the newest item)
// and is held at its rows while the first root waits in the queue: handing
// that root over made a record the receiver refuses (a record names a
// directory strictly below its root), and the root's entries were lost --
// pwalk-mpi aborted the job when a loaded machine answered a request before
// a worker had started on the roots.
TEST_F(RemoteWalk, RootsNotYetReadStayWithTheSeedingWalk) {
    std::string other = base_ + "/other";
    MakeTree(other);
    const std::vector<std::string> roots = {root_, other};
    Capture alone;
    walk_stats alone_stats;
    ASSERT_EQ(Walk(alone, alone_stats, nullptr, nullptr, 1, roots), 0) << err_;

    Capture a, b;
    Exporter x;
    walk_stats sa, sb;
    a.hold = true;
    x.capture = &a;
    x.want = kDirs + 1;  // the first root and the second one's subdirectories
    ASSERT_EQ(Walk(a, sa, ExportTick, &x, 1, roots), 0) << err_;
    EXPECT_EQ(x.exported, kDirs);  // the subdirectories only
    char *argv[] = {const_cast<char *>(root_.c_str()), const_cast<char *>(other.c_str())};
    char err[256] = "";
    EXPECT_EQ(remote_check(argv, 2, x.message.data(), x.message.size(), err, sizeof err), kDirs)
        << err;
    Importer m{x.message};
    ASSERT_EQ(Walk(b, sb, ImportTick, &m, /*seed=*/0, roots), 0) << err_;
    EXPECT_EQ(m.imported, kDirs) << m.err;

    EXPECT_EQ(a.rows.count(root_), 1u);
    EXPECT_EQ(a.rows.count(other), 1u);
    EXPECT_TRUE(a.duplicates.empty() && b.duplicates.empty());
    std::map<std::string, pwalk_entry> both = a.rows;
    for (const auto &[path, e] : b.rows) EXPECT_TRUE(both.emplace(path, e).second) << path;
    EXPECT_EQ(both.size(), alone.rows.size());
    for (const auto &[path, e] : alone.rows) EXPECT_EQ(both.count(path), 1u) << path;
}

// A message with one bad record queues none of its records.
TEST_F(RemoteWalk, ARefusedMessageQueuesNothing) {
    Capture a, b;
    Exporter x;
    walk_stats sa, sb;
    ExportAll(a, x, sa);
    const size_t first = remote_record_size(root_.size() + 3);  // root_ + "/dN"
    Importer m{x.message.substr(0, first) + Record(0, root_ + "/../etc")};
    ASSERT_EQ(Walk(b, sb, ImportTick, &m, /*seed=*/0), 0) << err_;
    EXPECT_EQ(m.imported, -1);
    EXPECT_EQ(m.err, "directory record at byte " + std::to_string(first) +
                         " is not a directory below root 0");
    EXPECT_TRUE(b.rows.empty());
    EXPECT_TRUE(b.errors.empty());
    EXPECT_EQ(sb.entries, 0u);
}

}  // namespace
