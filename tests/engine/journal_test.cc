// The checkpoint journal (engine/journal.h): every field comes back as
// written, any damage is refused with its one line and nothing filled, a
// failed write leaves the previous journal and no temporary, and the resume
// checks name what changed.
#include <gtest/gtest.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <set>
#include <string>
#include <vector>

extern "C" {
#include "engine/journal.h"
}

#include "tests/harness/files.h"

namespace {

// A journal built from C++ values; j() points into them (journal_write
// only reads).
struct Built {
    std::string version = "1.4.0-test";
    std::vector<std::string> pipeline;
    std::vector<char *> pipeline_ptrs;
    std::vector<pwalk_session> sessions;
    std::vector<uint64_t> counters;
    std::vector<std::string> names, plugins, states;
    std::vector<uint64_t> rows;
    std::vector<journal_sink> sinks;
    std::string errors_state, pending;
    bool has_errors = false;
    journal jr;

    journal *j()
    {
        memset(&jr, 0, sizeof jr);
        jr.version = &version[0];
        jr.generation = 7;
        jr.rank = 3;
        jr.ranks = 4;
        pipeline_ptrs.clear();
        for (std::string &s : pipeline)
            pipeline_ptrs.push_back(&s[0]);
        jr.pipeline = pipeline_ptrs.empty() ? nullptr : pipeline_ptrs.data();
        jr.pipeline_count = pipeline_ptrs.size();
        jr.sessions = sessions.empty() ? nullptr : sessions.data();
        jr.session_count = sessions.size();
        jr.counters = counters.empty() ? nullptr : counters.data();
        jr.counter_count = counters.size();
        sinks.clear();
        for (size_t i = 0; i < names.size(); i++) {
            journal_sink s;
            s.name = &names[i][0];
            s.plugin = &plugins[i][0];
            s.rows = rows[i];
            s.state = states[i].empty() ? nullptr : (unsigned char *)&states[i][0];
            s.state_len = states[i].size();
            sinks.push_back(s);
        }
        jr.sinks = sinks.empty() ? nullptr : sinks.data();
        jr.sink_count = sinks.size();
        if (has_errors) {
            jr.errors_state = (unsigned char *)&errors_state[0];
            jr.errors_state_len = errors_state.size();
        }
        jr.pending = pending.empty() ? nullptr : (unsigned char *)&pending[0];
        jr.pending_len = pending.size();
        jr.pending_count = 5;
        return &jr;
    }
};

Built Full()
{
    Built b;
    b.pipeline = {"version=1", "scan.roots[0]=/data/a\\nb", "sink.x.path=\xff\xfe\x01z",
                  "sink.x.plugin=csv", "k=v=w", "novalue", ""};
    b.sessions = {{1700000000, 1700000100}, {-5, 0}, {INT64_MIN, INT64_MAX}};
    b.counters = {0, 1, UINT64_MAX, 42};
    b.names = {"csv", "summary", "z"};
    b.plugins = {"csv", "summary", "csv-zstd"};
    b.rows = {123, 0, UINT64_MAX};
    b.states = {std::string("part\0name\xff\n", 11), "", std::string(70000, '\0')};
    b.errors_state = std::string("\0\0err\0", 6);
    b.has_errors = true;
    for (int i = 0; i < 300; i++)
        b.pending += std::string(1, (char)i) + std::string("\0rec", 4);
    return b;
}

std::string Bytes(const unsigned char *p, size_t n)
{
    return n ? std::string((const char *)p, n) : std::string();
}

// Every field of out equals what b wrote.
void ExpectSame(Built &b, const journal &out)
{
    const journal *in = b.j();
    EXPECT_STREQ(out.version, in->version);
    EXPECT_EQ(out.generation, in->generation);
    EXPECT_EQ(out.rank, in->rank);
    EXPECT_EQ(out.ranks, in->ranks);
    ASSERT_EQ(out.pipeline_count, in->pipeline_count);
    for (size_t i = 0; i < in->pipeline_count; i++)
        EXPECT_EQ(std::string(out.pipeline[i]), b.pipeline[i]) << i;
    ASSERT_EQ(out.session_count, in->session_count);
    for (size_t i = 0; i < in->session_count; i++) {
        EXPECT_EQ(out.sessions[i].start_sec, in->sessions[i].start_sec);
        EXPECT_EQ(out.sessions[i].end_sec, in->sessions[i].end_sec);
    }
    ASSERT_EQ(out.counter_count, in->counter_count);
    for (size_t i = 0; i < in->counter_count; i++)
        EXPECT_EQ(out.counters[i], in->counters[i]);
    ASSERT_EQ(out.sink_count, in->sink_count);
    for (size_t i = 0; i < in->sink_count; i++) {
        EXPECT_STREQ(out.sinks[i].name, in->sinks[i].name);
        EXPECT_STREQ(out.sinks[i].plugin, in->sinks[i].plugin);
        EXPECT_EQ(out.sinks[i].rows, in->sinks[i].rows);
        EXPECT_EQ(Bytes(out.sinks[i].state, out.sinks[i].state_len), b.states[i]);
        EXPECT_EQ(out.sinks[i].state == nullptr, b.states[i].empty());
    }
    EXPECT_EQ(Bytes(out.errors_state, out.errors_state_len),
              b.has_errors ? b.errors_state : "");
    EXPECT_EQ(out.errors_state == nullptr, !b.has_errors);
    EXPECT_EQ(Bytes(out.pending, out.pending_len), b.pending);
    EXPECT_EQ(out.pending_count, in->pending_count);
}

bool IsZero(const journal &j)
{
    journal z;
    memset(&z, 0, sizeof z);
    return memcmp(&j, &z, sizeof z) == 0;
}

// Reads path; on failure returns the message (and checks out stayed zero).
std::string ReadError(const std::string &path)
{
    journal out;
    memset(&out, 0xab, sizeof out);
    char err[512] = "";
    if (journal_read(path.c_str(), &out, err, sizeof err) == 0) {
        journal_free(&out);
        return "";
    }
    EXPECT_TRUE(IsZero(out));
    EXPECT_EQ(strchr(err, '\n'), nullptr) << err;
    return err;
}

void WriteOk(const std::string &path, journal *j)
{
    char err[512] = "";
    ASSERT_EQ(journal_write(path.c_str(), j, err, sizeof err), 0) << err;
}

// The file's crc32 recomputed after an edit, as an attacker or a buggy
// writer would: the parser alone must then refuse.
void FixCrc(std::string *data)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, (const Bytef *)data->data(), (uInt)(data->size() - 4));
    for (int i = 0; i < 4; i++)
        (*data)[data->size() - 4 + i] = (char)(crc >> (8 * i));
}

void PutLe(std::string *data, size_t at, uint64_t v, int n)
{
    for (int i = 0; i < n; i++, v >>= 8)
        (*data)[at + i] = (char)v;
}

TEST(JournalTest, EveryFieldRoundTrips)
{
    harness::TempDir dir("journal");
    std::string path = dir / "scan.ckpt";
    Built b = Full();
    WriteOk(path, b.j());
    journal out;
    char err[512] = "";
    ASSERT_EQ(journal_read(path.c_str(), &out, err, sizeof err), 0) << err;
    ExpectSame(b, out);
    journal_free(&out);
    EXPECT_TRUE(IsZero(out));
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(harness::ListDir(dir.path()), std::vector<std::string>{"scan.ckpt"});
}

TEST(JournalTest, EmptyArraysAndNoErrorFileRoundTrip)
{
    harness::TempDir dir("journal");
    std::string path = dir / "j";
    Built b;
    b.version = "";
    WriteOk(path, b.j());
    journal out;
    char err[512] = "";
    ASSERT_EQ(journal_read(path.c_str(), &out, err, sizeof err), 0) << err;
    ExpectSame(b, out);
    EXPECT_EQ(out.pipeline, nullptr);
    EXPECT_EQ(out.sessions, nullptr);
    EXPECT_EQ(out.counters, nullptr);
    EXPECT_EQ(out.sinks, nullptr);
    EXPECT_EQ(out.pending, nullptr);
    journal_free(&out);
    journal_free(nullptr);
}

TEST(JournalTest, RewriteReplacesAndLeavesNoTemporary)
{
    harness::TempDir dir("journal");
    std::string path = dir / "j";
    Built b = Full();
    WriteOk(path, b.j());
    b.j()->generation = 8;
    b.pending = "short";
    journal *j = b.j();
    j->generation = 8;
    WriteOk(path, j);
    journal out;
    char err[512] = "";
    ASSERT_EQ(journal_read(path.c_str(), &out, err, sizeof err), 0) << err;
    EXPECT_EQ(out.generation, 8u);
    EXPECT_EQ(Bytes(out.pending, out.pending_len), "short");
    journal_free(&out);
    EXPECT_TRUE(harness::TempOutputs(dir.path()).empty());
    EXPECT_EQ(harness::ListDir(dir.path()).size(), 1u);
}

TEST(JournalTest, EveryTruncationIsRefused)
{
    harness::TempDir dir("journal");
    std::string path = dir / "j", cut = dir / "cut";
    Built b = Full();
    b.states[2] = "small";    // keep the loop quick; the 70000-byte blob is tested above
    WriteOk(path, b.j());
    std::string data = harness::ReadFile(path);
    ASSERT_GT(data.size(), 100u);
    for (size_t n = 0; n < data.size(); n++) {
        ASSERT_TRUE(harness::WriteFile(cut, data.substr(0, n)));
        std::string want = n < 24 ? "checkpoint '" + cut + "': not a pwalk checkpoint journal"
                                  : "checkpoint '" + cut + "': truncated (" + std::to_string(n) +
                                        " of " + std::to_string(data.size()) + " bytes)";
        ASSERT_EQ(ReadError(cut), want) << n;
    }
    ASSERT_TRUE(harness::WriteFile(cut, data + "x"));
    EXPECT_EQ(ReadError(cut), "checkpoint '" + cut + "': corrupt (checksum mismatch)");
}

TEST(JournalTest, EveryByteFlipIsRefused)
{
    harness::TempDir dir("journal");
    std::string path = dir / "j", bad = dir / "bad";
    Built b = Full();
    b.states[2] = "small";
    WriteOk(path, b.j());
    std::string data = harness::ReadFile(path);
    const std::string head = "checkpoint '" + bad + "': ";
    for (size_t i = 0; i < data.size(); i++) {
        for (int mask : {0x01, 0x80, 0xff}) {
            std::string d = data;
            d[i] = (char)(d[i] ^ mask);
            ASSERT_TRUE(harness::WriteFile(bad, d));
            std::string e = ReadError(bad);
            ASSERT_EQ(e.compare(0, head.size(), head), 0) << i << ": " << e;
            std::string why = e.substr(head.size());
            // the magic, the format, the length: their own words; anything else the checksum
            if (i < 8)
                EXPECT_EQ(why, "not a pwalk checkpoint journal") << i;
            else if (i < 12)
                EXPECT_EQ(why.compare(0, 15, "journal format "), 0) << i << why;
            else if (i >= 16 && i < 24 && why.compare(0, 10, "truncated ") == 0)
                continue;
            else
                EXPECT_EQ(why, "corrupt (checksum mismatch)") << i << " " << mask;
        }
    }
}

TEST(JournalTest, AnotherFormatIsNamed)
{
    harness::TempDir dir("journal");
    std::string path = dir / "j";
    Built b = Full();
    WriteOk(path, b.j());
    std::string data = harness::ReadFile(path);
    PutLe(&data, 8, 2, 4);
    ASSERT_TRUE(harness::WriteFile(path, data));
    EXPECT_EQ(ReadError(path),
              "checkpoint '" + path + "': journal format 2, this pwalk reads format 1");
}

// Lengths and counts that lie, under a correct checksum: refused before
// anything is allocated or read past the end (the sanitizer stage runs this).
TEST(JournalTest, LyingLengthsUnderAGoodChecksumAreRefused)
{
    harness::TempDir dir("journal");
    std::string path = dir / "j", bad = dir / "bad";
    Built b = Full();
    b.version = "v";
    b.states[2] = "small";
    WriteOk(path, b.j());
    const std::string data = harness::ReadFile(path);
    const std::string corrupt = "checkpoint '" + bad + "': corrupt (checksum mismatch)";
    // version length at 24, its byte at 32; generation 33; rank, ranks 41;
    // pipeline count 49
    const size_t version_len = 24, pipeline_count = 49;
    for (uint64_t v : {UINT64_MAX, (uint64_t)1 << 63, (uint64_t)1 << 60, (uint64_t)data.size(),
                       (uint64_t)1000}) {
        std::string d = data;
        PutLe(&d, version_len, v, 8);
        FixCrc(&d);
        ASSERT_TRUE(harness::WriteFile(bad, d));
        EXPECT_EQ(ReadError(bad), corrupt) << v;
        d = data;
        PutLe(&d, pipeline_count, v, 8);
        FixCrc(&d);
        ASSERT_TRUE(harness::WriteFile(bad, d));
        EXPECT_EQ(ReadError(bad), corrupt) << v;
    }
    std::string d = data;
    d[32] = '\0';    // a NUL inside a string
    FixCrc(&d);
    ASSERT_TRUE(harness::WriteFile(bad, d));
    EXPECT_EQ(ReadError(bad), corrupt);
    // every 8-byte window set to lies: never a crash, never an accepted
    // journal whose lengths do not add up
    for (size_t at = 24; at + 8 <= data.size() - 4; at++) {
        for (uint64_t v : {UINT64_MAX, (uint64_t)0x7fffffff, (uint64_t)0}) {
            std::string e = data;
            PutLe(&e, at, v, 8);
            FixCrc(&e);
            ASSERT_TRUE(harness::WriteFile(bad, e));
            std::string msg = ReadError(bad);
            EXPECT_TRUE(msg.empty() || msg == corrupt) << at << ": " << msg;
        }
    }
}

TEST(JournalTest, UnreadableAndOtherFilesAreNamed)
{
    harness::TempDir dir("journal");
    std::string missing = dir / "missing";
    EXPECT_EQ(ReadError(missing), "checkpoint '" + missing + "': No such file or directory");
    EXPECT_EQ(ReadError(dir.path()),
              "checkpoint '" + dir.path() + "': not a pwalk checkpoint journal");
    std::string text = dir / "text";
    ASSERT_TRUE(harness::WriteFile(text, "scan:\n  roots: [/]\n and more than 24 bytes\n"));
    EXPECT_EQ(ReadError(text), "checkpoint '" + text + "': not a pwalk checkpoint journal");
}

TEST(JournalTest, WriteIntoAMissingDirectoryFails)
{
    harness::TempDir dir("journal");
    std::string path = dir / "no/such/j";
    Built b = Full();
    char err[512] = "";
    EXPECT_EQ(journal_write(path.c_str(), b.j(), err, sizeof err), -1);
    EXPECT_EQ(std::string(err),
              "checkpoint journal: cannot create '" + path + "': No such file or directory");
    EXPECT_TRUE(harness::ListDir(dir.path()).empty());
    std::string slash = dir / "sub/";
    EXPECT_EQ(journal_write(slash.c_str(), b.j(), err, sizeof err), -1);
    EXPECT_EQ(std::string(err), "checkpoint journal: cannot create '" + slash + "': not a file name");
    // a directory where the journal goes: refused before anything is written
    ASSERT_EQ(mkdir((dir / "d").c_str(), 0755), 0);
    EXPECT_EQ(journal_write((dir / "d").c_str(), b.j(), err, sizeof err), -1);
    EXPECT_EQ(std::string(err), "checkpoint journal: cannot create '" + dir / "d" + "': Is a directory");
    EXPECT_TRUE(harness::TempOutputs(dir.path()).empty());
}

TEST(JournalTest, InconsistentJournalIsNotWritten)
{
    harness::TempDir dir("journal");
    Built b = Full();
    journal *j = b.j();
    j->pipeline = nullptr;    // a count without lines
    char err[512] = "";
    EXPECT_EQ(journal_write((dir / "j").c_str(), j, err, sizeof err), -1);
    EXPECT_EQ(std::string(err), "checkpoint '" + dir / "j" + "': cannot write: Invalid argument");
    EXPECT_TRUE(harness::ListDir(dir.path()).empty());
}

// A write that fails half way (the file size limit: root ignores a
// read-only directory, not RLIMIT_FSIZE) leaves the previous journal
// intact and no temporary behind.
TEST(JournalTest, FailedWriteKeepsTheOldJournal)
{
    harness::TempDir dir("journal");
    std::string path = dir / "j";
    Built b = Full();
    b.states[2] = "small";
    WriteOk(path, b.j());
    const std::string before = harness::ReadFile(path);

    Built big = Full();
    big.pending = std::string(1 << 20, 'p');
    journal *j = big.j();
    j->generation = 99;
    struct rlimit old;
    ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
    struct sigaction ign, prev;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    ASSERT_EQ(sigaction(SIGXFSZ, &ign, &prev), 0);
    struct rlimit lim = old;
    lim.rlim_cur = 200000;
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
    char err[512] = "";
    int rc = journal_write(path.c_str(), j, err, sizeof err);
    setrlimit(RLIMIT_FSIZE, &old);
    sigaction(SIGXFSZ, &prev, nullptr);
    EXPECT_EQ(rc, -1);
    EXPECT_EQ(std::string(err), "checkpoint journal: write to '" + path + "' failed: File too large");
    EXPECT_EQ(harness::ReadFile(path), before);
    EXPECT_TRUE(harness::TempOutputs(dir.path()).empty());
    EXPECT_EQ(harness::ListDir(dir.path()), std::vector<std::string>{"j"});
    EXPECT_EQ(ReadError(path), "");
}

TEST(JournalTest, MessagesAreOneLine)
{
    harness::TempDir dir("journal");
    std::string path = dir / "a\nb";
    EXPECT_EQ(ReadError(path),
              "checkpoint '" + dir.path() + "/a\\x0ab': No such file or directory");
}

TEST(JournalTest, RemoveToleratesAMissingJournal)
{
    harness::TempDir dir("journal");
    std::string path = dir / "j";
    Built b;
    WriteOk(path, b.j());
    char err[512] = "";
    EXPECT_EQ(journal_remove(path.c_str(), err, sizeof err), 0);
    EXPECT_FALSE(harness::Exists(path));
    EXPECT_EQ(journal_remove(path.c_str(), err, sizeof err), 0);
    ASSERT_EQ(mkdir(path.c_str(), 0755), 0);
    EXPECT_EQ(journal_remove(path.c_str(), err, sizeof err), -1);
    EXPECT_EQ(std::string(err).rfind("checkpoint '" + path + "': cannot remove: ", 0), 0u)
        << err;
}

// A writer killed mid-way leaves its temporary; the completed (or
// abandoned) scan's journal_remove() takes it -- only it: not a rank file's,
// not a symlink, not another user's file.
TEST(JournalTest, RemoveTakesAKilledWritersTemporary)
{
    harness::TempDir dir("journal");
    std::string path = dir / "j";
    Built b;
    WriteOk(path, b.j());
    ASSERT_TRUE(harness::WriteFile(dir / ".j.pwalk-tmp-AbC123", "half a journal"));
    std::vector<std::string> kept = {".j.pwalk-tmp-AbC12", ".j.g0.rank-1.pwalk-tmp-AbC123",
                                     ".k.pwalk-tmp-AbC123", ".j.pwalk-tmp-Ab-123"};
    for (const std::string &n : kept)
        ASSERT_TRUE(harness::WriteFile(dir / n, "x"));
    ASSERT_EQ(symlink("j", (dir / ".j.pwalk-tmp-Sym123").c_str()), 0);
    kept.push_back(".j.pwalk-tmp-Sym123");
    if (geteuid() == 0) {
        ASSERT_TRUE(harness::WriteFile(dir / ".j.pwalk-tmp-Nob123", "theirs"));
        ASSERT_EQ(chown((dir / ".j.pwalk-tmp-Nob123").c_str(), 65534, 65534), 0);
        kept.push_back(".j.pwalk-tmp-Nob123");
    }
    char err[512] = "";
    EXPECT_EQ(journal_remove(path.c_str(), err, sizeof err), 0) << err;
    std::set<std::string> want(kept.begin(), kept.end());
    std::vector<std::string> left = harness::ListDir(dir.path());
    EXPECT_EQ(std::set<std::string>(left.begin(), left.end()), want);
}

// journal_check: the version first, then the pipeline's first difference.
struct Check {
    std::vector<std::string> old_lines, new_lines;
    std::string version = "1.4.0-test";

    std::string Run()
    {
        Built b;
        b.pipeline = old_lines;
        journal *j = b.j();
        std::vector<char *> now;
        for (std::string &s : new_lines)
            now.push_back(&s[0]);
        char err[512] = "";
        int rc = journal_check("/ck", j, version.c_str(), now.data(), now.size(), err,
                               sizeof err);
        EXPECT_EQ(rc == 0, std::string(err).empty()) << err;
        return rc == 0 ? "" : err;
    }
};

TEST(JournalTest, CheckNamesTheVersion)
{
    Check c{{"a=1"}, {"a=1"}, "2.0"};
    EXPECT_EQ(c.Run(), "checkpoint '/ck' was written by pwalk 1.4.0-test; this is pwalk 2.0");
}

TEST(JournalTest, CheckNamesThePipelineDifference)
{
    const std::string head = "checkpoint '/ck' is of another pipeline: ";
    EXPECT_EQ((Check{{"a=1", "b=2"}, {"a=1", "b=2"}}).Run(), "");
    EXPECT_EQ((Check{{}, {}}).Run(), "");
    EXPECT_EQ((Check{{"a=1", "b=x=2"}, {"a=1", "b=x=3"}}).Run(), head + "'b' was 'x=2', now 'x=3'");
    EXPECT_EQ((Check{{"a=1", "c=3"}, {"a=1", "b=2", "c=3"}}).Run(),
              head + "'b' was not set, now '2'");
    EXPECT_EQ((Check{{"a=1", "b=2", "c=3"}, {"a=1", "c=3"}}).Run(),
              head + "'b' was '2', now not set");
    EXPECT_EQ((Check{{"a=1"}, {"a=1", "z=9"}}).Run(), head + "'z' was not set, now '9'");
    EXPECT_EQ((Check{{"a=1", "z=9"}, {"a=1"}}).Run(), head + "'z' was '9', now not set");
    EXPECT_EQ((Check{{"scan.roots[0]=/a"}, {"scan.roots[0]=/b"}}).Run(),
              head + "'scan.roots[0]' was '/a', now '/b'");
    // the same lines in another order are another pipeline (roots, sinks)
    EXPECT_EQ((Check{{"a=1", "a=2"}, {"a=2", "a=1"}}).Run(), head + "'a' was '1', now '2'");
    EXPECT_EQ((Check{{"sink.x.plugin=csv"}, {"sink.y.plugin=csv"}}).Run(),
              head + "'sink.x.plugin' was 'csv', now not set");
}

}  // namespace

// The publishing mark and its count round-trip; any other flag bit is
// refused as corrupt even with a correct checksum.
TEST(JournalTest, PublishingFlagRoundTripsOtherBitsAreCorrupt)
{
    harness::TempDir dir("journal");
    std::string path = dir / "j";
    Built b = Full();
    journal *j = b.j();
    j->flags = JOURNAL_PUBLISHING | (3u << JOURNAL_PUBLISHED_SHIFT);
    WriteOk(path, j);
    journal out;
    char err[512] = "";
    ASSERT_EQ(journal_read(path.c_str(), &out, err, sizeof err), 0) << err;
    EXPECT_EQ(out.flags & JOURNAL_PUBLISHING, JOURNAL_PUBLISHING);
    EXPECT_EQ(JOURNAL_PUBLISHED(out.flags), 3u);
    journal_free(&out);
    j->flags = 0;
    WriteOk(path, j);
    ASSERT_EQ(journal_read(path.c_str(), &out, err, sizeof err), 0) << err;
    EXPECT_EQ(out.flags, 0u);
    journal_free(&out);
    std::string data = harness::ReadFile(path);
    PutLe(&data, 12, 0x2, 4);
    FixCrc(&data);
    ASSERT_TRUE(harness::WriteFile(path, data));
    EXPECT_EQ(ReadError(path), "checkpoint '" + path + "': corrupt (checksum mismatch)");
}
