// The bazel-built csv.so, loaded the way the engine loads it and driven
// through its whole lifecycle by the fake host (tests/harness:fakehost): two
// workers consuming concurrently, then the report checked row by row.
#include <gtest/gtest.h>
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "common/csvrow.h"
#include "pwalk/plugin.h"
#include "tests/harness/fakehost.h"
#include "tests/harness/files.h"

namespace {

using harness::ListDir;
using harness::ReadFile;

// The report's lines, each with its newline (the last one must have one).
std::vector<std::string> Lines(const std::string &s) {
    std::vector<std::string> v;
    size_t start = 0;
    for (size_t i = 0; i < s.size(); i++)
        if (s[i] == '\n') {
            v.push_back(s.substr(start, i + 1 - start));
            start = i + 1;
        }
    EXPECT_EQ(start, s.size()) << "last line has no newline";
    return v;
}

// One worker's entries, laid out as the engine lays them out: contiguous,
// with a stride of struct_size (larger than ours when `pad` is set, as a
// newer engine's would be), so the plugin must step with PWALK_ENTRY_AT.
class Batch {
  public:
    explicit Batch(size_t pad) : stride_(sizeof(pwalk_entry) + pad) {}
    void Add(const std::string &path, size_t name_offset, uint32_t mode, uint64_t ino) {
        paths_.push_back(path);
        pwalk_entry e{};
        e.struct_size = (uint32_t)stride_;
        e.path_len = (uint32_t)path.size();
        e.name_offset = (uint32_t)name_offset;
        e.parent_fd = -1;
        e.self_fd = -1;
        e.depth = (int32_t)std::count(path.begin(), path.end(), '/') - 1;
        e.mode = mode;
        e.uid = 1000;
        e.gid = 100;
        e.ino = ino;
        e.parent_ino = 2;
        e.dev = 65024;
        e.nlink = 1;
        e.size = (int64_t)(ino % 5000);
        e.blocks = 8;
        e.atime_sec = e.mtime_sec = e.ctime_sec = 1795556856;
        e.fcount = (mode & 0170000) == 0040000 ? 3 : -1;
        e.dirsum = 0;
        entries_.push_back(e);
    }
    // Pointers into paths_ are taken only once all entries are added.
    const pwalk_entry *Array(size_t first) {
        bytes_.assign((entries_.size() - first) * stride_, '\xa5');
        for (size_t i = first; i < entries_.size(); i++) {
            pwalk_entry e = entries_[i];
            e.path = paths_[i].c_str();
            e.name = e.path + e.name_offset;
            memcpy(&bytes_[(i - first) * stride_], &e, sizeof e);
        }
        return reinterpret_cast<const pwalk_entry *>(bytes_.data());
    }
    size_t size() const { return entries_.size(); }
    // The row csvrow itself formats for entry i (the plugin's own copy of
    // csvrow must agree with it).
    std::string Row(size_t i, int mode) const {
        pwalk_entry e = entries_[i];
        e.struct_size = sizeof e;
        e.path = paths_[i].c_str();
        e.name = e.path + e.name_offset;
        std::string out(csvrow_max_len(&e), '\0');
        int dropped = 0;
        out.resize(csvrow_format(&out[0], &e, mode, &dropped));
        return out;
    }

  private:
    size_t stride_;
    std::deque<std::string> paths_;
    std::vector<pwalk_entry> entries_;
    std::vector<char> bytes_;
};

class CsvPluginTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const char *srcdir = getenv("TEST_SRCDIR");
        ASSERT_NE(srcdir, nullptr) << "run under bazel test";
        std::string so = std::string(srcdir) + "/pwalk/plugins/csv/csv.so";
        handle_ = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
        ASSERT_NE(handle_, nullptr) << dlerror();
        auto entry = reinterpret_cast<pwalk_plugin_entry_fn>(
            dlsym(handle_, PWALK_PLUGIN_ENTRY_SYMBOL));
        ASSERT_NE(entry, nullptr) << dlerror();
        plugin_ = entry();
        ASSERT_NE(plugin_, nullptr);
        dir_ = harness::MakeTempDir("csvso", "/tmp", 0700);
        ctx_.sink_name = "inventory";
        opts_.strings["path"] = dir_ + "/scan.csv";
        opts_.bools["header"] = 1;
        opts_.strings["escape"] = "lossless";
        opts_.ints["buffer_kib"] = 1024;
    }
    void TearDown() override {
        harness::RemoveTree(dir_);
        if (handle_) dlclose(handle_);
    }

    // create .. thread_close for two workers, each consuming its batch in
    // slices of `slice` entries on its own thread.  finish/destroy are the
    // caller's, so it can look at the directory in between.
    void CreateAndConsume(Batch *w0, Batch *w1, size_t slice) {
        ASSERT_EQ(plugin_->create(&host_, &ctx_, opts_.get(), &instance_), PWALK_OK)
            << ctx_.error();
        void *ts[2] = {nullptr, nullptr};
        ASSERT_EQ(plugin_->thread_open(instance_, 0, &ts[0]), PWALK_OK);
        ASSERT_EQ(plugin_->thread_open(instance_, 1, &ts[1]), PWALK_OK);
        Batch *batches[2] = {w0, w1};
        int rcs[2] = {PWALK_OK, PWALK_OK};
        std::vector<std::thread> threads;
        for (int w = 0; w < 2; w++) {
            threads.emplace_back([&, w] {
                Batch *b = batches[w];
                for (size_t first = 0; first < b->size() && rcs[w] == PWALK_OK;
                     first += slice) {
                    size_t n = std::min(slice, b->size() - first);
                    // Array() reuses one buffer: the entries stay valid
                    // for this call only, as the ABI promises no more
                    const pwalk_entry *a = b->Array(first);
                    rcs[w] = plugin_->consume(instance_, ts[w], a, n);
                }
            });
        }
        for (auto &t : threads) t.join();
        EXPECT_EQ(rcs[0], PWALK_OK);
        EXPECT_EQ(rcs[1], PWALK_OK);
        ASSERT_EQ(plugin_->thread_close(instance_, ts[0]), PWALK_OK);
        ASSERT_EQ(plugin_->thread_close(instance_, ts[1]), PWALK_OK);
    }

    void Destroy() {
        plugin_->destroy(instance_);
        instance_ = nullptr;
    }

    // Every row of each worker appears once, whole, and in that worker's
    // order; the header (if any) is first.
    void ExpectRows(const std::string &content, bool header, const Batch &w0, const Batch &w1,
                    int mode) {
        std::vector<std::string> lines = Lines(content);
        size_t first = 0;
        if (header) {
            ASSERT_FALSE(lines.empty());
            EXPECT_EQ(lines[0], std::string(csvrow_header, csvrow_header_len));
            first = 1;
        }
        ASSERT_EQ(lines.size() - first, w0.size() + w1.size());
        std::map<std::string, size_t> where;
        for (size_t i = first; i < lines.size(); i++) {
            ASSERT_TRUE(where.emplace(lines[i], i).second) << "duplicate line " << lines[i];
        }
        for (const Batch *b : {&w0, &w1}) {
            for (size_t i = 0, prev = 0; i < b->size(); i++) {
                auto it = where.find(b->Row(i, mode));
                ASSERT_NE(it, where.end()) << "missing row " << b->Row(i, mode);
                if (i > 0) {
                    ASSERT_GT(it->second, prev) << "a worker's rows out of order";
                }
                prev = it->second;
            }
        }
    }

    void *handle_ = nullptr;
    const pwalk_plugin *plugin_ = nullptr;
    std::string dir_;
    pwalk_host host_ = harness::FakeHostTable(2);
    pwalk_host_ctx ctx_;
    harness::FakeOptions opts_;
    void *instance_ = nullptr;
};

// Names that exercise the escaping inside a real run.
void Fill(Batch *b, int worker, int count) {
    static const char *const kNames[] = {
        "plain.txt", "a\"b\n.txt", "caf\xc3\xa9.csv", "bad\xff\xfe", "tab\there", "back\\slash",
        ".bashrc",   "a.tar.gz",   "comma,name",      "sub",        "x.",       "\xf0\x9f\x98\x80",
    };
    for (int i = 0; i < count; i++) {
        std::string name = kNames[i % 12];
        std::string dir = "root/w" + std::to_string(worker) + "/d" + std::to_string(i / 50);
        uint32_t mode = name == "sub" ? 040755 : (i % 7 == 0 ? 0120777 : 0100644);
        b->Add(dir + "/" + name, dir.size() + 1, mode,
               (uint64_t)worker * 1000000 + (uint64_t)i + 100);
    }
}

TEST_F(CsvPluginTest, DescribesItself) {
    EXPECT_EQ(plugin_->struct_size, sizeof(pwalk_plugin));
    EXPECT_EQ(plugin_->abi_major, (uint32_t)PWALK_ABI_MAJOR);
    EXPECT_EQ(plugin_->abi_minor, (uint32_t)PWALK_ABI_MINOR);
    EXPECT_EQ(std::string(plugin_->name), "csv");
    EXPECT_EQ(plugin_->threading, PWALK_THREADING_PER_WORKER);
    EXPECT_EQ(plugin_->flags & PWALK_PLUGIN_MUTATES_FS, 0u);
    EXPECT_NE(plugin_->create, nullptr);
    EXPECT_NE(plugin_->consume, nullptr);
    struct Want {
        const char *name;
        uint32_t type;
        const char *def;
        const char *choices;
    } want[] = {
        {"path", PWALK_OPT_STRING, "scan.csv", nullptr},
        {"mode", PWALK_OPT_STRING, nullptr, nullptr},  // unset: 0600 as root, else umask
        {"header", PWALK_OPT_BOOL, "true", nullptr},
        {"escape", PWALK_OPT_ENUM, "lossless", "lossless|dey"},
        {"buffer_kib", PWALK_OPT_INT, "1024", "4..65536"},
    };
    ASSERT_EQ(plugin_->option_count, 5u);
    for (size_t i = 0; i < 5; i++) {
        const pwalk_option_spec &o = plugin_->options[i];
        SCOPED_TRACE(want[i].name);
        EXPECT_STREQ(o.name, want[i].name);
        EXPECT_EQ(o.type, want[i].type);
        EXPECT_STREQ(o.default_value, want[i].def);
        if (want[i].choices)
            EXPECT_STREQ(o.choices, want[i].choices);
        else
            EXPECT_EQ(o.choices, nullptr);
        ASSERT_NE(o.help, nullptr);
        EXPECT_GT(strlen(o.help), 10u);
    }
}

TEST_F(CsvPluginTest, ExportsOnlyItsEntryPoint) {
    // csvrow, outfile and csvsink are linked into every csv* plugin; were
    // they exported, one plugin's copy could interpose another's
    // (plugins/plugin.lds keeps them local)
    for (const char *sym : {"csvrow_format", "csvrow_escape", "csvrow_header", "outfile_open",
                            "outfile_write", "outfile_commit", "csvsink_create",
                            "csvsink_consume"})
        EXPECT_EQ(dlsym(handle_, sym), nullptr) << sym;
}

TEST_F(CsvPluginTest, TheSpecsRowsByteForByte) {
    // the worked example of plugins/csv/FORMAT.md, through the real plugin
    std::string fpath = "root/file.txt", rpath = "root";
    pwalk_entry f{}, r{};
    f.struct_size = r.struct_size = sizeof(pwalk_entry);
    f.path = fpath.c_str();
    f.path_len = (uint32_t)fpath.size();
    f.name_offset = 5;
    f.name = f.path + 5;
    f.parent_fd = f.self_fd = r.parent_fd = r.self_fd = -1;
    f.mode = 0100644;
    f.ino = 10969834;
    f.parent_ino = 10969827;
    f.depth = 0;
    f.size = 6;
    f.dev = r.dev = 65024;
    f.blocks = r.blocks = 8;
    f.nlink = 2;
    f.atime_sec = f.mtime_sec = f.ctime_sec = 1795556856;
    f.fcount = -1;
    r.flags = PWALK_ENTRY_ROOT;
    r.path = rpath.c_str();
    r.path_len = 4;
    r.name = r.path;
    r.mode = 040755;
    r.ino = 10969827;
    r.depth = -1;
    r.size = 4096;
    r.nlink = 5;
    r.atime_sec = r.mtime_sec = r.ctime_sec = 1795556856;
    r.fcount = 12;
    r.dirsum = 12316;
    pwalk_entry both[2] = {f, r};  // a directory's row after its entries
    ASSERT_EQ(plugin_->create(&host_, &ctx_, opts_.get(), &instance_), PWALK_OK);
    void *ts = nullptr;
    ASSERT_EQ(plugin_->thread_open(instance_, 0, &ts), PWALK_OK);
    ASSERT_EQ(plugin_->consume(instance_, ts, both, 2), PWALK_OK);
    ASSERT_EQ(plugin_->thread_close(instance_, ts), PWALK_OK);
    ASSERT_EQ(plugin_->finish(instance_, 0), PWALK_OK);
    Destroy();
    EXPECT_EQ(ReadFile(dir_ + "/scan.csv"),
              "inode,parent-inode,directory-depth,\"filename\",\"fileExtension\",UID,GID,"
              "st_size,st_dev,st_blocks,st_nlink,\"st_mode\",st_atime,st_mtime,st_ctime,"
              "pw_fcount,pw_dirsum\n"
              "10969834,10969827,0,\"root/file.txt\",\"txt\",0,0,6,65024,8,2,\"0100644\","
              "1795556856,1795556856,1795556856,-1,0\n"
              "10969827,0,-1,\"root\",\"\",0,0,4096,65024,8,5,\"0040755\",1795556856,"
              "1795556856,1795556856,12,12316\n");
    EXPECT_TRUE(ctx_.errors.empty());
    EXPECT_TRUE(ctx_.logs.empty());
}

TEST_F(CsvPluginTest, TwoWorkersWriteEveryRowWhole) {
    // 4 KiB buffers: hundreds of flushes race for the file
    opts_.ints["buffer_kib"] = 4;
    Batch w0(0), w1(24);  // worker 1's engine is "newer": a larger stride
    Fill(&w0, 0, 3000);
    Fill(&w1, 1, 3000);
    CreateAndConsume(&w0, &w1, 37);
    // nothing under the final name until the scan is committed
    std::vector<std::string> names = ListDir(dir_);
    ASSERT_EQ(names.size(), 1u);
    EXPECT_EQ(names[0].rfind(".scan.csv.pwalk-tmp-", 0), 0u) << names[0];
    ASSERT_EQ(plugin_->finish(instance_, 0), PWALK_OK);
    Destroy();
    EXPECT_EQ(ListDir(dir_), std::vector<std::string>{"scan.csv"});
    ExpectRows(ReadFile(dir_ + "/scan.csv"), true, w0, w1, CSVROW_ESCAPE_LOSSLESS);
    EXPECT_TRUE(ctx_.errors.empty());
    EXPECT_TRUE(ctx_.logs.empty());  // lossless drops nothing
    // and the escaped names are exactly the spec's
    std::string all = ReadFile(dir_ + "/scan.csv");
    EXPECT_NE(all.find(",\"root/w0/d0/a\"\"b\\x0a.txt\",\"txt\","), std::string::npos);
    EXPECT_NE(all.find(",\"root/w0/d0/bad\\xff\\xfe\",\"\","), std::string::npos);
    EXPECT_NE(all.find(",\"root/w1/d0/sub\",\"\",1000,100,"), std::string::npos);
}

TEST_F(CsvPluginTest, NoHeaderAndDefaultBuffer) {
    opts_.bools["header"] = 0;
    opts_.ints.erase("buffer_kib");  // the plugin's own default applies
    Batch w0(0), w1(0);
    Fill(&w0, 0, 500);
    Fill(&w1, 1, 700);
    CreateAndConsume(&w0, &w1, 100);
    ASSERT_EQ(plugin_->finish(instance_, 0), PWALK_OK);
    Destroy();
    ExpectRows(ReadFile(dir_ + "/scan.csv"), false, w0, w1, CSVROW_ESCAPE_LOSSLESS);
}

TEST_F(CsvPluginTest, DeyDropsControlBytesAndSaysWhere) {
    opts_.strings["escape"] = "dey";
    Batch w0(0), w1(0);
    Fill(&w0, 0, 12);  // one of each name: two have control bytes
    Fill(&w1, 1, 1);
    CreateAndConsume(&w0, &w1, 5);
    ASSERT_EQ(plugin_->finish(instance_, 0), PWALK_OK);
    Destroy();
    std::string all = ReadFile(dir_ + "/scan.csv");
    ExpectRows(all, true, w0, w1, CSVROW_ESCAPE_DEY);
    EXPECT_NE(all.find(",\"root/w0/d0/a\"\"b.txt\",\"txt\","), std::string::npos);
    EXPECT_NE(all.find(",\"root/w0/d0/tabhere\",\"\","), std::string::npos);
    EXPECT_NE(all.find(",\"root/w0/d0/bad\xff\xfe\",\"\","), std::string::npos);  // raw
    std::vector<std::string> logs = ctx_.logs;
    std::sort(logs.begin(), logs.end());
    ASSERT_EQ(logs.size(), 2u);
    EXPECT_EQ(logs[0], "control bytes removed from name: root/w0/d0/a\"\"b\\x0a.txt");
    EXPECT_EQ(logs[1], "control bytes removed from name: root/w0/d0/tab\\x09here");
}

// Many such names: the first 20 by name, then one line with the count.
TEST_F(CsvPluginTest, DeyNamesTheFirstDroppedAndCountsTheRest) {
    opts_.strings["escape"] = "dey";
    Batch w0(0), w1(0);
    Fill(&w0, 0, 240);  // 2 names in 12 have control bytes: 40
    Fill(&w1, 1, 12);   // and 2 more
    CreateAndConsume(&w0, &w1, 50);
    ASSERT_EQ(plugin_->finish(instance_, 0), PWALK_OK);
    Destroy();
    ExpectRows(ReadFile(dir_ + "/scan.csv"), true, w0, w1, CSVROW_ESCAPE_DEY);
    size_t named = 0;
    for (const auto &l : ctx_.logs) named += l.rfind("control bytes removed from name: ", 0) == 0;
    EXPECT_EQ(named, 20u);
    ASSERT_EQ(ctx_.logs.size(), 21u);
    EXPECT_EQ(ctx_.logs.back(), "control bytes removed from 42 names in all (the first 20 shown)");
}

TEST_F(CsvPluginTest, ARowLongerThanTheBufferIsWrittenAlone) {
    opts_.ints["buffer_kib"] = 4;
    Batch w0(0), w1(0);
    Fill(&w0, 0, 100);
    // 20000 bytes of path, ~68000 once escaped: far over 4 KiB
    std::string deep = "root/w1";
    while (deep.size() < 20000) deep += "/\x01\x02\x03\x04";
    w1.Add("root/w1/small", 8, 0100644, 7);
    w1.Add(deep + "/leaf.dat", deep.size() + 1, 0100644, 8);
    w1.Add("root/w1/after", 8, 0100644, 9);
    CreateAndConsume(&w0, &w1, 3);
    ASSERT_EQ(plugin_->finish(instance_, 0), PWALK_OK);
    Destroy();
    std::string all = ReadFile(dir_ + "/scan.csv");
    ExpectRows(all, true, w0, w1, CSVROW_ESCAPE_LOSSLESS);
    EXPECT_GT(all.size(), 60000u);
}

TEST_F(CsvPluginTest, AFailedScanPublishesNothing) {
    Batch w0(0), w1(0);
    Fill(&w0, 0, 200);
    Fill(&w1, 1, 200);
    CreateAndConsume(&w0, &w1, 10);
    ASSERT_EQ(plugin_->finish(instance_, 2), PWALK_OK);
    Destroy();
    EXPECT_TRUE(ListDir(dir_).empty());
}

// ABI 1.2: the sink tells the engine which file it writes (its temporary,
// published by the rename), so a report inside the scanned tree is left out
// of the walk; with a host table that ends before own_output (1.1's) it is
// not called.
TEST_F(CsvPluginTest, TellsTheEngineItsOutputFile) {
    Batch w0(0), w1(0);
    Fill(&w0, 0, 5);
    Fill(&w1, 1, 5);
    CreateAndConsume(&w0, &w1, 5);
    ASSERT_EQ(plugin_->prepare(instance_), PWALK_OK);
    ASSERT_EQ(plugin_->finish(instance_, 0), PWALK_OK);
    Destroy();
    struct stat st;
    ASSERT_EQ(stat((dir_ + "/scan.csv").c_str(), &st), 0);
    ASSERT_EQ(ctx_.own.size(), 1u);
    EXPECT_EQ(ctx_.own[0], std::make_pair(st.st_dev, st.st_ino));

    ctx_.own.clear();
    harness::EndTableAt(&host_, 1);  // a 1.1 engine
    CreateAndConsume(&w0, &w1, 5);
    ASSERT_EQ(plugin_->prepare(instance_), PWALK_OK);
    ASSERT_EQ(plugin_->finish(instance_, 0), PWALK_OK);
    Destroy();
    EXPECT_TRUE(ctx_.own.empty());
    EXPECT_EQ(stat((dir_ + "/scan.csv").c_str(), &st), 0);
}

TEST_F(CsvPluginTest, DestroyWithoutFinishRemovesTheTemporary) {
    Batch w0(0), w1(0);
    Fill(&w0, 0, 20);
    Fill(&w1, 1, 20);
    CreateAndConsume(&w0, &w1, 10);
    Destroy();  // e.g. another sink failed to create: finish never ran
    EXPECT_TRUE(ListDir(dir_).empty());
}

TEST_F(CsvPluginTest, AnUncreatableFileIsAnIoErrorNamingIt) {
    std::string path = dir_ + "/missing/scan.csv";
    opts_.strings["path"] = path;
    EXPECT_EQ(plugin_->create(&host_, &ctx_, opts_.get(), &instance_), PWALK_ERR_IO);
    ASSERT_EQ(ctx_.errors.size(), 1u);
    EXPECT_EQ(ctx_.errors[0], "cannot create '" + path + "': No such file or directory");
    Destroy();  // destroy always runs, also after a failed create
    EXPECT_TRUE(ListDir(dir_).empty());
}

TEST_F(CsvPluginTest, AnUnknownEscapeIsAConfigError) {
    opts_.strings["escape"] = "raw";
    EXPECT_EQ(plugin_->create(&host_, &ctx_, opts_.get(), &instance_), PWALK_ERR_CONFIG);
    ASSERT_EQ(ctx_.errors.size(), 1u);
    EXPECT_NE(ctx_.errors[0].find("raw"), std::string::npos) << ctx_.errors[0];
    Destroy();
    EXPECT_TRUE(ListDir(dir_).empty());
}

TEST_F(CsvPluginTest, ACommitThatFailsIsAnIoError) {
    std::string sub = dir_ + "/sub";
    ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
    opts_.strings["path"] = sub + "/scan.csv";
    Batch w0(0), w1(0);
    Fill(&w0, 0, 10);
    Fill(&w1, 1, 10);
    CreateAndConsume(&w0, &w1, 4);
    ASSERT_EQ(system(("rm -rf " + sub).c_str()), 0);
    EXPECT_EQ(plugin_->finish(instance_, 0), PWALK_ERR_IO);
    ASSERT_EQ(ctx_.errors.size(), 1u);
    EXPECT_NE(ctx_.errors[0].find("'" + sub + "/scan.csv'"), std::string::npos)
        << ctx_.errors[0];
    Destroy();
    EXPECT_TRUE(ListDir(dir_).empty());
}

TEST_F(CsvPluginTest, DashWritesToStdout) {
    opts_.strings["path"] = "-";
    std::string cap = dir_ + "/captured";
    int fd = open(cap.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    ASSERT_EQ(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
    close(fd);
    Batch w0(0), w1(0);
    Fill(&w0, 0, 300);
    Fill(&w1, 1, 300);
    CreateAndConsume(&w0, &w1, 25);
    int rc = plugin_->finish(instance_, 0);
    Destroy();
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    EXPECT_EQ(rc, PWALK_OK);
    EXPECT_EQ(ListDir(dir_), std::vector<std::string>{"captured"});
    ExpectRows(ReadFile(cap), true, w0, w1, CSVROW_ESCAPE_LOSSLESS);
}

// Plain CSV named .zst/.gz/.lz4 is what no reader can read: refused, naming
// the right name, before anything is created.  "-" and other names pass.
TEST_F(CsvPluginTest, ACompressionSuffixOnPlainCsvIsRefused) {
    for (const char *suffix : {".zst", ".gz", ".lz4", ".ZST", ".bz2"}) {
        SCOPED_TRACE(suffix);
        std::string given = dir_ + "/scan.csv" + suffix;
        opts_.strings["path"] = given;
        ctx_.errors.clear();
        void *inst = nullptr;
        EXPECT_EQ(plugin_->create(&host_, &ctx_, opts_.get(), &inst), PWALK_ERR_CONFIG);
        plugin_->destroy(inst);
        ASSERT_EQ(ctx_.errors.size(), 1u);
        EXPECT_NE(ctx_.errors[0].find("path '" + given + "' ends in '"), std::string::npos);
        EXPECT_NE(ctx_.errors[0].find("', but plugin csv writes plain CSV: name it '" + dir_ +
                                      "/scan.csv', or use a compressing plugin"),
                  std::string::npos)
            << ctx_.errors[0];
        EXPECT_TRUE(ListDir(dir_).empty());
    }
    // a hidden file named like a suffix is no compressed name
    opts_.strings["path"] = dir_ + "/.gz";
    Batch w0(0), w1(0);
    CreateAndConsume(&w0, &w1, 1);
    ASSERT_EQ(plugin_->finish(instance_, 0), PWALK_OK);
    Destroy();
    EXPECT_EQ(ListDir(dir_), std::vector<std::string>{".gz"});
}

// ---- the compressing plugins ---------------------------------------------------

struct Codec {
    const char *plugin;  // csv-zstd
    const char *suffix;  // .zst
    const char *tool;    // /usr/bin/zstd
};

std::string CodecName(const ::testing::TestParamInfo<Codec> &i) {
    return std::string(i.param.plugin).substr(4);
}

// Output of `cmd` (stdout), and its exit status.
std::string RunTool(const std::string &cmd, int *status) {
    std::string out;
    FILE *p = popen(cmd.c_str(), "r");
    if (!p) {
        *status = -1;
        return out;
    }
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

class CompressedSinkTest : public ::testing::TestWithParam<Codec> {
  protected:
    void SetUp() override {
        const char *srcdir = getenv("TEST_SRCDIR");
        ASSERT_NE(srcdir, nullptr) << "run under bazel test";
        const std::string name = GetParam().plugin;
        std::string so = std::string(srcdir) + "/pwalk/plugins/" + name + "/" + name + ".so";
        handle_ = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
        ASSERT_NE(handle_, nullptr) << dlerror();
        auto entry = reinterpret_cast<pwalk_plugin_entry_fn>(
            dlsym(handle_, PWALK_PLUGIN_ENTRY_SYMBOL));
        ASSERT_NE(entry, nullptr) << dlerror();
        plugin_ = entry();
        dir_ = harness::MakeTempDir("csvz", "/tmp", 0700);
        ctx_.sink_name = "inventory";
        opts_.bools["header"] = 0;
        opts_.strings["escape"] = "lossless";
        opts_.ints["buffer_kib"] = 1024;
        opts_.ints["level"] = 1;
        opts_.ints["workers"] = 0;
    }
    void TearDown() override {
        harness::RemoveTree(dir_);
        if (handle_) dlclose(handle_);
    }
    // The whole lifecycle with `workers` workers that get no rows at all.
    void RunEmpty(int workers, bool prepare) {
        void *inst = nullptr;
        ASSERT_EQ(plugin_->create(&host_, &ctx_, opts_.get(), &inst), PWALK_OK)
            << ctx_.error();
        std::vector<void *> ts(workers);
        for (int w = 0; w < workers; w++)
            ASSERT_EQ(plugin_->thread_open(inst, (uint32_t)w, &ts[w]), PWALK_OK);
        for (int w = 0; w < workers; w++)
            ASSERT_EQ(plugin_->thread_close(inst, ts[w]), PWALK_OK);
        if (prepare) ASSERT_EQ(plugin_->prepare(inst), PWALK_OK);
        ASSERT_EQ(plugin_->finish(inst, 0), PWALK_OK);
        plugin_->destroy(inst);
    }

    void *handle_ = nullptr;
    const pwalk_plugin *plugin_ = nullptr;
    std::string dir_;
    pwalk_host host_ = harness::FakeHostTable(2);
    pwalk_host_ctx ctx_;
    harness::FakeOptions opts_;
};

// No header and no rows (an idle MPI rank's shard) wrote a 0-byte file,
// which zstd -t / gzip -t / lz4 -t and DuckDB ("Input is not a GZIP stream")
// refuse: it must be a valid stream that decompresses to nothing.
TEST_P(CompressedSinkTest, NoRowsIsAValidEmptyStream) {
    const Codec &c = GetParam();
    for (bool prepare : {true, false}) {  // an engine may call finish() alone
        SCOPED_TRACE(prepare ? "prepare+finish" : "finish only");
        std::string out = dir_ + "/scan" + (prepare ? "1" : "2") + ".csv" + c.suffix;
        opts_.strings["path"] = out;
        RunEmpty(2, prepare);
        struct stat st;
        ASSERT_EQ(stat(out.c_str(), &st), 0) << out;
        EXPECT_GT(st.st_size, 0);
        int status = -1;
        RunTool(std::string(c.tool) + " -tq '" + out + "' 2>&1", &status);
        EXPECT_EQ(status, 0) << c.tool << " -t refuses " << out;
        EXPECT_EQ(RunTool(std::string(c.tool) + " -dc '" + out + "'", &status), "");
        EXPECT_EQ(status, 0);
    }
}

// With the header on, the header is the whole stream: no extra frame.
TEST_P(CompressedSinkTest, HeaderOnlyStreamHasJustTheHeader) {
    const Codec &c = GetParam();
    std::string out = dir_ + "/scan.csv" + c.suffix;
    opts_.strings["path"] = out;
    opts_.bools["header"] = 1;
    RunEmpty(1, true);
    int status = -1;
    EXPECT_EQ(RunTool(std::string(c.tool) + " -dc '" + out + "'", &status),
              std::string(csvrow_header, csvrow_header_len));
    EXPECT_EQ(status, 0);
}

// "Swap the compressor by changing one word": with path scan.csv, csv-zstd
// wrote zstd data named scan.csv (DuckDB goes by the name).  A name ending in
// .csv gets the codec's suffix; its own suffix, or no known suffix, is kept;
// another compressor's suffix is refused, naming the right name.
TEST_P(CompressedSinkTest, TheFileNameSaysWhatTheDataIs) {
    const Codec &c = GetParam();
    const std::pair<std::string, std::string> kept[] = {
        {"scan.csv", std::string("scan.csv") + c.suffix},
        {"Upper.CSV", std::string("Upper.CSV") + c.suffix},
        {std::string("own.csv") + c.suffix, std::string("own.csv") + c.suffix},
        {"report.data", "report.data"},
    };
    for (const auto &k : kept) {
        SCOPED_TRACE(k.first);
        opts_.strings["path"] = dir_ + "/" + k.first;
        RunEmpty(1, true);
        EXPECT_EQ(ListDir(dir_), std::vector<std::string>{k.second});
        int status = -1;
        RunTool(std::string(c.tool) + " -tq '" + dir_ + "/" + k.second + "' 2>&1", &status);
        EXPECT_EQ(status, 0);
        ASSERT_EQ(system(("rm -f '" + dir_ + "/" + k.second + "'").c_str()), 0);
    }
    for (const char *other : {".zst", ".gz", ".lz4", ".xz", ".GZ"}) {
        std::string o = other, lower = other;
        for (char &ch : lower) ch = (char)tolower((unsigned char)ch);
        if (lower == c.suffix) continue;  // its own, in any case
        SCOPED_TRACE(o);
        std::string given = dir_ + "/scan.csv" + o;
        opts_.strings["path"] = given;
        ctx_.errors.clear();
        void *inst = nullptr;
        EXPECT_EQ(plugin_->create(&host_, &ctx_, opts_.get(), &inst), PWALK_ERR_CONFIG);
        plugin_->destroy(inst);
        ASSERT_EQ(ctx_.errors.size(), 1u);
        EXPECT_EQ(ctx_.errors[0], "path '" + given + "' ends in '" + lower +
                                      "', but this sink writes " +
                                      std::string(c.plugin).substr(4) + " data: name it '" +
                                      dir_ + "/scan.csv" + c.suffix +
                                      "' (a name ending in .csv gets '" + c.suffix + "' added)");
        EXPECT_TRUE(ListDir(dir_).empty());
    }
}

INSTANTIATE_TEST_SUITE_P(Codecs, CompressedSinkTest,
                         ::testing::Values(Codec{"csv-zstd", ".zst", "/usr/bin/zstd"},
                                           Codec{"csv-gzip", ".gz", "/usr/bin/gzip"},
                                           Codec{"csv-lz4", ".lz4", "/usr/bin/lz4"}),
                         CodecName);

// ---- checkpoint and resume (ABI 1.4, issue 19) -------------------------------

struct Kind {
    const char *plugin;  // csv, csv-zstd, ...
    const char *suffix;  // "" for plain CSV
    const char *tool;    // decoder; nullptr: the file is the CSV
};

std::string KindName(const ::testing::TestParamInfo<Kind> &i) {
    std::string n = i.param.plugin;
    return n == "csv" ? "plain" : n.substr(4);
}

// Each csv* plugin: rows, checkpoint, more rows that a crash loses, resume
// from the saved state in another instance (another process), more rows,
// publish: exactly the rows before the checkpoint and after the resume.
class CsvCheckpointTest : public ::testing::TestWithParam<Kind> {
  protected:
    void SetUp() override {
        const char *srcdir = getenv("TEST_SRCDIR");
        ASSERT_NE(srcdir, nullptr) << "run under bazel test";
        const std::string name = GetParam().plugin;
        std::string so = std::string(srcdir) + "/pwalk/plugins/" + name + "/" + name + ".so";
        handle_ = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
        ASSERT_NE(handle_, nullptr) << dlerror();
        auto entry = reinterpret_cast<pwalk_plugin_entry_fn>(
            dlsym(handle_, PWALK_PLUGIN_ENTRY_SYMBOL));
        ASSERT_NE(entry, nullptr) << dlerror();
        plugin_ = entry();
        ASSERT_TRUE(PWALK_STRUCT_HAS(plugin_, pwalk_plugin, checkpoint));
        ASSERT_NE(plugin_->checkpoint, nullptr);
        dir_ = harness::MakeTempDir("csvck", "/tmp", 0700);
        path_ = dir_ + "/scan.csv" + GetParam().suffix;
        opts_.strings["path"] = path_;
        opts_.bools["header"] = 1;
        opts_.strings["escape"] = "lossless";
        opts_.ints["buffer_kib"] = GetParam().tool ? 64 : 4;  // many flushes
        if (GetParam().tool) {
            opts_.ints["level"] = 1;
            opts_.ints["workers"] = 0;
        }
    }
    void TearDown() override {
        harness::RemoveTree(dir_);
        if (handle_) dlclose(handle_);
    }

    // One session of a sink: create (resuming `states`), two workers,
    // consume `rows` each; then `ckpt` checkpoints: 0 none; 1: checkpoint
    // after the rows.  Leaves the instance open with its tstates.
    struct Session {
        pwalk_host_ctx ctx;
        void *inst = nullptr;
        void *ts[2] = {nullptr, nullptr};
    };
    int Open(Session *s, const std::vector<std::string> &states,
             const harness::FakeOptions &opts) {
        s->ctx.sink_name = "inventory";
        s->ctx.resume_states = states;
        int rc = plugin_->create(&host_, &s->ctx, opts.get(), &s->inst);
        if (rc != PWALK_OK) return rc;
        EXPECT_EQ(plugin_->thread_open(s->inst, 0, &s->ts[0]), PWALK_OK);
        EXPECT_EQ(plugin_->thread_open(s->inst, 1, &s->ts[1]), PWALK_OK);
        return PWALK_OK;
    }
    void Consume(Session *s, Batch *w0, Batch *w1) {
        Batch *b[2] = {w0, w1};
        for (int w = 0; w < 2; w++)
            for (size_t first = 0; first < b[w]->size(); first += 50) {
                size_t n = std::min<size_t>(50, b[w]->size() - first);
                ASSERT_EQ(plugin_->consume(s->inst, s->ts[w], b[w]->Array(first), n), PWALK_OK);
            }
    }
    std::string Checkpoint(Session *s) {
        EXPECT_EQ(harness::Checkpoint(plugin_, s->inst, &s->ctx), PWALK_OK) << s->ctx.error();
        EXPECT_EQ(s->ctx.saves_in_checkpoint, 1);
        return s->ctx.saved.empty() ? "" : s->ctx.saved.back();
    }
    void CloseThreads(Session *s) {
        for (void *t : s->ts) ASSERT_EQ(plugin_->thread_close(s->inst, t), PWALK_OK);
    }
    void Finish(Session *s, int status) {
        if (status == 0) {
            ASSERT_EQ(plugin_->prepare(s->inst), PWALK_OK) << s->ctx.error();
        }
        ASSERT_EQ(plugin_->finish(s->inst, status), PWALK_OK) << s->ctx.error();
        plugin_->destroy(s->inst);
        s->inst = nullptr;
    }
    // The decoded content of a published output.
    std::string Decode(const std::string &file) {
        if (!GetParam().tool) return ReadFile(file);
        int status = -1;
        std::string out = RunTool(std::string(GetParam().tool) + " -dc '" + file + "'", &status);
        EXPECT_EQ(status, 0) << GetParam().tool << " refuses " << file;
        return out;
    }
    // The header, then exactly the rows of these batches, in any order.
    void ExpectExactly(const std::string &content, std::vector<const Batch *> batches) {
        std::vector<std::string> got = Lines(content);
        ASSERT_FALSE(got.empty());
        EXPECT_EQ(got[0], std::string(csvrow_header, csvrow_header_len));
        got.erase(got.begin());
        std::vector<std::string> want;
        for (const Batch *b : batches)
            for (size_t i = 0; i < b->size(); i++) want.push_back(b->Row(i, CSVROW_ESCAPE_LOSSLESS));
        std::sort(got.begin(), got.end());
        std::sort(want.begin(), want.end());
        ASSERT_EQ(got.size(), want.size());
        EXPECT_TRUE(got == want) << "rows differ";
    }
    std::vector<std::string> Temporaries() {
        std::vector<std::string> t;
        for (const std::string &n : ListDir(dir_))
            if (n.find(".pwalk-tmp-") != std::string::npos) t.push_back(n);
        return t;
    }
    // The part named by a state: the one temporary in dir_.
    std::string OnlyPart() {
        std::vector<std::string> t = Temporaries();
        EXPECT_EQ(t.size(), 1u) << harness::Join(ListDir(dir_));
        return t.empty() ? "" : t[0];
    }
    off_t Size(const std::string &name) {
        struct stat st;
        return stat((dir_ + "/" + name).c_str(), &st) == 0 ? st.st_size : -1;
    }

    void *handle_ = nullptr;
    const pwalk_plugin *plugin_ = nullptr;
    std::string dir_, path_;
    pwalk_host host_ = harness::FakeHostTable(2);
    harness::FakeOptions opts_;
};

// The first session in a child process that dies (SIGKILL) after rows it
// consumed past the checkpoint reached the file: the state comes back
// through a file, the part stays as the crash left it.
TEST_P(CsvCheckpointTest, ACrashAfterTheCheckpointLosesOnlyWhatCameAfterIt) {
    Batch a0(0), a1(0), lost0(0), lost1(0), c0(0), c1(0);
    Fill(&a0, 0, 2000);
    Fill(&a1, 1, 1500);
    Fill(&lost0, 2, 800);
    Fill(&lost1, 3, 800);
    Fill(&c0, 4, 900);
    Fill(&c1, 5, 1);
    std::string state_file = dir_ + "/state.bin";
    fflush(nullptr);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        Session s;
        if (Open(&s, {}, opts_) != PWALK_OK) _exit(10);
        Consume(&s, &a0, &a1);
        std::string st = Checkpoint(&s);
        if (st.empty() || !harness::WriteFile(state_file, st)) _exit(11);
        Consume(&s, &lost0, &lost1);
        CloseThreads(&s);  // the lost rows are in the file now
        kill(getpid(), SIGKILL);
        _exit(12);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exit " << WEXITSTATUS(status);
    std::string state;
    ASSERT_TRUE(harness::ReadFile(state_file, &state));
    unlink(state_file.c_str());
    std::string part = OnlyPart();
    off_t crashed = Size(part);

    Session r;
    ASSERT_EQ(Open(&r, {state}, opts_), PWALK_OK) << r.ctx.error();
    // the tail past the checkpoint is overwritten and cut at the next sync,
    // not by the resume itself: a resume refused later (another sink's part
    // missing) leaves the part as it was
    EXPECT_EQ(Size(part), crashed) << "untouched until the walk writes";
    EXPECT_EQ(r.ctx.own.size(), 1u) << "the reopened part is left out of the walk";
    Consume(&r, &c0, &c1);
    CloseThreads(&r);
    Finish(&r, 0);
    EXPECT_EQ(ListDir(dir_), std::vector<std::string>{"scan.csv" + std::string(GetParam().suffix)});
    ExpectExactly(Decode(path_), {&a0, &a1, &c0, &c1});
}

// Suspended: checkpoint, thread_close writes nothing more, finish(75)
// keeps the part exactly as described; resumed several times.
TEST_P(CsvCheckpointTest, SuspendAndResumeSeveralTimes) {
    std::deque<Batch> batches;
    for (int i = 0; i < 16; i++) {
        batches.emplace_back(0);
        Fill(&batches.back(), 10 + i, 300 + 97 * i);
    }
    std::vector<std::string> states;
    std::vector<const Batch *> all;
    for (int session = 0; session < 4; session++) {
        SCOPED_TRACE(session);
        Batch *b[4];  // (a deque's elements are not contiguous)
        for (int k = 0; k < 4; k++) b[k] = &batches[4 * session + k];
        Session s;
        ASSERT_EQ(Open(&s, states, opts_), PWALK_OK) << s.ctx.error();
        Consume(&s, b[0], b[1]);
        all.insert(all.end(), {b[0], b[1]});
        if (session == 3) {
            CloseThreads(&s);
            Finish(&s, 0);
            break;
        }
        Checkpoint(&s);  // a periodic one: the walk goes on
        Consume(&s, b[2], b[3]);
        all.insert(all.end(), {b[2], b[3]});
        std::string st = Checkpoint(&s);  // the one before the suspension
        std::string part = OnlyPart();
        off_t at = Size(part);
        CloseThreads(&s);
        EXPECT_EQ(Size(part), at) << "thread_close() wrote after the last checkpoint";
        Finish(&s, PWALK_SUSPENDED);
        EXPECT_EQ(Temporaries(), std::vector<std::string>{part});
        EXPECT_EQ(Size(part), at);
        EXPECT_FALSE(harness::Exists(path_)) << "nothing published while suspended";
        states = {st};
    }
    ExpectExactly(Decode(path_), all);
}

// A pwalk-mpi job resumed with fewer ranks: one sink continues two states;
// the second part's rows follow (its header skipped), and the absorbed part
// is removed once published -- also when the join itself was suspended and
// resumed again (its name travels in the state).
TEST_P(CsvCheckpointTest, TwoStatesAreJoined) {
    for (bool suspend_between : {false, true}) {
        SCOPED_TRACE(suspend_between ? "suspended after the join" : "published");
        Batch r0(0), r1(0), more(0), none(0), last(0);
        Fill(&r0, 20, 700);
        Fill(&r1, 21, 650);
        Fill(&more, 22, 333);
        Fill(&last, 23, 50);
        harness::FakeOptions other = opts_;
        other.strings["path"] = dir_ + "/scan.part-0001.csv" + GetParam().suffix;
        Session a, b;
        ASSERT_EQ(Open(&a, {}, opts_), PWALK_OK);
        ASSERT_EQ(Open(&b, {}, other), PWALK_OK);
        Consume(&a, &r0, &none);
        Consume(&b, &none, &r1);
        std::string sa = Checkpoint(&a), sb = Checkpoint(&b);
        CloseThreads(&a);
        CloseThreads(&b);
        Finish(&a, PWALK_SUSPENDED);
        Finish(&b, PWALK_SUSPENDED);
        ASSERT_EQ(Temporaries().size(), 2u);

        Session j;
        ASSERT_EQ(Open(&j, {sa, sb}, opts_), PWALK_OK) << j.ctx.error();
        Consume(&j, &more, &none);
        std::vector<const Batch *> want = {&r0, &r1, &more};
        if (suspend_between) {
            std::string sj = Checkpoint(&j);
            CloseThreads(&j);
            Finish(&j, PWALK_SUSPENDED);
            ASSERT_EQ(Temporaries().size(), 2u) << "the absorbed part stays until published";
            ASSERT_EQ(Open(&j, {sj}, opts_), PWALK_OK) << j.ctx.error();
            Consume(&j, &last, &none);
            want.push_back(&last);
        }
        CloseThreads(&j);
        Finish(&j, 0);
        EXPECT_EQ(ListDir(dir_), std::vector<std::string>{"scan.csv" + std::string(GetParam().suffix)});
        ExpectExactly(Decode(path_), want);
        unlink(path_.c_str());
    }
}

// Abandoned after a join: the parts go too.
TEST_P(CsvCheckpointTest, AbandonRemovesEveryPart) {
    Batch r0(0), none(0);
    Fill(&r0, 30, 100);
    harness::FakeOptions other = opts_;
    other.strings["path"] = dir_ + "/scan.part-0001.csv" + GetParam().suffix;
    Session a, b, j;
    ASSERT_EQ(Open(&a, {}, opts_), PWALK_OK);
    ASSERT_EQ(Open(&b, {}, other), PWALK_OK);
    Consume(&a, &r0, &none);
    std::string sa = Checkpoint(&a), sb = Checkpoint(&b);
    CloseThreads(&a);
    CloseThreads(&b);
    Finish(&a, PWALK_SUSPENDED);
    Finish(&b, PWALK_SUSPENDED);
    ASSERT_EQ(Open(&j, {sa, sb}, opts_), PWALK_OK) << j.ctx.error();
    CloseThreads(&j);
    Finish(&j, 143);
    EXPECT_TRUE(ListDir(dir_).empty()) << harness::Join(ListDir(dir_));
}

// A part missing or shorter than the state says, or a state that is no
// csv sink's: refused with one line naming the output and the part; the
// part left as it was.
TEST_P(CsvCheckpointTest, BadPartsAndStatesAreRefused) {
    Batch r0(0), none(0);
    Fill(&r0, 40, 400);
    Session a;
    ASSERT_EQ(Open(&a, {}, opts_), PWALK_OK);
    Consume(&a, &r0, &none);
    std::string st = Checkpoint(&a);
    CloseThreads(&a);
    Finish(&a, PWALK_SUSPENDED);
    std::string part = OnlyPart();
    std::string bytes = ReadFile(dir_ + "/" + part);

    // shorter
    ASSERT_EQ(truncate((dir_ + "/" + part).c_str(), (off_t)bytes.size() - 1), 0);
    Session s1;
    EXPECT_EQ(Open(&s1, {st}, opts_), PWALK_ERR_IO);
    EXPECT_EQ(s1.ctx.error(), "cannot resume '" + path_ + "': part '" + part + "' is " +
                                  std::to_string(bytes.size() - 1) + " bytes, the checkpoint has " +
                                  std::to_string(bytes.size()));
    EXPECT_EQ(s1.ctx.errors.size(), 1u);
    Finish(&s1, PWALK_SUSPENDED);
    EXPECT_EQ(ReadFile(dir_ + "/" + part), bytes.substr(0, bytes.size() - 1)) << "untouched";

    // missing
    ASSERT_EQ(unlink((dir_ + "/" + part).c_str()), 0);
    Session s2;
    EXPECT_EQ(Open(&s2, {st}, opts_), PWALK_ERR_IO);
    EXPECT_EQ(s2.ctx.error(),
              "cannot resume '" + path_ + "': part '" + part + "': No such file or directory");
    Finish(&s2, PWALK_SUSPENDED);
    EXPECT_TRUE(ListDir(dir_).empty());

    // not a state of this sink: truncated, another magic
    for (const std::string &bad : {st.substr(0, st.size() - 1), std::string("x") + st.substr(1),
                                   st + "z", std::string()}) {
        Session s3;
        EXPECT_EQ(Open(&s3, {bad}, opts_), PWALK_ERR_CONFIG);
        EXPECT_EQ(s3.ctx.error(), "cannot resume '" + path_ +
                                      "': checkpoint state 1 of 1 is not one of this csv sink "
                                      "(version 1)");
        Finish(&s3, PWALK_SUSPENDED);
    }
    EXPECT_TRUE(ListDir(dir_).empty());
}

// Standard output cannot be continued by another process: the checkpoint
// fails, naming it.
TEST_P(CsvCheckpointTest, StdoutCannotBeCheckpointed) {
    opts_.strings["path"] = "-";
    std::string cap = dir_ + "/captured";
    int fd = open(cap.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    ASSERT_EQ(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
    close(fd);
    Session s;
    ASSERT_EQ(Open(&s, {}, opts_), PWALK_OK);
    int rc = harness::Checkpoint(plugin_, s.inst, &s.ctx);
    CloseThreads(&s);
    Finish(&s, 143);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    EXPECT_EQ(rc, PWALK_ERR_IO);
    EXPECT_EQ(s.ctx.error(),
              "cannot checkpoint '-': standard output cannot be continued by another process");
    EXPECT_TRUE(s.ctx.saved.empty());
}

INSTANTIATE_TEST_SUITE_P(Plugins, CsvCheckpointTest,
                         ::testing::Values(Kind{"csv", "", nullptr},
                                           Kind{"csv-zstd", ".zst", "/usr/bin/zstd"},
                                           Kind{"csv-gzip", ".gz", "/usr/bin/gzip"},
                                           Kind{"csv-lz4", ".lz4", "/usr/bin/lz4"}),
                         KindName);

}  // namespace
