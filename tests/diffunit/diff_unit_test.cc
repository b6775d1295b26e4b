// pwalk-diff's modules (engine/diff): reader, row parser, sorter, join and
// aggregation, each against inputs built here.
#include <dirent.h>
#include <lz4frame.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

extern "C" {
#include "engine/diff/agg.h"
#include "engine/diff/join.h"
#include "engine/diff/pipe.h"
#include "engine/diff/reader.h"
#include "engine/diff/row.h"
#include "engine/diff/size.h"
#include "engine/diff/sort.h"
}

namespace {

std::string TmpDir(const std::string &name)
{
    const char *base = getenv("TEST_TMPDIR");
    std::string d = std::string(base ? base : "/tmp") + "/diffunit-" + name;
    std::string cmd = "rm -rf '" + d + "' && mkdir -p '" + d + "'";
    EXPECT_EQ(system(cmd.c_str()), 0);
    return d;
}

void WriteFile(const std::string &path, const std::string &bytes)
{
    std::ofstream f(path, std::ios::binary);
    f << bytes;
}

std::string Zstd(const std::string &s)
{
    std::string out(ZSTD_compressBound(s.size()), '\0');
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    size_t n = ZSTD_compress2(cc, &out[0], out.size(), s.data(), s.size());
    ZSTD_freeCCtx(cc);
    out.resize(n);
    return out;
}

std::string Gzip(const std::string &s)
{
    z_stream z{};
    deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&z, s.size()) + 64, '\0');
    z.next_in = (Bytef *)s.data();
    z.avail_in = (uInt)s.size();
    z.next_out = (Bytef *)&out[0];
    z.avail_out = (uInt)out.size();
    deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

std::string Lz4(const std::string &s)
{
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
    std::string out(LZ4F_compressFrameBound(s.size(), &prefs), '\0');
    size_t n = LZ4F_compressFrame(&out[0], out.size(), s.data(), s.size(), &prefs);
    out.resize(n);
    return out;
}

// The whole decompressed content, or "ERROR: message".
std::string ReadAll(const std::string &path)
{
    char err[1024] = "";
    drd *r = drd_open(path.c_str(), err, sizeof err);
    if (!r)
        return std::string("ERROR: ") + err;
    std::string out;
    char buf[777]; // small: many calls, frames split across them
    long n;
    while ((n = drd_read(r, buf, sizeof buf, err, sizeof err)) > 0)
        out.append(buf, (size_t)n);
    drd_close(r);
    return n < 0 ? std::string("ERROR: ") + err : out;
}

std::string Text(size_t lines)
{
    std::string s;
    for (size_t i = 0; i < lines; i++)
        s += "line " + std::to_string(i * 7919 % 100003) + " of the report\n";
    return s;
}

} // namespace

// ---- reader ------------------------------------------------------------------

TEST(Reader, EveryCompressionWithSeveralFramesOrMembers)
{
    std::string d = TmpDir("formats");
    std::string a = Text(20000), b = Text(3000);
    struct {
        const char *name;
        std::string bytes;
        drd_kind kind;
    } cases[] = {
        {"plain.csv", a + b, DRD_PLAIN},
        {"r.csv.zst", Zstd(a) + Zstd("") + Zstd(b), DRD_ZSTD},
        {"r.csv.gz", Gzip(a) + Gzip(b), DRD_GZIP},
        {"r.csv.lz4", Lz4(a) + Lz4(b), DRD_LZ4},
        {"zstd-named.csv", Zstd(a + b), DRD_ZSTD}, // by magic, not by name
    };
    for (auto &c : cases) {
        std::string p = d + "/" + c.name;
        WriteFile(p, c.bytes);
        EXPECT_EQ(ReadAll(p), a + b) << c.name;
        char err[256];
        drd *r = drd_open(p.c_str(), err, sizeof err);
        ASSERT_NE(r, nullptr);
        EXPECT_EQ(drd_get_kind(r), c.kind) << c.name;
        EXPECT_FALSE(drd_is_json(r));
        drd_close(r);
    }
}

TEST(Reader, ManifestIsRecognisedByItsFirstByte)
{
    std::string d = TmpDir("json");
    WriteFile(d + "/m.json", "  \n{\"format\": \"pwalk-shards\"}\n");
    char err[256];
    drd *r = drd_open((d + "/m.json").c_str(), err, sizeof err);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(drd_is_json(r));
    drd_close(r);
}

TEST(Reader, TruncatedCompressedInputNamesFileAndOffset)
{
    std::string d = TmpDir("trunc");
    std::string a = Text(5000);
    struct {
        const char *name, *what;
        std::string whole;
    } cases[] = {
        {"t.zst", "truncated zstd data: the file ends inside a frame", Zstd(a)},
        {"t.gz", "truncated gzip data: the file ends inside a member", Gzip(a)},
        {"t.lz4", "truncated lz4 data: the file ends inside a frame", Lz4(a)},
    };
    for (auto &c : cases) {
        std::string p = d + "/" + c.name;
        size_t cut = c.whole.size() / 2;
        WriteFile(p, c.whole.substr(0, cut));
        std::string got = ReadAll(p);
        std::string want = "ERROR: " + p + ": " + c.what + " (compressed byte " +
                           std::to_string(cut) + ")";
        EXPECT_EQ(got, want);
    }
}

TEST(Reader, CorruptCompressedInputNamesFileAndOffset)
{
    std::string d = TmpDir("corrupt");
    std::string a = Text(5000);
    std::string z = Zstd(a), g = Gzip(a), l = Lz4(a);
    z[z.size() / 2] ^= 0x55;
    g[g.size() / 2] ^= 0x55;
    l[l.size() / 2] ^= 0x55;
    WriteFile(d + "/c.zst", z);
    WriteFile(d + "/c.gz", g);
    WriteFile(d + "/c.lz4", l);
    for (const char *k : {"zstd", "gzip", "lz4"}) {
        std::string p = d + "/c." + (std::string(k) == "zstd" ? "zst" : k == std::string("gzip") ? "gz" : "lz4");
        std::string got = ReadAll(p);
        std::string head = "ERROR: " + p + ": corrupt " + k + " data at compressed byte ";
        EXPECT_EQ(got.substr(0, head.size()), head) << got;
        EXPECT_EQ(got.find('\n'), std::string::npos);
    }
}

TEST(Reader, MissingFile)
{
    EXPECT_EQ(ReadAll("/nonexistent/r.csv"), "ERROR: /nonexistent/r.csv: No such file or directory");
}

// ---- rows --------------------------------------------------------------------

namespace {

const char kHeader[] =
    "inode,parent-inode,directory-depth,\"filename\",\"fileExtension\",UID,GID,st_size,"
    "st_dev,st_blocks,st_nlink,\"st_mode\",st_atime,st_mtime,st_ctime,pw_fcount,pw_dirsum";

struct Parsed {
    drow r;
    std::string path;
    std::string err;
    bool ok;
};

Parsed Parse(const std::string &line, int esc)
{
    std::vector<char> buf(sizeof(drow) + line.size() + 1);
    char err[512] = "";
    long n = drow_parse(line.data(), line.size(), esc, buf.data(), err, sizeof err);
    Parsed p{};
    p.ok = n >= 0;
    p.err = err;
    if (p.ok) {
        memcpy(&p.r, buf.data(), sizeof p.r);
        p.path.assign(DROW_PATH(buf.data()), p.r.path_len);
        EXPECT_EQ((size_t)n, sizeof(drow) + p.r.path_len);
    }
    return p;
}

} // namespace

TEST(Row, HeaderIsDetectedAndMustBePwalks)
{
    std::string h = kHeader;
    EXPECT_TRUE(drow_is_header(h.data(), h.size()));
    EXPECT_EQ(drow_check_header(h.data(), h.size()), 0);
    std::string crlf = h + "\r";
    EXPECT_EQ(drow_check_header(crlf.data(), crlf.size()), 0);
    std::string other = "inode,path,size";
    EXPECT_TRUE(drow_is_header(other.data(), other.size()));
    EXPECT_EQ(drow_check_header(other.data(), other.size()), -1);
    std::string row = "12,0,-1,\"r\",\"\",0,0,4096,2049,8,2,\"0040755\",1,2,3,0,0";
    EXPECT_FALSE(drow_is_header(row.data(), row.size()));
}

TEST(Row, LosslessRowGivesTheNameBytesBack)
{
    Parsed p = Parse("7,3,1,\"root/a\"\"b\\x0a\\\\c,d.txt\",\"txt\",1001,100,-5,65024,8,1,"
                     "\"0100644\",11,22,33,-1,0",
                     DROW_ESC_LOSSLESS);
    ASSERT_TRUE(p.ok) << p.err;
    EXPECT_EQ(p.path, std::string("root/a\"b\n\\c,d.txt"));
    EXPECT_EQ(p.r.ino, 7u);
    EXPECT_EQ(p.r.depth, 1);
    EXPECT_EQ(p.r.uid, 1001u);
    EXPECT_EQ(p.r.gid, 100u);
    EXPECT_EQ(p.r.size, -5);
    EXPECT_EQ(p.r.dev, 65024u);
    EXPECT_EQ(p.r.mode, 0100644u);
    EXPECT_EQ(p.r.mtime, 22);
    EXPECT_EQ(p.r.ctime, 33);
}

TEST(Row, DeyRowKeepsBackslashesAndRawBytes)
{
    Parsed p = Parse("7,3,0,\"r/a\\x41\xff\"\"q\",\"\",0,0,1,2,0,1,\"0100644\",1,2,3,-1,0",
                     DROW_ESC_DEY);
    ASSERT_TRUE(p.ok) << p.err;
    EXPECT_EQ(p.path, std::string("r/a\\x41\xff\"q"));
}

TEST(Row, EscapeDetection)
{
    std::string lossless = "1,0,0,\"r/a\\\\b\\xffc\",\"\"";
    std::string dey1 = "1,0,0,\"r/a\\qb\",\"\"";
    std::string dey2 = "1,0,0,\"r/a\\\\b\xff\",\"\"";
    EXPECT_EQ(drow_line_escape(lossless.data(), lossless.size()), DROW_ESC_LOSSLESS);
    EXPECT_EQ(drow_line_escape(dey1.data(), dey1.size()), DROW_ESC_DEY);
    EXPECT_EQ(drow_line_escape(dey2.data(), dey2.size()), DROW_ESC_DEY);
}

TEST(Row, BadRowsSayWhichColumn)
{
    struct {
        const char *line, *err;
    } cases[] = {
        {"x,0,0,\"r\",\"\",0,0,1,2,0,1,\"0100644\",1,2,3,-1,0", "column 1 (inode): not a number"},
        {"1,0,0,\"r\",\"\",0,0,1,2,0,1,\"0100644\",1,2,3,-1",
         "fewer than 17 columns"},
        {"1,0,0,\"r\",\"\",0,0,1,2,0,1,\"0100644\",1,2,3,-1,0,9", "more than 17 columns"},
        {"1,0,0,\"r\",\"\",0,0,1,2,0,1,\"0109644\",1,2,3,-1,0", "column 12 (st_mode): not an octal"},
        {"1,0,0,\"r,\"\",0,0,1,2,0,1,\"0100644\",1,2,3,-1,0", "column 4 (filename)"},
        {"1,0,0,\"r\\q\",\"\",0,0,1,2,0,1,\"0100644\",1,2,3,-1,0",
         "column 4 (filename): not lossless text"},
        {"1,0,0,\"r\",\"\",4294967296,0,1,2,0,1,\"0100644\",1,2,3,-1,0",
         "column 6 (UID): number out of range"},
    };
    for (auto &c : cases) {
        Parsed p = Parse(c.line, DROW_ESC_LOSSLESS);
        EXPECT_FALSE(p.ok) << c.line;
        EXPECT_NE(p.err.find(c.err), std::string::npos) << c.line << ": " << p.err;
    }
}

TEST(Size, ParseAndHuman)
{
    uint64_t v;
    EXPECT_EQ(dsize_parse("64M", &v), 0);
    EXPECT_EQ(v, 64ull << 20);
    EXPECT_EQ(dsize_parse("10T", &v), 0);
    EXPECT_EQ(v, 10ull << 40);
    EXPECT_EQ(dsize_parse("512KiB", &v), 0);
    EXPECT_EQ(v, 512ull << 10);
    EXPECT_EQ(dsize_parse("1g", &v), 0);
    EXPECT_EQ(v, 1ull << 30);
    EXPECT_EQ(dsize_parse("1048576", &v), 0);
    EXPECT_EQ(v, 1048576u);
    for (const char *bad : {"", "M", "-1", "1.5G", "10X", "20000000P", "1 G"})
        EXPECT_EQ(dsize_parse(bad, &v), -1) << bad;
    char h[64];
    dsize_human(h, sizeof h, 3 << 20, 1);
    EXPECT_STREQ(h, "+3.00 MiB");
    dsize_human(h, sizeof h, -12, 1);
    EXPECT_STREQ(h, "-12 B");
}

// ---- sorter ------------------------------------------------------------------

namespace {

int CmpU64(const void *a, const void *b)
{
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    return x < y ? -1 : x > y;
}

// Names in dir (its files, whatever they are).
std::vector<std::string> Entries(const std::string &dir)
{
    std::vector<std::string> out;
    DIR *d = opendir(dir.c_str());
    if (!d)
        return out;
    while (struct dirent *e = readdir(d))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            out.push_back(e->d_name);
    closedir(d);
    return out;
}

int OpenFds()
{
    return (int)Entries("/proc/self/fd").size();
}

// Records: an 8-byte key and a tail of key % 300 bytes, the key spelt in it.
void AddRecords(dsort_buf *b, uint64_t from, uint64_t count, uint64_t step)
{
    char err[256];
    for (uint64_t i = 0; i < count; i++) {
        uint64_t key = (from + i * step) % 1000003;
        size_t len = 8 + key % 300;
        char *p = (char *)dsort_buf_reserve(b, len, err, sizeof err);
        ASSERT_NE(p, nullptr) << err;
        memcpy(p, &key, 8);
        memset(p + 8, (int)(key & 0x7f), len - 8);
        dsort_buf_commit(b, len);
    }
}

} // namespace

TEST(Sorter, SpillsToUnlinkedFilesAndMergesInOrder)
{
    std::string d = TmpDir("sort");
    int fds = OpenFds();
    dsort s;
    ASSERT_EQ(dsort_init(&s, CmpU64, d.c_str()), 0);
    dsort_buf a, b;
    ASSERT_EQ(dsort_buf_init(&a, &s, 256 * 1024), 0);
    ASSERT_EQ(dsort_buf_init(&b, &s, 256 * 1024), 0);
    AddRecords(&a, 17, 20000, 7);
    AddRecords(&b, 5, 15000, 13);
    EXPECT_TRUE(s.spilled);
    EXPECT_TRUE(Entries(d).empty()) << "spill files must have no name";
    char err[256];
    ASSERT_EQ(dsort_buf_finish(&a, 1, err, sizeof err), 0) << err;
    ASSERT_EQ(dsort_buf_finish(&b, 1, err, sizeof err), 0) << err;
    EXPECT_EQ(s.records, 35000u);
    EXPECT_GT(s.run_count, 4u);
    dsort_merge *m = dsort_merge_open(&s, err, sizeof err);
    ASSERT_NE(m, nullptr) << err;
    uint64_t prev = 0, n = 0;
    while (const void *r = dsort_merge_next(m, err, sizeof err)) {
        uint64_t key;
        memcpy(&key, r, 8);
        ASSERT_GE(key, prev);
        if (key % 300) { // the tail came back whole
            ASSERT_EQ(((const unsigned char *)r)[8 + key % 300 - 1], key & 0x7f);
        }
        prev = key;
        n++;
    }
    EXPECT_FALSE(dsort_merge_failed(m));
    EXPECT_EQ(n, 35000u);
    dsort_merge_close(m);
    dsort_free(&s);
    EXPECT_EQ(OpenFds(), fds) << "the spill files stay open after dsort_free";
    EXPECT_TRUE(Entries(d).empty());
}

TEST(Sorter, HeldRunsSpillOnRequest)
{
    std::string d = TmpDir("held");
    dsort s;
    ASSERT_EQ(dsort_init(&s, CmpU64, d.c_str()), 0);
    dsort_set_hold(&s, 16 << 20);
    dsort_buf a;
    ASSERT_EQ(dsort_buf_init(&a, &s, 8 << 20), 0);
    AddRecords(&a, 1, 1000, 3);
    char err[256];
    ASSERT_EQ(dsort_buf_finish(&a, 1, err, sizeof err), 0);
    EXPECT_FALSE(s.spilled);
    EXPECT_GT(s.held, 0u);
    ASSERT_EQ(dsort_spill_held(&s, err, sizeof err), 0) << err;
    EXPECT_TRUE(s.spilled);
    EXPECT_EQ(s.held, 0u);
    dsort_merge *m = dsort_merge_open(&s, err, sizeof err);
    ASSERT_NE(m, nullptr);
    size_t n = 0;
    while (dsort_merge_next(m, err, sizeof err))
        n++;
    EXPECT_EQ(n, 1000u);
    dsort_merge_close(m);
    dsort_free(&s);
}

TEST(Sorter, FullBuffersStayInMemoryWithinTheHold)
{
    std::string d = TmpDir("hold");
    dsort s;
    ASSERT_EQ(dsort_init(&s, CmpU64, d.c_str()), 0);
    dsort_set_hold(&s, 600 * 1024); // room for about two 256 KiB runs
    dsort_buf a;
    ASSERT_EQ(dsort_buf_init(&a, &s, 256 * 1024), 0);
    AddRecords(&a, 3, 20000, 11);
    char err[256];
    ASSERT_EQ(dsort_buf_finish(&a, 1, err, sizeof err), 0) << err;
    EXPECT_TRUE(s.spilled);
    EXPECT_LE(s.held, 600u * 1024);
    EXPECT_GT(s.held, 0u);
    dsort_merge *m = dsort_merge_open(&s, err, sizeof err);
    ASSERT_NE(m, nullptr);
    uint64_t prev = 0, n = 0;
    while (const void *r = dsort_merge_next(m, err, sizeof err)) {
        uint64_t key;
        memcpy(&key, r, 8);
        ASSERT_GE(key, prev);
        prev = key;
        n++;
    }
    EXPECT_EQ(n, 20000u);
    dsort_merge_close(m);
    dsort_free(&s);
}

TEST(Sorter, KilledProcessLeavesNoSpillFile)
{
    std::string d = TmpDir("killed");
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        dsort s;
        dsort_init(&s, CmpU64, d.c_str());
        dsort_buf a;
        dsort_buf_init(&a, &s, 64 * 1024);
        AddRecords(&a, 1, 5000, 3);
        kill(getpid(), SIGKILL); // no exit path runs
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    ASSERT_TRUE(WIFSIGNALED(st));
    EXPECT_TRUE(Entries(d).empty());
}

TEST(Sorter, UnwritableTmpdirIsOneLine)
{
    dsort s;
    ASSERT_EQ(dsort_init(&s, CmpU64, "/nonexistent-dir"), 0);
    dsort_buf a;
    ASSERT_EQ(dsort_buf_init(&a, &s, 64 * 1024), 0);
    char err[256] = "";
    void *p = nullptr;
    for (int i = 0; i < 10000; i++) {
        p = dsort_buf_reserve(&a, 100, err, sizeof err);
        if (!p)
            break;
        memset(p, 0, 100);
        dsort_buf_commit(&a, 100);
    }
    EXPECT_EQ(p, nullptr);
    EXPECT_EQ(std::string(err),
              "cannot create a spill file in '/nonexistent-dir': No such file or directory");
    dsort_buf_discard(&a);
    dsort_free(&s);
}

// ---- join and aggregation ------------------------------------------------------

namespace {

struct Row {
    uint64_t dev, ino;
    uint32_t mode;
    std::string path;
    int64_t size, mtime, ctime;
    uint32_t uid, gid;
    int32_t depth;
};

Row F(uint64_t ino, const std::string &path, int64_t size, int32_t depth, int64_t mtime = 100,
      int64_t ctime = 100, uint32_t uid = 1000)
{
    return Row{7, ino, 0100644, path, size, mtime, ctime, uid, 100, depth};
}

Row D(uint64_t ino, const std::string &path, int32_t depth, int64_t mtime = 100)
{
    return Row{7, ino, 0040755, path, 4096, mtime, mtime, 1000, 100, depth};
}

void Fill(dsort *s, dsort_cmp cmp, dsort_key key, const std::vector<Row> &rows)
{
    ASSERT_EQ(dsort_init_key(s, cmp, key, "/tmp"), 0);
    dsort_set_hold(s, 4 << 20);
    dsort_buf b;
    ASSERT_EQ(dsort_buf_init(&b, s, 1 << 20), 0);
    char err[256];
    for (const Row &r : rows) {
        drow *p = (drow *)dsort_buf_reserve(&b, sizeof(drow) + r.path.size(), err, sizeof err);
        ASSERT_NE(p, nullptr);
        memset(p, 0, sizeof *p);
        p->dev = r.dev;
        p->ino = r.ino;
        p->mode = r.mode;
        p->size = r.size;
        p->mtime = r.mtime;
        p->ctime = r.ctime;
        p->uid = r.uid;
        p->gid = r.gid;
        p->depth = r.depth;
        p->path_len = (uint32_t)r.path.size();
        memcpy((char *)p + sizeof(drow), r.path.data(), r.path.size());
        dsort_buf_commit(&b, sizeof(drow) + r.path.size());
    }
    ASSERT_EQ(dsort_buf_finish(&b, 1, err, sizeof err), 0);
}

struct Joined {
    std::vector<std::string> changes; // "kind path <- old [suspect] bytes:0|1"
    dagg agg;
};

int Collect(void *ctx, const dchg *c, size_t)
{
    Joined *j = (Joined *)ctx;
    std::string s = std::string(dchg_kind_name(c->kind)) + " " +
                    std::string(DCHG_PATH(c), DCHG_PATH_LEN(c));
    if (c->has_old && c->has_new && c->kind != DCHG_MODIFIED)
        s += " <- " + std::string(DCHG_OLD_PATH(c), c->od.path_len);
    if (c->suspect)
        s += std::string(" [") + dchg_suspect_name(c->suspect) + "]";
    s += c->count_bytes ? " bytes" : " nobytes";
    j->changes.push_back(s);
    return dagg_add(&j->agg, c);
}

void Join(const std::vector<Row> &old_rows, const std::vector<Row> &new_rows, int mode,
          Joined *out, int depth = 3)
{
    dsort_cmp cmp = mode == DJOIN_INODE ? djoin_cmp_inode : djoin_cmp_path;
    dsort_key key = mode == DJOIN_INODE ? djoin_key_inode : djoin_key_path;
    dsort o, n;
    Fill(&o, cmp, key, old_rows);
    Fill(&n, cmp, key, new_rows);
    dagg_init(&out->agg, depth);
    char err[256];
    // OLD merged on a thread, NEW in the caller: both ways of dpipe
    dpipe *mo = dpipe_open(&o, 1, err, sizeof err);
    dpipe *mn = dpipe_open(&n, 0, err, sizeof err);
    EXPECT_EQ(djoin_run(mo, mn, mode, Collect, out, nullptr, err, sizeof err), 0) << err;
    std::sort(out->changes.begin(), out->changes.end());
    dpipe_close(mo);
    dpipe_close(mn);
    dsort_free(&o);
    dsort_free(&n);
}

std::map<std::string, std::pair<int64_t, int64_t>> Dirs(const dagg &a)
{
    std::map<std::string, std::pair<int64_t, int64_t>> m;
    size_t n;
    const dagg_dir **v = dagg_dirs_sorted(&a, &n);
    for (size_t i = 0; i < n; i++)
        m[std::string(v[i]->path, v[i]->len) + "@" + std::to_string(v[i]->depth)] = {
            v[i]->net_bytes, v[i]->net_files};
    free(v);
    return m;
}

std::pair<int64_t, int64_t> Net(int64_t bytes, int64_t files)
{
    return {bytes, files};
}

const dagg_cnt *Owner(const dagg_idtab &t, uint32_t id)
{
    for (size_t i = 0; i < t.cap; i++)
        if (t.slots[i].used && t.slots[i].id == id)
            return &t.slots[i].c;
    return nullptr;
}

} // namespace

TEST(Join, EveryKindOfChangeByInode)
{
    std::vector<Row> o = {D(1, "r", -1), D(2, "r/a", 0), D(3, "r/b", 0),
                          F(10, "r/a/same", 5, 1), F(11, "r/a/grow", 5, 1),
                          F(12, "r/a/mv", 7, 1), F(13, "r/a/gone", 9, 1),
                          F(14, "r/a/reused", 3, 1, 100, 100), F(15, "r/a/chown", 20, 1)};
    std::vector<Row> n = {D(1, "r", -1), D(2, "r/a", 0), D(3, "r/b", 0),
                          F(10, "r/a/same", 5, 1), F(11, "r/a/grow", 50, 1, 200, 200),
                          F(12, "r/b/mv", 7, 1), F(16, "r/b/new", 100, 1),
                          F(14, "r/b/other", 30, 1, 300, 300),
                          F(15, "r/a/chown", 20, 1, 100, 150, 2000)};
    Joined j;
    Join(o, n, DJOIN_INODE, &j);
    std::vector<std::string> want = {
        "added r/b/new bytes",
        "modified r/a/chown bytes",
        "modified r/a/grow bytes",
        "removed r/a/gone bytes",
        "renamed r/b/mv <- r/a/mv bytes",
        "renamed+modified r/b/other <- r/a/reused [ctime] bytes",
    };
    EXPECT_EQ(j.changes, want);
    // totals: +100 new, -9 gone, +45 grown, +27 reused; the chown moves nothing
    EXPECT_EQ(j.agg.total.bytes_added - j.agg.total.bytes_removed, 100 - 9 + 45 + 27);
    EXPECT_EQ(j.agg.total.files_added, 1);
    EXPECT_EQ(j.agg.total.files_removed, 1);
    const dagg_cnt *u1000 = Owner(j.agg.users, 1000), *u2000 = Owner(j.agg.users, 2000);
    ASSERT_TRUE(u1000 && u2000);
    EXPECT_EQ(u2000->files_added, 1);
    EXPECT_EQ(u2000->bytes_added, 20);
    EXPECT_EQ(u1000->files_removed, 2); // gone, and chown's old owner
    EXPECT_EQ(u1000->bytes_removed, 9 + 20);
    auto dirs = Dirs(j.agg);
    // r/a lost mv (7), gone (9), reused (3), gained 45; r/b gained 7, 100, 30
    EXPECT_EQ(dirs["r/a@0"], Net(-7 - 9 - 3 + 45, -3));
    EXPECT_EQ(dirs["r/b@0"], Net(7 + 100 + 30, 3));
    EXPECT_EQ(dirs["r@-1"], Net(163, 0));
    dagg_free(&j.agg);
}

TEST(Join, HardLinksCountTheirBytesOnce)
{
    std::vector<Row> o = {F(20, "r/x", 1000, 0), F(21, "r/p", 50, 0), F(21, "r/q", 50, 0)};
    std::vector<Row> n = {F(20, "r/x", 1000, 0), F(20, "r/y", 1000, 0), F(21, "r/q", 50, 0)};
    Joined j;
    Join(o, n, DJOIN_INODE, &j);
    std::vector<std::string> want = {"added r/y nobytes", "removed r/p nobytes"};
    EXPECT_EQ(j.changes, want);
    EXPECT_EQ(j.agg.total.bytes_added, 0);
    EXPECT_EQ(j.agg.total.bytes_removed, 0);
    EXPECT_EQ(j.agg.total.files_added, 1);
    EXPECT_EQ(j.agg.total.files_removed, 1);
    dagg_free(&j.agg);
}

TEST(Join, SameInodeOtherTypeIsNeverMatched)
{
    std::vector<Row> o = {F(30, "r/t", 10, 0)};
    std::vector<Row> n = {D(30, "r/t", 0)};
    Joined j;
    Join(o, n, DJOIN_INODE, &j);
    std::vector<std::string> want = {"added r/t [type] bytes", "removed r/t [type] bytes"};
    EXPECT_EQ(j.changes, want);
    dagg_free(&j.agg);
}

TEST(Join, ByPathIgnoresInodesAndDevices)
{
    std::vector<Row> o = {F(40, "r/same", 5, 0), F(41, "r/grow", 5, 0), F(42, "r/old", 1, 0)};
    std::vector<Row> n = {F(90, "r/same", 5, 0), F(91, "r/grow", 6, 0), F(42, "r/new", 1, 0)};
    for (Row &r : n)
        r.dev = 99;
    Joined j;
    Join(o, n, DJOIN_PATH, &j);
    std::vector<std::string> want = {"added r/new bytes", "modified r/grow bytes",
                                     "removed r/old bytes"};
    EXPECT_EQ(j.changes, want);
    dagg_free(&j.agg);
}

TEST(Agg, ByDirStopsAtDepth)
{
    std::vector<Row> o = {D(1, "/r", -1)};
    std::vector<Row> n = {D(1, "/r", -1), F(5, "/r/a/b/c/f", 10, 3)};
    Joined deep, shallow, roots;
    Join(o, n, DJOIN_INODE, &deep, 3);
    Join(o, n, DJOIN_INODE, &shallow, 1);
    Join(o, n, DJOIN_INODE, &roots, 0);
    std::map<std::string, std::pair<int64_t, int64_t>> want3 = {
        {"/r@-1", {10, 1}}, {"/r/a@0", {10, 1}}, {"/r/a/b@1", {10, 1}}, {"/r/a/b/c@2", {10, 1}}};
    EXPECT_EQ(Dirs(deep.agg), want3);
    std::map<std::string, std::pair<int64_t, int64_t>> want1 = {{"/r@-1", {10, 1}},
                                                                {"/r/a@0", {10, 1}}};
    EXPECT_EQ(Dirs(shallow.agg), want1);
    std::map<std::string, std::pair<int64_t, int64_t>> want0 = {{"/r@-1", {10, 1}}};
    EXPECT_EQ(Dirs(roots.agg), want0);
    dagg_free(&deep.agg);
    dagg_free(&shallow.agg);
    dagg_free(&roots.agg);
}

TEST(Join, PathKeyOrderAgreesWithMemcmp)
{
    // names hold any byte but NUL and '/': the key of the first 16 bytes,
    // zero-padded, must never order two paths against memcmp's order
    std::vector<std::string> paths = {"a", "ab", "a\x01", "a\xff", "abcdefghijklmnop",
                                      "abcdefghijklmnopq", "abcdefghijklmnoq", "b", "\xff\xff",
                                      "abcdefgh", "abcdefgh\x01"};
    for (const std::string &x : paths)
        for (const std::string &y : paths) {
            std::vector<char> a(sizeof(drow) + x.size()), b(sizeof(drow) + y.size());
            drow *ra = (drow *)a.data(), *rb = (drow *)b.data();
            memset(ra, 0, sizeof *ra);
            memset(rb, 0, sizeof *rb);
            ra->path_len = (uint32_t)x.size();
            rb->path_len = (uint32_t)y.size();
            memcpy(a.data() + sizeof(drow), x.data(), x.size());
            memcpy(b.data() + sizeof(drow), y.data(), y.size());
            uint64_t ka[2], kb[2];
            djoin_key_path(ra, ka);
            djoin_key_path(rb, kb);
            int c = djoin_cmp_path(ra, rb);
            bool kless = ka[0] < kb[0] || (ka[0] == kb[0] && ka[1] < kb[1]);
            bool kmore = ka[0] > kb[0] || (ka[0] == kb[0] && ka[1] > kb[1]);
            EXPECT_FALSE(kless && c >= 0) << x << " " << y;
            EXPECT_FALSE(kmore && c <= 0) << x << " " << y;
        }
}

// ---- a side read whole (load.c): header, escaping, manifests, errors ------------

extern "C" {
#include "engine/diff/load.h"
}

namespace {

const char kRoot[] = "12,0,-1,\"r\",\"\",0,0,4096,2049,8,2,\"0040755\",1,2,3,2,0\n";

// Load path into side (sorted by path); the status, err set.
int LoadSide(dside *side, const std::string &path, std::string *err, int threads = 2)
{
    static volatile sig_atomic_t no_stop = 0;
    dload_opts o{};
    o.threads = threads;
    o.memory = 16 << 20;
    o.hold = 8 << 20;
    o.escape = DROW_ESC_AUTO;
    o.stop = &no_stop;
    o.tmpdir = "/tmp";
    char e[1024] = "";
    int rc = dload_side(side, path.c_str(), djoin_cmp_path, djoin_key_path, &o, e, sizeof e);
    *err = e;
    return rc;
}

// The paths of a loaded side, in order.
std::vector<std::string> Paths(dside *side)
{
    std::vector<std::string> out;
    char err[256];
    dsort_merge *m = dsort_merge_open(&side->sort, err, sizeof err);
    while (const void *r = dsort_merge_next(m, err, sizeof err))
        out.emplace_back(DROW_PATH(r), ((const drow *)r)->path_len);
    dsort_merge_close(m);
    return out;
}

} // namespace

TEST(Load, HeaderOrNotAndEscapingPerFile)
{
    std::string d = TmpDir("load");
    std::string rows = std::string(kRoot) +
                       "13,12,0,\"r/a\\\\b\\x0a\",\"\",0,0,1,2049,0,1,\"0100644\",1,2,3,-1,0\n";
    std::string dey = std::string(kRoot) +
                      "13,12,0,\"r/a\\qb\xff\",\"\",0,0,1,2049,0,1,\"0100644\",1,2,3,-1,0\n";
    WriteFile(d + "/h.csv.zst", Zstd(std::string(kHeader) + "\n" + rows));
    WriteFile(d + "/n.csv", rows);
    WriteFile(d + "/dey.csv.gz", Gzip(dey));
    for (const char *f : {"h.csv.zst", "n.csv"}) {
        dside side;
        std::string err;
        ASSERT_EQ(LoadSide(&side, d + "/" + f, &err), 0) << err;
        EXPECT_EQ(side.rows, 2u);
        ASSERT_EQ(side.root_count, 1u);
        EXPECT_STREQ(side.roots[0], "r");
        EXPECT_EQ(Paths(&side), (std::vector<std::string>{"r", "r/a\\b\n"})) << f;
        dside_free(&side);
    }
    dside side;
    std::string err;
    ASSERT_EQ(LoadSide(&side, d + "/dey.csv.gz", &err), 0) << err;
    EXPECT_EQ(Paths(&side), (std::vector<std::string>{"r", "r/a\\qb\xff"}));
    dside_free(&side);
}

TEST(Load, BadRowNamesFileAndLine)
{
    std::string d = TmpDir("badrow");
    std::string text = std::string(kHeader) + "\n" + kRoot;
    for (int i = 0; i < 50000; i++) // several chunks before the bad line
        text += std::to_string(100 + i) +
                ",12,0,\"r/some/longer/name/for/a/file/number/" + std::to_string(i) +
                "\",\"\",0,0,1,2049,0,1,\"0100644\",1,2,3,-1,0\n";
    text += "7,12,0,\"r/x\",\"\",0,0,1,2049,0,1,\"0100644\",1,2,3\n";
    WriteFile(d + "/bad.csv.zst", Zstd(text));
    dside side;
    std::string err;
    EXPECT_EQ(LoadSide(&side, d + "/bad.csv.zst", &err), DLOAD_BAD_INPUT);
    EXPECT_EQ(err, d + "/bad.csv.zst: line 50003: column 15 (st_ctime): the line ends here: "
                       "fewer than 17 columns, not a pwalk report");
    dside_free(&side);
    WriteFile(d + "/cols.csv", "inode,parent-inode,path\n1,2,3\n");
    EXPECT_EQ(LoadSide(&side, d + "/cols.csv", &err), DLOAD_BAD_INPUT);
    EXPECT_NE(err.find("cols.csv: line 1: the columns are not pwalk's"), std::string::npos) << err;
    dside_free(&side);
}

TEST(Load, ManifestReadsEveryShard)
{
    std::string d = TmpDir("manifest");
    WriteFile(d + "/s0.csv.zst", Zstd(std::string(kHeader) + "\n" + kRoot));
    WriteFile(d + "/s1.csv.lz4",
              Lz4(std::string(kHeader) + "\n" +
                  "13,12,0,\"r/q\"\"\\\\\",\"\",0,0,1,2049,0,1,\"0100644\",1,2,3,-1,0\n"));
    WriteFile(d + "/m.manifest.json",
              "{\n  \"format\": \"pwalk-shards\",\n  \"version\": 1,\n  \"complete\": true,\n"
              "  \"started\": 1796000000,\n  \"sinks\": [\n    {\"name\": \"s\", \"plugin\": "
              "\"summary\", \"shards\": []},\n    {\"name\": \"report\", \"plugin\": \"csv-zstd\","
              " \"shards\": [\n      {\"rank\": 0, \"path\": \"" + d + "/s0.csv.zst\"},\n"
              "      {\"rank\": 1, \"path\": \"" + d + "/s1.csv.lz4\"}]}\n  ]\n}\n");
    dside side;
    std::string err;
    ASSERT_EQ(LoadSide(&side, d + "/m.manifest.json", &err), 0) << err;
    EXPECT_EQ(side.input_count, 2u);
    EXPECT_TRUE(side.has_started);
    EXPECT_EQ(side.started, 1796000000);
    EXPECT_EQ(Paths(&side), (std::vector<std::string>{"r", "r/q\"\\"}));
    dside_free(&side);
    WriteFile(d + "/bad.manifest.json", "{\"format\": \"pwalk-shards\", \"complete\": false}\n");
    EXPECT_EQ(LoadSide(&side, d + "/bad.manifest.json", &err), DLOAD_BAD_INPUT);
    EXPECT_EQ(err, d + "/bad.manifest.json: the manifest does not say \"complete\": true");
    dside_free(&side);
}

// ---- read-ahead merge (pipe.c) ---------------------------------------------------

TEST(Pipe, ThreadedMergeGivesEveryRecordInOrderAndStopsEarly)
{
    std::string d = TmpDir("pipe");
    dsort s;
    ASSERT_EQ(dsort_init(&s, CmpU64, d.c_str()), 0);
    dsort_buf a;
    ASSERT_EQ(dsort_buf_init(&a, &s, 512 * 1024), 0);
    AddRecords(&a, 1, 30000, 17);
    char err[256];
    // one record bigger than a batch (1 MiB): the batch grows for it
    std::vector<char> big(3 << 20, 'z');
    uint64_t bigkey = 2000000; // above every AddRecords key: the last record
    memcpy(big.data(), &bigkey, 8);
    char *p = (char *)dsort_buf_reserve(&a, big.size(), err, sizeof err);
    ASSERT_NE(p, nullptr) << err;
    memcpy(p, big.data(), big.size());
    dsort_buf_commit(&a, big.size());
    ASSERT_EQ(dsort_buf_finish(&a, 1, err, sizeof err), 0) << err;
    dpipe *pp = dpipe_open(&s, 1, err, sizeof err);
    ASSERT_NE(pp, nullptr) << err;
    uint64_t prev = 0, n = 0;
    bool saw_big = false;
    while (const void *r = dpipe_next(pp, err, sizeof err)) {
        uint64_t key;
        memcpy(&key, r, 8);
        ASSERT_GE(key, prev);
        if (key == bigkey && ((const char *)r)[big.size() - 1] == 'z')
            saw_big = true;
        prev = key;
        n++;
    }
    EXPECT_FALSE(dpipe_failed(pp));
    EXPECT_EQ(n, 30001u);
    EXPECT_TRUE(saw_big);
    dpipe_close(pp);
    pp = dpipe_open(&s, 1, err, sizeof err); // closed after a few records
    ASSERT_NE(pp, nullptr);
    for (int i = 0; i < 10; i++)
        ASSERT_NE(dpipe_next(pp, err, sizeof err), nullptr);
    dpipe_close(pp);
    dsort_free(&s);
}
