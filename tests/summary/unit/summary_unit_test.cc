// summary_unit_test.cc -- the summary sink's modules (plugins/summary) driven
// directly: the bucket, size-class, top and parent rules; the aggregate's
// merge; the whole plugin lifecycle through the fake host, with entries made
// up by the test (hard links across directories and workers, an unreadable
// directory, a stale file), checked against figures worked out by hand in
// FORMAT.md's terms; atomic publishing; zstd; bad options.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "plugins/summary/agg.h"
#include "plugins/summary/summ.h"
#include "tests/harness/csv.h"
#include "tests/harness/fakehost.h"
#include "tests/harness/files.h"
#include "tests/harness/process.h"

extern "C" const pwalk_plugin *pwalk_plugin_entry_v1(void);

namespace {

using harness::FakeOptions;

// ---- the rules ---------------------------------------------------------------

summ_conf Conf(int64_t start)
{
    summ_conf c = {};
    const char *ages[] = {"7", "30", "90", "365", "730", "1095"};
    char err[128];
    EXPECT_EQ(summ_parse_ages(&c, ages, 6, err, sizeof err), 0);
    c.start_sec = start;
    c.top_n = 20;
    return c;
}

TEST(SummaryRules, BucketIsTheLargestBoundNotAboveTheAgeInWholeDays)
{
    const int64_t start = 2000000000, day = 86400;
    summ_conf c = Conf(start);
    EXPECT_EQ(summ_bucket(&c, start), 0);
    EXPECT_EQ(summ_bucket(&c, start + 5 * day), 0);  // future: age 0
    EXPECT_EQ(summ_bucket(&c, start - 7 * day + 1), 0);  // 6.99 days
    EXPECT_EQ(summ_bucket(&c, start - 7 * day), 7);
    EXPECT_EQ(summ_bucket(&c, start - 30 * day + 1), 7);
    EXPECT_EQ(summ_bucket(&c, start - 30 * day), 30);
    EXPECT_EQ(summ_bucket(&c, start - 730 * day), 730);
    EXPECT_EQ(summ_bucket(&c, start - 1095 * day + 1), 730);
    EXPECT_EQ(summ_bucket(&c, start - 1095 * day), 1095);
    EXPECT_EQ(summ_bucket(&c, 0), 1095);
}

TEST(SummaryRules, SizeClassesAreZeroOneFourKiBThenTimesSixteen)
{
    struct { int64_t size, min; } cases[] = {
        {0, 0}, {1, 1}, {4095, 1}, {4096, 4096}, {65535, 4096}, {65536, 65536},
        {1048575, 65536}, {1048576, 1048576}, {16777216, 16777216}, {268435456, 268435456},
        {4294967295LL, 268435456}, {4294967296LL, 4294967296LL},
        {68719476736LL, 68719476736LL}, {1099511627775LL, 68719476736LL},
        {1099511627776LL, 1099511627776LL}, {INT64_MAX, 1099511627776LL}};
    for (auto &k : cases)
        EXPECT_EQ(summ_size_class_min[summ_size_class(k.size)], k.min) << k.size;
}

std::string Top(const char *path, int32_t depth, int is_dir)
{
    const char *t;
    size_t n;
    summ_top_of(path, strlen(path), depth, is_dir, &t, &n);
    return std::string(t, n);
}

TEST(SummaryRules, TopIsTheDepthZeroComponent)
{
    EXPECT_EQ(Top("/r", -1, 1), ".");           // the root
    EXPECT_EQ(Top("/r/x", 0, 0), ".");          // a file directly in the root
    EXPECT_EQ(Top("/r/a", 0, 1), "a");          // a depth-0 directory: itself
    EXPECT_EQ(Top("/r/a/b", 1, 1), "a");
    EXPECT_EQ(Top("/r/a/b/c/f", 3, 0), "a");
    EXPECT_EQ(Top("/etc/passwd", 1, 0), "etc");  // root "/": "/etc/passwd" is depth 1
    EXPECT_EQ(Top("rel/a b/\xff", 1, 0), "a b");
}

TEST(SummaryRules, ParentIsThePathBeforeTheName)
{
    EXPECT_EQ(summ_parent_len("/r/a/f", 5), 4u);
    EXPECT_EQ(summ_parent_len("/etc", 1), 1u);  // root "/": the parent is "/"
    EXPECT_EQ(summ_parent_len("./x", 2), 1u);
}

TEST(SummaryRules, AgeDaysMustBePositiveAndStrictlyIncreasing)
{
    summ_conf c = {};
    char err[256];
    const char *same[] = {"7", "7"};
    ASSERT_NE(summ_parse_ages(&c, same, 2, err, sizeof err), 0);
    EXPECT_NE(std::string(err).find("'7' is not greater"), std::string::npos) << err;
    const char *zero[] = {"0"};
    ASSERT_NE(summ_parse_ages(&c, zero, 1, err, sizeof err), 0);
    EXPECT_NE(std::string(err).find("'0'"), std::string::npos) << err;
    const char *word[] = {"7", "week"};
    ASSERT_NE(summ_parse_ages(&c, word, 2, err, sizeof err), 0);
    EXPECT_NE(std::string(err).find("'week'"), std::string::npos) << err;
    const char *ok[] = {"1", "2", "400"};
    ASSERT_EQ(summ_parse_ages(&c, ok, 3, err, sizeof err), 0);
    EXPECT_EQ(c.age_count, 3u);
    EXPECT_EQ(c.age_days[2], 400);
}

// ---- the aggregate -----------------------------------------------------------

TEST(SummaryAgg, MergeReinternsTopsAndAddsCellsByValue)
{
    summ_agg a, b;
    summ_agg_init(&a);
    summ_agg_init(&b);
    uint32_t a_x = summ_agg_top(&a, "x", 1), a_y = summ_agg_top(&a, "y", 1);
    uint32_t b_y = summ_agg_top(&b, "y", 1), b_x = summ_agg_top(&b, "x", 1);
    ASSERT_EQ(a_x, 0u);
    ASSERT_EQ(b_y, 0u);
    summ_cell_key k = {5, 6, a_y, 0, 7, 30, 2};
    summ_agg_cell(&a, &k)->files = 2;
    k.top = b_y;
    summ_agg_cell(&b, &k)->files = 3;
    k.top = b_x;
    summ_agg_cell(&b, &k)->bytes = 9;
    summ_dir *d = summ_agg_dir(&b, "/r/q", 4, summ_hash("/r/q", 4), 0);
    d->flags = SUMM_DIR_SELF;
    d->ino = 77;
    d->direct.files = 4;
    ASSERT_EQ(summ_agg_merge(&a, &b), 0);
    ASSERT_EQ(summ_agg_merge(&a, &b), 0);  // twice: everything doubles
    EXPECT_EQ(a.cell_count, 2u);
    k.top = a_y;
    EXPECT_EQ(summ_agg_cell(&a, &k)->files, 2u + 3u + 3u);
    k.top = a_x;
    EXPECT_EQ(summ_agg_cell(&a, &k)->bytes, 18u);
    summ_dir *m = summ_agg_dir(&a, "/r/q", 4, summ_hash("/r/q", 4), 0);
    EXPECT_EQ(m->ino, 77u);
    EXPECT_EQ(m->direct.files, 8u);
    EXPECT_EQ(a.dir_count, 1u);
    summ_agg_free(&a);
    summ_agg_free(&b);
}

TEST(SummaryAgg, AbsorbTakesTheRecordsAndEqualsMerge)
{
    summ_agg a, b, copy;
    summ_agg_init(&a);
    summ_agg_init(&b);
    summ_agg_init(&copy);
    summ_agg_dir(&a, "/r", 2, summ_hash("/r", 2), -1)->direct.files = 1;
    summ_agg_dir(&b, "/r", 2, summ_hash("/r", 2), -1)->direct.files = 2;
    summ_dir *only_b = summ_agg_dir(&b, "/r/s", 4, summ_hash("/r/s", 4), 0);
    only_b->direct.bytes = 5;
    summ_link l = {1, 2, (char *)"/r/s/x", 6, 5, 1, 0, 0, 0, 3, 8, 0, 0, 0};
    ASSERT_EQ(summ_agg_link(&b, &l), 0);
    summ_agg_user(&b, 7)->files = 4;
    ASSERT_EQ(summ_agg_merge(&copy, &a), 0);
    ASSERT_EQ(summ_agg_merge(&copy, &b), 0);
    ASSERT_EQ(summ_agg_absorb(&a, &b), 0);
    EXPECT_EQ(b.dir_count, 0u);  // freed: nothing left in b
    EXPECT_EQ(a.dir_count, 2u);
    EXPECT_EQ(summ_agg_dir(&a, "/r/s", 4, summ_hash("/r/s", 4), 0), only_b);  // taken, not copied
    EXPECT_EQ(summ_agg_dir(&a, "/r", 2, summ_hash("/r", 2), -1)->direct.files, 3u);
    ASSERT_EQ(a.link_count, 1u);
    EXPECT_STREQ(a.links[0].path, "/r/s/x");
    EXPECT_EQ(summ_agg_user(&a, 7)->files, summ_agg_user(&copy, 7)->files);
    // into an empty aggregate: all of it moves
    summ_agg c;
    summ_agg_init(&c);
    ASSERT_EQ(summ_agg_absorb(&c, &a), 0);
    EXPECT_EQ(c.dir_count, 2u);
    EXPECT_EQ(a.dir_count, 0u);
    summ_agg_free(&c);
    summ_agg_free(&copy);
}

TEST(SummaryFinalize, RankingsAreTheBestByValueThenPathWithoutZeros)
{
    summ_agg a;
    summ_agg_init(&a);
    summ_conf c = Conf(2000000000);
    c.top_n = 5;
    summ_dir *root = summ_agg_dir(&a, "/r", 2, summ_hash("/r", 2), -1);
    root->flags = SUMM_DIR_SELF | SUMM_DIR_ROOT;
    std::vector<std::pair<uint64_t, std::string>> want;  // (bytes, path) of the children
    for (int i = 0; i < 300; i++) {
        char name[32];
        snprintf(name, sizeof name, "/r/d%03d", (i * 7919) % 300);
        summ_dir *d = summ_agg_dir(&a, name, strlen(name), summ_hash(name, strlen(name)), 0);
        d->flags = SUMM_DIR_SELF;
        d->direct.bytes = (uint64_t)((i * 37) % 50);  // ties, and zeros
        if (d->direct.bytes)
            want.push_back({d->direct.bytes, name});
    }
    std::sort(want.begin(), want.end(), [](const auto &x, const auto &y) {
        return x.first != y.first ? x.first > y.first : x.second < y.second;
    });
    summ_result r;
    ASSERT_EQ(summ_finalize(&a, &c, &r), 0);
    ASSERT_EQ(r.rank_count[0], 10u);  // max(top, 10): the digest shows 10
    EXPECT_EQ(std::string(r.dirs[r.rank[0][0]]->path), "/r");  // the root holds them all
    for (size_t j = 1; j < 10; j++)
        EXPECT_EQ(std::string(r.dirs[r.rank[0][j]]->path), want[j - 1].second) << j;
    EXPECT_EQ(r.rank_count[1], 0u);  // no files anywhere: nothing ranked by files
    summ_result_free(&r);
    summ_agg_free(&a);
}

// ---- the plugin, through the fake host ------------------------------------------

struct Ent {
    std::string path;
    int32_t depth;
    bool dir;
    uint64_t ino;
    uint32_t uid, gid;
    int64_t size, blocks;
    int64_t age_s;  // mtime = atime = ctime = now - age_s
    uint64_t nlink = 1;
    uint32_t flags = 0;
};

const int64_t kDay = 86400, kHour = 3600;

// The tree of the lifecycle tests (figures in the expectations below):
//   /r (root)  /r/a  /r/a/f  /r/a/h == /r/b/h (hard link)  /r/b  /r/b/old
//   /r/u (unreadable)  /r/x (empty file)
std::vector<Ent> Tree()
{
    return {
        {"/r/a/f", 1, false, 12, 1000, 100, 100, 8, 10 * kDay},
        {"/r/a/h", 1, false, 13, 1000, 100, 5000, 16, kHour, 2},
        {"/r/a", 0, true, 11, 1000, 100, 4096, 8, kHour},
        {"/r/b/h", 1, false, 13, 1000, 100, 5000, 16, kHour, 2},
        {"/r/b/old", 1, false, 15, 4000000001u, 100, 7, 8, 2000 * kDay},
        {"/r/b", 0, true, 14, 4000000001u, 100, 4096, 8, kHour},
        {"/r/u", 0, true, 17, 0, 0, 4096, 8, kHour, 1, PWALK_ENTRY_UNREADABLE},
        {"/r/x", 0, false, 16, 0, 0, 0, 0, kHour},
        {"/r", -1, true, 10, 0, 0, 4096, 8, kHour, 1, PWALK_ENTRY_ROOT},
    };
}

pwalk_entry ToEntry(const Ent &e, int64_t now)
{
    pwalk_entry p = harness::SyntheticEntry(e.path, e.depth, e.dir);
    p.flags = e.flags;
    p.uid = e.uid;
    p.gid = e.gid;
    p.ino = e.ino;
    p.nlink = e.nlink;
    p.size = e.size;
    p.blocks = e.blocks;
    p.atime_sec = p.mtime_sec = p.ctime_sec = now - e.age_s;
    return p;
}

int64_t g_now;  // the scan start the fake host reports (set per test)
int32_t g_ranks = 1;  // the ranks it reports (pwalk-mpi > 1)

#if PWALK_ABI_MINOR >= 3
int FakeFacts(pwalk_host_ctx *, pwalk_scan_facts *f)
{
    static const char *const roots[] = {"/r"};
    uint32_t size = f->struct_size;
    memset(f, 0, size);
    f->struct_size = size;
    f->thread_count = 3;
    f->rank = 0;
    f->ranks = g_ranks;
    f->start_sec = g_now;
    f->end_sec = g_now + 5;
    f->hostname = "unit-host";
    f->version = "9.9.9";
    f->roots = roots;
    f->root_count = 1;
    f->entries = 9;
    return PWALK_OK;
}
#endif

class SummaryPlugin : public ::testing::Test {
  protected:
    void SetUp() override
    {
        g_now = (int64_t)time(nullptr);
        g_ranks = 1;
        dir_ = tmp_.path() + "/sum";
        opts_.strings["dir"] = dir_;
        opts_.strings["print"] = "false";
        host_ = harness::FakeHostTable(3);
#if PWALK_ABI_MINOR >= 3
        host_.scan_facts = FakeFacts;
#endif
        plugin_ = pwalk_plugin_entry_v1();
    }

    // create, feed entries[i] to worker assign[i], close, prepare: the
    // instance (destroy it), or nullptr after a failure.
    void *Walk(const std::vector<Ent> &tree, const std::vector<int> &assign, int workers)
    {
        void *inst = nullptr;
        if (plugin_->create(&host_, &ctx_, opts_.get(), &inst) != PWALK_OK) {
            plugin_->finish(inst, 1);
            plugin_->destroy(inst);
            return nullptr;
        }
        std::vector<void *> ts(workers);
        for (int w = 0; w < workers; w++)
            EXPECT_EQ(plugin_->thread_open(inst, (uint32_t)w, &ts[w]), PWALK_OK);
        for (size_t i = 0; i < tree.size(); i++) {
            pwalk_entry e = ToEntry(tree[i], g_now);
            EXPECT_EQ(plugin_->consume(inst, ts[assign[i] % workers], &e, 1), PWALK_OK);
        }
        for (int w = 0; w < workers; w++)
            EXPECT_EQ(plugin_->thread_close(inst, ts[w]), PWALK_OK);
        EXPECT_EQ(plugin_->prepare(inst), PWALK_OK) << ctx_.error();
        return inst;
    }

    std::map<std::string, std::string> Publish(const std::vector<Ent> &tree,
                                               const std::vector<int> &assign, int workers)
    {
        void *inst = Walk(tree, assign, workers);
        EXPECT_NE(inst, nullptr) << ctx_.error();
        EXPECT_EQ(plugin_->finish(inst, 0), PWALK_OK) << ctx_.error();
        plugin_->destroy(inst);
        std::map<std::string, std::string> files;
        for (const std::string &name : harness::ListDir(dir_))
            files[name] = harness::ReadFile(dir_ + "/" + name);
        return files;
    }

    harness::TempDir tmp_{"summary-unit"};
    std::string dir_;
    FakeOptions opts_;
    pwalk_host host_;
    pwalk_host_ctx ctx_;
    const pwalk_plugin *plugin_ = nullptr;
};

std::vector<int> Zeros(size_t n) { return std::vector<int>(n, 0); }

// dirs.csv rows by path (header dropped, quotes removed).
std::map<std::string, std::vector<std::string>> ByFirst(const std::string &csv)
{
    std::map<std::string, std::vector<std::string>> m;
    auto rows = harness::ParseCsv(csv);
    for (size_t i = 1; i < rows.size(); i++)
        m[rows[i][0]] = rows[i];
    return m;
}

TEST_F(SummaryPlugin, RecursiveTotalsCountHardLinksOnceAtTheFirstPath)
{
    auto files = Publish(Tree(), Zeros(Tree().size()), 1);
    ASSERT_EQ(files.size(), 6u);
    auto dirs = ByFirst(files["dirs.csv"]);
    ASSERT_EQ(dirs.size(), 4u) << files["dirs.csv"];
    EXPECT_EQ(harness::Lines(files["dirs.csv"])[0],
              "path,depth,dev,inode,uid,gid,files,dirs,bytes,allocated,newest_mtime,"
              "newest_atime,oldest_mtime,stale_bytes");
    // columns: path depth dev inode uid gid files dirs bytes allocated nm na om stale
    const std::vector<std::string> a = dirs["/r/a"], b = dirs["/r/b"], r = dirs["/r"],
                                   u = dirs["/r/u"];
    // /r/a: itself 4096 + f 100 + h 5000 (/r/a/h sorts before /r/b/h)
    EXPECT_EQ(a[6] + " " + a[7] + " " + a[8] + " " + a[9], "2 0 9196 16384");
    EXPECT_EQ(a[12], std::to_string(g_now - 10 * kDay));  // oldest_mtime: f
    // /r/b: the second link of h counts nothing
    EXPECT_EQ(b[6] + " " + b[7] + " " + b[8] + " " + b[9] + " " + b[13], "1 0 4103 8192 7");
    EXPECT_EQ(u[1] + " " + u[6] + " " + u[8], "0 0 4096");  // unreadable: own figures
    EXPECT_EQ(r[1] + " " + r[3], "-1 10");
    EXPECT_EQ(r[6] + " " + r[7] + " " + r[8] + " " + r[9] + " " + r[13],
              "4 3 21491 32768 7");
    EXPECT_EQ(r[10], std::to_string(g_now - kHour));
    EXPECT_EQ(r[12], std::to_string(g_now - 2000 * kDay));
}

TEST_F(SummaryPlugin, UsersGroupsAndCubeSumToTheRoot)
{
    auto files = Publish(Tree(), Zeros(Tree().size()), 1);
    auto users = ByFirst(files["users.csv"]);
    ASSERT_EQ(users.size(), 3u) << files["users.csv"];
    // uid,user,files,dirs,bytes,allocated,newest_mtime,oldest_atime,orphan
    EXPECT_EQ(users["0"][1], "root");
    EXPECT_EQ(users["0"][2] + " " + users["0"][3] + " " + users["0"][4], "1 2 8192");
    EXPECT_EQ(users["1000"][2] + " " + users["1000"][3] + " " + users["1000"][4], "2 1 9196");
    EXPECT_EQ(users["4000000001"][1], "");
    EXPECT_EQ(users["4000000001"][8], "true");
    EXPECT_EQ(users["0"][8], "false");
    auto groups = ByFirst(files["groups.csv"]);
    EXPECT_EQ(groups["100"][2] + " " + groups["100"][3] + " " + groups["100"][4], "3 2 13299");
    // the cube: every cell's top and buckets; sums equal the root's figures
    auto cube = harness::ParseCsv(files["usage.csv"]);
    uint64_t f = 0, d = 0, bytes = 0;
    std::map<std::string, uint64_t> by_top;
    for (size_t i = 1; i < cube.size(); i++) {
        f += std::stoull(cube[i][7]);
        d += std::stoull(cube[i][8]);
        bytes += std::stoull(cube[i][9]);
        by_top[cube[i][2]] += std::stoull(cube[i][9]);
        if (cube[i][9] == "7") {  // /r/b/old: 2000 days, the last bucket, size class 1
            EXPECT_EQ(cube[i][3] + cube[i][4] + cube[i][5] + " " + cube[i][6], "109510951095 1");
        }
    }
    EXPECT_EQ(f, 4u);
    EXPECT_EQ(d, 4u);
    EXPECT_EQ(bytes, 21491u);
    EXPECT_EQ(by_top["."], 4096u);  // /r and the empty /r/x
    EXPECT_EQ(by_top["a"], 9196u);
    EXPECT_EQ(by_top["b"], 4103u);
    EXPECT_EQ(by_top["u"], 4096u);
}

TEST_F(SummaryPlugin, TablesAreByteIdenticalWhateverWorkerSawWhat)
{
    std::vector<Ent> tree = Tree();
    auto one = Publish(tree, Zeros(tree.size()), 1);
    harness::RemoveTree(dir_);
    // three workers; the two links of h and a directory's files on
    // different workers, in another order
    std::vector<Ent> shuffled(tree.rbegin(), tree.rend());
    auto three = Publish(shuffled, {2, 1, 0, 2, 1, 0, 1, 2, 0}, 3);
    for (const char *t : {"dirs.csv", "users.csv", "groups.csv", "usage.csv", "top.csv"})
        EXPECT_EQ(one[t], three[t]) << t;
}

TEST_F(SummaryPlugin, TopRanksLargestFirstAndLeavesOutZeros)
{
    opts_.ints["top"] = 2;
    auto files = Publish(Tree(), Zeros(Tree().size()), 1);
    EXPECT_EQ(files["top.csv"],
              "ranked_by,rank,path,files,dirs,bytes,allocated,stale_bytes\n"
              "bytes,1,\"/r\",4,3,21491,32768,7\n"
              "bytes,2,\"/r/a\",2,0,9196,16384,0\n"
              "files,1,\"/r\",4,3,21491,32768,7\n"
              "files,2,\"/r/a\",2,0,9196,16384,0\n"
              "stale_bytes,1,\"/r\",4,3,21491,32768,7\n"
              "stale_bytes,2,\"/r/b\",1,0,4103,8192,7\n");
}

TEST_F(SummaryPlugin, NothingUnderAFinalNameUntilFinishAndNothingAfterAFailure)
{
    ASSERT_EQ(mkdir(dir_.c_str(), 0755), 0);
    ASSERT_TRUE(harness::WriteFile(dir_ + "/summary.json", "old"));
    void *inst = Walk(Tree(), Zeros(Tree().size()), 1);
    ASSERT_NE(inst, nullptr);
    // prepared: six temporaries, the old summary.json untouched
    EXPECT_EQ(harness::TempOutputs(dir_).size(), 6u);
    EXPECT_EQ(harness::ListDir(dir_).size(), 7u);
    EXPECT_EQ(harness::ReadFile(dir_ + "/summary.json"), "old");
    EXPECT_EQ(plugin_->finish(inst, 3), PWALK_OK);
    plugin_->destroy(inst);
    EXPECT_EQ(harness::ListDir(dir_), std::vector<std::string>{"summary.json"});
    EXPECT_EQ(harness::ReadFile(dir_ + "/summary.json"), "old");

    auto files = Publish(Tree(), Zeros(Tree().size()), 1);
    EXPECT_EQ(files.size(), 6u);
    EXPECT_TRUE(harness::TempOutputs(dir_).empty());
    EXPECT_NE(files["summary.json"].find("\"format\": \"pwalk-summary\""), std::string::npos);
    EXPECT_NE(files["summary.json"].find("\"totals\": {\"files\": 4, \"dirs\": 4, "
                                         "\"bytes\": 21491, \"allocated\": 32768}"),
              std::string::npos)
        << files["summary.json"];
    EXPECT_NE(files["summary.json"].find("\"dirs\": {\"file\": \"dirs.csv\", \"rows\": 4}"),
              std::string::npos);
}

std::string Unzstd(const std::string &z, size_t *frames)
{
    *frames = 0;
    std::string out;
    size_t at = 0;
    while (at < z.size()) {
        size_t n = ZSTD_findFrameCompressedSize(z.data() + at, z.size() - at);
        if (ZSTD_isError(n))
            return "<bad frame>";
        unsigned long long size = ZSTD_getFrameContentSize(z.data() + at, n);
        std::string buf(size == ZSTD_CONTENTSIZE_UNKNOWN ? (1u << 24) : size, '\0');
        ZSTD_DCtx *d = ZSTD_createDCtx();
        ZSTD_inBuffer in = {z.data() + at, n, 0};
        ZSTD_outBuffer o = {&buf[0], buf.size(), 0};
        size_t rc = ZSTD_decompressStream(d, &o, &in);
        ZSTD_freeDCtx(d);
        if (ZSTD_isError(rc))
            return "<bad data>";
        out.append(buf.data(), o.pos);
        at += n;
        ++*frames;
    }
    return out;
}

TEST_F(SummaryPlugin, ZstdTablesHoldTheSameBytesInOneFrame)
{
    auto plain = Publish(Tree(), Zeros(Tree().size()), 1);
    harness::RemoveTree(dir_);
    opts_.strings["compress"] = "zstd";
    auto z = Publish(Tree(), Zeros(Tree().size()), 1);
    ASSERT_EQ(z.size(), 6u);
    for (const char *t : {"dirs", "users", "groups", "usage", "top"}) {
        size_t frames;
        EXPECT_EQ(Unzstd(z[std::string(t) + ".csv.zst"], &frames), plain[std::string(t) + ".csv"])
            << t;
        EXPECT_EQ(frames, 1u) << t;
    }
    EXPECT_NE(z["summary.json"].find("\"file\": \"usage.csv.zst\""), std::string::npos);
    EXPECT_NE(z["summary.json"].find("\"compress\": \"zstd\""), std::string::npos);
}

TEST_F(SummaryPlugin, BadOptionsFailCreateNamingTheValue)
{
    opts_.lists["age_days"] = {"30", "7"};
    EXPECT_EQ(Walk(Tree(), Zeros(Tree().size()), 1), nullptr);
    EXPECT_NE(ctx_.error().find("age_days: '7' is not greater"), std::string::npos)
        << ctx_.error();
    opts_.lists.erase("age_days");
    opts_.strings["dir"] = tmp_.path() + "/missing/sum";
    void *inst = nullptr;
    EXPECT_EQ(plugin_->create(&host_, &ctx_, opts_.get(), &inst), PWALK_ERR_IO);
    plugin_->finish(inst, 1);
    plugin_->destroy(inst);
    EXPECT_NE(ctx_.error().find("dir: cannot create '" + tmp_.path() + "/missing/sum'"),
              std::string::npos)
        << ctx_.error();
    EXPECT_NE(ctx_.error().find("its parent must exist"), std::string::npos);
    opts_.strings.erase("dir");
    inst = nullptr;
    EXPECT_EQ(plugin_->create(&host_, &ctx_, opts_.get(), &inst), PWALK_ERR_CONFIG);
    plugin_->destroy(inst);
    EXPECT_NE(ctx_.error().find("dir: required"), std::string::npos) << ctx_.error();
}

TEST_F(SummaryPlugin, AnEngineWithoutScanFactsGetsNullsAndTheRootsSeen)
{
    harness::EndTableAt(&host_, 2);  // ABI 1.2: no scan_facts
    auto files = Publish(Tree(), Zeros(Tree().size()), 1);
    const std::string &json = files["summary.json"];
    EXPECT_NE(json.find("\"pwalk_version\": null,"), std::string::npos) << json;
    EXPECT_NE(json.find("\"roots\": [\"/r\"],"), std::string::npos) << json;
    EXPECT_NE(json.find("\"threads\": 3,"), std::string::npos) << json;
    EXPECT_NE(json.find("\"entries\": null,\n  \"errors\": null,\n  \"filtered\": null,"),
              std::string::npos)
        << json;
    EXPECT_NE(json.find("\"bytes\": 21491"), std::string::npos) << json;
}

TEST_F(SummaryPlugin, DigestGoesThroughTheHostLog)
{
    opts_.strings["print"] = "true";
    Publish(Tree(), Zeros(Tree().size()), 1);
    std::string all = harness::Join(ctx_.logs, "\n");
    EXPECT_NE(all.find("4 files, 4 directories"), std::string::npos) << all;
    EXPECT_NE(all.find("top users by bytes:"), std::string::npos) << all;
    EXPECT_NE(all.find("largest directories:"), std::string::npos) << all;
    EXPECT_NE(all.find(">= 1095 days"), std::string::npos) << all;
    EXPECT_NE(all.find("#"), std::string::npos) << all;
}

// The lines the digest logged after `heading` up to the next heading
// (a line that does not start with two spaces).
std::vector<std::string> DigestSection(const std::vector<std::string> &logs,
                                       const std::string &heading)
{
    std::vector<std::string> out;
    auto at = std::find(logs.begin(), logs.end(), heading);
    for (at = at == logs.end() ? at : at + 1; at != logs.end() && at->rfind("  ", 0) == 0; ++at)
        out.push_back(*at);
    return out;
}

TEST_F(SummaryPlugin, DigestShowsTenUsersTenDirectoriesAndABarPerAgeBucket)
{
    // 12 users (uids without accounts), each owning /r/dNN and its file of
    // (N + 1) * 1000 bytes modified N * 100 days ago; root owns /r
    std::vector<Ent> tree;
    for (int n = 0; n < 12; n++) {
        char d[16];
        snprintf(d, sizeof d, "/r/d%02d", n);
        uint32_t uid = 3000000000u + (uint32_t)n;
        tree.push_back({std::string(d) + "/f", 1, false, 100u + (uint64_t)n, uid, 100,
                        (n + 1) * 1000, 8, n * 100 * kDay});
        tree.push_back({d, 0, true, 200u + (uint64_t)n, uid, 100, 4096, 8, kHour});
    }
    tree.push_back({"/r", -1, true, 10, 0, 0, 4096, 8, kHour, 1, PWALK_ENTRY_ROOT});
    opts_.strings["print"] = "true";
    Publish(tree, Zeros(tree.size()), 1);
    auto users = DigestSection(ctx_.logs, "top users by bytes:");
    ASSERT_EQ(users.size(), 10u) << harness::Join(ctx_.logs, "\n");
    EXPECT_EQ(users[0].find("  3000000011 "), 0u) << users[0];  // the most bytes first
    EXPECT_EQ(users[9].find("  3000000002 "), 0u) << users[9];
    auto dirs = DigestSection(ctx_.logs, "largest directories:");
    ASSERT_EQ(dirs.size(), 10u) << harness::Join(ctx_.logs, "\n");
    EXPECT_NE(dirs[0].find("files  /r"), std::string::npos) << dirs[0];
    EXPECT_NE(dirs[1].find("files  /r/d11"), std::string::npos) << dirs[1];
    EXPECT_NE(dirs[9].find("files  /r/d03"), std::string::npos) << dirs[9];
    auto ages = DigestSection(ctx_.logs, "bytes by age of last modification:");
    ASSERT_EQ(ages.size(), 7u) << harness::Join(ctx_.logs, "\n");  // 6 bounds: 7 buckets
    // bytes per bucket: < 7 days: d00's file and the 13 directories; 90-364:
    // d01..d03 (100-300 days); 365-729: d04..d07; 730-1094: d08..d10; >= 1095: d11
    auto bar = [](const std::string &l) { return l.size() - l.find_last_not_of('#') - 1; };
    EXPECT_EQ(bar(ages[0]), 40u) << ages[0];  // the fullest: 54248 B
    EXPECT_EQ(bar(ages[1]), 0u) << ages[1];   // 7-29 days: nothing
    EXPECT_EQ(bar(ages[2]), 0u) << ages[2];   // 30-89 days: nothing
    EXPECT_EQ(bar(ages[3]), 7u) << ages[3];   // 9000 B: 9000 / 54248 * 40 rounded
    EXPECT_EQ(bar(ages[4]), 19u) << ages[4];  // 26000 B
    EXPECT_EQ(bar(ages[5]), 22u) << ages[5];  // 30000 B
    EXPECT_EQ(bar(ages[6]), 9u) << ages[6];   // 12000 B
    EXPECT_NE(ages[6].find(">= 1095 days"), std::string::npos) << ages[6];
}

#if PWALK_ABI_MINOR >= 3
// pwalk-mpi: each rank writes a partial, rank 0's merge lifecycle (no
// workers) publishes the tables of one process.  The link of h whose path
// sorts first (/r/a/h) is on rank 1, the other (/r/b/h) on rank 0: it counts
// once, at /r/a, whichever partial comes first.
TEST_F(SummaryPlugin, RanksPartialsMergeIntoTheTablesOfOneProcessLinksOnceAtTheFirstPath)
{
    std::map<std::string, std::string> one = Publish(Tree(), Zeros(Tree().size()), 1);
    g_ranks = 2;
    std::vector<std::string> parts;
    for (int r = 0; r < 2; r++) {
        std::vector<Ent> mine;
        for (const Ent &e : Tree())
            if ((e.path.rfind("/r/a", 0) == 0 || e.path == "/r/u") == (r == 1))
                mine.push_back(e);
        parts.push_back(tmp_.path() + "/sum.part-000" + std::to_string(r));
        opts_.strings["dir"] = parts.back();
        void *inst = Walk(mine, Zeros(mine.size()), 2);
        ASSERT_NE(inst, nullptr) << ctx_.error();
        ASSERT_EQ(plugin_->finish(inst, 0), PWALK_OK) << ctx_.error();
        plugin_->destroy(inst);
        ASSERT_TRUE(harness::Exists(parts.back()));
    }
    host_.worker_count = 0;
    for (int order = 0; order < 2; order++) {
        std::string merged = tmp_.path() + "/merged" + std::to_string(order);
        opts_.strings["dir"] = merged;
        void *inst = nullptr;
        ASSERT_EQ(plugin_->create(&host_, &ctx_, opts_.get(), &inst), PWALK_OK) << ctx_.error();
        std::vector<const char *> ptrs = {parts[order].c_str(), parts[1 - order].c_str()};
        ASSERT_EQ(plugin_->merge(inst, ptrs.data(), ptrs.size()), PWALK_OK) << ctx_.error();
        ASSERT_EQ(plugin_->prepare(inst), PWALK_OK) << ctx_.error();
        ASSERT_EQ(plugin_->finish(inst, 0), PWALK_OK) << ctx_.error();
        plugin_->destroy(inst);
        for (const auto &f : one) {
            std::string got = harness::ReadFile(merged + "/" + f.first);
            if (f.first == "summary.json")
                EXPECT_NE(got.find("\"ranks\": 2,"), std::string::npos) << got;
            else
                EXPECT_EQ(got, f.second) << f.first << " merged in order " << order;
        }
    }
}
#endif

#if PWALK_ABI_MINOR >= 4
// ---- checkpoints (ABI 1.4): suspended, crashed and resumed scans ---------------

// How a session of a checkpointed scan ends.
enum class End { kSuspend, kCrash, kComplete };

class SummaryCheckpoint : public SummaryPlugin {
  protected:
    // One session, in its own host context (the engine of a new process):
    // create() resuming `states`; tree[from, to) over two workers with a
    // checkpoint after every `every` entries and one at `to`; then
    // kSuspend: thread_close, finish(PWALK_SUSPENDED), destroy; kCrash: two
    // more entries (the process dies before its next checkpoint: a later
    // session reads them again) and the temporaries left on disk as SIGKILL
    // leaves them; kComplete: thread_close, prepare, finish(0).  Returns the
    // last state saved ("" when create() failed: *error says why).
    std::string Session(const std::vector<std::string> &states, size_t from, size_t to, End end,
                        size_t every = 1000, std::string *error = nullptr)
    {
        const std::vector<Ent> tree = Tree();
        pwalk_host_ctx ctx;
        ctx.resume_states = states;
        ctx.sessions = sessions_;
        void *ts[2];
        void *inst = harness::StartSession(plugin_, &host_, &ctx, opts_.get(), ts, 2, error);
        if (!inst)
            return "";
        std::string last;
        if (from == to) {  // a session that reads nothing still checkpoints
            EXPECT_EQ(harness::Checkpoint(plugin_, inst, &ctx), PWALK_OK) << ctx.error();
        }
        for (size_t i = from; i < to + (end == End::kCrash ? 2 : 0) && i < tree.size(); i++) {
            pwalk_entry e = ToEntry(tree[i], g_now);
            EXPECT_EQ(plugin_->consume(inst, ts[i % 2], &e, 1), PWALK_OK);
            if (i + 1 == to || (i < to && (i + 1 - from) % every == 0)) {
                EXPECT_EQ(harness::Checkpoint(plugin_, inst, &ctx), PWALK_OK) << ctx.error();
                EXPECT_EQ(ctx.saves_in_checkpoint, 1);
            }
        }
        last = ctx.saved.empty() ? "" : ctx.saved.back();
        for (uint32_t w = 0; w < 2; w++)
            EXPECT_EQ(plugin_->thread_close(inst, ts[w]), PWALK_OK);
        if (end == End::kComplete) {
            EXPECT_EQ(plugin_->prepare(inst), PWALK_OK) << ctx.error();
            EXPECT_EQ(plugin_->finish(inst, 0), PWALK_OK) << ctx.error();
        } else if (end == End::kSuspend) {
            EXPECT_EQ(plugin_->finish(inst, PWALK_SUSPENDED), PWALK_OK) << ctx.error();
        }
        std::vector<std::string> temps = harness::TempOutputs(dir_);
        plugin_->destroy(inst);
        if (end == End::kCrash) {  // destroy() removed what SIGKILL leaves behind
            mkdir(dir_.c_str(), 0755);
            for (const std::string &t : temps)
                EXPECT_TRUE(harness::WriteFile(dir_ + "/" + t, ""));
        }
        return last;
    }

    // The tables as published, summary.json aside.
    std::map<std::string, std::string> Tables()
    {
        std::map<std::string, std::string> files;
        for (const std::string &name : harness::ListDir(dir_))
            if (name != "summary.json")
                files[name] = harness::ReadFile(dir_ + "/" + name);
        return files;
    }

    std::map<std::string, std::string> Reference()
    {
        Publish(Tree(), Zeros(Tree().size()), 1);
        std::map<std::string, std::string> ref = Tables();
        EXPECT_EQ(ref.size(), 5u);
        harness::RemoveTree(dir_);
        return ref;
    }

    std::vector<pwalk_session> sessions_;
};

// The issue's rule: interrupted anywhere (suspended, or killed after a
// checkpoint with work lost after it), resumed, the tables are those of an
// uninterrupted scan byte for byte -- the two links of h on either side of
// a cut included -- and nothing of the sink is left but the tables.
TEST_F(SummaryCheckpoint, ResumedAtEveryCutTheTablesAreTheUninterruptedOnes)
{
    const auto ref = Reference();
    const size_t n = Tree().size();
    for (End end : {End::kSuspend, End::kCrash}) {
        for (size_t cut = 0; cut <= n; cut++) {
            SCOPED_TRACE("cut " + std::to_string(cut) + (end == End::kCrash ? " crash" : " suspend"));
            std::string state = Session({}, 0, cut, end);
            ASSERT_FALSE(state.empty());
            // suspended or killed: the six (empty) temporaries, nothing under a final name
            EXPECT_EQ(harness::ListDir(dir_), harness::TempOutputs(dir_));
            EXPECT_EQ(harness::TempOutputs(dir_).size(), 6u);
            Session({state}, cut, n, End::kComplete);
            EXPECT_EQ(Tables(), ref);
            EXPECT_TRUE(harness::TempOutputs(dir_).empty());
            EXPECT_TRUE(harness::Exists(dir_ + "/summary.json"));
            harness::RemoveTree(dir_);
        }
    }
}

TEST_F(SummaryCheckpoint, SeveralInterruptionsInOneScanAndACheckpointAfterEveryEntry)
{
    const auto ref = Reference();
    std::string s1 = Session({}, 0, 2, End::kSuspend, 1);
    std::string s2 = Session({s1}, 2, 4, End::kCrash, 1);
    std::string s3 = Session({s2}, 4, 4, End::kSuspend, 1);  // nothing read in between
    std::string s4 = Session({s3}, 4, 7, End::kCrash, 1);
    Session({s4}, 7, Tree().size(), End::kComplete, 1);
    EXPECT_EQ(Tables(), ref);
    EXPECT_TRUE(harness::TempOutputs(dir_).empty());
}

// ABI: a state always starts "PWSUMCKP" and names the temporaries; a
// resumed session continues them (no new names: a kill before its first
// checkpoint leaves nothing the journal does not name), a name that is gone
// gets a new temporary, a stray named one is removed at publishing.
TEST_F(SummaryCheckpoint, ResumedSessionsContinueTheNamedTemporaries)
{
    std::string s1 = Session({}, 0, 3, End::kCrash);
    ASSERT_EQ(s1.compare(0, 8, "PWSUMCKP"), 0);
    const std::vector<std::string> first = harness::TempOutputs(dir_);
    EXPECT_EQ(first.size(), 6u);
    for (const std::string &t : first)
        EXPECT_NE(s1.find(t), std::string::npos) << t;
    std::string s2 = Session({s1}, 3, 5, End::kSuspend);
    EXPECT_EQ(harness::TempOutputs(dir_), first);
    ASSERT_EQ(unlink((dir_ + "/" + first[0]).c_str()), 0);  // removed by hand: made anew
    ASSERT_TRUE(harness::WriteFile(dir_ + "/.dirs.csv.pwalk-tmp-stray0", "x"));
    std::string s3 = Session({s2}, 5, 7, End::kCrash);
    EXPECT_EQ(harness::TempOutputs(dir_).size(), 7u);
    // a name the state did not give stays: not this scan's
    Session({s3}, 7, Tree().size(), End::kComplete);
    EXPECT_EQ(harness::TempOutputs(dir_), std::vector<std::string>{".dirs.csv.pwalk-tmp-stray0"});
    EXPECT_EQ(harness::ListDir(dir_).size(), 7u);
}

// pwalk-mpi resumed with fewer ranks: one instance continues two ranks'
// states (disjoint parts of the tree, h's two links on different ones).
TEST_F(SummaryCheckpoint, TwoRanksStatesMergeIntoOneInstance)
{
    const auto ref = Reference();
    const size_t n = Tree().size();
    std::string a = Session({}, 0, 4, End::kSuspend);
    std::string b = Session({}, 4, n, End::kSuspend);
    // b's own start: a later session of the same scan has the same start
    Session({a, b}, n, n, End::kComplete);
    EXPECT_EQ(Tables(), ref);
}

// The ages keep the scan's first start as their origin: the engine of a
// resumed process may report a later start; the states' is used (an entry
// an hour old at the start stays in bucket 0, not 7).
TEST_F(SummaryCheckpoint, AgesAreMeasuredFromTheFirstSessionsStart)
{
    const auto ref = Reference();
    std::string s1 = Session({}, 0, 4, End::kSuspend);
    const int64_t first = g_now;
    g_now += 8 * kDay;  // what FakeFacts reports to the resumed create()
    pwalk_host_ctx ctx;
    ctx.resume_states = {s1};
    void *inst = nullptr;
    ASSERT_EQ(plugin_->create(&host_, &ctx, opts_.get(), &inst), PWALK_OK) << ctx.error();
    void *ts = nullptr;
    ASSERT_EQ(plugin_->thread_open(inst, 0, &ts), PWALK_OK);
    const std::vector<Ent> tree = Tree();
    for (size_t i = 4; i < tree.size(); i++) {
        pwalk_entry e = ToEntry(tree[i], first);
        EXPECT_EQ(plugin_->consume(inst, ts, &e, 1), PWALK_OK);
    }
    EXPECT_EQ(plugin_->thread_close(inst, ts), PWALK_OK);
    EXPECT_EQ(plugin_->prepare(inst), PWALK_OK) << ctx.error();
    EXPECT_EQ(plugin_->finish(inst, 0), PWALK_OK) << ctx.error();
    plugin_->destroy(inst);
    EXPECT_EQ(Tables(), ref);
    std::string json = harness::ReadFile(dir_ + "/summary.json");
    EXPECT_NE(json.find("\"start_time\": " + std::to_string(first) + ","), std::string::npos)
        << json;
}

TEST_F(SummaryCheckpoint, ABadStateFailsCreateWithOneLineAndNothingMade)
{
    const auto ref = Reference();
    std::string good = Session({}, 0, 4, End::kSuspend);
    const std::vector<std::string> kept = harness::TempOutputs(dir_);
    ASSERT_EQ(kept.size(), 6u);
    std::string error;
    EXPECT_EQ(Session({"garbage"}, 4, 9, End::kComplete, 1000, &error), "");
    EXPECT_EQ(error, "summary checkpoint state 1 of 1: not a summary checkpoint state");
    std::string flipped = good;
    flipped[flipped.size() - 20] ^= 0x40;  // inside the partial: its checksum
    EXPECT_EQ(Session({good, flipped}, 4, 9, End::kComplete, 1000, &error), "");
    EXPECT_EQ(error.rfind("summary checkpoint state 2 of 2: corrupt (checksum ", 0), 0u) << error;
    std::string cut = good.substr(0, 20);
    EXPECT_EQ(Session({cut}, 4, 9, End::kComplete, 1000, &error), "");
    EXPECT_NE(error.find("summary checkpoint state 1 of 1: "), std::string::npos) << error;
    // nothing made, the kept temporaries untouched: the journal stays usable
    EXPECT_EQ(harness::ListDir(dir_), kept);
    Session({good}, 4, Tree().size(), End::kComplete);
    EXPECT_EQ(Tables(), ref);
}

// summary.json: "sessions" and "session_times" from the engine's facts (a
// running last session ends at end_time).
TEST_F(SummaryCheckpoint, SummaryJsonListsTheSessions)
{
    host_.scan_facts = harness::FakeScanFacts;
    sessions_ = {{1000, 2000}, {3000, 0}};
    std::string s1 = Session({}, 0, 4, End::kSuspend);
    Session({s1}, 4, Tree().size(), End::kComplete);
    std::string json = harness::ReadFile(dir_ + "/summary.json");
    EXPECT_NE(json.find("  \"sessions\": 2,\n  \"session_times\": [{\"start\": 1000, \"end\": "
                        "2000}, {\"start\": 3000, \"end\": "),
              std::string::npos)
        << json;
    sessions_.clear();
    harness::RemoveTree(dir_);
    Publish(Tree(), Zeros(Tree().size()), 1);  // one go: one session, start to end
    json = harness::ReadFile(dir_ + "/summary.json");
    EXPECT_NE(json.find("  \"sessions\": 1,\n  \"session_times\": [{\"start\": "), std::string::npos)
        << json;
}
#endif

TEST_F(SummaryPlugin, OutputsAreGivenToOwnOutputAndAMadeDirGoesWhenNothingIsPublished)
{
    void *inst = nullptr;
    ASSERT_EQ(plugin_->create(&host_, &ctx_, opts_.get(), &inst), PWALK_OK) << ctx_.error();
    EXPECT_EQ(ctx_.own.size(), 6u);
    struct stat st;
    ASSERT_EQ(stat(dir_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0755u);
    plugin_->finish(inst, 1);
    plugin_->destroy(inst);
    EXPECT_FALSE(harness::Exists(dir_));  // made by create(), nothing published
}

}  // namespace

// ---- one real walk: a csv report and a summary in one pipeline ----------------

namespace e2e {

bool StartsWithDir(const std::string &path, const std::string &dir)
{
    return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                           path[dir.size()] == '/');
}

TEST(SummaryEngine, OneWalkWritesTheReportAndTablesThatAgreeWithIt)
{
    harness::TempDir tmp("summary-e2e");
    const std::string tree = tmp / "tree";
    for (const char *d : {"", "/a", "/a/deep", "/b", "/b/\xff name"})
        ASSERT_EQ(mkdir((tree + d).c_str(), 0755), 0) << d;
    ASSERT_TRUE(harness::WriteFile(tree + "/top.txt", "12345"));
    ASSERT_TRUE(harness::WriteFile(tree + "/a/one", std::string(5000, 'x')));
    ASSERT_TRUE(harness::WriteFile(tree + "/a/deep/two", std::string(70000, 'y')));
    ASSERT_TRUE(harness::WriteFile(tree + "/b/\xff name/three", "3"));
    ASSERT_EQ(symlink("a/one", (tree + "/b/link").c_str()), 0);
    const std::string pipeline = tmp / "p.yaml";
    ASSERT_TRUE(harness::WriteFile(
        pipeline, "version: 1\nscan:\n  threads: 2\nsinks:\n"
                  "  - name: report\n    plugin: csv\n    options: {path: '" + tmp / "r.csv" +
                      "'}\n"
                  "  - name: sum\n    plugin: summary\n    options: {dir: '" + tmp / "sum" +
                      "', print: 'false'}\n"));
    harness::Result r = harness::RunEngine({"-q", "-c", pipeline, tree});
    ASSERT_EQ(r.status, 0) << r.Describe();
    harness::Csv report = harness::ReadCsv(tmp / "r.csv", harness::kColumns);
    ASSERT_TRUE(report.ok) << report.problem;
    ASSERT_EQ(report.rows.size(), 10u);
    auto dirs = ByFirst(harness::ReadFile(tmp / "sum/dirs.csv"));
    size_t dir_rows = 0;
    for (const auto &row : report.rows) {
        if (row[harness::kMode].compare(0, 3, "004") != 0)
            continue;
        dir_rows++;
        uint64_t bytes = 0, alloc = 0, files = 0, below = 0;
        for (const auto &x : report.rows) {
            if (!StartsWithDir(x[harness::kFilename], row[harness::kFilename]))
                continue;
            bytes += std::stoull(x[harness::kSize]);
            alloc += std::stoull(x[harness::kBlocks]) * 512;
            bool is_dir = x[harness::kMode].compare(0, 3, "004") == 0;
            files += !is_dir;
            below += is_dir && x[harness::kFilename] != row[harness::kFilename];
        }
        const auto &d = dirs[row[harness::kFilename]];
        ASSERT_EQ(d.size(), 14u) << row[harness::kFilename];
        EXPECT_EQ(d[1], row[harness::kDepth]);
        EXPECT_EQ(d[3], row[harness::kInode]);
        EXPECT_EQ(d[6] + " " + d[7] + " " + d[8] + " " + d[9],
                  std::to_string(files) + " " + std::to_string(below) + " " +
                      std::to_string(bytes) + " " + std::to_string(alloc))
            << row[harness::kFilename];
    }
    EXPECT_EQ(dirs.size(), dir_rows);
    EXPECT_EQ(dir_rows, 5u);
    EXPECT_TRUE(dirs.count(harness::Lossless(tree + "/b/\xff name")));
    std::string json = harness::ReadFile(tmp / "sum/summary.json");
    EXPECT_NE(json.find("\"format\": \"pwalk-summary\",\n  \"version\": 1,\n  \"complete\": true"),
              std::string::npos)
        << json;
    EXPECT_NE(json.find("\"files\": 5, \"dirs\": 5"), std::string::npos) << json;
    EXPECT_TRUE(harness::TempOutputs(tmp / "sum").empty());
}

}  // namespace e2e
