// The pwalk CSV row, byte for byte (plugins/csv/FORMAT.md's examples),
// escaping of every byte, and the extension rule.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <random>
#include <string>
#include <vector>

#include "common/csvrow.h"
#include "common/lossless.h"

namespace {

pwalk_entry Entry(const std::string &path, size_t name_offset, uint32_t mode) {
    pwalk_entry e{};
    e.struct_size = sizeof e;
    e.path = path.c_str();
    e.path_len = (uint32_t)path.size();
    e.name_offset = (uint32_t)name_offset;
    e.name = e.path + name_offset;
    e.mode = mode;
    return e;
}

std::string Format(const pwalk_entry &e, int mode, int *dropped = nullptr) {
    std::string out(csvrow_max_len(&e), '\0');
    int d = 0;
    out.resize(csvrow_format(&out[0], &e, mode, &d));
    if (dropped) *dropped = d;
    return out;
}

std::string Escape(const std::string &in, int mode, int *dropped = nullptr) {
    std::string out(4 * in.size() + 1, '\0');
    int d = 0;
    out.resize(csvrow_escape(&out[0], in.data(), in.size(), mode, &d));
    if (dropped) *dropped = d;
    return out;
}

TEST(CsvRow, Header) {
    EXPECT_EQ(std::string(csvrow_header, csvrow_header_len),
              "inode,parent-inode,directory-depth,\"filename\",\"fileExtension\",UID,GID,st_size,"
              "st_dev,st_blocks,st_nlink,\"st_mode\",st_atime,st_mtime,st_ctime,pw_fcount,"
              "pw_dirsum\n");
}

TEST(CsvRow, WorkedExamplesFromTheSpec) {
    std::string fpath = "root/file.txt";
    pwalk_entry f = Entry(fpath, 5, 0100644);
    f.ino = 10969834;
    f.parent_ino = 10969827;
    f.depth = 0;
    f.size = 6;
    f.dev = 65024;
    f.blocks = 8;
    f.nlink = 2;
    f.atime_sec = f.mtime_sec = f.ctime_sec = 1795556856;
    f.fcount = -1;
    EXPECT_EQ(Format(f, CSVROW_ESCAPE_LOSSLESS),
              "10969834,10969827,0,\"root/file.txt\",\"txt\",0,0,6,65024,8,2,\"0100644\","
              "1795556856,1795556856,1795556856,-1,0\n");
    std::string rpath = "root";
    pwalk_entry r = Entry(rpath, 0, 040755);
    r.flags = PWALK_ENTRY_ROOT;
    r.ino = 10969827;
    r.depth = -1;
    r.size = 4096;
    r.dev = 65024;
    r.blocks = 8;
    r.nlink = 5;
    r.atime_sec = r.mtime_sec = r.ctime_sec = 1795556856;
    r.fcount = 12;
    r.dirsum = 12316;
    EXPECT_EQ(Format(r, CSVROW_ESCAPE_DEY),
              "10969827,0,-1,\"root\",\"\",0,0,4096,65024,8,5,\"0040755\",1795556856,"
              "1795556856,1795556856,12,12316\n");
}

TEST(CsvRow, QuoteAndNewlineInAName) {
    std::string p = "root/a\"b\n.txt";
    pwalk_entry e = Entry(p, 5, 0100644);
    e.ino = 10969840;
    e.parent_ino = 10969827;
    e.size = 3;
    e.dev = 65024;
    e.blocks = 8;
    e.nlink = 1;
    e.atime_sec = e.mtime_sec = e.ctime_sec = 1795556856;
    e.fcount = -1;
    int dropped = 0;
    EXPECT_EQ(Format(e, CSVROW_ESCAPE_LOSSLESS, &dropped),
              "10969840,10969827,0,\"root/a\"\"b\\x0a.txt\",\"txt\",0,0,3,65024,8,1,\"0100644\","
              "1795556856,1795556856,1795556856,-1,0\n");
    EXPECT_FALSE(dropped);
    EXPECT_EQ(Format(e, CSVROW_ESCAPE_DEY, &dropped),
              "10969840,10969827,0,\"root/a\"\"b.txt\",\"txt\",0,0,3,65024,8,1,\"0100644\","
              "1795556856,1795556856,1795556856,-1,0\n");
    EXPECT_TRUE(dropped);
}

TEST(CsvRow, ModeIsSevenOctalDigitsWithTypeBits) {
    std::string p = "x";
    pwalk_entry e = Entry(p, 0, 0100644);
    EXPECT_NE(Format(e, 0).find(",\"0100644\","), std::string::npos);
    e.mode = 040755;
    EXPECT_NE(Format(e, 0).find(",\"0040755\","), std::string::npos);
    e.mode = 0120777;
    EXPECT_NE(Format(e, 0).find(",\"0120777\","), std::string::npos);
    e.mode = 0;
    EXPECT_NE(Format(e, 0).find(",\"0000000\","), std::string::npos);
}

TEST(CsvRow, ModesAndNegativeNumbers) {
    std::string p = "x";
    pwalk_entry e = Entry(p, 0, 0120777);
    e.depth = 3;
    e.mtime_sec = -5;  // before 1970: still exact
    e.fcount = -1;
    std::string row = Format(e, CSVROW_ESCAPE_LOSSLESS);
    EXPECT_NE(row.find("\"0120777\""), std::string::npos);
    EXPECT_NE(row.find(",-5,"), std::string::npos);
    e.mode = 0140755;  // socket: 6 octal digits, zero-padded to 7
    EXPECT_NE(Format(e, 0).find("\"0140755\""), std::string::npos);
    e.mode = 0104755;  // setuid
    EXPECT_NE(Format(e, 0).find("\"0104755\""), std::string::npos);
}

TEST(CsvRow, LargestNumbers) {
    std::string p = "x";
    pwalk_entry e = Entry(p, 0, 0100644);
    e.ino = UINT64_MAX;
    e.size = INT64_MIN;
    std::string row = Format(e, 0);
    EXPECT_EQ(row.rfind("18446744073709551615,", 0), 0u) << row;
    EXPECT_NE(row.find(",-9223372036854775808,"), std::string::npos) << row;
}

// Every digit count and its edges (9/10, 99/100, ...), and random values,
// against printf: the formatter writes two digits per step.
TEST(CsvRow, NumbersMatchPrintf) {
    std::string p = "x";
    pwalk_entry e = Entry(p, 0, 0100644);
    std::vector<uint64_t> values = {0, 1};
    for (uint64_t t = 10; t != 0 && t <= UINT64_MAX / 10; t *= 10)
        for (uint64_t v : {t - 1, t, t + 1}) values.push_back(v);
    std::mt19937_64 rng(11);
    for (int i = 0; i < 2000; i++) values.push_back(rng() >> (rng() % 64));
    values.push_back(UINT64_MAX);
    for (uint64_t v : values) {
        e.ino = v;
        e.size = (int64_t)v;  // also the signed path, negative when v > INT64_MAX
        char want[64];
        snprintf(want, sizeof want, "%llu,", (unsigned long long)v);
        std::string row = Format(e, 0);
        ASSERT_EQ(row.rfind(want, 0), 0u) << row;
        snprintf(want, sizeof want, ",%lld,", (long long)(int64_t)v);
        ASSERT_NE(row.find(want), std::string::npos) << want << " in " << row;
    }
}

// Plain runs copied in bulk still stop at every byte that needs escaping.
TEST(Escape, RunsAroundSpecialBytes) {
    EXPECT_EQ(Escape("/a/bc\\d\"e\nf/\xff", CSVROW_ESCAPE_LOSSLESS), "/a/bc\\\\d\"\"e\\x0af/\\xff");
    EXPECT_EQ(Escape("plain/path/only", CSVROW_ESCAPE_LOSSLESS), "plain/path/only");
    EXPECT_EQ(Escape("\"", CSVROW_ESCAPE_LOSSLESS), "\"\"");
    int dropped = 0;
    EXPECT_EQ(Escape("ab\\c\td\"", CSVROW_ESCAPE_DEY, &dropped), "ab\\cd\"\"");
    EXPECT_EQ(dropped, 1);
}

TEST(Escape, EveryByte) {
    for (int b = 0; b < 256; b++) {
        std::string in(1, (char)b), got = Escape(in, CSVROW_ESCAPE_LOSSLESS);
        char hex[8];
        snprintf(hex, sizeof hex, "\\x%02x", b);
        if (b == '"')
            EXPECT_EQ(got, "\"\"");
        else if (b == '\\')
            EXPECT_EQ(got, "\\\\");
        else if (b < 0x20 || b >= 0x7f)  // a lone byte >= 0x80 is never valid UTF-8
            EXPECT_EQ(got, hex) << b;
        else
            EXPECT_EQ(got, in) << b;
        int dropped = 0;
        std::string dey = Escape(in, CSVROW_ESCAPE_DEY, &dropped);
        if (b < 0x20) {
            EXPECT_EQ(dey, "");
            EXPECT_TRUE(dropped);
        } else {
            EXPECT_EQ(dey, b == '"' ? "\"\"" : in);
            EXPECT_FALSE(dropped);
        }
    }
}

TEST(Escape, Utf8ValidKeptInvalidEscaped) {
    EXPECT_EQ(Escape("caf\xc3\xa9", 0), "caf\xc3\xa9");
    EXPECT_EQ(Escape("\xe2\x82\xac", 0), "\xe2\x82\xac");          // euro, 3 bytes
    EXPECT_EQ(Escape("\xf0\x9f\x98\x80", 0), "\xf0\x9f\x98\x80");  // emoji, 4 bytes
    EXPECT_EQ(Escape("\xc0\xaf", 0), "\\xc0\\xaf");                // overlong '/'
    EXPECT_EQ(Escape("\xe0\x80\xaf", 0), "\\xe0\\x80\\xaf");       // overlong, 3 bytes
    EXPECT_EQ(Escape("\xed\xa0\x80", 0), "\\xed\\xa0\\x80");       // surrogate
    EXPECT_EQ(Escape("\xf4\x90\x80\x80", 0), "\\xf4\\x90\\x80\\x80");  // > U+10FFFF
    EXPECT_EQ(Escape("\xe2\x82", 0), "\\xe2\\x82");                // truncated
    EXPECT_EQ(Escape("\xc3(", 0), "\\xc3(");
    // the edges of each range are what validators get wrong
    EXPECT_EQ(Escape("\xc2\x80", 0), "\xc2\x80");                  // U+0080
    EXPECT_EQ(Escape("\xdf\xbf", 0), "\xdf\xbf");                  // U+07FF
    EXPECT_EQ(Escape("\xe0\xa0\x80", 0), "\xe0\xa0\x80");          // U+0800
    EXPECT_EQ(Escape("\xed\x9f\xbf", 0), "\xed\x9f\xbf");          // U+D7FF
    EXPECT_EQ(Escape("\xee\x80\x80", 0), "\xee\x80\x80");          // U+E000
    EXPECT_EQ(Escape("\xef\xbf\xbf", 0), "\xef\xbf\xbf");          // U+FFFF
    EXPECT_EQ(Escape("\xf0\x90\x80\x80", 0), "\xf0\x90\x80\x80");  // U+10000
    EXPECT_EQ(Escape("\xf4\x8f\xbf\xbf", 0), "\xf4\x8f\xbf\xbf");  // U+10FFFF
    EXPECT_EQ(Escape("\xc1\xbf", 0), "\\xc1\\xbf");                // overlong, C1
    EXPECT_EQ(Escape("\xf0\x8f\xbf\xbf", 0), "\\xf0\\x8f\\xbf\\xbf");  // overlong, 4 bytes
    EXPECT_EQ(Escape("\xed\xbf\xbf", 0), "\\xed\\xbf\\xbf");       // low surrogate
    EXPECT_EQ(Escape("\xf5\x80\x80\x80", 0), "\\xf5\\x80\\x80\\x80");  // F5: never valid
    EXPECT_EQ(Escape("\xf0\x9f\x98", 0), "\\xf0\\x9f\\x98");       // truncated 4-byte
    EXPECT_EQ(Escape("\xf0\x9f\x98" "a", 0), "\\xf0\\x9f\\x98a");  // cut by ASCII
    EXPECT_EQ(Escape("\x80", 0), "\\x80");                         // lone continuation
    // a bad sequence costs only its own bytes: the next valid one is kept
    EXPECT_EQ(Escape("\xe2\x82\xc3\xa9", 0), "\\xe2\\x82\xc3\xa9");
    // a NUL inside the buffer is a byte like any other
    EXPECT_EQ(Escape(std::string("a\0b", 3), 0), "a\\x00b");
}

TEST(Escape, UnescapeRoundTripsRandomNames) {
    std::mt19937 rng(42);
    for (int i = 0; i < 2000; i++) {
        std::string in;
        int n = 1 + (int)(rng() % 40);
        for (int k = 0; k < n; k++) in += (char)(1 + rng() % 255);
        std::string esc = Escape(in, CSVROW_ESCAPE_LOSSLESS);
        for (unsigned char c : esc) ASSERT_GE(c, 0x20) << "raw control byte in output";
        std::string back(esc.size(), '\0');
        long len = lossless_unescape(esc.data(), esc.size(), &back[0], LOSSLESS_CSV);
        ASSERT_GE(len, 0);
        back.resize((size_t)len);
        ASSERT_EQ(back, in);
    }
}

TEST(Escape, EveryByteInOneNameRoundTrips) {
    std::string in;
    for (int b = 1; b < 256; b++) in += (char)b;
    in += in;  // each byte also after every other
    std::string esc = Escape(in, CSVROW_ESCAPE_LOSSLESS);
    std::string back(esc.size(), '\0');
    long len = lossless_unescape(esc.data(), esc.size(), &back[0], LOSSLESS_CSV);
    ASSERT_GE(len, 0);
    back.resize((size_t)len);
    EXPECT_EQ(back, in);
}

TEST(Escape, UnescapeRejectsMalformed) {
    char out[16];
    EXPECT_EQ(lossless_unescape("a\\q", 3, out, LOSSLESS_CSV), -1);
    EXPECT_EQ(lossless_unescape("a\\x4", 4, out, LOSSLESS_CSV), -1);
    EXPECT_EQ(lossless_unescape("a\"b", 3, out, LOSSLESS_CSV), -1);
    EXPECT_EQ(lossless_unescape("\\x41\"\"", 6, out, LOSSLESS_CSV), 2);
    EXPECT_EQ(std::string(out, 2), "A\"");
}

TEST(Escape, Modes) {
    EXPECT_EQ(csvrow_escape_mode("lossless"), CSVROW_ESCAPE_LOSSLESS);
    EXPECT_EQ(csvrow_escape_mode("dey"), CSVROW_ESCAPE_DEY);
    EXPECT_EQ(csvrow_escape_mode("DEY"), -1);
    EXPECT_EQ(csvrow_escape_mode(nullptr), -1);
}

std::string Ext(const std::string &name, int dir) {
    const char *ext;
    size_t len;
    csvrow_extension(name.data(), name.size(), dir, &ext, &len);
    return std::string(ext, len);
}

TEST(Extension, TheRule) {
    EXPECT_EQ(Ext("a.tar.gz", 0), "gz");
    EXPECT_EQ(Ext(".bashrc", 0), "");
    EXPECT_EQ(Ext(".x.txt", 0), "txt");
    EXPECT_EQ(Ext("a.", 0), "");
    EXPECT_EQ(Ext("noext", 0), "");
    EXPECT_EQ(Ext("dir.d", 1), "");
    EXPECT_EQ(Ext("..", 0), "");
    EXPECT_EQ(Ext("...a", 0), "a");
}

TEST(Extension, RootsAndDirectoriesHaveNone) {
    std::string root = "data/x.y";
    pwalk_entry r = Entry(root, 0, 0100644);
    r.flags = PWALK_ENTRY_ROOT;  // a file given as a root
    EXPECT_NE(Format(r, 0).find("\"data/x.y\",\"\","), std::string::npos);
    pwalk_entry d = Entry(root, 5, 040755);
    EXPECT_NE(Format(d, 0).find("\"data/x.y\",\"\","), std::string::npos);
}

TEST(CsvRow, MaxLenIsAnUpperBound) {
    std::mt19937 rng(7);
    for (int i = 0; i < 500; i++) {
        std::string p;
        int n = 1 + (int)(rng() % 300);
        for (int k = 0; k < n; k++) p += (char)(1 + rng() % 255);
        pwalk_entry e = Entry(p, rng() % p.size(), (rng() & 1) ? 040755 : 0100644);
        e.ino = UINT64_MAX;
        e.parent_ino = UINT64_MAX;
        e.depth = INT32_MIN;
        e.uid = e.gid = UINT32_MAX;
        e.size = e.blocks = e.atime_sec = e.mtime_sec = e.ctime_sec = e.fcount = e.dirsum =
            INT64_MIN;
        e.dev = e.nlink = UINT64_MAX;
        std::string buf(csvrow_max_len(&e) + 64, '#');
        int d;
        size_t len = csvrow_format(&buf[0], &e, CSVROW_ESCAPE_LOSSLESS, &d);
        ASSERT_LE(len, csvrow_max_len(&e));
        ASSERT_EQ(buf[csvrow_max_len(&e)], '#');
    }
}

}  // namespace
