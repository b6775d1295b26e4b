// pwalk-mpi's checkpoint files without MPI (engine/mpi/ckpt.c): the rank
// journals' names and parity, which old ranks a resumed rank continues,
// durations, and the manifest (written atomically, read back, refused when
// it is not one).
#include <gtest/gtest.h>
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" {
#include "engine/mpi/ckpt.h"
}

namespace {

std::string TempDir() {
    const char *base = getenv("TEST_TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/ckpt-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    EXPECT_NE(mkdtemp(buf.data()), nullptr);
    return buf.data();
}

std::string Slurp(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void Spit(const std::string &path, const std::string &text) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
}

std::vector<std::string> Entries(const std::string &dir) {
    std::vector<std::string> out;
    DIR *d = opendir(dir.c_str());
    while (struct dirent *e = d ? readdir(d) : nullptr)
        if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")))
            out.push_back(e->d_name);
    if (d)
        closedir(d);
    return out;
}

TEST(CkptNames, ParityAlternatesByGeneration) {
    char out[256];
    ASSERT_EQ(ckpt_rank_path("/j/scan.ckpt", 1, 3, out, sizeof out), 0);
    EXPECT_STREQ(out, "/j/scan.ckpt.g1.rank-0003");
    ASSERT_EQ(ckpt_rank_path("/j/scan.ckpt", 2, 3, out, sizeof out), 0);
    EXPECT_STREQ(out, "/j/scan.ckpt.g0.rank-0003");
    ASSERT_EQ(ckpt_rank_path("s", 7, 12345, out, sizeof out), 0);
    EXPECT_STREQ(out, "s.g1.rank-12345");
    EXPECT_EQ(ckpt_rank_path("/j/scan.ckpt", 1, 0, out, 10), -1);
}

std::vector<int> Share(int rank, int ranks, int old) {
    int out[64];
    size_t n = ckpt_rank_share(rank, ranks, old, out, 64);
    return std::vector<int>(out, out + n);
}

TEST(CkptShare, EveryOldRankGoesToExactlyOneNewRank) {
    EXPECT_EQ(Share(0, 2, 4), (std::vector<int>{0, 2}));
    EXPECT_EQ(Share(1, 2, 4), (std::vector<int>{1, 3}));
    EXPECT_EQ(Share(0, 1, 3), (std::vector<int>{0, 1, 2}));
    EXPECT_EQ(Share(2, 4, 4), (std::vector<int>{2}));
    EXPECT_EQ(Share(3, 4, 2), (std::vector<int>{}));  // the job grew: starts empty
    for (int old = 1; old <= 9; old++)
        for (int ranks = 1; ranks <= 9; ranks++) {
            std::vector<int> seen(old, 0);
            for (int r = 0; r < ranks; r++)
                for (int k : Share(r, ranks, old))
                    seen[k]++;
            for (int k = 0; k < old; k++)
                EXPECT_EQ(seen[k], 1) << old << " -> " << ranks << ": old rank " << k;
        }
}

TEST(CkptManifest, RoundTripAtomicNoTemporaryLeft) {
    std::string dir = TempDir();
    std::string path = dir + "/scan.ckpt";
    const char *outputs[] = {"/out/scan.csv", "/out/we\"ird\n.csv"};
    ckpt_manifest m = {};
    m.generation = 7;
    m.ranks = 4;
    m.started = 1733370000;
    snprintf(m.version, sizeof m.version, "0.1.0");
    int64_t sessions[] = {1733370000, 1733370100, 1733379000, 1733379050};
    m.sessions = sessions;
    m.session_count = 2;
    char err[1024];
    ASSERT_EQ(ckpt_write_manifest(path.c_str(), 0640, &m, outputs, 2, err, sizeof err), 0)
        << err;
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u);
    EXPECT_EQ(Entries(dir), std::vector<std::string>{"scan.ckpt"});
    std::string text = Slurp(path);
    EXPECT_NE(text.find("\"journals\": [\"" + path + ".g1.rank-0000\""), std::string::npos)
        << text;
    EXPECT_NE(text.find(path + ".g1.rank-0003\"]"), std::string::npos) << text;
    EXPECT_NE(text.find("\"/out/we\\\"ird\\u000a.csv\""), std::string::npos) << text;

    ckpt_manifest back;
    ASSERT_EQ(ckpt_read_manifest(path.c_str(), &back, err, sizeof err), 0) << err;
    EXPECT_EQ(back.generation, 7u);
    EXPECT_EQ(back.ranks, 4);
    EXPECT_EQ(back.started, 1733370000);
    EXPECT_STREQ(back.version, "0.1.0");
    ASSERT_EQ(back.session_count, 2u);
    EXPECT_EQ(std::vector<int64_t>(back.sessions, back.sessions + 4),
              std::vector<int64_t>(sessions, sessions + 4));
    ckpt_manifest_free(&back);

    // the next generation replaces it whole
    m.generation = 8;
    m.ranks = 2;
    ASSERT_EQ(ckpt_write_manifest(path.c_str(), 0600, &m, outputs, 1, err, sizeof err), 0);
    ASSERT_EQ(ckpt_read_manifest(path.c_str(), &back, err, sizeof err), 0) << err;
    EXPECT_EQ(back.generation, 8u);
    EXPECT_EQ(back.ranks, 2);
    ckpt_manifest_free(&back);
    EXPECT_EQ(Entries(dir), std::vector<std::string>{"scan.ckpt"});
}

TEST(CkptManifest, WriteIntoMissingDirectoryFailsNamingIt) {
    std::string path = TempDir() + "/no/such/scan.ckpt";
    ckpt_manifest m = {};
    m.generation = 1;
    m.ranks = 1;
    char err[1024];
    EXPECT_EQ(ckpt_write_manifest(path.c_str(), -1, &m, nullptr, 0, err, sizeof err), -1);
    EXPECT_NE(std::string(err).find("checkpoint '" + path + "'"), std::string::npos) << err;
}

TEST(CkptManifest, RefusedWhenNotOne) {
    std::string dir = TempDir();
    std::string path = dir + "/scan.ckpt";
    ckpt_manifest m = {};
    m.generation = 3;
    m.ranks = 2;
    snprintf(m.version, sizeof m.version, "0.1.0");
    int64_t sessions[] = {100, 200};
    m.sessions = sessions;
    m.session_count = 1;
    char err[1024];
    ASSERT_EQ(ckpt_write_manifest(path.c_str(), -1, &m, nullptr, 0, err, sizeof err), 0);
    std::string good = Slurp(path);
    const std::string not_one = "checkpoint '" + path + "': not a pwalk-mpi checkpoint manifest";
    std::vector<std::string> bad = {
        "",
        "PWALKCKP\x01\x00\x00\x00",  // a pwalk-engine journal
        good.substr(0, good.size() / 2),
    };
    auto swap = [&](const std::string &from, const std::string &to) {
        std::string t = good;
        t.replace(t.find(from), from.size(), to);
        return t;
    };
    bad.push_back(swap("\"parity\": 1", "\"parity\": 0"));
    bad.push_back(swap("\"generation\": 3", "\"generation\": 0"));
    bad.push_back(swap("\"ranks\": 2", "\"ranks\": 0"));
    bad.push_back(swap("\"format_version\": 1", "\"format_version\": 2"));
    bad.push_back(swap("pwalk-mpi-checkpoint", "pwalk-shards"));
    bad.push_back(swap("[[100, 200]]", "[]"));          // no session
    bad.push_back(swap("[[100, 200]]", "[[300, 200]]"));  // ends before it starts
    bad.push_back(swap("[[100, 200]]", "[[100 200]]"));
    {
        std::ifstream probe(path);  // the good one reads back
        ckpt_manifest back;
        ASSERT_EQ(ckpt_read_manifest(path.c_str(), &back, err, sizeof err), 0) << err;
        EXPECT_EQ(back.session_count, 1u);
        ckpt_manifest_free(&back);
    }
    for (const std::string &text : bad) {
        Spit(path, text);
        ckpt_manifest back;
        EXPECT_EQ(ckpt_read_manifest(path.c_str(), &back, err, sizeof err), -1) << text;
        EXPECT_EQ(std::string(err), not_one) << text;
    }
    std::string missing = dir + "/none";
    ckpt_manifest back;
    EXPECT_EQ(ckpt_read_manifest(missing.c_str(), &back, err, sizeof err), -1);
    EXPECT_EQ(std::string(err), "checkpoint '" + missing + "': No such file or directory");
}

TEST(CkptJournals, RemoveBothParitiesOfTheRanksGiven) {
    std::string dir = TempDir();
    std::string path = dir + "/s";
    for (int r = 0; r < 4; r++)
        for (int g = 0; g < 2; g++) {
            char name[512];
            ASSERT_EQ(ckpt_rank_path(path.c_str(), g, r, name, sizeof name), 0);
            Spit(name, "x");
        }
    ckpt_remove_journals(path.c_str(), 2, 5);  // 4 is missing: fine
    std::vector<std::string> left = Entries(dir);
    std::sort(left.begin(), left.end());
    EXPECT_EQ(left, (std::vector<std::string>{"s.g0.rank-0000", "s.g0.rank-0001",
                                              "s.g1.rank-0000", "s.g1.rank-0001"}));
}

}  // namespace
