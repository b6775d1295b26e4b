// Trees users can make to break a scanner: deeper than any path the kernel
// accepts, names of the longest length and of every byte value, and parts
// (or the root) the scanning user may not read.
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace faults {
using namespace harness;
namespace {

// Depth of a row's path below root, as the report defines it: the root is
// -1, its entries 0, ...
int DepthOf(const std::string &path, const std::string &root)
{
    std::string rel = path.substr(root.size());
    return (int)std::count(rel.begin(), rel.end(), '/') - 1;
}

// ---- (b) 5000 levels, paths far beyond PATH_MAX ---------------------------

constexpr int kLevels = 5000;
const char kLevelName[] = "level-dir";  // 9 bytes: paths reach ~50 KB

// Make root/level-dir/level-dir/... kLevels deep with a file at the bottom
// and one every 1000 levels, without ever using a long path.
bool MakeDeepTree(const std::string &root)
{
    int fd = open(root.c_str(), O_RDONLY | O_DIRECTORY);
    for (int i = 0; i < kLevels && fd >= 0; i++) {
        if (i % 1000 == 0)
            close(openat(fd, "marker.txt", O_CREAT | O_WRONLY, 0644));
        if (mkdirat(fd, kLevelName, 0755) != 0)
            return false;
        int next = openat(fd, kLevelName, O_RDONLY | O_DIRECTORY);
        close(fd);
        fd = next;
    }
    if (fd < 0)
        return false;
    close(openat(fd, "bottom.txt", O_CREAT | O_WRONLY, 0644));
    close(fd);
    return true;
}

void CheckDeepScan(const std::string &root, const Result &r, const std::string &report)
{
    ASSERT_FALSE(r.signaled) << r.Describe();
    ASSERT_EQ(r.status, 0) << r.Describe();
    Summary s = ParseSummary(r.err);
    ASSERT_TRUE(s.found) << r.Describe();
    // root + kLevels directories + 5 markers + the bottom file
    const unsigned long long want = 1 + kLevels + kLevels / 1000 + 1;
    EXPECT_EQ(s.entries, want) << s.line;
    EXPECT_EQ(s.rows, want) << s.line;
    EXPECT_EQ(s.errors, 0u) << s.line;

    Csv csv = ReadCsv(report, kColumns);
    ASSERT_TRUE(csv.ok) << csv.problem;
    ASSERT_EQ(csv.rows.size(), want);
    std::vector<int> dirs_at_depth(kLevels + 1, 0);
    size_t longest = 0;
    int bottom_depth = -2;
    for (const auto &row : csv.rows) {
        std::string path;
        ASSERT_TRUE(Unescape(row[kFilename], &path));
        ASSERT_EQ(path.compare(0, root.size(), root), 0);
        int depth = DepthOf(path, root);
        ASSERT_EQ(row[kDepth], std::to_string(depth)) << "at path length " << path.size();
        longest = std::max(longest, path.size());
        std::string name = path.substr(path.rfind('/') + 1);
        if (name == kLevelName) {
            ASSERT_LT(depth, kLevels);
            dirs_at_depth[depth]++;
            // each level holds the next one (and maybe a marker)
            int want_fcount = depth == kLevels - 1 ? 1 : 1 + ((depth + 1) % 1000 == 0);
            EXPECT_EQ(row[kFcount], std::to_string(want_fcount)) << "depth " << depth;
        }
        if (name == "bottom.txt")
            bottom_depth = depth;
    }
    for (int d = 0; d < kLevels; d++)
        ASSERT_EQ(dirs_at_depth[d], 1) << "directory rows at depth " << d;
    EXPECT_EQ(bottom_depth, kLevels);
    EXPECT_GT(longest, (size_t)(kLevels * sizeof kLevelName));  // ~50 KB, PATH_MAX is 4 KB
}

class DeepTree : public ::testing::Test {
  protected:
    static void SetUpTestSuite()
    {
        dir_ = new TempDir("deep");
        root_ = new std::string(*dir_ / "root");
        mkdir(root_->c_str(), 0755);
        built_ = MakeDeepTree(*root_);
    }
    static void TearDownTestSuite()
    {
        delete dir_;  // RemoveTree needs no long paths either
        delete root_;
    }
    std::string Pipeline(const std::string &report)
    {
        std::string p = *dir_ / "pipeline.yaml";
        WriteFile(p, "version: 1\nsinks:\n  - name: inventory\n    plugin: csv\n"
                     "    options: {path: " + report + "}\n");
        return p;
    }
    static TempDir *dir_;
    static std::string *root_;
    static bool built_;
};
TempDir *DeepTree::dir_;
std::string *DeepTree::root_;
bool DeepTree::built_;

TEST_F(DeepTree, FiveThousandLevelsScannedFullyWithTheRightDepths)
{
    ASSERT_TRUE(built_);
    for (const char *threads : {"1", "4"}) {
        SCOPED_TRACE(std::string("threads ") + threads);
        std::string report = *dir_ / (std::string("deep-") + threads + ".csv");
        Result r = RunEngine({"-c", Pipeline(report), "-t", threads, *root_});
        CheckDeepScan(*root_, r, report);
    }
}

// The usual login limit of 1024 open files must not cap the depth a scan
// can reach: a walker that keeps one descriptor per level would run out
// around level 1000.
TEST_F(DeepTree, NotLimitedByTheOpenFileLimit)
{
    ASSERT_TRUE(built_);
    std::string report = *dir_ / "deep-lowfd.csv";
    Options o;
    o.nofile = 1024;
    Result r = RunEngine({"-c", Pipeline(report), "-t", "4", *root_}, o);
    CheckDeepScan(*root_, r, report);
}

// ---- (d) the longest names and every byte value -----------------------------

TEST(Names, LongestNamesAndEveryByteRoundTrip)
{
    TempDir dir("names");
    std::string root = dir / "root";
    ASSERT_EQ(mkdir(root.c_str(), 0755), 0);
    std::set<std::string> want;  // relative paths
    auto add_file = [&](const std::string &rel) {
        int fd = open((root + "/" + rel).c_str(), O_CREAT | O_WRONLY, 0644);
        ASSERT_GE(fd, 0) << "cannot create " << rel.size() << "-byte name";
        close(fd);
        want.insert(rel);
    };
    // every byte value 1..255 but '/', one per name, at the start, in the
    // middle and at the end (dot rules, the extension column)
    for (int b = 1; b < 256; b++) {
        if (b == '/')
            continue;
        std::string c(1, (char)b);
        add_file("b" + c + "x");
        add_file("x." + c);
        if (b != '.')
            add_file(c + "start");
    }
    // one name with all 254 of them
    std::string all;
    for (int b = 1; b < 256; b++)
        if (b != '/')
            all += (char)b;
    add_file(all);
    // 255 bytes: ASCII, 3-byte UTF-8, invalid UTF-8, control bytes
    add_file(std::string(255, 'a'));
    std::string euro;
    while (euro.size() < 255)
        euro += "\xe2\x82\xac";
    add_file(euro);
    add_file(std::string(255, '\xff'));
    add_file(std::string(255, '\n'));
    add_file(std::string(254, '"') + ".");
    add_file(std::string(255, '\\'));
    // a directory whose name is hostile too, with an entry inside
    std::string hdir = "dir\n\r\x1b[2J\"\\x41";
    ASSERT_EQ(mkdir((root + "/" + hdir).c_str(), 0755), 0);
    want.insert(hdir);
    add_file(hdir + "/" + std::string(255, '\x01'));

    std::string report = dir / "names.csv";
    std::string p = dir / "pipeline.yaml";
    WriteFile(p, "version: 1\nsinks:\n  - name: inventory\n    plugin: csv\n"
                 "    options: {path: " + report + ", escape: lossless}\n");
    Result r = RunEngine({"-c", p, "-t", "2", root});
    ASSERT_EQ(r.status, 0) << r.Describe();

    // every line is valid UTF-8 without control bytes (DuckDB reads it)
    std::string text = ReadFile(report);
    size_t lines = 0;
    for (const std::string &line : Lines(text)) {
        lines++;
        EXPECT_TRUE(ValidUtf8(line)) << "line " << lines << " is not UTF-8";
        for (unsigned char c : line)
            ASSERT_TRUE(c >= 0x20 && c != 0x7f) << "control byte in line " << lines;
    }
    Csv csv = ReadCsv(report, kColumns);
    ASSERT_TRUE(csv.ok) << csv.problem;
    ASSERT_EQ(csv.rows.size(), want.size() + 1);

    std::set<std::string> got;
    for (const auto &row : csv.rows) {
        std::string path, ext;
        ASSERT_TRUE(Unescape(row[kFilename], &path)) << row[kFilename];
        ASSERT_TRUE(Unescape(row[kExtension], &ext)) << row[kExtension];
        if (path == root)
            continue;
        ASSERT_EQ(path.compare(0, root.size() + 1, root + "/"), 0);
        std::string rel = path.substr(root.size() + 1);
        got.insert(rel);
        // the extension rule: after the last '.', unless that is the first
        // byte of the name; none for directories
        std::string name = rel.substr(rel.rfind('/') == std::string::npos ? 0 : rel.rfind('/') + 1);
        size_t dot = name.rfind('.');
        std::string want_ext = row[kMode].compare(0, 3, "004") == 0 || dot == std::string::npos || dot == 0
                                   ? ""
                                   : name.substr(dot + 1);
        EXPECT_EQ(ext, want_ext) << row[kFilename];
    }
    EXPECT_TRUE(got == want) << "names differ after the round trip: got " << got.size()
                             << ", created " << want.size();
    for (const std::string &w : want)
        EXPECT_TRUE(got.count(w)) << "missing (escaped as in the report): " << w.size()
                                  << "-byte name";

    // pwalk's own escaping (dey, stdout): control bytes dropped, so one
    // line per entry still
    Result dey = RunEngine({"-t", "2", root});
    ASSERT_EQ(dey.status, 0) << dey.Describe();
    std::vector<std::string> dl = Lines(dey.out);
    EXPECT_EQ(dl.size(), want.size() + 1);
    for (const std::string &line : dl) {
        for (unsigned char c : line)
            ASSERT_GE(c, 0x20) << "control byte in a dey line";
        std::vector<std::string> f;
        EXPECT_TRUE(SplitCsvLine(line, &f) && f.size() == kColumns) << line;
    }
}

// ---- unreadable parts, as an unprivileged user -----------------------------

// The engine and its plugin copied where nobody may run them (the runfiles
// may sit below root's private home).
class Unprivileged : public ::testing::Test {
  protected:
    void SetUp() override
    {
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root to switch to nobody";
        struct passwd *pw = getpwnam("nobody");
        ASSERT_NE(pw, nullptr);
        uid_ = pw->pw_uid;
        gid_ = pw->pw_gid;
        ASSERT_FALSE(dir_.path().empty());
        chmod(dir_.path().c_str(), 0755);
        std::string bin = dir_ / "bin";
        mkdir(bin.c_str(), 0755);
        mkdir((bin + "/plugins").c_str(), 0755);
        mkdir((bin + "/plugins/csv").c_str(), 0755);
        engine_ = bin + "/pwalk-engine";
        WriteFile(engine_, ReadFile(EnginePath()));
        chmod(engine_.c_str(), 0755);
        std::string csv = bin + "/plugins/csv/csv.so";
        WriteFile(csv, ReadFile(Runfile("plugins/csv/csv.so")));
        chmod(csv.c_str(), 0755);
        out_ = dir_ / "out";
        mkdir(out_.c_str(), 0777);
        chmod(out_.c_str(), 0777);
        tree_ = dir_ / "tree";
        mkdir(tree_.c_str(), 0755);
    }

    Result Scan(const std::string &root)
    {
        std::string p = dir_ / "pipeline.yaml";
        WriteFile(p, "version: 1\nscan:\n  errors: " + out_ + "/errors.csv\nsinks:\n"
                     "  - name: inventory\n    plugin: csv\n    options: {path: " +
                         out_ + "/report.csv}\n");
        chmod(p.c_str(), 0644);
        Options o;
        o.engine = engine_;
        o.uid = uid_;
        o.gid = gid_;
        o.cwd = out_;
        return RunEngine({"-c", p, "-t", "2", root}, o);
    }

    TempDir dir_{"unpriv", "/tmp"};
    std::string engine_, out_, tree_;
    uid_t uid_ = 0;
    gid_t gid_ = 0;
};

TEST_F(Unprivileged, UnreadableDirectoriesAndFiles)
{
    std::string t = tree_;
    mkdir((t + "/open").c_str(), 0755);
    WriteFile(t + "/open/a", "a");
    mkdir((t + "/locked").c_str(), 0755);  // no access at all
    WriteFile(t + "/locked/secret1", "s");
    WriteFile(t + "/locked/secret2", "s");
    mkdir((t + "/listonly").c_str(), 0755);  // r without x: names, no stat
    WriteFile(t + "/listonly/n1", "n");
    WriteFile(t + "/listonly/n2", "n");
    WriteFile(t + "/unreadable-file", "u");  // metadata is still readable
    chmod((t + "/unreadable-file").c_str(), 0000);
    chmod((t + "/locked").c_str(), 0000);
    chmod((t + "/listonly").c_str(), 0644);

    Result r = Scan(t);
    ASSERT_FALSE(r.signaled) << r.Describe();
    EXPECT_EQ(r.status, 1) << r.Describe();
    Summary s = ParseSummary(r.err);
    ASSERT_TRUE(s.found) << r.Describe();

    Csv csv = ReadCsv(out_ + "/report.csv", kColumns);
    ASSERT_TRUE(csv.ok) << csv.problem;
    std::vector<ErrorRecord> errs;
    std::string problem;
    ASSERT_TRUE(ReadErrors(out_ + "/errors.csv", &errs, &problem)) << problem;

    std::map<std::string, std::vector<std::string>> rows;
    for (const auto &row : csv.rows) {
        std::string path;
        ASSERT_TRUE(Unescape(row[kFilename], &path));
        rows[path] = row;
    }
    std::map<std::string, std::string> err_ops;
    unsigned long long lstat_errors = 0;
    for (const ErrorRecord &e : errs) {
        err_ops[e.path] = e.operation;
        EXPECT_EQ(e.error_number, EACCES) << e.path;
        lstat_errors += e.operation == "lstat";
    }
    // the locked directory: a row with pw_fcount -1, and an opendir error;
    // nothing from inside it
    ASSERT_TRUE(rows.count(t + "/locked"));
    EXPECT_EQ(rows[t + "/locked"][kFcount], "-1");
    EXPECT_EQ(err_ops[t + "/locked"], "opendir");
    EXPECT_FALSE(rows.count(t + "/locked/secret1"));
    // the list-only directory: its names were read but could not be stat'ed
    EXPECT_EQ(err_ops[t + "/listonly/n1"], "lstat");
    EXPECT_EQ(err_ops[t + "/listonly/n2"], "lstat");
    EXPECT_FALSE(rows.count(t + "/listonly/n1"));
    // a file without read permission is still a normal row
    EXPECT_TRUE(rows.count(t + "/unreadable-file"));
    EXPECT_TRUE(rows.count(t + "/open/a"));
    // and the accounting holds
    EXPECT_EQ(s.rows + lstat_errors + s.filtered, s.entries) << s.line;
    EXPECT_EQ(errs.size(), s.errors) << s.line;
    EXPECT_EQ(csv.rows.size(), s.rows);
}

TEST_F(Unprivileged, UnreadableRoot)
{
    WriteFile(tree_ + "/inside", "x");
    chmod(tree_.c_str(), 0000);
    Result r = Scan(tree_);
    ASSERT_FALSE(r.signaled) << r.Describe();
    EXPECT_EQ(r.status, 1) << r.Describe();
    Csv csv = ReadCsv(out_ + "/report.csv", kColumns);
    ASSERT_TRUE(csv.ok) << csv.problem;
    ASSERT_EQ(csv.rows.size(), 1u) << "only the root's own row";
    EXPECT_EQ(csv.rows[0][kDepth], "-1");
    EXPECT_EQ(csv.rows[0][kFcount], "-1");
    std::vector<ErrorRecord> errs;
    std::string problem;
    ASSERT_TRUE(ReadErrors(out_ + "/errors.csv", &errs, &problem)) << problem;
    ASSERT_EQ(errs.size(), 1u);
    EXPECT_EQ(errs[0].path, tree_);
    EXPECT_EQ(errs[0].error_number, EACCES);
    // the summary names it too
    EXPECT_NE(r.err.find(tree_), std::string::npos) << r.err;
}

// A root below a directory the user cannot search cannot even be lstat'ed:
// that is a bad root, refused before anything is written.
TEST_F(Unprivileged, RootBehindAnUnsearchableDirectory)
{
    mkdir((tree_ + "/inner").c_str(), 0755);
    chmod(tree_.c_str(), 0600);
    Result r = Scan(tree_ + "/inner");
    EXPECT_EQ(r.status, 2) << r.Describe();
    EXPECT_EQ(ListDir(out_), std::vector<std::string>{});
}

}  // namespace
}  // namespace faults
