// Signals during a scan of a big tree.  SIGINT and SIGTERM: the engine
// stops within a second, exits 130 / 143 (by its own exit, after cleaning
// up, not by dying of the signal), publishes nothing under a final name and
// leaves no temporary behind.  SIGKILL cannot be handled: only the hidden
// temporaries (.NAME.pwalk-tmp-*) remain, and the next run publishes its
// report normally, undisturbed by them.
#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace faults {
using namespace harness;
namespace {

class Signals : public ::testing::Test {
  protected:
    // ~200,000 entries: 200 directories of 1000 hard links each (cheap to
    // make), read by 2 workers.  A slow sink (20 ms per batch) keeps the scan
    // running for seconds on any machine, so the signal lands mid-scan.
    static void SetUpTestSuite()
    {
        dir_ = new TempDir("signals");
        std::string tree = *dir_ / "tree";
        mkdir(tree.c_str(), 0755);
        for (int d = 0; d < 200; d++) {
            // one seed per directory: ext4 allows 65000 links per inode
            std::string seed = *dir_ / ("seed" + std::to_string(d));
            WriteFile(seed, "0123456789");
            std::string sub = tree + "/d" + std::to_string(d);
            mkdir(sub.c_str(), 0755);
            for (int f = 0; f < 1000; f++)
                link(seed.c_str(), (sub + "/f" + std::to_string(f)).c_str());
        }
    }
    static void TearDownTestSuite() { delete dir_; }

    void SetUp() override
    {
        out_ = *dir_ / ("out-" + std::to_string(counter_++));
        mkdir(out_.c_str(), 0755);
    }

    std::string Pipeline(bool slow, const std::string &plugin = "csv",
                         const std::string &report = "report.csv")
    {
        std::string p = out_ + ".yaml";
        std::string text = "version: 1\nplugin_path: [" + FixtureDir() +
                           "]\nscan:\n  errors: " + out_ +
                           "/errors.csv\nsinks:\n  - name: inventory\n    plugin: " + plugin +
                           "\n    options: {path: " + out_ + "/" + report + ", buffer_kib: 64}\n";
        if (slow)
            text += "  - name: slow\n    plugin: failsink\n    options: {delay_us: 20000}\n";
        WriteFile(p, text);
        return p;
    }

    // Start a scan and wait until it is well under way (its temporary
    // report exists and has data in it).
    void StartScan(Child *c, const std::string &plugin = "csv",
                   const std::string &report = "report.csv")
    {
        ASSERT_TRUE(c->Start({"-c", Pipeline(true, plugin, report), "-t", "2", *dir_ / "tree"}));
        for (;;) {
            bool writing = false;
            for (const std::string &n : TempOutputs(out_)) {
                struct stat st;
                writing |= n.rfind("." + report + ".pwalk-tmp-", 0) == 0 &&
                           stat((out_ + "/" + n).c_str(), &st) == 0 && st.st_size > 0;
            }
            if (writing)
                break;
            Result early;
            ASSERT_FALSE(c->Exited(&early)) << "the scan ended before the signal\n"
                                            << early.Describe();
            ASSERT_LT(c->Elapsed(), 60) << "no output after a minute";
            usleep(2000);
        }
        usleep(200000);
    }

    // SIGKILL a scan well under way: nothing of it can run after that.
    void KillMidScan(const std::string &plugin, const std::string &report)
    {
        Child c;
        StartScan(&c, plugin, report);
        if (HasFatalFailure())
            return;
        ASSERT_EQ(kill(c.pid(), SIGKILL), 0);
        Result r = c.Wait();
        ASSERT_TRUE(r.signaled && r.signal == SIGKILL) << r.Describe();
    }

    void StopWith(int sig)
    {
        Child c;
        StartScan(&c);
        if (HasFatalFailure())
            return;
        Result early;
        ASSERT_FALSE(c.Exited(&early)) << "the scan ended before the signal\n" << early.Describe();
        double sent = Now();
        ASSERT_EQ(kill(c.pid(), sig), 0);
        Result r = c.Wait();
        double took = Now() - sent;
        EXPECT_LT(took, 1.0) << "took " << took << " s to stop";
        EXPECT_FALSE(r.signaled) << "died of the signal instead of exiting\n" << r.Describe();
        EXPECT_EQ(r.status, 128 + sig) << r.Describe();
        EXPECT_NE(r.err.find("interrupted"), std::string::npos) << r.err;
        EXPECT_EQ(ListDir(out_), std::vector<std::string>{})
            << "outputs left behind after signal " << sig;
    }

    static TempDir *dir_;
    static int counter_;
    std::string out_;
};
TempDir *Signals::dir_;
int Signals::counter_;

TEST_F(Signals, SigintStopsWithinASecondPublishingNothing) { StopWith(SIGINT); }

TEST_F(Signals, SigtermStopsWithinASecondPublishingNothing) { StopWith(SIGTERM); }

TEST_F(Signals, SighupStopsPublishingNothing) { StopWith(SIGHUP); }

TEST_F(Signals, SigkillLeavesOnlyTemporariesAndTheNextRunIsNormal)
{
    KillMidScan("csv", "report.csv");
    if (HasFatalFailure())
        return;
    std::vector<std::string> left = ListDir(out_);
    ASSERT_FALSE(left.empty());
    for (const std::string &n : left) {
        // .report.csv.pwalk-tmp-XXXXXX, .errors.csv.pwalk-tmp-XXXXXX
        bool temp = n[0] == '.' && (n.rfind(".report.csv.pwalk-tmp-", 0) == 0 ||
                                    n.rfind(".errors.csv.pwalk-tmp-", 0) == 0);
        EXPECT_TRUE(temp) << "a killed scan left a non-temporary file: " << n;
    }

    // the next run, into the same directory, publishes a complete report
    Result r = RunEngine({"-c", Pipeline(false), "-t", "2", *dir_ / "tree"});
    ASSERT_EQ(r.status, 0) << r.Describe();
    Summary s = ParseSummary(r.err);
    ASSERT_TRUE(s.found);
    EXPECT_EQ(s.entries, 1u + 200u + 200u * 1000u) << s.line;
    Csv csv = ReadCsv(out_ + "/report.csv", kColumns);
    ASSERT_TRUE(csv.ok) << csv.problem;
    EXPECT_EQ(csv.rows.size(), s.rows);
    EXPECT_TRUE(Exists(out_ + "/errors.csv"));
    // the killed run's temporaries are still only temporaries: the new run
    // neither published nor counted them as its own
    for (const std::string &n : ListDir(out_))
        EXPECT_TRUE(n == "report.csv" || n == "errors.csv" || n.find(".pwalk-tmp-") != std::string::npos)
            << n;
}

// The compressing sinks likewise: killed with frames already written, they
// leave only their hidden temporary, and the next run publishes a report
// that decodes.
TEST_F(Signals, SigkillDuringACompressedReportLeavesOnlyTemporaries)
{
    struct Kind {
        const char *plugin, *report, *tool;
    };
    for (Kind k : {Kind{"csv-zstd", "report.csv.zst", "/usr/bin/zstd"},
                   Kind{"csv-gzip", "report.csv.gz", "/usr/bin/gzip"},
                   Kind{"csv-lz4", "report.csv.lz4", "/usr/bin/lz4"}}) {
        SCOPED_TRACE(k.plugin);
        SetUp();  // a fresh output directory per codec
        KillMidScan(k.plugin, k.report);
        if (HasFatalFailure())
            return;
        std::vector<std::string> left = ListDir(out_);
        ASSERT_FALSE(left.empty());
        for (const std::string &n : left)
            EXPECT_NE(n.find(".pwalk-tmp-"), std::string::npos)
                << "a killed scan left a non-temporary file: " << n;
        Result r = RunEngine({"-c", Pipeline(false, k.plugin, k.report), "-t", "2",
                              *dir_ / "tree"});
        ASSERT_EQ(r.status, 0) << r.Describe();
        std::string report = out_ + "/" + k.report;
        ASSERT_TRUE(Exists(report));
        EXPECT_EQ(system((std::string(k.tool) + " -tq '" + report + "' 2>/dev/null").c_str()), 0)
            << report << " does not decode";
    }
}

// A signal that arrives before the walk starts (while plugins load) is not
// lost: the scan still stops and publishes nothing.
TEST_F(Signals, SignalDuringStartupIsNotLost)
{
    for (int i = 0; i < 20; i++) {
        Child c;
        ASSERT_TRUE(c.Start({"-c", Pipeline(true), "-t", "2", *dir_ / "tree"}));
        usleep(1000 * (i % 10));
        kill(c.pid(), SIGTERM);
        Result r = c.Wait();
        ASSERT_FALSE(r.timed_out);
        // either it died before installing its handler, or it exited 143
        EXPECT_TRUE((r.signaled && r.signal == SIGTERM) || r.status == 143) << r.Describe();
        EXPECT_FALSE(Exists(out_ + "/report.csv")) << "published after SIGTERM";
        for (const std::string &n : ListDir(out_))
            unlink((out_ + "/" + n).c_str());
    }
}

}  // namespace
}  // namespace faults
