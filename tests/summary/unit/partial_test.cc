// The summary's partials (plugins/summary/partial.c, S3): a rank's
// aggregate written and read back whole, and every way a partial can be
// wrong refused with one line naming the file, before any of it is used.
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/harness/harness.h"

extern "C" {
#include "agg.h"
#include "common/outfile.h"
#include "partial.h"
#include "summ.h"
}

namespace {

summ_conf Conf(int64_t start)
{
    summ_conf c = {};
    const int32_t ages[] = {7, 30, 90, 365, 730, 1095};
    for (size_t i = 0; i < 6; i++)
        c.age_days[i] = ages[i];
    c.age_count = 6;
    c.start_sec = start;
    c.top_n = 20;
    return c;
}

// An aggregate with one of everything a partial carries.
void Fill(summ_agg *a)
{
    summ_agg_init(a);
    const char *paths[] = {"/r", "/r/a", "/r/a/\n\xff odd"};
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(paths[i]);
        summ_dir *d = summ_agg_dir(a, paths[i], len, summ_hash(paths[i], len), i - 1);
        ASSERT_NE(d, nullptr);
        d->flags = SUMM_DIR_SELF | (i == 0 ? SUMM_DIR_ROOT : 0u);
        d->uid = 1000u + (uint32_t)i;
        d->gid = 2000;
        d->dev = 77;
        d->ino = 100u + (uint64_t)i;
        d->direct.files = 3u + (uint64_t)i;
        d->direct.bytes = 4096u * (uint64_t)(i + 1);
        d->direct.allocated = 8192;
        d->direct.newest_mtime = 1700000000 + i;
        d->direct.oldest_mtime = -5;  // times before 1970 survive
    }
    summ_owner *u = summ_agg_user(a, 1000);
    ASSERT_NE(u, nullptr);
    u->files = 9;
    u->bytes = 1ull << 40;
    u->newest_mtime = 1700000001;
    u->oldest_atime = 1600000000;
    summ_owner *g = summ_agg_group(a, 4242424);
    ASSERT_NE(g, nullptr);
    g->dirs = 2;
    summ_cell_key k = {};
    k.uid = 1000;
    k.gid = 2000;
    k.top = summ_agg_top(a, "a", 1);
    k.mtime_age = 365;
    k.atime_age = 0;
    k.ctime_age = 7;
    k.size_class = 3;
    summ_cell *c = summ_agg_cell(a, &k);
    ASSERT_NE(c, nullptr);
    c->files = 5;
    c->bytes = 12345;
    summ_link l = {};
    l.dev = 77;
    l.ino = 555;
    l.path = const_cast<char *>("/r/a/hl");
    l.path_len = 7;
    l.name_offset = 5;
    l.depth = 1;
    l.uid = 1000;
    l.size = 10;
    l.blocks = 8;
    l.mtime = 1700000000;
    ASSERT_EQ(summ_agg_link(a, &l), 0);
    a->loose.files = 1;
    a->loose.bytes = 5;
}

class Partial : public ::testing::Test {
  protected:
    // Write a into NAME (published), returning its path.
    std::string Write(const summ_agg *a, const summ_conf &c, const std::string &name)
    {
        std::string path = tmp_ / name;
        outfile o;
        char err[1024] = "";
        EXPECT_EQ(outfile_open(&o, path.c_str(), err, sizeof err), 0) << err;
        EXPECT_EQ(summ_partial_write(&o, a, &c, err, sizeof err), 0) << err;
        EXPECT_EQ(outfile_commit(&o, err, sizeof err), 0) << err;
        return path;
    }

    // Read path into a fresh aggregate; "" or the message.
    std::string Read(const std::string &path, const summ_conf &c, summ_agg *into = nullptr)
    {
        summ_agg own;
        summ_agg_init(&own);
        char err[1024] = "";
        int rc = summ_partial_read(into ? into : &own, &c, path.c_str(), err, sizeof err);
        summ_agg_free(&own);
        EXPECT_EQ(rc == 0, err[0] == '\0') << err;
        EXPECT_EQ(strchr(err, '\n'), nullptr) << "one line";
        return err;
    }

    std::string Bytes(const std::string &path)
    {
        std::string s;
        EXPECT_TRUE(harness::ReadFile(path, &s)) << path;
        return s;
    }

    void Put(const std::string &path, const std::string &bytes)
    {
        ASSERT_TRUE(harness::WriteFile(path, bytes));
    }

    // The bytes with the trailer's checksum recomputed (a forged file
    // whose records, not its checksum, are wrong).
    static std::string Reseal(std::string b)
    {
        uint64_t h = 1469598103934665603ULL;
        for (size_t i = 0; i < b.size() - 16; i++) {
            h ^= (unsigned char)b[i];
            h *= 1099511628211ULL;
        }
        for (int i = 0; i < 8; i++)
            b[b.size() - 8 + (size_t)i] = (char)(h >> (8 * i));
        return b;
    }

    harness::TempDir tmp_{"partial"};
};

TEST_F(Partial, RoundTripKeepsEverything)
{
    summ_conf c = Conf(1750000000);
    summ_agg a;
    Fill(&a);
    std::string p = Write(&a, c, "p0");
    summ_agg b;
    summ_agg_init(&b);
    ASSERT_EQ(Read(p, c, &b), "");
    ASSERT_EQ(b.dir_count, 3u);
    const summ_dir *odd = nullptr;
    for (size_t i = 0; i < b.dir_count; i++)
        if (b.dirs[i]->path_len == strlen("/r/a/\n\xff odd"))
            odd = b.dirs[i];
    ASSERT_NE(odd, nullptr);
    EXPECT_EQ(memcmp(odd->path, "/r/a/\n\xff odd", odd->path_len), 0);
    EXPECT_EQ(odd->depth, 1);
    EXPECT_EQ(odd->uid, 1002u);
    EXPECT_EQ(odd->ino, 102u);
    EXPECT_EQ(odd->direct.files, 5u);
    EXPECT_EQ(odd->direct.oldest_mtime, -5);
    ASSERT_EQ(b.user_count, 1u);
    EXPECT_EQ(b.users[0].bytes, 1ull << 40);
    EXPECT_EQ(b.users[0].oldest_atime, 1600000000);
    ASSERT_EQ(b.group_count, 1u);
    EXPECT_EQ(b.groups[0].id, 4242424u);
    ASSERT_EQ(b.cell_count, 1u);
    EXPECT_EQ(b.cells[0].key.mtime_age, 365);
    EXPECT_EQ(b.cells[0].bytes, 12345u);
    ASSERT_EQ(b.top_count, 1u);
    EXPECT_EQ(std::string(b.tops[b.cells[0].key.top]), "a");
    ASSERT_EQ(b.link_count, 1u);
    EXPECT_EQ(std::string(b.links[0].path), "/r/a/hl");
    EXPECT_EQ(b.links[0].name_offset, 5u);
    EXPECT_EQ(b.loose.bytes, 5u);
    // written again, the same bytes: nothing lost or reordered
    EXPECT_EQ(Bytes(Write(&b, c, "p1")), Bytes(p));
    // and a second partial merges into the first (sums add up)
    ASSERT_EQ(Read(p, c, &b), "");
    EXPECT_EQ(b.dir_count, 3u);
    EXPECT_EQ(b.cells[0].bytes, 2u * 12345u);
    EXPECT_EQ(b.link_count, 2u);
    summ_agg_free(&a);
    summ_agg_free(&b);
}

TEST_F(Partial, EmptyAggregate)
{
    summ_conf c = Conf(1);
    summ_agg a;
    summ_agg_init(&a);
    EXPECT_EQ(Read(Write(&a, c, "empty"), c), "");
}

TEST_F(Partial, EveryDefectIsOneLineNamingTheFile)
{
    summ_conf c = Conf(1750000000);
    summ_agg a;
    Fill(&a);
    std::string p = Write(&a, c, "good");
    summ_agg_free(&a);
    const std::string good = Bytes(p);
    std::string q = tmp_ / "bad";
    std::string head = "summary partial '" + q + "': ";

    EXPECT_EQ(Read(tmp_ / "missing", c),
              "summary partial '" + (tmp_ / "missing") + "': cannot open: No such file or "
                                                          "directory");
    Put(q, "PAR1 this is parquet");
    EXPECT_EQ(Read(q, c), head + "not a pwalk summary partial (no 'PWSUMPRT' at its start)");
    Put(q, good.substr(0, 10));
    EXPECT_EQ(Read(q, c), head + "truncated (10 bytes)");
    Put(q, good.substr(0, good.size() - 5));
    EXPECT_EQ(Read(q, c), head + "truncated or corrupt (no end marker; " +
                              std::to_string(good.size() - 5) + " bytes)");
    std::string flipped = good;
    flipped[40] ^= 1;
    Put(q, flipped);
    std::string m = Read(q, c);
    EXPECT_EQ(m.rfind(head + "corrupt (checksum ", 0), 0u) << m;
    std::string v2 = good;
    v2[8] = 2;
    Put(q, Reseal(v2));
    EXPECT_EQ(Read(q, c), head + "format version 2, this pwalk reads version 1 (ranks of "
                                 "another pwalk build?)");
    EXPECT_EQ(Read(p, Conf(1750000001)),
              "summary partial '" + p + "': written for a scan started at 1750000000, this "
                                        "merge's started at 1750000001");
    summ_conf other = c;
    other.age_days[5] = 1096;
    EXPECT_EQ(Read(p, other),
              "summary partial '" + p + "': its age_days differ from this sink's age_days");
    // a count the file cannot hold, checksum forged: refused before use
    std::string huge = good;
    size_t dirs_at = 8 + 4 + 4 + 8 + 4 + 6 * 4;
    huge[dirs_at + 7] = 0x10;
    Put(q, Reseal(huge));
    m = Read(q, c);
    EXPECT_EQ(m.rfind(head + "corrupt record (near byte ", 0), 0u) << m;
}

}  // namespace
