// Tests for engine/loader.c: every refusal is asserted by its whole message,
// since the message is the interface an administrator sees.
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/harness/files.h"
#include "tests/harness/process.h"

extern "C" {
#include "engine/loader.h"
}

namespace {

const std::string kV1 = PWALK_PLUGIN_ENTRY_SYMBOL;

std::string Runfile(const std::string &name) { return harness::Runfile("tests/loader/" + name); }

std::string MakeTempDir()
{
    const char *base = getenv("TEST_TMPDIR");
    return harness::MakeTempDir("loader", base && *base ? base : "/tmp", 0700);
}

void CopyFile(const std::string &from, const std::string &to, mode_t mode = 0755)
{
    std::string bytes = harness::ReadFile(from);
    ASSERT_FALSE(bytes.empty()) << from;
    ASSERT_TRUE(harness::WriteFile(to, bytes)) << to;
    ASSERT_EQ(chmod(to.c_str(), mode), 0) << to;
}

std::string RealPath(const std::string &p)
{
    char *r = realpath(p.c_str(), nullptr);
    std::string s = r ? r : "";
    free(r);
    return s;
}

// Each test decides PWALK_PLUGIN_PATH for itself; the environment Bazel
// passes in must not change which plugin is found.
class Loader : public ::testing::Test {
  protected:
    void SetUp() override { unsetenv("PWALK_PLUGIN_PATH"); }
    void TearDown() override
    {
        loader_close(&lp_);
        unsetenv("PWALK_PLUGIN_PATH");
    }

    // Open by name or path; returns the rc and leaves the message in err_.
    int Open(const std::string &name, const std::vector<std::string> &dirs = {})
    {
        std::vector<char *> d;
        for (const auto &s : dirs)
            d.push_back(const_cast<char *>(s.c_str()));
        loader_close(&lp_);
        err_[0] = '\0';
        return loader_open(name.c_str(), d.data(), d.size(), &lp_, err_, sizeof err_);
    }

    int Find(const std::string &name, const std::vector<std::string> &dirs, std::string *path)
    {
        std::vector<char *> d;
        for (const auto &s : dirs)
            d.push_back(const_cast<char *>(s.c_str()));
        char *p = nullptr;
        err_[0] = '\0';
        int rc = loader_find(name.c_str(), d.data(), d.size(), &p, err_, sizeof err_);
        *path = p ? p : "";
        free(p);
        return rc;
    }

    std::string Refusal(const std::string &fixture)
    {
        std::string path = Runfile(fixture);
        EXPECT_EQ(Open(path), -1) << fixture << " was accepted";
        EXPECT_EQ(lp_.handle, nullptr);
        EXPECT_EQ(lp_.plugin, nullptr);
        EXPECT_EQ(lp_.path, nullptr);
        std::string msg = err_;
        EXPECT_EQ(msg.find('\n'), std::string::npos);
        return msg;
    }

    loader_plugin lp_ = {};
    char err_[1024] = {0};
};

// ---- A good plugin --------------------------------------------------------

TEST_F(Loader, GoodPluginLoadsByPath)
{
    std::string path = Runfile("fx_good.so");
    ASSERT_EQ(Open(path), 0) << err_;
    ASSERT_NE(lp_.plugin, nullptr);
    EXPECT_STREQ(lp_.plugin->name, "fx_good");
    EXPECT_EQ(lp_.plugin->abi_major, 1u);
    EXPECT_EQ(lp_.plugin->option_count, 2u);
    EXPECT_EQ(std::string(lp_.path), path);
    EXPECT_NE(lp_.handle, nullptr);
}

TEST_F(Loader, CloseIsSafeTwiceAndOnZeroed)
{
    loader_plugin z = {};
    loader_close(&z);
    loader_close(nullptr);
    ASSERT_EQ(Open(Runfile("fx_good.so")), 0) << err_;
    loader_close(&lp_);
    loader_close(&lp_);
    EXPECT_EQ(lp_.handle, nullptr);
    EXPECT_EQ(lp_.path, nullptr);
}

// ---- Refusals, one per fixture ---------------------------------------------

TEST_F(Loader, OnlyOtherMajorEntry)
{
    std::string p = Runfile("fx_only_v2.so");
    EXPECT_EQ(Refusal("fx_only_v2.so"),
              p + ": built for plugin ABI major 2; this engine supports major 1 "
                  "(it exports pwalk_plugin_entry_v2, not pwalk_plugin_entry_v1)");
}

TEST_F(Loader, NoEntryAtAll)
{
    std::string p = Runfile("fx_no_entry.so");
    EXPECT_EQ(Refusal("fx_no_entry.so"),
              p + ": not a pwalk plugin: it does not export pwalk_plugin_entry_v1()");
}

TEST_F(Loader, NotAnElfFile)
{
    std::string dir = MakeTempDir();
    std::string p = dir + "/fx_text.so";
    {
        std::ofstream out(p);
        out << "This is a text file that happens to be named like a plugin.\n"
               "It is long enough to hold an ELF header, but is not one.\n";
    }
    ASSERT_EQ(Open(p), -1);
    std::string msg = err_;
    std::string head = p + ": cannot load as a shared object: ";
    EXPECT_EQ(msg.substr(0, head.size()), head) << msg;
    EXPECT_NE(msg.find("invalid ELF header"), std::string::npos) << msg;
    // dlerror() repeats the file name; the message names it once.
    EXPECT_EQ(msg.find(p, 1), std::string::npos) << msg;
}

TEST_F(Loader, AbiMajorMismatchInStruct)
{
    std::string p = Runfile("fx_major2.so");
    EXPECT_EQ(Refusal("fx_major2.so"),
              p + ": pwalk_plugin.abi_major is 2 but its entry is pwalk_plugin_entry_v1; "
                  "this engine supports major 1");
}

TEST_F(Loader, OlderMinorLoads)
{
    ASSERT_LT(0, PWALK_ABI_MINOR) << "this test needs a minor after 1.0";
    ASSERT_EQ(Open(Runfile("fx_minor0.so")), 0) << err_;
    EXPECT_EQ(lp_.plugin->abi_minor, 0u);
    EXPECT_STREQ(lp_.plugin->name, "fx_minor0");
}

// 1.3 appended pwalk_plugin.merge: a plugin of 1.2 (struct_size ending at
// prepare) still loads.
TEST_F(Loader, Minor2LoadsWithoutMerge)
{
    ASSERT_GE(PWALK_ABI_MINOR, 3);
    ASSERT_EQ(Open(Runfile("fx_minor2.so")), 0) << err_;
    EXPECT_EQ(lp_.plugin->abi_minor, 2u);
    EXPECT_EQ(lp_.plugin->struct_size, offsetof(pwalk_plugin, merge));
    EXPECT_FALSE(PWALK_STRUCT_HAS(lp_.plugin, pwalk_plugin, merge));
}

TEST_F(Loader, NewerMinor)
{
    std::string p = Runfile("fx_minor99.so");
    EXPECT_EQ(Refusal("fx_minor99.so"), p + ": built for ABI 1.99, newer than this engine's 1." +
                                               std::to_string(PWALK_ABI_MINOR));
}

TEST_F(Loader, StructSizeTooSmall)
{
    std::string p = Runfile("fx_small_size.so");
    size_t v10 = offsetof(pwalk_plugin, destroy) + sizeof(void *);
    EXPECT_EQ(Refusal("fx_small_size.so"),
              p + ": pwalk_plugin.struct_size is 16 bytes, smaller than ABI 1.0's " +
                  std::to_string(v10) +
                  ": not built against a pwalk/plugin.h of this major");
}

TEST_F(Loader, NameMismatchByPath)
{
    std::string p = Runfile("fx_name_mismatch.so");
    EXPECT_EQ(Refusal("fx_name_mismatch.so"),
              p + ": declares name 'foo' but the pipeline asked for 'fx_name_mismatch'");
}

TEST_F(Loader, NameMismatchBySearch)
{
    std::string dir = MakeTempDir();
    CopyFile(Runfile("fx_name_mismatch.so"), dir + "/bar.so");
    ASSERT_EQ(Open("bar", {dir}), -1);
    EXPECT_EQ(std::string(err_),
              dir + "/bar.so: declares name 'foo' but the pipeline asked for 'bar'");
}

TEST_F(Loader, MissingConsume)
{
    std::string p = Runfile("fx_no_consume.so");
    EXPECT_EQ(Refusal("fx_no_consume.so"),
              p + ": plugin 'fx_no_consume' has no consume callback (required)");
}

TEST_F(Loader, UnknownThreading)
{
    std::string p = Runfile("fx_bad_threading.so");
    EXPECT_EQ(Refusal("fx_bad_threading.so"),
              p + ": plugin 'fx_bad_threading' declares unknown threading mode 7 "
                  "(known: 1 per-worker, 2 serial)");
}

TEST_F(Loader, UnknownOptionType)
{
    std::string p = Runfile("fx_bad_option_type.so");
    EXPECT_EQ(Refusal("fx_bad_option_type.so"),
              p + ": plugin 'fx_bad_option_type': option 'verbose' has unknown type 9 "
                  "(known: 1 string, 2 bool, 3 int, 4 enum, 5 string list)");
}

// pwalk_option_spec.flags (ABI 1.2): an unknown bit is a mistake, and an
// output (a file name) must be a string.
TEST_F(Loader, UnknownOptionFlag)
{
    std::string p = Runfile("fx_bad_option_flags.so");
    EXPECT_EQ(Refusal("fx_bad_option_flags.so"),
              p + ": plugin 'fx_bad_option_flags': option 'verbose' declares unknown flags 0x80");
}

TEST_F(Loader, OutputOptionThatIsNotAString)
{
    std::string p = Runfile("fx_output_not_string.so");
    EXPECT_EQ(Refusal("fx_output_not_string.so"),
              p + ": plugin 'fx_output_not_string': option 'verbose' is declared an output "
                  "(a file name) but is not a string");
}

// Before 1.2 the field was reserved0, never read: a 1.1 plugin loads
// whatever it holds (its outputs are guessed by name, see options_test).
TEST_F(Loader, OlderMinorOptionFlagsAreNotRead)
{
    ASSERT_EQ(Open(Runfile("fx_minor1_flags.so")), 0) << err_;
    EXPECT_EQ(lp_.plugin->abi_minor, 1u);
}

TEST_F(Loader, OptionWithoutName)
{
    std::string p = Runfile("fx_null_option_name.so");
    EXPECT_EQ(Refusal("fx_null_option_name.so"),
              p + ": plugin 'fx_null_option_name': option #2 has no name");
}

TEST_F(Loader, MissingPathFile)
{
    std::string dir = MakeTempDir();
    ASSERT_EQ(Open(dir + "/absent.so"), -1);
    EXPECT_EQ(std::string(err_),
              dir + "/absent.so: plugin file not found: No such file or directory");
}

// ---- Search order ------------------------------------------------------------

TEST_F(Loader, BuiltinDirIsBesideTheExecutable)
{
    char *b = loader_builtin_dir();
    ASSERT_NE(b, nullptr);
    std::string exe = RealPath("/proc/self/exe");
    std::string want = exe.substr(0, exe.rfind('/')) + "/plugins";
    EXPECT_EQ(std::string(b), want);
    free(b);
}

TEST_F(Loader, PluginPathBeatsEnvBeatsBuiltin)
{
    char *b = loader_builtin_dir();
    ASSERT_NE(b, nullptr);
    std::string builtin = std::string(b) + "/fx_builtin.so";
    free(b);
    std::string src = Runfile("plugins/fx_builtin.so");
    std::string cfgdir = MakeTempDir(), envdir = MakeTempDir(), other = MakeTempDir();
    CopyFile(src, cfgdir + "/fx_builtin.so");
    CopyFile(src, envdir + "/fx_builtin.so");

    setenv("PWALK_PLUGIN_PATH", (other + ":" + envdir).c_str(), 1);
    ASSERT_EQ(Open("fx_builtin", {other, cfgdir}), 0) << err_;
    EXPECT_EQ(std::string(lp_.path), cfgdir + "/fx_builtin.so");

    ASSERT_EQ(Open("fx_builtin", {other}), 0) << err_;
    EXPECT_EQ(std::string(lp_.path), envdir + "/fx_builtin.so");

    unsetenv("PWALK_PLUGIN_PATH");
    ASSERT_EQ(Open("fx_builtin", {other}), 0) << err_;
    EXPECT_EQ(std::string(lp_.path), builtin);
    EXPECT_STREQ(lp_.plugin->name, "fx_builtin");
}

TEST_F(Loader, NameSubdirectoryLayout)
{
    std::string dir = MakeTempDir();
    ASSERT_EQ(mkdir((dir + "/fx_good").c_str(), 0755), 0);
    CopyFile(Runfile("fx_good.so"), dir + "/fx_good/fx_good.so");
    ASSERT_EQ(Open("fx_good", {dir}), 0) << err_;
    EXPECT_EQ(std::string(lp_.path), dir + "/fx_good/fx_good.so");

    // In one directory, D/NAME.so comes before D/NAME/NAME.so.
    CopyFile(Runfile("fx_good.so"), dir + "/fx_good.so");
    ASSERT_EQ(Open("fx_good", {dir}), 0) << err_;
    EXPECT_EQ(std::string(lp_.path), dir + "/fx_good.so");
}

TEST_F(Loader, EmptyEnvComponentsAreSkipped)
{
    std::string dir = MakeTempDir();
    CopyFile(Runfile("fx_good.so"), dir + "/fx_good.so");
    setenv("PWALK_PLUGIN_PATH", ("::" + dir + ":").c_str(), 1);
    std::string path;
    ASSERT_EQ(Find("fx_good", {}, &path), 0) << err_;
    EXPECT_EQ(path, dir + "/fx_good.so");
}

TEST_F(Loader, NotFoundListsSearchedDirs)
{
    char *b = loader_builtin_dir();
    ASSERT_NE(b, nullptr);
    std::string builtin = b;
    free(b);
    std::string a = MakeTempDir(), x = MakeTempDir(), y = MakeTempDir();
    setenv("PWALK_PLUGIN_PATH", (x + ":" + y).c_str(), 1);
    ASSERT_EQ(Open("nope", {a}), -1);
    EXPECT_EQ(std::string(err_), "plugin 'nope' not found (searched: " + a + ", " + x + ", " +
                                     y + ", " + builtin + ")");
    std::string path;
    ASSERT_EQ(Find("nope", {a}, &path), -1);
    EXPECT_EQ(path, "");
}

TEST_F(Loader, BareFileNameIsRelativeToCwd)
{
    std::string dir = MakeTempDir();
    CopyFile(Runfile("fx_good.so"), dir + "/fx_good.so");
    char cwd[PATH_MAX];
    ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
    ASSERT_EQ(chdir(dir.c_str()), 0);
    std::string path;
    int rc = Find("fx_good.so", {}, &path);
    int orc = Open("fx_good.so");
    std::string msg = err_;
    ASSERT_EQ(chdir(cwd), 0);
    ASSERT_EQ(rc, 0);
    EXPECT_EQ(path, "./fx_good.so");
    ASSERT_EQ(orc, 0) << msg;
    EXPECT_STREQ(lp_.plugin->name, "fx_good");
}

TEST_F(Loader, EmptyName)
{
    ASSERT_EQ(Open(""), -1);
    EXPECT_STREQ(err_, "plugin name is empty");
}

TEST_F(Loader, TinyErrorBufferIsTerminated)
{
    char small[8];
    memset(small, 'x', sizeof small);
    loader_plugin lp = {};
    ASSERT_EQ(loader_open("nope", nullptr, 0, &lp, small, sizeof small), -1);
    EXPECT_EQ(std::strlen(small), sizeof small - 1);
}

// ---- Relative `plugin:` paths ----------------------------------------------

std::string Relative(const char *name, const char *source)
{
    char *r = loader_plugin_relative(name, source);
    std::string s = r ? r : "<NULL>";
    free(r);
    return s;
}

TEST_F(Loader, RelativePluginPathIsRelativeToThePipelineFile)
{
    EXPECT_EQ(Relative("x.so", "/etc/pwalk/audit.yaml"), "/etc/pwalk/x.so");
    EXPECT_EQ(Relative("lib/x.so", "conf/audit.yaml"), "conf/lib/x.so");
    EXPECT_EQ(Relative("../lib/x", "/etc/pwalk/audit.yaml"), "/etc/pwalk/../lib/x");
    // a name is searched for, an absolute path is one already
    EXPECT_EQ(Relative("csv", "/etc/pwalk/audit.yaml"), "csv");
    EXPECT_EQ(Relative("/opt/x.so", "/etc/pwalk/audit.yaml"), "/opt/x.so");
    // a pipeline file in the current directory, or none at all
    EXPECT_EQ(Relative("x.so", "audit.yaml"), "x.so");
    EXPECT_EQ(Relative("x.so", "<built-in>"), "x.so");
    EXPECT_EQ(Relative("x.so", nullptr), "x.so");
}

// ---- As root: nothing on the path may be another user's to change ---------
//
// Each refusal happens before dlopen(): fx_ctor.so's constructor appends to
// $PWALK_FX_CTOR_MARKER, which must stay absent (the positive control shows
// the marker does appear when the same file is loaded from a safe place).

constexpr uid_t kOther = 39077;  // no account needed: chown takes any uid

class LoaderRoot : public Loader {
  protected:
    void SetUp() override
    {
        Loader::SetUp();
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root";
        dir_ = MakeTempDir();
        ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
        file_ = dir_ + "/fx_good.so";
        CopyFile(Runfile("fx_good.so"), file_, 0755);
        ctor_ = RealPath(Runfile("fx_ctor.so"));
        ASSERT_FALSE(ctor_.empty());
        marker_ = MakeTempDir() + "/constructor-ran";
        setenv("PWALK_FX_CTOR_MARKER", marker_.c_str(), 1);
    }
    void TearDown() override
    {
        unsetenv("PWALK_FX_CTOR_MARKER");
        Loader::TearDown();
    }
    bool ConstructorRan() const { return access(marker_.c_str(), F_OK) == 0; }
    std::string Refused(const std::string &shown, const std::string &why,
                        const std::string &plugin = "fx_good") const
    {
        return "plugin '" + plugin + "': refusing to load " + shown + " as root: " + why;
    }
    // A symlink at LINK to TARGET, owned by UID.
    static void Link(const std::string &target, const std::string &link, uid_t uid = 0)
    {
        ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0) << link;
        ASSERT_EQ(lchown(link.c_str(), uid, uid), 0) << link;
    }
    std::string dir_, file_, ctor_, marker_;
};

TEST_F(LoaderRoot, SafeFileLoads)
{
    ASSERT_EQ(Open(file_), 0) << err_;
    EXPECT_EQ(std::string(lp_.path), file_);
}

TEST_F(LoaderRoot, ConstructorMarkerWorks)
{
    // the positive control of every "did not run" below
    ASSERT_FALSE(ConstructorRan());
    ASSERT_EQ(Open(Runfile("fx_ctor.so")), 0) << err_;
    EXPECT_TRUE(ConstructorRan());
}

// The reported attack: /tmp (sticky, world-writable) in the plugin path, and
// a user's symlink there to a root-owned .so.
TEST_F(LoaderRoot, PlantedSymlinkInStickyDirectoryNeverRuns)
{
    std::string drop = MakeTempDir();
    ASSERT_EQ(chmod(drop.c_str(), 01777), 0);
    Link(ctor_, drop + "/fx_ctor.so", kOther);
    ASSERT_EQ(Open("fx_ctor", {drop}), -1);
    EXPECT_EQ(std::string(err_),
              Refused(drop + "/fx_ctor.so",
                      "directory " + RealPath(drop) +
                          " is writable by group and others (mode 1777)",
                      "fx_ctor"));
    EXPECT_FALSE(ConstructorRan());

    // root's own link there is refused as well: the directory is the problem
    ASSERT_EQ(unlink((drop + "/fx_ctor.so").c_str()), 0);
    Link(ctor_, drop + "/fx_ctor.so", 0);
    ASSERT_EQ(Open("fx_ctor", {drop}), -1);
    EXPECT_NE(std::string(err_).find("(mode 1777)"), std::string::npos) << err_;
    EXPECT_FALSE(ConstructorRan());
}

TEST_F(LoaderRoot, StickyDirectoryIsRefused)
{
    // Like /tmp: others cannot replace root's file, but can plant their own
    // names (a symlink, a hard link to any root-owned .so) beside it.
    ASSERT_EQ(chmod(dir_.c_str(), 01777), 0);
    ASSERT_EQ(Open("fx_good", {dir_}), -1);
    EXPECT_EQ(std::string(err_),
              Refused(file_, "directory " + RealPath(dir_) +
                                 " is writable by group and others (mode 1777)"));
}

TEST_F(LoaderRoot, SymlinkOwnedByAnotherUser)
{
    // in a directory only root can write: the link's owner is still checked
    Link(ctor_, dir_ + "/fx_ctor.so", kOther);
    ASSERT_EQ(Open("fx_ctor", {dir_}), -1);
    EXPECT_EQ(std::string(err_),
              Refused(dir_ + "/fx_ctor.so",
                      "symlink " + RealPath(dir_) + "/fx_ctor.so is owned by uid 39077, not root",
                      "fx_ctor"));
    EXPECT_FALSE(ConstructorRan());
}

TEST_F(LoaderRoot, SymlinkedDirectoryOwnedByAnotherUser)
{
    std::string safe = MakeTempDir();
    ASSERT_EQ(chmod(safe.c_str(), 0755), 0);
    Link(dir_, safe + "/lib", kOther);
    ASSERT_EQ(Open(safe + "/lib/fx_good.so"), -1);
    EXPECT_EQ(std::string(err_),
              Refused(safe + "/lib/fx_good.so",
                      "symlink " + RealPath(safe) + "/lib is owned by uid 39077, not root"));
}

TEST_F(LoaderRoot, RootSymlinksAreFollowedComponentByComponent)
{
    // root's links, relative and absolute, through a directory link and
    // "..", which (as in the kernel) is the parent of where lib points
    std::string safe = MakeTempDir();
    ASSERT_EQ(chmod(safe.c_str(), 0755), 0);
    Link(dir_, safe + "/lib");
    std::string base = dir_.substr(dir_.rfind('/') + 1);
    Link("lib/../" + base + "/./fx_good.so", safe + "/fx_good.so");
    ASSERT_EQ(Open("fx_good", {safe}), 0) << err_;
    EXPECT_EQ(std::string(lp_.path), safe + "/fx_good.so");
    ASSERT_EQ(Open("fx_ctor", {RealPath(Runfile(""))}), 0) << err_;  // runfiles links
    EXPECT_TRUE(ConstructorRan());
}

TEST_F(LoaderRoot, SymlinkIsJudgedByItsTarget)
{
    // A link from a safe place to a file others can write is no safer.
    std::string safe = MakeTempDir();
    ASSERT_EQ(chmod(file_.c_str(), 0666), 0);
    Link(file_, safe + "/fx_good.so");
    ASSERT_EQ(Open("fx_good", {safe}), -1);
    EXPECT_EQ(std::string(err_),
              Refused(safe + "/fx_good.so", "the file " + RealPath(file_) +
                                                " is writable by group and others (mode 0666)"));
}

TEST_F(LoaderRoot, SymlinkIntoAWritableDirectory)
{
    std::string safe = MakeTempDir();
    ASSERT_EQ(chmod(dir_.c_str(), 0777), 0);
    Link(file_, safe + "/fx_good.so");
    ASSERT_EQ(Open("fx_good", {safe}), -1);
    EXPECT_EQ(std::string(err_),
              Refused(safe + "/fx_good.so", "directory " + RealPath(dir_) +
                                                " is writable by group and others (mode 0777)"));
}

TEST_F(LoaderRoot, GroupWritableFile)
{
    ASSERT_EQ(chmod(file_.c_str(), 0775), 0);
    ASSERT_EQ(Open(file_), -1);
    EXPECT_EQ(std::string(err_),
              Refused(file_, "the file " + RealPath(file_) + " is writable by group (mode 0775)"));
}

TEST_F(LoaderRoot, OtherWritableFile)
{
    ASSERT_EQ(chmod(file_.c_str(), 0757), 0);
    ASSERT_EQ(Open(file_), -1);
    EXPECT_EQ(std::string(err_),
              Refused(file_, "the file " + RealPath(file_) + " is writable by others (mode 0757)"));
}

TEST_F(LoaderRoot, FileOwnedByAnotherUser)
{
    ASSERT_EQ(chown(file_.c_str(), kOther, kOther), 0);
    ASSERT_EQ(Open(file_), -1);
    EXPECT_EQ(std::string(err_),
              Refused(file_, "the file " + RealPath(file_) + " is owned by uid 39077, not root"));
}

TEST_F(LoaderRoot, OtherWritableDirectory)
{
    ASSERT_EQ(chmod(dir_.c_str(), 0777), 0);
    ASSERT_EQ(Open("fx_good", {dir_}), -1);
    EXPECT_EQ(std::string(err_),
              Refused(file_, "directory " + RealPath(dir_) +
                                 " is writable by group and others (mode 0777)"));
}

TEST_F(LoaderRoot, GroupWritableAncestor)
{
    // not only the plugin's own directory: every one from / down
    ASSERT_EQ(mkdir((dir_ + "/sub").c_str(), 0755), 0);
    CopyFile(Runfile("fx_good.so"), dir_ + "/sub/fx_good.so", 0755);
    ASSERT_EQ(chmod(dir_.c_str(), 0775), 0);
    ASSERT_EQ(Open("fx_good", {dir_ + "/sub"}), -1);
    EXPECT_EQ(std::string(err_),
              Refused(dir_ + "/sub/fx_good.so",
                      "directory " + RealPath(dir_) + " is writable by group (mode 0775)"));
}

TEST_F(LoaderRoot, DirectoryOwnedByAnotherUser)
{
    ASSERT_EQ(chown(dir_.c_str(), kOther, kOther), 0);
    ASSERT_EQ(Open(file_), -1);
    EXPECT_EQ(std::string(err_),
              Refused(file_, "directory " + RealPath(dir_) + " is owned by uid 39077, not root"));
}

TEST_F(LoaderRoot, RelativePathIsCheckedFromRoot)
{
    // "fx_good.so" in a pipeline is ./fx_good.so: the current directory and
    // everything above it count
    char cwd[PATH_MAX];
    ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
    ASSERT_EQ(chmod(dir_.c_str(), 0777), 0);
    ASSERT_EQ(chdir(dir_.c_str()), 0);
    int rc = Open("fx_good.so");
    std::string msg = err_;
    ASSERT_EQ(chdir(cwd), 0);
    ASSERT_EQ(rc, -1);
    EXPECT_EQ(msg, Refused("./fx_good.so", "directory " + RealPath(dir_) +
                                               " is writable by group and others (mode 0777)"));
}

// Not root: nothing is vetted; a user loads what they can read (as any
// program they run could).  A child as uid 39077 loads from a 0777 directory.
TEST_F(LoaderRoot, NotRootLoadsWhatItCanRead)
{
    char tmpl[] = "/tmp/pwalk-loader-XXXXXX";  // reachable by that uid
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    std::string open_dir = tmpl;
    ASSERT_EQ(chmod(open_dir.c_str(), 0777), 0);
    CopyFile(Runfile("fx_good.so"), open_dir + "/fx_good.so", 0644);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        if (setgid(kOther) != 0 || setuid(kOther) != 0)
            _exit(3);
        loader_plugin lp = {};
        char e[512];
        char *dirs[] = {const_cast<char *>(open_dir.c_str())};
        _exit(loader_open("fx_good", dirs, 1, &lp, e, sizeof e) == 0 ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    unlink((open_dir + "/fx_good.so").c_str());
    rmdir(open_dir.c_str());
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

} // namespace
