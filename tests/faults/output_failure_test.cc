// Outputs that fail: a full disk, an output directory that disappears or
// cannot be written, and sinks that fail in each step of their lifecycle.
// The contract (README, "Exit status"): exit 3 (2 when it is found before
// the scan starts), a message naming the file or the sink, and no output
// under its final name -- not from the failing sink, not from any other
// sink of the pipeline, not the error file -- and no temporary left behind
// (with a checkpoint journal: the last checkpoint and its parts, for --resume).
#include <algorithm>
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace faults {
using namespace harness;
namespace {

class OutputFailure : public ::testing::Test {
  protected:
    void SetUp() override
    {
        ASSERT_FALSE(dir_.path().empty());
        tree_ = dir_ / "tree";
        ASSERT_EQ(mkdir(tree_.c_str(), 0755), 0);
        // ~5000 entries with long names: a report of ~1 MB
        for (int d = 0; d < 50; d++) {
            std::string sub = tree_ + "/directory-with-a-long-name-" + std::to_string(d);
            mkdir(sub.c_str(), 0755);
            for (int f = 0; f < 100; f++)
                WriteFile(sub + "/file-with-a-long-name-to-fill-the-report-" +
                              std::to_string(f) + ".dat",
                          "");
        }
    }

    std::string Pipeline(const std::string &text)
    {
        std::string p = dir_ / "pipeline.yaml";
        WriteFile(p, "version: 1\nplugin_path: [" + FixtureDir() + "]\n" + text);
        return p;
    }

    std::string CsvSink(const std::string &name, const std::string &path,
                        const std::string &extra = "")
    {
        return "  - name: " + name + "\n    plugin: csv\n    options: {path: " + path + extra +
               "}\n";
    }

    std::string FailSink(const std::string &name, const std::string &fail_in,
                         const std::string &extra = "")
    {
        return "  - name: " + name + "\n    plugin: failsink\n    options: {fail_in: " +
               fail_in + extra + "}\n";
    }

    // Nothing but what was there before in dir.
    void ExpectNothingPublished(const std::string &dir, const std::vector<std::string> &before = {})
    {
        EXPECT_EQ(ListDir(dir), before) << "left in " << dir;
    }

    TempDir dir_{"outfail"};
    std::string tree_;
};

#define EXPECT_MENTIONS(msg, text) \
    EXPECT_NE((msg).find(text), std::string::npos) << "message does not name " << (text) << ":\n" << (msg)

TEST_F(OutputFailure, DiskFullWhileWritingTheReport)
{
    ASSERT_EQ(dir_.MountTmpfs("full", "size=256k"), 0) << "mount tmpfs (needs root)";
    std::string full = dir_ / "full", out = dir_ / "out";
    mkdir(out.c_str(), 0755);
    // small buffers so the writes (and the failure) happen during the walk
    std::string p = Pipeline("scan:\n  errors: " + out + "/errors.csv\nsinks:\n" +
                             CsvSink("inventory", full + "/report.csv", ", buffer_kib: 64") +
                             CsvSink("copy", out + "/copy.csv"));
    for (const char *threads : {"1", "4"}) {
        SCOPED_TRACE(std::string("threads ") + threads);
        Result r = RunEngine({"-c", p, "-t", threads, tree_});
        ASSERT_FALSE(r.signaled) << r.Describe();
        EXPECT_EQ(r.status, 3) << r.Describe();
        EXPECT_MENTIONS(r.err, "report.csv");
        EXPECT_MENTIONS(r.err, "sink 'inventory'");
        ExpectNothingPublished(full);
        ExpectNothingPublished(out);  // the other sink and the error file
    }
}

// With a checkpoint journal, a full disk after the first checkpoint keeps
// that checkpoint and the parts it names (exit 3 all the same, nothing
// published); once there is room, --resume finishes the scan with exactly
// the rows of a scan that never failed.  The scan is paced, and the disk
// filled once the journal exists, so that the failure comes after it.
TEST_F(OutputFailure, DiskFullAfterACheckpointKeepsItForResume)
{
    ASSERT_EQ(dir_.MountTmpfs("full", "size=8m"), 0) << "mount tmpfs (needs root)";
    std::string full = dir_ / "full", out = dir_ / "out", journal = out + "/scan.ckpt";
    mkdir(out.c_str(), 0755);
    std::string p = Pipeline("sinks:\n" +
                             CsvSink("inventory", full + "/report.csv", ", buffer_kib: 16"));
    Child c;
    ASSERT_TRUE(c.Start({"-c", p, "-t", "2", "--max-ops", "2000", "--checkpoint", journal,
                         tree_}));
    while (!Exists(journal) && c.Elapsed() < 60)
        usleep(1000);
    ASSERT_TRUE(Exists(journal)) << "no journal once the root was read";
    std::string filler = full + "/filler";
    int fd = open(filler.c_str(), O_CREAT | O_WRONLY, 0644);
    std::string block(4096, 'f');
    while (write(fd, block.data(), block.size()) > 0) {
    }
    close(fd);
    Result r = c.Wait();
    ASSERT_FALSE(r.signaled) << r.Describe();
    EXPECT_EQ(r.status, 3) << r.Describe();
    EXPECT_MENTIONS(r.err, "sink 'inventory'");
    EXPECT_MENTIONS(r.err, "No space left on device; no output published; the last "
                           "checkpoint and its parts are kept: once the cause is mended, "
                           "continue with --resume " + journal);
    EXPECT_TRUE(Exists(journal)) << r.Describe();
    EXPECT_FALSE(Exists(full + "/report.csv"));
    ASSERT_EQ(ListDir(full).size(), 2u) << "the filler and the kept part: "
                                         << Join(ListDir(full));
    ASSERT_EQ(unlink(filler.c_str()), 0);  // mended
    r = RunEngine({"-c", p, "-t", "2", "--resume", journal, tree_});
    ASSERT_EQ(r.status, 0) << r.Describe();
    EXPECT_FALSE(Exists(journal));
    EXPECT_EQ(ListDir(full), std::vector<std::string>{"report.csv"});
    std::string want_cfg = dir_ / "want.yaml", want = out + "/want.csv";
    WriteFile(want_cfg, "version: 1\nsinks:\n" + CsvSink("inventory", want));
    ASSERT_EQ(RunEngine({"-c", want_cfg, tree_}).status, 0);
    std::vector<std::string> got_rows = Lines(ReadFile(full + "/report.csv")),
                             want_rows = Lines(ReadFile(want));
    std::sort(got_rows.begin(), got_rows.end());
    std::sort(want_rows.begin(), want_rows.end());
    EXPECT_EQ(got_rows.size(), want_rows.size());
    EXPECT_TRUE(got_rows == want_rows) << "the resumed report's rows differ";
}

TEST_F(OutputFailure, DiskFullForTheErrorFile)
{
    ASSERT_EQ(dir_.MountTmpfs("full", "size=64k"), 0) << "mount tmpfs (needs root)";
    std::string full = dir_ / "full", out = dir_ / "out";
    mkdir(out.c_str(), 0755);
    // fill it to the last block
    std::string filler = full + "/filler";
    {
        int fd = open(filler.c_str(), O_CREAT | O_WRONLY, 0644);
        std::string block(4096, 'f');
        while (write(fd, block.data(), block.size()) > 0) {
        }
        close(fd);
    }
    std::string p = Pipeline("scan:\n  errors: " + full + "/errors.csv\nsinks:\n" +
                             CsvSink("inventory", out + "/report.csv"));
    Result r = RunEngine({"-c", p, "-t", "2", tree_});
    ASSERT_FALSE(r.signaled) << r.Describe();
    EXPECT_EQ(r.status, 3) << r.Describe();
    EXPECT_MENTIONS(r.err, "errors.csv");
    ExpectNothingPublished(full, {"filler"});
    ExpectNothingPublished(out);
}

// The directory the report goes to is removed while the scan runs: the
// report cannot be published (exit 3), and nothing appears elsewhere.
TEST_F(OutputFailure, OutputDirectoryRemovedDuringTheScan)
{
    std::string out = dir_ / "out", other = dir_ / "other";
    mkdir(out.c_str(), 0755);
    mkdir(other.c_str(), 0755);
    // the slow sink stretches the scan so the removal lands inside it
    std::string p = Pipeline("scan:\n  errors: " + other + "/errors.csv\nsinks:\n" +
                             CsvSink("inventory", out + "/report.csv") +
                             FailSink("slow", "none", ", delay_us: 3000") +
                             CsvSink("copy", other + "/copy.csv"));
    Child c;
    ASSERT_TRUE(c.Start({"-c", p, "-t", "2", tree_}));
    // wait for the temporary file, then take the directory away
    while (TempOutputs(out).empty() && c.Elapsed() < 30)
        usleep(1000);
    ASSERT_FALSE(TempOutputs(out).empty()) << "the report's temporary never appeared";
    RemoveTree(out);
    Result r = c.Wait();
    ASSERT_FALSE(r.signaled) << r.Describe();
    EXPECT_EQ(r.status, 3) << r.Describe();
    EXPECT_MENTIONS(r.err, "report.csv");
    EXPECT_FALSE(Exists(out)) << "the output directory was re-created";
    ExpectNothingPublished(other);
}

// Found before the scan starts: nothing can have been written, exit 2.
TEST_F(OutputFailure, UnwritableOrMissingOutputDirectory)
{
    ASSERT_EQ(dir_.MountTmpfs("ro", "size=64k,mode=0755"), 0) << "mount tmpfs (needs root)";
    std::string ro = dir_ / "ro", out = dir_ / "out";
    mkdir(out.c_str(), 0755);
    ASSERT_EQ(mount(nullptr, ro.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr), 0);
    struct Case {
        std::string where, names;
    } cases[] = {
        {ro + "/report.csv", "report.csv"},
        {dir_ / "missing-dir/report.csv", "missing-dir"},
        {tree_ + "/directory-with-a-long-name-0/file-with-a-long-name-to-fill-the-report-0.dat/r.csv",
         "r.csv"},
    };
    for (const Case &k : cases) {
        SCOPED_TRACE(k.where);
        std::string p = Pipeline("scan:\n  errors: " + out + "/errors.csv\nsinks:\n" +
                                 CsvSink("copy", out + "/copy.csv") +
                                 CsvSink("inventory", k.where));
        Result r = RunEngine({"-c", p, "-t", "2", tree_});
        ASSERT_FALSE(r.signaled) << r.Describe();
        EXPECT_EQ(r.status, 2) << r.Describe();
        EXPECT_MENTIONS(r.err, k.names);
        EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
        ExpectNothingPublished(out);
    }
    // the error file's directory, likewise
    std::string p = Pipeline("scan:\n  errors: " + ro + "/errors.csv\nsinks:\n" +
                             CsvSink("inventory", out + "/report.csv"));
    Result r = RunEngine({"-c", p, "-t", "2", tree_});
    EXPECT_EQ(r.status, 2) << r.Describe();
    EXPECT_MENTIONS(r.err, "errors.csv");
    ExpectNothingPublished(out);
}

// A sink that fails in one step, with a csv sink before it and one after
// it in the same pipeline: neither csv publishes, the message names the
// failing sink.  A failure before the walk (create, thread_open) is exit 2
// -- nothing was written; during or after the walk it is exit 3.
TEST_F(OutputFailure, FailingSinkInEveryStep)
{
    std::string out = dir_ / "out";
    mkdir(out.c_str(), 0755);
    struct Case {
        const char *step;
        int status;
        const char *extra;
    } cases[] = {
        {"create", 2, ""},
        {"thread_open", 2, ""},
        {"consume", 3, ", fail_after: 1000"},
        {"consume", 3, ", fail_after: 0"},
        {"thread_close", 3, ""},
        {"prepare", 3, ""},
        {"finish", 3, ""},
    };
    for (const Case &k : cases) {
        for (const char *threads : {"1", "3"}) {
            SCOPED_TRACE(std::string(k.step) + k.extra + ", threads " + threads);
            std::string p = Pipeline("scan:\n  errors: " + out + "/errors.csv\nsinks:\n" +
                                     CsvSink("before", out + "/before.csv") +
                                     FailSink("boom", k.step, k.extra) +
                                     CsvSink("after", out + "/after.csv"));
            Result r = RunEngine({"-c", p, "-t", threads, tree_});
            ASSERT_FALSE(r.signaled) << r.Describe();
            EXPECT_EQ(r.status, k.status) << r.Describe();
            EXPECT_MENTIONS(r.err, "sink 'boom'");
            EXPECT_MENTIONS(r.err, std::string("failing in ") + k.step);
            if (std::string(k.step) == "finish") {
                // a plugin's finish() after every prepare() succeeded: the
                // csv sinks only rename there, so this is a plugin without
                // prepare() failing in its own commit -- sinks committed
                // before it keep their outputs (README: what a report
                // guarantees); the ones after it and the error file are not
                // published.  prepare() failing above publishes nothing.
                std::vector<std::string> left = ListDir(out);
                for (const std::string &n : left)
                    EXPECT_TRUE(n == "before.csv") << "published: " << n;
            } else {
                ExpectNothingPublished(out);
            }
            for (const std::string &n : ListDir(out))
                unlink((out + "/" + n).c_str());
        }
    }
}

// Sanity for the fixture itself: when it does not fail, everything is
// published, so the failures above are the fixture's doing.
TEST_F(OutputFailure, FixtureThatDoesNotFailPublishesEverything)
{
    std::string out = dir_ / "out";
    mkdir(out.c_str(), 0755);
    std::string p = Pipeline("scan:\n  errors: " + out + "/errors.csv\nsinks:\n" +
                             CsvSink("before", out + "/before.csv") +
                             FailSink("boom", "none") + CsvSink("after", out + "/after.csv"));
    Result r = RunEngine({"-c", p, "-t", "3", tree_});
    EXPECT_EQ(r.status, 0) << r.Describe();
    EXPECT_EQ(ListDir(out), (std::vector<std::string>{"after.csv", "before.csv", "errors.csv"}));
    Summary s = ParseSummary(r.err);
    EXPECT_EQ(s.sink_rows["boom"], s.rows) << s.line;
    EXPECT_EQ(s.sink_rows["before"], s.rows) << s.line;
}

}  // namespace
}  // namespace faults
