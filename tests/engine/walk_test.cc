// The walk in process: every entry becomes one row (checked against lstat
// through an openat chain), directory rows carry pw_fcount/pw_dirsum, big
// directories split into chunks give the same rows, filters and stops work,
// and the fds handed to sinks are the right ones.
#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

extern "C" {
#include "engine/walk.h"
}

#include "tests/harness/files.h"

namespace {

struct Row {
    pwalk_entry e;
    std::string path, name;
    bool parent_fd_ok = false, self_fd_ok = false;
};

struct Capture {
    std::mutex lock;
    std::map<std::string, Row> rows;
    std::vector<std::string> duplicates;
    std::vector<std::pair<std::string, int>> errors;
    size_t stop_after = 0;  // ask to stop after this many batches
    size_t batches = 0;
    std::map<std::string, size_t> worker_of;  // path -> the worker that delivered it
    unsigned slow_worker0_us = 0;              // worker 0 sleeps this long per batch
    std::vector<uint32_t> kinds;               // errors' pwalk_error.kind, in order
    std::vector<std::string> operations;
    std::function<void(const std::string &)> on_row;  // called per row, outside the lock
};

int CaptureRows(void *ctx, size_t worker, const pwalk_entry *entries, size_t count) {
    auto *c = static_cast<Capture *>(ctx);
    if (worker == 0 && c->slow_worker0_us) usleep(c->slow_worker0_us);
    std::vector<Row> got;
    for (size_t i = 0; i < count; i++) {
        const pwalk_entry &e = entries[i];
        Row r;
        r.e = e;
        r.path.assign(e.path, e.path_len);
        r.name = e.name;
        struct stat st;
        // the fds are valid during the call and point at the right objects
        if (e.parent_fd >= 0)
            r.parent_fd_ok = fstatat(e.parent_fd, e.name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                             st.st_ino == e.ino;
        if (e.self_fd >= 0) r.self_fd_ok = fstat(e.self_fd, &st) == 0 && st.st_ino == e.ino;
        got.push_back(r);
    }
    if (c->on_row)
        for (auto &r : got) c->on_row(r.path);
    std::lock_guard<std::mutex> g(c->lock);
    for (auto &r : got) {
        if (!c->rows.emplace(r.path, r).second) c->duplicates.push_back(r.path);
        c->worker_of[r.path] = worker;
    }
    c->batches++;
    return c->stop_after && c->batches >= c->stop_after;
}

void CaptureError(void *ctx, size_t, const pwalk_error *e) {
    auto *c = static_cast<Capture *>(ctx);
    std::lock_guard<std::mutex> g(c->lock);
    c->errors.emplace_back(std::string(e->path, e->path_len), e->error_number);
    c->kinds.push_back(e->kind);
    c->operations.push_back(e->operation);
}

class WalkTest : public ::testing::Test {
  protected:
    void SetUp() override {
        root_ = harness::MakeTempDir("walk", "/tmp", 0700);
    }
    void TearDown() override { harness::RemoveTree(root_); }
    void Mkdir(const std::string &rel) { ASSERT_EQ(mkdir((root_ + "/" + rel).c_str(), 0755), 0); }
    void File(const std::string &rel, off_t size) {
        int fd = open((root_ + "/" + rel).c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
        ASSERT_GE(fd, 0) << rel;
        ASSERT_EQ(ftruncate(fd, size), 0);
        close(fd);
    }

    int Walk(Capture &c, size_t threads, filter_rules rules = {}, size_t chunk = 0,
             int one_fs = 0, std::vector<std::string> roots = {}) {
        if (roots.empty()) roots.push_back(root_);
        std::vector<char *> argv;
        for (auto &r : roots) argv.push_back(const_cast<char *>(r.c_str()));
        walk_options o{};
        o.roots = argv.data();
        o.root_count = argv.size();
        o.threads = threads;
        o.filters = rules;
        o.chunk_names = chunk;
        o.one_file_system = one_fs;
        o.own = own_.data();
        o.own_count = own_.size();
        o.stop = &stop_;
        walk_sink s{&c, CaptureRows, CaptureError};
        char err[256] = "";
        int rc = walk_execute(&o, &s, &stats_, err, sizeof err);
        err_ = err;
        return rc;
    }

    // Expected rows by an independent openat walk: path -> (stat, depth,
    // parent ino); directories' fcount/dirsum.
    struct Expect {
        struct stat st;
        int depth;
        uint64_t parent_ino;
        int64_t fcount = -1, dirsum = 0;
    };
    void Expected(int dfd, const std::string &path, int depth, const struct stat &self,
                  uint64_t parent_ino, std::map<std::string, Expect> &out) {
        Expect me{self, depth, parent_ino};
        int fd = openat(dfd, dfd == AT_FDCWD ? path.c_str() : Base(path).c_str(),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        ASSERT_GE(fd, 0) << path;
        DIR *d = fdopendir(fd);
        me.fcount = 0;
        struct dirent *de;
        std::vector<std::string> names;
        while ((de = readdir(d)) != nullptr) {
            std::string n = de->d_name;
            if (n == "." || n == "..") continue;
            names.push_back(n);
        }
        for (auto &n : names) {
            me.fcount++;
            struct stat st;
            ASSERT_EQ(fstatat(fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW), 0);
            me.dirsum += st.st_size;
            std::string p = path + "/" + n;
            if (S_ISDIR(st.st_mode))
                Expected(fd, p, depth + 1, st, self.st_ino, out);
            else
                out[p] = Expect{st, depth + 1, (uint64_t)self.st_ino};
        }
        closedir(d);
        out[path] = me;
    }
    static std::string Base(const std::string &p) { return p.substr(p.rfind('/') + 1); }

    void CheckAgainstDisk(const Capture &c) {
        std::map<std::string, Expect> want;
        struct stat st;
        ASSERT_EQ(lstat(root_.c_str(), &st), 0);
        Expected(AT_FDCWD, root_, -1, st, 0, want);
        EXPECT_TRUE(c.duplicates.empty());
        ASSERT_EQ(c.rows.size(), want.size());
        for (auto &kv : want) {
            auto it = c.rows.find(kv.first);
            ASSERT_NE(it, c.rows.end()) << "no row for " << kv.first;
            const pwalk_entry &e = it->second.e;
            const Expect &x = kv.second;
            EXPECT_EQ(e.ino, (uint64_t)x.st.st_ino) << kv.first;
            EXPECT_EQ(e.parent_ino, x.parent_ino) << kv.first;
            EXPECT_EQ(e.depth, x.depth) << kv.first;
            EXPECT_EQ(e.mode, (uint32_t)x.st.st_mode) << kv.first;
            EXPECT_EQ(e.uid, (uint32_t)x.st.st_uid);
            EXPECT_EQ(e.gid, (uint32_t)x.st.st_gid);
            EXPECT_EQ(e.size, (int64_t)x.st.st_size) << kv.first;
            EXPECT_EQ(e.dev, (uint64_t)x.st.st_dev);
            EXPECT_EQ(e.blocks, (int64_t)x.st.st_blocks);
            EXPECT_EQ(e.root_dev, e.dev);  // one filesystem here
            EXPECT_EQ(e.nlink, (uint64_t)x.st.st_nlink);
            EXPECT_EQ(e.mtime_sec, (int64_t)x.st.st_mtim.tv_sec);
            EXPECT_EQ(e.ctime_sec, (int64_t)x.st.st_ctim.tv_sec);
            EXPECT_EQ(e.fcount, x.fcount) << kv.first;
            EXPECT_EQ(e.dirsum, x.dirsum) << kv.first;
            EXPECT_EQ(it->second.path.substr(e.name_offset), it->second.name);  // e.path was borrowed
            if (x.depth == -1) {
                EXPECT_EQ(e.flags & PWALK_ENTRY_ROOT, PWALK_ENTRY_ROOT);
                EXPECT_EQ(e.parent_fd, -1);
            } else if (S_ISDIR(x.st.st_mode)) {
                EXPECT_EQ(e.parent_fd, -1) << kv.first;  // see plugin.h
            } else {
                EXPECT_EQ(it->second.name, Base(kv.first));
                EXPECT_TRUE(it->second.parent_fd_ok) << kv.first;
            }
            if (S_ISDIR(x.st.st_mode)) {
                EXPECT_TRUE(it->second.self_fd_ok) << kv.first;
            } else {
                EXPECT_EQ(e.self_fd, -1);
            }
        }
    }

    void MakeMixedTree() {
        Mkdir("a");
        Mkdir("a/b");
        Mkdir("a/b/c");
        Mkdir("empty");
        File("top.txt", 10);
        File("a/x.tar.gz", 12345);
        File("a/b/c/deep", 1 << 20);
        ASSERT_EQ(symlink("nowhere", (root_ + "/dangling").c_str()), 0);
        ASSERT_EQ(symlink("loop", (root_ + "/loop").c_str()), 0);
        ASSERT_EQ(symlink("a", (root_ + "/to_a").c_str()), 0);  // never followed
        ASSERT_EQ(link((root_ + "/top.txt").c_str(), (root_ + "/a/hard").c_str()), 0);
        Mkdir("a/many");
        for (int i = 0; i < 2500; i++) File("a/many/f" + std::to_string(i), i);
    }

    std::string root_, err_;
    walk_stats stats_;
    std::vector<walk_file_id> own_;  // walk_options.own
    int stop_ = 0;                   // walk_options.stop
};

TEST_F(WalkTest, EveryEntryOneRowMatchingLstat) {
    MakeMixedTree();
    for (size_t threads : {1, 2, 4}) {
        for (size_t chunk : {0, 7}) {
            Capture c;
            ASSERT_EQ(Walk(c, threads, {}, chunk), 0) << err_;
            SCOPED_TRACE("threads " + std::to_string(threads) + " chunk " +
                         std::to_string(chunk));
            CheckAgainstDisk(c);
            EXPECT_TRUE(c.errors.empty());
            EXPECT_EQ(stats_.rows, c.rows.size());
            EXPECT_EQ(stats_.entries, stats_.rows + stats_.stat_errors);
            EXPECT_EQ(stats_.dirs, 6u);
        }
    }
}

// One huge directory is not one worker's job: its names are cut into
// chunks any worker can stat.  Worker 0 is slowed in the sink so that the
// other one must be the one to pick chunks up -- if the directory were not
// split, every entry of it would still come from a single worker.
TEST_F(WalkTest, HugeDirectoryIsSplitBetweenWorkers) {
    Mkdir("huge");
    for (int i = 0; i < 6000; i++) File("huge/n" + std::to_string(i), 0);
    Capture c;
    c.slow_worker0_us = 2000;
    ASSERT_EQ(Walk(c, 2, {}, 64), 0) << err_;
    std::set<size_t> workers;
    size_t in_huge = 0;
    std::string prefix = root_ + "/huge/";
    for (auto &kv : c.worker_of)
        if (kv.first.compare(0, prefix.size(), prefix) == 0) {
            workers.insert(kv.second);
            in_huge++;
        }
    EXPECT_EQ(in_huge, 6000u);
    EXPECT_EQ(workers.size(), 2u) << "every entry of the huge directory came from one worker";
    CheckAgainstDisk(c);
}

TEST_F(WalkTest, TrailingSlashesAndFileRoots) {
    File("single", 3);
    Mkdir("d");
    File("d/f", 1);
    Capture c;
    ASSERT_EQ(Walk(c, 2, {}, 0, 0, {root_ + "/d//", root_ + "/single"}), 0);
    ASSERT_EQ(c.rows.size(), 3u);
    const pwalk_entry &d = c.rows.at(root_ + "/d").e;
    EXPECT_EQ(d.depth, -1);
    EXPECT_EQ(d.fcount, 1);
    EXPECT_EQ(d.dirsum, 1);
    const pwalk_entry &f = c.rows.at(root_ + "/single").e;
    EXPECT_EQ(f.depth, -1);
    EXPECT_EQ(f.parent_ino, 0u);
    EXPECT_EQ(f.fcount, -1);
    EXPECT_EQ(f.flags & PWALK_ENTRY_ROOT, PWALK_ENTRY_ROOT);
    EXPECT_EQ(c.rows.at(root_ + "/d/f").e.depth, 0);
}

TEST_F(WalkTest, SnapshotSkippedButCounted) {
    Mkdir(".snapshot");
    File(".snapshot/old", 5);
    File("keep", 1);
    char snap[] = ".snapshot";
    char *names[] = {snap};
    filter_rules r{};
    r.skip_snapshots = 1;
    r.snapshot_names = names;
    r.snapshot_name_count = 1;
    Capture c;
    ASSERT_EQ(Walk(c, 2, r), 0);
    EXPECT_EQ(c.rows.count(root_ + "/.snapshot"), 0u);
    EXPECT_EQ(c.rows.count(root_ + "/.snapshot/old"), 0u);
    EXPECT_EQ(c.rows.at(root_).e.fcount, 2);  // still counted in its parent
    EXPECT_EQ(stats_.filtered[FILTER_SNAPSHOT], 1u);
    EXPECT_EQ(stats_.entries, stats_.rows + stats_.filtered[FILTER_SNAPSHOT]);
}

TEST_F(WalkTest, DepthAndExclude) {
    Mkdir("l1");
    Mkdir("l1/l2");
    File("l1/f", 1);
    File("l1/l2/g", 1);
    File("skip.tmp", 1);
    char pat[] = "*.tmp";
    char *pats[] = {pat};
    filter_rules r{};
    r.max_depth = 1;  // pwalk's --depth 1: l1 is read, l1/l2 is not
    r.excludes = pats;
    r.exclude_count = 1;
    Capture c;
    ASSERT_EQ(Walk(c, 2, r), 0);
    EXPECT_EQ(c.rows.count(root_ + "/l1"), 1u);
    EXPECT_EQ(c.rows.count(root_ + "/l1/f"), 1u);
    EXPECT_EQ(c.rows.count(root_ + "/l1/l2"), 0u);  // a directory at the limit
    EXPECT_EQ(c.rows.count(root_ + "/skip.tmp"), 0u);
    EXPECT_EQ(stats_.filtered[FILTER_DEPTH], 1u);
    EXPECT_EQ(stats_.filtered[FILTER_EXCLUDE], 1u);
}

// A symlink root is followed (find -H): its row is the directory's stat
// under the name given, its entries are walked, nothing below is followed.
TEST_F(WalkTest, SymlinkRootIsFollowedNothingBelowIt) {
    Mkdir("a");
    File("a/x", 7);
    File("f", 3);
    ASSERT_EQ(symlink("..", (root_ + "/a/up").c_str()), 0);
    ASSERT_EQ(symlink("a", (root_ + "/to_a").c_str()), 0);
    ASSERT_EQ(symlink("f", (root_ + "/to_f").c_str()), 0);
    ASSERT_EQ(symlink("nowhere", (root_ + "/dangling").c_str()), 0);
    struct stat a, f, up, dangling;
    ASSERT_EQ(stat((root_ + "/a").c_str(), &a), 0);
    ASSERT_EQ(stat((root_ + "/f").c_str(), &f), 0);
    ASSERT_EQ(lstat((root_ + "/a/up").c_str(), &up), 0);
    ASSERT_EQ(lstat((root_ + "/dangling").c_str(), &dangling), 0);
    Capture c;
    ASSERT_EQ(Walk(c, 2, {}, 0, 0, {root_ + "/to_a", root_ + "/to_f", root_ + "/dangling"}), 0)
        << err_;
    EXPECT_TRUE(c.errors.empty());
    EXPECT_TRUE(c.duplicates.empty());
    ASSERT_EQ(c.rows.size(), 5u);
    const pwalk_entry &r = c.rows.at(root_ + "/to_a").e;
    EXPECT_EQ(r.ino, (uint64_t)a.st_ino);
    EXPECT_EQ(r.mode, (uint32_t)a.st_mode);
    EXPECT_EQ(r.depth, -1);
    EXPECT_EQ(r.fcount, 2);
    EXPECT_EQ(r.dirsum, 7 + up.st_size);
    EXPECT_EQ(c.rows.at(root_ + "/to_a/x").e.parent_ino, (uint64_t)a.st_ino);
    EXPECT_EQ(c.rows.at(root_ + "/to_a/up").e.mode, (uint32_t)up.st_mode);  // the link
    EXPECT_EQ(c.rows.at(root_ + "/to_f").e.ino, (uint64_t)f.st_ino);
    EXPECT_EQ(c.rows.at(root_ + "/to_f").e.size, 3);
    EXPECT_EQ(c.rows.at(root_ + "/dangling").e.mode, (uint32_t)dangling.st_mode);
}

// Running as root, a symlink root owned by another user is not followed
// (with or without a trailing slash): that user could point it at /etc for a
// root scan or repair to walk.  It is one row, the link.
TEST_F(WalkTest, AsRootAnotherUsersSymlinkRootIsNotFollowed) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to own a symlink as another user";
    Mkdir("a");
    File("a/x", 7);
    ASSERT_EQ(symlink("a", (root_ + "/theirs").c_str()), 0);
    ASSERT_EQ(lchown((root_ + "/theirs").c_str(), 65534, 65534), 0);
    ASSERT_EQ(symlink("a", (root_ + "/mine").c_str()), 0);
    struct stat l;
    ASSERT_EQ(lstat((root_ + "/theirs").c_str(), &l), 0);
    Capture c;
    ASSERT_EQ(Walk(c, 2, {}, 0, 0, {root_ + "/theirs"}), 0) << err_;
    ASSERT_EQ(c.rows.size(), 1u);
    EXPECT_EQ(c.rows.at(root_ + "/theirs").e.ino, (uint64_t)l.st_ino);
    EXPECT_TRUE(S_ISLNK(c.rows.at(root_ + "/theirs").e.mode));
    Capture slash;
    ASSERT_EQ(Walk(slash, 2, {}, 0, 0, {root_ + "/theirs/"}), 0) << err_;
    ASSERT_EQ(slash.rows.size(), 1u);
    EXPECT_TRUE(S_ISLNK(slash.rows.at(root_ + "/theirs").e.mode));
    Capture own;  // root's own link is followed
    ASSERT_EQ(Walk(own, 2, {}, 0, 0, {root_ + "/mine"}), 0) << err_;
    EXPECT_EQ(own.rows.size(), 2u);
}

// Roots inside other roots (by dev/inode, so also through a symlink) and
// roots given twice add nothing: the rows are those of the outer root alone.
TEST_F(WalkTest, OverlappingRootsGiveEachEntryOnce) {
    MakeMixedTree();
    for (size_t threads : {1, 3}) {
        Capture c;
        ASSERT_EQ(Walk(c, threads, {}, 0, 0,
                       {root_ + "/a/b", root_, root_ + "/a/", root_ + "/to_a",
                        root_ + "/a/b/c/deep", root_ + "/a/../a/b/c/deep", root_ + "//"}),
                  0)
            << err_;
        EXPECT_TRUE(c.duplicates.empty()) << c.duplicates.size() << " paths twice";
        CheckAgainstDisk(c);
        EXPECT_EQ(stats_.entries, stats_.rows);
    }
    // two hard links are two entries, and disjoint roots are all walked
    Capture c;
    ASSERT_EQ(Walk(c, 2, {}, 0, 0, {root_ + "/top.txt", root_ + "/a/hard", root_ + "/a/b"}), 0);
    EXPECT_EQ(c.rows.size(), 2u + 3u);
}

// pw_dirsum saturates at INT64_MAX (sparse files past 2^63 in one
// directory); it used to wrap negative.  tmpfs allows files of 2^63-1 bytes.
TEST_F(WalkTest, DirsumSaturatesAtInt64Max) {
    char tmpl[] = "/dev/shm/pwalk-dirsum-XXXXXX";
    if (!mkdtemp(tmpl)) GTEST_SKIP() << "no /dev/shm to make 2^63-byte sparse files in";
    std::string dir = tmpl;
    bool big = true;
    for (const char *n : {"/b1", "/b2", "/b3"}) {
        int fd = open((dir + n).c_str(), O_WRONLY | O_CREAT, 0644);
        big = big && fd >= 0 && ftruncate(fd, INT64_MAX) == 0;
        if (fd >= 0) close(fd);
    }
    if (big) {
        for (size_t chunk : {0, 1}) {  // one chunk, and one name per chunk
            Capture c;
            ASSERT_EQ(Walk(c, 2, {}, chunk, 0, {dir}), 0) << err_;
            EXPECT_EQ(c.rows.at(dir).e.dirsum, INT64_MAX) << "chunk " << chunk;
            EXPECT_EQ(c.rows.at(dir).e.fcount, 3);
        }
    }
    harness::RemoveTree(dir);
    if (!big) GTEST_SKIP() << "this filesystem refuses 2^63-byte sparse files";
}

TEST_F(WalkTest, PathsLongerThanPathMax) {
    std::string name(200, 'd');
    int fd = open(root_.c_str(), O_RDONLY | O_DIRECTORY);
    for (int i = 0; i < 30; i++) {  // ~6000 bytes
        ASSERT_EQ(mkdirat(fd, name.c_str(), 0755), 0);
        int next = openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY);
        close(fd);
        fd = next;
    }
    int f = openat(fd, "leaf", O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(f, 0);
    close(f);
    close(fd);
    Capture c;
    ASSERT_EQ(Walk(c, 2), 0) << err_;
    EXPECT_TRUE(c.errors.empty());
    EXPECT_EQ(c.rows.size(), 32u);
    std::string deepest = root_;
    for (int i = 0; i < 30; i++) deepest += "/" + name;
    deepest += "/leaf";
    ASSERT_GT(deepest.size(), 4096u);
    ASSERT_EQ(c.rows.count(deepest), 1u);
    EXPECT_EQ(c.rows.at(deepest).e.depth, 30);
    EXPECT_TRUE(c.rows.at(deepest).parent_fd_ok);
    std::string cmd = "rm -rf '" + root_ + "'/d*";  // rm copes with long paths
    ASSERT_EQ(system(cmd.c_str()), 0);
}

TEST_F(WalkTest, DeepChainHoldsFewFds) {
    // 3000 levels with the soft fd limit at 64: ancestors' fds are closed
    int fd = open(root_.c_str(), O_RDONLY | O_DIRECTORY);
    for (int i = 0; i < 3000; i++) {
        ASSERT_EQ(mkdirat(fd, "d", 0755), 0);
        int next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
        close(fd);
        fd = next;
    }
    close(fd);
    struct rlimit old, low;
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = 64;
    low.rlim_max = 64;  // walk_execute raises soft to hard: pin both
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    Capture c;
    int rc = Walk(c, 2);
    if (geteuid() == 0) setrlimit(RLIMIT_NOFILE, &old);  // root may raise it back
    ASSERT_EQ(rc, 0) << err_;
    EXPECT_TRUE(c.errors.empty()) << c.errors.size() << " errors, first errno "
                                  << (c.errors.empty() ? 0 : c.errors[0].second);
    EXPECT_EQ(c.rows.size(), 3001u);
    std::string cmd = "rm -rf '" + root_ + "'/d";
    ASSERT_EQ(system(cmd.c_str()), 0);
}

TEST_F(WalkTest, SinkStopEndsTheWalk) {
    for (int i = 0; i < 50; i++) Mkdir("d" + std::to_string(i));
    Capture c;
    c.stop_after = 3;
    EXPECT_EQ(Walk(c, 2), 1);
    EXPECT_EQ(err_, "stopped by a sink");
    EXPECT_LT(c.rows.size(), 51u);
}

TEST_F(WalkTest, StopRequestedBeforeStart) {
    for (int i = 0; i < 10; i++) Mkdir("d" + std::to_string(i));
    walk_request_stop(&stop_);
    Capture c;
    EXPECT_EQ(Walk(c, 2), 1);
    EXPECT_EQ(err_, "interrupted");
    EXPECT_TRUE(c.rows.empty());
}

TEST_F(WalkTest, EntryVanishedIsAnErrorNotAStop) {
    // a name the directory lists but that cannot be stat'ed: a dangling
    // entry is hard to make; a root that vanished between check and walk
    // is the same path through the code
    Capture c;
    std::string gone = root_ + "/gone";
    EXPECT_EQ(Walk(c, 1, {}, 0, 0, {gone, root_}), 0);
    ASSERT_EQ(c.errors.size(), 1u);
    EXPECT_EQ(c.errors[0].first, gone);
    EXPECT_EQ(c.errors[0].second, ENOENT);
    EXPECT_EQ(stats_.stat_errors, 1u);
    EXPECT_EQ(c.rows.count(root_), 1u);
}

// A live filesystem: names listed by getdents and gone by the time they are
// lstat'ed.  One worker, one name per chunk: every name of d is listed
// first, then stat'ed one chunk at a time, so the sink (seeing the first
// row of d) can remove the others in between, every time.
TEST_F(WalkTest, NamesGoneBeforeLstatAreVanishedNotErrors) {
    Mkdir("d");
    for (int i = 0; i < 10; i++) File("d/f" + std::to_string(i), 100);
    Capture c;
    std::string d = root_ + "/d";
    bool removed = false;
    c.on_row = [&](const std::string &path) {
        if (removed || path.compare(0, d.size() + 1, d + "/") != 0) return;
        removed = true;
        for (int i = 0; i < 10; i++) unlink((d + "/f" + std::to_string(i)).c_str());
    };
    ASSERT_EQ(Walk(c, 1, {}, 1), 0) << err_;
    ASSERT_TRUE(removed);
    ASSERT_EQ(c.errors.size(), 9u);
    for (size_t i = 0; i < c.errors.size(); i++) {
        EXPECT_EQ(c.errors[i].second, ENOENT) << c.errors[i].first;
        EXPECT_EQ(c.kinds[i], PWALK_ERROR_VANISHED) << c.errors[i].first;
        EXPECT_EQ(c.operations[i], "lstat");
        EXPECT_EQ(c.rows.count(c.errors[i].first), 0u) << "a row and a record";
    }
    EXPECT_EQ(stats_.vanished, 9u);
    EXPECT_EQ(stats_.errors, 0u);  // vanished is not an error
    EXPECT_EQ(stats_.stat_errors, 9u);
    EXPECT_EQ(stats_.entries, stats_.rows + stats_.stat_errors);
    EXPECT_EQ(c.rows.at(d).e.fcount, 10);  // every listed name counts
}

// A directory lstat'ed in its parent and gone, or replaced, before it is
// opened (one worker: the parent's rows reach the sink before any child is
// opened).  Gone: vanished (ENOENT); another directory, a file or a symlink
// under that name: replaced -- never ESTALE, and not an error.  Its row
// stays (what lstat saw), with pw_fcount -1.
TEST_F(WalkTest, DirectoryGoneOrReplacedBeforeOpen) {
    struct Case {
        const char *what;
        std::function<void(const std::string &)> change;
        uint32_t kind;
        int error_number;
    };
    const Case cases[] = {
        {"removed", [](const std::string &p) { ASSERT_EQ(rmdir(p.c_str()), 0); },
         PWALK_ERROR_VANISHED, ENOENT},
        {"another directory",
         [](const std::string &p) {
             ASSERT_EQ(rename(p.c_str(), (p + ".old").c_str()), 0);
             ASSERT_EQ(mkdir(p.c_str(), 0755), 0);
         },
         PWALK_ERROR_REPLACED, 0},
        {"a file",
         [](const std::string &p) {
             ASSERT_EQ(rmdir(p.c_str()), 0);
             ASSERT_EQ(close(open(p.c_str(), O_CREAT | O_WRONLY, 0644)), 0);
         },
         PWALK_ERROR_REPLACED, ENOTDIR},
        {"a symlink",
         [](const std::string &p) {
             ASSERT_EQ(rmdir(p.c_str()), 0);
             ASSERT_EQ(symlink(".", p.c_str()), 0);
         },
         PWALK_ERROR_REPLACED, ENOTDIR},  // O_DIRECTORY|O_NOFOLLOW: ENOTDIR or ELOOP
    };
    for (const Case &k : cases) {
        SCOPED_TRACE(k.what);
        std::string top = root_ + "/" + k.what;
        ASSERT_EQ(mkdir(top.c_str(), 0755), 0);
        ASSERT_EQ(mkdir((top + "/sub").c_str(), 0755), 0);
        ASSERT_EQ(close(open((top + "/trigger").c_str(), O_CREAT | O_WRONLY, 0644)), 0);
        Capture c;
        bool changed = false;
        c.on_row = [&](const std::string &path) {
            if (!changed && path == top + "/trigger") {
                changed = true;
                k.change(top + "/sub");
            }
        };
        ASSERT_EQ(Walk(c, 1, {}, 0, 0, {top}), 0) << err_;
        ASSERT_TRUE(changed);
        ASSERT_EQ(c.errors.size(), 1u);
        EXPECT_EQ(c.errors[0].first, top + "/sub");
        if (!(k.error_number == ENOTDIR && c.errors[0].second == ELOOP))
            EXPECT_EQ(c.errors[0].second, k.error_number);
        EXPECT_EQ(c.kinds[0], k.kind);
        EXPECT_EQ(c.operations[0], "opendir");
        EXPECT_EQ(stats_.vanished, 1u);
        EXPECT_EQ(stats_.errors, 0u);
        ASSERT_EQ(c.rows.count(top + "/sub"), 1u);
        EXPECT_EQ(c.rows.at(top + "/sub").e.fcount, -1);
        EXPECT_EQ(c.rows.at(top + "/sub").e.flags & PWALK_ENTRY_UNREADABLE,
                  PWALK_ENTRY_UNREADABLE);
    }
}

// Files the scan writes itself (walk_options.own, by dev/ino): no row,
// counted as filtered (own-output), their name in pw_fcount, their size
// (still growing while the scan runs) not in pw_dirsum.  A directory with
// the same number on another device is not confused with them.
TEST_F(WalkTest, OwnOutputsAreLeftOutAndCounted) {
    Mkdir("out");
    File("out/.scan.csv.pwalk-tmp-abc", 5000);
    File("out/kept", 7);
    File("errors.tmp", 300);
    struct stat a, b;
    ASSERT_EQ(stat((root_ + "/out/.scan.csv.pwalk-tmp-abc").c_str(), &a), 0);
    ASSERT_EQ(stat((root_ + "/errors.tmp").c_str(), &b), 0);
    own_ = {{(uint64_t)a.st_dev, (uint64_t)a.st_ino}, {(uint64_t)b.st_dev, (uint64_t)b.st_ino}};
    for (size_t threads : {1, 3}) {
        Capture c;
        ASSERT_EQ(Walk(c, threads), 0) << err_;
        EXPECT_EQ(c.rows.count(root_ + "/out/.scan.csv.pwalk-tmp-abc"), 0u);
        EXPECT_EQ(c.rows.count(root_ + "/errors.tmp"), 0u);
        EXPECT_EQ(c.rows.count(root_ + "/out/kept"), 1u);
        EXPECT_EQ(stats_.filtered[FILTER_OWN_OUTPUT], 2u);
        EXPECT_EQ(stats_.entries, stats_.rows + stats_.filtered[FILTER_OWN_OUTPUT]);
        EXPECT_EQ(c.rows.at(root_ + "/out").e.fcount, 2);
        EXPECT_EQ(c.rows.at(root_ + "/out").e.dirsum, 7);
        EXPECT_EQ(c.rows.at(root_).e.fcount, 2);
        EXPECT_EQ(c.rows.at(root_).e.dirsum, c.rows.at(root_ + "/out").e.size);
    }
    EXPECT_STREQ(filter_reason_name(FILTER_OWN_OUTPUT), "own-output");
}

// pwalk-mpi puts every rank's outputs into the set (hundreds of ids): the
// walk looks them up in a sorted copy, whatever order they came in, and ids
// that share an inode on another device or a device with another inode do
// not match.
TEST_F(WalkTest, ManyOwnOutputsInAnyOrder) {
    File("mine", 10);
    File("near", 20);
    struct stat m, n;
    ASSERT_EQ(stat((root_ + "/mine").c_str(), &m), 0);
    ASSERT_EQ(stat((root_ + "/near").c_str(), &n), 0);
    own_.clear();
    for (uint64_t i = 0; i < 500; i++) {
        own_.push_back({(uint64_t)n.st_dev + 1 + i, (uint64_t)n.st_ino});     // near, other devs
        own_.push_back({(uint64_t)m.st_dev, (uint64_t)m.st_ino + 1000003 + i * 7919});
    }
    own_.insert(own_.begin() + 613, {(uint64_t)m.st_dev, (uint64_t)m.st_ino});
    Capture c;
    ASSERT_EQ(Walk(c, 2), 0) << err_;
    EXPECT_EQ(c.rows.count(root_ + "/mine"), 0u);
    EXPECT_EQ(c.rows.count(root_ + "/near"), 1u);
    EXPECT_EQ(stats_.filtered[FILTER_OWN_OUTPUT], 1u);
}

TEST(WalkRoots, CheckNamesTheMissingRoot) {
    char ok[] = "/", bad[] = "/nonexistent/pwalk-root";
    char *roots[] = {ok, bad};
    char err[256];
    EXPECT_EQ(walk_check_roots(roots, 2, err, sizeof err), -1);
    EXPECT_STREQ(err, "/nonexistent/pwalk-root: No such file or directory");
    EXPECT_EQ(walk_check_roots(roots, 1, err, sizeof err), 0);
}

TEST(WalkRoots, DisplayLength) {
    EXPECT_EQ(walk_root_display_len("/"), 1u);
    EXPECT_EQ(walk_root_display_len("///"), 1u);
    EXPECT_EQ(walk_root_display_len("a/"), 1u);
    EXPECT_EQ(walk_root_display_len("a/b//"), 3u);
    EXPECT_EQ(walk_root_display_len("."), 1u);
}

}  // namespace
