// threads: auto -- SLURM first, then the affinity mask.
#include <gtest/gtest.h>
#include <sched.h>
#include <stdlib.h>

#include <string>

extern "C" {
#include "engine/threads.h"
}

namespace {

TEST(SlurmParse, PlainCounts) {
    EXPECT_EQ(threads_parse_slurm("1"), 1);
    EXPECT_EQ(threads_parse_slurm("8"), 8);
    EXPECT_EQ(threads_parse_slurm("64"), 64);
}

TEST(SlurmParse, RepeatedAndHeterogeneous) {
    EXPECT_EQ(threads_parse_slurm("4(x2)"), 4);
    EXPECT_EQ(threads_parse_slurm("16,8(x2)"), 16);
    EXPECT_EQ(threads_parse_slurm("2(x3),1"), 2);
}

TEST(SlurmParse, CapsAtMax) { EXPECT_EQ(threads_parse_slurm("100000"), THREADS_MAX); }

TEST(SlurmParse, Garbage) {
    for (const char *bad : {"", "0", "-4", "x", "4x", "4(2)", "4(x)", "4(x2", "4,", "4,,2",
                            " 4", "4 ", "four", "4(x0)"})
        EXPECT_EQ(threads_parse_slurm(bad), -1) << "'" << bad << "'";
    EXPECT_EQ(threads_parse_slurm(nullptr), -1);
}

class AutoThreads : public ::testing::Test {
  protected:
    void SetUp() override {
        unsetenv("SLURM_CPUS_PER_TASK");
        unsetenv("SLURM_CPUS_ON_NODE");
    }
    void TearDown() override { SetUp(); }
    char err[256] = "";
    const char *source = nullptr;
};

TEST_F(AutoThreads, AffinityWhenNoSlurm) {
    cpu_set_t set;
    ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    EXPECT_EQ(threads_auto(&source, err, sizeof err), CPU_COUNT(&set));
}

TEST_F(AutoThreads, CpusPerTaskWins) {
    setenv("SLURM_CPUS_ON_NODE", "16", 1);
    setenv("SLURM_CPUS_PER_TASK", "3", 1);
    EXPECT_EQ(threads_auto(&source, err, sizeof err), 3);
    EXPECT_STREQ(source, "SLURM_CPUS_PER_TASK");
}

TEST_F(AutoThreads, CpusOnNode) {
    setenv("SLURM_CPUS_ON_NODE", "4(x2)", 1);
    EXPECT_EQ(threads_auto(&source, err, sizeof err), 4);
    EXPECT_STREQ(source, "SLURM_CPUS_ON_NODE");
}

TEST_F(AutoThreads, GarbageIsAnErrorNamingTheVariable) {
    setenv("SLURM_CPUS_ON_NODE", "lots", 1);
    EXPECT_EQ(threads_auto(&source, err, sizeof err), -1);
    EXPECT_EQ(std::string(err),
              "SLURM_CPUS_ON_NODE='lots' is not a CPU count (expected e.g. 8 or 4(x2))");
}

}  // namespace
