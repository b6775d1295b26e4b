// What a scan leaves out: snapshots, excludes, depth.
#include <gtest/gtest.h>

#include <climits>

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
    // pwalk 3.0.0's --depth 2 reads directories down to level 2: the files
    // in them (level 3) are rows, the directories there are not opened and
    // get no row.
    r.max_depth = 2;
    EXPECT_FALSE(filter_depth_stops(&r, 1, 1));
    EXPECT_FALSE(filter_depth_stops(&r, 2, 1));  // opened (pwalk reads it too)
    EXPECT_FALSE(filter_depth_stops(&r, 2, 0));
    EXPECT_FALSE(filter_depth_stops(&r, 3, 0));  // files at the limit are rows
    EXPECT_TRUE(filter_depth_stops(&r, 3, 1));   // directories there are not opened
    EXPECT_TRUE(filter_depth_stops(&r, 4, 0));
    r.max_depth = INT_MAX;                       // no overflow at the top
    EXPECT_FALSE(filter_depth_stops(&r, INT_MAX, 1));
}

TEST(Filter, ReasonNames) {
    EXPECT_STREQ(filter_reason_name(FILTER_SNAPSHOT), "snapshot");
    EXPECT_STREQ(filter_reason_name(FILTER_EXCLUDE), "exclude");
    EXPECT_STREQ(filter_reason_name(FILTER_OTHER_DEVICE), "other-filesystem");
    EXPECT_STREQ(filter_reason_name(FILTER_DEPTH), "depth");
}

}  // namespace
