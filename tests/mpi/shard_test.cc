// Shard names and the manifest of a scan over MPI ranks (engine/mpi/shard.c,
// pwalk-mpi's part that needs no MPI): the manifest states the scan as the
// public API reports it (pwalk.h and pwalk/sys/remote.h's settings).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "pwalk/pwalk.h"

extern "C" {
#include "common/outfile.h"
#include "engine/mpi/shard.h"
}

namespace {

std::string Shard(const char *path, int rank) {
    char out[4096];
    EXPECT_EQ(shard_name(path, rank, out, sizeof out), 0);
    return out;
}

std::string ManifestPath(const char *path) {
    char out[4096];
    EXPECT_EQ(shard_manifest_path(path, out, sizeof out), 0);
    return out;
}

TEST(Shard, PartGoesBeforeCsv) {
    EXPECT_EQ(Shard("scan.csv.zst", 3), "scan.part-0003.csv.zst");
    EXPECT_EQ(Shard("out/scan.csv", 0), "out/scan.part-0000.csv");
    EXPECT_EQ(Shard("/a.csv.d/r.csv.gz", 12), "/a.csv.d/r.part-0012.csv.gz");  // file name only
    EXPECT_EQ(Shard("out/report", 7), "out/report.part-0007");
    EXPECT_EQ(Shard("x.csv.lz4", 10000), "x.part-10000.csv.lz4");
    EXPECT_EQ(Shard("out/scan.csv.zst", -1), "out/scan.part-*.csv.zst");
}

// Without ".csv" the part goes before a compression suffix, which must stay
// last: "out/scan.zst.part-0001" would not say zstd to a reader.
TEST(Shard, PartGoesBeforeACompressionSuffix) {
    EXPECT_EQ(Shard("out/scan.zst", 1), "out/scan.part-0001.zst");
    EXPECT_EQ(Shard("out/r.tar.GZ", 2), "out/r.tar.part-0002.GZ");
    EXPECT_EQ(Shard("r.lz4", -1), "r.part-*.lz4");
    EXPECT_EQ(Shard("out/.gz", 3), "out/.gz.part-0003");  // a hidden name, not a suffix
}

TEST(Shard, TooLongIsAnError) {
    char small[8];
    EXPECT_EQ(shard_name("scan.csv.zst", 1, small, sizeof small), -1);
    EXPECT_EQ(shard_manifest_path("scan.csv.zst", small, sizeof small), -1);
}

TEST(Shard, ManifestBesideTheFirstOutput) {
    EXPECT_EQ(ManifestPath("out/scan.csv.zst"), "out/scan.manifest.json");
    EXPECT_EQ(ManifestPath("scan.csv"), "scan.manifest.json");
    EXPECT_EQ(ManifestPath("/d.x/audit.tsv"), "/d.x/audit.manifest.json");
    EXPECT_EQ(ManifestPath("out/report"), "out/report.manifest.json");
}

TEST(Shard, ManifestIsWrittenWholeWithEscapedNames) {
    char dir[] = "/tmp/pwalk-shard-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    std::string d = dir;
    pwalk_scan *p = nullptr;
    ASSERT_EQ(pwalk_scan_new(&p), 0);
    // a literal backslash-x next to a real 0xff byte: both must stay apart
    std::string root = "/r/a\"b\n\xff\xc3\xa9\\xff";
    // byte sequences a loose decoder lets through: F5 lead, a surrogate
    // (ED A0 80), overlong 3- and 4-byte forms, past U+10FFFF (F4 90)
    std::string loose = "/s/\xf5\x80\x80\x80|\xed\xa0\x80|\xe0\x80\xaf|\xf0\x80\x80\xaf|"
                        "\xf4\x90\x80\x80|\xf0\x9f\x98\x80";
    const char *roots[] = {root.c_str(), loose.c_str()};
    ASSERT_EQ(pwalk_scan_set_roots(p, roots, 2), 0);
    char err[512] = "";
    ASSERT_EQ(pwalk_scan_add_sink(p, "z", "csv-zstd", err, sizeof err), 0) << err;
    ASSERT_EQ(pwalk_scan_set(p, "scan.max_depth=3", err, sizeof err), 0) << err;
    ASSERT_EQ(pwalk_scan_set(p, "scan.one_file_system=true", err, sizeof err), 0) << err;
    ASSERT_EQ(pwalk_scan_add_exclude(p, "/r/skip*"), 0);
    std::string out = d + "/scan.csv.zst";
    char *paths[] = {const_cast<char *>(out.c_str())};
    shard_rank_result results[2] = {};
    results[0].rows = 5;
    results[0].entries = 5;
    results[0].sink_rows[0] = 5;
    results[1].rows = 7;
    results[1].entries = 7;
    results[1].errors = 2;
    results[1].sink_rows[0] = 7;
    shard_manifest m = {p, paths, nullptr, 2, results, 2, 1.5, 1700000000};
    std::string mpath = d + "/scan.manifest.json";
    outfile mf;
    ASSERT_EQ(outfile_open(&mf, mpath.c_str(), err, sizeof err), 0) << err;
    ASSERT_EQ(shard_write_manifest(&mf, &m, err, sizeof err), 0) << err;
    std::ifstream f(mpath);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string text = ss.str();
    EXPECT_NE(text.find("\"complete\": true"), std::string::npos) << text;
    EXPECT_NE(text.find("\"ranks\": 2"), std::string::npos);
    // the scan's settings as the scan holds them, the sink by name and plugin
    EXPECT_NE(text.find("\"config\": \"<command line>\""), std::string::npos) << text;
    EXPECT_NE(text.find("\"scan\": {\"one_file_system\": true, \"skip_snapshots\": "),
              std::string::npos) << text;
    EXPECT_NE(text.find("\"exclude\": [\"/r/skip*\"], \"max_depth\": 3}"),
              std::string::npos) << text;
    EXPECT_NE(text.find("{\"name\": \"z\", \"plugin\": \"csv-zstd\""), std::string::npos)
        << text;
    // lossless text as in the csv reports, then JSON: the quote \", the
    // newline and the lone 0xff as the text \x0a and \xff, é kept, the
    // literal backslash doubled
    EXPECT_NE(text.find("\"/r/a\\\"b\\\\x0a\\\\xff\xc3\xa9\\\\\\\\xff\""), std::string::npos)
        << text;
    // every invalid byte as text, the valid 4-byte emoji kept: the whole
    // manifest stays strict UTF-8
    EXPECT_NE(text.find("\"/s/\\\\xf5\\\\x80\\\\x80\\\\x80|\\\\xed\\\\xa0\\\\x80|"
                        "\\\\xe0\\\\x80\\\\xaf|\\\\xf0\\\\x80\\\\x80\\\\xaf|"
                        "\\\\xf4\\\\x90\\\\x80\\\\x80|\xf0\x9f\x98\x80\""),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("\"totals\": {\"entries\": 12, \"rows\": 12, \"errors\": 2"),
              std::string::npos) << text;
    EXPECT_NE(text.find("\"path\": \"" + d + "/scan.part-0001.csv.zst\", \"rows\": 7"),
              std::string::npos) << text;
    EXPECT_NE(text.find("\"glob\": \"" + d + "/scan.part-*.csv.zst\""), std::string::npos);
    EXPECT_EQ(text.back(), '\n');
    // no temporary file left beside it
    EXPECT_NE(access(mpath.c_str(), F_OK), -1);
    // a directory that does not exist: an error naming the manifest when it
    // is opened, before any scan
    std::string bad = d + "/missing/scan.manifest.json";
    EXPECT_EQ(outfile_open(&mf, bad.c_str(), err, sizeof err), -1);
    EXPECT_NE(std::string(err).find(bad), std::string::npos) << err;
    // a body that cannot be written (a sink path in a missing directory):
    // the error, and the temporary removed
    ASSERT_EQ(outfile_open(&mf, (d + "/second.json").c_str(), err, sizeof err), 0) << err;
    std::string gone = d + "/missing/x.csv";
    char *gone_paths[] = {const_cast<char *>(gone.c_str())};
    m.sink_paths = gone_paths;
    EXPECT_EQ(shard_write_manifest(&mf, &m, err, sizeof err), -1);
    EXPECT_NE(std::string(err).find(gone), std::string::npos) << err;
    pwalk_scan_free(p);
    unlink(mpath.c_str());
    EXPECT_EQ(rmdir(dir), 0) << "something besides the manifest was left in " << d;
}

// A sink whose plugin merges (ABI 1.3, the summary): one output, listed by
// its path with the number of partials merged, no glob and no shards.
TEST(Shard, MergedSinkIsListedAsItsOneOutput) {
    char dir[] = "/tmp/pwalk-shard-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    std::string d = dir;
    pwalk_scan *p = nullptr;
    ASSERT_EQ(pwalk_scan_new(&p), 0);
    const char *roots[] = {"/r"};
    ASSERT_EQ(pwalk_scan_set_roots(p, roots, 1), 0);
    char err[512] = "";
    ASSERT_EQ(pwalk_scan_add_sink(p, "sum", "summary", err, sizeof err), 0) << err;
    ASSERT_EQ(pwalk_scan_add_sink(p, "r", "csv", err, sizeof err), 0) << err;
    std::string sum = d + "/summary", csv = d + "/scan.csv";
    char *paths[] = {const_cast<char *>(sum.c_str()), const_cast<char *>(csv.c_str())};
    shard_rank_result results[3] = {};
    for (int r = 0; r < 3; r++)
        results[r].sink_rows[0] = results[r].sink_rows[1] = 10u + (uint64_t)r;
    const int merged[] = {1, 0};
    shard_manifest m = {p, paths, nullptr, 3, results, 2, 1.5, 1700000000, merged};
    std::string mpath = d + "/summary.manifest.json";
    outfile mf;
    ASSERT_EQ(outfile_open(&mf, mpath.c_str(), err, sizeof err), 0) << err;
    ASSERT_EQ(shard_write_manifest(&mf, &m, err, sizeof err), 0) << err;
    std::ifstream f(mpath);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string text = ss.str();
    EXPECT_NE(text.find("{\"name\": \"sum\", \"plugin\": \"summary\", \"path\": \"" + sum +
                        "\", \"merged\": true, \"partials\": 3, \"rows\": 33}"),
              std::string::npos)
        << text;
    // the other sink keeps its shards
    EXPECT_NE(text.find("\"glob\": \"" + d + "/scan.part-*.csv\""), std::string::npos) << text;
    EXPECT_EQ(text.find("summary.part-"), std::string::npos) << text;
    pwalk_scan_free(p);
    unlink(mpath.c_str());
    EXPECT_EQ(rmdir(dir), 0);
}

}  // namespace
