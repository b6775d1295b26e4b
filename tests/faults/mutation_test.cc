// A tree that changes while it is scanned: a mutator process creates,
// removes and renames files and directories and swaps file <-> directory <->
// symlink (including atomic directory exchanges) as fast as it can, while
// the real binary scans the tree again and again with 1, 2 and 4 threads.
//
// Every scan must finish with exit 0 -- entries that vanish (or directories
// replaced) between listing and lstat/open are normal on a live filesystem:
// counted as vanished, in the error file with their own kind, not errors --
// and with exit 1 under --strict exactly when something vanished.  It must
// never crash, write a report that parses, and account for everything it
// read:
//     rows + (records of operation lstat) + filtered == entries
// (a directory that vanished or was replaced after it was listed still has
// its row, with pw_fcount -1, plus a record of operation opendir).
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <atomic>
#include <random>
#include <set>

#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace faults {
using namespace harness;
namespace {

constexpr int kTop = 8, kSub = 10, kSlots = 40;
constexpr int kMutators = 2;

std::string SlotPath(const std::string &root, int t, int s, int k)
{
    return root + "/t" + std::to_string(t) + "/s" + std::to_string(s) + "/x" + std::to_string(k);
}

// A few entries inside a new directory, so a swapped-in directory has
// something to read (and to lose) too.
void Populate(const std::string &dir, std::mt19937 &rng)
{
    for (int i = 0, n = (int)(rng() % 4); i < n; i++)
        WriteFile(dir + "/f" + std::to_string(i), "data");
}

// One random change; returns true if the filesystem accepted it.
bool Mutate(const std::string &root, std::mt19937 &rng)
{
    int t = (int)(rng() % kTop), s = (int)(rng() % kSub), k = (int)(rng() % kSlots);
    std::string p = SlotPath(root, t, s, k);
    struct stat st;
    bool present = lstat(p.c_str(), &st) == 0;
    switch (rng() % 9) {
    case 0:  // create a file
        return !present && close(open(p.c_str(), O_CREAT | O_WRONLY | O_EXCL, 0644)) == 0;
    case 1:  // remove whatever is there
        if (!present)
            return false;
        RemoveTree(p);
        return true;
    case 2:  // file -> directory
        if (present && !S_ISDIR(st.st_mode) && unlink(p.c_str()) == 0 &&
            mkdir(p.c_str(), 0755) == 0) {
            Populate(p, rng);
            return true;
        }
        return false;
    case 3: {  // directory -> symlink (to its parent: a loop if followed)
        if (!present || !S_ISDIR(st.st_mode))
            return false;
        std::string aside = p + ".old";
        if (rename(p.c_str(), aside.c_str()) != 0)
            return false;
        bool ok = symlink("..", p.c_str()) == 0;
        RemoveTree(aside);
        return ok;
    }
    case 4:  // symlink/file -> new file of another size, atomically
        if (present && !S_ISDIR(st.st_mode)) {
            std::string tmp = p + ".new";
            WriteFile(tmp, std::string(rng() % 5000, 'z'));
            return rename(tmp.c_str(), p.c_str()) == 0;
        }
        return false;
    case 5: {  // rename to another slot, maybe in another directory
        std::string q = SlotPath(root, (int)(rng() % kTop), (int)(rng() % kSub),
                                 (int)(rng() % kSlots));
        return present && rename(p.c_str(), q.c_str()) == 0;
    }
    case 6: {  // exchange two whole sub-directories atomically
        std::string a = root + "/t" + std::to_string(t) + "/s" + std::to_string(s);
        std::string b = root + "/t" + std::to_string(rng() % kTop) + "/s" +
                        std::to_string(rng() % kSub);
        return syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(),
                       RENAME_EXCHANGE) == 0;
    }
    case 7:  // a new directory
        if (!present && mkdir(p.c_str(), 0755) == 0) {
            Populate(p, rng);
            return true;
        }
        return false;
    default:  // a symlink to nowhere
        return !present && symlink("/nonexistent/target", p.c_str()) == 0;
    }
}

void BuildTree(const std::string &root, std::mt19937 &rng)
{
    for (int t = 0; t < kTop; t++) {
        std::string td = root + "/t" + std::to_string(t);
        mkdir(td.c_str(), 0755);
        for (int s = 0; s < kSub; s++) {
            std::string sd = td + "/s" + std::to_string(s);
            mkdir(sd.c_str(), 0755);
            for (int k = 0; k < kSlots; k++) {
                std::string p = sd + "/x" + std::to_string(k);
                switch (k % 3) {
                case 0: WriteFile(p, "file"); break;
                case 1: mkdir(p.c_str(), 0755); Populate(p, rng); break;
                default: symlink("x0", p.c_str()); break;
                }
            }
        }
    }
}

struct Shared {
    std::atomic<long> ops;
    std::atomic<int> stop;
};

TEST(Mutation, ScansOfAChangingTreeAccountForEveryEntry)
{
    TempDir dir("mutate");
    ASSERT_FALSE(dir.path().empty());
    std::string tree = dir / "tree", out = dir / "out";
    ASSERT_EQ(mkdir(tree.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(out.c_str(), 0755), 0);
    std::mt19937 rng(7);
    BuildTree(tree, rng);

    std::string report = out + "/report.csv", errors = out + "/errors.csv";
    std::string pipeline = dir / "pipeline.yaml";
    WriteFile(pipeline, "version: 1\nscan:\n  errors: " + errors +
                            "\nsinks:\n  - name: inventory\n    plugin: csv\n"
                            "    options: {path: " + report + ", escape: lossless}\n");

    auto *shared = static_cast<Shared *>(mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE,
                                              MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(shared, MAP_FAILED);
    new (shared) Shared{};
    fflush(nullptr);
    std::vector<pid_t> mutators;
    for (int m = 0; m < kMutators; m++) {
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            std::mt19937 r(getpid());
            while (!shared->stop.load())
                if (Mutate(tree, r))
                    shared->ops++;
            _exit(0);
        }
        mutators.push_back(pid);
    }

    const int kScans = 20;
    int with_vanished = 0;
    unsigned long long lstat_error_total = 0;
    std::map<std::string, int> kinds;  // what the scans met, for the log
    for (int i = 0; i < kScans; i++) {
        std::string threads = std::to_string(i % 3 == 0 ? 1 : i % 3 == 1 ? 2 : 4);
        bool strict = i % 2 == 1;  // --strict: vanished counts against the exit status
        SCOPED_TRACE("scan " + std::to_string(i) + " with " + threads + " threads" +
                     (strict ? ", --strict" : ""));
        long ops_before = shared->ops.load();
        std::vector<std::string> args = {"-c", pipeline, "-t", threads, tree};
        if (strict)
            args.insert(args.begin(), "--strict");
        Result r = RunEngine(args);
        long ops_during = shared->ops.load() - ops_before;

        ASSERT_FALSE(r.signaled) << "the engine crashed\n" << r.Describe();
        ASSERT_FALSE(r.timed_out) << r.Describe();
        ASSERT_TRUE(r.status == 0 || r.status == 1) << r.Describe();

        Summary s = ParseSummary(r.err);
        ASSERT_TRUE(s.found) << "no summary line\n" << r.Describe();
        Csv csv = ReadCsv(report, kColumns);
        ASSERT_TRUE(csv.ok) << csv.problem;
        std::vector<ErrorRecord> errs;
        std::string problem;
        ASSERT_TRUE(ReadErrors(errors, &errs, &problem)) << problem;

        unsigned long long lstat_errors = 0, vanished = 0;
        for (const ErrorRecord &e : errs) {
            lstat_errors += e.operation == "lstat";
            vanished += e.kind != "error";
            kinds[e.kind + " " + e.operation + " " +
                  (e.error_number ? strerrorname_np(e.error_number) : "0")]++;
            // a name that is gone is ENOENT; a directory replaced is
            // ENOTDIR/ELOOP, or 0 when another directory opened fine
            if (e.kind == "vanished")
                EXPECT_EQ(e.error_number, ENOENT) << e.path;
            else if (e.kind == "replaced")
                EXPECT_TRUE(e.operation == "opendir" &&
                            (e.error_number == 0 || e.error_number == ENOTDIR ||
                             e.error_number == ELOOP))
                    << e.path << " " << e.operation << " " << e.error_number;
        }
        EXPECT_EQ(s.rows + lstat_errors + s.filtered, s.entries)
            << "accounting does not add up: " << s.line << "; lstat records " << lstat_errors;
        EXPECT_EQ(csv.rows.size(), s.rows) << s.line;
        EXPECT_EQ(s.sink_rows["inventory"], s.rows) << s.line;
        // churn is not an error: nothing here exists and cannot be read
        EXPECT_EQ(s.errors, 0u) << s.line;
        EXPECT_EQ(s.vanished, vanished) << s.line;
        EXPECT_EQ(errs.size(), s.errors + s.vanished) << s.line;
        EXPECT_EQ(r.status, (strict && s.vanished) || s.errors ? 1 : 0) << s.line;
        with_vanished += s.vanished > 0;

        // every row: a path under the root, its depth matching the path,
        // and exactly one root row
        size_t roots = 0;
        std::set<std::string> seen;  // counts alone would let a duplicate hide a loss
        for (const auto &row : csv.rows) {
            std::string path;
            ASSERT_TRUE(Unescape(row[kFilename], &path)) << row[kFilename];
            EXPECT_TRUE(seen.insert(path).second) << "two rows for " << path;
            ASSERT_EQ(path.compare(0, tree.size(), tree), 0) << path;
            std::string rel = path.substr(tree.size());
            int depth = (int)std::count(rel.begin(), rel.end(), '/') - 1;
            EXPECT_EQ(std::to_string(depth), row[kDepth]) << path;
            roots += row[kDepth] == "-1";
        }
        EXPECT_EQ(roots, 1u);
        // an entry that could not be lstat'ed is a record INSTEAD of a row,
        // never both
        for (const ErrorRecord &e : errs) {
            if (e.operation != "lstat")
                continue;
            std::string path;
            if (!Unescape(e.path, &path))
                path = e.path;
            EXPECT_EQ(seen.count(path), 0u) << "a row and an lstat error for " << path;
        }
        lstat_error_total += lstat_errors;
        RecordProperty("scan" + std::to_string(i),
                       s.line + " [mutations during scan: " + std::to_string(ops_during) + "]");
        unlink(report.c_str());
        unlink(errors.c_str());
    }

    shared->stop = 1;
    for (pid_t pid : mutators)
        waitpid(pid, nullptr, 0);
    // the mutator really ran: otherwise this test proves nothing
    EXPECT_GT(shared->ops.load(), 1000) << "the mutator hardly changed anything";
    // how often the error term of the identity was exercised (a race, so
    // not asserted: 3-8 in 20 scans here)
    printf("lstat records (vanished between getdents and lstat): %llu\n", lstat_error_total);
    printf("mutations: %ld; scans that met vanished entries: %d of %d\n", shared->ops.load(),
           with_vanished, kScans);
    for (const auto &k : kinds)
        printf("  %s: %d\n", k.first.c_str(), k.second);
    munmap(shared, sizeof(Shared));
}

// The same changes made at a known moment, so the outcome is exact: with one
// worker, the fixture sink changes the directory "sub" as soon as the first
// rows (the root's file "trigger") reach it, i.e. after the walk listed and
// lstat'ed "sub" and before it opens it.
struct Changed {
    Result r;
    Summary s;
    std::vector<ErrorRecord> errs;
    std::string problem, tree, report;
    std::map<std::string, std::vector<std::string>> rows;  // path -> row
};

Changed ScanWhileChanging(const TempDir &dir, const std::string &tag, const std::string &mutate,
                          const std::vector<std::string> &extra_args)
{
    Changed c;
    c.tree = dir / ("tree-" + tag);
    std::string out = dir / ("out-" + tag);
    mkdir(c.tree.c_str(), 0755);
    mkdir(out.c_str(), 0755);
    mkdir((c.tree + "/sub").c_str(), 0755);
    WriteFile(c.tree + "/trigger", "x");
    c.report = out + "/report.csv";
    std::string pipeline = dir / ("pipeline-" + tag + ".yaml");
    WriteFile(pipeline, "version: 1\nplugin_path: [" + FixtureDir() + "]\nscan:\n  errors: " +
                            out + "/errors.csv\nsinks:\n"
                            "  - name: inventory\n    plugin: csv\n    options: {path: " +
                            c.report + "}\n  - name: churn\n    plugin: failsink\n"
                            "    options: {mutate: " + mutate + ", mutate_path: '" + c.tree +
                            "/sub'}\n");
    std::vector<std::string> args = {"-c", pipeline, "-t", "1"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    args.push_back(c.tree);
    c.r = RunEngine(args);
    c.s = ParseSummary(c.r.err);
    if (!ReadErrors(out + "/errors.csv", &c.errs, &c.problem))
        return c;
    Csv csv = ReadCsv(c.report, kColumns);
    for (const auto &row : csv.rows) {
        std::string path;
        if (Unescape(row[kFilename], &path))
            c.rows[path] = row;
    }
    return c;
}

TEST(Vanished, ADirectoryGoneBeforeItIsOpenedIsCountedNotAnError)
{
    TempDir dir("vanish");
    ASSERT_FALSE(dir.path().empty());
    Changed c = ScanWhileChanging(dir, "plain", "remove", {});
    ASSERT_TRUE(c.problem.empty()) << c.problem << "\n" << c.r.Describe();
    EXPECT_EQ(c.r.status, 0) << c.r.Describe();
    ASSERT_TRUE(c.s.found) << c.r.Describe();
    EXPECT_EQ(c.s.errors, 0u) << c.s.line;
    EXPECT_EQ(c.s.vanished, 1u) << c.s.line;
    EXPECT_NE(c.s.line.find(", 0 errors, 1 vanished, "), std::string::npos) << c.s.line;
    // not listed among the errors on stderr: the summary is the only line
    EXPECT_EQ(std::count(c.r.err.begin(), c.r.err.end(), '\n'), 1) << c.r.err;
    ASSERT_EQ(c.errs.size(), 1u);
    EXPECT_EQ(c.errs[0].path, c.tree + "/sub");
    EXPECT_EQ(c.errs[0].error_number, ENOENT);
    EXPECT_EQ(c.errs[0].operation, "opendir");
    EXPECT_EQ(c.errs[0].kind, "vanished");
    // its row is what lstat saw, marked unread
    ASSERT_EQ(c.rows.count(c.tree + "/sub"), 1u);
    EXPECT_EQ(c.rows[c.tree + "/sub"][kFcount], "-1");
}

TEST(Vanished, StrictMakesItExitOne)
{
    TempDir dir("strict");
    ASSERT_FALSE(dir.path().empty());
    for (const auto &how : std::vector<std::vector<std::string>>{
             {"--strict"}, {"--set", "scan.strict=true"}}) {
        SCOPED_TRACE(how[0]);
        Changed c = ScanWhileChanging(dir, how[0].substr(2, 3), "remove", how);
        ASSERT_TRUE(c.problem.empty()) << c.problem << "\n" << c.r.Describe();
        EXPECT_EQ(c.r.status, 1) << c.r.Describe();
        EXPECT_EQ(c.s.vanished, 1u) << c.s.line;
        EXPECT_EQ(c.s.errors, 0u) << c.s.line;
        ASSERT_EQ(c.errs.size(), 1u);
        EXPECT_EQ(c.errs[0].kind, "vanished");
        EXPECT_TRUE(Exists(c.report)) << "outputs are published as for any exit 1";
    }
    // and nothing vanished: 0 even when strict
    Changed c = ScanWhileChanging(dir, "calm", "none", {"--strict"});
    EXPECT_EQ(c.r.status, 0) << c.r.Describe();
    EXPECT_TRUE(c.errs.empty());
}

TEST(Vanished, ADirectoryReplacedIsReportedAsReplacedNotEstale)
{
    TempDir dir("replace");
    ASSERT_FALSE(dir.path().empty());
    struct Case {
        const char *mutate;
        std::vector<int> errnos;  // what the error file may say
        std::string message;      // "" = strerror of it
    };
    for (const Case &k : {Case{"replace", {0}, "replaced by another directory"},
                          Case{"file", {ENOTDIR, ELOOP}, ""}}) {
        SCOPED_TRACE(k.mutate);
        Changed c = ScanWhileChanging(dir, k.mutate, k.mutate, {});
        ASSERT_TRUE(c.problem.empty()) << c.problem << "\n" << c.r.Describe();
        EXPECT_EQ(c.r.status, 0) << c.r.Describe();
        EXPECT_EQ(c.s.vanished, 1u) << c.s.line;
        EXPECT_NE(c.s.line.find("1 vanished (gone 0, replaced 1)"), std::string::npos)
            << c.s.line;
        EXPECT_EQ(c.r.err.find("ESTALE"), std::string::npos) << c.r.err;
        ASSERT_EQ(c.errs.size(), 1u);
        const ErrorRecord &e = c.errs[0];
        EXPECT_EQ(e.path, c.tree + "/sub");
        EXPECT_EQ(e.kind, "replaced");
        EXPECT_EQ(e.operation, "opendir");
        EXPECT_NE(std::find(k.errnos.begin(), k.errnos.end(), e.error_number), k.errnos.end())
            << e.error_number;
        EXPECT_EQ(e.error, k.message.empty() ? strerror(e.error_number) : k.message);
        ASSERT_EQ(c.rows.count(c.tree + "/sub"), 1u);
        EXPECT_EQ(c.rows[c.tree + "/sub"][kFcount], "-1");
        // the new directory's contents were not read as the old one's
        EXPECT_EQ(c.rows.count(c.tree + "/sub.old"), 0u);
    }
}

}  // namespace
}  // namespace faults
