// The prometheus sink's text (plugins/prometheus/render.c) for names no
// test tree can give: user and group names holding a quote, a backslash, a
// newline and invalid UTF-8 (an account database can hold them), a real
// top-level directory named "other" beside the summed rest, and constant
// labels with a newline.  Each file must pass Debian's `promtool check
// metrics` (skipped without it) and say exactly the escaped values below.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "prom.h"

namespace {

struct Fixture {
    summ_agg a;
    summ_conf c;
    summ_result r;
    Fixture()
    {
        summ_agg_init(&a);
        memset(&c, 0, sizeof c);
        memset(&r, 0, sizeof r);
        const char *ages[] = {"7", "30"};
        char err[256];
        EXPECT_EQ(summ_parse_ages(&c, ages, 2, err, sizeof err), 0) << err;
        c.start_sec = 1700000000;
        c.top_n = 1;
    }
    ~Fixture()
    {
        summ_result_free(&r);
        summ_agg_free(&a);
    }
    // One file of size bytes owned by uid/gid in top-level directory top.
    void Add(uint32_t uid, uint32_t gid, const char *top, int64_t size, int64_t age_days)
    {
        uint32_t t = summ_agg_top(&a, top, strlen(top));
        int64_t when = c.start_sec - age_days * 86400;
        summ_item it = {uid, gid, 0, size, (size + 511) / 512, when, when, when};
        ASSERT_EQ(summ_account(&a, &c, &it, t, nullptr), 0);
    }
};

std::string TempPath(const char *name)
{
    const char *d = getenv("TEST_TMPDIR");
    return std::string(d ? d : "/tmp") + "/" + name;
}

// Renders into a file; returns its text.
std::string Render(Fixture &f, const prom_conf &pc, const std::string &path)
{
    prom_scan s = {"1.0", 1700000000, 1700000100, 100.0, 1, 12, 0, 3, 1};
    FILE *out = fopen(path.c_str(), "w");
    EXPECT_NE(out, nullptr);
    EXPECT_EQ(prom_render(out, &pc, &f.c, &f.r, &f.a, &s), 0);
    fclose(out);
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// "" when promtool accepts the file without a problem, else what it said.
std::string Promtool(const std::string &path)
{
    if (system("command -v promtool >/dev/null 2>&1") != 0)
        return "skip";
    std::string cmd = "promtool check metrics < '" + path + "' 2>&1";
    FILE *p = popen(cmd.c_str(), "r");
    std::string said;
    char buf[512];
    while (p && fgets(buf, sizeof buf, p))
        said += buf;
    int rc = p ? pclose(p) : -1;
    return rc == 0 && said.empty() ? "" : "status " + std::to_string(rc) + ": " + said;
}

bool ValidUtf8(const std::string &s)
{
    for (size_t i = 0; i < s.size();) {
        unsigned char ch = s[i];
        size_t n = ch < 0x80 ? 1 : (ch >> 5) == 6 ? 2 : (ch >> 4) == 14 ? 3 : (ch >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > s.size())
            return false;
        for (size_t k = 1; k < n; k++)
            if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2)
                return false;
        i += n;
    }
    return true;
}

TEST(PrometheusRender, HostileOwnerNamesAreEscapedValidUtf8AndPassPromtool)
{
    Fixture f;
    f.Add(4000101, 4000201, "other", 9000, 0);     // a real top named "other"
    f.Add(4000102, 4000202, "a\nb", 5000, 10);
    f.Add(4000103, 4000203, "x\"y\\z", 3000, 40);
    f.Add(4000104, 4000204, "\xff\xfe", 1000, 400);
    f.Add(4000105, 4000205, "\xc3\xa9t\xc3\xa9", 500, 0);
    ASSERT_EQ(summ_finalize(&f.a, &f.c, &f.r), 0);
    ASSERT_EQ(f.r.user_count, 5u);
    const char *users[] = {"qu\"ote", "back\\slash", "new\nline", "bad\xff\xfe", "other"};
    for (size_t i = 0; i < 5; i++) {
        free(f.r.user_names[i]);
        f.r.user_names[i] = strdup(users[i]);
        free(f.r.group_names[i]);
        f.r.group_names[i] = strdup(users[4 - i]);
    }
    prom_conf pc;
    memset(&pc, 0, sizeof pc);
    pc.prefix = "pwalk_";
    pc.top_k = 3;
    char err[256];
    ASSERT_EQ(prom_parse_label(&pc, "site=line\none \"q\" \\", err, sizeof err), 0) << err;
    std::string path = TempPath("hostile.prom");
    std::string text = Render(f, pc, path);
    free(const_cast<char *>(pc.label_names[0]));

    EXPECT_TRUE(ValidUtf8(text));
    // lossless text (a backslash doubled, control and invalid bytes as
    // \xHH), then the exposition's escaping of backslash and quote
    const char *site = "site=\"line\\none \\\"q\\\" \\\\\"";
    EXPECT_NE(text.find(std::string("pwalk_user_bytes{") + site + ",uid=\"4000101\",user=\"qu\\\"ote\"} 9000\n"),
              std::string::npos) << text;
    EXPECT_NE(text.find("uid=\"4000102\",user=\"back\\\\\\\\slash\"} 5000\n"), std::string::npos);
    EXPECT_NE(text.find("uid=\"4000103\",user=\"new\\\\x0aline\"} 3000\n"), std::string::npos);
    // past the top 3: summed, one series
    EXPECT_NE(text.find("uid=\"other\",user=\"other\",rest=\"true\"} 1500\n"), std::string::npos);
    EXPECT_EQ(text.find("user=\"bad"), std::string::npos);  // ranked 4th: in the rest
    EXPECT_NE(text.find("gid=\"4000202\",group=\"bad\\\\xff\\\\xfe\"} 5000\n"),
              std::string::npos);
    EXPECT_NE(text.find("gid=\"4000201\",group=\"other\"} 9000\n"), std::string::npos);
    // the real "other" directory and the rest: two different series
    EXPECT_NE(text.find("pwalk_topdir_bytes{" + std::string(site) + ",top=\"other\"} 9000\n"),
              std::string::npos);
    EXPECT_NE(text.find("pwalk_topdir_bytes{" + std::string(site) +
                        ",top=\"other\",rest=\"true\"} 1500\n"),
              std::string::npos);
    EXPECT_NE(text.find("top=\"a\\\\x0ab\"} 5000\n"), std::string::npos);
    EXPECT_NE(text.find("top=\"x\\\"y\\\\\\\\z\"} 3000\n"), std::string::npos);
    // mtime buckets of the rest: 400 days (1000) and 0 days (500)
    EXPECT_NE(text.find("top=\"other\",rest=\"true\",mtime_age_days=\"30\"} 1000\n"),
              std::string::npos);
    EXPECT_NE(text.find("top=\"other\",rest=\"true\",mtime_age_days=\"0\"} 500\n"),
              std::string::npos);
    EXPECT_NE(text.find("pwalk_scan_entries_per_second{" + std::string(site) + "} 0.1\n"),
              std::string::npos);
    std::string said = Promtool(path);
    if (said == "skip")
        GTEST_SKIP() << "promtool not installed (scripts/setup.sh installs Debian's prometheus)";
    EXPECT_EQ(said, "") << text;
}

TEST(PrometheusRender, OptionsAreCheckedWithTheValueInTheMessage)
{
    char err[256];
    EXPECT_EQ(prom_check_prefix("site:disk_", err, sizeof err), 0);
    EXPECT_EQ(prom_check_prefix("", err, sizeof err), 0);
    EXPECT_NE(prom_check_prefix("a-b_", err, sizeof err), 0);
    EXPECT_NE(strstr(err, "'a-b_'"), nullptr) << err;
    prom_conf pc;
    memset(&pc, 0, sizeof pc);
    EXPECT_NE(prom_parse_label(&pc, "=x", err, sizeof err), 0);
    EXPECT_NE(prom_parse_label(&pc, "top=x", err, sizeof err), 0);
    EXPECT_NE(strstr(err, "'top'"), nullptr) << err;
    EXPECT_NE(prom_parse_label(&pc, "a:b=x", err, sizeof err), 0);
    EXPECT_EQ(prom_parse_label(&pc, "fs=", err, sizeof err), 0);  // an empty value is a value
    EXPECT_NE(prom_parse_label(&pc, "fs=y", err, sizeof err), 0);
    EXPECT_NE(strstr(err, "twice"), nullptr) << err;
    EXPECT_EQ(pc.label_count, 1u);
    free(const_cast<char *>(pc.label_names[0]));
}

}  // namespace
