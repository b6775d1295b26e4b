// End-to-end: the real pwalk-engine and its real plugins on generated
// hostile trees.  Every row is checked against lstat of its entry (column by
// column, then byte for byte against the line the spec prescribes), and the
// expected set of rows comes from an independent openat walk (tests/harness/model.cc).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <dirent.h>
#include <fnmatch.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <set>

#include "tests/harness/harness.h"

using namespace harness;

namespace {

const char kHeader[] =
    "inode,parent-inode,directory-depth,\"filename\",\"fileExtension\",UID,GID,"
    "st_size,st_dev,st_blocks,st_nlink,\"st_mode\",st_atime,st_mtime,st_ctime,"
    "pw_fcount,pw_dirsum\n";

void MakeFile(const std::string &path, off_t size) {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    ASSERT_GE(fd, 0) << path;
    if (size) {
        // sparse: sizes up to 10 GiB cost no disk, and st_blocks differs
        // from st_size/512, which a sloppy writer would not notice otherwise
        ASSERT_EQ(ftruncate(fd, size), 0);
    }
    close(fd);
}

// The hostile tree, built once for the whole suite (the 100k directory and
// the deep chain take a few seconds to make).
class Tree : public ::testing::Environment {
  public:
    static std::string dir, root;
    static std::string long_path;  // > 4096 bytes
    void SetUp() override {
        dir = MakeTempDir("e2e");
        root = dir + "/tree";
        ASSERT_EQ(mkdir(root.c_str(), 0755), 0);
        const std::string r = root;
        for (const char *d : {"/a", "/a/b", "/empty", "/.snapshot", "/.snapshot/hourly", "/big",
                              "/a/.snapshot"})
            ASSERT_EQ(mkdir((r + d).c_str(), 0755), 0);
        MakeFile(r + "/.snapshot/hourly/old.txt", 5);
        MakeFile(r + "/a/.snapshot/nested.txt", 6);
        MakeFile(r + "/a/b/report.tar.gz", 123456);
        MakeFile(r + "/a/.bashrc", 10);
        MakeFile(r + "/a/.x.txt", 11);
        MakeFile(r + "/a/trailing.", 12);
        MakeFile(r + "/sparse.img", 10LL << 30);  // 10 GiB, no blocks
        {
            // a file with real blocks next to the sparse ones
            int fd = open((r + "/a/real.bin").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
            ASSERT_GE(fd, 0);
            std::string data(70000, 'x');
            ASSERT_EQ(write(fd, data.data(), data.size()), (ssize_t)data.size());
            close(fd);
        }
        for (const char *n : {"/comma,name", "/quote\"name", "/new\nline.c", "/back\\slash",
                              "/bad\xff\xfeutf8", "/ok-\xc3\xa9t\xc3\xa9.txt", "/tab\tx",
                              "/cr\rx", "/del\x7fx", "/\xc0\xafoverlong", "/\xed\xa0\x80surr",
                              "/trunc\xe2\x82", "/\xf0\x9f\x98\x80" "emoji.\xe2\x82\xac",
                              "/\"\",\\x41\\\\.\"q\""})
            MakeFile(r + n, 1);
        // every byte 1..255 except '/' appears in some name
        for (int b = 1; b < 256; b += 16) {
            std::string name = "/bytes-";
            for (int c = b; c < b + 16 && c < 256; c++)
                if (c != '/') name += (char)c;
            MakeFile(r + "/a" + name, 0);
        }
        // ... and in the middle of a directory name, so a subdirectory's
        // rows carry it in their paths too
        std::string odd_dir = r + "/a/dir,\"\x01\x7f\xff\\";
        ASSERT_EQ(mkdir(odd_dir.c_str(), 0755), 0);
        MakeFile(odd_dir + "/inner.x,y", 3);
        ASSERT_EQ(symlink("nowhere", (r + "/dangling").c_str()), 0);
        ASSERT_EQ(symlink("selfloop", (r + "/selfloop").c_str()), 0);
        ASSERT_EQ(symlink("loop2", (r + "/loop1").c_str()), 0);
        ASSERT_EQ(symlink("loop1", (r + "/loop2").c_str()), 0);
        ASSERT_EQ(symlink("a", (r + "/to_dir").c_str()), 0);
        ASSERT_EQ(symlink("a/.bashrc", (r + "/to_file.lnk").c_str()), 0);
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

// Single-quoted YAML scalar: only ' needs doubling (temp paths have none).
std::string CsvSink(const std::string &name, const std::string &path,
                    const std::string &plugin = "csv", const std::string &more = "") {
    return "  - name: " + name + "\n    plugin: " + plugin + "\n    options: {path: '" + path +
           "'" + more + "}\n";
}

// Report lines without the header, sorted (row order is unspecified).
std::vector<std::string> SortedLines(const std::string &text, bool header) {
    std::vector<std::string> lines;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string::npos) nl = text.size() - 1;  // unterminated last line
        lines.push_back(text.substr(pos, nl - pos + 1));
        pos = nl + 1;
    }
    if (header && !lines.empty()) lines.erase(lines.begin());
    std::sort(lines.begin(), lines.end());
    return lines;
}

// "file:12:3" right after the file's name in a message: the location the
// issue asks every config error to carry.
bool HasFileLineCol(const std::string &err, const std::string &file) {
    for (size_t at = err.find(file + ":"); at != std::string::npos;
         at = err.find(file + ":", at + 1)) {
        size_t i = at + file.size() + 1, d1 = i;
        while (i < err.size() && isdigit((unsigned char)err[i])) i++;
        if (i == d1 || i >= err.size() || err[i] != ':') continue;
        size_t d2 = ++i;
        while (i < err.size() && isdigit((unsigned char)err[i])) i++;
        if (i > d2) return true;
    }
    return false;
}

// Unmounts at scope exit, so a failed assertion does not leave a mount
// behind in /tmp.
struct MountGuard {
    std::string where;
    ~MountGuard() {
        if (!where.empty()) umount2(where.c_str(), MNT_DETACH);
    }
};

class E2E : public ::testing::Test {
  protected:
    void SetUp() override { work_ = MakeTempDir("run"); }
    void TearDown() override { RemoveTree(work_); }
    std::string Config(const std::string &text) {
        std::string p = work_ + "/p" + std::to_string(n_++) + ".yaml";
        WriteFile(p, text);
        return p;
    }
    // Parse a report into path -> row; checks uniqueness and column count.
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
            EXPECT_EQ(rows[i].size(), 17u) << "row " << i;
            std::string p = Unescape(rows[i].size() > 3 ? rows[i][3] : "");
            EXPECT_TRUE(byPath.emplace(p, rows[i]).second) << "duplicate row " << p;
        }
        return byPath;
    }
    static std::map<std::string, Expect> ModelOf(const std::vector<std::string> &roots,
                                                 const ModelOptions &opt) {
        std::map<std::string, Expect> model;
        for (auto &r : roots) Model(r, opt, &model);
        return model;
    }
    // One row per model entry, nothing else, every column as lstat says.
    void ExpectMatchesModel(const std::map<std::string, std::vector<std::string>> &rows,
                            const std::map<std::string, Expect> &model) {
        EXPECT_EQ(rows.size(), model.size());
        size_t bad = 0;
        for (auto &kv : rows)
            if (!model.count(kv.first)) {
                ADD_FAILURE() << "row for an entry the scan should not report: " << kv.first;
                if (++bad > 5) return;
            }
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
    void ExpectMatchesModel(const std::map<std::string, std::vector<std::string>> &rows,
                            const std::vector<std::string> &roots,
                            const std::vector<std::string> &skip) {
        ModelOptions o;
        o.skip_dirs = skip;
        ExpectMatchesModel(rows, ModelOf(roots, o));
    }
    // Byte-exact: the report's lines are exactly the lines the spec
    // prescribes for the model's entries (escaping included).
    void ExpectExactLines(const std::vector<std::string> &got,
                          const std::map<std::string, Expect> &model, Escape mode) {
        std::vector<std::string> want;
        for (auto &kv : model) want.push_back(ExpectedLine(kv.second, kv.first, mode));
        std::sort(want.begin(), want.end());
        if (got == want) return;
        std::vector<std::string> missing, extra;
        std::set_difference(want.begin(), want.end(), got.begin(), got.end(),
                            std::back_inserter(missing));
        std::set_difference(got.begin(), got.end(), want.begin(), want.end(),
                            std::back_inserter(extra));
        std::string msg;
        for (size_t i = 0; i < missing.size() && i < 5; i++) msg += "want: " + missing[i];
        for (size_t i = 0; i < extra.size() && i < 5; i++) msg += "got:  " + extra[i];
        ADD_FAILURE() << missing.size() << " expected lines missing, " << extra.size()
                      << " unexpected lines:\n" << msg;
    }
    std::string work_;
    int n_ = 0;
};

TEST_F(E2E, EveryRowMatchesLstatAtAnyThreadCount) {
    std::vector<std::string> first;
    for (int threads : {1, 2, 8}) {
        SCOPED_TRACE("threads " + std::to_string(threads));
        std::string out = work_ + "/t" + std::to_string(threads) + ".csv";
        auto r = RunChild({EnginePath(), "-q", "-c", Config(Pipeline("", CsvSink("inv", out))),
                           "--threads", std::to_string(threads), Tree::root});
        ASSERT_EQ(r.status, 0) << r.err;
        EXPECT_EQ(r.err, "") << "--quiet and nothing failed: nothing on stderr";
        std::string text = ReadFile(out);
        ASSERT_EQ(text.substr(0, text.find('\n') + 1), kHeader);
        // lossless output is valid UTF-8 (DuckDB refuses anything else)
        // with no raw control bytes but the line ends
        for (unsigned char c : text) ASSERT_TRUE(c >= 0x20 || c == '\n') << (int)c;
        EXPECT_TRUE(ValidUtf8(text));
        auto rows = Rows(text);
        ModelOptions opt;
        opt.skip_dirs = {".snapshot"};
        auto model = ModelOf({Tree::root}, opt);
        ExpectMatchesModel(rows, model);
        auto lines = SortedLines(text, true);
        ExpectExactLines(lines, model, Escape::kLossless);
        EXPECT_EQ(rows.count(Tree::root + "/.snapshot"), 0u);
        EXPECT_EQ(rows.count(Tree::root + "/a/.snapshot"), 0u);
        ASSERT_EQ(rows.count(Tree::long_path), 1u);
        EXPECT_GT(Tree::long_path.size(), 4096u);
        EXPECT_EQ(rows.at(Tree::root + "/big")[15], "100000");
        // .snapshot is filtered but still one of a's 23 entries (b, 4 dot
        // and plain files, 16 bytes-*, the odd directory, .snapshot): the
        // model agrees, this pins the number so a model bug cannot hide it
        EXPECT_EQ(rows.at(Tree::root + "/a")[15], "23");
        // the same walk at any thread count gives the same bytes
        if (first.empty()) first = lines;
        else EXPECT_TRUE(lines == first) << "rows differ from the 1-thread run";
    }
}

TEST_F(E2E, SnapshotsAreWalkedWhenSkippingIsOff) {
    std::string out = work_ + "/s.csv";
    auto r = RunChild({EnginePath(), "-q", "-c",
                       Config(Pipeline("  skip_snapshots: false\n", CsvSink("inv", out))),
                       Tree::root});
    ASSERT_EQ(r.status, 0) << r.err;
    auto rows = Rows(ReadFile(out));
    ExpectMatchesModel(rows, ModelOf({Tree::root}, ModelOptions()));
    EXPECT_EQ(rows.count(Tree::root + "/.snapshot/hourly/old.txt"), 1u);
    EXPECT_EQ(rows.count(Tree::root + "/a/.snapshot/nested.txt"), 1u);
}

TEST_F(E2E, OtherSnapshotNamesAreConfigurable) {
    // snapshot_names replaces the list: .snapshot is walked, "b" is not
    std::string out = work_ + "/n.csv";
    auto r = RunChild({EnginePath(), "-q", "-c",
                       Config(Pipeline("  snapshot_names: [b, .zfs]\n", CsvSink("inv", out))),
                       Tree::root + "/a"});
    ASSERT_EQ(r.status, 0) << r.err;
    auto rows = Rows(ReadFile(out));
    ModelOptions o;
    o.skip_dirs = {"b", ".zfs"};
    ExpectMatchesModel(rows, ModelOf({Tree::root + "/a"}, o));
    EXPECT_EQ(rows.count(Tree::root + "/a/b"), 0u);
    EXPECT_EQ(rows.count(Tree::root + "/a/.snapshot/nested.txt"), 1u);
}

TEST_F(E2E, SeveralRootsAndAFileAsRoot) {
    std::string out = work_ + "/m.csv";
    std::vector<std::string> roots = {Tree::root + "/a", Tree::root + "/empty",
                                      Tree::dir + "/lonely.file"};
    std::vector<std::string> argv = {EnginePath(), "-q", "-c",
                                     Config(Pipeline("", CsvSink("inv", out)))};
    argv.insert(argv.end(), roots.begin(), roots.end());
    auto r = RunChild(argv);
    ASSERT_EQ(r.status, 0) << r.err;
    std::string text = ReadFile(out);
    auto rows = Rows(text);
    ModelOptions opt;
    opt.skip_dirs = {".snapshot"};
    auto model = ModelOf(roots, opt);
    ExpectMatchesModel(rows, model);
    ExpectExactLines(SortedLines(text, true), model, Escape::kLossless);
    // each root: depth -1, parent 0, no extension even for a file
    for (auto &root : roots) {
        ASSERT_EQ(rows.count(root), 1u) << root;
        EXPECT_EQ(rows.at(root)[1], "0") << root;
        EXPECT_EQ(rows.at(root)[2], "-1") << root;
        EXPECT_EQ(rows.at(root)[4], "") << root;
    }
    EXPECT_EQ(rows.at(Tree::dir + "/lonely.file")[15], "-1");
    EXPECT_EQ(rows.at(Tree::root + "/empty")[15], "0");
    EXPECT_EQ(rows.at(Tree::root + "/empty")[16], "0");
}

TEST_F(E2E, TrailingSlashesOfARootAreDropped) {
    std::string out = work_ + "/sl.csv";
    auto r = RunChild({EnginePath(), "-q", "-c", Config(Pipeline("", CsvSink("inv", out))),
                       Tree::root + "/a/b//"});
    ASSERT_EQ(r.status, 0) << r.err;
    ExpectMatchesModel(Rows(ReadFile(out)), {Tree::root + "/a/b"}, {".snapshot"});
}

// "/home" or "/home/" where /home is a symlink: the root is followed (as
// find -H does; pwalk walks it too), and the scan is the target's, under the
// name given: its row is the directory's stat, as for "/home/".  Nothing
// below the root is followed.  A dangling link root is the link: one row.
TEST_F(E2E, SymlinkRootIsItsTargetWithOrWithoutSlash) {
    std::string target = Tree::root + "/a/b";
    std::string link = work_ + "/lnk";
    ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
    std::string direct = work_ + "/direct.csv", via = work_ + "/via.csv";
    auto r = RunChild({EnginePath(), "-q", "-c", Config(Pipeline("", CsvSink("inv", direct))),
                       target});
    ASSERT_EQ(r.status, 0) << r.err;
    r = RunChild({EnginePath(), "-q", "-c", Config(Pipeline("", CsvSink("inv", via))),
                  link + "/"});
    ASSERT_EQ(r.status, 0) << r.err;
    std::string want = ReadFile(direct);
    for (size_t at; (at = want.find(target)) != std::string::npos;)
        want.replace(at, target.size(), link);
    auto want_lines = SortedLines(want, true), got_lines = SortedLines(ReadFile(via), true);
    EXPECT_GT(got_lines.size(), 1u);
    EXPECT_EQ(got_lines, want_lines);

    std::string plain = work_ + "/plain.csv";
    r = RunChild({EnginePath(), "-q", "-c", Config(Pipeline("", CsvSink("inv", plain))), link});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(SortedLines(ReadFile(plain), true), want_lines);
    ExpectMatchesModel(Rows(ReadFile(plain)), {link}, {".snapshot"});
    // pwalk's command line: the same (pwalk 3.0.0 also walks "lnk")
    r = RunChild({EnginePath(), "--NoSnap", "lnk"}, work_);
    ASSERT_EQ(r.status, 0) << r.err;
    auto compat = Rows(r.out, false);
    EXPECT_EQ(compat.size(), want_lines.size());
    ASSERT_EQ(compat.count("lnk"), 1u);
    EXPECT_EQ(compat.at("lnk")[11], "0040755");

    std::string one = work_ + "/one.csv";
    r = RunChild({EnginePath(), "-q", "-c", Config(Pipeline("", CsvSink("inv", one))),
                  Tree::root + "/dangling"});
    ASSERT_EQ(r.status, 0) << r.err;
    auto rows = Rows(ReadFile(one));
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows.at(Tree::root + "/dangling")[11], "0120777");
}

// Roots inside another root (or given twice, or reached through a symlink)
// add nothing: every entry is one row, as with the outer root alone.
TEST_F(E2E, OverlappingRootsGiveEachEntryOnce) {
    std::string link = work_ + "/to_b";
    ASSERT_EQ(symlink((Tree::root + "/a/b").c_str(), link.c_str()), 0);
    auto alone = RunChild({EnginePath(), "--NoSnap", Tree::root + "/a"});
    ASSERT_EQ(alone.status, 0) << alone.err;
    auto r = RunChild({EnginePath(), "--NoSnap", Tree::root + "/a/b", Tree::root + "/a",
                       Tree::root + "/a/b/report.tar.gz", link, Tree::root + "/a/"});
    ASSERT_EQ(r.status, 0) << r.err;
    auto want = SortedLines(alone.out, false), got = SortedLines(r.out, false);
    EXPECT_EQ(std::adjacent_find(got.begin(), got.end()), got.end()) << "a row twice";
    EXPECT_EQ(got, want);
    // a pipeline (lossless names): every row as lstat says, none twice
    std::string out = work_ + "/overlap.csv";
    r = RunChild({EnginePath(), "-q", "-c", Config(Pipeline("", CsvSink("inv", out))),
                  Tree::root + "/a/b/", link, Tree::root + "/a", Tree::root + "/a/b"});
    ASSERT_EQ(r.status, 0) << r.err;
    got = SortedLines(ReadFile(out), true);
    EXPECT_EQ(std::adjacent_find(got.begin(), got.end()), got.end()) << "a row twice";
    ModelOptions o;
    o.skip_dirs = {".snapshot"};
    ExpectMatchesModel(Rows(ReadFile(out)), ModelOf({Tree::root + "/a"}, o));
}

// pwalk's --depth N, side by side with John Dey's pwalk 3.0.0: on this tree
//   dt/{f0, e1/, d1/{f1, ln -> d2, d2/{f2, d3/{f3}}}}
// "pwalk --depth 1 dt" gives the rows dt, dt/f0, dt/e1, dt/d1, dt/d1/f1 and
// dt/d1/ln (directories down to level 1 are read; d2, a directory at level 2,
// gets no row but is counted in d1's pw_fcount: 3); --depth 2 adds dt/d1/d2
// and dt/d1/d2/f2 (d3 no row); --depth 3 gives everything.  The engine's
// output was compared with pwalk's byte for byte except st_atime (pwalk
// moves directories' atimes).  Set PWALK_DEY_BIN to a pwalk 3.0.0 binary
// (bazel test --test_env=PWALK_DEY_BIN=...) to repeat the comparison here.
TEST_F(E2E, DepthIsPwalksDepth) {
    const std::string t = work_ + "/dt";
    for (const char *d : {"", "/d1", "/d1/d2", "/d1/d2/d3", "/e1"})
        ASSERT_EQ(mkdir((t + d).c_str(), 0755), 0);
    MakeFile(t + "/f0", 2);
    MakeFile(t + "/d1/f1", 3);
    MakeFile(t + "/d1/d2/f2", 4);
    MakeFile(t + "/d1/d2/d3/f3", 5);
    ASSERT_EQ(symlink("d2", (t + "/d1/ln").c_str()), 0);
    const std::map<int, std::set<std::string>> dey = {
        {1, {"dt", "dt/f0", "dt/e1", "dt/d1", "dt/d1/f1", "dt/d1/ln"}},
        {2, {"dt", "dt/f0", "dt/e1", "dt/d1", "dt/d1/f1", "dt/d1/ln", "dt/d1/d2",
             "dt/d1/d2/f2"}},
        {3, {"dt", "dt/f0", "dt/e1", "dt/d1", "dt/d1/f1", "dt/d1/ln", "dt/d1/d2",
             "dt/d1/d2/f2", "dt/d1/d2/d3", "dt/d1/d2/d3/f3"}},
    };
    const char *dey_bin = getenv("PWALK_DEY_BIN");
    for (auto &kv : dey) {
        const std::string n = std::to_string(kv.first);
        SCOPED_TRACE("--depth " + n);
        auto r = RunChild({EnginePath(), "--depth", n, "dt"}, work_);
        ASSERT_EQ(r.status, 0) << r.err;
        // like pwalk, nothing on stderr when all went well (no summary line
        // in a cron job's mail); UnreadableDirectoryAsUnprivilegedUser checks
        // that it still speaks when something went wrong
        EXPECT_EQ(r.err, "");
        auto rows = Rows(r.out, false);
        std::set<std::string> paths;
        for (auto &row : rows) paths.insert(row.first);
        EXPECT_EQ(paths, kv.second);
        EXPECT_EQ(rows.at("dt/d1")[15], "3");  // d2 counted, with or without a row
        ModelOptions o;
        o.max_depth = kv.first;
        std::map<std::string, Expect> abs, rel;
        Model(t, o, &abs);
        for (auto &m : abs) rel["dt" + m.first.substr(t.size())] = m.second;
        ExpectExactLines(SortedLines(r.out, false), rel, Escape::kDey);
        // the pipeline's max_depth means the same
        std::string out = work_ + "/dt" + n + ".csv";
        auto p = RunChild({EnginePath(), "-q", "-c",
                           Config(Pipeline("  max_depth: " + n + "\n", CsvSink("inv", out))),
                           "dt", "--set", "inv.escape=dey", "--set", "inv.header=false"},
                          work_);
        ASSERT_EQ(p.status, 0) << p.err;
        EXPECT_EQ(SortedLines(ReadFile(out), false), SortedLines(r.out, false));
        if (dey_bin && *dey_bin) {
            auto d = RunChild({dey_bin, "--depth", n, "dt"}, work_);
            auto no_atime = [](const std::string &text) {
                std::vector<std::string> lines;
                for (auto &l : SortedLines(text, false)) {
                    size_t a = 0;
                    for (int i = 0; i < 12; i++) a = l.find(',', a) + 1;
                    lines.push_back(l.substr(0, a) + l.substr(l.find(',', a)));
                }
                return lines;
            };
            EXPECT_EQ(no_atime(r.out), no_atime(d.out)) << "against " << dey_bin;
        }
    }
}

TEST_F(E2E, MaxDepthMatchesModel) {
    // pwalk's --depth N (DepthIsPwalksDepth): directories down to N levels
    // below a root are read; the directories at level N+1 get no row.
    for (int depth : {1, 2, 3}) {
        SCOPED_TRACE("max_depth " + std::to_string(depth));
        std::string out = work_ + "/d" + std::to_string(depth) + ".csv";
        auto r = RunChild({EnginePath(), "-q", "-c",
                           Config(Pipeline("  max_depth: " + std::to_string(depth) + "\n",
                                           CsvSink("inv", out))),
                           Tree::root});
        ASSERT_EQ(r.status, 0) << r.err;
        auto rows = Rows(ReadFile(out));
        ModelOptions o;
        o.skip_dirs = {".snapshot"};
        o.max_depth = depth;
        ExpectMatchesModel(rows, ModelOf({Tree::root}, o));
        // pwalk's --depth N: files N+1 levels below the root (row depth N)
        for (auto &kv : rows) EXPECT_LE(std::stoi(kv.second[2]), depth) << kv.first;
    }
    // --depth on the command line overrides the file's max_depth
    std::string out = work_ + "/dd.csv";
    auto r = RunChild({EnginePath(), "-q", "-c",
                       Config(Pipeline("  max_depth: 3\n", CsvSink("inv", out))), "--depth",
                       "1", Tree::root});
    ASSERT_EQ(r.status, 0) << r.err;
    ModelOptions o;
    o.skip_dirs = {".snapshot"};
    o.max_depth = 1;
    ExpectMatchesModel(Rows(ReadFile(out)), ModelOf({Tree::root}, o));
}

TEST_F(E2E, ExcludeGlobsAndPathsMatchModel) {
    // a path (the directory and everything under it), a glob on names
    // (files too), and a glob matching 10 of the 100k names
    const std::string path = Tree::root + "/a/b";
    auto excluded = [&](const std::string &full, const std::string &name) {
        return full == path || fnmatch("*.img", name.c_str(), 0) == 0 ||
               fnmatch("f1234?", name.c_str(), 0) == 0;
    };
    ModelOptions o;
    o.skip_dirs = {".snapshot"};
    o.excluded = excluded;
    auto model = ModelOf({Tree::root}, o);
    ASSERT_EQ(model.count(path), 0u);
    ASSERT_EQ(model.count(Tree::root + "/big/f12345"), 0u);

    // in the pipeline file
    std::string out = work_ + "/x.csv";
    auto r = RunChild({EnginePath(), "-q", "-c",
                       Config(Pipeline("  exclude: ['" + path + "', '*.img', 'f1234?']\n",
                                       CsvSink("inv", out))),
                       Tree::root});
    ASSERT_EQ(r.status, 0) << r.err;
    auto rows = Rows(ReadFile(out));
    ExpectMatchesModel(rows, model);
    EXPECT_EQ(rows.at(Tree::root + "/big")[15], "100000");  // still counted

    // and as pwalk's --exclude FILE (one per line; # comments)
    std::string ex = work_ + "/exclude.txt";
    WriteFile(ex, "# pwalk exclude file\n" + path + "\n*.img\nf1234?\n");
    std::string out2 = work_ + "/x2.csv";
    r = RunChild({EnginePath(), "-q", "-c", Config(Pipeline("", CsvSink("inv", out2))),
                  "--exclude", ex, Tree::root});
    ASSERT_EQ(r.status, 0) << r.err;
    ExpectMatchesModel(Rows(ReadFile(out2)), model);
}

TEST_F(E2E, TwoSinksOneWalkSameRows) {
    std::string a = work_ + "/a.csv", b = work_ + "/b.csv";
    auto r = RunChild({EnginePath(), "-q", "-c",
                       Config(Pipeline("", CsvSink("one", a) + CsvSink("two", b))),
                       Tree::root});
    ASSERT_EQ(r.status, 0) << r.err;
    std::string ta = ReadFile(a), tb = ReadFile(b);
    EXPECT_EQ(ta.substr(0, ta.find('\n') + 1), kHeader);
    EXPECT_EQ(tb.substr(0, tb.find('\n') + 1), kHeader);
    auto la = SortedLines(ta, true), lb = SortedLines(tb, true);
    EXPECT_TRUE(la == lb) << la.size() << " vs " << lb.size() << " rows";
    EXPECT_GT(la.size(), 100000u);
    ModelOptions opt;
    opt.skip_dirs = {".snapshot"};
    ExpectMatchesModel(Rows(ta), ModelOf({Tree::root}, opt));
}

TEST_F(E2E, StderrIsOneSummaryLineWhenNotATerminal) {
    // no progress line (stderr is a file here), just the summary
    std::string out = work_ + "/q.csv";
    auto r = RunChild({EnginePath(), "-c", Config(Pipeline("", CsvSink("inv", out))),
                       Tree::root + "/a"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
    EXPECT_EQ(r.err.back(), '\n');
    EXPECT_EQ(r.out, "");
}

// A report written inside the scanned tree (`bash scripts/scan.sh .`): the
// scan's own files -- every sink's temporary, the error file's, a plugin's
// summary and a change log -- are left out by device and inode and counted
// as filtered (own-output); every other entry is one row matching lstat.
TEST_F(E2E, OutputsInsideTheScannedTreeAreLeftOut) {
    std::string tree = work_ + "/tree", out = tree + "/out";
    ASSERT_EQ(mkdir(tree.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(out.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((tree + "/data").c_str(), 0755), 0);
    for (int i = 0; i < 50; i++) WriteFile(tree + "/data/f" + std::to_string(i), "data");
    WriteFile(out + "/old.txt", "12345");  // an ordinary file beside the outputs
    const std::vector<std::string> outputs = {"scan.csv", "scan.csv.gz", "errors.csv",
                                              "summary.txt", "changes.csv"};
    std::string p = Config(
        "version: 1\nallow_mutation: true\nscan:\n  threads: 2\n  errors: '" + out +
        "/errors.csv'\nsinks:\n" + CsvSink("inv", out + "/scan.csv") +
        CsvSink("gz", out + "/scan.csv.gz", "csv-gzip") +
        CsvSink("summary", out + "/summary.txt", "template") +
        "  - name: fix\n    plugin: repair-action\n    options: {dry_run: true, log: '" + out +
        "/changes.csv'}\n");
    auto r = RunChild({EnginePath(), "-c", p, tree});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find(" filtered (own-output 5)"), std::string::npos) << r.err;

    // the published outputs are the temporaries renamed: their inodes
    std::set<std::string> own_inodes;
    for (auto &name : outputs) {
        struct stat st;
        ASSERT_EQ(lstat((out + "/" + name).c_str(), &st), 0) << name;
        own_inodes.insert(std::to_string(st.st_ino));
    }
    for (const char *report : {"scan.csv", "scan.csv.gz"}) {
        SCOPED_TRACE(report);
        std::string text = ReadFile(out + "/" + report);
        if (std::string(report) == "scan.csv.gz") {
            auto z = RunChild({"/bin/sh", "-c", "gzip -dc '" + out + "/scan.csv.gz'"});
            ASSERT_EQ(z.status, 0) << z.err;
            text = z.out;
        }
        EXPECT_EQ(text.find(".pwalk-tmp-"), std::string::npos);
        EXPECT_EQ(text.find(".tmp."), std::string::npos);
        auto rows = Rows(text);
        for (auto &kv : rows)
            EXPECT_EQ(own_inodes.count(kv.second[0]), 0u) << "a row for an output: " << kv.first;
        // every other entry as lstat says; out/ itself changed when the
        // outputs were renamed into it, so its row is checked apart
        ModelOptions o;
        o.excluded = [&](const std::string &full, const std::string &name) {
            return full.compare(0, out.size() + 1, out + "/") == 0 &&
                   std::find(outputs.begin(), outputs.end(), name) != outputs.end();
        };
        auto model = ModelOf({tree}, o);
        ASSERT_EQ(rows.count(out), 1u);
        auto out_row = rows.at(out);
        rows.erase(out);
        model.erase(out);
        ExpectMatchesModel(rows, model);
        EXPECT_EQ(out_row[15], "6");  // pw_fcount: five outputs' names and old.txt
        EXPECT_EQ(out_row[16], "5");  // pw_dirsum: old.txt only
    }
}

TEST_F(E2E, SetOverridesASinkOption) {
    std::string out = work_ + "/set.csv";
    auto r = RunChild({EnginePath(), "-q", "-c",
                       Config(Pipeline("", CsvSink("inv", work_ + "/x.csv"))), "--set",
                       "inv.path=" + out, "--set", "inv.header=false", Tree::root + "/a/b"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_FALSE(Exists(work_ + "/x.csv"));
    auto rows = Rows(ReadFile(out), false);
    ExpectMatchesModel(rows, {Tree::root + "/a/b"}, {});
}

// pwalk's command line: CSV on stdout in pwalk's bytes, compared with the
// bytes the spec's dey rule gives for a tame tree (relative root, as site
// scripts run it).
TEST_F(E2E, PwalkCompatibleCommandLineExactBytes) {
    const std::string t = work_ + "/tame";
    ASSERT_EQ(mkdir(t.c_str(), 0755), 0);
    for (const char *d : {"/sub.d", "/sub.d/deeper", "/.snapshot", "/sub.d/.snapshot"})
        ASSERT_EQ(mkdir((t + d).c_str(), 0755), 0);
    MakeFile(t + "/plain.txt", 3);
    MakeFile(t + "/co,mma.csv", 4);
    MakeFile(t + "/quo\"te.txt", 5);
    MakeFile(t + "/back\\slash.h", 6);
    MakeFile(t + "/ctl\x01\x1fx.lo\x02g", 7);
    MakeFile(t + "/nl\ny.txt", 8);
    MakeFile(t + "/raw\xff\x7f" "byte", 9);
    MakeFile(t + "/.hidden", 10);
    MakeFile(t + "/a.", 11);
    MakeFile(t + "/sub.d/f.tar.gz", 1000);
    MakeFile(t + "/sub.d/deeper/x.c", 2);
    MakeFile(t + "/.snapshot/hourly.txt", 12);
    MakeFile(t + "/sub.d/.snapshot/s.txt", 13);
    ASSERT_EQ(symlink("plain.txt", (t + "/link").c_str()), 0);

    auto expect_bytes = [&](const std::string &stdout_text, const ModelOptions &o,
                            bool header) {
        std::map<std::string, Expect> abs, rel;
        Model(t, o, &abs);
        // rows name paths as the root was given on the command line: "tame"
        for (auto &kv : abs) rel["tame" + kv.first.substr(t.size())] = kv.second;
        if (header) {
            ASSERT_GE(stdout_text.size(), sizeof kHeader - 1);
            EXPECT_EQ(stdout_text.substr(0, sizeof kHeader - 1), kHeader);
        } else {
            EXPECT_NE(stdout_text.substr(0, 6), "inode,");
        }
        ExpectExactLines(SortedLines(stdout_text, header), rel, Escape::kDey);
    };

    {   // --header; snapshots walked (pwalk skips them only with --NoSnap);
        // the trailing slash is dropped
        auto r = RunChild({EnginePath(), "--header", "tame/"}, work_);
        ASSERT_EQ(r.status, 0) << r.err;
        expect_bytes(r.out, ModelOptions(), true);
        EXPECT_NE(r.out.find("\"tame/.snapshot/hourly.txt\""), std::string::npos);
        // the names that lost bytes are reported
        EXPECT_NE(r.err.find("control bytes removed from name"), std::string::npos) << r.err;
    }
    {   // --NoSnap; no header by default; -x on one filesystem changes nothing
        auto r = RunChild({EnginePath(), "--NoSnap", "-x", "--threads", "3", "tame"}, work_);
        ASSERT_EQ(r.status, 0) << r.err;
        ModelOptions o;
        o.skip_dirs = {".snapshot"};
        expect_bytes(r.out, o, false);
        EXPECT_EQ(r.out.find(".snapshot"), std::string::npos);
    }
    {   // --depth and --exclude FILE (a path and a glob)
        WriteFile(work_ + "/ex", "tame/sub.d/deeper\n*.csv\n");
        auto r = RunChild({EnginePath(), "--NoSnap", "--exclude", work_ + "/ex", "tame"}, work_);
        ASSERT_EQ(r.status, 0) << r.err;
        ModelOptions o;
        o.skip_dirs = {".snapshot"};
        o.excluded = [&](const std::string &full, const std::string &name) {
            return full == t + "/sub.d/deeper" || fnmatch("*.csv", name.c_str(), 0) == 0;
        };
        expect_bytes(r.out, o, false);

        r = RunChild({EnginePath(), "--depth", "2", "tame"}, work_);
        ASSERT_EQ(r.status, 0) << r.err;
        ModelOptions d;
        d.max_depth = 2;
        expect_bytes(r.out, d, false);
    }
    {   // a hand-checked line, so the test's own formatter is checked too
        auto r = RunChild({EnginePath(), "tame/sub.d/f.tar.gz"}, work_);
        ASSERT_EQ(r.status, 0) << r.err;
        struct stat st;
        ASSERT_EQ(lstat((t + "/sub.d/f.tar.gz").c_str(), &st), 0);
        char want[512];
        snprintf(want, sizeof want,
                 "%llu,0,-1,\"tame/sub.d/f.tar.gz\",\"\",%u,%u,1000,%llu,%lld,1,\"0100644\","
                 "%lld,%lld,%lld,-1,0\n",
                 (unsigned long long)st.st_ino, (unsigned)st.st_uid, (unsigned)st.st_gid,
                 (unsigned long long)st.st_dev, (long long)st.st_blocks,
                 (long long)st.st_atime, (long long)st.st_mtime, (long long)st.st_ctime);
        EXPECT_EQ(r.out, want);
    }
}

TEST_F(E2E, OneFileSystemStaysOnTheRootsDevice) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
    std::string fs = work_ + "/fs", mnt = fs + "/mnt";
    ASSERT_EQ(mkdir(fs.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
    MakeFile(fs + "/here.txt", 5);
    ASSERT_EQ(mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m"), 0);
    MountGuard guard{mnt};
    ASSERT_EQ(mkdir((mnt + "/sub").c_str(), 0755), 0);
    MakeFile(mnt + "/sub/there.txt", 6);

    std::string out = work_ + "/ofs.csv";
    auto r = RunChild({EnginePath(), "-q", "-c",
                       Config(Pipeline("  one_file_system: true\n", CsvSink("inv", out))), fs});
    ASSERT_EQ(r.status, 0) << r.err;
    ModelOptions o;
    o.one_file_system = true;
    auto rows = Rows(ReadFile(out));
    ExpectMatchesModel(rows, ModelOf({fs}, o));
    EXPECT_EQ(rows.count(mnt), 0u);
    // the mount point is one of fs's entries, but its size is another
    // filesystem's and stays out of the sum
    EXPECT_EQ(rows.at(fs)[15], "2");
    EXPECT_EQ(rows.at(fs)[16], "5");

    // without it the other filesystem is walked, with its own st_dev
    std::string out2 = work_ + "/all.csv";
    r = RunChild({EnginePath(), "-q", "-c", Config(Pipeline("", CsvSink("inv", out2))), fs});
    ASSERT_EQ(r.status, 0) << r.err;
    auto all = Rows(ReadFile(out2));
    ExpectMatchesModel(all, ModelOf({fs}, ModelOptions()));
    ASSERT_EQ(all.count(mnt + "/sub/there.txt"), 1u);
    EXPECT_NE(all.at(mnt)[8], all.at(fs)[8]);

    // pwalk's -x
    r = RunChild({EnginePath(), "-x", fs});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(SortedLines(r.out, false).size(), 2u) << r.out;  // fs and here.txt
}

TEST_F(E2E, CompressedSinksDecodeToTheSameRows) {
    std::string plain = work_ + "/r.csv";
    std::string sinks = CsvSink("plain", plain) + CsvSink("z", work_ + "/r.csv.zst", "csv-zstd") +
                        CsvSink("g", work_ + "/r.csv.gz", "csv-gzip") +
                        CsvSink("l", work_ + "/r.csv.lz4", "csv-lz4") +
                        // libzstd's own threads behind each worker's context
                        CsvSink("zw", work_ + "/rw.csv.zst", "csv-zstd", ", workers: 2, level: 5");
    auto r = RunChild({EnginePath(), "-q", "-c", Config(Pipeline("", sinks)), Tree::root});
    ASSERT_EQ(r.status, 0) << r.err;
    auto want = ParseCsv(ReadFile(plain));
    std::sort(want.begin() + 1, want.end());
    for (auto tool : {std::vector<std::string>{"/usr/bin/zstd", "-dc", work_ + "/r.csv.zst"},
                      std::vector<std::string>{"/usr/bin/zstd", "-dc", work_ + "/rw.csv.zst"},
                      std::vector<std::string>{"/usr/bin/gzip", "-dc", work_ + "/r.csv.gz"},
                      std::vector<std::string>{"/usr/bin/lz4", "-dc", work_ + "/r.csv.lz4"}}) {
        auto d = RunChild(tool);
        ASSERT_EQ(d.status, 0) << tool[0] << ": " << d.err;
        auto got = ParseCsv(d.out);
        ASSERT_FALSE(got.empty());
        EXPECT_EQ(got[0], want[0]) << "header first in " << tool[0];
        std::sort(got.begin() + 1, got.end());
        EXPECT_EQ(got, want) << tool[0];
    }
    EXPECT_EQ(RunChild({"/usr/bin/zstd", "-tq", work_ + "/r.csv.zst"}).status, 0);
    EXPECT_EQ(RunChild({"/usr/bin/zstd", "-tq", work_ + "/rw.csv.zst"}).status, 0);
    EXPECT_EQ(RunChild({"/usr/bin/gzip", "-t", work_ + "/r.csv.gz"}).status, 0);
}

TEST_F(E2E, BadInputIsExitTwoAndWritesNothing) {
    std::string out = work_ + "/never.csv";
    std::string errs = work_ + "/never-errors.csv";
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    std::string bad_yaml = Config("version: 1\nscan:\n  threads: [\nsinks: []\n");
    std::string tab_yaml = Config("version: 1\nscan:\n\tthreads: 2\nsinks: []\n");
    std::string unknown_key = Config(Pipeline("  thread: 4\n", CsvSink("inv", out)));
    std::string bad_plugin = Config(Pipeline("", CsvSink("inv", out, "no-such-plugin")));
    std::string bad_level = Config(Pipeline("", CsvSink("z", out, "csv-zstd", ", level: 99")));
    std::string bad_escape = Config(Pipeline("", CsvSink("inv", out, "csv", ", escape: ascii")));
    std::string bad_workers = Config(Pipeline("", CsvSink("z", out, "csv-zstd", ", workers: -1")));
    std::string gzip_workers =
        Config(Pipeline("", CsvSink("g", out, "csv-gzip", ", workers: 2")));
    // one file for two outputs: the later rename would silently win
    std::string same_path = Config(Pipeline("", CsvSink("one", out) + CsvSink("two", out)));
    std::string same_via_dot =
        Config(Pipeline("", CsvSink("one", out) + CsvSink("two", work_ + "/./never.csv")));
    std::string path_is_errors =
        Config(Pipeline("  errors: '" + errs + "'\n", CsvSink("inv", errs)));
    std::string good = Config(Pipeline("  errors: '" + errs + "'\n", CsvSink("inv", out)));
    std::vector<Case> cases = {
        {{"-c", good, "/nonexistent/root"}, "/nonexistent/root: No such file or directory"},
        // a good root first: every root is checked before anything starts
        {{"-c", good, Tree::root + "/a", "/nonexistent/second"}, "/nonexistent/second"},
        {{"-c", bad_yaml, Tree::root}, bad_yaml + ":"},
        {{"-c", tab_yaml, Tree::root}, tab_yaml + ":"},
        {{"-c", unknown_key, Tree::root}, unknown_key + ":4:3: unknown key 'thread'"},
        {{"-c", bad_plugin, Tree::root}, "plugin 'no-such-plugin' not found"},
        {{"-c", bad_level, Tree::root}, "level"},
        {{"-c", bad_workers, Tree::root}, "workers"},
        {{"-c", gzip_workers, Tree::root}, "unknown option 'workers' for plugin 'csv-gzip'"},
        {{"-c", same_path, Tree::root}, "sink 'two': path '" + out + "' is also an output of sink 'one'"},
        {{"-c", same_via_dot, Tree::root}, "is also an output of sink 'one'"},
        {{"-c", path_is_errors, Tree::root}, "sink 'inv': path '" + errs + "' is also the scan's errors file"},
        {{"-c", bad_escape, Tree::root}, "escape"},
        {{"-c", good, "--threads", "0", Tree::root}, "--threads: '0'"},
        {{"-c", good, "--threads", "x", Tree::root}, "--threads: 'x'"},
        {{"-c", good, "--threads", "-3", Tree::root}, "--threads: '-3'"},
        {{"-c", good, "--depth", "-1", Tree::root}, "--depth: '-1'"},
        {{"-c", work_ + "/missing.yaml", Tree::root}, "missing.yaml: No such file or directory"},
        {{"-c", good, "--set", "nosink.path=x", Tree::root}, "no sink named 'nosink'"},
        {{"--bogus", Tree::root}, "unknown option '--bogus'"},
        {{"-c", good, "--header", Tree::root}, "--header is pwalk's option (no -c)"},
        // checkpoints (issue 19): bad durations name the option and the value
        {{"-c", good, "--time-limit", "3h50", Tree::root},
         "--time-limit: '3h50' is not a duration above zero, such as 90s, 5m, 3h50m"},
        {{"-c", good, "--time-limit", "0", Tree::root}, "--time-limit: '0' is not a duration"},
        {{"-c", good, "--checkpoint-every", "5 min", Tree::root},
         "--checkpoint-every: '5 min' is not a duration"},
        {{"-c", good, "--set", "scan.checkpoint_every=-1s", Tree::root},
         "'scan.checkpoint_every' must be a duration above zero"},
        {{"-c", good, "--checkpoint", "", Tree::root}, "--checkpoint: empty file name"},
        {{"-c", good, "--resume", "", Tree::root}, "--resume: empty file name"},
        {{"-c", good, "--checkpoint", work_ + "/a.ckp", "--resume", work_ + "/b.ckp", Tree::root},
         "a resumed scan keeps its journal; leave --checkpoint out"},
        {{"-c", good, "--resume", work_ + "/none.ckp", Tree::root},
         "checkpoint '" + work_ + "/none.ckp': No such file or directory"},
        {{"--checkpoint", work_ + "/c.ckp", Tree::root},
         "--checkpoint needs -c PIPELINE with a file output"},
        // stdout cannot be cut back and continued: refused before anything
        {{"-c", good, "--set", "inv.path=-", "--checkpoint", work_ + "/d.ckp", Tree::root},
         "sink 'inv': path '-' (stdout) cannot be checkpointed; write it to a file"},
        {{"-c", good, "--set", "scan.errors=-", "--checkpoint", work_ + "/e.ckp", Tree::root},
         "scan.errors '-' (stdout) cannot be checkpointed; write it to a file"},
        {{"-c", good, "--set", "scan.time_limit=1h", Tree::root},
         "scan.time_limit needs scan.checkpoint (--checkpoint FILE)"},
        // pwalk's command line: nothing may reach stdout either
        {{"/nonexistent/root"}, "/nonexistent/root"},
        {{"--threads", "lots", Tree::root}, "--threads: 'lots'"},
        {{"--exclude", work_ + "/no-such-exclude-file", Tree::root}, "no-such-exclude-file"},
    };
    for (auto &c : cases) {
        std::vector<std::string> argv = {EnginePath()};
        argv.insert(argv.end(), c.args.begin(), c.args.end());
        auto r = RunChild(argv, work_);
        EXPECT_EQ(r.status, 2) << c.message << "\n" << r.err;
        EXPECT_NE(r.err.find(c.message), std::string::npos) << "want '" << c.message
                                                            << "' in: " << r.err;
        EXPECT_EQ(r.out, "") << c.message;
        EXPECT_FALSE(Exists(out)) << c.message;
        EXPECT_FALSE(Exists(errs)) << c.message;
        for (auto &n : ListDir(work_)) EXPECT_EQ(n.find("pwalk-tmp"), std::string::npos) << n;
    }
    // YAML errors name file:line:col
    for (auto &f : {bad_yaml, tab_yaml, unknown_key}) {
        auto r = RunChild({EnginePath(), "-c", f, Tree::root}, work_);
        EXPECT_TRUE(HasFileLineCol(r.err, f)) << r.err;
    }
    std::string automatic =
        Config("version: 1\nscan: {threads: auto}\nsinks:\n" + CsvSink("inv", out));
    auto slurm = RunChild({EnginePath(), "-c", automatic, Tree::root}, work_, -1,
                          {"SLURM_CPUS_ON_NODE=garbage", "SLURM_CPUS_PER_TASK="});
    EXPECT_EQ(slurm.status, 2);
    EXPECT_NE(slurm.err.find("SLURM_CPUS_ON_NODE='garbage'"), std::string::npos) << slurm.err;
    EXPECT_FALSE(Exists(out));
}

TEST_F(E2E, HelpVersionDescribe) {
    auto h = RunChild({EnginePath(), "--help"});
    EXPECT_EQ(h.status, 0);
    EXPECT_NE(h.out.find("Usage: pwalk-engine -c PIPELINE.yaml"), std::string::npos);
    for (auto opt : {"--checkpoint FILE", "--checkpoint-every DURATION", "--time-limit DURATION",
                     "--resume FILE", "75 suspended at a checkpoint"})
        EXPECT_NE(h.out.find(opt), std::string::npos) << opt;
    auto v = RunChild({EnginePath(), "--version"});
    EXPECT_EQ(v.status, 0);
    EXPECT_NE(v.out.find("plugin ABI 1."), std::string::npos);
    for (std::string plugin : {"csv", "csv-zstd"}) {
        auto d = RunChild({EnginePath(), "--describe", plugin});
        EXPECT_EQ(d.status, 0) << d.err;
        for (auto opt : {"path", "header", "escape"})
            EXPECT_NE(d.out.find(opt), std::string::npos) << plugin << ": " << opt;
    }
    EXPECT_NE(RunChild({EnginePath(), "--describe", "csv-zstd"}).out.find("level"),
              std::string::npos);
    auto nd = RunChild({EnginePath(), "--describe", "no-such-plugin"});
    EXPECT_EQ(nd.status, 2);
}

TEST_F(E2E, SigkillLeavesNoFinalReportAndNextRunWorks) {
    // (the compressing sinks: tests/faults/signal_test.cc, with a slowed scan)
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
    // kill as soon as the temporary file exists (10 s cap: the machine may
    // be busy with other test targets)
    bool saw_tmp = false, finished = false;
    int st = 0;
    for (int i = 0; i < 10000 && !saw_tmp; i++) {
        for (auto &n : ListDir(work_)) saw_tmp |= n.rfind(".k.csv.pwalk-tmp-", 0) == 0;
        if (saw_tmp) break;
        // the whole scan fit between two polls (a loaded machine): it must
        // then have finished normally; the kill case is signal_test's too
        if (waitpid(pid, &st, WNOHANG) == pid) {
            ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "status " << st;
            finished = true;
            break;
        }
        usleep(1000);
    }
    if (!finished) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        EXPECT_TRUE(saw_tmp);
        EXPECT_FALSE(Exists(out));
    }
    unlink(out.c_str());
    auto r = RunChild({EnginePath(), "-q", "-c", cfg, Tree::root + "/a"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(Exists(out));
}

// Runs the engine on the tree three times over and sends sig once it has
// opened its output: the scan must stop within seconds with 128 + sig,
// nothing published and no temporary left.
void ExpectSignalStops(const std::string &work, const std::string &cfg, const std::string &out,
                       const std::string &name, int sig) {
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        execl(EnginePath().c_str(), "pwalk-engine", "-q", "-c", cfg.c_str(), "--threads", "1",
              Tree::root.c_str(), Tree::root.c_str(), Tree::root.c_str(), (char *)nullptr);
        _exit(127);
    }
    // signal only once the engine has opened its output: a SIGINT in the
    // window between exec and the handler's installation kills any program
    // by the default action, which would test the kernel, not the engine
    bool saw_tmp = false;
    int st = 0;
    for (int i = 0; i < 10000 && !saw_tmp; i++) {
        for (auto &n : ListDir(work)) saw_tmp |= n.rfind("." + name + ".pwalk-tmp-", 0) == 0;
        if (saw_tmp) break;
        // on a loaded machine the whole scan can fit between two polls:
        // then it must have finished normally, with its report published
        if (waitpid(pid, &st, WNOHANG) == pid) {
            ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "status " << st;
            EXPECT_TRUE(Exists(out));
            return;
        }
        usleep(1000);
    }
    EXPECT_TRUE(saw_tmp);
    kill(pid, sig);
    // tests/faults/signal_test holds the engine to one second; here, with
    // other targets sharing the CPUs, allow five before calling it stuck
    pid_t done = 0;
    for (int i = 0; i < 5000 && (done = waitpid(pid, &st, WNOHANG)) == 0; i++) usleep(1000);
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        FAIL() << "still running 5 s after signal " << sig;
    }
    ASSERT_TRUE(WIFEXITED(st)) << "killed by signal " << WTERMSIG(st);
    int code = WEXITSTATUS(st);
    EXPECT_TRUE(code == 128 + sig || code == 0) << code;  // 0: it finished first
    if (code == 128 + sig) {
        EXPECT_FALSE(Exists(out));
        for (auto &n : ListDir(work)) EXPECT_EQ(n.find("pwalk-tmp"), std::string::npos) << n;
    }
}

TEST_F(E2E, SigintStopsPromptlyWithoutPublishing) {
    std::string out = work_ + "/i.csv";
    ExpectSignalStops(work_, Config(Pipeline("", CsvSink("inv", out))), out, "i.csv", SIGINT);
}

// SIGUSR1 suspends a scan that keeps a journal (tests/checkpoint); without
// scan.checkpoint there is nothing to resume from, so it is a stop.
TEST_F(E2E, SigusrWithoutACheckpointStops) {
    std::string out = work_ + "/u.csv";
    ExpectSignalStops(work_, Config(Pipeline("", CsvSink("inv", out))), out, "u.csv", SIGUSR1);
}

TEST_F(E2E, DiskFullIsExitThreeAndNoFinalFile) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
    std::string mnt = work_ + "/small";
    ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
    for (std::string plugin : {"csv", "csv-zstd", "csv-gzip", "csv-lz4"}) {
        SCOPED_TRACE(plugin);
        // 8k: even compressed, 100k rows do not fit
        ASSERT_EQ(mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=8k"), 0);
        MountGuard guard{mnt};
        std::string out = mnt + "/full.out";
        auto r = RunChild({EnginePath(), "-q", "-c",
                           Config(Pipeline("", CsvSink("inv", out, plugin))), Tree::root + "/big"});
        std::vector<std::string> left = ListDir(mnt);
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
    // a copy of the engine and its plugin that nobody can run (the build's
    // own copy is under /root, which nobody cannot enter); the engine finds
    // plugins/csv/csv.so next to itself
    std::string bin = work_ + "/bin";
    ASSERT_EQ(mkdir(bin.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((bin + "/plugins").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((bin + "/plugins/csv").c_str(), 0755), 0);
    ASSERT_EQ(RunChild({"/bin/cp", EnginePath(), bin + "/pwalk-engine"}).status, 0);
    ASSERT_EQ(RunChild({"/bin/cp", PluginDir() + "/csv/csv.so", bin + "/plugins/csv/csv.so"}).status, 0);
    ASSERT_EQ(chmod((bin + "/pwalk-engine").c_str(), 0755), 0);
    ASSERT_EQ(chmod((bin + "/plugins/csv/csv.so").c_str(), 0644), 0);
    std::string t = work_ + "/t";
    ASSERT_EQ(mkdir(t.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((t + "/locked").c_str(), 0700), 0);
    MakeFile(t + "/locked/secret", 3);
    ASSERT_EQ(mkdir((t + "/locked/inner").c_str(), 0755), 0);
    MakeFile(t + "/locked/inner/deeper", 3);
    // an unreadable directory with a hostile name: its error line must be
    // quoted and escaped like a filename
    const std::string hostile = t + "/lo,ck\"ed\n\xff";
    ASSERT_EQ(mkdir(hostile.c_str(), 0700), 0);
    MakeFile(hostile + "/x", 1);
    MakeFile(t + "/open.txt", 4);
    ASSERT_EQ(chmod((t + "/open.txt").c_str(), 0600), 0);  // lstat still works
    // nobody cannot use O_NOATIME on root's directories, so the scan's own
    // read of t moves t's atime (relatime: the first read after a change);
    // read it once here so the row and the model's lstat agree
    {
        DIR *d = opendir(t.c_str());
        ASSERT_NE(d, nullptr);
        while (readdir(d)) {
        }
        closedir(d);
    }
    std::string outdir = work_ + "/out";
    ASSERT_EQ(mkdir(outdir.c_str(), 0777), 0);
    ASSERT_EQ(chmod(outdir.c_str(), 0777), 0);
    std::string cfg = outdir + "/p.yaml";
    WriteFile(cfg, "version: 1\nscan: {threads: 2, errors: " + outdir + "/errors.csv}\nsinks:\n" +
                       CsvSink("inv", outdir + "/u.csv"));
    chmod(cfg.c_str(), 0644);
    auto r = RunChild({bin + "/pwalk-engine", "-c", cfg, t}, outdir, 65534);
    EXPECT_EQ(r.status, 1) << r.err;

    // the summary line counts the errors; each error has its own line
    bool summary = false;
    size_t lines = 0;
    for (size_t pos = 0; pos < r.err.size(); lines++) {
        size_t nl = r.err.find('\n', pos);
        std::string line = r.err.substr(pos, nl == std::string::npos ? nl : nl - pos);
        summary |= line.find("2 errors") != std::string::npos;
        pos = nl == std::string::npos ? r.err.size() : nl + 1;
    }
    EXPECT_TRUE(summary) << r.err;
    EXPECT_NE(r.err.find(t + "/locked: Permission denied"), std::string::npos) << r.err;
    EXPECT_LE(lines, 4u) << r.err;  // summary + two errors (+ nothing chatty)

    // rows: every entry nobody could see, each as lstat says; the locked
    // directories' rows with fcount -1 and dirsum 0, their contents absent
    std::string report = ReadFile(outdir + "/u.csv");
    EXPECT_EQ(report.substr(0, report.find('\n') + 1), kHeader);
    auto rows = Rows(report);
    std::map<std::string, Expect> model;
    Model(t, ModelOptions(), &model);
    for (auto it = model.begin(); it != model.end();) {
        bool inside = it->first.rfind(t + "/locked/", 0) == 0 ||
                      it->first.rfind(hostile + "/", 0) == 0;
        it = inside ? model.erase(it) : std::next(it);
    }
    for (auto &p : {t + "/locked", hostile}) {
        model.at(p).fcount = -1;
        model.at(p).dirsum = 0;
    }
    ExpectMatchesModel(rows, model);
    ASSERT_EQ(rows.count(t + "/locked"), 1u);
    EXPECT_EQ(rows.at(t + "/locked")[15], "-1");
    EXPECT_EQ(rows.at(t + "/locked")[16], "0");
    EXPECT_EQ(rows.count(t + "/locked/secret"), 0u);
    EXPECT_EQ(rows.count(t + "/open.txt"), 1u);
    EXPECT_EQ(rows.size(), 4u);

    // the error file: header, one line per unreadable directory
    std::string etext = ReadFile(outdir + "/errors.csv");
    EXPECT_TRUE(ValidUtf8(etext));
    auto errs = ParseCsv(etext);
    ASSERT_EQ(errs.size(), 3u) << etext;
    EXPECT_EQ(errs[0],
              (std::vector<std::string>{"path", "errno", "error", "operation", "kind"}));
    std::sort(errs.begin() + 1, errs.end(), [](auto &a, auto &b) { return a[0] > b[0]; });
    EXPECT_EQ(Unescape(errs[1][0]), t + "/locked");
    EXPECT_EQ(Unescape(errs[2][0]), hostile);
    for (size_t i = 1; i < errs.size(); i++) {
        ASSERT_EQ(errs[i].size(), 5u);
        EXPECT_EQ(errs[i][4], "error");  // exists and cannot be read: not vanished
        EXPECT_EQ(errs[i][1], "13");
        EXPECT_EQ(errs[i][2], "Permission denied");
        EXPECT_NE(errs[i][3].find("opendir"), std::string::npos) << errs[i][3];
    }
    // quoted, with " doubled and the newline and 0xff escaped
    EXPECT_NE(etext.find("\"" + t + "/lo,ck\"\"ed\\x0a\\xff\",13,"), std::string::npos) << etext;

    // pwalk's command line with --errors: the same, rows on stdout
    std::string efile = outdir + "/compat-errors.csv";
    auto c = RunChild({bin + "/pwalk-engine", "--errors", efile, t}, outdir, 65534);
    EXPECT_EQ(c.status, 1) << c.err;
    // compatibility mode is silent when all went well, not when entries
    // could not be read: the errors and the summary line are there
    EXPECT_NE(c.err.find("2 errors"), std::string::npos) << c.err;
    EXPECT_NE(c.err.find(t + "/locked: Permission denied"), std::string::npos) << c.err;
    EXPECT_EQ(SortedLines(c.out, false).size(), 4u) << c.out;
    // the same error lines (workers report them in whatever order they meet them)
    EXPECT_EQ(SortedLines(ReadFile(efile), false), SortedLines(etext, false));
}

}  // namespace

int main(int argc, char **argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new Tree);
    return RUN_ALL_TESTS();
}
