// Where and how outputs are published (issue 13, items 1, 3 and 12a):
//  - the temporary is created and renamed through the output directory's fd
//    opened at the start, so a user who can write a directory on the output
//    path and swaps it for a symlink mid-scan cannot make a root scan
//    replace another user's file; the scan notices and fails (exit 3);
//  - a root scan's outputs are 0600 unless `mode:` / `scan.mode` say
//    otherwise;
//  - a name longer than the filesystem takes is refused before the walk
//    (exit 2), not by the rename after it (exit 3).
// The scans that are attacked mid-way are stopped with SIGSTOP while the
// directory is swapped, so nothing depends on how fast the walk is.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace faults {
using namespace harness;
namespace {

#define EXPECT_MENTIONS(msg, text) \
    EXPECT_NE((msg).find(text), std::string::npos) << "message does not name " << (text) << ":\n" << (msg)

// Accounts made for the attack and removed after it (Debian's useradd):
// mallory can write the admin's output directory, victim owns a file in a
// sticky world-writable directory.
struct Accounts {
    static constexpr uid_t kMallory = 39501, kVictim = 39502;
    bool ok = false;
    Accounts()
    {
        Remove();  // a run killed before its cleanup
        ok = Add("pwatk-mallory", kMallory) && Add("pwatk-victim", kVictim);
    }
    ~Accounts() { Remove(); }
    // other tests add accounts too: useradd fails while /etc/passwd is locked
    static bool Add(const std::string &name, uid_t uid)
    {
        std::string cmd = "useradd -M -N -g nogroup -s /usr/sbin/nologin -u " +
                          std::to_string(uid) + " " + name + " >/dev/null 2>&1";
        for (int i = 0; i < 50; i++) {
            if (system(cmd.c_str()) == 0)
                return true;
            usleep(100000);
        }
        return false;
    }
    static void Remove()
    {
        for (const char *n : {"pwatk-mallory", "pwatk-victim"})
            if (getpwnam(n))
                for (int i = 0; i < 50 && system(("userdel " + std::string(n) +
                                                  " >/dev/null 2>&1").c_str()) != 0;
                     i++)
                    usleep(100000);
    }
};

class OutputPlace : public ::testing::Test {
  protected:
    void SetUp() override
    {
        ASSERT_FALSE(dir_.path().empty());
        ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);  // other accounts pass through
        tree_ = dir_ / "tree";
        ASSERT_EQ(mkdir(tree_.c_str(), 0755), 0);
        // 200 directories: with failsink's delay the walk takes seconds, and
        // the attack happens while the scan is stopped anyway
        for (int d = 0; d < 200; d++) {
            std::string sub = tree_ + "/d" + std::to_string(d);
            mkdir(sub.c_str(), 0755);
            for (int f = 0; f < 5; f++)
                WriteFile(sub + "/f" + std::to_string(f), "");
        }
    }

    // A csv report and the error file at out_dir/scan.csv and
    // out_dir/scan.errors, and a sink that slows the walk down.
    std::string Pipeline(const std::string &out_dir, bool slow,
                         const std::string &scan_extra = "", const std::string &csv_extra = "")
    {
        std::string p = dir_ / "pipeline.yaml";
        std::string text = "version: 1\nplugin_path: [" + FixtureDir() + "]\nscan:\n  errors: " +
                           out_dir + "/scan.errors\n" + scan_extra +
                           "sinks:\n  - name: inventory\n    plugin: csv\n    options: {path: " +
                           out_dir + "/scan.csv" + csv_extra + "}\n";
        if (slow)
            text += "  - name: slow\n    plugin: failsink\n    options: {delay_us: 20000}\n";
        WriteFile(p, text);
        return p;
    }

    // Start a slow scan writing into out_dir, wait for both temporaries,
    // and stop it there (SIGSTOP): the caller changes the filesystem, then
    // Resume()s it.
    void StartAndStop(Child *c, const std::string &out_dir)
    {
        ASSERT_TRUE(c->Start({"-c", Pipeline(out_dir, true), "-t", "2", tree_}));
        while (TempOutputs(out_dir).size() < 2) {
            Result early;
            ASSERT_FALSE(c->Exited(&early)) << "the scan ended early\n" << early.Describe();
            ASSERT_LT(c->Elapsed(), 60) << "no temporary outputs after a minute";
            usleep(2000);
        }
        ASSERT_EQ(kill(c->pid(), SIGSTOP), 0);
        Result early;
        ASSERT_FALSE(c->Exited(&early)) << "the scan ended before it was stopped\n"
                                        << early.Describe();
    }

    TempDir dir_{"outplace", "/tmp"};
    std::string tree_;
};

// What the attacker runs, as mallory, while the root scan is stopped:
// learn the temporary's name, plant a file of that name beside victim's
// scan.csv in the sticky directory, swap the output directory for a
// symlink to it.  Exit status: 0, or the step that failed.
int Attack(const std::string &sub, const std::string &sticky)
{
    std::string tmp;
    for (const std::string &n : TempOutputs(sub))
        if (n.rfind(".scan.csv.pwalk-tmp-", 0) == 0)
            tmp = n;
    if (tmp.empty())
        return 10;
    int fd = open((sticky + "/" + tmp).c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0 || write(fd, "forged\n", 7) != 7 || close(fd) != 0)
        return 11;
    if (rename(sub.c_str(), (sub + ".old").c_str()) != 0)
        return 12;
    if (symlink(sticky.c_str(), sub.c_str()) != 0)
        return 13;
    return 0;
}

TEST_F(OutputPlace, AUserSwappingTheOutputDirectoryCannotRedirectARootScan)
{
    if (geteuid() != 0 || access("/usr/sbin/useradd", X_OK) != 0)
        GTEST_SKIP() << "needs root and useradd: the attack is by a second account";
    Accounts acc;
    ASSERT_TRUE(acc.ok) << "useradd failed";
    const uid_t M = Accounts::kMallory, V = Accounts::kVictim;
    struct group *nog = getgrnam("nogroup");
    ASSERT_NE(nog, nullptr);
    // /srv/shared/sub: mallory's; public: sticky and world-writable, with
    // victim's scan.csv in it
    std::string shared = dir_ / "shared", sub = shared + "/sub", sticky = dir_ / "public";
    ASSERT_EQ(mkdir(shared.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
    ASSERT_EQ(chown(shared.c_str(), M, nog->gr_gid), 0);
    ASSERT_EQ(chown(sub.c_str(), M, nog->gr_gid), 0);
    ASSERT_EQ(mkdir(sticky.c_str(), 0755), 0);
    ASSERT_EQ(chmod(sticky.c_str(), 01777), 0);
    std::string victim = sticky + "/scan.csv";
    WriteFile(victim, "victim's own data\n");
    ASSERT_EQ(chown(victim.c_str(), V, nog->gr_gid), 0);

    Child c;
    StartAndStop(&c, sub);
    if (HasFatalFailure())
        return;
    pid_t a = fork();
    ASSERT_GE(a, 0);
    if (a == 0) {
        if (setgroups(0, nullptr) != 0 || setgid(nog->gr_gid) != 0 || setuid(M) != 0)
            _exit(9);
        _exit(Attack(sub, sticky));
    }
    int ws = 0;
    ASSERT_EQ(waitpid(a, &ws, 0), a);
    ASSERT_EQ(kill(c.pid(), SIGCONT), 0);
    ASSERT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << "the attack failed at step " << ws;
    Result r = c.Wait();

    // before: exit 0, victim's file replaced by the forged one, root's
    // report left behind as a temporary in sub.old
    ASSERT_FALSE(r.signaled) << r.Describe();
    EXPECT_EQ(r.status, 3) << r.Describe();
    EXPECT_MENTIONS(r.err, "output directory '" + sub + "' was replaced during the scan");
    EXPECT_EQ(ReadFile(victim), "victim's own data\n");
    struct stat st;
    ASSERT_EQ(lstat(victim.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, V);
    // nothing of the scan's in the sticky directory, nothing left where
    // the outputs were being written (the temporaries removed through the fd)
    std::vector<std::string> left = ListDir(sticky);
    EXPECT_EQ(left.size(), 2u) << Join(left);  // scan.csv and the planted file
    EXPECT_EQ(ListDir(sub + ".old"), std::vector<std::string>{});
}

TEST_F(OutputPlace, AReplacedOutputDirectoryFailsTheScanAndPublishesNothing)
{
    std::string out = dir_ / "out";
    ASSERT_EQ(mkdir(out.c_str(), 0755), 0);
    Child c;
    StartAndStop(&c, out);
    if (HasFatalFailure())
        return;
    // a plain replacement (no symlink): a new, empty directory of that name
    ASSERT_EQ(rename(out.c_str(), (out + ".old").c_str()), 0);
    ASSERT_EQ(mkdir(out.c_str(), 0755), 0);
    ASSERT_EQ(kill(c.pid(), SIGCONT), 0);
    Result r = c.Wait();
    ASSERT_FALSE(r.signaled) << r.Describe();
    EXPECT_EQ(r.status, 3) << r.Describe();
    EXPECT_MENTIONS(r.err, "sink 'inventory'");
    EXPECT_MENTIONS(r.err, "output directory '" + out + "' was replaced during the scan");
    EXPECT_EQ(ListDir(out), std::vector<std::string>{});
    EXPECT_EQ(ListDir(out + ".old"), std::vector<std::string>{});
}

// The error file's directory replaced, the report's not: the check runs in
// the first phase of the commit, so the report is not published either.
TEST_F(OutputPlace, AReplacedErrorFileDirectoryKeepsEveryOutputUnpublished)
{
    std::string reports = dir_ / "reports", errors = dir_ / "errors";
    ASSERT_EQ(mkdir(reports.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(errors.c_str(), 0755), 0);
    std::string p = dir_ / "split.yaml";
    WriteFile(p, "version: 1\nplugin_path: [" + FixtureDir() + "]\nscan:\n  errors: " + errors +
                     "/scan.errors\nsinks:\n  - name: inventory\n    plugin: csv\n"
                     "    options: {path: " + reports + "/scan.csv}\n"
                     "  - name: slow\n    plugin: failsink\n    options: {delay_us: 20000}\n");
    Child c;
    ASSERT_TRUE(c.Start({"-c", p, "-t", "2", tree_}));
    while (TempOutputs(reports).empty() || TempOutputs(errors).empty()) {
        Result early;
        ASSERT_FALSE(c.Exited(&early)) << "the scan ended early\n" << early.Describe();
        ASSERT_LT(c.Elapsed(), 60) << "no temporary outputs after a minute";
        usleep(2000);
    }
    ASSERT_EQ(kill(c.pid(), SIGSTOP), 0);
    ASSERT_EQ(rename(errors.c_str(), (errors + ".old").c_str()), 0);
    ASSERT_EQ(mkdir(errors.c_str(), 0755), 0);
    ASSERT_EQ(kill(c.pid(), SIGCONT), 0);
    Result r = c.Wait();
    ASSERT_FALSE(r.signaled) << r.Describe();
    EXPECT_EQ(r.status, 3) << r.Describe();
    EXPECT_MENTIONS(r.err, "errors file: ");
    EXPECT_MENTIONS(r.err, "output directory '" + errors + "' was replaced during the scan");
    EXPECT_EQ(ListDir(reports), std::vector<std::string>{});
    EXPECT_EQ(ListDir(errors), std::vector<std::string>{});
    EXPECT_EQ(ListDir(errors + ".old"), std::vector<std::string>{});
}

TEST_F(OutputPlace, ARootScansOutputsAre0600UnlessModeSaysOtherwise)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "the 0600 default is for scans run as root";
    std::string out = dir_ / "out";
    ASSERT_EQ(mkdir(out.c_str(), 0755), 0);
    auto mode_of = [](const std::string &p) {
        struct stat st;
        return stat(p.c_str(), &st) == 0 ? (unsigned)(st.st_mode & 07777) : 07777u;
    };
    // default: neither the report nor the error file readable by others
    // (before: 0644 from the umask of a root shell)
    Result r = RunEngine({"-c", Pipeline(out, false), tree_});
    ASSERT_EQ(r.status, 0) << r.Describe();
    EXPECT_EQ(mode_of(out + "/scan.csv"), 0600u);
    EXPECT_EQ(mode_of(out + "/scan.errors"), 0600u);
    // mode: on the sink, scan.mode for the error file; the umask does not
    // narrow an explicit mode
    r = RunEngine({"-c", Pipeline(out, false, "  mode: \"0640\"\n", ", mode: \"0644\""), tree_});
    ASSERT_EQ(r.status, 0) << r.Describe();
    EXPECT_EQ(mode_of(out + "/scan.csv"), 0644u);
    EXPECT_EQ(mode_of(out + "/scan.errors"), 0640u);
    // --set works for both
    r = RunEngine({"-c", Pipeline(out, false), "--set", "scan.mode=0604", "--set",
                   "inventory.mode=0660", tree_});
    ASSERT_EQ(r.status, 0) << r.Describe();
    EXPECT_EQ(mode_of(out + "/scan.csv"), 0660u);
    EXPECT_EQ(mode_of(out + "/scan.errors"), 0604u);
    // a mode that is not one: exit 2, naming it, nothing written
    std::string bad = dir_ / "bad";
    ASSERT_EQ(mkdir(bad.c_str(), 0755), 0);
    r = RunEngine({"-c", Pipeline(bad, false, "", ", mode: \"u=rw\""), tree_});
    EXPECT_EQ(r.status, 2) << r.Describe();
    EXPECT_MENTIONS(r.err, "mode: 'u=rw' is not octal permission bits");
    r = RunEngine({"-c", Pipeline(bad, false, "  mode: \"0999\"\n"), tree_});
    EXPECT_EQ(r.status, 2) << r.Describe();
    EXPECT_MENTIONS(r.err, "'scan.mode' must be octal permission bits");
    EXPECT_EQ(ListDir(bad), std::vector<std::string>{});
}

TEST_F(OutputPlace, AnOverlongOutputNameIsRefusedBeforeTheWalk)
{
    std::string out = dir_ / "out";
    ASSERT_EQ(mkdir(out.c_str(), 0755), 0);
    std::string name(300, 'n');  // NAME_MAX is 255
    std::string p = dir_ / "long.yaml";
    for (const std::string &where : {"report", "errors"}) {
        SCOPED_TRACE(where);
        std::string report = out + "/" + (where == "report" ? name : "scan.csv");
        std::string errors = out + "/" + (where == "errors" ? name : "scan.errors");
        WriteFile(p, "version: 1\nplugin_path: [" + FixtureDir() + "]\nscan:\n  errors: " +
                         errors + "\nsinks:\n  - name: inventory\n    plugin: csv\n"
                                  "    options: {path: " + report + "}\n"
                                  "  - name: slow\n    plugin: failsink\n"
                                  "    options: {delay_us: 20000}\n");
        // before: the whole (slow) walk, then exit 3 from the rename
        Result r = RunEngine({"-c", p, tree_});
        EXPECT_EQ(r.status, 2) << r.Describe();
        EXPECT_MENTIONS(r.err, "File name too long");
        EXPECT_MENTIONS(r.err, name);
        EXPECT_EQ(r.err.find(" entries in "), std::string::npos) << "walked:\n" << r.err;
        EXPECT_EQ(ListDir(out), std::vector<std::string>{});
    }
}

}  // namespace
}  // namespace faults
