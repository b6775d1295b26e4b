// What a scan leaves out: snapshots, excludes, depth.
#include <gtest/gtest.h>

extern "C" {
#include "engine/filter.h"
}

namespace {

TEST(Filter, SnapshotNamesOnlyWhenEnabled) {
    char snap[] = ".snapshot", zfs[] = ".zfs";
    char *names[] = {snap, zfs};
    filter_rules r{};
    r.snapshot_names = names;
    r.snapshot_name_count = 2;
    EXPECT_FALSE(filter_is_snapshot(&r, ".snapshot"));  // skip_snapshots off
    r.skip_snapshots = 1;
    EXPECT_TRUE(filter_is_snapshot(&r, ".snapshot"));
    EXPECT_TRUE(filter_is_snapshot(&r, ".zfs"));
    EXPECT_FALSE(filter_is_snapshot(&r, ".snapshots"));
    EXPECT_FALSE(filter_is_snapshot(&r, "snapshot"));
    EXPECT_FALSE(filter_is_snapshot(&r, ".Snapshot"));
}

TEST(Filter, ExcludeByNameGlob) {
    char p1[] = "*.tmp", p2[] = "core";
    char *pats[] = {p1, p2};
    filter_rules r{};
    r.excludes = pats;
    r.exclude_count = 2;
    EXPECT_TRUE(filter_is_excluded(&r, "/d/a/x.tmp", "x.tmp"));
    EXPECT_TRUE(filter_is_excluded(&r, "/d/core", "core"));
    EXPECT_FALSE(filter_is_excluded(&r, "/d/core.1", "core.1"));
    EXPECT_FALSE(filter_is_excluded(&r, "/d/x.tmp.gz", "x.tmp.gz"));
}

TEST(Filter, ExcludeByPathAndPathGlob) {
    char p1[] = "/data/scratch/", p2[] = "/data/*/cache";
    char *pats[] = {p1, p2};
    filter_rules r{};
    r.excludes = pats;
    r.exclude_count = 2;
    EXPECT_TRUE(filter_is_excluded(&r, "/data/scratch", "scratch"));  // trailing '/' ignored
    EXPECT_FALSE(filter_is_excluded(&r, "/data/scratch2", "scratch2"));
    EXPECT_FALSE(filter_is_excluded(&r, "/other/data/scratch", "scratch"));
    EXPECT_TRUE(filter_is_excluded(&r, "/data/u1/cache", "cache"));
    EXPECT_TRUE(filter_is_excluded(&r, "/data/u1/u2/cache", "cache"));  // '*' crosses '/'
    EXPECT_FALSE(filter_is_excluded(&r, "/data/u1/cache/x", "x"));
}

TEST(Filter, DepthLimit) {
    filter_rules r{};
    EXPECT_FALSE(filter_depth_stops(&r, 1000, 1));  // 0 = unlimited
    r.max_depth = 2;
    EXPECT_FALSE(filter_depth_stops(&r, 1, 1));
    EXPECT_FALSE(filter_depth_stops(&r, 1, 0));
    EXPECT_FALSE(filter_depth_stops(&r, 2, 0));  // files at the limit are rows
    EXPECT_TRUE(filter_depth_stops(&r, 2, 1));   // directories there are not opened
    EXPECT_TRUE(filter_depth_stops(&r, 3, 0));
}

TEST(Filter, ReasonNames) {
    EXPECT_STREQ(filter_reason_name(FILTER_SNAPSHOT), "snapshot");
    EXPECT_STREQ(filter_reason_name(FILTER_EXCLUDE), "exclude");
    EXPECT_STREQ(filter_reason_name(FILTER_OTHER_DEVICE), "other-filesystem");
    EXPECT_STREQ(filter_reason_name(FILTER_DEPTH), "depth");
}

}  // namespace
