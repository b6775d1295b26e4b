// Atomic output files: hidden temporary while open, final name only on
// commit, nothing on abort, whole buffers from concurrent writers.
#include <gtest/gtest.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/outfile.h"
#include "tests/harness/files.h"

namespace {

using harness::ListDir;

class OutfileTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = harness::MakeTempDir("outfile", "/tmp", 0700);
    }
    void TearDown() override { harness::RemoveTree(dir_); }
    std::string dir_;
};

TEST_F(OutfileTest, TemporaryThenFinalOnCommit) {
    outfile f;
    char err[256];
    std::string path = dir_ + "/scan.csv";
    ASSERT_EQ(outfile_open(&f, path.c_str(), err, sizeof err), 0) << err;
    auto names = ListDir(dir_);
    ASSERT_EQ(names.size(), 1u);
    EXPECT_EQ(names[0].rfind(".scan.csv.pwalk-tmp-", 0), 0u) << names[0];
    ASSERT_EQ(outfile_write(&f, "a,b\n", 4, err, sizeof err), 0);
    ASSERT_EQ(outfile_write(&f, "c,d\n", 4, err, sizeof err), 0);
    EXPECT_NE(access(path.c_str(), F_OK), 0);
    ASSERT_EQ(outfile_commit(&f, err, sizeof err), 0) << err;
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_EQ(ss.str(), "a,b\nc,d\n");
    EXPECT_EQ(ListDir(dir_), std::vector<std::string>{"scan.csv"});
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    mode_t mask = umask(0);
    umask(mask);
    // as root 0600: a root scan's report names what sits in 0700 directories
    EXPECT_EQ(st.st_mode & 0777, geteuid() == 0 ? 0600u : 0666 & ~mask);
    outfile_abort(&f);  // harmless after commit
    EXPECT_EQ(access(path.c_str(), F_OK), 0);
}

// The two phases of a pipeline's commit: prepare() leaves the file whole
// under its temporary name; abort() after it still publishes nothing, and
// commit() after it is only the rename.
TEST_F(OutfileTest, PrepareKeepsTheTemporaryNameUntilCommitOrAbort) {
    char err[256];
    for (bool commit : {false, true}) {
        SCOPED_TRACE(commit ? "commit" : "abort");
        outfile f;
        std::string path = dir_ + "/two.csv";
        ASSERT_EQ(outfile_open(&f, path.c_str(), err, sizeof err), 0) << err;
        ASSERT_EQ(outfile_write(&f, "x\n", 2, err, sizeof err), 0);
        ASSERT_EQ(outfile_prepare(&f, err, sizeof err), 0) << err;
        ASSERT_EQ(outfile_prepare(&f, err, sizeof err), 0) << "twice is harmless: " << err;
        auto names = ListDir(dir_);
        ASSERT_EQ(names.size(), 1u);
        EXPECT_EQ(names[0].rfind(".two.csv.pwalk-tmp-", 0), 0u) << names[0];
        if (commit) {
            ASSERT_EQ(outfile_commit(&f, err, sizeof err), 0) << err;
            EXPECT_EQ(ListDir(dir_), std::vector<std::string>{"two.csv"});
            unlink(path.c_str());
        } else {
            outfile_abort(&f);
            EXPECT_TRUE(ListDir(dir_).empty());
        }
    }
}

// A failed write makes prepare() fail, naming the file, and removes the
// temporary: the pipeline then finishes every sink unpublished.
TEST_F(OutfileTest, PrepareFailsAfterAFailedWrite) {
    outfile f;
    char err[256];
    std::string path = dir_ + "/bad.csv";
    ASSERT_EQ(outfile_open(&f, path.c_str(), err, sizeof err), 0) << err;
    close(f.fd);  // force EBADF on the next write
    EXPECT_EQ(outfile_write(&f, "x", 1, err, sizeof err), -1);
    f.fd = -1;
    EXPECT_EQ(outfile_prepare(&f, err, sizeof err), -1);
    EXPECT_EQ(std::string(err), "write to '" + path + "' failed: Bad file descriptor");
    EXPECT_TRUE(ListDir(dir_).empty());
    outfile_abort(&f);
}

// Write-back starts every 8 MiB while the file grows (so the commit's
// fdatasync waits for the tail only); the bytes are all there, in order.
TEST_F(OutfileTest, WritebackStartsAsTheFileGrowsAndLosesNothing) {
    outfile f;
    char err[256];
    std::string path = dir_ + "/big.csv";
    ASSERT_EQ(outfile_open(&f, path.c_str(), err, sizeof err), 0) << err;
    std::string chunk(1 << 20, 'x');
    const int chunks = 20;
    for (int i = 0; i < chunks; i++) {
        chunk[0] = (char)('a' + i);  // each MiB marked, so order is checked too
        ASSERT_EQ(outfile_write(&f, chunk.data(), chunk.size(), err, sizeof err), 0) << err;
    }
    EXPECT_EQ(f.written, (unsigned long long)chunks << 20);
    EXPECT_EQ(f.flushed, 16ull << 20);  // started at 8 and 16 MiB; the last 4 MiB at commit
    ASSERT_EQ(outfile_commit(&f, err, sizeof err), 0) << err;
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string got = ss.str();
    ASSERT_EQ(got.size(), (size_t)chunks << 20);
    for (int i = 0; i < chunks; i++) EXPECT_EQ(got[(size_t)i << 20], (char)('a' + i)) << i;
}

TEST_F(OutfileTest, AbortLeavesNothing) {
    outfile f;
    char err[256];
    ASSERT_EQ(outfile_open(&f, (dir_ + "/x.csv").c_str(), err, sizeof err), 0);
    ASSERT_EQ(outfile_write(&f, "x", 1, err, sizeof err), 0);
    outfile_abort(&f);
    outfile_abort(&f);
    EXPECT_TRUE(ListDir(dir_).empty());
}

// outfile_is_tmp_of() knows the temporaries outfile_open makes for a name,
// a long one cut as it is cut, and not another (short) name's.
TEST_F(OutfileTest, TheTemporaryOfANameIsKnownAndNoOtherNames) {
    char err[512];
    for (const std::string &base : {std::string("x.csv"), std::string(250, 'n')}) {
        outfile f;
        ASSERT_EQ(outfile_open(&f, (dir_ + "/" + base).c_str(), err, sizeof err), 0) << err;
        std::string tmp = f.tmp_name;
        EXPECT_TRUE(outfile_is_tmp_of(tmp.c_str(), base.c_str())) << tmp;
        EXPECT_TRUE(outfile_is_part_name(tmp.c_str())) << tmp;
        if (base.size() < 200)  // a cut name cannot tell longer names apart
            EXPECT_FALSE(outfile_is_tmp_of(tmp.c_str(), (base + ".g0.rank-0001").c_str()))
                << tmp;
        EXPECT_FALSE(outfile_is_tmp_of(tmp.substr(1).c_str(), base.c_str()));
        EXPECT_FALSE(outfile_is_tmp_of((tmp + "x").c_str(), base.c_str()));
        std::string odd = tmp;
        odd.back() = '-';
        EXPECT_FALSE(outfile_is_tmp_of(odd.c_str(), base.c_str())) << odd;
        outfile_abort(&f);
    }
    EXPECT_FALSE(outfile_is_tmp_of(".x.csv.pwalk-tmp-AbC123", "y.csv"));
}

TEST_F(OutfileTest, MissingDirectoryNamesThePath) {
    outfile f;
    char err[256];
    std::string path = dir_ + "/no/such/dir/x.csv";
    ASSERT_EQ(outfile_open(&f, path.c_str(), err, sizeof err), -1);
    EXPECT_EQ(std::string(err), "cannot create '" + path + "': No such file or directory");
}

TEST_F(OutfileTest, CommitIntoARemovedDirectoryFails) {
    outfile f;
    char err[256];
    std::string sub = dir_ + "/sub";
    ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
    std::string path = sub + "/x.csv";
    ASSERT_EQ(outfile_open(&f, path.c_str(), err, sizeof err), 0);
    ASSERT_EQ(system(("rm -rf " + sub).c_str()), 0);
    EXPECT_EQ(outfile_commit(&f, err, sizeof err), -1);
    EXPECT_NE(std::string(err).find(path), std::string::npos) << err;
    EXPECT_NE(access(path.c_str(), F_OK), 0);
}

TEST_F(OutfileTest, ConcurrentWritersNeverInterleave) {
    outfile f;
    char err[256];
    std::string path = dir_ + "/c.csv";
    ASSERT_EQ(outfile_open(&f, path.c_str(), err, sizeof err), 0);
    std::vector<std::thread> ts;
    for (int t = 0; t < 8; t++) {
        ts.emplace_back([&f, t] {
            // each buffer: 1000 identical lines of one thread's letter
            std::string line(99, (char)('a' + t));
            line += '\n';
            std::string buf;
            for (int i = 0; i < 1000; i++) buf += line;
            char e[256];
            for (int k = 0; k < 20; k++) outfile_write(&f, buf.data(), buf.size(), e, sizeof e);
        });
    }
    for (auto &t : ts) t.join();
    ASSERT_EQ(outfile_commit(&f, err, sizeof err), 0);
    std::ifstream in(path);
    std::string line;
    size_t lines = 0;
    char prev = 0;
    size_t run = 0;
    while (std::getline(in, line)) {
        ASSERT_EQ(line.size(), 99u);
        ASSERT_EQ(line, std::string(99, line[0]));
        if (line[0] != prev) {
            ASSERT_TRUE(run % 1000 == 0) << "a buffer was split";
            run = 0;
            prev = line[0];
        }
        run++;
        lines++;
    }
    EXPECT_EQ(lines, 8u * 20 * 1000);
}

TEST_F(OutfileTest, WriteErrorIsStickyAndNamesTheFile) {
    outfile f;
    char err[256];
    std::string path = dir_ + "/full.csv";
    ASSERT_EQ(outfile_open(&f, path.c_str(), err, sizeof err), 0);
    close(f.fd);  // force EBADF on the next write
    EXPECT_EQ(outfile_write(&f, "x", 1, err, sizeof err), -1);
    EXPECT_EQ(std::string(err), "write to '" + path + "' failed: Bad file descriptor");
    EXPECT_EQ(outfile_write(&f, "y", 1, err, sizeof err), -1);
    EXPECT_EQ(std::string(err), "write to '" + path + "' failed: Bad file descriptor");
    f.fd = -1;
    EXPECT_EQ(outfile_commit(&f, err, sizeof err), -1);
    EXPECT_EQ(std::string(err), "write to '" + path + "' failed: Bad file descriptor");
    EXPECT_TRUE(ListDir(dir_).empty());
    outfile_abort(&f);
}

TEST_F(OutfileTest, RelativePathKeepsTheTemporaryInTheSameDirectory) {
    char cwd[4096];
    ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
    ASSERT_EQ(chdir(dir_.c_str()), 0);
    outfile f;
    char err[256];
    ASSERT_EQ(outfile_open(&f, "rel.csv", err, sizeof err), 0) << err;
    auto names = ListDir(".");
    ASSERT_EQ(names.size(), 1u);
    EXPECT_EQ(names[0].rfind(".rel.csv.pwalk-tmp-", 0), 0u) << names[0];
    EXPECT_EQ(names[0].size(), std::string(".rel.csv.pwalk-tmp-XXXXXX").size());
    ASSERT_EQ(outfile_commit(&f, err, sizeof err), 0) << err;
    EXPECT_EQ(ListDir("."), std::vector<std::string>{"rel.csv"});
    ASSERT_EQ(chdir(cwd), 0);
}

TEST_F(OutfileTest, ADirectoryIsRefusedAtOpenNotAfterTheScan) {
    outfile f;
    char err[256];
    EXPECT_EQ(outfile_open(&f, dir_.c_str(), err, sizeof err), -1);
    EXPECT_EQ(std::string(err), "cannot create '" + dir_ + "': Is a directory");
    EXPECT_EQ(outfile_open(&f, (dir_ + "/").c_str(), err, sizeof err), -1);
    EXPECT_NE(std::string(err).find("'" + dir_ + "/'"), std::string::npos) << err;
    EXPECT_TRUE(ListDir(dir_).empty());
}

TEST_F(OutfileTest, ALongFinalNameStillGetsATemporary) {
    // 250 bytes is a legal name; ".NAME.pwalk-tmp-XXXXXX" would not be
    outfile f;
    char err[256];
    std::string name(250, 'n');
    std::string path = dir_ + "/" + name;
    ASSERT_EQ(outfile_open(&f, path.c_str(), err, sizeof err), 0) << err;
    auto names = ListDir(dir_);
    ASSERT_EQ(names.size(), 1u);
    EXPECT_EQ(names[0][0], '.');
    EXPECT_NE(names[0].find(".pwalk-tmp-"), std::string::npos);
    ASSERT_EQ(outfile_write(&f, "z\n", 2, err, sizeof err), 0);
    ASSERT_EQ(outfile_commit(&f, err, sizeof err), 0) << err;
    EXPECT_EQ(ListDir(dir_), std::vector<std::string>{name});
}

TEST_F(OutfileTest, ANameLongerThanTheFilesystemTakesIsRefusedAtOpen) {
    // before: the temporary (shortened) was created and only the rename
    // after the whole scan failed
    outfile f;
    char err[512];
    std::string path = dir_ + "/" + std::string(256, 'n');
    ASSERT_EQ(outfile_open(&f, path.c_str(), err, sizeof err), -1);
    EXPECT_EQ(std::string(err), "cannot create '" + path + "': File name too long");
    EXPECT_TRUE(ListDir(dir_).empty());
}

TEST_F(OutfileTest, ExplicitModeIsAppliedAsGivenAndParsed) {
    int mode = -5;
    EXPECT_EQ(outfile_parse_mode("0640", &mode), 0);
    EXPECT_EQ(mode, 0640);
    EXPECT_EQ(outfile_parse_mode("600", &mode), 0);
    EXPECT_EQ(mode, 0600);
    for (const char *bad : {"", "64", "0648", "1777", "00640", "rw-r-----", "0x1a", "-640"})
        EXPECT_EQ(outfile_parse_mode(bad, &mode), -1) << bad;
    outfile f;
    char err[256];
    std::string path = dir_ + "/m.csv";
    mode_t old = umask(077);  // applied as given, umask or not
    int rc = outfile_open_mode(&f, path.c_str(), 0644, err, sizeof err);
    umask(old);
    ASSERT_EQ(rc, 0) << err;
    ASSERT_EQ(outfile_commit(&f, err, sizeof err), 0) << err;
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u);
}

// The attack of issue 13: the output's directory is swapped for a symlink
// to another directory during the scan.  The rename goes through the
// directory fd opened at the start, so nothing lands in the other
// directory; the commit fails and the temporary is removed where it was.
TEST_F(OutfileTest, ADirectorySwappedForASymlinkIsNotPublishedInto) {
    std::string sub = dir_ + "/sub", moved = dir_ + "/sub.old", other = dir_ + "/other";
    ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(other.c_str(), 0755), 0);
    { std::ofstream(other + "/scan.csv") << "victim\n"; }
    outfile f;
    char err[512];
    std::string path = sub + "/scan.csv";
    ASSERT_EQ(outfile_open(&f, path.c_str(), err, sizeof err), 0) << err;
    ASSERT_EQ(outfile_write(&f, "forged?\n", 8, err, sizeof err), 0);
    auto tmp = ListDir(sub);
    ASSERT_EQ(tmp.size(), 1u);
    // the planted file of the temporary's name, in the other directory
    { std::ofstream(other + "/" + tmp[0]) << "forged\n"; }
    ASSERT_EQ(rename(sub.c_str(), moved.c_str()), 0);
    ASSERT_EQ(symlink(other.c_str(), sub.c_str()), 0);
    EXPECT_EQ(outfile_commit(&f, err, sizeof err), -1);
    EXPECT_EQ(std::string(err), "cannot rename into '" + path + "': output directory '" + sub +
                                    "' was replaced during the scan");
    std::ifstream in(other + "/scan.csv");
    std::string victim;
    std::getline(in, victim);
    EXPECT_EQ(victim, "victim");
    EXPECT_TRUE(ListDir(moved).empty()) << "the temporary is removed through the fd";
    EXPECT_EQ(ListDir(other).size(), 2u);
    outfile_abort(&f);
}

// The first phase of a pipeline's commit already fails, so that no other
// output of the pipeline is renamed either; outfile_check() says so without
// closing anything.
TEST_F(OutfileTest, PrepareFailsOnAReplacedDirectory) {
    std::string sub = dir_ + "/sub";
    ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
    outfile f;
    char err[512];
    std::string path = sub + "/x.csv";
    ASSERT_EQ(outfile_open(&f, path.c_str(), err, sizeof err), 0) << err;
    EXPECT_EQ(outfile_check(&f, err, sizeof err), 0) << err;
    ASSERT_EQ(rename(sub.c_str(), (dir_ + "/old").c_str()), 0);
    ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
    EXPECT_EQ(outfile_check(&f, err, sizeof err), -1);
    EXPECT_EQ(outfile_write(&f, "x\n", 2, err, sizeof err), 0) << "still open";
    EXPECT_EQ(outfile_prepare(&f, err, sizeof err), -1);
    EXPECT_EQ(std::string(err), "cannot rename into '" + path + "': output directory '" + sub +
                                    "' was replaced during the scan");
    EXPECT_TRUE(ListDir(dir_ + "/old").empty());
    EXPECT_TRUE(ListDir(sub).empty());
    outfile_abort(&f);
}

TEST_F(OutfileTest, ASymlinkOnThePathAtTheStartIsFollowed) {
    // the admin's own path may hold symlinks: resolved once, at open
    std::string real = dir_ + "/real", link = dir_ + "/link";
    ASSERT_EQ(mkdir(real.c_str(), 0755), 0);
    ASSERT_EQ(symlink(real.c_str(), link.c_str()), 0);
    outfile f;
    char err[512];
    ASSERT_EQ(outfile_open(&f, (link + "/x.csv").c_str(), err, sizeof err), 0) << err;
    ASSERT_EQ(outfile_commit(&f, err, sizeof err), 0) << err;
    EXPECT_EQ(ListDir(real), std::vector<std::string>{"x.csv"});
}

TEST_F(OutfileTest, AReplacedTemporaryIsNotPublished) {
    outfile f;
    char err[512];
    std::string path = dir_ + "/x.csv";
    ASSERT_EQ(outfile_open(&f, path.c_str(), err, sizeof err), 0) << err;
    auto tmp = ListDir(dir_);
    ASSERT_EQ(tmp.size(), 1u);
    ASSERT_EQ(unlink((dir_ + "/" + tmp[0]).c_str()), 0);
    { std::ofstream(dir_ + "/" + tmp[0]) << "someone else's\n"; }
    EXPECT_EQ(outfile_commit(&f, err, sizeof err), -1);
    EXPECT_NE(std::string(err).find("was removed or replaced during the scan"), std::string::npos)
        << err;
    EXPECT_FALSE(access(path.c_str(), F_OK) == 0);
}

TEST_F(OutfileTest, CommitWithASuffixKeepsTheDataUnderAnotherName) {
    outfile f;
    char err[512];
    std::string path = dir_ + "/log.csv";
    ASSERT_EQ(outfile_open(&f, path.c_str(), err, sizeof err), 0) << err;
    ASSERT_EQ(outfile_write(&f, "a\n", 2, err, sizeof err), 0);
    ASSERT_EQ(outfile_commit_suffix(&f, ".incomplete", err, sizeof err), 0) << err;
    EXPECT_EQ(ListDir(dir_), std::vector<std::string>{"log.csv.incomplete"});
}

TEST_F(OutfileTest, ExistingFinalFileIsReplacedOnlyAtCommit) {
    std::string path = dir_ + "/old.csv";
    { std::ofstream(path) << "old\n"; }
    outfile f;
    char err[256];
    ASSERT_EQ(outfile_open(&f, path.c_str(), err, sizeof err), 0) << err;
    ASSERT_EQ(outfile_write(&f, "new\n", 4, err, sizeof err), 0);
    auto read = [&] {
        std::ifstream in(path);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    };
    EXPECT_EQ(read(), "old\n");
    outfile_abort(&f);
    EXPECT_EQ(read(), "old\n");  // an aborted scan keeps the last good report
    ASSERT_EQ(outfile_open(&f, path.c_str(), err, sizeof err), 0) << err;
    ASSERT_EQ(outfile_write(&f, "new\n", 4, err, sizeof err), 0);
    ASSERT_EQ(outfile_commit(&f, err, sizeof err), 0) << err;
    EXPECT_EQ(read(), "new\n");
}

TEST_F(OutfileTest, DashIsStdoutWithoutTemporaryOrRename) {
    std::string cap = dir_ + "/captured";
    int fd = open(cap.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    ASSERT_GE(saved, 0);
    ASSERT_EQ(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
    close(fd);
    outfile f;
    char err[256];
    int rc_open = outfile_open(&f, "-", err, sizeof err);
    int rc_write = rc_open == 0 ? outfile_write(&f, "to stdout\n", 10, err, sizeof err) : -1;
    int rc_commit = rc_write == 0 ? outfile_commit(&f, err, sizeof err) : -1;
    // stdout itself stays open after the commit
    int still_open = fcntl(STDOUT_FILENO, F_GETFD) != -1;
    dup2(saved, STDOUT_FILENO);
    close(saved);
    ASSERT_EQ(rc_open, 0) << err;
    ASSERT_EQ(rc_write, 0) << err;
    ASSERT_EQ(rc_commit, 0) << err;
    EXPECT_TRUE(still_open);
    std::ifstream in(cap);
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_EQ(ss.str(), "to stdout\n");
    EXPECT_EQ(ListDir(dir_), std::vector<std::string>{"captured"});
}

TEST_F(OutfileTest, ConcurrentWritersOnAPipeNeverInterleave) {
    // a pipe accepts at most 64 KiB per write(): buffers larger than that
    // arrive in pieces, which the lock must keep together
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    std::string got;
    std::thread reader([&] {
        char buf[65536];
        ssize_t n;
        while ((n = read(p[0], buf, sizeof buf)) > 0) got.append(buf, (size_t)n);
    });
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    ASSERT_EQ(dup2(p[1], STDOUT_FILENO), STDOUT_FILENO);
    close(p[1]);
    outfile f;
    char err[256];
    ASSERT_EQ(outfile_open(&f, "-", err, sizeof err), 0);
    std::vector<std::thread> ts;
    for (int t = 0; t < 8; t++) {
        ts.emplace_back([&f, t] {
            std::string line(199, (char)('a' + t));
            line += '\n';
            std::string buf;
            for (int i = 0; i < 1000; i++) buf += line;  // 200 KB per buffer
            char e[256];
            for (int k = 0; k < 5; k++) outfile_write(&f, buf.data(), buf.size(), e, sizeof e);
        });
    }
    for (auto &t : ts) t.join();
    int rc = outfile_commit(&f, err, sizeof err);
    dup2(saved, STDOUT_FILENO);  // closes the pipe's last write end
    close(saved);
    reader.join();
    close(p[0]);
    ASSERT_EQ(rc, 0) << err;
    ASSERT_EQ(got.size(), 8u * 5 * 1000 * 200);
    for (size_t off = 0; off < got.size(); off += 1000 * 200) {
        char c = got[off];
        for (size_t i = 0; i < 1000 * 200; i++) {
            char want = (i % 200 == 199) ? '\n' : c;
            ASSERT_EQ(got[off + i], want) << "buffer at " << off << " broken at " << i;
        }
    }
}

// ---- checkpoints (issue 19) ---------------------------------------------

// The temporary's only name in dir_ (one expected).
std::string OnlyTemporary(const std::string &dir) {
    std::vector<std::string> names = ListDir(dir);
    EXPECT_EQ(names.size(), 1u) << harness::Join(names);
    return names.empty() ? "" : names[0];
}

// A checkpoint notes the length; a "crash" (the process gone: nothing
// removed) leaves the temporary; another process resumes it, cutting off
// what was written after the checkpoint, appends and publishes.
TEST_F(OutfileTest, SyncThenResumeCutsBackToTheCheckpoint) {
    outfile f;
    char err[256];
    std::string path = dir_ + "/scan.csv";
    ASSERT_EQ(outfile_open_mode(&f, path.c_str(), 0640, err, sizeof err), 0) << err;
    ASSERT_EQ(outfile_write(&f, "head\nrow1\n", 10, err, sizeof err), 0);
    unsigned long long len = 0;
    ASSERT_EQ(outfile_sync(&f, &len, err, sizeof err), 0) << err;
    EXPECT_EQ(len, 10u);
    ASSERT_EQ(outfile_write(&f, "lost\n", 5, err, sizeof err), 0);
    std::string tmp = f.tmp_name;
    outfile_keep(&f);  // as a crash would leave it
    EXPECT_EQ(OnlyTemporary(dir_), tmp);
    EXPECT_EQ(harness::ReadFile(dir_ + "/" + tmp), "head\nrow1\nlost\n");

    outfile g;
    ASSERT_EQ(outfile_resume(&g, path.c_str(), tmp.c_str(), len, err, sizeof err), 0) << err;
    EXPECT_EQ(g.written, 10u);
    ASSERT_EQ(outfile_write(&g, "row2\n", 5, err, sizeof err), 0);
    ASSERT_EQ(outfile_sync(&g, &len, err, sizeof err), 0);
    EXPECT_EQ(len, 15u);
    ASSERT_EQ(outfile_commit(&g, err, sizeof err), 0) << err;
    EXPECT_EQ(ListDir(dir_), std::vector<std::string>{"scan.csv"});
    EXPECT_EQ(harness::ReadFile(path), "head\nrow1\nrow2\n");
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u) << "the part keeps its mode";
}

// A part of exactly the checkpoint's length is not modified by the resume
// (a refused resume elsewhere must leave it as it was).
TEST_F(OutfileTest, ResumeLeavesAPartOfTheRightLengthUntouched) {
    outfile f;
    char err[256];
    std::string path = dir_ + "/scan.csv";
    ASSERT_EQ(outfile_open(&f, path.c_str(), err, sizeof err), 0) << err;
    ASSERT_EQ(outfile_write(&f, "abc\n", 4, err, sizeof err), 0);
    unsigned long long len = 0;
    ASSERT_EQ(outfile_sync(&f, &len, err, sizeof err), 0);
    std::string tmp = f.tmp_name;
    outfile_keep(&f);
    struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
    ASSERT_EQ(utimensat(AT_FDCWD, (dir_ + "/" + tmp).c_str(), old, 0), 0);
    outfile g;
    ASSERT_EQ(outfile_resume(&g, path.c_str(), tmp.c_str(), len, err, sizeof err), 0) << err;
    outfile_keep(&g);  // suspended again at once
    struct stat st;
    ASSERT_EQ(stat((dir_ + "/" + tmp).c_str(), &st), 0);
    EXPECT_EQ(st.st_mtime, 1000000000);
    EXPECT_EQ(harness::ReadFile(dir_ + "/" + tmp), "abc\n");
}

TEST_F(OutfileTest, ResumeRefusesAMissingShortOrForeignPart) {
    char err[256];
    std::string path = dir_ + "/scan.csv";
    outfile f;
    ASSERT_EQ(outfile_open(&f, path.c_str(), err, sizeof err), 0) << err;
    ASSERT_EQ(outfile_write(&f, "0123456789", 10, err, sizeof err), 0);
    std::string tmp = f.tmp_name;
    outfile_keep(&f);
    outfile g;
    EXPECT_EQ(outfile_resume(&g, path.c_str(), tmp.c_str(), 11, err, sizeof err), -1);
    EXPECT_EQ(std::string(err), "cannot resume '" + path + "': part '" + tmp +
                                    "' is 10 bytes, the checkpoint has 11");
    EXPECT_EQ(harness::ReadFile(dir_ + "/" + tmp), "0123456789") << "untouched";
    std::string missing = ".scan.csv.pwalk-tmp-AAAAAA";
    EXPECT_EQ(outfile_resume(&g, path.c_str(), missing.c_str(), 0, err, sizeof err), -1);
    EXPECT_EQ(std::string(err), "cannot resume '" + path + "': part '" + missing +
                                    "': No such file or directory");
    for (const char *bad : {"../x.pwalk-tmp-AAAAAA", "scan.csv", ".pwalk-tmp-AAAAAA", ""}) {
        EXPECT_EQ(outfile_resume(&g, path.c_str(), bad, 0, err, sizeof err), -1) << bad;
        EXPECT_EQ(std::string(err), "cannot resume '" + path + "': '" + bad +
                                        "' is not the name of a pwalk temporary");
    }
    // a symlink or a directory under a part's name is never followed
    std::string link = ".scan.csv.pwalk-tmp-LINKED";
    ASSERT_EQ(symlink(tmp.c_str(), (dir_ + "/" + link).c_str()), 0);
    EXPECT_EQ(outfile_resume(&g, path.c_str(), link.c_str(), 0, err, sizeof err), -1);
    EXPECT_NE(std::string(err).find("part '" + link + "': "), std::string::npos) << err;
    std::string sub = ".scan.csv.pwalk-tmp-SUBDIR";
    ASSERT_EQ(mkdir((dir_ + "/" + sub).c_str(), 0700), 0);
    EXPECT_EQ(outfile_resume(&g, path.c_str(), sub.c_str(), 0, err, sizeof err), -1);
    EXPECT_NE(std::string(err).find("part '" + sub + "'"), std::string::npos) << err;
    // nor a file with another name elsewhere
    std::string other = dir_ + "/other";
    std::string linked = ".scan.csv.pwalk-tmp-HLINKD";
    ASSERT_TRUE(harness::WriteFile(other, "precious"));
    ASSERT_EQ(::link(other.c_str(), (dir_ + "/" + linked).c_str()), 0);
    EXPECT_EQ(outfile_resume(&g, path.c_str(), linked.c_str(), 0, err, sizeof err), -1);
    EXPECT_EQ(std::string(err),
              "cannot resume '" + path + "': part '" + linked + "' has other hard links");
    EXPECT_EQ(harness::ReadFile(other), "precious");
    std::string gone = dir_ + "/gone/scan.csv";
    EXPECT_EQ(outfile_resume(&g, gone.c_str(), tmp.c_str(), 0, err, sizeof err), -1);
    EXPECT_EQ(std::string(err), "cannot resume '" + gone + "': No such file or directory");
    EXPECT_EQ(outfile_resume(&g, "-", tmp.c_str(), 0, err, sizeof err), -1);
}

// Stdout cannot be checkpointed: another process cannot continue it.
TEST_F(OutfileTest, SyncRefusesStdout) {
    outfile f;
    char err[256];
    ASSERT_EQ(outfile_open(&f, "-", err, sizeof err), 0);
    unsigned long long len = 0;
    EXPECT_EQ(outfile_sync(&f, &len, err, sizeof err), -1);
    EXPECT_EQ(std::string(err),
              "cannot checkpoint '-': standard output cannot be continued by another process");
    outfile_abort(&f);
}

// Another part's bytes after a header appended; the parts removed when the
// file is committed, or aborted, and kept when it is kept.
TEST_F(OutfileTest, AppendedPartsGoWithTheFile) {
    char err[256];
    std::string path = dir_ + "/scan.csv";
    std::string other = ".scan.part-0002.csv.pwalk-tmp-XyZ123";
    std::string older = ".scan.part-0004.csv.pwalk-tmp-AbC456";
    for (int how = 0; how < 3; how++) {  // commit, abort, keep
        SCOPED_TRACE(how);
        ASSERT_TRUE(harness::WriteFile(dir_ + "/" + other, "HEAD\nr3\nr4\ncut\n"));
        ASSERT_TRUE(harness::WriteFile(dir_ + "/" + older, "absorbed before\n"));
        outfile f;
        ASSERT_EQ(outfile_open(&f, path.c_str(), err, sizeof err), 0) << err;
        ASSERT_EQ(outfile_write(&f, "HEAD\nr1\n", 8, err, sizeof err), 0);
        ASSERT_EQ(outfile_append_part(&f, other.c_str(), 5, 11, err, sizeof err), 0) << err;
        EXPECT_EQ(f.written, 14u);
        EXPECT_EQ(outfile_append_part(&f, other.c_str(), 5, 11, err, sizeof err), -1);
        EXPECT_NE(std::string(err).find("is named twice"), std::string::npos) << err;
        ASSERT_EQ(outfile_adopt_part(&f, older.c_str()), 0);
        EXPECT_EQ(outfile_adopt_part(&f, "x/y"), -1);
        ASSERT_EQ(outfile_write(&f, "r5\n", 3, err, sizeof err), 0);
        std::string tmp = f.tmp_name;
        if (how == 0) {
            ASSERT_EQ(outfile_commit(&f, err, sizeof err), 0) << err;
            EXPECT_EQ(harness::ReadFile(path), "HEAD\nr1\nr3\nr4\nr5\n");
            EXPECT_EQ(ListDir(dir_), std::vector<std::string>{"scan.csv"});
            unlink(path.c_str());
        } else if (how == 1) {
            outfile_abort(&f);
            EXPECT_TRUE(ListDir(dir_).empty());
        } else {
            outfile_keep(&f);
            std::vector<std::string> want = {tmp, other, older};
            std::sort(want.begin(), want.end());
            EXPECT_EQ(ListDir(dir_), want);
        }
    }
    // a part shorter than the checkpoint said
    outfile f;
    ASSERT_EQ(outfile_open(&f, path.c_str(), err, sizeof err), 0) << err;
    EXPECT_EQ(outfile_append_part(&f, other.c_str(), 5, 100, err, sizeof err), -1);
    EXPECT_EQ(std::string(err), "cannot resume '" + path + "': part '" + other +
                                    "' is 15 bytes, the checkpoint has 100");
    outfile_abort(&f);
    EXPECT_TRUE(harness::Exists(dir_ + "/" + other)) << "a refused part is not absorbed";
}

}  // namespace
