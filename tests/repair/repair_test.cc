// The repair-action plugin, end to end: the real pwalk-engine runs pipelines
// written here, as root, over trees built here with numeric uids and gids.
// A private group is recognised by name (a group named like the user whose
// primary group it is), so the two owners are real accounts made for the
// suite (useradd); the project gids belong to no group at all.  Every
// expectation is written from the rules, not from the plugin's
// code.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace {

// The harness's; this file's Summary and ParseSummary are the plugin's
// line, not the engine's.
using harness::Exists;
using harness::Lines;
using harness::Lossless;
using harness::Options;
using harness::RemoveTree;
using harness::Result;
using harness::RunEngine;
using harness::SplitCsvLine;

// Owners and groups of the test trees.  alice and bob are accounts made
// for the suite (pwtest-alice, pwtest-bob), each with a private group of
// her or his name and gid == uid; the other gids name no group, so they
// are project groups unless listed.
constexpr uid_t kAlice = 31001;
constexpr uid_t kBob = 31002;
constexpr gid_t kProj = 32000;   // project group above the trees
constexpr gid_t kProj2 = 32001;  // a nested project
constexpr gid_t kListed = 33000; // listed in change_gids
const char *const kAliceRule = "private-group(pwtest-alice)";
const char *const kBobRule = "private-group(pwtest-bob)";

bool Shell(const std::string &cmd)
{
    return system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

// The suite's accounts: made once before the first test, removed after the
// last (and before making them, in case a killed run left them behind).
void RemoveSuiteAccounts()
{
    Shell("userdel pwtest-alice");
    Shell("userdel pwtest-bob");
    Shell("groupdel pwtest-alice");
    Shell("groupdel pwtest-bob");
}

bool MakeSuiteAccounts()
{
    RemoveSuiteAccounts();
    return Shell("groupadd -g 31001 pwtest-alice") && Shell("groupadd -g 31002 pwtest-bob") &&
           Shell("useradd -M -N -s /usr/sbin/nologin -u 31001 -g 31001 pwtest-alice") &&
           Shell("useradd -M -N -s /usr/sbin/nologin -u 31002 -g 31002 pwtest-bob");
}

// ---- running things ---------------------------------------------------------

// A file the test made or needs: failing to read or write it is an error
// of the test, not an empty file.
std::string MustRead(const std::string &path)
{
    std::string s;
    if (!harness::ReadFile(path, &s))
        throw std::runtime_error("cannot read " + path + ": " + strerror(errno));
    return s;
}

void MustWrite(const std::string &path, const std::string &data)
{
    if (!harness::WriteFile(path, data))
        throw std::runtime_error("cannot write " + path);
}

std::string Octal(unsigned m)
{
    char b[16];
    snprintf(b, sizeof b, "%04o", m);
    return b;
}

// ---- building trees -----------------------------------------------------------

void Must(bool ok, const std::string &what)
{
    if (!ok)
        throw std::runtime_error(what + ": " + strerror(errno));
}

// chown first: a later chmod keeps setuid/setgid bits chown would clear.
void MakeDir(const std::string &p, mode_t mode, uid_t u, gid_t g)
{
    Must(mkdir(p.c_str(), 0700) == 0, "mkdir " + p);
    Must(lchown(p.c_str(), u, g) == 0, "chown " + p);
    Must(chmod(p.c_str(), mode) == 0, "chmod " + p);
}

void MakeFile(const std::string &p, mode_t mode, uid_t u, gid_t g)
{
    MustWrite(p, "data\n");
    Must(lchown(p.c_str(), u, g) == 0, "chown " + p);
    Must(chmod(p.c_str(), mode) == 0, "chmod " + p);
}

void MakeSymlink(const std::string &target, const std::string &p, uid_t u, gid_t g)
{
    Must(symlink(target.c_str(), p.c_str()) == 0, "symlink " + p);
    Must(lchown(p.c_str(), u, g) == 0, "lchown " + p);
}

void MakeFifo(const std::string &p, mode_t mode, uid_t u, gid_t g)
{
    Must(mkfifo(p.c_str(), 0600) == 0, "mkfifo " + p);
    Must(lchown(p.c_str(), u, g) == 0, "chown " + p);
    Must(chmod(p.c_str(), mode) == 0, "chmod " + p);
}

void MakeSocket(const std::string &p, uid_t u, gid_t g)
{
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    Must(s >= 0, "socket");
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    if (p.size() >= sizeof a.sun_path)
        throw std::runtime_error("socket path too long: " + p);
    memcpy(a.sun_path, p.c_str(), p.size() + 1);
    Must(bind(s, (struct sockaddr *)&a, sizeof a) == 0, "bind " + p);
    close(s);
    Must(lchown(p.c_str(), u, g) == 0, "chown " + p);
}

// What lstat says of every entry under root (root included), for "nothing
// changed" checks: ctime moves on any chmod or chown, even to the same
// value, so equal ctimes mean no change syscall touched the entry.
struct Snap {
    mode_t mode;
    uid_t uid;
    gid_t gid;
    ino_t ino;
    nlink_t nlink;
    long ctime_sec, ctime_nsec;
    bool operator==(const Snap &o) const
    {
        return mode == o.mode && uid == o.uid && gid == o.gid && ino == o.ino &&
               nlink == o.nlink && ctime_sec == o.ctime_sec && ctime_nsec == o.ctime_nsec;
    }
};

Snap SnapOf(const struct stat &st)
{
    return Snap{st.st_mode,          st.st_uid, st.st_gid, st.st_ino, st.st_nlink,
                (long)st.st_ctim.tv_sec, (long)st.st_ctim.tv_nsec};
}

std::map<std::string, Snap> *g_snaps;

int SnapOne(const char *path, const struct stat *st, int, struct FTW *)
{
    (*g_snaps)[path] = SnapOf(*st);
    return 0;
}

std::map<std::string, Snap> SnapshotTree(const std::string &root)
{
    std::map<std::string, Snap> m;
    g_snaps = &m;
    nftw(root.c_str(), SnapOne, 64, FTW_PHYS);
    g_snaps = nullptr;
    return m;
}

std::string Describe(const Snap &s)
{
    return "mode " + Octal(s.mode & 07777) + " uid " + std::to_string(s.uid) + " gid " +
           std::to_string(s.gid) + " ctime " + std::to_string(s.ctime_sec) + "." +
           std::to_string(s.ctime_nsec);
}

void ExpectSameTree(const std::map<std::string, Snap> &before,
                    const std::map<std::string, Snap> &after)
{
    EXPECT_EQ(before.size(), after.size());
    for (const auto &kv : before) {
        auto it = after.find(kv.first);
        if (it == after.end()) {
            ADD_FAILURE() << kv.first << " disappeared";
            continue;
        }
        EXPECT_TRUE(kv.second == it->second)
            << kv.first << ": before " << Describe(kv.second) << ", after "
            << Describe(it->second);
    }
}

// ---- the plugin's summary line --------------------------------------------------

struct Summary {
    bool found = false;
    bool dry = false;
    unsigned long long examined = 0, group = 0, setgid = 0, mode = 0, skipped = 0,
                       excluded = 0, errors = 0;
    std::map<std::string, unsigned long long> reasons;
};

// The line is parsed by hand (std::regex draws -Wmaybe-uninitialized from
// libstdc++ 12 under the sanitizer builds).
bool ParseSummaryLine(const std::string &line, const std::string &sink, Summary *s)
{
    std::string tag = "sink '" + sink + "': ";
    size_t at = line.find(tag);
    if (at == std::string::npos)
        return false;
    std::string rest = line.substr(at + tag.size());
    static const std::string dry = "dry run, nothing changed: ";
    s->dry = rest.compare(0, dry.size(), dry) == 0;
    if (s->dry)
        rest = rest.substr(dry.size());
    const char *p = rest.c_str();
    int n = -1;
    if (sscanf(p, "examined %llu entries; %n", &s->examined, &n) != 1 || n < 0)
        return false;
    p += n;
    const char *verb = s->dry ? "would change " : "changed ";
    if (strncmp(p, verb, strlen(verb)) != 0)
        return false;
    p += strlen(verb);
    n = -1;
    if (sscanf(p, "group %llu, setgid %llu, mode %llu; skipped %llu%n", &s->group, &s->setgid,
               &s->mode, &s->skipped, &n) != 4 || n < 0)
        return false;
    p += n;
    if (strncmp(p, " (", 2) == 0) {
        const char *close = strchr(p, ')');
        if (!close)
            return false;
        std::string list(p + 2, close);
        size_t start = 0;
        while (start < list.size()) {
            size_t comma = list.find(", ", start);
            std::string item = list.substr(start, comma == std::string::npos ? std::string::npos
                                                                             : comma - start);
            size_t space = item.rfind(' ');
            if (space == std::string::npos)
                return false;
            s->reasons[item.substr(0, space)] = std::stoull(item.substr(space + 1));
            start = comma == std::string::npos ? list.size() : comma + 2;
        }
        p = close + 1;
    }
    n = -1;
    if (sscanf(p, "; excluded %llu; errors %llu%n", &s->excluded, &s->errors, &n) != 2 ||
        n < 0 || p[n] != '\0')
        return false;
    return true;
}

Summary ParseSummary(const std::string &err, const std::string &sink = "repair")
{
    Summary s;
    for (const auto &line : Lines(err)) {
        Summary one;
        if (ParseSummaryLine(line, sink, &one)) {
            s = one;
            s.found = true;
        }
    }
    return s;
}

// ---- the change log -----------------------------------------------------------

// rule: what decided the line (empty for skips other than
// no-project-group, and for errors).
struct LogLine {
    std::string path, what, old_value, new_value, rule;
    bool operator<(const LogLine &o) const
    {
        return std::tie(path, what, old_value, new_value, rule) <
               std::tie(o.path, o.what, o.old_value, o.new_value, o.rule);
    }
    bool operator==(const LogLine &o) const
    {
        return !(*this < o) && !(o < *this);
    }
};

std::ostream &operator<<(std::ostream &os, const LogLine &l)
{
    return os << "{" << l.path << " | " << l.what << " | " << l.old_value << " | "
              << l.new_value << " | " << l.rule << "}";
}

std::vector<LogLine> ParseCsvLog(const std::string &text)
{
    std::vector<LogLine> v;
    auto lines = Lines(text);
    EXPECT_FALSE(lines.empty());
    if (lines.empty())
        return v;
    EXPECT_EQ(lines[0], "path,what,old,new,rule");
    for (size_t i = 1; i < lines.size(); i++) {
        std::vector<std::string> f;
        bool ok = SplitCsvLine(lines[i], &f);
        EXPECT_TRUE(ok && f.size() == 5) << "bad CSV line: " << lines[i];
        if (ok && f.size() == 5)
            v.push_back({f[0], f[1], f[2], f[3], f[4]});
    }
    return v;
}

// A JSON string literal starting at s[*i] ('"'); \uXXXX only below 0x80
// (the log escapes nothing else that way).
bool JsonString(const std::string &s, size_t *i, std::string *out)
{
    if (*i >= s.size() || s[*i] != '"')
        return false;
    (*i)++;
    out->clear();
    while (*i < s.size()) {
        char c = s[(*i)++];
        if (c == '"')
            return true;
        if ((unsigned char)c < 0x20)
            return false;
        if (c != '\\') {
            *out += c;
            continue;
        }
        if (*i >= s.size())
            return false;
        char e = s[(*i)++];
        switch (e) {
        case '"': *out += '"'; break;
        case '\\': *out += '\\'; break;
        case '/': *out += '/'; break;
        case 'n': *out += '\n'; break;
        case 't': *out += '\t'; break;
        case 'u': {
            if (*i + 4 > s.size())
                return false;
            unsigned v = (unsigned)std::stoul(s.substr(*i, 4), nullptr, 16);
            if (v >= 0x80)
                return false;
            *out += (char)v;
            *i += 4;
            break;
        }
        default: return false;
        }
    }
    return false;
}

std::vector<LogLine> ParseJsonLog(const std::string &text)
{
    std::vector<LogLine> v;
    for (const auto &line : Lines(text)) {
        std::string vals[5];
        static const char *const keys[5] = {"path", "what", "old", "new", "rule"};
        size_t i = 0;
        bool ok = !line.empty() && line[i++] == '{';
        for (int k = 0; k < 5 && ok; k++) {
            std::string key;
            ok = JsonString(line, &i, &key) && key == keys[k] && i < line.size() &&
                 line[i++] == ':' && JsonString(line, &i, &vals[k]) && i < line.size();
            if (ok)
                ok = line[i++] == (k == 4 ? '}' : ',');
        }
        ok = ok && i == line.size();
        EXPECT_TRUE(ok) << "bad JSON line: " << line;
        if (ok)
            v.push_back({vals[0], vals[1], vals[2], vals[3], vals[4]});
    }
    return v;
}

// ---- the main test tree ---------------------------------------------------------

// One entry: how it is built and what it must be after a real run.
struct Node {
    std::string rel;       // "" = the root
    char type;             // d f l(symlink) p(fifo) s(socket) c(char dev) h(2nd hard link)
    mode_t mode;
    uid_t uid;
    gid_t gid;
    gid_t want_gid;        // after a real run
    mode_t want_mode;
    const char *skip;      // reason reported, or nullptr
    bool excluded;         // by the exclude option: untouched, not reported
    bool walked;           // false under .snapshot
};

constexpr uid_t A = kAlice, B = kBob;

std::vector<Node> MainTree()
{
    return {
        // the root: private group; nearest project group is proj's (above it)
        {"", 'd', 0700, A, A, kProj, 02750, nullptr, false, true},
        {"a.txt", 'f', 0600, A, A, kProj, 0640, nullptr, false, true},
        {"run.sh", 'f', 0700, A, A, kProj, 0750, nullptr, false, true},  // g+x mirrored
        {"rootgrp", 'f', 0644, A, 0, kProj, 0644, nullptr, false, true}, // gid 0
        {"listed", 'f', 0604, A, kListed, kProj, 0644, nullptr, false, true},
        {"okfile", 'f', 0600, B, kProj, kProj, 0640, nullptr, false, true},
        {"fine", 'f', 0660, B, kProj, kProj, 0660, nullptr, false, true},
        // a nested project: its own group is kept, the entries below join it
        {"sub", 'd', 0700, B, kProj2, kProj2, 02750, nullptr, false, true},
        {"sub/f", 'f', 0600, B, B, kProj2, 0640, nullptr, false, true},
        // alice's private group on bob's file: any user's private group
        // is moved out of, not only the owner's
        {"sub/foreign", 'f', 0600, B, A, kProj2, 0640, nullptr, false, true},
        {"sub/inner", 'd', 0755, A, A, kProj2, 02755, nullptr, false, true},
        {"sub/inner/g", 'f', 0400, A, 0, kProj2, 0440, nullptr, false, true},
        {"sub/inner/deep", 'd', 0711, A, kListed, kProj2, 02751, nullptr, false, true},
        {"sub/inner/deep/x", 'f', 0644, A, A, kProj2, 0644, nullptr, false, true},
        // excluded by name ("frozen"), by full path (<root>/keep), by glob
        {"sub/frozen", 'd', 0700, A, A, A, 0700, nullptr, true, true},
        {"sub/frozen/z", 'f', 0600, A, A, A, 0600, nullptr, true, true},
        {"keep", 'd', 0700, A, A, A, 0700, nullptr, true, true},
        {"keep/x", 'f', 0600, A, A, A, 0600, nullptr, true, true},
        {"keep/d", 'd', 0700, A, A, A, 0700, nullptr, true, true},
        {"keep/d/y", 'f', 0600, A, A, A, 0600, nullptr, true, true},
        {"scratch.tmp", 'f', 0600, A, A, A, 0600, nullptr, true, true},
        // never walked: skip_snapshots
        {".snapshot", 'd', 0700, A, A, A, 0700, nullptr, false, false},
        {".snapshot/s", 'f', 0600, A, A, A, 0600, nullptr, false, false},
        // skipped and reported
        {"link", 'l', 0777, A, A, A, 0777, "symlink", false, true},
        {"fifo", 'p', 0600, A, A, A, 0600, "fifo", false, true},
        {"hard1", 'f', 0600, A, A, A, 0600, "hardlink", false, true},
        {"hard2", 'h', 0600, A, A, A, 0600, "hardlink", false, true},
        {"suid", 'f', 04755, A, A, A, 04755, "setuid-setgid", false, true},
        {"sgid", 'f', 02750, A, A, A, 02750, "setuid-setgid", false, true},
        {"sock", 's', 0755, A, A, A, 0755, "socket", false, true},
        {"null", 'c', 0600, A, A, A, 0600, "device", false, true},
    };
}

std::string Join(const std::string &root, const std::string &rel)
{
    return rel.empty() ? root : root + "/" + rel;
}

// Build the nodes under root; returns them without those the system would
// not let us make (a device node in a container).
std::vector<Node> BuildTree(const std::string &root, std::vector<Node> nodes)
{
    std::vector<Node> made;
    for (const auto &n : nodes) {
        std::string p = Join(root, n.rel);
        switch (n.type) {
        case 'd': MakeDir(p, n.mode, n.uid, n.gid); break;
        case 'f': MakeFile(p, n.mode, n.uid, n.gid); break;
        case 'l': MakeSymlink("a.txt", p, n.uid, n.gid); break;
        case 'p': MakeFifo(p, n.mode, n.uid, n.gid); break;
        case 's': MakeSocket(p, n.uid, n.gid); break;
        case 'h': Must(link(Join(root, "hard1").c_str(), p.c_str()) == 0, "link " + p); break;
        case 'c':
            if (mknod(p.c_str(), S_IFCHR | 0600, makedev(1, 3)) != 0)
                continue; /* not permitted here: leave it out */
            Must(lchown(p.c_str(), n.uid, n.gid) == 0, "chown " + p);
            break;
        }
        made.push_back(n);
    }
    // the socket's mode comes from the umask at bind(); record what it is
    for (auto &n : made) {
        struct stat st;
        Must(lstat(Join(root, n.rel).c_str(), &st) == 0, "lstat " + n.rel);
        if (n.type == 's' || n.type == 'l')
            n.mode = n.want_mode = st.st_mode & 07777;
    }
    return made;
}

// Why a gid of the suite's trees is not a project group (the rule the log
// names), or "" for a project group.
std::string GroupRule(gid_t gid)
{
    if (gid == 0)
        return "root-group";
    if (gid == kListed)
        return "change_gids";
    if (gid == kAlice)
        return kAliceRule;
    if (gid == kBob)
        return kBobRule;
    return "";
}

// The rules behind bits a mode change adds: g+r (a directory's g+rx) is
// group-read, g+w force_group_writable, a file's g+x mirror_user_exec.
std::string ModeRule(char type, mode_t before, mode_t after)
{
    mode_t added = after & ~before;
    std::string r;
    auto add = [&r](const char *name) { r += (r.empty() ? "" : "+") + std::string(name); };
    if (added & (type == 'd' ? (S_IRGRP | S_IXGRP) : S_IRGRP))
        add("group-read");
    if (added & S_IWGRP)
        add("force_group_writable");
    if (type != 'd' && (added & S_IXGRP))
        add("mirror_user_exec");
    return r;
}

// The change log a real run must write, derived from the table.
std::vector<LogLine> ExpectedLog(const std::string &root, const std::vector<Node> &nodes)
{
    std::vector<LogLine> v;
    for (const auto &n : nodes) {
        if (!n.walked || n.excluded)
            continue;
        std::string p = Join(root, n.rel);
        if (n.skip) {
            std::string why = n.skip;
            v.push_back({p, "skip", why, "", why == "no-project-group" ? GroupRule(n.gid) : ""});
            continue;
        }
        if (n.want_gid != n.gid)
            v.push_back({p, "group", std::to_string(n.gid), std::to_string(n.want_gid),
                         GroupRule(n.gid)});
        mode_t m = n.mode;
        if (n.type == 'd' && !(m & S_ISGID)) {
            v.push_back({p, "setgid", Octal(m), Octal(m | S_ISGID), "directory-setgid"});
            m |= S_ISGID;
        }
        if (n.want_mode != m)
            v.push_back({p, "mode", Octal(m), Octal(n.want_mode), ModeRule(n.type, m, n.want_mode)});
    }
    std::sort(v.begin(), v.end());
    return v;
}

// Without a log the changes go to stdout, one line each:
// "<what> <old> -> <new> <path> rule=<rule>", or "skip <reason> <path>"
// (with " rule=<rule>" for no-project-group).
void ExpectStdoutIsTheLog(const std::string &out, const std::vector<LogLine> &log)
{
    std::vector<std::string> want;
    for (const auto &l : log)
        want.push_back((l.new_value.empty() ? l.what + " " + l.old_value + " " + l.path
                                            : l.what + " " + l.old_value + " -> " +
                                                  l.new_value + " " + l.path) +
                       (l.rule.empty() ? "" : " rule=" + l.rule));
    auto got = Lines(out);
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, want);
}

void ExpectTreeAsWanted(const std::string &root, const std::vector<Node> &nodes)
{
    for (const auto &n : nodes) {
        std::string p = Join(root, n.rel);
        struct stat st;
        ASSERT_EQ(lstat(p.c_str(), &st), 0) << p;
        EXPECT_EQ(st.st_gid, n.want_gid) << p;
        EXPECT_EQ(Octal(st.st_mode & 07777), Octal(n.want_mode)) << p;
        EXPECT_EQ(st.st_uid, n.uid) << p << ": the owner is never changed";
    }
}

// ---- the fixture ----------------------------------------------------------------

class RepairTest : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        if (geteuid() == 0 && access("/usr/sbin/useradd", X_OK) == 0)
            accounts_ok_ = MakeSuiteAccounts();
    }

    static void TearDownTestSuite()
    {
        if (accounts_ok_)
            RemoveSuiteAccounts();
        accounts_ok_ = false;
    }

    void SetUp() override
    {
        if (geteuid() != 0)
            GTEST_SKIP() << "the repair tests run as root";
        if (!accounts_ok_)
            GTEST_SKIP() << "the repair tests need the accounts pwtest-alice and pwtest-bob, "
                            "made with groupadd/useradd (Debian's passwd package): failed";
        // The trees live in /tmp so the unprivileged attacker can reach
        // them; the upward group search must find nothing above /tmp.
        struct stat st;
        ASSERT_EQ(stat("/tmp", &st), 0);
        ASSERT_TRUE(st.st_gid == 0 || st.st_gid == st.st_uid)
            << "/tmp's group must not look like a project group";
        char tmpl[] = "/tmp/pwalk-repair.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        base_ = tmpl;
        ASSERT_EQ(chown(base_.c_str(), 0, 0), 0);
        ASSERT_EQ(chmod(base_.c_str(), 0755), 0);
        out_ = base_ + "/out";  // pipelines and logs, outside every root
        ASSERT_EQ(mkdir(out_.c_str(), 0700), 0);
        proj_ = base_ + "/proj";  // the project directory above the roots
        MakeDir(proj_, 02755, 0, kProj);
    }

    void TearDown() override
    {
        if (!base_.empty())
            RemoveTree(base_);
    }

    // A pipeline with the repair sink (options as a YAML flow mapping) and
    // optional further sinks.
    std::string Pipeline(const std::string &name, const std::string &options,
                         bool allow_mutation = true, const std::string &more_sinks = "",
                         int threads = 2)
    {
        std::string y = "version: 1\n";
        if (allow_mutation)
            y += "allow_mutation: true\n";
        y += "scan:\n  skip_snapshots: true\n  threads: " + std::to_string(threads) +
             "\nsinks:\n  - name: repair\n    plugin: repair-action\n    options: " +
             options + "\n" + more_sinks;
        std::string path = out_ + "/" + name + ".yaml";
        MustWrite(path, y);
        return path;
    }

    std::string MainOptions(const std::string &root, const std::string &more)
    {
        return "{change_gids: [\"" + std::to_string(kListed) + "\"], exclude: [\"" + root +
               "/keep\", \"*.tmp\", frozen]" + more + "}";
    }

    std::string base_, out_, proj_;
    static bool accounts_ok_;
};

bool RepairTest::accounts_ok_ = false;

// ---- tests ---------------------------------------------------------------------------

TEST_F(RepairTest, RealRunSetsGroupAndModeOfEveryEntry)
{
    std::string root = proj_ + "/tree";
    auto nodes = BuildTree(root, MainTree());
    std::string log = out_ + "/changes.csv";
    auto cfg = Pipeline("real", MainOptions(root, ", dry_run: false, log: \"" + log + "\""));

    Result r = RunEngine({"-c", cfg, root});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "") << "a real run prints no change lines";
    ExpectTreeAsWanted(root, nodes);

    // the log: exactly the changes and skips the rules call for
    auto got = ParseCsvLog(MustRead(log));
    std::sort(got.begin(), got.end());
    auto want = ExpectedLog(root, nodes);
    EXPECT_EQ(got, want);

    // the summary counts the same things
    Summary s = ParseSummary(r.err);
    ASSERT_TRUE(s.found) << r.err;
    EXPECT_FALSE(s.dry);
    // excluded entries are pruned from the walk itself (host->prune): the
    // plugin never sees them, the engine counts the top ones as filtered
    size_t walked = 0, excluded = 0, pruned = 0;
    std::map<std::string, unsigned long long> reasons;
    for (const auto &n : nodes) {
        walked += n.walked && !n.excluded;
        // the topmost excluded entries: keep, scratch.tmp, sub/frozen
        pruned += n.walked && n.excluded &&
                  (n.rel.find('/') == std::string::npos || n.rel == "sub/frozen");
        if (n.skip)
            reasons[n.skip]++;
    }
    unsigned long long groups = 0, setgids = 0, modes = 0;
    for (const auto &l : want) {
        groups += l.what == "group";
        setgids += l.what == "setgid";
        modes += l.what == "mode";
    }
    EXPECT_EQ(s.examined, walked);
    EXPECT_EQ(s.excluded, excluded);
    size_t filtered_at = r.err.find(" filtered (");
    ASSERT_NE(filtered_at, std::string::npos) << r.err;
    std::string filtered = r.err.substr(filtered_at, r.err.find(')', filtered_at) - filtered_at);
    EXPECT_NE((filtered + ",").find("exclude " + std::to_string(pruned) + ","), std::string::npos)
        << filtered;
    EXPECT_EQ(s.group, groups);
    EXPECT_EQ(s.setgid, setgids);
    EXPECT_EQ(s.mode, modes);
    EXPECT_EQ(s.reasons, reasons);
    EXPECT_EQ(s.errors, 0u);

    // no temporary file left beside the log
    DIR *d = opendir(out_.c_str());
    ASSERT_NE(d, nullptr);
    while (struct dirent *de = readdir(d)) {
        EXPECT_EQ(strstr(de->d_name, ".tmp."), nullptr) << de->d_name;
        EXPECT_EQ(strstr(de->d_name, ".pwalk-tmp-"), nullptr) << de->d_name;
    }
    closedir(d);
}

TEST_F(RepairTest, SecondRunChangesNothing)
{
    std::string root = proj_ + "/tree";
    auto nodes = BuildTree(root, MainTree());
    std::string log = out_ + "/second.csv";
    auto cfg = Pipeline("again", MainOptions(root, ", dry_run: false, log: \"" + log + "\""));

    Result first = RunEngine({"-c", cfg, root});
    ASSERT_EQ(first.status, 0) << first.err;
    auto after_first = SnapshotTree(root);

    Result second = RunEngine({"-c", cfg, root});
    ASSERT_EQ(second.status, 0) << second.err;
    Summary s = ParseSummary(second.err);
    ASSERT_TRUE(s.found) << second.err;
    EXPECT_EQ(s.group, 0u);
    EXPECT_EQ(s.setgid, 0u);
    EXPECT_EQ(s.mode, 0u);
    EXPECT_EQ(s.errors, 0u);
    for (const auto &l : ParseCsvLog(MustRead(log)))
        EXPECT_EQ(l.what, "skip") << l;
    // no chmod/chown at all: every ctime is as the first run left it
    ExpectSameTree(after_first, SnapshotTree(root));
    ExpectTreeAsWanted(root, nodes);
}

TEST_F(RepairTest, DryRunChangesNothingAndPrintsTheChanges)
{
    std::string root = proj_ + "/tree";
    auto nodes = BuildTree(root, MainTree());
    auto before = SnapshotTree(root);
    // dry_run is the default: not set here
    auto cfg = Pipeline("dry", MainOptions(root, ""));

    Result r = RunEngine({"-c", cfg, root});
    ASSERT_EQ(r.status, 0) << r.err;
    ExpectSameTree(before, SnapshotTree(root));

    ExpectStdoutIsTheLog(r.out, ExpectedLog(root, nodes));

    Summary s = ParseSummary(r.err);
    ASSERT_TRUE(s.found) << r.err;
    EXPECT_TRUE(s.dry);
    EXPECT_GT(s.group, 0u);
}

// Without a log, a real run names every change and skip on stdout as a
// dry run does: what root changed is never known by counts alone.
TEST_F(RepairTest, RealRunWithoutLogPrintsTheChanges)
{
    std::string root = proj_ + "/tree";
    auto nodes = BuildTree(root, MainTree());
    auto cfg = Pipeline("reallog", MainOptions(root, ", dry_run: false"));

    Result r = RunEngine({"-c", cfg, root});
    ASSERT_EQ(r.status, 0) << r.err;
    ExpectTreeAsWanted(root, nodes);
    ExpectStdoutIsTheLog(r.out, ExpectedLog(root, nodes));
    EXPECT_FALSE(ParseSummary(r.err).dry) << r.err;
}

// configs/repair.yaml as shipped: a dry run, allowed to mutate, snapshots
// skipped; --set turns it into a real run.
TEST_F(RepairTest, ShippedConfigIsADryRun)
{
    const char *srcdir = getenv("TEST_SRCDIR");
    std::string cfg = std::string(srcdir ? srcdir : ".") + "/pwalk/configs/repair.yaml";
    if (!Exists(cfg))
        GTEST_SKIP() << cfg << " is not in the runfiles (see tests/repair/BUILD)";
    std::string root = proj_ + "/shipped";
    std::vector<Node> nodes = {
        {"", 'd', 0700, A, A, kProj, 02750, nullptr, false, true},
        {"a", 'f', 0600, A, A, kProj, 0640, nullptr, false, true},
        {".snapshot", 'd', 0700, A, A, A, 0700, nullptr, false, false},
        {".snapshot/s", 'f', 0600, A, A, A, 0600, nullptr, false, false},
    };
    nodes = BuildTree(root, nodes);
    auto before = SnapshotTree(root);
    Result r = RunEngine({"-c", cfg, root});
    ASSERT_EQ(r.status, 0) << r.err;
    ExpectSameTree(before, SnapshotTree(root));
    EXPECT_NE(r.out.find("group " + std::to_string(A) + " -> " + std::to_string(kProj) + " " +
                         root + "/a rule=" + kAliceRule + "\n"),
              std::string::npos)
        << r.out;
    EXPECT_TRUE(ParseSummary(r.err).dry) << r.err;

    r = RunEngine({"-c", cfg, "--set", "repair.dry_run=false", root});
    ASSERT_EQ(r.status, 0) << r.err;
    ExpectTreeAsWanted(root, nodes);
}

TEST_F(RepairTest, DryRunWithLogWritesTheLogNotStdout)
{
    std::string root = proj_ + "/tree";
    auto nodes = BuildTree(root, MainTree());
    auto before = SnapshotTree(root);
    std::string log = out_ + "/dry.csv";
    auto cfg = Pipeline("drylog", MainOptions(root, ", log: \"" + log + "\""));

    Result r = RunEngine({"-c", cfg, root});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "");
    ExpectSameTree(before, SnapshotTree(root));
    auto got = ParseCsvLog(MustRead(log));
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, ExpectedLog(root, nodes));
}

TEST_F(RepairTest, NothingSuitableAboveIsReportedAndLeftAlone)
{
    // base is root:0 and /tmp root:0: no project group anywhere above
    std::string root = base_ + "/orphan";
    std::vector<Node> nodes = {
        {"", 'd', 0700, A, A, A, 0700, "no-project-group", false, true},
        {"a", 'f', 0600, A, A, A, 0600, "no-project-group", false, true},
        {"z", 'f', 0600, A, 0, 0, 0600, "no-project-group", false, true},
        // a project group inside still serves the entries below it
        {"p", 'd', 0700, A, kProj2, kProj2, 02750, nullptr, false, true},
        {"p/b", 'f', 0600, A, A, kProj2, 0640, nullptr, false, true},
    };
    nodes = BuildTree(root, nodes);
    std::string log = out_ + "/orphan.csv";
    auto cfg = Pipeline("orphan", "{dry_run: false, log: \"" + log + "\"}");

    Result r = RunEngine({"-c", cfg, root});
    ASSERT_EQ(r.status, 0) << r.err;
    ExpectTreeAsWanted(root, nodes);
    auto got = ParseCsvLog(MustRead(log));
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, ExpectedLog(root, nodes));
    Summary s = ParseSummary(r.err);
    EXPECT_EQ(s.reasons["no-project-group"], 3u) << r.err;
}

TEST_F(RepairTest, ForceGroupWritableKeepsSetgid)
{
    std::string root = proj_ + "/w";
    std::vector<Node> nodes = {
        {"", 'd', 02750, A, kProj, kProj, 02770, nullptr, false, true},
        {"d", 'd', 0700, A, A, kProj, 02770, nullptr, false, true},
        {"d/f", 'f', 0600, A, A, kProj, 0660, nullptr, false, true},
        {"x", 'f', 0700, A, A, kProj, 0770, nullptr, false, true},
    };
    nodes = BuildTree(root, nodes);
    auto cfg = Pipeline("gw", "{dry_run: false, force_group_writable: true}");
    Result r = RunEngine({"-c", cfg, root});
    ASSERT_EQ(r.status, 0) << r.err;
    ExpectTreeAsWanted(root, nodes);
}

TEST_F(RepairTest, MirrorUserExecOff)
{
    std::string root = proj_ + "/m";
    std::vector<Node> nodes = {
        {"", 'd', 0700, A, kProj, kProj, 02750, nullptr, false, true},
        {"x", 'f', 0700, A, A, kProj, 0740, nullptr, false, true},
        {"y", 'f', 0600, A, A, kProj, 0640, nullptr, false, true},
    };
    nodes = BuildTree(root, nodes);
    auto cfg = Pipeline("mx", "{dry_run: false, mirror_user_exec: false}");
    Result r = RunEngine({"-c", cfg, root});
    ASSERT_EQ(r.status, 0) << r.err;
    ExpectTreeAsWanted(root, nodes);
}

TEST_F(RepairTest, RootThatIsAFile)
{
    std::string f = proj_ + "/lonely";
    MakeFile(f, 0600, A, A);
    auto cfg = Pipeline("file", "{dry_run: false}");
    Result r = RunEngine({"-c", cfg, f});
    ASSERT_EQ(r.status, 0) << r.err;
    struct stat st;
    ASSERT_EQ(lstat(f.c_str(), &st), 0);
    EXPECT_EQ(st.st_gid, kProj);
    EXPECT_EQ(Octal(st.st_mode & 07777), "0640");
}

TEST_F(RepairTest, RefusedWithoutAllowMutation)
{
    std::string root = proj_ + "/tree";
    BuildTree(root, MainTree());
    auto before = SnapshotTree(root);
    auto cfg = Pipeline("refused", "{dry_run: false}", /*allow_mutation=*/false);
    Result r = RunEngine({"-c", cfg, root});
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("allow_mutation: true"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("repair-action"), std::string::npos) << r.err;
    // names the sink's place in the file, like every other config error
    EXPECT_NE(r.err.find(cfg + ":"), std::string::npos) << r.err;
    EXPECT_TRUE(std::regex_search(r.err, std::regex(":[0-9]+:[0-9]+: sink '"))) << r.err;
    ExpectSameTree(before, SnapshotTree(root));
}

// The change log names what sits in 0700 directories: as root it is 0600
// unless the mode option says otherwise (it was 0600 from mkstemp by
// accident, and is now the rule every output follows); a bad mode is a
// config error before anything is touched.
TEST_F(RepairTest, TheLogIs0600AsRootUnlessModeSaysOtherwise)
{
    std::string root = proj_ + "/tree";
    MakeDir(root, 0700, A, A);
    for (auto [opt, want] : std::vector<std::pair<std::string, unsigned>>{
             {"", geteuid() == 0 ? 0600u : 0},
             {", mode: \"0640\"", 0640u}}) {
        std::string log = out_ + "/log.csv";
        unlink(log.c_str());
        auto cfg = Pipeline("mode", "{log: \"" + log + "\"" + opt + "}");
        Result r = RunEngine({"-c", cfg, root});
        ASSERT_EQ(r.status, 0) << r.err;
        struct stat st;
        ASSERT_EQ(stat(log.c_str(), &st), 0);
        if (want)
            EXPECT_EQ(st.st_mode & 0777, want) << opt;
    }
    std::string never = out_ + "/never.csv";
    auto cfg = Pipeline("badmode", "{log: \"" + never + "\", mode: \"rw\"}");
    Result r = RunEngine({"-c", cfg, root});
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("mode: 'rw' is not octal permission bits"), std::string::npos) << r.err;
    EXPECT_FALSE(Exists(never));
}

TEST_F(RepairTest, UnknownGroupNameIsAConfigError)
{
    std::string root = proj_ + "/tree";
    MakeDir(root, 0700, A, A);
    auto before = SnapshotTree(root);
    std::string log = out_ + "/never.csv";
    auto cfg = Pipeline("badgroup", "{dry_run: false, change_gids: [no-such-group-xq7], log: \"" +
                                        log + "\"}");
    Result r = RunEngine({"-c", cfg, root});
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("no-such-group-xq7"), std::string::npos) << r.err;
    ExpectSameTree(before, SnapshotTree(root));
    EXPECT_FALSE(Exists(log));
}

// Real accounts, made for this test and removed after it (useradd and
// groupadd from Debian's passwd): users with private groups whose gid equals
// the uid (carol) or not (dana, as `useradd -U` gives when the uid's number
// is taken as a gid), a project group, a group listed in change_gids by
// NAME, a project group whose gid equals a user's uid (erin's), a group
// named like its user but with another member (frank's), and one named
// like a user whose primary group it is not (gina's).
struct TestAccounts {
    static constexpr uid_t kCarol = 39001;       // her private group: 39001
    static constexpr uid_t kDana = 39002;        // her private group: 39101
    static constexpr gid_t kDanaGroup = 39101;
    static constexpr uid_t kErin = 39003;        // her private group: 39103
    static constexpr gid_t kErinProj = 39003;    // a project group, gid == erin's uid
    static constexpr gid_t kFrankGroup = 39104;  // pwtest-frank, carol a member too
    static constexpr gid_t kGinaGroup = 39105;   // pwtest-gina, not gina's primary
    static constexpr gid_t kTeam = 39100;        // the project group
    static constexpr gid_t kLegacy = 39200;      // listed by name
    bool ok = false;
    TestAccounts()
    {
        Remove();  // a run killed before its cleanup
        ok = Sh("groupadd -g 39001 pwtest-carol") && Sh("groupadd -g 39100 pwtest-team") &&
             Sh("groupadd -g 39200 pwtest-legacy") && Sh("groupadd -g 39101 pwtest-dana") &&
             Sh("groupadd -g 39103 pwtest-erin") && Sh("groupadd -g 39003 pwtest-erinproj") &&
             Sh("groupadd -g 39104 pwtest-frank") && Sh("groupadd -g 39105 pwtest-gina") &&
             Sh("useradd -M -N -s /usr/sbin/nologin -u 39001 -g 39001 "
                "-G pwtest-team,pwtest-frank pwtest-carol") &&
             Sh("useradd -M -N -s /usr/sbin/nologin -u 39002 -g pwtest-dana pwtest-dana") &&
             Sh("useradd -M -N -s /usr/sbin/nologin -u 39003 -g 39103 -G pwtest-erinproj "
                "pwtest-erin") &&
             Sh("useradd -M -N -s /usr/sbin/nologin -u 39004 -g 39104 pwtest-frank") &&
             Sh("useradd -M -N -s /usr/sbin/nologin -u 39005 -g 39100 pwtest-gina");
    }
    ~TestAccounts() { Remove(); }
    static bool Sh(const std::string &cmd) { return Shell(cmd); }
    static void Remove()
    {
        for (const char *u : {"carol", "dana", "erin", "frank", "gina"})
            Sh(std::string("userdel pwtest-") + u);
        for (const char *g : {"carol", "team", "legacy", "dana", "erin", "erinproj", "frank",
                              "gina"})
            Sh(std::string("groupdel pwtest-") + g);
    }
};

TEST_F(RepairTest, RealUsersAndGroupsMadeForTheTest)
{
    if (access("/usr/sbin/useradd", X_OK) != 0 || geteuid() != 0)
        GTEST_SKIP() << "needs root and useradd (Debian's passwd package)";
    TestAccounts accounts;
    ASSERT_TRUE(accounts.ok) << "useradd/groupadd failed";
    struct passwd *pw = getpwnam("pwtest-dana");
    ASSERT_NE(pw, nullptr);
    ASSERT_EQ(pw->pw_uid, TestAccounts::kDana);
    ASSERT_EQ(pw->pw_gid, TestAccounts::kDanaGroup);
    const uid_t C = TestAccounts::kCarol, D = TestAccounts::kDana, E = TestAccounts::kErin;
    const gid_t T = TestAccounts::kTeam, L = TestAccounts::kLegacy;
    const gid_t DG = TestAccounts::kDanaGroup, EP = TestAccounts::kErinProj;
    const gid_t FG = TestAccounts::kFrankGroup, GG = TestAccounts::kGinaGroup;

    std::string root = proj_ + "/accounts";
    std::vector<Node> nodes = {
        {"", 'd', 0750, C, T, T, 02750, nullptr, false, true},
        {"private", 'f', 0600, C, C, T, 0640, nullptr, false, true},   // carol's, gid == uid
        {"dana", 'f', 0600, D, DG, T, 0640, nullptr, false, true},     // dana's, gid != uid
        {"danas", 'f', 0640, C, DG, T, 0640, nullptr, false, true},    // dana's on carol's file
        {"legacy", 'f', 0600, C, L, T, 0640, nullptr, false, true},    // listed by name
        {"shared", 'f', 0640, C, FG, FG, 0640, nullptr, false, true},  // another member
        {"ginas", 'f', 0640, C, GG, GG, 0640, nullptr, false, true},   // not gina's primary
        // a project group whose gid is erin's uid: kept, and it is the
        // nearest project group for the entries below it
        {"erinproj", 'd', 02750, E, EP, EP, 02750, nullptr, false, true},
        {"erinproj/mine", 'f', 0640, E, EP, EP, 0640, nullptr, false, true},
        {"erinproj/in", 'f', 0600, D, DG, EP, 0640, nullptr, false, true},
        {"sub", 'd', 0700, C, C, T, 02750, nullptr, false, true},
        {"sub/run.sh", 'f', 0700, C, 0, T, 0750, nullptr, false, true},  // root's group
    };
    nodes = BuildTree(root, nodes);
    auto before = SnapshotTree(root);

    // the dry run names the rule that decided every change
    auto dry = Pipeline("accounts-dry", "{change_gids: [pwtest-legacy]}");
    Result r = RunEngine({"-c", dry, root});
    ASSERT_EQ(r.status, 0) << r.err;
    ExpectSameTree(before, SnapshotTree(root));
    auto p = [&root](const char *rel) { return root + "/" + rel; };
    std::vector<std::string> want = {
        "setgid 0750 -> 2750 " + root + " rule=directory-setgid",
        "group 39001 -> 39100 " + p("private") + " rule=private-group(pwtest-carol)",
        "mode 0600 -> 0640 " + p("private") + " rule=group-read",
        "group 39101 -> 39100 " + p("dana") + " rule=private-group(pwtest-dana)",
        "mode 0600 -> 0640 " + p("dana") + " rule=group-read",
        "group 39101 -> 39100 " + p("danas") + " rule=private-group(pwtest-dana)",
        "group 39200 -> 39100 " + p("legacy") + " rule=change_gids",
        "mode 0600 -> 0640 " + p("legacy") + " rule=group-read",
        "group 39101 -> 39003 " + p("erinproj/in") + " rule=private-group(pwtest-dana)",
        "mode 0600 -> 0640 " + p("erinproj/in") + " rule=group-read",
        "group 39001 -> 39100 " + p("sub") + " rule=private-group(pwtest-carol)",
        "setgid 0700 -> 2700 " + p("sub") + " rule=directory-setgid",
        "mode 2700 -> 2750 " + p("sub") + " rule=group-read",
        "group 0 -> 39100 " + p("sub/run.sh") + " rule=root-group",
        "mode 0700 -> 0750 " + p("sub/run.sh") + " rule=group-read+mirror_user_exec",
    };
    auto got = Lines(r.out);
    std::sort(want.begin(), want.end());
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, want);

    // the real run does what the dry run said: every gid checked by lstat
    auto cfg = Pipeline("accounts", "{dry_run: false, change_gids: [pwtest-legacy]}");
    r = RunEngine({"-c", cfg, root});
    ASSERT_EQ(r.status, 0) << r.err;
    ExpectTreeAsWanted(root, nodes);
    got = Lines(r.out);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, want);
    // and a second run finds nothing left to do
    r = RunEngine({"-c", cfg, root});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "") << r.out;
}

// private_group: uid-equals-gid keeps the old rule for sites that rely on
// it: a gid equal to the entry owner's uid is private, names play no part.
TEST_F(RepairTest, LegacyUidEqualsGidRule)
{
    if (access("/usr/sbin/useradd", X_OK) != 0 || geteuid() != 0)
        GTEST_SKIP() << "needs root and useradd (Debian's passwd package)";
    TestAccounts accounts;
    ASSERT_TRUE(accounts.ok) << "useradd/groupadd failed";
    const uid_t C = TestAccounts::kCarol, D = TestAccounts::kDana, E = TestAccounts::kErin;
    const gid_t T = TestAccounts::kTeam, DG = TestAccounts::kDanaGroup;
    const gid_t EP = TestAccounts::kErinProj;
    std::string root = proj_ + "/legacy";
    std::vector<Node> nodes = {
        {"", 'd', 02750, C, T, T, 02750, nullptr, false, true},
        {"private", 'f', 0640, C, C, T, 0640, nullptr, false, true},  // gid == uid
        {"dana", 'f', 0640, D, DG, DG, 0640, nullptr, false, true},   // gid != uid: kept
        {"erins", 'f', 0640, E, EP, T, 0640, nullptr, false, true},   // gid == uid: moved
        {"other", 'f', 0640, C, 31999, 31999, 0640, nullptr, false, true},
    };
    nodes = BuildTree(root, nodes);
    auto cfg = Pipeline("legacy", "{dry_run: false, private_group: uid-equals-gid}");
    Result r = RunEngine({"-c", cfg, root});
    ASSERT_EQ(r.status, 0) << r.err;
    ExpectTreeAsWanted(root, nodes);
    std::vector<std::string> want = {
        "group 39001 -> 39100 " + root + "/private rule=uid-equals-gid",
        "group 39003 -> 39100 " + root + "/erins rule=uid-equals-gid",
    };
    auto got = Lines(r.out);
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want);

    // an unknown value is a configuration error, before anything is touched
    auto bad = Pipeline("legacy-bad", "{dry_run: false, private_group: gid-equals-uid}");
    r = RunEngine({"-c", bad, root});
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("private_group"), std::string::npos) << r.err;
}

TEST_F(RepairTest, GroupNamesAreResolved)
{
    // any named group with a gid that is not 0 serves
    std::string name;
    gid_t gid = 0;
    setgrent();
    while (struct group *g = getgrent()) {
        if (g->gr_gid != 0 && g->gr_gid < 30000) {
            name = g->gr_name;
            gid = g->gr_gid;
            break;
        }
    }
    endgrent();
    if (name.empty())
        GTEST_SKIP() << "no named group on this system";
    std::string root = proj_ + "/named";
    std::vector<Node> nodes = {
        {"", 'd', 02750, A, kProj, kProj, 02750, nullptr, false, true},
        {"f", 'f', 0640, A, gid, kProj, 0640, nullptr, false, true},
    };
    nodes = BuildTree(root, nodes);
    auto cfg = Pipeline("named", "{dry_run: false, change_gids: [\"" + name + "\"]}");
    Result r = RunEngine({"-c", cfg, root});
    ASSERT_EQ(r.status, 0) << r.err;
    ExpectTreeAsWanted(root, nodes);
}

TEST_F(RepairTest, JsonLinesLogAndHostileNames)
{
    std::string root = proj_ + "/names";
    MakeDir(root, 02750, A, kProj);
    const std::vector<std::string> names = {"we\"ird,name", "back\\slash", "new\nline",
                                            std::string("\xff\xfe", 2), "\xc3\xbcn\xc3\xaf",
                                            "tab\there"};
    for (const auto &n : names)
        MakeFile(root + "/" + n, 0600, A, A);
    std::string log = out_ + "/changes.jsonl";
    auto cfg = Pipeline("json", "{dry_run: false, log: \"" + log + "\"}");
    Result r = RunEngine({"-c", cfg, root});
    ASSERT_EQ(r.status, 0) << r.err;

    auto got = ParseJsonLog(MustRead(log));
    std::vector<LogLine> want;
    for (const auto &n : names) {
        want.push_back({Lossless(root + "/" + n), "group", std::to_string(A),
                        std::to_string(kProj), kAliceRule});
        want.push_back({Lossless(root + "/" + n), "mode", "0600", "0640", "group-read"});
    }
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want);

    // and the same names in CSV, in a dry run
    std::string csv = out_ + "/names.csv";
    auto cfg2 = Pipeline("csvnames", "{log: \"" + csv + "\"}");
    for (const auto &n : names)
        MakeFile(root + "/" + n, 0600, A, A);
    r = RunEngine({"-c", cfg2, root});
    ASSERT_EQ(r.status, 0) << r.err;
    got = ParseCsvLog(MustRead(csv));
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, want);
}

TEST_F(RepairTest, LogRemovedWhenTheRunFails)
{
    std::string root = proj_ + "/tree";
    MakeDir(root, 0700, A, A);
    auto before = SnapshotTree(root);
    std::string log = out_ + "/fail.csv";
    // the second sink cannot create its output: the run fails before the walk
    std::string bad = "  - name: report\n    plugin: csv\n    options: {path: \"" + base_ +
                      "/no/such/dir/scan.csv\"}\n";
    auto cfg = Pipeline("fail", "{dry_run: false, log: \"" + log + "\"}", true, bad);
    Result r = RunEngine({"-c", cfg, root});
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.status, 1);
    ExpectSameTree(before, SnapshotTree(root));
    DIR *d = opendir(out_.c_str());
    ASSERT_NE(d, nullptr);
    while (struct dirent *de = readdir(d))
        EXPECT_NE(strncmp(de->d_name, "fail.csv", 8), 0) << "left behind: " << de->d_name;
    closedir(d);
    EXPECT_FALSE(Exists(log));
}

TEST_F(RepairTest, RepairAndReportInOneWalk)
{
    std::string root = proj_ + "/both";
    std::vector<Node> nodes = {
        {"", 'd', 0700, A, A, kProj, 02750, nullptr, false, true},
        {"a", 'f', 0600, A, A, kProj, 0640, nullptr, false, true},
        {"b", 'd', 0700, B, B, kProj, 02750, nullptr, false, true},
        {"b/c", 'f', 0644, B, 0, kProj, 0644, nullptr, false, true},
    };
    nodes = BuildTree(root, nodes);
    std::string report = out_ + "/scan.csv";
    std::string sink = "  - name: report\n    plugin: csv\n    options: {path: \"" + report +
                       "\", header: true}\n";
    auto cfg = Pipeline("both", "{dry_run: false}", true, sink);
    Result r = RunEngine({"-c", cfg, root});
    ASSERT_EQ(r.status, 0) << r.err;
    ExpectTreeAsWanted(root, nodes);
    auto rows = Lines(MustRead(report));
    EXPECT_EQ(rows.size(), 1 + nodes.size()) << "header + one row per entry";
}

TEST_F(RepairTest, ManyThreadsBigTree)
{
    std::string root = proj_ + "/big";
    MakeDir(root, 0700, A, A);
    size_t entries = 1, want_groups = 1;
    for (int d = 0; d < 60; d++) {
        std::string dir = root + "/d" + std::to_string(d);
        MakeDir(dir, 0700, d % 2 ? A : B, d % 2 ? A : B);
        entries++, want_groups++;
        for (int f = 0; f < 25; f++) {
            MakeFile(dir + "/f" + std::to_string(f), 0600, A, f % 3 ? A : kProj);
            entries++;
            want_groups += f % 3 != 0;
        }
    }
    std::string log = out_ + "/big.csv";
    auto cfg = Pipeline("big", "{dry_run: false, log: \"" + log + "\"}", true, "", 4);
    Result r = RunEngine({"-c", cfg, root});
    ASSERT_EQ(r.status, 0) << r.err;
    Summary s = ParseSummary(r.err);
    EXPECT_EQ(s.examined, entries);
    EXPECT_EQ(s.group, want_groups);
    auto lines = ParseCsvLog(MustRead(log));
    size_t groups = 0;
    for (const auto &l : lines)
        groups += l.what == "group";
    EXPECT_EQ(groups, want_groups) << "every change is one whole log line";
    for (const auto &kv : SnapshotTree(root)) {
        EXPECT_EQ(kv.second.gid, kProj) << kv.first;
        EXPECT_TRUE(kv.second.mode & S_IRGRP) << kv.first;
    }
}

TEST_F(RepairTest, OtherFilesystemIsSkipped)
{
    std::string root = proj_ + "/fs";
    MakeDir(root, 0700, A, A);
    std::string mnt = root + "/mnt";
    MakeDir(mnt, 0700, A, A);
    MakeFile(root + "/here", 0600, A, A);
    auto under_before = SnapshotTree(mnt);
    std::string log = out_ + "/fs.csv";
    auto cfg = Pipeline("fs", "{dry_run: false, log: \"" + log + "\"}");
    // a tmpfs on mnt, in a mount namespace of the engine's own, so nothing
    // is left mounted whatever happens
    Options o;
    o.in_child = [&] {
        if (unshare(CLONE_NEWNS) != 0 ||
            mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            mount("tmpfs", mnt.c_str(), "tmpfs", 0, "mode=0700") != 0)
            _exit(77);
        std::string f = mnt + "/f";
        int fd = open(f.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        if (fd < 0 || fchown(fd, A, A) != 0 || chown(mnt.c_str(), A, A) != 0)
            _exit(77);
        close(fd);
    };
    Result r = RunEngine({"-c", cfg, root}, o);
    if (r.status == 77)
        GTEST_SKIP() << "cannot mount a tmpfs in a new mount namespace here";
    ASSERT_EQ(r.status, 0) << r.err;
    auto got = ParseCsvLog(MustRead(log));
    std::set<std::string> skipped;
    for (const auto &l : got)
        if (l.what == "skip" && l.old_value == "other-filesystem")
            skipped.insert(l.path);
    EXPECT_EQ(skipped, (std::set<std::string>{mnt, mnt + "/f"}));
    struct stat st;
    ASSERT_EQ(lstat((root + "/here").c_str(), &st), 0);
    EXPECT_EQ(st.st_gid, kProj);
    ExpectSameTree(under_before, SnapshotTree(mnt));
}

// The immutable attribute, set through the ioctl chattr uses (the numbers
// from <linux/fs.h>, which clashes with <sys/mount.h>).
constexpr unsigned long kGetFlags = _IOR('f', 1, long);
constexpr unsigned long kSetFlags = _IOW('f', 2, long);
constexpr int kImmutable = 0x10;

bool SetImmutable(const std::string &path, bool on)
{
    int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return false;
    int flags = 0;
    bool ok = ioctl(fd, kGetFlags, &flags) == 0;
    if (ok) {
        flags = on ? flags | kImmutable : flags & ~kImmutable;
        ok = ioctl(fd, kSetFlags, &flags) == 0;
    }
    close(fd);
    return ok;
}

// A change the kernel refuses is an entry error: counted, in the log, in
// the engine's error count (exit status 1); the rest of the tree is done.
TEST_F(RepairTest, ErrorsAreCountedAndExitStatusIsOne)
{
    std::string root = proj_ + "/err";
    std::vector<Node> nodes = {
        {"", 'd', 0700, A, A, kProj, 02750, nullptr, false, true},
        {"ok", 'f', 0600, A, A, kProj, 0640, nullptr, false, true},
        {"stuck", 'f', 0600, A, A, A, 0600, nullptr, false, true},
    };
    nodes = BuildTree(root, nodes);
    std::string stuck = root + "/stuck";
    if (!SetImmutable(stuck, true))
        GTEST_SKIP() << "cannot set the immutable attribute here";
    std::string log = out_ + "/err.csv";
    auto cfg = Pipeline("err", "{dry_run: false, log: \"" + log + "\"}");
    Result r = RunEngine({"-c", cfg, root});
    SetImmutable(stuck, false);
    EXPECT_EQ(r.status, 1) << r.err;
    ExpectTreeAsWanted(root, nodes);
    Summary s = ParseSummary(r.err);
    EXPECT_EQ(s.errors, 1u) << r.err;
    bool logged = false;
    for (const auto &l : ParseCsvLog(MustRead(log)))
        logged |= l.path == stuck && l.what == "error" && l.old_value == "repair: chown";
    EXPECT_TRUE(logged);
}

// ---- the attack --------------------------------------------------------------------

// renameat2(RENAME_EXCHANGE): swaps two names atomically, in one syscall,
// so a name flips between two inodes as fast as the machine allows.
int Exchange(const char *a, const char *b)
{
    return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, 2 /* RENAME_EXCHANGE */);
}

// One attacker: as the tree's unprivileged owner, flips names in the tree
// between a file of its own that needs repair and (a) a symlink to a
// root-owned file outside, (b) a hard link to another root-owned file
// (made by root beforehand: protected_hardlinks stops users making one),
// and flips a directory with a symlink to a root-owned directory.  Its own
// files are put back in need of repair through fds it holds, so every
// repair run meets them.  Never returns.
[[noreturn]] void Attack(const std::string &tree, const std::string &tag, int ready_fd)
{
    if (setgroups(0, nullptr) != 0 || setgid(kAlice) != 0 || setuid(kAlice) != 0 ||
        chdir(tree.c_str()) != 0)
        _exit(2);
    std::string v = "victim" + tag, s = "vsym" + tag, h = "hv" + tag, l = "hl" + tag,
                d = "vdir" + tag, dl = "vlink" + tag;
    int vfd = open(v.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int hfd = open(h.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (vfd < 0 || hfd < 0)
        _exit(3);
    if (write(ready_fd, "x", 1) != 1)
        _exit(4);
    for (unsigned long i = 0;; i++) {
        Exchange(v.c_str(), s.c_str());
        Exchange(h.c_str(), l.c_str());
        Exchange(d.c_str(), dl.c_str());
        if (i % 16 == 0) {
            // private group and no group read again: the repair wants them
            fchown(vfd, (uid_t)-1, kAlice);
            fchmod(vfd, 0600);
            fchown(hfd, (uid_t)-1, kAlice);
            fchmod(hfd, 0600);
        }
    }
}

// Root runs the repair again and again while the attackers flip names;
// nothing outside the tree may ever change.
TEST_F(RepairTest, AttackerSwapsNeverReachTheCanaries)
{
    std::string canary_sym = base_ + "/canary-sym";
    std::string canary_hl = base_ + "/canary-hl";
    std::string canary_dir = base_ + "/canary-dir";
    MakeFile(canary_sym, 0600, 0, 0);
    MakeFile(canary_hl, 0600, 0, 0);
    MakeDir(canary_dir, 0700, 0, 0);
    MakeFile(canary_dir + "/inner", 0600, 0, 0);

    std::string tree = proj_ + "/tree";
    MakeDir(tree, 0700, A, A);
    // many ordinary files: a directory's rows are handed over in one batch
    // after all its names were stat'ed, which widens the window between
    // the walk's lstat and the repair for a checker that re-resolves names
    for (int i = 0; i < 200; i++)
        MakeFile(tree + "/filler" + std::to_string(i), 0640, A, kProj);
    const int kAttackers = 2;
    for (int k = 0; k < kAttackers; k++) {
        std::string t = std::to_string(k);
        MakeFile(tree + "/victim" + t, 0600, A, A);
        MakeSymlink(canary_sym, tree + "/vsym" + t, A, A);
        MakeFile(tree + "/hv" + t, 0600, A, A);
        ASSERT_EQ(link(canary_hl.c_str(), (tree + "/hl" + t).c_str()), 0);
        MakeDir(tree + "/vdir" + t, 0700, A, A);
        MakeFile(tree + "/vdir" + t + "/inner", 0600, A, A);  // as in canary-dir
        MakeSymlink(canary_dir, tree + "/vlink" + t, A, A);
    }

    auto snap = [&](const std::string &p) {
        struct stat st;
        if (lstat(p.c_str(), &st) != 0)
            throw std::runtime_error("lstat " + p);
        return SnapOf(st);
    };
    const Snap sym0 = snap(canary_sym), dir0 = snap(canary_dir),
               inner0 = snap(canary_dir + "/inner"), hl0 = snap(canary_hl);

    std::vector<pid_t> attackers;
    for (int k = 0; k < kAttackers; k++) {
        int ready[2];
        ASSERT_EQ(pipe(ready), 0);
        fflush(nullptr);
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            close(ready[0]);
            Attack(tree, std::to_string(k), ready[1]);
        }
        attackers.push_back(pid);
        close(ready[1]);
        char c;
        ASSERT_EQ(read(ready[0], &c, 1), 1) << "attacker " << k << " did not start";
        close(ready[0]);
    }

    auto cfg = Pipeline("attack", "{dry_run: false}");
    unsigned long long groups = 0, modes = 0, hardlinks = 0, dodged = 0;
    const int kRuns = 50;
    for (int run = 0; run < kRuns; run++) {
        Result r = RunEngine({"-c", cfg, tree});
        // 1: a name was between two inodes when the walk looked
        EXPECT_TRUE(r.status == 0 || r.status == 1) << r.status << "\n" << r.err;
        Summary s = ParseSummary(r.err);
        EXPECT_TRUE(s.found) << r.err;
        groups += s.group;
        modes += s.mode;
        hardlinks += s.reasons["hardlink"];
        dodged += s.reasons["symlink"] + s.reasons["changed"] + s.reasons["unreadable"];
        for (pid_t pid : attackers) {
            int ws;
            ASSERT_EQ(waitpid(pid, &ws, WNOHANG), 0) << "an attacker stopped";
        }
        EXPECT_TRUE(snap(canary_sym) == sym0)
            << "run " << run << ": " << Describe(snap(canary_sym));
        EXPECT_TRUE(snap(canary_dir) == dir0)
            << "run " << run << ": " << Describe(snap(canary_dir));
        EXPECT_TRUE(snap(canary_dir + "/inner") == inner0)
            << "run " << run << ": " << Describe(snap(canary_dir + "/inner"));
        // the attackers' renames move the hard-linked canary's ctime:
        // compare what a repair would change
        Snap hl = snap(canary_hl);
        EXPECT_EQ(hl.uid, hl0.uid);
        EXPECT_EQ(hl.gid, hl0.gid) << "run " << run;
        EXPECT_EQ(Octal(hl.mode & 07777), Octal(hl0.mode & 07777)) << "run " << run;
        if (HasFailure())
            break;
    }
    for (pid_t pid : attackers) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
    }

    // the runs really were in the thick of it: they repaired the
    // attackers' files and met the swapped-in links
    EXPECT_GT(groups, 0u);
    EXPECT_GT(hardlinks, 0u);
    EXPECT_GT(dodged, 0u);
    printf("attack: %d runs, %llu group and %llu mode changes, %llu hard links skipped, "
           "%llu symlinks or swaps dodged\n",
           kRuns, groups, modes, hardlinks, dodged);
}

}  // namespace
