// faults_util.h -- what the fault tests share: running the real
// pwalk-engine binary as a child process, temporary trees and mounts, and
// reading back its outputs (the CSV report, the error file, the summary
// line on stderr) with parsers written independently of the engine's code.
#ifndef PWALK_TESTS_FAULTS_UTIL_H
#define PWALK_TESTS_FAULTS_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace faults {

inline double Now()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

inline std::string Runfile(const std::string &rel)
{
    const char *srcdir = getenv("TEST_SRCDIR");
    return std::string(srcdir ? srcdir : ".") + "/pwalk/" + rel;
}

inline std::string Engine() { return Runfile("pwalk-engine"); }
inline std::string FixtureDir() { return Runfile("tests/faults/fixtures"); }

inline std::string ReadFile(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline void WriteFile(const std::string &path, const std::string &data)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << data;
}

inline bool Exists(const std::string &path)
{
    struct stat st;
    return lstat(path.c_str(), &st) == 0;
}

// Names in dir (no . and ..), sorted.
inline std::vector<std::string> ListDir(const std::string &dir)
{
    std::vector<std::string> out;
    DIR *d = opendir(dir.c_str());
    if (!d)
        return out;
    while (struct dirent *e = readdir(d))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            out.push_back(e->d_name);
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

// Remove the tree at path without building long paths and with two fds
// at most: the deep-tree test makes trees whose paths no syscall accepts
// and which are deeper than the open-file limit.  Goes down by name and
// back up by "..", keeping only the names on the way down.
inline void RemoveTree(const std::string &path)
{
    if (unlink(path.c_str()) == 0 || errno == ENOENT)
        return;
    int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    std::vector<std::string> down;
    for (;;) {
        fchmod(fd, 0700);
        int dfd = dup(fd);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : nullptr;
        std::string sub;
        while (d) {
            struct dirent *e = readdir(d);
            if (!e)
                break;
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            if (unlinkat(fd, e->d_name, 0) == 0)
                continue;
            if (unlinkat(fd, e->d_name, AT_REMOVEDIR) == 0)
                continue;
            sub = e->d_name;  // a non-empty directory: go down
            break;
        }
        if (d)
            closedir(d);
        if (!sub.empty()) {
            int nfd = openat(fd, sub.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (nfd >= 0) {
                close(fd);
                fd = nfd;
                down.push_back(sub);
                continue;
            }
        }
        if (down.empty())
            break;
        int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        close(fd);
        if (up < 0)
            return;
        fd = up;
        unlinkat(fd, down.back().c_str(), AT_REMOVEDIR);
        down.pop_back();
    }
    close(fd);
    rmdir(path.c_str());
}

// A scratch directory, removed (with whatever was mounted on it unmounted)
// when the test ends.
class TempDir {
  public:
    // base: where to make it (default $TEST_TMPDIR, else /tmp); tests that
    // run the engine as another user pass "/tmp", which that user can reach.
    explicit TempDir(const char *tag = "fault", const char *base = nullptr)
    {
        if (!base)
            base = getenv("TEST_TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/pwalk-" + tag + "-XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (mkdtemp(buf.data()))
            path_ = buf.data();
    }
    ~TempDir()
    {
        for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it)
            umount2(it->c_str(), MNT_DETACH);
        if (!path_.empty())
            RemoveTree(path_);
    }
    const std::string &path() const { return path_; }
    std::string operator/(const std::string &rel) const { return path_ + "/" + rel; }

    // Mount a tmpfs at rel (created); 0 or errno.  Unmounted at the end.
    int MountTmpfs(const std::string &rel, const std::string &options)
    {
        std::string at = path_ + "/" + rel;
        mkdir(at.c_str(), 0755);
        if (mount("tmpfs", at.c_str(), "tmpfs", 0, options.c_str()) != 0)
            return errno;
        mounts_.push_back(at);
        return 0;
    }

  private:
    std::string path_;
    std::vector<std::string> mounts_;
};

// ---- running the engine ----------------------------------------------------

struct Result {
    int status = -1;        // exit status, or 128+N when killed by signal N
    bool signaled = false;  // died of a signal (a crash unless we sent it)
    int signal = 0;
    bool timed_out = false;
    std::string out, err;
    double seconds = 0;
    std::string Describe() const
    {
        std::ostringstream s;
        s << "status " << status << (signaled ? " (signal " + std::to_string(signal) + ")" : "")
          << (timed_out ? " TIMED OUT" : "") << "\n--- stderr ---\n";
        // a sanitizer's report is at the end of a possibly long stderr
        if (err.size() <= 12000)
            s << err;
        else
            s << err.substr(0, 3000) << "\n[... " << err.size() - 12000 << " bytes ...]\n"
              << err.substr(err.size() - 9000);
        s << "\n--- stdout (first 1000 bytes) ---\n"
          << out.substr(0, 1000);
        return s.str();
    }
};

struct Options {
    std::string cwd;                    // default: the test's cwd
    std::vector<std::string> env;       // extra NAME=VALUE
    std::vector<std::string> unset;     // variables to remove
    double timeout = 300;               // seconds, then SIGKILL
    uid_t uid = 0;                      // run as this user when non-zero
    gid_t gid = 0;
    std::string out_file, err_file;     // default: files in a private dir
    rlim_t nofile = 0;                  // open-file limit (0: inherited)
    std::string engine;                 // default: Engine()
};

// A started engine; Wait() collects it.
class Child {
  public:
    Child() = default;
    Child(const Child &) = delete;
    ~Child()
    {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        if (!io_dir_.empty()) {
            unlink(out_.c_str());
            unlink(err_.c_str());
            rmdir(io_dir_.c_str());
        }
    }

    bool Start(const std::vector<std::string> &args, const Options &o = Options())
    {
        char tmpl[] = "/tmp/pwalk-io-XXXXXX";
        if (!mkdtemp(tmpl))
            return false;
        io_dir_ = tmpl;
        chmod(io_dir_.c_str(), 0777);  // also writable when run as nobody
        out_ = o.out_file.empty() ? io_dir_ + "/stdout" : o.out_file;
        err_ = o.err_file.empty() ? io_dir_ + "/stderr" : o.err_file;
        timeout_ = o.timeout;
        std::vector<std::string> argv = {o.engine.empty() ? Engine() : o.engine};
        argv.insert(argv.end(), args.begin(), args.end());
        fflush(nullptr);
        start_ = Now();
        pid_ = fork();
        if (pid_ < 0)
            return false;
        if (pid_ == 0) {
            if (!o.cwd.empty() && chdir(o.cwd.c_str()) != 0)
                _exit(120);
            for (const std::string &u : o.unset)
                unsetenv(u.c_str());
            for (const std::string &e : o.env)
                putenv(strdup(e.c_str()));
            int out = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
            int err = open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
            if (out < 0 || err < 0)
                _exit(121);
            dup2(out, 1);
            dup2(err, 2);
            if (o.nofile) {
                struct rlimit rl = {o.nofile, o.nofile};
                setrlimit(RLIMIT_NOFILE, &rl);
            }
            if (o.uid && (setgroups(0, nullptr), setgid(o.gid) != 0 || setuid(o.uid) != 0))
                _exit(122);
            // a clean signal state: the test harness may block or ignore some
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, nullptr);
            signal(SIGINT, SIG_DFL);
            signal(SIGTERM, SIG_DFL);
            std::vector<char *> av;
            for (const std::string &a : argv)
                av.push_back(const_cast<char *>(a.c_str()));
            av.push_back(nullptr);
            execv(av[0], av.data());
            _exit(127);
        }
        return true;
    }

    pid_t pid() const { return pid_; }
    double Elapsed() const { return Now() - start_; }

    // Non-blocking: has it exited?
    bool Exited(Result *r)
    {
        int st;
        pid_t got = waitpid(pid_, &st, WNOHANG);
        if (got != pid_)
            return false;
        Collect(st, r);
        return true;
    }

    Result Wait()
    {
        Result r;
        for (;;) {
            if (Exited(&r))
                return r;
            if (Elapsed() > timeout_) {
                kill(pid_, SIGKILL);
                int st;
                waitpid(pid_, &st, 0);
                Collect(st, &r);
                r.timed_out = true;
                return r;
            }
            usleep(2000);
        }
    }

  private:
    void Collect(int st, Result *r)
    {
        r->seconds = Now() - start_;
        pid_ = -1;
        if (WIFEXITED(st)) {
            r->status = WEXITSTATUS(st);
        } else if (WIFSIGNALED(st)) {
            r->signaled = true;
            r->signal = WTERMSIG(st);
            r->status = 128 + r->signal;
        }
        r->out = ReadFile(out_);
        r->err = ReadFile(err_);
    }

    pid_t pid_ = -1;
    std::string io_dir_, out_, err_;
    double start_ = 0, timeout_ = 300;
};

inline Result RunEngine(const std::vector<std::string> &args, const Options &o = Options())
{
    Child c;
    if (!c.Start(args, o)) {
        Result r;
        r.err = "could not start the engine";
        return r;
    }
    return c.Wait();
}

// ---- reading the outputs ---------------------------------------------------

// The end-of-scan summary line:
//   pwalk: E entries in S s (R/s): N rows, X errors (KINDS)[, V vanished
//   (gone G, replaced R)], F filtered (REASONS); sink 'NAME': N rows; ...
struct Summary {
    bool found = false;
    unsigned long long entries = 0, rows = 0, errors = 0, filtered = 0, vanished = 0;
    std::map<std::string, unsigned long long> sink_rows;
    std::vector<std::string> sink_order;
    std::string line;
};

inline Summary ParseSummary(const std::string &err)
{
    static const std::regex re(
        "^pwalk: ([0-9]+) entries in [0-9.]+ s \\([^)]*/s\\): ([0-9]+) rows, ([0-9]+) errors"
        "(?: \\(([^)]*)\\))?(?:, ([0-9]+) vanished(?: \\([^)]*\\))?)?, ([0-9]+) filtered"
        "(?: \\(([^)]*)\\))?((?:; sink '[^']*': [0-9]+ rows)*)$");
    static const std::regex sink_re("; sink '([^']*)': ([0-9]+) rows");
    Summary s;
    std::istringstream in(err);
    std::string line;
    while (std::getline(in, line)) {
        std::smatch m;
        if (!std::regex_match(line, m, re))
            continue;
        s.found = true;
        s.line = line;
        s.entries = std::stoull(m[1]);
        s.rows = std::stoull(m[2]);
        s.errors = std::stoull(m[3]);
        s.vanished = m[5].matched ? std::stoull(m[5]) : 0;
        s.filtered = std::stoull(m[6]);
        std::string sinks = m[8];
        for (std::sregex_iterator it(sinks.begin(), sinks.end(), sink_re), end; it != end;
             ++it) {
            s.sink_rows[(*it)[1]] = std::stoull((*it)[2]);
            s.sink_order.push_back((*it)[1]);
        }
    }
    return s;
}

// One CSV record per line (the report's fields never hold a raw newline);
// quoted fields are returned with the quotes removed and "" collapsed.
// Returns false on a malformed line (an unbalanced quote, junk after one).
inline bool SplitCsvLine(const std::string &line, std::vector<std::string> *fields)
{
    fields->clear();
    size_t i = 0, n = line.size();
    for (;;) {
        std::string f;
        if (i < n && line[i] == '"') {
            i++;
            for (;;) {
                if (i >= n)
                    return false;
                if (line[i] == '"') {
                    if (i + 1 < n && line[i + 1] == '"') {
                        f += '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                f += line[i++];
            }
            if (i < n && line[i] != ',')
                return false;
        } else {
            while (i < n && line[i] != ',') {
                if (line[i] == '"')
                    return false;
                f += line[i++];
            }
        }
        fields->push_back(f);
        if (i >= n)
            return true;
        i++;  // the comma
    }
}

struct Csv {
    bool ok = true;
    std::string problem;
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
};

// Read a CSV file; every line must have `columns` fields.
inline Csv ReadCsv(const std::string &path, size_t columns, bool has_header = true)
{
    Csv c;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        c.ok = false;
        c.problem = "cannot open " + path;
        return c;
    }
    std::string line;
    size_t lineno = 0;
    std::vector<std::string> f;
    while (std::getline(in, line)) {
        lineno++;
        if (!SplitCsvLine(line, &f) || f.size() != columns) {
            if (c.ok)
                c.problem = path + ":" + std::to_string(lineno) + ": malformed (" +
                            std::to_string(f.size()) + " fields): " + line.substr(0, 300);
            c.ok = false;
            continue;
        }
        if (has_header && lineno == 1)
            c.header = f;
        else
            c.rows.push_back(f);
    }
    return c;
}

// Undo the report's lossless escaping (after quote removal): "\\" -> '\',
// "\xHH" -> the byte.  False on anything else after a backslash.
inline bool Unescape(const std::string &in, std::string *out)
{
    out->clear();
    for (size_t i = 0; i < in.size(); i++) {
        if (in[i] != '\\') {
            *out += in[i];
            continue;
        }
        if (i + 1 < in.size() && in[i + 1] == '\\') {
            *out += '\\';
            i++;
            continue;
        }
        if (i + 3 < in.size() && in[i + 1] == 'x' && isxdigit((unsigned char)in[i + 2]) &&
            isxdigit((unsigned char)in[i + 3])) {
            *out += (char)std::stoi(in.substr(i + 2, 2), nullptr, 16);
            i += 3;
            continue;
        }
        return false;
    }
    return true;
}

// Strict UTF-8 (RFC 3629), as DuckDB requires.
inline bool ValidUtf8(const std::string &s)
{
    size_t i = 0, n = s.size();
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned cp, min;
        if ((c & 0xe0) == 0xc0)
            need = 1, cp = c & 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0)
            need = 2, cp = c & 0x0f, min = 0x800;
        else if ((c & 0xf8) == 0xf0)
            need = 3, cp = c & 0x07, min = 0x10000;
        else
            return false;
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= n || ((unsigned char)s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | ((unsigned char)s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += need + 1;
    }
    return true;
}

// Report columns (plugins/csv/FORMAT.md).
enum Col {
    kInode = 0, kParentInode, kDepth, kFilename, kExtension, kUid, kGid, kSize, kDev, kBlocks,
    kNlink, kMode, kAtime, kMtime, kCtime, kFcount, kDirsum, kColumns
};

// The error file: path,errno,error,operation,kind (kind: error, vanished
// or replaced).
struct ErrorRecord {
    std::string path, error, operation, kind;
    int error_number = 0;
};

inline bool ReadErrors(const std::string &path, std::vector<ErrorRecord> *out,
                       std::string *problem)
{
    Csv c = ReadCsv(path, 5);
    if (!c.ok) {
        *problem = c.problem;
        return false;
    }
    if (c.header != std::vector<std::string>{"path", "errno", "error", "operation", "kind"}) {
        *problem = "error file header is not path,errno,error,operation,kind";
        return false;
    }
    for (auto &f : c.rows) {
        ErrorRecord e;
        if (!Unescape(f[0], &e.path)) {
            *problem = "bad escape in error path " + f[0];
            return false;
        }
        e.error_number = atoi(f[1].c_str());
        e.error = f[2];
        e.operation = f[3];
        e.kind = f[4];
        if (e.kind != "error" && e.kind != "vanished" && e.kind != "replaced") {
            *problem = "unknown kind " + e.kind + " in the error file";
            return false;
        }
        out->push_back(e);
    }
    return true;
}

// Lines of stderr that are messages (not the summary and not its follow-up
// "pwalk: PATH: error" lines).
inline std::vector<std::string> Lines(const std::string &text)
{
    std::vector<std::string> v;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        v.push_back(line);
    return v;
}

// Files in dir whose names are the outputs' temporary names.
inline std::vector<std::string> TempOutputs(const std::string &dir)
{
    std::vector<std::string> v;
    for (const std::string &n : ListDir(dir))
        if (n.find(".pwalk-tmp-") != std::string::npos)
            v.push_back(n);
    return v;
}

inline std::string Join(const std::vector<std::string> &v, const char *sep = ", ")
{
    std::string s;
    for (size_t i = 0; i < v.size(); i++)
        s += (i ? sep : "") + v[i];
    return s;
}

}  // namespace faults

#endif
