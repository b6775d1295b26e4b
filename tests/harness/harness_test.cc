// The harness's own checks: the parsers and escapers agree with the spec's
// worked examples and with each other, the child runner reports what the
// child did, RemoveTree copes with trees no path reaches.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace harness {
namespace {

TEST(Escaping, SpecExamples)
{
    // plugins/csv/FORMAT.md: root/a"b<newline>.txt -> "root/a""b\x0a.txt"
    EXPECT_EQ(EscapeLossless("root/a\"b\n.txt"), "root/a\"\"b\\x0a.txt");
    EXPECT_EQ(Lossless("root/a\"b\n.txt"), "root/a\"b\\x0a.txt");
    EXPECT_EQ(EscapeDey("root/a\"b\n.txt"), "root/a\"\"b.txt");
    EXPECT_EQ(Lossless("back\\slash \x7f \xff caf\xc3\xa9"),
              "back\\\\slash \\x7f \\xff caf\xc3\xa9");
    // overlong, surrogate, past U+10FFFF: escaped byte by byte
    EXPECT_EQ(Lossless("\xc0\xaf"), "\\xc0\\xaf");
    EXPECT_EQ(Lossless("\xed\xa0\x80"), "\\xed\\xa0\\x80");
    EXPECT_EQ(Lossless("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
}

TEST(Escaping, EveryByteRoundTrips)
{
    std::string raw;
    for (int c = 1; c < 256; c++)
        raw += (char)c;
    std::string text = Lossless(raw), back;
    EXPECT_TRUE(ValidUtf8(text));
    ASSERT_TRUE(Unescape(text, &back));
    EXPECT_EQ(back, raw);
}

TEST(Escaping, UnescapeRefusesWhatTheSpecDoesNotWrite)
{
    std::string out;
    EXPECT_FALSE(Unescape("a\\b", &out));
    EXPECT_EQ(out, "a\\b");  // kept as it is
    EXPECT_FALSE(Unescape("\\xAB", &out)) << "the spec writes lowercase hex only";
    EXPECT_FALSE(Unescape("end\\", &out));
    EXPECT_FALSE(Unescape("\\x4", &out));
    bool ok = true;
    EXPECT_EQ(Unescape("\\x41\\\\", &ok), "A\\");
    EXPECT_TRUE(ok);
    Unescape("\\q", &ok);
    EXPECT_FALSE(ok);
}

TEST(Utf8, Strict)
{
    EXPECT_TRUE(ValidUtf8("plain caf\xc3\xa9 \xf0\x9f\x98\x80"));
    EXPECT_FALSE(ValidUtf8("\xc3"));
    EXPECT_FALSE(ValidUtf8("\xe0\x80\xaf"));
    EXPECT_FALSE(ValidUtf8("\xed\xa0\x80"));
    EXPECT_FALSE(ValidUtf8("\xf4\x90\x80\x80"));
    EXPECT_FALSE(ValidUtf8("\xff"));
}

TEST(Csv, SplitLineStrictly)
{
    std::vector<std::string> f;
    ASSERT_TRUE(SplitCsvLine("1,\"a,\"\"b\",,\"\"", &f));
    EXPECT_EQ(f, (std::vector<std::string>{"1", "a,\"b", "", ""}));
    EXPECT_FALSE(SplitCsvLine("1,\"open", &f));
    EXPECT_FALSE(SplitCsvLine("1,\"a\"junk", &f));
    EXPECT_FALSE(SplitCsvLine("1,a\"b", &f));
}

TEST(Csv, ParseTextAsAReaderWould)
{
    auto rows = ParseCsv("h1,h2\n\"x\ny\",2\nlast,3");
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[1], (std::vector<std::string>{"x\ny", "2"}));
    EXPECT_EQ(rows[2], (std::vector<std::string>{"last", "3"}));
}

TEST(Csv, ReadCsvAndErrors)
{
    TempDir t("harness");
    ASSERT_TRUE(WriteFile(t / "e.csv",
                          "path,errno,error,operation,kind\n"
                          "\"/r/a\\x0ab\",13,Permission denied,opendir,error\n"
                          "\"/r/gone\",2,No such file or directory,lstat,vanished\n"));
    std::vector<ErrorRecord> e;
    std::string problem;
    ASSERT_TRUE(ReadErrors(t / "e.csv", &e, &problem)) << problem;
    ASSERT_EQ(e.size(), 2u);
    EXPECT_EQ(e[0].path, "/r/a\nb");
    EXPECT_EQ(e[0].error_number, 13);
    EXPECT_EQ(e[1].kind, "vanished");
    ASSERT_TRUE(WriteFile(t / "bad.csv", "a,b\n1,2,3\n"));
    Csv c = ReadCsv(t / "bad.csv", 2);
    EXPECT_FALSE(c.ok);
    EXPECT_NE(c.problem.find(":2: malformed (3 fields)"), std::string::npos) << c.problem;
}

TEST(Summary, ParsesTheLastSummaryLine)
{
    Summary s = ParseSummary(
        "pwalk: something else\n"
        "pwalk: 12 entries in 0.01 s (1200/s): 10 rows, 1 errors (EACCES 1), 2 vanished "
        "(gone 2, replaced 0), 1 filtered (snapshot 1); sink 'inv': 10 rows; sink 'z': 9 "
        "rows\n");
    ASSERT_TRUE(s.found);
    EXPECT_EQ(s.entries, 12u);
    EXPECT_EQ(s.rows, 10u);
    EXPECT_EQ(s.errors, 1u);
    EXPECT_EQ(s.vanished, 2u);
    EXPECT_EQ(s.filtered, 1u);
    EXPECT_EQ(s.sink_order, (std::vector<std::string>{"inv", "z"}));
    EXPECT_EQ(s.sink_rows["z"], 9u);
    EXPECT_FALSE(ParseSummary("pwalk: 1 entries\n").found);
}

TEST(Process, StatusOutputsAndSignals)
{
    Result r =
        RunChild({"/bin/sh", "-c", "echo out; echo err >&2; read x; echo \"[$x]\"; exit 3"});
    EXPECT_EQ(r.status, 3);
    EXPECT_EQ(r.out, "out\n[]\n") << "stdin is /dev/null";
    EXPECT_EQ(r.err, "err\n");
    r = RunChild({"/bin/sh", "-c", "kill -9 $$"});
    EXPECT_TRUE(r.signaled);
    EXPECT_EQ(r.status, 128 + 9);
    Options o;
    o.timeout = 0.2;
    r = RunChild({"/bin/sleep", "30"}, o);
    EXPECT_TRUE(r.timed_out);
    EXPECT_LT(r.seconds, 20);
}

TEST(Process, CwdEnvironmentAndHook)
{
    TempDir t("harness");
    Options o;
    o.cwd = t.path();
    o.env = {"HARNESS_X=1"};
    o.in_child = [] { setenv("HARNESS_Y", "2", 1); };
    Result r = RunChild({"/bin/sh", "-c", "pwd; echo $HARNESS_X$HARNESS_Y"}, o);
    EXPECT_EQ(r.out, t.path() + "\n12\n") << r.Describe();
}

TEST(Process, RunsAsAnotherUser)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root to switch to nobody";
    Result r = RunChild({"/usr/bin/id", "-u"}, "", 65534);
    EXPECT_EQ(r.out, "65534\n") << r.Describe();
    r = RunChild({"/usr/bin/id", "-G"}, "", 65534);
    EXPECT_EQ(r.out, "65534\n") << "no supplementary groups: " << r.out;
}

TEST(Files, RemoveTreeDeeperThanPathMaxAndUnwritable)
{
    std::string base = MakeTempDir("harness", "/tmp", 0700);
    int fd = open(base.c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(fd, 0);
    std::string name(200, 'd');
    for (int i = 0; i < 40; i++) {  // 8000+ bytes of path
        ASSERT_EQ(mkdirat(fd, name.c_str(), 0755), 0);
        int sub = openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY);
        close(fd);
        fd = sub;
        ASSERT_GE(fd, 0);
    }
    int f = openat(fd, "file", O_WRONLY | O_CREAT, 0600);
    close(f);
    fchmod(fd, 0500);
    close(fd);
    RemoveTree(base);
    EXPECT_FALSE(Exists(base));
}

TEST(Files, TempDirIsRemovedAndListsAreSorted)
{
    std::string p;
    {
        TempDir t("harness");
        p = t.path();
        ASSERT_TRUE(WriteFile(t / "b", "2"));
        ASSERT_TRUE(WriteFile(t / "a", "1"));
        ASSERT_TRUE(WriteFile(t / ".x.csv.pwalk-tmp-123", ""));
        EXPECT_EQ(ListDir(p), (std::vector<std::string>{".x.csv.pwalk-tmp-123", "a", "b"}));
        EXPECT_EQ(TempOutputs(p), (std::vector<std::string>{".x.csv.pwalk-tmp-123"}));
        EXPECT_EQ(ReadFile(t / "b"), "2");
        EXPECT_EQ(ReadFile(t / "missing"), "");
        std::string data = "old";
        EXPECT_FALSE(ReadFile(t / "missing", &data));
        EXPECT_EQ(errno, ENOENT);
        ASSERT_TRUE(WriteFile(t / "empty", ""));
        EXPECT_TRUE(ReadFile(t / "empty", &data));
        EXPECT_EQ(data, "");
        EXPECT_FALSE(WriteFile(t / "no/such/dir", "x"));
    }
    EXPECT_FALSE(Exists(p));
    EXPECT_EQ(Lines("a\n\nb"), (std::vector<std::string>{"a", "", "b"}));
    EXPECT_EQ(Join({"a", "b"}), "a, b");
}

}  // namespace
}  // namespace harness
