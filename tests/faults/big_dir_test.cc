// One directory of 1,000,000 entries.  The entries are hard links to one
// empty file on a private tmpfs (creating them takes seconds, not minutes,
// and leaves the test machine's disk alone); the walk cuts the directory
// into chunks that every worker stats, so this is the path where a lost or
// doubled chunk would show.  Every name must appear exactly once, and the
// directory's row must count all of them.
//
// Set PWALK_SKIP_BIG_DIR=1 to skip it on a machine without tmpfs or memory
// to spare (~300 MB for the links and the report).
#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace faults {
using namespace harness;
namespace {

constexpr int kEntries = 1000000;

TEST(BigDirectory, OneMillionEntriesEachReportedOnce)
{
    if (getenv("PWALK_SKIP_BIG_DIR") && *getenv("PWALK_SKIP_BIG_DIR") == '1')
        GTEST_SKIP() << "PWALK_SKIP_BIG_DIR=1";
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root to mount a tmpfs";
    TempDir dir("bigdir");
    ASSERT_EQ(dir.MountTmpfs("fs", "size=1g,nr_inodes=2000000"), 0);
    std::string fs = dir / "fs", big = fs + "/big", seed = fs + "/seed";
    ASSERT_EQ(mkdir(big.c_str(), 0755), 0);
    WriteFile(seed, "");
    double t0 = Now();
    int bfd = open(big.c_str(), O_RDONLY | O_DIRECTORY);
    int sfd = open(fs.c_str(), O_RDONLY | O_DIRECTORY);
    char name[32];
    for (int i = 0; i < kEntries; i++) {
        snprintf(name, sizeof name, "entry-%07d", i);
        ASSERT_EQ(linkat(sfd, "seed", bfd, name, 0), 0) << name << ": " << strerror(errno);
    }
    close(bfd);
    close(sfd);
    double made = Now() - t0;

    std::string report = fs + "/report.csv";
    std::string p = dir / "pipeline.yaml";
    WriteFile(p, "version: 1\nsinks:\n  - name: inventory\n    plugin: csv\n"
                 "    options: {path: " + report + "}\n");
    Result r = RunEngine({"-c", p, "-t", "4", big});
    ASSERT_FALSE(r.signaled) << r.Describe();
    ASSERT_EQ(r.status, 0) << r.Describe();
    Summary s = ParseSummary(r.err);
    ASSERT_TRUE(s.found) << r.Describe();
    EXPECT_EQ(s.entries, (unsigned long long)kEntries + 1) << s.line;
    EXPECT_EQ(s.rows, (unsigned long long)kEntries + 1) << s.line;

    // stream the report: 1M rows are too many to keep split in memory
    std::ifstream in(report, std::ios::binary);
    std::string line;
    std::vector<char> seen(kEntries, 0);
    std::vector<std::string> f;
    size_t rows = 0, doubled = 0, bad = 0;
    std::string dir_fcount;
    ASSERT_TRUE(std::getline(in, line));  // header
    while (std::getline(in, line)) {
        rows++;
        if (!SplitCsvLine(line, &f) || f.size() != kColumns) {
            bad++;
            continue;
        }
        if (f[kDepth] == "-1") {
            dir_fcount = f[kFcount];
            continue;
        }
        size_t slash = f[kFilename].rfind('/');
        int i = atoi(f[kFilename].c_str() + slash + 1 + strlen("entry-"));
        if (f[kFilename].compare(slash + 1, 6, "entry-") != 0 || i < 0 || i >= kEntries) {
            bad++;
            continue;
        }
        doubled += seen[i]++ > 0;
    }
    EXPECT_EQ(bad, 0u);
    EXPECT_EQ(doubled, 0u);
    EXPECT_EQ(rows, (size_t)kEntries + 1);
    EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), kEntries) << "names missing";
    EXPECT_EQ(dir_fcount, std::to_string(kEntries));
    printf("made %d links in %.1f s; scanned in %.1f s\n", kEntries, made, r.seconds);

    // SIGINT in the middle of this one directory: the workers are deep in
    // its chunks, not between directories, and must still stop within a
    // second.  (Skipped if the machine scans the million faster than the
    // signal is sent.)
    unlink(report.c_str());
    Child c;
    ASSERT_TRUE(c.Start({"-c", p, "-t", "4", big}));
    usleep((useconds_t)(std::min(0.3, r.seconds / 4) * 1e6));
    Result early;
    if (c.Exited(&early)) {
        printf("the scan finished before the signal; stop latency not measured\n");
    } else {
        double sent = Now();
        ASSERT_EQ(kill(c.pid(), SIGINT), 0);
        Result stopped = c.Wait();
        EXPECT_LT(Now() - sent, 1.0) << "stopping took too long";
        EXPECT_EQ(stopped.status, 130) << stopped.Describe();
        EXPECT_FALSE(Exists(report)) << "published after SIGINT";
        EXPECT_EQ(TempOutputs(fs), std::vector<std::string>{});
    }
}

}  // namespace
}  // namespace faults
