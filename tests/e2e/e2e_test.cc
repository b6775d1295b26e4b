// End-to-end: the real pwalk-engine and its real plugins on generated
// hostile trees.  Every row is checked against lstat of its entry.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "tests/e2e/e2e_util.h"

using namespace e2e;

namespace {

void MakeFile(const std::string &path, off_t size) {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    ASSERT_GE(fd, 0) << path;
    if (size) {
        ASSERT_EQ(ftruncate(fd, size), 0);
    }
    close(fd);
}

// The hostile tree, built once for the whole suite.
class Tree : public ::testing::Environment {
  public:
    static std::string dir, root;
    static std::string long_path;  // > 4096 bytes
    void SetUp() override {
        dir = TempDir("e2e");
        root = dir + "/tree";
        ASSERT_EQ(mkdir(root.c_str(), 0755), 0);
        const std::string r = root;
        for (const char *d : {"/a", "/a/b", "/empty", "/.snapshot", "/.snapshot/hourly", "/big"})
            ASSERT_EQ(mkdir((r + d).c_str(), 0755), 0);
        MakeFile(r + "/.snapshot/hourly/old.txt", 5);
        MakeFile(r + "/a/b/report.tar.gz", 123456);
        MakeFile(r + "/a/.bashrc", 10);
        MakeFile(r + "/a/.x.txt", 11);
        MakeFile(r + "/a/trailing.", 12);
        MakeFile(r + "/sparse.img", 10LL << 30);  // 10 GiB, no blocks
        for (const char *n : {"/comma,name", "/quote\"name", "/new\nline.c", "/back\\slash",
                              "/bad\xff\xfeutf8", "/ok-\xc3\xa9t\xc3\xa9.txt", "/tab\tx",
                              "/cr\rx", "/del\x7fx", "/\xc0\xafoverlong", "/\xed\xa0\x80surr"})
            MakeFile(r + n, 1);
        // every byte 1..255 except '/' appears in some name
        for (int b = 1; b < 256; b += 16) {
            std::string name = "/bytes-";
            for (int c = b; c < b + 16 && c < 256; c++)
                if (c != '/') name += (char)c;
            MakeFile(r + "/a" + name, 0);
        }
        ASSERT_EQ(symlink("nowhere", (r + "/dangling").c_str()), 0);
        ASSERT_EQ(symlink("selfloop", (r + "/selfloop").c_str()), 0);
        ASSERT_EQ(symlink("loop2", (r + "/loop1").c_str()), 0);
        ASSERT_EQ(symlink("loop1", (r + "/loop2").c_str()), 0);
        ASSERT_EQ(symlink("a", (r + "/to_dir").c_str()), 0);
        ASSERT_EQ(link((r + "/a/.bashrc").c_str(), (r + "/hard1").c_str()), 0);
        ASSERT_EQ(link((r + "/a/.bashrc").c_str(), (r + "/a/b/hard2").c_str()), 0);
        // a path longer than PATH_MAX, made one component at a time
        int fd = open(r.c_str(), O_RDONLY | O_DIRECTORY);
        std::string comp(240, 'L');
        long_path = r;
        for (int i = 0; i < 20; i++) {
            ASSERT_EQ(mkdirat(fd, comp.c_str(), 0755), 0);
            int next = openat(fd, comp.c_str(), O_RDONLY | O_DIRECTORY);
            close(fd);
            fd = next;
            long_path += "/" + comp;
        }
        int f = openat(fd, "deep.txt", O_WRONLY | O_CREAT, 0644);
        close(f);
        close(fd);
        long_path += "/deep.txt";
        // a directory with 100k entries
        fd = open((r + "/big").c_str(), O_RDONLY | O_DIRECTORY);
        for (int i = 0; i < 100000; i++) {
            int g = openat(fd, ("f" + std::to_string(i)).c_str(), O_WRONLY | O_CREAT, 0644);
            ASSERT_GE(g, 0);
            close(g);
        }
        close(fd);
        MakeFile(dir + "/lonely.file", 42);
    }
    void TearDown() override { RemoveTree(dir); }
};
std::string Tree::dir, Tree::root, Tree::long_path;

std::string Pipeline(const std::string &extra_scan, const std::string &sinks) {
    return "version: 1\nscan:\n  threads: 2\n" + extra_scan + "sinks:\n" + sinks;
}

std::string CsvSink(const std::string &name, const std::string &path,
                    const std::string &plugin = "csv", const std::string &more = "") {
    return "  - name: " + name + "\n    plugin: " + plugin + "\n    options: {path: '" + path +
           "'" + more + "}\n";
}

class E2E : public ::testing::Test {
  protected:
    void SetUp() override { work_ = TempDir("run"); }
    void TearDown() override { RemoveTree(work_); }
    std::string Config(const std::string &text) {
        std::string p = work_ + "/p" + std::to_string(n_++) + ".yaml";
        WriteFile(p, text);
        return p;
    }
    // Parse a report (header expected) into path -> row; checks uniqueness.
    std::map<std::string, std::vector<std::string>> Rows(const std::string &csv,
                                                         bool header = true) {
        auto rows = ParseCsv(csv);
        std::map<std::string, std::vector<std::string>> byPath;
        size_t first = 0;
        if (header) {
            EXPECT_FALSE(rows.empty());
            if (rows.empty()) return byPath;
            first = 1;
        }
        for (size_t i = first; i < rows.size(); i++) {
            std::string p = Unescape(rows[i].size() > 3 ? rows[i][3] : "");
            EXPECT_TRUE(byPath.emplace(p, rows[i]).second) << "duplicate row " << p;
        }
        return byPath;
    }
    void ExpectMatchesModel(const std::map<std::string, std::vector<std::string>> &rows,
                            const std::vector<std::string> &roots,
                            const std::vector<std::string> &skip) {
        std::map<std::string, Expect> model;
        for (auto &r : roots) Model(r, skip, &model);
        EXPECT_EQ(rows.size(), model.size());
        size_t bad = 0;
        for (auto &kv : model) {
            auto it = rows.find(kv.first);
            if (it == rows.end()) {
                ADD_FAILURE() << "no row for " << kv.first;
                if (++bad > 5) return;
                continue;
            }
            std::string why = CheckRow(it->second, kv.second, kv.first);
            if (!why.empty()) {
                ADD_FAILURE() << kv.first << ": " << why;
                if (++bad > 5) return;
            }
        }
    }
    std::string work_;
    int n_ = 0;
};

TEST_F(E2E, EveryRowMatchesLstatAtAnyThreadCount) {
    for (int threads : {1, 2, 8}) {
        SCOPED_TRACE("threads " + std::to_string(threads));
        std::string out = work_ + "/t" + std::to_string(threads) + ".csv";
        auto r = e2e::Run({EnginePath(), "-q", "-c", Config(Pipeline("", CsvSink("inv", out))),
                      "--threads", std::to_string(threads), Tree::root});
        ASSERT_EQ(r.status, 0) << r.err;
        std::string text = ReadFile(out);
        ASSERT_EQ(text.substr(0, text.find('\n') + 1),
                  "inode,parent-inode,directory-depth,\"filename\",\"fileExtension\",UID,GID,"
                  "st_size,st_dev,st_blocks,st_nlink,\"st_mode\",st_atime,st_mtime,st_ctime,"
                  "pw_fcount,pw_dirsum\n");
        // lossless output is valid UTF-8 with no raw control bytes but '\n'
        for (unsigned char c : text) ASSERT_TRUE(c >= 0x20 || c == '\n') << (int)c;
        auto rows = Rows(text);
        ExpectMatchesModel(rows, {Tree::root}, {".snapshot"});
        EXPECT_EQ(rows.count(Tree::root + "/.snapshot"), 0u);
        ASSERT_EQ(rows.count(Tree::long_path), 1u);
        EXPECT_GT(Tree::long_path.size(), 4096u);
        EXPECT_EQ(rows.at(Tree::root + "/big")[15], "100000");
    }
}

TEST_F(E2E, SnapshotsAreWalkedWhenSkippingIsOff) {
    std::string out = work_ + "/s.csv";
    auto r = e2e::Run({EnginePath(), "-q", "-c",
                  Config(Pipeline("  skip_snapshots: false\n", CsvSink("inv", out))),
                  Tree::root + "/a", Tree::root + "/.snapshot", Tree::dir + "/lonely.file"});
    ASSERT_EQ(r.status, 0) << r.err;
    auto rows = Rows(ReadFile(out));
    ExpectMatchesModel(rows, {Tree::root + "/a", Tree::root + "/.snapshot",
                              Tree::dir + "/lonely.file"}, {});
    EXPECT_EQ(rows.at(Tree::dir + "/lonely.file")[2], "-1");
}

TEST_F(E2E, DepthAndExcludeLeaveEntriesOut) {
    std::string out = work_ + "/d.csv";
    std::string ex = work_ + "/exclude.txt";
    WriteFile(ex, "# pwalk exclude file\n" + Tree::root + "/a/b\n*.img\n");
    auto r = e2e::Run({EnginePath(), "-q", "-c", Config(Pipeline("", CsvSink("inv", out))),
                  "--exclude", ex, "--depth", "1", Tree::root});
    ASSERT_EQ(r.status, 0) << r.err;
    auto rows = Rows(ReadFile(out));
    EXPECT_EQ(rows.count(Tree::root + "/sparse.img"), 0u);
    EXPECT_EQ(rows.count(Tree::root + "/a"), 0u);  // a directory at the depth limit
    EXPECT_EQ(rows.count(Tree::root + "/dangling"), 1u);
    for (auto &kv : rows) EXPECT_LE(std::stoi(kv.second[2]), 0) << kv.first;
}

TEST_F(E2E, TwoSinksOneWalkSameRows) {
    std::string a = work_ + "/a.csv", b = work_ + "/b.csv";
    auto r = e2e::Run({EnginePath(), "-q", "-c",
                  Config(Pipeline("", CsvSink("one", a) + CsvSink("two", b))), Tree::root + "/a"});
    ASSERT_EQ(r.status, 0) << r.err;
    auto ra = ParseCsv(ReadFile(a)), rb = ParseCsv(ReadFile(b));
    std::sort(ra.begin(), ra.end());
    std::sort(rb.begin(), rb.end());
    EXPECT_EQ(ra, rb);
    EXPECT_GT(ra.size(), 10u);
}

TEST_F(E2E, SetOverridesASinkOption) {
    std::string out = work_ + "/set.csv";
    auto r = e2e::Run({EnginePath(), "-q", "-c", Config(Pipeline("", CsvSink("inv", work_ + "/x.csv"))),
                  "--set", "inv.path=" + out, "--set", "inv.header=false", Tree::root + "/a/b"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_FALSE(Exists(work_ + "/x.csv"));
    auto rows = Rows(ReadFile(out), false);
    ExpectMatchesModel(rows, {Tree::root + "/a/b"}, {});
}

TEST_F(E2E, PwalkCompatibleCommandLine) {
    auto r = e2e::Run({EnginePath(), "--NoSnap", "--header", Tree::root + "/a"});
    ASSERT_EQ(r.status, 0) << r.err;
    auto rows = ParseCsv(r.out);
    ASSERT_GT(rows.size(), 2u);
    EXPECT_EQ(rows[0][0], "inode");
    // dey: control bytes dropped, backslashes raw, invalid UTF-8 raw
    std::set<std::string> names;
    for (size_t i = 1; i < rows.size(); i++) names.insert(rows[i][3]);

    bool found_dropped = false;
    for (auto &n : names) found_dropped |= n.find("bytes-") != std::string::npos &&
                                           n.find('\x01') == std::string::npos;
    EXPECT_TRUE(found_dropped);
    EXPECT_NE(r.err.find("control bytes removed from name"), std::string::npos);
    // without --header there is none; without -c snapshots are walked
    auto r2 = e2e::Run({EnginePath(), Tree::root + "/.snapshot"});
    ASSERT_EQ(r2.status, 0);
    EXPECT_EQ(ParseCsv(r2.out).size(), 3u);
}

TEST_F(E2E, CompressedSinksDecodeToTheSameRows) {
    std::string plain = work_ + "/r.csv";
    std::string sinks = CsvSink("plain", plain) + CsvSink("z", work_ + "/r.csv.zst", "csv-zstd") +
                        CsvSink("g", work_ + "/r.csv.gz", "csv-gzip") +
                        CsvSink("l", work_ + "/r.csv.lz4", "csv-lz4");
    auto r = e2e::Run({EnginePath(), "-q", "-c", Config(Pipeline("", sinks)), Tree::root});
    ASSERT_EQ(r.status, 0) << r.err;
    auto want = ParseCsv(ReadFile(plain));
    std::sort(want.begin() + 1, want.end());
    for (auto tool : {std::vector<std::string>{"/usr/bin/zstd", "-dc", work_ + "/r.csv.zst"},
                      std::vector<std::string>{"/usr/bin/gzip", "-dc", work_ + "/r.csv.gz"},
                      std::vector<std::string>{"/usr/bin/lz4", "-dc", work_ + "/r.csv.lz4"}}) {
        auto d = e2e::Run(tool);
        ASSERT_EQ(d.status, 0) << tool[0] << ": " << d.err;
        auto got = ParseCsv(d.out);
        ASSERT_FALSE(got.empty());
        EXPECT_EQ(got[0], want[0]) << "header first in " << tool[0];
        std::sort(got.begin() + 1, got.end());
        EXPECT_EQ(got, want) << tool[0];
    }
    EXPECT_EQ(e2e::Run({"/usr/bin/zstd", "-tq", work_ + "/r.csv.zst"}).status, 0);
    EXPECT_EQ(e2e::Run({"/usr/bin/gzip", "-t", work_ + "/r.csv.gz"}).status, 0);
}

TEST_F(E2E, BadInputIsExitTwoAndWritesNothing) {
    std::string out = work_ + "/never.csv";
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    std::string bad_yaml = Config("version: 1\nscan:\n  threads: [\nsinks: []\n");
    std::string unknown_key = Config(Pipeline("  thread: 4\n", CsvSink("inv", out)));
    std::string bad_plugin = Config(Pipeline("", CsvSink("inv", out, "no-such-plugin")));
    std::string bad_level = Config(Pipeline("", CsvSink("z", out, "csv-zstd", ", level: 99")));
    std::string good = Config(Pipeline("", CsvSink("inv", out)));
    std::vector<Case> cases = {
        {{"-c", good, "/nonexistent/root"}, "/nonexistent/root: No such file or directory"},
        {{"-c", bad_yaml, Tree::root}, bad_yaml + ":"},
        {{"-c", unknown_key, Tree::root}, unknown_key + ":4:3: unknown key 'thread'"},
        {{"-c", bad_plugin, Tree::root}, "plugin 'no-such-plugin' not found"},
        {{"-c", bad_level, Tree::root}, "level"},
        {{"-c", good, "--threads", "0", Tree::root}, "--threads: '0'"},
        {{"-c", good, "--threads", "x", Tree::root}, "--threads: 'x'"},
        {{"-c", good, "--depth", "-1", Tree::root}, "--depth: '-1'"},
        {{"-c", work_ + "/missing.yaml", Tree::root}, "missing.yaml: No such file or directory"},
        {{"-c", good, "--set", "nosink.path=x", Tree::root}, "no sink named 'nosink'"},
        {{"--bogus", Tree::root}, "unknown option '--bogus'"},
    };
    for (auto &c : cases) {
        std::vector<std::string> argv = {EnginePath()};
        argv.insert(argv.end(), c.args.begin(), c.args.end());
        auto r = e2e::Run(argv, work_);
        EXPECT_EQ(r.status, 2) << c.message << "\n" << r.err;
        EXPECT_NE(r.err.find(c.message), std::string::npos) << "want '" << c.message
                                                            << "' in: " << r.err;
        EXPECT_FALSE(Exists(out)) << c.message;
        for (auto &n : ListDir(work_)) EXPECT_EQ(n.find("pwalk-tmp"), std::string::npos) << n;
    }
    std::string automatic = Config("version: 1\nscan: {threads: auto}\nsinks:\n" + CsvSink("inv", out));
    auto slurm = e2e::Run({EnginePath(), "-c", automatic, Tree::root}, work_, -1,
                     {"SLURM_CPUS_ON_NODE=garbage", "SLURM_CPUS_PER_TASK="});
    EXPECT_EQ(slurm.status, 2);
    EXPECT_NE(slurm.err.find("SLURM_CPUS_ON_NODE='garbage'"), std::string::npos) << slurm.err;
    EXPECT_FALSE(Exists(out));
}

TEST_F(E2E, HelpVersionDescribe) {
    auto h = e2e::Run({EnginePath(), "--help"});
    EXPECT_EQ(h.status, 0);
    EXPECT_NE(h.out.find("Usage: pwalk-engine -c PIPELINE.yaml"), std::string::npos);
    auto v = e2e::Run({EnginePath(), "--version"});
    EXPECT_EQ(v.status, 0);
    EXPECT_NE(v.out.find("plugin ABI 1."), std::string::npos);
    auto d = e2e::Run({EnginePath(), "--describe", "csv-zstd"});
    EXPECT_EQ(d.status, 0) << d.err;
    for (auto opt : {"path", "header", "escape", "level"})
        EXPECT_NE(d.out.find(opt), std::string::npos) << opt;
}

TEST_F(E2E, SigkillLeavesNoFinalReportAndNextRunWorks) {
    std::string out = work_ + "/k.csv";
    std::string cfg = Config(Pipeline("", CsvSink("inv", out)));
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        execl(EnginePath().c_str(), "pwalk-engine", "-q", "-c", cfg.c_str(), "--threads", "1",
              Tree::root.c_str(), (char *)nullptr);
        _exit(127);
    }
    // kill as soon as the temporary file exists
    bool saw_tmp = false;
    for (int i = 0; i < 2000 && !saw_tmp; i++) {
        for (auto &n : ListDir(work_)) saw_tmp |= n.rfind(".k.csv.pwalk-tmp-", 0) == 0;
        if (!saw_tmp) usleep(1000);
    }
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    EXPECT_TRUE(saw_tmp);
    EXPECT_FALSE(Exists(out));
    auto r = e2e::Run({EnginePath(), "-q", "-c", cfg, Tree::root + "/a"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(Exists(out));
}

TEST_F(E2E, SigintStopsPromptlyWithoutPublishing) {
    std::string out = work_ + "/i.csv";
    std::string cfg = Config(Pipeline("", CsvSink("inv", out)));
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        execl(EnginePath().c_str(), "pwalk-engine", "-q", "-c", cfg.c_str(), "--threads", "1",
              Tree::root.c_str(), Tree::root.c_str(), Tree::root.c_str(), (char *)nullptr);
        _exit(127);
    }
    usleep(50000);
    kill(pid, SIGINT);
    int st = 0;
    for (int i = 0; i < 1000 && waitpid(pid, &st, WNOHANG) == 0; i++) usleep(1000);
    ASSERT_TRUE(WIFEXITED(st)) << "still running 1 s after SIGINT";
    int code = WEXITSTATUS(st);
    EXPECT_TRUE(code == 130 || code == 0) << code;  // 0: it finished first
    if (code == 130) {
        EXPECT_FALSE(Exists(out));
        for (auto &n : ListDir(work_)) EXPECT_EQ(n.find("pwalk-tmp"), std::string::npos) << n;
    }
}

TEST_F(E2E, DiskFullIsExitThreeAndNoFinalFile) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
    std::string mnt = work_ + "/small";
    ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
    for (std::string plugin : {"csv", "csv-zstd", "csv-gzip", "csv-lz4"}) {
        SCOPED_TRACE(plugin);
        // 8k: even compressed, 100k rows do not fit
        ASSERT_EQ(mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=8k"), 0);
        std::string out = mnt + "/full.out";
        auto r = e2e::Run({EnginePath(), "-q", "-c",
                           Config(Pipeline("", CsvSink("inv", out, plugin))), Tree::root + "/big"});
        std::vector<std::string> left = ListDir(mnt);
        umount(mnt.c_str());
        EXPECT_EQ(r.status, 3) << r.err;
        EXPECT_NE(r.err.find("sink 'inv': write to '" + out +
                             "' failed: No space left on device"),
                  std::string::npos)
            << r.err;
        EXPECT_TRUE(left.empty()) << left.size() << " files left, first " << left[0];
    }
}

TEST_F(E2E, UnreadableDirectoryAsUnprivilegedUser) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to switch to nobody";
    // a copy of the engine and its plugin that nobody can run
    std::string bin = work_ + "/bin";
    ASSERT_EQ(mkdir(bin.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((bin + "/plugins").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((bin + "/plugins/csv").c_str(), 0755), 0);
    ASSERT_EQ(e2e::Run({"/bin/cp", EnginePath(), bin + "/pwalk-engine"}).status, 0);
    ASSERT_EQ(e2e::Run({"/bin/cp", PluginDir() + "/csv/csv.so", bin + "/plugins/csv/csv.so"}).status, 0);
    std::string t = work_ + "/t";
    ASSERT_EQ(mkdir(t.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((t + "/locked").c_str(), 0700), 0);
    MakeFile(t + "/locked/secret", 3);
    MakeFile(t + "/open.txt", 4);
    ASSERT_EQ(chmod((t + "/open.txt").c_str(), 0600), 0);  // stat still works
    std::string outdir = work_ + "/out";
    ASSERT_EQ(mkdir(outdir.c_str(), 0777), 0);
    ASSERT_EQ(chmod(outdir.c_str(), 0777), 0);
    std::string cfg = outdir + "/p.yaml";
    WriteFile(cfg, "version: 1\nscan: {threads: 2, errors: " + outdir + "/errors.csv}\nsinks:\n" +
                       CsvSink("inv", outdir + "/u.csv"));
    chmod(cfg.c_str(), 0644);
    auto r = e2e::Run({bin + "/pwalk-engine", "-c", cfg, t}, outdir, 65534);
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_NE(r.err.find("1 errors"), std::string::npos) << r.err;
    auto rows = Rows(ReadFile(outdir + "/u.csv"));
    ASSERT_EQ(rows.count(t + "/locked"), 1u);
    EXPECT_EQ(rows.at(t + "/locked")[15], "-1");
    EXPECT_EQ(rows.at(t + "/locked")[16], "0");
    EXPECT_EQ(rows.count(t + "/locked/secret"), 0u);
    EXPECT_EQ(rows.size(), 3u);
    auto errs = ParseCsv(ReadFile(outdir + "/errors.csv"));
    ASSERT_EQ(errs.size(), 2u);
    EXPECT_EQ(errs[0], (std::vector<std::string>{"path", "errno", "error", "operation"}));
    EXPECT_EQ(errs[1][0], t + "/locked");
    EXPECT_EQ(errs[1][1], "13");
    EXPECT_EQ(errs[1][2], "Permission denied");
    EXPECT_EQ(errs[1][3], "opendir");
}

}  // namespace

int main(int argc, char **argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new Tree);
    return RUN_ALL_TESTS();
}
