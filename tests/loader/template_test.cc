// The template plugin (plugins/template) driven the way the engine drives a
// sink: loaded and vetted by the loader, options bound by options.c, then
// the whole lifecycle with a stand-in host.
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/harness/fakehost.h"
#include "tests/harness/files.h"

extern "C" {
#include "engine/loader.h"
#include "engine/options.h"
}

namespace {

pwalk_entry Entry(uint32_t mode, int64_t size, uint32_t flags = 0)
{
    pwalk_entry e = {};
    e.struct_size = sizeof e;
    e.flags = flags;
    e.path = "/x";
    e.name = "x";
    e.parent_fd = -1;
    e.self_fd = -1;
    e.mode = mode;
    e.size = size;
    return e;
}

size_t CountFiles(const std::string &dir)
{
    size_t n = 0;
    DIR *d = opendir(dir.c_str());
    if (!d)
        return 0;
    while (struct dirent *e = readdir(d))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

class Template : public ::testing::Test {
  protected:
    void SetUp() override
    {
        std::string path =
            std::string(getenv("TEST_SRCDIR")) + "/pwalk/plugins/template/template.so";
        ASSERT_EQ(loader_open(path.c_str(), nullptr, 0, &lp_, err_, sizeof err_), 0) << err_;
        std::string tmpl = std::string(getenv("TEST_TMPDIR")) + "/tplXXXXXX";
        ASSERT_NE(mkdtemp(&tmpl[0]), nullptr);
        dir_ = tmpl;
        harness::SetOptionGetters(&host_, options_get_string, options_get_bool,
                                  options_get_int, options_get_list_count,
                                  options_get_list_item);
        ctx_.sink_name = "summary";
    }
    void TearDown() override
    {
        options_free(opts_);
        loader_close(&lp_);
    }

    // Bind the given scalar options as a pipeline would.
    int Bind(std::vector<std::pair<std::string, std::string>> kv)
    {
        std::vector<cfg_option> o(kv.size());
        for (size_t i = 0; i < kv.size(); i++) {
            o[i] = cfg_option{};
            o[i].key = &kv[i].first[0];
            o[i].scalar = &kv[i].second[0];
            o[i].mark = {4, 11};
            o[i].key_mark = {4, 5};
        }
        cfg_sink s = {};
        s.name = const_cast<char *>("summary");
        s.plugin = const_cast<char *>("template");
        s.options = o.data();
        s.option_count = o.size();
        options_free(opts_);
        opts_ = nullptr;
        return options_bind(lp_.plugin, &s, "audit.yaml", &opts_, err_, sizeof err_);
    }

    // The lifecycle as the engine runs it: with status 0, prepare() and
    // then finish(0), or finish(non-zero) if prepare() failed; with another
    // status, finish(status) only.  Returns the first failure, else
    // finish's result.  before_finish runs between the walk and the commit.
    int Run(int32_t status, int *create_rc = nullptr,
            const std::function<void()> &before_finish = nullptr)
    {
        const pwalk_plugin *p = lp_.plugin;
        void *inst = nullptr;
        int rc = p->create(&host_, &ctx_, opts_, &inst);
        if (create_rc)
            *create_rc = rc;
        if (rc != PWALK_OK) {
            p->destroy(inst);
            return rc;
        }
        void *ts[2] = {nullptr, nullptr};
        for (uint32_t w = 0; w < 2; w++)
            EXPECT_EQ(p->thread_open(inst, w, &ts[w]), PWALK_OK);
        pwalk_entry a[] = {Entry(S_IFREG | 0644, 100), Entry(S_IFREG | 0600, 2048),
                           Entry(S_IFLNK | 0777, 7)};
        pwalk_entry b[] = {Entry(S_IFDIR | 0755, 4096),
                           Entry(S_IFDIR | 0700, 4096, PWALK_ENTRY_UNREADABLE),
                           Entry(S_IFIFO | 0644, 0)};
        EXPECT_EQ(p->consume(inst, ts[0], a, 3), PWALK_OK);
        EXPECT_EQ(p->consume(inst, ts[1], b, 3), PWALK_OK);
        pwalk_error e = {};
        e.struct_size = sizeof e;
        e.error_number = 13;
        e.path = "/x/y";
        e.operation = "lstat";
        EXPECT_EQ(p->error(inst, ts[1], &e), PWALK_OK);
        for (uint32_t w = 0; w < 2; w++)
            EXPECT_EQ(p->thread_close(inst, ts[w]), PWALK_OK);
        if (before_finish)
            before_finish();
        int prc = status == 0 ? p->prepare(inst) : PWALK_OK;
        rc = p->finish(inst, prc == PWALK_OK ? status : 1);
        p->destroy(inst);
        return prc != PWALK_OK ? prc : rc;
    }

    loader_plugin lp_ = {};
    pwalk_options *opts_ = nullptr;
    pwalk_host host_ = harness::FakeHostTable();
    pwalk_host_ctx ctx_;
    std::string dir_;
    char err_[1024] = {0};
};

TEST_F(Template, DeclaresItself)
{
    EXPECT_STREQ(lp_.plugin->name, "template");
    EXPECT_EQ(lp_.plugin->threading, PWALK_THREADING_PER_WORKER);
    EXPECT_EQ(lp_.plugin->flags & PWALK_PLUGIN_MUTATES_FS, 0u);
    EXPECT_EQ(lp_.plugin->abi_minor, (uint32_t)PWALK_ABI_MINOR);
    ASSERT_TRUE(PWALK_STRUCT_HAS(lp_.plugin, pwalk_plugin, prepare));
    EXPECT_NE(lp_.plugin->prepare, nullptr);
    // its output option is declared one (ABI 1.2), its other option is not
    ASSERT_EQ(lp_.plugin->option_count, 2u);
    EXPECT_STREQ(lp_.plugin->options[0].name, "path");
    EXPECT_TRUE(options_is_output(lp_.plugin, &lp_.plugin->options[0]));
    EXPECT_FALSE(options_is_output(lp_.plugin, &lp_.plugin->options[1]));
}

// prepare() does all the writing (the summary is complete and durable
// under its temporary name, .NAME.pwalk-tmp-XXXXXX); finish(0) only
// renames it; finish(non-zero) after a successful prepare() publishes
// nothing and leaves nothing.
TEST_F(Template, PrepareWritesFinishOnlyRenames)
{
    std::string out = dir_ + "/summary.txt";
    ASSERT_EQ(Bind({{"path", out}}), 0) << err_;
    for (int32_t status : {0, 3}) {
        SCOPED_TRACE(status);
        const pwalk_plugin *p = lp_.plugin;
        void *inst = nullptr;
        ASSERT_EQ(p->create(&host_, &ctx_, opts_, &inst), PWALK_OK) << ctx_.error();
        void *ts = nullptr;
        ASSERT_EQ(p->thread_open(inst, 0, &ts), PWALK_OK);
        pwalk_entry a[] = {Entry(S_IFREG | 0644, 100)};
        ASSERT_EQ(p->consume(inst, ts, a, 1), PWALK_OK);
        ASSERT_EQ(p->thread_close(inst, ts), PWALK_OK);
        ASSERT_EQ(p->prepare(inst), PWALK_OK) << ctx_.error();
        std::vector<std::string> names;
        DIR *d = opendir(dir_.c_str());
        ASSERT_NE(d, nullptr);
        while (struct dirent *e = readdir(d))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                names.push_back(e->d_name);
        closedir(d);
        ASSERT_EQ(names.size(), 1u);
        EXPECT_EQ(names[0].rfind(".summary.txt.pwalk-tmp-", 0), 0u) << names[0];
        EXPECT_EQ(names[0].size(), std::string(".summary.txt.pwalk-tmp-XXXXXX").size());
        std::string text = harness::ReadFile(dir_ + "/" + names[0]);
        EXPECT_NE(text.find("total entries 1, bytes 100\n"), std::string::npos) << text;
        EXPECT_EQ(p->finish(inst, status), PWALK_OK) << ctx_.error();
        p->destroy(inst);
        if (status == 0) {
            EXPECT_EQ(harness::ReadFile(out), text);
            EXPECT_EQ(CountFiles(dir_), 1u);
            ASSERT_EQ(unlink(out.c_str()), 0);
        }
        EXPECT_EQ(CountFiles(dir_), 0u);
        d = opendir(dir_.c_str());
        int hidden = 0;
        while (struct dirent *e = readdir(d))
            hidden += e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
        closedir(d);
        EXPECT_EQ(hidden, 0) << "temporary left behind";
    }
}

// A host that never called prepare() gets an error, not an empty file.
TEST_F(Template, FinishWithoutPrepareIsAnError)
{
    std::string out = dir_ + "/summary.txt";
    ASSERT_EQ(Bind({{"path", out}}), 0) << err_;
    void *inst = nullptr;
    ASSERT_EQ(lp_.plugin->create(&host_, &ctx_, opts_, &inst), PWALK_OK) << ctx_.error();
    EXPECT_EQ(lp_.plugin->finish(inst, 0), PWALK_ERR);
    lp_.plugin->destroy(inst);
    EXPECT_EQ(ctx_.error(), "finish(0) without a successful prepare(): " + out + " not written");
    EXPECT_EQ(CountFiles(dir_), 0u);
}

// The summary's mode: 0600 from a root scan, else 0666 less the umask
// (nothing forced: a site's umask 027 gives 0640).
TEST_F(Template, ModeFollowsTheUmask)
{
    std::string out = dir_ + "/summary.txt";
    ASSERT_EQ(Bind({{"path", out}}), 0) << err_;
    for (mode_t mask : {022, 027, 077}) {
        mode_t old = umask(mask);
        int rc = Run(0);
        umask(old);
        ASSERT_EQ(rc, PWALK_OK) << ctx_.error();
        struct stat st;
        ASSERT_EQ(stat(out.c_str(), &st), 0);
        mode_t want = geteuid() == 0 ? 0600 : (0666 & ~mask);
        EXPECT_EQ(st.st_mode & 07777, want) << std::oct << mask;
        unlink(out.c_str());
    }
}

TEST_F(Template, WritesSummaryAtFinish)
{
    std::string out = dir_ + "/summary.txt";
    ASSERT_EQ(Bind({{"path", out}}), 0) << err_;
    ASSERT_EQ(Run(0), PWALK_OK) << ctx_.error();
    EXPECT_EQ(harness::ReadFile(out), "regular files 2, bytes 2148\n"
                            "directories 2, bytes 8192\n"
                            "symlinks 1, bytes 7\n"
                            "fifos 1, bytes 0\n"
                            "sockets 0, bytes 0\n"
                            "character devices 0, bytes 0\n"
                            "block devices 0, bytes 0\n"
                            "other 0, bytes 0\n"
                            "unreadable directories 1\n"
                            "errors 1\n"
                            "total entries 6, bytes 10347\n");
    EXPECT_EQ(CountFiles(dir_), 1u); // no temporary left behind
    ASSERT_EQ(ctx_.logs.size(), 1u);
    EXPECT_EQ(ctx_.logs[0], "summary written to " + out);
}

// ABI 1.2: the file it writes is the one it told the engine to leave out
// of the walk; with a host table that ends before own_output (1.1's) it
// does not call it and still works.
TEST_F(Template, TellsTheEngineItsOutputFile)
{
    std::string out = dir_ + "/summary.txt";
    ASSERT_EQ(Bind({{"path", out}}), 0) << err_;
    ASSERT_EQ(Run(0), PWALK_OK) << ctx_.error();
    struct stat st;
    ASSERT_EQ(stat(out.c_str(), &st), 0);
    ASSERT_EQ(ctx_.own.size(), 1u);
    EXPECT_EQ(ctx_.own[0], std::make_pair(st.st_dev, st.st_ino));

    ctx_.own.clear();
    harness::EndTableAt(&host_, 1); // a 1.1 table
    ASSERT_EQ(Run(0), PWALK_OK) << ctx_.error();
    EXPECT_TRUE(ctx_.own.empty());
    EXPECT_EQ(stat(out.c_str(), &st), 0);
}

// The summary is created and renamed through the directory opened in
// create(): swapping that directory for a symlink during the scan cannot
// move the rename elsewhere, and finish() fails instead of publishing into
// the old directory.
TEST_F(Template, AReplacedOutputDirectoryIsNotPublishedInto)
{
    std::string sub = dir_ + "/sub", old = dir_ + "/old", other = dir_ + "/other";
    ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(other.c_str(), 0755), 0);
    auto names = [](const std::string &d) {
        std::vector<std::string> v;
        if (DIR *dir = opendir(d.c_str())) {
            while (struct dirent *e = readdir(dir))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                    v.push_back(e->d_name);
            closedir(dir);
        }
        return v;
    };
    std::string out = sub + "/summary.txt";
    ASSERT_EQ(Bind({{"path", out}}), 0) << err_;
    std::vector<std::string> planted;
    EXPECT_EQ(Run(0, nullptr,
                  [&] {
                      // the temporary's name, planted in the other directory
                      planted = names(sub);
                      for (const auto &n : planted)
                          close(open((other + "/" + n).c_str(), O_CREAT | O_WRONLY, 0644));
                      ASSERT_EQ(rename(sub.c_str(), old.c_str()), 0);
                      ASSERT_EQ(symlink(other.c_str(), sub.c_str()), 0);
                  }),
              PWALK_ERR_IO);
    ASSERT_EQ(planted.size(), 1u);
    EXPECT_EQ(ctx_.error(), "cannot publish " + out + ": output directory '" + sub +
                              "' was replaced during the scan");
    EXPECT_EQ(names(other), planted);        // no summary.txt there
    EXPECT_EQ(names(old), std::vector<std::string>{}); // temporary removed through the fd
}

TEST_F(Template, HumanUnits)
{
    std::string out = dir_ + "/summary.txt";
    ASSERT_EQ(Bind({{"path", out}, {"units", "human"}}), 0) << err_;
    ASSERT_EQ(Run(0), PWALK_OK) << ctx_.error();
    std::string text = harness::ReadFile(out);
    EXPECT_NE(text.find("regular files 2, bytes 2.1 KiB\n"), std::string::npos) << text;
    EXPECT_NE(text.find("symlinks 1, bytes 7\n"), std::string::npos) << text;
}

TEST_F(Template, FailedScanPublishesNothing)
{
    std::string out = dir_ + "/summary.txt";
    ASSERT_EQ(Bind({{"path", out}}), 0) << err_;
    ASSERT_EQ(Run(2), PWALK_OK);
    EXPECT_EQ(CountFiles(dir_), 0u);
}

TEST_F(Template, UnwritableDirectoryFailsAtCreate)
{
    std::string out = dir_ + "/missing/summary.txt";
    ASSERT_EQ(Bind({{"path", out}}), 0) << err_;
    int create_rc = 0;
    EXPECT_EQ(Run(0, &create_rc), PWALK_ERR_IO);
    EXPECT_EQ(ctx_.error(),
              "cannot create a temporary file beside " + out + ": No such file or directory");
}

TEST_F(Template, EmptyPathIsAConfigError)
{
    ASSERT_EQ(Bind({{"path", ""}}), 0) << err_;
    EXPECT_EQ(Run(0), PWALK_ERR_CONFIG);
    EXPECT_EQ(ctx_.error(), "option 'path' is empty; use \"-\" for standard output");
}

TEST_F(Template, OptionsAreChecked)
{
    EXPECT_EQ(Bind({{"units", "furlongs"}}), -1);
    EXPECT_STREQ(err_, "audit.yaml:4:11: sink 'summary': option 'units' must be one of "
                       "bytes|human, got 'furlongs'");
    EXPECT_EQ(Bind({{"file", "x"}}), -1);
    EXPECT_STREQ(err_, "audit.yaml:4:5: sink 'summary': unknown option 'file' for plugin "
                       "'template' (known: path, units)");
}

TEST_F(Template, DefaultsToStdout)
{
    ASSERT_EQ(Bind({}), 0) << err_;
    testing::internal::CaptureStdout();
    int rc = Run(0);
    std::string text = testing::internal::GetCapturedStdout();
    ASSERT_EQ(rc, PWALK_OK) << ctx_.error();
    EXPECT_EQ(text.substr(0, 29), "regular files 2, bytes 2148\nd");
}

} // namespace
